//! Shutdown tests: dropping a coordinator (abort), graceful `shutdown()`, spawning
//! after either, and races between outside spawners and the pool closing.
//!
//! Workers are held busy with latches so that work is really queued when the pool
//! closes. Every wait that a bug could turn into a hang (including the drop and the
//! shutdown themselves, which run on helper threads) is bounded by `LIMIT`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::Instant;

mod common;
use common::*;
use tokengate::{Coordinator, Handle, Op, TaskError, Token, Weight};

/// Work running on a helper thread, joined with a bound so a hang fails the test.
struct Background<R>(mpsc::Receiver<std::thread::Result<R>>);

fn background<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Background<R> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    Background(rx)
}

impl<R> Background<R> {
    fn join(self, what: &str) -> R {
        match self.0.recv_timeout(LIMIT) {
            Ok(Ok(r)) => r,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => panic!("{what} did not return within {LIMIT:?}"),
        }
    }
}

/// Occupies all `n` workers of `gate` with tasks that block on `latch`, and returns
/// once every one of them is running.
fn block_workers(gate: &Coordinator, n: usize, latch: &Latch) -> Vec<Token<&'static str>> {
    let (started_tx, started_rx) = mpsc::channel();
    let blockers = (0..n)
        .map(|_| {
            let (l, tx) = (latch.clone(), started_tx.clone());
            gate.spawn(&Op::new("blocker"), move || {
                tx.send(()).unwrap();
                l.wait();
                "blocker"
            })
        })
        .collect();
    for _ in 0..n {
        started_rx.recv_timeout(LIMIT).expect("every worker must be blocked");
    }
    blockers
}

/// Spins until an outside spawn through `h` resolves at once as `Shutdown`, which
/// shows that a concurrent drop or shutdown has closed the pool.
fn wait_until_closed(h: &Handle) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let probe = h.spawn(&Op::new("probe"), || ());
        if probe.is_finished() {
            assert_eq!(probe.wait(), Err(TaskError::Shutdown));
            return;
        }
        assert!(Instant::now() < deadline, "the pool never closed");
        std::thread::yield_now();
    }
}

// Dropping a coordinator whose workers are busy, with 10k tasks queued, resolves
// every token: running tasks finish with their value and, as documented, every
// queued task resolves Shutdown without running.
#[test]
fn drop_resolves_10k_queued_tokens() {
    let gate = pool(2);
    let latch = Latch::default();
    let blockers = block_workers(&gate, 2, &latch);
    let ran = Arc::new(AtomicUsize::new(0));
    let ops = [
        Op::new("light").weight(Weight::Light),
        Op::new("medium"),
        Op::new("heavy").weight(Weight::Heavy),
    ];
    let queued: Vec<Token<usize>> = (0..10_000)
        .map(|i| {
            let r = Arc::clone(&ran);
            gate.spawn(&ops[i % 3], move || {
                r.fetch_add(1, SeqCst);
                i
            })
        })
        .collect();
    let handle = gate.handle();
    let dropping = background(move || drop(gate));
    wait_until_closed(&handle);
    latch.open();
    dropping.join("dropping the coordinator");
    for b in blockers {
        assert_eq!(get(b), Ok("blocker"), "running tasks finish");
    }
    let mut shutdown = 0;
    for (i, t) in queued.into_iter().enumerate() {
        match get(t) {
            Ok(v) => assert_eq!(v, i),
            Err(TaskError::Shutdown) => shutdown += 1,
            Err(e) => panic!("token {i}: unexpected {e:?}"),
        }
    }
    assert_eq!(ran.load(SeqCst), 10_000 - shutdown, "Ok results == closures run");
    assert_eq!(shutdown, 10_000, "queued tasks ran after the drop began");
}

// A task still running while the pool is dropped sees its new children resolve
// Shutdown at once (every spawn is refused), and can wait on them without hanging.
#[test]
fn children_spawned_during_drop_resolve_shutdown() {
    let gate = pool(1);
    let (h, latch, (started_tx, started_rx)) = (gate.handle(), Latch::default(), mpsc::channel());
    let l = latch.clone();
    let parent = gate.spawn(&Op::new("parent"), move || {
        started_tx.send(()).unwrap();
        l.wait();
        get(h.spawn(&Op::new("child"), || 1))
    });
    started_rx.recv_timeout(LIMIT).unwrap();
    let handle = gate.handle();
    let dropping = background(move || drop(gate));
    wait_until_closed(&handle);
    latch.open();
    dropping.join("dropping the coordinator");
    assert_eq!(get(parent), Ok(Err(TaskError::Shutdown)));
}

