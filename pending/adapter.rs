//! `impl Pool for tokengate::Handle`: the dashboard's views of the real pool, through the
//! control plane (issue 12), the metrics (issue 13) and the storage lane (issue 11).
//!
//! MERGE NOTE (issue 16): NOT compiled on the dashboard branch (those APIs did not
//! exist there). At merge, replace `tokengate-dashboard/src/handle_pool.rs` with this
//! file, enable the core's `serde` feature in the dashboard's Cargo.toml
//! (`tokengate = { path = "..", features = ["serde"] }`), and fix the names marked
//! `ASSUMED:` (everything else is one of the names fixed in the issues). Then move the
//! handler tests' control checks to a second set run against a real `Coordinator`
//! (see the test at the bottom).

use crate::view::*;
use std::time::{Duration, Instant};
use tokengate::{Handle, Health, StorageSpeed};

/// How many executions the page lists and the history download holds.
const RECENT: usize = 50;
const HISTORY: usize = 1024;

fn us(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
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
    match name {
        "slow" => Some(StorageSpeed::Slow),
        "moderate" => Some(StorageSpeed::Moderate),
        "fast" => Some(StorageSpeed::Fast),
        "insane" => Some(StorageSpeed::Insane),
        _ => None,
    }
}

fn health_name(h: Health) -> &'static str {
    match h {
        Health::Excellent => "excellent",
        Health::Healthy => "healthy",
        Health::AtRisk => "at_risk",
        Health::Problematic => "problematic",
        Health::Unknown => "unknown",
    }
}

/// `Debug` of a unit-like enum variant, in snake case (`AtRisk` -> `at_risk`).
fn snake<T: std::fmt::Debug>(v: &T) -> String {
    let name = format!("{v:?}");
    let name = name.split(['(', ' ', '{']).next().unwrap_or("");
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

impl Pool for Handle {
    fn snapshot(&self) -> Snapshot {
        let m = self.metrics();
        // ASSUMED: the per-worker metrics carry `busy: Duration`, and the snapshot
        // tells the time since the pool started as `m.uptime()`.
        let uptime = m.uptime().as_secs_f64();
        let busy: Vec<Option<f64>> = m
            .workers()
            .iter()
            .map(|w| (uptime > 0.0).then(|| (w.busy.as_secs_f64() / uptime).clamp(0.0, 1.0)))
            .collect();
        let workers = self
            .worker_stats()
            .into_iter()
            .map(|w| WorkerView {
                index: w.index,
                core: w.core,
                pinned: w.pinned,
                executed: w.executed,
                stolen: w.stolen,
                busy_share: busy.get(w.index).copied().flatten(),
            })
            .collect();
        // ASSUMED: `m.queued()` has one field per lane kind (the issue names them).
        let q = m.queued();
        let queued = QueuedView {
            injector: q.injector as u64,
            local: q.local as u64,
            pinned: q.pinned as u64,
            storage: q.storage as u64,
            held: q.held as u64,
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
        // ASSUMED: `m.ops()` iterates every op's `OpMetrics` (the issue fixes `m.op(name)`).
        let ops = m
            .ops()
            .map(|o| OpView {
                name: o.name.to_string(),
                weight: snake(&o.weight),
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
                health: health_name(o.health()).to_string(),
            })
            .collect();
        let recent = self
            .recent_executions(RECENT)
            .into_iter()
            .map(|e| ExecutionView {
                id: e.id,
                op: e.op.to_string(),
                worker: e.worker,
                outcome: snake(&e.outcome),
                queued_for_us: us(e.queued_for),
                ran_for_us: us(e.ran_for),
            })
            .collect();
        Snapshot {
            paused: self.is_paused(),
            // ASSUMED: `paused_ops()` lists the ops paused by name.
            paused_ops: self.paused_ops().into_iter().map(|s| s.to_string()).collect(),
            workers,
            heavy: PermitView {
                in_use: self.heavy_running(),
                limit: self.heavy_limit(),
            },
            queued,
            storage,
            ops,
            recent,
            missing: Vec::new(),
        }
    }

    fn prometheus(&self) -> String {
        self.metrics().to_prometheus()
    }

    fn history_json(&self) -> String {
        // Needs the core's `serde` feature (issue 13).
        serde_json::to_string_pretty(&self.recent_executions(HISTORY)).unwrap_or_else(|_| "[]".into())
    }

    fn pause(&self) -> Result<(), ControlError> {
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

    fn status(&self, id: u64) -> Result<Option<TaskView>, ControlError> {
        // ASSUMED: `Handle::status(id) -> Option<TaskStatus>` (the issue fixes
        // `token.status()`), with `queued_at: Instant` and `started_at`,
        // `finished_at: Option<Instant>`.
        let now = Instant::now();
        Ok(Handle::status(self, id).map(|s| {
            let started = s.started_at;
            let ended = s.finished_at.unwrap_or(now);
            TaskView {
                id: s.id,
                op: s.op.to_string(),
                state: snake(&s.state),
                worker: s.worker,
                queued_for_us: Some(us(started.unwrap_or(ended).saturating_duration_since(s.queued_at))),
                ran_for_us: started.map(|st| us(ended.saturating_duration_since(st))),
            }
        }))
    }

    fn set_storage_limit(&self, tier: &str, limit: usize) -> Result<(), ControlError> {
        let speed = tier_of(tier).ok_or_else(|| ControlError::UnknownTier(tier.to_string()))?;
        if limit == 0 {
            return Err(ControlError::Invalid("a storage limit must be at least 1".into()));
        }
        Handle::set_storage_limit(self, speed, limit);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokengate::{Coordinator, Op, StorageSpeed};

    /// The controls change the real pool, observed through the core API.
    #[test]
    fn controls_reach_the_real_pool() {
        let gate = Coordinator::builder().workers(1).build().unwrap();
        let h = gate.handle();
        let op = Op::new("held");
        Pool::pause(&h).unwrap();
        assert!(h.is_paused());
        let tokens: Vec<_> = (0..10).map(|i| gate.spawn(&op, move || i)).collect();
        let q = Pool::snapshot(&h).queued.total();
        assert_eq!(q, 10);
        assert_eq!(Pool::drain_op(&h, "held"), Ok(10));
        for t in tokens {
            assert!(t.wait().is_err());
        }
        let t = gate.spawn(&op, || 1);
        let id = t.abort_handle().id();
        assert_eq!(Pool::cancel(&h, id), Ok(true));
        assert_eq!(Pool::cancel(&h, id), Ok(false));
        Pool::resume(&h).unwrap();
        assert!(!h.is_paused());
        Pool::set_storage_limit(&h, "fast", 64).unwrap();
        let fast = h
            .storage_stats()
            .into_iter()
            .find(|s| s.speed == StorageSpeed::Fast)
            .unwrap();
        assert_eq!(fast.limit, 64);
        assert!(matches!(
            Pool::set_storage_limit(&h, "warp", 1),
            Err(ControlError::UnknownTier(_))
        ));
        assert!(Pool::prometheus(&h).contains("tokengate_"));
    }
}
