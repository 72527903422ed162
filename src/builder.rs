//! [`Builder`]: the pool's configuration, checked and turned into running workers.

use crate::coordinator::{Coordinator, Shared, MAX_WORKERS};
use crate::error::BuildError;
use crate::lanes::SharedLanes;
use crate::metrics::Metrics;
use crate::storage::{StorageConfig, StorageLane, StorageSpeed};
use crate::sync::{park, Arc, AtomicUsize, Builder as ThreadBuilder, Ordering};
use crate::worker::{WorkerCtx, WorkerSettings};

/// The smallest worker stack [`Builder::stack_size`] accepts: 64 KiB.
pub const MIN_STACK_SIZE: usize = 64 * 1024;

/// The worker stack size when [`Builder::stack_size`] is not called: 2 MiB, as for
/// any Rust thread.
pub const DEFAULT_STACK_SIZE: usize = 2 * 1024 * 1024;

/// What a worker blocked in [`Token::wait`](crate::Token::wait) (or in a
/// [`join`](fn@crate::join) whose second half was stolen) may run meanwhile. Set with
/// [`Builder::help_policy`].
///
/// Running other work while waiting is what lets a task wait on its own children
/// with one worker. But the work runs *nested* inside the wait, on the waiter's
/// stack: the wait cannot return before that work does. If the nested task itself
/// blocks on something the waiting task would do after its wait, both hang, even
/// though the code has no dependency cycle (the same trap as rayon-rs/rayon#592).
///
/// | policy | a waiter runs | cost |
/// |---|---|---|
/// | [`Any`](HelpPolicy::Any) (default) | anything it could run when idle: own lanes, the injector, steals | none: today's fastest path |
/// | [`OwnLanes`](HelpPolicy::OwnLanes) | only its own lanes (pinned work and what its own tasks spawned); never the injector, never a steal | a waiter whose work was stolen idles instead of stealing back: fork-join loses parallelism |
///
/// With `OwnLanes`, a task submitted from outside, or queued by another worker, never
/// runs nested inside an unrelated wait. Its children still run nested, so waiting on
/// them needs no free worker.
///
/// ```
/// use tokengate::{Coordinator, HelpPolicy, Op};
/// let gate = Coordinator::builder().workers(2).help_policy(HelpPolicy::OwnLanes).build()?;
/// let op = Op::new("parent");
/// let t = gate.spawn(&op, || tokengate::spawn(&Op::new("child"), || 21).wait().unwrap() * 2);
/// assert_eq!(t.wait(), Ok(42));
/// # Ok::<(), tokengate::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HelpPolicy {
    /// Run any work this worker could run when idle. The default.
    #[default]
    Any,
    /// Run only work from this worker's own lanes.
    OwnLanes,
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
    /// Control plane: `max_queued`.
    max_queued: Option<usize>,
    /// Storage hook: tier limits and thread keep-alive (`src/storage/`).
    storage: StorageConfig,
    metrics: bool,
    history: usize,
    stack_size: usize,
    help_policy: HelpPolicy,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Builder {
            workers: None,
            pin: true,
            reserve: None,
            name: "tokengate".into(),
            max_queued: None,
            storage: StorageConfig::new(),
            metrics: true,
            history: DEFAULT_HISTORY,
            stack_size: DEFAULT_STACK_SIZE,
            help_policy: HelpPolicy::Any,
        }
    }

    /// The number of workers. Default: the CPUs in the process's affinity mask.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }

    /// Pin worker `i` to the `i`-th allowed CPU (round-robin if there are more
    /// workers than CPUs). Default: `true`. A failed pin is not an error: the worker
    /// runs unpinned, and [`Handle::is_pinned`](crate::Handle::is_pinned) reports it.
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

    /// Sets a storage tier's limit: at most `limit` tasks of ops with this
    /// [`StorageSpeed`] run at once. Default: [`StorageSpeed::default_limit`]. A limit
    /// of 0 or above [`MAX_STORAGE_LIMIT`](crate::MAX_STORAGE_LIMIT) makes
    /// [`build`](Builder::build) fail with [`BuildError::StorageLimit`].
    ///
    /// ```
    /// use tokengate::{BuildError, Coordinator, StorageSpeed};
    /// let gate = Coordinator::builder().workers(1).storage_limit(StorageSpeed::Slow, 4).build()?;
    /// assert_eq!(gate.storage_stats()[0].limit, 4);
    /// let err = Coordinator::builder().storage_limit(StorageSpeed::Fast, 0).build().unwrap_err();
    /// assert!(matches!(err, BuildError::StorageLimit(e) if e.speed == StorageSpeed::Fast));
    /// # Ok::<(), BuildError>(())
    /// ```
    pub fn storage_limit(mut self, speed: StorageSpeed, limit: usize) -> Self {
        self.storage.limits[speed.index()] = limit;
        self
    }

    /// How long an idle storage thread waits for work before it exits. Default: 2 s.
    pub fn storage_keep_alive(mut self, keep_alive: std::time::Duration) -> Self {
        self.storage.keep_alive = keep_alive;
        self
    }

    /// Worker thread names are `"{prefix}-{index}"`, storage threads
    /// `"{prefix}-io-{index}"`. Default: `tokengate`.
    /// A prefix with a NUL byte makes `build` return [`BuildError::InvalidThreadName`].
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Self {
        self.name = prefix.into();
        self
    }

    /// Bounds the tasks queued and not yet running at `n` (control plane,
    /// `src/control/admission.rs`). At the bound, [`Handle::try_spawn`](crate::Handle::try_spawn)
    /// fails fast and gives the closure back; [`Handle::spawn`](crate::Handle::spawn)
    /// from outside the pool parks until there is room; a spawn from inside a task
    /// never blocks (it is admitted over the bound, so fork-join cannot deadlock).
    /// `max_queued(0)` is refused by `build` ([`BuildError::ZeroQueue`]).
    ///
    /// ```
    /// use tokengate::Coordinator;
    /// let gate = Coordinator::builder().workers(1).max_queued(10_000).build()?;
    /// assert_eq!(gate.max_queued(), Some(10_000));
    /// # Ok::<(), tokengate::BuildError>(())
    /// ```
    pub fn max_queued(mut self, n: usize) -> Self {
        self.max_queued = Some(n);
        self
    }

    /// Record metrics (`Handle::metrics`, the execution history). Default: `true`.
    /// With `false`, no op counter, histogram, history or busy time is recorded; the
    /// per-worker `executed`, `stolen` and `parks` counters stay (`WorkerStats`).
    ///
    /// Nor are tasks timed: a [`TaskStatus`](crate::TaskStatus) has its state and
    /// worker but no `queued`, `started` or `finished` instant, except for the tasks
    /// of an op with a [`deadline`](crate::Op::deadline), which needs its queue time.
    /// The three clock readings are a large share of a small task's cost: a
    /// token per call of `fib(25)` on one worker took 5.9-6.3 ms with `false`
    /// against 9.6-10.7 ms with `true` (7.4-7.7 ms with `false` while tasks were
    /// still timed).
    ///
    /// ```
    /// use tokengate::{Coordinator, Op, TaskState};
    /// let gate = Coordinator::builder().workers(1).metrics(false).build().unwrap();
    /// let t = gate.spawn(&Op::new("quiet"), || ());
    /// while !t.is_finished() { std::thread::yield_now(); }
    /// let s = t.status();
    /// assert_eq!((s.state, s.queued, s.started, s.finished), (TaskState::Finished, None, None, None));
    /// assert!(gate.metrics().ops().is_empty() && gate.recent_executions(10).is_empty());
    /// ```
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    /// How many recent executions the history keeps (per worker ring, merged on
    /// read; see [`Handle::recent_executions`](crate::Handle::recent_executions)).
    /// Default: 1024. `0` keeps none.
    ///
    /// ```
    /// use tokengate::{Coordinator, Op};
    /// let gate = Coordinator::builder().workers(1).history(4).build().unwrap();
    /// for _ in 0..10 {
    ///     gate.spawn(&Op::new("ring"), || ()).wait().unwrap();
    /// }
    /// assert_eq!(gate.recent_executions(100).len(), 4);
    /// ```
    pub fn history(mut self, entries: usize) -> Self {
        self.history = entries;
        self
    }

    /// Each worker thread's stack, in bytes. Default: [`DEFAULT_STACK_SIZE`] (2 MiB).
    /// Below [`MIN_STACK_SIZE`], `build` returns [`BuildError::StackTooSmall`].
    ///
    /// Nested waits and `join` recursion use the worker's stack. A worker never
    /// overflows it because of tokengate: once less than an eighth of the stack
    /// (at least 32 KiB) is left, a waiting worker stops running other work nested in
    /// its wait and only blocks, and a `join` at that depth panics (the task resolves
    /// [`TaskError::Panicked`](crate::TaskError::Panicked)) with a message naming
    /// this setting, instead of aborting the process. Deep recursion inside a task's
    /// own code is the task's business, as on any thread.
    ///
    /// ```
    /// use tokengate::{BuildError, Coordinator};
    /// let gate = Coordinator::builder().workers(1).stack_size(16 << 20).build()?;
    /// # drop(gate);
    /// assert!(matches!(
    ///     Coordinator::builder().stack_size(1024).build(),
    ///     Err(BuildError::StackTooSmall { requested: 1024 })
    /// ));
    /// # Ok::<(), BuildError>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// What a waiting worker may run meanwhile. Default: [`HelpPolicy::Any`]. See
    /// [`HelpPolicy`] for the trade-off.
    pub fn help_policy(mut self, policy: HelpPolicy) -> Self {
        self.help_policy = policy;
        self
    }

    /// Starts the workers and waits until every one is running (and pinned, if asked).
    pub fn build(self) -> Result<Coordinator, BuildError> {
        crate::clock::init();
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
        if self.name.contains('\0') {
            return Err(BuildError::InvalidThreadName { prefix: self.name });
        }
        if self.stack_size < MIN_STACK_SIZE {
            return Err(BuildError::StackTooSmall {
                requested: self.stack_size,
            });
        }
        let settings = WorkerSettings {
            stack_size: self.stack_size,
            help_policy: self.help_policy,
        };
        let reserved = self.reserve.unwrap_or(n / 4);
        if reserved >= n {
            return Err(BuildError::ReserveTooLarge { reserved, workers: n });
        }
        // Control plane: a zero bound is refused.
        if self.max_queued == Some(0) {
            return Err(BuildError::ZeroQueue);
        }
        for (speed, &limit) in StorageSpeed::ALL.iter().zip(&self.storage.limits) {
            speed.check_limit(limit).map_err(BuildError::StorageLimit)?;
        }
        let storage = StorageLane::new(&StorageConfig {
            thread_name: format!("{}-io", self.name),
            ..self.storage.clone()
        });
        let (lanes, locals) = SharedLanes::new(n);
        let metrics = Metrics::new(n, self.metrics, self.history);
        let mut shared = Shared::new(lanes, n, n - reserved, Arc::clone(&storage), metrics);
        shared.control = crate::control::Control::new(self.max_queued, self.help_policy == HelpPolicy::OwnLanes);
        let shared = Arc::new(shared);
        // Storage hook: `tokengate::spawn` inside a storage task finds this pool.
        storage.set_owner(Arc::as_ptr(&shared).cast());
        storage.set_hooks(crate::coordinator::STORAGE_HOOKS);
        let started = Arc::new(AtomicUsize::new(0));
        let builder_thread = crate::sync::current();
        let mut threads = Vec::with_capacity(n);
        for (index, local) in locals.into_iter().enumerate() {
            let core = (!cores.is_empty()).then(|| cores[index % cores.len()]);
            let (worker_shared, started, builder_thread) =
                (Arc::clone(&shared), Arc::clone(&started), builder_thread.clone());
            let spawned = ThreadBuilder::new()
                .name(format!("{}-{index}", self.name))
                .stack_size(self.stack_size)
                .spawn(move || {
                    WorkerCtx::run(worker_shared, index, local, core, settings, move || {
                        // ORDERING: Release: the builder's Acquire load sees this worker registered.
                        started.fetch_add(1, Ordering::Release);
                        builder_thread.unpark();
                    });
                });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    let gate = Coordinator::from_parts(shared, threads);
                    drop(gate); // aborts and joins the workers that did start
                    return Err(BuildError::Spawn(e));
                }
            }
        }
        // ORDERING: Acquire pairs with each worker's Release increment.
        while started.load(Ordering::Acquire) < n {
            park();
        }
        Ok(Coordinator::from_parts(shared, threads))
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

/// Entries the execution history keeps by default.
const DEFAULT_HISTORY: usize = 1024;

fn default_workers() -> usize {
    match core_affinity::get_core_ids() {
        Some(ids) if !ids.is_empty() => ids.len(),
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}
