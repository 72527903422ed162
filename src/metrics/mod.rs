//! Observability: per-op and per-worker counters, latency histograms, a bounded
//! execution history, op health and a Prometheus export.
//!
//! Users read it through [`Handle::metrics`](crate::Handle::metrics) (a
//! [`MetricsSnapshot`]) and [`Handle::recent_executions`](crate::Handle::recent_executions).
//! This module records; the coordinator and the workers call into it at a few
//! commented hooks.
//!
//! # What is recorded, and where
//!
//! Every figure is kept in **shards**: one per worker, written only by that worker
//! (a load and a store, no read-modify-write, as `WorkerInfo::bump` did), and one
//! *outside* shard for every other thread, written with `fetch_add`. A snapshot sums
//! the shards. Each shard has an [`OpTable`] of per-op cells (found by the interned
//! [`OpId`] the task carries: no name is hashed on spawn) and its worker counters.
//! An op's cells (six counters and both histograms) are one box, made once per
//! shard, the first time that shard sees the op; in front of the table, a
//! direct-mapped cache of 32 cell pointers (by `id % 32`, checked against the
//! cells' own id) makes the usual lookup a load and a compare. Nothing is
//! allocated per task.
//!
//! | figure | counted in | by |
//! |---|---|---|
//! | `submitted` | `Shared::spawn` (also for a spawn refused after shutdown) | the spawning thread's shard |
//! | `completed`, `panicked` | the worker that ran the task, after the closure, before `DONE` | its worker shard |
//! | `queue_wait`, `run_time` histograms, `busy` | the same place, from `Meta::times` (`started - queued`, `finished - started`) | its worker shard |
//! | `cancelled` | where the *queue's* reference of the task is released: a worker's pop that loses the claim, or a drain | that thread's shard |
//! | `shutdown` | where the pool resolves it: a drain, a discard while aborting, the spawn's own re-check or refusal | that thread's shard |
//! | `expired` | where a worker's screen resolves it (`Metrics::resolve`) | its worker shard |
//!
//! Storage-lane tasks are counted the same way: `submitted` at their spawn, and the
//! rest where a storage thread (or a drain) releases their queue reference
//! (`released_off_worker`), in the outside shard, whose counters and histograms take
//! atomic adds because several storage threads write it.
//!
//! # Counting each token once
//!
//! A task has exactly one queue reference (`TaskRef`) and its token. The queue's
//! reference is always released in pool context (a worker, or a drain run by the
//! pool's owner), so it can count. A token's `cancel()` runs on any thread, with no
//! pool at hand, so a cancellation is *not* counted where it happens: it is counted
//! when the queue's reference loses its claim and is released. To know what the
//! winner did, the winner records it in `Meta::outcome` ([`OutcomeCell`]): a
//! token-side resolver (`Header::abort`: cancel, the spawn's shutdown re-check)
//! *announces* its outcome with a CAS before it claims, and only the announcer may
//! claim; the claim CAS is AcqRel and the losing queue reference loads the state with
//! Acquire before reading the cell. So the loser always sees the outcome:
//!
//! - `Cancelled`: counted by the loser (nobody else could);
//! - `Shutdown` or `Expired`: counted by the resolver, at its site, in pool context;
//!   the loser counts nothing.
//!
//! A reference that wins its claim counts what it did itself. Every other path is a
//! claim-winner in pool context. So after quiescence, for every op,
//! `submitted == completed + panicked + cancelled + expired + shutdown`, and the
//! workers' `executed` sum equals `completed + panicked`. (A queue reference still
//! held when the last handle drops the pool is resolved by `TaskRef`'s drop and not
//! counted; nobody can read the figures then.)
//!
//! # What is a task
//!
//! Spawned tokens are. A [`join`](fn@crate::join)'s stack job is not: it has no token, no
//! op ([`OpId::NONE`]) and usually never leaves its joiner. A stack job that another
//! worker takes and runs is counted only as that worker's `stack_jobs`; it is not in
//! `executed` and not in any op. Time spent in it is inside the joining task's
//! `run_time`.
//!
//! # Histograms and time
//!
//! Durations come from `Meta::times`, raw readings of the task clock (`clock.rs`,
//! a few ns each), and are recorded in raw ticks into fixed log-linear buckets
//! (`histogram.rs`: 16 per power of two, about 3% relative error, every `u64`
//! value in its own bucket, the index computed without branches), converted to
//! seconds only when read. `busy` is the sum of `run_time` of tasks run at the top
//! level of a worker (a task run inside another's `wait()` is inside that one's time).
//!
//! # Switching it off
//!
//! [`Builder::metrics(false)`](crate::Builder::metrics) records no op counter, no
//! histogram, no history and no busy time; the snapshot's ops and the history are
//! empty. The per-worker `executed`, `stolen` and `parks` counters are kept either
//! way: [`WorkerStats`](crate::WorkerStats) reads them, as it always did. Nor are
//! tasks timed (`task::Times`, [`Metrics::times_task`]): no clock is read for a task
//! unless its op has a deadline, and a `TaskStatus` has no instants.
//!
//! # Cost
//!
//! Callgrind instructions per operation (`scripts/callgrind.sh`: one worker, counted
//! inside the probe only; `TOKENGATE_METRICS=0` for off), metrics on / off:
//!
//! | probe | before (ea98d22) | now |
//! |---|---|---|
//! | `spawn` (spawn + `wait` from a task) | 1064 / 926 (+138) | 1014 / 930 (+84) |
//! | `join` (two trivial closures) | 325 / 325 | 325 / 325 |
//! | `fib` (per call, through `join`) | 162 / 162 | 162 / 162 |
//!
//! A `join`'s stack job is not recorded (see "What is a task"), so `join` and `fib`
//! cost nothing. A run's ~63 instructions: the op-cell lookup 7, the outcome counter
//! 1, the two durations 9 (saturating), two histogram records 13 each (bucket index
//! 8, count, sum, max), busy time 2, the history slot 22 (seqlock: two sequence
//! stores and five fields; the op's entry bits are kept in its cells). A spawn on a worker adds ~21 (the `enabled` test, the
//! shard, the cached lookup, one counter); a spawn from another thread (the outside
//! shard) goes out of line, finds the cells through a shared cache and takes a
//! `fetch_add`: `examples/metrics_cost.rs outside` (the spawning half of a burst),
//! on / off, was 656 / 619 (+37) per spawn, is 633 / 611 (+22). What remains
//! is the figures themselves; going lower means recording less (sampling the
//! history would save ~24 per run; it is not done: every execution is kept).
//! Memory: an op's cells are about 16.5 KiB per shard that sees the op (two
//! histograms of 1024 slots). Wall-clock figures come from
//! `cargo run --release --example metrics_cost -- ab` (burst, pingpong, fib through
//! `join`; interleaved, medians with min/max).
//!
mod facade;
mod histogram;
mod history;
mod outcome;
mod prometheus;
mod snapshot;

