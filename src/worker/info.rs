//! A worker's entry in `Shared::workers`, readable from any thread: its pinning, the
//! busy hint, its mover (`control/moves.rs`) and the task it runs (`Handle::status`).

use crate::sync::{AtomicBool, AtomicUsize, Ordering};

/// Per-worker pinning outcome, readable from any thread. (Its counters live in the
/// worker's metrics shard, `metrics/mod.rs`: one source for `WorkerStats` and metrics.)
pub(crate) struct WorkerInfo {
    pub(super) core: AtomicUsize,
    pub(super) pinned: AtomicBool,
    /// True while the worker runs a task from its main loop (not counting nested
    /// ones). Read by placement, so that new anchors and domains avoid a worker stuck
    /// in a long task (issue 10, finding 6). Single writer, Relaxed: a hint only.
    pub(super) busy: AtomicBool,
    /// Announces the tasks this worker holds between a queue and their claim, for
    /// exact drains and cancels (`control/moves.rs`).
    pub(crate) mover: crate::control::moves::Mover,
    /// The task this worker runs now (innermost when nested; 0: none), for
    /// `Handle::status(id)`: its id in the high 48 bits, its op (`MAX_OPS` is 2^16)
    /// in the low 16, so one Relaxed store publishes both. Single writer.
    pub(super) running: crate::sync::AtomicU64,
}

/// `WorkerInfo::running`'s packing.
pub(super) const RUNNING_OP_BITS: u32 = 16;
const _: () = assert!(crate::registry::MAX_OPS <= 1 << RUNNING_OP_BITS);

/// A snapshot of one worker's activity, from [`Handle::worker_stats`](crate::Handle::worker_stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerStats {
    /// The worker's index, as returned by [`current_worker`](crate::current_worker).
    pub index: usize,
    /// The CPU it was asked to pin to, if pinning was requested.
    pub core: Option<usize>,
    /// Whether pinning to `core` succeeded.
    pub pinned: bool,
    /// Tasks it ran (cancelled tasks it skipped, and `join` stack jobs, are not counted).
    pub executed: u64,
    /// Tasks it took from other workers' lanes.
    pub stolen: u64,
    /// Whether it was running a task at its top level when the snapshot was taken
    /// (what placement counts as its load, besides its queues and pinned tasks).
    pub busy: bool,
}

impl WorkerInfo {
    pub(crate) fn new() -> Self {
        WorkerInfo {
            core: AtomicUsize::new(usize::MAX),
            pinned: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            mover: crate::control::moves::Mover::new(),
            running: crate::sync::AtomicU64::new(0),
        }
    }

    /// The op of task `id` if this worker is running it now.
    /// (An id is compared in its low 48 bits: two ids 2^48 apart would collide, far
    /// beyond what a process spawns.)
    pub(crate) fn running(&self, id: u64) -> Option<crate::registry::OpId> {
        let r = self.running.load(Ordering::Relaxed);
        let mask = u64::MAX >> RUNNING_OP_BITS;
        (r != 0 && r >> RUNNING_OP_BITS == id & mask)
            .then(|| crate::registry::OpId::from_index((r & ((1 << RUNNING_OP_BITS) - 1)) as u32))
    }

    /// Whether the worker is running a task (a placement hint; may be stale).
    pub(crate) fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    pub(crate) fn snapshot(&self, index: usize, counters: &crate::metrics::WorkerCells) -> WorkerStats {
        let (core, pinned) = self.pin();
        WorkerStats {
            index,
            core,
            pinned,
            executed: counters.executed(),
            stolen: counters.stolen_total(),
            busy: self.is_busy(),
        }
    }

    /// The core it was asked to pin to, and whether pinning succeeded.
    pub(crate) fn pin(&self) -> (Option<usize>, bool) {
        let core = self.core.load(Ordering::Relaxed);
        // ORDERING: Acquire pairs with the Release store made before start-up completes.
        (
            (core != usize::MAX).then_some(core),
            self.pinned.load(Ordering::Acquire),
        )
    }
}
