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

use crate::error::{BuildError, TaskError};
use crate::lanes::{HeavyGate, Lane, SharedLanes};
use crate::locality::{Locality, LocalityStats, Placement};
use crate::op::{fnv1a, Op, Tag, Weight};
use crate::sleep::Sleep;
use crate::sync::{
    fence, park, Arc, AtomicBool, AtomicUsize, Builder as ThreadBuilder, CachePadded, JoinHandle, Ordering,
};
use crate::task::{self, Header, Meta, TaskRef};
use crate::token::Token;
use crate::worker::{self, WorkerCtx, WorkerInfo, WorkerStats};

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
    state: AtomicUsize,
    terminate: AtomicBool,
}

impl Shared {
    /// Workers leave their loop: the pool is aborting, or a graceful shutdown finished.
    pub(crate) fn exit_requested(&self) -> bool {
        // ORDERING: Acquire pairs with the SeqCst stores in `close` and `terminate`.
        self.terminate.load(Ordering::Acquire) || self.state.load(Ordering::Acquire) == ABORTING
    }

    pub(crate) fn is_closing(&self) -> bool {
        // ORDERING: SeqCst: part of the quiescence check (sleep/README.md).
        self.state.load(Ordering::SeqCst) == CLOSING
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
    }

    /// Whether a spawn is accepted now: always while open; while closing, only from
    /// the pool's own tasks, and only until the workers have been told to exit.
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

    /// The worker with the least pinned and queued work (ties: the lowest index).
    fn least_loaded(&self) -> usize {
        (0..self.workers.len())
            .min_by_key(|&w| self.locality.pinned_on(w) + self.lanes.queued_on(w))
            .unwrap_or(0)
    }

    fn spawn<F, T>(&self, tag: &Tag, weight: Weight, f: F) -> Token<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let id = task::next_id();
        worker::with_ctx_of(self, |ctx| {
            let inside = ctx.is_some();
            if !self.accepts(self.state.load(Ordering::Relaxed), inside) {
                let (task, ptr) = task::new(
                    f,
                    Meta {
                        id,
                        placement: Placement::Free,
                        weight,
                    },
                );
                task.abort(TaskError::Shutdown);
                return Token::from_raw(ptr);
            }
            let place =
                |current: Option<&Placement>| Locality::place(&self.locality, tag, id, current, || self.least_loaded());
            // Inheritance (domains) only applies to spawns from this pool's own tasks.
            let (placement, target) = if inside {
                worker::with_current_placement(place)
            } else {
                place(None)
            };
            let (task, ptr) = task::new(f, Meta { id, placement, weight });
            match (target, ctx) {
                // Own queues need no shutdown re-check (`WorkerCtx::push_own`).
                (Some(w), Some(c)) if c.index() == w => c.push_own(Lane::Pinned, task),
                (None, Some(c)) => c.push_own(Lane::Weight(weight), task),
                (target, _) => {
                    if !self.push_shared(target, weight, task, inside) {
                        Header::abort(ptr, TaskError::Shutdown);
                    }
                    match target {
                        Some(w) => self.sleep.notify_worker(w),
                        None => self.sleep.notify_one(),
                    }
                }
            }
            Token::from_raw(ptr)
        })
    }
}

