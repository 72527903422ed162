//! The snapshot types users read: [`MetricsSnapshot`] and what it holds.

use std::time::Duration;

use super::histogram::Histogram;
use super::{Metrics, Outcome, SUBMITTED};
use crate::op::Weight;
use crate::registry::OpId;
use std::sync::atomic::Ordering;

/// A snapshot of a pool's metrics, from [`Handle::metrics`](crate::Handle::metrics).
///
/// Each figure is read once, without stopping the pool: while tasks run, counters
/// read a moment apart may disagree by the tasks in flight. Once the pool is quiescent
/// (for example after [`shutdown`](crate::Coordinator::shutdown)), for every op
/// `submitted == completed + panicked + cancelled + expired + shutdown`.
///
/// ```
/// use tokengate::{Coordinator, Op};
/// let gate = Coordinator::builder().workers(2).build().unwrap();
/// let op = Op::new("snapshot-doc");
/// for t in (0..10).map(|i| gate.spawn(&op, move || i)).collect::<Vec<_>>() {
///     t.wait().unwrap();
/// }
/// gate.shutdown();
/// let m = gate.metrics();
/// let op = m.op("snapshot-doc").unwrap();
/// assert_eq!((op.submitted, op.completed), (10, 10));
/// assert_eq!(m.workers().iter().map(|w| w.executed).sum::<u64>(), 10);
/// assert!(m.to_prometheus().contains("tokengate_tasks_submitted_total{op=\"snapshot-doc\""));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MetricsSnapshot {
    pub(crate) enabled: bool,
    pub(crate) ops: Vec<OpMetrics>,
    pub(crate) workers: Vec<WorkerMetrics>,
    pub(crate) queued: Queued,
    pub(crate) storage: Vec<crate::StorageStats>,
}

impl MetricsSnapshot {
    /// The figures of the op named `name`, if any task of it was recorded.
    pub fn op(&self, name: &str) -> Option<OpMetrics> {
        self.ops.iter().find(|o| o.name == name).cloned()
    }

    /// The storage lane's tiers, slowest first (as [`Handle::storage_stats`](crate::Handle::storage_stats)).
    pub fn storage(&self) -> &[crate::StorageStats] {
        &self.storage
    }

    /// Every recorded op, by name.
    pub fn ops(&self) -> &[OpMetrics] {
        &self.ops
    }

    /// Per-worker figures, by worker index.
    pub fn workers(&self) -> &[WorkerMetrics] {
        &self.workers
    }

    /// Tasks queued right now, per kind of lane.
    pub fn queued(&self) -> Queued {
        self.queued
    }

    /// False if the pool was built with [`Builder::metrics(false)`](crate::Builder::metrics).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The snapshot in the Prometheus text exposition format (version 0.0.4): see the
    /// crate README, "Observability", for the names.
    #[must_use]
    pub fn to_prometheus(&self) -> String {
        super::prometheus::encode(self)
    }
}

/// One op's figures: counts per outcome and two duration histograms.
///
/// The histograms hold the tasks that ran (`completed + panicked`): `queue_wait`
/// is from spawn to start, `run_time` from start to finish.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct OpMetrics {
    /// The op's name.
    pub name: String,
    /// Its weight.
    #[cfg_attr(feature = "serde", serde(serialize_with = "weight_name"))]
    pub weight: Weight,
    /// Tasks spawned (including spawns refused after shutdown).
    pub submitted: u64,
    /// Tasks whose closure returned.
    pub completed: u64,
    /// Tasks whose closure panicked.
    pub panicked: u64,
    /// Tasks cancelled before they started.
    pub cancelled: u64,
    /// Tasks whose deadline passed before they started (0 until the control plane lands).
    pub expired: u64,
    /// Tasks resolved `Shutdown` without running.
    pub shutdown: u64,
    /// Time from spawn to start, of the tasks that ran.
    pub queue_wait: Histogram,
    /// Time from start to finish, of the tasks that ran.
    pub run_time: Histogram,
}

#[cfg(feature = "serde")]
fn weight_name<S: serde::Serializer>(w: &Weight, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(weight_label(*w))
}

pub(crate) fn weight_label(w: Weight) -> &'static str {
    match w {
        Weight::Light => "light",
        Weight::Medium => "medium",
        Weight::Heavy => "heavy",
    }
}

impl OpMetrics {
    /// The count of `outcome`.
    pub fn count(&self, outcome: Outcome) -> u64 {
        match outcome {
            Outcome::Completed => self.completed,
            Outcome::Panicked => self.panicked,
            Outcome::Cancelled => self.cancelled,
            Outcome::Expired => self.expired,
            Outcome::Shutdown => self.shutdown,
        }
    }

