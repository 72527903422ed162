//! Model 4: the worker sleep/wake protocol (`src/sleep/README.md`).

// The models need `--cfg tokengate_loom` (README.md); without it this file is empty,
// so `cargo clippy --workspace --all-targets` builds.
#![cfg(tokengate_loom)]

use loom::sync::atomic::Ordering::{Acquire, Release, SeqCst};
use loom::sync::atomic::{fence, AtomicBool, AtomicUsize};
use loom::sync::Arc;
use loom::thread::{self, Thread};
use tokengate::loom_api;
use tokengate::{Coordinator, Op};
use tokengate_loom_tests::{model, model_bounded, CountQueue as Queue, Runs};

/// Builds the 2-worker pool of models 4a/4c. `build()` itself runs under loom: the
/// workers start, register, and go idle (one spin round under loom, then announce
/// sleep and park) in every interleaving with what main does next.
fn two_workers() -> Coordinator {
    Coordinator::builder().workers(2).pin_workers(false).build().unwrap()
}

/// Model 4a: a full coordinator with 2 workers and the main thread as the outside
/// submitter: injector push → fence(SeqCst) → `notify_one`, racing both workers'
/// spin → announce → fence → look at the queues → park. Main then blocks in `wait()`: if
/// every worker missed the push (a lost wake-up), nobody ever runs the task and loom
/// reports the deadlock.
///
/// Bound: the pool is then *dropped* (ABORTING: workers exit at once) rather than
/// shut down gracefully. The wake-up property is decided before the pool is torn
/// down, and with a preemption bound every preemption spent in a graceful
/// shutdown's quiescence protocol is one not spent on the push/sleep race; the
/// graceful version explores 2.5x the executions (0.86M, 5.5 min on 2 cores) for no
/// new interleaving of that race. It is kept as `..._graceful`, `#[ignore]`d; the
/// graceful quiescence protocol itself is model 7a's subject.
#[test]
fn coordinator_push_while_workers_sleep() {
    model(|| {
        let gate = two_workers();
        let runs = run_one_job(&gate);
        drop(gate);
        assert_eq!(runs.get(), 1);
    });
}

/// Model 4a, unbounded variant: as 4a, ending in a graceful `shutdown()`, which
/// must also terminate both workers (quiescence detection over the idle bits).
/// `#[ignore]`d for time (see 4a); run with `-- --ignored`.
#[test]
#[ignore = "5.5 minutes on 2 cores; 4a covers the same push/sleep race"]
fn coordinator_push_while_workers_sleep_graceful() {
    model(|| {
        let gate = two_workers();
        let runs = run_one_job(&gate);
        gate.shutdown();
        assert_eq!(runs.get(), 1);
    });
}

/// Model 4e: two jobs spawned from outside into the idle 2-worker pool; the first
/// blocks the worker that runs it until main has the second's result, so only the
/// other worker can run the second. Whichever way the pushes race the workers'
/// start-up searches, batch takes and parking, the other worker must be woken for
/// it: if it stays parked, main, the blocked worker and it all wait, and loom
/// reports the deadlock. (Fresh-clone CI saw this shape hang twice: two blockers
/// spawned right after `build()`, the second never started.) Before the fix
/// (`WorkerCtx::found_after_look`), the very first execution deadlocked: worker 0
/// searched while worker 1 parked, so both pushes left their wake-ups to worker
/// 0; its search ended, its look saw the work, and it withdrew and took only the
/// first task. Bound: one preemption (2 minutes on 2 cores; two took over 17).
#[test]
fn coordinator_second_push_while_first_blocks() {
    model_bounded(Some(1), || {
        let gate = two_workers();
        let release = Arc::new((loom::sync::Mutex::new(false), loom::sync::Condvar::new()));
        let r = Arc::clone(&release);
        let first = gate.spawn(&Op::new("blocker"), move || {
            let (lock, cv) = &*r;
            let mut open = lock.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
        });
        let second = gate.spawn(&Op::new("second"), || 7u8);
        assert_eq!(second.wait(), Ok(7));
        let (lock, cv) = &*release;
        *lock.lock().unwrap() = true;
        cv.notify_all();
        assert_eq!(first.wait(), Ok(()));
        drop(gate);
    });
}

