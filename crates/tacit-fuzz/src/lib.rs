//! Tacit's fuzz targets, as plain functions over bytes: cargo-fuzz runs them (`fuzz/`, a crate
//! outside the workspace that only calls them), and `cargo test` replays the committed seeds and
//! crashers through them (`tests/replay.rs`).
//!
//! Each target takes any bytes and must not panic: a panic is a bug found. Each feeds its bytes to
//! the same public functions the node calls on bytes from a peer, against state built once per
//! process from fixed keys ([`fixture`]), and asserts what must hold of their answers (a message
//! that decodes re-encodes to an equal one, replies within the wire limits, a forged op changes no
//! membership, …).
//!
//! ```text
//! frame     tacit_net::codec: read_frame / FrameReader over in-memory bytes, cancelled reads
//! wire      tacit_net::wire::Message::decode, encode → decode round trip
//! recon     tacit_net::recon::ItemSet::receive answering a peer's Recon parts; an honest run
//! ticket    tacit_core::Ticket::parse of text, and of checksummed payloads; print → parse
//! ops       SignedOp::from_bytes / sign, Membership::fold with a seeded space
//! doc_load  tacit_core::screen, Doc::load and what the node reads of a received document
//! sync_msg  tacit_core::screen_sync, Doc::receive_sync into a seeded note, the reply
//! session   tacit_net::session::Session fed any sequence of inputs and answers
//! blob_stream tacit_store::verify_stream of an attachment's stream from a holder
//! ```
//!
//! Automerge panics on some hostile input; the node calls it only through tacit-core's guards
//! (`catch_unwind` in `Doc::load`, `Doc::receive_sync`, `screen_sync`…), and so do these targets.
//! [`run`] tells a panic a guard caught (the node survives it) from one that reached the target's
//! caller (a bug): with [`PanicPolicy::Strict`] every panic counts, to find the guarded ones too.

use std::cell::{Cell, RefCell};
use std::panic::{self, PanicHookInfo};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

mod blob;
mod docs;
pub mod fixture;
mod net;
mod ops;
pub mod seeds;
mod session;
mod ticket;

pub use blob::blob_stream;
pub use docs::{doc_load, sync_msg};
pub use net::{frame, recon, wire};
pub use ops::ops;
pub use session::session;
pub use ticket::ticket;

/// A fuzz target: any bytes in, a panic when it finds a bug.
pub type Target = fn(&[u8]);

/// Every target by name, in the order of the crate documentation.
pub const TARGETS: &[(&str, Target)] = &[
    ("frame", frame),
    ("wire", wire),
    ("recon", recon),
    ("ticket", ticket),
    ("ops", ops),
    ("doc_load", doc_load),
    ("sync_msg", sync_msg),
    ("session", session),
    ("blob_stream", blob_stream),
];

/// The target named `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// What a panic inside a guard (a `catch_unwind` of tacit-core around Automerge) counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanicPolicy {
    /// As in the node: caught and survived. Only a panic that reaches [`run`] is a bug.
    Node,
    /// Every panic is a bug, guarded or not: finds what the guards hide.
    Strict,
}

thread_local! {
    /// Set while [`run`] runs a target on this thread.
    static IN_RUN: Cell<bool> = const { Cell::new(false) };
    /// The last panic's message and place on this thread, while in [`run`].
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Panics that a guard caught, since the process started.
static GUARDED: AtomicU64 = AtomicU64::new(0);
static HOOK: Once = Once::new();

/// Installs the panic hook [`run`] relies on (once per process; the first policy wins). Outside
/// [`run`] panics go to the previous hook, so test failures still print.
pub fn install_panic_hook(policy: PanicPolicy) {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            if !IN_RUN.with(Cell::get) {
                previous(info);
                return;
            }
            if policy == PanicPolicy::Strict {
                previous(info);
                std::process::abort();
            }
            let message = describe(info);
            GUARDED.fetch_add(1, Ordering::Relaxed);
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(message));
        }));
    });
}

