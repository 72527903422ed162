//! Locality: sticky anchors and lead domains, which pin work to one worker and switch
//! stealing off for it.
//!
//! # Sticky anchors
//!
//! A fixed table of `TUNING.anchor_slots` atomic slots (1024 in a normal build), indexed
//! by a hash of the anchor name. Each slot packs `(worker << 48) | active`, where
//! `active` counts the queued or running tokens of the anchors that hash there.
//!
//! - *Pin*: a CAS that increments `active`. If `active` was 0, the same CAS also
//!   writes the least-loaded worker, so the first token places the anchor.
//! - *Release*: `fetch_sub(1)` when a token finishes in any way. When `active` reaches
//!   0, the worker field is stale and ignored, and the next pin places the anchor anew.
//!
//! Pin and release are single atomic operations on one word, so a pin can't leak
//! and can't be released early, and the worker never changes while `active > 0`.
//! Memory is bounded: the table never grows. *Collisions*: two anchors that hash
//! to the same slot share its worker while both are active. That costs some
//! placement freedom but never correctness.
//!
//! # Lead domains
//!
//! Spawning an op with `external_calls` opens a [`Domain`] on the least-loaded worker.
//! Its seed is `SHA-256(token id as 8 little-endian bytes ‖ for each call:
//! (length as 8 little-endian bytes ‖ UTF-8 bytes))`. `Domain::active` counts the
//! unfinished members plus open child domains. A task spawned while a member runs
//! joins the domain *before* it is queued: `active += 1`, and it goes into the domain
//! worker's pinned lane. When `active` drops to 0, the domain is released, exactly
//! once, because only that one decrement sees 1. It cannot rise again afterwards:
//! joining needs a running member, and a running member holds a count.
//!
//! - *Inside a domain, the domain wins*: a sticky op spawned by a member joins the
//!   domain and ignores its anchor.
//! - *Nested leads*: a lead spawned by a member opens its own domain, placed by load
//!   like any lead. The child domain holds one count on its parent until it is
//!   released, so the outer domain outlives everything spawned beneath it.

use sha2::{Digest, Sha256};

use crate::op::Tag;
use crate::sync::{Arc, AtomicU64, AtomicUsize, CachePadded, Ordering, TUNING};

const WORKER_SHIFT: u32 = 48;
const ACTIVE_MASK: u64 = (1 << WORKER_SHIFT) - 1;

/// Locality state of one coordinator.
pub(crate) struct Locality {
    slots: Box<[AtomicU64]>,
    /// Per worker: active pinned tasks (anchors and domain members). Part of its load.
    pinned: Box<[CachePadded<AtomicUsize>]>,
    domains_opened: AtomicU64,
    domains_released: AtomicU64,
}

/// Where a task must run and what to release when it finishes. 16 bytes: the
/// anchor's slot and worker are `u16`s, which the enum's tag leaves room for beside
/// the pointer (a task header spans two cache lines only while it is small,
/// `task/mod.rs`).
pub(crate) enum Placement {
    Free,
    Anchor {
        locality: Arc<Locality>,
        slot: u16,
        worker: u16,
    },
    Domain {
        domain: Arc<Domain>,
    },
}

// An anchor's slot and worker fit its `u16`s.
const _: () = assert!(crate::coordinator::MAX_WORKERS <= 1 << 16);
const _: () = assert!(TUNING.anchor_slots <= 1 << 16);

/// One lead's domain. See the module docs.
pub(crate) struct Domain {
    seed: [u8; 32],
    worker: usize,
    active: AtomicUsize,
    parent: Option<Arc<Domain>>,
    locality: Arc<Locality>,
}

/// Counters for observing locality (tests, metrics).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalityStats {
    /// Domains opened since the coordinator started.
    pub domains_opened: u64,
    /// Domains released since the coordinator started (each exactly once).
    pub domains_released: u64,
    /// Anchor table slots with at least one active token.
    pub pinned_anchor_slots: usize,
    /// Active pinned tasks (sticky or domain members), per worker.
    pub pinned_tasks: Vec<usize>,
}

