//! `tokengate::join`: fork-join with stack jobs.
//!
//! Every wait is bounded (`LIMIT`), so a scheduler bug fails a test instead of
//! hanging it. Nothing synchronises with `sleep`.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::channel;
use std::time::Instant;

use common::locality::{gate, gate_with, here, ok, recv};
use tokengate::{current_worker, join, Coordinator, Handle, Op, TaskError, Weight};

fn fib(n: u64, leaves: &AtomicUsize) -> u64 {
    if n < 2 {
        leaves.fetch_add(1, SeqCst);
        return n;
    }
    let (a, b) = join(|| fib(n - 1, leaves), || fib(n - 2, leaves));
    a + b
}

fn fib_serial(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib_serial(n - 1) + fib_serial(n - 2)
    }
}

/// Spins for about `micros` µs: CPU work that gives an idle worker time to steal.
fn busy(micros: u64) {
    let start = Instant::now();
    while start.elapsed().as_micros() < u128::from(micros) {
        std::hint::spin_loop();
    }
}

#[test]
fn recursive_join_runs_every_half_exactly_once() {
    for workers in [1, 2] {
        let gate = gate(workers);
        let leaves = std::sync::Arc::new(AtomicUsize::new(0));
        let l = leaves.clone();
        let got = ok(gate.spawn(&Op::new("fib"), move || fib(20, &l)));
        assert_eq!(got, fib_serial(20), "{workers} workers");
        // fib(n) has fib(n + 1) leaves: each half ran once, none lost, none doubled.
        assert_eq!(leaves.load(SeqCst) as u64, fib_serial(21), "{workers} workers");
    }
}

#[test]
fn second_half_runs_in_parallel_when_the_first_waits_for_it() {
    let gate = gate(2);
    let t = gate.spawn(&Op::new("parent"), || {
        let (tx, rx) = channel();
        // `a` cannot finish until `b` has run: only a second worker taking `b` from
        // this worker's lane can make progress.
        join(move || (here(), recv(&rx)), move || tx.send(here()).unwrap())
    });
    let ((a_worker, b_worker), ()) = ok(t);
    assert_ne!(a_worker, b_worker, "b was stolen by the other worker");
}

#[test]
fn join_borrows_from_the_stack_and_works_outside_any_pool() {
    let data: Vec<u64> = (1..=10_000).collect();
    let (left, right) = data.split_at(3_000);
    let ((sum_l, worker_a), (sum_r, worker_b)) = join(
        || (left.iter().sum::<u64>(), current_worker()),
        || (right.iter().sum::<u64>(), current_worker()),
    );
    assert_eq!(sum_l + sum_r, 50_005_000);
    // From a plain thread, the whole call runs on the default coordinator.
    assert!(worker_a.is_some() && worker_b.is_some());
}

#[test]
fn a_panic_in_either_half_is_raised_after_both_finish() {
    let gate = gate(2);
    let b_ran = std::sync::Arc::new(AtomicBool::new(false));
    let flag = b_ran.clone();
    let t = gate.spawn(&Op::new("parent"), move || {
        join(|| panic!("a failed"), move || flag.store(true, SeqCst));
    });
    match common::get(t) {
        Err(TaskError::Panicked { message }) => assert!(message.contains("a failed"), "{message}"),
        other => panic!("expected a panic, got {other:?}"),
    }
    assert!(b_ran.load(SeqCst), "b still ran before the panic was raised");

    let t = gate.spawn(&Op::new("parent"), || join(|| 1, || panic!("b failed")).0);
    assert!(matches!(common::get(t), Err(e) if e.to_string().contains("b failed")));

    // Both panic: `a`'s panic wins.
    let t = gate.spawn(&Op::new("parent"), || join(|| panic!("first"), || panic!("second")));
    assert!(matches!(common::get(t), Err(e) if e.to_string().contains("first")));

    // The workers survived all of it.
    assert_eq!(ok(gate.spawn(&Op::new("after"), || 7)), 7);

    // Outside any pool the panic reaches the caller.
    let caught = catch_unwind(AssertUnwindSafe(|| join(|| 1, || panic!("outside"))));
    let payload = caught.expect_err("the panic propagates");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"outside"));
}

