//! Locality: sticky anchors.
//!
//! Every test synchronises with channels, latches and tokens, never with `sleep`.
//! Every wait is bounded (`LIMIT`), so a scheduler bug fails a test instead of
//! hanging it; on failure the coordinator is leaked rather than joined, because a
//! stuck worker would make joining hang too.

mod common;

use std::collections::BTreeSet;
use std::sync::mpsc::channel;
use std::sync::Arc;

use common::locality::{all_zero, assert_distinct_slots, eventually, finish, gate, here, ok, recv, WEIGHTS};
use common::{Latch, LIMIT};
use tokengate::{Op, TaskError, Token};

/// While the tokens of an anchor are all active (the first one holds its worker), every
/// one of them runs on the anchor's worker, whether it is spawned from outside the pool
/// or from a free task running on another worker, and whatever its weight.
#[test]
fn all_active_tokens_of_an_anchor_run_on_one_worker() {
    let gate = gate(4);
    let anchors = ["alpha", "beta", "gamma"];
    assert_distinct_slots(&anchors);
    let latch = Latch::new();
    let (started_tx, started_rx) = channel();

    // One blocker per anchor: pins the anchor and keeps it active until the end.
    let mut blockers = Vec::new();
    for a in anchors {
        let op = Op::new("blocker").sticky_anchor(a);
        let (latch, tx) = (Arc::clone(&latch), started_tx.clone());
        blockers.push(gate.spawn(&op, move || {
            tx.send((a, here())).unwrap();
            latch.wait();
            here()
        }));
    }
    let mut pinned_to = std::collections::BTreeMap::new();
    for _ in anchors {
        let (a, w) = recv(&started_rx);
        pinned_to.insert(a, w);
    }
    for a in anchors {
        assert_eq!(gate.anchor_worker(a), Some(pinned_to[a]), "anchor {a}");
    }
    // Three anchors on four idle workers: each placed on its own least-loaded worker.
    let used: BTreeSet<usize> = pinned_to.values().copied().collect();
    assert_eq!(used.len(), 3, "anchors were not spread by load: {pinned_to:?}");
    let free_worker = (0..4).find(|w| !used.contains(w)).unwrap();

    // Many more tokens per anchor, of every weight: from outside, and from free tasks
    // (which can only run on the one unblocked worker).
    let mut tokens: Vec<(&str, Token<usize>)> = Vec::new();
    for i in 0..60 {
        for a in anchors {
            let op = Op::new("sticky").weight(WEIGHTS[i % 3]).sticky_anchor(a);
            tokens.push((a, gate.spawn(&op, here)));
        }
    }
    let handle = gate.handle();
    let spawners: Vec<_> = (0..20)
        .map(|i| {
            let handle = handle.clone();
            gate.spawn(&Op::new("spawner"), move || {
                let at = here();
                let inner: Vec<(&str, Token<usize>)> = ["alpha", "beta", "gamma"]
                    .into_iter()
                    .map(|a| {
                        let op = Op::new("sticky").weight(WEIGHTS[i % 3]).sticky_anchor(a);
                        (a, handle.spawn(&op, here))
                    })
                    .collect();
                (at, inner)
            })
        })
        .collect();
    for s in spawners {
        let (at, inner) = ok(s);
        assert_eq!(at, free_worker, "a free task ran on a blocked worker");
        tokens.extend(inner);
    }
    // Everything is still queued behind the blockers.
    assert!(tokens.iter().all(|(_, t)| !t.is_finished()));
    let stats = gate.locality_stats();
    assert_eq!(stats.pinned_anchor_slots, 3);
    for a in anchors {
        assert_eq!(stats.pinned_tasks[pinned_to[a]], 1 + 60 + 20, "anchor {a}");
    }
    assert_eq!(stats.pinned_tasks[free_worker], 0);

    latch.open();
    for (a, b) in anchors.iter().zip(blockers) {
        assert_eq!(ok(b), pinned_to[a]);
    }
    for (a, t) in tokens {
        assert_eq!(ok(t), pinned_to[a], "a token of anchor {a} ran elsewhere");
    }
    for a in anchors {
        assert_eq!(gate.anchor_worker(a), None, "anchor {a} still pinned");
    }
    let stats = gate.locality_stats();
    assert_eq!(stats.pinned_anchor_slots, 0);
    assert!(all_zero(&stats.pinned_tasks), "{stats:?}");
}

