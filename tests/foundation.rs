//! Foundation tests: results, real parallelism, worker identity, panics, cancellation,
//! timed waits, nested waits, fork-join, the default coordinator and `guard`.
//! (Builder, statistics and the heavy reservation are in `builder_heavy.rs`.)
//!
//! No test synchronises with `sleep`: tasks are held back with latches and channels,
//! and every wait that a bug could turn into a hang is bounded by `LIMIT`, so a bug
//! fails the test instead of hanging CI.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Once};
use std::time::{Duration, Instant};

mod common;
use common::*;
use tokengate::{current_worker, is_cancelled, Coordinator, Handle, Op, TaskError, Token, Weight};

/// Silences the default panic output for worker threads named `quiet-*`, whose
/// panics are expected; every other panic is reported as usual.
fn quiet_pool(workers: usize) -> Coordinator {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let quiet = std::thread::current().name().is_some_and(|n| n.starts_with("quiet-"));
            if !quiet {
                previous(info);
            }
        }));
    });
    Coordinator::builder()
        .workers(workers)
        .thread_name("quiet")
        .build()
        .expect("build")
}

// Every one of 100k tasks (all three weights) returns its own value; ids are unique,
// and the workers executed exactly 100k tasks.
#[test]
fn results_correct_for_100k_tasks() {
    let gate = pool(2);
    let ops = [
        Op::new("light").weight(Weight::Light),
        Op::new("medium"),
        Op::new("heavy").weight(Weight::Heavy),
    ];
    let tokens: Vec<Token<u64>> = (0..100_000u64)
        .map(|i| gate.spawn(&ops[(i % 3) as usize], move || i * i + 1))
        .collect();
    let ids: HashSet<u64> = tokens.iter().map(Token::id).collect();
    assert_eq!(ids.len(), tokens.len(), "token ids must be unique");
    for (i, t) in (0u64..).zip(tokens) {
        assert_eq!(get(t), Ok(i * i + 1));
    }
    gate.shutdown();
    let executed: u64 = gate.worker_stats().iter().map(|w| w.executed).sum();
    assert_eq!(executed, 100_000);
}

// Four outside threads spawning through cloned Handles all get their own results.
#[test]
fn results_correct_when_spawning_from_many_threads() {
    let gate = pool(2);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let h = gate.handle();
            s.spawn(move || {
                let op = Op::new("many");
                let tokens: Vec<_> = (0..10_000u64)
                    .map(|i| h.spawn(&op, move || t * 1_000_000 + i))
                    .collect();
                for (i, tok) in (0u64..).zip(tokens) {
                    assert_eq!(get(tok), Ok(t * 1_000_000 + i));
                }
            });
        }
    });
}

// Two tasks that each wait for the other to start both complete: two workers overlap,
// and they report two different worker indices.
#[test]
fn two_workers_really_overlap() {
    let gate = pool(2);
    let arrived = Arc::new(AtomicUsize::new(0));
    let op = Op::new("meet");
    let tokens: Vec<_> = (0..2)
        .map(|_| {
            let a = Arc::clone(&arrived);
            gate.spawn(&op, move || rendezvous(&a, 2))
        })
        .collect();
    let seen: HashSet<usize> = tokens.into_iter().map(|t| get(t).unwrap().unwrap()).collect();
    assert_eq!(seen, HashSet::from([0, 1]));
}

// current_worker() is None off the pool (test thread, other threads) and Some(i < n)
// inside tasks; three overlapping tasks on three workers see three distinct indices.
#[test]
fn current_worker_identifies_the_worker() {
    assert_eq!(current_worker(), None);
    assert_eq!(std::thread::spawn(current_worker).join().unwrap(), None);
    let gate = pool(3);
    assert_eq!(current_worker(), None);
    let arrived = Arc::new(AtomicUsize::new(0));
    let tokens: Vec<_> = (0..3)
        .map(|_| {
            let a = Arc::clone(&arrived);
            gate.spawn(&Op::new("where"), move || rendezvous(&a, 3))
        })
        .collect();
    let seen: HashSet<usize> = tokens
        .into_iter()
        .map(|t| get(t).unwrap().expect("Some inside a task"))
        .collect();
    assert_eq!(seen, HashSet::from([0, 1, 2]));
    assert_eq!(current_worker(), None);
}