/// Joins `rounds` times with a slow `a`, and returns the workers `b` ran on.
fn b_workers(rounds: usize) -> Vec<usize> {
    (0..rounds)
        .map(|_| {
            join(
                || busy(2_000),
                || {
                    assert!(Handle::current().map_or(0, |h| h.heavy_running()) <= 1);
                    here()
                },
            )
            .1
        })
        .collect()
}

#[test]
fn a_pinned_caller_keeps_b_on_its_worker() {
    let gate = gate(2);
    let op = Op::new("pinned").sticky_anchor("tenant-7");
    let (caller, bs) = ok(gate.spawn(&op, || (here(), b_workers(5))));
    assert_eq!(gate.anchor_worker("tenant-7"), None, "released after the task");
    assert!(
        bs.iter().all(|&w| w == caller),
        "b left the anchor's worker: {bs:?} vs {caller}"
    );
}

#[test]
fn b_joins_the_callers_domain() {
    let gate = gate(2);
    let lead = Op::new("lead_op").external_calls(["child_op"]);
    let t = gate.spawn(&lead, || {
        let (_, (b_worker, child)) = join(
            || busy(2_000),
            || {
                let h = Handle::current().expect("inside the pool");
                let child = h.spawn(&Op::new("child_op"), here);
                (here(), child.domain_seed().zip(Some(ok(child))))
            },
        );
        (here(), b_worker, child)
    });
    let seed = t.domain_seed().expect("a lead has a seed");
    let (lead_worker, b_worker, child) = ok(t);
    assert_eq!(b_worker, lead_worker, "b stays on the domain's worker");
    let (child_seed, child_worker) = child.expect("the child spawned in b is a domain member");
    assert_eq!(child_seed, seed);
    assert_eq!(child_worker, lead_worker);
}

#[test]
fn a_heavy_caller_does_not_lend_b_past_the_reservation() {
    // Two workers, one heavy permit: while the heavy caller holds it, `b` (queued as
    // heavy work) cannot be stolen by the other worker.
    let gate = gate_with(
        Coordinator::builder()
            .workers(2)
            .pin_workers(false)
            .reserve_for_light(1),
    );
    assert_eq!(gate.heavy_limit(), 1);
    let op = Op::new("heavy").weight(Weight::Heavy);
    let (caller, bs) = ok(gate.spawn(&op, || (here(), b_workers(5))));
    assert!(
        bs.iter().all(|&w| w == caller),
        "b was stolen past the reservation: {bs:?}"
    );
}

#[test]
fn joins_from_many_threads_mixed_with_tokens() {
    // Bounded stress: 4 outside threads x 20 joins, each half spawning and waiting on
    // tokens that themselves join. Every leaf is counted once.
    let gate = gate(2);
    let leaves = std::sync::Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..4 {
            let h = gate.handle();
            let leaves = &leaves;
            s.spawn(move || {
                for _ in 0..20 {
                    let l = leaves.clone();
                    let t = h.spawn(&Op::new("root"), move || {
                        let (x, y) = join(
                            || {
                                let l2 = l.clone();
                                let t = tokengate::spawn(&Op::new("inner"), move || fib(8, &l2));
                                ok(t)
                            },
                            || fib(8, &l),
                        );
                        x + y
                    });
                    assert_eq!(ok(t), 2 * fib_serial(8));
                }
            });
        }
    });
    assert_eq!(leaves.load(SeqCst) as u64, 4 * 20 * 2 * fib_serial(9));
}

