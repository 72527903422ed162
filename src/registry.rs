//! Interned op names, and per-op tables indexed by them.
//!
//! Every [`Op`](crate::Op) is given an [`OpId`] when it is declared: the same name
//! always gets the same id, for the life of the process. Declaring is the cold path
//! (a lock, a hash); a spawn only copies the id into the task, so per-op state
//! (counters, the paused flag) is found by indexing, never by hashing a name.
//!
//! Names are kept for the life of the process: an op name is a declaration, and a
//! program declares a bounded set of them. Past [`MAX_OPS`] distinct names, further
//! names share the id [`OpId::OVERFLOW`], whose name reads `"(other)"`.
//!
//! [`OpTable`] is a per-pool table with one lazily made `T` per id. Lookup is a
//! load and an index; a missing entry is installed with one CAS, lock-free.

// Read by the control plane and metrics, which land next.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, OnceLock};

/// The most distinct op names a process may declare before names share
/// [`OpId::OVERFLOW`].
pub(crate) const MAX_OPS: usize = 1 << 16;

/// An interned op name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct OpId(u32);

impl OpId {
    /// The id of work that belongs to no declared op (a `join`'s stack job).
    pub(crate) const NONE: OpId = OpId(0);
    /// The id shared by names declared after [`MAX_OPS`] others.
    pub(crate) const OVERFLOW: OpId = OpId(1);

    /// The id as a table index.
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }

    /// The id whose [`index`](OpId::index) is `index` (metrics store ids packed).
    pub(crate) fn from_index(index: u32) -> OpId {
        OpId(index)
    }

    /// The id of op name `name`, interning it on first use.
    pub(crate) fn intern(name: &str) -> OpId {
        let reg = registry();
        let mut map = reg.by_name.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&id) = map.get(name) {
            return id;
        }
        let index = map.len() + FIRST;
        if index >= MAX_OPS {
            return OpId::OVERFLOW;
        }
        let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
        reg.names.get_or_init(OpId(index as u32), || name);
        map.insert(name, OpId(index as u32));
        OpId(index as u32)
    }

    /// The id of `name` if it has been declared.
    pub(crate) fn lookup(name: &str) -> Option<OpId> {
        let reg = registry();
        let map = reg.by_name.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(name).copied()
    }

    /// The declared name (`""` for [`OpId::NONE`], `"(other)"` for [`OpId::OVERFLOW`]).
    pub(crate) fn name(self) -> &'static str {
        match self {
            OpId::NONE => "",
            OpId::OVERFLOW => "(other)",
            id => registry().names.get(id).copied().unwrap_or(""),
        }
    }
}

/// Ids below this are reserved (`NONE`, `OVERFLOW`).
const FIRST: usize = 2;

struct Registry {
    by_name: Mutex<HashMap<&'static str, OpId>>,
    names: OpTable<&'static str>,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry {
        by_name: Mutex::new(HashMap::new()),
        names: OpTable::new(),
    })
}

/// Segment `s` holds ids `[BASE << s ... BASE << (s + 1))`, after segment 0's
/// first `BASE`: sizes double, so 12 segments cover [`MAX_OPS`].
const BASE: usize = 32;
const SEGMENTS: usize = 12;

/// One lazily made `T` per op id, per pool (or per process, for the names).
///
/// Segments of `OnceLock<T>` are allocated on first touch and installed with one CAS;
/// reading an entry that exists is two loads. Making an entry goes through its
/// `OnceLock` (a racing maker waits for the winner, once per entry, ever).
pub(crate) struct OpTable<T> {
    segments: [AtomicPtr<OnceLock<T>>; SEGMENTS],
}

// SAFETY: entries are shared by reference across threads (`T: Sync`) and are made and
// dropped by whichever thread gets there (`T: Send`); the segments themselves are
// only reached through atomics.
unsafe impl<T: Send + Sync> Sync for OpTable<T> {}
// SAFETY: the table owns its entries.
unsafe impl<T: Send> Send for OpTable<T> {}

impl<T> Default for OpTable<T> {
    fn default() -> Self {
        OpTable::new()
    }
}

impl<T> OpTable<T> {
    /// An empty table; it allocates nothing until an entry is made.
    pub(crate) fn new() -> Self {
        OpTable {
            segments: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        }
    }

