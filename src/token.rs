//! [`Token`]: the handle a spawn returns. Block on it with [`Token::wait`] or
//! `.await` it from any async runtime.
//!
//! The task's states are defined and documented once, on the state word in
//! `task/mod.rs`. From the token's side there are two facts that matter: `is_finished()`
//! becomes true exactly once and stays true, and the result is then read exactly once.
//!
//! # Waiting
//!
//! - `.await` registers the task's waker in the task's `AtomicWaker`, re-checks the
//!   state, and returns `Pending`. The worker publishes `DONE` *before* it wakes, so a
//!   waker registered after the check is either woken or sees `DONE` on the re-check:
//!   no lost wake-up. Re-polling with a different waker (as in `tokio::select!` loops)
//!   replaces the registration.
//! - `wait()` on an ordinary thread spins briefly, then registers a waker that unparks
//!   this thread and parks until the task is done.
//! - `wait()` on a worker thread never parks while it has work: it runs queued tasks
//!   (its own pinned work first) until the token resolves, like rayon. So a task may
//!   wait on children it spawned, even with one worker.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::error::TaskError;
use crate::task::Header;

/// A handle to one spawned call: a future of `Result<T, TaskError>` that can also be
/// waited on from synchronous code.
///
/// A token is `Send` but not `Sync`: it has one waker slot, so only its owner may
/// wait on it.
///
/// Dropping a token does not cancel the task: it still runs, and its result is
/// discarded. Use [`Token::cancel`] to stop a task that has not started.
///
/// ```
/// use tokengate::{Coordinator, Op};
///
/// let gate = Coordinator::builder().workers(2).build().unwrap();
/// let op = Op::new("square");
/// let sync_result = gate.spawn(&op, || 7 * 7).wait();
/// let async_result = futures::executor::block_on(gate.spawn(&op, || 8 * 8));
/// assert_eq!((sync_result, async_result), (Ok(49), Ok(64)));
/// ```
#[must_use = "a token is the only way to get the task's result; drop it explicitly to detach the task"]
pub struct Token<T> {
    ptr: NonNull<Header>,
    /// Set once the result has been moved out by `poll`.
    taken: bool,
    _result: PhantomData<T>,
}

// SAFETY: the token only moves a `T: Send` out of the task, and every shared header
// field it touches through `&self` is atomic.
unsafe impl<T: Send> Send for Token<T> {}

impl<T> Unpin for Token<T> {}

impl<T> Token<T> {
    /// Wraps the token's reference returned by `task::new`.
    pub(crate) fn from_raw(ptr: NonNull<Header>) -> Self {
        Token {
            ptr,
            taken: false,
            _result: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the token owns a reference until it is dropped.
        unsafe { self.ptr.as_ref() }
    }

    /// The task's process-unique id.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// # let op = tokengate::Op::new("x");
    /// let (a, b) = (gate.spawn(&op, || ()), gate.spawn(&op, || ()));
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn id(&self) -> u64 {
        self.header().meta.id
    }

    /// The hex SHA-256 seed of the locality domain this task belongs to: the domain
    /// it opened if it is a lead, or the one it joined if a domain member spawned it.
    /// `None` for tasks outside any domain.
    ///
    /// ```
    /// use tokengate::{Coordinator, Op};
    /// let gate = Coordinator::builder().workers(2).build().unwrap();
    /// let lead = gate.spawn(&Op::new("lead").external_calls(["child"]), || ());
    /// assert_eq!(lead.domain_seed().map(|s| s.len()), Some(64));
    /// assert_eq!(gate.spawn(&Op::new("plain"), || ()).domain_seed(), None);
    /// ```
    pub fn domain_seed(&self) -> Option<String> {
        self.header().meta.placement.domain_seed()
    }

    /// True once the task has a result (a value, a panic, `Cancelled` or `Shutdown`).
    /// The result stays in the token until it is waited on or awaited.
    pub fn is_finished(&self) -> bool {
        self.header().is_done()
    }

    /// Asks the task not to run.
    ///
    /// Returns `true` if the task had not started: its closure will never run and the
    /// token resolves to `Err(TaskError::Cancelled)` at once. Returns `false` if it was
    /// already running or finished: a running task is not interrupted, it finishes and
    /// the token resolves with its value, but [`is_cancelled`](crate::is_cancelled)
    /// becomes true inside it so it can stop early on its own.
    ///
    /// ```
    /// use tokengate::{Coordinator, Op, TaskError};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// // Keep the only worker busy, so the next task stays queued.
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let blocker = gate.spawn(&Op::new("block"), move || rx.recv().unwrap());
    /// let t = gate.spawn(&Op::new("never"), || unreachable!());
    /// assert!(t.cancel());
    /// assert_eq!(t.wait(), Err(TaskError::Cancelled));
    /// tx.send(()).unwrap();
    /// blocker.wait().unwrap();
    /// ```
    pub fn cancel(&self) -> bool {
        Header::cancel(self.ptr)
    }

    /// A snapshot of where the task is: id, op name, state (queued, held, running,
    /// finished, cancelled, ...), the worker that started it, and when it was queued,
    /// started and finished. Cheap: a few loads, no lock (control plane).
    ///
    /// ```
    /// use tokengate::{Coordinator, Op, TaskState};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// gate.pause();
    /// let t = gate.spawn(&Op::new("status"), || 1);
    /// assert!(matches!(t.status().state, TaskState::Queued | TaskState::Held));
    /// gate.resume();
    /// while !t.is_finished() { std::thread::yield_now(); }
    /// assert_eq!(t.status().state, TaskState::Finished);
    /// ```
    pub fn status(&self) -> crate::TaskStatus {
        crate::TaskStatus::of(self.header())
    }

    /// A handle that can cancel this task from any thread (`Clone + Send + Sync`).
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// let t = gate.spawn(&tokengate::Op::new("x"), || 1);
    /// let abort = t.abort_handle();
    /// assert_eq!(abort.id(), t.id());
    /// assert_eq!(t.wait(), Ok(1));
    /// assert!(!abort.cancel());                       // already done
    /// ```
    pub fn abort_handle(&self) -> crate::AbortHandle {
        crate::AbortHandle::new(self.ptr)
    }

    /// Blocks until the task has finished, then returns its result.
    ///
    /// On a worker thread this runs other queued work while it waits, so a task may
    /// wait on tasks it spawned without deadlocking the pool. What it may run is the
    /// pool's [`HelpPolicy`](crate::HelpPolicy).
    ///
    /// # Panics
    /// Inside a task: if the token is that task's own (it would wait for itself
    /// forever), or if the worker's stack is nearly used up by nested waits (see
    /// [`Builder::stack_size`](crate::Builder::stack_size)). The task then resolves
    /// [`TaskError::Panicked`] with a message saying which.
    pub fn wait(mut self) -> Result<T, TaskError> {
        self.assert_not_taken();
        self.wait_until(None);
        self.take()
    }

    /// Blocks until the task finishes or `timeout` passes. Returns whether it finished.
    ///
    /// The token stays usable either way, and the result stays inside it: after a
    /// `true`, [`wait`](Token::wait) returns at once; after a `false`, wait again later.
    ///
    /// **How late it can return.** Outside the pool, it returns at the deadline
    /// (plus the operating system's wake-up latency). Inside a task, the worker runs
    /// other queued work while it waits and checks the deadline before each task it
    /// starts, so it returns late by at most the running time of the one task it
    /// started last before the deadline. It panics as [`wait`](Token::wait) does.
    ///
    /// ```
    /// use std::time::Duration;
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// let t = gate.spawn(&tokengate::Op::new("x"), || 5);
    /// while !t.wait_timeout(Duration::from_millis(10)) {}
    /// assert_eq!(t.wait(), Ok(5));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_deadline(Instant::now() + timeout)
    }

