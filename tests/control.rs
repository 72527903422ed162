//! The control plane (src/control/): pause/resume, drain, cancel by id, bounded
//! admission, deadlines, status. Each test synchronises with latches and counters.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::{get, pool, spin_until, Latch};
use tokengate::{Coordinator, Op, TaskError, TaskState, Token};

fn counting(op: &Op, gate: &Coordinator, ran: &Arc<AtomicUsize>, n: usize) -> Vec<Token<()>> {
    (0..n)
        .map(|_| {
            let ran = Arc::clone(ran);
            gate.spawn(op, move || {
                ran.fetch_add(1, SeqCst);
            })
        })
        .collect()
}

/// Occupies the only worker of a 1-worker pool until the returned latch opens.
fn occupy(gate: &Coordinator) -> (Arc<Latch>, Token<()>) {
    let started = Latch::new();
    let release = Latch::new();
    let (s, r) = (Arc::clone(&started), Arc::clone(&release));
    let t = gate.spawn(&Op::new("blocker"), move || {
        s.open();
        r.wait();
    });
    started.wait();
    (release, t)
}

#[test]
fn pause_holds_queued_work_and_resume_releases_it() {
    let gate = pool(2);
    let ran = Arc::new(AtomicUsize::new(0));
    assert!(gate.pause());
    assert!(!gate.pause(), "a second pause reports it was already on");
    let tokens = counting(&Op::new("paused"), &gate, &ran, 200);
    // Workers meet every task and set it aside; none runs.
    spin_until("all tasks held", || gate.held() == 200);
    assert_eq!(ran.load(SeqCst), 0);
    assert!(tokens.iter().all(|t| t.status().state == TaskState::Held));
    assert!(gate.resume());
    for t in tokens {
        get(t).unwrap();
    }
    assert_eq!((ran.load(SeqCst), gate.held()), (200, 0));
}

#[test]
fn pausing_one_op_does_not_slow_another() {
    let gate = pool(1);
    let slow_ran = Arc::new(AtomicUsize::new(0));
    let fast_ran = Arc::new(AtomicUsize::new(0));
    gate.pause_op("slow-op");
    let slow = counting(&Op::new("slow-op"), &gate, &slow_ran, 100);
    let fast = counting(&Op::new("fast-op"), &gate, &fast_ran, 100);
    for t in fast {
        get(t).unwrap();
    }
    assert_eq!((fast_ran.load(SeqCst), slow_ran.load(SeqCst)), (100, 0));
    assert!(gate.is_op_paused("slow-op") && !gate.is_op_paused("fast-op"));
    assert!(gate.resume_op("slow-op"));
    for t in slow {
        get(t).unwrap();
    }
    assert_eq!(slow_ran.load(SeqCst), 100);
}

#[test]
fn pinned_work_obeys_pause() {
    let gate = pool(2);
    let ran = Arc::new(AtomicUsize::new(0));
    gate.pause();
    let op = Op::new("sticky-paused").sticky_anchor("anchor-paused");
    let tokens: Vec<_> = (0..20)
        .map(|_| {
            let ran = Arc::clone(&ran);
            gate.spawn(&op, move || {
                ran.fetch_add(1, SeqCst);
                tokengate::current_worker()
            })
        })
        .collect();
    spin_until("pinned tasks held", || gate.held() == 20);
    assert_eq!(ran.load(SeqCst), 0);
    gate.resume();
    let workers: Vec<_> = tokens.into_iter().map(|t| get(t).unwrap()).collect();
    assert!(
        workers.windows(2).all(|w| w[0] == w[1]),
        "sticky work moved: {workers:?}"
    );
}

/// Queues tasks of `victim` in every kind of queue of a busy 1-worker pool: the
/// injector, the worker's own lane and pinned lane (spawned from inside), its inbox
/// (sticky from outside), and a held list. Returns the victims, one non-victim,
/// and the latch that frees the worker.
struct Everywhere {
    victims: Vec<Token<()>>,
    bystander: Token<u32>,
    release: Arc<Latch>,
    blocker: Token<()>,
    ran: Arc<AtomicUsize>,
}

