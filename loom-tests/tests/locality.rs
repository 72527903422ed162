//! Model 9: sticky-anchor pins and lead-domain release (`src/locality.rs`).
//!
//! These drive the real `Locality::place` (what a spawn calls) and real tasks whose
//! completion releases their placement (`Placement::release` inside the task's
//! publish), from loom threads standing in for spawners and workers. The anchor
//! table has 2 slots under loom.

// The models need `--cfg tokengate_loom` (README.md); without it this file is empty,
// so `cargo clippy --workspace --all-targets` builds.
#![cfg(tokengate_loom)]

use loom::thread;
use tokengate::loom_api::{self, Locality};
use tokengate::Op;
use tokengate_loom_tests::model;

/// Model 9a: two tokens of the same anchor, spawned from two threads whose
/// `least_loaded` would pick different workers (0 and 1), each run (and so
/// released) on its thread while the other pins. Whoever pins while a token is
/// active must get that token's worker; checked right after the pin and again
/// inside the running closure (a pin never moves while active). After both finish,
/// nothing is pinned (a pin never leaks, and is never released twice: an extra
/// release would wrap the count and leave the slot "active").
#[test]
fn anchor_pin_release_race() {
    model(|| {
        let loc = Locality::new(2);
        let op = Op::new("op").sticky_anchor("a");
        let spawn_and_run = |loc: Locality, op: Op<tokengate::Sticky>, pick: usize| {
            let (placed, w) = loc.place(&op, None, move || pick);
            let w = w.expect("a sticky op is pinned");
            let seen_at_pin = loc.anchor_worker("a");
            let inner = loc.clone();
            let (task, token) = loom_api::task_placed(placed, move || inner.anchor_worker("a"));
            assert!(task.run());
            (w, seen_at_pin, token.wait().unwrap())
        };
        let (l2, o2) = (loc.clone(), op.clone());
        let other = thread::spawn(move || spawn_and_run(l2, o2, 1));
        let (wa, seen_a, inside_a) = spawn_and_run(loc.clone(), op, 0);
        let (wb, seen_b, inside_b) = other.join().unwrap();
        assert_eq!(seen_a, Some(wa), "pin moved between pin and check");
        assert_eq!(inside_a, Some(wa), "pin moved while its task ran");
        assert_eq!(seen_b, Some(wb), "pin moved between pin and check");
        assert_eq!(inside_b, Some(wb), "pin moved while its task ran");
        assert_eq!(loc.anchor_worker("a"), None, "pin leaked");
        let stats = loc.stats();
        assert_eq!(stats.pinned_anchor_slots, 0);
        assert_eq!(stats.pinned_tasks, vec![0, 0]);
    });
}

/// Model 9b: a lead domain whose members finish concurrently. The lead (run by
/// main) has a child member (run by thread 1) and a nested lead (run by thread 2),
/// which has a member of its own (run by thread 3): 4 threads, loom's maximum.
/// All joins happen before anything runs, as they would while the lead runs.
/// While a member runs its own domain cannot be released: inside the nested
/// member's closure no domain is released yet; inside the outer-domain members at
/// most the nested one is. At the end each domain was released exactly once and
/// no pinned count is left.
#[test]
fn domain_released_once() {
    model(|| {
        let loc = Locality::new(2);
        let lead_op = Op::new("lead").external_calls(["child"]);
        let child_op = Op::new("child");
        let released = |loc: &Locality| {
            let loc = loc.clone();
            move || loc.stats().domains_released
        };

        let (p, w_lead) = loc.place(&lead_op, None, || 1);
        let (lead, lead_tok) = loom_api::task_placed(p, released(&loc));
        let (p, w_child) = loc.place(&child_op, Some(&lead), || 0);
        let (child, child_tok) = loom_api::task_placed(p, released(&loc));
        let (p, _) = loc.place(&lead_op, Some(&lead), || 0);
        let (nested, nested_tok) = loom_api::task_placed(p, released(&loc));
        let (p, w_nested_child) = loc.place(&child_op, Some(&nested), || 1);
        let (nested_child, nested_child_tok) = loom_api::task_placed(p, released(&loc));
        assert_eq!(w_child, w_lead, "a member runs on its domain's worker");
        assert_eq!(w_nested_child, Some(0), "the nested domain was placed on worker 0");
        assert_eq!(loc.stats().domains_opened, 2);

        let t1 = thread::spawn(move || child.run());
        let t2 = thread::spawn(move || nested.run());
        let t3 = thread::spawn(move || nested_child.run());
        assert!(lead.run());
        assert!(t1.join().unwrap() && t2.join().unwrap() && t3.join().unwrap());

        assert!(
            lead_tok.wait().unwrap() <= 1,
            "outer domain released while its lead ran"
        );
        assert!(
            child_tok.wait().unwrap() <= 1,
            "outer domain released while a member ran"
        );
        assert!(
            nested_tok.wait().unwrap() <= 1,
            "outer domain released under a nested lead"
        );
        assert_eq!(
            nested_child_tok.wait().unwrap(),
            0,
            "a domain released while a member ran"
        );
        let stats = loc.stats();
        assert_eq!(stats.domains_released, 2, "each domain released exactly once");
        assert_eq!(stats.pinned_tasks, vec![0, 0]);
    });
}
