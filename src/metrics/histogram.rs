//! Log-linear histograms of durations: fixed buckets written without locks, read as
//! a [`Histogram`] snapshot.
//!
//! Values are raw task-clock ticks (`clock.rs`). Values below 16 have a bucket each;
//! above, every power of two `[2^e, 2^(e+1))` is split into 16 equal buckets, so a
//! bucket is at most 1/16 of its lower bound wide and its midpoint is within about
//! 3% of any value in it. Every `u64` has its bucket (976 of them, stored in 1024
//! slots so that the index is masked, not compared). A worker's [`Buckets`] have one
//! writer (that worker), so recording is a few loads and stores, no
//! read-modify-write: about 13 instructions (bucket index 8, count, sum, max).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const SUB_BITS: u32 = 4;
const SUB: usize = 1 << SUB_BITS;
/// Buckets in use: 16 exact ones, then 16 per exponent `4..=63`.
const USED: usize = SUB * (64 - SUB_BITS as usize + 1);
/// Bucket slots: a power of two above `USED`, so `bucket_of` masks its index.
const BUCKETS: usize = USED.next_power_of_two();

/// The bucket of `v`: branch-free arithmetic on its leading zeros. With
/// `e = max(floor(log2 v), SUB_BITS)` and `s = e - SUB_BITS`, `v >> s` is in
/// `[SUB, 2 * SUB)` (or is `v` itself, below `SUB`), so `s * SUB + (v >> s)` numbers
/// the buckets contiguously: 0..16 exact, then 16 per exponent, at most `USED - 1`.
#[inline]
fn bucket_of(v: u64) -> usize {
    // `v | SUB` has the same leading zeros as `v` from `SUB` up, and `SUB_BITS` below.
    let s = (63 - SUB_BITS) - (v | SUB as u64).leading_zeros();
    let b = ((s as usize) << SUB_BITS) + (v >> s) as usize;
    // Below `USED` already; the mask only spares the bounds check.
    b & (BUCKETS - 1)
}

/// The lowest value of bucket `b` and its width.
fn bucket_range(b: usize) -> (u64, u64) {
    if b < SUB {
        return (b as u64, 1);
    }
    let group = b / SUB;
    let shift = group as u32 - 1;
    let lower = ((SUB + b % SUB) as u64) << shift;
    (lower, 1 << shift)
}

/// One writer's buckets, inline (an op's cells are boxed once, so both of its
/// histograms are reached through one pointer), indexed without a bounds check
/// (`bucket_of` masks to `BUCKETS`).
pub(crate) struct Buckets {
    counts: [AtomicU64; BUCKETS],
    sum: AtomicU64,
    max: AtomicU64,
}

impl Buckets {
    pub(crate) const fn new() -> Self {
        Buckets {
            counts: [const { AtomicU64::new(0) }; BUCKETS],
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// Records `ticks`. Single writer: plain load-and-store increments.
    #[inline]
    pub(crate) fn record(&self, ticks: u64) {
        let c = &self.counts[bucket_of(ticks)];
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        self.sum
            .store(self.sum.load(Ordering::Relaxed).wrapping_add(ticks), Ordering::Relaxed);
        if ticks > self.max.load(Ordering::Relaxed) {
            self.max.store(ticks, Ordering::Relaxed);
        }
    }

    /// Records `ticks` from any thread (the outside shard: storage threads).
    pub(crate) fn record_shared(&self, ticks: u64) {
        self.counts[bucket_of(ticks)].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(ticks, Ordering::Relaxed);
        self.max.fetch_max(ticks, Ordering::Relaxed);
    }

    /// Adds these buckets into `into`.
    pub(crate) fn add_to(&self, into: &mut Histogram) {
        for (b, c) in self.counts.iter().enumerate() {
            let c = c.load(Ordering::Relaxed);
            if c > 0 {
                match into.buckets.binary_search_by_key(&(b as u32), |&(i, _)| i) {
                    Ok(i) => into.buckets[i].1 += c,
                    Err(i) => into.buckets.insert(i, (b as u32, c)),
                }
            }
        }
        into.sum_ticks = into.sum_ticks.wrapping_add(self.sum.load(Ordering::Relaxed));
        into.max_ticks = into.max_ticks.max(self.max.load(Ordering::Relaxed));
    }
}

/// A snapshot of a duration histogram: how long tasks of one op waited in a queue,
/// or ran. Quantiles are accurate to about 3% (log-linear buckets, 16 per power of
/// two).
///
/// ```
/// use std::time::Duration;
/// use tokengate::{Coordinator, Op};
/// let gate = Coordinator::builder().workers(1).build().unwrap();
/// let op = Op::new("histogram-doc");
/// gate.spawn(&op, || std::thread::sleep(Duration::from_millis(2))).wait().unwrap();
/// let run = gate.metrics().op("histogram-doc").unwrap().run_time;
/// assert_eq!(run.count(), 1);
/// assert!(run.quantile(0.5) >= Duration::from_millis(1));
/// assert!(run.max() >= Duration::from_millis(2) && run.max() < Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Histogram {
    /// Non-empty buckets, `(index, count)`, by index.
    buckets: Vec<(u32, u64)>,
    sum_ticks: u64,
    max_ticks: u64,
    /// Nanoseconds per clock tick, to convert.
    ns_per_tick: f64,
}

impl Histogram {
    pub(crate) fn empty(ns_per_tick: f64) -> Self {
        Histogram {
            ns_per_tick,
            ..Histogram::default()
        }
    }

