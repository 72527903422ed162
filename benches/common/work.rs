//! Work: the task bodies, the calibrated [`spin`] loop, and checksum folding.

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The body of a "tiny" task.
#[inline]
pub fn tiny(i: u64) -> u64 {
    black_box(i).wrapping_mul(2).wrapping_add(1)
}

/// The sum of `tiny(i)` for `i` in `0..n`.
pub fn tiny_sum(n: u64) -> u64 {
    n * n
}

/// CPU-bound busy work: `iters` dependent xorshift steps. Never optimised away.
#[inline(never)]
pub fn spin(iters: u64) -> u64 {
    let mut x = black_box(0x9E37_79B9_7F4A_7C15_u64);
    for _ in 0..iters {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x)
}

/// How many [`spin`] iterations make a given duration on this machine.
#[derive(Debug, Clone, Copy)]
pub struct Calib {
    /// Iterations per microsecond.
    pub iters_per_us: f64,
}

impl Calib {
    /// Times many short runs of [`spin`] and keeps the fastest: on a shared machine a
    /// run is often preempted or slowed by a busy hyperthread sibling, never sped up.
    pub fn measure() -> Self {
        const N: u64 = 200_000;
        black_box(spin(N));
        let best = (0..41)
            .map(|_| {
                let t = Instant::now();
                black_box(spin(N));
                t.elapsed()
            })
            .min()
            .unwrap_or(Duration::from_millis(1));
        Calib {
            iters_per_us: N as f64 / (best.as_secs_f64() * 1e6),
        }
    }

    /// Iterations for `d` of work.
    pub fn iters(&self, d: Duration) -> u64 {
        ((d.as_secs_f64() * 1e6 * self.iters_per_us) as u64).max(1)
    }
}

/// A cached calibration, measured on first use.
pub fn calib() -> Calib {
    static CALIB: OnceLock<Calib> = OnceLock::new();
    *CALIB.get_or_init(Calib::measure)
}

/// How many cores' worth of CPU `threads` spinning threads actually get over `window`,
/// judged by the spin rate against `cal`: 2.0 on an idle 2-core machine, less when
/// other processes compete for the CPUs.
pub fn effective_cores(cal: Calib, threads: usize, window: Duration) -> f64 {
    const CHUNK: u64 = 20_000;
    let start = Instant::now();
    let done: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while start.elapsed() < window {
                        black_box(spin(CHUNK));
                        n += CHUNK;
                    }
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    done as f64 / (cal.iters_per_us * start.elapsed().as_secs_f64() * 1e6)
}

/// Folds checksums without overflow.
pub fn mix(acc: u64, x: u64) -> u64 {
    acc.wrapping_add(x)
}