/// A tree of tasks: a root, `kids` children (half waited on, half detached) and three
/// light grandchildren per child, each counting its run in `count`.
fn tree(h: Handle, count: Arc<AtomicUsize>, kids: usize) -> impl FnOnce() + Send + 'static {
    move || {
        count.fetch_add(1, SeqCst);
        let mut waited = Vec::new();
        for k in 0..kids {
            let (h2, c2) = (h.clone(), Arc::clone(&count));
            let child = h.spawn(&Op::new("child"), move || {
                c2.fetch_add(1, SeqCst);
                let light = Op::new("grandchild").weight(Weight::Light);
                let grand: Vec<_> = (0..3)
                    .map(|_| {
                        let c3 = Arc::clone(&c2);
                        h2.spawn(&light, move || {
                            c3.fetch_add(1, SeqCst);
                        })
                    })
                    .collect();
                grand.into_iter().for_each(|t| get(t).unwrap());
            });
            if k % 2 == 0 {
                waited.push(child);
            }
        }
        waited.into_iter().for_each(|t| get(t).unwrap());
    }
}

/// Tasks run by one `tree(.., kids)`.
fn tree_size(kids: usize) -> usize {
    1 + kids + kids * 3
}

// Graceful shutdown runs everything: the tasks queued before it, their children, and
// whole trees that running tasks spawn while the shutdown is already under way
// (waited on or detached); then a second shutdown is harmless.
#[test]
fn graceful_shutdown_runs_everything() {
    let gate = Arc::new(pool(2));
    let count = Arc::new(AtomicUsize::new(0));
    let latch = Latch::default();
    let (started_tx, started_rx) = mpsc::channel();
    // Two tasks occupy both workers; once released (after the shutdown began) each
    // spawns 50 trees from inside the pool.
    let running: Vec<_> = (0..2)
        .map(|_| {
            let (h, c, l, tx) = (gate.handle(), count.clone(), latch.clone(), started_tx.clone());
            gate.spawn(&Op::new("spawner"), move || {
                tx.send(()).unwrap();
                l.wait();
                let trees: Vec<_> = (0..50)
                    .map(|_| h.spawn(&Op::new("late-root"), tree(h.clone(), c.clone(), 10)))
                    .collect();
                drop(trees); // detached: shutdown must still run them
            })
        })
        .collect();
    for _ in 0..2 {
        started_rx.recv_timeout(LIMIT).expect("both workers must be blocked");
    }
    let queued: Vec<_> = (0..500)
        .map(|_| gate.spawn(&Op::new("root"), tree(gate.handle(), count.clone(), 4)))
        .collect();
    let g = Arc::clone(&gate);
    let shutting = background(move || g.shutdown());
    wait_until_closed(&gate.handle());
    latch.open();
    shutting.join("graceful shutdown");
    let expected = 500 * tree_size(4) + 2 * 50 * tree_size(10);
    assert_eq!(count.load(SeqCst), expected, "every accepted task ran");
    for t in running.into_iter().chain(queued) {
        assert!(t.is_finished(), "shutdown returned before a task finished");
        assert_eq!(t.wait(), Ok(()));
    }
    background(move || gate.shutdown()).join("second shutdown");
}

// Tokens dropped without waiting do not cancel their tasks: shutdown still runs them.
#[test]
fn dropped_tokens_still_run_before_shutdown_returns() {
    let gate = pool(2);
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..1000 {
        let c = count.clone();
        drop(gate.spawn(&Op::new("detached"), move || c.fetch_add(1, SeqCst)));
    }
    background(move || gate.shutdown()).join("graceful shutdown");
    assert_eq!(count.load(SeqCst), 1000);
}

// After shutdown, spawns through the coordinator, a handle or a guard resolve
// Shutdown without running; shutdown twice and a later drop are fine.
#[test]
fn spawn_after_shutdown_resolves_shutdown() {
    let gate = pool(2);
    let handle = gate.handle();
    let guarded = gate.guard(Op::new("guarded"), |x: u32| x + 1);
    assert_eq!(get(guarded(1)), Ok(2));
    gate.shutdown();
    gate.shutdown();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let t = gate.spawn(&Op::new("late"), move || r.store(true, SeqCst));
    assert!(t.is_finished(), "resolves at once");
    assert_eq!(t.wait(), Err(TaskError::Shutdown));
    assert_eq!(get(handle.spawn(&Op::new("late"), || 1)), Err(TaskError::Shutdown));
    assert_eq!(get(guarded(1)), Err(TaskError::Shutdown));
    assert!(!gate.spawn(&Op::new("late"), || ()).cancel(), "already resolved");
    assert!(!ran.load(SeqCst));
    background(move || drop(gate)).join("drop after shutdown");
    assert_eq!(get(handle.spawn(&Op::new("late"), || 1)), Err(TaskError::Shutdown));
    assert_eq!(handle.worker_stats().len(), 2, "a handle outlives the pool");
}

