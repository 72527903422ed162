//! Bounded admission: `Builder::max_queued(n)`, `try_spawn`, backpressure.
//!
//! `queued` counts tasks admitted and still `QUEUED`. A spawn takes a slot (a CAS
//! that fails at the bound, for `try_spawn`); the claim's winner gives it back
//! (`Header::claim`, `TaskRef::run_by_waiter`), whether the task then runs or is
//! resolved without running, so the count is exact.
//!
//! - `try_spawn` fails fast at the bound and hands the closure back in [`Full`].
//! - `spawn` from outside the pool parks the caller until there is room (or the
//!   pool closes: then the token resolves `Shutdown`). It does not spin.
//! - `spawn` from inside the pool (a running task) never blocks, because that can
//!   deadlock fork-join (with one worker, the blocked task is the only one that
//!   could free room): it is **admitted over the bound**. The count may then exceed
//!   `n` by the number of such spawns; outside producers wait until it is below.
//! - Async callers wait for room with [`Handle::room`](crate::Handle::room), a
//!   future, then `try_spawn` again.
//!
//! **Waiting.** The fast paths are atomics only. A producer that finds the pool
//! full counts itself in `waiters` and parks on a condition variable (its waker is
//! kept under the same lock). A slot's release decrements `queued` (SeqCst RMW) and
//! then reads `waiters` (SeqCst); a waiter increments `waiters` (SeqCst RMW) and then
//! re-reads `queued`: one of them sees the other, so no wake-up is lost. The lock
//! is only taken when somebody waits.
//!
//! **Lifetime.** A task holds a `&'static` to its pool's counter, so a bounded pool
//! leaks one small block (`Admission::leak`): tasks and tokens may outlive the pool.

use std::sync::{Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::sync::{AtomicUsize, CachePadded, Ordering};

/// One bounded pool's admission counter.
pub(crate) struct Admission {
    bound: usize,
    queued: CachePadded<AtomicUsize>,
    waiters: AtomicUsize,
    lock: Mutex<Vec<Waker>>,
    room: Condvar,
}

impl Admission {
    /// A counter for bound `n`, leaked (module docs, "Lifetime").
    pub(crate) fn leak(bound: usize) -> &'static Admission {
        Box::leak(Box::new(Admission {
            bound,
            queued: CachePadded::new(AtomicUsize::new(0)),
            waiters: AtomicUsize::new(0),
            lock: Mutex::new(Vec::new()),
            room: Condvar::new(),
        }))
    }

    pub(crate) fn bound(&self) -> usize {
        self.bound
    }

    /// Admitted tasks still queued.
    pub(crate) fn queued(&self) -> usize {
        // ORDERING: SeqCst: the waiter's re-read of the Dekker pair (module docs).
        self.queued.load(Ordering::SeqCst)
    }

    fn has_room(&self) -> bool {
        self.queued() < self.bound
    }

    /// Takes a slot if fewer than `bound` are taken.
    #[inline]
    pub(crate) fn try_admit(&self) -> bool {
        let mut n = self.queued.load(Ordering::Relaxed);
        loop {
            if n >= self.bound {
                return false;
            }
            // ORDERING: Relaxed: the bound is a property of this one counter.
            match self
                .queued
                .compare_exchange_weak(n, n + 1, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => n = actual,
            }
        }
    }

    /// Takes a slot over the bound (a spawn from inside the pool).
    #[inline]
    pub(crate) fn admit_over(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes a slot, parking until there is room. Returns false, without a slot, if
    /// `closed()` turns true first. The caller tried `try_admit` first.
    #[cold]
    pub(crate) fn admit_blocking(&self, closed: impl Fn() -> bool) -> bool {
        loop {
            if self.try_admit() {
                return true;
            }
            if closed() {
                return false;
            }
            let guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            // ORDERING: SeqCst: the waiter's RMW of the Dekker pair (module docs).
            self.waiters.fetch_add(1, Ordering::SeqCst);
            if !self.has_room() && !closed() {
                let guard = self.room.wait(guard).unwrap_or_else(PoisonError::into_inner);
                drop(guard);
            }
            self.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Gives a slot back; wakes waiters if there are any.
    #[inline]
    pub(crate) fn release(&self) {
        // ORDERING: SeqCst: the releaser's RMW of the Dekker pair (module docs).
        self.queued.fetch_sub(1, Ordering::SeqCst);
        // ORDERING: SeqCst: the releaser's read of the Dekker pair.
        if self.waiters.load(Ordering::SeqCst) != 0 {
            self.wake();
        }
    }

    /// Wakes every waiter (blocked threads and registered async wakers).
    #[cold]
    pub(crate) fn wake(&self) {
        let wakers = {
            let mut wakers = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.room.notify_all();
            let taken = std::mem::take(&mut *wakers);
            self.waiters.fetch_sub(taken.len(), Ordering::SeqCst);
            taken
        };
        for w in wakers {
            w.wake();
        }
    }

    /// `Room::poll`: ready if there is room or the pool is closed, otherwise
    /// registers the waker.
    fn poll_room(&self, cx: &mut Context<'_>, closed: bool) -> Poll<()> {
        if closed || self.has_room() {
            return Poll::Ready(());
        }
        let mut wakers = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        wakers.push(cx.waker().clone());
        // ORDERING: SeqCst: the waiter's RMW of the Dekker pair (module docs).
        self.waiters.fetch_add(1, Ordering::SeqCst);
        if self.has_room() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// [`try_spawn`](crate::Handle::try_spawn) found the pool full: `max_queued` tasks
/// are queued. Nothing is lost: [`into_inner`](Full::into_inner) gives the closure
/// back.
///
/// ```
/// use tokengate::{Coordinator, Op};
/// let gate = Coordinator::builder().workers(1).max_queued(1).build().unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let started = std::sync::Arc::new(std::sync::Barrier::new(2));
/// let s = started.clone();
/// let op = Op::new("full-doc");
/// let busy = gate.spawn(&op, move || { s.wait(); rx.recv().unwrap() });
/// started.wait();                                   // the worker is busy
/// let queued = gate.try_spawn(&op, || 1).unwrap();  // takes the one slot
/// let full = gate.try_spawn(&op, || 2).unwrap_err();
/// let f = full.into_inner();                        // the closure, back
/// assert_eq!(f(), 2);
/// tx.send(()).unwrap();
/// busy.wait().unwrap();
/// assert_eq!(queued.wait(), Ok(1));
/// ```
pub struct Full<F>(pub(crate) F);

impl<F> Full<F> {
    /// The closure that was not spawned.
    pub fn into_inner(self) -> F {
        self.0
    }
}

impl<F> std::fmt::Debug for Full<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<F> std::fmt::Display for Full<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the pool is full: max_queued tasks are queued")
    }
}

impl<F> std::error::Error for Full<F> {}

/// A future that resolves when a bounded pool has room (or is closed, or is not
/// bounded), from [`Handle::room`](crate::Handle::room). It is a hint: another
/// producer may take the room first, so `try_spawn` again and wait again on `Full`.
///
/// ```
/// let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
/// futures::executor::block_on(gate.room());   // unbounded: ready at once
/// ```
#[must_use = "a future does nothing unless awaited"]
pub struct Room {
    pub(crate) handle: crate::Handle,
}

impl std::future::Future for Room {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let shared = &self.handle.shared;
        match shared.control.admission() {
            None => Poll::Ready(()),
            Some(a) => a.poll_room(cx, !shared.accepts_outside()),
        }
    }
}
