//! A loom-visible stand-in for `crossbeam-deque`, used only under `tokengate_loom`.
//!
//! crossbeam's lock-free deques cannot be model-checked by loom, so this module
//! provides the same API over a `loom::sync::Mutex<VecDeque>`. The lock is a modelling
//! device: it makes each queue operation one atomic step that loom can interleave,
//! which is exactly the linearisable behaviour crossbeam promises. It never appears in
//! a normal build.

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

type Shared<T> = Arc<Mutex<VecDeque<T>>>;

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

impl<T> Worker<T> {
    pub(crate) fn new_lifo() -> Self {
        Self {
            queue: Arc::new(Mutex::new(VecDeque::new())),
            lifo: true,
        }
    }
    pub(crate) fn push(&self, task: T) {
        self.queue.lock().unwrap().push_back(task);
    }
    pub(crate) fn pop(&self) -> Option<T> {
        let mut q = self.queue.lock().unwrap();
        if self.lifo {
            q.pop_back()
        } else {
            q.pop_front()
        }
    }
    pub(crate) fn stealer(&self) -> Stealer<T> {
        Stealer {
            queue: self.queue.clone(),
        }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.lock().unwrap().is_empty()
    }
    pub(crate) fn len(&self) -> usize {
        self.queue.lock().unwrap().len()
    }
}

/// Moves up to `limit` items (at most half, at least one) from `src` to `dest`, and
/// returns one more for the caller to run.
fn batch_and_pop<T>(src: &Shared<T>, dest: &Worker<T>, limit: usize) -> Steal<T> {
    let mut q = src.lock().unwrap();
    let Some(first) = q.pop_front() else {
        return Steal::Empty;
    };
    let extra = (q.len() / 2).min(limit.saturating_sub(1));
    let moved: Vec<T> = q.drain(..extra).collect();
    drop(q);
    let mut d = dest.queue.lock().unwrap();
    d.extend(moved);
    Steal::Success(first)
}

impl<T> Stealer<T> {
    pub(crate) fn steal(&self) -> Steal<T> {
        match self.queue.lock().unwrap().pop_front() {
            Some(t) => Steal::Success(t),
            None => Steal::Empty,
        }
    }
    pub(crate) fn steal_batch_with_limit_and_pop(&self, dest: &Worker<T>, limit: usize) -> Steal<T> {
        batch_and_pop(&self.queue, dest, limit)
    }
    pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        batch_and_pop(&self.queue, dest, 2)
    }
    pub(crate) fn len(&self) -> usize {
        self.queue.lock().unwrap().len()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Injector<T> {
    pub(crate) fn new() -> Self {
        Self {
            queue: Arc::new(Mutex::new(VecDeque::new())),
        }
    }
    pub(crate) fn push(&self, task: T) {
        self.queue.lock().unwrap().push_back(task);
    }
    pub(crate) fn steal(&self) -> Steal<T> {
        match self.queue.lock().unwrap().pop_front() {
            Some(t) => Steal::Success(t),
            None => Steal::Empty,
        }
    }
    pub(crate) fn steal_batch_with_limit_and_pop(&self, dest: &Worker<T>, limit: usize) -> Steal<T> {
        batch_and_pop(&self.queue, dest, limit)
    }
    pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
        batch_and_pop(&self.queue, dest, 2)
    }
    pub(crate) fn len(&self) -> usize {
        self.queue.lock().unwrap().len()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
