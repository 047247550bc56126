//! `tacit`: the command line of Tacit.
//!
//! Every command becomes one [`Request`]. When `tacit serve` (or the desktop app) runs for the
//! home, the request goes to it over the control socket; otherwise this process opens the home
//! itself, runs the request and closes it. Exit codes: 0 success, 1 failure (one line on
//! stderr), 2 usage error.

mod output;
mod service;
mod shown;
mod vault;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use tacit_node::core::{Draft, NoteEdit, ProfileEdit, Role};
use tacit_node::{
    Client, ControlServer, ErrorKind, NetOptions, Node, NodeError, Request, Response,
};

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
    /// Do not find or announce peers on the LAN by mDNS (it multicasts on every interface)
    #[arg(long, global = true, env = "TACIT_NO_MDNS", value_parser = clap::builder::FalseyValueParser::new())]
    no_mdns: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone, Copy)]
struct Json {
    /// Print JSON (stable field names) instead of text
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug, Clone)]
struct InSpace {
    /// The space (id, id prefix or name) [default: your personal space]
    #[arg(long, value_name = "SPACE")]
    space: Option<String>,
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
        space: InSpace,
        #[command(flatten)]
        json: Json,
    },
    /// Answer a question
    Answer {
        /// The question's id (or a unique prefix)
        question: String,
        #[command(flatten)]
        body: Body,
        /// Answer with this note of yours (its text; the note and the answer name each other)
        #[arg(long, value_name = "NOTE", conflicts_with_all = ["body", "body_file"])]
        from_note: Option<String>,
        #[command(flatten)]
        json: Json,
    },
    /// Confirm an answer as still right (its author is asked to, after half a year)
    Confirm {
        /// The question's id (or a unique prefix)
        question: String,
        /// The answer's id (or a unique prefix)
        answer: String,
        #[command(flatten)]
        json: Json,
    },
    /// Who knows about a topic, best first, with the reasons
    Who {
        /// Tags (#tls or tag:tls) and words
        #[arg(required = true, num_args = 1..)]
        topic: Vec<String>,
        /// Only members of this space (id, id prefix or name) [default: every space]
        #[arg(long, value_name = "SPACE")]
        space: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 10)]
        limit: u32,
        #[command(flatten)]
        json: Json,
    },
    /// The members of a space as people: organisation, expertise, record, last seen
    People {
        /// Id, id prefix or name
        space: String,
        #[command(flatten)]
        json: Json,
    },
    /// One person: their profile, record and what they know about
    Person {
        /// Member id, id prefix or name
        member: String,
        #[command(flatten)]
        json: Json,
    },
    /// Questions asked of you, answers to your questions, questions on tags you follow, and
    /// your answers to confirm
    Inbox {
        /// Mark everything listed as seen
        #[arg(long)]
        seen: bool,
        #[command(flatten)]
        json: Json,
    },
    /// Which members a question is offered to, round by round
    Routes {
        /// The question's id (or a unique prefix)
        question: String,
        #[command(flatten)]
        json: Json,
    },
    /// Follow a tag: questions on it land in your inbox
    Follow {
        /// The tag
        tag: String,
        #[command(flatten)]
        json: Json,
    },
    /// Stop following a tag
    Unfollow {
        /// The tag
        tag: String,
        #[command(flatten)]
        json: Json,
    },
    /// The tags you follow
    Following {
        #[command(flatten)]
        json: Json,
    },
    /// Records: what a member gave and asked, and signed statements of it
    #[command(subcommand)]
    Record(RecordCmd),
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
        space: InSpace,
        #[command(flatten)]
        json: Json,
    },
    /// One question
    #[command(subcommand)]
    Question(QuestionCmd),
    /// Notes and questions deleted in the last 30 days (here or by a peer), newest first
    Trash {
        /// Only this space (id, unique id prefix or name); every space when absent
        #[arg(long)]
        space: Option<String>,
        #[command(flatten)]
        json: Json,
    },
    /// Take a note or question out of the trash (its space's members see it back)
    Restore {
        /// Id (or a unique prefix) of a deleted note or question, from `tacit trash`
        id: String,
        #[command(flatten)]
        json: Json,
    },
    /// Search every note and question you hold, best first
    ///
    /// Words (all must match; a misspelt word still matches; the last may be unfinished),
    /// "phrases", and filters: tag:TAG, kind:note|question, space:NAME, author:NAME (or
    /// author:me), and -word to exclude (quote the query then: `tacit search "deploy -draft"`).
    Search {
        /// The query (several arguments are joined with spaces)
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
        /// Only this space (id, id prefix or name) [default: every space]
        #[arg(long, value_name = "SPACE")]
        space: Option<String>,
        /// At most this many hits
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        json: Json,
    },
    /// Run the node for this home until interrupted: the control socket, and the network
    Serve(ServeArgs),
    /// Relays: how members behind other organisations' NATs reach this node
    #[command(subcommand)]
    Relay(RelayCmd),
    /// Show the node's state
    Status {
        #[command(flatten)]
        json: Json,
    },
    /// Shared spaces: create, invite, join, members
    #[command(subcommand)]
    Space(SpaceCmd),
    /// Dial a peer (a running node dials members it has seen by itself)
    Connect {
        /// The peer's multiaddr, e.g. /ip4/192.0.2.7/tcp/4001
        addr: String,
        #[command(flatten)]
        json: Json,
    },
    /// Connected peers
    Peers {
        #[command(flatten)]
        json: Json,
    },
    /// Attach a file to a note (stored once by its hash, beside the database); prints the
    /// reference added to the note's body, `![[name]]`
    Attach {
        /// The note's id (or a unique prefix)
        note: String,
        /// The file
        file: PathBuf,
        /// Its name in the note [default: the file's name]
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        json: Json,
    },
    /// A note's attachments: name, hash, size, and whether the bytes are on this machine
    Attachments {
        /// The note's id (or a unique prefix)
        note: String,
        #[command(flatten)]
        json: Json,
    },
    /// One attachment of a note
    #[command(subcommand)]
    Attachment(AttachmentCmd),
    /// Import a folder of Markdown files (an Obsidian vault): a note per file; files imported
    /// before are updated
    Import {
        /// The folder
        dir: PathBuf,
        #[command(flatten)]
        space: InSpace,
        #[command(flatten)]
        json: Json,
    },
    /// Export notes and questions as Markdown files with front matter [default: every space,
    /// each in a folder of its own]
    Export {
        /// The folder (created if missing)
        dir: PathBuf,
        /// Only this space (id, id prefix or name), straight into the folder [default: every
        /// space, each in a folder of its own]
        #[arg(long, value_name = "SPACE")]
        space: Option<String>,
        #[command(flatten)]
        json: Json,
    },
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Listen on this multiaddr (repeat for more) [default: every interface, a free TCP and
    /// QUIC port]
    #[arg(long = "listen", value_name = "MULTIADDR")]
    listen: Vec<String>,
    /// Also serve as a relay (circuit relay v2) for members behind NATs, within limits a small
    /// public box holds. It forwards encrypted connections and learns nothing of any space.
    /// Needs this host's public address: --external-addr, or --listen on a public IP
    #[arg(long)]
    relay: bool,
    /// This host's public address as others dial it, e.g. /ip4/203.0.113.10/tcp/4001 (repeat
    /// for QUIC); taken as reachable without waiting for probes
    #[arg(long = "external-addr", value_name = "MULTIADDR")]
    external_addrs: Vec<String>,
    /// Use this relay, e.g. /ip4/203.0.113.10/tcp/4001/p2p/12D3Koo… (repeat for more; kept in
    /// the home from now on; `tacit relay remove` drops one)
    #[arg(
        long = "use-relay",
        value_name = "MULTIADDR",
        env = tacit_node::RELAYS_ENV,
        value_delimiter = ','
    )]
    use_relay: Vec<String>,
    /// For tests in network namespaces only: let AutoNAT probe with peers at any address
    /// (private and documentation ranges), which a real network must not
    #[arg(long, hide = true, env = tacit_node::AUTONAT_ANY_IP_ENV, value_parser = clap::builder::FalseyValueParser::new())]
    autonat_any_ip: bool,
    /// Instead of serving now: write a systemd user unit that runs this `tacit serve` (this
    /// binary, home and options) at login and again if it stops, and enable and start it
    /// (~/.config/systemd/user/tacit.service)
    #[arg(long)]
    install_service: bool,
    #[command(flatten)]
    json: Json,
}