    /// Segment and offset of `id`: segment 0 holds ids `0..BASE`, segment `s > 0`
    /// holds `BASE << (s - 1) .. BASE << s`.
    #[inline]
    fn locate(id: OpId) -> (usize, usize) {
        let i = id.index();
        if i < BASE {
            return (0, i);
        }
        let seg = (usize::BITS - (i / BASE).leading_zeros()) as usize;
        (seg, i - (BASE << (seg - 1)))
    }

    fn segment_len(seg: usize) -> usize {
        if seg == 0 {
            BASE
        } else {
            BASE << (seg - 1)
        }
    }

    #[inline]
    fn slot(&self, id: OpId) -> Option<&OnceLock<T>> {
        let (seg, off) = Self::locate(id);
        // ORDERING: Acquire pairs with the Release of the CAS that installed the
        // segment, so its initialised cells are visible.
        let base = self.segments.get(seg)?.load(Ordering::Acquire);
        // SAFETY: a non-null segment is a live allocation of `segment_len(seg)` cells,
        // freed only when the table is dropped; `off < segment_len(seg)`.
        (!base.is_null()).then(|| unsafe { &*base.add(off) })
    }

    /// The entry of `id`, if it was made.
    #[inline]
    pub(crate) fn get(&self, id: OpId) -> Option<&T> {
        self.slot(id)?.get()
    }

    /// The entry of `id`, made by `init` if missing.
    #[inline]
    pub(crate) fn get_or_init(&self, id: OpId, init: impl FnOnce() -> T) -> &T {
        if let Some(v) = self.get(id) {
            return v;
        }
        self.make(id, init)
    }

    /// The slow half of `get_or_init`.
    #[cold]
    fn make(&self, id: OpId, init: impl FnOnce() -> T) -> &T {
        let (seg, off) = Self::locate(id);
        let base = self.segment(seg);
        // SAFETY: as in `slot`.
        unsafe { &*base.add(off) }.get_or_init(init)
    }

    /// Every entry made so far, with its id.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (OpId, &T)> + '_ {
        (0..SEGMENTS).flat_map(move |seg| {
            let first = if seg == 0 { 0 } else { BASE << (seg - 1) };
            (0..Self::segment_len(seg)).filter_map(move |off| {
                let id = OpId((first + off) as u32);
                self.get(id).map(|v| (id, v))
            })
        })
    }

    /// The segment `seg`, allocated and installed with one CAS if missing.
    fn segment(&self, seg: usize) -> *mut OnceLock<T> {
        let cell = &self.segments[seg];
        // ORDERING: Acquire, as in `slot`.
        let cur = cell.load(Ordering::Acquire);
        if !cur.is_null() {
            return cur;
        }
        let fresh: Box<[OnceLock<T>]> = (0..Self::segment_len(seg)).map(|_| OnceLock::new()).collect();
        let fresh = Box::into_raw(fresh).cast::<OnceLock<T>>();
        // ORDERING: AcqRel: Release publishes the new segment's cells; Acquire (also on
        // failure) sees the winner's.
        match cell.compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => fresh,
            Err(winner) => {
                // SAFETY: `fresh` came from a boxed slice of this length, never shared.
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(fresh, Self::segment_len(seg))) });
                winner
            }
        }
    }
}

impl<T> Drop for OpTable<T> {
    fn drop(&mut self) {
        for (seg, cell) in self.segments.iter_mut().enumerate() {
            let base = *cell.get_mut();
            if !base.is_null() {
                // SAFETY: installed by `segment` from a boxed slice of this length;
                // `&mut self` means nobody else can reach it.
                drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(base, Self::segment_len(seg))) });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable_and_tables_index_every_segment() {
        let a = OpId::intern("registry-test-a");
        assert_eq!(OpId::intern("registry-test-a"), a);
        assert_ne!(OpId::intern("registry-test-b"), a);
        assert_eq!(a.name(), "registry-test-a");
        assert_eq!(OpId::lookup("registry-test-a"), Some(a));
        assert_eq!(OpId::lookup("registry-test-never"), None);
        let table = OpTable::<usize>::new();
        for i in [0usize, 1, 31, 32, 63, 64, 1000, MAX_OPS - 1] {
            assert_eq!(*table.get_or_init(OpId(i as u32), || i), i);
        }
        for i in [0usize, 1, 31, 32, 63, 64, 1000, MAX_OPS - 1] {
            assert_eq!(table.get(OpId(i as u32)), Some(&i));
        }
        assert_eq!(table.get(OpId(2)), None);
        assert_eq!(table.iter().count(), 8);
    }
}
