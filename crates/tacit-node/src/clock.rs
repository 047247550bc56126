//! The node's clock: the system's, plus an offset that tests move forward to see what happens a
//! day later (routing's next round, answers growing stale) without waiting a day. Nothing but
//! tests moves it; it applies to every node of the process. The deterministic simulation sets
//! the time of its own thread instead ([`set_thread_time`]), so that a run replays exactly.

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, Ordering};

static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

thread_local! {
    static THREAD_TIME: Cell<Option<i64>> = const { Cell::new(None) };
}

/// Moves this process's clock forward by `ms` milliseconds. For tests.
pub fn advance(ms: i64) {
    OFFSET_MS.fetch_add(ms, Ordering::Relaxed);
}

/// How far the clock was moved, ms.
pub(crate) fn offset() -> i64 {
    OFFSET_MS.load(Ordering::Relaxed)
}

/// The time set for this thread, ms since the epoch, if any.
pub(crate) fn thread_time() -> Option<i64> {
    THREAD_TIME.with(Cell::get)
}

/// Sets this thread's time (`None`: the system's again). For the simulation.
#[cfg_attr(not(any(test, feature = "sim")), allow(dead_code))]
pub(crate) fn set_thread_time(ms: Option<i64>) {
    THREAD_TIME.with(|t| t.set(ms));
}
