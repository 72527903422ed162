//! Slabs: where the cache's blocks come from (`mod.rs`).
//!
//! A burst of spawns from one thread allocates tens of thousands of blocks before
//! any is freed, which no per-thread cache can cover: every block then took
//! glibc's general path, about 130 instructions to allocate and 190 to free (the
//! burst's callgrind profile), more than the rest of a spawn. So each thread carves
//! its blocks out of a [`SLAB_SIZE`] slab of its own, with a bump pointer, and a
//! block freed past the cache gives its slab one decrement. A slab goes back to the
//! system allocator when its owner has moved on to another slab and every block
//! carved from it is free again.
//!
//! # The slab's count
//!
//! The first cache line of a slab holds a [`SlabCount`]. It starts at [`BIAS`],
//! far above any number of blocks a slab can hold. Every free of a block subtracts
//! one; the owner, when it retires the slab (full, or the thread exits), subtracts
//! `BIAS - carved`, where `carved` is how many blocks it took from it, counted in
//! a plain thread-local (no read-modify-write per allocation). So the count is
//! `carved - freed` once retired and at least `BIAS - carved` before: it reaches
//! zero exactly once, after the retirement and the last free, and whoever brings it
//! there frees the slab. Loom model S-slab
//! (`slab_count_freed_once_after_every_use`) checks this with the owner retiring
//! while two other threads free.
//!
//! A block finds its slab by address: slabs are aligned to their size.
//!
//! # What a slab keeps alive
//!
//! A freed block's space is not carved again: a slab goes back only when every
//! block carved from it is free, and a block cached by any thread (`mod.rs`) counts
//! as live. So one long-lived task keeps its whole slab: a program holding every
//! thousandth token of a long stream keeps 64 KiB per token held. The caches are
//! bounded (at most 64 blocks per class per thread, so at most 512 slabs a thread),
//! and each thread that ever spawned keeps its current slab until it exits. The
//! trade is deliberate: tokens are meant to be waited on and dropped, and a burst
//! of them is the case this serves.

use std::alloc::{dealloc, Layout};
use std::ptr::NonNull;

use crate::sync::{fence, AtomicUsize, Ordering};

/// Bytes per slab, and its alignment.
pub(super) const SLAB_SIZE: usize = 64 * 1024;
/// Bytes at the start of a slab taken by its count (one cache line).
const HEAD: usize = 64;
/// The count's starting value: more than a slab can ever hold in blocks.
const BIAS: usize = 1 << (usize::BITS - 2);

/// A slab's count of blocks not yet freed, biased while its owner still carves
/// from it (module docs).
pub(crate) struct SlabCount {
    live: AtomicUsize,
}

impl SlabCount {
    pub(crate) fn new() -> Self {
        SlabCount {
            live: AtomicUsize::new(BIAS),
        }
    }

    /// One block freed. True if that was the last of a retired slab: the caller
    /// frees the slab.
    pub(crate) fn free_one(&self) -> bool {
        self.sub(1)
    }

    /// The owner carves no more from the slab, after `carved` blocks. True if every
    /// one of them is already free: the caller frees the slab.
    pub(crate) fn retire(&self, carved: usize) -> bool {
        self.sub(BIAS - carved)
    }

    fn sub(&self, n: usize) -> bool {
        // ORDERING: Release, as in `Arc`'s drop: this thread's use of its block (or
        // the owner's carving) happens before the slab is freed. The thread that
        // brings the count to zero then fences with Acquire, so it sees every other
        // thread's use before it frees.
        if self.live.fetch_sub(n, Ordering::Release) != n {
            return false;
        }
        // ORDERING: Acquire fence, pairing with every other thread's Release above.
        fence(Ordering::Acquire);
        true
    }
}

fn slab_layout() -> Layout {
    match Layout::from_size_align(SLAB_SIZE, SLAB_SIZE) {
        Ok(layout) => layout,
        Err(_) => crate::fatal("invalid slab layout"),
    }
}

