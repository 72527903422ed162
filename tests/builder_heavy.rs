//! Builder and configuration tests: build errors, thread names, worker statistics,
//! pinning, `Coordinator::new`, and the heavy reservation (`reserve_for_light`).
//!
//! No test synchronises with `sleep`: tasks are held back with latches, and every wait
//! that a bug could turn into a hang is bounded by `LIMIT`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Instant;

mod common;
use common::*;
use tokengate::{current_worker, BuildError, Coordinator, Op, Token, Weight, MAX_WORKERS};

// Worker threads carry the builder's name prefix plus their index, and worker_stats()
// lists every worker in order with exact executed counts after shutdown.
#[test]
fn thread_names_and_worker_stats() {
    let gate = Coordinator::builder().workers(2).thread_name("tgname").build().unwrap();
    let op = Op::new("name");
    let tokens: Vec<_> = (0..200)
        .map(|_| {
            gate.spawn(&op, || {
                let name = std::thread::current().name().map(str::to_owned);
                (current_worker(), name)
            })
        })
        .collect();
    for t in tokens {
        let (index, name) = get(t).unwrap();
        assert_eq!(name, Some(format!("tgname-{}", index.unwrap())));
    }
    gate.shutdown();
    let stats = gate.worker_stats();
    assert_eq!(stats.len(), gate.workers());
    assert!(stats.iter().enumerate().all(|(i, w)| w.index == i));
    assert_eq!(stats.iter().map(|w| w.executed).sum::<u64>(), 200);
}

// The builder rejects zero workers, too many workers and a reservation that leaves no
// heavy worker, with errors that carry the numbers.
#[test]
fn builder_errors() {
    let zero = Coordinator::builder().workers(0).build();
    assert!(matches!(zero, Err(BuildError::ZeroWorkers)), "{zero:?}");
    match Coordinator::builder().workers(MAX_WORKERS + 1).build() {
        Err(BuildError::TooManyWorkers { requested }) => assert_eq!(requested, MAX_WORKERS + 1),
        other => panic!("expected TooManyWorkers, got {other:?}"),
    }
    for reserve in [2, 5] {
        match Coordinator::builder().workers(2).reserve_for_light(reserve).build() {
            Err(e @ BuildError::ReserveTooLarge { .. }) => {
                let BuildError::ReserveTooLarge { reserved, workers } = e else {
                    unreachable!()
                };
                assert_eq!((reserved, workers), (reserve, 2));
                assert!(e.to_string().contains(&reserve.to_string()), "{e}");
            }
            other => panic!("expected ReserveTooLarge, got {other:?}"),
        }
    }
    assert!(!BuildError::ZeroWorkers.to_string().is_empty());
}

// Heavy limits: default reserve is workers/4, reserve_for_light(k) leaves n - k.
#[test]
fn heavy_limit_follows_the_reservation() {
    let unpinned = |n| Coordinator::builder().workers(n).pin_workers(false);
    assert_eq!(unpinned(2).build().unwrap().heavy_limit(), 2);
    assert_eq!(unpinned(8).build().unwrap().heavy_limit(), 6);
    let gate = unpinned(3).reserve_for_light(2).build().unwrap();
    assert_eq!((gate.workers(), gate.heavy_limit()), (3, 1));
    assert_eq!(gate.handle().heavy_limit(), 1);
    assert_eq!(gate.heavy_running(), 0);
}

// pin_workers(false) leaves every worker unpinned and without a core; with pinning,
// is_pinned() agrees with the per-worker stats.
#[test]
fn pinning_is_reported() {
    let gate = Coordinator::builder().workers(2).pin_workers(false).build().unwrap();
    assert!(!gate.is_pinned());
    assert!(gate.worker_stats().iter().all(|w| !w.pinned && w.core.is_none()));
    let pinned = pool(2);
    let all = pinned.worker_stats().iter().all(|w| w.pinned);
    assert_eq!(pinned.is_pinned(), all);
    assert_eq!(get(pinned.spawn(&Op::new("x"), || 1)), Ok(1));
}

