//! The worker thread: its loop, how it idles, and what it does while a task waits.
//!
//! A worker repeats: find work (in the order documented in `lanes/mod.rs`) and run it.
//! When it finds none, it searches a little longer as a *spinner*, then parks
//! (protocol: `sleep/README.md`). A task that calls `Token::wait()` on a worker
//! thread does not park while there is work it may run: it runs queued tasks (its
//! own pinned lanes first) until its token resolves. This is what lets a task wait
//! on its own children with a single worker.

use std::cell::Cell;
use std::ptr::{self, NonNull};

use crate::builder::HelpPolicy;
use crate::coordinator::Shared;
use crate::handle_refs::{HandleCredits, HANDLE_BATCH};
use crate::lanes::{Fork, Found, HeavyAccess, Lane, LocalLanes, TakeBack};
use crate::locality::Placement;
use crate::op::Weight;
use crate::stack::StackFloor;
use crate::sync::{fence, Arc, Ordering, Worker};
use crate::task::{Header, TaskRef};

mod idle;
mod info;
mod wait;

pub(crate) use info::WorkerInfo;
pub use info::WorkerStats;
pub(crate) use wait::wait_until_done;

crate::sync::const_thread_local! {
    /// The worker running on this thread, if any; set for the thread's whole life.
    static WORKER: Cell<*const WorkerCtx> = Cell::new(ptr::null());
}
crate::sync::const_thread_local! {
    /// The task running on this thread, if any (innermost, when nested by `wait()`).
    static CURRENT_TASK: Cell<Option<NonNull<Header>>> = Cell::new(None);
}

/// The per-worker settings chosen on the `Builder`.
#[derive(Clone, Copy)]
pub(crate) struct WorkerSettings {
    /// The thread's stack size, in bytes (what the thread was spawned with).
    pub stack_size: usize,
    /// What a waiting worker may run meanwhile.
    pub help_policy: HelpPolicy,
}

/// Everything a worker thread owns. Lives on the worker's stack for its whole life.
pub(crate) struct WorkerCtx {
    index: usize,
    shared: Arc<Shared>,
    /// `&shared.workers[index]`, without the index arithmetic on the hot path.
    info: NonNull<WorkerInfo>,
    local: LocalLanes,
    tick: Cell<u32>,
    /// True while this worker holds a heavy permit (inside a heavy task).
    holding_heavy: Cell<bool>,
    help_policy: HelpPolicy,
    /// How deep this worker's stack may get (issue 10, finding 4).
    stack: StackFloor,
    /// This worker's cache of handle units (`handle_refs.rs`).
    handle_units: HandleCredits,
    /// When this worker last woke another to hand its search over (raw clock
    /// reading): at most one such wake per `idle::HAND_OFF_EVERY`.
    last_hand_off: Cell<u64>,
    /// Whether the last task this worker found was found without parking first:
    /// work arrives in a stream, and handing the search to a worker on another CPU
    /// pays for its wake. After a park (one task every few ms) it would not.
    streak: Cell<bool>,
    /// Whether this worker's last park lasted at least `idle::LONG_PARK`: after a
    /// task that came after such a park, it searches only `quiet_spin_rounds` before
    /// parking again (`WorkerCtx::search_rounds`).
    long_park: Cell<bool>,
}

/// Runs `f` with the current thread's worker context, if it is a worker of `shared`.
#[inline]
pub(crate) fn with_ctx_of<R>(shared: &Shared, f: impl FnOnce(Option<&WorkerCtx>) -> R) -> R {
    with_ctx(|ctx| f(ctx.filter(|c| ptr::eq(&*c.shared, shared))))
}

/// Runs `f` with the shared state of the pool whose worker runs this thread, if any.
#[inline]
pub(crate) fn with_current_shared<R>(f: impl FnOnce(Option<&Arc<Shared>>) -> R) -> R {
    with_ctx(|ctx| f(ctx.map(|c| &c.shared)))
}

/// Runs `f` with the worker context of the current thread, if it is a worker.
#[inline]
pub(crate) fn with_ctx<R>(f: impl FnOnce(Option<&WorkerCtx>) -> R) -> R {
    let raw = WORKER.with(Cell::get);
    // SAFETY: `WORKER` is only non-null while `run` is on this thread's stack, with the
    // context alive in that frame, and `f` cannot outlive this call.
    f(unsafe { raw.as_ref() })
}

