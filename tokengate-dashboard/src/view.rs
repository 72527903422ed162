//! What the dashboard reads from and does to a pool: the [`Pool`] trait and the
//! dashboard's own serde view structs.
//!
//! The page is decoupled from the core crate's types on purpose: an adapter
//! (`impl Pool for tokengate::Handle`) maps the pool's metrics and control plane onto
//! these views, and tests drive the page with a simulated pool instead.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What the dashboard needs from a pool: one snapshot for the panels, the Prometheus
/// text, the execution history as JSON, and the controls.
///
/// Every control returns a `Result`, so a pool that cannot do something says so with a
/// [`ControlError`] instead of silently doing nothing.
///
/// ```
/// use tokengate_dashboard::{ControlError, Pool, Snapshot, TaskView};
/// struct Empty;
/// impl Pool for Empty {
///     fn snapshot(&self) -> Snapshot { Snapshot::default() }
///     fn prometheus(&self) -> String { String::new() }
///     fn history_json(&self) -> String { "[]".into() }
///     fn pause(&self) -> Result<(), ControlError> { Err(ControlError::Unsupported("pause")) }
///     fn resume(&self) -> Result<(), ControlError> { Err(ControlError::Unsupported("resume")) }
///     fn pause_op(&self, _: &str) -> Result<(), ControlError> { Err(ControlError::Unsupported("pause_op")) }
///     fn resume_op(&self, _: &str) -> Result<(), ControlError> { Err(ControlError::Unsupported("resume_op")) }
///     fn drain_op(&self, _: &str) -> Result<usize, ControlError> { Err(ControlError::Unsupported("drain_op")) }
///     fn cancel(&self, _: u64) -> Result<bool, ControlError> { Err(ControlError::Unsupported("cancel")) }
///     fn status(&self, _: u64) -> Result<Option<TaskView>, ControlError> { Ok(None) }
///     fn set_storage_limit(&self, _: &str, _: usize) -> Result<(), ControlError> {
///         Err(ControlError::Unsupported("set_storage_limit"))
///     }
/// }
/// assert!(Empty.snapshot().workers.is_empty());
/// ```
pub trait Pool: Send + Sync + 'static {
    /// Everything the panels show, taken now.
    fn snapshot(&self) -> Snapshot;
    /// The pool's metrics in the Prometheus text exposition format.
    fn prometheus(&self) -> String;
    /// The recent execution history as a JSON document (served as a download).
    fn history_json(&self) -> String;
    /// Pauses admission of all queued work (running tasks finish).
    fn pause(&self) -> Result<(), ControlError>;
    /// Resumes all work.
    fn resume(&self) -> Result<(), ControlError>;
    /// Pauses one op by name.
    fn pause_op(&self, op: &str) -> Result<(), ControlError>;
    /// Resumes one op by name.
    fn resume_op(&self, op: &str) -> Result<(), ControlError>;
    /// Cancels every queued task of one op; returns how many.
    fn drain_op(&self, op: &str) -> Result<usize, ControlError>;
    /// Cancels a queued task by its id; `false` if it is unknown, running or finished.
    fn cancel(&self, id: u64) -> Result<bool, ControlError>;
    /// The status of a task by id, `None` if the pool cannot find it. (The adapter for
    /// `tokengate::Handle` finds resolved tasks only, in the execution history.)
    fn status(&self, id: u64) -> Result<Option<TaskView>, ControlError>;
    /// Changes the concurrency limit of a storage tier (`"slow"`, `"moderate"`,
    /// `"fast"`, `"insane"`).
    fn set_storage_limit(&self, tier: &str, limit: usize) -> Result<(), ControlError>;
}

/// Why a control could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlError {
    /// This pool does not support the control (for example an adapter written before
    /// the control plane existed).
    Unsupported(&'static str),
    /// No storage tier of that name.
    UnknownTier(String),
    /// The value is out of range (for example a storage limit of 0).
    Invalid(String),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::Unsupported(what) => write!(f, "this pool does not support {what}"),
            ControlError::UnknownTier(t) => write!(f, "unknown storage tier {t:?}"),
            ControlError::Invalid(why) => write!(f, "invalid request: {why}"),
        }
    }
}

impl std::error::Error for ControlError {}

/// Everything the panels show at one moment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    /// Whether all admission is paused.
    pub paused: bool,
    /// The ops paused by name.
    pub paused_ops: Vec<String>,
    /// One row per worker.
    pub workers: Vec<WorkerView>,
    /// Heavy permits.
    pub heavy: PermitView,
    /// Queued tasks per lane kind.
    pub queued: QueuedView,
    /// One row per storage tier.
    pub storage: Vec<TierView>,
    /// One row per op.
    pub ops: Vec<OpView>,
    /// Recent executions, newest first.
    pub recent: Vec<ExecutionView>,
    /// Panels this pool cannot fill (shown as a note on the page, so a zero is never
    /// mistaken for a measurement).
    #[serde(default)]
    pub missing: Vec<String>,
}

