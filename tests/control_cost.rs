//! The control plane's cost when unused (and with `max_queued`): a burst and a
//! pingpong small enough to run under `valgrind --tool=callgrind`, whose instruction
//! counts the note compares before and after. Without `CONTROL_COST` it is a quick
//! smoke run.
//!
//! ```sh
//! CONTROL_COST=burst valgrind --tool=callgrind --separate-threads=yes \
//!     target/release/deps/control_cost-* --exact cost_scenario --test-threads=1
//! ```
//! `CONTROL_COST=burst|pingpong`, `CONTROL_N` tasks (default 20000),
//! `CONTROL_MAXQ=n` builds the pool with `max_queued(n)`.

use tokengate::{Coordinator, Op, Weight};

fn tiny(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

#[test]
fn cost_scenario() {
    let mode = std::env::var("CONTROL_COST").unwrap_or_default();
    let n: u64 = std::env::var("CONTROL_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut builder = Coordinator::builder().workers(1);
    if let Some(q) = std::env::var("CONTROL_MAXQ").ok().and_then(|v| v.parse().ok()) {
        builder = builder.max_queued(q);
    }
    let gate = builder.build().unwrap();
    let op = Op::new("cost").weight(Weight::Light);
    let mut acc = 0u64;
    if mode != "pingpong" {
        let tokens: Vec<_> = (0..n).map(|i| gate.spawn(&op, move || tiny(i))).collect();
        acc = tokens
            .into_iter()
            .map(|t| t.wait().unwrap())
            .fold(acc, u64::wrapping_add);
    }
    if mode != "burst" {
        acc = (0..n)
            .map(|i| gate.spawn(&op, move || tiny(i)).wait().unwrap())
            .fold(acc, u64::wrapping_add);
    }
    assert_ne!(acc, 1);
}