    fn duration(&self, ticks: f64) -> Duration {
        Duration::from_nanos((ticks * self.ns_per_tick).round() as u64)
    }

    /// The number of recorded durations.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|&(_, c)| c).sum()
    }

    /// The `q`-quantile (`q` in `0.0..=1.0`, e.g. `0.99`), within about 3%. Zero if
    /// nothing was recorded.
    pub fn quantile(&self, q: f64) -> Duration {
        let total = self.count();
        if total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for &(b, c) in &self.buckets {
            seen += c;
            if seen >= rank {
                let (lower, width) = bucket_range(b as usize);
                let mid = lower as f64 + (width as f64 - 1.0) / 2.0;
                return self.duration(mid.min(self.max_ticks as f64));
            }
        }
        self.max()
    }

    /// The longest recorded duration (exact).
    pub fn max(&self) -> Duration {
        self.duration(self.max_ticks as f64)
    }

    /// The sum of the recorded durations (exact).
    pub fn sum(&self) -> Duration {
        self.duration(self.sum_ticks as f64)
    }

    /// The mean duration, zero if nothing was recorded.
    pub fn mean(&self) -> Duration {
        match self.count() {
            0 => Duration::ZERO,
            n => self.duration(self.sum_ticks as f64 / n as f64),
        }
    }

    /// How many recorded durations are at most `bound` (bucket precision: a bucket
    /// counts if its upper end is within `bound`). For cumulative exports.
    pub fn count_at_most(&self, bound: Duration) -> u64 {
        let bound_ticks = bound.as_nanos() as f64 / self.ns_per_tick.max(f64::MIN_POSITIVE);
        self.buckets
            .iter()
            .take_while(|&&(b, _)| {
                let (lower, width) = bucket_range(b as usize);
                (lower + (width - 1)) as f64 <= bound_ticks
            })
            .map(|&(_, c)| c)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut expect_lower = 0;
        for b in 0..USED {
            let (lower, width) = bucket_range(b);
            assert_eq!(lower, expect_lower, "bucket {b}");
            assert_eq!(bucket_of(lower), b);
            assert_eq!(bucket_of(lower + (width - 1)), b);
            if lower >= SUB as u64 {
                assert!(width * 16 <= lower, "bucket {b} too wide");
            }
            expect_lower = lower.wrapping_add(width);
        }
        assert_eq!(bucket_of(u64::MAX), USED - 1);
        assert_eq!(bucket_range(USED - 1).0 + (bucket_range(USED - 1).1 - 1), u64::MAX);
    }

    #[test]
    fn quantiles_within_three_percent() {
        let b = Buckets::new();
        for v in 1..=10_000u64 {
            b.record(v * 1000);
        }
        let mut h = Histogram::empty(1.0);
        b.add_to(&mut h);
        assert_eq!(h.count(), 10_000);
        for q in [0.5, 0.9, 0.99] {
            let exact = q * 10_000.0 * 1000.0;
            let got = h.quantile(q).as_nanos() as f64;
            assert!((got - exact).abs() / exact < 0.035, "q{q}: {got} vs {exact}");
        }
        assert_eq!(h.max(), Duration::from_nanos(10_000_000));
        assert_eq!(h.count_at_most(Duration::from_nanos(500)), 0);
        assert_eq!(h.count_at_most(Duration::from_secs(1)), 10_000);
    }
}
