//! The search benchmark (not a test): prints figures beside ripgrep's from the same run, and
//! asserts nothing.
//!
//! `cargo bench -p tacit-tests --bench search` (optionally `-- --notes N`)
//!
//! One home in a temporary folder, through the `Node` handle:
//!
//! 1. N notes of 1–4 KB of real words (`/usr/share/dict/words`, Debian's `wamerican`) written
//!    with `Request::Import` in batches of 500;
//! 2. index build: incremental (from the first write until the index holds every note with
//!    nothing pending) and full (the node stopped, `<home>/index` deleted, the home opened again,
//!    until the rebuild is done); the index's and the database's size on disk;
//! 3. query latency through the node: 100 queries made from the vocabulary and the notes (single
//!    words rare to common, two words, prefixes as typed, one-typo words, phrases, `tag:x word`);
//! 4. the same queries as `rg -i -F -l` over the home exported to Markdown (the peer figure);
//! 5. edit to searchable: a fresh word added to a note's body, then searched every millisecond
//!    until the note is the first hit.

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../../crates/tacit-node/benches/common/notes.rs"]
mod notes;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tacit_node::core::{DocId, Draft, Kind, NoteEdit, ProfileEdit};
use tacit_node::{ImportNote, Node, Request, Response, SearchState};

const DEFAULT_NOTES: usize = 10_000;
/// Notes per `Request::Import`, as `tacit import` sends them.
const IMPORT_BATCH: usize = 500;
/// Hits asked for per search, as the app's search box asks.
const LIMIT: u32 = 20;
/// Queries run (and not timed) before the timed ones.
const WARM_UP: usize = 10;
/// Edits in the edit-to-searchable part.
const EDITS: usize = 100;
/// How long the benchmark waits for the index to catch up before it reports that and goes on.
const GIVE_UP_INDEX: Duration = Duration::from_secs(600);
/// How long it searches for an edit's word before it reports that and goes on.
const GIVE_UP_EDIT: Duration = Duration::from_secs(60);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = notes::arg(&args, "--notes", DEFAULT_NOTES);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n));
}

/// What the summary table shows.
#[derive(Default)]
struct Summary {
    rows: Vec<(String, String, String)>,
}

impl Summary {
    fn row(&mut self, what: &str, figure: String, goal: &str) {
        self.rows.push((what.to_owned(), figure, goal.to_owned()));
    }
}

