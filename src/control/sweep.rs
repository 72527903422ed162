//! Drain and cancel by id: resolve queued tasks `Cancelled`, exactly.
//!
//! crossbeam's deques cannot be searched in place, so a drain *sweeps*: it takes
//! every task out of every queue (the injectors, each worker's lanes through their
//! stealers, each worker's pinned lane and inbox, and the held lists), resolves the
//! ones it picks through the claim (`Cancelled`: the closure is dropped, the token
//! resolves at once, and the task never runs), and requeues the rest (free work to
//! the injector of its weight, pinned work to its worker's inbox).
//!
//! **Exact.** The claim decides every race: a task a worker popped first is run
//! (or held) by that worker and not counted; a task the sweep took is resolved by
//! it and counted, once. The count is the number of tokens the sweep resolved.
//! A task in flight between queues during the sweep (being batch-stolen, or popped
//! and about to be held) is not queued at that instant and is not counted; in a
//! paused or quiet pool nothing is in flight.
//!
//! **Cost.** Nothing until called. A sweep is O(queued tasks). Survivors lose their
//! place: a worker-local task goes to the injector, and order among survivors of
//! different queues is not kept. Stack jobs of `join` are never picked (they belong
//! to a running task) and go back like other survivors, which their joiner allows
//! (fork.rs: "Stolen").

use crate::control::{Control, Requeue};
use crate::task::{Meta, TaskRef};

impl Control {
    /// Sweeps the queues offered by `take_all` and the held lists: resolves as
    /// `Cancelled` every queued task `pick` selects, requeues the others through
    /// `requeue`. Returns how many it resolved. `limit` stops picking after that
    /// many (cancel by id: 1).
    pub(crate) fn sweep(
        &self,
        take_all: impl FnOnce(&mut dyn FnMut(TaskRef, Option<usize>)),
        pick: impl Fn(&Meta) -> bool,
        limit: usize,
        resolve: &dyn Fn(TaskRef) -> bool,
        requeue: Requeue<'_>,
    ) -> usize {
        let mut resolved = 0;
        let mut survivors: Vec<(TaskRef, Option<usize>)> = Vec::new();
        let mut visit = |task: TaskRef, target: Option<usize>| {
            if resolved < limit && !task.is_stack_job() && pick(task.meta()) {
                if resolve(task) {
                    resolved += 1;
                }
            } else {
                survivors.push((task, target));
            }
        };
        take_all(&mut visit);
        self.take_held(&mut visit);
        for (task, target) in survivors {
            // Paused work goes straight back to its held list.
            if task.is_stack_job() || !self.should_hold(task.meta()) {
                requeue(task, target);
            } else {
                self.hold(task, target, requeue);
            }
        }
        resolved
    }
}
