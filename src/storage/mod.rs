//! The storage lane: blocking I/O runs on its own threads, capped per tier, and never
//! on (or blocking) a pinned CPU worker.
//!
//! An op declared with [`Op::storage_speed`](crate::Op::storage_speed) names a
//! [`StorageSpeed`] tier. Each tier has a limit (`Slow` 10, `Moderate` 25, `Fast` 50,
//! `Insane` 70 by default) and a FIFO queue. A spawn pushes the task onto its tier's
//! queue and, if the tier has a free slot, wakes (or starts) one storage thread; that
//! is all it does, so a CPU task that spawns I/O never waits. Storage threads admit
//! tasks under the slot protocol of `tier.rs`, run them, give the slot back and look
//! again.
//!
//! - `tier.rs`: one tier's queue and slot word (admission, release, limit changes).
//! - `threads.rs`: the storage threads (start on demand, park when idle, exit after
//!   a keep-alive) and the lane's lifecycle.
//!
//! # Lifecycle (`StorageLane::state`)
//!
//! - `OPEN`: tasks are admitted and run.
//! - `DRAIN`: set after a graceful shutdown has joined the CPU workers. Threads run
//!   what is queued, then exit instead of parking.
//! - `ABORT`: set when the coordinator is dropped. Running tasks finish; queued
//!   tasks resolve `Shutdown` without running; threads exit.
//!
//! The coordinator rejects spawns once it is closed, and re-checks after the push
//! (as for CPU spawns, `coordinator/`), so after `close` only the lane's own final
//! drain (in `join`) can find anything left, and it resolves it.

mod threads;
mod tier;

use std::fmt;
use std::time::Duration;

use crate::error::TaskError;
use crate::sync::{Arc, AtomicUsize, Ordering};
use crate::task::TaskRef;

use threads::Threads;
pub(crate) use threads::{claimed_here, current_owner, on_storage_thread};
pub(crate) use tier::Tier;

/// A storage tier: how many blocking I/O tasks of the tier may run at once.
///
/// ```
/// use tokengate::StorageSpeed;
/// assert_eq!(StorageSpeed::Slow.default_limit(), 10);
/// assert_eq!(StorageSpeed::Moderate.default_limit(), 25);
/// assert_eq!(StorageSpeed::Fast.default_limit(), 50);
/// assert_eq!(StorageSpeed::Insane.default_limit(), 70);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum StorageSpeed {
    /// Spinning disks, network file systems: 10 at once by default.
    Slow,
    /// SATA SSDs: 25 at once by default.
    Moderate,
    /// NVMe: 50 at once by default.
    Fast,
    /// Fast NVMe arrays, RAM disks: 70 at once by default.
    Insane,
}

/// The largest limit a tier accepts.
pub const MAX_STORAGE_LIMIT: usize = 4096;

impl StorageSpeed {
    /// The tier's name in lower case (`"slow"`, ...), as metrics label it.
    pub fn name(self) -> &'static str {
        match self {
            StorageSpeed::Slow => "slow",
            StorageSpeed::Moderate => "moderate",
            StorageSpeed::Fast => "fast",
            StorageSpeed::Insane => "insane",
        }
    }

    /// The code a task's `Meta::tier` holds for this tier (never 0).
    pub(crate) fn tier(self) -> u8 {
        self.index() as u8 + 1
    }

    /// The tier of a `Meta::tier` code, `None` for 0 (not a storage task).
    pub(crate) fn from_tier(code: u8) -> Option<StorageSpeed> {
        code.checked_sub(1)
            .and_then(|i| StorageSpeed::ALL.get(usize::from(i)).copied())
    }

    /// Every tier, slowest first.
    pub const ALL: [StorageSpeed; 4] = [
        StorageSpeed::Slow,
        StorageSpeed::Moderate,
        StorageSpeed::Fast,
        StorageSpeed::Insane,
    ];

    /// The tier's limit unless changed with
    /// [`Builder::storage_limit`](crate::Builder::storage_limit) or
    /// [`Handle::set_storage_limit`](crate::Handle::set_storage_limit).
    pub const fn default_limit(self) -> usize {
        match self {
            StorageSpeed::Slow => 10,
            StorageSpeed::Moderate => 25,
            StorageSpeed::Fast => 50,
            StorageSpeed::Insane => 70,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Checks a requested limit: at least 1, at most [`MAX_STORAGE_LIMIT`].
    pub(crate) fn check_limit(self, limit: usize) -> Result<(), StorageLimitError> {
        if (1..=MAX_STORAGE_LIMIT).contains(&limit) {
            Ok(())
        } else {
            Err(StorageLimitError { speed: self, limit })
        }
    }
}

/// A tier limit that cannot be used: 0 (nothing would ever run, and a shutdown
/// would wait forever) or more than [`MAX_STORAGE_LIMIT`].
///
/// ```
/// use tokengate::{Coordinator, StorageSpeed};
/// let gate = Coordinator::builder().workers(1).build().unwrap();
/// let err = gate.set_storage_limit(StorageSpeed::Slow, 0).unwrap_err();
/// assert_eq!((err.speed, err.limit), (StorageSpeed::Slow, 0));
/// assert_eq!(gate.storage_stats()[0].limit, 10, "the old limit stays");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageLimitError {
    /// The tier.
    pub speed: StorageSpeed,
    /// The refused limit.
    pub limit: usize,
}

