//! The storage lane: the per-tier cap, run-time limit changes, FIFO admission, and
//! CPU work going on while storage slots are blocked.
//!
//! Each was seen to fail against a broken lane: an off-by-one cap
//! (`cap_holds_exactly_on_slow`), a limit raise that wakes nobody (`raising_...`),
//! a lowering that is ignored (`lowering_...`), storage ops routed to the CPU lanes
//! (`cpu_tasks_complete_...`, `cpu_task_waiting_...`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{get, spin_until, Latch};
use tokengate::{current_worker, Coordinator, Op, StorageSpeed, StorageStats, Weight};

fn stats(gate: &Coordinator, speed: StorageSpeed) -> StorageStats {
    gate.storage_stats()[speed as usize]
}

/// Counts tasks running at once and records the peak (atomic max).
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    fn enter(&self) -> usize {
        let n = self.now.fetch_add(1, SeqCst) + 1;
        self.peak.fetch_max(n, SeqCst);
        n
    }
    fn leave(&self) {
        self.now.fetch_sub(1, SeqCst);
    }
}

#[test]
fn cap_holds_exactly_on_slow() {
    let gate = Coordinator::builder().workers(2).build().unwrap();
    let op = Op::new("write").storage_speed(StorageSpeed::Slow);
    let gauge = Arc::new(Gauge::default());
    let tokens: Vec<_> = (0..200)
        .map(|i| {
            let g = Arc::clone(&gauge);
            gate.spawn(&op, move || {
                g.enter();
                // FIFO: the first ten run together, or this times out.
                if i < 10 {
                    spin_until("the first 10 to run at once", || g.peak.load(SeqCst) >= 10);
                }
                std::thread::sleep(Duration::from_micros(200)); // the "I/O"
                g.leave();
                current_worker()
            })
        })
        .collect();
    for t in tokens {
        assert_eq!(get(t), Ok(None), "a storage task ran on a CPU worker");
    }
    assert_eq!(gauge.peak.load(SeqCst), 10, "Slow runs exactly 10 at once");
    // A slot is given back just after its token resolves.
    spin_until("every slot given back", || {
        stats(&gate, StorageSpeed::Slow).completed == 200
    });
    let s = stats(&gate, StorageSpeed::Slow);
    assert_eq!(
        (s.limit, s.peak_active, s.completed, s.active, s.queued),
        (10, 10, 200, 0, 0)
    );
}

#[test]
fn tiers_are_independent() {
    let gate = Coordinator::builder()
        .workers(1)
        .storage_limit(StorageSpeed::Slow, 1)
        .storage_limit(StorageSpeed::Fast, 2)
        .build()
        .unwrap();
    let latch = Latch::new();
    let arrived = Arc::new(AtomicUsize::new(0));
    let block = |speed| {
        let (l, a) = (Arc::clone(&latch), Arc::clone(&arrived));
        gate.spawn(&Op::new("block").storage_speed(speed), move || {
            a.fetch_add(1, SeqCst);
            l.wait();
        })
    };
    let tokens: Vec<_> = [
        StorageSpeed::Slow,
        StorageSpeed::Slow,
        StorageSpeed::Fast,
        StorageSpeed::Fast,
    ]
    .into_iter()
    .map(block)
    .collect();
    // A full Slow tier does not hold back Fast: 1 + 2 run.
    spin_until("one Slow and two Fast tasks to run", || arrived.load(SeqCst) == 3);
    let (slow, fast) = (stats(&gate, StorageSpeed::Slow), stats(&gate, StorageSpeed::Fast));
    assert_eq!((slow.active, slow.queued, fast.active, fast.queued), (1, 1, 2, 0));
    latch.open();
    for t in tokens {
        assert_eq!(get(t), Ok(()));
    }
}

#[test]
fn cpu_tasks_complete_while_every_storage_slot_is_blocked() {
    let gate = Coordinator::builder()
        .workers(1)
        .storage_limit(StorageSpeed::Moderate, 2)
        .build()
        .unwrap();
    let io = Op::new("stuck_io").storage_speed(StorageSpeed::Moderate);
    let latch = Latch::new();
    let stuck: Vec<_> = (0..7)
        .map(|_| {
            let l = Arc::clone(&latch);
            gate.spawn(&io, move || l.wait())
        })
        .collect();
    spin_until("both slots to be taken", || {
        stats(&gate, StorageSpeed::Moderate).active == 2
    });
    // The one CPU worker is free: storage work never runs on it.
    let cpu = Op::new("cpu").weight(Weight::Light);
    let results: Vec<_> = (0..100u64).map(|i| gate.spawn(&cpu, move || i * 2)).collect();
    let sum: u64 = results.into_iter().map(|t| get(t).unwrap()).sum();
    assert_eq!(sum, 9900);
    let s = stats(&gate, StorageSpeed::Moderate);
    assert_eq!(
        (s.active, s.queued),
        (2, 5),
        "storage still blocked while CPU work finished"
    );
    latch.open();
    for t in stuck {
        assert_eq!(get(t), Ok(()));
    }
}

