//! Task status snapshots ([`TaskStatus`]) and [`AbortHandle`].
//!
//! A status is read from what the task already carries: the stage of its state word
//! (`task/`), `Meta::outcome`, `Meta::held`, `Meta::worker` and `Meta::times`
//! (the same timestamps metrics read). No lock and no allocation beyond the task's
//! own; the op name is an interned `&'static str`.

use std::ptr::NonNull;
use std::sync::atomic::Ordering as StdOrdering;
use std::time::Instant;

use crate::metrics::Outcome;
use crate::task::Header;

/// Where a task is in its life, from [`Token::status`](crate::Token::status).
///
/// ```
/// use tokengate::{Coordinator, Op, TaskState};
/// let gate = Coordinator::builder().workers(1).build().unwrap();
/// gate.pause();
/// let t = gate.spawn(&Op::new("state-doc"), || ());
/// assert!(t.cancel());
/// assert_eq!(t.status().state, TaskState::Cancelled);
/// gate.resume();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskState {
    /// Waiting in a queue.
    Queued,
    /// Waiting in a held list because its op (or the whole pool) is paused.
    Held,
    /// Its closure is running.
    Running,
    /// It returned a value.
    Finished,
    /// Its closure panicked.
    Panicked,
    /// Cancelled (by its token, an [`AbortHandle`], a drain or `cancel(id)`) before it started.
    Cancelled,
    /// Its [`Op::deadline`](crate::Op::deadline) passed before it started.
    Expired,
    /// The pool shut down before it ran.
    Shutdown,
}

/// A snapshot of one task, from [`Token::status`](crate::Token::status).
///
/// ```
/// use tokengate::{Coordinator, Op, TaskState};
/// let gate = Coordinator::builder().workers(1).build().unwrap();
/// let t = gate.spawn(&Op::new("status-doc"), || 2 + 2);
/// while !t.is_finished() { std::thread::yield_now(); }
/// let s = t.status();
/// assert_eq!((s.id, s.op, s.state, s.worker), (t.id(), "status-doc", TaskState::Finished, Some(0)));
/// assert!(s.queued.unwrap() <= s.started.unwrap() && s.started <= s.finished);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStatus {
    /// The task's id ([`Token::id`](crate::Token::id)).
    pub id: u64,
    /// Its op's name.
    pub op: &'static str,
    /// Where it is now.
    pub state: TaskState,
    /// The worker that started it, once started.
    pub worker: Option<usize>,
    /// When it was spawned. The three instants are `None` in a pool built with
    /// [`metrics(false)`](crate::Builder::metrics), which does not time tasks
    /// (unless their op has a deadline).
    pub queued: Option<Instant>,
    /// When its closure started, if it did.
    pub started: Option<Instant>,
    /// When it was resolved (ran, or was resolved without running).
    pub finished: Option<Instant>,
}

impl TaskStatus {
    pub(crate) fn of(header: &Header) -> TaskStatus {
        let meta = &header.meta;
        let stage = header.stage();
        let started = meta.times.started.load(StdOrdering::Relaxed);
        let state = match stage {
            StageNow::Queued if meta.held.load(StdOrdering::Relaxed) => TaskState::Held,
            StageNow::Queued => TaskState::Queued,
            StageNow::Running if started != 0 => TaskState::Running,
            // Claimed and being resolved without running: still reads as queued.
            StageNow::Running => TaskState::Queued,
            // The winner's own record (`OutcomeCell`, shared with metrics).
            StageNow::Done => match meta.outcome.get(true) {
                Some(Outcome::Completed) | None => TaskState::Finished,
                Some(Outcome::Panicked) => TaskState::Panicked,
                Some(Outcome::Cancelled) => TaskState::Cancelled,
                Some(Outcome::Shutdown) => TaskState::Shutdown,
                Some(Outcome::Expired) => TaskState::Expired,
            },
        };
        let worker = meta.worker.load(StdOrdering::Relaxed);
        TaskStatus {
            id: meta.id,
            op: meta.op.name(),
            state,
            worker: (worker != 0).then(|| worker as usize - 1),
            queued: crate::clock::instant(meta.times.queued),
            started: crate::clock::instant(started),
            finished: crate::clock::instant(meta.times.finished.load(StdOrdering::Relaxed)),
        }
    }
}

