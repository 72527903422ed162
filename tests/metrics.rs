//! Metrics: counts per outcome, conservation under a randomized mix, histogram
//! quantiles against known durations, the bounded newest-first history, health grades
//! and `metrics(false)`.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{get, spin_until, Latch, LIMIT};
use tokengate::{Coordinator, Health, MetricsSnapshot, Op, OpMetrics, Outcome, TaskError, TaskState, Weight};

fn op_of(m: &MetricsSnapshot, name: &str) -> OpMetrics {
    m.op(name)
        .unwrap_or_else(|| panic!("op {name} missing from {:?}", m.ops()))
}

fn counts(o: &OpMetrics) -> [u64; 6] {
    [o.submitted, o.completed, o.panicked, o.cancelled, o.expired, o.shutdown]
}

/// Every op balances, the workers' `executed` sum is the ops' runs, and each run-time
/// histogram holds exactly the runs.
fn assert_conserved(m: &MetricsSnapshot) {
    let mut runs = 0;
    for o in m.ops() {
        assert_eq!(
            o.submitted,
            o.resolved(),
            "op {} does not balance: {:?}",
            o.name,
            counts(o)
        );
        assert_eq!(
            o.run_time.count(),
            o.completed + o.panicked,
            "op {} run_time count",
            o.name
        );
        assert_eq!(
            o.queue_wait.count(),
            o.completed + o.panicked,
            "op {} queue_wait count",
            o.name
        );
        runs += o.completed + o.panicked;
    }
    let executed: u64 = m.workers().iter().map(|w| w.executed).sum();
    assert_eq!(executed, runs, "workers' executed vs ops' runs");
}

