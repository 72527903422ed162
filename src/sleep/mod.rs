//! Idle workers: spin briefly, then park; and waking them without losing work.
//!
//! The protocol and its correctness argument are in `README.md` beside this file.

use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
use std::sync::OnceLock;
use std::task::{Wake, Waker};

use crate::sync::{fence, yield_now, AtomicU64, AtomicUsize, CachePadded, Ordering, Thread};

mod cpu;

pub(crate) use cpu::{clear_waiter, note_waiter};

/// Per-pool sleep state. See `README.md` for who may change what.
pub(crate) struct Sleep {
    /// Workers currently searching for work (awake, holding no task). Read as a
    /// signed number: a claimer increments it just *after* clearing a bit, so the
    /// woken worker's decrement may briefly come first.
    spinning: CachePadded<AtomicUsize>,
    max_spinning: usize,
    /// One bit per worker: set = parked idle (announced, holding no task).
    idle: Box<[AtomicU64]>,
    /// One bit per worker: set = parked inside `Token::wait`, ready to help.
    helping: Box<[AtomicU64]>,
    /// One bit per worker: set = parked inside `Token::wait` under
    /// `HelpPolicy::OwnLanes`: it may only be woken for its own pinned work
    /// (`notify_worker`), never by `notify_one`, whose work it could not take.
    pinned_wait: Box<[AtomicU64]>,
    /// Per worker: its thread, registered before the pool is handed to the user.
    threads: Box<[OnceLock<Thread>]>,
    /// Per worker: the CPU it is pinned to, or `cpu::UNKNOWN`. Set at
    /// registration; a placement hint (README.md, "Who spins where"), Relaxed.
    cpus: Box<[StdAtomicUsize]>,
    workers: usize,
}

fn split(worker: usize) -> (usize, u64) {
    (worker / 64, 1u64 << (worker % 64))
}

fn bitmask(workers: usize) -> Box<[AtomicU64]> {
    (0..workers.div_ceil(64)).map(|_| AtomicU64::new(0)).collect()
}

impl Sleep {
    pub(crate) fn new(workers: usize) -> Self {
        Sleep {
            spinning: CachePadded::new(AtomicUsize::new(0)),
            max_spinning: (workers / 2).clamp(1, MAX_SPINNERS),
            idle: bitmask(workers),
            helping: bitmask(workers),
            pinned_wait: bitmask(workers),
            threads: (0..workers).map(|_| OnceLock::new()).collect(),
            cpus: (0..workers).map(|_| StdAtomicUsize::new(cpu::UNKNOWN)).collect(),
            workers,
        }
    }

