//! A loom-visible stand-in for `crossbeam-deque`, used only under `tokengate_loom`.
//!
//! crossbeam's lock-free deques cannot be model-checked by loom, so this module
//! provides the same API over a `loom::sync::Mutex<VecDeque>`. The lock is a modelling
//! device: it makes each queue operation that moves items one atomic step that loom
//! can interleave, which is exactly the linearisable behaviour crossbeam promises. It
//! never appears in a normal build.
//!
//! Reads that move nothing (`is_empty`, `len`, and a pop or steal that finds the queue
//! empty) do not take the lock: they read an atomic length that every push and take
//! stores (Release) while holding the lock. This matters for the sleep protocol's
//! Dekker pairs. In loom a lock/unlock pair is a release/acquire synchronisation, so
//! a worker that merely *looked* at a queue through the lock would publish all its
//! earlier writes (say, its idle bit) to the next pusher, and the store-buffering
//! outcome that the SeqCst fences exist to forbid could never be explored: removing a
//! fence would go unnoticed. crossbeam's own `is_empty` / empty `steal` are plain
//! loads of its indices, which publish nothing, and this reproduces that.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use std::collections::VecDeque;

/// The outcome of a steal, as in crossbeam.
pub(crate) enum Steal<T> {
    Empty,
    Success(T),
    /// Never produced by the stand-in (its steals are atomic), kept for API parity.
    #[allow(dead_code)]
    Retry,
}

/// The queue shared by a lane's owner and its thieves (or by an injector's users).
struct Queue<T> {
    items: Mutex<VecDeque<T>>,
    /// `items.len()`, stored with Release under the lock after every change, and
    /// read with Acquire without it, like crossbeam's `back`/`front` indices.
    len: AtomicUsize,
}

type Shared<T> = Arc<Queue<T>>;

impl<T> Queue<T> {
    fn new() -> Shared<T> {
        Arc::new(Queue {
            items: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        })
    }
    fn len(&self) -> usize {
        // ORDERING: Acquire pairs with the Release store in `with`, like crossbeam's
        // index loads; it takes no lock, so it publishes nothing of the reader's.
        self.len.load(Ordering::Acquire)
    }
    /// Runs `f` on the items under the lock, then publishes the new length.
    fn with<R>(&self, f: impl FnOnce(&mut VecDeque<T>) -> R) -> R {
        let mut q = self.items.lock().unwrap();
        let r = f(&mut q);
        // ORDERING: Release: a lock-free `len` reader that sees this length also sees
        // the queue change that produced it.
        self.len.store(q.len(), Ordering::Release);
        r
    }
    fn push(&self, item: T) {
        self.with(|q| q.push_back(item));
    }
    /// Takes one item, or returns `None` at once (without the lock) if the queue
    /// looks empty.
    fn take(&self, back: bool) -> Option<T> {
        if self.len() == 0 {
            return None;
        }
        self.with(|q| if back { q.pop_back() } else { q.pop_front() })
    }
}

/// The owner's end of a lane.
pub(crate) struct Worker<T> {
    queue: Shared<T>,
    lifo: bool,
}

/// A thief's end of a lane.
pub(crate) struct Stealer<T> {
    queue: Shared<T>,
}

/// A multi-producer queue, as `crossbeam_deque::Injector`.
pub(crate) struct Injector<T> {
    queue: Shared<T>,
}

fn steal_result<T>(item: Option<T>) -> Steal<T> {
    match item {
        Some(t) => Steal::Success(t),
        None => Steal::Empty,
    }
}

impl<T> Worker<T> {
    pub(crate) fn new_lifo() -> Self {
        Self {
            queue: Queue::new(),
            lifo: true,
        }
    }
    pub(crate) fn push(&self, task: T) {
        self.queue.push(task);
    }
    pub(crate) fn pop(&self) -> Option<T> {
        self.queue.take(self.lifo)
    }
    pub(crate) fn stealer(&self) -> Stealer<T> {
        Stealer {
            queue: self.queue.clone(),
        }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}

/// Moves up to `limit` items (at most half, at least one) from `src` to `dest`, and
/// returns one more for the caller to run.
fn batch_and_pop<T>(src: &Shared<T>, dest: &Worker<T>, limit: usize) -> Steal<T> {
    if src.len() == 0 {
        return Steal::Empty;
    }
    let taken = src.with(|q| {
        let first = q.pop_front()?;
        let extra = (q.len() / 2).min(limit.saturating_sub(1));
        Some((first, q.drain(..extra).collect::<Vec<T>>()))
    });
    let Some((first, moved)) = taken else {
        return Steal::Empty;
    };
    if !moved.is_empty() {
        dest.queue.with(|d| d.extend(moved));
    }
    Steal::Success(first)
}

impl<T> Stealer<T> {
    pub(crate) fn steal(&self) -> Steal<T> {
        steal_result(self.queue.take(false))
    }
    pub(crate) fn steal_batch_with_limit_and_pop(&self, dest: &Worker<T>, limit: usize) -> Steal<T> {
        batch_and_pop(&self.queue, dest, limit)
    }
    pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        batch_and_pop(&self.queue, dest, 2)
    }
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Injector<T> {
    pub(crate) fn new() -> Self {
        Self { queue: Queue::new() }
    }
    pub(crate) fn push(&self, task: T) {
        self.queue.push(task);
    }
    pub(crate) fn steal(&self) -> Steal<T> {
        steal_result(self.queue.take(false))
    }
    pub(crate) fn steal_batch_with_limit_and_pop(&self, dest: &Worker<T>, limit: usize) -> Steal<T> {
        batch_and_pop(&self.queue, dest, limit)
    }
    pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        batch_and_pop(&self.queue, dest, 2)
    }
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