/// Models 4a and 4a′: one job spawned from outside while both workers may be
/// asleep, waited on from main. Returns its run counter for the final check.
fn run_one_job(gate: &Coordinator) -> Runs {
    let runs = Runs::new();
    let r = runs.clone();
    let token = gate.spawn(&Op::new("job"), move || {
        r.hit();
        3u8
    });
    assert_eq!(token.wait(), Ok(3));
    runs
}

/// Model 4c: pinned work. A sticky token is placed on one worker (its inbox) and
/// only that worker may run it, so its push → fence → `notify_worker(w)` must wake
/// `w` itself, whatever `w` is doing: another worker cannot cover for it. Same
/// bound as 4a (the pool is dropped at the end).
#[test]
fn coordinator_pinned_push_while_workers_sleep() {
    model(|| {
        let gate = two_workers();
        let runs = Runs::new();
        let r = runs.clone();
        let op = Op::new("pinned").sticky_anchor("a");
        let handle = gate.handle();
        let token = gate.spawn(&op, move || {
            r.hit();
            (tokengate::current_worker(), handle.anchor_worker("a"))
        });
        let (ran_on, pinned_to) = token.wait().unwrap();
        assert!(ran_on.is_some());
        assert_eq!(ran_on, pinned_to, "a sticky task ran off its anchor's worker");
        drop(gate);
        assert_eq!(runs.get(), 1);
    });
}

/// `WorkerCtx::main_loop` + `idle` + `execute` (worker.rs, as of commit 03e8e84),
/// statement for statement, over the real `Sleep`, with [`Queue`] standing in for
/// all the lanes (`find_work` = take, `has_work_for` / `has_stealable` = look; the
/// worker has no own lanes, so `is_drained()` is always true) and an explicit flag
/// for `exit_requested`. Heavy permits and the graceful-shutdown branch are left
/// out (no heavy work, no shutdown here). Running a task = counting it done and
/// unparking main. **If `main_loop()` or `idle()` changes, change this with it.**
///
/// `waiter_here`: this worker shares its CPU with a spinning outside waiter, and
/// its last task came in a streak, so its failed search round hands the search off
/// (`Sleep::hand_off`, sleep/README.md "Who spins where") instead of backing off.
fn sim_worker(
    me: usize,
    waiter_here: bool,
    queue: &Queue,
    sleep: &loom_api::Sleep,
    exit: &AtomicBool,
    done: &AtomicUsize,
    main: &Thread,
) {
    let found_while_spinning = || {
        if sleep.stop_spinning() && queue.look() {
            sleep.notify_one();
        }
    };
    // main_loop(): whether this worker is counted in `spinning`.
    let mut spinning = false;
    while !exit.load(Acquire) {
        let found = if queue.take() {
            if spinning {
                found_while_spinning();
            }
            true
        } else {
            // idle(spinning)
            let mut spinning = spinning || sleep.try_start_spinning();
            'idle: loop {
                if spinning {
                    // TUNING.idle_spin_rounds == 1 under loom.
                    if queue.take() {
                        found_while_spinning();
                        break 'idle true;
                    }
                    if exit.load(Acquire) {
                        sleep.stop_spinning();
                        break 'idle false;
                    }
                    if !(waiter_here && sleep.hand_off(me)) {
                        thread::yield_now(); // backoff(0)
                    }
                    sleep.stop_spinning();
                }
                sleep.announce_sleep(me);
                if exit.load(Acquire) {
                    // withdraw_sleep()
                    if !sleep.cancel_sleep(me) {
                        sleep.stop_spinning();
                    }
                    break 'idle false;
                }
                // Look, but take nothing while announced.
                if queue.look() {
                    spinning = !sleep.cancel_sleep(me);
                    if !spinning && queue.take() {
                        // found_after_look()
                        fence(SeqCst);
                        if queue.look() {
                            sleep.notify_one();
                        }
                        break 'idle true;
                    }
                    continue;
                }
                while sleep.is_announced(me) {
                    thread::park();
                }
                // A notifier cleared our bit and counted us as a spinner.
                spinning = true;
            }
        };
        if !found {
            return;
        }
        // execute()
        done.fetch_add(1, Release);
        main.unpark();
        spinning = sleep.try_start_spinning();
    }
    if spinning {
        sleep.stop_spinning();
    }
}

