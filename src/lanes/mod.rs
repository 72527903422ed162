//! Queues: the global injector, each worker's weight lanes, and its pinned lanes;
//! plus the order a worker searches them and the weight-aware stealing rules.
//!
//! # Lanes
//!
//! - **Injector**, one per weight: tasks spawned from outside the pool (FIFO).
//! - **Local lanes**, three per worker (Light, Medium, Heavy): tasks a worker spawns
//!   itself. LIFO for the owner, so a task that waits on the child it just spawned
//!   finds it on top; thieves take the oldest end.
//! - **Pinned lanes**, two per worker, which thieves never touch: a LIFO deque that only
//!   the owner pushes to (children of its own domain members), and an inbox that any
//!   thread pushes to (sticky and domain work placed from elsewhere).
//!
//! # Search order (see [`Worker::find_work`](crate::worker))
//!
//! 1. Own pinned lanes: only this worker can run them, and they are the work that a
//!    domain member is waiting on.
//! 2. Own local lanes, Light → Medium → Heavy: cache-warm, no contention, and light
//!    first because light tasks are latency-sensitive and clear quickly.
//! 3. The injector, Light → Medium → Heavy: unowned work; taking it disturbs nobody,
//!    and outside submitters wait on it. Every 61st search checks the injector first,
//!    so a worker whose tasks keep spawning cannot starve outside submissions.
//! 4. Steal from other workers: Heavy first (worth migrating), then Medium, then Light.
//!
//! # Stealing rules
//!
//! - **Heavy**: one task at a time, from the victim with the most queued heavy work.
//!   Heavy work is only taken with a heavy permit (see [`HeavyGate`]).
//! - **Medium**: small batches (up to 8), from the busiest victim, except that a
//!   `join`'s stack job is stolen alone (`steal_medium`).
//! - **Light**: batches (crossbeam's half-the-queue, up to 32), from the busiest victim:
//!   a single light task is not worth the cache misses of a migration.

mod heavy;
mod own;

pub(crate) use heavy::{HeavyAccess, HeavyGate};
use own::PINNED_BIT;
pub(crate) use own::{Fork, Lane, LocalLanes, TakeBack};

use crate::op::Weight;
use crate::sync::{Injector, Steal, Stealer, Worker, TUNING};
use crate::task::TaskRef;

/// Every this many searches of a worker, the injector comes first (step 3 above).
pub(crate) const INJECTOR_EVERY: u32 = 61;

/// The most victims one steal search looks at (see `SharedLanes::busiest`).
const STEAL_WINDOW: usize = 16;

/// The parts of the queues every thread can reach.
pub(crate) struct SharedLanes {
    injector: [Injector<TaskRef>; 3],
    remote: Box<[Remote]>,
}

/// Worker `w`'s queues as other threads see them.
struct Remote {
    stealers: [Stealer<TaskRef>; 3],
    inbox: Injector<TaskRef>,
    /// Control plane only (drain's sweep): the pinned lane's stealer. Thieves never
    /// use it.
    pinned: Stealer<TaskRef>,
}

/// Where a task was found: decides the heavy permit and the statistics.
pub(crate) struct Found {
    pub task: TaskRef,
    /// A heavy permit was taken for this task and must be released after it runs.
    pub permit: bool,
    /// Tasks moved from another worker's lanes (0 if not stolen).
    pub stolen: usize,
    /// The take also moved other tasks into this worker's stealable lanes (a batch
    /// from the injector or a victim). The taker pushed them there, so, as after any
    /// push, it must make sure a worker is awake for them (`WorkerCtx::find_work`).
    pub moved: bool,
}

impl Found {
    /// Work taken without a heavy permit and without stealing.
    pub(crate) fn own(task: TaskRef) -> Self {
        Found {
            task,
            permit: false,
            stolen: 0,
            moved: false,
        }
    }
}

impl SharedLanes {
    /// Builds the shared queues and each worker's private half.
    pub(crate) fn new(workers: usize) -> (Self, Vec<LocalLanes>) {
        let locals: Vec<LocalLanes> = (0..workers).map(|_| LocalLanes::new()).collect();
        let remote = locals
            .iter()
            .map(|l| Remote {
                stealers: [l.deques[0].stealer(), l.deques[1].stealer(), l.deques[2].stealer()],
                inbox: Injector::new(),
                pinned: l.pinned.stealer(),
            })
            .collect();
        let injector = [Injector::new(), Injector::new(), Injector::new()];
        (SharedLanes { injector, remote }, locals)
    }

