//! Internals exposed to the loom models in `loom-tests/`. Compiled only under
//! `--cfg tokengate_loom`; never part of the normal public API.
//!
//! Every item here is a thin wrapper that forwards to the real `pub(crate)` code, so
//! the models exercise the production protocols (claim/publish, sleep/wake, lanes,
//! heavy permits, locality), not copies of them. Nothing here adds logic of its own
//! beyond building the arguments the crate-internal functions expect.
//!
//! The whole module must be used inside `loom::model`: the wrapped types hold loom
//! atomics, cells and queues.

use std::ptr::NonNull;

use crate::lanes::{HeavyAccess, Lane, LocalLanes, SharedLanes};
use crate::locality::Placement;
use crate::op::{Op, Weight};
use crate::registry::OpId;
use crate::sync::{Arc, Thread};
use crate::task::{self, Header, Meta, TaskRef, Times};
use crate::token::Token;
use crate::LocalityStats;

mod control;
mod fork;

// ----- tasks ----------------------------------------------------------------------

/// A queue's reference to a task (`TaskRef`): run it, resolve it, or drop it (the
/// drop resolves a still-queued task as `Shutdown`, the safety net).
pub struct QueuedTask {
    task: TaskRef,
    /// The task's header, kept from `task::new` (whose second pointer is the same
    /// block) for tasks this module allocated; `None` for tasks handed back by
    /// `find_work`, which only ever get run.
    header: Option<NonNull<Header>>,
}

// SAFETY: `TaskRef` is `Send`, and `header` points into the block that reference
// keeps alive; it is only used to read the header's immutable `meta`.
unsafe impl Send for QueuedTask {}

/// Allocates a free (unpinned) task: the queue's reference and the caller's token.
pub fn task<F, T>(f: F) -> (QueuedTask, Token<T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    task_with(Placement::Free, OpId::NONE, f)
}

/// Allocates a task with a placement from [`Locality::place`]. The placement is
/// released when the task resolves, exactly as in a spawn.
pub fn task_placed<F, T>(placement: Placed, f: F) -> (QueuedTask, Token<T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    task_with(placement.0, OpId::NONE, f)
}

fn task_with<F, T>(placement: Placement, op: OpId, f: F) -> (QueuedTask, Token<T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (task, ptr) = task::new(
        f,
        Meta::new(task::next_id(), placement, Weight::Medium, op, Times::queued_at(0)),
    );
    (
        QueuedTask {
            task,
            header: Some(ptr),
        },
        Token::from_raw(ptr),
    )
}

impl QueuedTask {
    fn found(task: TaskRef) -> Self {
        QueuedTask { task, header: None }
    }

    /// `TaskRef::run`: runs the task unless someone claimed it first. True if it ran.
    pub fn run(self) -> bool {
        self.task.run()
    }

    /// `TaskRef::abort(Shutdown)`: resolves the task as `Shutdown` unless claimed.
    pub fn abort_shutdown(self) {
        self.task.abort(crate::TaskError::Shutdown)
    }

    fn placement(&self) -> &Placement {
        let header = self
            .header
            .expect("only tasks allocated by loom_api can be a `current` task");
        // SAFETY: `self.task` owns a reference to this block, so the header is alive
        // while `self` is, and `meta` never changes after `task::new`.
        unsafe { &header.as_ref().meta.placement }
    }
}

// ----- sleep ----------------------------------------------------------------------

/// The pool's sleep state (`sleep::Sleep`), for models of the sleep/wake protocol.
pub struct Sleep(crate::sleep::Sleep);

