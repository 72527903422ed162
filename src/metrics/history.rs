//! The bounded execution history: one ring per shard, merged newest first on read.
//! Every execution is written (no sampling); a ring keeps the newest `capacity`
//! (rounded up to a power of two, so a position maps to its slot with a mask).
//!
//! Each slot is a small seqlock: the writer makes its sequence odd, writes the
//! fields, then makes it even again (Release); a reader reads the sequence
//! (Acquire), the fields, then the sequence again, and skips the slot if it changed
//! or was odd. A worker's ring has one writer: it takes positions with a load and a
//! store of `head`, and stores the sequence without a CAS. The outside ring
//! (resolutions counted off the workers: drains, refusals, storage threads) takes a
//! position with `fetch_add` and claims the slot's sequence with a CAS; if another
//! writer holds that very slot (more than a ring's worth of concurrent outside
//! writers), the entry is dropped. The fields are plain `std` atomics: statistics,
//! never a synchronisation loom needs to see.

use std::sync::atomic::{fence, AtomicU64, Ordering};

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

/// The worker bits of `Slot::packed`.
fn worker_tag(worker: Option<usize>) -> u64 {
    worker.map_or(0, |w| ((w as u64 + 1) & 0xff_ffff) << 8)
}

impl Slot {
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn write(&self, id: u64, base: u64, outcome: Outcome, wait: u64, run: u64, finished: u64) {
        self.id.store(id, Ordering::Relaxed);
        let packed = base | u64::from(outcome.code());
        self.packed.store(packed, Ordering::Relaxed);
        self.wait.store(wait, Ordering::Relaxed);
        self.run.store(run, Ordering::Relaxed);
        self.finished.store(finished, Ordering::Relaxed);
    }
}

pub(super) struct History {
    /// At least one slot (a power of two), even when no history is kept, so a
    /// worker maps a position to its slot with `mask` and no other check.
    slots: Box<[Slot]>,
    /// `slots.len() - 1`.
    mask: u64,
    /// The next position to write.
    head: AtomicU64,
    /// `Some(worker)`: a worker's ring, one writer; `None`: the outside ring.
    worker: Option<usize>,
    /// `worker_tag(worker)`, precomputed.
    tag: u64,
    /// False if no history is kept: the outside ring then writes nothing (a worker,
    /// which only writes when recording, writes its one slot, never read).
    keep: bool,
}

impl History {
    /// A ring of at least `capacity` slots (a power of two, so a position maps to
    /// its slot with a mask).
    pub(super) fn new(capacity: usize, worker: Option<usize>) -> Self {
        let keep = capacity > 0;
        let capacity = capacity.max(1).next_power_of_two();
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
            mask: capacity as u64 - 1,
            head: AtomicU64::new(0),
            worker,
            tag: worker_tag(worker),
            keep,
        }
    }

    /// The op and worker bits of an entry of `op` in this ring (`push_single`'s
    /// `base`; an op's cells keep theirs, so a run does not recompute it).
    pub(super) fn entry_base(&self, op: OpId) -> u64 {
        (u64::from(op.index() as u32) << 32) | self.tag
    }

    /// Writes an entry into a worker's own ring: only that worker may call it.
    /// `base` is [`entry_base`](History::entry_base) of the entry's op.
    #[inline]
    pub(super) fn push_single(&self, id: u64, base: u64, outcome: Outcome, wait: u64, run: u64, finished: u64) {
        let pos = self.head.load(Ordering::Relaxed);
        self.head.store(pos + 1, Ordering::Relaxed);
        // SAFETY: `mask` is `slots.len() - 1` and the length a power of two, so the
        // index is in bounds.
        let slot = unsafe { self.slots.get_unchecked((pos & self.mask) as usize) };
        let odd = 2 * pos + 1;
        slot.seq.store(odd, Ordering::Relaxed);
        // ORDERING: Release fence, as in `push`.
        fence(Ordering::Release);
        slot.write(id, base, outcome, wait, run, finished);
        // ORDERING: Release, as in `push`.
        slot.seq.store(odd + 1, Ordering::Release);
    }

    /// Writes an entry into the outside ring, from any thread.
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
        if self.worker.is_some() {
            return self.push_single(id, self.entry_base(op), outcome, wait, run, finished);
        }
        if !self.keep {
            return;
        }
        let pos = self.head.fetch_add(1, Ordering::Relaxed);
        let slot = &self.slots[(pos & self.mask) as usize];
        let odd = 2 * pos + 1;
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
        // ORDERING: Release fence: a reader that sees any field below also sees the
        // odd sequence, so it knows to discard the slot.
        fence(Ordering::Release);
        let base = (u64::from(op.index() as u32) << 32) | worker_tag(worker);
        slot.write(id, base, outcome, wait, run, finished);
        // ORDERING: Release: a reader that loads this even sequence with Acquire sees
        // every field written above.
        slot.seq.store(odd + 1, Ordering::Release);
    }

    fn read(&self, out: &mut Vec<(u64, Execution)>) {
        if !self.keep {
            return;
        }
        for slot in self.slots.iter() {
            // ORDERING: Acquire pairs with the writer's Release store of an even sequence.
            let before = slot.seq.load(Ordering::Acquire);
            if before == 0 || before % 2 == 1 {
                continue;
            }
            let fields = slot.fields();
            // ORDERING: Acquire fence: pairs with the writer's Release fence, so if any
            // field read above came from a newer write, the re-read sees its sequence.
            fence(Ordering::Acquire);
            if slot.seq.load(Ordering::Relaxed) != before {
                continue;
            }
            out.extend(fields.execution().map(|e| (before, e)));
        }
    }
}

/// A slot's fields as read (possibly torn: check the lock before using them).
struct Fields {
    id: u64,
    packed: u64,
    wait: u64,
    run: u64,
    finished: u64,
}

impl Slot {
    fn fields(&self) -> Fields {
        Fields {
            id: self.id.load(Ordering::Relaxed),
            packed: self.packed.load(Ordering::Relaxed),
            wait: self.wait.load(Ordering::Relaxed),
            run: self.run.load(Ordering::Relaxed),
            finished: self.finished.load(Ordering::Relaxed),
        }
    }
}

impl Fields {
    /// The entry, or `None` for a slot never written.
    fn execution(&self) -> Option<Execution> {
        let outcome = Outcome::from_code(self.packed as u8)?;
        let worker = ((self.packed >> 8) & 0xff_ffff) as usize;
        let op = OpId::from_index((self.packed >> 32) as u32);
        Some(Execution {
            id: self.id,
            op: op.name().to_string(),
            worker: worker.checked_sub(1),
            outcome,
            queued_for: crate::clock::ticks(self.wait),
            ran_for: crate::clock::ticks(self.run),
            finished_raw: self.finished,
        })
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
