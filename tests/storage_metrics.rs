//! Storage-lane tasks in the op metrics: every token counts once, under one outcome,
//! whether a storage thread runs it, a panic ends it, a drain cancels it, its
//! deadline expires it or a drop resolves it; run times land in the histograms.
//!
//! Fails against a lane that does not count its releases (the op's `submitted` then
//! exceeds the sum of its outcomes, or the op is missing from the snapshot).

mod common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{get, spin_until, Latch};
use tokengate::{Coordinator, Op, StorageSpeed, TaskError};

fn pool() -> Coordinator {
    Coordinator::builder()
        .workers(1)
        .storage_limit(StorageSpeed::Slow, 1)
        .build()
        .unwrap()
}

fn balance(gate: &Coordinator, name: &str) -> tokengate::OpMetrics {
    let m = gate.metrics().op(name).expect("the storage op is in the metrics");
    let resolved = m.completed + m.panicked + m.cancelled + m.expired + m.shutdown;
    assert_eq!(
        m.submitted, resolved,
        "{name}: submitted {} != resolved {resolved}",
        m.submitted
    );
    m
}

#[test]
fn storage_tokens_count_once_under_each_outcome() {
    let gate = pool();
    let op = Op::new("storage-metrics").storage_speed(StorageSpeed::Slow);
    // Completed and panicked, run by a storage thread.
    let ok: Vec<_> = (0..5u32).map(|i| gate.spawn(&op, move || i)).collect();
    for t in ok {
        get(t).unwrap();
    }
    let boom = gate.spawn(&op, || -> u32 { panic!("storage panic") });
    assert!(matches!(get(boom), Err(TaskError::Panicked { .. })));
    // Cancelled while queued behind a blocked slot, by a drain and by the token.
    let latch = Latch::new();
    let l = Arc::clone(&latch);
    let started = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&started);
    let blocker = gate.spawn(&op, move || {
        s.store(true, SeqCst);
        l.wait();
        0
    });
    // (Not `active == 1`: the panicked task's slot may not be given back yet.)
    spin_until("the blocker runs", || started.load(SeqCst));
    let drained: Vec<_> = (0..3u32).map(|i| gate.spawn(&op, move || i)).collect();
    assert_eq!(gate.drain_op("storage-metrics"), 3);
    let cancelled = gate.spawn(&op, || 9);
    assert!(cancelled.cancel());
    // Expired behind the blocker.
    let late_op = Op::new("storage-metrics")
        .storage_speed(StorageSpeed::Slow)
        .deadline(Duration::from_millis(2));
    let spawned = Instant::now();
    let late = gate.spawn(&late_op, || 1);
    spin_until("the deadline passes", || spawned.elapsed() > Duration::from_millis(4));
    latch.open();
    get(blocker).unwrap();
    assert_eq!(get(late), Err(TaskError::Expired));
    for t in drained {
        assert_eq!(get(t), Err(TaskError::Cancelled));
    }
    assert_eq!(get(cancelled), Err(TaskError::Cancelled));
    // The slot is given back (and the last release counted) just after the token
    // resolves.
    spin_until("the tier is idle", || gate.storage_stats()[0].active == 0);
    spin_until("every release is counted", || {
        let m = gate.metrics().op("storage-metrics").unwrap();
        m.completed + m.panicked + m.cancelled + m.expired == m.submitted
    });
    let m = balance(&gate, "storage-metrics");
    assert_eq!(
        (m.submitted, m.completed, m.panicked, m.cancelled, m.expired),
        (12, 6, 1, 4, 1)
    );
    assert_eq!(m.run_time.count(), 7, "every run is in the run-time histogram");
    assert!(gate.recent_executions(64).iter().any(|e| e.op == "storage-metrics"));
    // The tiers in the Prometheus text, labelled by `tier`, read by a real parser.
    let text = gate.metrics().to_prometheus();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let sample = |name: &str| {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && s.labels.get("tier") == Some("slow"))
            .unwrap_or_else(|| panic!("{name}{{tier=\"slow\"}} is missing"));
        match s.value {
            prometheus_parse::Value::Counter(x) | prometheus_parse::Value::Gauge(x) => x,
            _ => panic!("{name} is not a counter or gauge"),
        }
    };
    assert_eq!(sample("tokengate_storage_limit"), 1.0);
    assert_eq!(sample("tokengate_storage_active"), 0.0);
    let stats = gate.storage_stats()[0];
    assert_eq!(sample("tokengate_storage_completed_total"), stats.completed as f64);
}

#[test]
fn queued_storage_tokens_resolved_by_a_drop_count_as_shutdown() {
    let gate = pool();
    let op = Op::new("storage-metrics-drop").storage_speed(StorageSpeed::Slow);
    let latch = Latch::new();
    let l = Arc::clone(&latch);
    let blocker = gate.spawn(&op, move || l.wait());
    spin_until("the blocker runs", || gate.storage_stats()[0].active == 1);
    let queued: Vec<_> = (0..4).map(|_| gate.spawn(&op, || ())).collect();
    let handle = gate.handle();
    // Let the blocker finish once the drop has begun resolving the queue.
    let opener = std::thread::spawn(move || {
        spin_until("the queue is resolved", || queued.iter().all(|t| t.is_finished()));
        latch.open();
        queued
    });
    drop(gate);
    for t in opener.join().unwrap() {
        assert_eq!(get(t), Err(TaskError::Shutdown));
    }
    get(blocker).unwrap();
    let m = handle.metrics().op("storage-metrics-drop").unwrap();
    assert_eq!((m.submitted, m.completed, m.shutdown), (5, 1, 4));
}
