//! A per-thread cache of task allocations.
//!
//! Every task is one heap block, and fork-join code frees blocks almost as fast as
//! it allocates them. glibc's per-thread cache holds only 7 blocks per size, and a
//! recursion 25 deep keeps more than that alive per worker, so most frees took its
//! slow path. This cache keeps up to [`DEPTH`] freed blocks per 64-byte size class,
//! per thread. A block freed on another thread simply joins that thread's cache.
//! Blocks larger than [`MAX_SIZE`] or aligned to more than [`ALIGN`] bypass it.
//!
//! Within a class, every block is allocated with the class layout (size rounded
//! up, alignment [`ALIGN`]), so it can serve any task of that class and be freed
//! with the same layout.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::RefCell;
use std::ptr::NonNull;

const CLASS: usize = 64;
const CLASSES: usize = 8;
const MAX_SIZE: usize = CLASS * CLASSES;
const ALIGN: usize = 16;
const DEPTH: usize = 64;

struct Cache {
    free: [Vec<NonNull<u8>>; CLASSES],
}

impl Drop for Cache {
    fn drop(&mut self) {
        for (class, list) in self.free.iter_mut().enumerate() {
            for block in list.drain(..) {
                // SAFETY: every cached block was allocated with `class_layout(class)`
                // and is owned by the cache alone.
                unsafe { dealloc(block.as_ptr(), class_layout(class)) };
            }
        }
    }
}

crate::sync::const_thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache { free: [const { Vec::new() }; CLASSES] });
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
    let (real, cached) = match class_of(layout) {
        Some(class) => {
            let hit = CACHE.try_with(|c| c.borrow_mut().free[class].pop()).ok().flatten();
            (class_layout(class), hit)
        }
        None => (layout, None),
    };
    if let Some(block) = cached {
        return block;
    }
    // SAFETY: `real` has a non-zero size (tasks always contain a header).
    NonNull::new(unsafe { alloc(real) }).unwrap_or_else(|| handle_alloc_error(real))
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
        // SAFETY: blocks of this class are allocated with `class_layout(class)`.
        unsafe { dealloc(block.as_ptr(), class_layout(class)) };
    }
}
