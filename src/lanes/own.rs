//! A worker's own lanes ([`LocalLanes`]): the three weight lanes and the pinned
//! LIFO lane, which only the owning worker pushes to, and the take-back of a
//! `join`'s stack job ([`LocalLanes::take_back`]).
//!
//! # Taking a stack job back without announcing the pop
//!
//! A worker announces every take from a queue on its mover (`control/moves.rs`), so
//! that a sweep never misses a task in its hand. A `join` that pops its own stack
//! job back need not: sweeps never resolve a stack job (they only move it to a shared
//! queue), so missing one in hand changes no count. What must never happen is an
//! unannounced pop that returns a *real* task. [`take_back`](LocalLanes::take_back)
//! pops without the mover only when that cannot happen:
//!
//! - `placed` is a change marker, bumped by every way this worker puts tasks on its
//!   own lanes other than a `join`'s fork: each push (`push_to`) and each batch
//!   steal into them (`fill`, once per attempt, whatever it moves, stack jobs
//!   included). Bumping too often only sends a take-back the slow way. The [`Fork`]
//!   records it when the job is pushed (`push_fork`).
//! - The marker unchanged at the take-back means that everything pushed onto the
//!   lanes since the fork was the stack job of a nested `join`, and each of those
//!   left its lane before its `join` returned (popped back, stolen, swept, or popped
//!   and run by this worker inside a nested wait).
//! - Other threads take from a lane's bottom only (thieves, and sweeps, which put
//!   stack jobs into a shared queue). This thread takes from the top, and whatever it
//!   pops it runs or resolves before going on (a nested wait's help, a nested
//!   take-back's announced loop).
//! - So, unless the job is already `DONE` (checked first): the job is in the lane
//!   and nothing is above it, or it was taken from the bottom and, with it,
//!   everything that was below it: the lane is empty. One pop returns the job or
//!   nothing (a thief's steal of it may race the pop; the deque settles which wins).
//!   The `DONE` check is needed: this worker may itself have popped the job from the
//!   top inside `a` (a nested `Token::wait` helping) and run it, leaving older tasks
//!   below, which the one pop would return (`tests/fork_join.rs`,
//!   `a_join_whose_b_ran_inside_a_nested_wait_leaves_older_tasks_queued`; seeded
//!   bug MT3 in `loom-tests/README.md`).
//!
//! If the count moved, the caller pops under its mover (`WorkerCtx::reclaim`). A
//! pop that returns another task means the reasoning above is broken; the caller
//! aborts. Models 11f-11h (`loom-tests/tests/take_back.rs`) check the take-back
//! against a concurrent drain: alone, after a spawn and after a batch steal.

use std::cell::Cell;

use super::{drain_injector, SharedLanes};
use crate::op::Weight;
use crate::sync::Worker;
use crate::task::{Header, TaskRef};

/// The parts of the queues only the owning worker thread touches.
pub(crate) struct LocalLanes {
    pub(super) deques: [Worker<TaskRef>; 3],
    pub(super) pinned: Worker<TaskRef>,
    /// Which own lanes may hold tasks: bit `weight.index()` for a weight lane,
    /// [`PINNED_BIT`] for the pinned lane. Set by every push onto the lane (and
    /// before every batch steal into it); cleared only when this worker's own pop
    /// finds the lane empty. Only the owner adds to these lanes (thieves and sweeps
    /// only take), so a clear bit means the lane is empty and `find_work` skips its
    /// pop (an empty `Worker::pop` costs about 15 instructions). Queries that must be
    /// exact (`is_drained`, `has_work_for`) read the deques themselves.
    pub(super) maybe: Cell<u8>,
    /// Bumped whenever tasks may have been put on these lanes other than by a fork
    /// (module docs).
    placed: Cell<u64>,
}

/// `LocalLanes::maybe`'s bit for the pinned lane.
pub(super) const PINNED_BIT: u8 = 1 << 3;

/// One of a worker's own lanes: where a `join` queues its stack job (`fork.rs`).
#[derive(Clone, Copy)]
pub(crate) enum Lane {
    Pinned,
    Weight(Weight),
}

/// Where `push_fork` put a stack job (the lane itself, so the take-back pops it
/// without choosing the lane again), and the `placed` marker then.
#[derive(Clone, Copy)]
pub(crate) struct Fork<'a> {
    pub(crate) lane: &'a Worker<TaskRef>,
    placed: u64,
}

/// What [`LocalLanes::take_back`] found.
pub(crate) enum TakeBack<'a> {
    /// The job was the lane's top: popped, its reference forgotten.
    Popped,
    /// The job is `DONE`, or another thread took it: wait for `DONE`.
    Gone,
    /// Tasks were placed since the fork: pop this lane under the mover instead.
    Unsure(&'a Worker<TaskRef>),
    /// The pop returned another task: an internal invariant is broken (the caller
    /// aborts; the task is left unresolved).
    Other,
}