/// A thief takes a `join`'s forked halves one at a time, oldest first, as rayon does:
/// batching them would move the victim's next forks away too (`lanes/mod.rs`,
/// `steal_medium`). Worker X is held in a task while worker Y queues three forks
/// and blocks in the innermost one; then X is let go, and the only work it can find
/// is on Y's `Medium` lane.
#[test]
fn a_thief_takes_one_forked_half_at_a_time() {
    let gate = gate(2);
    let op = Op::new("forks");
    let (release_x, x_released) = channel::<()>();
    let (report, reported) = channel::<(usize, u64)>();
    let h = gate.handle();
    let holder = gate.spawn(&op, move || {
        let x = here();
        let before = h.metrics().workers()[x].stolen.medium;
        recv(&x_released);
        (x, before)
    });
    let h = gate.handle();
    let forks = gate.spawn(&op, move || {
        let innermost = move || {
            release_x.send(()).unwrap();
            recv(&reported)
        };
        let oldest = move || {
            let thief = here();
            report
                .send((thief, h.metrics().workers()[thief].stolen.medium))
                .unwrap();
            (thief, 0)
        };
        let (((inner, _), _), (thief, _)) = join(|| join(|| join(innermost, || 0), || 0), oldest);
        (inner, thief)
    });
    let (x, before) = ok(holder);
    let ((thief, after), thief_again) = ok(forks);
    assert_eq!(thief, x, "the oldest fork ran on the released worker");
    assert_eq!(thief_again, x);
    assert_eq!(after - before, 1, "the thief's first steal took one fork, not a batch");
}

/// The same reservation when a sweep moves `b`: a drain takes every queued task out
/// and puts back what it does not cancel, and a heavy caller's `b` goes back as
/// heavy work, so the other worker, which has no permit, still cannot take it. (It
/// went back as `Medium`, and the other worker ran it.)
#[test]
fn a_swept_heavy_fork_stays_behind_the_reservation() {
    let gate = gate_with(
        Coordinator::builder()
            .workers(2)
            .pin_workers(false)
            .reserve_for_light(1),
    );
    let (forked_tx, forked_rx) = channel();
    let (go_tx, go_rx) = channel::<()>();
    let op = Op::new("heavy").weight(Weight::Heavy);
    let t = gate.spawn(&op, move || {
        let caller = here();
        let ((), b) = join(
            move || {
                forked_tx.send(()).unwrap();
                recv(&go_rx);
            },
            here,
        );
        (caller, b)
    });
    recv(&forked_rx);
    // Only `b` is queued, and a drain does not cancel a stack job: it moves it and
    // puts it back.
    assert_eq!(gate.drain(), 0);
    // Had `b` come back as `Medium`, it would be ahead of this `Medium` task in the
    // injector's FIFO, and the idle worker would run `b` first.
    let _ = ok(gate.spawn(&Op::new("after-the-drain"), here));
    go_tx.send(()).unwrap();
    let (caller, b) = ok(t);
    assert_eq!(b, caller, "b ran on another worker, past the reservation");
}

/// `join`'s take-back must see that its stack job is already done. Here `a` waits on
/// a token spawned just before the fork, and on one worker that wait pops the lane's
/// top, which is the fork's own stack job: the wait runs `b` there, then the token's
/// task. When `join` takes its job back, the lane still holds an older task, spawned
/// before the fork. The take-back's one pop must not happen then: it would return
/// that older task (the process would abort on the broken invariant), so it must
/// first find the job `DONE` (`lanes/own.rs`).
#[test]
fn a_join_whose_b_ran_inside_a_nested_wait_leaves_older_tasks_queued() {
    let gate = gate(1);
    let op = Op::new("medium");
    let inner = op.clone();
    let t = gate.spawn(&op, move || {
        let older = tokengate::spawn(&inner, || 1);
        let awaited = tokengate::spawn(&inner, || 2);
        let b_ran = AtomicBool::new(false);
        let (a, b) = join(
            || {
                let got = awaited.wait().unwrap();
                // The wait ran `b` before the awaited task: it was on top.
                (got, b_ran.load(SeqCst))
            },
            || {
                b_ran.store(true, SeqCst);
                3
            },
        );
        assert!(!older.is_finished(), "the older task ran before the join returned");
        (a, b, older.wait().unwrap())
    });
    assert_eq!(ok(t), ((2, true), 3, 1));
}