/// The first tokens of two anchors land on different workers when both are idle.
#[test]
fn first_tokens_of_different_anchors_go_to_the_least_loaded_worker() {
    let gate = gate(2);
    assert_distinct_slots(&["left", "right"]);
    let latch = Latch::new();
    let spawn_held = |anchor: &'static str| {
        let latch = Arc::clone(&latch);
        gate.spawn(&Op::new("held").sticky_anchor(anchor), move || {
            latch.wait();
            here()
        })
    };
    let (l, r) = (spawn_held("left"), spawn_held("right"));
    let (wl, wr) = (gate.anchor_worker("left"), gate.anchor_worker("right"));
    assert!(wl.is_some() && wr.is_some());
    assert_ne!(wl, wr, "two new anchors were pinned to the same worker");
    assert_eq!(gate.locality_stats().pinned_tasks, vec![1, 1]);
    latch.open();
    assert_eq!(Some(ok(l)), wl);
    assert_eq!(Some(ok(r)), wr);
}

/// Two workers. The anchor's worker is blocked by the anchor's first task; more tasks of
/// the anchor queue up behind it (light ones, which thieves take in batches, and heavy
/// ones, which they take one by one). The other worker stays idle apart from hundreds of
/// probe tasks, each of which gives it another search-and-steal round; none of the
/// sticky tasks may move. When the blocker is released, all of them run on the pinned
/// worker and no worker has stolen anything.
#[test]
fn sticky_tasks_are_not_stolen_while_the_other_worker_idles() {
    let gate = gate(2);
    let before = gate.worker_stats();
    let latch = Latch::new();
    let (tx, rx) = channel();
    let blocker = {
        let latch = Arc::clone(&latch);
        gate.spawn(&Op::new("blocker").sticky_anchor("hot"), move || {
            tx.send(here()).unwrap();
            latch.wait();
            here()
        })
    };
    let pinned = recv(&rx);
    let other = 1 - pinned;
    assert_eq!(gate.anchor_worker("hot"), Some(pinned));

    let mut queued: Vec<Token<usize>> = (0..40)
        .map(|i| {
            let op = Op::new("hot_task").weight(WEIGHTS[i % 3]).sticky_anchor("hot");
            gate.spawn(&op, here)
        })
        .collect();

    // Probes: free tasks, so they can only run on `other`. Each one also spawns a sticky
    // task from inside the pool, which must go to the pinned worker, not `other`'s lanes.
    let handle = gate.handle();
    for i in 0..300 {
        let handle = handle.clone();
        let probe = gate.spawn(&Op::new("probe").weight(WEIGHTS[i % 3]), move || {
            let op = Op::new("hot_child").weight(WEIGHTS[i % 3]).sticky_anchor("hot");
            (here(), handle.spawn(&op, here))
        });
        let (at, child) = ok(probe);
        assert_eq!(at, other, "a free probe ran on the blocked worker");
        queued.push(child);
        if let Some(k) = queued.iter().position(Token::is_finished) {
            panic!("sticky task #{k} finished while its worker was blocked: it was stolen");
        }
    }
    let stats = gate.locality_stats();
    assert_eq!(stats.pinned_tasks[pinned], 1 + 40 + 300);
    assert_eq!(stats.pinned_tasks[other], 0);

    latch.open();
    assert_eq!(ok(blocker), pinned);
    for (k, t) in queued.into_iter().enumerate() {
        assert_eq!(ok(t), pinned, "sticky task #{k} ran on the wrong worker");
    }
    assert_eq!(gate.anchor_worker("hot"), None);

    // `executed` is bumped just after a task publishes its result: poll for it.
    let delta =
        |s: &[tokengate::WorkerStats], w: usize| (s[w].executed - before[w].executed, s[w].stolen - before[w].stolen);
    eventually("executed counters", || {
        let s = gate.worker_stats();
        delta(&s, pinned).0 >= 341 && delta(&s, other).0 >= 300
    });
    let after = gate.worker_stats();
    assert_eq!(delta(&after, pinned), (341, 0), "pinned worker: (executed, stolen)");
    assert_eq!(delta(&after, other), (300, 0), "other worker: (executed, stolen)");
}

