//! Fork-join: [`join`] runs two closures, in parallel when a worker is free, and
//! returns both results, as `rayon::join` does.
//!
//! # Stack jobs
//!
//! `join(a, b)` on a worker thread allocates nothing. It builds a *stack job* for `b`
//! in its own frame: a task [`Header`] whose vtable is marked `on_stack`, followed by
//! `b` and a slot for its result. It pushes a queue reference to that header onto its
//! own lane, runs `a` inline, and then takes `b` back:
//!
//! - **Popped back** (nobody stole it): `b` is on top of the joiner's LIFO lane. The
//!   joiner forgets the reference and calls `b` directly: no atomic read-modify-write,
//!   no allocation, no task id.
//! - **Stolen**: the thief runs `b` through the claim/complete protocol of `task/mod.rs`,
//!   whose completion of a stack job publishes `DONE` as its last access to the job.
//!   The joiner runs other work meanwhile (`help_until`, as `Token::wait` does) and
//!   returns once it sees `DONE`.
//! - **Resolved without running**: a pool being dropped discards queued work, and a
//!   dropped queue resolves what it held. A stack job's `abort` keeps `b` in its slot,
//!   and the joiner then runs `b` itself. Nothing is lost.
//!
//! The frame must stay put while a queue or a thief can still reach the job. So from
//! the push until `b` is resolved nothing may unwind: a panic in `a` is caught, and is
//! re-raised once `b` is resolved (a panic in `b` likewise; `a`'s wins if both do).
//!
//! # Where `b` is queued
//!
//! - The calling task is pinned (a sticky anchor or a domain member): the worker's
//!   pinned lane, so `b` is never stolen.
//! - The calling task is `Heavy`: the `Heavy` lane, so a thief needs a heavy permit
//!   of its own and the heavy reservation holds.
//! - Otherwise: the `Medium` lane.
//!
//! `b` runs with the calling task as its current task, wherever it runs: spawns
//! inside it join the caller's domain, and [`is_cancelled`](crate::is_cancelled)
//! reports the caller's cancellation.
//!
//! Outside any worker, `join` ships the whole call to the [`default_coordinator`] as
//! one stack job on its injector, and blocks until it is done.

use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::thread::Result as Caught;
use std::time::{Duration, Instant};

use crate::coordinator::{default_coordinator, Shared};
use crate::error::TaskError;
use crate::op::Weight;
use crate::sync::UnsafeCell;
use crate::task::{Header, TaskRef, VTable};
use crate::worker::{self, WorkerCtx};

/// Runs `a` and `b`, in parallel if a worker is free to take `b`, and returns both
/// results. The cheapest way to fork work inside a task.
///
/// Unlike [`spawn`](crate::spawn), the closures may borrow from the caller's stack,
/// and nothing is allocated: `b` waits in the worker's own queue as a *stack job*, and
/// if no other worker takes it, the caller runs it right after `a`. Use it for
/// recursive divide-and-conquer; use tokens when the caller should not wait.
///
/// On a worker thread, `join` runs on that worker's pool. Anywhere else, it runs on
/// the [`default_coordinator`] and blocks the calling thread until both are done.
///
/// # Panics
///
/// If `a` or `b` panics, the panic is re-raised here after both have finished (if
/// both panic, `a`'s panic is raised). Inside a task, that resolves the task's token
/// as [`TaskError::Panicked`] as usual.
///
/// ```
/// fn fib(n: u64) -> u64 {
///     if n < 2 {
///         return n;
///     }
///     let (a, b) = tokengate::join(|| fib(n - 1), || fib(n - 2));
///     a + b
/// }
/// let gate = tokengate::Coordinator::builder().workers(2).build().unwrap();
/// assert_eq!(gate.spawn(&tokengate::Op::new("fib"), || fib(20)).wait(), Ok(6765));
///
/// // Borrowing from the stack is fine: both halves finish before `join` returns.
/// let data: Vec<u64> = (1..=1000).collect();
/// let (left, right) = data.split_at(500);
/// let (l, r) = tokengate::join(|| left.iter().sum::<u64>(), || right.iter().sum::<u64>());
/// assert_eq!(l + r, 500_500);
/// ```
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    // The closure returns the results themselves, not an enum that a second step
    // unpacks: so the recursion of a divide-and-conquer caller is this one frame,
    // with the results in registers, in whatever crate it is instantiated.
    worker::with_ctx(move |ctx| match ctx {
        Some(ctx) => join_on(ctx, a, b),
        None => join_off_worker(a, b),
    })
}