use crate::error::TaskError;
use crate::op::Weight;
use crate::registry::{OpId, OpTable};
use crate::sync::{CachePadded, Ordering as SyncOrdering};
use crate::task::{Meta, TaskRef};
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicU8, Ordering};

use histogram::Buckets;
use history::History;

pub use histogram::Histogram;
pub use outcome::Outcome;
pub(crate) use outcome::OutcomeCell;
pub use snapshot::{Execution, Health, MetricsSnapshot, OpMetrics, Queued, Stolen, WorkerMetrics};

/// Counter slots of [`OpCells::counts`].
const SUBMITTED: usize = 0;
fn slot(outcome: Outcome) -> usize {
    outcome as usize + 1
}

/// One op's figures in one shard, boxed once per (shard, op) so that a run reaches
/// its counters and both histograms through one pointer.
// Aligned (and so sized) to 128 bytes, as `CachePadded`: the cells of two shards are
// written by two workers, and must not share a cache line at their boxes' edges.
#[repr(align(128))]
pub(crate) struct OpCells {
    /// The op these cells count (checked by the shard's lookup cache).
    op: OpId,
    /// The shard's history `entry_base` for the op, precomputed.
    history_base: u64,
    /// The op's weight (as last spawned; ops of one name normally share it).
    weight: AtomicU8,
    /// `submitted`, then one per [`Outcome`].
    counts: [AtomicU64; 6],
    queue_wait: Buckets,
    run_time: Buckets,
}