// Coordinator::new() (one worker per CPU) starts and works.
#[test]
fn coordinator_new_works() {
    let gate = Coordinator::new();
    assert!(gate.workers() >= 1);
    assert_eq!(get(gate.spawn(&Op::new("x"), || "ok")), Ok("ok"));
    gate.shutdown();
}

// With workers(2).reserve_for_light(1) only one Heavy task runs at a time (tracked
// inside the closures and by sampling heavy_running()), while light tasks still
// complete on the other worker.
#[test]
fn heavy_reservation_caps_concurrent_heavy_tasks() {
    let gate = Coordinator::builder().workers(2).reserve_for_light(1).build().unwrap();
    assert_eq!(gate.heavy_limit(), 1);
    let latch = Latch::default();
    let (started, running, max) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let heavy_op = Op::new("heavy").weight(Weight::Heavy);
    let heavy: Vec<_> = (0..8u64)
        .map(|i| {
            let (l, s, r, m) = (latch.clone(), started.clone(), running.clone(), max.clone());
            gate.spawn(&heavy_op, move || {
                s.fetch_add(1, SeqCst);
                m.fetch_max(r.fetch_add(1, SeqCst) + 1, SeqCst);
                l.wait();
                let work = (0..20_000u64).fold(i, |acc, x| std::hint::black_box(acc ^ x));
                r.fetch_sub(1, SeqCst);
                work
            })
        })
        .collect();
    let mut max_sampled = 0;
    let mut sample = || {
        max_sampled = max_sampled.max(gate.heavy_running());
    };
    spin_until("the first heavy task to start", || started.load(SeqCst) >= 1);
    let light_op = Op::new("light").weight(Weight::Light);
    let light: Vec<_> = (0..200u64).map(|i| gate.spawn(&light_op, move || i)).collect();
    let light_sum: u64 = light.into_iter().map(|t| get(t).unwrap()).sum();
    assert_eq!(light_sum, (0..200u64).sum(), "light tasks must complete");
    sample();
    assert_eq!(started.load(SeqCst), 1, "a second heavy task started");
    latch.open();
    let deadline = Instant::now() + LIMIT;
    while !heavy.iter().all(Token::is_finished) {
        sample();
        assert!(Instant::now() < deadline, "heavy tasks did not finish");
        std::thread::yield_now();
    }
    for t in heavy {
        assert!(get(t).is_ok());
    }
    assert_eq!(max.load(SeqCst), 1, "two heavy closures ran at once");
    assert_eq!(max_sampled, 1, "heavy_running() exceeded the limit");
    spin_until("heavy permits to be released", || gate.heavy_running() == 0);
}

// Without a reservation two Heavy tasks do run at the same time on two workers.
#[test]
fn heavy_tasks_overlap_without_reservation() {
    let gate = Coordinator::builder().workers(2).reserve_for_light(0).build().unwrap();
    assert_eq!(gate.heavy_limit(), 2);
    let arrived = Arc::new(AtomicUsize::new(0));
    let op = Op::new("heavy").weight(Weight::Heavy);
    let tokens: Vec<_> = (0..2)
        .map(|_| {
            let a = Arc::clone(&arrived);
            gate.spawn(&op, move || rendezvous(&a, 2))
        })
        .collect();
    let seen: HashSet<_> = tokens.into_iter().map(|t| get(t).unwrap()).collect();
    assert_eq!(seen.len(), 2);
}

// A heavy parent waiting on heavy children under a cap of one does not deadlock:
// the waiting worker reuses its permit.
#[test]
fn heavy_parent_waits_on_heavy_children_under_the_cap() {
    let gate = Coordinator::builder().workers(2).reserve_for_light(1).build().unwrap();
    let h = gate.handle();
    let op = Op::new("heavy").weight(Weight::Heavy);
    let child_op = op.clone();
    let parent = gate.spawn(&op, move || {
        let kids: Vec<_> = (0..10u64).map(|i| h.spawn(&child_op, move || i)).collect();
        kids.into_iter().map(|t| get(t).unwrap()).sum::<u64>()
    });
    assert_eq!(get(parent), Ok(45));
}