#[derive(Subcommand, Debug)]
enum RelayCmd {
    /// Use a relay (kept in the home): while this node is not publicly reachable it holds a
    /// slot there, and its tickets carry the relay's circuit address
    Add {
        /// The relay's address, ending in /p2p/PEER_ID (`tacit status` on the relay shows it)
        addr: String,
        #[command(flatten)]
        json: Json,
    },
    /// Stop using a relay and forget it
    Remove {
        /// The relay's peer id or address
        relay: String,
        #[command(flatten)]
        json: Json,
    },
    /// The relays in use and their reservations, and whether this node is reachable
    List {
        #[command(flatten)]
        json: Json,
    },
}

#[derive(Subcommand, Debug)]
enum SpaceCmd {
    /// Create a shared space; prints its id
    New {
        /// Its name
        name: String,
        #[command(flatten)]
        json: Json,
    },
    /// Your spaces
    List {
        #[command(flatten)]
        json: Json,
    },
    /// A space and its members
    Show {
        /// Id, id prefix or name
        space: String,
        #[command(flatten)]
        json: Json,
    },
    /// A space's members and their roles
    Members {
        /// Id, id prefix or name
        space: String,
        #[command(flatten)]
        json: Json,
    },
    /// Invite someone: prints a ticket (alone on the last line) to pass on
    Invite {
        /// Id, id prefix or name
        space: String,
        /// The role the joiner gets
        #[arg(long, default_value = "editor", value_parser = ["reader", "editor", "owner"])]
        role: String,
        /// How long the ticket works, e.g. 7d, 12h, 30m [default: 7d]
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// How many people may join with it [default: any number]
        #[arg(long, value_name = "N")]
        uses: Option<u32>,
        #[command(flatten)]
        json: Json,
    },
    /// Join a space with a ticket: dials the inviter, joins, syncs
    Join {
        /// The ticket (tacit1… or tacit://join/…)
        ticket: String,
        #[command(flatten)]
        json: Json,
    },
    /// Remove a member (owners only)
    Remove {
        /// Id, id prefix or name
        space: String,
        /// Member id, id prefix or name
        member: String,
        #[command(flatten)]
        json: Json,
    },
    /// Leave a space and delete it from this home
    Leave {
        /// Id, id prefix or name
        space: String,
        #[command(flatten)]
        json: Json,
    },
    /// A space's health: who gives, how fast questions are answered, what waits
    Health {
        /// Id, id prefix or name
        space: String,
        #[command(flatten)]
        json: Json,
    },
    /// Every document of a space with a short hash of its heads, and one hash over them all:
    /// members whose digests are equal hold the same version of every document
    Digest {
        /// Id, id prefix or name
        space: String,
        #[command(flatten)]
        json: Json,
    },
    /// Change a member's role (owners only)
    Role {
        /// Id, id prefix or name
        space: String,
        /// Member id, id prefix or name
        member: String,
        /// The new role
        #[arg(value_parser = ["reader", "editor", "owner"])]
        role: String,
        #[command(flatten)]
        json: Json,
    },
    /// This home's settings for a space
    Settings {
        /// Id, id prefix or name
        space: String,
        /// Mark an answer possibly stale (and ask its author to confirm it) when nobody has
        /// confirmed it for this many days [default: 182]
        #[arg(long = "stale-after", value_name = "DAYS")]
        stale_after_days: Option<u32>,
        #[command(flatten)]
        json: Json,
    },
    /// The open invitations of a space: id, role, expiry, uses left, who made it
    Invites {
        /// Id, id prefix or name
        space: String,
        #[command(flatten)]
        json: Json,
    },
    /// Withdraw an invitation (owners only): its ticket admits nobody any more
    RevokeInvite {
        /// Id, id prefix or name
        space: String,
        /// The invitation's id or a unique prefix (from `tacit space invites`)
        invite: String,
        #[command(flatten)]
        json: Json,
    },
}