impl LocalLanes {
    pub(super) fn new() -> LocalLanes {
        LocalLanes {
            deques: [Worker::new_lifo(), Worker::new_lifo(), Worker::new_lifo()],
            pinned: Worker::new_lifo(),
            maybe: Cell::new(0),
            placed: Cell::new(0),
        }
    }

    /// The `weight` lane as the destination of a batch steal: its `maybe` bit is set
    /// first, since the steal may leave tasks in it, and so is `placed`.
    #[inline]
    pub(super) fn fill(&self, weight: Weight) -> &Worker<TaskRef> {
        self.placed.set(self.placed.get().wrapping_add(1));
        self.maybe.set(self.maybe.get() | 1 << weight.index());
        &self.deques[weight.index()]
    }

    /// False only if the `weight` lane is surely empty (`maybe`).
    #[inline]
    pub(super) fn may_hold(&self, weight: Weight) -> bool {
        self.maybe.get() & 1 << weight.index() != 0
    }

    /// Pops the `weight` lane unless its `maybe` bit says it is empty; clears the
    /// bit when the pop finds it empty.
    #[inline]
    pub(crate) fn pop_weight(&self, weight: Weight) -> Option<TaskRef> {
        let bit = 1 << weight.index();
        self.pop_marked(&self.deques[weight.index()], bit)
    }

    /// `pop_weight` for the pinned lane.
    #[inline]
    pub(super) fn pop_pinned(&self) -> Option<TaskRef> {
        self.pop_marked(&self.pinned, PINNED_BIT)
    }

    #[inline]
    fn pop_marked(&self, lane: &Worker<TaskRef>, bit: u8) -> Option<TaskRef> {
        if self.maybe.get() & bit == 0 {
            return None;
        }
        let task = lane.pop();
        if task.is_none() {
            // Only this thread adds to the lane, so it stays empty until it does.
            self.maybe.set(self.maybe.get() & !bit);
        }
        task
    }

    /// True if this worker's own lanes (weight lanes and pinned lane) are empty.
    pub(crate) fn is_drained(&self) -> bool {
        self.pinned.is_empty() && self.deques.iter().all(Worker::is_empty)
    }

    /// Pushes a task (not a stack job) onto `lane`. Returns true if a stealable lane
    /// was empty, in which case the caller must wake a parked worker (see
    /// `WorkerCtx::push_own`).
    #[inline]
    pub(crate) fn push_to(&self, lane: Lane, task: TaskRef) -> bool {
        self.placed.set(self.placed.get().wrapping_add(1));
        self.place(lane, task).1
    }

    /// Pushes a `join`'s stack job onto `lane` (`placed` stays). Returns the fork,
    /// for `take_back`, and whether a stealable lane was empty (as `push_to`).
    #[inline]
    pub(crate) fn push_fork(&self, lane: Lane, task: TaskRef) -> (Fork<'_>, bool) {
        let placed = self.placed.get();
        let (lane, was_empty) = self.place(lane, task);
        (Fork { lane, placed }, was_empty)
    }

    /// Pushes onto `lane`; returns its deque and whether it was an empty stealable
    /// lane.
    #[inline]
    fn place(&self, lane: Lane, task: TaskRef) -> (&Worker<TaskRef>, bool) {
        match lane {
            Lane::Pinned => {
                self.maybe.set(self.maybe.get() | PINNED_BIT);
                self.pinned.push(task);
                (&self.pinned, false)
            }
            Lane::Weight(weight) => {
                let deque = &self.deques[weight.index()];
                let was_empty = deque.is_empty();
                self.maybe.set(self.maybe.get() | 1 << weight.index());
                deque.push(task);
                (deque, was_empty)
            }
        }
    }

