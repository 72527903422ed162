//! Movers: what makes drain and cancel exact while workers keep taking work.
//!
//! A sweep (`sweep.rs`) takes every task out of every queue. A task a worker took a
//! moment earlier is in none of them: it is in the worker's hand, between the queue
//! it came from and its *claim* (the `QUEUED -> RUNNING` step of `task/mod.rs`), or
//! on its way into another queue (the rest of a batch steal, a held list). Each
//! thread that takes tasks out of queues therefore announces it, on a [`Mover`] of
//! its own (workers: one each) or on the storage lane's [`MoveCount`] (storage
//! threads: any number).
//!
//! # The mover's sequence word
//!
//! One writer (its worker), read by sweeps. Even: the worker holds no task it took
//! and has not yet claimed or put into a queue. Odd: it may.
//!
//! | step | from | to | where |
//! |------|------|----|-------|
//! | [`begin`](Mover::begin) | `2k` | `2k + 1` | before any take from a queue |
//! | [`abandon`](Mover::abandon) | `2k + 1` | `2k` | the take found nothing |
//! | [`end`](Mover::end) | `2k + 1` | `2k + 2` | the task taken was claimed (it runs), held, resolved, or is a `join` stack job |
//!
//! So an unchanged even value between two reads means: no task taken in between,
//! and none in hand at either read.
//!
//! # Why a sweep that sees a settled pool missed nothing
//!
//! A sweep makes passes over every queue and reads every mover before and after
//! each pass. When every mover is even and unchanged across a pass, every task that
//! was queued when the pass began is either found by the pass or was claimed before
//! it began (a claimed task is running: drain and cancel leave it). The pass cannot
//! have missed a task in a worker's hand (the mover would be odd at one of the
//! reads) or one moved between queues during the pass (its mover would have
//! changed). Otherwise the sweep makes another pass. While a sweep runs, workers
//! hold every task they take (the `SWEEP` bit of `Control::active`), so the pool
//! settles at once unless new work keeps arriving; a pass's count is exact either
//! way for what it found, and after `MAX_PASSES` unsettled passes the sweep stops
//! (the documented limit of `Handle::drain`).
//!
//! ORDERING (the whole protocol): the worker's `begin` is a Relaxed store and a
//! Release fence, followed in the same thread by the take itself, which writes the
//! queue's indices (a `SeqCst` read-modify-write for steals and the last element of
//! a lane; a Relaxed store of `back` for an owner's pop of a non-last element). A
//! sweep's take attempts read those indices with Acquire loads or read-modify-writes,
//! and the sweep issues a `SeqCst` fence before it reads the movers. If the sweep's
//! pass missed a task because the worker's take came first, the sweep read an index
//! the take wrote (or a later one), which synchronises with the fence, so the
//! sweep's read of the mover sees the odd value (or a later one). `end` is a Release store after the claim or the
//! push; the sweep's reads are Acquire, so a sweep that sees the new even value
//! also sees the task's claim or its new queue. A cheaper `begin` (no fence of our
//! own on the hot path) is why the take's own fence is relied on.

use crate::sync::{fence, AtomicU64, Ordering};

/// The most passes one sweep makes before it stops waiting for the pool to settle.
pub(crate) const MAX_PASSES: usize = 64;

/// One worker's sequence word (module docs).
pub(crate) struct Mover {
    seq: AtomicU64,
}

impl Mover {
    pub(crate) fn new() -> Mover {
        Mover { seq: AtomicU64::new(0) }
    }

    /// About to take from a queue. Returns false if a take was already in hand (the
    /// word stays odd); pass the result to [`abandon`](Mover::abandon).
    #[inline]
    pub(crate) fn begin(&self) -> bool {
        // Single writer: a load and a store, no read-modify-write.
        let s = self.seq.load(Ordering::Relaxed);
        if s & 1 == 0 {
            self.seq.store(s + 1, Ordering::Relaxed);
            // ORDERING: Release fence: the take that follows writes the queue's
            // indices (a crossbeam `Worker::pop` of a non-last task only stores
            // `back`, Relaxed); a sweep's steal that reads them (Acquire) then also
            // sees this odd value. No instruction on x86.
            fence(Ordering::Release);
            true
        } else {
            false
        }
    }

    /// The take found nothing: back to the even value `begin` left, if it was that
    /// `begin` which made the word odd (`began`).
    #[inline]
    pub(crate) fn abandon(&self, began: bool) {
        if began {
            let s = self.seq.load(Ordering::Relaxed);
            // ORDERING: Release, as in `end` (nothing was taken, but a sweep that
            // reads this value must not see an older odd one afterwards).
            self.seq.store(s - 1, Ordering::Release);
        }
    }

    /// The task taken is claimed, held, resolved or placed: nothing in hand.
    #[inline]
    pub(crate) fn end(&self) {
        let s = self.seq.load(Ordering::Relaxed);
        if s & 1 == 1 {
            // ORDERING: Release: a sweep that reads the new value (Acquire) also sees
            // the claim, or the queue the task went into (module docs).
            self.seq.store(s + 1, Ordering::Release);
        }
    }

    /// The word, for a sweep.
    pub(crate) fn read(&self) -> u64 {
        // ORDERING: Acquire pairs with the Release stores of `end` and `abandon`.
        self.seq.load(Ordering::Acquire)
    }
}

/// The storage lane's movers: any number of threads, so two counters. A thread adds
/// one to `started` before it admits a task and one to `ended` when it holds no
/// admitted, unclaimed task any more. Settled: `started == ended`, unchanged.
pub(crate) struct MoveCount {
    started: AtomicU64,
    ended: AtomicU64,
}

impl MoveCount {
    pub(crate) fn new() -> MoveCount {
        MoveCount {
            started: AtomicU64::new(0),
            ended: AtomicU64::new(0),
        }
    }

    /// About to admit (take) a task.
    pub(crate) fn begin(&self) {
        // ORDERING: SeqCst: before the admission's own SeqCst steps, as `Mover::begin`.
        self.started.fetch_add(1, Ordering::SeqCst);
    }

    /// Nothing (any more) in hand.
    pub(crate) fn end(&self) {
        // ORDERING: SeqCst, as `begin`; a sweep reads both counters SeqCst.
        self.ended.fetch_add(1, Ordering::SeqCst);
    }

    /// `(started, ended)`, read `ended` first so that `started >= ended` always.
    pub(crate) fn read(&self) -> (u64, u64) {
        // ORDERING: SeqCst, as `begin`.
        let ended = self.ended.load(Ordering::SeqCst);
        (self.started.load(Ordering::SeqCst), ended)
    }
}

/// What a sweep reads of every mover, before and after a pass.
#[derive(PartialEq, Eq, Clone, Debug, Default)]
pub(crate) struct Movers {
    pub(crate) workers: Vec<u64>,
    pub(crate) storage: (u64, u64),
}

impl Movers {
    /// True if `self` (read before a pass) and `after` show that nothing moved.
    pub(crate) fn settled(&self, after: &Movers) -> bool {
        self == after && after.workers.iter().all(|s| s & 1 == 0) && after.storage.0 == after.storage.1
    }
}
