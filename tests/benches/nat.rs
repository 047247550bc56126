//! The benchmark of members across NATs (not a test): real `tacit serve` processes in the
//! network namespaces of `tests/nat.rs` (A behind NAT 1, B behind NAT 2, a public relay that is
//! a member of nothing), built anew for every run so that each starts with fresh conntrack
//! state. It prints figures and asserts nothing.
//!
//! ```text
//! cargo build --release -p tacit-cli
//! cargo bench -p tacit-tests --bench nat [-- --runs 20 --notes 1000 --fully-random --direct-first]
//! ```
//!
//! `cargo bench` runs this from `target/release`, and the servers are the `tacit` beside it
//! (`target/release/tacit`), hence the first command. Needs root, `ip` and `nft`; prints why and
//! does nothing otherwise. Only the addresses of the namespaces it builds are used; mDNS is off.
//!
//! Each run: the relay, then A and B with `--use-relay` to it, both waiting for their
//! reservation; A creates a space, imports `--notes` Markdown notes of 1–4 KB into it (`tacit
//! import`), and invites B. Then:
//!
//! 1. **first sync, starting relayed**: `tacit space join TICKET` on B (the command returns once
//!    the first sync is done); timed from its start to its return and to B holding every note
//!    (`status`'s note count, polled every 50 ms, so within ~50 ms plus one `status` call): the
//!    first sync is done at the later of the two. The same poll records when B first reaches A
//!    `via: direct` (a DCUtR hole punch; the run waits up to 20 s from the join for it), and how
//!    B reached A when the first sync was done.
//! 2. **a second batch after direct**: once B reaches A directly (or the 20 s are up: the batch
//!    is then reported apart, as relayed), A imports `--notes` more notes while B's node is
//!    polled; timed from the start of the import to B holding them all (so it includes A's own
//!    writing, printed beside it).
//!
//! With `--direct-first`, the space B joins is empty and the notes are only written in step 2,
//! after the connection is direct: the first sync of the notes then runs over the direct path.
//!
//! Bytes: the relay host's interface counters (its `eth0`, read from `/proc/PID/net/dev` of the
//! relay's server, which lives in that namespace) before and after each step: what it sent
//! (`relay out`: everything it forwarded to A or B, plus its own keep-alives) beside what B's
//! interface received in the same window (`B in`: the note data, whichever path it took).
//! The goal (issue 12): once direct is available, the bulk goes direct, i.e. `relay out` is a
//! small share of `B in`.
//!
//! Measured on the 2-core development machine (release build; 1,000 notes of 1–4 KB a batch,
//! 2.6 MB of Markdown, 1.6 MB on B's wire; the machine was shared, another benchmark and builds
//! ran at the same time, so the times are upper bounds), `cargo bench -p tacit-tests --bench nat
//! -- --runs 5`:
//!
//! - join → first sync done: median 2.51 s, p90 3.02 s (the command returns 0–40 ms before B
//!   lists every note);
//! - join → direct: median 0.16 s, p90 0.19 s; upgraded 5/5, every one long before the first
//!   sync was done (the sync session moved off the relay in every run);
//! - relay bytes during the first sync: 0.011 MB out (p90 0.021) for 1.60 MB into B: 0.66 % (p90
//!   1.3 %): the bulk of a first sync that starts relayed goes direct;
//! - batch written once direct: A's import 3.8 s (p90 4.6), import start → B holds all 7.1 s
//!   (p90 8.2), relay 0.004 MB out (p90 0.010) for 1.68 MB into B: 0.21 % (p90 0.62 %).
//!
//! `cargo bench -p tacit-tests --bench nat -- --fully-random --runs 3`: upgraded 0/3 (one "hole
//! punch failed" in the logs; in the other runs the attempt had not ended yet, about 35 s after
//! the join); first sync 3.36 s (p90 4.39), relay 1.63 MB out for 1.61 MB into B (101 %); the
//! batch, still relayed: import 4.2 s, B holds all after 8.0 s (p90 10.6), relay 1.66 MB out for
//! 1.64 MB into B (101 %). `--direct-first --runs 3`: join of the empty space 0.15 s, direct after
//! 0.14 s, the batch held after 7.9 s with 0.011 MB through the relay for 1.68 MB (0.67 %).
//!
//! The namespaces have no latency and no bandwidth limit: these are the protocol's and the
//! nodes' own costs, not an Internet path's (which is why relayed and direct syncs take about
//! as long here).

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../crates/tacit-node/benches/common/notes.rs"]
mod notes;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{invite, new_space, peers_of};
use tacit_tests::NetHome;
use tacit_tests::netns::{
    Options, PUBLIC_IP, Topology, serve_member, serve_relay, skip_reason, wait_reserved,
};

