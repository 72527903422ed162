//! Model S-slab: a slab's count (`src/blocks/slab.rs`). The owner carved two blocks
//! and handed one each to two threads; it retires the slab while they use and free
//! their blocks. Exactly one of the three must see the count reach zero, and that
//! one frees the slab after every other thread's last use of its block.
//!
//! The blocks are loom cells: each user writes its block before freeing it, and the
//! thread that frees the slab reads both (its free). A missing Release/Acquire
//! between them is a loom race; a count that reaches zero twice or never fails the
//! count of frees.
//!
//! Mutations (each applied alone, then reverted), see README.md's table:
//! - MS1 `SlabCount::sub`: the Acquire fence removed → fails (*race*).
//! - MS2 `SlabCount::sub`: zero detected one early (`!= n + 1`) → fails (*race*:
//!   the slab is freed while a block is still in use).

// The models need `--cfg tokengate_loom` (README.md); without it this file is empty.
#![cfg(tokengate_loom)]

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use tokengate::loom_api::SlabCount;
use tokengate_loom_tests::model;

struct Slab {
    count: SlabCount,
    blocks: [UnsafeCell<u32>; 2],
    frees: AtomicUsize,
}

impl Slab {
    /// The count reached zero here: "free" the slab, reading both blocks.
    fn free(&self) {
        for block in &self.blocks {
            // SAFETY: a loom cell; loom checks this read against every write.
            block.with(|b| unsafe { assert!(*b <= 1) });
        }
        self.frees.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn slab_count_freed_once_after_every_use() {
    model(|| {
        let slab = Arc::new(Slab {
            count: SlabCount::default(),
            blocks: [UnsafeCell::new(0), UnsafeCell::new(0)],
            frees: AtomicUsize::new(0),
        });
        let users: Vec<_> = (0..2)
            .map(|i| {
                let slab = slab.clone();
                thread::spawn(move || {
                    // SAFETY: block `i` is this thread's alone until it frees it.
                    slab.blocks[i].with_mut(|b| unsafe { *b = 1 });
                    if slab.count.free_one() {
                        slab.free();
                    }
                })
            })
            .collect();
        if slab.count.retire(2) {
            slab.free();
        }
        for u in users {
            u.join().unwrap();
        }
        assert_eq!(
            slab.frees.load(Ordering::Relaxed),
            1,
            "the slab must be freed exactly once"
        );
    });
}
