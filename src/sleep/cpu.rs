//! Which CPU a thread runs on, and the *waiter hint*: the CPU on which a thread
//! outside the pool spin-waits for a token right now. The waiter sets it when it
//! starts spinning and clears it when it stops (its token resolved, or it parks),
//! so a hint never outlives the spin: two writes of one shared word per wait.
//! `mod.rs` uses both to keep a searching worker off the core of a spinning waiter
//! (README.md, "Who spins where").
//!
//! Both are placement hints and order nothing, so they use plain `std` atomics,
//! `Relaxed`, under loom as well (as the task timestamps do); a stale or wrong
//! hint costs speed, never a wake-up.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A CPU index meaning "unknown" (an unpinned worker, or a platform without
/// `sched_getcpu`).
pub(crate) const UNKNOWN: usize = usize::MAX;

/// `1 +` the CPU of an outside thread spin-waiting in `Token::wait`; 0: none.
/// Process-wide: a CPU is shared by every pool. With several such waiters it holds
/// the latest one's.
static WAITER_CPU: AtomicUsize = AtomicUsize::new(0);

/// The CPU the calling thread runs on now, or [`UNKNOWN`]. On Linux, glibc reads
/// it from the thread's `rseq` area (a load, no system call).
#[cfg(target_os = "linux")]
pub(crate) fn current() -> usize {
    // SAFETY: `sched_getcpu` has no preconditions; it returns -1 on failure.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).unwrap_or(UNKNOWN)
}

/// The CPU the calling thread runs on now, or [`UNKNOWN`] (not known here).
#[cfg(not(target_os = "linux"))]
pub(crate) fn current() -> usize {
    UNKNOWN
}

/// An outside thread is about to spin-wait for a token: note its CPU (a write only
/// if the hint holds another value). Returns what to pass to [`clear_waiter`].
#[inline]
pub(crate) fn note_waiter() -> usize {
    let cpu = current();
    if cpu == UNKNOWN {
        return 0;
    }
    if WAITER_CPU.load(Ordering::Relaxed) != cpu + 1 {
        WAITER_CPU.store(cpu + 1, Ordering::Relaxed);
    }
    cpu + 1
}

/// The waiter that noted its CPU stops spinning (resolved, or about to park): clear
/// the hint if it is still its own, so no worker hands its search off for a thread
/// that no longer spins there. `noted` is what its [`note_waiter`] returned.
#[inline]
pub(crate) fn clear_waiter(noted: usize) {
    if noted != 0 {
        // A failed exchange means another waiter's hint: leave it.
        let _ = WAITER_CPU.compare_exchange(noted, 0, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// True if `cpu` is where an outside thread spin-waits.
#[inline]
pub(crate) fn has_waiter(cpu: usize) -> bool {
    cpu != UNKNOWN && WAITER_CPU.load(Ordering::Relaxed) == cpu.wrapping_add(1)
}