impl Locality {
    pub(crate) fn new(workers: usize) -> Self {
        Locality {
            slots: (0..TUNING.anchor_slots).map(|_| AtomicU64::new(0)).collect(),
            pinned: (0..workers).map(|_| CachePadded::new(AtomicUsize::new(0))).collect(),
            domains_opened: AtomicU64::new(0),
            domains_released: AtomicU64::new(0),
        }
    }

    fn slot_of(&self, hash: u64) -> usize {
        (hash as usize) & (self.slots.len() - 1)
    }

    /// Active pinned tasks on worker `w`.
    pub(crate) fn pinned_on(&self, w: usize) -> usize {
        self.pinned[w].load(Ordering::Relaxed)
    }

    /// Decides where a new task runs. `current` is the placement of the task running on
    /// this thread, if it is a worker of this coordinator; `least_loaded` picks a worker.
    /// Returns the placement and the worker it pins to (`None`: free to go anywhere).
    // Inlined into `Shared::spawn`: the untagged, domain-free case then costs a
    // couple of branches instead of a call that returns the placement through memory.
    #[inline(always)]
    pub(crate) fn place(
        this: &Arc<Self>,
        tag: &Tag,
        id: u64,
        current: Option<&Placement>,
        least_loaded: impl Fn() -> usize,
    ) -> (Placement, Option<usize>) {
        if matches!(tag, Tag::None) && !matches!(current, Some(Placement::Domain { .. })) {
            return (Placement::Free, None);
        }
        Locality::place_pinned(this, tag, id, current, least_loaded)
    }

    /// `place` for a tagged task or a domain member.
    #[inline(never)]
    fn place_pinned(
        this: &Arc<Self>,
        tag: &Tag,
        id: u64,
        current: Option<&Placement>,
        least_loaded: impl Fn() -> usize,
    ) -> (Placement, Option<usize>) {
        let inherited = match current {
            Some(Placement::Domain { domain }) => Some(domain),
            _ => None,
        };
        match (tag, inherited) {
            (Tag::Lead { calls }, parent) => {
                let worker = least_loaded();
                let domain = Domain::open(this, seed(id, calls), worker, parent.cloned());
                (Placement::Domain { domain }, Some(worker))
            }
            (_, Some(domain)) => {
                // ORDERING: Relaxed: the joiner is a running member, so `active >= 1`
                // and cannot reach 0 concurrently; the queue push publishes the task.
                domain.active.fetch_add(1, Ordering::Relaxed);
                this.pinned[domain.worker].fetch_add(1, Ordering::Relaxed);
                (
                    Placement::Domain {
                        domain: Arc::clone(domain),
                    },
                    Some(domain.worker),
                )
            }
            (Tag::Sticky { hash, .. }, None) => {
                let slot = this.slot_of(*hash);
                let worker = this.pin(slot, least_loaded);
                this.pinned[worker].fetch_add(1, Ordering::Relaxed);
                (
                    Placement::Anchor {
                        locality: Arc::clone(this),
                        // Both fit (the assertions at `Placement`).
                        slot: slot as u16,
                        worker: worker as u16,
                    },
                    Some(worker),
                )
            }
            (Tag::None, None) => (Placement::Free, None),
        }
    }

    /// Increments the slot's active count, placing it first if it was free.
    fn pin(&self, slot: usize, least_loaded: impl Fn() -> usize) -> usize {
        let cell = &self.slots[slot];
        let mut v = cell.load(Ordering::Relaxed);
        loop {
            let next = if v & ACTIVE_MASK == 0 {
                ((least_loaded() as u64) << WORKER_SHIFT) | 1
            } else {
                v + 1
            };
            // ORDERING: AcqRel: a pin must see the latest placement (Acquire) and
            // publish its own (Release) to the next pinner of the same slot.
            match cell.compare_exchange_weak(v, next, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return (next >> WORKER_SHIFT) as usize,
                Err(actual) => v = actual,
            }
        }
    }