async fn run(n: usize) {
    let load_before = loadavg();
    let cpu_before = cpu_ticks();
    println!(
        "Tacit search benchmark (one node, Request::Search; ripgrep over the same notes exported)"
    );
    println!("  machine: {} cores, {}", cores(), cpu_model());
    println!("  load average before: {load_before}");

    let (words, source) = notes::vocabulary();
    let (drafts, _) = notes::drafts(n, 0x5ea2c4);
    let markdown: usize = drafts.iter().map(|d| notes::as_markdown(d).len()).sum();
    println!(
        "  {n} notes, {:.1} MB of Markdown ({:.1} KB on average), words {source} ({} words)",
        markdown as f64 / 1e6,
        markdown as f64 / n as f64 / 1024.0,
        words.len()
    );
    let mut summary = Summary::default();

    // 1 and 2a: write the notes, time the index catching up.
    let home_dir = tempfile::tempdir().unwrap();
    let home = home_dir.path();
    let profile = ProfileEdit {
        name: Some("Bench".into()),
        ..ProfileEdit::default()
    };
    let (node, _) = Node::init(home, profile).await.unwrap();
    let t = Instant::now();
    let mut ids: Vec<DocId> = Vec::with_capacity(n);
    for (b, chunk) in drafts.chunks(IMPORT_BATCH).enumerate() {
        let notes = chunk
            .iter()
            .enumerate()
            .map(|(i, d)| ImportNote {
                key: format!("bench/{}.md", b * IMPORT_BATCH + i),
                id: None,
                kind: Kind::Note,
                draft: d.clone(),
                created_at: None,
            })
            .collect();
        match node
            .execute(Request::Import { space: None, notes })
            .await
            .unwrap()
        {
            Response::Imported(report) => ids.extend(report.ids),
            other => panic!("{other:?}"),
        }
    }
    let written = t.elapsed();
    wait_index(&node, n, false, Duration::from_millis(5)).await;
    let incremental = t.elapsed();
    let st = status(&node).await;
    println!("\n1. writing {n} notes with Request::Import, {IMPORT_BATCH} a batch");
    println!(
        "   written in {:.2} s ({:.0} notes/s)",
        written.as_secs_f64(),
        n as f64 / written.as_secs_f64()
    );
    println!("\n2. index build");
    println!(
        "   incremental: first write → {} docs, 0 pending: {:.2} s ({:.2} s after the last write returned)",
        st.search.docs,
        incremental.as_secs_f64(),
        (incremental - written).as_secs_f64()
    );
    summary.row(
        "index, incremental (first write → all searchable)",
        format!("{:.2} s", incremental.as_secs_f64()),
        "",
    );

    // 2b: full rebuild.
    node.shutdown().await;
    let index_dir = home.join("index");
    let index_bytes_incremental = dir_bytes(&index_dir);
    std::fs::remove_dir_all(&index_dir).unwrap();
    let t = Instant::now();
    let node = Node::open(home).await.unwrap();
    let opened = t.elapsed();
    let (_, polls) = wait_index(&node, n, true, Duration::from_millis(5)).await;
    let rebuild = t.elapsed();
    let st = status(&node).await;
    println!(
        "   full rebuild: node stopped, {}/index deleted, Node::open → {} docs, 0 pending, not rebuilding: {:.2} s (open returned at {:.0} ms; {polls} status polls)",
        home.display(),
        st.search.docs,
        rebuild.as_secs_f64(),
        opened.as_secs_f64() * 1000.0
    );
    let index_bytes = dir_bytes(&index_dir);
    let db_file = std::fs::metadata(home.join("tacit.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "   on disk: index {:.1} MB after the rebuild ({:.1} MB after the incremental build); database {:.1} MB (status.db_bytes: tacit.db and its WAL; tacit.db alone {:.1} MB); the notes as Markdown {:.1} MB",
        index_bytes as f64 / 1e6,
        index_bytes_incremental as f64 / 1e6,
        st.db_bytes as f64 / 1e6,
        db_file as f64 / 1e6,
        markdown as f64 / 1e6
    );
    summary.row(
        "index, full rebuild (open → all searchable)",
        format!("{:.2} s", rebuild.as_secs_f64()),
        "",
    );
    summary.row(
        "index size / database size",
        format!(
            "{:.1} MB / {:.1} MB",
            index_bytes as f64 / 1e6,
            st.db_bytes as f64 / 1e6
        ),
        "",
    );

    // 3: query latency.
    let queries = make_queries(&drafts, &words);
    for q in queries.iter().take(WARM_UP) {
        search(&node, &q.query).await;
    }
    let mut tacit: Vec<(Duration, usize, u32)> = Vec::with_capacity(queries.len());
    for q in &queries {
        let t = Instant::now();
        let (items, total) = search(&node, &q.query).await;
        tacit.push((t.elapsed(), items.len(), total));
    }
    let mut times: Vec<Duration> = tacit.iter().map(|r| r.0).collect();
    times.sort();
    let (t50, t99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let avg_items = tacit.iter().map(|r| r.1).sum::<usize>() as f64 / tacit.len() as f64;
    let avg_total = tacit.iter().map(|r| r.2 as u64).sum::<u64>() as f64 / tacit.len() as f64;
    println!(
        "\n3. {} queries through the node (Request::Search, limit {LIMIT}; {WARM_UP} warm-up queries first)",
        queries.len()
    );
    println!(
        "   p50 {}  p99 {}  mean {}  max {}",
        ms(t50),
        ms(t99),
        ms(mean),
        ms(*times.last().unwrap())
    );
    println!(
        "   hits: {avg_items:.1} returned on average, {avg_total:.0} matching on average (total)"
    );
    println!("   by kind of query:            count    p50        max   avg hits  avg total");
    for kind in KINDS {
        let rows: Vec<&(Duration, usize, u32)> = queries
            .iter()
            .zip(&tacit)
            .filter(|(q, _)| q.kind == kind)
            .map(|(_, r)| r)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let mut t: Vec<Duration> = rows.iter().map(|r| r.0).collect();
        t.sort();
        println!(
            "     {:<26} {:>5} {:>10} {:>10} {:>9.1} {:>10.0}",
            kind,
            rows.len(),
            ms(percentile(&t, 0.5)),
            ms(*t.last().unwrap()),
            rows.iter().map(|r| r.1).sum::<usize>() as f64 / rows.len() as f64,
            rows.iter().map(|r| r.2 as u64).sum::<u64>() as f64 / rows.len() as f64,
        );
    }
    let mut slowest: Vec<(usize, Duration)> =
        tacit.iter().enumerate().map(|(i, r)| (i, r.0)).collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.1));
    println!("   slowest five:");
    for (i, d) in slowest.iter().take(5) {
        println!(
            "     {}  {:<14} {:?}  ({} matching)",
            ms(*d),
            queries[*i].kind,
            queries[*i].query,
            tacit[*i].2
        );
    }
    summary.row(
        "query through the node, p50 / p99",
        format!("{} / {}", ms(t50), ms(t99)),
        "",
    );

    // 4: ripgrep over the same notes exported.
    let export_dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let mut requester = node.clone();
    let exported = tacit_vault::export_dir(&mut requester, export_dir.path(), None, |_| {}).await;
    let export_time = t.elapsed();
    println!("\n4. ripgrep over the same notes exported to Markdown");
    match exported {
        Err(e) => println!("   the export failed ({e}); no ripgrep figures"),
        Ok(ex) => {
            println!(
                "   exported with tacit_vault::export_dir: {} notes, {} files, {:.1} MB, in {:.2} s",
                ex.notes,
                ex.files,
                dir_bytes(export_dir.path()) as f64 / 1e6,
                export_time.as_secs_f64()
            );
            match rg_times(&queries, export_dir.path()) {
                None => println!(
                    "   `rg` is not installed (apt-get install ripgrep): no ripgrep figures"
                ),
                Some((rg, found)) => {
                    let mut sorted = rg.clone();
                    sorted.sort();
                    let (r50, r99) = (percentile(&sorted, 0.5), percentile(&sorted, 0.99));
                    let rmean = sorted.iter().sum::<Duration>() / sorted.len() as u32;
                    println!(
                        "   `rg -i -F -l -- TEXT DIR` per query, one process each ({WARM_UP} warm-up runs first); TEXT is the word, the prefix, the misspelt word (rg finds nothing: it still scans), the phrase's two words with their space, and the first word of two-word and tag: queries"
                    );
                    println!(
                        "   rg: p50 {}  p99 {}  mean {}  max {}; {:.0} files listed on average",
                        ms(r50),
                        ms(r99),
                        ms(rmean),
                        ms(*sorted.last().unwrap()),
                        found.iter().sum::<usize>() as f64 / found.len() as f64
                    );
                    let p50_ratio = r50.as_secs_f64() / t50.as_secs_f64();
                    let p99_ratio = r99.as_secs_f64() / t99.as_secs_f64();
                    println!(
                        "   ratio rg / tacit: {p50_ratio:.1}× at p50, {p99_ratio:.1}× at p99 (goal: at least 40× at p50)"
                    );
                    summary.row(
                        "rg over the export, p50 / p99",
                        format!("{} / {}", ms(r50), ms(r99)),
                        "",
                    );
                    summary.row(
                        "ratio rg / tacit, p50 / p99",
                        format!("{p50_ratio:.1}× / {p99_ratio:.1}×"),
                        "≥ 40× at p50",
                    );
                }
            }
        }
    }

    // 5: edit to searchable.
    let (edits, polls) = edit_to_searchable(&node, &ids, &drafts, &words).await;
    let mut sorted = edits.clone();
    sorted.sort();
    println!(
        "\n5. edit → searchable ({EDITS} edits each adding a fresh word to a note's body; Request::Search every 1 ms until the note is the first hit)"
    );
    println!(
        "   p50 {}  p99 {}  max {}  (from the edit's reply to the first search that finds it; {:.2} searches per edit on average)",
        ms(percentile(&sorted, 0.5)),
        ms(percentile(&sorted, 0.99)),
        ms(*sorted.last().unwrap()),
        polls as f64 / EDITS as f64
    );
    println!("   goal: within a second");
    summary.row(
        "edit → searchable, p50 / p99 / max",
        format!(
            "{} / {} / {}",
            ms(percentile(&sorted, 0.5)),
            ms(percentile(&sorted, 0.99)),
            ms(*sorted.last().unwrap())
        ),
        "< 1 s",
    );
    node.shutdown().await;

    let load_after = loadavg();
    let cpu_after = cpu_ticks();
    println!("\nSummary ({n} notes)");
    println!("   {:<52} {:<36} goal", "", "");
    for (what, figure, goal) in &summary.rows {
        println!("   {what:<52} {figure:<36} {goal}");
    }
    println!("   machine: {} cores, {}", cores(), cpu_model());
    println!("   load average before: {load_before}");
    println!("   load average after:  {load_after} (the benchmark's own work counts in it)");
    if let (Some(b), Some(a)) = (cpu_before, cpu_after) {
        let total = a.total.saturating_sub(b.total).max(1) as f64;
        let busy = a.busy.saturating_sub(b.busy) as f64;
        let own = a.own.saturating_sub(b.own) as f64;
        println!(
            "   CPU during the run (/proc/stat): this benchmark and its rg processes {:.0}% of the machine, other processes {:.0}%",
            100.0 * own / total,
            100.0 * (busy - own).max(0.0) / total
        );
    }
}