    /// Called once by each worker thread at start-up, with the CPU it is pinned to.
    pub(crate) fn register(&self, worker: usize, thread: Thread, cpu: Option<usize>) {
        self.cpus[worker].store(cpu.unwrap_or(cpu::UNKNOWN), StdOrdering::Relaxed);
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

    fn someone_spinning(&self) -> bool {
        // ORDERING: SeqCst, the read half of the pusher's Dekker pair (README.md).
        (self.spinning.load(Ordering::SeqCst) as isize) > 0
    }

    fn cpu_of(&self, worker: usize) -> usize {
        self.cpus[worker].load(StdOrdering::Relaxed)
    }

    /// Claims one of `bits` (a snapshot of `word`) whose worker `skip` does not
    /// reject, and unparks it.
    fn claim_one(&self, word_index: usize, word: &AtomicU64, bits: u64, skip: impl Fn(usize) -> bool) -> bool {
        let mut rest = bits;
        while rest != 0 {
            let bit = rest & rest.wrapping_neg();
            rest &= !bit;
            let w = word_index * 64 + bit.trailing_zeros() as usize;
            if !skip(w) && self.claim(word, bit) {
                self.unpark(w);
                return true;
            }
        }
        false
    }

    // ----- pusher side -------------------------------------------------------------

    /// Wakes one parked worker, idle ones before helping ones, unless a worker is
    /// searching. The caller must have published its work and then fenced (SeqCst).
    pub(crate) fn notify_one(&self) {
        self.notify(|| cpu::UNKNOWN);
    }

    /// [`notify_one`](Self::notify_one) for work pushed by a thread outside the pool:
    /// a parked worker pinned to the caller's CPU is woken first, if there is one
    /// (README.md, "Who spins where"). Waking a thread on one's own CPU is a local
    /// wake-up; waking one on an idle vCPU costs the caller and the woken worker
    /// about twice as much on these VMs. Which parked worker is claimed does not
    /// matter to the wake-up protocol: any claimed worker searches every queue.
    ///
    /// `notify`'s first decisions are inlined into the caller: nobody parked, or a
    /// worker parked while another searches (in 200k bursts from outside with two
    /// workers, all but 25 of 1.6 million spawns, counted), return without a call.
    /// Only a parked worker with nobody searching goes on to `notify`, which reads
    /// the bits again and decides the same way: these are the very loads it starts
    /// with, in its order, each after the caller's fence.
    #[inline]
    pub(crate) fn notify_one_near(&self) {
        if self.anyone_parked() && !self.someone_spinning() {
            self.notify_near();
        }
    }

    /// `notify_one_near` past its first reads, out of line.
    #[inline(never)]
    fn notify_near(&self) {
        self.notify(cpu::current);
    }

    /// Whether any idle or helping bit is set.
    #[inline]
    fn anyone_parked(&self) -> bool {
        // ORDERING: SeqCst, the read half of the pusher's Dekker pair (README.md).
        self.idle
            .iter()
            .chain(self.helping.iter())
            .any(|word| word.load(Ordering::SeqCst) != 0)
    }

    /// `notify_one`, preferring the parked workers pinned to CPU `near()` (asked
    /// only when a worker must be woken).
    #[inline]
    fn notify(&self, near: impl Fn() -> usize) {
        for mask in [&self.idle, &self.helping] {
            for (word_index, word) in mask.iter().enumerate() {
                // ORDERING: SeqCst, the read half of the pusher's Dekker pair. Reading
                // the bits first keeps the common case (nobody parked) to one load of a
                // line that rarely changes.
                let bits = word.load(Ordering::SeqCst);
                if bits == 0 {
                    continue;
                }
                if self.someone_spinning() {
                    return;
                }
                let here = near();
                if here != cpu::UNKNOWN && self.claim_one(word_index, word, bits, |w| self.cpu_of(w) != here) {
                    return;
                }
                if self.claim_one(word_index, word, bits, |_| false) {
                    return;
                }
            }
        }
    }

    /// Wakes worker `w` for pinned work, whether it is parked idle or inside `wait()`.
    /// The caller must have pushed to `w`'s pinned lane and then fenced (SeqCst).
    pub(crate) fn notify_worker(&self, w: usize) {
        let (word, bit) = split(w);
        for mask in [&self.idle, &self.helping, &self.pinned_wait] {
            // ORDERING: SeqCst load: the read half of the pinned Dekker pair.
            if mask[word].load(Ordering::SeqCst) & bit != 0 && self.claim(&mask[word], bit) {
                self.unpark(w);
                return;
            }
        }
    }

    /// Wakes every worker (shutdown, termination).
    pub(crate) fn notify_all(&self) {
        for w in 0..self.workers {
            let (word, bit) = split(w);
            self.claim(&self.idle[word], bit);
            self.claim(&self.helping[word], bit);
            self.claim(&self.pinned_wait[word], bit);
            self.unpark(w);
        }
    }

    /// Clears `bit` if it is set; the winner counts the woken worker as searching.
    fn claim(&self, word: &AtomicU64, bit: u64) -> bool {
        // ORDERING: AcqRel: the clear is the hand-over of the parked worker to us;
        // exactly one of the claimers and the owner sees the bit set in the old value.
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
            if (n as isize) >= self.max_spinning as isize {
                return false;
            }
            // ORDERING: SeqCst: a pusher that sees this count relies on us to search.
            match self
                .spinning
                .compare_exchange_weak(n, n.wrapping_add(1), Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => n = actual,
            }
        }
    }

