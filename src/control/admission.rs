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
//! **Waiting.** No lock anywhere. A producer that finds the pool full pushes its
//! waker (a thread's unparker, or an async task's waker) onto `wakers`, a lock-free
//! queue, counts it in `waiters`, re-reads `queued`, and parks (or returns
//! `Pending`) only if there is still no room. A slot's release decrements `queued`
//! (SeqCst RMW) and then reads `waiters` (SeqCst); if it is not zero, it takes every
//! waker out of the queue and wakes each. The waiter increments `waiters` (SeqCst
//! RMW) after its push and then re-reads `queued` with a read-modify-write
//! (`has_room_now`): one of the two sees the other, so no wake-up is lost. Every waiter woken tries again, and registers again if the
//! room was taken. A waiter that found room on its re-read leaves its waker behind;
//! the next wake-up spends it (a spurious unpark, which parkers tolerate).
//! Loom model: A1 in `loom-tests/tests/control.rs`.
//!
//! **Lifetime.** A task holds a `&'static` to its pool's counter, so a bounded pool
//! leaks one small block (`Admission::leak`): tasks and tokens may outlive the pool.

use std::task::{Context, Poll, Waker};

use crate::sync::{fence, park, AtomicUsize, CachePadded, Injector, Ordering, Steal};

/// One bounded pool's admission counter.
pub(crate) struct Admission {
    bound: usize,
    queued: CachePadded<AtomicUsize>,
    /// Wakers in `wakers` (module docs, "Waiting").
    waiters: AtomicUsize,
    wakers: Injector<Waker>,
}

impl Admission {
    /// A counter for bound `n`, leaked (module docs, "Lifetime").
    pub(crate) fn leak(bound: usize) -> &'static Admission {
        Box::leak(Box::new(Admission::new(bound)))
    }

    /// A counter for bound `n` (the loom models own theirs).
    pub(crate) fn new(bound: usize) -> Admission {
        Admission {
            bound,
            queued: CachePadded::new(AtomicUsize::new(0)),
            waiters: AtomicUsize::new(0),
            wakers: Injector::new(),
        }
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

    /// The waiter's re-read of the Dekker pair, after it registered: a
    /// read-modify-write, so that it reads the latest count. If it comes before the
    /// releaser's decrement in the counter's order, that decrement reads from it and
    /// so sees the registration; otherwise it reads the decrement. (A load would
    /// need a SeqCst fence on the releaser's side, on the claim's hot path.)
    fn has_room_now(&self) -> bool {
        // ORDERING: SeqCst RMW (module docs, "Waiting").
        self.queued.fetch_add(0, Ordering::SeqCst) < self.bound
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
            self.register(crate::sleep::thread_waker());
            if !self.has_room_now() && !closed() {
                // Woken by `wake` (or spuriously): try again either way.
                park();
            }
        }
    }

    /// Queues `waker` for the next `wake`, then counts it (module docs, "Waiting").
    fn register(&self, waker: Waker) {
        self.wakers.push(waker);
        // ORDERING: SeqCst: the waiter's RMW of the Dekker pair (module docs); after
        // the push, so a releaser that sees the count finds the waker.
        self.waiters.fetch_add(1, Ordering::SeqCst);
        // ORDERING: SeqCst fence: the waiter's half against a closer (`wake`): the
        // caller's closed-state read that follows sees the close, or the closer's
        // `wake` finds this waker.
        fence(Ordering::SeqCst);
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
        // ORDERING: SeqCst fence: a closer (`Control::on_close`) stored the closed
        // state first; a waiter registers, then reads it. One sees the other.
        fence(Ordering::SeqCst);
        loop {
            match self.wakers.steal() {
                Steal::Success(w) => {
                    // ORDERING: SeqCst, as every access to `waiters`.
                    self.waiters.fetch_sub(1, Ordering::SeqCst);
                    w.wake();
                }
                Steal::Retry => crate::sync::spin_hint(),
                Steal::Empty => break,
            }
        }
    }

    /// `Room::poll`: ready if there is room or the pool is closed, otherwise
    /// registers the waker.
    fn poll_room(&self, cx: &mut Context<'_>, closed: bool) -> Poll<()> {
        if closed || self.has_room() {
            return Poll::Ready(());
        }
        self.register(cx.waker().clone());
        if self.has_room_now() {
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
