//! Where a received document's time goes (a benchmark, not a test): each step the receiving
//! member does for a whole document in a first sync, timed over the same sample notes the sync
//! benchmark uses, on one thread, beside `Automerge::load` alone.
//!
//! `cargo bench -p tacit-node --bench receive` (optionally `-- --notes N`, default 2,000)

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "common/notes.rs"]
mod notes;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use tacit_node::core::{ChangeSig, DeviceKey, Doc, DocId, Edit, SpaceId};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = notes::arg(&args, "--notes", 2000);
    let (drafts, source) = notes::drafts(n, 7);
    let key = DeviceKey::generate();
    let space = SpaceId::random();
    let me = key.member_id();
    // As A holds them: one document per note, signed.
    let docs: Vec<(DocId, Vec<u8>, Vec<ChangeSig>)> = drafts
        .iter()
        .map(|d| {
            let id = DocId::random();
            let mut doc = Doc::new_note(id, Edit::new(me, 1_700_000_000_000), d.clone()).unwrap();
            let (data, changes) = doc.save_with_changes();
            let sigs = doc.sign_changes(&key, space, &changes);
            (id, data, sigs)
        })
        .collect();
    let bytes: usize = docs.iter().map(|(_, d, _)| d.len()).sum();
    println!(
        "Receiving {n} notes ({:.1} MB as stored, words {source}), one thread, per step:",
        bytes as f64 / 1e6
    );
    let mut steps: Vec<(&str, Duration)> = Vec::new();
    let mut time = |name: &'static str, f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        steps.push((name, t.elapsed()));
    };
    time("automerge::Automerge::load", &mut || {
        for (_, data, _) in &docs {
            std::hint::black_box(automerge::Automerge::load(data).unwrap());
        }
    });
    time("  the same, heads not checked", &mut || {
        use automerge::{LoadOptions, VerificationMode};
        for (_, data, _) in &docs {
            let opts = LoadOptions::new().verification_mode(VerificationMode::DontCheck);
            std::hint::black_box(automerge::Automerge::load_with_options(data, opts).unwrap());
        }
    });
    let plain: Vec<Vec<u8>> = docs
        .iter()
        .map(|(_, d, _)| automerge::Automerge::load(d).unwrap().save_nocompress())
        .collect();
    let as_changes: Vec<Vec<u8>> = docs
        .iter()
        .map(|(_, d, _)| automerge::Automerge::load(d).unwrap().save_after(&[]))
        .collect();
    time("  the same, saved uncompressed", &mut || {
        for data in &plain {
            std::hint::black_box(automerge::Automerge::load(data).unwrap());
        }
    });
    time("  the same, as change chunks", &mut || {
        for data in &as_changes {
            let mut d = automerge::Automerge::new();
            d.load_incremental(data).unwrap();
            std::hint::black_box(d);
        }
    });
    time("inflation check (chunks)", &mut || {
        for (_, data, _) in &docs {
            std::hint::black_box(
                tacit_node::core::chunks::check_inflation(data, u64::MAX).unwrap(),
            );
        }
    });
    let mut loaded: Vec<Doc> = Vec::with_capacity(n);
    time("Doc::load (check + load)", &mut || {
        for (id, data, _) in &docs {
            loaded.push(Doc::load(*id, [data.as_slice()], me).unwrap());
        }
    });
    time("summary", &mut || {
        for d in &loaded {
            std::hint::black_box(d.summary().unwrap());
        }
    });
    let mut changes = Vec::with_capacity(n);
    time("changes_since(&[])", &mut || {
        for d in loaded.iter_mut() {
            changes.push(d.changes_since(&[]));
        }
    });
    time("verify signatures", &mut || {
        for ((id, _, sigs), c) in docs.iter().zip(&changes) {
            let by: HashMap<[u8; 32], ChangeSig> = sigs.iter().map(|s| (s.hash, *s)).collect();
            let bad: BTreeSet<[u8; 32]> = tacit_node::core::unsigned(space, *id, c, &by);
            assert!(bad.is_empty());
        }
    });
    time("search entry (text)", &mut || {
        for d in loaded.iter_mut() {
            std::hint::black_box(tacit_search::Entry::from_doc(d, space, [0; 8]).unwrap());
        }
    });
    time("contributions", &mut || {
        for (d, c) in loaded.iter_mut().zip(&changes) {
            std::hint::black_box(d.contributions_with(c).unwrap());
        }
    });
    time("check_claims", &mut || {
        for d in loaded.iter_mut() {
            d.check_claims().unwrap();
        }
    });
    time("heads", &mut || {
        for d in loaded.iter_mut() {
            std::hint::black_box(d.heads());
        }
    });
    let load = steps[0].1;
    for (name, t) in &steps {
        println!(
            "  {name:<28} {:>9.1} ms  {:>7.1} µs/note  {:>5.2}× Automerge::load",
            t.as_secs_f64() * 1e3,
            t.as_secs_f64() * 1e6 / n as f64,
            t.as_secs_f64() / load.as_secs_f64()
        );
    }
}
