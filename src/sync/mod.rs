//! The one place where tokengate chooses its concurrency primitives.
//!
//! Every atomic, cell, thread, parker, waker slot and queue used by the scheduler
//! comes from here. In a normal build they are `std`, `crossbeam-deque` and
//! `atomic-waker`. Under `--cfg tokengate_loom` they become loom's model-checked
//! versions, and the crossbeam queues become a loom-visible stand-in with the same
//! semantics (`loom_deque.rs`), so the protocols built on top can be model-checked
//! unchanged. Tuning constants that loom must shrink (spin rounds, table sizes,
//! batch sizes) live in [`Tuning`], chosen per build.
//!
//! The two back-ends expose exactly the same names; see `std_impl.rs` and
//! `loom_impl.rs`.

#[cfg(not(tokengate_loom))]
mod std_impl;
#[cfg(not(tokengate_loom))]
pub(crate) use std_impl::*;

#[cfg(tokengate_loom)]
mod loom_deque;
#[cfg(tokengate_loom)]
mod loom_impl;
#[cfg(tokengate_loom)]
pub(crate) use loom_impl::*;

/// Sizes and counts that a model checker needs small and a real machine needs large.
pub(crate) struct Tuning {
    /// Rounds an idle worker searches (with back-off) before it parks.
    pub idle_spin_rounds: u32,
    /// Rounds it searches instead when its last task came after a long park (work
    /// arrives rarely: `sleep/README.md`, "Spinning and yielding").
    pub quiet_spin_rounds: u32,
    /// Rounds a blocked `wait()` spins on the token before it parks.
    pub wait_spin_rounds: u32,
    /// Slots in the sticky-anchor table (a power of two).
    pub anchor_slots: usize,
    /// Most tasks one batch steal of `Medium` work moves.
    pub medium_batch: usize,
}

impl Tuning {
    /// `wait_spin_rounds`, read through a call: it is 0 under loom, and a constant 0
    /// in a loop bound or comparison trips clippy's always-empty-range lints there.
    #[inline]
    pub(crate) fn wait_spins(&self) -> u32 {
        self.wait_spin_rounds
    }
}

/// The process-wide source of task-id blocks. It is a plain `std` atomic in both
/// back-ends: ids only need uniqueness, they order nothing, so loom need not see it.
static NEXT_ID_BLOCK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Reserves `len` consecutive ids and returns the first.
pub(crate) fn next_id_block(len: u64) -> u64 {
    NEXT_ID_BLOCK.fetch_add(len, std::sync::atomic::Ordering::Relaxed)
}
