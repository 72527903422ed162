//! [`Outcome`], how a task was resolved, and [`OutcomeCell`], where a task keeps it
//! (shared by metrics and `Token::status`).

use crate::error::TaskError;
use crate::sync::Ordering as SyncOrdering;

/// How a task was resolved: exactly one per token.
///
/// ```
/// use tokengate::{Coordinator, Op, Outcome};
/// let gate = Coordinator::builder().workers(1).build().unwrap();
/// let _ = gate.spawn(&Op::new("outcome-doc"), || 1).wait();
/// gate.shutdown();
/// assert_eq!(gate.recent_executions(1)[0].outcome, Outcome::Completed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "snake_case"))]
pub enum Outcome {
    /// The closure returned a value.
    Completed,
    /// The closure panicked ([`TaskError::Panicked`]).
    Panicked,
    /// Cancelled before it started ([`TaskError::Cancelled`]).
    Cancelled,
    /// Its deadline passed before it started (the control plane's `TaskError::Expired`;
    /// never produced yet).
    Expired,
    /// The pool shut down before it ran ([`TaskError::Shutdown`]).
    Shutdown,
}

impl Outcome {
    /// Every outcome, in the order of the counters.
    pub const ALL: [Outcome; 5] = [
        Outcome::Completed,
        Outcome::Panicked,
        Outcome::Cancelled,
        Outcome::Expired,
        Outcome::Shutdown,
    ];

    /// The outcome's label, as in the Prometheus export (`"completed"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Panicked => "panicked",
            Outcome::Cancelled => "cancelled",
            Outcome::Expired => "expired",
            Outcome::Shutdown => "shutdown",
        }
    }

    /// The outcome a task resolved with `err` has.
    pub fn of_error(err: &TaskError) -> Outcome {
        match err {
            TaskError::Panicked { .. } => Outcome::Panicked,
            TaskError::Cancelled => Outcome::Cancelled,
            TaskError::Shutdown => Outcome::Shutdown,
            TaskError::Expired => Outcome::Expired,
        }
    }

    pub(super) fn code(self) -> u8 {
        self as u8 + 1
    }

    pub(super) fn from_code(code: u8) -> Option<Outcome> {
        Outcome::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }
}

/// `Meta::outcome`: how the task was resolved (module docs, "Counting each token
/// once"). Two cells, 0 while empty: `announced`, claimed with a CAS by a token-side
/// resolver *before* it claims the task, and `resolved`, stored by the claim's winner
/// (one writer). A queue reference that won its claim reads `resolved`, its own
/// store; one that lost reads `announced`. (One cell for both would do on hardware,
/// but loom 0.7 lets a thread's load after its own store read an older concurrent
/// CAS's value, the coherence bug noted in loom-tests/README.md.) Unlike the
/// counters, they go through the `sync` shim, so loom explores them (model 12).
/// One byte each, so the task header stays small (`task/mod.rs`).
pub(crate) struct OutcomeCell {
    announced: crate::sync::AtomicU8,
    resolved: crate::sync::AtomicU8,
}

impl OutcomeCell {
    pub(crate) fn new() -> Self {
        OutcomeCell {
            announced: crate::sync::AtomicU8::new(0),
            resolved: crate::sync::AtomicU8::new(0),
        }
    }

    /// A token-side resolver announces `err`'s outcome before claiming. False if
    /// somebody announced first: the caller must not claim.
    pub(crate) fn announce(&self, err: &TaskError) -> bool {
        let code = Outcome::of_error(err).code();
        // Relaxed: the claim CAS that follows publishes it (see `Header::claim`).
        self.announced
            .compare_exchange(0, code, SyncOrdering::Relaxed, SyncOrdering::Relaxed)
            .is_ok()
    }

    /// The claim's winner ran the closure.
    #[inline]
    pub(crate) fn set_ran(&self, ok: bool) {
        let outcome = if ok { Outcome::Completed } else { Outcome::Panicked };
        self.resolved.store(outcome.code(), SyncOrdering::Relaxed);
    }

    /// The claim's winner resolved the task with `err`.
    pub(crate) fn set_error(&self, err: &TaskError) {
        self.resolved
            .store(Outcome::of_error(err).code(), SyncOrdering::Relaxed);
    }

    /// What releasing a queue reference sees: its own resolution if it won the claim
    /// (`resolved_here`), else the winner's announcement.
    pub(crate) fn get(&self, resolved_here: bool) -> Option<Outcome> {
        let cell = if resolved_here { &self.resolved } else { &self.announced };
        Outcome::from_code(cell.load(SyncOrdering::Relaxed))
    }
}