    /// True if worker `w` is pinned to the CPU on which an outside thread spin-waits
    /// for a token (`cpu::note_waiter`): while it searches there, the two take
    /// turns on one core.
    pub(crate) fn shares_cpu_with_waiter(&self, w: usize) -> bool {
        cpu::has_waiter(self.cpu_of(w))
    }

    /// Searcher `w`, on the CPU of a spinning outside waiter, hands the search to a
    /// worker on another CPU (README.md, "Who spins where"). Returns true if another
    /// worker now searches: one already did, or, if `may_wake()` allows it, this
    /// call claimed a parked idle worker on another CPU and unparked it, counted as
    /// searching (the claim of `notify_one`). The caller then stops searching and
    /// parks the usual way (its look after announcing still covers every push, so
    /// nothing is lost either way).
    pub(crate) fn hand_off(&self, w: usize, may_wake: impl FnOnce() -> bool) -> bool {
        // ORDERING: SeqCst, as every read of the count; `w` itself is one of them.
        if (self.spinning.load(Ordering::SeqCst) as isize) > 1 {
            return true;
        }
        if !may_wake() {
            return false;
        }
        let mine = self.cpu_of(w);
        self.idle.iter().enumerate().any(|(word_index, word)| {
            // ORDERING: SeqCst, as in `notify_one`.
            let bits = word.load(Ordering::SeqCst);
            bits != 0 && self.claim_one(word_index, word, bits, |other| self.cpu_of(other) == mine)
        })
    }

    /// True if more workers count as searching than `max_spinning` (after a wake of
    /// every worker); a woken worker then stops searching at once.
    pub(crate) fn too_many_spinning(&self) -> bool {
        (self.spinning.load(Ordering::Relaxed) as isize) > self.max_spinning as isize
    }

    /// Workers counted as searching now, as a signed number (see `spinning`).
    #[cfg(tokengate_loom)]
    pub(crate) fn searching(&self) -> isize {
        // ORDERING: SeqCst, as the models' other reads of the sleep state.
        self.spinning.load(Ordering::SeqCst) as isize
    }

    /// Stops searching. Returns true if no other searcher is left; the caller must
    /// then check for leftover work and call `notify_one` if there is some.
    pub(crate) fn stop_spinning(&self) -> bool {
        // ORDERING: SeqCst, then a SeqCst fence: the write half of the searcher's Dekker
        // pair, so either we see a racing push or its pusher sees no searcher.
        let last = (self.spinning.fetch_sub(1, Ordering::SeqCst) as isize) <= 1;
        fence(Ordering::SeqCst);
        last
    }

    /// Announces that worker `w` is about to park idle. The caller must then look at
    /// every queue once more, and withdraw if there is work.
    pub(crate) fn announce_sleep(&self, w: usize) {
        announce(&self.idle, w);
    }

    /// Withdraws worker `w`'s idle announcement. True if it was still ours to
    /// withdraw; false if a notifier already claimed us (we now count as searching).
    pub(crate) fn cancel_sleep(&self, w: usize) -> bool {
        withdraw(&self.idle, w)
    }

    /// Announces that worker `w`, blocked inside `wait()`, is about to park and may
    /// be woken to help with any work.
    pub(crate) fn announce_help(&self, w: usize) {
        announce(&self.helping, w);
    }

    /// Withdraws a help announcement; false if a notifier claimed us meanwhile.
    pub(crate) fn cancel_help(&self, w: usize) -> bool {
        withdraw(&self.helping, w)
    }

    /// Announces that worker `w`, blocked inside `wait()` under
    /// `HelpPolicy::OwnLanes`, is about to park; only pinned work for it wakes it.
    pub(crate) fn announce_pinned_wait(&self, w: usize) {
        announce(&self.pinned_wait, w);
    }