    /// The worker the anchor with `hash` is pinned to, if any token of it is active.
    pub(crate) fn anchor_worker(&self, hash: u64) -> Option<usize> {
        // ORDERING: Acquire pairs with the pin/release read-modify-writes.
        let v = self.slots[self.slot_of(hash)].load(Ordering::Acquire);
        (v & ACTIVE_MASK != 0).then_some((v >> WORKER_SHIFT) as usize)
    }

    pub(crate) fn stats(&self) -> LocalityStats {
        LocalityStats {
            domains_opened: self.domains_opened.load(Ordering::Relaxed),
            // ORDERING: Acquire pairs with the Release increment in `Domain::leave`.
            domains_released: self.domains_released.load(Ordering::Acquire),
            // ORDERING: Acquire pairs with the pin/release read-modify-writes.
            pinned_anchor_slots: self
                .slots
                .iter()
                .filter(|s| s.load(Ordering::Acquire) & ACTIVE_MASK != 0)
                .count(),
            pinned_tasks: self.pinned.iter().map(|p| p.load(Ordering::Relaxed)).collect(),
        }
    }
}

impl Placement {
    /// True if the task may only run on one worker (an anchor or a domain member).
    pub(crate) fn is_pinned(&self) -> bool {
        !matches!(self, Placement::Free)
    }

    /// Releases what this task held. Called exactly once per task, by whoever resolved
    /// it, before its result is published. Inline for the common `Free` case.
    #[inline]
    pub(crate) fn release(&self) {
        if self.is_pinned() {
            self.release_pin();
        }
    }

    fn release_pin(&self) {
        match self {
            Placement::Free => {}
            Placement::Anchor { locality, slot, worker } => {
                locality.pinned[usize::from(*worker)].fetch_sub(1, Ordering::Relaxed);
                // ORDERING: AcqRel, the other half of `pin`'s CAS on the same slot.
                locality.slots[usize::from(*slot)].fetch_sub(1, Ordering::AcqRel);
            }
            Placement::Domain { domain } => {
                domain.locality.pinned[domain.worker].fetch_sub(1, Ordering::Relaxed);
                domain.leave();
            }
        }
    }

    /// The hex SHA-256 seed of the task's domain, if it belongs to one.
    pub(crate) fn domain_seed(&self) -> Option<String> {
        match self {
            Placement::Domain { domain } => Some(domain.seed.iter().map(|b| format!("{b:02x}")).collect()),
            _ => None,
        }
    }
}

impl Domain {
    /// Opens a domain whose lead counts as its first member.
    fn open(locality: &Arc<Locality>, seed: [u8; 32], worker: usize, parent: Option<Arc<Domain>>) -> Arc<Self> {
        if let Some(p) = &parent {
            // ORDERING: Relaxed, as for any join: a running member of `p` holds a count.
            p.active.fetch_add(1, Ordering::Relaxed);
        }
        locality.domains_opened.fetch_add(1, Ordering::Relaxed);
        locality.pinned[worker].fetch_add(1, Ordering::Relaxed);
        Arc::new(Domain {
            seed,
            worker,
            active: AtomicUsize::new(1),
            parent,
            locality: Arc::clone(locality),
        })
    }

    /// One member (or child domain) finished. The last one releases the domain.
    fn leave(&self) {
        // ORDERING: AcqRel: the final decrement must see every member's work finished.
        if self.active.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        // ORDERING: Release: whoever reads the count sees the release complete.
        self.locality.domains_released.fetch_add(1, Ordering::Release);
        if let Some(parent) = &self.parent {
            parent.leave();
        }
    }
}

/// SHA-256 of the token id and the call list (layout in the module docs).
fn seed(id: u64, calls: &[String]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(id.to_le_bytes());
    for call in calls {
        h.update((call.len() as u64).to_le_bytes());
        h.update(call.as_bytes());
    }
    h.finalize().into()
}