/// `join` on a thread that is no worker of any pool. Cold and out of line: kept
/// out of `join`'s frame, which on a worker is the hot path.
#[cold]
#[inline(never)]
fn join_off_worker<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    // Storage hook: on a storage thread both halves run here, one after the other,
    // in the task's storage slot (the crate docs, "Storage lane").
    if crate::storage::on_storage_thread() {
        return in_turn(a, b);
    }
    join_from_outside(a, b)
}

/// Both halves on this thread, `a` then `b`, with `join`'s panic rule (`both`).
fn in_turn<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA,
    B: FnOnce() -> RB,
{
    let ra = catch_unwind(AssertUnwindSafe(a));
    both(ra, catch_unwind(AssertUnwindSafe(b)))
}

/// `join` on a worker thread: fork `b` as a stack job, run `a`, take `b` back.
#[inline(always)]
fn join_on<A, B, RA, RB>(ctx: &WorkerCtx, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    if !ctx.may_start_waiting() {
        // Issue 10, finding 4: panic (caught as the task's error) rather than overflow.
        panic!("tokengate: join nested too deeply for the worker's stack; raise Builder::stack_size");
    }
    let parent = worker::current_task();
    // SAFETY: the parent task is alive while its closure (this call) runs.
    // The lane's weight: `Heavy` for a heavy caller, `Medium` otherwise.
    let (pinned, weight) = parent.map_or((false, Weight::Medium), |p| {
        let meta = &unsafe { p.as_ref() }.meta;
        let heavy = meta.weight == Weight::Heavy;
        (
            meta.placement.is_pinned(),
            if heavy { Weight::Heavy } else { Weight::Medium },
        )
    });
    // Dropped by hand, and only if another thread reached it (below).
    let mut job = ManuallyDrop::new(StackJob::new(b, parent, weight));
    let frame = FrameInUse;
    // SAFETY: `job.task_ref()` points to the whole stack job, which stays in this frame
    // until `reclaim` returns, which is only after it was popped back or seen `DONE`.
    // Nothing in between unwinds: `a` runs under `catch_unwind`, and `frame` aborts
    // the process should anything else unwind.
    let fork = ctx.push_fork(unsafe { job.task_ref() }, pinned, weight);
    let ra = catch_unwind(AssertUnwindSafe(a));
    let popped_back = ctx.reclaim(&job.header, fork);
    std::mem::forget(frame);
    let rb = job.take_result();
    // A popped-back job is never dropped: its joiner never waited on it, so no
    // registration allocated a waker slot that would leak (`task/mod.rs`).
    // SAFETY: we are the job's joiner, the waiting side.
    debug_assert!(!popped_back || !unsafe { job.header.has_waker_slot() });
    if !popped_back {
        // SAFETY: no queue or thief can reach the job any more (`reclaim` returned),
        // and it is not used again. A popped-back job needs no drop: it was never
        // woken or registered on, its placement is `Free`, and its slot was emptied
        // by `take_result`, so dropping it would only test empty fields.
        unsafe { ManuallyDrop::drop(&mut job) };
    }
    both(ra, rb)
}

