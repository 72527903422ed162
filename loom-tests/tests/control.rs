//! Models C1-C2: the control plane (`src/control/`).
//!
//! C1: the pause/resume hand-off (`control/pause.rs`). A worker meets a task of a
//! paused op and holds it while another thread resumes the op. The task must not be
//! stranded in the held list (lost: nobody would ever requeue it, the wake-up of
//! resume is lost), and must run exactly once.
//!
//! C2: drain racing a worker's pop and the token's own `cancel()`
//! (`control/sweep.rs`). Exactly one of them resolves the task, and the drain's
//! count is exact (it counts only a claim it won).
//!
//! C3: an `AbortHandle` cancelling from another thread while the token's owner, a
//! worker blocked in `wait()`, pops its own child (the waiter's shortcut of
//! `task.rs`, which must not be taken while a handle exists).
//!
//! C4: a drain while a worker has the task in hand (`control/moves.rs`): the drain
//! must not return while the task still waits; it resolves it or the task ran.
//!
//! A1-A2: backpressure (`control/admission.rs`, "Waiting"): a producer parked on a
//! full pool is woken by a slot's release (A1) and by the pool's close (A2).
//!
//! Seeded bugs (each made the model fail, then was reverted):
//! - A1: the waiter's re-read `has_room_now` as a load instead of a
//!   read-modify-write -> loom: deadlock (the release saw no waiter, the waiter no room).
//! - A2: `Admission::register` without its SeqCst fence -> loom: deadlock (the close
//!   missed the waker, the waiter missed the close).
//! - C1: `Control::hold` without its re-check after the fence ("if the pause was
//!   lifted meanwhile, empty the list") -> "a task was stranded in a held list".
//! - C2: `Control::sweep` counting every picked task instead of the claims it won
//!   (`resolved += 1` whatever `try_abort` returned) -> the sum of outcomes is 2.
//! - C4: `Control::sweep_settled` making one pass, without reading the movers ->
//!   "the drain returned while the task was still waiting (drained 0, ran 0)".
//! - C4: `Mover::begin` not marking the take (the word stays even) -> the same.
//! - C3: `TaskRef::run_by_waiter` without its reference-count check (shortcut taken
//!   with a handle alive) -> loom: "Concurrent write accesses to `UnsafeCell`"
//!   (the waiter runs the closure while the handle's cancel writes the result).

// The models need `--cfg tokengate_loom` (README.md); without it this file is empty,
// so `cargo clippy --workspace --all-targets` builds.
#![cfg(tokengate_loom)]

use std::sync::Arc;

use loom::thread;
use tokengate::loom_api::{self, Control, HeavyGate};
use tokengate::{Coordinator, Op, TaskError, Weight};
use tokengate_loom_tests::{model, Runs};

/// Model C1: hold against resume; then whatever was requeued is run.
#[test]
fn pause_resume_handoff_loses_nothing() {
    model(|| {
        let op = Op::new("loom-paused");
        let control = Arc::new(Control::default());
        let (lanes, mut locals) = loom_api::lanes(1);
        let lanes = Arc::new(lanes);
        assert!(control.pause_op(&op));
        let runs = Runs::new();
        let r = runs.clone();
        let (task, token) = loom_api::task_of(&op, move || r.hit());

        let (c, l) = (Arc::clone(&control), Arc::clone(&lanes));
        let worker = thread::spawn(move || {
            // A worker meeting the task: held (paused) or, if already resumed, run.
            if let Some(t) = c.screen(task, |t| l.push_injector(Weight::Medium, t)) {
                t.run();
            }
        });
        let (c, l, o) = (Arc::clone(&control), Arc::clone(&lanes), op.clone());
        let resumer = thread::spawn(move || {
            assert!(c.resume_op(&o, |t| l.push_injector(Weight::Medium, t)));
        });
        worker.join().unwrap();
        resumer.join().unwrap();

        assert_eq!(control.held(), 0, "a task was stranded in a held list");
        let local = locals.pop().unwrap();
        let gate = HeavyGate::new(1);
        while let Some(found) = lanes.find_work(0, &local, 1, &gate, false, false) {
            found.task.run();
        }
        assert!(token.is_finished(), "the task was lost");
        assert_eq!(runs.get(), 1, "the task ran exactly once");
    });
}

/// Model C2: a queued task; a worker pops it, a drain sweeps, the token cancels.
#[test]
fn drain_races_pop_and_cancel() {
    model(|| {
        let op = Op::new("loom-drained");
        let control = Arc::new(Control::default());
        let (lanes, mut locals) = loom_api::lanes(1);
        let lanes = Arc::new(lanes);
        let runs = Runs::new();
        let r = runs.clone();
        let (task, token) = loom_api::task_of(&op, move || r.hit());
        lanes.push_injector(Weight::Medium, task);

        let local = locals.pop().unwrap();
        let l = Arc::clone(&lanes);
        let worker = thread::spawn(move || {
            let gate = HeavyGate::new(1);
            l.find_work(0, &local, 1, &gate, false, false)
                .is_some_and(|found| found.task.run())
        });
        let (c, l) = (Arc::clone(&control), Arc::clone(&lanes));
        let drainer = thread::spawn(move || c.drain(&l, |t| l.push_injector(Weight::Medium, t)));
        let cancelled = token.cancel();
        let ran = worker.join().unwrap();
        let drained = drainer.join().unwrap();

        assert_eq!(
            usize::from(ran) + drained + usize::from(cancelled),
            1,
            "exactly one of run / drain / cancel resolves the task (ran {ran}, drained {drained}, cancelled {cancelled})"
        );
        assert_eq!(runs.get(), usize::from(ran));
        assert!(token.is_finished());
    });
}