#[test]
fn cpu_task_waiting_on_a_storage_token_keeps_its_worker_helping() {
    let gate = Coordinator::builder().workers(1).build().unwrap();
    let latch = Latch::new();
    let in_wait = Arc::new(AtomicUsize::new(0));
    let (l, w) = (Arc::clone(&latch), Arc::clone(&in_wait));
    let parent = gate.spawn(&Op::new("parent"), move || {
        // Spawning a storage op from a CPU task only queues it.
        let io = tokengate::spawn(&Op::new("read").storage_speed(StorageSpeed::Fast), move || {
            l.wait();
            41
        });
        w.store(1, SeqCst);
        io.wait().unwrap() + 1
    });
    spin_until("the parent to wait on its storage token", || in_wait.load(SeqCst) == 1);
    // The only worker is inside `wait()`; it still runs other CPU work meanwhile.
    let others: Vec<_> = (0..20).map(|i| gate.spawn(&Op::new("other"), move || i)).collect();
    for (i, t) in others.into_iter().enumerate() {
        assert_eq!(get(t), Ok(i));
    }
    assert!(!parent.is_finished());
    latch.open();
    assert_eq!(get(parent), Ok(42));
}

#[test]
fn raising_a_limit_admits_queued_tasks_at_once() {
    let gate = Coordinator::builder()
        .workers(1)
        .storage_limit(StorageSpeed::Slow, 1)
        .build()
        .unwrap();
    let op = Op::new("io").storage_speed(StorageSpeed::Slow);
    let latch = Latch::new();
    let arrived = Arc::new(AtomicUsize::new(0));
    let tokens: Vec<_> = (0..4)
        .map(|_| {
            let (l, a) = (Arc::clone(&latch), Arc::clone(&arrived));
            gate.spawn(&op, move || {
                a.fetch_add(1, SeqCst);
                l.wait();
            })
        })
        .collect();
    spin_until("the first task to run", || arrived.load(SeqCst) == 1);
    let s = stats(&gate, StorageSpeed::Slow);
    assert_eq!((s.active, s.queued), (1, 3));
    gate.set_storage_limit(StorageSpeed::Slow, 4).unwrap();
    // All four run while the first still holds its slot.
    spin_until("all four to run at once", || arrived.load(SeqCst) == 4);
    assert_eq!(stats(&gate, StorageSpeed::Slow).active, 4);
    latch.open();
    for t in tokens {
        assert_eq!(get(t), Ok(()));
    }
}

#[test]
fn lowering_a_limit_lets_running_finish_and_admits_none_until_under_it() {
    let gate = Coordinator::builder()
        .workers(1)
        .storage_limit(StorageSpeed::Insane, 4)
        .build()
        .unwrap();
    let op = Op::new("io").storage_speed(StorageSpeed::Insane);
    let latches: Vec<_> = (0..8).map(|_| Latch::new()).collect();
    let gauge = Arc::new(Gauge::default());
    let tokens: Vec<_> = latches
        .iter()
        .map(|latch| {
            let (l, g) = (Arc::clone(latch), Arc::clone(&gauge));
            gate.spawn(&op, move || {
                g.enter();
                l.wait();
                g.leave();
            })
        })
        .collect();
    spin_until("four tasks to run", || gauge.now.load(SeqCst) == 4);
    gate.set_storage_limit(StorageSpeed::Insane, 2).unwrap();
    gauge.peak.store(0, SeqCst);
    let after = |completed: u64| {
        spin_until("the slot to be given back", || {
            stats(&gate, StorageSpeed::Insane).completed == completed
        });
        let s = stats(&gate, StorageSpeed::Insane);
        (s.active, s.queued)
    };
    latches[0].open();
    assert_eq!(after(1), (3, 4), "over the new limit: nothing admitted");
    latches[1].open();
    assert_eq!(after(2), (2, 4), "at the new limit: nothing admitted");
    latches[2].open();
    after(3);
    spin_until("under the new limit: one admitted", || {
        let s = stats(&gate, StorageSpeed::Insane);
        (s.active, s.queued) == (2, 3)
    });
    for latch in &latches[3..] {
        latch.open();
    }
    for t in tokens {
        assert_eq!(get(t), Ok(()));
    }
    assert!(gauge.peak.load(SeqCst) <= 2, "more than 2 ran after lowering");
}

#[test]
fn a_tier_admits_in_spawn_order_whatever_the_weight() {
    let gate = Coordinator::builder()
        .workers(1)
        .storage_limit(StorageSpeed::Moderate, 1)
        .build()
        .unwrap();
    let latch = Latch::new();
    let l = Arc::clone(&latch);
    let blocker = gate.spawn(&Op::new("block").storage_speed(StorageSpeed::Moderate), move || {
        l.wait()
    });
    spin_until("the blocker to run", || {
        stats(&gate, StorageSpeed::Moderate).active == 1
    });
    let order = Arc::new(Mutex::new(Vec::new()));
    let weights = [
        Weight::Heavy,
        Weight::Light,
        Weight::Medium,
        Weight::Light,
        Weight::Heavy,
    ];
    let tokens: Vec<_> = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let o = Arc::clone(&order);
            let op = Op::new("io").storage_speed(StorageSpeed::Moderate).weight(w);
            gate.spawn(&op, move || o.lock().unwrap().push(i))
        })
        .collect();
    latch.open();
    get(blocker).unwrap();
    for t in tokens {
        get(t).unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn bad_limits_are_refused_with_a_typed_error() {
    let gate = Coordinator::builder().workers(1).build().unwrap();
    let err = gate.set_storage_limit(StorageSpeed::Insane, tokengate::MAX_STORAGE_LIMIT + 1);
    assert_eq!(err.map_err(|e| e.limit), Err(tokengate::MAX_STORAGE_LIMIT + 1));
    assert_eq!(stats(&gate, StorageSpeed::Insane).limit, 70);
    assert!(Coordinator::builder()
        .storage_limit(StorageSpeed::Slow, 0)
        .build()
        .is_err());
}
