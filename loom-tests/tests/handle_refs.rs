//! Models H1, H2: handle units (`src/handle_refs.rs`). All handles share one group
//! reference to the pool, counted in units that workers cache; the model checks that
//! the group reference is dropped exactly once, after every holder's last use, and
//! that a revive racing the last drop balances.
//!
//! The pool's state is a loom cell: every holder reads it before giving its unit
//! back, and whoever drops the group reference writes it (the free). A missing
//! Release/Acquire between them is a loom race; a lost or extra unit fails the
//! counts.
//!
//! Mutations (each applied alone, then reverted), see README.md's table:
//! - MU1 `HandleCount::sub`: the Acquire fence removed → H1 fails (*race*).
//! - MU2 `HandleCredits::put`: returns `batch` units but keeps them cached (no
//!   `self.held.set(held - batch)`) → H1 fails (*counts*).

// The models need `--cfg tokengate_loom` (README.md); without it this file is empty.
#![cfg(tokengate_loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokengate::loom_api::{HandleUnits, UnitCache};
use tokengate_loom_tests::model;

/// A pool stand-in: the unit count, the state the handles use, and how many times
/// the group reference was added and dropped.
struct Pool {
    units: HandleUnits,
    state: UnsafeCell<u32>,
    added: AtomicUsize,
    dropped: AtomicUsize,
}

// SAFETY: `state` is only read by unit holders and written by the one that dropped
// the last unit; loom checks exactly that this is race-free.
unsafe impl Sync for Pool {}

impl Pool {
    fn new() -> Pool {
        Pool {
            units: HandleUnits::new(),
            state: UnsafeCell::new(7),
            added: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
        }
    }

    fn use_it(&self) {
        // SAFETY: a unit holder reads (module docs).
        self.state.with(|s| assert_eq!(unsafe { *s }, 7, "used after the free"));
    }

    fn drop_group(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the last unit's holder "frees" (module docs).
        self.state.with_mut(|s| unsafe { *s = 0 });
    }

    /// Drops one unit held directly (an outside thread's handle).
    fn release(&self) {
        if self.units.sub(1) {
            self.drop_group();
        }
    }
}

/// Model H1: the coordinator's handle (main), a worker that clones and drops
/// handles through its cache (batch 1, so refills, give-backs over `2 * batch` and
/// the final give-back all happen), and an outside thread's handle, dropped in any
/// order. The group reference is dropped exactly once, after every use.
#[test]
fn units_free_once_after_last_use() {
    model(|| {
        let pool = Arc::new(Pool::new());
        assert!(pool.units.revive(), "the first handle adds the group reference");
        pool.added.fetch_add(1, Ordering::Relaxed);
        // Handles for the worker and the outside thread, cloned from main's.
        pool.units.add(2);
        let p = Arc::clone(&pool);
        let worker = thread::spawn(move || {
            let cache = UnitCache::new();
            for _ in 0..3 {
                cache.take(&p.units, 1); // clones of the handle it holds
            }
            p.use_it();
            for _ in 0..3 {
                cache.put(&p.units, 1);
            }
            cache.put(&p.units, 1); // its own handle, dropped on the worker
            if cache.give_back(&p.units) {
                p.drop_group();
            }
        });
        let p = Arc::clone(&pool);
        let outside = thread::spawn(move || {
            p.use_it();
            p.release();
        });
        pool.use_it();
        pool.release();
        worker.join().unwrap();
        outside.join().unwrap();
        assert_eq!(pool.units.units(), 0, "a unit was lost or kept");
        assert_eq!(pool.dropped.load(Ordering::Relaxed), 1, "group reference dropped once");
    });
}

/// Model H2: `Handle::current` on a worker with an empty cache revives the count
/// while the last other handle is being dropped: every add of the group reference is
/// matched by one drop.
#[test]
fn revive_racing_last_drop_balances() {
    model(|| {
        let pool = Arc::new(Pool::new());
        assert!(pool.units.revive());
        pool.added.fetch_add(1, Ordering::Relaxed);
        let p = Arc::clone(&pool);
        let worker = thread::spawn(move || {
            let cache = UnitCache::new();
            assert!(!cache.try_take(), "the cache starts empty");
            if p.units.revive() {
                p.added.fetch_add(1, Ordering::Relaxed);
            }
            p.release();
        });
        // The worker keeps its own strong reference (`pool` here) throughout, so
        // only the counts are checked, not the state cell.
        if pool.units.sub(1) {
            pool.dropped.fetch_add(1, Ordering::Relaxed);
        }
        worker.join().unwrap();
        assert_eq!(pool.units.units(), 0);
        assert_eq!(
            pool.added.load(Ordering::Relaxed),
            pool.dropped.load(Ordering::Relaxed),
            "group reference added and dropped unevenly"
        );
    });
}