/// Model C3: a parent on a 1-worker pool spawns a child, hands an abort handle of it
/// to another thread that cancels, and waits on the child (it pops it itself from
/// its own lane). Exactly one of run / cancel wins, and the closure runs iff the
/// cancel lost.
#[test]
fn abort_handle_races_the_waiters_shortcut() {
    model(|| {
        let gate = Coordinator::builder().workers(1).pin_workers(false).build().unwrap();
        let runs = Runs::new();
        let r = runs.clone();
        let parent = gate.spawn(&Op::new("loom-parent"), move || {
            let r2 = r.clone();
            let child = tokengate::spawn(&Op::new("loom-child"), move || {
                r2.hit();
                5u32
            });
            let abort = child.abort_handle();
            let canceller = thread::spawn(move || abort.cancel());
            let result = child.wait();
            (result, canceller.join().unwrap())
        });
        let (result, cancelled) = parent.wait().unwrap();
        match result {
            Ok(v) => assert!(v == 5 && !cancelled && runs.get() == 1),
            Err(TaskError::Cancelled) => assert!(cancelled && runs.get() == 0),
            Err(e) => panic!("unexpected {e:?}"),
        }
        gate.shutdown();
    });
}

/// Model C4: drain while a worker takes the task (`control/moves.rs`). The drain
/// must not return having missed a task that is still queued or in the worker's
/// hand: when it returns, the task was resolved by it or had already run. Exactly
/// one of the two, and nothing is left held.
#[test]
fn settled_drain_misses_no_task_in_hand() {
    model(|| {
        let op = Op::new("loom-in-hand");
        let control = Arc::new(Control::default());
        let (lanes, mut locals) = loom_api::lanes(1);
        let lanes = Arc::new(lanes);
        let mover = Arc::new(loom_api::Mover::default());
        let runs = Runs::new();
        let r = runs.clone();
        let (task, token) = loom_api::task_of(&op, move || r.hit());
        lanes.push_injector(Weight::Medium, task);

        let local = locals.pop().unwrap();
        let (c, l, m) = (Arc::clone(&control), Arc::clone(&lanes), Arc::clone(&mover));
        let worker = thread::spawn(move || {
            let gate = HeavyGate::new(1);
            let began = m.begin();
            match l.find_work(0, &local, 1, &gate, false, false) {
                Some(found) => {
                    // The worker's screen (a sweep makes it hold), then the run.
                    if let Some(t) = c.screen(found.task, |t| l.push_injector(Weight::Medium, t)) {
                        t.run();
                    }
                    m.end();
                }
                None => m.abandon(began),
            }
        });
        let (c, l, m, rr) = (
            Arc::clone(&control),
            Arc::clone(&lanes),
            Arc::clone(&mover),
            runs.clone(),
        );
        let drainer = thread::spawn(move || {
            let drained = c.drain_settled(&l, &[&m], |t| l.push_injector(Weight::Medium, t));
            (drained, rr.get())
        });
        worker.join().unwrap();
        let (drained, ran_at_return) = drainer.join().unwrap();

        assert!(
            drained == 1 || ran_at_return == 1,
            "the drain returned while the task was still waiting (drained {drained}, ran {ran_at_return})"
        );
        assert_eq!(drained + runs.get(), 1, "exactly one of drain / run resolves it");
        assert_eq!(control.held(), 0, "a task was left held");
        assert!(token.is_finished());
    });
}

/// Model A1: backpressure's wake-up (`control/admission.rs`, "Waiting"). The pool is
/// full (bound 1); a producer blocks for room while a worker's claim gives the slot
/// back, and a second producer blocks behind the first. No wake-up is lost: every
/// producer is admitted once room appears (a lost one deadlocks the model).
#[test]
fn blocked_producer_is_woken_by_a_release() {
    model(|| {
        let admission = Arc::new(loom_api::Admission::new(1));
        assert!(admission.try_admit());
        let a = Arc::clone(&admission);
        let producer = thread::spawn(move || {
            assert!(a.admit_blocking(|| false));
            // Its task is claimed in turn, which frees the slot again.
            a.release();
        });
        let a = Arc::clone(&admission);
        let second = thread::spawn(move || {
            assert!(a.admit_blocking(|| false));
            a.release();
        });
        // The worker claims the queued task: its slot comes back.
        admission.release();
        producer.join().unwrap();
        second.join().unwrap();
        assert!(admission.try_admit(), "every slot came back");
    });
}

/// Model A2: a producer blocked on a full pool while the pool closes: it returns
/// without a slot (its token then resolves `Shutdown`) instead of parking for good.
#[test]
fn blocked_producer_sees_the_close() {
    model(|| {
        let admission = Arc::new(loom_api::Admission::new(1));
        assert!(admission.try_admit());
        let closed = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let (a, c) = (Arc::clone(&admission), Arc::clone(&closed));
        let producer = thread::spawn(move || a.admit_blocking(|| c.load(std::sync::atomic::Ordering::SeqCst)));
        closed.store(true, std::sync::atomic::Ordering::SeqCst);
        admission.wake();
        assert!(!producer.join().unwrap(), "no slot was free: the close must be seen");
    });
}
