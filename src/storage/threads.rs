//! The storage threads: started on demand, parked when idle, gone after a keep-alive.
//!
//! Storage threads are not pinned and are shared by all tiers. A thread repeats:
//! admit a task from any tier (`tier.rs`), run it, give the slot back. When nothing
//! is admissible it goes idle: it pushes an [`Idle`] entry onto `idle`, fences, and
//! looks once more; then it parks until woken or until the keep-alive passes, and
//! then exits.
//!
//! # Waking (`wake_or_start`)
//!
//! A pusher that found a free slot (or a raised limit) pops `idle` entries until it
//! *claims* one (`Idle::woken` false → true; exactly one of the waker and the
//! thread's own time-out wins) and unparks its thread. With no idle thread to claim,
//! it starts a new one, unless `live` has reached the *demand*, the sum over tiers
//! of `min(limit, active + queued)`: that many threads can run every task that may
//! run now, so one more would only wait. (So a burst on one tier of limit 25 starts
//! at most 25 threads, however many tasks it queues.)
//!
//! No task is left without a thread. If `live` is at the demand while a tier has a
//! queued task and a free slot, then more threads are live than tasks run, so one
//! of them is not running a task: it is scanning (and looks at the tiers after its
//! idle announcement), parked with an entry in `idle` (which the waker claims), or
//! retiring. No wake-up is lost: the pusher's count of its task, its fence and its
//! look at `idle` against the thread's push onto `idle`, its fence and its look at
//! the tiers (Dekker, all `SeqCst`). A retiring thread withdraws from `live` first
//! and then looks at the tiers once more, starting a replacement if work arrived
//! (the same pair against a pusher that saw `live` at the demand).
//!
//! # Start and join (`live`)
//!
//! `live` counts threads that were started and have not exited; its top bit,
//! `CLOSED`, is set by `join` and stops every later start, so once `join` has
//! waited for `live` to reach zero, no storage thread runs any more. Started
//! threads' handles sit in a lock-free queue; a start joins the ones that have
//! exited, and `join` joins them all.

use std::cell::Cell;
use std::ptr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{StorageLane, ABORT, OPEN};
use crate::sync::{
    current, fence, park_timeout, yield_now, Arc, AtomicBool, AtomicUsize, Builder, Injector, JoinHandle, Ordering,
    Steal, Thread,
};

const CLOSED: usize = 1 << (usize::BITS - 1);

crate::sync::const_thread_local! {
    /// The lane whose storage thread this is, if any; set for the thread's life.
    static LANE: Cell<*const StorageLane> = Cell::new(ptr::null());
}
crate::sync::const_thread_local! {
    /// The coordinator owning `LANE` (`StorageLane::set_owner`), if any.
    static OWNER: Cell<*const ()> = Cell::new(ptr::null());
}

crate::sync::const_thread_local! {
    /// True while this storage thread holds a task it admitted and has not yet
    /// claimed, held or resolved (its lane's `moves`, `control/moves.rs`).
    static IN_HAND: Cell<bool> = Cell::new(false);
}

/// A task claimed on this thread starts running (`worker::as_current`): on a storage
/// thread, its take ends. Elsewhere nothing.
pub(crate) fn claimed_here() {
    if IN_HAND.with(|h| h.replace(false)) {
        // SAFETY: `LANE` is set for the storage thread's whole life, while its `Arc`
        // is held by `thread_main`'s caller.
        if let Some(lane) = unsafe { LANE.with(Cell::get).as_ref() } {
            lane.moves.end();
        }
    }
}

/// True on a storage thread (of any coordinator).
pub(crate) fn on_storage_thread() -> bool {
    !LANE.with(Cell::get).is_null()
}

/// The owner recorded with `StorageLane::set_owner` for the storage thread running
/// this code, or `None` off storage threads. The pointer is valid while the calling
/// storage thread runs: the owner joins its storage threads before it goes away.
pub(crate) fn current_owner() -> Option<*const ()> {
    let owner = OWNER.with(Cell::get);
    (!owner.is_null()).then_some(owner)
}

/// An idle thread's entry in `Threads::idle`.
struct Idle {
    thread: Thread,
    /// Set by whoever claims the entry: a waker, or the thread itself (withdrawing
    /// after it found work, or retiring after its keep-alive).
    woken: AtomicBool,
}

