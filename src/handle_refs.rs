//! How [`Handle`](crate::Handle)s share a pool's `Shared` without writing one shared
//! cache line per clone (issue 15).
//!
//! A `Handle` used to be an `Arc<Shared>`: every clone and every drop was a
//! read-modify-write of the one strong count, so fork-join code that clones the
//! handle into each child made both workers fight over that line.
//!
//! # The design
//!
//! - **One strong reference for all handles.** All live handles together own a
//!   single strong count of the `Arc<Shared>` (the *group reference*). Each handle
//!   holds a bitwise copy of that `Arc` that owns nothing by itself.
//! - **`HandleCount`**, in `Shared`, counts *handle units*: one per live handle
//!   plus one per credit cached by a worker (below). The group reference exists
//!   exactly while the count is above zero: the step `1 → 0` drops it ([`sub`]
//!   returns true) and the step `0 → 1` adds it ([`revive`] returns true).
//! - **Credits.** Each worker keeps a per-thread cache of units ([`HandleCredits`],
//!   in its `WorkerCtx`, touched only by its own thread). A clone on a worker of the
//!   handle's pool takes a credit, refilling the cache with one `fetch_add(batch)`
//!   when it is empty; a drop there puts the unit back, returning `batch` units with
//!   one `fetch_sub` when more than `2 * batch` pile up. So a worker's clones and
//!   drops touch only its own cache, and the shared count is written about once per
//!   `batch` of them. Anywhere else (other threads, another pool's workers) a
//!   clone or drop is one RMW on the count, as `Arc`'s was.
//! - **Exit.** A worker leaving its loop gives all its credits back
//!   ([`HandleCredits::give_back`]); if that was the last unit, it drops the group
//!   reference.
//!
//! # Why it is sound
//!
//! The count never undercounts: every live handle and every cached credit is one
//! unit. A unit is added either by a holder of another unit (a clone holds the
//! handle it clones; a refill is done for such a clone), so the count is above zero
//! and the group reference exists; or by [`revive`], which only a worker of the
//! pool calls (`Handle::current`), while it holds a strong reference of its own
//! (`WorkerCtx::shared`), so `Shared` is alive and adding the group reference again
//! is safe. If a `revive` races the `1 → 0` step of a drop, there are briefly two
//! group references; each step drops or adds exactly one, so they balance. The drop
//! that takes the count to zero synchronizes (Release decrements, Acquire fence)
//! with every earlier drop, so every handle's last use happens-before the group
//! reference is dropped, and `Arc` orders that before the free. A credit put back
//! on a worker is never the last unit, because the cache itself still holds it.
//!
//! The loom model `loom-tests/tests/handle_refs.rs` checks the count and the group
//! reference across a worker-like thread with a cache and an outside thread.
//!
//! [`sub`]: HandleCount::sub
//! [`revive`]: HandleCount::revive

use std::cell::Cell;

use crate::sync::{fence, AtomicUsize, CachePadded, Ordering};

/// Units a worker's cache takes from the count at once (`HandleCredits`).
pub(crate) const HANDLE_BATCH: usize = 64;

/// The pool-wide count of handle units (module docs). On a line of its own: the
/// rest of `Shared` is read by every spawn.
pub(crate) struct HandleCount {
    units: CachePadded<AtomicUsize>,
}