/// Runs, unless `--runs` says otherwise.
const DEFAULT_RUNS: usize = 20;
/// Notes per batch, unless `--notes` says otherwise.
const DEFAULT_NOTES: usize = 1000;
/// How long a run waits, from the start of the join, for B to reach A directly.
const DIRECT_PATIENCE: Duration = Duration::from_secs(20);
/// How long a run waits for B to hold a batch before the run counts as failed.
const SYNC_LIMIT: Duration = Duration::from_secs(180);
/// Between two `status` calls on B.
const POLL: Duration = Duration::from_millis(50);
/// The members log what they decide about paths (hole punches, sessions moved off the relay):
/// info, not debug, so that logging weighs little on the figures.
const MEMBER_LOG: &str = "warn,tacit_node=info,tacit_net=info";
const RELAY_LOG: &str = "warn";
/// The interface of every end host in the topology (A, B and the relay).
const IFACE: &str = "eth0";

struct Args {
    runs: usize,
    notes: usize,
    opts: Options,
    direct_first: bool,
}

fn parse_args() -> Args {
    let mut parsed = Args {
        runs: DEFAULT_RUNS,
        notes: DEFAULT_NOTES,
        opts: Options::default(),
        direct_first: false,
    };
    let mut args = std::env::args().skip(1);
    let number = |v: Option<String>, flag: &str| -> usize {
        v.and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{flag} needs a number"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => parsed.runs = number(args.next(), "--runs"),
            "--notes" => parsed.notes = number(args.next(), "--notes"),
            "--fully-random" => parsed.opts.fully_random = true,
            "--direct-first" => parsed.direct_first = true,
            // `cargo bench` passes it to every bench.
            "--bench" => {}
            other => {
                panic!("unknown argument {other}; see the doc comment of tests/benches/nat.rs")
            }
        }
    }
    parsed
}

/// How `home` reaches `peer` now: `direct`, `relayed` or `not connected`.
fn via(home: &NetHome, peer: &str) -> String {
    peers_of(home)
        .unwrap_or_default()
        .into_iter()
        .find(|(p, _)| p == peer)
        .map_or_else(|| "not connected".to_owned(), |(_, v)| v)
}

/// Received and sent bytes of `IFACE` in the network namespace of process `pid`.
fn iface_bytes(pid: u32) -> (u64, u64) {
    let dev = std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/net/dev: {e}"));
    let line = dev
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(&format!("{IFACE}:")))
        .unwrap_or_else(|| panic!("no {IFACE} in /proc/{pid}/net/dev:\n{dev}"));
    let fields: Vec<u64> = line
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    (fields[0], fields[8])
}

/// Interface counters at one moment: the relay host's and B's.
#[derive(Debug, Clone, Copy)]
struct Counters {
    relay_in: u64,
    relay_out: u64,
    b_in: u64,
}

impl Counters {
    fn read(relay_pid: u32, b_pid: u32) -> Counters {
        let (relay_in, relay_out) = iface_bytes(relay_pid);
        let (b_in, _) = iface_bytes(b_pid);
        Counters {
            relay_in,
            relay_out,
            b_in,
        }
    }

    fn since(self, before: Counters) -> Counters {
        Counters {
            relay_in: self.relay_in - before.relay_in,
            relay_out: self.relay_out - before.relay_out,
            b_in: self.b_in - before.b_in,
        }
    }
}