/// Model 4b: the sleep/wake protocol on its own, at 2 preemptions: the real `Sleep`,
/// two simulated workers running worker.rs's idle loop over a counter queue
/// (`sim_worker`), and the main thread as the outside submitter, in two rounds:
/// push → fence(SeqCst) → `notify_one` (as `Shared::spawn` does), then park until
/// that item ran. The second round starts from whatever the first left behind, so
/// it checks that the sleep counters stay exact: a claim racing a withdraw that
/// leaked a `spinning` count would make every later `notify_one` believe someone is
/// searching. A lost wake-up in either round leaves everyone parked: a loom deadlock.
///
/// Bounds: the lanes are replaced by one counter, because with the real lanes
/// (about ten queue reads per search) two pushes at 2 preemptions did not finish
/// in 15 minutes; the real search over the real lanes is 4a/4c's job, at one push. The
/// rounds are sequential rather than a burst of two: with both items queued at
/// once, a leaked count is never needed again (the second item is found while
/// running the first). A burst does add a liveness property when the first item
/// blocks its worker (the second must wake the other one): model 4e checks that
/// on the real coordinator.
#[test]
fn sleep_protocol_two_workers_two_pushes() {
    model(|| {
        submit_rounds(2, false);
    });
}

/// Models 4b and 4d: two simulated workers (`sim_worker`, worker 0 handing off if
/// `hand_off`) on CPUs 0 and 1, and main submitting `rounds` items one after the
/// other (push → fence(SeqCst) → `notify_one`, then park until it ran); then exit.
/// Checks each item was taken exactly once and returns the sleep state.
fn submit_rounds(rounds: usize, hand_off: bool) -> Arc<loom_api::Sleep> {
    let queue = Arc::new(Queue::new());
    let sleep = Arc::new(loom_api::Sleep::new(2));
    let exit = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let main = thread::current();
    let workers: Vec<_> = (0..2)
        .map(|me| {
            let (q, s, e, d, m) = (queue.clone(), sleep.clone(), exit.clone(), done.clone(), main.clone());
            let h = thread::spawn(move || sim_worker(me, hand_off && me == 0, &q, &s, &e, &d, &m));
            sleep.register_on(me, h.thread().clone(), me);
            h
        })
        .collect();
    for round in 1..=rounds {
        queue.push();
        fence(SeqCst);
        sleep.notify_one();
        while done.load(Acquire) < round {
            thread::park();
        }
    }
    exit.store(true, SeqCst);
    sleep.notify_all();
    for h in workers {
        h.join().unwrap();
    }
    assert_eq!(done.load(Acquire), rounds, "each item taken exactly once");
    assert!(!queue.look());
    sleep
}

/// Model 4d: the hand-off (sleep/README.md, "Who spins where"). Worker 0 shares its
/// CPU with a spinning outside waiter: each of its failed search rounds calls
/// `Sleep::hand_off`, which may claim worker 1's idle bit (counted as searching, as a
/// notifier's claim is) and unpark it, and then worker 0 stops searching and parks
/// the usual way, look included. Main pushes once, racing all of it. A wake-up lost
/// in the hand-off leaves everyone parked (a loom deadlock), and a `spinning`
/// count leaked by it fails the final check that every count is back to zero.
/// One round, not 4b's two: with two, this model alone took 9 minutes; the final
/// count check stands in for the second round's.
///
/// Seeded bug, caught: a hand-off claim that does not count the woken worker as
/// searching (the final count is -1). Not caught at this bound: worker 0 parking
/// after a hand-off without its look. The losing interleaving needs a second
/// searcher counted while worker 0 checks, which `max_spinning` = 1 allows only
/// through a notifier's claim; at one push and 2 preemptions loom does not reach it.
#[test]
fn sleep_hand_off_to_other_cpu() {
    model(|| {
        let sleep = submit_rounds(1, true);
        assert_eq!(sleep.searching(), 0, "a searcher count leaked");
    });
}
