//! A task's waker slot: the `AtomicWaker` that a blocked or awaiting waiter
//! registers in, allocated by the first registration instead of living in the
//! header (module docs of `task`, "The waker slot").
//!
//! The slot is a pointer-sized cell holding `None` until then. Who touches it, and
//! when, follows the `AWAITER` bit of the task's state word:
//!
//! - **Only the waiting side writes it**, once per set of `AWAITER`: the token's
//!   owner (a `Token` is `!Sync`) or a stack job's joiner, one thread either way.
//!   It allocates the slot when its own load of the state shows `AWAITER` clear,
//!   before the read-modify-write that sets the bit. A registration that panicked
//!   (in a user waker's `clone`) after allocating but before setting the bit leaves
//!   a slot behind; the next registration replaces it, and the box is freed.
//! - **Everyone else reads it only after seeing `AWAITER`** through an Acquire
//!   load or RMW. The bit's AcqRel RMW comes after the write, so the write
//!   happened-before every such read, and nothing writes the slot afterwards.
//! - The box is freed with the header (the `Option<Box<_>>` drops with it).
//!
//! `Header` (`mod.rs`) keeps the bit; this type keeps the cell and says, at each
//! access, which of those rules makes it sound.

use crate::sync::{AtomicWaker, UnsafeCell};

pub(super) struct WakerSlot {
    slot: UnsafeCell<Option<Box<AtomicWaker>>>,
}

impl WakerSlot {
    /// An empty slot: nothing registered, nothing allocated.
    pub(super) fn empty() -> Self {
        WakerSlot {
            slot: UnsafeCell::new(None),
        }
    }

    /// Allocates a fresh slot, replacing any left by a registration that panicked.
    ///
    /// # Safety
    /// The caller is the waiting side, and its own load of the state word showed
    /// `AWAITER` clear: then no other thread reads the slot until the caller sets
    /// the bit (module docs).
    pub(super) unsafe fn allocate(&self) {
        // SAFETY: the caller's contract: nobody else accesses the slot now.
        self.slot
            .with_mut(|slot| unsafe { *slot = Some(Box::new(AtomicWaker::new())) });
    }

    /// The slot, for registering (the waiting side) or waking (a completer).
    ///
    /// # Safety
    /// The caller is the waiting side after `allocate`, or saw `AWAITER` set
    /// through an Acquire load or RMW: either way the slot's one write
    /// happened-before, and it is not written again while the bit stays set.
    pub(super) unsafe fn get(&self) -> &AtomicWaker {
        // SAFETY: only a read, and the write happened-before (the caller's contract).
        match self.slot.with(|slot| unsafe { (*slot).as_deref() }) {
            Some(waker) => waker,
            None => crate::fatal("AWAITER is set but the task has no waker slot"),
        }
    }

    /// True if a registration allocated the slot.
    ///
    /// # Safety
    /// The caller is the waiting side, the slot's only writer, so no write can race
    /// with this read.
    pub(super) unsafe fn is_allocated(&self) -> bool {
        // SAFETY: the caller's contract: no concurrent write.
        self.slot.with(|slot| unsafe { (*slot).is_some() })
    }
}
