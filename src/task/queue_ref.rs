//! [`TaskRef`]: a queue's owning handle to a task, and how queues run, resolve and
//! give back the tasks they hold. The stages and the state word are documented once,
//! in `mod.rs`.

use std::ptr::NonNull;

use super::{Header, Meta, DONE, QUEUED, REF_ONE, RUNNING, STAGE};
use crate::error::TaskError;
use crate::sync::Ordering;

/// A queue's owning handle to a task. Exactly one exists per task.
pub(crate) struct TaskRef {
    pub(super) ptr: NonNull<Header>,
}

// SAFETY: a task's closure and result are `Send`, and all shared header fields are
// atomics; the slot is only touched by the claim's winner and then by the token.
unsafe impl Send for TaskRef {}

impl TaskRef {
    /// Runs the task if nobody claimed it first (a cancelled task is skipped).
    /// Returns true if this call ran it.
    #[allow(dead_code)] // the workers use `run_then`; kept for the loom models
    pub(crate) fn run(self) -> bool {
        self.run_then(|_, _| ())
    }

    /// [`run`](TaskRef::run), calling `release(meta, resolved_here)` while this
    /// reference is still held, just before it is given up (metrics count there:
    /// `metrics/mod.rs`). `resolved_here` is false if somebody else resolved the task.
    pub(crate) fn run_then(self, release: impl FnOnce(&Meta, bool)) -> bool {
        let ptr = self.into_raw();
        // SAFETY: `into_raw` handed us the queue's reference.
        let header = unsafe { ptr.as_ref() };
        if !header.claim() {
            header.lost_claim(release);
            // SAFETY: we own the reference and do not use it again.
            unsafe { Header::drop_ref(ptr) };
            return false;
        }
        // SAFETY: we won the claim; the vtable matches the allocation.
        unsafe { (header.vtable.run)(ptr) };
        release(&header.meta, true);
        Header::complete(ptr, true);
        true
    }

    /// Runs the task on behalf of its own waiter: the caller is the thread that holds
    /// the task's token and is blocked in one of the token's waits (see "The waiter's
    /// shortcut" in the module docs). Nobody else can reach the state word, so no
    /// read-modify-write is needed. Returns true if this call ran it (false: it was
    /// cancelled before it was popped).
    /// `release` is called as in [`run_then`](TaskRef::run_then).
    pub(crate) fn run_by_waiter(self, release: impl FnOnce(&Meta, bool)) -> bool {
        // More than the queue's and the token's reference: an abort handle exists and
        // may cancel from another thread, so take the normal path (module docs).
        // ORDERING: Acquire: an abort handle that existed may have cancelled the task
        // from another thread and then been dropped (its Release decrement); this load
        // then sees that cancellation's announcement (`Meta::outcome`) and resolution.
        // SAFETY: we hold the queue's reference.
        let s = unsafe { self.ptr.as_ref() }.state.load(Ordering::Acquire);
        if s >= 3 * REF_ONE {
            return self.run_then(release);
        }
        let ptr = self.into_raw();
        // SAFETY: `into_raw` handed us the queue's reference.
        let header = unsafe { ptr.as_ref() };
        // Relaxed is enough for every access below: with two references left, each
        // earlier change to the state word was made by this thread (the token's), or
        // reached it through the queue pop that handed over this reference or the
        // Acquire load above, and no other thread holds a reference.
        if s & STAGE != QUEUED {
            release(&header.meta, false);
            // SAFETY: we own the reference and do not use it again.
            unsafe { Header::drop_ref(ptr) };
            return false;
        }
        header.state.store(s | RUNNING, Ordering::Relaxed);
        // Control plane: the task left `QUEUED`; give back its slot.
        if let Some(admission) = header.meta.admission {
            admission.release();
        }
        // SAFETY: `RUNNING` is ours: nobody else can claim the task (module docs).
        unsafe { (header.vtable.run)(ptr) };
        release(&header.meta, true);
        header.meta.placement.release();
        let s = header.state.load(Ordering::Relaxed);
        // Publish `DONE` and drop the queue's reference; the token keeps its own.
        header.state.store(s - RUNNING + DONE - REF_ONE, Ordering::Relaxed);
        true
    }

    /// A queue's reference to a stack job (`fork.rs`).
    ///
    /// # Safety
    /// `job` must point to a whole stack job (not only its header field: the vtable
    /// reads the rest through it) whose header was made by [`Header::on_stack`] with
    /// that job's vtable, and the job must stay in place until its joiner has popped
    /// this reference back or seen `DONE`.
    pub(crate) unsafe fn from_stack(job: NonNull<Header>) -> TaskRef {
        TaskRef { ptr: job }
    }

    /// Gives up a reference without touching the task: the joiner popping its own
    /// stack job back, which it then runs directly.
    pub(crate) fn forget(self) {
        let _ = self.into_raw();
    }

    /// The task's metadata.
    pub(crate) fn meta(&self) -> &Meta {
        // SAFETY: this handle owns a reference, so the header is alive while it is borrowed.
        &unsafe { self.ptr.as_ref() }.meta
    }

    /// True if this is a reference to the task `header`.
    pub(crate) fn is(&self, header: &Header) -> bool {
        std::ptr::eq(self.ptr.as_ptr(), header)
    }

    /// Resolves the task with `err` unless it was already claimed.
    pub(crate) fn abort(self, err: TaskError) {
        let _ = self.abort_then(err, |_, _| ());
    }

    /// [`abort`](TaskRef::abort), calling `release` as [`run_then`](TaskRef::run_then)
    /// does. Returns true if this call resolved the task (drains count these).
    pub(crate) fn abort_then(self, err: TaskError, release: impl FnOnce(&Meta, bool)) -> bool {
        let ptr = self.into_raw();
        // SAFETY: `into_raw` handed us the queue's reference.
        let header = unsafe { ptr.as_ref() };
        if header.claim() {
            // SAFETY: we won the claim; the vtable matches the allocation.
            unsafe { (header.vtable.abort)(ptr, err) };
            release(&header.meta, true);
            Header::complete(ptr, true);
            true
        } else {
            header.lost_claim(release);
            // SAFETY: we own the reference and do not use it again.
            unsafe { Header::drop_ref(ptr) };
            false
        }
    }

    /// The task's header (control plane: `Shared::requeue`).
    pub(crate) fn header(&self) -> NonNull<Header> {
        self.ptr
    }

    /// True for a `join` stack job (exempt from pause and drain: it is part of its
    /// joiner's running task).
    pub(crate) fn is_stack_job(&self) -> bool {
        // SAFETY: as in `meta`.
        unsafe { self.ptr.as_ref() }.vtable.on_stack
    }

    /// Gives up the handle without dropping its reference.
    fn into_raw(self) -> NonNull<Header> {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // The safety net: a task dropped from a queue without being run still resolves.
        // `abort` consumes a handle; this temporary one takes over `self`'s reference.
        TaskRef { ptr: self.ptr }.abort(TaskError::Shutdown);
    }
}
