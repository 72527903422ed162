//! The coordinator: builds the pool, routes spawned tokens to lanes, and shuts down.
//!
//! # Lifecycle (`Shared::state`)
//!
//! - `OPEN`: every spawn is accepted.
//! - `CLOSING`: set by [`Coordinator::shutdown`]. Spawns from outside the pool resolve
//!   `Shutdown`. Spawns from the pool's own running tasks are still accepted, so
//!   fork-join work drains fully. Workers exit once the pool is quiescent
//!   (`sleep/README.md`).
//! - `ABORTING`: set when a `Coordinator` is dropped without `shutdown()`. Every
//!   spawn resolves `Shutdown`. Running tasks finish, and queued tasks resolve
//!   `Shutdown` without running.
//!
//! Only the coordinator's owner changes the state, and only forwards. A spawn
//! checks the state before it pushes. After the push, it fences and checks again.
//! If the pool closed in between, it resolves its own task as `Shutdown` (a claim
//! CAS, so it never races a worker into running it twice). A shutdown therefore
//! never strands a task, and after the workers are joined, the shared queues are
//! drained as a last safety net.

use std::sync::{Mutex, OnceLock};

use crate::builder::Builder;
use crate::control::{Admission, Control};
use crate::error::TaskError;
use crate::handle::Handle;
use crate::handle_refs::HandleCount;
use crate::lanes::{HeavyGate, Lane, SharedLanes};
use crate::locality::{Locality, Placement};
use crate::metrics::Metrics;
use crate::op::{Op, Tag, Weight};
use crate::registry::OpId;
use crate::sleep::Sleep;
use crate::storage::{StorageLane, StorageSpeed};
use crate::sync::{fence, Arc, AtomicBool, AtomicUsize, CachePadded, JoinHandle, Ordering};
use crate::task::{self, Header, Meta, TaskRef, Times};
use crate::token::Token;
use crate::worker::{self, WorkerCtx, WorkerInfo};

mod storage;

pub(crate) use storage::STORAGE_HOOKS;

/// The largest pool tokengate supports.
pub const MAX_WORKERS: usize = 4096;

const OPEN: usize = 0;
const CLOSING: usize = 1;
const ABORTING: usize = 2;

/// State shared by the coordinator, its handles and its workers.
pub(crate) struct Shared {
    pub(crate) lanes: SharedLanes,
    pub(crate) sleep: Sleep,
    pub(crate) heavy: HeavyGate,
    pub(crate) locality: Arc<Locality>,
    pub(crate) workers: Box<[CachePadded<WorkerInfo>]>,
    /// Storage hook: the storage lane (`src/storage/`), served by its own threads.
    pub(crate) storage: Arc<StorageLane>,
    /// Counters, histograms and history (`metrics/mod.rs`).
    pub(crate) metrics: Metrics,
    state: AtomicUsize,
    terminate: AtomicBool,
    /// Control plane (src/control/): pause, drain, admission, deadlines.
    pub(crate) control: Control,
    /// The handles' units (`handle_refs.rs`).
    pub(crate) handles: HandleCount,
}

impl Shared {
    /// The shared state of a new, open pool of `workers` workers, `heavy_limit` of
    /// which may run `Heavy` work at once, with the storage lane `storage` and the
    /// metrics recorder `metrics`.
    pub(crate) fn new(
        lanes: SharedLanes,
        workers: usize,
        heavy_limit: usize,
        storage: Arc<StorageLane>,
        metrics: Metrics,
    ) -> Shared {
        Shared {
            lanes,
            sleep: Sleep::new(workers),
            heavy: HeavyGate::new(heavy_limit),
            locality: Arc::new(Locality::new(workers)),
            workers: (0..workers).map(|_| CachePadded::new(WorkerInfo::new())).collect(),
            storage,
            metrics,
            state: AtomicUsize::new(OPEN),
            terminate: AtomicBool::new(false),
            control: Control::new(None, false),
            handles: HandleCount::new(),
        }
    }

    /// Workers leave their loop: the pool is aborting, or a graceful shutdown finished.
    pub(crate) fn exit_requested(&self) -> bool {
        // ORDERING: Acquire pairs with the SeqCst stores in `close` and `terminate`.
        self.terminate.load(Ordering::Acquire) || self.state.load(Ordering::Acquire) == ABORTING
    }

