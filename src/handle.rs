//! [`Handle`]: the operating surface of a pool. Every method that spawns into, reads
//! or steers a running pool is written here once; a [`Coordinator`](crate::Coordinator)
//! derefs to its handle, so the same calls work on both.

use crate::control::{Full, Room};
use crate::coordinator::Shared;
use crate::error::TaskError;
use crate::locality::LocalityStats;
use crate::op::{fnv1a, Op};
use crate::registry::OpId;
use crate::storage::{StorageLane, StorageLimitError, StorageSpeed, StorageStats};
use crate::sync::Arc;
use crate::task::Meta;
use crate::token::Token;
use crate::worker::{self, WorkerStats};
use std::mem::ManuallyDrop;

/// A cheap, cloneable handle to a coordinator, for spawning from anywhere, including
/// from inside tasks. It does not keep the workers alive: once the coordinator has
/// shut down or been dropped, spawns through a handle resolve `Shutdown`.
///
/// Cloning or dropping a handle on one of its pool's workers writes no shared cache
/// line: all handles share one strong reference to the pool, counted in units that
/// each worker caches (`handle_refs.rs` documents the design and why it is sound).
///
/// ```
/// use tokengate::{Coordinator, Handle, Op};
/// fn fib(h: &Handle, n: u64) -> u64 {
///     if n < 2 {
///         return n;
///     }
///     let child = h.clone(); // takes a unit from this worker's cache
///     let a = h.spawn(&Op::new("fib"), move || fib(&child, n - 1));
///     fib(h, n - 2) + a.wait().unwrap()
/// }
/// let gate = Coordinator::builder().workers(2).build().unwrap();
/// let h = gate.handle();
/// assert_eq!(gate.spawn(&Op::new("fib"), move || fib(&h, 15)).wait(), Ok(610));
/// ```
pub struct Handle {
    /// A bitwise copy of the handles' one group reference: it owns no strong count
    /// by itself, so it is never dropped as an `Arc` except by the last unit
    /// (`handle_refs.rs`).
    pub(crate) shared: ManuallyDrop<Arc<Shared>>,
}

// Handle is `Send + Sync` as `Arc<Shared>` is: it only adds the unit protocol of
// `handle_refs.rs`, whose count is atomic and whose caches are per worker thread.
const _: fn() = || {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Handle>();
};

impl Clone for Handle {
    fn clone(&self) -> Handle {
        let shared: &Arc<Shared> = &self.shared;
        // On a worker of this pool: a unit from its cache; elsewhere, one RMW.
        let cached = worker::with_ctx_of(shared, |c| c.map(|c| c.take_handle_unit()).is_some());
        if !cached {
            shared.handles.add(1);
        }
        // SAFETY: a bitwise copy of the group reference, which owns no count by
        // itself; the unit just taken keeps the group reference alive until this
        // handle's drop gives it back.
        Handle {
            shared: ManuallyDrop::new(unsafe { std::ptr::read(shared) }),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let shared: &Arc<Shared> = &self.shared;
        let cached = worker::with_ctx_of(shared, |c| c.map(|c| c.put_handle_unit()).is_some());
        if !cached && shared.handles.sub(1) {
            // SAFETY: that was the last unit, so this drops the group reference,
            // once; no handle copy is used afterwards (module docs of handle_refs.rs).
            unsafe { ManuallyDrop::drop(&mut self.shared) };
        }
    }
}

impl Handle {
    /// A handle made from a strong reference of the caller's: one unit is added, and
    /// `arc` becomes the group reference if there was none (`handle_refs.rs`).
    pub(crate) fn adopt(arc: Arc<Shared>) -> Handle {
        let revived = arc.handles.revive();
        // SAFETY: a bitwise copy; it stands for the group reference, which exists
        // now: `arc` itself if we revived the count, an existing one otherwise (held
        // alive by the unit we just added).
        let handle = Handle {
            shared: ManuallyDrop::new(unsafe { std::ptr::read(&arc) }),
        };
        if revived {
            std::mem::forget(arc);
        } else {
            drop(arc);
        }
        handle
    }

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
        worker::with_ctx(|ctx| ctx.map(worker::WorkerCtx::current_handle))
    }

