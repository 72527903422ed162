//! The loom back-end of the [`sync`](super) shim, selected by `--cfg tokengate_loom`.
//!
//! Sizes are shrunk so that edge cases (table collisions, batch limits, the
//! spin-then-park hand-over) are reachable within a few preemptions.

use std::task::Waker;
use std::time::Duration;

pub(crate) use super::loom_deque::{Injector, Steal, Stealer, Worker};
pub(crate) use loom::cell::UnsafeCell;
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
pub(crate) use loom::sync::Arc;
pub(crate) use loom::thread::{current, park, yield_now, Builder, JoinHandle, Thread};
pub(crate) use loom::thread_local;

use super::Tuning;

/// One search round before an idle worker parks: enough to reach both the "found it
/// while spinning" and the "went to sleep" branches, small enough to keep models fast.
///
/// No spin round before a wait registers its waker. A spin round yields, and after a
/// yield loom runs the other threads on, so in practice the waiter only registered
/// once the task had completed, and the register-then-park path was not explored
/// (a stack job's completion that never woke its joiner went unnoticed; see
/// `loom-tests/README.md`, M18). Skipping the spin loses nothing: it only re-checks
/// `is_done`, as the registration does.
pub(crate) const TUNING: Tuning = Tuning {
    idle_spin_rounds: 1,
    quiet_spin_rounds: 1,
    wait_spin_rounds: 0,
    anchor_slots: 2,
    medium_batch: 2,
};

/// Loom has no cache-line padding to model; the wrapper only keeps the type names.
#[derive(Debug, Default)]
pub(crate) struct CachePadded<T>(T);

impl<T> CachePadded<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(value)
    }
}

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Loom's waker slot behind the production names.
#[derive(Debug)]
pub(crate) struct AtomicWaker(loom::future::AtomicWaker);

impl AtomicWaker {
    pub(crate) fn new() -> Self {
        Self(loom::future::AtomicWaker::new())
    }
    pub(crate) fn register(&self, waker: &Waker) {
        self.0.register_by_ref(waker);
    }
    pub(crate) fn wake(&self) {
        self.0.wake();
    }
    pub(crate) fn take(&self) -> Option<Waker> {
        self.0.take_waker()
    }
}

/// Loom has no timed park; returning early is allowed by `park_timeout`'s contract.
pub(crate) fn park_timeout(_timeout: Duration) {
    loom::thread::yield_now();
}

/// Under loom a spin must yield, or the model never lets the other thread run.
pub(crate) fn spin_hint() {
    loom::thread::yield_now();
}

/// loom's `thread_local!` has no `const` form; the initialiser runs lazily instead.
macro_rules! const_thread_local {
    ($(#[$meta:meta])* static $name:ident: $t:ty = $init:expr;) => {
        loom::thread_local! { $(#[$meta])* static $name: $t = $init; }
    };
}
pub(crate) use const_thread_local;