impl Idle {
    fn claim(&self) -> bool {
        // ORDERING: AcqRel: the waker's claim happens-before the thread sees `woken`.
        !self.woken.swap(true, Ordering::AcqRel)
    }
}

/// A started storage thread.
struct Started {
    handle: JoinHandle<()>,
    /// Set by the thread as its last action.
    exited: Arc<AtomicBool>,
}

/// The coordinator pointer, stored as an address (it is only compared and cast back
/// by the coordinator).
struct Owner(usize);

/// The lane's thread pool.
pub(crate) struct Threads {
    idle: Injector<Arc<Idle>>,
    /// Started threads that have not exited, plus `CLOSED` (module docs).
    live: AtomicUsize,
    /// Started threads, each with its "exited" flag.
    handles: Injector<Started>,
    keep_alive: Duration,
    name: String,
    owner: OnceLock<Owner>,
    started: AtomicUsize,
}

impl Threads {
    pub(crate) fn new(keep_alive: Duration, name: String) -> Threads {
        Threads {
            idle: Injector::new(),
            live: AtomicUsize::new(0),
            handles: Injector::new(),
            keep_alive,
            name,
            owner: OnceLock::new(),
            started: AtomicUsize::new(0),
        }
    }

    pub(crate) fn set_owner(&self, owner: *const ()) {
        if self.owner.set(Owner(owner as usize)).is_err() {
            crate::fatal("storage lane owner set twice");
        }
    }

    /// The owner set with `set_owner`, if any.
    pub(crate) fn owner(&self) -> Option<*const ()> {
        self.owner.get().map(|o| o.0 as *const ())
    }

    /// Makes sure `n` more threads come to admit work: wakes idle ones, then starts
    /// new ones up to the cap (module docs).
    pub(crate) fn wake_or_start(&self, lane: &Arc<StorageLane>, mut n: usize) {
        if n == 0 {
            return;
        }
        // ORDERING: SeqCst fence: the waker's half of the idle Dekker pair.
        fence(Ordering::SeqCst);
        while n > 0 {
            match self.idle.steal() {
                Steal::Success(idle) => {
                    if idle.claim() {
                        idle.thread.unpark();
                        n -= 1;
                    }
                }
                Steal::Retry => {}
                Steal::Empty => break,
            }
        }
        for _ in 0..n {
            if !self.start(lane) {
                break;
            }
        }
    }

    /// Wakes every idle thread (after a state change).
    pub(crate) fn wake_all(&self) {
        // ORDERING: SeqCst fence: as in `wake_or_start`, after the state store.
        fence(Ordering::SeqCst);
        loop {
            match self.idle.steal() {
                Steal::Success(idle) => {
                    if idle.claim() {
                        idle.thread.unpark();
                    }
                }
                Steal::Retry => {}
                Steal::Empty => return,
            }
        }
    }

    /// Starts one thread unless the lane is closed or `live` is at the cap.
    fn start(&self, lane: &Arc<StorageLane>) -> bool {
        let cap = lane.thread_demand();
        // ORDERING: SeqCst, as every access to `live` (Dekker with exiting threads, and
        // `CLOSED` against `join`).
        let mut n = self.live.load(Ordering::SeqCst);
        loop {
            if n & CLOSED != 0 || n >= cap {
                return false;
            }
            // ORDERING: SeqCst, as above.
            match self
                .live
                .compare_exchange_weak(n, n + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(actual) => n = actual,
            }
        }
        let exited = Arc::new(AtomicBool::new(false));
        let (body_lane, body_exited) = (Arc::clone(lane), Arc::clone(&exited));
        let index = self.started.fetch_add(1, Ordering::Relaxed);
        let spawned = Builder::new()
            .name(format!("{}-{index}", self.name))
            .spawn(move || thread_main(&body_lane, &body_exited));
        self.join_exited();
        match spawned {
            Ok(handle) => {
                self.handles.push(Started { handle, exited });
                true
            }
            Err(e) => {
                eprintln!("tokengate: could not start a storage thread: {e}");
                // ORDERING: SeqCst, as above.
                if self.live.fetch_sub(1, Ordering::SeqCst) & !CLOSED == 1 {
                    // No storage thread is left to run what is queued: resolve it
                    // rather than leave its tokens waiting for a thread that never comes.
                    lane.abort_queued();
                }
                false
            }
        }
    }

