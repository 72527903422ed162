//! The task cell: one allocation holding a task's header, closure and result.
//!
//! As in `async-task`, a spawned call is a single heap block (recycled through a
//! per-thread cache, `blocks.rs`), `Cell<F, T>`, whose
//! first field is an untyped [`Header`]. Queues carry a [`TaskRef`] and the caller
//! holds a [`Token`](crate::Token); both are thin pointers to the header and each owns
//! one reference. Typed work (running the closure, reading the result, freeing) goes
//! through a per-`(F, T)` [`VTable`].
//!
//! # The state word
//!
//! `Header::state` packs the stage, one flag and the reference count:
//!
//! | bits  | name      | meaning |
//! |-------|-----------|---------|
//! | 0..2  | stage     | `QUEUED`, `RUNNING` or `DONE`, below |
//! | 2     | `CANCEL`  | `cancel()` was called; polled by [`is_cancelled`](crate::is_cancelled) |
//! | 3     | `AWAITER` | a waker was registered; completion must call `wake()` |
//! | 4..   | refs      | live `TaskRef`s plus `Token`s, in units of `REF_ONE` |
//!
//! Stages, and who may move between them:
//!
//! - `QUEUED`: the closure is in the slot and the task sits in a queue. Anyone holding
//!   a reference may *claim* it with a CAS to `RUNNING`: a worker about to run it, the
//!   token's `cancel()`, or a thread resolving it as `Shutdown`. Exactly one claim wins.
//! - `RUNNING`: the winner owns the slot exclusively. It runs (or drops) the closure,
//!   writes the result, releases the task's locality pin, then publishes `DONE` with
//!   one CAS. If `AWAITER` is clear, that same CAS also drops the queue's reference,
//!   and nobody is woken, because nobody is waiting. If `AWAITER` is set, it wakes the
//!   registered waker before it drops its reference.
//! - `DONE`: the result is in the slot and never changes again. Only the token reads
//!   it, once. `DONE` is terminal.
//!
//! `AWAITER` is set by a waiting token, with a read-modify-write, *after* it
//! registers its waker. The RMWs on the state word are totally ordered. So either
//! the completing CAS sees `AWAITER` and wakes, or the token's RMW sees `DONE` and
//! does not wait.
//!
//! **The waiter's shortcut.** A worker blocked in `Token::wait()` runs queued work
//! meanwhile, and often the task it pops is the one it waits for (fork-join: the
//! child it just pushed is on top of its own LIFO lane). It then holds *both*
//! references: the queue's, from the pop, and the token's, on its own stack. The
//! token is `!Sync`, so no other thread can cancel or read the task, and no other
//! reference exists, so nobody else can touch the state word at all. It moves
//! `QUEUED → RUNNING → DONE` with plain loads and stores ([`TaskRef::run_by_waiter`])
//! and skips the claim CAS, the completion CAS and the wake.
//!
//! **The waker slot** is a box allocated by the first registration, not a field of
//! the header: the waiting side allocates it before its RMW sets `AWAITER`, and
//! anyone else touches it only after seeing the bit with Acquire (the rules are in
//! `waker_slot.rs`, beside the cell). A task nobody
//! blocks on never allocates one, and its header stays at 104 bytes, so a cell
//! with a small closure and result spans two cache lines instead of three: a
//! 200 000-task burst writes and moves a third fewer lines.
//!
//! **The last reference.** A holder that loads a reference count of one holds the
//! only reference. A reference is only ever added by a holder of another one (a
//! token making an [`AbortHandle`](crate::AbortHandle), a handle being cloned), so
//! nobody can add one then, and it frees the task without a read-modify-write
//! (`drop_ref`).
//!
//! **Abort handles** (`control/status.rs`) are extra references, `Sync`, that may
//! `cancel()` from any thread. The waiter's shortcut is therefore only taken when
//! the count is exactly two (the queue's and the token's): then no handle exists,
//! and none can appear, because only the blocked token owner or an existing handle
//! could make one. With more references, the waiter runs the task the normal way.
//!
//! **The control plane** (`src/control/`) adds no stage. A paused task stays
//! `QUEUED` in a held list; drain, cancel-by-id and expiry resolve a queued task
//! through the same claim as `cancel()` (`Cancelled`, `Expired`). The claim's
//! winner also gives back the task's admission slot (`Meta::admission`), so a
//! bounded pool counts exactly the tasks still `QUEUED`. The winner records how the
//! task ended in `Meta::outcome` before `DONE`, for `Token::status`.
//!
//! **Stack jobs.** [`join`](fn@crate::join) queues the second closure as a *stack job*
//! (`fork.rs`): a `Header` in the joiner's own frame, with a vtable marked `on_stack`,
//! two references (the queue's and the joiner's) and the same stages. A thief claims
//! and runs it as above, but its completion (`complete_on_stack`) differs: the
//! joiner returns, and its frame is reused, as soon as it sees `DONE`, so one CAS
//! publishes `DONE` *and* drops the queue's reference, and it is the last access to
//! the job. A registered waker is taken out before that CAS and woken after it. A
//! stack job resolved without running (shutdown) keeps its closure, and the joiner
//! runs it. A stack job is never freed: its `dealloc` is unreachable.
//!
//! So every task is resolved exactly once: by running, by cancellation, or by shutdown.
//! A `TaskRef` dropped while its task is still `QUEUED` resolves it as `Shutdown`,
//! which is the safety net that makes "every token resolves" hold even if a queue is
//! dropped wholesale.