/// What an empty slot of a worker shard's op-cell cache points at: cells of
/// [`OpId::NONE`], which no lookup asks for (a stack job is never recorded per op),
/// so a lookup is one load and one compare, with no null check. Never written.
static VACANT: OpCells = OpCells::new(OpId::NONE, Weight::Light, 0); // all zero: in .bss

impl OpCells {
    const fn new(op: OpId, weight: Weight, history_base: u64) -> Self {
        OpCells {
            op,
            history_base,
            weight: AtomicU8::new(weight as u8),
            counts: [const { AtomicU64::new(0) }; 6],
            queue_wait: Buckets::new(),
            run_time: Buckets::new(),
        }
    }
}

/// Per-worker counters (the worker shard's; the outside shard's stay 0).
#[derive(Default)]
pub(crate) struct WorkerCells {
    pub(crate) executed: AtomicU64,
    stolen: [AtomicU64; 3],
    parks: AtomicU64,
    busy_ticks: AtomicU64,
    stack_jobs: AtomicU64,
}

impl WorkerCells {
    pub(crate) fn executed(&self) -> u64 {
        self.executed.load(Ordering::Relaxed)
    }

    pub(crate) fn stolen_total(&self) -> u64 {
        self.stolen.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// Adds `by` to a counter only this thread writes: a load and a store, no RMW.
#[inline]
fn single_writer_add(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(by), Ordering::Relaxed);
}

/// Entries of a worker shard's op-cell cache (direct-mapped by op id).
const CACHE: usize = 32;

/// One shard: written by one worker (single writer), or by any thread (outside).
struct Shard {
    single_writer: bool,
    ops: OpTable<Box<OpCells>>,
    /// A worker shard's direct-mapped cache of `ops`: slot `id % CACHE` points at
    /// the cells of the op last looked up there (null: none), so the common lookup
    /// is a load and a compare of the cells' `op`. Read and written only by the
    /// shard's worker (as its counters are), so Relaxed is enough: the cells were
    /// made visible to that thread when it got them from `ops`. Unused in the
    /// outside shard. The cells it points at are owned by `ops` and live as long
    /// as the shard.
    cache: [AtomicPtr<OpCells>; CACHE],
    worker: WorkerCells,
    history: History,
}

impl Shard {
    #[inline]
    fn bump(&self, counter: &AtomicU64, by: u64) {
        if self.single_writer {
            // Single writer: a load and a store, no read-modify-write.
            counter.store(counter.load(Ordering::Relaxed).wrapping_add(by), Ordering::Relaxed);
        } else {
            counter.fetch_add(by, Ordering::Relaxed);
        }
    }

    /// The cells of `op` in this shard, made if missing. Worker shards only: call
    /// it from the shard's worker (the cache has one writer and one reader).
    #[inline]
    fn op_on_worker(&self, op: OpId, weight: Weight) -> &OpCells {
        debug_assert!(op != OpId::NONE, "a stack job has no op cells");
        let cached = self.cache[op.index() % CACHE].load(Ordering::Relaxed);
        // SAFETY: an entry points at `VACANT` (a static) or at cells owned by
        // `self.ops`, which are boxed (they never move) and dropped only with the
        // shard, after every borrow of it; it was stored by this thread, so the cells
        // are initialised for it (struct docs).
        let cells = unsafe { &*cached };
        if cells.op == op {
            return cells;
        }
        self.op_miss(op, weight)
    }

    #[cold]
    fn op_miss(&self, op: OpId, weight: Weight) -> &OpCells {
        let cells = self.op(op, weight);
        if self.single_writer {
            let ptr = std::ptr::from_ref(cells).cast_mut();
            self.cache[op.index() % CACHE].store(ptr, Ordering::Relaxed);
        }
        cells
    }

