//! # tokengate
//!
//! A no-async, lock-free, work-stealing scheduler for ordinary synchronous functions.
//!
//! You declare an operation once, as a name plus tags ([`Op`]). Every call of it
//! returns a [`Token`] instead of running inline. The [`Coordinator`] routes tokens
//! to one worker thread per core, each pinned to its core. A token can be blocked
//! on from sync code ([`Token::wait`]) or `.await`ed from any async runtime.
//!
//! ```
//! use tokengate::{Coordinator, Op, Weight};
//!
//! fn is_prime(n: u64) -> bool {
//!     n > 1 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
//! }
//!
//! let gate = Coordinator::builder().workers(2).build()?;
//! let op = Op::new("prime_check").weight(Weight::Medium);
//! let tokens: Vec<_> = (1..=100u64).map(|n| gate.spawn(&op, move || is_prime(n))).collect();
//! let primes = tokens.into_iter().filter(|_| true).map(|t| t.wait().unwrap()).filter(|p| *p).count();
//! assert_eq!(primes, 25);
//! gate.shutdown();
//! # Ok::<(), tokengate::BuildError>(())
//! ```
//!
//! # The attribute
//!
//! With the default feature `macros`, [`#[tokengate::guard(...)]`](guard) declares the
//! op once, on the function itself, and every call returns a token:
//!
//! ```
//! #[tokengate::guard(weight = Medium)]
//! fn prime_check(n: u64) -> bool {
//!     n > 1 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
//! }
//! let t: tokengate::Token<bool> = prime_check(7919);
//! assert_eq!(t.wait(), Ok(true));
//! ```
//!
//! Its tags (`op`, `weight`, `storage_speed`, `sticky_anchor`, `external_calls`,
//! `deadline`, `on`) and its compile-time errors are listed in [`guard`].
//!
//! # Concepts
//!
//! - **Op**: a name, a [`Weight`] and at most one locality tag. Cheap to clone.
//! - **Weight**: `Light`, `Medium` (the default) or `Heavy`. It picks the lane a task
//!   waits in and how it may be stolen.
//! - **Token**: one allocation per call, holding the closure, the result slot and an
//!   `AtomicWaker`. Resolves to `Ok(value)` or a [`TaskError`]: `Panicked`,
//!   `Cancelled` or `Shutdown`. Every token always resolves.
//! - **Coordinator**: the pool. `Send + Sync`. A [`Handle`] is a cheap clone for
//!   spawning from other threads or from inside tasks.
//!
//! # Search order and stealing rules
//!
//! A worker looks for work in this order:
//!
//! 1. **Its own pinned lanes** (sticky and domain work): only it can run them.
//! 2. **Its own lanes**, Light → Medium → Heavy. They are cache-warm and
//!    uncontended, and a LIFO pop finds the child a task just spawned.
//! 3. **The global injector** (tasks submitted from outside). Taking from it
//!    disturbs no other worker. Every 61st search looks here first, so that
//!    outside work is never starved.
//! 4. **Stealing** from other workers:
//!    - `Heavy` first, **one task at a time, from the victim with the most queued
//!      heavy work**. Heavy tasks are worth the cost of migrating.
//!    - `Medium` in small batches (up to 8) from the busiest victim; a [`join`](fn@join)'s
//!      forked half is taken alone, the oldest first, as in rayon.
//!    - `Light` **only in batches** (`steal_batch_and_pop`: half the victim's queue,
//!      up to 32). One light task is not worth a migration.
//!
//! **Heavy reservation**: [`Builder::reserve_for_light`]`(k)` lets at most `N − k`
//! workers run `Heavy` work at once. The default is `k = N / 4`, which is 0 below
//! 4 cores, so small machines keep full heavy throughput. A worker blocked in
//! `wait()` may exceed the cap, because refusing the work it waits for could
//! deadlock. Pinned heavy tasks are exempt: they cannot move.
//!
//! # Waiting, cancelling, panics, shutdown
//!
//! - `wait()` on a worker thread runs other queued work until the token resolves,
//!   so a task may wait on its own children even with one worker.
//! - [`join`](fn@join)`(a, b)` is fork-join inside a task, as `rayon::join`: `b` waits in the
//!   worker's own lane as a *stack job* (no allocation, no token) while the caller
//!   runs `a`, and the caller runs `b` itself unless another worker took it. The
//!   closures may borrow from the caller's stack. A pinned caller keeps `b` on its
//!   worker, and a `Heavy` caller lends it only under the heavy reservation.
//! - [`join_all`] waits for many tokens as one [`JoinAll`], a future and a blocking
//!   handle. It registers one waker at a time, so a batch awaited from an async task
//!   wakes that task about once, not once per token.
//! - [`Token::cancel`] on a queued task means its closure never runs, and the token
//!   resolves `Cancelled`. A running task is not interrupted: it finishes with its
//!   value, but [`is_cancelled`] turns true inside it.
//! - A panic in a task is caught and reported as `TaskError::Panicked`. The worker
//!   goes on. A broken internal invariant aborts the process loudly.
//! - [`Coordinator::shutdown`] is graceful: it runs everything queued, then joins.
//!   Dropping a coordinator without it: queued tasks resolve `Shutdown`, running
//!   tasks finish, and the threads are joined. A spawn after shutdown resolves
//!   `Shutdown`.
//!
//! # Operating a running pool
//!
//! [`Handle::pause`] / [`Handle::resume`] (and per op: [`Handle::pause_op`]), [`Handle::drain`],
//! [`Handle::drain_op`], [`Handle::cancel`] by id, [`AbortHandle`], bounded admission
//! ([`Builder::max_queued`], [`Handle::try_spawn`], [`Full`], [`Handle::room`]),
//! [`Op::deadline`] ([`TaskError::Expired`]) and [`Token::status`]. The rules are in
//! `src/control/mod.rs` and the README's "Operating a running pool".
//!
//! # Locality
//!
//! - **Sticky anchors** ([`Op::sticky_anchor`]): every active (queued or running)
//!   token with the same anchor runs on one worker, and is never stolen.
//! - **Lead domains** ([`Op::external_calls`]): a lead opens a domain, whose seed
//!   is a SHA-256 of the token id and call list ([`Token::domain_seed`]).
//!   Everything spawned while a member runs joins the domain on the same worker,
//!   and the domain is released when the lead and all its descendants are done.
//!
//! The module docs of the source (`locality.rs`) give the exact rules and the
//! table's collision behaviour.
//!
//! # Storage lane
//!
//! An op with [`Op::storage_speed`] does blocking I/O. Its calls run on the
//! coordinator's own storage threads, never on a CPU worker. At most the tier's
//! limit of them run at once ([`StorageSpeed::default_limit`]: `Slow` 10, `Moderate`
//! 25, `Fast` 50, `Insane` 70; change it with [`Builder::storage_limit`] or
//! [`Handle::set_storage_limit`]). Each tier is FIFO, whatever the ops' weights.
//!
//! - A spawn only queues the task. A CPU task waiting on a storage token keeps its
//!   worker running other CPU work.
//! - Storage threads start on demand (never more than the sum of the limits), park
//!   when idle and exit after a keep-alive ([`Builder::storage_keep_alive`]).
//! - Inside a storage task, [`spawn`] goes to the pool that owns the storage thread,
//!   as a spawn from outside would, and [`join`](fn@join) runs both halves inline on the
//!   storage thread. [`Handle::current`] is `None` there.
//! - Tokens behave as always. `shutdown()` also runs the queued storage work, and a
//!   drop resolves it `Shutdown` (running storage tasks finish; every storage thread
//!   is joined).
//!
//! ```
//! use tokengate::{Coordinator, Op, StorageSpeed, Weight};
//! let gate = Coordinator::builder().workers(1).storage_limit(StorageSpeed::Slow, 2).build()?;
//! let io = Op::new("append").weight(Weight::Light).storage_speed(StorageSpeed::Slow);
//! let tokens: Vec<_> = (0..8).map(|i| gate.spawn(&io, move || i)).collect();
//! assert_eq!(tokens.into_iter().map(|t| t.wait().unwrap()).sum::<i32>(), 28);
//! assert!(gate.storage_stats()[0].peak_active <= 2);
//! # Ok::<(), tokengate::BuildError>(())
//! ```
//!
//! # Observability
//!
//! [`Handle::metrics`] returns a [`MetricsSnapshot`]: per op ([`OpMetrics`]: counts
//! per [`Outcome`], queue-wait and run-time [`Histogram`]s, [`Health`]), per worker
//! ([`WorkerMetrics`]) and the queues ([`Queued`]), with
//! [`to_prometheus`](MetricsSnapshot::to_prometheus). [`Handle::recent_executions`]
//! reads the bounded history ([`Execution`], newest first). Every token counts once
//! under one outcome; `src/metrics/mod.rs` says where each figure is counted. The
//! `serde` feature derives `Serialize` on these types, the `metrics` feature adds
//! `MetricsSnapshot::publish` for the `metrics` facade crate, and
//! [`Builder::metrics`]`(false)` turns recording off.
//!
//! ```
//! use tokengate::{Coordinator, Op, Outcome};
//! let gate = Coordinator::builder().workers(2).build()?;
//! let op = Op::new("observed");
//! let t = gate.spawn(&op, || 1 + 1);
//! assert_eq!(t.wait(), Ok(2));
//! let m = gate.metrics();
//! assert_eq!(m.op("observed").map(|o| (o.submitted, o.completed)), Some((1, 1)));
//! assert_eq!(gate.recent_executions(1)[0].outcome, Outcome::Completed);
//! # Ok::<(), tokengate::BuildError>(())
//! ```
//!
//! # Design notes
//!
//! The token state machine is documented in `src/task/mod.rs`, stack jobs in
//! `src/fork.rs`, and the sleep/wake protocol in `src/sleep/README.md`. All atomics
//! and queues go through `src/sync`, which switches to loom under
//! `--cfg tokengate_loom` (see `loom-tests/`).

