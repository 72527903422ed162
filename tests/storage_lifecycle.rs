//! The storage lane's tokens and lifecycle: cancel, panics, awaiting, shutdown and
//! drop with queued storage work, spawn and join inside storage tasks, and the
//! storage threads themselves.
//!
//! Each lane-specific test was seen to fail against a broken lane: a drop that does
//! not resolve the queues (`drop_...`), a shutdown that aborts instead of draining
//! (`graceful_...`), a keep-alive that never expires (`idle_...`), no owner on
//! storage threads (`spawn_and_join_...`), an unbounded thread cap (`..._bounded_...`).

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::{get, spin_until, Latch};
use tokengate::{current_worker, join_all, Coordinator, Op, StorageSpeed, TaskError};

fn slow_pool(limit: usize) -> Coordinator {
    Coordinator::builder()
        .workers(1)
        .thread_name("lane")
        .storage_limit(StorageSpeed::Slow, limit)
        .build()
        .unwrap()
}

fn slow() -> Op<tokengate::Storage> {
    Op::new("io").storage_speed(StorageSpeed::Slow)
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_string()
}

/// A task blocked on `latch`, holding one Slow slot.
fn blocker(gate: &Coordinator, latch: &Arc<Latch>) -> tokengate::Token<()> {
    let l = Arc::clone(latch);
    let t = gate.spawn(&slow(), move || l.wait());
    spin_until("the blocker to hold its slot", || gate.storage_stats()[0].active == 1);
    t
}

#[test]
fn cancelled_queued_storage_task_never_runs() {
    let gate = slow_pool(1);
    let latch = Latch::new();
    let block = blocker(&gate, &latch);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&ran);
    let t = gate.spawn(&slow(), move || r.fetch_add(1, SeqCst));
    assert!(t.cancel());
    assert_eq!(t.wait(), Err(TaskError::Cancelled));
    latch.open();
    get(block).unwrap();
    // The cancelled task is skipped when its turn comes; the tier goes on.
    assert_eq!(get(gate.spawn(&slow(), || 5)), Ok(5));
    assert_eq!(ran.load(SeqCst), 0);
    assert_eq!(gate.storage_stats()[0].queued, 0);
}

#[test]
fn panic_in_a_storage_task_is_reported_and_the_slot_given_back() {
    let gate = slow_pool(1);
    let t = gate.spawn(&slow(), || -> u32 { panic!("disk on fire") });
    assert_eq!(
        get(t),
        Err(TaskError::Panicked {
            message: "disk on fire".into()
        })
    );
    assert_eq!(get(gate.spawn(&slow(), || 7)), Ok(7), "the only slot was given back");
}

#[test]
fn storage_tokens_wait_with_timeout_await_and_join_all() {
    let gate = slow_pool(2);
    let latch = Latch::new();
    let l = Arc::clone(&latch);
    let t = gate.spawn(&slow(), move || {
        l.wait();
        3
    });
    assert!(!t.wait_timeout(Duration::from_millis(5)));
    latch.open();
    assert_eq!(futures::executor::block_on(t), Ok(3));
    let all = join_all((0..30u32).map(|i| gate.spawn(&slow(), move || i))).wait();
    assert_eq!(all.into_iter().map(Result::unwrap).sum::<u32>(), 435);
}