fn describe(info: &PanicHookInfo<'_>) -> String {
    let payload = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    match info.location() {
        Some(at) => format!("{payload} (at {}:{})", at.file(), at.line()),
        None => payload,
    }
}

/// Panics caught by a guard so far in this process (the node survives those).
pub fn guarded_panics() -> u64 {
    GUARDED.load(Ordering::Relaxed)
}

/// Runs `target` on `data`: `Err` with the panic's message when the target panicked (a bug);
/// panics caught by a guard inside are counted in [`guarded_panics`] and are not an error.
/// Call [`install_panic_hook`] first, or messages are printed by the default hook and the error
/// says only that it panicked.
pub fn run(target: Target, data: &[u8]) -> Result<(), String> {
    IN_RUN.with(|r| r.set(true));
    LAST_PANIC.with(|p| p.borrow_mut().take());
    let outcome = panic::catch_unwind(|| target(data));
    IN_RUN.with(|r| r.set(false));
    match outcome {
        Ok(()) => Ok(()),
        Err(_) => {
            // The panic that escaped was counted as guarded by the hook: it was not.
            let message = LAST_PANIC.with(|p| p.borrow_mut().take());
            if message.is_some() {
                GUARDED.fetch_sub(1, Ordering::Relaxed);
            }
            Err(message.unwrap_or_else(|| "panicked".to_owned()))
        }
    }
}

/// Splits `data` into records of `[tag: u8][len: u16 le][len bytes]` (the last one cut short if
/// the bytes end), at most `max` of them.
pub(crate) fn records(mut data: &[u8], max: usize) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while out.len() < max {
        let Some((&tag, rest)) = data.split_first() else {
            break;
        };
        let (len, rest) = match rest {
            [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
            _ => (rest.len(), rest),
        };
        let len = len.min(rest.len());
        out.push((tag, &rest[..len]));
        data = &rest[len..];
    }
    out
}

/// Encodes records for [`records`].
pub(crate) fn encode_records<'a>(records: impl IntoIterator<Item = (u8, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, bytes) in records {
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        out.push(tag);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&bytes[..usize::from(len)]);
    }
    out
}

/// The policy the environment asks for: [`PanicPolicy::Strict`] when `TACIT_FUZZ_STRICT=1`.
pub fn policy_from_env() -> PanicPolicy {
    match std::env::var("TACIT_FUZZ_STRICT").as_deref() {
        Ok("1") => PanicPolicy::Strict,
        _ => PanicPolicy::Node,
    }
}

/// The body of a libFuzzer target: runs `target` and aborts with the panic's message when it
/// found a bug (libFuzzer then saves the input as a crash).
pub fn fuzz_one(target: Target, data: &[u8]) {
    install_panic_hook(policy_from_env());
    if let Err(message) = run(target, data) {
        eprintln!("tacit-fuzz: the target panicked: {message}");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panics(_: &[u8]) {
        panic!("a bug");
    }

    fn guarded(_: &[u8]) {
        let _ = panic::catch_unwind(|| panic!("caught inside, as tacit-core's guards do"));
    }

    #[test]
    fn run_tells_a_panic_that_escapes_from_one_a_guard_caught() {
        install_panic_hook(PanicPolicy::Node);
        let before = guarded_panics();
        assert_eq!(run(guarded, b""), Ok(()));
        assert!(guarded_panics() > before);
        let err = run(panics, b"").expect_err("the panic escaped");
        assert!(err.starts_with("a bug (at "), "{err}");
    }

    #[test]
    fn records_split_and_join_back() {
        let parts: [(u8, &[u8]); 3] = [(0, b"abc"), (7, b""), (1, &[9; 300])];
        let bytes = encode_records(parts);
        assert_eq!(records(&bytes, 16), parts.to_vec());
        assert_eq!(records(&bytes, 2), parts[..2].to_vec());
        assert_eq!(records(&[5], 4), vec![(5, &[][..])]);
        assert_eq!(records(&[5, 9], 4), vec![(5, &[9][..])]);
    }
}
