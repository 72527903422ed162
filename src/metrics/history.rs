//! The bounded execution history: one ring per shard, merged newest first on read.
//!
//! Each slot is a small seqlock: the writer makes its sequence odd, writes the
//! fields, then makes it even again (Release); a reader reads the sequence
//! (Acquire), the fields, then the sequence again, and skips the slot if it changed
//! or was odd. A worker's ring has one writer. The outside ring (resolutions counted
//! off the workers: drains, refusals) takes a position with `fetch_add` and claims
//! the slot's sequence with a CAS; if another writer holds that very slot (more than
//! a ring's worth of concurrent outside writers), the entry is dropped. The fields are
//! plain `std` atomics: statistics, never a synchronisation loom needs to see.

use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::Duration;

use super::{Execution, Outcome};
use crate::registry::OpId;

struct Slot {
    seq: AtomicU64,
    id: AtomicU64,
    /// op id (32 bits) | worker + 1 (24 bits, 0: none) | outcome code (8 bits).
    packed: AtomicU64,
    wait: AtomicU64,
    run: AtomicU64,
    finished: AtomicU64,
}

impl Slot {
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn write(&self, id: u64, op: OpId, worker: Option<usize>, outcome: Outcome, wait: u64, run: u64, finished: u64) {
        let worker = worker.map_or(0, |w| (w as u64 + 1) & 0xff_ffff);
        self.id.store(id, Ordering::Relaxed);
        let packed = (u64::from(op.index() as u32) << 32) | (worker << 8) | u64::from(outcome.code());
        self.packed.store(packed, Ordering::Relaxed);
        self.wait.store(wait, Ordering::Relaxed);
        self.run.store(run, Ordering::Relaxed);
        self.finished.store(finished, Ordering::Relaxed);
    }
}

pub(super) struct History {
    slots: Box<[Slot]>,
    head: AtomicU64,
    single_writer: bool,
}

impl History {
    /// A ring of at least `capacity` slots (a power of two, so a position maps to
    /// its slot with a mask).
    pub(super) fn new(capacity: usize, single_writer: bool) -> Self {
        let capacity = if capacity == 0 { 0 } else { capacity.next_power_of_two() };
        let slots = (0..capacity)
            .map(|_| Slot {
                seq: AtomicU64::new(0),
                id: AtomicU64::new(0),
                packed: AtomicU64::new(0),
                wait: AtomicU64::new(0),
                run: AtomicU64::new(0),
                finished: AtomicU64::new(0),
            })
            .collect();
        History {
            slots,
            head: AtomicU64::new(0),
            single_writer,
        }
    }

    /// `push` by a worker into its own ring (the single writer).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn push_single(
        &self,
        id: u64,
        op: OpId,
        worker: usize,
        outcome: Outcome,
        wait: u64,
        run: u64,
        finished: u64,
    ) {
        let mask = (self.slots.len() as u64).wrapping_sub(1);
        let pos = self.head.load(Ordering::Relaxed);
        let Some(slot) = self.slots.get((pos & mask) as usize) else {
            return; // no history kept
        };
        self.head.store(pos + 1, Ordering::Relaxed);
        let odd = 2 * pos + 1;
        slot.seq.store(odd, Ordering::Relaxed);
        // ORDERING: Release fence, as in `push`.
        fence(Ordering::Release);
        slot.write(id, op, Some(worker), outcome, wait, run, finished);
        // ORDERING: Release, as in `push`.
        slot.seq.store(odd + 1, Ordering::Release);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn push(
        &self,
        id: u64,
        op: OpId,
        worker: Option<usize>,
        outcome: Outcome,
        wait: u64,
        run: u64,
        finished: u64,
    ) {
        let cap = self.slots.len() as u64;
        if cap == 0 {
            return;
        }
        let pos = if self.single_writer {
            let pos = self.head.load(Ordering::Relaxed);
            self.head.store(pos + 1, Ordering::Relaxed);
            pos
        } else {
            self.head.fetch_add(1, Ordering::Relaxed)
        };
        let slot = &self.slots[(pos & (cap - 1)) as usize];
        let odd = 2 * pos + 1;
        if self.single_writer {
            slot.seq.store(odd, Ordering::Relaxed);
        } else {
            let cur = slot.seq.load(Ordering::Relaxed);
            if cur % 2 == 1
                || cur > odd
                || slot
                    .seq
                    .compare_exchange(cur, odd, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                return; // another writer holds this slot; drop the entry (module docs)
            }
        }
        // ORDERING: Release fence: a reader that sees any field below also sees the
        // odd sequence, so it knows to discard the slot.
        fence(Ordering::Release);
        slot.write(id, op, worker, outcome, wait, run, finished);
        // ORDERING: Release: a reader that loads this even sequence with Acquire sees
        // every field written above.
        slot.seq.store(odd + 1, Ordering::Release);
    }

    fn read(&self, out: &mut Vec<(u64, Execution)>) {
        for slot in self.slots.iter() {
            // ORDERING: Acquire pairs with the writer's Release store of an even sequence.
            let before = slot.seq.load(Ordering::Acquire);
            if before == 0 || before % 2 == 1 {
                continue;
            }
            let id = slot.id.load(Ordering::Relaxed);
            let packed = slot.packed.load(Ordering::Relaxed);
            let wait = slot.wait.load(Ordering::Relaxed);
            let run = slot.run.load(Ordering::Relaxed);
            let finished = slot.finished.load(Ordering::Relaxed);
            // ORDERING: Acquire fence: pairs with the writer's Release fence, so if any
            // field read above came from a newer write, the re-read sees its sequence.
            fence(Ordering::Acquire);
            if slot.seq.load(Ordering::Relaxed) != before {
                continue;
            }
            let Some(outcome) = Outcome::from_code(packed as u8) else {
                continue;
            };
            let worker = ((packed >> 8) & 0xff_ffff) as usize;
            let op = crate::registry::OpId::from_index((packed >> 32) as u32);
            out.push((
                before,
                Execution {
                    id,
                    op: op.name().to_string(),
                    worker: worker.checked_sub(1),
                    outcome,
                    queued_for: ticks(wait),
                    ran_for: ticks(run),
                    finished_raw: finished,
                },
            ));
        }
    }
}

fn ticks(t: u64) -> Duration {
    if t == 0 {
        Duration::ZERO
    } else {
        crate::clock::between(1, 1 + t)
    }
}

/// The newest `n` entries of all `rings`, newest first (by finish time, then by
/// position within a ring).
pub(super) fn merge<'a>(rings: impl Iterator<Item = &'a History>, n: usize) -> Vec<Execution> {
    let mut all = Vec::new();
    for ring in rings {
        ring.read(&mut all);
    }
    all.sort_by(|(sa, a), (sb, b)| b.finished_raw.cmp(&a.finished_raw).then(sb.cmp(sa)));
    all.truncate(n);
    all.into_iter().map(|(_, e)| e).collect()
}
