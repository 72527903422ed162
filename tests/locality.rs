//! Locality: sticky anchors and lead domains.
//!
//! Every test synchronises with channels, latches and tokens, never with `sleep`.
//! Every wait is bounded (`LIMIT`), so a scheduler bug fails a test instead of
//! hanging it; on failure the coordinator is leaked rather than joined, because a
//! stuck worker would make joining hang too.

use std::collections::BTreeSet;
use std::ops::Deref;
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokengate::{current_worker, Coordinator, Handle, Op, TaskError, Token, Weight};

/// Upper bound for every wait in this file. Correct runs take milliseconds.
const LIMIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// A coordinator that shuts down gracefully when the test passes, and is leaked when
/// it fails (a worker stuck by a bug would make joining it hang the test run).
struct Gate(Option<Coordinator>);

impl Deref for Gate {
    type Target = Coordinator;
    fn deref(&self) -> &Coordinator {
        self.0.as_ref().expect("gate is alive")
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        if let Some(gate) = self.0.take() {
            if std::thread::panicking() {
                std::mem::forget(gate);
            } else {
                gate.shutdown();
            }
        }
    }
}

fn gate(workers: usize) -> Gate {
    gate_with(Coordinator::builder().workers(workers).pin_workers(false))
}

fn gate_with(builder: tokengate::Builder) -> Gate {
    Gate(Some(builder.build().expect("coordinator builds")))
}

/// Waits (bounded) for a token and returns its result.
fn finish<T>(token: Token<T>) -> Result<T, TaskError> {
    assert!(
        token.wait_timeout(LIMIT),
        "token {} did not finish within {LIMIT:?}",
        token.id()
    );
    token.wait()
}

/// Waits (bounded) for a token that must succeed.
fn ok<T>(token: Token<T>) -> T {
    let id = token.id();
    match finish(token) {
        Ok(v) => v,
        Err(e) => panic!("token {id} failed: {e}"),
    }
}

/// A one-shot gate that tasks block on (blocking their worker) until the test opens it.
struct Latch {
    open: Mutex<bool>,
    cv: Condvar,
}

impl Latch {
    fn new() -> Arc<Self> {
        Arc::new(Latch {
            open: Mutex::new(false),
            cv: Condvar::new(),
        })
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }

    /// Blocks until opened; panics after `LIMIT` (so a stuck test fails).
    fn wait(&self) {
        let deadline = Instant::now() + LIMIT;
        let mut open = self.open.lock().unwrap();
        while !*open {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "latch was not opened within {LIMIT:?}");
            open = self.cv.wait_timeout(open, left).unwrap().0;
        }
    }
}

fn recv<T>(rx: &Receiver<T>) -> T {
    rx.recv_timeout(LIMIT).expect("message did not arrive within the limit")
}

/// Polls `cond` (bounded by `LIMIT`). Only for counters that are bumped just after a
/// token resolves (worker statistics), never for ordering tasks.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::yield_now();
    }
}

fn here() -> usize {
    current_worker().expect("runs on a worker")
}

/// The anchor-table slot of an anchor, mirroring the crate's FNV-1a hash and its
/// 1024-slot table. Used only to check that the anchors a test needs apart really
/// are distinct (anchors sharing a slot share a pin, by design).
fn anchor_slot(anchor: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in anchor.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h & 1023
}

fn assert_distinct_slots(anchors: &[&str]) {
    let slots: BTreeSet<u64> = anchors.iter().map(|a| anchor_slot(a)).collect();
    assert_eq!(
        slots.len(),
        anchors.len(),
        "test precondition: anchors {anchors:?} must not share a table slot"
    );
}

fn all_zero(v: &[usize]) -> bool {
    v.iter().all(|&n| n == 0)
}