#[derive(Subcommand, Debug)]
enum RecordCmd {
    /// A member's record (yours by default): answers, accepted, thanks, notes, questions
    Show {
        /// Member id, id prefix or name [default: you]
        member: Option<String>,
        /// Only this space (id, id prefix or name)
        #[arg(long, value_name = "SPACE")]
        space: Option<String>,
        #[command(flatten)]
        json: Json,
    },
    /// Your record as a statement signed with your key, for another organisation to verify
    Export {
        /// Write it to this file [default: standard output]
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        json: Json,
    },
    /// Check a record statement: whose it is, and that nothing in it was changed
    Verify {
        /// The statement's file
        file: PathBuf,
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
        /// Routed questions you are offered a day at most (0: none; default 3)
        #[arg(long, value_name = "N")]
        questions_per_day: Option<u32>,
        #[command(flatten)]
        json: Json,
    },
}

#[derive(Subcommand, Debug)]
enum AttachmentCmd {
    /// Copy an attachment's bytes to DEST (a file, or a folder to put it in by its name),
    /// fetching it from a member of the note's space first when it is not on this machine
    Save {
        /// The note's id (or a unique prefix)
        note: String,
        /// The attachment's name in the note
        name: String,
        /// Where to write it
        dest: PathBuf,
        #[command(flatten)]
        json: Json,
    },
    /// Show this home's limits on attachments, or change them (kept in the home; a running
    /// node uses them at once). Sizes in bytes, or with K, M, G or T (powers of 1024: 100M)
    Limits {
        /// The largest attachment stored or fetched (default 100M)
        #[arg(long, value_parser = parse_size)]
        max_file: Option<u64>,
        /// The most attachments one space may hold on this machine (default 2G)
        #[arg(long, value_parser = parse_size)]
        space_quota: Option<u64>,
        /// Attachments up to this size are fetched as soon as their note arrives; larger ones
        /// when asked for (default 1M; 0: none)
        #[arg(long, value_parser = parse_size)]
        auto_fetch: Option<u64>,
        #[command(flatten)]
        json: Json,
    },
}

