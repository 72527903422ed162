//! Metrics export: the Prometheus text parses with a real parser and agrees with the
//! snapshot; with the `serde` feature, the history and snapshot dump to JSON.

mod common;

use common::get;
use prometheus_parse::{Scrape, Value};
use tokengate::{Coordinator, MetricsSnapshot, Op, Outcome, Weight};

fn workload() -> (Coordinator, MetricsSnapshot) {
    let gate = Coordinator::builder().workers(2).build().unwrap();
    let (a, b) = (
        Op::new("export-a").weight(Weight::Light),
        Op::new("export-b").weight(Weight::Heavy),
    );
    let mut ts = Vec::new();
    for i in 0..60u32 {
        ts.push(gate.spawn(&a, move || assert!(i % 7 != 0)));
        ts.push(gate.spawn(&b, move || assert!(i % 3 != 0)));
    }
    for t in ts {
        let _ = get(t);
    }
    gate.shutdown();
    let m = gate.metrics();
    (gate, m)
}

fn scrape(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("the exposition parses")
}

fn value(v: &Value) -> f64 {
    match v {
        Value::Counter(x) | Value::Gauge(x) | Value::Untyped(x) => *x,
        other => panic!("not a scalar: {other:?}"),
    }
}

fn find<'a>(s: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> &'a prometheus_parse::Sample {
    s.samples
        .iter()
        .find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no {metric} {labels:?}"))
}

#[test]
fn prometheus_text_parses_and_matches_the_counters() {
    let (_gate, m) = workload();
    let text = m.to_prometheus();
    let s = scrape(&text);
    for name in ["export-a", "export-b"] {
        let o = m.op(name).unwrap();
        let weight = if name == "export-a" { "light" } else { "heavy" };
        let labels = [("op", name), ("weight", weight)];
        let submitted = find(&s, "tokengate_tasks_submitted_total", &labels);
        assert!(matches!(submitted.value, Value::Counter(_)), "counter type");
        assert_eq!(value(&submitted.value), 60.0);
        for outcome in Outcome::ALL {
            let l = [("op", name), ("outcome", outcome.as_str())];
            let v = value(&find(&s, "tokengate_tasks_resolved_total", &l).value);
            assert_eq!(v, o.count(outcome) as f64, "{name} {outcome:?}");
        }
        assert!(o.panicked > 0 && o.completed > 0);
        for hist in ["tokengate_task_run_seconds", "tokengate_task_queue_wait_seconds"] {
            let count = value(&find(&s, &format!("{hist}_count"), &labels).value);
            assert_eq!(
                count,
                (o.completed + o.panicked) as f64,
                "{hist}_count matches the counters"
            );
            let Value::Histogram(buckets) = &find(&s, hist, &labels).value else {
                panic!("{hist} is not a histogram");
            };
            assert!(buckets
                .windows(2)
                .all(|w| w[0].less_than < w[1].less_than && w[0].count <= w[1].count));
            let inf = buckets.last().unwrap();
            assert!(
                inf.less_than.is_infinite() && inf.count == count,
                "+Inf bucket is the count"
            );
            let sum = value(&find(&s, &format!("{hist}_sum"), &labels).value);
            assert!(sum > 0.0 && sum < 60.0, "{hist}_sum {sum}");
        }
    }
    for w in m.workers() {
        let idx = w.index.to_string();
        let executed = value(&find(&s, "tokengate_worker_executed_total", &[("worker", &idx)]).value);
        assert_eq!(executed, w.executed as f64);
        find(
            &s,
            "tokengate_worker_stolen_total",
            &[("worker", &idx), ("weight", "heavy")],
        );
        find(&s, "tokengate_worker_busy_seconds_total", &[("worker", &idx)]);
    }
    for lane in ["injector", "local", "pinned", "storage", "held"] {
        assert_eq!(value(&find(&s, "tokengate_queued_tasks", &[("lane", lane)]).value), 0.0);
    }
    // Naming conventions: every counter ends in `_total`, every histogram in `_seconds`.
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let parts: Vec<&str> = line.split(' ').collect();
        let (name, kind) = (parts[2], parts[3]);
        assert!(name.starts_with("tokengate_"), "{line}");
        match kind {
            "counter" => assert!(name.ends_with("_total"), "{line}"),
            "histogram" => assert!(name.ends_with("_seconds"), "{line}"),
            "gauge" => {}
            other => panic!("unexpected type {other}"),
        }
    }
}

#[test]
fn label_values_are_escaped() {
    let gate = Coordinator::builder().workers(1).build().unwrap();
    get(gate.spawn(&Op::new("we\"ird\\op\nname"), || ())).unwrap();
    let text = gate.metrics().to_prometheus();
    assert!(
        text.contains(r#"op="we\"ird\\op\nname""#),
        "escaped label missing:\n{text}"
    );
    assert!(
        text.lines().all(|l| !l.starts_with("name")),
        "a raw newline split a line"
    );
}

#[cfg(feature = "serde")]
#[test]
fn history_and_snapshot_dump_to_json() {
    let (gate, m) = workload();
    let history = serde_json::to_value(gate.recent_executions(10)).unwrap();
    let first = &history.as_array().unwrap()[0];
    assert!(first["op"].as_str().unwrap().starts_with("export-"));
    assert!(["completed", "panicked"].contains(&first["outcome"].as_str().unwrap()));
    assert!(first["queued_for"]["secs"].is_u64() && first["worker"].is_u64());
    let snap = serde_json::to_value(&m).unwrap();
    let ops = snap["ops"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0]["submitted"], 60);
    assert_eq!(ops[1]["weight"], "heavy");
}