use std::alloc::Layout;
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::sync::atomic::Ordering as StdOrdering;

use crate::control::status::StageNow;
use crate::error::TaskError;
use crate::locality::Placement;
use crate::op::Weight;
use crate::registry::OpId;
use crate::sync::{AtomicUsize, Ordering, UnsafeCell};

const STAGE: usize = 0b11;
const QUEUED: usize = 0b00;
const RUNNING: usize = 0b01;
const DONE: usize = 0b10;
const CANCEL: usize = 0b100;
const AWAITER: usize = 0b1000;
const REF_ONE: usize = 0b1_0000;

mod meta;
mod queue_ref;
mod waker_slot;

pub(crate) use meta::{Meta, Times};
pub(crate) use queue_ref::TaskRef;
use waker_slot::WakerSlot;

/// The untyped start of every task allocation.
pub(crate) struct Header {
    state: AtomicUsize,
    /// The waker slot, woken once, after `DONE` is published, if `AWAITER` is set
    /// (module docs, "The waker slot"). Allocated by the first registration.
    waker: WakerSlot,
    vtable: &'static VTable,
    pub(crate) meta: Meta,
}

/// The typed operations of one kind of task.
pub(crate) struct VTable {
    /// Runs the closure and stores its result. Caller must have claimed the task.
    pub(crate) run: unsafe fn(NonNull<Header>),
    /// Resolves the task without running it: a spawned task drops the closure and
    /// stores `Err(err)`; a stack job keeps it for its joiner. Caller must have
    /// claimed the task.
    pub(crate) abort: unsafe fn(NonNull<Header>, TaskError),
    /// Moves the result into `out` (a `*mut MaybeUninit<Result<T, TaskError>>`).
    /// Caller must be the token and must have observed `DONE`.
    pub(crate) read: unsafe fn(NonNull<Header>, *mut ()),
    /// Frees the allocation. Caller must have dropped the last reference.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// The task is a stack job of [`join`](fn@crate::join) (`fork.rs`): it lives in its
    /// joiner's stack frame, which may be gone the moment `DONE` is published, so
    /// completion publishes `DONE` as its very last access (`complete_on_stack`).
    pub(crate) on_stack: bool,
}

enum Stage<F, T> {
    Pending(F),
    Running,
    Done(Result<T, TaskError>),
    Consumed,
}

#[repr(C)]
struct Cell<F, T> {
    header: Header,
    stage: UnsafeCell<Stage<F, T>>,
}

