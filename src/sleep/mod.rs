//! Idle workers: spin briefly, then park; and waking them without losing work.
//!
//! The protocol and its correctness argument are in `README.md` beside this file.

use std::sync::OnceLock;
use std::task::{Wake, Waker};

use crate::sync::{
    fence, yield_now, AtomicBool, AtomicU64, AtomicUsize, CachePadded, Ordering, Thread,
};

/// Per-pool sleep state. See the module docs for who may change what.
pub(crate) struct Sleep {
    /// Workers currently searching for work (awake, holding no task).
    spinning: CachePadded<AtomicUsize>,
    max_spinning: usize,
    /// One bit per worker: set = announced idle sleep (see README.md).
    idle: Box<[AtomicU64]>,
    /// Per worker: parked inside `Token::wait`.
    waiting: Box<[CachePadded<AtomicBool>]>,
    /// Per worker: its thread, registered before the pool is handed to the user.
    threads: Box<[OnceLock<Thread>]>,
    workers: usize,
}

fn split(worker: usize) -> (usize, u64) {
    (worker / 64, 1u64 << (worker % 64))
}

impl Sleep {
    pub(crate) fn new(workers: usize) -> Self {
        Sleep {
            spinning: CachePadded::new(AtomicUsize::new(0)),
            max_spinning: (workers / 2).max(1),
            idle: (0..workers.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            waiting: (0..workers)
                .map(|_| CachePadded::new(AtomicBool::new(false)))
                .collect(),
            threads: (0..workers).map(|_| OnceLock::new()).collect(),
            workers,
        }
    }

    /// Called once by each worker thread at start-up.
    pub(crate) fn register(&self, worker: usize, thread: Thread) {
        if self.threads[worker].set(thread).is_err() {
            crate::fatal("worker registered twice");
        }
    }

    /// Unparks worker `worker`. A worker that has not registered yet has not parked
    /// either: it searches every queue and checks for exit before it ever parks.
    fn unpark(&self, worker: usize) {
        if let Some(t) = self.threads[worker].get() {
            t.unpark();
        }
    }

    // ----- pusher side -------------------------------------------------------------

    /// Wakes one idle worker if nobody is searching. The caller must have pushed its
    /// work and then issued `fence(SeqCst)`.
    pub(crate) fn notify_one(&self) {
        for (word_index, word) in self.idle.iter().enumerate() {
            // ORDERING: SeqCst, the read half of the pusher's Dekker pair (README.md).
            // Reading the idle bits first keeps the common case (nobody parked) to one
            // load of a line that rarely changes.
            let mut bits = word.load(Ordering::SeqCst);
            if bits == 0 {
                continue;
            }
            // ORDERING: SeqCst, as above. A searcher will find the work: no wake needed.
            if self.spinning.load(Ordering::SeqCst) > 0 {
                return;
            }
            while bits != 0 {
                let bit = bits & bits.wrapping_neg();
                if self.claim(word, bit) {
                    self.unpark(word_index * 64 + bit.trailing_zeros() as usize);
                    return;
                }
                bits &= !bit;
            }
        }
    }

    /// Wakes worker `w` for pinned work, whether it is idle or blocked in `wait()`.
    /// The caller must have pushed to `w`'s pinned lane and then fenced (SeqCst).
    pub(crate) fn notify_worker(&self, w: usize) {
        let (word, bit) = split(w);
        // ORDERING: SeqCst loads: the read half of the pinned Dekker pair.
        if self.idle[word].load(Ordering::SeqCst) & bit != 0 && self.claim(&self.idle[word], bit) {
            self.unpark(w);
        } else if self.waiting[w].load(Ordering::SeqCst) {
            self.unpark(w);
        }
    }

    /// Wakes every worker (shutdown, termination).
    pub(crate) fn notify_all(&self) {
        for w in 0..self.workers {
            let (word, bit) = split(w);
            self.claim(&self.idle[word], bit);
            self.unpark(w);
        }
    }

    /// Clears `bit` if it is set; the winner counts the woken worker as searching.
    fn claim(&self, word: &AtomicU64, bit: u64) -> bool {
        // ORDERING: AcqRel: the clear is the hand-over of the sleeper to us; exactly one
        // of the notifiers and the owner sees the bit set in the old value.
        if word.fetch_and(!bit, Ordering::AcqRel) & bit == 0 {
            return false;
        }
        // ORDERING: SeqCst: pushers must see this searcher and skip waking another.
        self.spinning.fetch_add(1, Ordering::SeqCst);
        true
    }

    // ----- worker side -------------------------------------------------------------

    /// Tries to become a searcher. False if enough workers already search.
    pub(crate) fn try_start_spinning(&self) -> bool {
        let mut n = self.spinning.load(Ordering::Relaxed);
        loop {
            if n >= self.max_spinning {
                return false;
            }
            // ORDERING: SeqCst: a pusher that sees this count relies on us to search.
            match self
                .spinning
                .compare_exchange_weak(n, n + 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => n = actual,
            }
        }
    }

    /// Stops searching. Returns true if this was the last searcher; the caller must
    /// then check for leftover work and call `notify_one` if there is some.
    pub(crate) fn stop_spinning(&self) -> bool {
        // ORDERING: SeqCst, then a SeqCst fence: the write half of the searcher's Dekker
        // pair, so either we see a racing push or its pusher sees `spinning == 0`.
        let last = self.spinning.fetch_sub(1, Ordering::SeqCst) == 1;
        fence(Ordering::SeqCst);
        last
    }

    /// Announces that worker `w` is about to park idle. The caller must search every
    /// queue once more afterwards, and cancel the sleep if it finds work.
    pub(crate) fn announce_sleep(&self, w: usize) {
        let (word, bit) = split(w);
        // ORDERING: SeqCst + fence: the write half of the pusher/sleeper Dekker pair.
        self.idle[word].fetch_or(bit, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Withdraws worker `w`'s announcement. True if it was still ours to withdraw;
    /// false if a notifier already claimed us (we are then counted as searching).
    pub(crate) fn cancel_sleep(&self, w: usize) -> bool {
        let (word, bit) = split(w);
        // ORDERING: AcqRel: races with `claim` on the same bit; one side wins.
        self.idle[word].fetch_and(!bit, Ordering::AcqRel) & bit != 0
    }

    /// True while worker `w`'s idle bit is set (nobody claimed it yet).
    pub(crate) fn is_announced(&self, w: usize) -> bool {
        let (word, bit) = split(w);
        // ORDERING: Acquire pairs with the notifier's AcqRel clear.
        self.idle[word].load(Ordering::Acquire) & bit != 0
    }

    /// True if every worker has announced idle sleep: the pool is quiescent.
    pub(crate) fn all_idle(&self) -> bool {
        (0..self.workers).all(|w| {
            let (word, bit) = split(w);
            // ORDERING: SeqCst: the quiescence Dekker pair over the bits (README.md).
            self.idle[word].load(Ordering::SeqCst) & bit != 0
        })
    }

    /// Marks worker `w` as parked inside `wait()` (or not). Setting it is followed by
    /// a fence: the caller then re-checks its token and its pinned lanes.
    pub(crate) fn set_waiting(&self, w: usize, waiting: bool) {
        // ORDERING: SeqCst + fence: the write half of the pinned Dekker pair.
        self.waiting[w].store(waiting, Ordering::SeqCst);
        if waiting {
            fence(Ordering::SeqCst);
        }
    }
}

/// Back-off for spin loops: a few pause instructions, growing to 16 (a `pause` can
/// cost 140 cycles, so more would delay noticing new work), then yields.
pub(crate) fn backoff(round: u32) {
    if round < 7 {
        for _ in 0..(1u32 << round.min(4)) {
            crate::sync::spin_hint();
        }
    } else {
        yield_now();
    }
}

/// Unparks a thread: the waker a blocking `wait()` registers in a token.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

crate::sync::thread_local! {
    static THREAD_WAKER: Waker = Waker::from(std::sync::Arc::new(ThreadWaker(crate::sync::current())));
}

/// A waker that unparks the current thread, cached per thread.
pub(crate) fn thread_waker() -> Waker {
    THREAD_WAKER.with(Waker::clone)
}