#![warn(missing_docs)]

mod blocks;
mod builder;
mod clock;
mod control;
mod coordinator;
mod error;
mod fork;
mod handle;
mod handle_refs;
mod join;
mod lanes;
mod locality;
mod metrics;
mod op;
mod registry;
mod sleep;
mod stack;
mod storage;
mod sync;
mod task;
mod token;
mod worker;

/// Internals for the loom models in `loom-tests/`; exists only under `--cfg tokengate_loom`.
#[cfg(tokengate_loom)]
#[doc(hidden)]
pub mod loom_api;

pub use builder::{Builder, HelpPolicy, DEFAULT_STACK_SIZE, MIN_STACK_SIZE};
pub use control::{AbortHandle, Full, Room, TaskState, TaskStatus};
pub use coordinator::{default_coordinator, spawn, Coordinator, MAX_WORKERS};
pub use error::{BuildError, TaskError};
pub use fork::join;
pub use handle::Handle;
pub use join::{join_all, JoinAll};
pub use locality::LocalityStats;
pub use metrics::{Execution, Health, Histogram, MetricsSnapshot, OpMetrics, Outcome, Queued, Stolen, WorkerMetrics};
pub use op::{Free, Lead, Op, Sticky, Storage, Weight};
pub use storage::{StorageLimitError, StorageSpeed, StorageStats, MAX_STORAGE_LIMIT};
pub use token::Token;

// `#[tokengate::guard]` (issue 14): the attribute, from `tokengate-macros`. Its
// reference, with the doctests of every tag, is `docs/guard.md`.
#[cfg(feature = "macros")]
#[doc = include_str!("../docs/guard.md")]
pub use tokengate_macros::guard;
pub use worker::{current_worker, is_cancelled, WorkerStats};

pub(crate) use error::fatal;
