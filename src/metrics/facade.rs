//! The `metrics` feature: publishes a snapshot to the `metrics` facade crate, so any
//! of its exporters (Prometheus, StatsD, ...) carries tokengate's figures.
//!
//! The facade records observations itself, while tokengate's histograms are already
//! aggregated, so a published snapshot sets counters to their absolute values and
//! exports each histogram as its count and sum (counters) plus p50, p99 and max
//! (gauges, label `quantile`). Names and labels are those of the Prometheus export.

#[cfg(feature = "metrics")]
impl super::MetricsSnapshot {
    /// Publishes every figure of this snapshot to the installed `metrics` recorder
    /// (a no-op without one). Call it periodically, or before each scrape.
    ///
    /// ```
    /// let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// gate.spawn(&tokengate::Op::new("facade-doc"), || ()).wait().unwrap();
    /// gate.metrics().publish();
    /// ```
    pub fn publish(&self) {
        use super::snapshot::weight_label;
        use super::Outcome;
        use crate::op::Weight;
        for o in self.ops() {
            let (op, weight) = (o.name.clone(), weight_label(o.weight));
            metrics::counter!("tokengate_tasks_submitted_total", "op" => op.clone(), "weight" => weight)
                .absolute(o.submitted);
            for outcome in Outcome::ALL {
                metrics::counter!("tokengate_tasks_resolved_total", "op" => op.clone(), "weight" => weight, "outcome" => outcome.as_str())
                    .absolute(o.count(outcome));
            }
            for (name, h) in [
                ("tokengate_task_queue_wait_seconds", &o.queue_wait),
                ("tokengate_task_run_seconds", &o.run_time),
            ] {
                metrics::counter!(format!("{name}_count"), "op" => op.clone(), "weight" => weight).absolute(h.count());
                metrics::gauge!(format!("{name}_sum"), "op" => op.clone(), "weight" => weight)
                    .set(h.sum().as_secs_f64());
                for (q, v) in [("0.5", h.quantile(0.5)), ("0.99", h.quantile(0.99)), ("1", h.max())] {
                    metrics::gauge!(name, "op" => op.clone(), "weight" => weight, "quantile" => q).set(v.as_secs_f64());
                }
            }
        }
        for w in self.workers() {
            let worker = w.index.to_string();
            metrics::counter!("tokengate_worker_executed_total", "worker" => worker.clone()).absolute(w.executed);
            for weight in [Weight::Light, Weight::Medium, Weight::Heavy] {
                metrics::counter!("tokengate_worker_stolen_total", "worker" => worker.clone(), "weight" => weight_label(weight))
                    .absolute(w.stolen.of(weight));
            }
            metrics::counter!("tokengate_worker_stack_jobs_total", "worker" => worker.clone()).absolute(w.stack_jobs);
            metrics::gauge!("tokengate_worker_busy_seconds_total", "worker" => worker.clone())
                .set(w.busy.as_secs_f64());
            metrics::counter!("tokengate_worker_parks_total", "worker" => worker.clone()).absolute(w.parks);
        }
        let q = self.queued();
        for (lane, n) in [
            ("injector", q.injector),
            ("local", q.local),
            ("pinned", q.pinned),
            ("storage", q.storage),
            ("held", q.held),
        ] {
            metrics::gauge!("tokengate_queued_tasks", "lane" => lane).set(n as f64);
        }
    }
}
