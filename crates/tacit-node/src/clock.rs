//! The node's clock: the system's, plus an offset that tests move forward to see what happens a
//! day later (routing's next round, answers growing stale) without waiting a day. Nothing but
//! tests moves it; it applies to every node of the process.

use std::sync::atomic::{AtomicI64, Ordering};

static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Moves this process's clock forward by `ms` milliseconds. For tests.
pub fn advance(ms: i64) {
    OFFSET_MS.fetch_add(ms, Ordering::Relaxed);
}

/// How far the clock was moved, ms.
pub(crate) fn offset() -> i64 {
    OFFSET_MS.load(Ordering::Relaxed)
}