// A panic becomes Panicked with its message, for &str, formatted String and
// non-string payloads alike.
#[test]
fn panics_are_reported_with_their_message() {
    let gate = quiet_pool(1);
    let op = Op::new("boom");
    let t = gate.spawn(&op, || -> u32 { panic!("static message") });
    assert_eq!(
        get(t),
        Err(TaskError::Panicked {
            message: "static message".into()
        })
    );
    let n = 7;
    let t = gate.spawn(&op, move || -> u32 { panic!("formatted {n}") });
    assert_eq!(
        get(t),
        Err(TaskError::Panicked {
            message: "formatted 7".into()
        })
    );
    let t = gate.spawn(&op, || -> u32 { std::panic::panic_any(42u8) });
    match get(t) {
        Err(TaskError::Panicked { message }) => assert!(!message.is_empty()),
        other => panic!("expected Panicked, got {other:?}"),
    }
    assert_eq!(get(gate.spawn(&op, || 5)), Ok(5), "the worker goes on");
}

// After 1000 panicking tasks both workers are alive (they can overlap) and the pool
// still computes 1000 results correctly.
#[test]
fn pool_survives_1000_panics() {
    let gate = quiet_pool(2);
    let op = Op::new("boom");
    let tokens: Vec<Token<u64>> = (0..1000)
        .map(|i| gate.spawn(&op, move || panic!("expected panic {i}")))
        .collect();
    for (i, t) in tokens.into_iter().enumerate() {
        let message = format!("expected panic {i}");
        assert_eq!(get(t), Err(TaskError::Panicked { message }));
    }
    let tokens: Vec<_> = (0..1000u64).map(|i| gate.spawn(&op, move || i + 1)).collect();
    assert_eq!(tokens.into_iter().map(|t| get(t).unwrap()).sum::<u64>(), 500_500);
    let arrived = Arc::new(AtomicUsize::new(0));
    let meet: Vec<_> = (0..2)
        .map(|_| {
            let a = Arc::clone(&arrived);
            gate.spawn(&op, move || rendezvous(&a, 2))
        })
        .collect();
    let seen: HashSet<_> = meet.into_iter().map(|t| get(t).unwrap()).collect();
    assert_eq!(seen.len(), 2, "both workers must still be serving");
}

// A task waiting on a child that panics gets Panicked back, and can go on.
#[test]
fn parent_sees_child_panic() {
    let gate = quiet_pool(1);
    let h = gate.handle();
    let parent = gate.spawn(&Op::new("parent"), move || {
        let child = h.spawn(&Op::new("child"), || -> u8 { panic!("child failed") });
        matches!(get(child), Err(TaskError::Panicked { message }) if message == "child failed")
    });
    assert_eq!(get(parent), Ok(true));
}

// A task cancelled while queued behind a blocked worker never runs, its token
// resolves Cancelled at once, and it is not counted as executed.
#[test]
fn cancelled_queued_task_never_runs() {
    let gate = pool(1);
    let op = Op::new("cancel");
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocker = gate.spawn(&op, move || {
        started_tx.send(()).unwrap();
        release_rx.recv_timeout(LIMIT).is_ok()
    });
    started_rx.recv_timeout(LIMIT).expect("blocker did not start");
    let ran = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&ran);
    let victim = gate.spawn(&op, move || r.store(true, SeqCst));
    assert!(!victim.is_finished());
    assert!(victim.cancel(), "a queued task must be cancellable");
    assert!(victim.is_finished(), "cancel resolves the token at once");
    assert!(!victim.cancel(), "a second cancel finds it already resolved");
    release_tx.send(()).unwrap();
    assert_eq!(get(blocker), Ok(true));
    assert_eq!(get(gate.spawn(&op, || 1)), Ok(1));
    assert_eq!(get(victim), Err(TaskError::Cancelled));
    gate.shutdown();
    assert!(!ran.load(SeqCst), "the cancelled closure ran");
    assert_eq!(gate.worker_stats()[0].executed, 2);
}

// Cancelling a running task returns false and does not interrupt it, but
// is_cancelled() turns true inside it, and it finishes with its value.
#[test]
fn cancel_of_running_task_is_cooperative() {
    assert!(!is_cancelled(), "false outside any task");
    let gate = pool(1);
    let (started_tx, started_rx) = mpsc::channel();
    let t = gate.spawn(&Op::new("long"), move || {
        let before = is_cancelled();
        started_tx.send(()).unwrap();
        spin_until("is_cancelled() inside the task", is_cancelled);
        (before, "finished")
    });
    started_rx.recv_timeout(LIMIT).unwrap();
    assert!(!t.cancel(), "a running task cannot be cancelled");
    assert_eq!(get(t), Ok((false, "finished")));
    assert_eq!(get(gate.spawn(&Op::new("fresh"), is_cancelled)), Ok(false));
    let done = gate.spawn(&Op::new("done"), || 3);
    assert!(done.wait_timeout(LIMIT));
    assert!(!done.cancel(), "a finished task cannot be cancelled");
    assert_eq!(done.wait(), Ok(3), "cancel after the end keeps the result");
}