impl Sleep {
    /// Sleep state for `workers` workers.
    pub fn new(workers: usize) -> Self {
        Sleep(crate::sleep::Sleep::new(workers))
    }
    /// Registers worker `w`'s thread (to be unparked by notifiers).
    pub fn register(&self, w: usize, thread: Thread) {
        self.0.register(w, thread, None)
    }
    /// Registers worker `w`'s thread, pinned to CPU `cpu` (for `hand_off`).
    pub fn register_on(&self, w: usize, thread: Thread, cpu: usize) {
        self.0.register(w, thread, Some(cpu))
    }
    /// Worker side: searcher `w`, on a spinning waiter's CPU, hands its search to
    /// a worker on another CPU; true if another worker now searches.
    pub fn hand_off(&self, w: usize) -> bool {
        self.0.hand_off(w, || true)
    }
    /// Pusher side: wakes one idle worker unless someone searches.
    pub fn notify_one(&self) {
        self.0.notify_one()
    }
    /// Wakes every worker.
    pub fn notify_all(&self) {
        self.0.notify_all()
    }
    /// Worker side: become a searcher.
    pub fn try_start_spinning(&self) -> bool {
        self.0.try_start_spinning()
    }
    /// Worker side: stop searching; true if this was the last searcher.
    pub fn stop_spinning(&self) -> bool {
        self.0.stop_spinning()
    }
    /// Worker side: announce sleep (bit + fence).
    pub fn announce_sleep(&self, w: usize) {
        self.0.announce_sleep(w)
    }
    /// Worker side: withdraw the announcement; false if a notifier claimed us.
    pub fn cancel_sleep(&self, w: usize) -> bool {
        self.0.cancel_sleep(w)
    }
    /// True while `w`'s idle bit is set.
    pub fn is_announced(&self, w: usize) -> bool {
        self.0.is_announced(w)
    }
    /// Pusher side: wakes worker `w` for pinned work, wherever it is parked.
    pub fn notify_worker(&self, w: usize) {
        self.0.notify_worker(w)
    }
    /// Worker side: announce a park inside `wait()` under `HelpPolicy::OwnLanes`.
    pub fn announce_pinned_wait(&self, w: usize) {
        self.0.announce_pinned_wait(w)
    }
    /// Worker side: withdraw it; false if a notifier claimed us.
    pub fn cancel_pinned_wait(&self, w: usize) -> bool {
        self.0.cancel_pinned_wait(w)
    }
    /// Workers counted as searching now (for conservation checks).
    pub fn searching(&self) -> isize {
        self.0.searching()
    }
}

// ----- slabs ----------------------------------------------------------------------

/// A slab's count of live blocks (`blocks/slab.rs`), for its conservation model.
pub struct SlabCount(crate::blocks::slab::SlabCount);

impl Default for SlabCount {
    fn default() -> Self {
        SlabCount(crate::blocks::slab::SlabCount::new())
    }
}

impl SlabCount {
    /// One block freed; true if the caller must free the slab.
    pub fn free_one(&self) -> bool {
        self.0.free_one()
    }
    /// The owner retires the slab after `carved` blocks; true if the caller must
    /// free the slab.
    pub fn retire(&self, carved: usize) -> bool {
        self.0.retire(carved)
    }
}

// ----- lanes ----------------------------------------------------------------------

/// The queues every thread can reach (`lanes::SharedLanes`).
pub struct Lanes(SharedLanes);

/// One worker's private lanes (`lanes::LocalLanes`). Use it from one thread only.
pub struct Local(LocalLanes);

/// The heavy reservation (`lanes::HeavyGate`).
pub struct HeavyGate(crate::lanes::HeavyGate);

/// A task found by [`Lanes::find_work`].
pub struct Found {
    /// The task to run.
    pub task: QueuedTask,
    /// A heavy permit was taken for it; release it after the task runs.
    pub permit: bool,
    /// Tasks moved from another worker's lanes (0 if not stolen).
    pub stolen: usize,
}

/// Builds the shared queues and each worker's private lanes, as `build()` does.
pub fn lanes(workers: usize) -> (Lanes, Vec<Local>) {
    let (shared, locals) = SharedLanes::new(workers);
    (Lanes(shared), locals.into_iter().map(Local).collect())
}

impl Lanes {
    /// Pushes to the global injector of `weight` (a spawn from outside the pool).
    pub fn push_injector(&self, weight: Weight, task: QueuedTask) {
        self.0.push_injector(weight, task.task)
    }
    /// `SharedLanes::find_work` for worker `me` with the given heavy access.
    pub fn find_work(
        &self,
        me: usize,
        local: &Local,
        tick: u32,
        gate: &HeavyGate,
        holding: bool,
        helping: bool,
    ) -> Option<Found> {
        let heavy = HeavyAccess {
            gate: &gate.0,
            holding,
            helping,
        };
        self.0.find_work(me, &local.0, tick, &heavy).map(|f| Found {
            task: QueuedTask::found(f.task),
            permit: f.permit,
            stolen: f.stolen,
        })
    }
}

