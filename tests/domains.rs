//! Locality: lead domains, and sticky ops spawned inside them.
//!
//! Every test synchronises with channels, latches and tokens, never with `sleep`.
//! Every wait is bounded (`LIMIT`), so a scheduler bug fails a test instead of
//! hanging it; on failure the coordinator is leaked rather than joined, because a
//! stuck worker would make joining hang too.

mod common;

use std::collections::BTreeSet;
use std::sync::mpsc::channel;
use std::sync::Arc;

use common::locality::{
    all_zero, assert_distinct_slots, finish, gate, gate_with, here, is_lower_hex_64, ok, recv, WEIGHTS,
};
use common::Latch;
use sha2::{Digest, Sha256};
use tokengate::{Coordinator, Handle, Op, TaskError, Token, Weight};

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