/// CPU time in clock ticks: of the machine (all cores) and of this process with its waited-for
/// children.
struct CpuTicks {
    total: u64,
    busy: u64,
    own: u64,
}

fn cpu_ticks() -> Option<CpuTicks> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is within user)
    let total: u64 = cpu.iter().take(8).sum();
    let idle = cpu.get(3)? + cpu.get(4)?;
    let me = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields from the state letter (field 3 of the line) on: utime, stime, cutime and cstime
    // are fields 14–17.
    let fields: Vec<&str> = me.rsplit_once(')')?.1.split_whitespace().collect();
    let own = fields
        .get(11..15)?
        .iter()
        .map(|v| v.parse::<u64>().unwrap_or(0))
        .sum();
    Some(CpuTicks {
        total,
        busy: total - idle,
        own,
    })
}

/// Polls the node's status every `every` until its index holds `n` documents with nothing
/// pending (and, with `rebuild`, the rebuild is over). Returns when, and how many polls.
async fn wait_index(node: &Node, n: usize, rebuild: bool, every: Duration) -> (Duration, u32) {
    let t = Instant::now();
    let mut polls = 0;
    loop {
        polls += 1;
        let s: SearchState = status(node).await.search;
        if s.docs >= n as u64 && s.pending == 0 && !(rebuild && s.rebuilding) {
            return (t.elapsed(), polls);
        }
        if t.elapsed() > GIVE_UP_INDEX {
            println!(
                "   (gave up waiting for the index after {} s: {s:?}; the time below is that wait)",
                GIVE_UP_INDEX.as_secs()
            );
            return (t.elapsed(), polls);
        }
        tokio::time::sleep(every).await;
    }
}

