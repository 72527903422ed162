//! Helpers shared by the integration tests: bounded waits, so a bug fails a test
//! instead of hanging CI.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokengate::{current_worker, Coordinator, TaskError, Token};

pub mod locality;

pub const LIMIT: Duration = Duration::from_secs(20);

pub fn pool(workers: usize) -> Coordinator {
    Coordinator::builder().workers(workers).build().expect("build")
}

/// Waits for `t` with a bound, then takes its result.
pub fn get<T>(t: Token<T>) -> Result<T, TaskError> {
    assert!(t.wait_timeout(LIMIT), "token {} unresolved after {LIMIT:?}", t.id());
    t.wait()
}

/// Spins (yielding) until `cond` holds; panics after `LIMIT`.
pub fn spin_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

/// Called by `n` tasks at once: each arrives, then waits (bounded) until all `n` have
/// arrived. Only succeeds if the `n` tasks really run at the same time.
pub fn rendezvous(arrived: &AtomicUsize, n: usize) -> Option<usize> {
    arrived.fetch_add(1, SeqCst);
    spin_until("all tasks to run at the same time", || arrived.load(SeqCst) >= n);
    current_worker()
}

/// A one-shot gate: tasks `wait()` (bounded) until the test `open()`s it.
#[derive(Clone, Default)]
pub struct Latch(Arc<(Mutex<bool>, Condvar)>);

impl Latch {
    /// A latch behind an `Arc`, for tests that hand it out with `Arc::clone`.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    pub fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }
    pub fn wait(&self) {
        let (lock, cv) = &*self.0;
        let guard = lock.lock().unwrap();
        let (open, _) = cv.wait_timeout_while(guard, LIMIT, |o| !*o).unwrap();
        assert!(*open, "latch was not opened within {LIMIT:?}");
    }
}