fn queue_everywhere(gate: &Coordinator, victim: &'static str) -> Everywhere {
    let ran = Arc::new(AtomicUsize::new(0));
    let started = Latch::new();
    let release = Latch::new();
    let (tx, rx) = mpsc::channel();
    let (s, r, ran2) = (Arc::clone(&started), Arc::clone(&release), Arc::clone(&ran));
    let blocker = gate.spawn(&Op::new("blocker"), move || {
        let free = Op::new(victim);
        let pinned = Op::new(victim).sticky_anchor(format!("{victim}-anchor"));
        let mut kids = Vec::new();
        for op_pinned in [false, true] {
            let ran = Arc::clone(&ran2);
            let f = move || {
                ran.fetch_add(1, SeqCst);
            };
            kids.push(if op_pinned {
                tokengate::spawn(&pinned, f)
            } else {
                tokengate::spawn(&free, f)
            });
        }
        tx.send(kids).unwrap();
        s.open();
        r.wait();
    });
    started.wait();
    let mut victims = rx.recv().unwrap();
    let op = Op::new(victim);
    victims.extend(counting(&op, gate, &ran, 3)); // injector
    let sticky = Op::new(victim).sticky_anchor(format!("{victim}-anchor"));
    victims.extend(counting_sticky(&sticky, gate, &ran, 2)); // inbox
    let bystander = gate.spawn(&Op::new("bystander"), || 5);
    Everywhere {
        victims,
        bystander,
        release,
        blocker,
        ran,
    }
}

fn counting_sticky(op: &Op<tokengate::Sticky>, gate: &Coordinator, ran: &Arc<AtomicUsize>, n: usize) -> Vec<Token<()>> {
    (0..n)
        .map(|_| {
            let ran = Arc::clone(ran);
            gate.spawn(op, move || {
                ran.fetch_add(1, SeqCst);
            })
        })
        .collect()
}

#[test]
fn drain_op_reaches_every_queue() {
    let gate = pool(1);
    let e = queue_everywhere(&gate, "drain-victim");
    assert_eq!(e.victims.len(), 7);
    assert_eq!(gate.drain_op("drain-victim"), 7);
    assert_eq!(gate.drain_op("drain-victim"), 0, "a second drain finds nothing");
    assert_eq!(gate.drain_op("never-declared"), 0);
    // Resolved at once, before any worker met them.
    assert!(e.victims.iter().all(|t| t.is_finished()));
    e.release.open();
    get(e.blocker).unwrap();
    assert_eq!(get(e.bystander), Ok(5));
    for t in e.victims {
        assert_eq!(get(t), Err(TaskError::Cancelled));
    }
    assert_eq!(e.ran.load(SeqCst), 0);
}

#[test]
fn drain_reaches_held_lists_and_counts_exactly() {
    let gate = pool(2);
    let ran = Arc::new(AtomicUsize::new(0));
    gate.pause_op("held-victim");
    let held = counting(&Op::new("held-victim"), &gate, &ran, 50);
    spin_until("tasks held", || gate.held() == 50);
    let other = gate.spawn(&Op::new("held-other"), || 1);
    assert_eq!(get(other), Ok(1));
    assert_eq!(gate.drain(), 50);
    assert_eq!(gate.held(), 0);
    gate.resume_op("held-victim");
    for t in held {
        assert_eq!(get(t), Err(TaskError::Cancelled));
    }
    assert_eq!(ran.load(SeqCst), 0);
}

#[test]
fn cancel_by_id_reaches_every_queue() {
    let gate = pool(1);
    let e = queue_everywhere(&gate, "cancel-victim");
    for t in &e.victims {
        assert!(gate.cancel(t.id()), "task {} not found", t.id());
        assert!(t.is_finished());
        assert!(!gate.cancel(t.id()), "cancelled twice");
    }
    assert!(!gate.cancel(u64::MAX));
    e.release.open();
    get(e.blocker).unwrap();
    let bystander_id = e.bystander.id();
    assert_eq!(get(e.bystander), Ok(5));
    assert!(!gate.cancel(bystander_id), "a finished task cannot be cancelled");
    assert!(e.victims.into_iter().all(|t| get(t) == Err(TaskError::Cancelled)));
    assert_eq!(e.ran.load(SeqCst), 0);
}

