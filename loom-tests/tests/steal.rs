//! Models 5 and 6: stealing against the owner's pop, and the heavy reservation.
//!
//! These drive the real `SharedLanes::find_work` (search order, batch stealing,
//! heavy permits) from loom threads that act as workers: each loops "find work → run
//! it → release its permit", which is `WorkerCtx::execute` without statistics. The
//! queues are the loom stand-in for crossbeam-deque (`src/sync/loom_deque.rs`): each
//! operation that moves tasks is one atomic step, as crossbeam promises, and
//! emptiness/length checks are plain atomic loads that may be stale, as crossbeam's
//! are. So what is checked is tokengate's use of the queues (who may take what,
//! batches moved into the thief's own lanes, permits), not crossbeam's internals.

// The models need `--cfg tokengate_loom` (README.md); without it this file is empty,
// so `cargo clippy --workspace --all-targets` builds.
#![cfg(tokengate_loom)]

use loom::sync::Arc;
use loom::thread;
use tokengate::loom_api::{self, Found, HeavyGate, Lanes, Local};
use tokengate::{Token, Weight};
use tokengate_loom_tests::{model, Runs};

/// One worker's loop: run everything it can find, and stop at the first empty
/// search. No work is pushed after the workers start, so an empty search means
/// this worker's share is done.
fn drain_as_worker(me: usize, lanes: &Lanes, local: &Local, gate: &HeavyGate) -> usize {
    let mut ran = 0;
    let mut tick = 0;
    while let Some(Found { task, permit, .. }) = {
        tick += 1;
        lanes.find_work(me, local, tick, gate, false, false)
    } {
        if task.run() {
            ran += 1;
        }
        if permit {
            gate.release();
        }
    }
    ran
}

fn tasks(n: usize, runs: &Runs) -> (Vec<loom_api::QueuedTask>, Vec<Token<usize>>) {
    (0..n)
        .map(|i| {
            let r = runs.clone();
            loom_api::task(move || {
                r.hit();
                i
            })
        })
        .unzip()
}

/// Runs one steal model: worker 0 (the main thread) owns `n` tasks of `weight` in
/// its own lane; `thieves` other workers start at once and steal. Every task must
/// run exactly once, and be run by exactly one worker.
fn owner_vs_thieves(weight: Weight, n: usize, thieves: usize) {
    let (lanes, mut locals) = loom_api::lanes(1 + thieves);
    let lanes = Arc::new(lanes);
    let gate = Arc::new(HeavyGate::new(1 + thieves));
    let runs = Runs::new();
    let (queued, tokens) = tasks(n, &runs);
    let owner = locals.remove(0);
    for t in queued {
        owner.push(weight, t);
    }
    let handles: Vec<_> = locals
        .into_iter()
        .enumerate()
        .map(|(i, local)| {
            let (lanes, gate) = (lanes.clone(), gate.clone());
            thread::spawn(move || drain_as_worker(i + 1, &lanes, &local, &gate))
        })
        .collect();
    let mut ran = drain_as_worker(0, &lanes, &owner, &gate);
    for h in handles {
        ran += h.join().unwrap();
    }
    assert_eq!(ran, n, "every task run by exactly one worker");
    assert_eq!(runs.get(), n, "every closure ran exactly once");
    for (i, t) in tokens.into_iter().enumerate() {
        assert!(t.is_finished(), "task {i} left unresolved");
        assert_eq!(t.wait(), Ok(i));
    }
    assert_eq!(gate.held(), 0, "every heavy permit given back");
}

/// Model 5a: Medium work: the owner pops LIFO while a thief takes a batch (up to
/// `medium_batch` = 2 under loom) into its own lane and runs from there. 3 tasks is
/// the smallest count where a batch moves an extra task and one is left behind.
#[test]
fn steal_medium_vs_owner_pop() {
    model(|| owner_vs_thieves(Weight::Medium, 3, 1));
}

/// Model 5b: Light work, stolen only in batches (`steal_batch_and_pop`).
#[test]
fn steal_light_vs_owner_pop() {
    model(|| owner_vs_thieves(Weight::Light, 3, 1));
}

/// Model 5c: two thieves against the owner (3 workers + nothing else = loom's
/// thread budget minus one). Bounded to 2 tasks: with 3 the state space of three
/// searching threads grows past a minute without exercising a new rule.
#[test]
fn steal_two_thieves_vs_owner_pop() {
    model(|| owner_vs_thieves(Weight::Medium, 2, 2));
}

/// Model 5d: Heavy work, stolen one task at a time and only with a permit.
#[test]
fn steal_heavy_vs_owner_pop() {
    model(|| owner_vs_thieves(Weight::Heavy, 2, 1));
}

/// Model 6: the heavy reservation. Three workers (main + 2 threads) and a gate of
/// 1 permit (`reserve_for_light(2)` in a pool of 3); 3 heavy tasks, two in the
/// injector and one in worker 0's own lane (the owner also needs a permit). Each
/// closure records how many permitted heavy closures run at once (its two loom
/// RMWs are where loom interleaves the others). The peak must never exceed the
/// limit. Each worker stops at its first empty search (a refused permit looks
/// empty), so the loops are finite; main then finishes whatever is left, and every
/// task must have run exactly once, with every permit given back.
#[test]
fn heavy_reservation_caps_concurrency() {
    model(|| {
        use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        const LIMIT: usize = 1;
        let (lanes, mut locals) = loom_api::lanes(3);
        let lanes = Arc::new(lanes);
        let gate = Arc::new(HeavyGate::new(LIMIT));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Runs::new(); // a max-register
        let runs = Runs::new();
        let n = 3;
        let mut tokens = Vec::new();
        let owner = locals.remove(0);
        for i in 0..n {
            let (running, peak, runs) = (running.clone(), peak.clone(), runs.clone());
            let (task, token) = loom_api::task(move || {
                let now = running.fetch_add(1, SeqCst) + 1;
                peak.max(now);
                running.fetch_sub(1, SeqCst);
                runs.hit();
                i
            });
            if i == 0 {
                owner.push(Weight::Heavy, task);
            } else {
                lanes.push_injector(Weight::Heavy, task);
            }
            tokens.push(token);
        }
        let handles: Vec<_> = locals
            .into_iter()
            .enumerate()
            .map(|(i, local)| {
                let (lanes, gate) = (lanes.clone(), gate.clone());
                thread::spawn(move || drain_as_worker(i + 1, &lanes, &local, &gate))
            })
            .collect();
        let mut ran = drain_as_worker(0, &lanes, &owner, &gate);
        for h in handles {
            ran += h.join().unwrap();
        }
        assert!(
            peak.get() <= LIMIT,
            "{} heavy tasks ran at once, limit {LIMIT}",
            peak.get()
        );
        // Alone now: pick up anything a refused permit left behind.
        ran += drain_as_worker(0, &lanes, &owner, &gate);
        assert_eq!(ran, n);
        assert_eq!(runs.get(), n);
        for (i, t) in tokens.into_iter().enumerate() {
            assert_eq!(t.wait(), Ok(i));
        }
        assert_eq!(gate.held(), 0);
    });
}