impl Local {
    /// Pushes to this worker's own lane of `weight` (a spawn from inside a task).
    /// True if the lane was empty (the spawn then wakes a parked worker).
    pub fn push(&self, weight: Weight, task: QueuedTask) -> bool {
        self.0.push_to(Lane::Weight(weight), task.task)
    }
}

impl HeavyGate {
    /// A gate letting at most `limit` workers run heavy work at once.
    pub fn new(limit: usize) -> Self {
        HeavyGate(crate::lanes::HeavyGate::new(limit))
    }
    /// Gives a permit back.
    pub fn release(&self) {
        self.0.release()
    }
    /// Permits held now.
    pub fn held(&self) -> usize {
        self.0.held()
    }
}

// ----- locality -------------------------------------------------------------------

/// One coordinator's locality state (`locality::Locality`).
#[derive(Clone)]
pub struct Locality(Arc<crate::locality::Locality>);

/// A placement decided by [`Locality::place`], not yet attached to a task.
pub struct Placed(Placement);

impl Locality {
    /// Locality state for `workers` workers (anchor table of `TUNING.anchor_slots`).
    pub fn new(workers: usize) -> Self {
        Locality(Arc::new(crate::locality::Locality::new(workers)))
    }

    /// `Locality::place`, as a spawn calls it. `current` is the task "running" on
    /// this thread (its placement is what a child inherits); `least_loaded` picks a
    /// worker when a slot or domain is placed anew. Returns the placement and the
    /// worker it pins to (`None`: free).
    pub fn place<K>(
        &self,
        op: &Op<K>,
        current: Option<&QueuedTask>,
        least_loaded: impl Fn() -> usize,
    ) -> (Placed, Option<usize>) {
        let current = current.map(QueuedTask::placement);
        let (p, w) = crate::locality::Locality::place(&self.0, op.tag(), task::next_id(), current, least_loaded);
        (Placed(p), w)
    }

    /// The worker an anchor is pinned to, if any of its tokens is active.
    pub fn anchor_worker(&self, anchor: &str) -> Option<usize> {
        self.0.anchor_worker(crate::op::fnv1a(anchor.as_bytes()))
    }

    /// Domain and pin counters.
    pub fn stats(&self) -> LocalityStats {
        self.0.stats()
    }
}

// ----- stack jobs (`fork.rs`) and a join's take-back (`lanes/own.rs`) -------------

pub use fork::{forked, stack_job, Fork, ForkedJob, TakeBack};

// ----- control plane (`control/`) -------------------------------------------------

/// Allocates a free task of `op` (its op id is what pause and drain look at).
pub fn task_of<K, F, T>(op: &Op<K>, f: F) -> (QueuedTask, Token<T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (task, ptr) = task::new(
        f,
        Meta::new(
            task::next_id(),
            Placement::Free,
            Weight::Medium,
            op.id(),
            Times::queued_at(0),
        ),
    );
    (
        QueuedTask {
            task,
            header: Some(ptr),
        },
        Token::from_raw(ptr),
    )
}

pub use control::{Admission, Control, Mover};

// ----- storage lane -----------------------------------------------------------------

/// One storage tier's queue and slot word (`storage::tier::Tier`), for models of the
/// slot protocol. A model plays the storage threads itself: whoever is told a slot is
/// free (`push`, `set_limit`) or gives one back (`release`) runs `admit` until it
/// returns `None`, as a woken storage thread does.
pub struct StorageTier(crate::storage::Tier);

impl StorageTier {
    /// A tier with `limit` slots.
    pub fn new(limit: usize) -> Self {
        StorageTier(crate::storage::Tier::new(limit))
    }
    /// `Tier::push`: true if a slot was free (a thread must come).
    pub fn push(&self, task: QueuedTask) -> bool {
        self.0.push(task.task)
    }
    /// `Tier::admit`: a slot and the oldest queued task, if both are available.
    pub fn admit(&self) -> Option<QueuedTask> {
        self.0.admit().map(QueuedTask::found)
    }
    /// `Tier::release`: gives back an admitted task's slot.
    pub fn release(&self) {
        self.0.release()
    }
    /// `Tier::set_limit`: how many queued tasks may now be admitted.
    pub fn set_limit(&self, limit: usize) -> usize {
        self.0.set_limit(limit)
    }
    /// `Tier::drain` of everything, each resolved `Shutdown` (the lane's abort).
    pub fn abort_queued(&self) {
        for task in self.0.drain(|_| true) {
            task.abort(crate::TaskError::Shutdown);
        }
    }
    /// `(active, queued)` now.
    pub fn counts(&self) -> (usize, usize) {
        let c = self.0.counts();
        (c.active, c.queued)
    }
}

