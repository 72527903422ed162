//! The control plane on the storage lane: pause (all and per op) holds storage tasks,
//! drain and cancel by id reach a tier's queue, and deadlines expire there too.
//!
//! Each fails against the lane as it was before the hooks: a storage task spawned
//! after `pause()` ran with `held() == 0`, and `drain_op` / `cancel(id)` of queued
//! storage tasks returned 0 / false while every one of them ran.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
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

/// Fills the Slow tier's one slot with a task that waits on `latch`, and waits until
/// it runs.
fn block_the_slot(gate: &Coordinator, latch: &Arc<Latch>) -> tokengate::Token<()> {
    let op = Op::new("storage-blocker").storage_speed(StorageSpeed::Slow);
    let l = Arc::clone(latch);
    let t = gate.spawn(&op, move || l.wait());
    spin_until("the blocker runs", || gate.storage_stats()[0].active == 1);
    t
}

#[test]
fn pause_holds_storage_tasks_and_resume_runs_them() {
    let gate = pool();
    let ran = Arc::new(AtomicUsize::new(0));
    let op = Op::new("storage-paused").storage_speed(StorageSpeed::Slow);
    assert!(gate.pause());
    let tokens: Vec<_> = (0..5)
        .map(|_| {
            let ran = Arc::clone(&ran);
            gate.spawn(&op, move || ran.fetch_add(1, SeqCst))
        })
        .collect();
    spin_until("all five are held", || gate.held() == 5);
    assert_eq!(ran.load(SeqCst), 0, "a paused storage task ran");
    assert_eq!(gate.metrics().queued().held, 5);
    assert!(gate.resume());
    for t in tokens {
        get(t).unwrap();
    }
    assert_eq!(ran.load(SeqCst), 5);
}

#[test]
fn pausing_a_storage_op_leaves_other_ops_running() {
    let gate = pool();
    let io = Op::new("storage-op-paused").storage_speed(StorageSpeed::Slow);
    let other = Op::new("storage-op-free").storage_speed(StorageSpeed::Slow);
    assert!(gate.pause_op("storage-op-paused"));
    let held = gate.spawn(&io, || 1);
    spin_until("the paused op's task is held", || gate.held() == 1);
    assert_eq!(get(gate.spawn(&other, || 2)), Ok(2));
    assert_eq!(get(gate.spawn(&Op::new("cpu"), || 3)), Ok(3));
    assert!(!held.is_finished());
    assert!(gate.resume_op("storage-op-paused"));
    assert_eq!(get(held), Ok(1));
}

#[test]
fn drain_and_cancel_reach_a_tiers_queue() {
    let gate = pool();
    let latch = Latch::new();
    let blocker = block_the_slot(&gate, &latch);
    let ran = Arc::new(AtomicUsize::new(0));
    let op = Op::new("storage-drained").storage_speed(StorageSpeed::Slow);
    let spawn = || {
        let ran = Arc::clone(&ran);
        gate.spawn(&op, move || ran.fetch_add(1, SeqCst))
    };
    let doomed: Vec<_> = (0..5).map(|_| spawn()).collect();
    let by_id = spawn();
    let kept = gate.spawn(&Op::new("storage-kept").storage_speed(StorageSpeed::Slow), || 7);
    assert_eq!(gate.storage_stats()[0].queued, 7);
    assert!(gate.cancel(by_id.id()));
    assert!(!gate.cancel(by_id.id()), "cancelled twice");
    assert_eq!(gate.drain_op("storage-drained"), 5);
    latch.open();
    get(blocker).unwrap();
    assert_eq!(get(kept), Ok(7), "a kept task was lost by the sweep");
    assert_eq!(get(by_id), Err(TaskError::Cancelled));
    for t in doomed {
        assert_eq!(get(t), Err(TaskError::Cancelled));
    }
    assert_eq!(ran.load(SeqCst), 0, "a drained storage task ran");
}

#[test]
fn a_storage_task_past_its_deadline_expires_without_running() {
    let gate = pool();
    let latch = Latch::new();
    let blocker = block_the_slot(&gate, &latch);
    let deadline = Duration::from_millis(5);
    let op = Op::new("storage-deadline")
        .storage_speed(StorageSpeed::Slow)
        .deadline(deadline);
    let spawned = Instant::now();
    let late = gate.spawn(&op, || panic!("an expired storage task ran"));
    // The deadline is a duration: wait until it has passed, then free the slot.
    spin_until("the deadline passes", || spawned.elapsed() > deadline * 2);
    latch.open();
    get(blocker).unwrap();
    assert_eq!(get(late), Err(TaskError::Expired));
}

#[test]
fn shutdown_while_a_storage_task_is_held_resolves_it() {
    let gate = pool();
    let op = Op::new("storage-held-at-drop").storage_speed(StorageSpeed::Slow);
    gate.pause();
    let t = gate.spawn(&op, || ());
    spin_until("held", || gate.held() == 1);
    drop(gate);
    assert_eq!(get(t), Err(TaskError::Shutdown));
}

#[test]
fn try_spawn_of_a_storage_op_runs_it_on_the_storage_lane() {
    let gate = Coordinator::builder()
        .workers(1)
        .max_queued(1)
        .storage_limit(StorageSpeed::Slow, 1)
        .build()
        .unwrap();
    let op = Op::new("storage-try").storage_speed(StorageSpeed::Slow);
    let Ok(t) = gate.try_spawn(&op, tokengate::current_worker) else {
        panic!("a storage op was refused by try_spawn");
    };
    // `current_worker()` is `None` on a storage thread: the tag is not ignored.
    assert_eq!(get(t), Ok(None));
    spin_until("the slot is given back", || gate.storage_stats()[0].completed == 1);
}
