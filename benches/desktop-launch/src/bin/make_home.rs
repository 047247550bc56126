//! Makes a Tacit home holding many notes, for the desktop launch benchmark.
//!
//! `make_home DIR N`: initialises DIR (profile name "Bench") and writes N notes of 1–4 KB of
//! words from `/usr/share/dict/words` (Debian's `wamerican`), with a seeded RNG so that every
//! run makes the same home, keeping up to [`IN_FLIGHT`] requests in flight so that the node can
//! group its commits.
//!
//! `make_home --refresh DIR`: opens the home DIR with this build and closes it again once its
//! search index is in step (its database migrated, its index caught up or rebuilt), so that a
//! home made by an older build is, for the benchmark, as this build leaves it: a measured
//! launch then opens it, and only the measured launch after an upgrade rebuilds anything.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tacit_node::core::{Draft, ProfileEdit};
use tacit_node::{Node, Request, Response};
use tokio::task::JoinSet;

/// Requests in flight at once: enough for the node to batch commits, few enough to bound memory.
const IN_FLIGHT: usize = 64;
/// The RNG seed: the same home on every machine.
const SEED: u64 = 0x7ac1_1a0c;
/// The word list; `apt-get install wamerican` provides it.
const WORDS: &str = "/usr/share/dict/words";
/// Note body sizes, bytes.
const BODY_BYTES: std::ops::RangeInclusive<usize> = 1024..=4096;
/// Tags drawn for notes (0–2 each).
const TAGS: &[&str] = &[
    "design", "ops", "research", "meeting", "howto", "idea", "bug", "release",
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match args.as_slice() {
        [flag, dir] if flag == "--refresh" => runtime.block_on(refresh(Path::new(dir))),
        [dir, n] => {
            let n: usize = n
                .parse()
                .with_context(|| format!("N must be a number of notes, not {n:?}"))?;
            let words = vocabulary()?;
            runtime.block_on(make(Path::new(dir), n, &words))
        }
        _ => bail!(
            "usage: make_home DIR N   (DIR must not be a Tacit home yet)\n       make_home --refresh DIR"
        ),
    }
}

/// Opens the home with this build and closes it once its index is in step with its store.
async fn refresh(dir: &Path) -> Result<()> {
    let started = Instant::now();
    let node = Node::open(dir)
        .await
        .with_context(|| format!("cannot open the home {}", dir.display()))?;
    // A search by a node without a control socket waits until the index has caught up.
    let searched = node
        .execute(Request::Search {
            query: "warm".into(),
            space: None,
            limit: Some(1),
        })
        .await;
    node.shutdown().await;
    searched.context("cannot search the home")?;
    println!(
        "{} is up to date with this build ({:.1} s)",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn make(dir: &Path, n: usize, words: &[String]) -> Result<()> {
    let profile = ProfileEdit {
        name: Some("Bench".into()),
        ..ProfileEdit::default()
    };
    let (node, report) = Node::init(dir, profile)
        .await
        .with_context(|| format!("cannot initialise the home {}", dir.display()))?;
    if !report.created {
        node.shutdown().await;
        bail!(
            "{} is already a Tacit home; give a new directory",
            dir.display()
        );
    }
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut tasks = JoinSet::new();
    let mut bytes = 0usize;
    for i in 0..n {
        if tasks.len() >= IN_FLIGHT {
            finished(tasks.join_next().await)?;
        }
        let draft = draft(&mut rng, words, i);
        bytes += draft.body.len();
        let node = node.clone();
        tasks.spawn(async move { node.execute(Request::NoteNew { draft, space: None }).await });
    }
    while let Some(r) = tasks.join_next().await {
        finished(Some(r))?;
    }
    // A search waits until the index holds every note: the home is then as the app leaves it,
    // and a launch measures opening an index, not building one (which only the first launch
    // after an upgrade does).
    node.execute(Request::Search {
        query: "warm".into(),
        space: None,
        limit: Some(1),
    })
    .await
    .context("cannot search the new home")?;
    node.shutdown().await;
    println!(
        "made {} with {n} notes ({:.1} MB of bodies) in {:.1} s",
        dir.display(),
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

type Joined = Result<Result<Response, tacit_node::NodeError>, tokio::task::JoinError>;

fn finished(r: Option<Joined>) -> Result<()> {
    match r {
        None => Ok(()),
        Some(r) => match r.context("a note task panicked")? {
            Ok(Response::Created { .. }) => Ok(()),
            Ok(other) => bail!("unexpected reply to NoteNew: {other:?}"),
            Err(e) => Err(e).context("cannot write a note"),
        },
    }
}

/// Lowercase ASCII words of the system word list.
fn vocabulary() -> Result<Vec<String>> {
    let text = std::fs::read_to_string(WORDS).with_context(|| {
        format!("cannot read {WORDS}; install it with apt-get install wamerican")
    })?;
    let words: Vec<String> = text
        .lines()
        .filter(|w| w.len() >= 2 && w.bytes().all(|b| b.is_ascii_lowercase()))
        .map(str::to_owned)
        .collect();
    if words.len() < 1000 {
        bail!("{WORDS} has only {} usable words", words.len());
    }
    Ok(words)
}

fn draft(rng: &mut ChaCha8Rng, words: &[String], i: usize) -> Draft {
    let pick = |rng: &mut ChaCha8Rng| words[rng.random_range(0..words.len())].as_str();
    let title_words = rng.random_range(2..=6);
    let mut title: Vec<String> = (0..title_words).map(|_| pick(rng).to_owned()).collect();
    if let Some(first) = title.first_mut() {
        let mut c = first.chars();
        if let Some(h) = c.next() {
            *first = h.to_ascii_uppercase().to_string() + c.as_str();
        }
    }
    let target = rng.random_range(BODY_BYTES);
    let mut body = String::with_capacity(target + 64);
    let mut in_paragraph = 0;
    let mut paragraph = rng.random_range(40..=90);
    while body.len() < target {
        if in_paragraph > 0 {
            body.push(' ');
        }
        body.push_str(pick(rng));
        in_paragraph += 1;
        if in_paragraph == paragraph {
            body.push_str(".\n\n");
            in_paragraph = 0;
            paragraph = rng.random_range(40..=90);
        }
    }
    let tags = (0..rng.random_range(0..=2))
        .map(|_| TAGS[rng.random_range(0..TAGS.len())].to_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    Draft {
        title: format!("{} {i}", title.join(" ")),
        body,
        tags,
        aliases: Vec::new(),
    }
}
