//! The control plane's methods of [`Handle`] (`src/control/`): pause and resume,
//! drain, cancel and status by id, bounded admission. Written once, here; a
//! `Coordinator` derefs to its handle.

use super::Handle;
use crate::control::{Full, Room};
use crate::error::TaskError;
use crate::op::Op;
use crate::registry::OpId;
use crate::storage::StorageLane;
use crate::task::Meta;
use crate::token::Token;

impl Handle {
    // ----- control plane (src/control/) -------------------------------------------

    /// Pauses the whole pool: queued work waits (held, no thread polls it), running
    /// tasks finish, and spawns are still accepted. Returns false if it was already
    /// paused. Takes effect at each worker's next pick: a task spawned after `pause`
    /// returns never starts before `resume`. Graceful shutdown or drop while paused
    /// resolves held work `Shutdown`.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use tokengate::{Coordinator, Op};
    /// let gate = Coordinator::builder().workers(2).build().unwrap();
    /// let ran = Arc::new(AtomicUsize::new(0));
    /// assert!(gate.pause() && gate.is_paused());
    /// let tokens: Vec<_> = (0..8).map(|_| {
    ///     let ran = ran.clone();
    ///     gate.spawn(&Op::new("paused-doc"), move || ran.fetch_add(1, Ordering::SeqCst))
    /// }).collect();
    /// assert_eq!(ran.load(Ordering::SeqCst), 0);
    /// assert!(gate.resume());
    /// for t in tokens { t.wait().unwrap(); }
    /// assert_eq!(ran.load(Ordering::SeqCst), 8);
    /// ```
    pub fn pause(&self) -> bool {
        self.shared.control.pause()
    }

    /// Lifts [`pause`](Handle::pause) and requeues the held work (except ops paused
    /// on their own). Returns false if the pool was not paused.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// assert!(!gate.resume());
    /// ```
    pub fn resume(&self) -> bool {
        let shared = &*self.shared;
        shared.control.resume(&|t, w| shared.requeue(t, w))
    }

    /// True while [`pause`](Handle::pause) is on.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// assert!(!gate.is_paused());
    /// ```
    pub fn is_paused(&self) -> bool {
        self.shared.control.is_paused()
    }

    /// Pauses one op by name (it may be declared later): its queued tasks wait, and
    /// other ops go on undisturbed (a worker sets a paused task aside and takes the
    /// next). Returns false if it was already paused.
    ///
    /// ```
    /// use tokengate::{Coordinator, Op};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// assert!(gate.pause_op("prime_check"));
    /// let held = gate.spawn(&Op::new("prime_check"), || 1);
    /// assert_eq!(gate.spawn(&Op::new("other"), || 2).wait(), Ok(2));   // not stalled
    /// assert!(!held.is_finished());
    /// assert!(gate.resume_op("prime_check"));
    /// assert_eq!(held.wait(), Ok(1));
    /// ```
    pub fn pause_op(&self, name: &str) -> bool {
        self.shared.control.pause_op(OpId::intern(name))
    }

    /// Lifts [`pause_op`](Handle::pause_op) and requeues the op's held tasks (they
    /// stay held while the whole pool is paused). False if it was not paused.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// assert!(!gate.resume_op("never-paused"));
    /// ```
    pub fn resume_op(&self, name: &str) -> bool {
        let shared = &*self.shared;
        OpId::lookup(name).is_some_and(|op| shared.control.resume_op(op, &|t, w| shared.requeue(t, w)))
    }

    /// True while op `name` is paused by [`pause_op`](Handle::pause_op).
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// gate.pause_op("a");
    /// assert!(gate.is_op_paused("a") && !gate.is_op_paused("b"));
    /// ```
    pub fn is_op_paused(&self, name: &str) -> bool {
        OpId::lookup(name).is_some_and(|op| self.shared.control.is_op_paused(op))
    }

    /// Tasks waiting in held lists now (paused work a worker has set aside).
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// assert_eq!(gate.held(), 0);
    /// ```
    pub fn held(&self) -> usize {
        self.shared.control.held_count()
    }

