//! The hostile-peer benchmark (not a test): what a hostile member or stranger costs a node and
//! its honest peers, beside the same figures without the attacker in the same run; and what
//! signing and verifying changes costs. It prints figures and goals, and asserts nothing.
//!
//! `cargo bench -p tacit-tests --bench hostile` (optionally `-- --phase-secs 10 --notes 300
//! --first-sync SECS`, SECS being the first-sync time that `cargo bench -p tacit-node --bench
//! sync` printed on the same machine; without it the figure from before signed changes, 7.5 s;
//! `--only forged` runs that one attack between the two baselines, and no signature part)
//!
//! Everything on 127.0.0.1, mDNS off:
//!
//! - **the victim** owns a space of `--notes` notes of 1–4 KB plus one of 540 KB (the largest
//!   document). It runs in a process of its own, so that its memory can be read alone: this
//!   benchmark's executable started again as `hostile --victim HOME`, which runs what `tacit
//!   serve` runs (`Node::open`, the network on 127.0.0.1, the control socket, two runtime
//!   workers) and in addition prints each remote `Event::DocumentChanged` with the time it was
//!   emitted. (The `tacit serve` binary itself has no event stream on its control socket: the
//!   time an edit became visible could only be polled, a millisecond or more coarse against a
//!   p50 of about 2 ms, and the polling would load the victim.) Set-up and invitations go
//!   through its control socket ([`Client`]).
//! - **the honest member** is a `Node` in this process, an editor of the space. Every 50 ms it
//!   edits one note (one character, as a user types), rotating over 16 notes so that each
//!   victim event names one outstanding edit; edit to visible is from just before
//!   `Node::note_edit` on the honest node to the victim's `DocumentChanged` for that note (both
//!   clocks are this machine's wall clock).
//! - **the attackers** are raw peers ([`RawPeer`]) and plain `tacit_net::Net`s, in this process
//!   on a runtime of their own. A raw member joins with a ticket before its phase starts; an
//!   attacker whose session the victim closes connects again and carries on (the victim keeps a
//!   peer whose session ended as hostile out for 2 s, then 4, 8 … up to 5 min, so most of those
//!   attempts are turned away: "closed or refused" counts them).
//!
//! Phases of `--phase-secs` each, in this order: baseline (no attacker); op flood (a reader
//! sends rounds of 12,000 ops that apply to nothing); `Want` amplification (a reader asks for
//! the largest document 4,096 times per message, 8 messages a round); deflate bombs (an editor
//! sends compressed change chunks that inflate to 1 GiB, three a round: a new document, a change
//! to a note, a whole document); forged changes (an editor sends changes to a note that the
//! honest member edits, written as the honest member or the owner and signed by the wrong key or
//! not at all, 64 a round); waiting changes (an editor withholds one change to each of 200 notes
//! nobody edits and sends the changes after it, signed, one sync message per note a round, each
//! change a 16 KB value that Automerge keeps waiting for the withheld one; 100 distinct rounds,
//! then sent again); 200 strangers (plain `Net`s dialling the victim, those not connected
//! dialling again every second); baseline again. Each round of a raw peer ends with a round trip
//! through the victim's session (a `Join` it refuses), so there is one round in flight at a time,
//! sent as fast as the victim takes them.
//!
//! Victim memory: the peak resident size during the phase, read from `/proc/PID/status`:
//! `VmHWM` after resetting it at the start of the phase (`echo 5 > /proc/PID/clear_refs`), and
//! `VmRSS` sampled every 50 ms (the larger of the two; the table says which were available).
//! Goals (issue 11): peak memory at most the baseline's + 100 MB, honest p99 at most 2× the
//! baseline's.
//!
//! Then the cost of signatures: 10,000 `ChangeSig::sign` and 10,000 `ChangeSig::verify` on one
//! core, beside the first sync of 10,000 notes (goal: at most 10% of it).

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../../crates/tacit-node/benches/common/notes.rs"]
mod notes;

use std::collections::HashMap;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow};
use tacit_core::{ChangeSig, DeviceKey, DocId, OpBody, OpHash, SpaceId, Ticket};
use tacit_net::wire::{Message, WholeDoc};
use tacit_node::core::{Kind, NoteEdit, ProfileEdit, Role};
use tacit_node::{Client, ControlServer, Event, ImportNote, Node, Request, Response};
use tacit_tests::nodes;
use tacit_tests::rawpeer::{RawPeer, forge, now_ms, sign_changes, sign_op, sync_carrying};
use tokio::sync::{mpsc, oneshot};

/// Length of a phase, unless `--phase-secs` says otherwise.
const DEFAULT_PHASE: Duration = Duration::from_secs(10);
/// Notes of 1–4 KB in the space, unless `--notes` says otherwise.
const DEFAULT_NOTES: usize = 300;
/// First sync of 10,000 notes measured before changes were signed (issue 11).
const FIRST_SYNC_BEFORE: f64 = 7.5;
/// Edit-to-visible p50 measured before changes were signed (issue 11).
const EDIT_P50_BEFORE_MS: f64 = 2.2;
/// How often the honest member edits.
const EDIT_EVERY: Duration = Duration::from_millis(50);
/// Notes the honest member edits in turn: an edit still outstanding after this many turns
/// (800 ms) is not followed by another to the same note until it arrives.
const ROTATION: usize = 16;
/// How long after a phase the outstanding edits may still arrive before they count as lost.
const DRAIN: Duration = Duration::from_secs(20);
/// Quiet time between phases, so that one phase's leftovers do not land in the next.
const SETTLE: Duration = Duration::from_secs(3);
/// How often the victim's resident size is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// How long a raw peer waits for the victim's answer to a round before it gives up on the
/// session and connects again.
const ROUND_PATIENCE: Duration = Duration::from_secs(30);
/// Junk ops per op-flood round, sent 2,000 to a message (issue 11's figure).
const JUNK_OPS: usize = 12_000;
/// Distinct rounds of junk prepared (and sent in turn), so that the victim cannot recognise a
/// round it has seen.
const JUNK_ROUNDS: usize = 3;
/// Times the largest document is named in one `Want` (issue 11's figure; the wire's limit).
const WANT_REPEATS: usize = 4_096;
/// `Want` messages per round.
const WANTS_PER_ROUND: usize = 8;
/// What a deflate bomb inflates to.
const BOMB_SIZE: usize = 1024 * 1024 * 1024;
/// Distinct forged changes prepared, and how many are sent per round.
const FORGERIES: usize = 256;
const FORGERIES_PER_ROUND: usize = 64;
/// Notes the waiting-changes attack sends changes to (fewer than the victim's cache of 256
/// documents: a document that leaves the cache takes its waiting changes with it).
const WAITING_DOCS: usize = 200;
/// The value each of its changes writes (uncompressed; nearly the same byte over and over, so
/// that it crosses the wire deflated).
const WAITING_CHANGE_BYTES: usize = 16 * 1024;
/// Distinct rounds of its changes prepared: a change sent again is one Automerge holds already.
const WAITING_ROUNDS: usize = 100;
/// Strangers dialling the victim.
const STRANGERS: usize = 200;
/// How often a stranger that is not connected dials again.
const REDIAL_EVERY: Duration = Duration::from_secs(1);
/// Signatures made and checked in the signature part.
const SIGNATURES: usize = 10_000;
/// Goals of issue 11.
const MEMORY_GOAL_MB: f64 = 100.0;
const P99_GOAL_RATIO: f64 = 2.0;
const SIGNATURE_GOAL_SHARE: f64 = 0.10;

