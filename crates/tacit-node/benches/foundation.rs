//! The foundation benchmark (not a test): prints figures, asserts nothing.
//!
//! `cargo bench -p tacit-node --bench foundation` (optionally `-- --notes N`)
//!
//! 1. notes created per second through the `Node` handle, one at a time and with many in flight
//!    (group commit);
//! 2. time and peak memory to open a home holding those notes and list them, measured in a fresh
//!    child process (this binary, re-run with `--open-and-list HOME`);
//! 3. bytes on disk per byte of the same notes as plain Markdown files, beside Automerge's own
//!    `save()` of the same documents (the peer figure).
//!
//! Note bodies are 1–4 KB of words drawn with a Zipf distribution from `/usr/share/dict/words`
//! (Debian's `wamerican`) when present, else from generated syllable words.

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "common/notes.rs"]
mod notes;

use std::path::Path;
use std::time::Instant;

use notes::{as_markdown, draft, vocabulary};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tacit_node::Node;
use tacit_node::core::{Draft, NoteEdit, ProfileEdit};

const DEFAULT_NOTES: usize = 10_000;
/// Notes in flight at once in the concurrent phase.
const IN_FLIGHT: usize = 64;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--open-and-list") {
        open_and_list(Path::new(&args[i + 1]));
        return;
    }
    let notes = args
        .iter()
        .position(|a| a == "--notes")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_NOTES);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(notes));
}

async fn run(total: usize) {
    let (words, source) = vocabulary();
    let mut rng = ChaCha8Rng::seed_from_u64(0x7ac17);
    let drafts: Vec<Draft> = (0..total).map(|i| draft(&mut rng, &words, i)).collect();
    let markdown: usize = drafts.iter().map(|d| as_markdown(d).len()).sum();
    println!("Tacit foundation benchmark");
    println!(
        "  {total} notes, {:.1} KB of Markdown on average ({} words)",
        markdown as f64 / total as f64 / 1024.0,
        source
    );

    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (node, _) = Node::init(
        &home,
        ProfileEdit {
            name: Some("Bench".into()),
            ..ProfileEdit::default()
        },
    )
    .await
    .unwrap();

    // 1a. one at a time: each create waits for its own fsync
    let serial = total.min(1000);
    let t = Instant::now();
    for d in &drafts[..serial] {
        node.note_new(d.clone()).await.unwrap();
    }
    let serial_rate = serial as f64 / t.elapsed().as_secs_f64();
    // 1b. many in flight: group commit shares one fsync per batch
    let t = Instant::now();
    let mut rest = drafts[serial..].iter().cloned();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while tasks.len() < IN_FLIGHT {
            let Some(d) = rest.next() else { break };
            let node = node.clone();
            tasks.spawn(async move { node.note_new(d).await.unwrap() });
        }
        if tasks.join_next().await.is_none() {
            break;
        }
    }
    let concurrent = total - serial;
    let concurrent_rate = concurrent as f64 / t.elapsed().as_secs_f64();
    println!("\n1. notes created through the Node handle (each durable before its reply)");
    println!("  one at a time:         {serial_rate:>8.0} notes/s ({serial} notes)");
    println!(
        "  {IN_FLIGHT} in flight:          {concurrent_rate:>8.0} notes/s ({concurrent} notes)"
    );
    node.shutdown().await;

    // 3 first, on the freshly written home, then 2 in a child process.
    let on_disk = disk_bytes(&home);
    let automerge_save = automerge_save_bytes(&drafts);
    println!("\n3. bytes on disk");
    println!("  plain Markdown files:  {markdown:>12} bytes (1.00×)");
    println!(
        "  Tacit home (SQLite):   {on_disk:>12} bytes ({:.2}× the Markdown, {:.0} bytes/note)",
        on_disk as f64 / markdown as f64,
        on_disk as f64 / total as f64
    );
    println!(
        "  Automerge save() sum:  {automerge_save:>12} bytes ({:.2}×, the peer figure)",
        automerge_save as f64 / markdown as f64
    );

    // Edits append increments; compaction folds them back. Measure after a round of edits.
    let node = Node::open(&home).await.unwrap();
    let ids: Vec<_> = node
        .note_list()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    let edited = ids.len().min(1000);
    for (n, id) in ids.iter().take(edited).enumerate() {
        let mut note = node.note_show(&id.to_string()).await.unwrap();
        for k in 0..5 {
            note.body
                .insert_str(note.body.len() / 2, &format!(" edit{n}.{k} "));
            let edit = NoteEdit {
                body: Some(note.body.clone()),
                ..NoteEdit::default()
            };
            node.note_edit(&id.to_string(), edit).await.unwrap();
        }
    }
    node.shutdown().await;
    let after_edits = disk_bytes(&home);
    println!(
        "  after 5 edits to each of {edited} notes: {after_edits} bytes ({:.2}× the Markdown)",
        after_edits as f64 / markdown as f64
    );

    println!("\n2. open the home and list {total} notes (fresh process, release build)");
    let exe = std::env::current_exe().unwrap();
    let mut best = f64::MAX;
    for run in 1..=3 {
        let out = std::process::Command::new(&exe)
            .arg("--open-and-list")
            .arg(&home)
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout);
        println!("  run {run}: {}", line.trim());
        if let Some(ms) = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse::<f64>().ok())
        {
            best = best.min(ms);
        }
    }
    println!("  goal: under 300 ms and 150 MB peak; best {best:.1} ms");
}

/// The child: open, list, report time and peak resident memory.
fn open_and_list(home: &Path) {
    let t = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listed = rt.block_on(async {
        let node = Node::open(home).await.unwrap();
        let items = node.note_list().await.unwrap();
        let n = items.len();
        node.shutdown().await;
        n
    });
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    println!(
        "open+list {ms:.1} ms, {listed} notes listed, peak memory {:.1} MB",
        peak as f64 / 1024.0
    );
}

fn disk_bytes(home: &Path) -> u64 {
    ["tacit.db", "tacit.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(home.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

fn automerge_save_bytes(drafts: &[Draft]) -> usize {
    notes::saved_docs(drafts).iter().map(Vec::len).sum()
}