    /// Resolves every queued task of op `name` as `Err(TaskError::Cancelled)`: its
    /// closure is dropped and never runs, wherever it waits (injector, a worker's
    /// lanes, a pinned lane or inbox, a held list, a storage tier). Running tasks are not touched.
    /// Returns how many it resolved. Other queued work keeps running, though it
    /// may lose its place in line (`control/sweep.rs`).
    ///
    /// **Exact:** a task a worker is moving at that instant (popped and not yet
    /// started, or mid batch-steal) is caught too: the sweep repeats until a pass saw
    /// no worker take anything (`control/moves.rs`). While it sweeps, workers set aside
    /// what they take (as under [`pause`](Handle::pause)), and running tasks go on.
    /// **Limit:** if new work keeps arriving faster than the sweep settles, it stops
    /// after 64 passes; a task queued before the call and moved by a worker during
    /// every one of those passes could then be missed.
    ///
    /// ```
    /// use tokengate::{Coordinator, Op, TaskError};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// gate.pause();
    /// let doomed: Vec<_> = (0..5).map(|_| gate.spawn(&Op::new("drain-doc"), || ())).collect();
    /// let kept = gate.spawn(&Op::new("kept"), || 7);
    /// while gate.held() < 6 {              // the worker sets each paused task aside
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(gate.drain_op("drain-doc"), 5);
    /// gate.resume();
    /// assert!(doomed.into_iter().all(|t| t.wait() == Err(TaskError::Cancelled)));
    /// assert_eq!(kept.wait(), Ok(7));
    /// ```
    pub fn drain_op(&self, name: &str) -> usize {
        match OpId::lookup(name) {
            Some(op) => self.sweep(|m| m.op == op, usize::MAX),
            None => 0,
        }
    }

    /// [`drain_op`](Handle::drain_op) for all queued work. (`join`'s stack jobs are
    /// part of their running task and are not drained.)
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// gate.pause();
    /// let t = gate.spawn(&tokengate::Op::new("x"), || ());
    /// assert_eq!(gate.drain(), 1);
    /// assert_eq!(t.wait(), Err(tokengate::TaskError::Cancelled));
    /// gate.resume();
    /// ```
    pub fn drain(&self) -> usize {
        self.sweep(|_| true, usize::MAX)
    }

    /// Cancels the queued task with token id `id`: true if it was queued (it never
    /// runs; its token resolves `Cancelled`). False for a running, finished or
    /// unknown id (a running task keeps running; use
    /// [`AbortHandle::cancel`](crate::AbortHandle::cancel) to make
    /// [`is_cancelled`](crate::is_cancelled) turn true inside it). It sweeps the
    /// queues, O(queued tasks): a dashboard's "kill", not a hot path.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// gate.pause();
    /// let t = gate.spawn(&tokengate::Op::new("x"), || ());
    /// assert!(gate.cancel(t.id()));
    /// assert!(!gate.cancel(t.id()) && !gate.cancel(u64::MAX));
    /// assert_eq!(t.wait(), Err(tokengate::TaskError::Cancelled));
    /// gate.resume();
    /// ```
    pub fn cancel(&self, id: u64) -> bool {
        self.sweep(|m| m.id == id, 1) == 1
    }

    /// The status of task `id`, wherever it is: queued or held (found by a sweep
    /// of the queues, as [`cancel`](Handle::cancel) does, which sets aside and
    /// requeues what it passes over), running (each worker publishes the task it
    /// runs), or resolved and still in the [`history`](crate::Builder::history).
    /// `None` for an unknown id, or one resolved so long ago that the history
    /// dropped it. It is a lookup for operators (the dashboard's "status by id"),
    /// O(queued tasks); the task's own [`Token::status`](crate::Token::status) is
    /// the cheap one. A running task's status has no times (only its token's has).
    ///
    /// ```
    /// use tokengate::{Coordinator, Op, TaskState};
    /// let gate = Coordinator::builder().workers(1).build().unwrap();
    /// gate.pause();
    /// let t = gate.spawn(&Op::new("status-by-id-doc"), || 1);
    /// assert_eq!(gate.status(t.id()).map(|s| s.state), Some(TaskState::Held));
    /// gate.resume();
    /// let id = t.id();
    /// assert_eq!(t.wait(), Ok(1));
    /// let done = gate.status(id).unwrap();
    /// assert_eq!((done.op, done.state), ("status-by-id-doc", TaskState::Finished));
    /// assert!(gate.status(u64::MAX).is_none());
    /// ```
    #[must_use]
    pub fn status(&self, id: u64) -> Option<crate::TaskStatus> {
        if id == 0 {
            return None; // never a task's id (a worker's "running nothing")
        }
        let running = || {
            self.shared
                .workers
                .iter()
                .enumerate()
                .find_map(|(w, info)| info.running(id).map(|op| crate::TaskStatus::running(id, op, w)))
        };
        let finished = || {
            self.shared
                .metrics
                .recent(usize::MAX)
                .into_iter()
                .find(|e| e.id == id)
                .map(|e| crate::TaskStatus::resolved(&e))
        };
        if let Some(s) = running().or_else(finished) {
            return Some(s);
        }
        let control = &self.shared.control;
        let found = std::cell::Cell::new(None);
        let _ = self.sweep(
            |m| {
                if m.id == id {
                    let paused = control.is_paused() || control.is_op_paused(m.op);
                    found.set(Some(crate::TaskStatus::waiting(m, paused)));
                }
                false
            },
            1,
        );
        // Not queued: it may have started or finished during the sweep.
        found.into_inner().or_else(running).or_else(finished)
    }