/// The allocator the `tacit` binary and the desktop app use, so that memory figures are theirs.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--victim") {
        let home = PathBuf::from(args.get(i + 1).expect("--victim HOME"));
        victim_main(&home);
        return;
    }
    let phase = Duration::from_secs_f64(arg(&args, "--phase-secs", DEFAULT_PHASE.as_secs_f64()));
    let notes = arg(&args, "--notes", DEFAULT_NOTES as f64) as usize;
    let first_sync = args
        .iter()
        .position(|a| a == "--first-sync")
        .and_then(|i| args.get(i + 1)?.parse::<f64>().ok());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The attackers' own runtime: their work does not queue behind the honest node's tasks (the
    // machine's cores are still shared, as they would be by any processes).
    let attack_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("attacker")
        .enable_all()
        .build()
        .unwrap();
    println!("Tacit hostile-peer benchmark (127.0.0.1, TCP, mDNS off)");
    println!(
        "  machine: {} cores; load average before: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    // `--only forged` (a part of a phase's name): that attack alone between the baselines, and
    // no signature part.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let alone = only.is_some();
    let rows = rt.block_on(floods(phase, notes, only, attack_rt.handle().clone()));
    attack_rt.shutdown_timeout(Duration::from_secs(5));
    drop(rt);
    if alone {
        return;
    }
    let baseline_p50 = rows.first().and_then(|r| r.p50);
    signatures(first_sync, baseline_p50);
}

fn arg(args: &[String], name: &str, default: f64) -> f64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// The victim process

/// Runs the victim: what `tacit serve` runs, plus one stdout line per remote document change
/// (`changed ID UNIX_NS`), until its standard input closes.
fn victim_main(home: &Path) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let profile = ProfileEdit {
            name: Some("Victim".into()),
            org: Some("Victim Org".into()),
            ..ProfileEdit::default()
        };
        let (node, _) = Node::init(home, profile).await.unwrap();
        node.start_network(nodes::loopback()).await.unwrap();
        let server = ControlServer::start(node.clone()).await.unwrap();
        let addr = nodes::listen_addr(&node).await;
        let mut events = node.subscribe();
        // The time is taken on a thread of its own as soon as the actor emits the event, not
        // when a runtime worker gets round to it.
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "ready {addr}").unwrap();
            out.flush().unwrap();
        }
        std::thread::spawn(move || {
            loop {
                let line = match events.blocking_recv() {
                    Ok(Event::DocumentChanged {
                        id, remote: true, ..
                    }) => format!("changed {id} {}", unix_ns()),
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        format!("lagged {n}")
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let mut out = std::io::stdout().lock();
                if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                    return;
                }
            }
        });
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
            }
        })
        .await;
        server.stop().await;
        node.shutdown().await;
    });
}

fn unix_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// What the victim process says.
enum Said {
    Ready(String),
    Changed(DocId, u128),
    Lagged(u64),
}

/// The victim process, seen from the benchmark.
struct Victim {
    child: Child,
    stdin: Option<ChildStdin>,
    home: tempfile::TempDir,
    log: PathBuf,
    addr: String,
    said: mpsc::Receiver<Said>,
    lagged: u64,
}