/// The index of the worker running the calling code, or `None` outside any worker.
///
/// ```
/// use tokengate::{current_worker, Coordinator, Op};
/// let gate = Coordinator::builder().workers(2).build().unwrap();
/// assert_eq!(current_worker(), None);
/// let inside = gate.spawn(&Op::new("where"), current_worker).wait().unwrap();
/// assert!(matches!(inside, Some(0 | 1)));
/// ```
pub fn current_worker() -> Option<usize> {
    with_ctx(|ctx| ctx.map(|c| c.index))
}

/// True if the task running on this thread was asked to stop by
/// [`Token::cancel`](crate::Token::cancel). A long task may poll it and return early.
/// Outside a task it returns `false`.
///
/// ```
/// use tokengate::{is_cancelled, Coordinator, Op};
/// let gate = Coordinator::builder().workers(1).build().unwrap();
/// assert!(!gate.spawn(&Op::new("x"), is_cancelled).wait().unwrap());
/// ```
pub fn is_cancelled() -> bool {
    // SAFETY: `CURRENT_TASK` points to the task this thread is running, which holds a
    // reference (its `TaskRef`) until after the pointer is cleared.
    CURRENT_TASK
        .with(Cell::get)
        .is_some_and(|h| unsafe { h.as_ref() }.cancel_requested())
}

/// The task running on this thread, if any (innermost, when nested by `wait()`).
#[inline]
pub(crate) fn current_task() -> Option<NonNull<Header>> {
    CURRENT_TASK.with(Cell::get)
}

/// Runs `f` with the placement of the task running on this thread, if any.
#[inline]
pub(crate) fn with_current_placement<R>(f: impl FnOnce(Option<&Placement>) -> R) -> R {
    let current = CURRENT_TASK.with(Cell::get);
    // SAFETY: as in `is_cancelled`: the running task is alive for the whole call.
    f(current.map(|h| &unsafe { h.as_ref() }.meta.placement))
}

impl WorkerCtx {
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// This worker's entry in `shared.workers`.
    #[inline]
    fn info(&self) -> &WorkerInfo {
        // SAFETY: it points into `self.shared`, which this context keeps alive.
        unsafe { self.info.as_ref() }
    }

    /// The worker thread's body. `ready` is called once the worker is registered.
    pub(crate) fn run(
        shared: Arc<Shared>,
        index: usize,
        local: LocalLanes,
        core: Option<core_affinity::CoreId>,
        settings: WorkerSettings,
        ready: impl FnOnce(),
    ) {
        // The stack grows down from about here; the thread has `stack_size` bytes in
        // all, a little of which is already used above this frame.
        let stack = StackFloor::here(settings.stack_size);
        let info = &shared.workers[index];
        let mut pinned_cpu = None;
        if let Some(core) = core {
            info.core.store(core.id, Ordering::Relaxed);
            let pinned = core_affinity::set_for_current(core);
            // ORDERING: Release, read by `snapshot` after start-up.
            info.pinned.store(pinned, Ordering::Release);
            pinned_cpu = pinned.then_some(core.id);
        }
        shared.sleep.register(index, crate::sync::current(), pinned_cpu);
        ready();
        let info = NonNull::from(&**info);
        let ctx = WorkerCtx {
            index,
            shared,
            info,
            local,
            tick: Cell::new(0),
            holding_heavy: Cell::new(false),
            help_policy: settings.help_policy,
            stack,
            handle_units: HandleCredits::new(),
            last_hand_off: Cell::new(0),
            streak: Cell::new(false),
            long_park: Cell::new(false),
        };
        WORKER.with(|w| w.set(&ctx));
        let guard = AbortOnUnwind;
        ctx.main_loop();
        ctx.drain_own();
        std::mem::forget(guard);
        WORKER.with(|w| w.set(ptr::null()));
        // Handles dropped from here on count directly; give the cached units back.
        if ctx.handle_units.give_back(&ctx.shared.handles) {
            // SAFETY: those were the last units, so the handles' group reference
            // (`handle_refs.rs`) is dropped here, once; it is a strong count of this
            // same `Arc`, so dropping a bitwise copy of `ctx.shared` releases it.
            drop(unsafe { ptr::read(&ctx.shared) });
        }
    }