/// A one-worker pool's metrics (`metrics/mod.rs`), for the counting model: tasks of
/// one op, released the way a worker (`run`) or a drain (`drain`) releases them.
pub struct Metrics(crate::metrics::Metrics, OpId);

impl Metrics {
    /// Metrics for one worker, recording, without history.
    pub fn new() -> Self {
        Metrics(crate::metrics::Metrics::new(1, true, 0), OpId::intern("loom-metrics"))
    }

    /// A queued task of the op, counted as submitted from outside.
    pub fn task<F, T>(&self, f: F) -> (QueuedTask, Token<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.0.submitted(self.1, Weight::Medium, None);
        task_with(Placement::Free, self.1, f)
    }

    /// A worker's `execute`: runs the task unless claimed, and counts the release.
    pub fn run(&self, task: QueuedTask) -> bool {
        task.task
            .run_then(|meta, here| self.0.released_on_worker(meta, here, 0, false))
    }

    /// A drain: resolves the task `Shutdown` unless claimed, and counts the release.
    pub fn drain(&self, task: QueuedTask) {
        self.0.abort(task.task, None);
    }

    /// `[submitted, completed, panicked, cancelled, expired, shutdown]` of the op,
    /// then the worker's `executed`.
    pub fn counts(&self) -> [u64; 7] {
        let m = self
            .0
            .snapshot(&[(None, false)], crate::metrics::Queued::default(), Vec::new());
        let o = m.op("loom-metrics").expect("the op was recorded");
        [
            o.submitted,
            o.completed,
            o.panicked,
            o.cancelled,
            o.expired,
            o.shutdown,
            m.workers()[0].executed,
        ]
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

// ----- handle units (handle_refs.rs) ------------------------------------------------

/// The pool-wide count of handle units (`HandleCount`), on its own.
pub struct HandleUnits(crate::handle_refs::HandleCount);

impl HandleUnits {
    /// A count of zero.
    pub fn new() -> HandleUnits {
        HandleUnits(crate::handle_refs::HandleCount::new())
    }

    /// `HandleCount::revive`: true if the count was zero (add the group reference).
    pub fn revive(&self) -> bool {
        self.0.revive()
    }

    /// `HandleCount::add`: the caller holds a unit.
    pub fn add(&self, n: usize) {
        self.0.add(n);
    }

    /// `HandleCount::sub`: true if these were the last units (drop the group reference).
    pub fn sub(&self, n: usize) -> bool {
        self.0.sub(n)
    }

    /// The units now.
    pub fn units(&self) -> usize {
        self.0.units()
    }
}

impl Default for HandleUnits {
    fn default() -> Self {
        HandleUnits::new()
    }
}

/// One worker's cache of units (`HandleCredits`); use it from one thread only.
pub struct UnitCache(crate::handle_refs::HandleCredits);

impl UnitCache {
    /// An empty cache.
    pub fn new() -> UnitCache {
        UnitCache(crate::handle_refs::HandleCredits::new())
    }

    /// A unit for a clone (refills by `batch` when empty).
    pub fn take(&self, count: &HandleUnits, batch: usize) {
        self.0.take(&count.0, batch);
    }

    /// A cached unit, if any (`Handle::current`).
    pub fn try_take(&self) -> bool {
        self.0.try_take()
    }

    /// The unit of a dropped handle (returns `batch` when over `2 * batch`).
    pub fn put(&self, count: &HandleUnits, batch: usize) {
        self.0.put(&count.0, batch);
    }

    /// Gives every cached unit back: true if they were the last.
    pub fn give_back(&self, count: &HandleUnits) -> bool {
        self.0.give_back(&count.0)
    }
}

impl Default for UnitCache {
    fn default() -> Self {
        UnitCache::new()
    }
}