/// A size: bytes, or a number with K, M, G or T (powers of 1024; "KB", "MiB" and the like too).
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| {
        format!("{text:?} is not a size: write bytes, or a number with K, M, G or T")
    })?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.trim_end_matches("ib").trim_end_matches('b');
    let scale: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?}; use K, M, G or T (powers of 1024)"
            ));
        }
    };
    let bytes = number * scale as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("{text:?} is not a size this machine can hold"));
    }
    Ok(bytes.round() as u64)
}

#[derive(Subcommand, Debug)]
enum NoteCmd {
    /// Make a note of an answer (titled by its question), linked to it; prints its id
    FromAnswer {
        /// The question's id (or a unique prefix)
        question: String,
        /// The answer's id (or a unique prefix)
        answer: String,
        #[command(flatten)]
        space: InSpace,
        #[command(flatten)]
        json: Json,
    },
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
        space: InSpace,
        #[command(flatten)]
        json: Json,
    },
    /// List notes, most recently changed first
    List {
        #[command(flatten)]
        space: InSpace,
        #[command(flatten)]
        json: Json,
    },
    /// Show a note (as it is, or a past version with --at)
    Show {
        /// Id (or a unique prefix)
        id: String,
        /// A version from `tacit note history` (or a unique prefix): the note as it was then,
        /// and its body's differences from now
        #[arg(long, value_name = "VERSION")]
        at: Option<String>,
        #[command(flatten)]
        json: Json,
    },
    /// A note's versions, newest first: its changes grouped by author and pauses
    History {
        /// Id (or a unique prefix)
        id: String,
        #[command(flatten)]
        json: Json,
    },
    /// Make a note read as a past version again (a new change; nothing is rewritten)
    Restore {
        /// Id (or a unique prefix)
        id: String,
        /// A version from `tacit note history` (or a unique prefix)
        version: String,
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
    /// Delete a note (it stays in the trash for 30 days: `tacit trash`, `tacit restore`)
    Rm {
        /// Id (or a unique prefix)
        id: String,
        #[command(flatten)]
        json: Json,
    },
    /// The notes a note links to with [[wiki links]], and the notes linking to it
    Links {
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
    /// Delete a question (it stays in the trash for 30 days: `tacit trash`, `tacit restore`)
    Rm {
        /// Id (or a unique prefix)
        id: String,
        #[command(flatten)]
        json: Json,
    },
}

/// The allocator: jemalloc gives back what a peak used, where glibc's malloc kept it (a node
/// under the hostile benchmark held 175 MB at rest with 10–30 MB in use; with jemalloc, 69 MB).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse(); // usage errors exit 2
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // jemalloc purges freed memory as the process allocates; its background thread does it on a
    // timer too, so that a process gone idle (a window in the background, `tacit serve` at
    // night) gives memory back.
    #[cfg(not(target_env = "msvc"))]
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::debug!("the allocator's background thread did not start: {e}");
    }
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
            eprintln!("error: {}", shown::printable(&msg));
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
    let mdns = !cli.no_mdns;
    match cli.command {
        Command::Init { name, org, json } => init(&home, name, org, json).await,
        Command::Serve(args) => serve(&home, args, mdns).await,
        Command::Relay(RelayCmd::Add { addr, json }) => relay_add(&home, addr, json).await,
        Command::Import { dir, space, json } => {
            vault::import(&home, &dir, space.space, json.json).await
        }
        Command::Export { dir, space, json } => vault::export(&home, &dir, space, json.json).await,
        Command::Attachment(AttachmentCmd::Save {
            note,
            name,
            dest,
            json,
        }) => attachment_save(&home, note, name, &dest, json.json, mdns).await,
        command => {
            let mark_seen = matches!(command, Command::Inbox { seen: true, .. });
            let export_to = match &command {
                Command::Record(RecordCmd::Export { out, .. }) => out.clone(),
                _ => None,
            };
            let (req, json) = request(command)?;
            let mut backend = Backend::open(&home).await?;
            // Joining and dialling need the network; without a running node this process
            // brings one up for the command (dial-only: it listens nowhere).
            if let (Backend::Local(node), Request::SpaceJoin { .. } | Request::Connect { .. }) =
                (&backend, &req)
            {
                node.start_network(NetOptions {
                    listen: Vec::new(),
                    mdns,
                    ..NetOptions::default()
                })
                .await?;
            }
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
            let result = match result {
                Ok(Response::Inbox { items, unread }) if mark_seen => {
                    let keys: Vec<String> = items.iter().map(|i| i.key.clone()).collect();
                    backend.execute(&Request::InboxSeen { keys }).await?;
                    Ok(Response::Inbox { items, unread })
                }
                Ok(Response::RecordStatement { statement }) if export_to.is_some() => {
                    let path = export_to.unwrap_or_default();
                    std::fs::write(&path, format!("{statement}\n"))
                        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                    backend.close().await;
                    eprintln!("wrote your signed record to {}", path.display());
                    return Ok(());
                }
                other => other,
            };
            backend.close().await;
            output::print(&result?, json.json, me)
        }
    }
}