    pub(crate) fn is_closing(&self) -> bool {
        // ORDERING: SeqCst: part of the quiescence check (sleep/README.md).
        self.state.load(Ordering::SeqCst) == CLOSING
    }

    /// The last step of a shutdown or drop, once every worker has been joined:
    /// whatever is still queued or held resolves `Shutdown` (and is counted), and the
    /// storage lane drains (graceful) or aborts, and its threads are joined.
    fn finish(&self) {
        self.lanes.drain_shared(&mut |t| self.metrics.abort(t, None));
        // Control plane: work still held by a pause resolves `Shutdown` too.
        self.control.take_held(&mut |task, _| self.metrics.abort(task, None));
        // Storage hook: CPU workers are gone, so nothing spawns storage work any more.
        // ORDERING: SeqCst, as every read of `state` in the quiescence check
        // (sleep/README.md); after the workers were joined, Acquire would do.
        let aborting = self.state.load(Ordering::SeqCst) == ABORTING;
        self.storage.join(aborting);
    }

    /// Ends a graceful shutdown: every worker exits its loop.
    pub(crate) fn terminate(&self) {
        // ORDERING: SeqCst, read by `exit_requested` after the wake below.
        self.terminate.store(true, Ordering::SeqCst);
        self.sleep.notify_all();
    }

    fn close(&self, to: usize) {
        // ORDERING: SeqCst: the write half of the spawn/shutdown Dekker pair (module docs).
        self.state.fetch_max(to, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        self.sleep.notify_all();
        // Control plane: producers blocked on admission see the close.
        self.control.on_close();
        // Storage hook: a drop resolves queued storage tasks at once, so CPU tasks
        // waiting on them are released; a graceful shutdown closes the lane in `join`.
        if to == ABORTING {
            self.storage.close(true);
        }
    }

    /// Whether a spawn is accepted now: always while open; while closing, only from
    /// the pool's own tasks, and only until the workers have been told to exit.
    #[inline]
    fn accepts(&self, state: usize, inside: bool) -> bool {
        // ORDERING: Acquire pairs with the SeqCst store in `terminate`.
        state == OPEN || (state == CLOSING && inside && !self.terminate.load(Ordering::Acquire))
    }

    /// Whether a push from outside the pool is accepted now (a first look; the
    /// decisive check is the one in `push_shared`, after the push).
    pub(crate) fn accepts_outside(&self) -> bool {
        self.accepts(self.state.load(Ordering::Relaxed), false)
    }

    /// Pushes `task` onto worker `target`'s inbox, or onto the injector, from a thread
    /// that does not own that queue, then re-checks the state (module docs). Returns
    /// whether the pool still accepts the push; if not, the caller must see the task
    /// resolved. Wakes nobody: the caller wakes a worker afterwards.
    pub(crate) fn push_shared(&self, target: Option<usize>, weight: Weight, task: TaskRef, inside: bool) -> bool {
        match target {
            Some(w) => self.lanes.push_inbox(w, task),
            None => self.lanes.push_injector(weight, task),
        }
        // ORDERING: SeqCst fence: the write half of both Dekker pairs, with the parking
        // worker (sleep/README.md) and with shutdown (module docs).
        fence(Ordering::SeqCst);
        // ORDERING: SeqCst: the read half of the spawn/shutdown Dekker pair.
        self.accepts(self.state.load(Ordering::SeqCst), inside)
    }

    /// The worker with the least pinned, queued and running work. Among equals, an
    /// idle one (a running task may be long; an anchor pinned elsewhere may have
    /// nothing queued), then the first from a start that `id` rotates, not always
    /// worker 0 (issue 10, finding 6: a new anchor placed on a worker stuck in a
    /// long task waits for it).
    fn least_loaded(&self, id: u64) -> usize {
        let n = self.workers.len();
        let start = (id % n as u64) as usize;
        (0..n)
            .map(|i| (start + i) % n)
            .min_by_key(|&w| {
                let busy = usize::from(self.workers[w].is_busy());
                (self.locality.pinned_on(w) + self.lanes.queued_on(w) + busy, busy)
            })
            .unwrap_or(0)
    }

    /// Routes a spawn of `op`: a storage op to its tier (storage hook), any other to
    /// `spawn`.
    #[inline]
    pub(crate) fn spawn_op<K, F, T>(&self, op: &Op<K>, f: F) -> Token<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match op.storage() {
            Some(speed) => self.spawn_storage(op, speed, f),
            None => self.spawn(op.id(), op.tag(), op.weight_of(), op.deadline_ns(), f),
        }
    }