/// A finished token releases its anchor before its result is visible, and a pin is
/// held, not released early, while another token of the anchor is active.
#[test]
fn anchor_is_released_after_completion() {
    let gate = gate(2);
    let op = Op::new("sticky").sticky_anchor("done");
    assert_eq!(gate.anchor_worker("done"), None);

    // Sequential tokens: each one pins and releases; nothing leaks.
    for _ in 0..200 {
        assert!(ok(gate.spawn(&op, here)) < 2);
        assert_eq!(gate.anchor_worker("done"), None);
    }
    let stats = gate.locality_stats();
    assert_eq!(stats.pinned_anchor_slots, 0);
    assert!(all_zero(&stats.pinned_tasks), "{stats:?}");

    // A finishes while B is still active (blocked): the pin stays, then goes with B.
    let (first, second) = (Latch::new(), Latch::new());
    let a = {
        let first = Arc::clone(&first);
        gate.spawn(&op, move || {
            first.wait();
            here()
        })
    };
    let b = {
        let second = Arc::clone(&second);
        gate.spawn(&op, move || {
            second.wait();
            here()
        })
    };
    let w = gate.anchor_worker("done").expect("pinned while active");
    assert_eq!(gate.locality_stats().pinned_tasks[w], 2);
    first.open();
    assert_eq!(ok(a), w);
    assert_eq!(gate.anchor_worker("done"), Some(w), "released while B is active");
    assert_eq!(gate.locality_stats().pinned_tasks[w], 1);
    second.open();
    assert_eq!(ok(b), w);
    assert_eq!(gate.anchor_worker("done"), None);
    let stats = gate.locality_stats();
    assert_eq!(stats.pinned_anchor_slots, 0);
    assert!(all_zero(&stats.pinned_tasks), "{stats:?}");
}

/// A panicking token releases its pin exactly like a completed one.
#[test]
fn anchor_is_released_after_a_panic() {
    let gate = gate(2);
    let op = Op::new("sticky").sticky_anchor("boom");

    // The only active token panics: released.
    let t = gate.spawn(&op, || -> usize { panic!("sticky failure") });
    let err = finish(t).unwrap_err();
    assert!(matches!(err, TaskError::Panicked { ref message } if message == "sticky failure"));
    assert_eq!(gate.anchor_worker("boom"), None);
    assert_eq!(gate.locality_stats().pinned_anchor_slots, 0);

    // A panics while B is active: still pinned; then B finishes: released.
    let (first, second) = (Latch::new(), Latch::new());
    let a = {
        let first = Arc::clone(&first);
        gate.spawn(&op, move || -> usize {
            first.wait();
            panic!("first one fails")
        })
    };
    let b = {
        let second = Arc::clone(&second);
        gate.spawn(&op, move || {
            second.wait();
            here()
        })
    };
    let w = gate.anchor_worker("boom").expect("pinned while active");
    first.open();
    assert!(matches!(finish(a), Err(TaskError::Panicked { .. })));
    assert_eq!(gate.anchor_worker("boom"), Some(w), "released while B is active");
    assert_eq!(gate.locality_stats().pinned_tasks[w], 1);
    second.open();
    assert_eq!(ok(b), w, "the worker went on after the panic, on the same pin");
    assert_eq!(gate.anchor_worker("boom"), None);
    let stats = gate.locality_stats();
    assert_eq!(stats.pinned_anchor_slots, 0);
    assert!(all_zero(&stats.pinned_tasks), "{stats:?}");
}