/// `tacit attachment save`: the bytes from this machine, or fetched from a member first (with a
/// network of its own when no node runs here: it dials the members it knows).
async fn attachment_save(
    home: &Path,
    note: String,
    name: String,
    dest: &Path,
    json: bool,
    mdns: bool,
) -> Result<()> {
    let mut backend = Backend::open(home).await?;
    let req = Request::AttachmentGet {
        id: note.clone(),
        name: name.clone(),
    };
    let mut result = backend.execute(&req).await;
    if let (Backend::Local(node), Err(e)) = (&backend, &result)
        && e.kind() == ErrorKind::Offline
    {
        node.start_network(NetOptions {
            listen: Vec::new(),
            mdns,
            ..NetOptions::default()
        })
        .await?;
        result = backend.execute(&req).await;
    }
    backend.close().await;
    let Response::AttachmentFile {
        attachment, path, ..
    } = result?
    else {
        anyhow::bail!("unexpected reply from the node to an attachment request");
    };
    let target = if dest.is_dir() {
        dest.join(&attachment.name)
    } else {
        dest.to_path_buf()
    };
    std::fs::copy(&path, &target)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", target.display()))?;
    if json {
        let value = serde_json::json!({
            "name": attachment.name,
            "hash": attachment.hash,
            "size": attachment.size,
            "path": target.display().to_string(),
        });
        println!("{}", shown::json(&value)?);
    } else {
        let saved = format!(
            "saved {} ({} bytes) to {}",
            attachment.name,
            attachment.size,
            target.display()
        );
        println!("{}", shown::printable(&saved));
    }
    Ok(())
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
            questions_per_day,
            json,
        }) => {
            let edit = ProfileEdit {
                name,
                org,
                bio,
                expertise: (!expertise.is_empty()).then_some(expertise),
                questions_per_day,
            };
            (Request::ProfileSet { edit }, json)
        }
        Command::Note(NoteCmd::New {
            title,
            body,
            tags,
            space,
            json,
        }) => {
            let draft = Draft {
                title,
                body: body.read()?.unwrap_or_default(),
                tags,
                aliases: Vec::new(),
            };
            let space = space.space;
            (Request::NoteNew { draft, space }, json)
        }
        Command::Note(NoteCmd::List { space, json }) => (
            Request::NoteList {
                limit: None,
                space: space.space,
            },
            json,
        ),
        Command::Note(NoteCmd::Show { id, at: None, json }) => (Request::NoteShow { id }, json),
        Command::Attach {
            note,
            file,
            name,
            json,
        } => {
            let path = std::path::absolute(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let req = Request::Attach {
                id: note,
                path: path.display().to_string(),
                name,
                embed: true,
            };
            (req, json)
        }
        Command::Attachments { note, json } => (Request::Attachments { id: note }, json),
        Command::Attachment(AttachmentCmd::Limits {
            max_file,
            space_quota,
            auto_fetch,
            json,
        }) => (
            Request::AttachmentLimits {
                max_file,
                space_quota,
                auto_fetch,
            },
            json,
        ),
        Command::Note(NoteCmd::Show {
            id,
            at: Some(version),
            json,
        }) => (Request::NoteVersion { id, version }, json),
        Command::Note(NoteCmd::History { id, json }) => (Request::NoteHistory { id }, json),
        Command::Note(NoteCmd::Restore { id, version, json }) => {
            (Request::NoteRestore { id, version }, json)
        }
        Command::Question(QuestionCmd::Rm { id, json }) => (Request::QuestionRm { id }, json),
        Command::Trash { space, json } => (Request::Trash { space }, json),
        Command::Restore { id, json } => (Request::Restore { id }, json),
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
                aliases: None,
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
            space,
            json,
        } => {
            let draft = Draft {
                title,
                body: body.read()?.unwrap_or_default(),
                tags,
                aliases: Vec::new(),
            };
            let space = space.space;
            (Request::Ask { draft, space }, json)
        }
        Command::Answer {
            question,
            body,
            from_note,
            json,
        } => {
            if let Some(note) = from_note {
                return Ok((Request::AnswerWithNote { question, note }, json));
            }
            let Some(body) = body.read()? else {
                return Err(Usage(
                    "give the answer with --body, --body-file or --from-note".into(),
                )
                .into());
            };
            (Request::Answer { question, body }, json)
        }
        Command::Confirm {
            question,
            answer,
            json,
        } => (Request::Confirm { question, answer }, json),
        Command::Who {
            topic,
            space,
            limit,
            json,
        } => (
            Request::Who {
                topic: topic.join(" "),
                space,
                limit: Some(limit),
            },
            json,
        ),
        Command::People { space, json } => (Request::People { space }, json),
        Command::Person { member, json } => (Request::Person { member }, json),
        Command::Inbox { seen: _, json } => (Request::Inbox, json),
        Command::Follow { tag, json } => (Request::Follow { tag }, json),
        Command::Routes { question, json } => (Request::QuestionRoutes { question }, json),
        Command::Unfollow { tag, json } => (Request::Unfollow { tag }, json),
        Command::Following { json } => (Request::Following, json),
        Command::Record(cmd) => match cmd {
            RecordCmd::Show {
                member,
                space,
                json,
            } => (Request::Record { member, space }, json),
            RecordCmd::Export { json, .. } => (Request::RecordExport, json),
            RecordCmd::Verify { file, json } => {
                let statement = std::fs::read_to_string(&file)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                (Request::RecordVerify { statement }, json)
            }
        },
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
        Command::Questions {
            unanswered,
            space,
            json,
        } => (
            Request::Questions {
                unanswered,
                limit: None,
                space: space.space,
            },
            json,
        ),
        Command::Question(QuestionCmd::Show { id, json }) => (Request::QuestionShow { id }, json),
        Command::Search {
            query,
            space,
            limit,
            json,
        } => (
            Request::Search {
                // The last word also matches as the start of a longer one, as while typing.
                query: query.join(" "),
                space,
                limit: Some(limit),
            },
            json,
        ),
        Command::Note(NoteCmd::Links { id, json }) => (Request::NoteLinks { id }, json),
        Command::Note(NoteCmd::FromAnswer {
            question,
            answer,
            space,
            json,
        }) => (
            Request::ShareAsNote {
                question,
                answer,
                space: space.space,
            },
            json,
        ),
        Command::Status { json } => (Request::Status, json),
        Command::Space(cmd) => space_request(cmd)?,
        Command::Connect { addr, json } => (Request::Connect { addr }, json),
        Command::Peers { json } => (Request::Peers, json),
        Command::Relay(RelayCmd::Remove { relay, json }) => (Request::RelayRemove { relay }, json),
        Command::Relay(RelayCmd::List { json }) => (Request::Network, json),
        Command::Init { .. }
        | Command::Relay(RelayCmd::Add { .. })
        | Command::Serve { .. }
        | Command::Import { .. }
        | Command::Export { .. }
        | Command::Attachment(AttachmentCmd::Save { .. }) => bail!("internal: handled elsewhere"),
    })
}

