//! The production back-end of the [`sync`](super) shim: std, crossbeam and atomic-waker.

use std::task::Waker;

pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker};
pub(crate) use crossbeam_utils::CachePadded;
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
pub(crate) use std::sync::Arc;
pub(crate) use std::thread::{current, park, park_timeout, yield_now, Builder, JoinHandle, Thread};
pub(crate) use std::thread_local;

use super::Tuning;

/// Measured on the 2-core reference machine: 16 rounds of fine-grained spinning
/// (a few µs) and then 48 yields (about 45 µs) before a worker parks, which
/// covers a pingpong round trip with room to spare, while an idle pool still goes
/// quiet within a fraction of a millisecond. See `sleep::backoff`.
pub(crate) const TUNING: Tuning = Tuning {
    idle_spin_rounds: 64,
    quiet_spin_rounds: 16,
    wait_spin_rounds: 64,
    anchor_slots: 1024,
    medium_batch: 8,
};

/// A `std` cell with loom's closure-based access API, so call sites read the same
/// under both back-ends.
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// The waker slot of a token: `atomic_waker::AtomicWaker` behind loom's names.
#[derive(Debug, Default)]
pub(crate) struct AtomicWaker(atomic_waker::AtomicWaker);

impl AtomicWaker {
    pub(crate) fn new() -> Self {
        Self(atomic_waker::AtomicWaker::new())
    }
    pub(crate) fn register(&self, waker: &Waker) {
        self.0.register(waker);
    }
    pub(crate) fn wake(&self) {
        self.0.wake();
    }
    pub(crate) fn take(&self) -> Option<Waker> {
        self.0.take()
    }
}

/// Spin-loop hint used while searching for work or waiting on a token.
pub(crate) fn spin_hint() {
    std::hint::spin_loop();
}

/// `thread_local!` with a `const` initialiser, which std supports and which saves a
/// lazy-initialisation check on every access (the loom back-end drops the `const`).
macro_rules! const_thread_local {
    ($(#[$meta:meta])* static $name:ident: $t:ty = $init:expr;) => {
        std::thread_local! { $(#[$meta])* static $name: $t = const { $init }; }
    };
}
pub(crate) use const_thread_local;