    /// The cells of `op` in this shard, made if missing, from any thread.
    #[inline]
    fn op(&self, op: OpId, weight: Weight) -> &OpCells {
        self.ops
            .get_or_init(op, || Box::new(OpCells::new(op, weight, self.history.entry_base(op))))
    }
}

/// A pool's metrics: `Shared::metrics`.
pub(crate) struct Metrics {
    enabled: bool,
    /// Entries `recent` returns at most.
    history: usize,
    /// One per worker.
    shards: Box<[CachePadded<Shard>]>,
    /// The shard of every other thread.
    outside: CachePadded<Shard>,
    /// The outside shard's op-cell cache, as a worker shard's (`Shard::cache`) but
    /// shared by any thread: it holds `*const OpCells` as `usize` (through the
    /// `sync` shim, which has no `AtomicPtr`), stored with Release by whoever
    /// missed and loaded with Acquire, so the cells it names are initialised for
    /// the reader.
    outside_cache: [crate::sync::AtomicUsize; CACHE],
}

impl Metrics {
    /// Whether a new task with a deadline of `deadline_ns` (0: none) is timed
    /// (`task::Times`): if metrics record, or its deadline needs its queue time.
    #[inline]
    pub(crate) fn times_task(&self, deadline_ns: u64) -> bool {
        self.enabled || deadline_ns != 0
    }

    /// Metrics for `workers` workers, recording if `enabled`, keeping up to `history`
    /// recent executions.
    pub(crate) fn new(workers: usize, enabled: bool, history: usize) -> Metrics {
        let history = if enabled { history } else { 0 };
        let shard = |worker: Option<usize>| {
            CachePadded::new(Shard {
                single_writer: worker.is_some(),
                ops: OpTable::new(),
                cache: std::array::from_fn(|_| AtomicPtr::new(std::ptr::from_ref(&VACANT).cast_mut())),
                worker: WorkerCells::default(),
                history: History::new(history, worker),
            })
        };
        Metrics {
            enabled,
            history,
            shards: (0..workers).map(|w| shard(Some(w))).collect(),
            outside: shard(None),
            outside_cache: std::array::from_fn(|_| crate::sync::AtomicUsize::new(std::ptr::from_ref(&VACANT) as usize)),
        }
    }

    #[inline]
    fn shard(&self, worker: Option<usize>) -> &Shard {
        match worker.and_then(|w| self.shards.get(w)) {
            Some(shard) => shard,
            None => self.outside(),
        }
    }

    fn outside(&self) -> &Shard {
        &self.outside
    }

    /// Every shard, the workers' first.
    fn all_shards(&self) -> impl Iterator<Item = &Shard> {
        self.shards.iter().map(|s| &**s).chain(std::iter::once(&*self.outside))
    }

    /// Worker `w`'s counters (for `WorkerStats`).
    pub(crate) fn worker(&self, w: usize) -> &WorkerCells {
        &self.shards[w].worker
    }

    /// Hook in `Shared::spawn`: one task of `op` was submitted, from worker `worker`'s
    /// thread (`None`: any other thread).
    #[inline]
    pub(crate) fn submitted(&self, op: OpId, weight: Weight, worker: Option<usize>) {
        if !self.enabled {
            return;
        }
        match worker.and_then(|w| self.shards.get(w)) {
            Some(shard) => single_writer_add(&shard.op_on_worker(op, weight).counts[SUBMITTED], 1),
            None => self.submitted_outside(op, weight),
        }
    }

    /// `submitted` from a thread that is not one of the pool's workers.
    #[inline(never)]
    fn submitted_outside(&self, op: OpId, weight: Weight) {
        let slot = &self.outside_cache[op.index() % CACHE];
        // ORDERING: Acquire pairs with the Release store below (field docs).
        let cached = slot.load(SyncOrdering::Acquire) as *const OpCells;
        // SAFETY: the entry names `VACANT` (a static) or cells owned by the outside
        // shard's `ops`, boxed and dropped only with `self`; its Release store made
        // them initialised for this thread.
        let mut cells = unsafe { &*cached };
        if cells.op != op {
            cells = self.outside.op(op, weight);
            // ORDERING: Release publishes the cells to the Acquire load above.
            slot.store(std::ptr::from_ref(cells) as usize, SyncOrdering::Release);
        }
        cells.counts[SUBMITTED].fetch_add(1, Ordering::Relaxed);
    }