/// Both results, or the first panic (`a`'s wins if both panicked).
///
/// The losing payload is user data and is dropped under `catch_unwind`
/// (`error::drop_payload`), so a payload whose `Drop` panics cannot abort the worker.
fn both<RA, RB>(ra: Caught<RA>, rb: Caught<RB>) -> (RA, RB) {
    match (ra, rb) {
        (Ok(ra), Ok(rb)) => (ra, rb),
        (Err(panic), Err(lost)) => {
            crate::error::drop_payload(lost);
            resume_unwind(panic)
        }
        (Err(panic), Ok(_)) | (Ok(_), Err(panic)) => resume_unwind(panic),
    }
}

/// `join` from a thread that is no worker (nor a storage thread): the whole call
/// becomes one stack job on the default coordinator, and this thread blocks until it
/// is done.
fn join_from_outside<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    // On a worker (the normal case) this is a fork-join there. Given back unrun (see
    // the module docs), it runs on this thread, one half after the other.
    let whole = move || {
        worker::with_ctx(move |ctx| match ctx {
            Some(ctx) => join_on(ctx, a, b),
            None => in_turn(a, b),
        })
    };
    let job = StackJob::new(whole, None, Weight::Medium);
    let frame = FrameInUse;
    // SAFETY: as in `join_on`: `job` stays here until `run_from_outside` returns, which
    // is after it saw `DONE` or after it refused the job without queueing it, and
    // `frame` turns any unwind in between into an abort.
    run_from_outside(default_coordinator().shared(), unsafe { job.task_ref() }, &job.header);
    std::mem::forget(frame);
    job.take_value()
}

/// Runs the stack job of a `join` from outside the pool: queues it on the injector
/// and blocks until it is resolved. If the pool no longer accepts work from outside,
/// the job is not queued, and stays unrun for the caller.
///
/// `Shared::push_shared` re-checks the state after the push, as for a spawn. Unlike a
/// spawned task, a stack job cannot be resolved here while a queue still holds a
/// reference to it, so a pool that closed in between is handled by waiting: workers
/// that are still running will run it, and once they are told to exit (a finished
/// graceful shutdown, or a drop), whatever is left in the shared queues can only be
/// resolved `Shutdown`, so the caller drains them itself (the job is given back to
/// it). It re-checks every millisecond: this is the cold path of a shutdown racing
/// a `join`, not a hot one.
fn run_from_outside(shared: &Shared, task: TaskRef, job: &Header) {
    if !shared.accepts_outside() {
        task.forget();
        return;
    }
    let open = shared.push_shared(None, Weight::Medium, task, false);
    shared.sleep.notify_one_near();
    if open {
        worker::wait_until_done(job, None);
        return;
    }
    let tick = Duration::from_millis(1);
    while !worker::wait_until_done(job, Some(Instant::now() + tick)) {
        if shared.exit_requested() {
            shared.lanes.drain_shared(&mut |t| shared.metrics.abort(t, None));
        }
    }
}

/// Aborts the process if dropped: lives across the window in which a stack job in
/// this frame may be reachable from a queue, and is forgotten at its end.
pub(crate) struct FrameInUse;

impl Drop for FrameInUse {
    fn drop(&mut self) {
        crate::fatal("join unwound while its stack job was still reachable");
    }
}

/// What a stack job's slot holds.
enum Slot<F, T> {
    /// Not run yet: queued, or given back unrun.
    Pending(F),
    /// Run by a thief (or by the joiner through `help_until`); a panic is kept.
    Done(Caught<T>),
    /// Moved out.
    Taken,
}

/// `b` of a `join`, in the joiner's frame. `repr(C)` with the header first, so a
/// `NonNull<Header>` is also a pointer to the job.
#[repr(C)]
pub(crate) struct StackJob<F, T> {
    pub(crate) header: Header,
    /// The task `b` runs on behalf of: its current task while it runs. `None` for a
    /// call shipped in from outside the pool, which runs as its own task.
    parent: Option<NonNull<Header>>,
    slot: UnsafeCell<Slot<F, T>>,
}