impl fmt::Display for StorageLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "storage limit {} for {:?} is out of range: it must be between 1 and {MAX_STORAGE_LIMIT}",
            self.limit, self.speed
        )
    }
}

impl std::error::Error for StorageLimitError {}

/// One tier's counters, from [`Handle::storage_stats`](crate::Handle::storage_stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StorageStats {
    /// The tier.
    pub speed: StorageSpeed,
    /// Its current limit.
    pub limit: usize,
    /// Tasks running now (holding a slot). May exceed `limit` right after the limit
    /// was lowered, until running tasks finish.
    pub active: usize,
    /// Tasks waiting for a slot (cancelled ones included until a thread skips them).
    pub queued: usize,
    /// Tasks that held a slot and gave it back (ran, or were skipped as cancelled).
    pub completed: u64,
    /// The most tasks that ever ran at once.
    pub peak_active: usize,
}

const OPEN: usize = 0;
const DRAIN: usize = 1;
const ABORT: usize = 2;

/// The lane: four tiers and the threads that serve them.
pub(crate) struct StorageLane {
    tiers: [Tier; 4],
    threads: Threads,
    state: AtomicUsize,
    /// The owner's control-plane and metrics hooks (`set_hooks`).
    hooks: std::sync::OnceLock<Hooks>,
    /// The storage threads' takes, for exact drains (`control/moves.rs`).
    pub(crate) moves: crate::control::moves::MoveCount,
}

/// The owner's hooks (`StorageLane::set_hooks`), each given the owner pointer.
#[derive(Clone, Copy)]
pub(crate) struct Hooks {
    /// Screens an admitted task (the control plane): the task back if it may run now.
    pub screen: fn(*const (), TaskRef) -> Option<TaskRef>,
    /// Counts a released queue reference (metrics), as `TaskRef::run_then`'s callback.
    pub release: fn(*const (), &crate::task::Meta, bool),
}

/// The lane's settings, checked by the builder.
#[derive(Debug, Clone)]
pub(crate) struct StorageConfig {
    pub limits: [usize; 4],
    pub keep_alive: Duration,
    pub thread_name: String,
}

impl StorageConfig {
    pub(crate) fn new() -> StorageConfig {
        StorageConfig {
            limits: StorageSpeed::ALL.map(StorageSpeed::default_limit),
            keep_alive: Duration::from_secs(2),
            thread_name: "tokengate-io".into(),
        }
    }
}

impl StorageLane {
    /// A lane with no threads yet (they start on demand).
    pub(crate) fn new(config: &StorageConfig) -> Arc<StorageLane> {
        Arc::new(StorageLane {
            tiers: config.limits.map(Tier::new),
            threads: Threads::new(config.keep_alive, config.thread_name.clone()),
            state: AtomicUsize::new(OPEN),
            hooks: std::sync::OnceLock::new(),
            moves: crate::control::moves::MoveCount::new(),
        })
    }

    /// Records the coordinator that owns this lane, so that `tokengate::spawn` inside
    /// a storage task reaches it (`current_owner`). Set once, before any spawn.
    pub(crate) fn set_owner(&self, owner: *const ()) {
        self.threads.set_owner(owner);
    }

    /// Queues `task` on its tier and makes sure a thread comes if a slot is free.
    /// Never blocks. The caller re-checks the coordinator's state afterwards.
    pub(crate) fn push(lane: &Arc<Self>, speed: StorageSpeed, task: TaskRef) {
        if lane.tiers[speed.index()].push(task) {
            lane.threads.wake_or_start(lane, 1);
        }
    }

    /// Sets a tier's limit at run time. Raising it admits queued tasks at once;
    /// lowering it lets running tasks finish and admits none until under the limit.
    pub(crate) fn set_limit(lane: &Arc<Self>, speed: StorageSpeed, limit: usize) -> Result<(), StorageLimitError> {
        speed.check_limit(limit)?;
        let admissible = lane.tiers[speed.index()].set_limit(limit);
        lane.threads.wake_or_start(lane, admissible);
        Ok(())
    }

    pub(crate) fn stats(&self) -> Vec<StorageStats> {
        StorageSpeed::ALL
            .iter()
            .zip(&self.tiers)
            .map(|(&speed, tier)| {
                let c = tier.counts();
                StorageStats {
                    speed,
                    limit: c.limit,
                    active: c.active,
                    queued: c.queued,
                    completed: c.completed,
                    peak_active: c.peak,
                }
            })
            .collect()
    }

    /// The most storage threads that are useful now: per tier, the tasks that may
    /// run at once among those running or queued (`min(limit, active + queued)`).
    fn thread_demand(&self) -> usize {
        self.tiers.iter().map(Tier::demand).sum()
    }