#[test]
fn storage_tasks_run_on_storage_threads_bounded_by_the_limits() {
    let gate = Coordinator::builder()
        .workers(1)
        .thread_name("bound")
        .storage_limit(StorageSpeed::Slow, 3)
        .build()
        .unwrap();
    let tokens: Vec<_> = (0..100)
        .map(|_| {
            gate.spawn(&slow(), || {
                std::thread::sleep(Duration::from_micros(100));
                (current_worker(), thread_name(), std::thread::current().id())
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for t in tokens {
        let (worker, name, id) = get(t).unwrap();
        assert_eq!(worker, None);
        assert!(name.starts_with("bound-io-"), "ran on {name}");
        ids.insert(id);
    }
    // Threads start on demand, never more than the tasks that may run at once (3:
    // the other tiers have nothing queued), and are reused: no thread per task.
    assert!(ids.len() <= 3, "{} storage threads ran the 100 tasks", ids.len());
    // Started, not only used: count the live ones (Linux names them in /proc).
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        let started = tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|comm| comm.starts_with("bound-io-"))
            .count();
        assert!((1..=3).contains(&started), "{started} storage threads started");
    }
}

#[test]
fn idle_storage_threads_exit_after_the_keep_alive() {
    static EXITED: AtomicUsize = AtomicUsize::new(0);
    struct OnExit;
    impl Drop for OnExit {
        fn drop(&mut self) {
            EXITED.fetch_add(1, SeqCst);
        }
    }
    thread_local! { static GUARD: std::cell::RefCell<Option<OnExit>> = const { std::cell::RefCell::new(None) }; }
    let gate = Coordinator::builder()
        .workers(1)
        .storage_keep_alive(Duration::from_millis(20))
        .build()
        .unwrap();
    let t = gate.spawn(&slow(), || GUARD.with(|g| *g.borrow_mut() = Some(OnExit)));
    get(t).unwrap();
    // Nobody shuts the pool down: the thread leaves on its own once idle.
    spin_until("the idle storage thread to exit", || EXITED.load(SeqCst) == 1);
    // A new spawn starts a new thread.
    assert_eq!(get(gate.spawn(&slow(), || 1)), Ok(1));
}

#[test]
fn spawn_and_join_inside_a_storage_task() {
    let gate = slow_pool(2);
    let t = gate.spawn(&slow(), || {
        // `tokengate::spawn` goes to the pool owning this storage thread: CPU ops to
        // its workers, storage ops to its lane.
        let cpu = tokengate::spawn(&Op::new("cpu"), thread_name);
        let io = tokengate::spawn(&slow(), thread_name);
        // `join` runs both halves right here, on this storage thread.
        let (a, b) = tokengate::join(thread_name, thread_name);
        (cpu.wait().unwrap(), io.wait().unwrap(), a, b, thread_name())
    });
    let (cpu, io, a, b, me) = get(t).unwrap();
    assert_eq!(cpu, "lane-0");
    assert!(io.starts_with("lane-io-"));
    assert_eq!((a.as_str(), b.as_str()), (me.as_str(), me.as_str()));
    // A slot is given back just after its token resolves.
    spin_until("both Slow slots given back", || gate.storage_stats()[0].completed == 2);
}

#[test]
fn graceful_shutdown_drains_the_storage_queues() {
    static WORKER_EXITED: AtomicUsize = AtomicUsize::new(0);
    struct OnExit;
    impl Drop for OnExit {
        fn drop(&mut self) {
            WORKER_EXITED.store(1, SeqCst);
        }
    }
    thread_local! { static GUARD: std::cell::RefCell<Option<OnExit>> = const { std::cell::RefCell::new(None) }; }
    let gate = slow_pool(1);
    // Marks the only CPU worker, so we can tell when shutdown has joined it.
    get(gate.spawn(&Op::new("mark"), || GUARD.with(|g| *g.borrow_mut() = Some(OnExit)))).unwrap();
    // The only Slow slot stays taken until shutdown has joined the CPU workers, so
    // the storage queue is still full when the lane is closed.
    let latch = Latch::new();
    let running = blocker(&gate, &latch);
    let ran = Arc::new(AtomicUsize::new(0));
    let io = |r: &Arc<AtomicUsize>| {
        let r = Arc::clone(r);
        move || {
            std::thread::sleep(Duration::from_millis(1)); // the "I/O"
            r.fetch_add(1, SeqCst)
        }
    };
    // A CPU task queues storage work too: spawned from inside, still accepted.
    let r = Arc::clone(&ran);
    let parent = gate.spawn(&Op::new("parent"), move || {
        (0..10).map(|_| tokengate::spawn(&slow(), io(&r))).collect::<Vec<_>>()
    });
    let inside = get(parent).unwrap();
    let outside: Vec<_> = (0..10).map(|_| gate.spawn(&slow(), io(&ran))).collect();
    let l = Arc::clone(&latch);
    let releaser = std::thread::spawn(move || {
        spin_until("shutdown to join the CPU worker", || WORKER_EXITED.load(SeqCst) == 1);
        l.open();
    });
    gate.shutdown();
    releaser.join().unwrap();
    assert_eq!(ran.load(SeqCst), 20, "queued storage work ran during shutdown");
    assert_eq!(get(running), Ok(()));
    for t in outside.into_iter().chain(inside) {
        assert!(t.is_finished());
        assert!(get(t).is_ok());
    }
    let late = gate.spawn(&slow(), || 1);
    assert_eq!(get(late), Err(TaskError::Shutdown), "spawn after shutdown");
}

#[test]
fn drop_resolves_queued_storage_tasks_and_lets_running_ones_finish() {
    let gate = slow_pool(1);
    let latch = Latch::new();
    let running = blocker(&gate, &latch);
    let ran = Arc::new(AtomicUsize::new(0));
    let queued: Vec<_> = (0..5)
        .map(|_| {
            let r = Arc::clone(&ran);
            gate.spawn(&slow(), move || r.fetch_add(1, SeqCst))
        })
        .collect();
    let handle = gate.handle();
    // The running task is released only once the drop has resolved the queued ones.
    let l = Arc::clone(&latch);
    let releaser = std::thread::spawn(move || {
        spin_until("queued tokens to resolve", || queued.iter().all(|t| t.is_finished()));
        l.open();
        queued
    });
    drop(gate);
    for t in releaser.join().unwrap() {
        assert_eq!(get(t), Err(TaskError::Shutdown));
    }
    assert_eq!(get(running), Ok(()), "the running task finished");
    assert_eq!(ran.load(SeqCst), 0, "a queued task ran after drop");
    assert_eq!(get(handle.spawn(&slow(), || 1)), Err(TaskError::Shutdown));
}

#[test]
fn drop_releases_cpu_tasks_waiting_on_queued_storage_work() {
    let gate = slow_pool(1);
    let latch = Latch::new();
    let running = blocker(&gate, &latch);
    // The only worker waits on a storage token that is queued behind the blocker.
    let waiter = gate.spawn(&Op::new("wait"), || tokengate::spawn(&slow(), || 1).wait());
    spin_until("the queued storage task", || gate.storage_stats()[0].queued == 1);
    let l = Arc::clone(&latch);
    let releaser = std::thread::spawn(move || {
        spin_until("the waiter to be released", || waiter.is_finished());
        l.open();
        waiter
    });
    drop(gate);
    assert_eq!(get(releaser.join().unwrap()), Ok(Err(TaskError::Shutdown)));
    assert_eq!(get(running), Ok(()));
}

#[test]
fn coordinator_dropped_inside_its_own_storage_task() {
    let gate = Arc::new(std::sync::Mutex::new(Some(slow_pool(2))));
    let g = Arc::clone(&gate);
    let op = slow();
    let t = gate.lock().unwrap().as_ref().unwrap().spawn(&op, move || {
        let last = g.lock().unwrap().take();
        drop(last); // joins the other threads, skips this one
                    // The owner is gone: a spawn from here goes to the default coordinator.
        tokengate::spawn(&Op::new("after"), || 5).wait()
    });
    assert_eq!(get(t), Ok(Ok(5)));
    assert!(gate.lock().unwrap().is_none());
}