    /// Tasks resolved so far, under any outcome.
    pub fn resolved(&self) -> u64 {
        Outcome::ALL.iter().map(|&o| self.count(o)).sum()
    }

    /// Tasks the op itself answered for: `completed + panicked + expired`.
    /// Cancellations and shutdowns are the caller's doing and do not count.
    pub fn runs(&self) -> u64 {
        self.completed + self.panicked + self.expired
    }

    /// The share of [`runs`](OpMetrics::runs) that completed, or `None` without runs.
    pub fn success_rate(&self) -> Option<f64> {
        (self.runs() > 0).then(|| self.completed as f64 / self.runs() as f64)
    }

    /// The op's health, graded by its success rate (see [`Health`]).
    ///
    /// ```
    /// use tokengate::{Coordinator, Health, Op};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// let op = Op::new("health-doc");
    /// for i in 0..10 {
    ///     let _ = gate.spawn(&op, move || assert!(i != 0)).wait(); // 1 panic in 10
    /// }
    /// assert_eq!(gate.metrics().op("health-doc").unwrap().health(), Health::Healthy);
    /// ```
    pub fn health(&self) -> Health {
        Health::grade(self.completed, self.runs())
    }
}

/// An op's health, graded by its success rate over its runs
/// (`completed / (completed + panicked + expired)`).
///
/// ```
/// use tokengate::Health;
/// assert_eq!(Health::grade(4, 4), Health::Unknown); // fewer than 5 runs
/// assert_eq!(Health::grade(19, 20), Health::Excellent);
/// assert_eq!(Health::grade(18, 20), Health::Healthy);
/// assert_eq!(Health::grade(10, 20), Health::AtRisk);
/// assert_eq!(Health::grade(9, 20), Health::Problematic);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "snake_case"))]
pub enum Health {
    /// At least 95% of runs succeeded.
    Excellent,
    /// At least 80%.
    Healthy,
    /// At least 50%.
    AtRisk,
    /// Below 50%.
    Problematic,
    /// Fewer than [`Health::MIN_RUNS`] runs: not enough to judge.
    Unknown,
}

impl Health {
    /// Runs needed before an op is graded.
    pub const MIN_RUNS: u64 = 5;

    /// The grade of `ok` successes in `runs` runs.
    pub fn grade(ok: u64, runs: u64) -> Health {
        if runs < Health::MIN_RUNS {
            return Health::Unknown;
        }
        // Integer comparisons: exact at the boundaries (19/20 is exactly 95%).
        let ok = u128::from(ok) * 100;
        let runs = u128::from(runs);
        if ok >= 95 * runs {
            Health::Excellent
        } else if ok >= 80 * runs {
            Health::Healthy
        } else if ok >= 50 * runs {
            Health::AtRisk
        } else {
            Health::Problematic
        }
    }

    /// The grade's name (`"excellent"`, `"healthy"`, `"at_risk"`, `"problematic"`,
    /// `"unknown"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Excellent => "excellent",
            Health::Healthy => "healthy",
            Health::AtRisk => "at_risk",
            Health::Problematic => "problematic",
            Health::Unknown => "unknown",
        }
    }
}

/// Tasks a worker took from other workers' lanes, by the weight of the task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Stolen {
    /// Light tasks (taken in batches).
    pub light: u64,
    /// Medium tasks.
    pub medium: u64,
    /// Heavy tasks (one at a time).
    pub heavy: u64,
}

impl Stolen {
    /// All stolen tasks.
    pub fn total(&self) -> u64 {
        self.light + self.medium + self.heavy
    }

    /// The count for `weight`.
    pub fn of(&self, weight: Weight) -> u64 {
        match weight {
            Weight::Light => self.light,
            Weight::Medium => self.medium,
            Weight::Heavy => self.heavy,
        }
    }
}

/// One worker's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// The worker's index.
    pub index: usize,
    /// The CPU it was asked to pin to, if pinning was requested.
    pub core: Option<usize>,
    /// Whether pinning to `core` succeeded.
    pub pinned: bool,
    /// Tasks (tokens) it ran; the sum over workers is the ops' `completed + panicked`.
    pub executed: u64,
    /// Tasks it took from other workers, by weight (the weight of the first task of
    /// each steal).
    pub stolen: Stolen,
    /// `join` stack jobs it took from a queue and ran (not tasks: no op, no token).
    pub stack_jobs: u64,
    /// Time spent running tasks at its top level (0 with metrics off).
    pub busy: Duration,
    /// Times it parked, idle.
    pub parks: u64,
}