    /// Hook in the worker's `execute`: `stolen` tasks were taken from other workers,
    /// the first of which is `weight`.
    pub(crate) fn stolen(&self, worker: usize, weight: Weight, stolen: u64) {
        let shard = self.shard(Some(worker));
        shard.bump(&shard.worker.stolen[weight.index()], stolen);
    }

    /// Hook in the worker's idle loop: worker `worker` parks.
    pub(crate) fn parked(&self, worker: usize) {
        let shard = self.shard(Some(worker));
        shard.bump(&shard.worker.parks, 1);
    }

    /// The `release` callback of `TaskRef::run_then` on worker `worker`: counts what
    /// releasing the queue's reference accounts for (module docs). `nested` is true if
    /// the worker ran it inside another task's `wait()`.
    #[inline]
    pub(crate) fn released_on_worker(&self, meta: &Meta, resolved_here: bool, worker: usize, nested: bool) {
        let shard = self.shard(Some(worker));
        if meta.op == OpId::NONE {
            if resolved_here {
                shard.bump(&shard.worker.stack_jobs, 1);
            }
            return;
        }
        let outcome = meta.outcome.get(resolved_here);
        match outcome {
            Some(outcome @ (Outcome::Completed | Outcome::Panicked)) if resolved_here => {
                shard.bump(&shard.worker.executed, 1);
                if self.enabled {
                    self.record_run(shard, meta, outcome, nested);
                }
            }
            _ if self.enabled => self.count(shard, meta, resolved_here, outcome, Some(worker)),
            _ => {}
        }
    }

    /// The common case, kept lean: a worker ran the task. Its shard has one writer.
    #[inline]
    fn record_run(&self, shard: &Shard, meta: &Meta, outcome: Outcome, nested: bool) {
        let cells = shard.op_on_worker(meta.op, meta.weight);
        single_writer_add(&cells.counts[slot(outcome)], 1);
        let times = &meta.times;
        let started = times.started.load(Ordering::Relaxed);
        let finished = times.finished.load(Ordering::Relaxed);
        let wait = started.saturating_sub(times.queued);
        let run = finished.saturating_sub(started);
        cells.queue_wait.record(wait);
        cells.run_time.record(run);
        if !nested {
            single_writer_add(&shard.worker.busy_ticks, run);
        }
        shard
            .history
            .push_single(meta.id, cells.history_base, outcome, wait, run, finished);
    }

    /// The `release` callback of `TaskRef::run_then` on a storage thread (storage
    /// hook): as `released_on_worker`, in the outside shard, whose counters and
    /// histograms take atomic adds (several storage threads write it).
    pub(crate) fn released_off_worker(&self, meta: &Meta, resolved_here: bool) {
        if !self.enabled || meta.op == OpId::NONE {
            return;
        }
        let shard = self.outside();
        match meta.outcome.get(resolved_here) {
            Some(outcome @ (Outcome::Completed | Outcome::Panicked)) if resolved_here => {
                let cells = shard.op(meta.op, meta.weight);
                shard.bump(&cells.counts[slot(outcome)], 1);
                let times = &meta.times;
                let started = times.started.load(Ordering::Relaxed);
                let finished = times.finished.load(Ordering::Relaxed);
                let (wait, run) = (started.saturating_sub(times.queued), finished.saturating_sub(started));
                cells.queue_wait.record_shared(wait);
                cells.run_time.record_shared(run);
                shard.history.push(meta.id, meta.op, None, outcome, wait, run, finished);
            }
            outcome => self.count(shard, meta, resolved_here, outcome, None),
        }
    }

    /// Releases a queue reference in pool context off the workers' run path (drains,
    /// discards, spawn refusals): resolves it `Shutdown` unless somebody did first,
    /// and counts as `released_on_worker` does.
    pub(crate) fn abort(&self, task: TaskRef, worker: Option<usize>) {
        let _ = self.resolve(task, TaskError::Shutdown, worker);
    }

    /// [`abort`](Metrics::abort) with another error (the control plane's drains resolve
    /// `Cancelled`, its screen `Expired`). True if this call resolved the task.
    pub(crate) fn resolve(&self, task: TaskRef, err: TaskError, worker: Option<usize>) -> bool {
        task.abort_then(err, |meta, here| {
            if self.enabled && meta.op != OpId::NONE {
                self.count(self.shard(worker), meta, here, meta.outcome.get(here), worker);
            }
        })
    }

