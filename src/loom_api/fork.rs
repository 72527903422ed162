//! Stack jobs (`fork.rs`): `join`'s outside path, and a join's take-back
//! (`lanes/own.rs`): a stack job pushed with `push_fork` and taken back with
//! `take_back`, for models 11f-11h.

use super::{Local, QueuedTask};
use crate::fork::{FrameInUse, StackJob};
use crate::lanes::Lane;
use crate::op::Weight;
use crate::task::Header;

/// Where [`Local::push_fork`] put a stack job (`lanes::Fork`).
pub struct Fork<'a>(crate::lanes::Fork<'a>);

/// What [`Local::take_back`] found (`lanes::TakeBack`).
#[derive(Debug, PartialEq, Eq)]
pub enum TakeBack {
    /// The job was on top: popped, its reference forgotten.
    Popped,
    /// The job is `DONE` or another thread took it.
    Gone,
    /// Tasks were placed since the fork: pop under the mover.
    Unsure,
    /// The pop returned another task (the real caller aborts).
    Other,
}

/// A `join`'s stack job in a frame of the caller (`ForkedJob` lends it out).
pub struct ForkedJob<'a> {
    header: &'a Header,
    popped: std::cell::Cell<bool>,
}

/// Builds a stack job for `b` in this frame, as `join_on` does, and calls `body`
/// with it. When `body` returns, no queue or thief may reach the job any more: it
/// was popped back or is `DONE` (checked; a job still reachable aborts the process,
/// as in `join`). Returns `body`'s result and `b`'s, which runs here unless another
/// thread ran it.
pub fn forked<T: Send, R>(b: impl FnOnce() -> T + Send, body: impl FnOnce(&ForkedJob<'_>, QueuedTask) -> R) -> (R, T) {
    let job = StackJob::new(b, None, Weight::Medium);
    let frame = FrameInUse;
    // SAFETY: `job` stays in this frame until `body` returned, and `body` must leave
    // it unreachable (checked below: popped back, or `DONE`); `frame` turns an unwind
    // in between into an abort.
    let task = QueuedTask::found(unsafe { job.task_ref() });
    let forked = ForkedJob {
        header: &job.header,
        popped: std::cell::Cell::new(false),
    };
    let r = body(&forked, task);
    if !forked.popped.get() && !forked.is_done() {
        crate::fatal("model: `forked`'s body returned with its stack job still reachable");
    }
    std::mem::forget(frame);
    (r, job.take_value())
}

/// `join`'s outside path with the pool replaced by `hand_off`. Builds a stack job
/// for `b` in this frame, hands its queue reference to `hand_off` (which must get it
/// run or resolved by some thread), then waits for `DONE` as a thread that is no
/// worker does (spin, register its thread's waker, park), and returns `b`'s result.
/// A job resolved without running is given back and `b` runs here.
pub fn stack_job<T: Send>(b: impl FnOnce() -> T + Send, hand_off: impl FnOnce(QueuedTask)) -> T {
    let ((), value) = forked(b, |job, task| {
        hand_off(task);
        crate::worker::wait_until_done(job.header, None);
    });
    value
}

impl ForkedJob<'_> {
    /// The job is `DONE`.
    pub fn is_done(&self) -> bool {
        self.header.is_done()
    }

    /// `task` is this job's queue reference.
    pub fn is(&self, task: &QueuedTask) -> bool {
        task.task.is(self.header)
    }

    /// Forgets `task`, this job's reference popped back (as `reclaim` does).
    pub fn popped(&self, task: QueuedTask) {
        assert!(self.is(&task), "model: popped back a task that is not the job");
        task.task.forget();
        self.popped.set(true);
    }
}

impl Local {
    /// `LocalLanes::push_fork` onto the Medium lane. True in the second field if the
    /// lane was empty.
    pub fn push_fork(&self, job: QueuedTask) -> (Fork<'_>, bool) {
        let (fork, was_empty) = self.0.push_fork(Lane::Weight(Weight::Medium), job.task);
        (Fork(fork), was_empty)
    }

    /// `LocalLanes::take_back`.
    pub fn take_back(&self, job: &ForkedJob<'_>, fork: &Fork<'_>) -> TakeBack {
        match self.0.take_back(job.header, fork.0) {
            crate::lanes::TakeBack::Popped => {
                job.popped.set(true);
                TakeBack::Popped
            }
            crate::lanes::TakeBack::Gone => TakeBack::Gone,
            crate::lanes::TakeBack::Unsure(_) => TakeBack::Unsure,
            crate::lanes::TakeBack::Other => TakeBack::Other,
        }
    }

    /// A pop of the fork's lane (the announced pops of `reclaim`).
    pub fn pop_fork_lane(&self, fork: &Fork<'_>) -> Option<QueuedTask> {
        fork.0.lane.pop().map(QueuedTask::found)
    }
}