impl Victim {
    async fn start(log_dir: &Path) -> anyhow::Result<Victim> {
        let home = tempfile::tempdir()?;
        let log = log_dir.join("victim.log");
        // `HOSTILE_VICTIM_WRAP="heaptrack -o /tmp/victim"` runs the victim under a profiler
        // (its memory figures are then the wrapper's).
        let exe = std::env::current_exe()?;
        let wrap: Vec<String> = std::env::var("HOSTILE_VICTIM_WRAP")
            .map(|w| w.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let mut cmd = match wrap.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let mut child = cmd
            .arg("--victim")
            .arg(home.path())
            .env_remove("TACIT_HOME")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("start the victim process")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("the victim's stdout")?;
        let (tx, mut said) = mpsc::channel(4096);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let mut words = line.split_whitespace();
                let msg = match (words.next(), words.next(), words.next()) {
                    (Some("ready"), Some(addr), _) => Said::Ready(addr.to_owned()),
                    (Some("changed"), Some(id), Some(ns)) => match (id.parse(), ns.parse()) {
                        (Ok(id), Ok(ns)) => Said::Changed(id, ns),
                        _ => continue,
                    },
                    (Some("lagged"), Some(n), _) => Said::Lagged(n.parse().unwrap_or(0)),
                    _ => continue,
                };
                if tx.blocking_send(msg).is_err() {
                    return;
                }
            }
        });
        let addr = match tokio::time::timeout(Duration::from_secs(60), said.recv()).await {
            Ok(Some(Said::Ready(addr))) => addr,
            _ => anyhow::bail!(
                "the victim did not start; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        };
        Ok(Victim {
            child,
            stdin,
            home,
            log,
            addr,
            said,
            lagged: 0,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs a request on the victim through its control socket.
    async fn ask(&self, req: Request) -> anyhow::Result<Response> {
        let mut client = Client::connect(self.home.path())
            .await?
            .context("the victim's control socket")?;
        Ok(client.execute(&req).await?)
    }

    /// A ticket to `space` for `role`, valid for an hour.
    async fn invite(&self, space: &str, role: Role) -> anyhow::Result<Ticket> {
        let req = Request::SpaceInvite {
            space: space.into(),
            role,
            expires_in: Some(3_600_000),
            uses: None,
        };
        match self.ask(req).await? {
            Response::Ticket { ticket, .. } => Ok(Ticket::parse(&ticket)?),
            other => Err(anyhow!("{other:?}")),
        }
    }

    /// Closes its standard input (it stops itself), waits for it, kills it if it hangs.
    fn stop(mut self) -> String {
        drop(self.stdin.take());
        let log = self.log.clone();
        let text = self.wait_for_exit();
        // `HOSTILE_VICTIM_LOG=FILE` keeps the victim's whole log (`RUST_LOG` sets its level).
        if let Some(keep) = std::env::var_os("HOSTILE_VICTIM_LOG") {
            let _ = std::fs::copy(&log, keep);
        }
        text
    }

    fn wait_for_exit(&mut self) -> String {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return std::fs::read_to_string(&self.log).unwrap_or_default();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// Memory and CPU of the victim

/// A field of `/proc/PID/status`, in bytes.
fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Resets the process's `VmHWM` to its current resident size; whether the kernel allowed it.
fn reset_hwm(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// User plus system CPU time of the process, in seconds (clock ticks of 1/100 s).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Samples the victim's `VmRSS` every [`SAMPLE_EVERY`] on a thread of its own; `restart` sets
/// the peak to the current size.
struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    pid: u32,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        // `HOSTILE_RSS_LOG=FILE`: every sample, with the wall-clock time, to match the
        // victim's log against.
        let mut log =
            std::env::var_os("HOSTILE_RSS_LOG").and_then(|f| std::fs::File::create(f).ok());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(rss) = status_bytes(pid, "VmRSS") {
                    p.fetch_max(rss, Ordering::Relaxed);
                    if let Some(f) = log.as_mut() {
                        let mb = |field| status_bytes(pid, field).unwrap_or(0) / 1_000_000;
                        let threads = std::fs::read_to_string(format!("/proc/{pid}/status"))
                            .ok()
                            .and_then(|s| {
                                s.lines()
                                    .find_map(|l| l.strip_prefix("Threads:"))
                                    .map(|v| v.trim().to_owned())
                            })
                            .unwrap_or_default();
                        let _ = writeln!(
                            f,
                            "{} rss {} anon {} file {} threads {threads}",
                            unix_ns() / 1_000_000,
                            rss / 1_000_000,
                            mb("RssAnon"),
                            mb("RssFile")
                        );
                    }
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
        });
        RssSampler { peak, stop, pid }
    }

    fn restart(&self) {
        self.peak.store(
            status_bytes(self.pid, "VmRSS").unwrap_or(0),
            Ordering::Relaxed,
        );
    }

    fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// The honest member's edits

/// The notes the honest member edits, with their bodies as it last wrote them.
struct Editor {
    node: Node,
    notes: Vec<(DocId, String)>,
    turn: usize,
    typed: usize,
}

/// Edit-to-visible figures of one phase.
#[derive(Default)]
struct Latencies {
    times: Vec<Duration>,
    lost: usize,
    skipped: usize,
}

impl Editor {
    /// Edits every [`EDIT_EVERY`] for `length`, then waits up to [`DRAIN`] for the outstanding
    /// edits to reach the victim.
    async fn run(&mut self, victim: &mut Victim, length: Duration) -> Latencies {
        let mut out = Latencies::default();
        let mut pending: HashMap<DocId, u128> = HashMap::new();
        let end = tokio::time::Instant::now() + length;
        let mut tick = tokio::time::interval(EDIT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                said = victim.said.recv() => match said {
                    Some(s) => Self::arrived(s, &mut pending, &mut out, &mut victim.lagged),
                    None => break,
                },
                _ = tick.tick() => {
                    if tokio::time::Instant::now() >= end {
                        break;
                    }
                    self.edit(&mut pending, &mut out).await;
                }
            }
        }
        let drained = tokio::time::Instant::now() + DRAIN;
        while !pending.is_empty() {
            match tokio::time::timeout_at(drained, victim.said.recv()).await {
                Ok(Some(s)) => Self::arrived(s, &mut pending, &mut out, &mut victim.lagged),
                _ => break,
            }
        }
        // What never arrived counts at the time given up, and as lost.
        let now = unix_ns();
        for (_, t0) in pending.drain() {
            out.times
                .push(Duration::from_nanos(now.saturating_sub(t0) as u64));
            out.lost += 1;
        }
        out.times.sort();
        out
    }

    fn arrived(
        said: Said,
        pending: &mut HashMap<DocId, u128>,
        out: &mut Latencies,
        lagged: &mut u64,
    ) {
        match said {
            Said::Changed(id, at) => {
                if let Some(t0) = pending.remove(&id) {
                    out.times
                        .push(Duration::from_nanos(at.saturating_sub(t0) as u64));
                }
            }
            Said::Lagged(n) => *lagged += n,
            Said::Ready(_) => {}
        }
    }

    /// One edit: one character typed in the middle of the next note with no edit outstanding.
    async fn edit(&mut self, pending: &mut HashMap<DocId, u128>, out: &mut Latencies) {
        let Some(k) = (0..self.notes.len())
            .map(|i| (self.turn + i) % self.notes.len())
            .find(|k| !pending.contains_key(&self.notes[*k].0))
        else {
            out.skipped += 1;
            return;
        };
        self.turn = k + 1;
        let (id, body) = &mut self.notes[k];
        let mut at = body.len() / 2;
        while !body.is_char_boundary(at) {
            at += 1;
        }
        body.insert(at, char::from(b'a' + (self.typed % 26) as u8));
        self.typed += 1;
        pending.insert(*id, unix_ns());
        let edit = NoteEdit {
            body: Some(body.clone()),
            ..NoteEdit::default()
        };
        if let Err(e) = self.node.note_edit(&id.to_string(), edit).await {
            pending.remove(id);
            eprintln!("  (the honest edit failed: {e})");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The attacks

/// What an attack needs to know of the victim and its space.
#[derive(Clone)]
struct Target {
    addr: String,
    sid: SpaceId,
    /// The largest document.
    big: DocId,
    /// A note the honest member edits (the forgeries' target).
    edited: DocId,
    /// A note nobody edits (the bombs' target).
    quiet: DocId,
    /// Other notes nobody edits (the waiting changes' targets).
    others: Vec<DocId>,
    /// Member ids of the honest member and the owner (the victim).
    honest: tacit_core::MemberId,
    owner: tacit_core::MemberId,
}

/// How an attack is told when to start and stop, and tells when it is ready.
struct Gate {
    ready: Option<oneshot::Sender<()>>,
    go: Option<oneshot::Receiver<()>>,
    stop: Arc<AtomicBool>,
}

impl Gate {
    /// Says the attack is ready, and waits for the phase to start.
    async fn start(&mut self) {
        if let Some(r) = self.ready.take() {
            let _ = r.send(());
        }
        if let Some(g) = self.go.take() {
            let _ = g.await;
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Attack {
    OpFlood,
    Want,
    Bombs,
    Forgeries,
    Waiting,
    Strangers,
}

impl Attack {
    fn name(self) -> &'static str {
        match self {
            Attack::OpFlood => "op flood",
            Attack::Want => "Want ×4,096",
            Attack::Bombs => "deflate bombs",
            Attack::Forgeries => "forged changes",
            Attack::Waiting => "waiting changes",
            Attack::Strangers => "200 strangers",
        }
    }

    /// The role of the raw member it needs, if any.
    fn role(self) -> Option<Role> {
        match self {
            Attack::OpFlood | Attack::Want => Some(Role::Reader),
            Attack::Bombs | Attack::Forgeries | Attack::Waiting => Some(Role::Editor),
            Attack::Strangers => None,
        }
    }
}

/// A raw member of the space, joined with `ticket`.
async fn raw_member(addr: &str, ticket: &Ticket) -> anyhow::Result<RawPeer> {
    let mut raw = RawPeer::connect(addr).await?;
    raw.hello(&[]).await?;
    raw.join(ticket).await.map_err(|e| anyhow!("join: {e}"))?;
    Ok(raw)
}

/// A raw peer whose session ended: the same member connects again and offers the space, as
/// often as it takes (a victim keeps a hostile peer out for a while) until the phase ends.
async fn reconnect(raw: RawPeer, t: &Target, gate: &Gate) -> anyhow::Result<Option<RawPeer>> {
    let (key, ops) = (raw.key().clone(), raw.ops(t.sid).to_vec());
    raw.shutdown().await;
    while !gate.stopped() {
        let again = async {
            let mut again = RawPeer::connect_as(key.clone(), &t.addr).await?;
            again.learn_ops(t.sid, &ops);
            again.hello(&[t.sid]).await?;
            anyhow::Ok(again)
        };
        match again.await {
            Ok(again) => return Ok(Some(again)),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    Ok(None)
}

/// A round trip through the victim's session: a `Join` for a space nobody holds, and its
/// refusal. The victim handles a session's frames in order, so once the refusal is back it has
/// handled everything sent before. Whether it came back.
async fn round_trip(raw: &mut RawPeer) -> bool {
    let probe = SpaceId::random();
    if raw
        .send(Message::Join {
            space: probe,
            op: Vec::new(),
        })
        .await
        .is_err()
    {
        return false;
    }
    let deadline = tokio::time::Instant::now() + ROUND_PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match raw.recv(left).await {
            Some(Message::JoinRefused { space, .. }) if space == probe => return true,
            Some(_) => {}
            None => return false,
        }
    }
}

/// Counts of what an attack did.
#[derive(Debug, Default)]
struct Done {
    rounds: usize,
    reconnects: usize,
    note: String,
}

/// Runs one attack: prepares (joins, builds its payloads), says it is ready, waits for the go,
/// attacks until told to stop.
async fn attack(
    kind: Attack,
    t: Target,
    ticket: Option<Ticket>,
    mut gate: Gate,
) -> anyhow::Result<Done> {
    if kind == Attack::Strangers {
        return strangers(&t, gate).await;
    }
    let ticket = ticket.context("a ticket")?;
    let mut raw = raw_member(&t.addr, &ticket).await?;
    let sid = t.sid;
    // Payloads: each round sends one of these lists of messages.
    let rounds: Vec<Vec<Message>> = match kind {
        Attack::OpFlood => {
            raw.serve_until("the ops on the flooder", nodes::PATIENCE, |p| {
                p.membership(sid).members().len() >= 3
            })
            .await;
            let (key, heads) = (raw.key().clone(), raw.heads(sid));
            tokio::task::spawn_blocking(move || {
                (0..JUNK_ROUNDS)
                    .map(|r| {
                        junk_ops(&key, sid, &heads, r)
                            .chunks(2_000)
                            .map(|c| Message::Ops {
                                space: sid,
                                ops: c.to_vec(),
                            })
                            .collect()
                    })
                    .collect()
            })
            .await?
        }
        Attack::Want => {
            raw.serve_until("the largest document", nodes::PATIENCE, |p| {
                p.doc_bytes(t.big).is_some()
            })
            .await;
            vec![
                (0..WANTS_PER_ROUND)
                    .map(|_| Message::Want {
                        space: sid,
                        ids: vec![t.big; WANT_REPEATS],
                    })
                    .collect(),
            ]
        }
        Attack::Bombs => {
            let bomb = tokio::task::spawn_blocking(|| deflate_bomb(BOMB_SIZE)).await?;
            vec![vec![
                Message::Change {
                    space: sid,
                    id: DocId::random(),
                    data: bomb.clone(),
                    sigs: Vec::new(),
                },
                Message::Change {
                    space: sid,
                    id: t.quiet,
                    data: bomb.clone(),
                    sigs: Vec::new(),
                },
                Message::Docs {
                    space: sid,
                    docs: vec![WholeDoc {
                        id: DocId::random(),
                        data: bomb,
                        sigs: Vec::new(),
                    }],
                },
            ]]
        }
        Attack::Forgeries => {
            raw.serve_until("the edited note", nodes::PATIENCE, |p| {
                p.doc_bytes(t.edited).is_some()
            })
            .await;
            let base = raw.doc_bytes(t.edited).context("the note")?.to_vec();
            let (key, under, me) = (raw.key().clone(), raw.heads(sid), raw.member());
            let t2 = t.clone();
            let forged =
                tokio::task::spawn_blocking(move || forgeries(&base, &t2, &key, me, &under))
                    .await??;
            forged
                .chunks(FORGERIES_PER_ROUND)
                .map(|c| c.to_vec())
                .collect()
        }
        Attack::Waiting => {
            let docs = t.others.clone();
            raw.serve_until("the notes nobody edits", nodes::PATIENCE, |p| {
                docs.iter().all(|d| p.doc_bytes(*d).is_some())
            })
            .await;
            let bases: Vec<(DocId, Vec<u8>)> = docs
                .iter()
                .filter_map(|d| Some((*d, raw.doc_bytes(*d)?.to_vec())))
                .collect();
            let (key, under, me) = (raw.key().clone(), raw.heads(sid), raw.member());
            tokio::task::spawn_blocking(move || waiting_rounds(&bases, &key, sid, me, &under))
                .await??
        }
        Attack::Strangers => unreachable!(),
    };
    let mut done = Done::default();
    if kind == Attack::Waiting {
        let wire: usize = rounds
            .iter()
            .flatten()
            .map(|m| match m {
                Message::Sync { msg, .. } => msg.len(),
                _ => 0,
            })
            .sum();
        done.note = format!(
            "{} notes, {WAITING_ROUNDS} distinct rounds = {:.0} MB uncompressed, {:.1} MB on the wire",
            rounds.first().map_or(0, Vec::len),
            mb((rounds.iter().map(Vec::len).sum::<usize>() * WAITING_CHANGE_BYTES) as u64),
            mb(wire as u64)
        );
    }
    if kind == Attack::OpFlood {
        done.note = format!(
            "{JUNK_OPS} ops a round ({} messages)",
            rounds.first().map_or(0, Vec::len)
        );
    }
    // Anything the join brought is read before the phase starts.
    let _ = round_trip(&mut raw).await;
    gate.start().await;
    while !gate.stopped() {
        let msgs = &rounds[done.rounds % rounds.len()];
        let mut sent = true;
        for m in msgs {
            if raw.send(m.clone()).await.is_err() {
                sent = false;
                break;
            }
        }
        if sent && round_trip(&mut raw).await {
            done.rounds += 1;
            continue;
        }
        if gate.stopped() {
            break;
        }
        done.reconnects += 1;
        match reconnect(raw, &t, &gate).await? {
            Some(again) => raw = again,
            None => return Ok(done),
        }
    }
    raw.shutdown().await;
    Ok(done)
}

/// The waiting-changes attack's rounds: for each note, a change that is never sent, then
/// [`WAITING_ROUNDS`] changes after it, each writing a value of [`WAITING_CHANGE_BYTES`]; round
/// `r` carries the `r`th of each note's, signed, in a sync message of its own.
fn waiting_rounds(
    bases: &[(DocId, Vec<u8>)],
    key: &DeviceKey,
    sid: SpaceId,
    me: tacit_core::MemberId,
    under: &[OpHash],
) -> anyhow::Result<Vec<Vec<Message>>> {
    use automerge::transaction::{CommitOptions, Transactable as _};
    let mut rounds: Vec<Vec<Message>> = (0..WAITING_ROUNDS)
        .map(|_| Vec::with_capacity(bases.len()))
        .collect();
    let value = "x".repeat(WAITING_CHANGE_BYTES);
    for (id, base) in bases {
        let mut doc = automerge::AutoCommit::load(base)?;
        doc.set_actor(me.actor_id());
        let commit = |doc: &mut automerge::AutoCommit| {
            doc.commit_with(
                CommitOptions::default()
                    .with_time(now_ms().div_euclid(1000))
                    .with_message(tacit_core::under_message(under)),
            );
        };
        doc.put(automerge::ROOT, "withheld", 1)?;
        commit(&mut doc);
        for (r, round) in rounds.iter_mut().enumerate() {
            let before = doc.get_heads();
            // A value of its own each time: the same value again would make no change.
            doc.put(automerge::ROOT, "junk", format!("{r} {value}"))?;
            commit(&mut doc);
            let hash = doc.get_heads().first().context("a head")?.0;
            round.push(Message::Sync {
                space: sid,
                id: *id,
                msg: sync_carrying(doc.save_after(&before), &[hash]),
                sigs: sign_changes(key, sid, *id, &[hash]),
            });
        }
    }
    Ok(rounds)
}

/// One round of 12,000 ops that apply to nothing (as `tests/tests/hostile.rs` makes them): a
/// reader removing others, inviting owners, ops after deps nobody holds, ops of another space.
fn junk_ops(key: &DeviceKey, sid: SpaceId, heads: &[OpHash], round: usize) -> Vec<Vec<u8>> {
    (0..JUNK_OPS as u32)
        .map(|i| {
            let at = now_ms() + i64::from(i);
            let salt = (round as u32) << 24 | i;
            let op = match i % 4 {
                0 => sign_op(
                    key,
                    sid,
                    heads.to_vec(),
                    at,
                    OpBody::Remove {
                        member: DeviceKey::generate().member_id(),
                        cut: Vec::new(),
                    },
                ),
                1 => {
                    let mut k = [0u8; 32];
                    k[..4].copy_from_slice(&salt.to_be_bytes());
                    sign_op(
                        key,
                        sid,
                        heads.to_vec(),
                        at,
                        OpBody::Invite {
                            role: Role::Owner,
                            expires_at: None,
                            uses: None,
                            key: k,
                        },
                    )
                }
                2 => {
                    let mut missing = [0u8; 32];
                    missing[..4].copy_from_slice(&salt.to_be_bytes());
                    sign_op(
                        key,
                        sid,
                        vec![OpHash(missing)],
                        at,
                        OpBody::Withdraw {
                            invite: OpHash([1; 32]),
                        },
                    )
                }
                _ => sign_op(
                    key,
                    SpaceId::random(),
                    heads.to_vec(),
                    at,
                    OpBody::Remove {
                        member: key.member_id(),
                        cut: Vec::new(),
                    },
                ),
            };
            op.to_bytes()
        })
        .collect()
}

/// A compressed change chunk that inflates to `size` bytes of zeros (as in
/// `tests/tests/hostile.rs`).
fn deflate_bomb(size: usize) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..size / zeros.len() {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    let mut len = bomb.len() as u64;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            chunk.push(byte);
            break;
        }
        chunk.push(byte | 0x80);
    }
    chunk.extend(bomb);
    chunk
}

/// [`FORGERIES`] distinct changes to the edited note, each a `Change` message: written as the
/// honest member and signed by the attacker; as the honest member, unsigned; as the owner,
/// signed by the attacker; as the attacker, signed by a key of nobody's.
fn forgeries(
    base: &[u8],
    t: &Target,
    attacker: &DeviceKey,
    me: tacit_core::MemberId,
    under: &[OpHash],
) -> anyhow::Result<Vec<Message>> {
    use automerge::ReadDoc as _;
    use automerge::transaction::Transactable as _;
    let nobody = DeviceKey::generate();
    (0..FORGERIES)
        .map(|i| {
            let (actor, signer) = match i % 4 {
                0 => (t.honest, Some(attacker)),
                1 => (t.honest, None),
                2 => (t.owner, Some(attacker)),
                _ => (me, Some(&nobody)),
            };
            let text = format!(" forged {i} ");
            let (data, hashes) = forge(base, actor, under, now_ms(), |doc| {
                let (_, body) = doc
                    .get(automerge::ROOT, "body")?
                    .context("the note's body")?;
                let len = doc.text(&body)?.chars().count();
                doc.splice_text(&body, len / 2, 0, &text)?;
                Ok(())
            })?;
            let sigs = signer.map_or_else(Vec::new, |k| sign_changes(k, t.sid, t.edited, &hashes));
            Ok(Message::Change {
                space: t.sid,
                id: t.edited,
                data,
                sigs,
            })
        })
        .collect()
}

/// 200 plain networks dial the victim; those not connected dial again every second.
async fn strangers(t: &Target, mut gate: Gate) -> anyhow::Result<Done> {
    let addr: tacit_net::Multiaddr = t.addr.parse()?;
    let connected = Arc::new(AtomicUsize::new(0));
    let mut nets = Vec::with_capacity(STRANGERS);
    for _ in 0..STRANGERS {
        let cfg = tacit_net::NetConfig {
            mdns: false,
            ..tacit_net::NetConfig::new(DeviceKey::generate().secret())
        };
        let (net, mut events) = tacit_net::Net::start(cfg).await?;
        let (up, count) = (Arc::new(AtomicBool::new(false)), connected.clone());
        let flag = up.clone();
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                match ev {
                    tacit_net::NetEvent::Connected { .. }
                        if !flag.swap(true, Ordering::Relaxed) =>
                    {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    tacit_net::NetEvent::Disconnected { .. }
                        if flag.swap(false, Ordering::Relaxed) =>
                    {
                        count.fetch_sub(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        });
        nets.push((net, up));
    }
    gate.start().await;
    let (mut dials, mut refused, mut most) = (0usize, 0usize, 0usize);
    while !gate.stopped() {
        let round = tokio::time::Instant::now();
        let tries: Vec<_> = nets
            .iter()
            .filter(|(_, up)| !up.load(Ordering::Relaxed))
            .map(|(net, _)| net.dial(addr.clone()))
            .collect();
        dials += tries.len();
        refused += futures::future::join_all(tries)
            .await
            .iter()
            .filter(|r| r.is_err())
            .count();
        most = most.max(connected.load(Ordering::Relaxed));
        tokio::time::sleep_until(round + REDIAL_EVERY).await;
        most = most.max(connected.load(Ordering::Relaxed));
    }
    futures::future::join_all(nets.iter().map(|(n, _)| n.shutdown())).await;
    Ok(Done {
        rounds: 0,
        reconnects: 0,
        note: format!("{dials} dials, {refused} failed; at most {most} connected at once"),
    })
}

// ---------------------------------------------------------------------------------------------
// The run

/// One row of the table.
struct Row {
    phase: String,
    peak: u64,
    p50: Option<Duration>,
    p99: Option<Duration>,
    edits: usize,
    lost: usize,
    skipped: usize,
    cpu: f64,
    attack: String,
}

async fn floods(
    phase: Duration,
    note_count: usize,
    only: Option<String>,
    attackers: tokio::runtime::Handle,
) -> Vec<Row> {
    let log_dir = tempfile::tempdir().unwrap();
    let mut victim = Victim::start(log_dir.path()).await.unwrap();
    let pid = victim.pid();

    // The space: the victim owns it and holds the notes; the honest member joins as an editor.
    let space = match victim
        .ask(Request::SpaceNew {
            name: "Team".into(),
        })
        .await
        .unwrap()
    {
        Response::SpaceCreated { id, .. } => id.to_string(),
        other => panic!("{other:?}"),
    };
    let (drafts, source) = notes::drafts(note_count, 0x0405_711e);
    for (b, chunk) in drafts.chunks(500).enumerate() {
        let notes = chunk
            .iter()
            .enumerate()
            .map(|(i, d)| ImportNote {
                key: format!("bench/{}.md", b * 500 + i),
                id: None,
                kind: Kind::Note,
                draft: d.clone(),
                created_at: None,
            })
            .collect();
        victim
            .ask(Request::Import {
                space: Some(space.clone()),
                notes,
            })
            .await
            .unwrap();
    }
    let big_body = "lorem ipsum dolor sit amet ".repeat(20_000);
    let big = match victim
        .ask(Request::NoteNew {
            draft: tacit_node::core::Draft {
                title: "Big".into(),
                body: big_body.clone(),
                tags: Vec::new(),
                aliases: Vec::new(),
            },
            space: Some(space.clone()),
        })
        .await
        .unwrap()
    {
        Response::Created { id } => id,
        other => panic!("{other:?}"),
    };
    let honest_dir = tempfile::tempdir().unwrap();
    let honest = nodes::node(honest_dir.path(), "Honest").await;
    let ticket = victim.invite(&space, Role::Editor).await.unwrap();
    nodes::join(&honest, &ticket.to_string()).await.unwrap();
    let total = note_count + 1;
    let t = Instant::now();
    loop {
        let items = match nodes::ask(
            &honest,
            Request::NoteList {
                limit: None,
                space: Some(space.clone()),
            },
        )
        .await
        {
            Response::List { items } => items,
            other => panic!("{other:?}"),
        };
        if items.len() >= total {
            break;
        }
        assert!(
            t.elapsed() < nodes::PATIENCE,
            "the honest member holds {} of {total} notes after {:?}",
            items.len(),
            nodes::PATIENCE
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let items = match nodes::ask(
        &honest,
        Request::NoteList {
            limit: None,
            space: Some(space.clone()),
        },
    )
    .await
    {
        Response::List { items } => items,
        other => panic!("{other:?}"),
    };
    let mut small: Vec<DocId> = items.iter().filter(|i| i.id != big).map(|i| i.id).collect();
    small.sort();
    let mut edited = Vec::with_capacity(ROTATION);
    for id in small.iter().take(ROTATION) {
        let body = nodes::body(&honest, &id.to_string()).await.unwrap();
        edited.push((*id, body));
    }
    let target = Target {
        addr: victim.addr.clone(),
        sid: space.parse().unwrap(),
        big,
        edited: edited[0].0,
        quiet: small[ROTATION],
        others: small
            .iter()
            .skip(ROTATION + 1)
            .take(WAITING_DOCS)
            .copied()
            .collect(),
        honest: honest.whoami().await.unwrap().member,
        owner: match victim.ask(Request::Whoami).await.unwrap() {
            Response::Identity(i) => i.member,
            other => panic!("{other:?}"),
        },
    };
    let mut editor = Editor {
        node: honest.clone(),
        notes: edited,
        turn: 0,
        typed: 0,
    };
    let markdown: usize = drafts.iter().map(|d| notes::as_markdown(d).len()).sum();
    println!(
        "  the space: {note_count} notes ({:.1} MB of Markdown, words {source}) and one of {} KB; \
         the honest member edits {ROTATION} of them in turn, one every {} ms",
        markdown as f64 / 1e6,
        big_body.len() / 1024,
        EDIT_EVERY.as_millis()
    );
    let hwm = reset_hwm(pid);
    println!(
        "  victim: pid {pid}, a process of its own; peak memory from {}",
        if hwm {
            "VmHWM reset at each phase's start, and VmRSS sampled every 50 ms"
        } else {
            "VmRSS sampled every 50 ms (VmHWM could not be reset here)"
        }
    );
    println!(
        "  phases of {:.0} s; goals: peak memory ≤ baseline + {MEMORY_GOAL_MB:.0} MB, honest p99 ≤ {P99_GOAL_RATIO}× baseline",
        phase.as_secs_f64()
    );
    let sampler = RssSampler::start(pid);

    let phases: [(&str, Option<Attack>); 8] = [
        ("baseline", None),
        ("op flood", Some(Attack::OpFlood)),
        ("Want ×4,096", Some(Attack::Want)),
        ("deflate bombs", Some(Attack::Bombs)),
        ("forged changes", Some(Attack::Forgeries)),
        ("waiting changes", Some(Attack::Waiting)),
        ("200 strangers", Some(Attack::Strangers)),
        ("baseline again", None),
    ];
    let mut rows = Vec::new();
    for (name, kind) in phases {
        if let (Some(only), Some(_)) = (&only, kind)
            && !name.contains(only.as_str())
        {
            continue;
        }
        // Prepare the attack (join, payloads), let the victim settle, then go.
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = oneshot::channel();
        let (go_tx, go_rx) = oneshot::channel();
        let task = match kind {
            Some(k) => {
                let ticket = match k.role() {
                    Some(role) => Some(victim.invite(&space, role).await.unwrap()),
                    None => None,
                };
                let gate = Gate {
                    ready: Some(ready_tx),
                    go: Some(go_rx),
                    stop: stop.clone(),
                };
                let task = attackers.spawn(attack(k, target.clone(), ticket, gate));
                if ready_rx.await.is_err() {
                    let err = task.await;
                    panic!("the {} attack failed to prepare: {err:?}", k.name());
                }
                Some(task)
            }
            None => None,
        };
        tokio::time::sleep(SETTLE).await;
        // Anything that arrived meanwhile is not this phase's.
        while let Ok(s) = victim.said.try_recv() {
            if let Said::Lagged(n) = s {
                victim.lagged += n;
            }
        }
        let cpu0 = cpu_secs(pid);
        let hwm_reset = reset_hwm(pid);
        sampler.restart();
        let t0 = Instant::now();
        let _ = go_tx.send(());
        let lat = editor.run(&mut victim, phase).await;
        stop.store(true, Ordering::Relaxed);
        let hwm = status_bytes(pid, "VmHWM").unwrap_or(0);
        // Without the reset, VmHWM is the process's lifetime peak, not this phase's.
        let peak = if hwm_reset {
            hwm.max(sampler.peak())
        } else {
            sampler.peak()
        };
        let cpu = (cpu_secs(pid) - cpu0) / t0.elapsed().as_secs_f64();
        let attack = match task {
            Some(task) => match task.await {
                Ok(Ok(d)) => describe(kind, &d),
                Ok(Err(e)) => format!("the attack failed: {e:#}"),
                Err(e) => format!("the attack failed: {e}"),
            },
            None => "no attacker".into(),
        };
        let row = Row {
            phase: name.into(),
            peak,
            p50: (!lat.times.is_empty()).then(|| percentile(&lat.times, 0.5)),
            p99: (!lat.times.is_empty()).then(|| percentile(&lat.times, 0.99)),
            edits: lat.times.len(),
            lost: lat.lost,
            skipped: lat.skipped,
            cpu,
            attack,
        };
        eprintln!(
            "  … {name}: peak {:.0} MB, p50 {}, p99 {}",
            mb(row.peak),
            opt_ms(row.p50),
            opt_ms(row.p99)
        );
        rows.push(row);
    }
    drop(sampler);
    print_table(&rows);
    if victim.lagged > 0 {
        println!(
            "  (the victim's event printer lagged and missed {} events)",
            victim.lagged
        );
    }
    honest.shutdown().await;
    let log = tokio::task::spawn_blocking(move || victim.stop())
        .await
        .unwrap();
    summarise_log(&log);
    rows
}

fn describe(kind: Option<Attack>, d: &Done) -> String {
    match kind {
        Some(Attack::OpFlood) => format!(
            "{} rounds answered = {} junk ops; {}; victim closed or refused the session {} times",
            d.rounds,
            d.rounds * JUNK_OPS,
            d.note,
            d.reconnects
        ),
        Some(Attack::Want) => format!(
            "{} rounds answered = {} Wants of {WANT_REPEATS} ids; victim closed or refused the session {} times",
            d.rounds,
            d.rounds * WANTS_PER_ROUND,
            d.reconnects
        ),
        Some(Attack::Bombs) => format!(
            "{} rounds answered = {} bombs of {} GiB inflated; victim closed or refused the session {} times",
            d.rounds,
            d.rounds * 3,
            BOMB_SIZE >> 30,
            d.reconnects
        ),
        Some(Attack::Forgeries) => format!(
            "{} rounds answered = {} forged changes; victim closed or refused the session {} times",
            d.rounds,
            d.rounds * FORGERIES_PER_ROUND,
            d.reconnects
        ),
        Some(Attack::Waiting) => format!(
            "{} rounds answered = {} changes left waiting; {}; victim closed or refused the session {} times",
            d.rounds,
            d.rounds * WAITING_DOCS,
            d.note,
            d.reconnects
        ),
        Some(Attack::Strangers) => format!("{STRANGERS} strangers: {}", d.note),
        None => String::new(),
    }
}

fn print_table(rows: &[Row]) {
    let Some(base) = rows.first() else { return };
    println!();
    println!(
        "{:<15} {:>10} {:>9} {:>5} {:>9} {:>9} {:>7} {:>5} {:>6} {:>6}",
        "phase", "peak MB", "Δ MB", "mem", "p50", "p99", "p99 ×", "p99", "edits", "CPU"
    );
    for r in rows {
        let delta = mb(r.peak) - mb(base.peak);
        let ratio = match (r.p99, base.p99) {
            (Some(a), Some(b)) if !b.is_zero() => Some(a.as_secs_f64() / b.as_secs_f64()),
            _ => None,
        };
        let is_base = std::ptr::eq(r, base);
        let verdict = |ok: bool| {
            if is_base {
                "—"
            } else if ok {
                "PASS"
            } else {
                "FAIL"
            }
        };
        println!(
            "{:<15} {:>10.0} {:>+9.0} {:>5} {:>9} {:>9} {:>7} {:>5} {:>6} {:>5.0}%",
            r.phase,
            mb(r.peak),
            delta,
            verdict(delta <= MEMORY_GOAL_MB),
            opt_ms(r.p50),
            opt_ms(r.p99),
            ratio.map_or("-".into(), |x| format!("{x:.2}")),
            verdict(r.lost == 0 && ratio.is_some_and(|x| x <= P99_GOAL_RATIO)),
            r.edits,
            r.cpu * 100.0
        );
    }
    println!();
    println!(
        "  peak MB: the victim's peak resident size in the phase; mem: Δ ≤ {MEMORY_GOAL_MB:.0} MB; \
         p50/p99: the honest member's edit to visible on the victim; p99 ×: against the baseline; \
         p99: ≤ {P99_GOAL_RATIO}× and nothing lost; edits: measured; CPU: the victim's, in % of one core"
    );
    for r in rows {
        let mut extra = Vec::new();
        if r.lost > 0 {
            extra.push(format!(
                "{} edits had not arrived {} s after the phase (counted at that time)",
                r.lost,
                DRAIN.as_secs()
            ));
        }
        if r.skipped > 0 {
            extra.push(format!(
                "{} turns skipped: all {ROTATION} notes had an edit outstanding",
                r.skipped
            ));
        }
        let sep = if extra.is_empty() { "" } else { "; " };
        println!("  {:<15} {}{sep}{}", r.phase, r.attack, extra.join("; "));
    }
}

/// The victim's warnings, counted by message (numbers and ids left out), the commonest first.
fn summarise_log(log: &str) {
    let mut kinds: HashMap<String, usize> = HashMap::new();
    for line in log.lines() {
        let msg = line
            .split_once(": ")
            .map_or(line, |(_, m)| m)
            .split_whitespace()
            .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
            .take(12)
            .collect::<Vec<_>>()
            .join(" ");
        *kinds.entry(msg).or_default() += 1;
    }
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!(
        "  the victim logged {} lines (warnings and errors){}",
        log.lines().count(),
        if kinds.is_empty() { "" } else { ", commonest:" }
    );
    for (msg, n) in kinds.iter().take(6) {
        println!("    {n:>6} × {msg}");
    }
}

// ---------------------------------------------------------------------------------------------
// Signatures

fn signatures(first_sync: Option<f64>, baseline_p50: Option<Duration>) {
    let key = DeviceKey::generate();
    let member = key.member_id();
    let space = SpaceId::random();
    let items: Vec<(DocId, [u8; 32])> = (0..SIGNATURES)
        .map(|i| {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&(i as u64).to_le_bytes());
            h[8..16].copy_from_slice(&(i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
            (DocId::random(), h)
        })
        .collect();
    // Warm up, then time on this one thread (one core).
    for (doc, h) in items.iter().take(100) {
        std::hint::black_box(ChangeSig::sign(&key, space, *doc, h).verify(&member, space, *doc));
    }
    let t = Instant::now();
    let sigs: Vec<ChangeSig> = items
        .iter()
        .map(|(doc, h)| ChangeSig::sign(&key, space, *doc, h))
        .collect();
    let sign = t.elapsed();
    let t = Instant::now();
    let valid = sigs
        .iter()
        .zip(&items)
        .filter(|(s, (doc, _))| s.verify(&member, space, *doc))
        .count();
    let verify = t.elapsed();
    assert_eq!(valid, SIGNATURES, "a signature did not verify");
    let both = sign + verify;
    let (first, whose) = match first_sync {
        Some(s) => (
            s,
            "--first-sync, from `cargo bench -p tacit-node --bench sync`",
        ),
        None => (
            FIRST_SYNC_BEFORE,
            "the figure from before signed changes; pass --first-sync SECS for this build's",
        ),
    };
    let share = both.as_secs_f64() / first;
    println!("\nSignatures ({SIGNATURES} changes, ChangeSig::sign and ::verify, one core)");
    println!(
        "   sign   {:>8.1} ms  ({:.1} µs each)",
        sign.as_secs_f64() * 1e3,
        sign.as_secs_f64() * 1e6 / SIGNATURES as f64
    );
    println!(
        "   verify {:>8.1} ms  ({:.1} µs each)",
        verify.as_secs_f64() * 1e3,
        verify.as_secs_f64() * 1e6 / SIGNATURES as f64
    );
    println!(
        "   first sync of 10,000 notes: {first:.2} s ({whose}); before signed changes: {FIRST_SYNC_BEFORE} s"
    );
    println!(
        "   sign + verify = {:.1}% of the first sync; verify alone (what a first sync adds: the \
         notes were signed when written) = {:.1}%; goal ≤ {:.0}%: {}",
        share * 100.0,
        verify.as_secs_f64() / first * 100.0,
        SIGNATURE_GOAL_SHARE * 100.0,
        if share <= SIGNATURE_GOAL_SHARE {
            "PASS"
        } else {
            "FAIL"
        }
    );
    let per_edit = both.as_secs_f64() / SIGNATURES as f64;
    match baseline_p50 {
        Some(p50) => println!(
            "   one edit signs and verifies one change: {:.0} µs = {:.1}% of this run's baseline \
             edit-to-visible p50 ({}); the sync benchmark's p50 before signed changes: {EDIT_P50_BEFORE_MS} ms",
            per_edit * 1e6,
            per_edit / p50.as_secs_f64() * 100.0,
            ms(p50)
        ),
        None => println!(
            "   one edit signs and verifies one change: {:.0} µs",
            per_edit * 1e6
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Figures

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn opt_ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), ms)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