    pub(crate) fn push_injector(&self, weight: Weight, task: TaskRef) {
        self.injector[weight.index()].push(task);
    }

    pub(crate) fn push_inbox(&self, worker: usize, task: TaskRef) {
        self.remote[worker].inbox.push(task);
    }

    /// Tasks queued for worker `w` (its lanes and inbox): its load for placement.
    pub(crate) fn queued_on(&self, w: usize) -> usize {
        let r = &self.remote[w];
        r.inbox.len() + r.stealers.iter().map(Stealer::len).sum::<usize>()
    }

    /// True if any queue a thief or the injector could serve is non-empty.
    pub(crate) fn has_stealable(&self) -> bool {
        self.injector.iter().any(|q| !q.is_empty())
            || self.remote.iter().any(|r| r.stealers.iter().any(|s| !s.is_empty()))
    }

    /// True if any task sits in any shared queue (injector, lanes or inbox).
    pub(crate) fn any_queued(&self) -> bool {
        self.has_stealable() || self.remote.iter().any(|r| !r.inbox.is_empty())
    }

    /// True if heavy work is queued in any stealable lane.
    pub(crate) fn has_heavy(&self) -> bool {
        let h = Weight::Heavy.index();
        !self.injector[h].is_empty() || self.remote.iter().any(|r| !r.stealers[h].is_empty())
    }

    /// True if `find_work` could find something for worker `me` right now. It takes
    /// nothing, so a worker can look before it withdraws from sleep (README.md).
    pub(crate) fn has_work_for(&self, me: usize, local: &LocalLanes, heavy: &HeavyAccess<'_>) -> bool {
        let (l, m, h) = (Weight::Light.index(), Weight::Medium.index(), Weight::Heavy.index());
        let heavy_ok = heavy.may_run();
        self.has_pinned(me, local)
            || !local.deques[l].is_empty()
            || !local.deques[m].is_empty()
            || (heavy_ok && !local.deques[h].is_empty())
            || !self.injector[l].is_empty()
            || !self.injector[m].is_empty()
            || (heavy_ok && !self.injector[h].is_empty())
            || self.remote.iter().enumerate().any(|(w, r)| {
                w != me
                    && (!r.stealers[l].is_empty()
                        || !r.stealers[m].is_empty()
                        || (heavy_ok && !r.stealers[h].is_empty()))
            })
    }

    /// Control plane (`control/sweep.rs`): takes every task out of every queue, with
    /// the worker it is pinned to for pinned lanes and inboxes, and, if `keep`, for a
    /// worker's own stealable lanes too (under `HelpPolicy::OwnLanes` a waiting task's
    /// children and `join` stack jobs must come back where their waiter looks). The
    /// caller must not push back into these queues from `f` (it collects and requeues
    /// afterwards).
    pub(crate) fn take_all(&self, keep: bool, f: &mut dyn FnMut(TaskRef, Option<usize>)) {
        for q in &self.injector {
            while let Some(task) = retry(|| q.steal()) {
                f(task, None);
            }
        }
        for (w, r) in self.remote.iter().enumerate() {
            for s in &r.stealers {
                while let Some(task) = retry(|| s.steal()) {
                    f(task, keep.then_some(w));
                }
            }
            while let Some(task) = retry(|| r.pinned.steal()) {
                f(task, Some(w));
            }
            while let Some(task) = retry(|| r.inbox.steal()) {
                f(task, Some(w));
            }
        }
    }

    /// Drains every shared queue, handing each task to `resolve` (which resolves it
    /// as `Shutdown` and counts it: `Metrics::abort`).
    pub(crate) fn drain_shared(&self, resolve: &mut dyn FnMut(TaskRef)) {
        for q in self.injector.iter().chain(self.remote.iter().map(|r| &r.inbox)) {
            drain_injector(q, resolve);
        }
    }

    /// Metrics: tasks queued now in the injectors, the stealable lanes and the
    /// inboxes (a racy count, for `Handle::metrics`).
    pub(crate) fn queued_by_kind(&self) -> (usize, usize, usize) {
        let injector = self.injector.iter().map(Injector::len).sum();
        let local = self
            .remote
            .iter()
            .flat_map(|r| r.stealers.iter())
            .map(Stealer::len)
            .sum();
        let pinned = self.remote.iter().map(|r| r.inbox.len() + r.pinned.len()).sum();
        (injector, local, pinned)
    }

