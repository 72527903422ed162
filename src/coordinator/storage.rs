//! The coordinator's side of the storage lane (`src/storage/`): a storage op's spawn,
//! the requeue of held or swept storage work, and the hooks the lane calls back
//! through (the control plane's screen, metrics' release count).

use super::Shared;
use crate::error::TaskError;
use crate::locality::Placement;
use crate::op::Op;
use crate::storage::{Hooks, StorageLane, StorageSpeed};
use crate::sync::{fence, Ordering};
use crate::task::{self, Header, Meta, TaskRef, Times};
use crate::token::Token;
use crate::worker::{self, WorkerCtx};

impl Shared {
    /// Storage hook: queues a storage op's call on its tier (`src/storage/`), with
    /// the same accept check and post-push re-check as `push_shared`. Never blocks,
    /// and is not counted by `max_queued` (a tier's queue is its own bound).
    pub(crate) fn spawn_storage<K, F, T>(&self, op: &Op<K>, speed: StorageSpeed, f: F) -> Token<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let deadline_ns = op.deadline_ns();
        let mut meta = Meta::new(
            task::next_id(),
            Placement::Free,
            op.weight_of(),
            op.id(),
            Times::queued_now_if(self.metrics.times_task(deadline_ns)),
        );
        meta.tier = speed.tier();
        meta.deadline_ns = deadline_ns;
        if meta.deadline_ns != 0 {
            self.control.note_deadline();
        }
        // Metrics: counted as any spawn, in the spawning thread's shard.
        let shard = worker::with_ctx_of(self, |ctx| ctx.map(WorkerCtx::index));
        let inside = shard.is_some();
        self.metrics.submitted(op.id(), op.weight_of(), shard);
        let (task, ptr) = task::new(f, meta);
        if !self.accepts(self.state.load(Ordering::Relaxed), inside) {
            self.metrics.abort(task, shard);
            return Token::from_raw(ptr);
        }
        StorageLane::push(&self.storage, speed, task);
        // ORDERING: SeqCst fence and load: the spawn/shutdown Dekker pair (module docs).
        fence(Ordering::SeqCst);
        if !self.accepts(self.state.load(Ordering::SeqCst), inside) && Header::abort(ptr, TaskError::Shutdown) {
            // SAFETY: the token's reference (`ptr`) is still ours.
            let meta = unsafe { &ptr.as_ref().meta };
            self.metrics
                .record_resolved(meta, crate::metrics::Outcome::Shutdown, shard);
        }
        Token::from_raw(ptr)
    }
    /// `requeue` for a storage task: back on its tier, with the spawn's shutdown
    /// re-check (`spawn_storage`).
    pub(super) fn requeue_storage(&self, speed: StorageSpeed, task: TaskRef) {
        let ptr = task.header();
        // SAFETY: `task` holds a reference, so the header is alive.
        unsafe { ptr.as_ref() }.add_ref();
        StorageLane::push(&self.storage, speed, task);
        // ORDERING: SeqCst fence and load: the spawn/shutdown Dekker pair (module docs).
        fence(Ordering::SeqCst);
        if !self.accepts(self.state.load(Ordering::SeqCst), true) {
            Header::abort(ptr, TaskError::Shutdown);
        }
        // SAFETY: we own the reference added above and do not use `ptr` again.
        unsafe { Header::drop_ref(ptr) };
    }
}

/// The storage lane's hooks into this pool (`StorageLane::set_hooks`): the control
/// plane screens a storage task before it runs, as a worker screens CPU work
/// (`WorkerCtx::execute`), and metrics count what a storage thread releases.
pub(crate) const STORAGE_HOOKS: Hooks = Hooks {
    screen: screen_storage,
    release: release_storage,
};

/// The pool behind a storage hook's owner pointer.
///
/// # Safety
/// `owner` must be the `Shared` given to `set_owner` (`Builder::build`); it joins its
/// storage threads before it lets go of it, so it outlives every hook call.
unsafe fn owner_shared<'a>(owner: *const ()) -> &'a Shared {
    // SAFETY: as the caller guarantees.
    unsafe { &*owner.cast::<Shared>() }
}

fn screen_storage(owner: *const (), task: TaskRef) -> Option<TaskRef> {
    // SAFETY: hooks are only called with the lane's owner (`STORAGE_HOOKS`).
    let shared = unsafe { owner_shared(owner) };
    if !shared.control.is_active() {
        return Some(task);
    }
    let expire = |t: TaskRef| {
        let _ = shared.metrics.resolve(t, TaskError::Expired, None);
    };
    shared.control.screen(task, None, &expire, &|t, w| shared.requeue(t, w))
}

fn release_storage(owner: *const (), meta: &Meta, resolved_here: bool) {
    // Metrics hook (metrics-cost branch): a storage thread whose owner was dropped
    // inside the task it ran (`storage::threads::join` then clears its owner) must not
    // touch the owner: it is freed. Nothing is counted; nobody can read it any more.
    // (Before, this read the freed `Shared`: tests/storage_lifecycle.rs
    // `coordinator_dropped_inside_its_own_storage_task`, under valgrind.)
    if crate::storage::on_storage_thread() && crate::storage::current_owner().is_none() {
        return;
    }
    // SAFETY: as in `screen_storage`; the check above excludes an owner that was
    // dropped on this very storage thread.
    unsafe { owner_shared(owner) }
        .metrics
        .released_off_worker(meta, resolved_here);
}