    /// Withdraws a pinned-wait announcement; false if a notifier claimed us meanwhile.
    pub(crate) fn cancel_pinned_wait(&self, w: usize) -> bool {
        withdraw(&self.pinned_wait, w)
    }

    /// True while worker `w`'s idle bit is set (nobody claimed it yet).
    pub(crate) fn is_announced(&self, w: usize) -> bool {
        let (word, bit) = split(w);
        // ORDERING: Acquire pairs with the claimer's AcqRel clear.
        self.idle[word].load(Ordering::Acquire) & bit != 0
    }

    /// True if every worker is parked idle (bit set: holding no task, and having
    /// found no work after announcing). Part of the quiescence check (README.md).
    pub(crate) fn all_idle(&self) -> bool {
        (0..self.workers).all(|w| {
            let (word, bit) = split(w);
            // ORDERING: SeqCst: the quiescence Dekker pair over the bits (README.md).
            self.idle[word].load(Ordering::SeqCst) & bit != 0
        })
    }
}

fn announce(mask: &[AtomicU64], w: usize) {
    let (word, bit) = split(w);
    // ORDERING: SeqCst + fence: the write half of the pusher/parker Dekker pair.
    mask[word].fetch_or(bit, Ordering::SeqCst);
    fence(Ordering::SeqCst);
}

fn withdraw(mask: &[AtomicU64], w: usize) -> bool {
    let (word, bit) = split(w);
    // ORDERING: AcqRel: races with `claim` on the same bit; exactly one side wins.
    mask[word].fetch_and(!bit, Ordering::AcqRel) & bit != 0
}

/// The most workers that search at once, whatever the pool size (issue 10, finding
/// 8): with half of a 4,096-worker pool spinning, a short burst kept a core busy for
/// seconds. Half the pool, up to this, as before for small pools.
const MAX_SPINNERS: usize = 4;

/// Back-off for spin loops: the first [`PURE_SPIN_ROUNDS`] rounds spin for 4 `pause`
/// instructions each (about 160 ns on the reference machine, where one `pause` takes
/// 40 ns), so new work or a result is noticed within a fraction of a microsecond.
/// Later rounds yield the CPU (a `sched_yield` costs about 0.9 µs there), which
/// matters when more threads than cores are runnable.
pub(crate) fn backoff(round: u32) {
    if round < PURE_SPIN_ROUNDS {
        for _ in 0..4 {
            crate::sync::spin_hint();
        }
    } else {
        yield_now();
    }
}

/// Rounds of pure spinning before [`backoff`] starts to yield (about 3-5 µs with the
/// searches in between); measured on the pingpong benchmark.
const PURE_SPIN_ROUNDS: u32 = 16;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Two parked workers, pinned to CPUs 0 and 1 (the threads are this one: an
    /// unpark only leaves it a token).
    fn two_parked() -> Sleep {
        let sleep = Sleep::new(2);
        for w in 0..2 {
            sleep.register(w, crate::sync::current(), Some(w));
            sleep.announce_sleep(w);
        }
        sleep
    }

    /// Which of the two a notify claimed: its announcement is gone.
    fn woken(sleep: &Sleep) -> Vec<usize> {
        (0..2).filter(|&w| !sleep.cancel_sleep(w)).collect()
    }

    #[test]
    fn a_push_from_outside_wakes_the_worker_on_its_cpu() {
        for cpu in [0, 1] {
            let sleep = two_parked();
            sleep.notify(|| cpu);
            assert_eq!(woken(&sleep), [cpu]);
        }
    }

    #[test]
    fn with_no_worker_on_its_cpu_it_wakes_the_lowest() {
        let sleep = two_parked();
        sleep.notify(|| 7);
        assert_eq!(woken(&sleep), [0]);
        let sleep = two_parked();
        sleep.notify_one();
        assert_eq!(woken(&sleep), [0]);
    }
}