    fn take_injected(&self, local: &LocalLanes, heavy: &HeavyAccess<'_>) -> Option<Found> {
        let light = &self.injector[Weight::Light.index()];
        let medium = &self.injector[Weight::Medium.index()];
        // `is_empty` first: an empty `Injector::steal` still pays a SeqCst fence.
        let batch = |q: &Injector<TaskRef>, weight: Weight| {
            let dest = local.fill(weight);
            let task = match weight {
                Weight::Light => retry(|| q.steal_batch_and_pop(dest)),
                _ => retry(|| q.steal_batch_with_limit_and_pop(dest, TUNING.medium_batch)),
            }?;
            Some(Found {
                moved: !dest.is_empty(),
                ..Found::own(task)
            })
        };
        let found = nonempty(light)
            .and_then(|q| batch(q, Weight::Light))
            .or_else(|| nonempty(medium).and_then(|q| batch(q, Weight::Medium)));
        if found.is_some() {
            return found;
        }
        let lane = &self.injector[Weight::Heavy.index()];
        if lane.is_empty() {
            return None;
        }
        heavy
            .with_permit(|| retry(|| lane.steal()))
            .map(|(task, permit)| Found {
                task,
                permit,
                stolen: 0,
                moved: false,
            })
    }

    /// The victim (not `me`) with the longest `weight` lane, if any is non-empty,
    /// among at most [`STEAL_WINDOW`] workers: a window that starts after `me` and
    /// moves on with every search (`tick`), so a search costs the same in any pool
    /// size (issue 10, finding 8) and every victim is still looked at in turn. A
    /// worker never parks on a windowed search alone: its last look before parking
    /// (`has_work_for`) covers every queue.
    fn busiest(&self, me: usize, weight: Weight, tick: u32) -> Option<&Stealer<TaskRef>> {
        let n = self.remote.len();
        if n <= STEAL_WINDOW {
            // A small pool: every victim, without the window's index arithmetic.
            return self.longest(weight, (0..n).filter(|w| *w != me));
        }
        let start = me + 1 + (tick as usize).wrapping_mul(STEAL_WINDOW);
        self.longest(weight, (0..STEAL_WINDOW).map(|i| (start + i) % n).filter(|w| *w != me))
    }

    /// The longest non-empty `weight` lane among `victims`.
    fn longest(&self, weight: Weight, victims: impl Iterator<Item = usize>) -> Option<&Stealer<TaskRef>> {
        victims
            .map(|w| &self.remote[w].stealers[weight.index()])
            .map(|s| (s.len(), s))
            .filter(|(len, _)| *len > 0)
            .max_by_key(|(len, _)| *len)
            .map(|(_, s)| s)
    }

    fn steal(&self, me: usize, local: &LocalLanes, tick: u32, heavy: &HeavyAccess<'_>) -> Option<Found> {
        if let Some(victim) = self.busiest(me, Weight::Heavy, tick) {
            if let Some((task, permit)) = heavy.with_permit(|| retry(|| victim.steal())) {
                return Some(Found {
                    task,
                    permit,
                    stolen: 1,
                    moved: false,
                });
            }
        }
        for weight in [Weight::Medium, Weight::Light] {
            let Some(victim) = self.busiest(me, weight, tick) else {
                continue;
            };
            let dest = local.fill(weight);
            let before = dest.len();
            let task = match weight {
                Weight::Medium => steal_medium(victim, dest),
                _ => retry(|| victim.steal_batch_and_pop(dest)),
            };
            if let Some(task) = task {
                let stolen = 1 + dest.len().saturating_sub(before);
                return Some(Found {
                    task,
                    permit: false,
                    stolen,
                    moved: stolen > 1,
                });
            }
        }
        None
    }

    /// Searches for work for worker `me`, in the documented order. Heavy work from a
    /// stealable lane is only taken through `heavy` (the reservation).
    #[inline]
    pub(crate) fn find_work(&self, me: usize, local: &LocalLanes, tick: u32, heavy: &HeavyAccess<'_>) -> Option<Found> {
        if tick % INJECTOR_EVERY == 0 {
            if let Some(found) = self.take_injected(local, heavy) {
                return Some(found);
            }
        }
        if let Some(task) = self.pinned(me, local) {
            return Some(Found::own(task));
        }
        for weight in [Weight::Light, Weight::Medium] {
            if let Some(task) = local.pop_weight(weight) {
                return Some(Found::own(task));
            }
        }
        let lane = &local.deques[Weight::Heavy.index()];
        if local.may_hold(Weight::Heavy) && !lane.is_empty() {
            if let Some((task, permit)) = heavy.with_permit(|| lane.pop()) {
                return Some(Found {
                    task,
                    permit,
                    stolen: 0,
                    moved: false,
                });
            }
        }
        self.take_injected(local, heavy)
            .or_else(|| self.steal(me, local, tick, heavy))
    }