impl<F, T> Cell<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // Each entry's safety contract is the one its `VTable` field documents.
    const VTABLE: VTable = VTable {
        run: Self::run,
        abort: Self::abort,
        read: Self::read,
        dealloc: Self::dealloc,
        on_stack: false,
    };

    unsafe fn run(ptr: NonNull<Header>) {
        // SAFETY: `ptr` came from `new` for this `(F, T)`, so it points to a live
        // `Cell<F, T>` (`repr(C)`, header first); the caller holds a reference.
        let cell = unsafe { ptr.cast::<Cell<F, T>>().as_ref() };
        // SAFETY: the caller won the claim, so it has exclusive access to the slot.
        let stage = cell.stage.with_mut(|s| unsafe { std::ptr::replace(s, Stage::Running) });
        let Stage::Pending(f) = stage else {
            crate::fatal("claimed task had no closure")
        };
        let times = &cell.header.meta.times;
        times.started.store(times.stamp(), StdOrdering::Relaxed);
        let result =
            crate::worker::as_current(ptr, || catch_unwind(AssertUnwindSafe(f))).map_err(TaskError::from_panic);
        times.finished.store(times.stamp(), StdOrdering::Relaxed);
        // Metrics and `Token::status`: how it ended.
        cell.header.meta.outcome.set_ran(result.is_ok());
        // SAFETY: still the exclusive owner of the slot until `DONE` is published.
        cell.stage.with_mut(|s| unsafe { *s = Stage::Done(result) });
    }

    unsafe fn abort(ptr: NonNull<Header>, err: TaskError) {
        // SAFETY: as in `run`: a live `Cell<F, T>`, and the caller won the claim.
        let cell = unsafe { ptr.cast::<Cell<F, T>>().as_ref() };
        cell.header.meta.outcome.set_error(&err);
        let times = &cell.header.meta.times;
        times.finished.store(times.stamp(), StdOrdering::Relaxed);
        // SAFETY: exclusive access to the slot, as above.
        let stage = cell
            .stage
            .with_mut(|s| unsafe { std::ptr::replace(s, Stage::Done(Err(err))) });
        // The closure is dropped here; a panic in its destructor must not kill a worker.
        drop_quietly(stage);
    }

    unsafe fn read(ptr: NonNull<Header>, out: *mut ()) {
        // SAFETY: a live `Cell<F, T>`; the caller observed `DONE` with Acquire, so the
        // result write happened-before, and nobody writes the slot after `DONE`.
        let cell = unsafe { ptr.cast::<Cell<F, T>>().as_ref() };
        // SAFETY: the token is the only reader, and reads once.
        let stage = cell
            .stage
            .with_mut(|s| unsafe { std::ptr::replace(s, Stage::Consumed) });
        let Stage::Done(result) = stage else {
            crate::fatal("token read a task that was not done")
        };
        let out = out.cast::<MaybeUninit<Result<T, TaskError>>>();
        // SAFETY: `out` is the caller's `MaybeUninit` of exactly this type.
        unsafe { (*out).write(result) };
    }

    unsafe fn dealloc(ptr: NonNull<Header>) {
        let cell = ptr.cast::<Cell<F, T>>();
        // The closure or an unread result is user data: a panicking destructor must
        // not unwind into the scheduler.
        crate::error::quietly(|| {
            // SAFETY: the block holds a live `Cell<F, T>` written by `new`, and the
            // caller dropped the last reference, so nobody else can touch it. It is
            // dropped once, here, and the block is not read again before reuse.
            unsafe { std::ptr::drop_in_place(cell.as_ptr()) }
        });
        // SAFETY: the block came from `blocks::allocate` with this layout in `new`, and
        // its contents were dropped above.
        unsafe { crate::blocks::release(cell.cast(), Layout::new::<Cell<F, T>>()) };
    }
}

/// Drops user data (a closure or an unread result) without letting a panicking
/// destructor unwind into the scheduler.
fn drop_quietly<V>(value: V) {
    crate::error::quietly(move || drop(value));
}

/// Allocates a task. Returns the queue's reference and the token's reference.
///
/// Always inlined into the spawn: left to itself, LLVM kept it out of line, and the
/// call cost 17 to 21 instructions a spawn (callgrind: spawn+wait 767 → 748, an
/// outside spawn 315 → 298).
#[inline(always)]
pub(crate) fn new<F, T>(f: F, meta: Meta) -> (TaskRef, NonNull<Header>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // Allocated first, so the cell is built in place rather than on the stack and
    // copied (it is larger than a few registers: a `memcpy` per spawn).
    let block = crate::blocks::allocate(Layout::new::<Cell<F, T>>()).cast::<Cell<F, T>>();
    // SAFETY: the block is fresh, sized and aligned for `Cell<F, T>`, and unaliased.
    unsafe {
        block.as_ptr().write(Cell {
            header: Header {
                state: AtomicUsize::new(QUEUED | (2 * REF_ONE)),
                waker: WakerSlot::empty(),
                vtable: &Cell::<F, T>::VTABLE,
                meta,
            },
            stage: UnsafeCell::new(Stage::<F, T>::Pending(f)),
        })
    };
    let ptr = block.cast::<Header>();
    (TaskRef { ptr }, ptr)
}

