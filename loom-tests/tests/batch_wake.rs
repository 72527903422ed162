//! Model 4f: the wake after a batch take (`src/sleep/README.md`, "Chain wakes": "A
//! batch take").
//!
//! A take from the injector (or a steal from a victim) moves the tasks behind the
//! first into the taker's own stealable lane. While they move they are in no queue,
//! so a searcher can look, see nothing and park. If the taker then blocks in the
//! first task, the moved ones wait for it. So the taker, the pusher of those tasks,
//! fences and calls `notify_one` (`WorkerCtx::wake_after_push` from `find_work`).
//!
//! The real coordinator cannot show this under loom in the time the suite allows:
//! its loom deque moves only half of what is queued behind the first task, so it
//! needs three tasks, and model 4e with two already takes two minutes at one
//! preemption. This is a protocol model, as 4b is: the real `Sleep`, and two
//! simulated workers running `main_loop`, `idle` and `find_work` statement by
//! statement over counter queues (the injector and each worker's own lane).
//! **If `main_loop()`, `idle()` or `find_work()` changes, change this with it.**

// The models need `--cfg tokengate_loom` (README.md); without it this file is empty,
// so `cargo clippy --workspace --all-targets` builds.
#![cfg(tokengate_loom)]

use loom::sync::atomic::Ordering::{Acquire, Release, SeqCst};
use loom::sync::atomic::{fence, AtomicBool, AtomicUsize};
use loom::thread::{self, Thread};
use tokengate::loom_api;
use tokengate_loom_tests::{model, CountQueue as Queue};

// A `std` `Arc`: a loom one, dropped while the seeded model's deadlock panic unwinds,
// would panic again in its destructor and abort the test binary.
use std::sync::Arc;

/// The injector and the two workers' own (stealable) lanes.
struct Lanes {
    injector: Queue,
    own: [Queue; 2],
}

impl Lanes {
    /// `has_work_for` / `has_stealable`: any queue non-empty.
    fn look(&self) -> bool {
        self.injector.look() || self.own.iter().any(Queue::look)
    }

    /// `SharedLanes::find_work` for worker `me`: its own lane, then a batch take from
    /// the injector (one item in hand; a second, if there is one, moved into `me`'s
    /// lane, in no queue in between), then a steal from the other worker's lane.
    /// `Some(moved)` if an item was found.
    fn find(&self, me: usize) -> Option<bool> {
        if self.own[me].take() {
            return Some(false);
        }
        if self.injector.take() {
            let moved = self.injector.take();
            if moved {
                self.own[me].push();
            }
            return Some(moved);
        }
        self.own[1 - me].take().then_some(false)
    }
}

/// What the two simulated workers share with main.
struct Pool {
    lanes: Lanes,
    sleep: loom_api::Sleep,
    /// Items run so far.
    done: AtomicUsize,
    /// Set by main once both items ran: until then, a worker that runs an item
    /// stays blocked in it, so only the other worker can run the second.
    released: AtomicBool,
    exit: AtomicBool,
    /// Whether `find_work` wakes a worker for what a batch take moved (the fix under
    /// test; `false` seeds the bug).
    wake_for_moved: bool,
}

impl Pool {
    /// `WorkerCtx::find_work`: the take, then the wake for moved items.
    fn find_work(&self, me: usize) -> bool {
        let Some(moved) = self.lanes.find(me) else {
            return false;
        };
        if moved && self.wake_for_moved {
            fence(SeqCst);
            self.sleep.notify_one();
        }
        true
    }

    /// `WorkerCtx::found_while_spinning`.
    fn found_while_spinning(&self) {
        if self.sleep.stop_spinning() && self.lanes.look() {
            self.sleep.notify_one();
        }
    }