    /// Handle hook (`handle_refs.rs`): a unit for a clone of one of this pool's
    /// handles, from this worker's cache.
    #[inline]
    pub(crate) fn take_handle_unit(&self) {
        self.handle_units.take(&self.shared.handles, HANDLE_BATCH);
    }

    /// Handle hook: the unit of a dropped handle of this pool goes back to the cache.
    #[inline]
    pub(crate) fn put_handle_unit(&self) {
        self.handle_units.put(&self.shared.handles, HANDLE_BATCH);
    }

    /// `Handle::current`: a cached unit if there is one, else a new unit from this
    /// worker's own strong reference (the count may be zero: `HandleCount::revive`).
    pub(crate) fn current_handle(&self) -> crate::Handle {
        if self.handle_units.try_take() {
            // SAFETY: a bitwise copy standing for the group reference, which the
            // unit just taken from the cache keeps alive (`handle_refs.rs`).
            return crate::Handle {
                shared: std::mem::ManuallyDrop::new(unsafe { ptr::read(&self.shared) }),
            };
        }
        crate::Handle::adopt(Arc::clone(&self.shared))
    }

    fn main_loop(&self) {
        // Whether this worker is counted in `spinning` (it will search every queue
        // before it parks).
        let mut spinning = false;
        while !self.shared.exit_requested() {
            let found = match self.find_work(false) {
                Some(found) => {
                    if spinning {
                        self.found_while_spinning();
                    }
                    self.streak.set(true);
                    found
                }
                None => match self.idle(spinning) {
                    Some(found) => found,
                    None => return,
                },
            };
            // `busy` brackets the outermost task only (nested ones run inside it).
            let info = self.info();
            info.busy.store(true, Ordering::Relaxed);
            self.execute(found, None);
            info.busy.store(false, Ordering::Relaxed);
            // With its own lanes drained, the worker is about to search: count it as
            // a searcher now, before a submitter reacting to the result it just
            // published pushes more work. Otherwise that push would see nobody
            // searching and pay a futex wake of a parked worker on every round trip.
            spinning = self.local.is_drained() && self.shared.sleep.try_start_spinning();
        }
        if spinning {
            self.shared.sleep.stop_spinning();
        }
    }

    fn find_work(&self, helping: bool) -> Option<Found> {
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        let heavy = HeavyAccess {
            gate: &self.shared.heavy,
            holding: self.holding_heavy.get(),
            helping,
        };
        let found = self.taking(|| self.shared.lanes.find_work(self.index, &self.local, tick, &heavy))?;
        if found.moved {
            // The batch's other tasks went onto our stealable lanes: this take
            // pushed them, and while they moved they were in no queue, so a searcher
            // could have looked, found nothing and parked.
            self.wake_after_push();
        }
        Some(found)
    }

    /// This worker pushed stealable work nobody was woken for (`push_own` onto an
    /// empty lane, or a batch take's other tasks in `find_work`): fence, then wake a
    /// parked worker.
    #[inline]
    fn wake_after_push(&self) {
        // ORDERING: SeqCst fence: the write half of the pusher/parker Dekker pair
        // (sleep/README.md).
        fence(Ordering::SeqCst);
        self.shared.sleep.notify_one();
    }

    /// Runs `take` (a take from the queues) announced on this worker's mover
    /// (`control/moves.rs`); what it takes stays announced until `end_take`.
    #[inline]
    pub(crate) fn taking<R>(&self, take: impl FnOnce() -> Option<R>) -> Option<R> {
        let mover = &self.info().mover;
        let began = mover.begin();
        let found = take();
        if found.is_none() {
            mover.abandon(began);
        }
        found
    }

    /// Nothing taken is in hand any more: it was claimed, held, resolved or placed.
    #[inline]
    pub(crate) fn end_take(&self) {
        self.info().mover.end();
    }

