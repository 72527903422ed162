//! Helpers for the locality tests (`sticky.rs`, `domains.rs`): a coordinator that is
//! leaked instead of joined when a test fails, bounded waits, and anchor-slot checks.

use std::collections::BTreeSet;
use std::ops::Deref;
use std::sync::mpsc::Receiver;

use tokengate::{current_worker, Coordinator, Token, Weight};

// The shared bounded waits, under the names the locality tests use. Like the
// `dead_code` allowance in `mod.rs`: not every test crate uses every helper.
#[allow(unused_imports)]
pub use super::get as finish;
/// Polls `cond` (bounded by `LIMIT`). Only for counters that are bumped just after a
/// token resolves (worker statistics), never for ordering tasks.
#[allow(unused_imports)]
pub use super::spin_until as eventually;
use super::LIMIT;

/// A coordinator that shuts down gracefully when the test passes, and is leaked when
/// it fails (a worker stuck by a bug would make joining it hang the test run).
pub struct Gate(Option<Coordinator>);

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

pub fn gate(workers: usize) -> Gate {
    gate_with(Coordinator::builder().workers(workers).pin_workers(false))
}

pub fn gate_with(builder: tokengate::Builder) -> Gate {
    Gate(Some(builder.build().expect("coordinator builds")))
}

/// Waits (bounded) for a token that must succeed.
pub fn ok<T>(token: Token<T>) -> T {
    let id = token.id();
    match finish(token) {
        Ok(v) => v,
        Err(e) => panic!("token {id} failed: {e}"),
    }
}

pub fn recv<T>(rx: &Receiver<T>) -> T {
    rx.recv_timeout(LIMIT).expect("message did not arrive within the limit")
}

pub fn here() -> usize {
    current_worker().expect("runs on a worker")
}

/// The anchor-table slot of an anchor, mirroring the crate's FNV-1a hash and its
/// 1024-slot table. Used only to check that the anchors a test needs apart really
/// are distinct (anchors sharing a slot share a pin, by design).
pub fn anchor_slot(anchor: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in anchor.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h & 1023
}

pub fn assert_distinct_slots(anchors: &[&str]) {
    let slots: BTreeSet<u64> = anchors.iter().map(|a| anchor_slot(a)).collect();
    assert_eq!(
        slots.len(),
        anchors.len(),
        "test precondition: anchors {anchors:?} must not share a table slot"
    );
}

pub fn all_zero(v: &[usize]) -> bool {
    v.iter().all(|&n| n == 0)
}

pub fn is_lower_hex_64(seed: &str) -> bool {
    seed.len() == 64 && seed.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub const WEIGHTS: [Weight; 3] = [Weight::Light, Weight::Medium, Weight::Heavy];