async fn status(node: &Node) -> tacit_node::Status {
    match node.execute(Request::Status).await.unwrap() {
        Response::Status(s) => s,
        other => panic!("{other:?}"),
    }
}

async fn search(node: &Node, query: &str) -> (Vec<tacit_node::Hit>, u32) {
    let req = Request::Search {
        query: query.to_owned(),
        space: None,
        limit: Some(LIMIT),
    };
    match node.execute(req).await.unwrap() {
        Response::Hits { items, total } => (items, total),
        other => panic!("{other:?}"),
    }
}

const KINDS: [&str; 8] = [
    "word, rare",
    "word, medium",
    "word, common",
    "two words",
    "prefix",
    "one typo",
    "phrase",
    "tag: + word",
];

/// A query, and the text ripgrep looks for in its place.
struct Query {
    kind: &'static str,
    query: String,
    rg: String,
}

/// The words of a text as the index sees them, roughly: lowercase runs of letters.
fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// 100 queries from a fixed seed: 40 single words (rare, medium, common by the number of notes
/// holding them), 20 two words of one note, 15 prefixes of 3–6 characters as typed (no trailing
/// space), 15 words with two inner letters swapped, 5 phrases of two adjacent words of a note,
/// 5 `tag:x word`. Whole words end with a space: typed out, not a prefix.
fn make_queries(drafts: &[Draft], vocabulary: &[String]) -> Vec<Query> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x9e7);
    // Notes holding each word.
    let mut df: HashMap<&str, u32> = HashMap::new();
    let note_words: Vec<Vec<String>> = drafts
        .iter()
        .map(|d| words_of(&format!("{} {}", d.title, d.body)))
        .collect();
    for ws in &note_words {
        let mut seen: Vec<&str> = ws.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for w in seen {
            *df.entry(w).or_default() += 1;
        }
    }
    let n = drafts.len() as u32;
    let vocab: std::collections::HashSet<&str> = vocabulary.iter().map(String::as_str).collect();
    let mut by_df: Vec<(&str, u32)> = df
        .iter()
        .filter(|(w, _)| vocab.contains(*w))
        .map(|(w, c)| (*w, *c))
        .collect();
    by_df.sort_unstable_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(b.0)));
    let band = |lo: u32, hi: u32| -> Vec<&str> {
        by_df
            .iter()
            .filter(|(_, c)| *c >= lo && *c <= hi)
            .map(|(w, _)| *w)
            .collect()
    };
    // Rare: in at most 0.1% of the notes; medium: 1–5%; common: over 20%.
    let rare = band(1, (n / 1000).max(1));
    let medium = band((n / 100).max(2), (n / 20).max(3));
    let common = band((n / 5).max(4), n);
    let mut qs = Vec::new();
    let mut pick = |rng: &mut ChaCha8Rng, from: &[&str], kind: &'static str, count: usize| {
        for _ in 0..count {
            if from.is_empty() {
                break;
            }
            let w = from[rng.random_range(0..from.len())];
            qs.push(Query {
                kind,
                query: format!("{w} "),
                rg: w.to_owned(),
            });
        }
    };
    pick(&mut rng, &rare, "word, rare", 13);
    pick(&mut rng, &medium, "word, medium", 14);
    pick(&mut rng, &common, "word, common", 13);
    let any_note = |rng: &mut ChaCha8Rng| -> usize { rng.random_range(0..drafts.len()) };
    let body_word = |rng: &mut ChaCha8Rng, i: usize, min_len: usize| -> Option<String> {
        let ws: Vec<String> = words_of(&drafts[i].body)
            .into_iter()
            .filter(|w| w.len() >= min_len && vocab.contains(w.as_str()))
            .collect();
        (!ws.is_empty()).then(|| ws[rng.random_range(0..ws.len())].clone())
    };
    for _ in 0..20 {
        let i = any_note(&mut rng);
        let (Some(a), Some(b)) = (body_word(&mut rng, i, 2), body_word(&mut rng, i, 2)) else {
            continue;
        };
        qs.push(Query {
            kind: "two words",
            query: format!("{a} {b} "),
            rg: a,
        });
    }
    for _ in 0..15 {
        let i = any_note(&mut rng);
        let Some(w) = body_word(&mut rng, i, 7) else {
            continue;
        };
        let len = rng.random_range(3..=6);
        let prefix = w[..len].to_owned();
        qs.push(Query {
            kind: "prefix",
            query: prefix.clone(),
            rg: prefix,
        });
    }
    let mut typos = 0;
    while typos < 15 {
        let i = any_note(&mut rng);
        let Some(w) = body_word(&mut rng, i, 6) else {
            continue;
        };
        let b = w.as_bytes();
        let at = rng.random_range(1..b.len() - 2);
        if b[at] == b[at + 1] {
            continue;
        }
        let mut t = b.to_vec();
        t.swap(at, at + 1);
        let t = String::from_utf8(t).unwrap();
        if vocab.contains(t.as_str()) {
            continue;
        }
        qs.push(Query {
            kind: "one typo",
            query: format!("{t} "),
            rg: t,
        });
        typos += 1;
    }
    let mut phrases = 0;
    while phrases < 5 {
        let i = any_note(&mut rng);
        // Two adjacent words of one sentence, as written.
        let tokens: Vec<&str> = drafts[i].body.split(' ').collect();
        let at = rng.random_range(0..tokens.len() - 1);
        let (a, b) = (tokens[at], tokens[at + 1]);
        let plain = |w: &str| w.len() > 1 && w.chars().all(|c| c.is_ascii_alphabetic());
        if !plain(a) || !plain(b) {
            continue;
        }
        qs.push(Query {
            kind: "phrase",
            query: format!("\"{a} {b}\""),
            rg: format!("{a} {b}"),
        });
        phrases += 1;
    }
    for _ in 0..5 {
        let i = any_note(&mut rng);
        let Some(w) = body_word(&mut rng, i, 4) else {
            continue;
        };
        let tag = &drafts[i].tags[0];
        qs.push(Query {
            kind: "tag: + word",
            query: format!("tag:{tag} {w} "),
            rg: w,
        });
    }
    qs
}

