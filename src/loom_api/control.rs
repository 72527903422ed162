//! The control plane's models' entry points (`control/`): pause, drain, admission,
//! movers.

use super::{Lanes, QueuedTask};
use crate::op::Op;

/// One pool's control state (`control::Control`), unbounded.
pub struct Control(crate::control::Control);

impl Default for Control {
    fn default() -> Self {
        Control(crate::control::Control::new(None, false))
    }
}

impl Control {
    /// `Control::pause_op`. Call it before the model's threads start: the per-op
    /// table (`registry.rs`) is made with std primitives, outside loom's view.
    pub fn pause_op<K>(&self, op: &Op<K>) -> bool {
        self.0.pause_op(op.id())
    }
    /// `Control::resume_op`, requeueing held tasks through `requeue`.
    pub fn resume_op<K>(&self, op: &Op<K>, requeue: impl Fn(QueuedTask)) -> bool {
        self.0.resume_op(op.id(), &|t, _| requeue(QueuedTask::found(t)))
    }
    /// `Control::screen` as a worker calls it: `Some` if the task may run now.
    pub fn screen(&self, task: QueuedTask, requeue: impl Fn(QueuedTask)) -> Option<QueuedTask> {
        self.0
            .screen(task.task, None, &|t| t.abort(crate::TaskError::Expired), &|t, _| {
                requeue(QueuedTask::found(t))
            })
            .map(QueuedTask::found)
    }
    /// Tasks in held lists now.
    pub fn held(&self) -> usize {
        self.0.held_count()
    }
    /// `Handle::drain` as it is built: passes of [`drain`](Control::drain) over
    /// `lanes` until `movers` (the workers' announcements) show a settled pool
    /// (`control/moves.rs`). Survivors and held tasks go back through `requeue`.
    pub fn drain_settled(&self, lanes: &Lanes, movers: &[&Mover], requeue: impl Fn(QueuedTask)) -> usize {
        let read = || crate::control::moves::Movers {
            workers: movers.iter().map(|m| m.0.read()).collect(),
            storage: (0, 0),
        };
        let requeue = |t, _| requeue(QueuedTask::found(t));
        let mut pass = |limit| {
            self.0.sweep(
                |f| lanes.0.take_all(false, f),
                |_| true,
                limit,
                &|t| t.abort_then(crate::TaskError::Cancelled, |_, _| ()),
                &requeue,
            )
        };
        self.0.sweep_settled(&read, &mut pass, usize::MAX, &requeue)
    }
    /// `Handle::drain` over `lanes`: resolves every queued task `Cancelled`; returns
    /// how many.
    pub fn drain(&self, lanes: &Lanes, requeue: impl Fn(QueuedTask)) -> usize {
        self.0.sweep(
            |f| lanes.0.take_all(false, f),
            |_| true,
            usize::MAX,
            &|t| t.abort_then(crate::TaskError::Cancelled, |_, _| ()),
            &|t, _| requeue(QueuedTask::found(t)),
        )
    }
}

/// A bounded pool's admission counter (`control::Admission`): slots, and producers
/// parked until there is room.
pub struct Admission(crate::control::Admission);

impl Admission {
    /// A counter of `bound` slots.
    pub fn new(bound: usize) -> Self {
        Admission(crate::control::Admission::new(bound))
    }
    /// Takes a slot if one is free.
    pub fn try_admit(&self) -> bool {
        self.0.try_admit()
    }
    /// Takes a slot, parking until there is room; false if `closed()` turned true.
    pub fn admit_blocking(&self, closed: impl Fn() -> bool) -> bool {
        self.0.admit_blocking(closed)
    }
    /// Gives a slot back, waking waiters.
    pub fn release(&self) {
        self.0.release()
    }
    /// Wakes every waiter (the pool's close).
    pub fn wake(&self) {
        self.0.wake()
    }
}

/// A worker's announcement of the task in its hand (`control::moves::Mover`).
pub struct Mover(crate::control::moves::Mover);

impl Default for Mover {
    fn default() -> Self {
        Mover(crate::control::moves::Mover::new())
    }
}

impl Mover {
    /// Before a take; pass the result to `abandon`.
    pub fn begin(&self) -> bool {
        self.0.begin()
    }
    /// The take found nothing.
    pub fn abandon(&self, began: bool) {
        self.0.abandon(began)
    }
    /// What was taken is claimed, held or resolved.
    pub fn end(&self) {
        self.0.end()
    }
}
