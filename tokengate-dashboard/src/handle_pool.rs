//! `impl Pool for tokengate::Handle`: the dashboard's views of a real pool, read from
//! its metrics ([`Handle::metrics`]), control plane and storage lane.
//!
//! What the core API does not give directly, and how the page fills it:
//! - **Busy share**: the pool reports each worker's cumulative busy time
//!   ([`WorkerMetrics::busy`](tokengate::WorkerMetrics)); this adapter passes it on as
//!   [`WorkerView::busy_us`] and the sampler turns it into the share of the last
//!   sample interval (busy time gained / wall time elapsed).
//! - **Paused ops**: the core answers `is_op_paused(name)` but does not list paused
//!   ops, so the page lists the paused ops among the ops that have metrics (an op
//!   paused before any task of it was spawned is not listed until it has one).
//! - **Status by id**: [`Handle::status`](tokengate::Handle::status) finds a task
//!   wherever it is: queued or held (a sweep of the queues), running (published by
//!   its worker), or resolved and still in the execution history. An id never
//!   spawned, and one resolved longer ago than the history reaches, answer
//!   "not found". Times are shown as "queued for" (so far, or until it started) and
//!   "ran for" (so far, or in all).

use crate::view::*;
use std::time::Duration;
use tokengate::{Execution, Handle, StorageSpeed, Weight};

/// How many executions the page lists.
const RECENT: usize = 50;
/// How many executions the history download holds.
pub(crate) const HISTORY: usize = 1024;

/// A status as the page shows it; states named as the history's outcomes.
fn task_view(s: &tokengate::TaskStatus) -> TaskView {
    use tokengate::TaskState;
    let now = std::time::Instant::now();
    let state = match s.state {
        TaskState::Queued => "queued",
        TaskState::Held => "held",
        TaskState::Running => "running",
        TaskState::Finished => "completed",
        TaskState::Panicked => "panicked",
        TaskState::Cancelled => "cancelled",
        TaskState::Expired => "expired",
        TaskState::Shutdown => "shutdown",
        _ => "unknown",
    };
    let queued_until = s.started.or(s.finished).unwrap_or(now);
    TaskView {
        id: s.id,
        op: s.op.to_string(),
        state: state.to_string(),
        worker: s.worker,
        queued_for_us: s.queued.map(|q| us(queued_until.saturating_duration_since(q))),
        ran_for_us: s
            .started
            .map(|st| us(s.finished.unwrap_or(now).saturating_duration_since(st))),
    }
}

fn us(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

fn tier_name(s: StorageSpeed) -> &'static str {
    match s {
        StorageSpeed::Slow => "slow",
        StorageSpeed::Moderate => "moderate",
        StorageSpeed::Fast => "fast",
        StorageSpeed::Insane => "insane",
    }
}

fn tier_of(name: &str) -> Option<StorageSpeed> {
    StorageSpeed::ALL.into_iter().find(|s| tier_name(*s) == name)
}

fn weight_name(w: Weight) -> &'static str {
    match w {
        Weight::Light => "light",
        Weight::Medium => "medium",
        Weight::Heavy => "heavy",
    }
}

fn execution_view(e: &Execution) -> ExecutionView {
    ExecutionView {
        id: e.id,
        op: e.op.clone(),
        worker: e.worker,
        outcome: e.outcome.as_str().to_string(),
        queued_for_us: us(e.queued_for),
        ran_for_us: us(e.ran_for),
    }
}

impl Pool for Handle {
    fn snapshot(&self) -> Snapshot {
        let m = self.metrics();
        let busy: Vec<Option<u64>> = m.workers().iter().map(|w| m.enabled().then(|| us(w.busy))).collect();
        let workers = self
            .worker_stats()
            .into_iter()
            .map(|w| WorkerView {
                index: w.index,
                core: w.core,
                pinned: w.pinned,
                executed: w.executed,
                stolen: w.stolen,
                busy_share: None,
                busy_us: busy.get(w.index).copied().flatten(),
            })
            .collect();
        let q = m.queued();
        let queued = QueuedView {
            injector: q.injector,
            local: q.local,
            pinned: q.pinned,
            storage: q.storage,
            held: q.held,
        };
        let storage = self
            .storage_stats()
            .into_iter()
            .map(|s| TierView {
                tier: tier_name(s.speed).to_string(),
                limit: s.limit,
                active: s.active,
                queued: s.queued as u64,
                completed: s.completed,
                peak_active: s.peak_active,
            })
            .collect();
        let ops = m
            .ops()
            .iter()
            .map(|o| OpView {
                name: o.name.clone(),
                weight: weight_name(o.weight).to_string(),
                submitted: o.submitted,
                completed: o.completed,
                panicked: o.panicked,
                cancelled: o.cancelled,
                expired: o.expired,
                shutdown: o.shutdown,
                wait_p50_us: us(o.queue_wait.quantile(0.5)),
                wait_p99_us: us(o.queue_wait.quantile(0.99)),
                run_p50_us: us(o.run_time.quantile(0.5)),
                run_p99_us: us(o.run_time.quantile(0.99)),
                health: o.health().as_str().to_string(),
            })
            .collect();
        let paused_ops = m
            .ops()
            .iter()
            .filter(|o| self.is_op_paused(&o.name))
            .map(|o| o.name.clone())
            .collect();
        let recent = self.recent_executions(RECENT).iter().map(execution_view).collect();
        let mut missing = Vec::new();
        if !m.enabled() {
            missing.push("metrics (the pool was built with metrics(false))".to_string());
        }
        Snapshot {
            paused: self.is_paused(),
            paused_ops,
            workers,
            heavy: PermitView {
                in_use: self.heavy_running(),
                limit: self.heavy_limit(),
            },
            queued,
            storage,
            ops,
            recent,
            missing,
        }
    }

