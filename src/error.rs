//! Errors: how a task can fail to produce its value, and how building a coordinator
//! can fail.

use std::fmt;

/// Why a token resolved without the task's value.
///
/// ```
/// use tokengate::{Coordinator, Op, TaskError};
///
/// let gate = Coordinator::builder().workers(1).build().unwrap();
/// let err = gate.spawn(&Op::new("boom"), || panic!("bad input")).wait().unwrap_err();
/// assert!(matches!(err, TaskError::Panicked { ref message } if message == "bad input"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskError {
    /// The task's closure panicked. The worker caught the panic and went on serving.
    Panicked {
        /// The panic payload if it was a string, otherwise a placeholder.
        message: String,
    },
    /// [`Token::cancel`](crate::Token::cancel) was called before the task started, so its
    /// closure never ran.
    Cancelled,
    /// The coordinator shut down before the task could run: it was spawned after
    /// [`Coordinator::shutdown`](crate::Coordinator::shutdown), or it was still queued when
    /// the coordinator was dropped.
    Shutdown,
    /// The op's [`deadline`](crate::Op::deadline) passed before the task started, so
    /// its closure never ran (control plane).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokengate::{Coordinator, Op, TaskError};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// gate.pause();
    /// let t = gate.spawn(&Op::new("late").deadline(Duration::from_millis(1)), || ());
    /// std::thread::sleep(Duration::from_millis(5));
    /// gate.resume();
    /// assert_eq!(t.wait(), Err(TaskError::Expired));
    /// ```
    Expired,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked { message } => write!(f, "task panicked: {message}"),
            TaskError::Cancelled => f.write_str("task was cancelled before it started"),
            TaskError::Shutdown => f.write_str("coordinator shut down before the task ran"),
            TaskError::Expired => f.write_str("the task's deadline passed before it started"),
        }
    }
}

impl std::error::Error for TaskError {}

impl TaskError {
    /// Builds `Panicked` from a payload caught by `catch_unwind`. The payload is
    /// user data: it is dropped under `catch_unwind`, so a payload whose own `Drop`
    /// panics cannot unwind into the worker (issue 10, finding 5).
    pub(crate) fn from_panic(payload: Box<dyn std::any::Any + Send>) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "<non-string panic payload>".to_string()
        };
        drop_payload(payload);
        TaskError::Panicked { message }
    }
}

/// Drops a caught panic payload without letting a panic in its `Drop` escape. A
/// payload that panics again while being dropped is leaked rather than retried.
pub(crate) fn drop_payload(payload: Box<dyn std::any::Any + Send>) {
    if let Err(second) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload))) {
        // The second payload may be as hostile as the first: never drop it.
        std::mem::forget(second);
    }
}

/// Runs `f` (user code: a destructor, a waker), catching a panic and dropping its
/// payload with [`drop_payload`], so nothing of it can unwind into the scheduler.
pub(crate) fn quietly(f: impl FnOnce()) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        drop_payload(payload);
    }
}

/// Why [`Builder::build`](crate::Builder::build) refused to start a coordinator.
///
/// ```
/// use tokengate::{BuildError, Coordinator};
///
/// let err = Coordinator::builder().workers(0).build().unwrap_err();
/// assert!(matches!(err, BuildError::ZeroWorkers));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// `workers(0)` was requested: a coordinator needs at least one worker.
    ZeroWorkers,
    /// More workers were requested than tokengate supports (see [`MAX_WORKERS`](crate::MAX_WORKERS)).
    TooManyWorkers {
        /// The number requested.
        requested: usize,
    },
    /// `reserve_for_light(k)` left no worker allowed to run `Heavy` work.
    ReserveTooLarge {
        /// Workers reserved for non-heavy work.
        reserved: usize,
        /// Workers in the pool.
        workers: usize,
    },
    /// The operating system refused to start a worker thread.
    Spawn(std::io::Error),
    /// `max_queued(0)` was requested: no task could ever be queued.
    ///
    /// ```
    /// let err = tokengate::Coordinator::builder().max_queued(0).build().unwrap_err();
    /// assert!(matches!(err, tokengate::BuildError::ZeroQueue));
    /// ```
    ZeroQueue,
    /// A storage tier limit was 0 or too large ([`Builder::storage_limit`](crate::Builder::storage_limit)).
    StorageLimit(crate::StorageLimitError),
    /// [`Builder::thread_name`](crate::Builder::thread_name) contained a NUL byte,
    /// which no operating system thread name may hold.
    InvalidThreadName {
        /// The prefix as given.
        prefix: String,
    },
    /// [`Builder::stack_size`](crate::Builder::stack_size) is below
    /// [`MIN_STACK_SIZE`](crate::MIN_STACK_SIZE).
    StackTooSmall {
        /// The size requested, in bytes.
        requested: usize,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroWorkers => f.write_str("a coordinator needs at least one worker, got workers(0)"),
            BuildError::TooManyWorkers { requested } => {
                write!(f, "workers({requested}) exceeds the maximum of {}", crate::MAX_WORKERS)
            }
            BuildError::ReserveTooLarge { reserved, workers } => write!(
                f,
                "reserve_for_light({reserved}) leaves no worker for Heavy tasks in a pool of {workers}; \
                 it must be less than the worker count"
            ),
            BuildError::Spawn(e) => write!(f, "failed to start a worker thread: {e}"),
            BuildError::ZeroQueue => f.write_str("max_queued(0) would admit no task; the bound must be at least 1"),
            BuildError::StorageLimit(e) => e.fmt(f),
            BuildError::InvalidThreadName { prefix } => {
                write!(
                    f,
                    "thread_name({prefix:?}) contains a NUL byte, which a thread name cannot hold"
                )
            }
            BuildError::StackTooSmall { requested } => write!(
                f,
                "stack_size({requested}) is below the minimum of {} bytes",
                crate::MIN_STACK_SIZE
            ),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Spawn(e) => Some(e),
            BuildError::StorageLimit(e) => Some(e),
            _ => None,
        }
    }
}

/// Stops the process when one of tokengate's own invariants is broken. Continuing
/// could run a task twice or lose one, which is worse than a loud stop.
pub(crate) fn fatal(what: &str) -> ! {
    eprintln!("tokengate: internal invariant broken: {what}; aborting");
    std::process::abort()
}
