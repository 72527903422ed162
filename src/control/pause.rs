//! Pause and resume: paused work waits in held lists, with no thread polling.
//!
//! # Holding
//!
//! A worker that meets a task whose op is paused (or while everything is paused)
//! does not run it: it pushes it onto the op's *held list* (a lock-free injector
//! queue) and goes on with other work. Nothing polls a held list; workers with
//! nothing runnable park as usual. Resuming takes the held tasks back out and
//! requeues them (free work to the injector, pinned work to its worker's inbox),
//! waking workers.
//!
//! # The hand-off (no task lost, none run twice)
//!
//! A holder and a resumer race: the holder read "paused", the resumer clears the
//! flag and empties the list. It is a Dekker pair:
//!
//! - holder: push onto the held list; SeqCst fence; re-read the flags. If no longer
//!   paused, it empties the list itself (requeues what it finds).
//! - resumer: clear the flag (SeqCst); SeqCst fence; empty the list.
//!
//! Either the resumer's emptying sees the pushed task, or the holder's re-read sees
//! the cleared flag, or both; both may empty the list, and a queue hands each task
//! to exactly one of them. A task requeued while a new pause is on is simply held
//! again. Loom model: `loom-tests/tests/control.rs`.

use crate::control::{Control, Requeue, PAUSED_OP, PAUSE_ALL, SWEEP};
use crate::registry::OpId;
use crate::sync::{fence, AtomicBool, Injector, Ordering, Steal};
use crate::task::{Meta, TaskRef};

/// One op's control state.
pub(crate) struct OpControl {
    paused: AtomicBool,
    held: Injector<Held>,
}

/// A held task and where it goes back to.
pub(crate) struct Held {
    pub(crate) task: TaskRef,
    pub(crate) target: Option<usize>,
}

impl OpControl {
    fn new() -> OpControl {
        OpControl {
            paused: AtomicBool::new(false),
            held: Injector::new(),
        }
    }
}

impl Control {
    fn op(&self, op: OpId) -> &OpControl {
        if !self.has_ops.load(Ordering::Relaxed) {
            // ORDERING: SeqCst, so a resumer that reads `false` also misses the entry
            // made after it (it then has nothing to requeue from that entry either).
            self.has_ops.store(true, Ordering::SeqCst);
        }
        self.ops.get_or_init(op, OpControl::new)
    }

    /// Every op entry made so far (none: no `pause_op` and no hold ever, so the
    /// walk over the table is skipped, e.g. at every pool's drop).
    fn op_entries(&self) -> impl Iterator<Item = (OpId, &OpControl)> {
        // ORDERING: SeqCst pairs with the store in `op`.
        let any = self.has_ops.load(Ordering::SeqCst);
        any.then(|| self.ops.iter()).into_iter().flatten()
    }

    /// True if tasks of the op of `meta` must be held now (the storage-lane hook).
    pub(crate) fn should_hold(&self, meta: &Meta) -> bool {
        self.held_back(meta.op)
    }

    fn held_back(&self, op: OpId) -> bool {
        // ORDERING: SeqCst: the read half of the hand-off's Dekker pair (module docs).
        self.active.load(Ordering::SeqCst) & (PAUSE_ALL | SWEEP) != 0
            || self.ops.get(op).is_some_and(|o| o.paused.load(Ordering::SeqCst))
    }

    /// Holds `task` (its op is paused), then re-checks, per the hand-off protocol:
    /// if the pause was lifted meanwhile, empties the list through `requeue`.
    pub(crate) fn hold(&self, task: TaskRef, target: Option<usize>, requeue: Requeue<'_>) {
        let id = task.meta().op;
        task.meta().held.store(true, std::sync::atomic::Ordering::Relaxed);
        let op = self.op(id);
        op.held.push(Held { task, target });
        // ORDERING: SeqCst fence: the write half of the hand-off's Dekker pair.
        fence(Ordering::SeqCst);
        if !self.held_back(id) {
            release(op, requeue);
        }
    }

    /// Pauses everything: queued work waits, running tasks finish, spawns are still
    /// accepted. Returns false if it was already paused.
    pub(crate) fn pause(&self) -> bool {
        // ORDERING: SeqCst, read by `held_back`.
        self.active.fetch_or(PAUSE_ALL, Ordering::SeqCst) & PAUSE_ALL == 0
    }