/// Busy-spins for `d` (no sleeping: the task really runs that long).
fn spin_for(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

#[test]
fn counts_each_outcome_once() {
    let gate = Coordinator::builder().workers(1).build().unwrap();
    let handle = gate.handle();
    let (ok, boom, cancel, shut, block, probe) = (
        Op::new("count-ok"),
        Op::new("count-panic"),
        Op::new("count-cancel"),
        Op::new("count-shutdown"),
        Op::new("count-block"),
        Op::new("count-probe"),
    );
    for _ in 0..5 {
        get(gate.spawn(&ok, || ())).unwrap();
    }
    for _ in 0..3 {
        assert!(matches!(
            get(gate.spawn(&boom, || panic!("no"))),
            Err(TaskError::Panicked { .. })
        ));
    }
    // Block the only worker, then queue work behind it.
    let latch = Latch::new();
    let started = Arc::new(AtomicBool::new(false));
    let blocker = {
        let (latch, started) = (Arc::clone(&latch), Arc::clone(&started));
        gate.spawn(&block, move || {
            started.store(true, SeqCst);
            latch.wait();
        })
    };
    spin_until("the blocker to start", || started.load(SeqCst));
    let cancelled: Vec<_> = (0..4).map(|_| gate.spawn(&cancel, || ())).collect();
    for t in &cancelled {
        assert!(t.cancel(), "a queued task cancels");
    }
    let queued: Vec<_> = (0..6).map(|_| gate.spawn(&shut, || ())).collect();
    // Drop the pool while the worker is blocked: queued tasks resolve Shutdown.
    let dropper = std::thread::spawn(move || drop(gate));
    let probes = Arc::new(std::sync::Mutex::new(Vec::new()));
    spin_until("the pool to abort", || {
        let t = handle.spawn(&probe, || ());
        let refused = t.is_finished();
        probes.lock().unwrap().push(t);
        refused
    });
    latch.open();
    dropper.join().unwrap();
    get(blocker).unwrap();
    for t in cancelled {
        assert_eq!(get(t), Err(TaskError::Cancelled));
    }
    for t in queued {
        assert_eq!(get(t), Err(TaskError::Shutdown));
    }
    for _ in 0..2 {
        assert_eq!(get(handle.spawn(&shut, || ())), Err(TaskError::Shutdown));
    }
    let probes = probes.lock().unwrap().len() as u64;

    let m = handle.metrics();
    // [submitted, completed, panicked, cancelled, expired, shutdown]
    assert_eq!(counts(&op_of(&m, "count-ok")), [5, 5, 0, 0, 0, 0]);
    assert_eq!(counts(&op_of(&m, "count-panic")), [3, 0, 3, 0, 0, 0]);
    assert_eq!(counts(&op_of(&m, "count-cancel")), [4, 0, 0, 4, 0, 0]);
    assert_eq!(counts(&op_of(&m, "count-shutdown")), [8, 0, 0, 0, 0, 8]);
    assert_eq!(counts(&op_of(&m, "count-block")), [1, 1, 0, 0, 0, 0]);
    assert_eq!(counts(&op_of(&m, "count-probe")), [probes, 0, 0, 0, 0, probes]);
    assert_eq!(m.workers()[0].executed, 9);
    assert_eq!(
        handle.worker_stats()[0].executed,
        9,
        "WorkerStats reads the same counter"
    );
    assert_conserved(&m);
    assert_eq!(m.queued().total(), 0);
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn random_mix(gate: &Coordinator, seed: u64, n: usize) {
    static OPS: std::sync::LazyLock<[Op; 3]> = std::sync::LazyLock::new(|| {
        [
            Op::new("mix-light").weight(Weight::Light),
            Op::new("mix-medium"),
            Op::new("mix-heavy").weight(Weight::Heavy),
        ]
    });
    static CHILD: std::sync::LazyLock<Op> = std::sync::LazyLock::new(|| Op::new("mix-child").weight(Weight::Light));
    let mut rng = Rng(seed | 1);
    let mut kept = Vec::new();
    for _ in 0..n {
        let op = &OPS[rng.below(3) as usize];
        let kind = rng.below(10);
        let t = gate.spawn(op, move || match kind {
            0 => panic!("mix panic"),
            1 => {
                // Children from inside: worker shards, own lanes, stealing.
                let kids: Vec<_> = (0..3).map(|i| tokengate::spawn(&CHILD, move || i)).collect();
                kids.into_iter().map(|k| k.wait().unwrap_or(0)).sum::<u64>()
            }
            2 => {
                let (a, b) = tokengate::join(|| 1u64, || 2u64);
                a + b
            }
            _ => 0,
        });
        match rng.below(4) {
            0 => {
                t.cancel();
                kept.push(t);
            }
            1 => drop(t),
            _ => kept.push(t),
        }
    }
    for t in kept {
        assert!(t.wait_timeout(LIMIT), "mix token unresolved");
    }
}

#[test]
fn conservation_under_a_randomized_mix() {
    for (round, seed) in [0x9e37_79b9_u64, 0x1234_5678].into_iter().enumerate() {
        let gate = Coordinator::builder().workers(2).build().unwrap();
        let handle = gate.handle();
        random_mix(&gate, seed, 1500);
        // Spawns still in flight at the end, so shutdown or abort resolve some queued.
        let tail: Vec<_> = (0..200)
            .map(|i| gate.spawn(&Op::new("mix-tail"), move || spin_for(Duration::from_micros(i % 5))))
            .collect();
        if round == 0 {
            gate.shutdown();
        } else {
            drop(gate); // abort: queued tasks resolve Shutdown, children are refused
        }
        drop(tail);
        let m = handle.metrics();
        assert_conserved(&m);
        let total: u64 = m.ops().iter().map(|o| o.submitted).sum();
        assert!(total >= 1700, "round {round}: only {total} submitted");
        let panicked: u64 = m.ops().iter().map(|o| o.panicked).sum();
        let cancelled: u64 = m.ops().iter().map(|o| o.cancelled).sum();
        assert!(
            panicked > 0 && cancelled > 0,
            "round {round}: the mix must panic and cancel"
        );
        if round == 0 {
            assert_eq!(m.ops().iter().map(|o| o.shutdown).sum::<u64>(), 0, "graceful runs all");
        }
    }
}

#[test]
fn histogram_quantiles_match_known_durations() {
    let gate = Coordinator::builder().workers(1).build().unwrap();
    let (slow, fast) = (Op::new("hist-2ms"), Op::new("hist-200us"));
    for _ in 0..15 {
        get(gate.spawn(&slow, || spin_for(Duration::from_millis(2)))).unwrap();
    }
    for _ in 0..40 {
        get(gate.spawn(&fast, || spin_for(Duration::from_micros(200)))).unwrap();
    }
    // Queue-wait: tasks queued behind a 10 ms task wait about that long.
    let waiter = Op::new("hist-wait");
    let ts: Vec<_> = std::iter::once(gate.spawn(&waiter, || spin_for(Duration::from_millis(10))))
        .chain((0..4).map(|_| gate.spawn(&waiter, || ())))
        .collect();
    for t in ts {
        get(t).unwrap();
    }
    let m = gate.metrics();
    let check = |name: &str, expect: Duration, n: u64| {
        let h = op_of(&m, name).run_time;
        assert_eq!(h.count(), n, "{name} count");
        let p50 = h.quantile(0.5);
        // Lower bound: the task spun at least `expect` (minus the 3% bucket error);
        // upper bound: generous, the machine is shared.
        assert!(p50 >= expect.mul_f64(0.96) && p50 <= expect * 3, "{name} p50 {p50:?}");
        assert!(
            h.max() >= expect && h.max() >= h.quantile(0.99),
            "{name} max {:?}",
            h.max()
        );
        assert!(
            h.quantile(0.0) >= expect.mul_f64(0.96),
            "{name} min {:?}",
            h.quantile(0.0)
        );
        assert!(h.sum() >= expect * n as u32, "{name} sum {:?}", h.sum());
    };
    check("hist-2ms", Duration::from_millis(2), 15);
    check("hist-200us", Duration::from_micros(200), 40);
    let wait = op_of(&m, "hist-wait").queue_wait;
    assert_eq!(wait.count(), 5);
    assert!(
        wait.max() >= Duration::from_millis(9),
        "queued behind 10 ms: {:?}",
        wait.max()
    );
    assert!(wait.max() < LIMIT);
    let busy = m.workers()[0].busy;
    assert!(busy >= Duration::from_millis(30 + 8 + 10), "busy {busy:?}");
}

#[test]
fn history_is_bounded_and_newest_first() {
    let gate = Coordinator::builder().workers(2).history(8).build().unwrap();
    let op = Op::new("history-ring");
    let mut ids = Vec::new();
    for i in 0..30u64 {
        let t = gate.spawn(&op, move || assert!(i % 10 != 3));
        ids.push(t.id());
        let _ = get(t);
    }
    let recent = gate.recent_executions(usize::MAX);
    assert_eq!(recent.len(), 8, "bounded by history(8)");
    let newest: Vec<u64> = ids.iter().rev().take(8).copied().collect();
    assert_eq!(recent.iter().map(|e| e.id).collect::<Vec<_>>(), newest, "newest first");
    let three = gate.recent_executions(3);
    assert_eq!(three.iter().map(|e| e.id).collect::<Vec<_>>(), newest[..3].to_vec());
    for e in &recent {
        assert_eq!(e.op, "history-ring");
        assert!(e.worker.is_some_and(|w| w < 2));
    }
    // i = 23 panicked: it is the 7th newest (29..=22).
    assert_eq!(recent[6].outcome, Outcome::Panicked);
    assert!(recent
        .iter()
        .enumerate()
        .all(|(k, e)| k == 6 || e.outcome == Outcome::Completed));
    // Cancelled tasks are recorded too, when the worker finds them.
    let started = Arc::new(AtomicBool::new(false));
    let latch = Latch::new();
    let single = Coordinator::builder().workers(1).history(4).build().unwrap();
    let blocker = {
        let (latch, started) = (Arc::clone(&latch), Arc::clone(&started));
        single.spawn(&op, move || {
            started.store(true, SeqCst);
            latch.wait();
        })
    };
    spin_until("blocker", || started.load(SeqCst));
    let t = single.spawn(&Op::new("history-cancel"), || ());
    let cancelled_id = t.id();
    assert!(t.cancel());
    latch.open();
    get(blocker).unwrap();
    single.shutdown();
    let recent = single.recent_executions(4);
    let e = recent
        .iter()
        .find(|e| e.id == cancelled_id)
        .expect("cancelled task in history");
    assert_eq!((e.outcome, e.ran_for), (Outcome::Cancelled, Duration::ZERO));
}

#[test]
fn health_grades_at_the_boundaries() {
    let gate = Coordinator::builder().workers(2).build().unwrap();
    let grade = |name: &'static str, ok: u32, failed: u32, cancelled: u32| {
        let op = Op::new(name);
        let mut ts = Vec::new();
        for i in 0..ok + failed {
            ts.push(gate.spawn(&op, move || assert!(i >= failed, "planned failure")));
        }
        for t in ts {
            let _ = get(t);
        }
        // Cancellations do not count against an op: they are the caller's doing.
        // The op is paused meanwhile, so no worker can start a task before its
        // cancel (a task that ran would count as a success).
        gate.pause_op(name);
        for _ in 0..cancelled {
            let t = gate.spawn(&op, || ());
            assert!(t.cancel(), "a held task is cancelled");
            let _ = get(t);
        }
        gate.resume_op(name);
        settle(&gate, name);
        op_of(&gate.metrics(), name).health()
    };
    assert_eq!(grade("health-19-1", 19, 1, 3), Health::Excellent);
    assert_eq!(grade("health-18-2", 18, 2, 0), Health::Healthy);
    assert_eq!(grade("health-16-4", 16, 4, 0), Health::Healthy);
    assert_eq!(grade("health-15-5", 15, 5, 0), Health::AtRisk);
    assert_eq!(grade("health-10-10", 10, 10, 0), Health::AtRisk);
    assert_eq!(grade("health-9-11", 9, 11, 0), Health::Problematic);
    assert_eq!(grade("health-4-0", 4, 0, 5), Health::Unknown);
    assert_eq!(grade("health-5-0", 5, 0, 0), Health::Excellent);
}

/// Waits until every task of `name` submitted so far is counted (a cancellation is
/// counted when a worker meets the task in its queue, just after the cancel).
fn settle(gate: &Coordinator, name: &str) {
    spin_until("the op's counts to balance", || {
        gate.metrics().op(name).is_some_and(|o| o.submitted == o.resolved())
    });
}

#[test]
fn metrics_off_records_nothing() {
    let gate = Coordinator::builder().workers(2).metrics(false).build().unwrap();
    let op = Op::new("off");
    let ran = Arc::new(AtomicU64::new(0));
    let mut ts = Vec::new();
    for i in 0..200u64 {
        let ran = Arc::clone(&ran);
        ts.push(gate.spawn(&op, move || {
            ran.fetch_add(1, SeqCst);
            assert!(i % 50 != 0);
        }));
    }
    ts[199].cancel();
    for t in ts {
        let _ = get(t);
    }
    gate.shutdown();
    let m = gate.metrics();
    assert!(!m.enabled());
    assert!(m.ops().is_empty(), "no op recorded: {:?}", m.ops());
    assert!(gate.recent_executions(100).is_empty());
    assert!(m.workers().iter().all(|w| w.busy == Duration::ZERO));
    assert!(!m.to_prometheus().contains("op=\""));
    // The worker counters behind `WorkerStats` still count.
    let executed: u64 = m.workers().iter().map(|w| w.executed).sum();
    assert_eq!(executed, ran.load(SeqCst));
}

/// With `metrics(false)` tasks are not timed, but a status still follows its
/// states; an op with a deadline is still timed, and its deadline still expires.
#[test]
fn metrics_off_status_has_states_but_no_times_and_deadlines_still_expire() {
    let gate = Coordinator::builder().workers(1).metrics(false).build().unwrap();
    let (inside, go) = (Latch::new(), Latch::new());
    let (i, g) = (Arc::clone(&inside), Arc::clone(&go));
    let busy = gate.spawn(&Op::new("untimed"), move || {
        i.open();
        g.wait();
        4
    });
    inside.wait();
    let s = busy.status();
    assert_eq!((s.state, s.worker), (TaskState::Running, Some(0)));
    assert_eq!((s.queued, s.started, s.finished), (None, None, None));
    // Queued behind it: one untimed task, one with a deadline that passes.
    let queued = gate.spawn(&Op::new("untimed"), || 5);
    let late = gate.spawn(&Op::new("late-untimed").deadline(Duration::from_millis(1)), || 6);
    let s = queued.status();
    assert_eq!((s.state, s.queued), (TaskState::Queued, None));
    assert!(
        late.status().queued.is_some(),
        "a deadline's task must keep its queue time"
    );
    let spawned = Instant::now();
    while spawned.elapsed() < Duration::from_millis(5) {
        std::thread::yield_now();
    }
    go.open();
    assert_eq!(get(busy), Ok(4));
    spin_until("both resolved", || queued.is_finished() && late.is_finished());
    let s = queued.status();
    assert_eq!((s.state, s.started, s.finished), (TaskState::Finished, None, None));
    let s = late.status();
    assert_eq!(s.state, TaskState::Expired);
    assert!(s.queued.unwrap() <= s.finished.unwrap());
    assert_eq!(get(queued), Ok(5));
    assert_eq!(get(late), Err(TaskError::Expired));
}
