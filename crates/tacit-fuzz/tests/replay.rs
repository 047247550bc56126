//! Replays the committed fuzz inputs through their targets: every seed (`fuzz/seeds/<target>/`)
//! and every crasher ever found (`fuzz/crashers/<target>/`), then a few thousand mutations of the
//! seeds from a seeded generator. This is how CI (`cargo test --workspace`) runs the fuzz targets.
//!
//! `TACIT_BLESS=1` writes the seed corpus again from the fixture (`tacit_fuzz::seeds`).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use tacit_fuzz::{PanicPolicy, TARGETS, Target};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, sorted, with their names.
fn inputs(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    out.sort();
    out
}

/// With `TACIT_BLESS=1`, writes the seed corpus once, before any test reads it.
fn bless() {
    static BLESS: Once = Once::new();
    BLESS.call_once(|| {
        if std::env::var_os("TACIT_BLESS").is_some() {
            write_seeds();
        }
    });
}

fn replay(kind: &str) -> (usize, Vec<String>) {
    bless();
    tacit_fuzz::install_panic_hook(PanicPolicy::Node);
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, target) in TARGETS {
        for (file, bytes) in inputs(kind, name) {
            count += 1;
            if let Err(e) = tacit_fuzz::run(*target, &bytes) {
                failures.push(format!("fuzz/{kind}/{name}/{file}: {e}"));
            }
        }
    }
    (count, failures)
}

#[test]
fn every_crasher_found_so_far_is_fixed() {
    let (count, failures) = replay("crashers");
    assert!(
        failures.is_empty(),
        "{} of {count} crashers fail again:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_seed_runs_clean() {
    let (count, failures) = replay("seeds");
    assert!(
        count >= TARGETS.len(),
        "only {count} seeds under fuzz/seeds: write them with TACIT_BLESS=1"
    );
    assert!(
        failures.is_empty(),
        "{} of {count} seeds fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for (name, _) in TARGETS {
        assert!(
            !inputs("seeds", name).is_empty(),
            "no seeds for {name}: write them with TACIT_BLESS=1"
        );
    }
}

fn write_seeds() {
    let seeds = tacit_fuzz::seeds::all();
    for (name, _) in TARGETS {
        let dir = fuzz_dir().join("seeds").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
    }
    for s in seeds {
        std::fs::write(
            fuzz_dir().join("seeds").join(s.target).join(&s.name),
            &s.bytes,
        )
        .unwrap();
    }
}

/// xorshift64*: the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn new(name: &str) -> Self {
        // FNV-1a of the target's name.
        let mut seed = 0xcbf2_9ce4_8422_2325_u64;
        for b in name.bytes() {
            seed = (seed ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// One mutation of `input`, as a fuzzer's simplest ones: flip bits, set bytes to edge values,
/// insert, delete, duplicate a range, or splice in a part of another seed.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    const EDGES: [u8; 6] = [0, 1, 0x7f, 0x80, 0xfe, 0xff];
    match rng.below(7) {
        0 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] ^= 1 << rng.below(8);
        }
        1 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] = EDGES[rng.below(EDGES.len())];
        }
        2 => {
            let i = rng.below(input.len() + 1);
            input.insert(i, rng.next() as u8);
        }
        3 if !input.is_empty() => {
            let i = rng.below(input.len());
            let n = 1 + rng.below(8.min(input.len() - i));
            input.drain(i..i + n);
        }
        4 if !input.is_empty() => {
            let i = rng.below(input.len());
            let n = 1 + rng.below(16.min(input.len() - i));
            let copy = input[i..i + n].to_vec();
            let at = rng.below(input.len() + 1);
            input.splice(at..at, copy);
        }
        5 if !other.is_empty() => {
            let i = rng.below(other.len());
            let n = 1 + rng.below(64.min(other.len() - i));
            let at = rng.below(input.len() + 1);
            let end = (at + n).min(input.len());
            input.splice(at..end, other[i..i + n].iter().copied());
        }
        _ => input.truncate(rng.below(input.len() + 1)),
    }
}