impl Header {
    /// The header of a stack job (`fork.rs`): `QUEUED`, with two references, the
    /// queue's and the joiner's. The joiner never drops its own: it waits for `DONE`,
    /// which a stack job's completion publishes together with the queue's drop.
    /// `weight` is the lane's it goes to (`Heavy` or `Medium`), so that a sweep that
    /// moves it puts it back by the same rules.
    pub(crate) fn on_stack(vtable: &'static VTable, weight: Weight) -> Header {
        Header {
            state: AtomicUsize::new(QUEUED | (2 * REF_ONE)),
            waker: WakerSlot::empty(),
            vtable,
            meta: Meta::new(0, Placement::Free, weight, OpId::NONE, Times::queued_at(0)),
        }
    }

    /// Claims a `QUEUED` task for running or resolving. Exactly one caller wins.
    fn claim(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & STAGE != QUEUED {
                return false;
            }
            // ORDERING: AcqRel. Acquire pairs with the Release that made the task
            // reachable (queue push or token hand-off), so the winner sees the closure.
            // Release publishes a token-side resolver's `meta.outcome` (written before
            // its claim) to a queue reference that loses and then loads with Acquire
            // (`TaskRef::lost_claim`).
            match self
                .state
                .compare_exchange_weak(s, s | RUNNING, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    // Control plane: the task left `QUEUED`; give back its slot.
                    if let Some(admission) = self.meta.admission {
                        admission.release();
                    }
                    return true;
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// Publishes the result written by the claim's winner, wakes the token if it
    /// registered a waker, and, if `consume` is set, drops the caller's reference.
    fn complete(ptr: NonNull<Header>, consume: bool) {
        // SAFETY: the caller holds a reference (its own, or the token's), so the header
        // is alive until the reference is dropped below.
        let header = unsafe { ptr.as_ref() };
        if header.vtable.on_stack {
            // Stack jobs are only ever resolved through the queue's reference.
            if !consume {
                crate::fatal("a stack job was resolved without its queue reference");
            }
            return header.complete_on_stack();
        }
        // Locality pins are released before `DONE` becomes visible, so whoever sees
        // the token finished also sees the pin gone (release is exact, never late).
        header.meta.placement.release();
        let mut s = header.state.load(Ordering::Relaxed);
        let prev = loop {
            if s & STAGE != RUNNING {
                crate::fatal("completed a task that was not running");
            }
            let unref = if consume && s & AWAITER == 0 { REF_ONE } else { 0 };
            // ORDERING: AcqRel. Release publishes the result (and the pin release) to the
            // token's Acquire of `DONE`; Acquire pairs with the token's AWAITER RMW, so a
            // registered waker is visible to `wake()`, and with the token's last use of
            // the task if this CAS drops the final reference.
            match header
                .state
                .compare_exchange_weak(s, s - RUNNING + DONE - unref, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(prev) => break prev,
                Err(actual) => s = actual,
            }
        };
        if prev & AWAITER != 0 {
            // SAFETY: the CAS (Acquire) saw `AWAITER`, so the slot's write
            // happened-before (`waker_slot.rs`).
            let slot = unsafe { header.waker.get() };
            // A waker supplied by an async runtime must not be able to kill a worker.
            crate::error::quietly(|| slot.wake());
        }
        if !consume {
            return;
        }
        if prev & AWAITER != 0 {
            // SAFETY: we own the reference and do not touch the task afterwards.
            unsafe { Header::drop_ref(ptr) };
        } else if prev < 2 * REF_ONE {
            // SAFETY: the CAS dropped the last reference, so nobody else can touch it.
            unsafe { (header.vtable.dealloc)(ptr) };
        }
    }

    /// `complete` for a stack job, always on behalf of the queue's reference. Its
    /// joiner may return, and its frame be reused, as soon as it sees `DONE`, so the
    /// CAS that publishes `DONE` (and drops the queue's reference) is the last access.
    /// A registered waker is therefore taken out *before* that CAS and woken after it.
    ///
    /// A take can miss a registration that lands after it, but only a re-registration
    /// by the joiner itself: `AWAITER` was already set, so the CAS still succeeds. The
    /// joiner only ever registers its own thread's waker (`help_until`, `block_until`),
    /// so waking the earlier one unparks the same thread. (An async waiter could
    /// register a different waker; that is why spawned tasks do not complete this way.)
    fn complete_on_stack(&self) {
        // ORDERING: Acquire pairs with the joiner's AWAITER RMW (AcqRel), so when we see
        // `AWAITER`, the waker it registered before that RMW is visible to `take`.
        let mut s = self.state.load(Ordering::Acquire);
        let mut waker = None;
        loop {
            if s & STAGE != RUNNING {
                crate::fatal("completed a stack job that was not running");
            }
            if s & AWAITER != 0 && waker.is_none() {
                // SAFETY: `s` came from an Acquire load or a failed CAS with Acquire,
                // and shows `AWAITER` (`waker_slot.rs`).
                waker = unsafe { self.waker.get() }.take();
            }
            // ORDERING: AcqRel: Release publishes the result to the joiner's Acquire of
            // `DONE`; Acquire (and on failure) for the reason given at the load above.
            match self
                .state
                .compare_exchange_weak(s, s - RUNNING + DONE - REF_ONE, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(actual) => s = actual,
            }
        }
        // The job may be gone now; `waker` is our own.
        if let Some(waker) = waker {
            crate::error::quietly(|| waker.wake());
        }
    }

    /// A queue reference lost the claim: somebody else resolved the task. The Acquire
    /// load makes their `meta.outcome` visible before `release` reads it.
    fn lost_claim(&self, release: impl FnOnce(&Meta, bool)) {
        // ORDERING: Acquire pairs with the AcqRel of the winning claim (see `claim`).
        let _ = self.state.load(Ordering::Acquire);
        release(&self.meta, false);
    }

    /// Registers `waker` for the completion and announces it with `AWAITER`.
    /// Returns true if the task is already done (the caller must not wait).
    pub(crate) fn register(&self, waker: &std::task::Waker) -> bool {
        // Only the waiting side sets `AWAITER`, from one thread at a time (a token is
        // `!Sync`; a stack job's joiner is one thread), so a clear bit in its own
        // load means no slot yet, and nobody else reads the slot until the RMW below.
        if self.state.load(Ordering::Relaxed) & AWAITER == 0 {
            // SAFETY: we are the waiting side and saw `AWAITER` clear, as just said.
            unsafe { self.waker.allocate() };
        }
        // SAFETY: we are the waiting side, and the slot was allocated above or
        // before the earlier registration that set `AWAITER`.
        unsafe { self.waker.get() }.register(waker);
        // ORDERING: AcqRel. Release makes the slot and the registration visible to a
        // completer that reads `AWAITER`; Acquire lets us read the result if `DONE` is
        // set.
        self.state.fetch_or(AWAITER, Ordering::AcqRel) & STAGE == DONE
    }

    /// True if a registration allocated the waker slot (`fork.rs` checks that a
    /// popped-back stack job, which is never dropped, has none).
    ///
    /// # Safety
    /// The caller is the waiting side (the token's owner, or the stack job's
    /// joiner), the slot's only writer, so no write can race with the read.
    pub(crate) unsafe fn has_waker_slot(&self) -> bool {
        // SAFETY: the caller's contract is the slot's own (`waker_slot.rs`).
        unsafe { self.waker.is_allocated() }
    }

    /// True once the result is available. Acquire, so a `true` lets the caller read it.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        // ORDERING: Acquire pairs with the Release half of the completing CAS in `complete`.
        self.state.load(Ordering::Acquire) & STAGE == DONE
    }

    /// The stage bits of the state word, for `Token::status` (`QUEUED`, `RUNNING`
    /// or `DONE`, as [`Stage`]). Acquire, so a `Done` makes `Meta::outcome` visible.
    pub(crate) fn stage(&self) -> StageNow {
        // ORDERING: Acquire pairs with the completing CAS's Release (see `is_done`).
        match self.state.load(Ordering::Acquire) & STAGE {
            QUEUED => StageNow::Queued,
            RUNNING => StageNow::Running,
            _ => StageNow::Done,
        }
    }

    /// Adds a reference for an [`AbortHandle`](crate::AbortHandle). The caller must
    /// hold one (module docs, "The last reference").
    pub(crate) fn add_ref(&self) {
        // Relaxed, as `Arc::clone`: the caller's own reference keeps the task alive.
        self.state.fetch_add(REF_ONE, Ordering::Relaxed);
    }

    /// True if `cancel()` was called on this task's token.
    pub(crate) fn cancel_requested(&self) -> bool {
        self.state.load(Ordering::Relaxed) & CANCEL != 0
    }

    /// Resolves a still-queued task with `err` without running it. False if it was
    /// already claimed by someone else.
    pub(crate) fn abort(ptr: NonNull<Header>, err: TaskError) -> bool {
        // SAFETY: callers hold a reference, so the header is alive.
        let header = unsafe { ptr.as_ref() };
        // Metrics: announce the outcome before claiming (see `Meta::outcome`). A lost
        // announcement means the task is already resolved or being resolved.
        if !header.meta.outcome.announce(&err) || !header.claim() {
            return false;
        }
        // SAFETY: we won the claim; the vtable matches the allocation.
        unsafe { (header.vtable.abort)(ptr, err) };
        Header::complete(ptr, false);
        true
    }

    /// Sets `CANCEL`, then tries to resolve the task as `Cancelled` before it starts.
    pub(crate) fn cancel(ptr: NonNull<Header>) -> bool {
        // SAFETY: the token holds a reference.
        let header = unsafe { ptr.as_ref() };
        header.state.fetch_or(CANCEL, Ordering::Relaxed);
        Header::abort(ptr, TaskError::Cancelled)
    }

    /// Moves the result out. The caller must be the token and must have seen `is_done`.
    ///
    /// # Safety
    /// `ptr` must be a token's reference, `is_done()` must have returned true, and this
    /// may be called once per task.
    pub(crate) unsafe fn read<T>(ptr: NonNull<Header>) -> Result<T, TaskError> {
        let mut out = MaybeUninit::<Result<T, TaskError>>::uninit();
        // SAFETY: the vtable's `T` is the token's `T` (both come from `new::<F, T>`),
        // and the caller guarantees `DONE` was observed and this is the only read.
        unsafe {
            let header = ptr.as_ref();
            (header.vtable.read)(ptr, out.as_mut_ptr().cast());
            out.assume_init()
        }
    }

    /// Drops one reference, freeing the task with the last one.
    ///
    /// # Safety
    /// The caller must own a reference and not use `ptr` afterwards.
    pub(crate) unsafe fn drop_ref(ptr: NonNull<Header>) {
        // SAFETY: the caller owns a reference, so the header is alive here.
        let header = unsafe { ptr.as_ref() };
        // ORDERING: Acquire: if ours is the only reference left, this pairs with the
        // Release of the other owner's last decrement (or of the completing CAS that
        // dropped it), so its last use of the task happens-before the free.
        let sole = header.state.load(Ordering::Acquire) < 2 * REF_ONE;
        // ORDERING: AcqRel: Release publishes this owner's last use of the task; the
        // Acquire on the final decrement sees every other owner's, before freeing.
        if sole || header.state.fetch_sub(REF_ONE, Ordering::AcqRel) < 2 * REF_ONE {
            // SAFETY: that was the last reference.
            unsafe { (header.vtable.dealloc)(ptr) };
        }
    }
}

/// Ids handed out per thread in blocks, so spawning from many threads does not
/// contend on one counter.
const ID_BLOCK: u64 = 1024;

crate::sync::const_thread_local! {
    static IDS: std::cell::Cell<(u64, u64)> = std::cell::Cell::new((0, 0));
}

/// A process-unique task id, never 0. Unique for the life of the process: a `u64`
/// handed out in blocks does not wrap in practice.
pub(crate) fn next_id() -> u64 {
    IDS.with(|ids| {
        let (mut next, mut end) = ids.get();
        if next == end {
            next = crate::sync::next_id_block(ID_BLOCK);
            end = next + ID_BLOCK;
        }
        ids.set((next + 1, end));
        next
    })
}

#[cfg(test)]
mod tests;