    /// `WorkerCtx::idle` (one search round under loom; no hand-off, no shutdown
    /// branch). True if it found an item, false on exit.
    fn idle(&self, me: usize, already_spinning: bool) -> bool {
        let mut spinning = already_spinning || self.sleep.try_start_spinning();
        loop {
            if spinning {
                if self.find_work(me) {
                    self.found_while_spinning();
                    return true;
                }
                if self.exit.load(Acquire) {
                    self.sleep.stop_spinning();
                    return false;
                }
                thread::yield_now(); // backoff(0)
                self.sleep.stop_spinning();
            }
            self.sleep.announce_sleep(me);
            if self.exit.load(Acquire) {
                if !self.sleep.cancel_sleep(me) {
                    self.sleep.stop_spinning();
                }
                return false;
            }
            if self.lanes.look() {
                spinning = !self.sleep.cancel_sleep(me);
                if !spinning && self.find_work(me) {
                    // found_after_look()
                    fence(SeqCst);
                    if self.lanes.look() {
                        self.sleep.notify_one();
                    }
                    return true;
                }
                continue;
            }
            while self.sleep.is_announced(me) {
                thread::park();
            }
            spinning = true;
        }
    }

    /// `WorkerCtx::main_loop`. Running an item counts it, wakes main, and blocks
    /// until main releases the workers.
    fn main_loop(&self, me: usize, main: &Thread) {
        let mut spinning = false;
        while !self.exit.load(Acquire) {
            let found = if self.find_work(me) {
                if spinning {
                    self.found_while_spinning();
                }
                true
            } else {
                self.idle(me, spinning)
            };
            if !found {
                return;
            }
            self.done.fetch_add(1, Release);
            main.unpark();
            while !self.released.load(Acquire) {
                thread::park();
            }
            spinning = !self.lanes.own[me].look() && self.sleep.try_start_spinning();
        }
        if spinning {
            self.sleep.stop_spinning();
        }
    }
}

/// Main pushes two items from outside (push → fence(SeqCst) → `notify_one`, as
/// `Shared::spawn` does) and waits until both ran; each worker blocks in the first
/// item it runs, so the second must reach the other worker. A wake-up lost for a
/// moved item leaves main and both workers parked: a loom deadlock. Then it
/// releases the workers, stops the pool and checks that each item ran once and
/// every count is back to zero.
fn two_items(wake_for_moved: bool) {
    let pool = Arc::new(Pool {
        lanes: Lanes {
            injector: Queue::new(),
            own: [Queue::new(), Queue::new()],
        },
        sleep: loom_api::Sleep::new(2),
        done: AtomicUsize::new(0),
        released: AtomicBool::new(false),
        exit: AtomicBool::new(false),
        wake_for_moved,
    });
    let main = thread::current();
    let workers: Vec<_> = (0..2)
        .map(|me| {
            let (p, m) = (pool.clone(), main.clone());
            let h = thread::spawn(move || p.main_loop(me, &m));
            pool.sleep.register(me, h.thread().clone());
            h
        })
        .collect();
    for _ in 0..2 {
        pool.lanes.injector.push();
        fence(SeqCst);
        pool.sleep.notify_one();
    }
    while pool.done.load(Acquire) < 2 {
        thread::park();
    }
    pool.released.store(true, Release);
    pool.exit.store(true, SeqCst);
    for h in &workers {
        h.thread().unpark();
    }
    pool.sleep.notify_all();
    for h in workers {
        h.join().unwrap();
    }
    assert_eq!(pool.done.load(Acquire), 2, "each item ran exactly once");
    assert!(!pool.lanes.look(), "an item was left queued");
    assert_eq!(pool.sleep.searching(), 0, "a searcher count leaked");
}

/// Model 4f, with the wake for moved items (`WorkerCtx::wake_after_push` from `find_work`).
#[test]
fn batch_take_wakes_for_moved_items() {
    model(|| two_items(true));
}

/// Model 4f's seeded bug: without the wake, the worker that moved the second item
/// blocks in the first while the other worker, which looked while the item was in
/// no queue, stays parked.
#[test]
#[should_panic(expected = "deadlock")]
fn batch_take_without_the_wake_loses_the_moved_item() {
    model(|| two_items(false));
}
