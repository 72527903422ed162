//! The heavy reservation ([`HeavyGate`]) and one worker's access to it
//! ([`HeavyAccess`]): how many workers may run `Heavy` work at once
//! (`Builder::reserve_for_light`). The lanes (`mod.rs`) ask it before they hand out
//! heavy work from a stealable lane.

use crate::sync::{fence, AtomicUsize, CachePadded, Ordering};
use crate::task::TaskRef;

/// The heavy reservation: at most `limit` workers run `Heavy` work at once.
///
/// `running` counts workers holding a permit. A worker takes a permit before it
/// takes heavy work from a stealable lane, and gives it back when that task
/// finishes. Nested heavy tasks, run while their worker waits inside a heavy task,
/// reuse the outer permit. Pinned heavy tasks (anchors, domains) are exempt: they
/// cannot move, so making them wait for a permit held elsewhere could strand them.
pub(crate) struct HeavyGate {
    running: CachePadded<AtomicUsize>,
    limit: usize,
}

impl HeavyGate {
    pub(crate) fn new(limit: usize) -> Self {
        HeavyGate {
            running: CachePadded::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// Takes a permit if fewer than `limit` are held.
    pub(crate) fn try_acquire(&self) -> bool {
        let mut n = self.running.load(Ordering::Relaxed);
        loop {
            if n >= self.limit {
                return false;
            }
            // ORDERING: Relaxed is enough: the cap is a property of this one counter,
            // and read-modify-writes on one location are totally ordered.
            match self
                .running
                .compare_exchange_weak(n, n + 1, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => n = actual,
            }
        }
    }

    /// Gives a permit back. The caller then checks for queued heavy work and wakes
    /// a parked worker for it (a worker refused a permit may have parked).
    pub(crate) fn release(&self) {
        // ORDERING: SeqCst: the write half of a Dekker pair with a parking worker that
        // announces, fences, then reads `held()` in `has_work_for`.
        self.running.fetch_sub(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Permits currently held.
    pub(crate) fn held(&self) -> usize {
        // ORDERING: SeqCst: the read half of the Dekker pair described in `release`.
        self.running.load(Ordering::SeqCst)
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}

/// How one worker may take heavy work right now.
pub(crate) struct HeavyAccess<'a> {
    pub gate: &'a HeavyGate,
    /// The worker already holds a permit (it is inside a heavy task): reuse it.
    pub holding: bool,
    /// The worker is blocked inside `wait()`. It may run heavy work beyond the cap,
    /// because refusing work the pool is waiting for could deadlock it (a light task
    /// waiting on a heavy one while every permit is held by tasks waiting on it).
    pub helping: bool,
}

impl HeavyAccess<'_> {
    /// Whether heavy work could be taken now (without taking a permit).
    pub(super) fn may_run(&self) -> bool {
        self.holding || self.helping || self.gate.held() < self.gate.limit
    }

    /// Runs `take` if heavy work is allowed now. Returns the task and whether a new
    /// permit was taken for it (to be released after it runs).
    pub(super) fn with_permit(&self, take: impl FnOnce() -> Option<TaskRef>) -> Option<(TaskRef, bool)> {
        let taken = if self.holding {
            false
        } else if self.gate.try_acquire() {
            true
        } else if self.helping {
            false
        } else {
            return None;
        };
        match take() {
            Some(task) => Some((task, taken)),
            None => {
                if taken {
                    self.gate.release();
                }
                None
            }
        }
    }
}