    /// Work from worker `me`'s own lanes only (pinned, then Light → Medium → Heavy):
    /// what a waiter under `HelpPolicy::OwnLanes` may run. Never the injector, never
    /// a steal.
    pub(crate) fn find_own(&self, me: usize, local: &LocalLanes, heavy: &HeavyAccess<'_>) -> Option<Found> {
        if let Some(task) = self.pinned(me, local) {
            return Some(Found::own(task));
        }
        for weight in [Weight::Light, Weight::Medium] {
            if let Some(task) = local.pop_weight(weight) {
                return Some(Found::own(task));
            }
        }
        let lane = &local.deques[Weight::Heavy.index()];
        if !local.may_hold(Weight::Heavy) || lane.is_empty() {
            return None;
        }
        heavy.with_permit(|| lane.pop()).map(|(task, permit)| Found {
            task,
            permit,
            stolen: 0,
            moved: false,
        })
    }

    /// True if `find_own` could find something for worker `me` right now.
    pub(crate) fn has_own_work(&self, me: usize, local: &LocalLanes, heavy: &HeavyAccess<'_>) -> bool {
        let h = Weight::Heavy.index();
        self.has_pinned(me, local)
            || local.deques[..h].iter().any(|d| !d.is_empty())
            || (heavy.may_run() && !local.deques[h].is_empty())
    }

    /// Pops worker `me`'s pinned work: its own LIFO lane, then its inbox.
    pub(crate) fn pinned(&self, me: usize, local: &LocalLanes) -> Option<TaskRef> {
        local
            .pop_pinned()
            .or_else(|| nonempty(&self.remote[me].inbox).and_then(|q| retry(|| q.steal())))
    }

    /// True if worker `me` may have pinned work queued: `has_pinned`, for a hot path,
    /// with the pinned lane's `maybe` bit (which may be stale, never wrongly clear)
    /// in place of a look at the lane.
    #[inline]
    pub(crate) fn may_have_pinned(&self, me: usize, local: &LocalLanes) -> bool {
        local.maybe.get() & PINNED_BIT != 0 || !self.remote[me].inbox.is_empty()
    }

    /// True if worker `me` has pinned work queued.
    pub(crate) fn has_pinned(&self, me: usize, local: &LocalLanes) -> bool {
        !local.pinned.is_empty() || !self.remote[me].inbox.is_empty()
    }
}

fn drain_injector(q: &Injector<TaskRef>, resolve: &mut dyn FnMut(TaskRef)) {
    loop {
        match q.steal() {
            Steal::Success(task) => resolve(task),
            Steal::Retry => continue,
            Steal::Empty => break,
        }
    }
}

/// `Some(q)` if `q` looks non-empty (two loads; no fence).
fn nonempty(q: &Injector<TaskRef>) -> Option<&Injector<TaskRef>> {
    (!q.is_empty()).then_some(q)
}

/// A steal from a victim's `Medium` lane. The oldest task comes first, alone: if it
/// is a `join`'s stack job (the bottom of a fork-join recursion, its biggest piece
/// of work), that is the whole steal, as in rayon; batching forks moved the victim's
/// next forks away too, and it then waited for them (fib(25) on 2 workers, in one
/// interleaved probe: 1.24x rayon's time with batches, 1.12x without). A spawned
/// task brings a small batch behind it into `dest`, as many as one batch steal
/// took before (the first and up to half of the rest, at most `medium_batch` in
/// all), so a victim keeps its newest task.
fn steal_medium(victim: &Stealer<TaskRef>, dest: &Worker<TaskRef>) -> Option<TaskRef> {
    let queued = victim.len();
    let first = retry(|| victim.steal())?;
    let more = (queued.saturating_sub(1) / 2).min(TUNING.medium_batch - 1);
    if !first.is_stack_job() && more > 0 {
        if let Some(next) = retry(|| victim.steal_batch_with_limit_and_pop(dest, more)) {
            dest.push(next);
        }
    }
    Some(first)
}

/// Repeats a steal while it asks to be retried.
fn retry(mut f: impl FnMut() -> Steal<TaskRef>) -> Option<TaskRef> {
    loop {
        match f() {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => crate::sync::spin_hint(),
        }
    }
}
