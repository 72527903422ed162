//! The Prometheus text exposition format (version 0.0.4) of a [`MetricsSnapshot`].
//!
//! Hand-written rather than through `prometheus-client`: that crate encodes
//! OpenMetrics (a different text format, with `# EOF` and `_total` added to counter
//! families), and it owns its metric values, so exporting our pre-aggregated
//! log-linear histograms would mean a custom collector that re-states every figure
//! anyway. What remains is a dozen `format!` lines and label escaping; a test parses
//! the output with `prometheus-parse` (tests/metrics_export.rs).
//!
//! Names: `tokengate_` prefix, counters end in `_total`, durations are `_seconds`
//! (base units), labels `op`, `weight`, `outcome`, `worker`, `lane` (and `tier` for
//! the storage lane once it lands).

use std::fmt::Write;
use std::time::Duration;

use super::histogram::Histogram;
use super::snapshot::weight_label;
use super::{MetricsSnapshot, Outcome};
use crate::op::Weight;

/// Upper bounds of the exported histogram buckets, in seconds.
const LE: [f64; 22] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    for le in LE {
        let n = h.count_at_most(Duration::from_secs_f64(le));
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {n}");
    }
    let count = h.count();
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum().as_secs_f64());
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

pub(super) fn encode(m: &MetricsSnapshot) -> String {
    let mut out = String::new();
    let op_labels = |o: &super::OpMetrics| format!("op=\"{}\",weight=\"{}\"", escape(&o.name), weight_label(o.weight));

    header(
        &mut out,
        "tokengate_tasks_submitted_total",
        "counter",
        "Tasks spawned, per op.",
    );
    for o in &m.ops {
        let _ = writeln!(
            out,
            "tokengate_tasks_submitted_total{{{}}} {}",
            op_labels(o),
            o.submitted
        );
    }
    header(
        &mut out,
        "tokengate_tasks_resolved_total",
        "counter",
        "Tasks resolved, per op and outcome; each task once.",
    );
    for o in &m.ops {
        for outcome in Outcome::ALL {
            let _ = writeln!(
                out,
                "tokengate_tasks_resolved_total{{{},outcome=\"{}\"}} {}",
                op_labels(o),
                outcome.as_str(),
                o.count(outcome)
            );
        }
    }
    header(
        &mut out,
        "tokengate_task_queue_wait_seconds",
        "histogram",
        "Time from spawn to start, of tasks that ran.",
    );
    for o in &m.ops {
        histogram(
            &mut out,
            "tokengate_task_queue_wait_seconds",
            &op_labels(o),
            &o.queue_wait,
        );
    }
    header(
        &mut out,
        "tokengate_task_run_seconds",
        "histogram",
        "Time from start to finish, of tasks that ran.",
    );
    for o in &m.ops {
        histogram(&mut out, "tokengate_task_run_seconds", &op_labels(o), &o.run_time);
    }
    header(
        &mut out,
        "tokengate_op_success_ratio",
        "gauge",
        "Completed share of an op's runs (completed, panicked, expired); absent without runs.",
    );
    for o in &m.ops {
        if let Some(rate) = o.success_rate() {
            let _ = writeln!(out, "tokengate_op_success_ratio{{{}}} {rate}", op_labels(o));
        }
    }

    header(
        &mut out,
        "tokengate_worker_executed_total",
        "counter",
        "Tasks a worker ran.",
    );
    for w in &m.workers {
        let _ = writeln!(
            out,
            "tokengate_worker_executed_total{{worker=\"{}\"}} {}",
            w.index, w.executed
        );
    }
    header(
        &mut out,
        "tokengate_worker_stolen_total",
        "counter",
        "Tasks a worker took from other workers, by weight.",
    );
    for w in &m.workers {
        for weight in [Weight::Light, Weight::Medium, Weight::Heavy] {
            let _ = writeln!(
                out,
                "tokengate_worker_stolen_total{{worker=\"{}\",weight=\"{}\"}} {}",
                w.index,
                weight_label(weight),
                w.stolen.of(weight)
            );
        }
    }
    header(
        &mut out,
        "tokengate_worker_stack_jobs_total",
        "counter",
        "join stack jobs a worker took from a queue and ran.",
    );
    for w in &m.workers {
        let _ = writeln!(
            out,
            "tokengate_worker_stack_jobs_total{{worker=\"{}\"}} {}",
            w.index, w.stack_jobs
        );
    }
    header(
        &mut out,
        "tokengate_worker_busy_seconds_total",
        "counter",
        "Time a worker spent running tasks.",
    );
    for w in &m.workers {
        let _ = writeln!(
            out,
            "tokengate_worker_busy_seconds_total{{worker=\"{}\"}} {}",
            w.index,
            w.busy.as_secs_f64()
        );
    }
    header(
        &mut out,
        "tokengate_worker_parks_total",
        "counter",
        "Times a worker parked, idle.",
    );
    for w in &m.workers {
        let _ = writeln!(
            out,
            "tokengate_worker_parks_total{{worker=\"{}\"}} {}",
            w.index, w.parks
        );
    }
    header(
        &mut out,
        "tokengate_worker_pinned",
        "gauge",
        "1 if the worker is pinned to its core.",
    );
    for w in &m.workers {
        let _ = writeln!(
            out,
            "tokengate_worker_pinned{{worker=\"{}\"}} {}",
            w.index,
            u8::from(w.pinned)
        );
    }

    header(
        &mut out,
        "tokengate_queued_tasks",
        "gauge",
        "Tasks queued now, per kind of lane.",
    );
    let q = m.queued;
    for (lane, n) in [
        ("injector", q.injector),
        ("local", q.local),
        ("pinned", q.pinned),
        ("storage", q.storage),
        ("held", q.held),
    ] {
        let _ = writeln!(out, "tokengate_queued_tasks{{lane=\"{lane}\"}} {n}");
    }

    // The storage lane, one line per tier (label `tier`).
    type Figure = fn(&crate::StorageStats) -> usize;
    let families: [(&str, &str, &str, Figure); 5] = [
        (
            "tokengate_storage_limit",
            "gauge",
            "Storage tasks a tier may run at once.",
            |t| t.limit,
        ),
        (
            "tokengate_storage_active",
            "gauge",
            "Storage tasks running now, per tier.",
            |t| t.active,
        ),
        (
            "tokengate_storage_queued",
            "gauge",
            "Storage tasks waiting for a slot, per tier.",
            |t| t.queued,
        ),
        (
            "tokengate_storage_peak_active",
            "gauge",
            "The most storage tasks that ran at once, per tier.",
            |t| t.peak_active,
        ),
        (
            "tokengate_storage_completed_total",
            "counter",
            "Storage tasks whose slot was given back, per tier.",
            |t| t.completed as usize,
        ),
    ];
    for (name, kind, help, figure) in families {
        header(&mut out, name, kind, help);
        for t in &m.storage {
            let _ = writeln!(out, "{name}{{tier=\"{}\"}} {}", t.speed.name(), figure(t));
        }
    }
    out
}
