//! One storage tier: its FIFO queue and its slot word, the lock-free admission
//! protocol that caps how many of its tasks run at once.
//!
//! # The slot word
//!
//! `slots` packs the tier's `limit` (high 32 bits) and the number of tasks holding a
//! slot, `active` (low 32 bits), so that admission checks the limit and takes a slot
//! in one CAS. A limit change is a CAS on the same word, so it is ordered against
//! every admission: no admission can slip past a lowered limit, and `active` never
//! exceeds the limit in force when the slot was taken.
//!
//! # The queue count
//!
//! `queued` counts tasks in `queue` that nobody has claimed yet. A pusher pushes
//! first and counts after; an admitter takes a count first and steals after. Every
//! count taken therefore stands for a task already in the queue, and the steal that
//! follows finds one (the queue is FIFO, so the oldest).
//!
//! # Admission (`admit`)
//!
//! 1. Load `queued`; if 0, there is nothing to admit.
//! 2. CAS `active + 1` into `slots` if `active < limit`; if the tier is full, stop.
//! 3. Take one count off `queued`. If it is gone (another admitter took the last
//!    one), give the slot back and start over, which re-reads `queued`.
//! 4. Steal the oldest task from `queue`. The caller runs it and then calls `release`.
//!
//! # Nothing is stranded
//!
//! A task is stranded if it is queued while its tier has a free slot and no thread
//! is coming to admit it. Two Dekker pairs, all `SeqCst`, rule it out:
//!
//! - **push vs release.** A pusher increments `queued`, then loads `slots` (`push`
//!   returns whether a slot is free, and the caller then makes sure a thread comes).
//!   A releaser decrements `active`, then `admit`s, which loads `queued`. One of them
//!   sees the other's write: the pusher sees the free slot, or the releaser sees the
//!   task.
//! - **push vs limit raise.** `set_limit` raises the limit, then loads `queued`
//!   (`admissible`); the pusher increments `queued`, then loads the limit.
//!
//! Both are model-checked in `loom-tests/tests/storage.rs`.

use crate::sync::{AtomicU64, AtomicUsize, Injector, Ordering, Steal};
use crate::task::TaskRef;

const ACTIVE_MASK: u64 = 0xffff_ffff;
const LIMIT_SHIFT: u32 = 32;

/// A tier's queue, slot word and counters.
pub(crate) struct Tier {
    queue: Injector<TaskRef>,
    /// Tasks in `queue` not yet claimed by an admitter (module docs).
    queued: AtomicUsize,
    /// `limit << 32 | active` (module docs).
    slots: AtomicU64,
    /// Tasks that released their slot (ran, or were skipped as cancelled).
    completed: AtomicU64,
    /// The highest `active` ever reached.
    peak: AtomicUsize,
}

/// A snapshot of a tier's counters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TierCounts {
    pub limit: usize,
    pub active: usize,
    pub queued: usize,
    pub completed: u64,
    pub peak: usize,
}

fn unpack(slots: u64) -> (usize, usize) {
    ((slots >> LIMIT_SHIFT) as usize, (slots & ACTIVE_MASK) as usize)
}