    /// Takes the stack job `job`, pushed as `fork`, back with one pop and no
    /// announcement, when the module docs show that the pop returns it or nothing.
    #[inline]
    pub(crate) fn take_back<'a>(&self, job: &Header, fork: Fork<'a>) -> TakeBack<'a> {
        if job.is_done() {
            return TakeBack::Gone;
        }
        if self.placed.get() != fork.placed {
            return TakeBack::Unsure(fork.lane);
        }
        match fork.lane.pop() {
            Some(task) if task.is(job) => {
                task.forget();
                TakeBack::Popped
            }
            Some(task) => {
                task.forget();
                TakeBack::Other
            }
            None => TakeBack::Gone,
        }
    }

    /// Pops everything left in this worker's private lanes and its inbox, handing each
    /// task to `resolve` (as `drain_shared`).
    pub(crate) fn drain(&self, shared: &SharedLanes, me: usize, resolve: &mut dyn FnMut(TaskRef)) {
        for q in self.deques.iter().chain(std::iter::once(&self.pinned)) {
            while let Some(task) = q.pop() {
                resolve(task);
            }
        }
        drain_injector(&shared.remote[me].inbox, resolve);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fork::StackJob;
    use crate::locality::Placement;
    use crate::registry::OpId;
    use crate::sync::Steal;
    use crate::task::{Meta, Times};
    use crate::token::Token;

    const MEDIUM: Lane = Lane::Weight(Weight::Medium);

    fn pop_medium(lanes: &LocalLanes) -> Option<TaskRef> {
        lanes.deques[Weight::Medium.index()].pop()
    }

    fn task() -> (TaskRef, Token<()>) {
        let meta = Meta::new(
            crate::task::next_id(),
            Placement::Free,
            Weight::Medium,
            OpId::NONE,
            Times::queued_at(0),
        );
        let (task, ptr) = crate::task::new(|| (), meta);
        (task, Token::from_raw(ptr))
    }

    fn job() -> StackJob<impl FnOnce() -> u32 + Send, u32> {
        StackJob::new(|| 7, None, Weight::Medium)
    }

    #[test]
    fn a_job_alone_is_popped_back() {
        let lanes = LocalLanes::new();
        let job = job();
        // SAFETY: `job` outlives the lane's reference, popped back below.
        let (fork, _) = lanes.push_fork(MEDIUM, unsafe { job.task_ref() });
        assert!(matches!(lanes.take_back(&job.header, fork), TakeBack::Popped));
        assert_eq!(job.take_value(), 7);
        assert!(lanes.is_drained());
    }

    #[test]
    fn nested_jobs_leave_the_count_alone() {
        let lanes = LocalLanes::new();
        let (below, token) = task();
        lanes.push_to(MEDIUM, below);
        let (outer, inner) = (job(), job());
        // SAFETY: both jobs outlive the lane's references, popped back below.
        let (outer_fork, _) = lanes.push_fork(MEDIUM, unsafe { outer.task_ref() });
        let (inner_fork, _) = lanes.push_fork(MEDIUM, unsafe { inner.task_ref() });
        assert!(matches!(lanes.take_back(&inner.header, inner_fork), TakeBack::Popped));
        assert!(matches!(lanes.take_back(&outer.header, outer_fork), TakeBack::Popped));
        assert_eq!(outer.take_value() + inner.take_value(), 14);
        // The task below stays queued.
        let left = pop_medium(&lanes).expect("the task below the jobs");
        drop(left);
        assert!(token.is_finished());
    }

    #[test]
    fn a_push_after_the_fork_makes_it_unsure() {
        let lanes = LocalLanes::new();
        let job = job();
        // SAFETY: `job` outlives the lane's reference, popped back below.
        let (fork, _) = lanes.push_fork(MEDIUM, unsafe { job.task_ref() });
        let (above, token) = task();
        lanes.push_to(MEDIUM, above);
        assert!(matches!(lanes.take_back(&job.header, fork), TakeBack::Unsure(_)));
        drop(pop_medium(&lanes).expect("the task above"));
        assert!(token.is_finished());
        pop_medium(&lanes).expect("the job").forget();
        assert_eq!(job.take_value(), 7);
    }

    #[test]
    fn a_batch_steal_after_the_fork_makes_it_unsure() {
        let lanes = LocalLanes::new();
        let job = job();
        // SAFETY: `job` outlives the lane's reference, popped back below.
        let (fork, _) = lanes.push_fork(MEDIUM, unsafe { job.task_ref() });
        let _ = lanes.fill(Weight::Medium);
        assert!(matches!(lanes.take_back(&job.header, fork), TakeBack::Unsure(_)));
        pop_medium(&lanes).expect("the job").forget();
        assert_eq!(job.take_value(), 7);
    }

    #[test]
    fn a_job_stolen_from_the_bottom_is_gone() {
        let lanes = LocalLanes::new();
        let thief = lanes.deques[Weight::Medium.index()].stealer();
        let (below, token) = task();
        lanes.push_to(MEDIUM, below);
        let job = job();
        // SAFETY: `job` outlives the lane's reference: the thief's copy is forgotten
        // before the job is read.
        let (fork, _) = lanes.push_fork(MEDIUM, unsafe { job.task_ref() });
        let steal = || match thief.steal() {
            Steal::Success(t) => t,
            _ => panic!("the thief found nothing"),
        };
        drop(steal());
        assert!(token.is_finished());
        let stolen = steal();
        assert!(stolen.is(&job.header));
        assert!(matches!(lanes.take_back(&job.header, fork), TakeBack::Gone));
        stolen.forget();
        // Never run: its closure is still in its slot, and the joiner runs it.
        assert_eq!(job.take_value(), 7);
    }
}
