//! What every task carries besides its closure and result: its [`Meta`] (id,
//! placement, weight, op, the control plane's and the storage lane's fields) and its
//! [`Times`]. The state machine that moves a task between stages is in `mod.rs`.

use std::sync::atomic::AtomicU64 as StdAtomicU64;

use crate::clock::UNTIMED;
use crate::locality::Placement;
use crate::op::Weight;
use crate::registry::OpId;

/// Untyped metadata every task carries.
pub(crate) struct Meta {
    /// Process-unique id (see [`next_id`](crate::task::next_id)).
    pub id: u64,
    /// Where the task must run, and what to release when it finishes.
    pub placement: Placement,
    /// The op's weight: a `join` inside the task queues its stack job by it.
    pub weight: Weight,
    /// The op the task is a call of ([`OpId::NONE`] for a stack job).
    pub op: OpId,
    /// When it was queued, started and finished.
    pub times: Times,

    // ----- control plane (src/control/) ------------------------------------------
    /// `Op::deadline` in nanoseconds from `times.queued`; 0: none.
    pub deadline_ns: u64,
    /// The bounded pool's admission counter this task holds a slot of; given back
    /// by the claim's winner (`Header::claim`, `run_by_waiter`).
    pub admission: Option<&'static crate::control::Admission>,
    /// One plus the index of the worker that started it (0: not started; workers
    /// are at most `MAX_WORKERS`). Relaxed, as `times`.
    pub worker: std::sync::atomic::AtomicU32,
    /// True while it sits in a pause's held list.
    pub held: std::sync::atomic::AtomicBool,
    // ----- storage lane (src/storage/) -----
    /// `1 + StorageSpeed::index()` for a storage op's task, 0 otherwise: where a
    /// held or swept task goes back to (`Shared::requeue`).
    pub tier: u8,
    // --- metrics (src/metrics) ---
    /// How the task was resolved. Written by whoever resolves it, before `DONE`; a
    /// token-side resolver (`Header::abort`) writes it *before* its claim, so a queue
    /// reference that loses the claim can tell what to count (`metrics/mod.rs`,
    /// "Counting each token once").
    pub outcome: crate::metrics::OutcomeCell,
}

impl Meta {
    /// The metadata of a task spawned now (control fields: no deadline, no slot).
    #[inline]
    pub(crate) fn new(id: u64, placement: Placement, weight: Weight, op: OpId, times: Times) -> Meta {
        Meta {
            id,
            placement,
            weight,
            op,
            times,
            deadline_ns: 0,
            admission: None,
            worker: std::sync::atomic::AtomicU32::new(0),
            outcome: crate::metrics::OutcomeCell::new(),
            held: std::sync::atomic::AtomicBool::new(false),
            tier: 0,
        }
    }
}

/// When a task was queued, started and finished, as raw [`clock`](crate::clock)
/// readings; 0 means "not yet". `queued` is set at spawn; the claim's winner sets
/// `started` just before the closure runs and `finished` before `DONE` is published
/// (for a task resolved without running, `finished` only). They are read racily by
/// status and metrics snapshots, hence atomics; `Relaxed` is enough for a timestamp
/// (a reader that sees `DONE` with Acquire also sees both, through that edge).
/// They are plain `std` atomics in both back-ends: timestamps order nothing, so loom
/// need not explore them (as with the id blocks in `sync`).
///
/// A task nobody times (a pool built with `metrics(false)`, and its op has no
/// deadline, which needs `queued`) is spawned with `queued` = [`UNTIMED`], and then
/// `started` and `finished` are set to [`UNTIMED`] too, without reading the clock:
/// the three readings are most of a small token's cost past its instructions
/// (issue 15). `started != 0` still tells a status that the closure runs.
pub(crate) struct Times {
    pub queued: u64,
    pub started: StdAtomicU64,
    pub finished: StdAtomicU64,
}

impl Times {
    /// The times of a task queued now, timed if `timed` (type docs).
    #[inline]
    pub(crate) fn queued_now_if(timed: bool) -> Times {
        Times::queued_at(if timed { crate::clock::now() } else { UNTIMED })
    }

    /// A stamp for `started` or `finished`: a reading if the task is timed.
    #[inline]
    pub(crate) fn stamp(&self) -> u64 {
        if self.queued == UNTIMED {
            UNTIMED
        } else {
            crate::clock::now()
        }
    }

    /// The times of a task queued at raw reading `queued` (0: not recorded).
    #[inline]
    pub(crate) fn queued_at(queued: u64) -> Times {
        Times {
            queued,
            started: StdAtomicU64::new(0),
            finished: StdAtomicU64::new(0),
        }
    }
}