fn is_lower_hex_64(seed: &str) -> bool {
    seed.len() == 64 && seed.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

const WEIGHTS: [Weight; 3] = [Weight::Light, Weight::Medium, Weight::Heavy];

// ---------------------------------------------------------------------------------
// Sticky anchors
// ---------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------
// Lead domains
// ---------------------------------------------------------------------------------

/// What one child of a lead reports: where it ran, and where its grandchildren ran.
struct ChildReport {
    worker: usize,
    seed: Option<String>,
    grandchildren: Vec<(usize, Option<String>)>,
}

/// A lead body: spawns `children` children (mixed weights), each spawning
/// `grandchildren` grandchildren with some busy work, waits on all of them, and
/// returns (its own worker, the reports).
fn run_family(handle: Handle, children: usize, grandchildren: usize) -> (usize, Vec<ChildReport>) {
    let lead_worker = here();
    let tokens: Vec<Token<ChildReport>> = (0..children)
        .map(|i| {
            let h = handle.clone();
            let child = Op::new("child_op").weight(WEIGHTS[i % 3]);
            handle.spawn(&child, move || {
                let gts: Vec<Token<usize>> = (0..grandchildren)
                    .map(|j| {
                        let op = Op::new("grandchild_op").weight(WEIGHTS[j % 3]);
                        h.spawn(&op, move || {
                            std::hint::black_box(busy(2_000 + j as u64));
                            here()
                        })
                    })
                    .collect();
                let worker = here();
                std::hint::black_box(busy(5_000));
                let grandchildren = gts
                    .into_iter()
                    .map(|t| {
                        let seed = t.domain_seed();
                        (ok(t), seed)
                    })
                    .collect();
                ChildReport {
                    worker,
                    seed: None,
                    grandchildren,
                }
            })
        })
        .collect();
    let reports = tokens
        .into_iter()
        .map(|t| {
            let seed = t.domain_seed();
            let mut r = ok(t);
            r.seed = seed;
            r
        })
        .collect();
    (lead_worker, reports)
}

/// A little CPU work, so that idle workers have time to (wrongly) steal.
fn busy(n: u64) -> u64 {
    (0..n).fold(0u64, |acc, x| acc.wrapping_mul(31).wrapping_add(x ^ (acc >> 7)))
}

fn assert_family_on(lead_worker: usize, reports: &[ChildReport], seed: &str) {
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r.worker, lead_worker, "child {i} left the lead's worker");
        assert_eq!(r.seed.as_deref(), Some(seed), "child {i} has another seed");
        for (j, (w, s)) in r.grandchildren.iter().enumerate() {
            assert_eq!(*w, lead_worker, "grandchild {i}.{j} left the lead's worker");
            assert_eq!(s.as_deref(), Some(seed), "grandchild {i}.{j} seed");
        }
    }
}

/// Children and grandchildren of a lead run on the lead's worker, never stolen, even
/// though the other workers are idle; two leads at once keep their families apart.
#[test]
fn children_and_grandchildren_run_on_the_leads_worker() {
    for workers in [2, 3] {
        let gate = gate(workers);
        let before = gate.worker_stats();
        let lead = Op::new("lead_op").external_calls(["child_op", "grandchild_op"]);
        // Both leads are held until both are placed, so they must not share a worker.
        let latch = Latch::new();
        let leads: Vec<_> = (0..2)
            .map(|_| {
                let (h, latch) = (gate.handle(), Arc::clone(&latch));
                gate.spawn(&lead, move || {
                    latch.wait();
                    run_family(h, 12, 6)
                })
            })
            .collect();
        latch.open();
        let mut lead_workers = BTreeSet::new();
        for t in leads {
            let seed = t.domain_seed().expect("a lead has a seed");
            let (w, reports) = ok(t);
            assert_eq!(reports.len(), 12);
            assert_family_on(w, &reports, &seed);
            lead_workers.insert(w);
        }
        assert_eq!(lead_workers.len(), 2, "two leads shared a worker");
        let after = gate.worker_stats();
        let stolen: u64 = (0..workers).map(|w| after[w].stolen - before[w].stolen).sum();
        assert_eq!(stolen, 0, "domain work was stolen");
        let stats = gate.locality_stats();
        assert_eq!((stats.domains_opened, stats.domains_released), (2, 2));
        assert!(all_zero(&stats.pinned_tasks), "{stats:?}");
    }
}