    /// The recording entry point for resolution paths that win a task's claim outside
    /// a queue reference (the spawn's shutdown re-check, and the control plane:
    /// deadlines, cancel-by-id through `Header::abort`): call it once, in pool context,
    /// after `Header::abort(ptr, err)` returned true, with `err`'s outcome. Do not call
    /// it for `Cancelled`: the queue reference counts that one when it is released.
    pub(crate) fn record_resolved(&self, meta: &Meta, outcome: Outcome, worker: Option<usize>) {
        if self.enabled && meta.op != OpId::NONE && outcome != Outcome::Cancelled {
            self.count(self.shard(worker), meta, true, Some(outcome), worker);
        }
    }

    #[cold]
    fn count(&self, shard: &Shard, meta: &Meta, resolved_here: bool, outcome: Option<Outcome>, worker: Option<usize>) {
        let Some(outcome) = outcome else {
            crate::fatal("a released task had no outcome");
        };
        // A lost claim: only a cancellation, or an expiry by the token's waiter
        // (`Token::wait`), is left for us to count.
        if !resolved_here && !matches!(outcome, Outcome::Cancelled | Outcome::Expired) {
            return;
        }
        // Runs are recorded by `record_run` (histograms have one writer, the worker);
        // what is left here never ran: it waited until it was resolved.
        if matches!(outcome, Outcome::Completed | Outcome::Panicked) {
            crate::fatal("a run was counted off the worker's run path");
        }
        let cells = shard.op(meta.op, meta.weight);
        shard.bump(&cells.counts[slot(outcome)], 1);
        let times = &meta.times;
        let finished = times.finished.load(Ordering::Relaxed);
        let wait = if times.queued == 0 {
            0
        } else {
            finished.saturating_sub(times.queued)
        };
        shard.history.push(meta.id, meta.op, worker, outcome, wait, 0, finished);
    }

    /// The newest `n` history entries (at most the configured size), newest first.
    pub(crate) fn recent(&self, n: usize) -> Vec<Execution> {
        history::merge(self.all_shards().map(|s| &s.history), n.min(self.history))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_codes_round_trip_and_announce_once() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::from_code(o.code()), Some(o));
        }
        assert_eq!(Outcome::from_code(0), None);
        let cell = OutcomeCell::new();
        assert!(cell.announce(&TaskError::Cancelled));
        assert!(!cell.announce(&TaskError::Shutdown), "a second announcement must lose");
        assert_eq!(cell.get(false), Some(Outcome::Cancelled));
        assert_eq!(cell.get(true), None);
        cell.set_ran(false);
        assert_eq!(cell.get(true), Some(Outcome::Panicked));
    }

    /// Two ops that share a cache slot (`id % CACHE`), alternating, on a worker and
    /// from outside: every lookup finds the asked op's own cells, so each counts
    /// only its own submissions.
    #[test]
    fn colliding_ops_keep_their_own_cells() {
        let metrics = Metrics::new(1, true, 4);
        let (a, b) = (OpId::from_index(40), OpId::from_index(40 + CACHE as u32));
        for round in 0..3u64 {
            for (op, n) in [(a, 1), (b, 2)] {
                for _ in 0..n {
                    metrics.submitted(op, Weight::Light, Some(0));
                    metrics.submitted(op, Weight::Light, None);
                }
                let worker = metrics.shards[0].op_on_worker(op, Weight::Light);
                assert_eq!(worker.op, op);
                assert!(std::ptr::eq(worker, metrics.shards[0].op(op, Weight::Light)));
                let count = |shard: &Shard| shard.ops.get(op).unwrap().counts[SUBMITTED].load(Ordering::Relaxed);
                assert_eq!(count(&metrics.shards[0]), n * (round + 1), "worker shard, {op:?}");
                assert_eq!(count(&metrics.outside), n * (round + 1), "outside shard, {op:?}");
            }
        }
        assert_eq!(
            VACANT.counts[SUBMITTED].load(Ordering::Relaxed),
            0,
            "the sentinel is never written"
        );
    }
}
