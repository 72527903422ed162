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
//! A task in flight (in a worker's hand, or moving between queues) is caught by the
//! movers protocol (`moves.rs`): [`Control::sweep_settled`] repeats the pass until
//! a pass saw no mover move. While it runs, the `SWEEP` bit makes workers hold
//! whatever they take (as a pause does), so the pool settles at once unless new
//! work keeps arriving; survivors wait in the held lists until the sweep ends.
//!
//! **Cost.** Nothing until called. A sweep is O(queued tasks). Survivors lose their
//! place: a worker-local task goes to the injector, and order among survivors of
//! different queues is not kept. Stack jobs of `join` are never picked (they belong
//! to a running task) and go back like other survivors, which their joiner allows
//! (fork.rs: "Stolen").

use crate::control::moves::{Movers, MAX_PASSES};
use crate::control::{Control, Requeue, SWEEP};
use crate::sync::{fence, yield_now, Ordering};
use crate::task::{Meta, TaskRef};

impl Control {
    /// Runs `pass` (one sweep over every queue: [`sweep`](Control::sweep) and the
    /// storage lane; it resolves at most its argument's count of tasks and returns
    /// how many it resolved) until `limit` were resolved or a pass saw the pool
    /// settled (`moves.rs`). `movers` reads every mover. Serialised with other sweeps
    /// and with resumes by `sweep_lock`; `requeue` releases the held survivors at the end.
    pub(crate) fn sweep_settled(
        &self,
        movers: &dyn Fn() -> Movers,
        pass: &mut dyn FnMut(usize) -> usize,
        limit: usize,
        requeue: Requeue<'_>,
    ) -> usize {
        let _serial = self.lock_sweeps();
        // ORDERING: SeqCst: read by `held_back` (the hold hand-off of `pause.rs`).
        self.active.fetch_or(SWEEP, Ordering::SeqCst);
        let mut resolved = 0;
        for _ in 0..MAX_PASSES {
            let before = settle(movers);
            resolved += pass(limit - resolved);
            if resolved >= limit {
                break;
            }
            // ORDERING: SeqCst fence: after the pass's takes, before the movers are
            // read (`moves.rs`).
            fence(Ordering::SeqCst);
            if before.settled(&movers()) {
                break;
            }
        }
        // ORDERING: SeqCst: the resumer's half of the hold hand-off.
        self.active.fetch_and(!SWEEP, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.release_unpaused(requeue);
        resolved
    }
}

/// Reads the movers once every one that was odd (a take in hand) has moved on, so
/// that a pass does not start while a worker holds a task it is about to place.
fn settle(movers: &dyn Fn() -> Movers) -> Movers {
    let first = movers();
    let odd = |m: &Movers| m.workers.iter().any(|s| s & 1 == 1) || m.storage.0 != m.storage.1;
    if !odd(&first) {
        return first;
    }
    loop {
        yield_now();
        let now = movers();
        let moved_on = first
            .workers
            .iter()
            .zip(&now.workers)
            .all(|(a, b)| a & 1 == 0 || a != b)
            && (first.storage.0 == first.storage.1 || now.storage.1 >= first.storage.0);
        if moved_on {
            return now;
        }
    }
}

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
