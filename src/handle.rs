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

/// A cheap, cloneable handle to a coordinator, for spawning from anywhere, including
/// from inside tasks. It does not keep the workers alive: once the coordinator has
/// shut down or been dropped, spawns through a handle resolve `Shutdown`.
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
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