impl HandleCount {
    /// A count of zero: no handle yet, so no group reference.
    pub(crate) fn new() -> HandleCount {
        HandleCount {
            units: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// Adds `n` units. The caller holds a unit (so the count is above zero).
    pub(crate) fn add(&self, n: usize) {
        // Relaxed, as `Arc::clone`: the caller's own unit keeps the group alive.
        self.units.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one unit, possibly from zero. True if the count was zero: the caller must
    /// then add the group reference. The caller must hold a strong reference of its
    /// own (module docs).
    pub(crate) fn revive(&self) -> bool {
        // Relaxed: the caller's own strong reference keeps `Shared` alive.
        self.units.fetch_add(1, Ordering::Relaxed) == 0
    }

    /// Removes `n` of the caller's units. True if they were the last: the caller
    /// must then drop the group reference.
    pub(crate) fn sub(&self, n: usize) -> bool {
        // ORDERING: Release publishes this holder's uses of the pool to whoever
        // takes the count to zero; that one's Acquire fence sees every holder's.
        if self.units.fetch_sub(n, Ordering::Release) == n {
            // ORDERING: Acquire, pairing with the Release decrements above (as `Arc`).
            fence(Ordering::Acquire);
            return true;
        }
        false
    }

    /// The units now (tests and models).
    #[allow(dead_code)]
    pub(crate) fn units(&self) -> usize {
        self.units.load(Ordering::Relaxed)
    }
}

/// One worker's cache of handle units (module docs). Only its own thread uses it.
pub(crate) struct HandleCredits {
    held: Cell<usize>,
}

impl HandleCredits {
    pub(crate) fn new() -> HandleCredits {
        HandleCredits { held: Cell::new(0) }
    }

    /// Takes a unit for a clone of a handle the caller holds, refilling from `count`
    /// by `batch` if the cache is empty.
    #[inline]
    pub(crate) fn take(&self, count: &HandleCount, batch: usize) {
        let mut held = self.held.get();
        if held == 0 {
            count.add(batch);
            held = batch;
        }
        self.held.set(held - 1);
    }

    /// Takes a unit if one is cached (for `Handle::current`, which may hold none).
    pub(crate) fn try_take(&self) -> bool {
        let held = self.held.get();
        self.held.set(held.saturating_sub(1));
        held > 0
    }

    /// Puts back the unit of a dropped handle, returning `batch` units to `count`
    /// when more than `2 * batch` are cached.
    #[inline]
    pub(crate) fn put(&self, count: &HandleCount, batch: usize) {
        let held = self.held.get() + 1;
        if held > 2 * batch {
            if count.sub(batch) {
                crate::fatal("handle count reached zero while a worker still cached units");
            }
            self.held.set(held - batch);
        } else {
            self.held.set(held);
        }
    }

    /// Gives every cached unit back. True if they were the last: the caller must then
    /// drop the group reference.
    pub(crate) fn give_back(&self, count: &HandleCount) -> bool {
        let held = self.held.replace(0);
        held > 0 && count.sub(held)
    }
}

#[cfg(test)]
mod tests {
    use crate::op::Op;
    use crate::{Coordinator, Handle, TaskError};

    /// Handles cloned and dropped on workers (through their caches) and outside keep
    /// the pool alive exactly as long as one exists: after the coordinator and every
    /// handle are gone, `Shared` is freed; while a handle outlives the coordinator,
    /// it still works (spawns resolve `Shutdown`).
    #[test]
    fn units_keep_shared_alive_and_free_it() {
        let gate = Coordinator::builder().workers(2).build().unwrap();
        let weak = std::sync::Arc::downgrade(&*gate.handle().shared);
        let op = Op::new("handle-units");
        fn fan(h: &Handle, op: &'static Op, n: u32) -> u32 {
            if n == 0 {
                return 1;
            }
            let child = h.clone();
            let a = h.spawn(op, move || fan(&child, op, n - 1));
            fan(h, op, n - 1) + a.wait().unwrap()
        }
        let op: &'static Op = Box::leak(Box::new(op));
        let h = gate.handle();
        // 2^9 leaves: more clones than two caches' worth (`HANDLE_BATCH`), so refills
        // and give-backs both happen.
        assert_eq!(gate.spawn(op, move || fan(&h, op, 9)).wait(), Ok(512));
        // Handles made inside tasks, taken out of the pool.
        let kept: Vec<Handle> = (0..200)
            .map(|_| gate.spawn(op, || Handle::current().unwrap()).wait().unwrap())
            .collect();
        assert!(gate.shared().handles.units() > kept.len()); // and the coordinator's
        drop(gate);
        assert!(weak.upgrade().is_some(), "freed while handles live");
        assert_eq!(kept[0].spawn(op, || 1).wait(), Err(TaskError::Shutdown));
        // The workers are gone and gave back their caches: one unit per handle.
        assert_eq!(kept[0].shared.handles.units(), kept.len());
        drop(kept);
        assert!(weak.upgrade().is_none(), "Shared leaked after the last handle");
    }

    /// On a worker, clones and drops of its pool's handle leave the shared count
    /// alone (they use the worker's cache): the property issue 15 asks for.
    #[test]
    fn clones_on_a_worker_leave_the_count_alone() {
        let gate = Coordinator::builder().workers(1).build().unwrap();
        let h = gate.handle();
        let unchanged = gate
            .spawn(&Op::new("handle-units"), move || {
                drop(h.clone()); // fills this worker's cache, if empty
                let before = h.shared.handles.units();
                let clones: Vec<Handle> = (0..super::HANDLE_BATCH / 2).map(|_| h.clone()).collect();
                let during = h.shared.handles.units();
                drop(clones);
                (before, during, h.shared.handles.units())
            })
            .wait()
            .unwrap();
        assert_eq!(unchanged.0, unchanged.1, "a clone on a worker wrote the shared count");
        assert_eq!(unchanged.0, unchanged.2, "a drop on a worker wrote the shared count");
    }
}
