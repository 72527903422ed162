//! Scenario 2, pingpong: submit one task from outside, wait for it, repeat.

use tokengate::{Coordinator, Op, Weight};

use super::work::{mix, tiny};

/// Round trips per repetition.
pub const PINGPONG_ROUNDS: u64 = 10_000;

/// One tokengate round trip.
#[inline]
pub fn pingpong_tokengate_once(gate: &Coordinator, op: &Op, i: u64) -> u64 {
    gate.spawn(op, move || tiny(i)).wait().expect("pingpong task")
}

/// One rayon round trip (`install` from outside the pool).
#[inline]
pub fn pingpong_rayon_once(pool: &rayon::ThreadPool, i: u64) -> u64 {
    pool.install(move || tiny(i))
}

/// One tokio round trip (`block_on(spawn(..))` on the multi-thread runtime).
#[inline]
pub fn pingpong_tokio_once(rt: &tokio::runtime::Runtime, i: u64) -> u64 {
    rt.block_on(rt.spawn(async move { tiny(i) })).expect("pingpong task")
}

/// The op used by the tokengate pingpong (a Light op: the task is tiny).
pub fn pingpong_op() -> Op {
    Op::new("pingpong").weight(Weight::Light)
}

/// `n` sequential tokengate round trips.
pub fn pingpong_tokengate(gate: &Coordinator, n: u64) -> u64 {
    let op = pingpong_op();
    (0..n).map(|i| pingpong_tokengate_once(gate, &op, i)).fold(0, mix)
}

/// `n` sequential rayon round trips.
pub fn pingpong_rayon(pool: &rayon::ThreadPool, n: u64) -> u64 {
    (0..n).map(|i| pingpong_rayon_once(pool, i)).fold(0, mix)
}

/// `n` sequential tokio round trips.
pub fn pingpong_tokio(rt: &tokio::runtime::Runtime, n: u64) -> u64 {
    (0..n).map(|i| pingpong_tokio_once(rt, i)).fold(0, mix)
}
