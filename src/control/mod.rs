//! The control plane: operating a running pool.
//!
//! - [`pause`]: pause and resume, for everything or per op; paused work waits in
//!   per-op *held lists*, with no thread polling.
//! - [`sweep`]: drain (all, or one op) and cancel by id: exact, through the claim.
//! - [`admission`]: `Builder::max_queued(n)`, `try_spawn` and backpressure.
//! - [`status`]: `Token::status`, [`AbortHandle`].
//! - Deadlines (`Op::deadline`): checked where a worker meets a task ([`Control::screen`]).
//!
//! # The cost when unused
//!
//! A worker that found a task makes one relaxed load of [`Control::active`]. It is
//! zero unless a pause is on or a task with a deadline was ever spawned in this pool;
//! only then does [`Control::screen`] look at the task. A spawn makes one load of a
//! field (`admission`, fixed at build) and branches on the op's deadline. Drain and
//! cancel cost nothing until called: they sweep the queues (`sweep.rs`).
//!
//! # The `active` word
//!
//! | bits | meaning |
//! |------|---------|
//! | 0    | `PAUSE_ALL`: [`Control::pause`] is on |
//! | 1    | `DEADLINES`: a task with a deadline was spawned (sticky) |
//! | 2..62 | the number of ops paused with `pause_op`, in units of `PAUSED_OP` |
//! | 63   | `SWEEP`: a drain or cancel is sweeping; workers hold what they take (`sweep.rs`) |
//!
//! The word only says "look closer". The decisive flags are the per-op `paused`
//! flags and `PAUSE_ALL`, read with the hand-off protocol of `pause.rs`.
//!
//! # Hooks for other queues (the storage lane)
//!
//! A queue that does not go through the worker's `execute` (e.g. a storage lane)
//! obeys pause by calling, where it is about to run a task,
//! `if control.is_active() { task = control.screen(task, None, &requeue)? }`,
//! or the two halves [`Control::should_hold`] and [`Control::hold`]. `requeue` is how
//! a held task goes back to a queue on resume; a storage lane passes its own push.
//! For drain and cancel, its queue must be offered to the sweep (`Handle::sweep`).

pub(crate) mod admission;
pub(crate) mod moves;
pub(crate) mod pause;
pub(crate) mod status;
pub(crate) mod sweep;

use std::time::Duration;

pub(crate) use admission::Admission;
pub use admission::{Full, Room};
pub use status::{AbortHandle, TaskState, TaskStatus};

use crate::registry::OpTable;
use crate::sync::{AtomicBool, AtomicUsize, CachePadded, Ordering};
use crate::task::{Meta, TaskRef};

const PAUSE_ALL: usize = 0b01;
const DEADLINES: usize = 0b10;
const PAUSED_OP: usize = 0b100;
const SWEEP: usize = 1 << (usize::BITS - 1);

/// Where a held task goes back to: a worker's inbox (pinned work) or the injector.
pub(crate) type Requeue<'a> = &'a dyn Fn(TaskRef, Option<usize>);

/// The per-pool control state.
pub(crate) struct Control {
    active: CachePadded<AtomicUsize>,
    /// Per op: its paused flag and held list.
    ops: OpTable<pause::OpControl>,
    /// Set once an entry of `ops` is made.
    has_ops: AtomicBool,
    /// Set by `Builder::max_queued`; leaked, one per bounded pool (see `admission.rs`).
    admission: Option<&'static Admission>,
    /// Serialises sweeps with each other and with resumes (the control plane's
    /// own movers: a resume moves held tasks back to the queues). Never taken on a
    /// hot path.
    sweep_lock: std::sync::Mutex<()>,
    /// Sweeps give a worker's own-lane tasks back to that worker (its inbox), not to
    /// the injector: under `HelpPolicy::OwnLanes` a waiter only looks there.
    pub(crate) keep_on_worker: bool,
}

impl Control {
    /// `keep_on_worker`: the pool's `HelpPolicy` is `OwnLanes` (see `sweep_target`).
    pub(crate) fn new(max_queued: Option<usize>, keep_on_worker: bool) -> Control {
        Control {
            active: CachePadded::new(AtomicUsize::new(0)),
            ops: OpTable::new(),
            has_ops: AtomicBool::new(false),
            admission: max_queued.map(Admission::leak),
            sweep_lock: std::sync::Mutex::new(()),
            keep_on_worker,
        }
    }

    /// The hot-path check: true if a found task must be screened. One relaxed load.
    #[inline]
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed) != 0
    }

    /// The admission bound, if the pool has one.
    #[inline]
    pub(crate) fn admission(&self) -> Option<&'static Admission> {
        self.admission
    }

    /// A task with a deadline is being spawned: from now on workers screen tasks.
    /// Called before the task is queued, so the worker that pops it sees the bit.
    pub(crate) fn note_deadline(&self) {
        if self.active.load(Ordering::Relaxed) & DEADLINES == 0 {
            self.active.fetch_or(DEADLINES, Ordering::Relaxed);
        }
    }

    /// The pool is closing: wake producers blocked on admission (they then see the
    /// shutdown and resolve their tasks `Shutdown`).
    pub(crate) fn on_close(&self) {
        if let Some(a) = self.admission {
            a.wake();
        }
    }

    /// Screens a task a worker (or another queue) is about to run. Returns it if it
    /// may run; otherwise it was resolved (`Expired`) or held (paused), and `None`.
    /// `me` is the worker whose pinned lane the task came from if it is pinned
    /// (a held pinned task goes back to that worker's inbox). Stack jobs pass.
    /// `expire` resolves an expired task (the worker counts it in its metrics).
    pub(crate) fn screen(
        &self,
        task: TaskRef,
        me: Option<usize>,
        expire: &dyn Fn(TaskRef),
        requeue: Requeue<'_>,
    ) -> Option<TaskRef> {
        if task.is_stack_job() {
            return Some(task);
        }
        if expired(task.meta()) {
            expire(task);
            return None;
        }
        if self.should_hold(task.meta()) {
            let target = if task.meta().placement.is_pinned() { me } else { None };
            self.hold(task, target, requeue);
            return None;
        }
        Some(task)
    }
}

/// When `meta`'s deadline passes, as an `Instant` (for a waiter's timed wait), or
/// `None` if it has none.
pub(crate) fn expires_at(meta: &Meta) -> Option<std::time::Instant> {
    if meta.deadline_ns == 0 {
        return None;
    }
    let waited = crate::clock::between(meta.times.queued, crate::clock::now());
    let left = Duration::from_nanos(meta.deadline_ns).saturating_sub(waited);
    Some(std::time::Instant::now() + left)
}

/// True if `meta`'s deadline passed before it started (checked wherever a queued
/// task is about to run: workers, and the storage lane).
pub(crate) fn expired(meta: &Meta) -> bool {
    meta.deadline_ns != 0
        && crate::clock::between(meta.times.queued, crate::clock::now()) >= Duration::from_nanos(meta.deadline_ns)
}