impl<F, T> StackJob<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    // Each entry's safety contract is the one its `VTable` field documents.
    const VTABLE: VTable = VTable {
        run: Self::run,
        abort: Self::give_back,
        read: Self::no_read,
        dealloc: Self::no_dealloc,
        on_stack: true,
    };

    /// A queue reference to this job, made from a pointer to the whole job (the
    /// vtable reads `parent` and `slot` through it).
    ///
    /// # Safety
    /// The job must stay in place until its joiner has popped the reference back or
    /// seen `DONE` (see [`TaskRef::from_stack`]).
    pub(crate) unsafe fn task_ref(&self) -> TaskRef {
        // SAFETY: a whole `StackJob` (`repr(C)`, header first) made by `new`; the
        // caller keeps it in place.
        unsafe { TaskRef::from_stack(NonNull::from(self).cast()) }
    }

    /// A job for `f`, run on behalf of `parent`, queued on a lane of `weight`.
    pub(crate) fn new(f: F, parent: Option<NonNull<Header>>, weight: Weight) -> Self {
        StackJob {
            header: Header::on_stack(&Self::VTABLE, weight),
            parent,
            slot: UnsafeCell::new(Slot::Pending(f)),
        }
    }

    /// Moves the slot's content out. Caller must have exclusive access to the slot.
    unsafe fn take(&self) -> Slot<F, T> {
        // SAFETY: the caller has exclusive access (it claimed the job, or it is the
        // joiner after the job was popped back or resolved).
        self.slot.with_mut(|s| unsafe { std::ptr::replace(s, Slot::Taken) })
    }

    unsafe fn run(ptr: NonNull<Header>) {
        // SAFETY: `ptr` is the header of a live `StackJob<F, T>` (`repr(C)`, header
        // first): the vtable is this type's, and the joiner keeps the job in place
        // until `DONE`, which is published after this returns.
        let job = unsafe { ptr.cast::<Self>().as_ref() };
        // SAFETY: the caller claimed the job, so it has the slot to itself.
        let Slot::Pending(f) = (unsafe { job.take() }) else {
            crate::fatal("claimed stack job had no closure")
        };
        let current = job.parent.unwrap_or(ptr);
        let result = worker::as_current(current, || catch_unwind(AssertUnwindSafe(f)));
        // SAFETY: still the slot's exclusive owner until `DONE` is published.
        job.slot.with_mut(|s| unsafe { *s = Slot::Done(result) });
    }

    /// A stack job resolved without running keeps its closure: its joiner runs it.
    unsafe fn give_back(_ptr: NonNull<Header>, _err: TaskError) {}

    unsafe fn no_read(_ptr: NonNull<Header>, _out: *mut ()) {
        crate::fatal("a stack job has no token to read it")
    }

    unsafe fn no_dealloc(_ptr: NonNull<Header>) {
        crate::fatal("a stack job's last reference was dropped by a queue")
    }

    /// The joiner's result, once no queue or thief can reach the job: it was popped
    /// back or given back (then the closure runs now, on the joiner), resolved `DONE`,
    /// or never pushed.
    ///
    /// By reference, not by value: moving the job out of the joiner's frame would copy
    /// the whole header (a `memcpy` per `join`); it is dropped in place afterwards.
    /// Always inlined: after a pop-back it calls `b` itself, which in a recursive
    /// caller must stay in the caller's frame, not one call deeper.
    #[inline(always)]
    pub(crate) fn take_result(&self) -> Caught<T> {
        // SAFETY: nobody else can reach the job any more (see above).
        match unsafe { self.take() } {
            Slot::Pending(f) => catch_unwind(AssertUnwindSafe(f)),
            Slot::Done(result) => result,
            Slot::Taken => crate::fatal("a stack job's result was taken twice"),
        }
    }

    /// [`take_result`](Self::take_result), re-raising a panic.
    pub(crate) fn take_value(&self) -> T {
        self.take_result().unwrap_or_else(|panic| resume_unwind(panic))
    }
}