/// What polling B saw, timed from the poll's start.
#[derive(Debug, Default)]
struct Watched {
    /// When B first reached A directly.
    direct: Option<Duration>,
    /// When B first held the notes waited for.
    held: Option<Duration>,
    /// How B reached A then.
    via_when_held: String,
    /// The interface counters then.
    counters_when_held: Option<Counters>,
}

/// What one poll of B is after.
struct Watch<'a> {
    b: &'a NetHome,
    a_peer: &'a str,
    /// `status`'s note count that means the batch is all there.
    notes: u64,
    /// Whether to go on (up to `DIRECT_PATIENCE`) until B reaches A directly.
    until_direct: bool,
    relay_pid: u32,
    b_pid: u32,
    /// Set when the step polled for failed: the poll ends.
    stop: &'a AtomicBool,
}

/// Sets its flag when dropped (also while a panic unwinds).
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Watch<'_> {
    /// Polls B's `status` from `start` until it holds the notes (and, if asked, reaches A
    /// directly or gives up on it). Counts as failed, with what it saw, after `SYNC_LIMIT`.
    fn run(&self, start: Instant) -> Watched {
        let mut seen = Watched::default();
        loop {
            let status = self.b.try_json(&["status"]);
            let t = start.elapsed();
            if let Ok(status) = &status {
                let via = status["peers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["peer"] == self.a_peer)
                    .and_then(|p| p["via"].as_str())
                    .unwrap_or("not connected")
                    .to_owned();
                if seen.direct.is_none() && via == "direct" {
                    seen.direct = Some(t);
                }
                if seen.held.is_none() && status["notes"].as_u64().unwrap_or(0) >= self.notes {
                    seen.held = Some(t);
                    seen.via_when_held = via;
                    seen.counters_when_held = Some(Counters::read(self.relay_pid, self.b_pid));
                }
            }
            let direct_settled =
                !self.until_direct || seen.direct.is_some() || t >= DIRECT_PATIENCE;
            if seen.held.is_some() && direct_settled || self.stop.load(Ordering::Relaxed) {
                return seen;
            }
            assert!(
                t < SYNC_LIMIT,
                "B did not hold {} notes within {SYNC_LIMIT:?}; last status: {status:?}",
                self.notes
            );
            std::thread::sleep(POLL);
        }
    }
}

/// The second batch.
#[derive(Debug)]
struct Batch {
    /// Whether B reached A directly when the batch was written.
    direct: bool,
    /// `tacit import` on A.
    import: Duration,
    /// From the start of the import to B holding the batch.
    held: Duration,
    via_when_held: String,
    bytes: Counters,
}

#[derive(Debug)]
struct Run {
    /// From the start of the run to the ticket (topology, servers, reservations, space, notes).
    setup: Duration,
    /// `tacit import` of the space's notes on A, before the join.
    first_import: Duration,
    /// `tacit space join` on B, start to return.
    join: Duration,
    /// From the start of the join to the first sync done: the command returned and B holds
    /// the space's notes.
    first_sync: Duration,
    /// How B reached A then.
    via_when_done: String,
    /// From the start of the join to B reaching A directly.
    direct: Option<Duration>,
    first_bytes: Counters,
    batch: Batch,
    /// Hole punches that failed, sessions moved off the relay (A's and B's logs).
    punch_failed: usize,
    moved: usize,
}

/// Writes `drafts` as Markdown files `prefix-NNNNN.md` into a new folder.
fn write_folder(drafts: &[tacit_node::core::Draft], prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("tacit-natbench")
        .tempdir()
        .expect("temp dir");
    for (i, d) in drafts.iter().enumerate() {
        let path = dir.path().join(format!("{prefix}-{i:05}.md"));
        std::fs::write(&path, notes::as_markdown(d)).expect("write a note file");
    }
    dir
}