    fn heavy_access(&self, helping: bool) -> HeavyAccess<'_> {
        HeavyAccess {
            gate: &self.shared.heavy,
            holding: self.holding_heavy.get(),
            helping,
        }
    }

    /// Runs found work. `waited` is the task this worker is blocked on in
    /// `Token::wait()`, if any: finding that very task takes the waiter's shortcut.
    fn execute(&self, found: Found, waited: Option<&Header>) {
        let Found {
            task, permit, stolen, ..
        } = found;
        if task.is_stack_job() {
            // Never swept: its joiner's running task owns it.
            self.end_take();
        }
        let metrics = &self.shared.metrics;
        if stolen > 0 {
            metrics.stolen(self.index, task.meta().weight, stolen as u64);
        }
        // Control plane (src/control): a paused op's task is held, an expired one
        // resolved. One relaxed load when no control is in use.
        let task = if self.shared.control.is_active() {
            match self.screen(task) {
                Some(task) => task,
                None => {
                    // Held or resolved: nothing in hand.
                    self.end_take();
                    return self.give_back_permit(permit);
                }
            }
        } else {
            task
        };
        task.meta()
            .worker
            .store(self.index as u32 + 1, std::sync::atomic::Ordering::Relaxed);
        if permit {
            self.holding_heavy.set(true);
        }
        // Metrics: counts the run (or the cancellation it finds) before the queue's
        // reference is given up (`metrics/mod.rs`); `nested`: inside another task.
        let release = |meta: &crate::task::Meta, here: bool| {
            metrics.released_on_worker(meta, here, self.index, current_task().is_some());
        };
        match waited {
            Some(header) if task.is(header) => task.run_by_waiter(release),
            _ => task.run_then(release),
        };
        // A claim won ended the take in `as_current`; a claim lost ends it here.
        self.end_take();
        if permit {
            self.holding_heavy.set(false);
            self.shared.heavy.release();
            // A worker refused a permit may have parked with heavy work queued.
            if self.shared.lanes.has_heavy() {
                self.shared.sleep.notify_one();
            }
        }
    }

    /// Control plane: screens a found task (`Control::screen`); `None` if it was
    /// held or resolved instead of being run.
    #[cold]
    fn screen(&self, task: TaskRef) -> Option<TaskRef> {
        let shared = &*self.shared;
        let expire = |t| {
            // The take ends first: the task will not run whatever happens next, and
            // resolving it drops its closure, whose `Drop` (user code) may itself
            // drain or cancel, which must not wait for this worker's mover.
            self.end_take();
            let _ = shared.metrics.resolve(t, crate::TaskError::Expired, Some(self.index));
        };
        shared
            .control
            .screen(task, Some(self.index), &expire, &|t, w| shared.requeue(t, w))
    }

    /// Control plane: a permit taken for a task that did not run goes back.
    fn give_back_permit(&self, permit: bool) {
        if permit {
            self.shared.heavy.release();
            if self.shared.lanes.has_heavy() {
                self.shared.sleep.notify_one();
            }
        }
    }

    /// True if `find_work` could find something for this worker right now.
    fn has_work(&self) -> bool {
        self.shared
            .lanes
            .has_work_for(self.index, &self.local, &self.heavy_access(false))
    }

    /// Queues the stack job of a `join` on one of this worker's own lanes (the rules
    /// are in `fork.rs`): the pinned lane, or the lane of the job's `weight`. Returns
    /// the fork, for `reclaim`.
    #[inline]
    pub(crate) fn push_fork(&self, task: TaskRef, pinned: bool, weight: Weight) -> Fork<'_> {
        let lane = if pinned { Lane::Pinned } else { Lane::Weight(weight) };
        let (fork, was_empty) = self.local.push_fork(lane, task);
        if was_empty {
            self.wake_after_push();
        }
        fork
    }

    /// Pushes onto one of this worker's own lanes, waking a parked worker if a
    /// stealable lane was empty. Only this worker pops them (thieves aside), and it
    /// drains them before it exits, so no shutdown re-check is needed. A push onto a
    /// non-empty lane needs no wake either: the task already there obliges whoever
    /// parks next to look (its look sees the lane non-empty), and a searcher that
    /// finds other work re-checks for leftovers (sleep/README.md).
    #[inline]
    pub(crate) fn push_own(&self, lane: Lane, task: TaskRef) {
        if self.local.push_to(lane, task) {
            self.wake_after_push();
        }
    }

    /// Waits until the stack job `job`, pushed by `push_fork`, can no longer be
    /// reached by any queue or thief. First `LocalLanes::take_back`: one pop with no
    /// announcement when nothing but nested stack jobs was pushed since the fork
    /// (`lanes/own.rs`). Otherwise pops the lane under the mover: when the top is the
    /// job itself, the reference is simply forgotten (the caller then runs the job's
    /// closure directly). Other work found there runs meanwhile; once the lane is
    /// empty, the job was stolen, and the wait continues as `Token::wait` does.
    ///
    /// Returns true if the job was popped back: then no other thread ran it or
    /// registered on it (a sweep may have moved it, which changes nothing of it).
    #[inline(always)]
    pub(crate) fn reclaim(&self, job: &Header, fork: Fork<'_>) -> bool {
        let lane = match self.local.take_back(job, fork) {
            TakeBack::Popped => return true,
            TakeBack::Gone => {
                self.help_until(job, None);
                return false;
            }
            TakeBack::Unsure(lane) => lane,
            TakeBack::Other => crate::error::fatal("a join's take-back popped a task above its stack job"),
        };
        self.reclaim_announced(job, lane)
    }

    /// `reclaim`'s pops under the mover, for when tasks were placed since the fork.
    #[inline(never)]
    fn reclaim_announced(&self, job: &Header, lane: &Worker<TaskRef>) -> bool {
        while !job.is_done() {
            match self.taking(|| lane.pop()) {
                Some(task) if task.is(job) => {
                    self.end_take();
                    task.forget();
                    return true;
                }
                Some(task) => self.run_or_discard(Found::own(task), None),
                None => {
                    self.help_until(job, None);
                    return false;
                }
            }
        }
        false
    }

    /// Runs found work, or resolves it `Shutdown` if the pool is being dropped.
    fn run_or_discard(&self, found: Found, waited: Option<&Header>) {
        if self.shared.exit_requested() {
            self.discard(found);
        } else {
            self.execute(found, waited);
        }
    }

    /// Resolves found work as `Shutdown` without running it.
    fn discard(&self, found: Found) {
        self.shared.metrics.abort(found.task, Some(self.index));
        self.end_take();
        if found.permit {
            self.shared.heavy.release();
        }
    }

    /// Resolves everything in this worker's own queues as `Shutdown`. Used when the
    /// last `Coordinator` is dropped inside one of its own tasks, so peers waiting on
    /// this worker's pinned work are not left waiting for a worker that is blocked.
    pub(crate) fn drain_own(&self) {
        let metrics = &self.shared.metrics;
        self.local.drain(&self.shared.lanes, self.index, &mut |t| {
            metrics.abort(t, Some(self.index))
        });
    }
}