#[test]
fn abort_handle_cancels_queued_and_flags_running() {
    let gate = pool(1);
    let (release, blocker) = occupy(&gate);
    let queued = gate.spawn(&Op::new("abort-q"), || unreachable!());
    let h = queued.abort_handle();
    let h2 = h.clone();
    assert!(std::thread::spawn(move || h2.cancel()).join().unwrap());
    assert!(!h.cancel());
    assert_eq!(get(queued), Err(TaskError::Cancelled));
    release.open();
    get(blocker).unwrap();
    // A running task is not interrupted: is_cancelled() turns true inside it.
    let inside = Latch::new();
    let go = Latch::new();
    let (i, g) = (Arc::clone(&inside), Arc::clone(&go));
    let running = gate.spawn(&Op::new("abort-r"), move || {
        i.open();
        g.wait();
        tokengate::is_cancelled()
    });
    inside.wait();
    let h = running.abort_handle();
    assert!(!h.cancel());
    assert!(!gate.cancel(h.id()), "cancel(id) only takes queued tasks");
    go.open();
    assert_eq!(get(running), Ok(true));
}

#[test]
fn try_spawn_at_the_bound_returns_the_closure() {
    let gate = Coordinator::builder().workers(1).max_queued(2).build().unwrap();
    let (release, blocker) = occupy(&gate);
    let op = Op::new("bounded");
    let a = gate.try_spawn(&op, || 1).unwrap();
    let b = gate.try_spawn(&op, || 2).unwrap();
    assert_eq!(gate.queued(), 2);
    let full = gate.try_spawn(&op, || 3).unwrap_err();
    let f = full.into_inner();
    assert_eq!(f(), 3);
    // A cancel gives the slot back at once.
    assert!(b.cancel());
    assert_eq!(gate.queued(), 1);
    let c = gate.try_spawn(&op, || 4).unwrap();
    release.open();
    get(blocker).unwrap();
    assert_eq!((get(a), get(b), get(c)), (Ok(1), Err(TaskError::Cancelled), Ok(4)));
    assert_eq!(gate.queued(), 0);
}

#[test]
fn blocked_producer_resumes_when_workers_free_room() {
    let gate = Coordinator::builder().workers(1).max_queued(1).build().unwrap();
    let (release, blocker) = occupy(&gate);
    let op = Op::new("backpressure");
    let first = gate.spawn(&op, || 1);
    let returned = Arc::new(AtomicBool::new(false));
    let (handle, r) = (gate.handle(), Arc::clone(&returned));
    let producer = std::thread::spawn(move || {
        let t = handle.spawn(&Op::new("backpressure"), || 2);
        r.store(true, SeqCst);
        t.wait()
    });
    // The producer cannot get in while the one slot is taken.
    let until = Instant::now() + Duration::from_millis(50);
    while Instant::now() < until {
        assert!(!returned.load(SeqCst), "spawn returned while the pool was full");
        std::thread::yield_now();
    }
    assert_eq!(gate.queued(), 1);
    release.open();
    get(blocker).unwrap();
    assert_eq!(get(first), Ok(1));
    assert_eq!(producer.join().unwrap(), Ok(2));
}

#[test]
fn blocked_producer_is_released_by_shutdown() {
    let gate = Coordinator::builder().workers(1).max_queued(1).build().unwrap();
    let (release, blocker) = occupy(&gate);
    let first = gate.spawn(&Op::new("bp-shutdown"), || 1);
    let handle = gate.handle();
    let (tx, rx) = mpsc::channel();
    let producer = std::thread::spawn(move || tx.send(handle.spawn(&Op::new("bp-shutdown"), || 2).wait()).unwrap());
    // Dropping the pool (it waits for the busy worker) must wake the blocked producer
    // first: its spawn resolves `Shutdown` while the worker is still busy.
    let closer = std::thread::spawn(move || drop(gate));
    assert_eq!(rx.recv_timeout(common::LIMIT), Ok(Err(TaskError::Shutdown)));
    release.open();
    closer.join().unwrap();
    producer.join().unwrap();
    assert_eq!((get(blocker), get(first)), (Ok(()), Err(TaskError::Shutdown)));
}