impl Tier {
    /// A tier admitting at most `limit` tasks at once (`limit` fits in 32 bits; the
    /// public entry points check it).
    pub(crate) fn new(limit: usize) -> Tier {
        Tier {
            queue: Injector::new(),
            queued: AtomicUsize::new(0),
            slots: AtomicU64::new((limit as u64) << LIMIT_SHIFT),
            completed: AtomicU64::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Queues `task` at the back. Returns true if the tier has a free slot now, in
    /// which case the caller must make sure a thread comes to `admit` (module docs).
    pub(crate) fn push(&self, task: TaskRef) -> bool {
        self.queue.push(task);
        // ORDERING: SeqCst: the pusher's write in both Dekker pairs (module docs); also
        // Release, so an admitter that takes this count sees the pushed task.
        self.queued.fetch_add(1, Ordering::SeqCst);
        // ORDERING: SeqCst: the pusher's read in both Dekker pairs.
        let (limit, active) = unpack(self.slots.load(Ordering::SeqCst));
        active < limit
    }

    /// Takes a slot and the oldest queued task, if both are available (module docs).
    /// The caller must `release` the slot once the task has run or been resolved.
    pub(crate) fn admit(&self) -> Option<TaskRef> {
        loop {
            // ORDERING: SeqCst: the releaser's and the limit raiser's read of the
            // Dekker pairs (module docs).
            if self.queued.load(Ordering::SeqCst) == 0 {
                return None;
            }
            if !self.take_slot() {
                return None;
            }
            if self.take_count() {
                return Some(self.steal_counted());
            }
            // Another admitter took the last count: give the slot back and look again.
            self.give_back_slot();
        }
    }

    /// CAS `active + 1` into the slot word while `active < limit`.
    fn take_slot(&self) -> bool {
        // ORDERING: SeqCst on the load, as on every access to `slots` (Dekker pairs).
        let mut s = self.slots.load(Ordering::SeqCst);
        loop {
            let (limit, active) = unpack(s);
            if active >= limit {
                return false;
            }
            // ORDERING: SeqCst, as above.
            match self
                .slots
                .compare_exchange_weak(s, s + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => {
                    self.peak.fetch_max(active + 1, Ordering::Relaxed);
                    return true;
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// Takes one count off `queued` if any is left.
    fn take_count(&self) -> bool {
        // ORDERING: SeqCst (Acquire is what matters: it pairs with the pusher's
        // increment, so the steal below sees the counted task).
        self.queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| q.checked_sub(1))
            .is_ok()
    }

    /// Steals the task a count was taken for. It is in the queue (module docs), so
    /// the steal only ever retries on contention.
    fn steal_counted(&self) -> TaskRef {
        loop {
            match self.queue.steal() {
                Steal::Success(task) => return task,
                Steal::Retry => {}
                Steal::Empty => crate::fatal("storage tier: a counted task was not in its queue"),
            }
        }
    }

    fn give_back_slot(&self) {
        // ORDERING: SeqCst: the releaser's write of the push/release Dekker pair.
        let prev = self.slots.fetch_sub(1, Ordering::SeqCst);
        if prev & ACTIVE_MASK == 0 {
            crate::fatal("storage tier: a slot was released that nobody held");
        }
    }

    /// Gives back the slot of a task that ran (or was skipped as cancelled). The
    /// caller must then `admit` again (or have a thread do so), so nothing queued is
    /// stranded behind the freed slot.
    pub(crate) fn release(&self) {
        self.give_back_slot();
        // ORDERING: SeqCst: counted after the slot is back, so a reader that sees the
        // count (with a SeqCst load, `counts`) also sees the slot free.
        self.completed.fetch_add(1, Ordering::SeqCst);
    }

    /// Sets the limit. Running tasks are not affected; admissions after this see the
    /// new limit. Returns how many queued tasks may now be admitted (the caller wakes
    /// that many threads).
    pub(crate) fn set_limit(&self, limit: usize) -> usize {
        // ORDERING: SeqCst, though only the CAS below must be: this load just seeds it.
        let mut s = self.slots.load(Ordering::SeqCst);
        loop {
            let new = ((limit as u64) << LIMIT_SHIFT) | (s & ACTIVE_MASK);
            // ORDERING: SeqCst: the raiser's write of the push/raise Dekker pair.
            match self
                .slots
                .compare_exchange_weak(s, new, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(actual) => s = actual,
            }
        }
        self.admissible()
    }

    /// How many queued tasks could be admitted right now.
    pub(crate) fn admissible(&self) -> usize {
        // ORDERING: SeqCst: the raiser's (and an exiting thread's) read of the Dekker pairs.
        let queued = self.queued.load(Ordering::SeqCst);
        let (limit, active) = unpack(self.slots.load(Ordering::SeqCst));
        queued.min(limit.saturating_sub(active))
    }

    /// How many of this tier's tasks could run at once now: `min(limit, active +
    /// queued)`. Bounds the storage threads (`threads.rs`).
    pub(crate) fn demand(&self) -> usize {
        // ORDERING: SeqCst, read next to the Dekker pairs (`threads.rs`, "Waking").
        let queued = self.queued.load(Ordering::SeqCst);
        let (limit, active) = unpack(self.slots.load(Ordering::SeqCst));
        limit.min(active + queued)
    }

    /// Takes every queued task for which `take` returns true out of the queue, in
    /// FIFO order, and puts the others back at the end (after any pushed meanwhile).
    /// Slots are not touched. The control plane's entry point for draining a tier;
    /// shutdown uses it with `|_| true`.
    pub(crate) fn drain(&self, mut take: impl FnMut(&TaskRef) -> bool) -> Vec<TaskRef> {
        let mut taken = Vec::new();
        let mut kept = Vec::new();
        while self.take_count() {
            let task = self.steal_counted();
            if take(&task) {
                taken.push(task);
            } else {
                kept.push(task);
            }
        }
        for task in kept {
            // A put-back task may find a free slot: the caller wakes threads if so.
            self.push(task);
        }
        taken
    }

    /// A snapshot for statistics. `completed` is read first, so every slot it
    /// counts is already given back in `active`.
    pub(crate) fn counts(&self) -> TierCounts {
        // ORDERING: SeqCst: pairs with the SeqCst count in `release`, after its slot
        // was given back, so the slot word read next reflects it.
        let completed = self.completed.load(Ordering::SeqCst);
        // ORDERING: SeqCst, as above.
        let (limit, active) = unpack(self.slots.load(Ordering::SeqCst));
        TierCounts {
            limit,
            active,
            queued: self.queued.load(Ordering::Relaxed),
            completed,
            peak: self.peak.load(Ordering::Relaxed),
        }
    }
}
