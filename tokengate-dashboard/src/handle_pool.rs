//! `impl Pool for tokengate::Handle`, written against the core API that exists on this
//! branch: worker stats and heavy permits. The panels this API cannot fill are listed
//! in [`Snapshot::missing`](crate::Snapshot::missing) (the page shows the list), and
//! every control answers [`ControlError::Unsupported`] (HTTP 501), never a silent
//! no-op.
//!
//! MERGE NOTE (issue 16): once the control plane (issue 12), metrics (issue 13) and
//! storage lane (issue 11) are merged, replace this file with `pending/adapter.rs`.

use crate::view::*;
use tokengate::Handle;

const MISSING: &[&str] = &[
    "per-op metrics",
    "queued per lane",
    "storage tiers",
    "recent executions",
    "busy share",
    "paused state",
];

impl Pool for Handle {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            workers: self
                .worker_stats()
                .into_iter()
                .map(|w| WorkerView {
                    index: w.index,
                    core: w.core,
                    pinned: w.pinned,
                    executed: w.executed,
                    stolen: w.stolen,
                    busy_share: None,
                })
                .collect(),
            heavy: PermitView {
                in_use: self.heavy_running(),
                limit: self.heavy_limit(),
            },
            missing: MISSING.iter().map(|m| m.to_string()).collect(),
            ..Snapshot::default()
        }
    }

    fn prometheus(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP tokengate_worker_executed_total Tasks run, by worker.\n");
        out.push_str("# TYPE tokengate_worker_executed_total counter\n");
        let stats = self.worker_stats();
        for w in &stats {
            out.push_str(&format!(
                "tokengate_worker_executed_total{{worker=\"{}\"}} {}\n",
                w.index, w.executed
            ));
        }
        out.push_str("# HELP tokengate_worker_stolen_total Tasks stolen from other workers, by worker.\n");
        out.push_str("# TYPE tokengate_worker_stolen_total counter\n");
        for w in &stats {
            out.push_str(&format!(
                "tokengate_worker_stolen_total{{worker=\"{}\"}} {}\n",
                w.index, w.stolen
            ));
        }
        out.push_str("# HELP tokengate_heavy_permits_in_use Heavy permits held now.\n");
        out.push_str("# TYPE tokengate_heavy_permits_in_use gauge\n");
        out.push_str(&format!("tokengate_heavy_permits_in_use {}\n", self.heavy_running()));
        out.push_str("# HELP tokengate_heavy_permits_limit Heavy permit limit.\n");
        out.push_str("# TYPE tokengate_heavy_permits_limit gauge\n");
        out.push_str(&format!("tokengate_heavy_permits_limit {}\n", self.heavy_limit()));
        out
    }

    fn history_json(&self) -> String {
        // No execution history in this core version.
        "[]".into()
    }

    fn pause(&self) -> Result<(), ControlError> {
        Err(ControlError::Unsupported("pause"))
    }

    fn resume(&self) -> Result<(), ControlError> {
        Err(ControlError::Unsupported("resume"))
    }

    fn pause_op(&self, _op: &str) -> Result<(), ControlError> {
        Err(ControlError::Unsupported("pause_op"))
    }

    fn resume_op(&self, _op: &str) -> Result<(), ControlError> {
        Err(ControlError::Unsupported("resume_op"))
    }

    fn drain_op(&self, _op: &str) -> Result<usize, ControlError> {
        Err(ControlError::Unsupported("drain_op"))
    }

    fn cancel(&self, _id: u64) -> Result<bool, ControlError> {
        Err(ControlError::Unsupported("cancel"))
    }

    fn status(&self, _id: u64) -> Result<Option<TaskView>, ControlError> {
        Err(ControlError::Unsupported("status"))
    }

    fn set_storage_limit(&self, _tier: &str, _limit: usize) -> Result<(), ControlError> {
        Err(ControlError::Unsupported("set_storage_limit"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokengate::{Coordinator, Op};

    #[test]
    fn handle_snapshot_counts_executions_and_controls_are_unsupported() {
        let gate = Coordinator::builder().workers(2).build().unwrap();
        let op = Op::new("x");
        let tokens: Vec<_> = (0..20).map(|i| gate.spawn(&op, move || i)).collect();
        for t in tokens {
            t.wait().unwrap();
        }
        let h = gate.handle();
        let s = h.snapshot();
        assert_eq!(s.workers.len(), 2);
        assert_eq!(s.workers.iter().map(|w| w.executed).sum::<u64>(), 20);
        assert!(!s.missing.is_empty());
        assert!(h.prometheus().contains("tokengate_worker_executed_total{worker=\"0\"}"));
        assert_eq!(h.pause(), Err(ControlError::Unsupported("pause")));
        assert_eq!(h.cancel(1), Err(ControlError::Unsupported("cancel")));
    }
}