/// `tacit import DIR --space SPACE` on `home`; checks that `n` notes were created.
fn import(home: &NetHome, dir: &Path, space: &str, n: usize) {
    let dir = dir.to_string_lossy();
    let summary = home.json(&["import", &dir, "--space", space]);
    assert_eq!(summary["created"], n, "{summary}");
}

fn count_lines(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

fn message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic".to_owned())
}

fn tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One run on a topology of its own.
fn run_once(args: &Args, first: &Path, second: &Path) -> Result<Run, String> {
    let setup_start = Instant::now();
    let topo = Topology::build(args.opts)?;
    let (r, a, b) = (
        NetHome::init("Relay"),
        NetHome::init("Ada"),
        NetHome::init("Ben"),
    );
    let relay_srv = serve_relay(&topo, &r, RELAY_LOG);
    let relay_addr = format!("/ip4/{PUBLIC_IP}/tcp/4001/p2p/{}", relay_srv.peer_id());
    let use_relay = ["--use-relay".to_owned(), relay_addr];
    let a_srv = serve_member(&topo.a, &a, &use_relay, MEMBER_LOG);
    let b_srv = serve_member(&topo.b, &b, &use_relay, MEMBER_LOG);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_reserved(&a, "A");
        wait_reserved(&b, "B");
        let space = new_space(&a, "Across NATs");
        let first_notes = if args.direct_first { 0 } else { args.notes };
        let import_start = Instant::now();
        if first_notes > 0 {
            import(&a, first, &space, first_notes);
        }
        let first_import = import_start.elapsed();
        let ticket = invite(&a, &space, &[]);
        let b_notes = b.json(&["status"])["notes"].as_u64().unwrap_or(0);
        let (stop, stop2) = (AtomicBool::new(false), AtomicBool::new(false));
        let setup = setup_start.elapsed();

        // 1. The join: the first sync starts over the relay.
        let watch = Watch {
            b: &b,
            a_peer: a_srv.peer_id(),
            notes: b_notes + first_notes as u64,
            until_direct: true,
            relay_pid: relay_srv.pid(),
            b_pid: b_srv.pid(),
            stop: &stop,
        };
        let before = Counters::read(relay_srv.pid(), b_srv.pid());
        let start = Instant::now();
        let (join, seen) = std::thread::scope(|s| {
            let _stop = SetOnDrop(&stop);
            let poll = s.spawn(|| watch.run(start));
            let joined = b.json(&["space", "join", &ticket]);
            let join = start.elapsed();
            let after_join = Counters::read(relay_srv.pid(), b_srv.pid());
            let via_after_join = via(&b, a_srv.peer_id());
            assert_eq!(joined["id"], space.as_str(), "{joined}");
            (
                (join, after_join, via_after_join),
                poll.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
            )
        });
        let (join, after_join, via_after_join) = join;
        // The first sync is done once the command has returned and B holds the notes.
        let held = seen.held.unwrap_or_default();
        let (first_sync, first_bytes, via_when_done) = if held > join {
            let after = seen.counters_when_held.unwrap_or(after_join);
            (held, after.since(before), seen.via_when_held)
        } else {
            (join, after_join.since(before), via_after_join)
        };

        // 2. A second batch, once B reaches A directly (or the wait for it is over).
        let direct_now = via(&b, a_srv.peer_id()) == "direct";
        let watch = Watch {
            notes: b_notes + (first_notes + args.notes) as u64,
            until_direct: false,
            stop: &stop2,
            ..watch
        };
        let before = Counters::read(relay_srv.pid(), b_srv.pid());
        let start = Instant::now();
        let (import_time, seen2) = std::thread::scope(|s| {
            let _stop = SetOnDrop(&stop2);
            let poll = s.spawn(|| watch.run(start));
            import(&a, second, &space, args.notes);
            let import_time = start.elapsed();
            (
                import_time,
                poll.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
            )
        });
        let batch = Batch {
            direct: direct_now,
            import: import_time,
            held: seen2.held.unwrap_or_default(),
            via_when_held: seen2.via_when_held,
            bytes: seen2.counters_when_held.unwrap_or(before).since(before),
        };
        Ok::<_, String>(Run {
            setup,
            first_import,
            join,
            first_sync,
            via_when_done,
            direct: seen.direct,
            first_bytes,
            batch,
            punch_failed: 0,
            moved: 0,
        })
    }));
    let logs = format!("{}{}", a_srv.log(), b_srv.log());
    match outcome {
        Ok(Ok(run)) => Ok(Run {
            punch_failed: count_lines(&logs, "hole punch failed"),
            moved: count_lines(&logs, "moving the sync session off the relay"),
            ..run
        }),
        Ok(Err(e)) => Err(e),
        Err(panic) => {
            for (who, s) in [("A", &a_srv), ("B", &b_srv), ("relay", &relay_srv)] {
                eprintln!("----- last lines of {who}'s log\n{}", tail(&s.log(), 30));
            }
            Err(message(&*panic))
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Median, p90 and max of `values` (seconds), or a dash when there are none.
fn summary(mut values: Vec<f64>, unit: &str, scale: f64) -> String {
    if values.is_empty() {
        return "–".to_owned();
    }
    values.sort_by(f64::total_cmp);
    format!(
        "median {:8.3} {unit}  p90 {:8.3} {unit}  max {:8.3} {unit}  (n={})",
        percentile(&values, 0.5) * scale,
        percentile(&values, 0.9) * scale,
        values.last().copied().unwrap_or(f64::NAN) * scale,
        values.len()
    )
}

fn secs(values: impl Iterator<Item = Duration>) -> String {
    summary(values.map(|d| d.as_secs_f64()).collect(), "s", 1.0)
}

fn mb(values: impl Iterator<Item = u64>) -> String {
    summary(values.map(|b| b as f64).collect(), "MB", 1e-6)
}

fn pct(values: impl Iterator<Item = f64>) -> String {
    summary(values.collect(), "%", 100.0)
}

fn bytes_rows(bytes: &[Counters]) {
    println!(
        "    relay out:              {}",
        mb(bytes.iter().map(|b| b.relay_out))
    );
    println!(
        "    relay in:               {}",
        mb(bytes.iter().map(|b| b.relay_in))
    );
    println!(
        "    B in:                   {}",
        mb(bytes.iter().map(|b| b.b_in))
    );
    println!(
        "    relay out / B in:       {}",
        pct(bytes
            .iter()
            .map(|b| b.relay_out as f64 / b.b_in.max(1) as f64))
    );
}

fn batch_rows(title: &str, batches: &[&Batch]) {
    println!("{title}: {} runs", batches.len());
    if batches.is_empty() {
        return;
    }
    println!(
        "    import on A:            {}",
        secs(batches.iter().map(|b| b.import))
    );
    println!(
        "    import start → B holds: {}",
        secs(batches.iter().map(|b| b.held))
    );
    let direct_at_end = batches
        .iter()
        .filter(|b| b.via_when_held == "direct")
        .count();
    println!(
        "    direct when held:       {direct_at_end}/{}",
        batches.len()
    );
    let bytes: Vec<Counters> = batches.iter().map(|b| b.bytes).collect();
    bytes_rows(&bytes);
}

fn main() {
    let args = parse_args();
    if let Some(reason) = skip_reason() {
        println!("SKIPPED: the NAT benchmark needs network namespaces: {reason}");
        return;
    }
    // The servers are the `tacit` beside this executable (`tacit_tests::tacit_bin`).
    let bin = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.parent()?.join("tacit")));
    if !bin.as_ref().is_some_and(|b| b.exists()) {
        println!(
            "SKIPPED: {} is missing; build it first (`cargo build --release -p tacit-cli` for `cargo bench`)",
            bin.unwrap_or_default().display()
        );
        return;
    }
    let (drafts, source) = notes::drafts(2 * args.notes, 12);
    let first = write_folder(&drafts[..args.notes], "first");
    let second = write_folder(&drafts[args.notes..], "second");
    let text: usize = drafts[..args.notes]
        .iter()
        .map(|d| notes::as_markdown(d).len())
        .sum();
    println!(
        "{} runs, {} notes a batch ({:.1} MB of Markdown, words from {source}), NATs {}, {}",
        args.runs,
        args.notes,
        text as f64 / 1e6,
        if args.opts.fully_random {
            "masquerade fully-random"
        } else {
            "masquerade"
        },
        if args.direct_first {
            "B joins an empty space, the notes come after direct"
        } else {
            "B joins a space of the notes, then a batch after direct"
        }
    );
    println!("servers: {}", bin.unwrap_or_default().display());

    let mut runs = Vec::new();
    let mut failed = 0;
    for i in 1..=args.runs {
        let outcome = std::panic::catch_unwind(|| run_once(&args, first.path(), second.path()))
            .unwrap_or_else(|panic| Err(message(&*panic)));
        match outcome {
            Ok(run) => {
                println!(
                    "run {i:2}: setup {:5.1} s (import {:.1} s); join {:6.3} s, synced {:6.3} s ({}), direct {}; \
                     relay out {:.2} MB / B in {:.2} MB; batch ({}): import {:6.3} s, held {:6.3} s \
                     ({}), relay out {:.2} MB / B in {:.2} MB; punches failed {}, sessions moved {}",
                    run.setup.as_secs_f64(),
                    run.first_import.as_secs_f64(),
                    run.join.as_secs_f64(),
                    run.first_sync.as_secs_f64(),
                    run.via_when_done,
                    run.direct
                        .map_or("never".to_owned(), |d| format!("{:.3} s", d.as_secs_f64())),
                    run.first_bytes.relay_out as f64 / 1e6,
                    run.first_bytes.b_in as f64 / 1e6,
                    if run.batch.direct {
                        "direct"
                    } else {
                        "relayed"
                    },
                    run.batch.import.as_secs_f64(),
                    run.batch.held.as_secs_f64(),
                    run.batch.via_when_held,
                    run.batch.bytes.relay_out as f64 / 1e6,
                    run.batch.bytes.b_in as f64 / 1e6,
                    run.punch_failed,
                    run.moved,
                );
                runs.push(run);
            }
            Err(e) => {
                failed += 1;
                println!("run {i:2}: failed: {e}");
            }
        }
    }

    let first_notes = if args.direct_first { 0 } else { args.notes };
    println!();
    println!(
        "first sync: `space join` on B of a space of {first_notes} notes, starting relayed: {} runs ({failed} failed)",
        runs.len()
    );
    println!(
        "    join → command returns: {}",
        secs(runs.iter().map(|r| r.join))
    );
    println!(
        "    join → first sync done: {}",
        secs(runs.iter().map(|r| r.first_sync))
    );
    println!(
        "    join → direct:          {}",
        secs(runs.iter().filter_map(|r| r.direct))
    );
    let upgraded = runs.iter().filter(|r| r.direct.is_some()).count();
    let direct_when_done = runs.iter().filter(|r| r.via_when_done == "direct").count();
    println!(
        "    upgraded to direct:     {upgraded}/{} within {DIRECT_PATIENCE:?} of the join ({direct_when_done} already when the first sync was done)",
        runs.len()
    );
    let bytes: Vec<Counters> = runs.iter().map(|r| r.first_bytes).collect();
    bytes_rows(&bytes);
    let direct: Vec<&Batch> = runs.iter().map(|r| &r.batch).filter(|b| b.direct).collect();
    let relayed: Vec<&Batch> = runs
        .iter()
        .map(|r| &r.batch)
        .filter(|b| !b.direct)
        .collect();
    batch_rows(
        &format!(
            "batch of {} notes written once B reaches A directly",
            args.notes
        ),
        &direct,
    );
    batch_rows(
        &format!("batch of {} notes written while still relayed", args.notes),
        &relayed,
    );
    let punch_failed: usize = runs.iter().map(|r| r.punch_failed).sum();
    let moved: usize = runs.iter().map(|r| r.moved).sum();
    println!(
        "logs of A and B: {punch_failed} hole punches failed, {moved} sync sessions moved off the relay (all runs)"
    );
}