/// One worker.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WorkerView {
    /// Worker index.
    pub index: usize,
    /// The core it was asked to pin to.
    pub core: Option<usize>,
    /// Whether pinning succeeded.
    pub pinned: bool,
    /// Tasks it ran.
    pub executed: u64,
    /// Tasks it stole.
    pub stolen: u64,
    /// Share of wall time spent running tasks, 0..=1, over the last sample interval
    /// (`None` if the pool does not measure it). A pool may leave it `None` and give
    /// [`busy_us`](WorkerView::busy_us) instead: the sampler then fills it in.
    pub busy_share: Option<f64>,
    /// Cumulative time spent running tasks, microseconds, if the pool measures it.
    #[serde(default)]
    pub busy_us: Option<u64>,
}

/// Heavy permits in use and their limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PermitView {
    /// Permits held now.
    pub in_use: usize,
    /// The limit.
    pub limit: usize,
}

/// Queued (not yet running) tasks per lane kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct QueuedView {
    /// The shared injectors.
    pub injector: u64,
    /// Workers' own lanes.
    pub local: u64,
    /// Pinned (sticky, domain) lanes.
    pub pinned: u64,
    /// The storage lane.
    pub storage: u64,
    /// Set aside because paused.
    pub held: u64,
}

impl QueuedView {
    /// The sum over all lane kinds.
    pub fn total(&self) -> u64 {
        self.injector + self.local + self.pinned + self.storage + self.held
    }
}

/// One storage tier.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TierView {
    /// Tier name (`slow`, `moderate`, `fast`, `insane`).
    pub tier: String,
    /// Concurrency limit.
    pub limit: usize,
    /// Running now.
    pub active: usize,
    /// Queued.
    pub queued: u64,
    /// Completed so far.
    pub completed: u64,
    /// The highest `active` seen.
    pub peak_active: usize,
}

/// One op's counters and latencies (times in microseconds).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct OpView {
    /// Op name (user-controlled: the page renders it as text).
    pub name: String,
    /// Weight (`light`, `medium`, `heavy`).
    pub weight: String,
    /// Tasks spawned.
    pub submitted: u64,
    /// Completed normally.
    pub completed: u64,
    /// Panicked.
    pub panicked: u64,
    /// Cancelled (including drained).
    pub cancelled: u64,
    /// Deadline expired before start.
    pub expired: u64,
    /// Resolved by shutdown.
    pub shutdown: u64,
    /// Median queue wait.
    pub wait_p50_us: u64,
    /// 99th percentile queue wait.
    pub wait_p99_us: u64,
    /// Median run time.
    pub run_p50_us: u64,
    /// 99th percentile run time.
    pub run_p99_us: u64,
    /// Health grade (`excellent`, `healthy`, `at_risk`, `problematic`, `unknown`).
    pub health: String,
}

/// One finished execution (times in microseconds).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ExecutionView {
    /// Task id.
    pub id: u64,
    /// Op name.
    pub op: String,
    /// The worker that ran it, if any.
    pub worker: Option<usize>,
    /// Outcome (`completed`, `panicked`, `cancelled`, ...).
    pub outcome: String,
    /// Time spent queued.
    pub queued_for_us: u64,
    /// Time spent running.
    pub ran_for_us: u64,
}

/// A task's status by id.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskView {
    /// Task id.
    pub id: u64,
    /// Op name.
    pub op: String,
    /// State (`queued`, `running`, `completed`, `cancelled`, ...).
    pub state: String,
    /// The worker running or that ran it.
    pub worker: Option<usize>,
    /// Time queued so far or in total, microseconds.
    pub queued_for_us: Option<u64>,
    /// Time running so far or in total, microseconds.
    pub ran_for_us: Option<u64>,
}

/// A shared pool is a pool: `Dashboard::new(Arc::clone(&pool))` keeps your own handle.
impl<P: Pool + ?Sized> Pool for std::sync::Arc<P> {
    fn snapshot(&self) -> Snapshot {
        (**self).snapshot()
    }
    fn prometheus(&self) -> String {
        (**self).prometheus()
    }
    fn history_json(&self) -> String {
        (**self).history_json()
    }
    fn pause(&self) -> Result<(), ControlError> {
        (**self).pause()
    }
    fn resume(&self) -> Result<(), ControlError> {
        (**self).resume()
    }
    fn pause_op(&self, op: &str) -> Result<(), ControlError> {
        (**self).pause_op(op)
    }
    fn resume_op(&self, op: &str) -> Result<(), ControlError> {
        (**self).resume_op(op)
    }
    fn drain_op(&self, op: &str) -> Result<usize, ControlError> {
        (**self).drain_op(op)
    }
    fn cancel(&self, id: u64) -> Result<bool, ControlError> {
        (**self).cancel(id)
    }
    fn status(&self, id: u64) -> Result<Option<TaskView>, ControlError> {
        (**self).status(id)
    }
    fn set_storage_limit(&self, tier: &str, limit: usize) -> Result<(), ControlError> {
        (**self).set_storage_limit(tier, limit)
    }
}