    fn sweep(&self, pick: impl Fn(&Meta) -> bool, limit: usize) -> usize {
        let shared = &*self.shared;
        let movers = || crate::control::moves::Movers {
            workers: shared.workers.iter().map(|w| w.mover.read()).collect(),
            storage: shared.storage.moves.read(),
        };
        let mut pass = |limit: usize| {
            let mut resolved = shared.control.sweep(
                |f| shared.lanes.take_all(shared.control.keep_on_worker, f),
                &pick,
                limit,
                &|t| shared.metrics.resolve(t, TaskError::Cancelled, None),
                &|t, w| shared.requeue(t, w),
            );
            // Storage hook: the storage lane's queued tasks (held storage tasks are in
            // the held lists, swept above).
            let taken = std::cell::Cell::new(resolved);
            let pick_storage = |m: &Meta| {
                taken.get() < limit && pick(m) && {
                    taken.set(taken.get() + 1);
                    true
                }
            };
            for task in StorageLane::take_matching(&shared.storage, &pick_storage) {
                if shared.metrics.resolve(task, TaskError::Cancelled, None) {
                    resolved += 1;
                }
            }
            resolved
        };
        shared
            .control
            .sweep_settled(&movers, &mut pass, limit, &|t, w| shared.requeue(t, w))
    }

    /// Spawns like [`spawn`](Handle::spawn), but in a pool built with
    /// [`max_queued(n)`](crate::Builder::max_queued) fails at once when `n` tasks are
    /// queued, giving the closure back in [`Full`]. In an unbounded pool it always
    /// succeeds.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// let t = gate.try_spawn(&tokengate::Op::new("x"), || 3).unwrap();
    /// assert_eq!(t.wait(), Ok(3));
    /// ```
    pub fn try_spawn<K, F, T>(&self, op: &Op<K>, f: F) -> Result<Token<T>, Full<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // A storage op goes to its tier, which never refuses (it is not counted by
        // `max_queued`: the tier's queue is its own bound).
        if let Some(speed) = op.storage() {
            return Ok(self.shared.spawn_storage(op, speed, f));
        }
        self.shared
            .try_spawn(op.id(), op.tag(), op.weight_of(), op.deadline_ns(), f)
            .map_err(Full)
    }

    /// A future that resolves when a bounded pool has room (or is closed, or is not
    /// bounded): the async way to wait on backpressure without blocking an executor
    /// thread. Then `try_spawn` again; another producer may have taken the room.
    ///
    /// ```
    /// use tokengate::{Coordinator, Op};
    /// let gate = Coordinator::builder().workers(1).max_queued(4).build().unwrap();
    /// let op = Op::new("room-doc");
    /// let results = futures::executor::block_on(async {
    ///     let mut tokens = Vec::new();
    ///     for i in 0..20u32 {
    ///         let mut f = move || i;
    ///         loop {
    ///             match gate.try_spawn(&op, f) {
    ///                 Ok(t) => break tokens.push(t),
    ///                 Err(full) => { f = full.into_inner(); gate.room().await; }
    ///             }
    ///         }
    ///     }
    ///     futures::future::join_all(tokens).await
    /// });
    /// assert_eq!(results.len(), 20);
    /// ```
    pub fn room(&self) -> Room {
        Room { handle: self.clone() }
    }

    /// The bound set by [`Builder::max_queued`](crate::Builder::max_queued), if any.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).build().unwrap();
    /// assert_eq!(gate.max_queued(), None);
    /// ```
    pub fn max_queued(&self) -> Option<usize> {
        self.shared.control.admission().map(|a| a.bound())
    }

    /// In a bounded pool, the tasks admitted and not yet started or resolved (it can
    /// exceed the bound by spawns from inside the pool); 0 if unbounded.
    ///
    /// ```
    /// # let gate = tokengate::Coordinator::builder().workers(1).max_queued(8).build().unwrap();
    /// assert_eq!(gate.queued(), 0);
    /// ```
    pub fn queued(&self) -> usize {
        self.shared.control.admission().map_or(0, |a| a.queued())
    }
}