    /// Lifts `pause` and requeues every held task whose op is not paused itself.
    pub(crate) fn resume(&self, requeue: Requeue<'_>) -> bool {
        let _serial = self.lock_sweeps();
        // ORDERING: SeqCst: the resumer's half of the hand-off (module docs).
        let was = self.active.fetch_and(!PAUSE_ALL, Ordering::SeqCst) & PAUSE_ALL != 0;
        fence(Ordering::SeqCst);
        self.release_unpaused(requeue);
        was
    }

    /// Requeues the held tasks of every op not held back now (after a flag was
    /// cleared and a SeqCst fence: the resumer's half of the hand-off).
    pub(crate) fn release_unpaused(&self, requeue: Requeue<'_>) {
        for (id, op) in self.op_entries() {
            if !self.held_back(id) {
                release(op, requeue);
            }
        }
    }

    /// A resume moves held tasks back to the queues, which a sweep must not miss:
    /// the two never overlap (`sweep.rs`).
    ///
    /// A sweep drops the closures it resolves and wakes their waiters; a `Drop` that
    /// drains, cancels, looks a task up or resumes on that thread would wait for
    /// itself, so it panics with a message instead (reported on stderr; a closure's
    /// destructor that panics is contained, `task/mod.rs`).
    pub(super) fn lock_sweeps(&self) -> SweepGuard<'_> {
        if IN_SWEEP.with(|s| s.replace(true)) {
            panic!(
                "tokengate: drain, cancel(id), status(id) or resume called from a Drop run by a sweep \
                 on this thread; it would wait for itself"
            );
        }
        SweepGuard(
            self.sweep_lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Pauses one op. Returns false if it was already paused.
    pub(crate) fn pause_op(&self, op: OpId) -> bool {
        let o = self.op(op);
        // ORDERING: SeqCst, read by `held_back`.
        if o.paused.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.active.fetch_add(PAUSED_OP, Ordering::SeqCst);
        true
    }

    /// Lifts `pause_op(op)` and requeues its held tasks (unless everything is paused).
    pub(crate) fn resume_op(&self, op: OpId, requeue: Requeue<'_>) -> bool {
        let Some(o) = self.ops.get(op) else {
            return false;
        };
        let _serial = self.lock_sweeps();
        // ORDERING: SeqCst: the resumer's half of the hand-off (module docs).
        let was = o.paused.swap(false, Ordering::SeqCst);
        if was {
            self.active.fetch_sub(PAUSED_OP, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        if !self.held_back(op) {
            release(o, requeue);
        }
        was
    }

    pub(crate) fn is_paused(&self) -> bool {
        // ORDERING: SeqCst, as `held_back`.
        self.active.load(Ordering::SeqCst) & PAUSE_ALL != 0
    }

    pub(crate) fn is_op_paused(&self, op: OpId) -> bool {
        // ORDERING: SeqCst, as `held_back`.
        self.ops.get(op).is_some_and(|o| o.paused.load(Ordering::SeqCst))
    }

    /// Takes every held task out (of every op), for the sweep and for shutdown.
    pub(crate) fn take_held(&self, f: &mut dyn FnMut(TaskRef, Option<usize>)) {
        for (_, op) in self.op_entries() {
            while let Some(h) = steal(&op.held) {
                h.task.meta().held.store(false, std::sync::atomic::Ordering::Relaxed);
                f(h.task, h.target);
            }
        }
    }

    /// Tasks held now, over all ops (a snapshot).
    pub(crate) fn held_count(&self) -> usize {
        self.op_entries().map(|(_, op)| op.held.len()).sum()
    }
}

/// Empties one held list through `requeue`.
fn release(op: &OpControl, requeue: Requeue<'_>) {
    while let Some(h) = steal(&op.held) {
        h.task.meta().held.store(false, std::sync::atomic::Ordering::Relaxed);
        requeue(h.task, h.target);
    }
}

fn steal(q: &Injector<Held>) -> Option<Held> {
    loop {
        match q.steal() {
            Steal::Success(h) => return Some(h),
            Steal::Empty => return None,
            Steal::Retry => crate::sync::spin_hint(),
        }
    }
}

crate::sync::const_thread_local! {
    /// True while this thread holds `Control::sweep_lock`.
    static IN_SWEEP: std::cell::Cell<bool> = std::cell::Cell::new(false);
}

/// `Control::sweep_lock`, held; clears `IN_SWEEP` when dropped.
pub(super) struct SweepGuard<'a>(#[allow(dead_code)] std::sync::MutexGuard<'a, ()>);

impl Drop for SweepGuard<'_> {
    fn drop(&mut self) {
        IN_SWEEP.with(|s| s.set(false));
    }
}