/// A thread's current slab: where its next block is carved.
pub(super) struct Carver {
    slab: Option<NonNull<SlabCount>>,
    next: usize,
    carved: usize,
}

impl Carver {
    pub(super) const fn new() -> Self {
        Carver {
            slab: None,
            next: 0,
            carved: 0,
        }
    }

    /// A block of `size` bytes (a multiple of 64, at most a small fraction of a
    /// slab), from the current slab or a new one.
    #[inline]
    pub(super) fn carve(&mut self, size: usize) -> NonNull<u8> {
        match self.slab {
            Some(slab) if self.next + size <= SLAB_SIZE => {
                // SAFETY: `next + size` is within the slab, which stays allocated
                // while it is current (its count holds the bias).
                let block = unsafe { slab.cast::<u8>().add(self.next) };
                self.next += size;
                self.carved += 1;
                block
            }
            _ => self.carve_from_new_slab(size),
        }
    }

    /// `carve` when the current slab is full (or there is none yet): once per slab.
    #[cold]
    #[inline(never)]
    fn carve_from_new_slab(&mut self, size: usize) -> NonNull<u8> {
        self.retire();
        self.slab = Some(new_slab());
        self.next = HEAD;
        self.carved = 0;
        self.carve(size)
    }

    /// Gives the current slab up (full, or the thread is exiting).
    pub(super) fn retire(&mut self) {
        if let Some(slab) = self.slab.take() {
            // SAFETY: the slab is allocated: its count still holds the bias.
            if unsafe { slab.as_ref() }.retire(self.carved) {
                // SAFETY: the count reached zero: no block of it is in use or cached.
                unsafe { free_slab(slab) };
            }
        }
    }
}

impl Drop for Carver {
    fn drop(&mut self) {
        self.retire();
    }
}

/// A block of `size` bytes in a slab of its own, already retired with one block
/// carved: for a thread whose `Carver` is gone (thread-local teardown).
pub(super) fn lone_block(size: usize) -> NonNull<u8> {
    let slab = new_slab();
    // SAFETY: a fresh slab; after this retirement its count is 1, the block's.
    let last = unsafe { slab.as_ref() }.retire(1);
    debug_assert!(!last);
    debug_assert!(HEAD + size <= SLAB_SIZE);
    // SAFETY: `HEAD + size` is within the fresh slab.
    unsafe { slab.cast::<u8>().add(HEAD) }
}

fn new_slab() -> NonNull<SlabCount> {
    // SAFETY: a slab's layout has a non-zero size.
    let slab = unsafe { super::system_alloc(slab_layout()) }.cast::<SlabCount>();
    // SAFETY: fresh, aligned to `SLAB_SIZE`, large enough for the count.
    unsafe { slab.as_ptr().write(SlabCount::new()) };
    slab
}

/// Frees a slab whose count reached zero.
///
/// # Safety
/// Its count must have reached zero (no block of it in use or cached anywhere).
unsafe fn free_slab(slab: NonNull<SlabCount>) {
    // SAFETY: allocated by `new_slab` with `slab_layout()`; the count is plain
    // data with nothing to drop beyond the atomic.
    unsafe {
        std::ptr::drop_in_place(slab.as_ptr());
        dealloc(slab.as_ptr().cast(), slab_layout());
    }
}

/// Frees `block`, carved from a slab, back to its slab.
///
/// # Safety
/// `block` must come from [`Carver::carve`] or [`lone_block`], and must not be
/// used again.
pub(super) unsafe fn free_block(block: NonNull<u8>) {
    let offset = (block.as_ptr() as usize) & (SLAB_SIZE - 1);
    // SAFETY: slabs are aligned to `SLAB_SIZE` and the block lies past a slab's
    // head, so `offset` bytes back is its slab, alive while this block is not yet
    // freed (and never null).
    let slab = unsafe { NonNull::new_unchecked(block.as_ptr().sub(offset)) }.cast::<SlabCount>();
    // SAFETY: as above.
    if unsafe { slab.as_ref() }.free_one() {
        // SAFETY: the count reached zero.
        unsafe { free_slab(slab) };
    }
}