impl TaskStatus {
    /// A task found queued by a sweep (`Handle::status`); `held` if its op or the
    /// pool is paused (the sweep took it out of whichever list it was in).
    /// A task resolved without running while it waited (its token's cancel, its
    /// waiter's expiry) is still in its queue until a worker meets it: it reads as
    /// resolved, from its outcome.
    pub(crate) fn waiting(meta: &crate::task::Meta, held: bool) -> TaskStatus {
        let finished = meta.times.finished.load(StdOrdering::Relaxed);
        let state = match (finished != 0).then(|| meta.outcome.get(true)).flatten() {
            Some(Outcome::Cancelled) => TaskState::Cancelled,
            Some(Outcome::Expired) => TaskState::Expired,
            Some(Outcome::Shutdown) => TaskState::Shutdown,
            _ if held => TaskState::Held,
            _ => TaskState::Queued,
        };
        TaskStatus {
            id: meta.id,
            op: meta.op.name(),
            state,
            worker: None,
            queued: crate::clock::instant(meta.times.queued),
            started: None,
            finished: crate::clock::instant(finished),
        }
    }

    /// A task a worker publishes as running (`Handle::status`).
    pub(crate) fn running(id: u64, op: crate::registry::OpId, worker: usize) -> TaskStatus {
        TaskStatus {
            id,
            op: op.name(),
            state: TaskState::Running,
            worker: Some(worker),
            queued: None,
            started: None,
            finished: None,
        }
    }

    /// A resolved task, from the execution history (`Handle::status`).
    pub(crate) fn resolved(e: &crate::metrics::Execution) -> TaskStatus {
        let finished = crate::clock::instant(e.finished_raw);
        let ran = matches!(e.outcome, Outcome::Completed | Outcome::Panicked);
        let started = finished.filter(|_| ran).and_then(|f| f.checked_sub(e.ran_for));
        let queued = started.or(finished).and_then(|t| t.checked_sub(e.queued_for));
        TaskStatus {
            id: e.id,
            op: crate::registry::OpId::lookup(&e.op).map_or("", |op| op.name()),
            state: match e.outcome {
                Outcome::Completed => TaskState::Finished,
                Outcome::Panicked => TaskState::Panicked,
                Outcome::Cancelled => TaskState::Cancelled,
                Outcome::Expired => TaskState::Expired,
                Outcome::Shutdown => TaskState::Shutdown,
            },
            worker: e.worker,
            queued,
            started,
            finished,
        }
    }
}

/// Cancels one task from anywhere: `Clone + Send + Sync`, from
/// [`Token::abort_handle`](crate::Token::abort_handle). It keeps the task's header
/// alive (not its result, which only the token reads).
///
/// ```
/// use tokengate::{Coordinator, Op, TaskError};
/// let gate = Coordinator::builder().workers(1).build().unwrap();
/// gate.pause();                                   // keep it queued
/// let t = gate.spawn(&Op::new("abort-doc"), || unreachable!());
/// let abort = t.abort_handle();
/// let id = abort.id();
/// assert!(std::thread::spawn(move || abort.cancel()).join().unwrap());
/// assert_eq!((t.id(), t.wait()), (id, Err(TaskError::Cancelled)));
/// gate.resume();
/// ```
pub struct AbortHandle {
    ptr: NonNull<Header>,
}

// SAFETY: the handle only touches the header's atomics (claim, CANCEL, refcount) and
// `cancel`'s winner drops the closure, which is `Send`.
unsafe impl Send for AbortHandle {}
// SAFETY: as above: every access through `&self` is atomic.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    /// A handle on the task `ptr`; the caller holds a reference.
    pub(crate) fn new(ptr: NonNull<Header>) -> AbortHandle {
        // SAFETY: the caller holds a reference, so the header is alive.
        unsafe { ptr.as_ref() }.add_ref();
        AbortHandle { ptr }
    }

    /// As [`Token::cancel`](crate::Token::cancel): true if the task had not started
    /// (it never runs and resolves `Cancelled`); false if it was running or done (a
    /// running task sees [`is_cancelled`](crate::is_cancelled) turn true).
    pub fn cancel(&self) -> bool {
        Header::cancel(self.ptr)
    }

    /// The task's id.
    pub fn id(&self) -> u64 {
        // SAFETY: the handle owns a reference.
        unsafe { self.ptr.as_ref() }.meta.id
    }

    /// A status snapshot of the task.
    pub fn status(&self) -> TaskStatus {
        // SAFETY: the handle owns a reference.
        TaskStatus::of(unsafe { self.ptr.as_ref() })
    }
}

impl Clone for AbortHandle {
    fn clone(&self) -> Self {
        AbortHandle::new(self.ptr)
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: the handle owns one reference and never uses it again.
        unsafe { Header::drop_ref(self.ptr) };
    }
}

impl std::fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AbortHandle").field("id", &self.id()).finish()
    }
}

// ----- the task-side records (written in `task/`) ------------------------------

/// A task's stage as read by a status snapshot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum StageNow {
    Queued,
    Running,
    Done,
}