/// Tasks queued right now, per kind of lane.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Queued {
    /// In the global injectors (spawned from outside the pool).
    pub injector: u64,
    /// In the workers' stealable lanes (spawned by tasks).
    pub local: u64,
    /// In the workers' pinned lanes and inboxes (sticky and domain work).
    pub pinned: u64,
    /// Waiting in the storage lane's tiers (not yet admitted to a slot).
    pub storage: u64,
    /// Held back by the control plane (paused ops' held lists).
    pub held: u64,
}

impl Queued {
    pub(crate) fn new(injector: usize, local: usize, pinned: usize, storage: usize, held: usize) -> Queued {
        Queued {
            injector: injector as u64,
            local: local as u64,
            pinned: pinned as u64,
            storage: storage as u64,
            held: held as u64,
        }
    }

    /// All queued tasks.
    pub fn total(&self) -> u64 {
        self.injector + self.local + self.pinned + self.storage + self.held
    }
}

/// One entry of the execution history, from
/// [`Handle::recent_executions`](crate::Handle::recent_executions).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Execution {
    /// The task's id ([`Token::id`](crate::Token::id)).
    pub id: u64,
    /// Its op's name.
    pub op: String,
    /// The worker that ran or resolved it; `None` for a resolution off the workers
    /// (a drain at shutdown, a spawn refused after shutdown).
    pub worker: Option<usize>,
    /// How it was resolved.
    pub outcome: Outcome,
    /// From spawn to start (to resolution, for a task that did not run).
    pub queued_for: Duration,
    /// From start to finish (zero for a task that did not run).
    pub ran_for: Duration,
    /// Raw task-clock reading of the resolution, for ordering.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(crate) finished_raw: u64,
}

/// Nanoseconds per raw clock tick.
pub(crate) fn ns_per_tick() -> f64 {
    const SPAN: u64 = 1 << 32;
    crate::clock::ticks(SPAN).as_nanos() as f64 / SPAN as f64
}

impl Metrics {
    /// A snapshot; `pins` is each worker's `(core, pinned)`, `queued` the lanes' counts.
    pub(crate) fn snapshot(
        &self,
        pins: &[(Option<usize>, bool)],
        queued: Queued,
        storage: Vec<crate::StorageStats>,
    ) -> MetricsSnapshot {
        let scale = ns_per_tick();
        let mut ops: Vec<OpMetrics> = Vec::new();
        let mut index: Vec<(OpId, usize)> = Vec::new();
        for shard in self.all_shards() {
            for (id, cells) in shard.ops.iter() {
                let i = match index.iter().find(|(o, _)| *o == id) {
                    Some(&(_, i)) => i,
                    None => {
                        index.push((id, ops.len()));
                        ops.push(OpMetrics {
                            name: id.name().to_string(),
                            weight: weight_of(cells.weight.load(Ordering::Relaxed)),
                            submitted: 0,
                            completed: 0,
                            panicked: 0,
                            cancelled: 0,
                            expired: 0,
                            shutdown: 0,
                            queue_wait: Histogram::empty(scale),
                            run_time: Histogram::empty(scale),
                        });
                        ops.len() - 1
                    }
                };
                let op = &mut ops[i];
                let c = |s: usize| cells.counts[s].load(Ordering::Relaxed);
                op.submitted += c(SUBMITTED);
                op.completed += c(super::slot(Outcome::Completed));
                op.panicked += c(super::slot(Outcome::Panicked));
                op.cancelled += c(super::slot(Outcome::Cancelled));
                op.expired += c(super::slot(Outcome::Expired));
                op.shutdown += c(super::slot(Outcome::Shutdown));
                cells.queue_wait.add_to(&mut op.queue_wait);
                cells.run_time.add_to(&mut op.run_time);
            }
        }
        ops.sort_by(|a, b| a.name.cmp(&b.name));
        let workers =
            pins.iter()
                .enumerate()
                .map(|(w, &(core, pinned))| {
                    let cells = self.worker(w);
                    let st = |wt: Weight| cells.stolen[wt.index()].load(Ordering::Relaxed);
                    WorkerMetrics {
                        index: w,
                        core,
                        pinned,
                        executed: cells.executed(),
                        stolen: Stolen {
                            light: st(Weight::Light),
                            medium: st(Weight::Medium),
                            heavy: st(Weight::Heavy),
                        },
                        stack_jobs: cells.stack_jobs.load(Ordering::Relaxed),
                        busy: Duration::from_nanos(
                            (cells.busy_ticks.load(Ordering::Relaxed) as f64 * scale).round() as u64
                        ),
                        parks: cells.parks.load(Ordering::Relaxed),
                    }
                })
                .collect();
        MetricsSnapshot {
            enabled: self.enabled,
            ops,
            workers,
            queued,
            storage,
        }
    }
}

fn weight_of(code: u8) -> Weight {
    match code {
        0 => Weight::Light,
        2 => Weight::Heavy,
        _ => Weight::Medium,
    }
}