/// Runs `f` (a task's closure) with `CURRENT_TASK` pointing at `task`, so that
/// `is_cancelled` and domain inheritance see it. The pointer is set only while the
/// closure runs: the task may be freed as soon as it completes.
///
/// It is also where a claimed task starts running, so a worker's take ends here
/// (`control/moves.rs`): a sweep need not wait for the run.
#[inline]
pub(crate) fn as_current<R>(task: NonNull<Header>, f: impl FnOnce() -> R) -> R {
    // SAFETY: the caller runs `task`, holding a reference.
    let meta = &unsafe { task.as_ref() }.meta;
    let info = with_ctx(|ctx| match ctx {
        Some(ctx) => {
            ctx.end_take();
            let info: &WorkerInfo = ctx.info();
            let prev = info.running.load(Ordering::Relaxed);
            info.running.store(
                meta.id << info::RUNNING_OP_BITS | meta.op.index() as u64,
                Ordering::Relaxed,
            );
            Some((info as *const WorkerInfo, prev))
        }
        None => {
            crate::storage::claimed_here();
            None
        }
    });
    let prev = CURRENT_TASK.with(|c| c.replace(Some(task)));
    let result = f();
    CURRENT_TASK.with(|c| c.set(prev));
    if let Some((info, prev)) = info {
        // SAFETY: the worker's `Shared` (and its `workers`) outlives its thread's tasks.
        unsafe { &*info }.running.store(prev, Ordering::Relaxed);
    }
    result
}

/// Aborts the process if a worker unwinds: user panics are caught around each task,
/// so an unwind here means one of tokengate's own invariants broke.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        crate::error::fatal("a worker thread unwound; an internal invariant is broken");
    }
}