    /// Admits one task from any tier (slowest tier first; tiers are independent, so
    /// the order only decides which of several free slots this thread fills).
    fn admit_any(&self) -> Option<(&Tier, TaskRef)> {
        self.tiers.iter().find_map(|tier| tier.admit().map(|task| (tier, task)))
    }

    /// True if some tier has a queued task and a free slot.
    fn has_admissible(&self) -> bool {
        self.tiers.iter().any(|t| t.admissible() > 0)
    }

    fn state(&self) -> usize {
        // ORDERING: SeqCst: read by threads after their idle announcement, against
        // the store in `close` followed by its wake of every idle thread.
        self.state.load(Ordering::SeqCst)
    }

    /// Runs an admitted task (or resolves it `Shutdown` if the lane is aborting),
    /// then gives its slot back. A cancelled task is skipped (`TaskRef::run`). Before
    /// it runs, the owner's screen (the control plane: pause holds it, a passed
    /// deadline resolves it `Expired`) may take it.
    fn run_admitted(&self, tier: &Tier, task: TaskRef) {
        if self.state() == ABORT {
            self.resolve(task, TaskError::Shutdown);
        } else if let Some(task) = self.screen(task) {
            match self.owner_hooks() {
                Some((owner, hooks)) => task.run_then(|meta, here| (hooks.release)(owner, meta, here)),
                None => task.run(),
            };
        }
        tier.release();
    }

    /// The owner's hooks with the owner pointer, if both were set.
    fn owner_hooks(&self) -> Option<(*const (), Hooks)> {
        Some((self.threads.owner()?, *self.hooks.get()?))
    }

    /// The owner's screen, or, for a lane without hooks, the deadline check alone.
    /// `None`: the task was held or resolved instead of run.
    fn screen(&self, task: TaskRef) -> Option<TaskRef> {
        match self.owner_hooks() {
            Some((owner, hooks)) => (hooks.screen)(owner, task),
            None if crate::control::expired(task.meta()) => {
                task.abort(TaskError::Expired);
                None
            }
            None => Some(task),
        }
    }

    /// Resolves a queued task with `err` unless somebody did first, counting the
    /// release through the owner's hook.
    fn resolve(&self, task: TaskRef, err: TaskError) {
        match self.owner_hooks() {
            Some((owner, hooks)) => {
                let _ = task.abort_then(err, |meta, here| (hooks.release)(owner, meta, here));
            }
            None => task.abort(err),
        }
    }

    /// The owner's hooks: `screen` is called for every admitted task before it runs,
    /// and `release` wherever the lane gives up a task's queue reference (`owner` as
    /// given to `set_owner`). Set once, at build.
    pub(crate) fn set_hooks(&self, hooks: Hooks) {
        if self.hooks.set(hooks).is_err() {
            crate::fatal("storage lane hooks set twice");
        }
    }

    /// Control-plane hook: takes every queued task that `pick` selects out of every
    /// tier (in order), puts the others back, and wakes threads for any put-back task
    /// that found a free slot. For drain and cancel by id.
    pub(crate) fn take_matching(lane: &Arc<Self>, pick: &dyn Fn(&crate::task::Meta) -> bool) -> Vec<TaskRef> {
        let mut taken = Vec::new();
        for tier in &lane.tiers {
            taken.extend(tier.drain(|t| pick(t.meta())));
            lane.threads.wake_or_start(lane, tier.admissible());
        }
        taken
    }

    /// Resolves everything queued, in every tier, as `Shutdown`.
    fn abort_queued(&self) {
        for tier in &self.tiers {
            for task in tier.drain(|_| true) {
                self.resolve(task, TaskError::Shutdown);
            }
        }
    }

    /// Closes the lane: `abort` false for a graceful shutdown (queued tasks still run),
    /// true for a drop (queued tasks resolve `Shutdown`, here). Wakes every idle thread so
    /// it sees the change. Does not wait; `join` does. Idempotent, and an abort may
    /// follow a drain.
    pub(crate) fn close(&self, abort: bool) {
        let to = if abort { ABORT } else { DRAIN };
        // ORDERING: SeqCst: see `state`.
        self.state.fetch_max(to, Ordering::SeqCst);
        if abort {
            // Resolve the queues now: every thread may be busy with a running task.
            self.abort_queued();
        }
        self.threads.wake_all();
    }

    /// Closes the lane (graceful unless `abort`), waits for every storage thread to
    /// exit (except the calling one, if it is a storage thread) and resolves what is
    /// left: graceful, it runs it on this thread; abort, it resolves it `Shutdown`.
    pub(crate) fn join(&self, abort: bool) {
        self.close(abort);
        self.threads.join(self);
        if !abort {
            // Safety net: threads exit only with every queue empty or every queued
            // task behind a running one, so normally nothing is left here.
            while let Some((tier, task)) = self.admit_any() {
                self.run_admitted(tier, task);
            }
        }
        self.abort_queued();
    }
}