    fn prometheus(&self) -> String {
        self.metrics().to_prometheus()
    }

    fn history_json(&self) -> String {
        serde_json::to_string_pretty(&self.recent_executions(HISTORY)).unwrap_or_else(|_| "[]".into())
    }

    fn pause(&self) -> Result<(), ControlError> {
        // `false` means it was already paused: the requested state holds either way.
        Handle::pause(self);
        Ok(())
    }

    fn resume(&self) -> Result<(), ControlError> {
        Handle::resume(self);
        Ok(())
    }

    fn pause_op(&self, op: &str) -> Result<(), ControlError> {
        Handle::pause_op(self, op);
        Ok(())
    }

    fn resume_op(&self, op: &str) -> Result<(), ControlError> {
        Handle::resume_op(self, op);
        Ok(())
    }

    fn drain_op(&self, op: &str) -> Result<usize, ControlError> {
        Ok(Handle::drain_op(self, op))
    }

    fn cancel(&self, id: u64) -> Result<bool, ControlError> {
        Ok(Handle::cancel(self, id))
    }

    /// Wherever the task is (see the module docs).
    fn status(&self, id: u64) -> Result<Option<TaskView>, ControlError> {
        Ok(Handle::status(self, id).map(|s| task_view(&s)))
    }

    fn set_storage_limit(&self, tier: &str, limit: usize) -> Result<(), ControlError> {
        let speed = tier_of(tier).ok_or_else(|| ControlError::UnknownTier(tier.to_string()))?;
        Handle::set_storage_limit(self, speed, limit).map_err(|e| ControlError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokengate::{Coordinator, Op, TaskError};

    /// The controls change the real pool, observed through the core API.
    #[test]
    fn controls_reach_the_real_pool() {
        let gate = Coordinator::builder().workers(1).build().unwrap();
        let h = gate.handle();
        let op = Op::new("held");
        Pool::pause(&h).unwrap();
        assert!(h.is_paused() && Pool::snapshot(&h).paused);
        let tokens: Vec<_> = (0..10).map(|i| gate.spawn(&op, move || i)).collect();
        assert_eq!(Pool::snapshot(&h).queued.total(), 10);
        while h.held() < 10 {
            std::thread::yield_now();
        }
        assert_eq!(Pool::drain_op(&h, "held"), Ok(10));
        for t in tokens {
            assert_eq!(t.wait(), Err(TaskError::Cancelled));
        }
        let t = gate.spawn(&op, || 1);
        let id = t.id();
        assert_eq!(Pool::cancel(&h, id), Ok(true));
        assert_eq!(Pool::cancel(&h, id), Ok(false));
        assert_eq!(t.wait(), Err(TaskError::Cancelled));
        let s = Pool::status(&h, id).unwrap().unwrap();
        assert_eq!((s.op.as_str(), s.state.as_str()), ("held", "cancelled"));
        assert_eq!(Pool::status(&h, u64::MAX), Ok(None));
        // A queued (held) task is found too, not only resolved ones.
        let held = gate.spawn(&op, || 2);
        let s = Pool::status(&h, held.id()).unwrap().unwrap();
        assert_eq!((s.op.as_str(), s.state.as_str()), ("held", "held"));
        assert!(s.queued_for_us.is_some() && s.ran_for_us.is_none());
        Pool::pause_op(&h, "held").unwrap();
        assert_eq!(Pool::snapshot(&h).paused_ops, vec!["held".to_string()]);
        Pool::resume_op(&h, "held").unwrap();
        Pool::resume(&h).unwrap();
        assert!(!h.is_paused());
        assert_eq!(held.wait(), Ok(2));
        assert_eq!(gate.spawn(&op, || 5).wait(), Ok(5));
        Pool::set_storage_limit(&h, "fast", 64).unwrap();
        assert_eq!(h.storage_stats()[StorageSpeed::Fast as usize].limit, 64);
        assert!(matches!(
            Pool::set_storage_limit(&h, "warp", 1),
            Err(ControlError::UnknownTier(_))
        ));
        assert!(matches!(
            Pool::set_storage_limit(&h, "fast", 0),
            Err(ControlError::Invalid(_))
        ));
        let snap = Pool::snapshot(&h);
        let held = snap.ops.iter().find(|o| o.name == "held").unwrap();
        assert_eq!((held.submitted, held.completed, held.cancelled), (13, 2, 11));
        assert_eq!(snap.storage.len(), 4);
        assert!(snap.workers[0].busy_us.is_some());
        assert!(Pool::prometheus(&h).contains("tokengate_tasks_submitted_total{op=\"held\""));
        let history: serde_json::Value = serde_json::from_str(&Pool::history_json(&h)).unwrap();
        assert_eq!(history.as_array().unwrap().len(), 13);
    }
}