    /// Spawns one call of `op`: `f` runs on a worker and the token carries its result.
    ///
    /// In a pool built with `max_queued(n)`, a spawn from outside parks while `n` tasks
    /// are queued; one from inside a task is admitted over the bound (never blocks).
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
    #[inline]
    pub fn spawn<K, F, T>(&self, op: &Op<K>, f: F) -> Token<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.shared.spawn_op(op, f)
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
        let handle = self.clone();
        let f = std::sync::Arc::new(f);
        move |arg| {
            let f = std::sync::Arc::clone(&f);
            handle.spawn(&op, move || f(arg))
        }
    }

    /// Activity counters of every worker. The same counters as
    /// [`metrics`](Handle::metrics)`().workers()`, which has more of them.
    pub fn worker_stats(&self) -> Vec<WorkerStats> {
        self.shared
            .workers
            .iter()
            .enumerate()
            .map(|(i, w)| w.snapshot(i, self.shared.metrics.worker(i)))
            .collect()
    }

    /// A snapshot of the pool's metrics: per op (counts per outcome, queue-wait and
    /// run-time histograms, health), per worker, and the queues (`metrics/mod.rs`
    /// documents what is counted where).
    ///
    /// ```
    /// use tokengate::{Coordinator, Health, Op};
    /// let gate = Coordinator::builder().workers(2).build().unwrap();
    /// let op = Op::new("prime_check");
    /// for t in (0..20u64).map(|n| gate.spawn(&op, move || n % 7 == 0)).collect::<Vec<_>>() {
    ///     t.wait().unwrap();
    /// }
    /// let m = gate.metrics();
    /// let prime = m.op("prime_check").unwrap();
    /// assert_eq!((prime.submitted, prime.completed, prime.panicked), (20, 20, 0));
    /// assert_eq!(prime.run_time.count(), 20);
    /// assert!(prime.queue_wait.quantile(0.99) <= prime.queue_wait.max());
    /// assert_eq!(prime.health(), Health::Excellent);
    /// assert_eq!(m.workers().len(), 2);
    /// assert!(m.to_prometheus().starts_with("# HELP tokengate_"));
    /// ```
    #[must_use]
    pub fn metrics(&self) -> crate::metrics::MetricsSnapshot {
        let pins: Vec<_> = self.shared.workers.iter().map(|w| w.pin()).collect();
        let (injector, local, pinned) = self.shared.lanes.queued_by_kind();
        let tiers = self.shared.storage.stats();
        let storage = tiers.iter().map(|t| t.queued).sum();
        let held = self.shared.control.held_count();
        let queued = crate::metrics::Queued::new(injector, local, pinned, storage, held);
        self.shared.metrics.snapshot(&pins, queued, tiers)
    }

    /// The newest `n` entries of the execution history, newest first: every resolved
    /// task (run, cancelled, shut down), up to [`Builder::history`](crate::Builder::history)
    /// of them. Empty with [`Builder::metrics(false)`](crate::Builder::metrics).
    ///
    /// ```
    /// use tokengate::{Coordinator, Op, Outcome};
    /// let gate = Coordinator::builder().workers(1).history(16).build().unwrap();
    /// let op = Op::new("history-doc");
    /// let ids: Vec<u64> = (0..3).map(|_| { let t = gate.spawn(&op, || ()); let id = t.id(); t.wait().unwrap(); id }).collect();
    /// let recent = gate.recent_executions(2);
    /// assert_eq!(recent.iter().map(|e| e.id).collect::<Vec<_>>(), vec![ids[2], ids[1]]);
    /// assert!(recent.iter().all(|e| e.op == "history-doc" && e.outcome == Outcome::Completed));
    /// ```
    #[must_use]
    pub fn recent_executions(&self, n: usize) -> Vec<crate::metrics::Execution> {
        self.shared.metrics.recent(n)
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

    // ----- control plane (src/control/) -------------------------------------------

    /// Pauses the whole pool: queued work waits (held, no thread polls it), running
    /// tasks finish, and spawns are still accepted. Returns false if it was already
    /// paused. Takes effect at each worker's next pick: a task spawned after `pause`
    /// returns never starts before `resume`. Graceful shutdown or drop while paused
    /// resolves held work `Shutdown`.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use tokengate::{Coordinator, Op};
    /// let gate = Coordinator::builder().workers(2).build().unwrap();
    /// let ran = Arc::new(AtomicUsize::new(0));
    /// assert!(gate.pause() && gate.is_paused());
    /// let tokens: Vec<_> = (0..8).map(|_| {
    ///     let ran = ran.clone();
    ///     gate.spawn(&Op::new("paused-doc"), move || ran.fetch_add(1, Ordering::SeqCst))
    /// }).collect();
    /// assert_eq!(ran.load(Ordering::SeqCst), 0);
    /// assert!(gate.resume());
    /// for t in tokens { t.wait().unwrap(); }
    /// assert_eq!(ran.load(Ordering::SeqCst), 8);
    /// ```
    pub fn pause(&self) -> bool {
        self.shared.control.pause()
    }

    /// Lifts [`pause`](Handle::pause) and requeues the held work (except ops paused
    /// on their own). Returns false if the pool was not paused.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// assert!(!gate.resume());
    /// ```
    pub fn resume(&self) -> bool {
        let shared = &*self.shared;
        shared.control.resume(&|t, w| shared.requeue(t, w))
    }

    /// True while [`pause`](Handle::pause) is on.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// assert!(!gate.is_paused());
    /// ```
    pub fn is_paused(&self) -> bool {
        self.shared.control.is_paused()
    }

    /// Pauses one op by name (it may be declared later): its queued tasks wait, and
    /// other ops go on undisturbed (a worker sets a paused task aside and takes the
    /// next). Returns false if it was already paused.
    ///
    /// ```
    /// use tokengate::{Coordinator, Op};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// assert!(gate.pause_op("prime_check"));
    /// let held = gate.spawn(&Op::new("prime_check"), || 1);
    /// assert_eq!(gate.spawn(&Op::new("other"), || 2).wait(), Ok(2));   // not stalled
    /// assert!(!held.is_finished());
    /// assert!(gate.resume_op("prime_check"));
    /// assert_eq!(held.wait(), Ok(1));
    /// ```
    pub fn pause_op(&self, name: &str) -> bool {
        self.shared.control.pause_op(OpId::intern(name))
    }

    /// Lifts [`pause_op`](Handle::pause_op) and requeues the op's held tasks (they
    /// stay held while the whole pool is paused). False if it was not paused.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// assert!(!gate.resume_op("never-paused"));
    /// ```
    pub fn resume_op(&self, name: &str) -> bool {
        let shared = &*self.shared;
        OpId::lookup(name).is_some_and(|op| shared.control.resume_op(op, &|t, w| shared.requeue(t, w)))
    }

    /// True while op `name` is paused by [`pause_op`](Handle::pause_op).
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// gate.pause_op("a");
    /// assert!(gate.is_op_paused("a") && !gate.is_op_paused("b"));
    /// ```
    pub fn is_op_paused(&self, name: &str) -> bool {
        OpId::lookup(name).is_some_and(|op| self.shared.control.is_op_paused(op))
    }

    /// Tasks waiting in held lists now (paused work a worker has set aside).
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// assert_eq!(gate.held(), 0);
    /// ```
    pub fn held(&self) -> usize {
        self.shared.control.held_count()
    }

    /// Resolves every queued task of op `name` as `Err(TaskError::Cancelled)`: its
    /// closure is dropped and never runs, wherever it waits (injector, a worker's
    /// lanes, a pinned lane or inbox, a held list, a storage tier). Running tasks are not touched.
    /// Returns how many it resolved. Other queued work keeps running, though it
    /// may lose its place in line (`control/sweep.rs`).
    ///
    /// **Exact:** a task a worker is moving at that instant (popped and not yet
    /// started, or mid batch-steal) is caught too: the sweep repeats until a pass saw
    /// no worker take anything (`control/moves.rs`). While it sweeps, workers set aside
    /// what they take (as under [`pause`](Handle::pause)), and running tasks go on.
    /// **Limit:** if new work keeps arriving faster than the sweep settles, it stops
    /// after 64 passes; a task queued before the call and moved by a worker during
    /// every one of those passes could then be missed.
    ///
    /// ```
    /// use tokengate::{Coordinator, Op, TaskError};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// gate.pause();
    /// let doomed: Vec<_> = (0..5).map(|_| gate.spawn(&Op::new("drain-doc"), || ())).collect();
    /// let kept = gate.spawn(&Op::new("kept"), || 7);
    /// while gate.held() < 6 {              // the worker sets each paused task aside
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(gate.drain_op("drain-doc"), 5);
    /// gate.resume();
    /// assert!(doomed.into_iter().all(|t| t.wait() == Err(TaskError::Cancelled)));
    /// assert_eq!(kept.wait(), Ok(7));
    /// ```
    pub fn drain_op(&self, name: &str) -> usize {
        match OpId::lookup(name) {
            Some(op) => self.sweep(|m| m.op == op, usize::MAX),
            None => 0,
        }
    }

    /// [`drain_op`](Handle::drain_op) for all queued work. (`join`'s stack jobs are
    /// part of their running task and are not drained.)
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// gate.pause();
    /// let t = gate.spawn(&tokengate::Op::new("x"), || ());
    /// assert_eq!(gate.drain(), 1);
    /// assert_eq!(t.wait(), Err(tokengate::TaskError::Cancelled));
    /// gate.resume();
    /// ```
    pub fn drain(&self) -> usize {
        self.sweep(|_| true, usize::MAX)
    }

    /// Cancels the queued task with token id `id`: true if it was queued (it never
    /// runs; its token resolves `Cancelled`). False for a running, finished or
    /// unknown id (a running task keeps running; use
    /// [`AbortHandle::cancel`](crate::AbortHandle::cancel) to make
    /// [`is_cancelled`](crate::is_cancelled) turn true inside it). It sweeps the
    /// queues, O(queued tasks): a dashboard's "kill", not a hot path.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// gate.pause();
    /// let t = gate.spawn(&tokengate::Op::new("x"), || ());
    /// assert!(gate.cancel(t.id()));
    /// assert!(!gate.cancel(t.id()) && !gate.cancel(u64::MAX));
    /// assert_eq!(t.wait(), Err(tokengate::TaskError::Cancelled));
    /// gate.resume();
    /// ```
    pub fn cancel(&self, id: u64) -> bool {
        self.sweep(|m| m.id == id, 1) == 1
    }

    /// The status of task `id`, wherever it is: queued or held (found by a sweep
    /// of the queues, as [`cancel`](Handle::cancel) does, which sets aside and
    /// requeues what it passes over), running (each worker publishes the task it
    /// runs), or resolved and still in the [`history`](crate::Builder::history).
    /// `None` for an unknown id, or one resolved so long ago that the history
    /// dropped it. It is a lookup for operators (the dashboard's "status by id"),
    /// O(queued tasks); the task's own [`Token::status`](crate::Token::status) is
    /// the cheap one. A running task's status has no times (only its token's has).
    ///
    /// ```
    /// use tokengate::{Coordinator, Op, TaskState};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// gate.pause();
    /// let t = gate.spawn(&Op::new("status-by-id-doc"), || 1);
    /// assert_eq!(gate.status(t.id()).map(|s| s.state), Some(TaskState::Held));
    /// gate.resume();
    /// let id = t.id();
    /// assert_eq!(t.wait(), Ok(1));
    /// let done = gate.status(id).unwrap();
    /// assert_eq!((done.op, done.state), ("status-by-id-doc", TaskState::Finished));
    /// assert!(gate.status(u64::MAX).is_none());
    /// ```
    #[must_use]
    pub fn status(&self, id: u64) -> Option<crate::TaskStatus> {
        if id == 0 {
            return None; // never a task's id (a worker's "running nothing")
        }
        let running = || {
            self.shared
                .workers
                .iter()
                .enumerate()
                .find_map(|(w, info)| info.running(id).map(|op| crate::TaskStatus::running(id, op, w)))
        };
        let finished = || {
            self.shared
                .metrics
                .recent(usize::MAX)
                .into_iter()
                .find(|e| e.id == id)
                .map(|e| crate::TaskStatus::resolved(&e))
        };
        if let Some(s) = running().or_else(finished) {
            return Some(s);
        }
        let control = &self.shared.control;
        let found = std::cell::Cell::new(None);
        let _ = self.sweep(
            |m| {
                if m.id == id {
                    let paused = control.is_paused() || control.is_op_paused(m.op);
                    found.set(Some(crate::TaskStatus::waiting(m, paused)));
                }
                false
            },
            1,
        );
        // Not queued: it may have started or finished during the sweep.
        found.into_inner().or_else(running).or_else(finished)
    }

    fn sweep(&self, pick: impl Fn(&Meta) -> bool, limit: usize) -> usize {
        let shared = &*self.shared;
        let movers = || crate::control::moves::Movers {
            workers: shared.workers.iter().map(|w| w.mover.read()).collect(),
            storage: shared.storage.moves.read(),
        };
        let mut pass = |limit: usize| {
            let mut resolved = shared.control.sweep(
                |f| shared.lanes.take_all(shared.control.keep_on_worker, f),
                &pick,
                limit,
                &|t| shared.metrics.resolve(t, TaskError::Cancelled, None),
                &|t, w| shared.requeue(t, w),
            );
            // Storage hook: the storage lane's queued tasks (held storage tasks are in
            // the held lists, swept above).
            let taken = std::cell::Cell::new(resolved);
            let pick_storage = |m: &Meta| {
                taken.get() < limit && pick(m) && {
                    taken.set(taken.get() + 1);
                    true
                }
            };
            for task in StorageLane::take_matching(&shared.storage, &pick_storage) {
                if shared.metrics.resolve(task, TaskError::Cancelled, None) {
                    resolved += 1;
                }
            }
            resolved
        };
        shared
            .control
            .sweep_settled(&movers, &mut pass, limit, &|t, w| shared.requeue(t, w))
    }

    /// Spawns like [`spawn`](Handle::spawn), but in a pool built with
    /// [`max_queued(n)`](crate::Builder::max_queued) fails at once when `n` tasks are
    /// queued, giving the closure back in [`Full`]. In an unbounded pool it always
    /// succeeds.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// let t = gate.try_spawn(&tokengate::Op::new("x"), || 3).unwrap();
    /// assert_eq!(t.wait(), Ok(3));
    /// ```
    pub fn try_spawn<K, F, T>(&self, op: &Op<K>, f: F) -> Result<Token<T>, Full<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // A storage op goes to its tier, which never refuses (it is not counted by
        // `max_queued`: the tier's queue is its own bound).
        if let Some(speed) = op.storage() {
            return Ok(self.shared.spawn_storage(op, speed, f));
        }
        self.shared
            .try_spawn(op.id(), op.tag(), op.weight_of(), op.deadline_ns(), f)
            .map_err(Full)
    }

    /// A future that resolves when a bounded pool has room (or is closed, or is not
    /// bounded): the async way to wait on backpressure without blocking an executor
    /// thread. Then `try_spawn` again; another producer may have taken the room.
    ///
    /// ```
    /// use tokengate::{Coordinator, Op};
    /// let gate = Coordinator::builder().workers(1).max_queued(4).build().unwrap();
    /// let op = Op::new("room-doc");
    /// let results = futures::executor::block_on(async {
    ///     let mut tokens = Vec::new();
    ///     for i in 0..20u32 {
    ///         let mut f = move || i;
    ///         loop {
    ///             match gate.try_spawn(&op, f) {
    ///                 Ok(t) => break tokens.push(t),
    ///                 Err(full) => { f = full.into_inner(); gate.room().await; }
    ///             }
    ///         }
    ///     }
    ///     futures::future::join_all(tokens).await
    /// });
    /// assert_eq!(results.len(), 20);
    /// ```
    pub fn room(&self) -> Room {
        Room { handle: self.clone() }
    }

    /// The bound set by [`Builder::max_queued`](crate::Builder::max_queued), if any.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// assert_eq!(gate.max_queued(), None);
    /// ```
    pub fn max_queued(&self) -> Option<usize> {
        self.shared.control.admission().map(|a| a.bound())
    }

    /// In a bounded pool, the tasks admitted and not yet started or resolved (it can
    /// exceed the bound by spawns from inside the pool); 0 if unbounded.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).max_queued(8).build().unwrap();
    /// assert_eq!(gate.queued(), 0);
    /// ```
    pub fn queued(&self) -> usize {
        self.shared.control.admission().map_or(0, |a| a.queued())
    }

    // ----- storage lane (src/storage/) --------------------------------------------

    /// Changes a storage tier's limit at run time. Raising it admits queued tasks at
    /// once; lowering it lets running tasks finish and admits none until fewer than
    /// `limit` run. A limit of 0 or above [`MAX_STORAGE_LIMIT`](crate::MAX_STORAGE_LIMIT)
    /// is refused and changes nothing.
    ///
    /// ```
    /// use tokengate::{Coordinator, StorageSpeed};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// gate.set_storage_limit(StorageSpeed::Fast, 64).unwrap();
    /// assert_eq!(gate.storage_stats()[StorageSpeed::Fast as usize].limit, 64);
    /// ```
    pub fn set_storage_limit(&self, speed: StorageSpeed, limit: usize) -> Result<(), StorageLimitError> {
        StorageLane::set_limit(&self.shared.storage, speed, limit)
    }

    /// Counters of every storage tier, slowest first (index = `speed as usize`). A
    /// task's slot is given back (and counted `completed`) just after its token
    /// resolves.
    ///
    /// ```
    /// use tokengate::{Coordinator, Op, StorageSpeed};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// let op = Op::new("io").storage_speed(StorageSpeed::Slow);
    /// gate.spawn(&op, || ()).wait().unwrap();
    /// while gate.storage_stats()[0].completed < 1 {
    ///     std::thread::yield_now();
    /// }
    /// let slow = gate.storage_stats()[0];
    /// assert_eq!((slow.speed, slow.limit, slow.active, slow.peak_active), (StorageSpeed::Slow, 10, 0, 1));
    /// ```
    pub fn storage_stats(&self) -> Vec<StorageStats> {
        self.shared.storage.stats()
    }
}