/// Default lifetime of an invitation.
const DEFAULT_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

fn space_request(cmd: SpaceCmd) -> Result<(Request, Json)> {
    Ok(match cmd {
        SpaceCmd::New { name, json } => (Request::SpaceNew { name }, json),
        SpaceCmd::List { json } => (Request::SpaceList, json),
        SpaceCmd::Show { space, json } | SpaceCmd::Members { space, json } => {
            (Request::SpaceShow { space }, json)
        }
        SpaceCmd::Invite {
            space,
            role,
            expires,
            uses,
            json,
        } => {
            let role: Role = role.parse().map_err(|e| Usage(format!("{e}")))?;
            let expires = match expires {
                None => DEFAULT_EXPIRY,
                Some(text) => humantime::parse_duration(&text).map_err(|e| {
                    Usage(format!(
                        "--expires {text:?}: {e} (for example 7d, 12h, 30m)"
                    ))
                })?,
            };
            if uses == Some(0) {
                return Err(Usage("--uses must be at least 1".into()).into());
            }
            let expires_in = u64::try_from(expires.as_millis()).unwrap_or(u64::MAX);
            (
                Request::SpaceInvite {
                    space,
                    role,
                    expires_in: Some(expires_in),
                    uses,
                },
                json,
            )
        }
        SpaceCmd::Join { ticket, json } => (Request::SpaceJoin { ticket }, json),
        SpaceCmd::Remove {
            space,
            member,
            json,
        } => (Request::SpaceRemove { space, member }, json),
        SpaceCmd::Leave { space, json } => (Request::SpaceLeave { space }, json),
        SpaceCmd::Role {
            space,
            member,
            role,
            json,
        } => {
            let role: Role = role.parse().map_err(|e| Usage(format!("{e}")))?;
            (
                Request::SpaceRole {
                    space,
                    member,
                    role,
                },
                json,
            )
        }
        SpaceCmd::Invites { space, json } => (Request::SpaceInvites { space }, json),
        SpaceCmd::Settings {
            space,
            stale_after_days,
            json,
        } => (
            Request::SpaceSettings {
                space,
                stale_after_days,
            },
            json,
        ),
        SpaceCmd::Health { space, json } => (Request::SpaceHealth { space }, json),
        SpaceCmd::Digest { space, json } => (Request::SpaceDigest { space }, json),
        SpaceCmd::RevokeInvite {
            space,
            invite,
            json,
        } => (Request::SpaceRevokeInvite { space, invite }, json),
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

/// Where `tacit serve` listens when not told: every interface, a free port, TCP and QUIC.
const DEFAULT_LISTEN: [&str; 2] = ["/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"];

/// How long `tacit relay add` waits for a running node's first answer from the relay (a dial
/// and a reservation take well under a second; the dial timeout is 10 s).
const RELAY_ANSWER_WAIT: Duration = Duration::from_secs(15);

/// `tacit relay add`: keeps the relay; on a running node, waits for the relay's answer and
/// says what it was (a refusal or an unreachable relay fails the command, with why).
async fn relay_add(home: &Path, addr: String, json: Json) -> Result<()> {
    let mut backend = Backend::open(home).await?;
    let result = relay_add_on(&mut backend, addr).await;
    backend.close().await;
    let status = result?;
    output::print(&Response::Network(status.clone()), json.json, None)
}

async fn relay_add_on(backend: &mut Backend, addr: String) -> Result<tacit_node::NetStatus> {
    let mut status = match backend
        .execute(&Request::RelayAdd { addr: addr.clone() })
        .await?
    {
        Response::Network(n) => n,
        other => bail!("unexpected reply {other:?}"),
    };
    let peer = addr
        .trim()
        .rsplit("/p2p/")
        .next()
        .unwrap_or_default()
        .to_owned();
    let deadline = tokio::time::Instant::now() + RELAY_ANSWER_WAIT;
    loop {
        let relay = status.relays.iter().find(|r| r.peer == peer).cloned();
        match relay {
            Some(r) if r.state == tacit_node::RelayState::Pending => {}
            Some(r)
                if matches!(
                    r.state,
                    tacit_node::RelayState::Refused | tacit_node::RelayState::Unreachable
                ) =>
            {
                bail!(
                    "{}; it stays in the list and is asked again every 30 s (`tacit relay remove {}` drops it)",
                    output::relay_words(&r),
                    r.peer
                );
            }
            _ => return Ok(status),
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(status);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = match backend.execute(&Request::Network).await? {
            Response::Network(n) => n,
            other => bail!("unexpected reply {other:?}"),
        };
    }
}

async fn serve(home: &Path, args: ServeArgs, mdns: bool) -> Result<()> {
    if args.install_service {
        return install_service(home, &args, mdns);
    }
    let ServeArgs {
        listen,
        relay,
        external_addrs,
        use_relay,
        autonat_any_ip,
        install_service: _,
        json: _,
    } = args;
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
    let listen = if listen.is_empty() {
        DEFAULT_LISTEN.iter().map(|a| (*a).to_owned()).collect()
    } else {
        listen
    };
    let opts = NetOptions {
        listen,
        mdns,
        relays: use_relay,
        relay_server: relay,
        external_addrs,
        autonat_any_ip,
        ..NetOptions::default()
    };
    if let Err(e) = node.start_network(opts).await {
        node.shutdown().await;
        return Err(e.into());
    }
    let server = ControlServer::start(node.clone()).await?;
    eprintln!(
        "tacit: serving {} on {} (pid {}); Ctrl-C to stop",
        home.display(),
        server.path().display(),
        std::process::id()
    );
    if let Ok(Response::Status(s)) = node.execute(Request::Status).await {
        eprintln!("tacit: peer {}", s.peer_id);
        for addr in &s.listen_addrs {
            eprintln!("tacit: listening on {addr}");
        }
        if s.network.relay_server {
            for addr in &s.network.external_addrs {
                eprintln!("tacit: serving as a relay at {addr}/p2p/{}", s.peer_id);
            }
        }
        for r in &s.network.relays {
            eprintln!("tacit: relay {}", output::relay_words(r));
        }
        if !mdns {
            eprintln!("tacit: mDNS is off");
        }
    }
    wait_for_signal().await?;
    eprintln!("tacit: stopping");
    server.stop().await;
    node.shutdown().await;
    Ok(())
}

/// `tacit serve --install-service`: the unit runs `tacit serve` as this command would have.
fn install_service(home: &Path, args: &ServeArgs, mdns: bool) -> Result<()> {
    let home = std::path::absolute(home)
        .with_context(|| format!("cannot make {} an absolute path", home.display()))?;
    let mut argv: Vec<String> = vec!["--home".into(), home.to_string_lossy().into_owned()];
    if !mdns {
        argv.push("--no-mdns".into());
    }
    argv.push("serve".into());
    for a in &args.listen {
        argv.extend(["--listen".into(), a.clone()]);
    }
    if args.relay {
        argv.push("--relay".into());
    }
    for a in &args.external_addrs {
        argv.extend(["--external-addr".into(), a.clone()]);
    }
    // Relays given with --use-relay are kept in the home: the service finds them there (and
    // `tacit relay add` before installing does the same).
    let done = service::install(&argv)?;
    if args.json.json {
        println!("{}", serde_json::to_string(&done)?);
    } else {
        println!("{}", done.unit.display());
        if done.started {
            eprintln!(
                "tacit: enabled and started {}: `systemctl --user status {}` shows it",
                service::UNIT,
                service::UNIT
            );
        }
    }
    if let Some(next) = &done.next {
        eprintln!("tacit: wrote the unit; {next}");
    }
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
