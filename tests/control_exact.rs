//! Drain and cancel by id are exact while workers keep taking work (issue 12):
//! a task queued when `drain_op` / `cancel` is called either is resolved by it, or
//! had started before it returned. Never "missed, then run afterwards".
//!
//! Each round queues tasks of one op on a busy two-worker pool and drains (or
//! cancels) while both workers are taking them. A task whose closure starts after
//! the call returned, and which the call did not resolve, is a miss. With a sweep
//! that makes one pass (no movers protocol, `control/moves.rs`), tasks in a
//! worker's hand at the instant of the pass are missed in most runs of this test.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokengate::{Coordinator, Op, TaskError};

/// Rounds in which the call resolved at least one task: the test goes on (past
/// `ROUNDS`) until it has seen this many, within `BOUND`. A round whose workers ran
/// every task before the call (the caller was descheduled while they did: three
/// threads share two cores) tests nothing, and whole runs of 150 such rounds
/// happened.
const OVERLAPS: usize = 20;
const ROUNDS: usize = 150;
const BOUND: Duration = Duration::from_secs(15);
const TASKS: usize = 64;

/// Runs `round` (which returns how many tasks its call resolved) at least `ROUNDS`
/// times and until `OVERLAPS` rounds resolved some, within `BOUND`; returns the
/// total resolved.
fn rounds(mut round: impl FnMut() -> usize) -> usize {
    let start = Instant::now();
    let (mut done, mut overlaps, mut total) = (0, 0, 0);
    while (done < ROUNDS || overlaps < OVERLAPS) && start.elapsed() < BOUND {
        let resolved = round();
        done += 1;
        overlaps += usize::from(resolved > 0);
        total += resolved;
    }
    total
}

struct Round {
    /// Per task: set once the drain (or the cancel of that task) returned.
    returned: Vec<AtomicBool>,
    /// Closures that started after that.
    late: AtomicUsize,
    /// Closures started at all.
    started: AtomicUsize,
}

fn work(round: &Round, i: usize) {
    if round.returned[i].load(Ordering::SeqCst) {
        round.late.fetch_add(1, Ordering::SeqCst);
    }
    round.started.fetch_add(1, Ordering::SeqCst);
    // A little work, so that workers are taking tasks all the time.
    let t = Instant::now();
    while t.elapsed() < Duration::from_micros(2) {
        std::hint::spin_loop();
    }
}

fn busy_round(gate: &Coordinator, op: &Op) -> (Arc<Round>, Vec<tokengate::Token<()>>) {
    let round = Arc::new(Round {
        returned: (0..TASKS).map(|_| AtomicBool::new(false)).collect(),
        late: AtomicUsize::new(0),
        started: AtomicUsize::new(0),
    });
    let tokens: Vec<_> = (0..TASKS)
        .map(|i| {
            let r = round.clone();
            gate.spawn(op, move || work(&r, i))
        })
        .collect();
    // Both workers are taking tasks once a few have started.
    while round.started.load(Ordering::SeqCst) < 4 {
        std::hint::spin_loop();
    }
    (round, tokens)
}

#[test]
fn drain_misses_nothing_a_worker_holds() {
    let gate = Coordinator::builder().workers(2).build().unwrap();
    let op = Op::new("exact-drain");
    let drained_total = rounds(|| {
        let (round, tokens) = busy_round(&gate, &op);
        let drained = gate.drain_op("exact-drain");
        for r in &round.returned {
            r.store(true, Ordering::SeqCst);
        }
        let mut cancelled = 0;
        for t in tokens {
            match t.wait() {
                Ok(()) => {}
                Err(TaskError::Cancelled) => cancelled += 1,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(cancelled, drained, "the drain's count is the tokens it resolved");
        assert_eq!(round.started.load(Ordering::SeqCst) + drained, TASKS);
        assert_eq!(
            round.late.load(Ordering::SeqCst),
            0,
            "a task queued before the drain started after it returned"
        );
        drained
    });
    assert!(drained_total > 0, "the drains never raced the workers");
}

#[test]
fn cancel_by_id_misses_nothing_a_worker_holds() {
    let gate = Coordinator::builder().workers(2).build().unwrap();
    let op = Op::new("exact-cancel");
    let cancelled_total = rounds(|| {
        let (round, tokens) = busy_round(&gate, &op);
        // The last tasks are the likeliest to be queued still; the middle ones to be
        // in a worker's hand.
        let mut cancelled = Vec::new();
        for (i, t) in tokens.iter().enumerate().rev().step_by(3) {
            if gate.cancel(t.id()) {
                cancelled.push(t.id());
            }
            round.returned[i].store(true, Ordering::SeqCst);
        }
        for t in tokens {
            let id = t.id();
            match t.wait() {
                Ok(()) => assert!(!cancelled.contains(&id), "a cancelled task ran"),
                Err(TaskError::Cancelled) => assert!(cancelled.contains(&id), "resolved by nobody's cancel"),
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(
            round.late.load(Ordering::SeqCst),
            0,
            "a task cancel missed started after it"
        );
        cancelled.len()
    });
    assert!(cancelled_total > 0, "the cancels never raced the workers");
}