/// Cancelling a queued token releases its share of the pin at once: the anchor stays
/// pinned while others are active and is released with the last one.
#[test]
fn anchor_is_released_after_cancellation() {
    // One worker, held by a free blocker, so every sticky token stays queued.
    let gate = gate(1);
    let latch = Latch::new();
    let (tx, rx) = channel();
    let blocker = {
        let latch = Arc::clone(&latch);
        gate.spawn(&Op::new("blocker"), move || {
            tx.send(()).unwrap();
            latch.wait();
        })
    };
    // Started, so it holds the worker (pinned work would otherwise be searched first).
    recv(&rx);
    let op = Op::new("sticky").sticky_anchor("cancel_me");
    let never = || -> usize { panic!("a cancelled task ran") };
    let (x, y, z) = (gate.spawn(&op, never), gate.spawn(&op, never), gate.spawn(&op, here));
    assert_eq!(gate.anchor_worker("cancel_me"), Some(0));
    assert_eq!(gate.locality_stats().pinned_tasks, vec![3]);

    assert!(x.cancel());
    assert_eq!(finish(x), Err(TaskError::Cancelled));
    assert_eq!(gate.anchor_worker("cancel_me"), Some(0), "released early");
    assert_eq!(gate.locality_stats().pinned_tasks, vec![2]);

    assert!(y.cancel());
    assert_eq!(finish(y), Err(TaskError::Cancelled));
    assert_eq!(gate.anchor_worker("cancel_me"), Some(0), "released early");

    // The last active token is cancelled: released immediately, before the worker
    // is even free.
    assert!(z.cancel());
    assert_eq!(gate.anchor_worker("cancel_me"), None);
    assert_eq!(finish(z), Err(TaskError::Cancelled));
    let stats = gate.locality_stats();
    assert_eq!(stats.pinned_anchor_slots, 0);
    assert_eq!(stats.pinned_tasks, vec![0]);

    // Cancelling a finished token changes nothing (no double release).
    let done = gate.spawn(&op, here);
    assert!(done.cancel(), "queued behind the blocker, so it cancels");
    latch.open();
    ok(blocker);
    let ran = gate.spawn(&op, here);
    assert!(ran.wait_timeout(LIMIT));
    assert!(!ran.cancel(), "a finished token cannot be cancelled");
    assert_eq!(ok(ran), 0);
    let stats = gate.locality_stats();
    assert_eq!(stats.pinned_anchor_slots, 0);
    assert_eq!(stats.pinned_tasks, vec![0]);
    assert_eq!(finish(done), Err(TaskError::Cancelled));
}

/// Once released, an anchor is placed anew by load: its old worker is not remembered.
#[test]
fn released_anchor_is_placed_anew_by_load() {
    let gate = gate(2);
    assert_distinct_slots(&["roaming", "ballast_a", "ballast_b"]);
    let (tx, rx) = channel();
    let hold = |anchor: &'static str, latch: &Arc<Latch>| {
        let (latch, tx) = (Arc::clone(latch), tx.clone());
        gate.spawn(&Op::new("ballast").sticky_anchor(anchor), move || {
            tx.send(here()).unwrap();
            latch.wait();
        })
    };
    let roaming = Op::new("roaming").sticky_anchor("roaming");

    // Load one worker; "roaming" is placed on the other one and released there.
    let latch_a = Latch::new();
    let a = hold("ballast_a", &latch_a);
    let loaded_a = recv(&rx);
    let first = ok(gate.spawn(&roaming, here));
    assert_eq!(first, 1 - loaded_a);
    assert_eq!(gate.anchor_worker("roaming"), None);

    // Now load the worker "roaming" ran on, and free the other one.
    let latch_b = Latch::new();
    let b = hold("ballast_b", &latch_b);
    assert_eq!(recv(&rx), first, "ballast B goes to the least-loaded worker");
    latch_a.open();
    ok(a);

    // The next token of "roaming" goes to the now least-loaded worker, not the old one.
    let held = Latch::new();
    let again = {
        let held = Arc::clone(&held);
        gate.spawn(&roaming, move || {
            held.wait();
            here()
        })
    };
    assert_eq!(gate.anchor_worker("roaming"), Some(loaded_a));
    held.open();
    assert_eq!(ok(again), loaded_a, "the released anchor kept its old worker");
    latch_b.open();
    ok(b);
    assert_eq!(gate.anchor_worker("roaming"), None);
}