#[test]
fn inside_spawn_at_the_bound_does_not_deadlock_with_one_worker() {
    let gate = Coordinator::builder().workers(1).max_queued(1).build().unwrap();
    let kids = Op::new("kid");
    let t = gate.spawn(&Op::new("parent"), move || {
        let tokens: Vec<_> = (0..16u32).map(|i| tokengate::spawn(&kids, move || i)).collect();
        tokens.into_iter().map(|t| t.wait().unwrap()).sum::<u32>()
    });
    assert_eq!(get(t), Ok((0..16).sum()));
    assert_eq!(gate.queued(), 0);
}

#[test]
fn deadlines_expire_and_never_run() {
    let gate = pool(1);
    let (release, blocker) = occupy(&gate);
    let ran = Arc::new(AtomicUsize::new(0));
    let late = Op::new("late").deadline(Duration::from_millis(2));
    let r = Arc::clone(&ran);
    let expired = gate.spawn(&late, move || {
        r.fetch_add(1, SeqCst);
    });
    let in_time = gate.spawn(&Op::new("in-time").deadline(Duration::from_secs(60)), || 9);
    let spawned = Instant::now();
    while spawned.elapsed() < Duration::from_millis(10) {
        std::thread::yield_now();
    }
    release.open();
    get(blocker).unwrap();
    spin_until("expired", || expired.is_finished());
    assert_eq!(expired.status().state, TaskState::Expired);
    assert_eq!(get(expired), Err(TaskError::Expired));
    assert_eq!(get(in_time), Ok(9));
    assert_eq!(ran.load(SeqCst), 0);
    // The deadline survives later builder calls.
    let op = Op::new("kept")
        .deadline(Duration::from_millis(3))
        .weight(tokengate::Weight::Light);
    assert_eq!(op.deadline_of(), Some(Duration::from_millis(3)));
}

#[test]
fn a_waiter_expires_a_held_task_at_its_deadline() {
    // Paused, the task waits in a held list where no worker meets it: its waiter
    // resolves it `Expired` at the deadline (no resume needed), and it never runs.
    // The worker must hold it before the deadline; on a loaded machine it may meet
    // the task only after (it then expires it itself), so that attempt starts over.
    let (gate, t, ran) = (0..5)
        .find_map(|_| {
            let gate = pool(1);
            gate.pause();
            let ran = Arc::new(AtomicUsize::new(0));
            let r = Arc::clone(&ran);
            let op = Op::new("held-late").deadline(Duration::from_millis(20));
            let t = gate.spawn(&op, move || {
                r.fetch_add(1, SeqCst);
            });
            spin_until("held or expired", || gate.held() == 1 || t.is_finished());
            (gate.held() == 1).then_some((gate, t, ran))
        })
        .expect("in 5 attempts, the worker never held the task before its deadline");
    let waited = Instant::now();
    assert!(
        t.wait_timeout(Duration::from_secs(20)),
        "the waiter waited for a resume instead of expiring the task"
    );
    assert!(waited.elapsed() < Duration::from_secs(20));
    assert_eq!(t.status().state, TaskState::Expired);
    assert_eq!(get(t), Err(TaskError::Expired));
    gate.resume();
    spin_until("released", || gate.held() == 0 && gate.queued() == 0);
    assert_eq!(ran.load(SeqCst), 0, "an expired task ran");
    // Counted once, as expired, when the held list let go of it.
    spin_until("counted", || {
        gate.metrics().op("held-late").is_some_and(|m| m.expired == 1)
    });
    let m = gate.metrics().op("held-late").unwrap();
    assert_eq!((m.submitted, m.completed, m.cancelled), (1, 0, 0));
}