    /// Like [`wait_timeout`](Token::wait_timeout), with a deadline; the same bound
    /// on how late it returns holds.
    pub fn wait_deadline(&self, deadline: Instant) -> bool {
        self.assert_not_taken();
        self.wait_until(Some(deadline))
    }

    /// Waits until the task is done or `deadline` passes. A task with an
    /// [`Op::deadline`](crate::Op::deadline) that has not started when its deadline
    /// passes is resolved `Expired` here, by its waiter, wherever it waits (a queue, a
    /// held list of a paused op): the waiter does not wait for a worker to meet it.
    #[inline]
    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let header = self.header();
        if header.meta.deadline_ns == 0 {
            return crate::worker::wait_until_done(header, deadline);
        }
        self.wait_expiring(deadline)
    }

    /// [`wait_until`](Token::wait_until) for a task with a deadline.
    #[cold]
    fn wait_expiring(&self, deadline: Option<Instant>) -> bool {
        let header = self.header();
        let Some(mut expires) = crate::control::expires_at(&header.meta) else {
            return crate::worker::wait_until_done(header, deadline);
        };
        loop {
            let until = deadline.map_or(expires, |d| d.min(expires));
            if crate::worker::wait_until_done(header, Some(until)) {
                return true;
            }
            if crate::control::expired(&header.meta) {
                // Loses to a claim made meanwhile (it then runs to its end).
                let _ = Header::abort(self.ptr, TaskError::Expired);
                return crate::worker::wait_until_done(header, deadline);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            // Woken a little before the task clock says it expired: look again.
            expires = crate::control::expires_at(&header.meta).unwrap_or(expires);
        }
    }

    /// True if the task has finished; otherwise registers `waker` to be woken when it
    /// does (replacing an earlier registration) and returns false, unless it finished
    /// meanwhile. As in `poll`, but leaves the result in the token.
    pub(crate) fn finished_or_register(&self, waker: &std::task::Waker) -> bool {
        self.header().is_done() || self.header().register(waker)
    }

    fn assert_not_taken(&self) {
        if self.taken {
            panic!("tokengate: Token used after its result was taken by .await");
        }
    }

    fn take(&mut self) -> Result<T, TaskError> {
        self.taken = true;
        // SAFETY: `is_done()` was observed by our caller, this is the token's reference,
        // and `taken` guarantees a single read.
        unsafe { Header::read(self.ptr) }
    }
}

impl<T> Future for Token<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.taken {
            panic!("tokengate: Token polled after it completed");
        }
        if !self.finished_or_register(cx.waker()) {
            return Poll::Pending;
        }
        Poll::Ready(self.take())
    }
}

impl<T> std::fmt::Debug for Token<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> Drop for Token<T> {
    fn drop(&mut self) {
        // SAFETY: the token owns one reference and never uses it again.
        unsafe { Header::drop_ref(self.ptr) };
    }
}