/// A lead that waits on its children (which wait on theirs) completes with one worker
/// and with two, including heavy domain work under a heavy reservation.
#[test]
fn lead_waiting_on_its_children_does_not_deadlock() {
    let builders = [
        Coordinator::builder().workers(1).pin_workers(false),
        Coordinator::builder().workers(2).pin_workers(false),
        Coordinator::builder()
            .workers(2)
            .pin_workers(false)
            .reserve_for_light(1),
    ];
    for builder in builders {
        let gate = gate_with(builder);
        let lead = Op::new("lead_op").weight(Weight::Heavy).external_calls(["child_op"]);
        let h = gate.handle();
        let t = gate.spawn(&lead, move || run_family(h, 8, 4));
        let seed = t.domain_seed().unwrap();
        let (w, reports) = ok(t);
        assert_family_on(w, &reports, &seed);

        // Several leads at once, from another thread, each waiting on its family.
        let h = gate.handle();
        let outside = std::thread::spawn(move || {
            let leads: Vec<_> = (0..4)
                .map(|_| {
                    let h2 = h.clone();
                    h.spawn(&lead, move || run_family(h2, 4, 3))
                })
                .collect();
            leads
                .into_iter()
                .map(|t| (t.domain_seed().unwrap(), ok(t)))
                .collect::<Vec<_>>()
        });
        for (seed, (w, reports)) in outside.join().expect("outside thread") {
            assert_family_on(w, &reports, &seed);
        }
        let stats = gate.locality_stats();
        assert_eq!((stats.domains_opened, stats.domains_released), (5, 5));
    }
}

/// The domain outlives its lead while descendants are active, and is released exactly
/// once, when the last of them finishes.
#[test]
fn domain_is_released_exactly_once_after_lead_and_descendants() {
    let gate = gate(2);
    let latch = Latch::new();
    let lead = Op::new("lead_op").external_calls(["child_op"]);
    let h = gate.handle();
    let l2 = Arc::clone(&latch);
    // The lead does not wait: it returns its children's tokens.
    let t = gate.spawn(&lead, move || {
        let w = here();
        let kids: Vec<Token<usize>> = (0..3)
            .map(|_| {
                let latch = Arc::clone(&l2);
                h.spawn(&Op::new("child_op"), move || {
                    latch.wait();
                    here()
                })
            })
            .collect();
        (w, kids)
    });
    let (w, kids) = ok(t);
    let stats = gate.locality_stats();
    assert_eq!(stats.domains_opened, 1);
    assert_eq!(stats.domains_released, 0, "released while children are active");
    assert_eq!(stats.pinned_tasks[w], 3);

    latch.open();
    for k in kids {
        assert_eq!(ok(k), w);
    }
    let stats = gate.locality_stats();
    assert_eq!((stats.domains_opened, stats.domains_released), (1, 1));
    assert!(all_zero(&stats.pinned_tasks), "{stats:?}");

    // More domains: each released exactly once, so the counts stay equal.
    for _ in 0..50 {
        let h = gate.handle();
        ok(gate.spawn(&lead, move || run_family(h, 2, 2)));
    }
    let stats = gate.locality_stats();
    assert_eq!((stats.domains_opened, stats.domains_released), (51, 51));
}

/// A panicking child still leaves the domain: released exactly once, whether the lead
/// waited on the child or the panicking child was the last member.
#[test]
fn domain_is_released_exactly_once_when_a_child_panics() {
    let gate = gate(2);
    let lead = Op::new("lead_op").external_calls(["child_op"]);

    // The lead waits on its children; one panics, one has a panicking grandchild.
    let h = gate.handle();
    let t = gate.spawn(&lead, move || {
        let mut kids: Vec<Token<u64>> = (0..4)
            .map(|i| h.spawn(&Op::new("child_op"), move || busy(1_000 + i)))
            .collect();
        kids.push(h.spawn(&Op::new("child_op"), || -> u64 { panic!("child failed") }));
        let h2 = h.clone();
        kids.push(h.spawn(&Op::new("child_op"), move || {
            let g = h2.spawn(&Op::new("grandchild"), || -> u64 { panic!("grandchild failed") });
            match finish(g) {
                Err(TaskError::Panicked { .. }) => 7,
                other => panic!("grandchild should have panicked: {other:?}"),
            }
        }));
        kids.into_iter()
            .map(|k| finish(k).is_err())
            .filter(|&failed| failed)
            .count()
    });
    assert_eq!(ok(t), 1, "exactly one child panicked");
    let stats = gate.locality_stats();
    assert_eq!((stats.domains_opened, stats.domains_released), (1, 1));
    assert!(all_zero(&stats.pinned_tasks), "{stats:?}");

    // The lead returns at once; its only child panics last, after the lead is done.
    let latch = Latch::new();
    let h = gate.handle();
    let l2 = Arc::clone(&latch);
    let t = gate.spawn(&lead, move || {
        h.spawn(&Op::new("child_op"), move || -> usize {
            l2.wait();
            panic!("last member fails")
        })
    });
    let child = ok(t);
    assert_eq!(gate.locality_stats().domains_released, 1, "released early");
    latch.open();
    assert!(matches!(finish(child), Err(TaskError::Panicked { .. })));
    let stats = gate.locality_stats();
    assert_eq!(
        (stats.domains_opened, stats.domains_released),
        (2, 2),
        "released count must grow by exactly one"
    );
    assert!(all_zero(&stats.pinned_tasks), "{stats:?}");
}