/// A cheap, cloneable handle to a coordinator, for spawning from anywhere, including
/// from inside tasks. It does not keep the workers alive: once the coordinator has
/// shut down or been dropped, spawns through a handle resolve `Shutdown`.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// The handle of the coordinator running the current task, or `None` outside any
    /// task.
    ///
    /// ```
    /// use tokengate::{Coordinator, Handle, Op};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// assert!(Handle::current().is_none());
    /// assert!(gate.spawn(&Op::new("x"), || Handle::current().is_some()).wait().unwrap());
    /// ```
    pub fn current() -> Option<Handle> {
        worker::with_current_shared(|s| {
            s.map(|shared| Handle {
                shared: Arc::clone(shared),
            })
        })
    }

    /// Spawns one call of `op`. See [`Coordinator::spawn`].
    pub fn spawn<K, F, T>(&self, op: &Op<K>, f: F) -> Token<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.shared.spawn(op.tag(), op.weight_of(), f)
    }

    /// Declares `f` once as `op` and returns a function that spawns it per call.
    /// See [`Coordinator::guard`].
    pub fn guard<K, A, T, F>(&self, op: Op<K>, f: F) -> impl Fn(A) -> Token<T> + Clone + Send + Sync + 'static
    where
        K: 'static,
        A: Send + 'static,
        T: Send + 'static,
        F: Fn(A) -> T + Send + Sync + 'static,
    {
        let handle = self.clone();
        let f = std::sync::Arc::new(f);
        move |arg| {
            let f = std::sync::Arc::clone(&f);
            handle.spawn(&op, move || f(arg))
        }
    }

    /// Activity counters of every worker.
    pub fn worker_stats(&self) -> Vec<WorkerStats> {
        self.shared
            .workers
            .iter()
            .enumerate()
            .map(|(i, w)| w.snapshot(i))
            .collect()
    }

    /// The number of workers.
    pub fn workers(&self) -> usize {
        self.shared.workers.len()
    }

    /// True if every worker is pinned to its core. False if pinning was turned off or
    /// failed for any worker (restricted cpusets, containers); the pool then runs
    /// unpinned and [`worker_stats`](Handle::worker_stats) tells which.
    pub fn is_pinned(&self) -> bool {
        self.worker_stats().iter().all(|w| w.pinned)
    }

    /// How many workers may run `Heavy` tasks at once.
    pub fn heavy_limit(&self) -> usize {
        self.shared.heavy.limit()
    }

    /// Heavy permits held right now (workers running heavy work from stealable lanes).
    pub fn heavy_running(&self) -> usize {
        self.shared.heavy.held()
    }

    /// The worker that tokens with sticky anchor `anchor` are pinned to, or `None` if
    /// none is active. Anchors that share a table slot share its pin.
    pub fn anchor_worker(&self, anchor: &str) -> Option<usize> {
        self.shared.locality.anchor_worker(fnv1a(anchor.as_bytes()))
    }

    /// Domain and pin counters.
    pub fn locality_stats(&self) -> LocalityStats {
        self.shared.locality.stats()
    }
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

    pub(crate) fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// A builder to choose the worker count, pinning and the heavy reservation.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Spawns one call of `op`: `f` runs on a worker and the token carries its result.
    ///
    /// From outside the pool the task goes to the injector of its weight. From inside
    /// a task it goes to the current worker's own lane. Sticky and domain work goes to
    /// its pinned worker. After shutdown, the token resolves `Err(TaskError::Shutdown)`.
    ///
    /// ```
    /// use tokengate::{Coordinator, Op, Weight};
    /// let gate = Coordinator::builder().workers(2).build().unwrap();
    /// let op = Op::new("prime_check").weight(Weight::Medium);
    /// let tokens: Vec<_> = (0..10u64).map(|n| gate.spawn(&op, move || n * n)).collect();
    /// let squares: Vec<u64> = tokens.into_iter().map(|t| t.wait().unwrap()).collect();
    /// assert_eq!(squares[9], 81);
    /// ```
    pub fn spawn<K, F, T>(&self, op: &Op<K>, f: F) -> Token<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.handle.spawn(op, f)
    }

    /// The decorator analogue: declares `f` once as `op` and returns a plain function
    /// that spawns it on each call.
    ///
    /// ```
    /// use tokengate::{Coordinator, Op};
    /// fn is_prime(n: u64) -> bool { n > 1 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0) }
    /// let gate = Coordinator::builder().workers(2).build().unwrap();
    /// let prime = gate.guard(Op::new("prime_check"), is_prime);
    /// assert_eq!(prime(7919).wait(), Ok(true));
    /// ```
    pub fn guard<K, A, T, F>(&self, op: Op<K>, f: F) -> impl Fn(A) -> Token<T> + Clone + Send + Sync + 'static
    where
        K: 'static,
        A: Send + 'static,
        T: Send + 'static,
        F: Fn(A) -> T + Send + Sync + 'static,
    {
        self.handle.guard(op, f)
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
        if worker::with_ctx_of(&self.handle.shared, |c| c.is_some()) {
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
        worker::with_ctx_of(&self.handle.shared, |c| c.map(WorkerCtx::drain_own));
        let me = crate::sync::current().id();
        for t in threads.drain(..) {
            // A worker cannot join itself; it exits once its current task returns.
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
        self.handle.shared.lanes.drain_shared();
    }

    /// See [`Handle::worker_stats`].
    pub fn worker_stats(&self) -> Vec<WorkerStats> {
        self.handle.worker_stats()
    }
    /// See [`Handle::workers`].
    pub fn workers(&self) -> usize {
        self.handle.workers()
    }
    /// See [`Handle::is_pinned`].
    pub fn is_pinned(&self) -> bool {
        self.handle.is_pinned()
    }
    /// See [`Handle::heavy_limit`].
    pub fn heavy_limit(&self) -> usize {
        self.handle.heavy_limit()
    }
    /// See [`Handle::heavy_running`].
    pub fn heavy_running(&self) -> usize {
        self.handle.heavy_running()
    }
    /// See [`Handle::anchor_worker`].
    pub fn anchor_worker(&self, anchor: &str) -> Option<usize> {
        self.handle.anchor_worker(anchor)
    }
    /// See [`Handle::locality_stats`].
    pub fn locality_stats(&self) -> LocalityStats {
        self.handle.locality_stats()
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

/// Configures a [`Coordinator`].
///
/// ```
/// use tokengate::Coordinator;
/// let gate = Coordinator::builder().workers(2).pin_workers(true).reserve_for_light(1).build()?;
/// assert_eq!((gate.workers(), gate.heavy_limit()), (2, 1));
/// # Ok::<(), tokengate::BuildError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until .build() is called"]
pub struct Builder {
    workers: Option<usize>,
    pin: bool,
    reserve: Option<usize>,
    name: String,
}

impl Builder {
    fn new() -> Self {
        Builder {
            workers: None,
            pin: true,
            reserve: None,
            name: "tokengate".into(),
        }
    }

    /// The number of workers. Default: the CPUs in the process's affinity mask.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }

    /// Pin worker `i` to the `i`-th allowed CPU (round-robin if there are more
    /// workers than CPUs). Default: `true`. A failed pin is not an error: the worker
    /// runs unpinned, and [`Coordinator::is_pinned`] reports it.
    pub fn pin_workers(mut self, pin: bool) -> Self {
        self.pin = pin;
        self
    }

    /// Reserves `k` workers for non-heavy work: at most `workers - k` workers run
    /// `Heavy` tasks at once, so light tasks stay fast while heavy ones saturate the
    /// rest. Default: `workers / 4`, which is 0 on machines with fewer than 4 cores,
    /// where every core is needed for throughput.
    pub fn reserve_for_light(mut self, k: usize) -> Self {
        self.reserve = Some(k);
        self
    }

    /// Worker thread names are `"{prefix}-{index}"`. Default: `tokengate`.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Self {
        self.name = prefix.into();
        self
    }

    /// Starts the workers and waits until every one is running (and pinned, if asked).
    pub fn build(self) -> Result<Coordinator, BuildError> {
        let cores = if self.pin {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        let n = match self.workers {
            Some(n) => n,
            None => default_workers(),
        };
        if n == 0 {
            return Err(BuildError::ZeroWorkers);
        }
        if n > MAX_WORKERS {
            return Err(BuildError::TooManyWorkers { requested: n });
        }
        let reserved = self.reserve.unwrap_or(n / 4);
        if reserved >= n {
            return Err(BuildError::ReserveTooLarge { reserved, workers: n });
        }
        let (lanes, locals) = SharedLanes::new(n);
        let shared = Arc::new(Shared {
            lanes,
            sleep: Sleep::new(n),
            heavy: HeavyGate::new(n - reserved),
            locality: Arc::new(Locality::new(n)),
            workers: (0..n).map(|_| CachePadded::new(WorkerInfo::new())).collect(),
            state: AtomicUsize::new(OPEN),
            terminate: AtomicBool::new(false),
        });
        let started = Arc::new(AtomicUsize::new(0));
        let builder_thread = crate::sync::current();
        let mut threads = Vec::with_capacity(n);
        for (index, local) in locals.into_iter().enumerate() {
            let core = (!cores.is_empty()).then(|| cores[index % cores.len()]);
            let (worker_shared, started, builder_thread) =
                (Arc::clone(&shared), Arc::clone(&started), builder_thread.clone());
            let spawned = ThreadBuilder::new()
                .name(format!("{}-{index}", self.name))
                .spawn(move || {
                    WorkerCtx::run(worker_shared, index, local, core, move || {
                        // ORDERING: Release: the builder's Acquire load sees this worker registered.
                        started.fetch_add(1, Ordering::Release);
                        builder_thread.unpark();
                    });
                });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let gate = Coordinator {
                        handle: Handle { shared },
                        threads: Mutex::new(threads),
                    };
                    drop(gate); // aborts and joins the workers that did start
                    return Err(BuildError::Spawn(e));
                }
            }
        }
        // ORDERING: Acquire pairs with each worker's Release increment.
        while started.load(Ordering::Acquire) < n {
            park();
        }
        Ok(Coordinator {
            handle: Handle { shared },
            threads: Mutex::new(threads),
        })
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

fn default_workers() -> usize {
    match core_affinity::get_core_ids() {
        Some(ids) if !ids.is_empty() => ids.len(),
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
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
    let inside = worker::with_current_shared(move |shared| match shared {
        Some(shared) => Ok(shared.spawn(op.tag(), op.weight_of(), f)),
        None => Err(f),
    });
    inside.unwrap_or_else(|f| default_coordinator().spawn(op, f))
}