/// Each query's text through `rg -i -F -l` over `dir`, one process each, after a warm-up:
/// the wall time and the number of files listed. `None` when `rg` is not installed.
fn rg_times(queries: &[Query], dir: &Path) -> Option<(Vec<Duration>, Vec<usize>)> {
    let run = |text: &str| -> Option<(Duration, usize)> {
        let t = Instant::now();
        let out = Command::new("rg")
            .args(["-i", "-F", "-l", "--", text])
            .arg(dir)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let took = t.elapsed();
        Some((
            took,
            out.stdout
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
        ))
    };
    for q in queries.iter().take(WARM_UP) {
        run(&q.rg)?;
    }
    let mut times = Vec::with_capacity(queries.len());
    let mut found = Vec::with_capacity(queries.len());
    for q in queries {
        let (t, f) = run(&q.rg)?;
        times.push(t);
        found.push(f);
    }
    Some((times, found))
}

/// `EDITS` edits, each adding a fresh word to a note's body; the time from the edit's reply to
/// the first search with the note as its first hit. Returns the times and the searches run.
async fn edit_to_searchable(
    node: &Node,
    ids: &[DocId],
    drafts: &[Draft],
    vocabulary: &[String],
) -> (Vec<Duration>, u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(0xed17);
    let vocab: std::collections::HashSet<&str> = vocabulary.iter().map(String::as_str).collect();
    let mut times = Vec::with_capacity(EDITS);
    let mut polls = 0u64;
    for _ in 0..EDITS {
        let i = rng.random_range(0..ids.len());
        // Ten random letters: in no note, and far (in edits) from every other fresh word.
        let word = loop {
            let w: String = (0..10)
                .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
                .collect();
            if !vocab.contains(w.as_str()) {
                break w;
            }
        };
        let id = ids[i].to_string();
        let body = format!("{} {word}", drafts[i].body);
        let req = Request::NoteEdit {
            id: id.clone(),
            edit: NoteEdit {
                body: Some(body),
                ..NoteEdit::default()
            },
        };
        node.execute(req).await.unwrap();
        let t = Instant::now();
        loop {
            polls += 1;
            let (items, _) = search(node, &format!("{word} ")).await;
            if items.first().is_some_and(|h| h.id == ids[i]) {
                break;
            }
            if t.elapsed() > GIVE_UP_EDIT {
                println!(
                    "   (the edit of {id} was not the first hit for \"{word}\" after {} s; counted as that)",
                    GIVE_UP_EDIT.as_secs()
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(t.elapsed());
    }
    (times, polls)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

/// What `nproc` prints: the cores this process may run on.
fn cores() -> String {
    Command::new("nproc")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get().to_string())
                .unwrap_or_else(|_| "?".into())
        })
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