/// Independent leads started together are spread over the workers by load: while
/// held, no two share a worker when another one is free.
#[test]
fn leads_started_together_spread_over_the_workers() {
    for workers in [2, 3] {
        let gate = gate(workers);
        let lead = Op::new("long_lead").weight(Weight::Heavy).external_calls(["child_op"]);
        let latch = Latch::new();
        let (tx, rx) = channel();
        let leads: Vec<_> = (0..workers)
            .map(|_| {
                let (latch, tx) = (Arc::clone(&latch), tx.clone());
                gate.spawn(&lead, move || {
                    tx.send(here()).unwrap();
                    latch.wait();
                    here()
                })
            })
            .collect();
        // Placement happens at spawn: one open domain per worker.
        assert_eq!(gate.locality_stats().pinned_tasks, vec![1; workers]);
        // And they really run at the same time, one per worker.
        let running: BTreeSet<usize> = (0..workers).map(|_| recv(&rx)).collect();
        assert_eq!(running.len(), workers, "leads shared a worker");
        latch.open();
        let finished: BTreeSet<usize> = leads.into_iter().map(ok).collect();
        assert_eq!(finished, running);
    }
}

/// Seeds are 64 lowercase hex chars (SHA-256 of the token id and the call list, as
/// documented), differ between leads, and are shared by every member of a domain.
#[test]
fn domain_seed_is_hex_sha256_and_shared_by_the_domain() {
    let gate = gate(2);
    let calls = ["fetch_user", "render"];
    let lead = Op::new("lead_op").external_calls(calls);
    let h = gate.handle();
    let a = gate.spawn(&lead, move || run_family(h, 3, 2));
    let h = gate.handle();
    let b = gate.spawn(&lead, move || run_family(h, 3, 2));
    let (sa, sb) = (a.domain_seed().unwrap(), b.domain_seed().unwrap());
    assert!(is_lower_hex_64(&sa), "{sa}");
    assert!(is_lower_hex_64(&sb), "{sb}");
    assert_ne!(sa, sb, "two leads of the same op share a seed");

    // The documented formula: SHA-256(id LE ‖ for each call: len LE ‖ bytes).
    let expected = |id: u64| {
        let mut h = Sha256::new();
        h.update(id.to_le_bytes());
        for c in calls {
            h.update((c.len() as u64).to_le_bytes());
            h.update(c.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    assert_eq!(sa, expected(a.id()));
    assert_eq!(sb, expected(b.id()));

    let (wa, ra) = ok(a);
    let (wb, rb) = ok(b);
    assert_family_on(wa, &ra, &sa);
    assert_family_on(wb, &rb, &sb);

    // Outside any domain there is no seed, sticky or not.
    assert_eq!(gate.spawn(&Op::new("child_op"), || ()).domain_seed(), None);
    assert_eq!(gate.spawn(&Op::new("s").sticky_anchor("x"), || ()).domain_seed(), None);
}

/// Inside a domain the domain wins: a sticky op spawned by a member runs on the
/// domain's worker even though its anchor is pinned elsewhere, joins the domain's seed,
/// and neither pins nor moves the anchor.
#[test]
fn sticky_op_inside_a_domain_joins_the_domain() {
    let gate = gate(2);
    assert_distinct_slots(&["shared", "fresh_anchor"]);
    let latch = Latch::new();
    let (tx, rx) = channel();
    let outside = {
        let latch = Arc::clone(&latch);
        gate.spawn(&Op::new("outside").sticky_anchor("shared"), move || {
            tx.send(here()).unwrap();
            latch.wait();
            here()
        })
    };
    let anchor_w = recv(&rx);
    assert_eq!(gate.anchor_worker("shared"), Some(anchor_w));

    let lead = Op::new("lead_op").external_calls(["sticky_child"]);
    let h = gate.handle();
    let t = gate.spawn(&lead, move || {
        let sticky = Op::new("sticky_child").sticky_anchor("shared");
        let child = h.spawn(&sticky, here);
        let seed = child.domain_seed();
        // The child did not add itself to the anchor's pin.
        let slots = h.locality_stats().pinned_anchor_slots;
        let anchor = h.anchor_worker("shared");
        let h2 = h.clone();
        let fresh = h.spawn(&Op::new("fresh").sticky_anchor("fresh_anchor"), move || {
            (here(), h2.anchor_worker("fresh_anchor"))
        });
        let fresh_seed = fresh.domain_seed();
        (here(), ok(child), seed, slots, anchor, ok(fresh), fresh_seed)
    });
    let lead_seed = t.domain_seed().unwrap();
    let (lead_w, child_w, seed, slots, anchor, (fresh_w, fresh_anchor), fresh_seed) = ok(t);
    assert_ne!(lead_w, anchor_w, "the lead was placed on the loaded worker");
    assert_eq!(child_w, lead_w, "the sticky child left the domain's worker");
    assert_eq!(seed.as_deref(), Some(lead_seed.as_str()));
    assert_eq!(slots, 1, "the sticky child pinned its anchor");
    assert_eq!(anchor, Some(anchor_w), "the sticky child moved the anchor");
    assert_eq!(fresh_w, lead_w);
    assert_eq!(fresh_anchor, None, "a domain member pinned an anchor");
    assert_eq!(fresh_seed.as_deref(), Some(lead_seed.as_str()));

    latch.open();
    assert_eq!(ok(outside), anchor_w);
    assert_eq!(gate.anchor_worker("shared"), None);
    let stats = gate.locality_stats();
    assert_eq!((stats.domains_opened, stats.domains_released), (1, 1));
    assert_eq!(stats.pinned_anchor_slots, 0);
    assert!(all_zero(&stats.pinned_tasks), "{stats:?}");
}

/// A lead spawned inside a domain opens its own domain (own seed, placed by load, own
/// members), and the outer domain is not released before the inner one.
#[test]
fn nested_lead_opens_its_own_domain() {
    let gate = gate(2);
    let outer = Op::new("outer").external_calls(["inner"]);
    let latch = Latch::new();
    let h = gate.handle();
    let l2 = Arc::clone(&latch);
    let t = gate.spawn(&outer, move || {
        let h2 = h.clone();
        let inner = Op::new("inner").external_calls(["leaf"]);
        let inner_t = h.spawn(&inner, move || {
            l2.wait();
            run_family(h2, 4, 2)
        });
        (here(), inner_t)
    });
    let outer_seed = t.domain_seed().unwrap();
    let (outer_w, inner_t) = ok(t);
    let inner_seed = inner_t.domain_seed().expect("a nested lead has a seed");
    assert!(is_lower_hex_64(&inner_seed));
    assert_ne!(inner_seed, outer_seed, "a nested lead joined its parent domain");
    let stats = gate.locality_stats();
    assert_eq!(stats.domains_opened, 2);
    assert_eq!(
        stats.domains_released, 0,
        "the outer domain was released while its nested domain is open"
    );

    latch.open();
    let (inner_w, reports) = ok(inner_t);
    assert_ne!(inner_w, outer_w, "the nested lead was not placed by load");
    assert_family_on(inner_w, &reports, &inner_seed);
    let stats = gate.locality_stats();
    assert_eq!((stats.domains_opened, stats.domains_released), (2, 2));
    assert!(all_zero(&stats.pinned_tasks), "{stats:?}");
}