    #[inline]
    pub(crate) fn spawn<F, T>(&self, op: OpId, tag: &Tag, weight: Weight, deadline_ns: u64, f: F) -> Token<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_admitted(op, tag, weight, deadline_ns, f, Admit::Decide)
    }

    /// `spawn` for `try_spawn`: a full bounded pool gives `f` back instead of
    /// waiting (control plane, `control/admission.rs`).
    pub(crate) fn try_spawn<F, T>(
        &self,
        op: OpId,
        tag: &Tag,
        weight: Weight,
        deadline_ns: u64,
        f: F,
    ) -> Result<Token<T>, F>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let taken = match self.control.admission() {
            None => None,
            Some(a) if a.try_admit() => Some(a),
            Some(_) => return Err(f),
        };
        Ok(self.spawn_admitted(op, tag, weight, deadline_ns, f, Admit::Taken(taken)))
    }

    #[inline]
    fn spawn_admitted<F, T>(
        &self,
        op: OpId,
        tag: &Tag,
        weight: Weight,
        deadline_ns: u64,
        f: F,
        admit: Admit,
    ) -> Token<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let id = task::next_id();
        worker::with_ctx_of(self, |ctx| {
            let inside = ctx.is_some();
            // Control plane: a slot of a bounded pool, and the deadline.
            let admission = match admit {
                Admit::Taken(taken) => taken,
                Admit::Decide => self.control.admission().and_then(|a| self.admit(a, inside)),
            };
            if deadline_ns != 0 {
                self.control.note_deadline();
            }
            let times = Times::queued_now_if(self.metrics.times_task(deadline_ns));
            let meta = move |placement| {
                let mut meta = Meta::new(id, placement, weight, op, times);
                meta.deadline_ns = deadline_ns;
                meta.admission = admission;
                meta
            };
            // Metrics: every spawn counts once, here, in the spawning thread's shard.
            let shard = ctx.map(WorkerCtx::index);
            self.metrics.submitted(op, weight, shard);
            if !self.accepts(self.state.load(Ordering::Relaxed), inside) {
                let (task, ptr) = task::new(f, meta(Placement::Free));
                self.metrics.abort(task, shard);
                return Token::from_raw(ptr);
            }
            let place = |current: Option<&Placement>| {
                Locality::place(&self.locality, tag, id, current, || self.least_loaded(id))
            };
            // Inheritance (domains) only applies to spawns from this pool's own tasks.
            let (placement, target) = if inside {
                worker::with_current_placement(place)
            } else {
                place(None)
            };
            let (task, ptr) = task::new(f, meta(placement));
            match (target, ctx) {
                // Own queues need no shutdown re-check (`WorkerCtx::push_own`).
                (Some(w), Some(c)) if c.index() == w => c.push_own(Lane::Pinned, task),
                (None, Some(c)) => c.push_own(Lane::Weight(weight), task),
                (target, _) => {
                    if !self.push_shared(target, weight, task, inside) && Header::abort(ptr, TaskError::Shutdown) {
                        // Metrics: resolved by this re-check, so counted here.
                        // SAFETY: the token's reference (`ptr`) is still ours.
                        let meta = unsafe { &ptr.as_ref().meta };
                        self.metrics
                            .record_resolved(meta, crate::metrics::Outcome::Shutdown, shard);
                    }
                    match target {
                        Some(w) => self.sleep.notify_worker(w),
                        // Not a worker of this pool: prefer one on this CPU.
                        None => self.sleep.notify_one_near(),
                    }
                }
            }
            Token::from_raw(ptr)
        })
    }

    /// Control plane: takes a slot of bounded pool `a` for `spawn`. `None`: no slot,
    /// because the pool closed while waiting (the spawn then resolves `Shutdown`).
    /// From inside the pool a spawn is admitted over the bound: it must never block
    /// (`control/admission.rs`).
    #[inline]
    fn admit(&self, a: &'static Admission, inside: bool) -> Option<&'static Admission> {
        if a.try_admit() {
            return Some(a);
        }
        if inside {
            a.admit_over();
            return Some(a);
        }
        a.admit_blocking(|| !self.accepts_outside()).then_some(a)
    }

    /// Control plane: puts a held or swept task back, on worker `target`'s inbox
    /// (pinned work) or the injector, and wakes a worker for it. If the pool no
    /// longer accepts it, it resolves `Shutdown`, unless it is a `join`'s stack job.
    pub(crate) fn requeue(&self, task: TaskRef, target: Option<usize>) {
        // Storage hook: a storage task goes back to its tier.
        if let Some(speed) = StorageSpeed::from_tier(task.meta().tier) {
            return self.requeue_storage(speed, task);
        }
        let weight = task.meta().weight;
        let inside = worker::with_ctx_of(self, |c| c.is_some());
        if task.is_stack_job() {
            // A sweep moves stack jobs too. Once pushed, it may run and its joiner
            // return (its frame gone) at any moment, so it is not touched again, and
            // it is never resolved here: its joiner takes it back from the shared
            // queue, or a drain of that queue gives it back unrun (`fork.rs`).
            let _ = self.push_shared(target, weight, task, inside);
        } else {
            // A reference of our own, to resolve the task if the push is refused.
            let ptr = task.header();
            // SAFETY: `task` holds a reference, so the header is alive.
            unsafe { ptr.as_ref() }.add_ref();
            if !self.push_shared(target, weight, task, inside) {
                Header::abort(ptr, TaskError::Shutdown);
            }
            // SAFETY: we own the reference added above and do not use `ptr` again.
            unsafe { Header::drop_ref(ptr) };
        }
        match target {
            Some(w) => self.sleep.notify_worker(w),
            None => self.sleep.notify_one(),
        }
    }
}