#[test]
fn status_by_id_finds_a_task_wherever_it_is() {
    let gate = pool(1);
    // Running: the only worker runs `blocker`, and publishes it.
    let (release, blocker) = occupy(&gate);
    let running = gate.status(blocker.id()).expect("a running task is found");
    assert_eq!(
        (running.op, running.state, running.worker),
        ("blocker", TaskState::Running, Some(0))
    );
    // Queued behind it, then held once its op is paused.
    let queued = gate.spawn(&Op::new("by-id"), || 5);
    let s = gate.status(queued.id()).expect("a queued task is found");
    assert_eq!((s.op, s.state, s.worker), ("by-id", TaskState::Queued, None));
    assert!(s.queued.is_some() && s.started.is_none());
    gate.pause_op("by-id");
    assert_eq!(gate.status(queued.id()).map(|s| s.state), Some(TaskState::Held));
    // The lookup takes nothing away: the task still runs once resumed.
    gate.resume_op("by-id");
    release.open();
    get(blocker).unwrap();
    let id = queued.id();
    assert_eq!(get(queued), Ok(5));
    // Finished: from the history, with ordered times.
    let done = gate.status(id).expect("a finished task is in the history");
    assert_eq!(
        (done.op, done.state, done.worker),
        ("by-id", TaskState::Finished, Some(0))
    );
    let (q, st, f) = (done.queued.unwrap(), done.started.unwrap(), done.finished.unwrap());
    assert!(q <= st && st <= f);
    // Cancelled by id, then looked up.
    gate.pause();
    let doomed = gate.spawn(&Op::new("by-id"), || 6);
    assert!(gate.cancel(doomed.id()));
    assert_eq!(gate.status(doomed.id()).map(|s| s.state), Some(TaskState::Cancelled));
    gate.resume();
    assert!(gate.status(u64::MAX).is_none());
    assert!(gate.status(0).is_none());
}

#[test]
fn sweeps_under_own_lanes_give_children_back_to_their_waiter() {
    // Under `HelpPolicy::OwnLanes` a waiting task runs only its own lanes' work: a
    // sweep (here a status lookup) must put its child back there, not on the
    // injector, or the wait never ends on one worker.
    let gate = Coordinator::builder()
        .workers(1)
        .help_policy(tokengate::HelpPolicy::OwnLanes)
        .build()
        .unwrap();
    let h = gate.handle();
    let parent = gate.spawn(&Op::new("parent"), move || {
        let child = tokengate::spawn(&Op::new("child"), || 3);
        let seen = h.status(child.id()).map(|s| s.state);
        assert_eq!(seen, Some(TaskState::Queued));
        assert_eq!(h.drain_op("nothing-queued"), 0);
        child.wait().unwrap()
    });
    assert_eq!(get(parent), Ok(3));
}

#[test]
fn status_by_id_of_a_task_cancelled_in_its_queue() {
    let gate = pool(1);
    gate.pause();
    let t = gate.spawn(&Op::new("cancelled-in-queue"), || ());
    spin_until("held", || gate.held() == 1);
    assert!(t.cancel());
    // Still in the held list (no worker met it), but resolved.
    assert_eq!(gate.status(t.id()).map(|s| s.state), Some(TaskState::Cancelled));
    gate.resume();
    assert_eq!(get(t), Err(TaskError::Cancelled));
}

#[test]
fn status_moves_through_its_states_with_ordered_times() {
    let gate = pool(1);
    let (release, blocker) = occupy(&gate);
    let inside = Latch::new();
    let go = Latch::new();
    let (i, g) = (Arc::clone(&inside), Arc::clone(&go));
    let t = gate.spawn(&Op::new("watched"), move || {
        i.open();
        g.wait();
        3
    });
    let s = t.status();
    assert_eq!(
        (s.id, s.op, s.state, s.worker),
        (t.id(), "watched", TaskState::Queued, None)
    );
    assert!(s.queued.is_some() && s.started.is_none() && s.finished.is_none());
    release.open();
    get(blocker).unwrap();
    inside.wait();
    let s = t.status();
    assert_eq!((s.state, s.worker), (TaskState::Running, Some(0)));
    assert!(s.queued.unwrap() <= s.started.unwrap() && s.finished.is_none());
    go.open();
    spin_until("finished", || t.is_finished());
    let s = t.status();
    assert_eq!(s.state, TaskState::Finished);
    assert!(s.queued <= s.started && s.started <= s.finished);
    assert_eq!(get(t), Ok(3));
    let p = gate.spawn(&Op::new("watched"), || panic!("model: boom"));
    spin_until("panicked", || p.is_finished());
    assert_eq!(p.status().state, TaskState::Panicked);
    gate.pause();
    let c = gate.spawn(&Op::new("watched"), || 0);
    assert!(c.cancel());
    let s = c.status();
    assert_eq!((s.state, s.started), (TaskState::Cancelled, None));
    assert!(s.finished.is_some());
    gate.resume();
}

