//! [`Handle`]: the operating surface of a pool. Every method that spawns into, reads
//! or steers a running pool is written here once; a [`Coordinator`](crate::Coordinator)
//! derefs to its handle, so the same calls work on both.

use crate::coordinator::Shared;
use crate::locality::LocalityStats;
use crate::op::{fnv1a, Op};
use crate::storage::{StorageLane, StorageLimitError, StorageSpeed, StorageStats};
use crate::sync::Arc;
use crate::token::Token;
use crate::worker::{self, WorkerStats};
use std::mem::ManuallyDrop;

mod control;

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
    #[inline]
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
    #[inline]
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