/// How a spawn gets its admission slot (control plane).
#[derive(Clone, Copy)]
enum Admit {
    /// Take one now if the pool is bounded (waiting or over the bound, as `admit`).
    Decide,
    /// Already taken by `try_spawn` (`None`: the pool is unbounded).
    Taken(Option<&'static Admission>),
}

/// The scheduler: one worker thread per core, each pinned to its core, with
/// weight-aware work stealing. See the crate docs for the rules.
///
/// Dropping a coordinator without [`shutdown`](Coordinator::shutdown): queued tasks
/// resolve `Err(TaskError::Shutdown)` without running, running tasks finish, and the
/// worker threads are joined.
pub struct Coordinator {
    handle: Handle,
    /// Cold path only: taken once, by whoever shuts the pool down, to join the threads.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Coordinator {
    /// One worker per CPU in the process's affinity mask, each pinned to its CPU.
    ///
    /// # Panics
    /// If the operating system refuses to start the worker threads. Use
    /// [`Coordinator::builder`] to handle that as an error.
    pub fn new() -> Self {
        match Builder::new().build() {
            Ok(gate) => gate,
            Err(e) => panic!("tokengate: Coordinator::new failed: {e}"),
        }
    }

    /// Wraps started workers; dropping the result aborts and joins them.
    pub(crate) fn from_parts(shared: Arc<Shared>, threads: Vec<JoinHandle<()>>) -> Coordinator {
        Coordinator {
            handle: Handle::adopt(shared),
            threads: Mutex::new(threads),
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// A builder to choose the worker count, pinning and the heavy reservation.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A cheap, cloneable handle for spawning from other threads and from tasks.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Graceful shutdown: new spawns from outside resolve `Shutdown`. Everything
    /// already queued runs, including what those tasks spawn. Then the workers are
    /// joined. Calling it again does nothing.
    ///
    /// # Panics
    /// If called from one of this coordinator's own tasks: the pool would wait for
    /// itself forever.
    pub fn shutdown(&self) {
        // Storage hook: a storage task of this pool would wait for itself too.
        let own_storage = crate::storage::current_owner() == Some(self.owner_ptr());
        if own_storage || worker::with_ctx_of(&self.handle.shared, |c| c.is_some()) {
            panic!(
                "tokengate: Coordinator::shutdown called from one of its own tasks; it would wait for itself forever"
            );
        }
        self.handle.shared.close(CLOSING);
        self.join();
    }

    fn join(&self) {
        // Cold path. The lock is held through the joins and the final drain, so a
        // second, concurrent `shutdown` waits for the first instead of draining early.
        let mut threads = self.threads.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Dropped inside one of our own tasks: resolve this worker's queues first, so
        // peers waiting on its pinned work are not left waiting for a blocked worker.
        let inside = worker::with_ctx_of(&self.handle.shared, |c| c.map(WorkerCtx::drain_own).is_some());
        if inside {
            // Joining here could deadlock: another worker may be waiting on the very
            // task running this drop (issue 10, finding 1). The joins and the final
            // drain move to a reaper thread, which returns once this task has returned
            // and every worker has left its loop.
            let threads = std::mem::take(&mut *threads);
            let shared = Arc::clone(&self.handle.shared);
            reap(threads, shared);
            return;
        }
        for t in threads.drain(..) {
            let _ = t.join();
        }
        self.handle.shared.finish();
    }

    /// Storage hook: this coordinator as the storage lane's owner (`set_owner`).
    pub(crate) fn owner_ptr(&self) -> *const () {
        Arc::as_ptr(&self.handle.shared).cast()
    }
}

/// Joins `threads` and drains the shared queues on a thread of its own. If no thread
/// can be started, the workers are left to exit on their own (they do, since the pool
/// is closed), and the one draining them is the last safety net in `TaskRef::drop`.
fn reap(threads: Vec<JoinHandle<()>>, shared: Arc<Shared>) {
    let reaper = crate::sync::Builder::new()
        .name("tokengate-reaper".into())
        .spawn(move || {
            for t in threads {
                let _ = t.join();
            }
            shared.finish();
        });
    drop(reaper);
}

impl std::ops::Deref for Coordinator {
    type Target = Handle;

    /// Every operating method (spawning, statistics, controls) lives on [`Handle`]
    /// once; a coordinator is used through it.
    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl Default for Coordinator {
    fn default() -> Self {
        Coordinator::new()
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.handle.shared.close(ABORTING);
        self.join();
    }
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("workers", &self.workers())
            .field("heavy_limit", &self.heavy_limit())
            .finish()
    }
}

/// The process-wide coordinator behind [`spawn`], started on first use and never
/// shut down.
pub fn default_coordinator() -> &'static Coordinator {
    static DEFAULT: OnceLock<Coordinator> = OnceLock::new();
    DEFAULT.get_or_init(Coordinator::new)
}

/// Spawns `f` as one call of `op`: on the coordinator running the current task when
/// called from inside one (as `rayon::spawn` does), otherwise on the process-wide
/// [`default_coordinator`], which starts on first use.
///
/// Inside tasks this is the cheapest way to spawn. It needs no [`Handle`] captured
/// in the closure, so recursive fork-join pays no reference counting:
///
/// ```
/// use std::sync::LazyLock;
/// use tokengate::Op;
/// static FIB: LazyLock<Op> = LazyLock::new(|| Op::new("fib"));
/// fn fib(n: u64) -> u64 {
///     if n < 2 {
///         return n;
///     }
///     let child = tokengate::spawn(&FIB, move || fib(n - 1));
///     fib(n - 2) + child.wait().unwrap()
/// }
/// let gate = tokengate::Coordinator::builder().workers(2).build().unwrap();
/// assert_eq!(gate.spawn(&FIB, || fib(20)).wait(), Ok(6765));
/// ```
///
/// ```
/// let t = tokengate::spawn(&tokengate::Op::new("answer"), || 6 * 7);
/// assert_eq!(t.wait(), Ok(42));
/// ```
pub fn spawn<K, F, T>(op: &Op<K>, f: F) -> Token<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // The closure returns the token itself, not an enum a second step unpacks, so a
    // task that spawns in a loop or recursively pays no extra moves (as `join`).
    worker::with_current_shared(move |shared| match shared {
        Some(shared) => shared.spawn_op(op, f),
        None => spawn_off_worker(op, f),
    })
}

/// [`spawn`] on a thread that is no worker: a storage task's thread spawns on the
/// pool that owns it, any other thread on the [`default_coordinator`].
#[cold]
#[inline(never)]
fn spawn_off_worker<K, F, T>(op: &Op<K>, f: F) -> Token<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match crate::storage::current_owner() {
        // SAFETY: the owner is the `Shared` of a coordinator (`Builder::build`), which
        // joins its storage threads before it lets go of it, so it outlives this task.
        Some(owner) => unsafe { &*owner.cast::<Shared>() }.spawn_op(op, f),
        None => default_coordinator().spawn(op, f),
    }
}