#[test]
fn shutdown_while_paused_resolves_every_token() {
    let gate = pool(2);
    let ran = Arc::new(AtomicUsize::new(0));
    gate.pause_op("paused-at-shutdown");
    let paused = counting(&Op::new("paused-at-shutdown"), &gate, &ran, 40);
    let free = gate.spawn(&Op::new("free-at-shutdown"), || 1);
    gate.shutdown();
    assert_eq!(get(free), Ok(1), "graceful shutdown still runs unpaused work");
    for t in paused {
        assert_eq!(get(t), Err(TaskError::Shutdown));
    }
    assert_eq!(ran.load(SeqCst), 0);
}

#[test]
fn drop_while_paused_resolves_every_token() {
    let gate = pool(2);
    let ran = Arc::new(AtomicUsize::new(0));
    gate.pause();
    let tokens = counting(&Op::new("paused-at-drop"), &gate, &ran, 40);
    spin_until("some held", || gate.held() > 0);
    drop(gate);
    for t in tokens {
        assert_eq!(get(t), Err(TaskError::Shutdown));
    }
    assert_eq!(ran.load(SeqCst), 0);
}

/// Drain of many queued tasks; `TOKENGATE_DRAIN_N` sets the size (the note's
/// figure is for 1,000,000).
#[test]
fn drain_of_many_queued_tasks() {
    let n: usize = std::env::var("TOKENGATE_DRAIN_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let gate = pool(1);
    let (release, blocker) = occupy(&gate);
    let op = Op::new("many");
    let tokens: Vec<_> = (0..n).map(|_| gate.spawn(&op, || ())).collect();
    let start = Instant::now();
    assert_eq!(gate.drain(), n);
    eprintln!("drained {n} queued tasks in {:?}", start.elapsed());
    release.open();
    get(blocker).unwrap();
    assert!(tokens.into_iter().all(|t| t.wait() == Err(TaskError::Cancelled)));
}

fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = tokengate::join(|| fib(n - 1), || fib(n - 2));
    a + b
}

/// Drains racing fork-join: the sweep takes `join`'s stack jobs out of worker lanes
/// and puts them back (never cancels them); every token resolves, each either with
/// the right value or `Cancelled`, and the counts add up.
#[test]
fn drains_racing_fork_join_lose_nothing() {
    let gate = pool(2);
    let op = Op::new("fib-drained");
    let tokens: Vec<_> = (0..40).map(|_| gate.spawn(&op, || fib(16))).collect();
    let mut drained = 0;
    while !tokens.iter().all(|t| t.is_finished()) {
        drained += gate.drain_op("fib-drained");
    }
    let mut cancelled = 0;
    for t in tokens {
        match get(t) {
            Ok(v) => assert_eq!(v, 987),
            Err(TaskError::Cancelled) => cancelled += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(drained, cancelled);
}

#[test]
fn a_drop_that_drains_during_a_drain_does_not_hang() {
    // A drained closure's destructor runs on the sweeping thread; a drain from there
    // would wait for itself. It panics instead (contained), and the outer drain ends.
    struct DrainsOnDrop(tokengate::Handle, Arc<AtomicBool>);
    impl Drop for DrainsOnDrop {
        fn drop(&mut self) {
            let inner = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.0.drain()));
            self.1.store(inner.is_err(), SeqCst);
        }
    }
    let gate = pool(1);
    gate.pause();
    let refused = Arc::new(AtomicBool::new(false));
    let guard = DrainsOnDrop(gate.handle(), Arc::clone(&refused));
    let t = gate.spawn(&Op::new("drains-on-drop"), move || drop(guard));
    let h = gate.handle();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(h.drain()).unwrap());
    assert_eq!(rx.recv_timeout(Duration::from_secs(20)), Ok(1), "the outer drain hung");
    assert!(refused.load(SeqCst), "the inner drain was refused with a panic");
    assert_eq!(get(t), Err(TaskError::Cancelled));
    gate.resume();
    assert_eq!(gate.spawn(&Op::new("after"), || 4).wait(), Ok(4));
}