// wait_timeout on a gated task returns false and keeps the token usable; after the
// gate opens it returns true, stays true, and wait() yields the value.
#[test]
fn wait_timeout_keeps_the_token_and_result() {
    let gate = pool(1);
    let latch = Latch::default();
    let l = latch.clone();
    let t = gate.spawn(&Op::new("gated"), move || {
        l.wait();
        99
    });
    assert!(!t.wait_timeout(Duration::from_millis(20)));
    assert!(!t.wait_deadline(Instant::now()));
    assert!(!t.is_finished());
    latch.open();
    assert!(t.wait_timeout(LIMIT));
    assert!(t.is_finished());
    assert!(t.wait_timeout(Duration::ZERO), "stays finished");
    assert!(t.wait_deadline(Instant::now()));
    assert_eq!(t.wait(), Ok(99), "no lost result");
}

// wait_timeout inside a task (on a worker thread) also times out on a gated child
// running on the other worker, and later returns the child's value.
#[test]
fn wait_timeout_on_a_worker_thread() {
    let gate = pool(2);
    let h = gate.handle();
    let parent = gate.spawn(&Op::new("parent"), move || {
        let (started_tx, started_rx) = mpsc::channel();
        let latch = Latch::default();
        let l = latch.clone();
        let child = h.spawn(&Op::new("child"), move || {
            started_tx.send(current_worker()).unwrap();
            l.wait();
            7
        });
        let child_worker = started_rx.recv_timeout(LIMIT).expect("child not stolen");
        let early = child.wait_timeout(Duration::from_millis(20));
        latch.open();
        let late = child.wait_timeout(LIMIT);
        (child_worker != current_worker(), early, late, child.wait())
    });
    assert_eq!(get(parent), Ok((true, false, true, Ok(7))));
}

fn chain(h: Handle, depth: u32) -> u32 {
    if depth == 0 {
        return 0;
    }
    let h2 = h.clone();
    let child = h.spawn(&Op::new("chain"), move || chain(h2, depth - 1));
    get(child).unwrap() + 1
}

// With one worker, a task waiting on its own child runs it instead of deadlocking,
// through a 64-level chain of nested waits.
#[test]
fn waiting_on_own_children_with_one_worker() {
    let gate = pool(1);
    let h = gate.handle();
    assert_eq!(get(gate.spawn(&Op::new("root"), move || chain(h, 1))), Ok(1));
    let h = gate.handle();
    assert_eq!(get(gate.spawn(&Op::new("root"), move || chain(h, 64))), Ok(64));
}

// With one worker, a fan-out of heavy children, each waiting on light grandchildren,
// completes (nested waits across weights).
#[test]
fn nested_fan_out_with_one_worker() {
    let gate = pool(1);
    let h = gate.handle();
    let root = gate.spawn(&Op::new("root"), move || {
        let children: Vec<_> = (0..50u64)
            .map(|c| {
                let h2 = h.clone();
                h.spawn(&Op::new("child").weight(Weight::Heavy), move || {
                    let light = Op::new("grandchild").weight(Weight::Light);
                    let grandchildren: Vec<_> = (0..20u64).map(|g| h2.spawn(&light, move || c * 20 + g)).collect();
                    grandchildren.into_iter().map(|t| get(t).unwrap()).sum::<u64>()
                })
            })
            .collect();
        children.into_iter().map(|t| get(t).unwrap()).sum::<u64>()
    });
    assert_eq!(get(root), Ok((0..1000u64).sum()));
}

fn fib(h: &Handle, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let spawn = |k: u64| {
        let h2 = h.clone();
        h.spawn(&Op::new("fib"), move || fib(&h2, k))
    };
    let (a, b) = (spawn(n - 1), spawn(n - 2));
    get(a).unwrap() + get(b).unwrap()
}

/// Fork-join fib where children are spawned with `tokengate::spawn` (no Handle).
fn fib_free(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let a = tokengate::spawn(&Op::new("fib"), move || fib_free(n - 1));
    let b = tokengate::spawn(&Op::new("fib"), move || fib_free(n - 2));
    get(a).unwrap() + get(b).unwrap()
}

// Recursive fork-join fib through tokens (about 8k tasks, children spawned through a
// captured Handle or through tokengate::spawn) is correct with 1 and 2 workers.
#[test]
fn fork_join_fib() {
    for workers in [1, 2] {
        let gate = pool(workers);
        let h = gate.handle();
        let t = gate.spawn(&Op::new("fib"), move || fib(&h, 18));
        assert_eq!(get(t), Ok(2584), "fib(18) via Handle with {workers} worker(s)");
        let t = gate.spawn(&Op::new("fib"), || fib_free(18));
        assert_eq!(get(t), Ok(2584), "fib(18) via spawn with {workers} worker(s)");
        gate.shutdown();
    }
}

