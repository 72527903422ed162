//! The task clock: raw timestamps that cost a few nanoseconds, for status and metrics.
//!
//! `std::time::Instant::now` costs about 35 ns on the machines we measure on; a task
//! records up to three timestamps (queued, started, finished), which would add a
//! large share to a 200 ns spawn-and-wait. [`now`] reads the CPU's invariant
//! time-stamp counter through `quanta` where it is usable (and falls back to the
//! OS clock where it is not), and converts to [`Duration`] or [`Instant`] only when
//! somebody reads a figure.
//!
//! **The inline read.** `quanta::Clock::raw` is an out-of-line call that matches on
//! the clock's kind (about 27 instructions, plus the `OnceLock` check of [`clock`]),
//! paid three times per task. On x86_64, when quanta's source is the TSC (checked
//! once, at [`init`], by seeing its raw readings fall between two `rdtsc`s), [`now`]
//! executes `rdtsc` itself: the very reading quanta would return, so `between` and
//! `instant` convert it unchanged. Until `init` has run, and wherever the check
//! fails, it calls quanta as before. `TSC` is a plain `std` atomic written once
//! before any pool exists; it orders nothing (a stale `false` only takes the slow,
//! equally valid path).
//!
//! A raw reading of 0 means "not yet": readings are never 0, because [`now`] sets
//! the lowest bit. [`UNTIMED`] (2, even, so never a reading either) means "it
//! happened, but nobody timed it": the stamp of a task in a pool built with
//! `metrics(false)` (`task::Times`). Both convert to no `Instant` and no duration.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// True once [`init`] has seen that quanta reads the TSC (module docs).
static TSC: AtomicBool = AtomicBool::new(false);

struct Clock {
    clock: quanta::Clock,
    /// The same moment read both ways, to turn raw readings into `Instant`s.
    origin_raw: u64,
    origin: Instant,
}

fn clock() -> &'static Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        let origin_raw = clock.raw();
        Clock {
            clock,
            origin_raw,
            origin: Instant::now(),
        }
    })
}

/// Calibrates the clock now (it can take a moment the first time), so the first task
/// does not pay for it. Called when a pool is built.
pub(crate) fn init() {
    let c = clock();
    if !TSC.load(Ordering::Relaxed) && quanta_reads_tsc(&c.clock) {
        TSC.store(true, Ordering::Relaxed);
    }
}

/// True if `clock`'s raw readings are TSC readings: each of a few falls between two
/// `rdtsc`s taken around it. (Its other source, the OS clock in nanoseconds, would
/// have to land in a window of a few dozen ticks of an unrelated counter each time.)
#[cfg(target_arch = "x86_64")]
fn quanta_reads_tsc(clock: &quanta::Clock) -> bool {
    (0..3).all(|_| {
        let before = rdtsc();
        let raw = clock.raw();
        let after = rdtsc();
        before <= raw && raw <= after
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn quanta_reads_tsc(_: &quanta::Clock) -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rdtsc() -> u64 {
    // SAFETY: `rdtsc` exists on every x86_64 CPU and has no preconditions.
    unsafe { std::arch::x86_64::_rdtsc() }
}

/// The stamp of an event that happened untimed (module docs): even, so no reading
/// of [`now`] (always odd) is ever equal to it.
pub(crate) const UNTIMED: u64 = 2;

/// A raw timestamp: odd, so never 0 or [`UNTIMED`].
#[inline]
pub(crate) fn now() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if TSC.load(Ordering::Relaxed) {
        return rdtsc() | 1;
    }
    clock().clock.raw() | 1
}

/// The time from raw reading `from` to raw reading `to` (zero if either is missing or
/// untimed, or they are out of order).
pub(crate) fn between(from: u64, to: u64) -> Duration {
    if from <= UNTIMED || to <= UNTIMED || to <= from {
        return Duration::ZERO;
    }
    clock().clock.delta(from, to)
}

/// The length of `t` clock ticks (a difference of two readings).
pub(crate) fn ticks(t: u64) -> Duration {
    if t == 0 {
        return Duration::ZERO;
    }
    clock().clock.delta(1, 1 + t)
}

/// The `Instant` of a raw reading, or `None` for "not yet" and "untimed".
pub(crate) fn instant(raw: u64) -> Option<Instant> {
    if raw <= UNTIMED {
        return None;
    }
    let c = clock();
    Some(if raw >= c.origin_raw {
        c.origin + c.clock.delta(c.origin_raw, raw)
    } else {
        c.origin - c.clock.delta(raw, c.origin_raw)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_advance_and_convert() {
        let a = now();
        let before = Instant::now();
        std::thread::sleep(Duration::from_millis(5));
        let b = now();
        let d = between(a, b);
        assert!(d >= Duration::from_millis(4) && d < Duration::from_secs(2), "{d:?}");
        let ib = instant(b).unwrap();
        assert!(ib > before, "converted instant lies before a real earlier one");
        assert_eq!(instant(0), None);
        assert_eq!(between(b, a), Duration::ZERO);
        assert_eq!(
            (instant(UNTIMED), between(UNTIMED, b), between(a, UNTIMED)),
            (None, Duration::ZERO, Duration::ZERO)
        );
        assert!(a % 2 == 1 && b % 2 == 1, "a reading could equal UNTIMED");
        assert_eq!(ticks(b - a), d);
        assert_eq!(ticks(0), Duration::ZERO);
    }
}