// After a drop, spawns through a surviving handle resolve Shutdown.
#[test]
fn spawn_after_drop_resolves_shutdown() {
    let gate = pool(1);
    let handle = gate.handle();
    assert_eq!(get(handle.spawn(&Op::new("x"), || 1)), Ok(1));
    background(move || drop(gate)).join("drop");
    let t = handle.spawn(&Op::new("x"), || 1);
    assert!(t.is_finished());
    assert_eq!(t.wait(), Err(TaskError::Shutdown));
}

// shutdown() called from one of the pool's own tasks panics (it would wait for
// itself) instead of deadlocking; the pool keeps working and shuts down normally.
#[test]
fn shutdown_from_own_task_panics() {
    let gate = Arc::new(pool(1));
    let g = Arc::clone(&gate);
    match get(gate.spawn(&Op::new("suicide"), move || g.shutdown())) {
        Err(TaskError::Panicked { message }) => assert!(message.contains("own tasks"), "{message}"),
        other => panic!("expected Panicked, got {other:?}"),
    }
    assert_eq!(get(gate.spawn(&Op::new("after"), || 2)), Ok(2));
    background(move || gate.shutdown()).join("graceful shutdown");
}

// Dropping the last reference to a coordinator inside one of its own tasks neither
// deadlocks nor loses the task's result; the pool is closed afterwards.
#[test]
fn dropping_the_last_coordinator_inside_its_own_task() {
    let gate = Arc::new(pool(2));
    let handle = gate.handle();
    let latch = Latch::default();
    let (g, l) = (Arc::clone(&gate), latch.clone());
    let t = gate.spawn(&Op::new("last-owner"), move || {
        l.wait();
        drop(g);
        tokengate::current_worker().is_some()
    });
    drop(gate);
    latch.open();
    assert_eq!(get(t), Ok(true));
    assert_eq!(get(handle.spawn(&Op::new("x"), || 1)), Err(TaskError::Shutdown));
}

// Outside threads spawning while the pool shuts down (gracefully or by drop): every
// token resolves by the time shutdown returns, none is stranded, and each Ok result
// corresponds to exactly one closure run.
#[test]
fn spawning_races_with_closing() {
    for graceful in [true, false] {
        let gate = pool(2);
        let (ran, stop, spawned) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
        );
        let spawners: Vec<_> = (0..2)
            .map(|_| {
                let (h, ran, stop, spawned) = (gate.handle(), ran.clone(), stop.clone(), spawned.clone());
                std::thread::spawn(move || {
                    let mut tokens = Vec::new();
                    while !stop.load(SeqCst) && tokens.len() < 200_000 {
                        let r = ran.clone();
                        tokens.push(h.spawn(&Op::new("race"), move || r.fetch_add(1, SeqCst)));
                        spawned.fetch_add(1, SeqCst);
                    }
                    tokens
                })
            })
            .collect();
        let deadline = Instant::now() + LIMIT;
        while spawned.load(SeqCst) < 2000 {
            assert!(Instant::now() < deadline, "spawners made no progress");
            std::thread::yield_now();
        }
        if graceful {
            background(move || gate.shutdown()).join("graceful shutdown");
        } else {
            background(move || drop(gate)).join("drop");
        }
        stop.store(true, SeqCst);
        let mut ok = 0;
        for s in spawners {
            for t in s.join().unwrap() {
                assert!(t.is_finished(), "a token was stranded by the close");
                match t.wait() {
                    Ok(_) => ok += 1,
                    Err(e) => assert_eq!(e, TaskError::Shutdown),
                }
            }
        }
        assert_eq!(ran.load(SeqCst), ok, "graceful={graceful}");
    }
}

/// A drain while the pool is closing takes a `join`'s forked half out of its
/// worker's lane and puts it back, from outside, after the pool stopped accepting
/// outside pushes. A stack job is not the control plane's to resolve (its joiner
/// owns it) and must not be touched once it is back in a queue (its joiner's frame
/// may be gone the moment it runs): the joiner still gets both halves.
#[test]
fn a_drain_while_closing_puts_a_forked_half_back_for_its_joiner() {
    let gate = Coordinator::builder().workers(1).build().unwrap();
    let h = gate.handle();
    let latch = Latch::new();
    let (forked_tx, forked_rx) = mpsc::channel();
    let l = latch.clone();
    let joiner = gate.spawn(&Op::new("joiner"), move || {
        tokengate::join(
            || {
                forked_tx.send(()).unwrap();
                l.wait();
                "a"
            },
            || "b",
        )
    });
    forked_rx.recv_timeout(LIMIT).expect("the joiner forked");
    let shutdown = background(move || gate.shutdown());
    wait_until_closed(&h);
    // Cancels the probes `wait_until_closed` queued before the pool closed, and
    // puts the forked half back.
    let _ = h.drain();
    latch.open();
    assert_eq!(get(joiner), Ok(("a", "b")));
    shutdown.join("shutdown");
}