// Outside any task, tokengate::spawn runs on the process-wide default coordinator,
// on one of its workers.
#[test]
fn spawn_outside_tasks_uses_the_default_coordinator() {
    let default = tokengate::default_coordinator();
    assert!(std::ptr::eq(default, tokengate::default_coordinator()));
    let t = tokengate::spawn(&Op::new("answer"), || (6 * 7, current_worker()));
    let (answer, worker) = get(t).unwrap();
    assert_eq!(answer, 42);
    assert!(worker.is_some_and(|w| w < default.workers()), "{worker:?}");
}

// Inside a task, tokengate::spawn and Handle::current() target the coordinator
// running that task (its workers carry its thread names), not the default one.
#[test]
fn spawn_inside_a_task_uses_the_current_coordinator() {
    assert!(Handle::current().is_none(), "no current handle outside tasks");
    let gate = Coordinator::builder().workers(2).thread_name("inner").build().unwrap();
    let name = || std::thread::current().name().map(str::to_owned).unwrap_or_default();
    let t = gate.spawn(&Op::new("outer"), move || {
        let via_spawn = get(tokengate::spawn(&Op::new("child"), name)).unwrap();
        let current = Handle::current().expect("a current handle inside a task");
        let via_current = get(current.spawn(&Op::new("child"), name)).unwrap();
        (current.workers(), via_spawn, via_current)
    });
    let (workers, via_spawn, via_current) = get(t).unwrap();
    assert_eq!(workers, 2);
    assert!(via_spawn.starts_with("inner-"), "{via_spawn}");
    assert!(via_current.starts_with("inner-"), "{via_current}");
}

// guard() turns a function into a spawner, usable (and cloneable) across threads,
// both from a Coordinator and from a Handle.
#[test]
fn guard_spawns_per_call() {
    let gate = pool(2);
    let square = gate.guard(Op::new("square"), |x: u64| x * x);
    let tokens: Vec<_> = (0..100u64).map(&square).collect();
    let sum: u64 = tokens.into_iter().map(|t| get(t).unwrap()).sum();
    assert_eq!(sum, (0..100u64).map(|x| x * x).sum());
    let copy = square.clone();
    assert_eq!(std::thread::spawn(move || get(copy(9))).join().unwrap(), Ok(81));
    let len = gate
        .handle()
        .guard(Op::new("len").weight(Weight::Light), |s: String| s.len());
    assert_eq!(get(len("tokengate".to_string())), Ok(9));
}

/// A task that spawns a child and waits for it, over and over, on a 1-worker pool:
/// each wait finds the child on top of its own lane (the waiter's pop), yet queued
/// outside work gets the search's injector turn (every 61st search) and queued
/// pinned work runs in the very next wait. (Without those turns the outside task
/// never ran while the loop did: the loop ran to its bound.)
#[test]
fn a_spawn_and_wait_loop_does_not_starve_outside_or_pinned_work() {
    for pinned in [false, true] {
        let gate = Coordinator::builder().workers(1).build().unwrap();
        let child = Op::new("child");
        let (started_tx, started_rx) = mpsc::channel();
        let go = Latch::new();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, g) = (stop.clone(), go.clone());
        let looping = gate.spawn(&Op::new("loop"), move || {
            started_tx.send(()).unwrap();
            g.wait();
            let deadline = Instant::now() + LIMIT / 2;
            let mut rounds = 0u64;
            while !s.load(SeqCst) && Instant::now() < deadline {
                tokengate::spawn(&child, || ()).wait().unwrap();
                rounds += 1;
            }
            (s.load(SeqCst), rounds)
        });
        started_rx.recv_timeout(LIMIT).expect("the loop started");
        let s = stop.clone();
        let set = move || s.store(true, SeqCst);
        // Queued (on the worker's inbox, or on the injector) before the loop starts.
        let other = if pinned {
            gate.spawn(&Op::new("pinned").sticky_anchor("here"), set)
        } else {
            gate.spawn(&Op::new("outside"), set)
        };
        go.open();
        let (stopped, rounds) = get(looping).unwrap();
        assert!(
            stopped,
            "pinned: {pinned}: the other task never ran during {rounds} rounds"
        );
        let most = if pinned { 1 } else { 2 * 61 };
        assert!(
            rounds <= most,
            "pinned: {pinned}: the other task waited {rounds} rounds"
        );
        assert_eq!(get(other), Ok(()));
    }
}