/// Mutants of each target's seeds, up to `count` within a time budget per target.
fn mutants(name: &str, target: Target, count: usize, budget: Duration) -> (usize, Vec<String>) {
    bless();
    tacit_fuzz::install_panic_hook(PanicPolicy::Node);
    let seeds = inputs("seeds", name);
    assert!(!seeds.is_empty(), "no seeds for {name}");
    let mut rng = Rng::new(name);
    let start = Instant::now();
    let mut failures = Vec::new();
    let mut ran = 0;
    while ran < count && start.elapsed() < budget {
        let (_, base) = &seeds[rng.below(seeds.len())];
        let (_, other) = &seeds[rng.below(seeds.len())];
        let mut input = base.clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut input, other);
        }
        ran += 1;
        if let Err(e) = tacit_fuzz::run(target, &input) {
            failures.push(format!("{name} on {input:02x?}: {e}"));
            if failures.len() >= 5 {
                break;
            }
        }
    }
    (ran, failures)
}

fn check_mutants(name: &str, count: usize) {
    let target = tacit_fuzz::target(name).unwrap();
    let (ran, failures) = mutants(name, target, count, Duration::from_secs(3));
    assert!(
        failures.is_empty(),
        "{} of {ran} mutants fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The budget bounds the time; this only checks that the loop ran (a loaded machine runs
    // the document and reconciliation targets at a few dozen inputs a second in debug).
    assert!(ran >= 20, "only {ran} mutants ran in time");
}

#[test]
fn mutants_of_the_frame_seeds_run_clean() {
    check_mutants("frame", 3000);
}

#[test]
fn mutants_of_the_wire_seeds_run_clean() {
    check_mutants("wire", 3000);
}

#[test]
fn mutants_of_the_recon_seeds_run_clean() {
    check_mutants("recon", 2000);
}

#[test]
fn mutants_of_the_ticket_seeds_run_clean() {
    check_mutants("ticket", 3000);
}

#[test]
fn mutants_of_the_ops_seeds_run_clean() {
    check_mutants("ops", 2000);
}

#[test]
fn mutants_of_the_doc_load_seeds_run_clean() {
    check_mutants("doc_load", 2000);
}

#[test]
fn mutants_of_the_sync_msg_seeds_run_clean() {
    check_mutants("sync_msg", 2000);
}

#[test]
fn mutants_of_the_blob_stream_seeds_run_clean() {
    check_mutants("blob_stream", 3000);
}

/// The first crash fuzzing found (`fuzz/crashers/doc_load/crash-21ee…`): a change whose op ids
/// have a counter past `u32::MAX` made Automerge panic inside `tacit_core::screen`, outside any
/// guard, and `screen` runs on every change a peer pushes or syncs.
#[test]
fn a_change_with_an_op_counter_past_u32_is_malformed_not_a_panic() {
    let crasher =
        fuzz_dir().join("crashers/doc_load/crash-21eeeabf84473468b8538fdd468b73c5f2193c0a");
    let input = std::fs::read(crasher).unwrap();
    let bytes = &input[1..];
    let space = tacit_core::SpaceId::from_bytes([1; 16]);
    let id = tacit_core::DocId::from_bytes([0x11; 16]);
    let verdict = tacit_core::screen(&[space], id, [bytes], &[]);
    assert_eq!(verdict, tacit_core::Screened::Malformed);
}

/// `fuzz/crashers/doc_load/oom-6115…`: 25 bytes of Automerge bundle chunk made Automerge's
/// bundle parser expand a run-length column into gigabytes (a process abort, which no
/// `catch_unwind` catches) in `Doc::load`; a sync message or a pushed change could carry one too.
#[test]
fn a_bundle_chunk_is_refused_before_automerge_expands_it() {
    let crasher = fuzz_dir().join("crashers/doc_load/oom-6115e88fc66c41b0face9205fafe0a8b8b8538a1");
    let input = std::fs::read(crasher).unwrap();
    let bytes = &input[1..];
    let id = tacit_core::DocId::from_bytes([0x33; 16]);
    let me = tacit_core::MemberId::from_bytes([1; 32]);
    let err = tacit_core::Doc::load(id, [bytes], me).expect_err("a bundle is refused");
    assert!(err.to_string().contains("bundle"), "{err}");
    let space = tacit_core::SpaceId::from_bytes([1; 16]);
    let verdict = tacit_core::screen(&[space], id, [bytes], &[]);
    assert_eq!(verdict, tacit_core::Screened::Malformed);
}