    /// Joins the started threads that have exited (briefly: they are past their last
    /// access to the lane), so handles do not pile up over the lane's life.
    fn join_exited(&self) {
        for _ in 0..self.handles.len() {
            match self.handles.steal() {
                // ORDERING: Acquire pairs with the exiting thread's Release store.
                Steal::Success(s) if s.exited.load(Ordering::Acquire) => {
                    let _ = s.handle.join();
                }
                Steal::Success(s) => self.handles.push(s),
                Steal::Retry => {}
                Steal::Empty => return,
            }
        }
    }

    /// Parks an idle thread. Returns false if its keep-alive passed (it must exit).
    fn idle_wait(&self, lane: &StorageLane) -> bool {
        let me = Arc::new(Idle {
            thread: current(),
            woken: AtomicBool::new(false),
        });
        self.idle.push(Arc::clone(&me));
        // ORDERING: SeqCst fence: the idle thread's half of the Dekker pair.
        fence(Ordering::SeqCst);
        if lane.has_admissible() || lane.state() != OPEN {
            // Withdraw: the entry stays in `idle` as a stale one, skipped by wakers.
            me.claim();
            return true;
        }
        let deadline = Instant::now() + self.keep_alive;
        loop {
            // ORDERING: Acquire pairs with the waker's claim.
            if me.woken.load(Ordering::Acquire) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                // Retire, unless a waker claimed us first.
                return !me.claim();
            }
            park_timeout(deadline - now);
        }
    }

    /// Waits until every storage thread has exited (after `StorageLane::close`) and
    /// joins them. A storage thread calling this (the coordinator dropped inside a
    /// storage task) skips itself; it exits once its task returns.
    pub(crate) fn join(&self, lane: &StorageLane) {
        // ORDERING: SeqCst: no start succeeds after this (module docs).
        self.live.fetch_or(CLOSED, Ordering::SeqCst);
        let me = current().id();
        let own = usize::from(ptr::eq(LANE.with(Cell::get), lane));
        if own == 1 {
            // The owner is going away while this storage task still runs: from here
            // on, its spawns go to the default coordinator (`current_owner`).
            OWNER.with(|o| o.set(ptr::null()));
        }
        loop {
            let mut mine = None;
            loop {
                match self.handles.steal() {
                    Steal::Success(s) if s.handle.thread().id() == me => mine = Some(s),
                    Steal::Success(s) => {
                        let _ = s.handle.join();
                    }
                    Steal::Retry => {}
                    Steal::Empty => break,
                }
            }
            if let Some(s) = mine {
                self.handles.push(s);
            }
            // ORDERING: SeqCst, as every access to `live`.
            if self.live.load(Ordering::SeqCst) & !CLOSED <= own {
                return;
            }
            // A start that won its `live` increment before `CLOSED` has not stored its
            // handle yet. Cold path: a shutdown racing a thread start.
            yield_now();
        }
    }
}

/// A storage thread's body.
fn thread_main(lane: &Arc<StorageLane>, exited: &AtomicBool) {
    let threads = &lane.threads;
    LANE.with(|l| l.set(Arc::as_ptr(lane)));
    let owner = threads.owner.get().map_or(ptr::null(), |o| o.0 as *const ());
    OWNER.with(|o| o.set(owner));
    loop {
        // The take is announced (`control/moves.rs`) until the task is claimed
        // (`claimed_here`) or otherwise placed (after `run_admitted`).
        lane.moves.begin();
        IN_HAND.with(|h| h.set(true));
        if let Some((tier, task)) = lane.admit_any() {
            lane.run_admitted(tier, task);
            claimed_here();
            continue;
        }
        claimed_here();
        match lane.state() {
            OPEN => {}
            ABORT => {
                lane.abort_queued();
                break;
            }
            // Draining: whatever is still queued waits behind a running task, whose
            // thread admits it next.
            _ => break,
        }
        if !threads.idle_wait(lane) {
            break;
        }
    }
    // ORDERING: SeqCst, as every access to `live` (module docs).
    threads.live.fetch_sub(1, Ordering::SeqCst);
    if lane.state() == OPEN && lane.has_admissible() {
        // Work arrived while this thread retired, and its pusher may have seen `live`
        // at the cap: start a replacement.
        threads.wake_or_start(lane, 1);
    }
    LANE.with(|l| l.set(ptr::null()));
    OWNER.with(|o| o.set(ptr::null()));
    // ORDERING: Release: read by `start` before it joins this thread.
    exited.store(true, Ordering::Release);
}
