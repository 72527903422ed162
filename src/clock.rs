//! The task clock: raw timestamps that cost a few nanoseconds, for status and metrics.
//!
//! `std::time::Instant::now` costs about 35 ns on the machines we measure on; a task
//! records up to three timestamps (queued, started, finished), which would add a
//! large share to a 200 ns spawn-and-wait. [`now`] reads the CPU's invariant
//! time-stamp counter through `quanta` where it is usable (and falls back to the
//! OS clock where it is not), and converts to [`Duration`] or [`Instant`] only when
//! somebody reads a figure.
//!
//! A raw reading of 0 means "not recorded": readings taken after the clock's start
//! are never 0, because [`now`] adds one tick.

// Read by the control plane and metrics, which land next.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
    let _ = clock();
}

/// A raw timestamp, never 0.
#[inline]
pub(crate) fn now() -> u64 {
    clock().clock.raw() | 1
}

/// The time from raw reading `from` to raw reading `to` (zero if either is missing or
/// they are out of order).
pub(crate) fn between(from: u64, to: u64) -> Duration {
    if from == 0 || to == 0 || to <= from {
        return Duration::ZERO;
    }
    clock().clock.delta(from, to)
}

/// The `Instant` of a raw reading, or `None` for "not recorded".
pub(crate) fn instant(raw: u64) -> Option<Instant> {
    if raw == 0 {
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
    }
}
