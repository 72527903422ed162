//! A per-thread cache of task allocations.
//!
//! Every task is one heap block, and fork-join code frees blocks almost as fast as
//! it allocates them. glibc's per-thread cache holds only 7 blocks per size, and a
//! recursion 25 deep keeps more than that alive per worker, so most frees took its
//! slow path. This cache keeps up to [`DEPTH`] freed blocks per 64-byte size class,
//! per thread. A block freed on another thread simply joins that thread's cache
//! (and keeps the slab it was carved from alive while it sits there, `slab.rs`).
//! Blocks larger than [`MAX_SIZE`] or aligned to more than [`ALIGN`] bypass it.
//!
//! Within a class, every block is the class size (size rounded up to 64 bytes),
//! so it can serve any task of that class. The blocks themselves are carved from
//! per-thread slabs (`slab.rs`), except under loom, where each is allocated with
//! its class layout (loom's models are not about allocation, and a slab's count
//! would add a read-modify-write to every free they explore; `slab.rs`'s count
//! has a model of its own).

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::RefCell;
use std::ptr::NonNull;

pub(crate) mod slab;

/// Whether class blocks come from slabs (module docs).
const SLABS: bool = !cfg!(tokengate_loom);

const CLASS: usize = 64;
const CLASSES: usize = 8;
const MAX_SIZE: usize = CLASS * CLASSES;
const ALIGN: usize = 16;
const DEPTH: usize = 64;

struct Cache {
    free: [Vec<NonNull<u8>>; CLASSES],
    /// This thread's current slab (dropped after `free`'s blocks went back).
    carver: slab::Carver,
}

impl Drop for Cache {
    fn drop(&mut self) {
        for (class, list) in self.free.iter_mut().enumerate() {
            for block in list.drain(..) {
                // SAFETY: every cached block came from `new_block(class)` and is
                // owned by the cache alone.
                unsafe { free_block(block, class) };
            }
        }
    }
}

crate::sync::const_thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache {
        free: [const { Vec::new() }; CLASSES],
        carver: slab::Carver::new(),
    });
}

/// Allocates `layout` from the system allocator, or reports the failure as the
/// standard library does (`handle_alloc_error`).
///
/// # Safety
/// `layout` must have a non-zero size.
pub(super) unsafe fn system_alloc(layout: Layout) -> NonNull<u8> {
    // SAFETY: the caller passes a layout of non-zero size.
    NonNull::new(unsafe { alloc(layout) }).unwrap_or_else(|| handle_alloc_error(layout))
}

/// A new block of class `class`: carved from `carver` (this thread's slab), from a
/// slab of its own if this thread's cache is gone, or allocated on its own under
/// loom.
#[inline]
fn new_block(class: usize, carver: Option<&mut slab::Carver>) -> NonNull<u8> {
    if !SLABS {
        // SAFETY: a class layout has a non-zero size.
        return unsafe { system_alloc(class_layout(class)) };
    }
    let size = (class + 1) * CLASS;
    match carver {
        Some(carver) => carver.carve(size),
        None => slab::lone_block(size),
    }
}

/// Frees a block of class `class` for good (not into the cache).
///
/// # Safety
/// `block` must come from `new_block(class, _)` and must not be used again.
unsafe fn free_block(block: NonNull<u8>, class: usize) {
    if SLABS {
        // SAFETY: `new_block` carved it from a slab.
        unsafe { slab::free_block(block) };
    } else {
        // SAFETY: `new_block` allocated it with `class_layout(class)`.
        unsafe { dealloc(block.as_ptr(), class_layout(class)) };
    }
}

#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    (layout.size() <= MAX_SIZE && layout.align() <= ALIGN && layout.size() > 0).then(|| (layout.size() - 1) / CLASS)
}

fn class_layout(class: usize) -> Layout {
    match Layout::from_size_align((class + 1) * CLASS, ALIGN) {
        Ok(layout) => layout,
        Err(_) => crate::fatal("invalid block class layout"),
    }
}

/// Allocates a block for a value of `layout`.
#[inline]
pub(crate) fn allocate(layout: Layout) -> NonNull<u8> {
    let Some(class) = class_of(layout) else {
        // SAFETY: `layout` has a non-zero size (tasks always contain a header).
        return unsafe { system_alloc(layout) };
    };
    CACHE
        .try_with(|c| {
            let mut cache = c.borrow_mut();
            let cache = &mut *cache;
            cache.free[class]
                .pop()
                .unwrap_or_else(|| new_block(class, Some(&mut cache.carver)))
        })
        .unwrap_or_else(|_| new_block(class, None))
}

/// Frees a block that `allocate(layout)` returned.
///
/// # Safety
/// `block` must come from `allocate` with this same `layout`, and must not be used
/// again.
#[inline]
pub(crate) unsafe fn release(block: NonNull<u8>, layout: Layout) {
    let Some(class) = class_of(layout) else {
        // SAFETY: allocated by `allocate` with exactly `layout` (it bypassed the cache).
        unsafe { dealloc(block.as_ptr(), layout) };
        return;
    };
    let kept = CACHE
        .try_with(|c| {
            let list = &mut c.borrow_mut().free[class];
            let keep = list.len() < DEPTH;
            if keep {
                list.push(block);
            }
            keep
        })
        .unwrap_or(false);
    if !kept {
        // SAFETY: blocks of this class come from `new_block(class, _)`.
        unsafe { free_block(block, class) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks from several slabs are distinct and keep what is written to them,
    /// and blocks freed on another thread (past that thread's cache) go back to
    /// their slabs, which are then reused or freed (valgrind and Miri check the
    /// memory side).
    #[test]
    fn blocks_span_slabs_and_free_across_threads() {
        let layout = Layout::from_size_align(150, 8).unwrap();
        let n = 3 * slab::SLAB_SIZE / 192 + 7;
        let blocks: Vec<_> = (0..n).map(|_| allocate(layout)).collect();
        for (i, b) in blocks.iter().enumerate() {
            // SAFETY: each block is 192 bytes, fresh and ours.
            unsafe { b.as_ptr().cast::<usize>().write(i) };
        }
        let mut addrs: Vec<usize> = blocks.iter().map(|b| b.as_ptr() as usize).collect();
        addrs.sort_unstable();
        assert!(addrs.windows(2).all(|w| w[1] - w[0] >= 192), "blocks overlap");
        for (i, b) in blocks.iter().enumerate() {
            // SAFETY: written above.
            assert_eq!(unsafe { b.as_ptr().cast::<usize>().read() }, i);
        }
        let (mine, theirs) = blocks.split_at(n / 2);
        let theirs: Vec<usize> = theirs.iter().map(|b| b.as_ptr() as usize).collect();
        std::thread::spawn(move || {
            for b in theirs {
                // SAFETY: allocated above with `layout`, not used again.
                unsafe { release(NonNull::new(b as *mut u8).unwrap(), layout) };
            }
        })
        .join()
        .unwrap();
        for b in mine {
            // SAFETY: as above.
            unsafe { release(*b, layout) };
        }
        let again = allocate(layout);
        // SAFETY: as above.
        unsafe { release(again, layout) };
    }
}
