//! The import benchmark (not a test): prints figures beside a peer figure from the same run, and
//! asserts nothing.
//!
//! `cargo bench -p tacit-node --bench import` (optionally `-- --notes N`, default 10,000)
//!
//! N sample notes (1–4 KB of prose each, `common/notes.rs`) are imported into a fresh home's
//! personal space the way `tacit import` sends them: requests of 500 notes to a node. Beside
//! it, in the same run, the same documents are created on one thread (`Doc::new_note`, then
//! `save`): the import's goal is at most 0.65× that time, stored and listed. When the notes
//! are searchable is printed too.

#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use tacit_node::core::{DeviceKey, Doc, DocId, Draft, Edit, Kind};
use tacit_node::{ImportNote, Node, Request, Response};

#[path = "common/memory.rs"]
mod memory;
#[path = "common/notes.rs"]
mod notes;

/// The allocator the `tacit` binary and the desktop app use.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Notes per request, as `tacit import` sends them (`tacit_vault::IMPORT_BATCH`).
const BATCH: usize = 500;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = notes::arg(&args, "--notes", 10_000);
    let (drafts, source) = notes::drafts(n, 2026);
    let text: usize = drafts.iter().map(|d| d.title.len() + d.body.len()).sum();
    println!(
        "Tacit import benchmark: {n} notes, {:.1} MB of Markdown (words {source}), {} cores",
        text as f64 / 1e6,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let one_thread = create_on_one_thread(&drafts);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let every_core = create_on_threads(&drafts, cores);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (stored, searchable, peak) = rt.block_on(import(&drafts));
    println!(
        "  the same documents created on one thread (Doc::new_note, save): {:.2} s",
        one_thread.as_secs_f64()
    );
    println!(
        "  the same on {cores} threads, nothing else (this machine's ceiling for any import): {:.2} s = {:.2}×",
        every_core.as_secs_f64(),
        every_core.as_secs_f64() / one_thread.as_secs_f64()
    );
    println!(
        "  Tacit import: stored and listed at {:.2} s = {:.2}× it (goal ≤ 0.65×); {:.0} notes/s",
        stored.as_secs_f64(),
        stored.as_secs_f64() / one_thread.as_secs_f64(),
        n as f64 / stored.as_secs_f64()
    );
    match searchable {
        Some(s) => println!(
            "                searchable at {:.2} s = {:.2}×",
            s.as_secs_f64(),
            s.as_secs_f64() / one_thread.as_secs_f64()
        ),
        None => println!("                not searchable within 300 s"),
    }
    if let Some(kb) = peak {
        println!(
            "  peak resident memory of the process during the import: {:.0} MB",
            kb as f64 / 1e3
        );
    }
}

fn create_on_one_thread(drafts: &[Draft]) -> Duration {
    let key = DeviceKey::generate();
    let t = Instant::now();
    let mut bytes = 0usize;
    for d in drafts {
        let edit = Edit::new(key.member_id(), 1_700_000_000_000);
        let mut doc = Doc::new_note(DocId::random(), edit, d.clone()).unwrap();
        bytes += doc.save().len();
    }
    let took = t.elapsed();
    std::hint::black_box(bytes);
    took
}

fn create_on_threads(drafts: &[Draft], threads: usize) -> Duration {
    let key = DeviceKey::generate();
    let per = drafts.len().div_ceil(threads.max(1)).max(1);
    let t = Instant::now();
    std::thread::scope(|s| {
        for part in drafts.chunks(per) {
            let key = &key;
            s.spawn(move || {
                let mut bytes = 0usize;
                for d in part {
                    let edit = Edit::new(key.member_id(), 1_700_000_000_000);
                    let mut doc = Doc::new_note(DocId::random(), edit, d.clone()).unwrap();
                    bytes += doc.save().len();
                }
                std::hint::black_box(bytes);
            });
        }
    });
    t.elapsed()
}

async fn import(drafts: &[Draft]) -> (Duration, Option<Duration>, Option<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let (node, _) = Node::init(dir.path(), Default::default()).await.unwrap();
    let requests: Vec<Vec<ImportNote>> = drafts
        .chunks(BATCH)
        .enumerate()
        .map(|(b, chunk)| {
            chunk
                .iter()
                .enumerate()
                .map(|(i, d)| ImportNote {
                    key: format!("folder {}/note {}.md", b, i),
                    id: None,
                    kind: Kind::Note,
                    draft: d.clone(),
                    created_at: Some(1_700_000_000_000),
                })
                .collect()
        })
        .collect();
    let n = drafts.len();
    memory::reset_peak();
    let t = Instant::now();
    for notes in requests {
        match node
            .execute(Request::Import { space: None, notes })
            .await
            .unwrap()
        {
            Response::Imported(_) => {}
            other => panic!("{other:?}"),
        }
    }
    let listed = match node
        .execute(Request::NoteList {
            limit: None,
            space: None,
        })
        .await
        .unwrap()
    {
        Response::List { items } => items.len(),
        other => panic!("{other:?}"),
    };
    let stored = t.elapsed();
    assert_eq!(listed, n, "every note listed");
    let mut searchable = None;
    while t.elapsed() < Duration::from_secs(300) {
        if let Response::Status(s) = node.execute(Request::Status).await.unwrap()
            && s.search.docs >= n as u64
            && s.search.pending == 0
        {
            searchable = Some(t.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let peak = memory::proc_status_kb("VmHWM");
    node.shutdown().await;
    (stored, searchable, peak)
}
