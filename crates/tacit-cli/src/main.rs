//! `tacit`: the command line of Tacit.
//!
//! Every command becomes one [`Request`]. When `tacit serve` (or the desktop app) runs for the
//! home, the request goes to it over the control socket; otherwise this process opens the home
//! itself, runs the request and closes it. Exit codes: 0 success, 1 failure (one line on
//! stderr), 2 usage error.

mod output;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use tacit_node::core::{Draft, NoteEdit, ProfileEdit};
use tacit_node::{Client, ControlServer, ErrorKind, Node, NodeError, Request, Response};

/// How long a command waits while another process holds the home without serving it: another
/// command (they take milliseconds), or a `tacit serve` starting or stopping.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// A usage error found after parsing (exit 2, like clap's own).
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

#[derive(Parser, Debug)]
#[command(
    name = "tacit",
    version,
    about = "Tacit: working notes and questions & answers, on your own disk, shared peer to peer"
)]
struct Cli {
    /// The home directory [default: the platform data dir, e.g. ~/.local/share/tacit]
    #[arg(long, global = true, env = tacit_node::HOME_ENV, value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone, Copy)]
struct Json {
    /// Print JSON (stable field names) instead of text
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
#[group(multiple = false)]
struct Body {
    /// The body, Markdown
    #[arg(long)]
    body: Option<String>,
    /// Read the body from a file (`-` for standard input)
    #[arg(long, value_name = "FILE")]
    body_file: Option<PathBuf>,
}

impl Body {
    fn read(&self) -> Result<Option<String>> {
        match (&self.body, &self.body_file) {
            (Some(b), _) => Ok(Some(b.clone())),
            (None, Some(path)) if path.as_os_str() == "-" => {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("cannot read the body from standard input (is it UTF-8?)")?;
                Ok(Some(s))
            }
            (None, Some(path)) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read body file {}", path.display()))?;
                let s = String::from_utf8(bytes).map_err(|_| {
                    anyhow::anyhow!("body file {} is not UTF-8 text", path.display())
                })?;
                Ok(Some(s))
            }
            (None, None) => Ok(None),
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create this home's device key, member id and personal space
    Init {
        /// Your display name
        #[arg(long)]
        name: Option<String>,
        /// Your organisation
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        json: Json,
    },
    /// Show this home's member and profile
    Whoami {
        #[command(flatten)]
        json: Json,
    },
    /// Your profile
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Working notes
    #[command(subcommand)]
    Note(NoteCmd),
    /// Ask a question
    Ask {
        /// The question, in one line
        #[arg(long)]
        title: String,
        #[command(flatten)]
        body: Body,
        /// A tag (repeat for more)
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        #[command(flatten)]
        json: Json,
    },
    /// Answer a question
    Answer {
        /// The question's id (or a unique prefix)
        question: String,
        #[command(flatten)]
        body: Body,
        #[command(flatten)]
        json: Json,
    },
    /// Accept an answer to your question
    Accept {
        /// The question's id (or a unique prefix)
        question: String,
        /// The answer's id (or a unique prefix)
        answer: String,
        #[command(flatten)]
        json: Json,
    },
    /// Thank the author of an answer
    Thank {
        /// The question's id (or a unique prefix)
        question: String,
        /// The answer's id (or a unique prefix)
        answer: String,
        #[command(flatten)]
        json: Json,
    },
    /// List questions, most recently changed first
    Questions {
        /// Only questions without an accepted answer
        #[arg(long)]
        unanswered: bool,
        #[command(flatten)]
        json: Json,
    },
    /// One question
    #[command(subcommand)]
    Question(QuestionCmd),
    /// Run the node for this home, serving the control socket, until interrupted
    Serve,
    /// Show the node's state
    Status {
        #[command(flatten)]
        json: Json,
    },
}

#[derive(Subcommand, Debug)]
enum ProfileCmd {
    /// Change your profile
    Set {
        /// Display name
        #[arg(long)]
        name: Option<String>,
        /// Organisation
        #[arg(long)]
        org: Option<String>,
        /// A few lines about you
        #[arg(long)]
        bio: Option<String>,
        /// An expertise tag (repeat for more; replaces the set)
        #[arg(long = "expertise", value_name = "TAG")]
        expertise: Vec<String>,
        #[command(flatten)]
        json: Json,
    },
}

#[derive(Subcommand, Debug)]
enum NoteCmd {
    /// Write a new note; prints its id
    New {
        /// Title
        #[arg(long)]
        title: String,
        #[command(flatten)]
        body: Body,
        /// A tag (repeat for more)
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        #[command(flatten)]
        json: Json,
    },
    /// List notes, most recently changed first
    List {
        #[command(flatten)]
        json: Json,
    },
    /// Show a note
    Show {
        /// Id (or a unique prefix)
        id: String,
        #[command(flatten)]
        json: Json,
    },
    /// Change a note's title, body or tags
    Edit {
        /// Id (or a unique prefix)
        id: String,
        /// New title
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        body: Body,
        /// A tag (repeat for more; replaces the note's tags)
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Remove every tag
        #[arg(long, conflicts_with = "tags")]
        clear_tags: bool,
        #[command(flatten)]
        json: Json,
    },
    /// Delete a note
    Rm {
        /// Id (or a unique prefix)
        id: String,
        #[command(flatten)]
        json: Json,
    },
}

#[derive(Subcommand, Debug)]
enum QuestionCmd {
    /// Show a question with its answers
    Show {
        /// Id (or a unique prefix)
        id: String,
        #[command(flatten)]
        json: Json,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse(); // usage errors exit 2
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            if e.downcast_ref::<Usage>().is_some() {
                eprintln!("\nFor more information, try '--help'.");
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let home = tacit_node::resolve_home(cli.home)?;
    match cli.command {
        Command::Init { name, org, json } => init(&home, name, org, json).await,
        Command::Serve => serve(&home).await,
        command => {
            let (req, json) = request(command)?;
            let mut backend = Backend::open(&home).await?;
            let result = backend.execute(&req).await;
            // `question show` marks your own answers; a failure here only loses the mark.
            let me = match (&req, &result) {
                (Request::QuestionShow { .. }, Ok(_)) => {
                    match backend.execute(&Request::Whoami).await {
                        Ok(Response::Identity(i)) => Some(i.member),
                        _ => None,
                    }
                }
                _ => None,
            };
            backend.close().await;
            output::print(&result?, json.json, me)
        }
    }
}

/// The request a command makes, and whether to print JSON.
fn request(command: Command) -> Result<(Request, Json)> {
    Ok(match command {
        Command::Whoami { json } => (Request::Whoami, json),
        Command::Profile(ProfileCmd::Set {
            name,
            org,
            bio,
            expertise,
            json,
        }) => {
            let edit = ProfileEdit {
                name,
                org,
                bio,
                expertise: (!expertise.is_empty()).then_some(expertise),
            };
            (Request::ProfileSet { edit }, json)
        }
        Command::Note(NoteCmd::New {
            title,
            body,
            tags,
            json,
        }) => {
            let draft = Draft {
                title,
                body: body.read()?.unwrap_or_default(),
                tags,
            };
            (Request::NoteNew { draft }, json)
        }
        Command::Note(NoteCmd::List { json }) => (Request::NoteList { limit: None }, json),
        Command::Note(NoteCmd::Show { id, json }) => (Request::NoteShow { id }, json),
        Command::Note(NoteCmd::Edit {
            id,
            title,
            body,
            tags,
            clear_tags,
            json,
        }) => {
            let edit = NoteEdit {
                title,
                body: body.read()?,
                tags: (clear_tags || !tags.is_empty()).then_some(tags),
                base: None,
            };
            if edit.title.is_none() && edit.body.is_none() && edit.tags.is_none() {
                let msg =
                    "nothing to change: give --title, --body, --body-file, --tag or --clear-tags";
                return Err(Usage(msg.into()).into());
            }
            (Request::NoteEdit { id, edit }, json)
        }
        Command::Note(NoteCmd::Rm { id, json }) => (Request::NoteRm { id }, json),
        Command::Ask {
            title,
            body,
            tags,
            json,
        } => {
            let draft = Draft {
                title,
                body: body.read()?.unwrap_or_default(),
                tags,
            };
            (Request::Ask { draft }, json)
        }
        Command::Answer {
            question,
            body,
            json,
        } => {
            let Some(body) = body.read()? else {
                return Err(Usage("give the answer with --body or --body-file".into()).into());
            };
            (Request::Answer { question, body }, json)
        }
        Command::Accept {
            question,
            answer,
            json,
        } => (Request::Accept { question, answer }, json),
        Command::Thank {
            question,
            answer,
            json,
        } => (Request::Thank { question, answer }, json),
        Command::Questions { unanswered, json } => (
            Request::Questions {
                unanswered,
                limit: None,
            },
            json,
        ),
        Command::Question(QuestionCmd::Show { id, json }) => (Request::QuestionShow { id }, json),
        Command::Status { json } => (Request::Status, json),
        Command::Init { .. } | Command::Serve => bail!("internal: handled elsewhere"),
    })
}

/// Where requests go: a running node's control socket, or a node opened by this process.
enum Backend {
    Remote(Client),
    Local(Node),
}

impl Backend {
    async fn open(home: &Path) -> Result<Backend> {
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        loop {
            if let Some(client) = Client::connect(home).await? {
                return Ok(Backend::Remote(client));
            }
            match Node::open(home).await {
                Ok(node) => return Ok(Backend::Local(node)),
                // Another process holds the home: a command about to finish, or a node whose
                // socket is about to appear (starting) or has just gone (stopping).
                Err(e)
                    if e.kind() == ErrorKind::InUse && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn execute(&mut self, req: &Request) -> Result<Response, NodeError> {
        match self {
            Backend::Remote(c) => c.execute(req).await,
            Backend::Local(n) => n.execute(req.clone()).await,
        }
    }

    async fn close(self) {
        if let Backend::Local(node) = self {
            node.shutdown().await;
        }
    }
}

async fn init(home: &Path, name: Option<String>, org: Option<String>, json: Json) -> Result<()> {
    let report = if let Some(mut client) = Client::connect(home).await? {
        match client.execute(&Request::Init { name, org }).await? {
            Response::Init(r) => r,
            other => bail!("unexpected reply {other:?}"),
        }
    } else {
        let profile = ProfileEdit {
            name,
            org,
            ..ProfileEdit::default()
        };
        let (node, report) = Node::init(home, profile).await?;
        node.shutdown().await;
        report
    };
    output::print(&Response::Init(report), json.json, None)
}

async fn serve(home: &Path) -> Result<()> {
    let deadline = tokio::time::Instant::now() + LOCK_WAIT;
    let node = loop {
        match Node::open(home).await {
            Ok(node) => break node,
            // Held by a one-shot command: wait for it. Held by a serving node: say so now.
            Err(e)
                if e.kind() == ErrorKind::InUse
                    && tokio::time::Instant::now() < deadline
                    && Client::connect(home).await?.is_none() =>
            {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    let server = ControlServer::start(node.clone()).await?;
    eprintln!(
        "tacit: serving {} on {} (pid {}); Ctrl-C to stop",
        home.display(),
        server.path().display(),
        std::process::id()
    );
    wait_for_signal().await?;
    eprintln!("tacit: stopping");
    server.stop().await;
    node.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot watch Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}
