//! Model 13: a worker parked in `wait()` under `HelpPolicy::OwnLanes` (issue 10,
//! finding 2). It announces itself in the `pinned_wait` mask, where only
//! `notify_worker` (pinned work placed on it from another thread) looks, never
//! `notify_one` (work it may not take). Checks: the pinned push always wakes it (a
//! lost wake-up leaves it parked forever, which loom reports as a deadlock), a
//! concurrent `notify_one` never claims it, and the searcher count ends at zero.
//!
//! Mutation check: with `pinned_wait` left out of `notify_worker`'s masks
//! (`src/sleep/mod.rs`), loom reports the deadlock; with it put into `notify_one`'s
//! masks, the `claimed_by_notify_one` assertion fails.

// The models need `--cfg tokengate_loom` (README.md); without it this file is empty,
// so `cargo clippy --workspace --all-targets` builds.
#![cfg(tokengate_loom)]

use loom::sync::atomic::Ordering::{Release, SeqCst};
use loom::sync::atomic::{fence, AtomicBool};
use loom::sync::Arc;
use loom::thread;
use tokengate::loom_api;
use tokengate_loom_tests::model;

#[test]
fn own_lanes_waiter_is_woken_by_pinned_work_only() {
    model(|| {
        let sleep = Arc::new(loom_api::Sleep::new(2));
        let inbox = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (sleep, inbox) = (Arc::clone(&sleep), Arc::clone(&inbox));
            thread::spawn(move || {
                sleep.register(0, thread::current());
                let mut claimed = 0;
                // `help_until` under OwnLanes: look at its own lanes, announce, look
                // again, park, withdraw; until its pinned work shows up.
                while !inbox.load(SeqCst) {
                    sleep.announce_pinned_wait(0);
                    if !inbox.load(SeqCst) {
                        thread::park();
                    }
                    if !sleep.cancel_pinned_wait(0) {
                        // A notifier claimed us and counted us as a searcher.
                        claimed += 1;
                        sleep.stop_spinning();
                    }
                }
                claimed
            })
        };
        // Main: first an unrelated push (injector work the waiter may not take),
        // then pinned work for worker 0: push, fence, `notify_worker`.
        sleep.notify_one();
        inbox.store(true, Release);
        fence(SeqCst);
        sleep.notify_worker(0);
        let claimed = waiter.join().unwrap();
        assert!(claimed <= 1, "claimed_by_notify_one: woken {claimed} times");
        assert_eq!(sleep.searching(), 0, "the searcher count leaked");
    });
}
