//! The prototype's demos, ported: one module per demo, shared by the `runner` example
//! (`examples/runner/main.rs`) and the integration test (`tests/runner.rs`), which both
//! include this tree with `#[path]`.
//!
//! Every demo runs its workload on the one pool [`GATE`] (one worker per core), prints
//! what it measured, checks its results against a direct computation and records each
//! failed check in its [`Ctx`]. After each demo, [`run_one`] checks that every token
//! the demo submitted has resolved (from `gate.metrics()`) and that nothing is queued.

#![allow(dead_code)]

use std::fmt::Display;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use tokengate::Coordinator;

#[path = "cache_storm.rs"]
pub mod cache_storm;
#[path = "chain.rs"]
pub mod chain;
#[path = "concurrency.rs"]
pub mod concurrency;
#[path = "cpu.rs"]
pub mod cpu;
#[path = "endurance.rs"]
pub mod endurance;
#[path = "hash_conductor.rs"]
pub mod hash_conductor;
#[path = "io.rs"]
pub mod io;
#[path = "leibniz.rs"]
pub mod leibniz;
#[path = "max_concurrency.rs"]
pub mod max_concurrency;
#[path = "orchestrator.rs"]
pub mod orchestrator;
#[path = "pi_stress.rs"]
pub mod pi_stress;
#[path = "series.rs"]
pub mod series;
#[path = "work.rs"]
pub mod work;

/// The one pool every demo runs on: one worker per core.
pub static GATE: LazyLock<Coordinator> = LazyLock::new(Coordinator::new);

/// A demo's body.
pub type Demo = fn(&mut Ctx);

/// The demos, in menu order: name and body.
pub const DEMOS: &[(&str, Demo)] = &[
    ("cpu", cpu::run),
    ("io", io::run),
    ("series", series::run),
    ("chain", chain::run),
    ("concurrency", concurrency::run),
    ("endurance", endurance::run),
    ("orchestrator", orchestrator::run),
    ("max-concurrency", max_concurrency::run),
    ("leibniz-pi", leibniz::run),
    ("pi-stress", pi_stress::run),
    ("cache-storm", cache_storm::run),
    ("hash-conductor", hash_conductor::run),
];

/// Options and results of one demo run.
pub struct Ctx {
    /// Shrink every size (the whole set in well under a minute).
    pub quick: bool,
    /// The seeded generator demos draw from.
    pub rng: XorShift,
    /// For `concurrency`: the sustained release mode's duration.
    pub release_secs: Option<f64>,
    /// Failed checks, with what was expected.
    pub failures: Vec<String>,
    /// Checks done.
    pub checks: usize,
}

impl Ctx {
    pub fn new(quick: bool, seed: u64) -> Self {
        Ctx {
            quick,
            rng: XorShift::new(seed),
            release_secs: None,
            failures: Vec::new(),
            checks: 0,
        }
    }

    /// Records one check; prints it when it fails.
    pub fn check(&mut self, ok: bool, what: impl Display) {
        self.checks += 1;
        if !ok {
            println!("    CHECK FAILED: {what}");
            self.failures.push(what.to_string());
        }
    }

    /// `full` normally, `quick` with `--quick`.
    pub fn size<T>(&self, full: T, quick: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// A xorshift64* generator: small, seeded, no dependency.
#[derive(Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

/// CPU time (user + system) this process has consumed, from `getrusage(RUSAGE_SELF)`.
pub fn cpu_time() -> Duration {
    // SAFETY: `getrusage` writes into the zeroed struct we own and hand it; RUSAGE_SELF
    // is a valid target.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Measures the CPU time consumed over a wall-clock interval.
pub struct CpuMeter {
    wall: Instant,
    cpu: Duration,
}

impl CpuMeter {
    pub fn start() -> Self {
        CpuMeter {
            wall: Instant::now(),
            cpu: cpu_time(),
        }
    }

    /// (wall time, CPU time / wall time).
    pub fn stop(&self) -> (Duration, f64) {
        let wall = self.wall.elapsed();
        let cpu = cpu_time().saturating_sub(self.cpu);
        (wall, cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9))
    }
}

/// The `q`-quantile of `samples` (sorted in place), or zero when empty.
pub fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[i.min(samples.len() - 1)]
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Tokens submitted and resolved so far on [`GATE`]: every op's counts from its
/// metrics, plus the storage lane's (not in the metrics): the storage tokens the demos
/// counted ([`work::STORAGE_SUBMITTED`]) and the tasks its tiers completed.
pub fn token_counts() -> (u64, u64) {
    let m = GATE.metrics();
    let (s, r) = m
        .ops()
        .iter()
        .fold((0, 0), |(s, r), o| (s + o.submitted, r + o.resolved()));
    let storage_done: u64 = GATE.storage_stats().iter().map(|t| t.completed).sum();
    (
        s + work::STORAGE_SUBMITTED.load(std::sync::atomic::Ordering::Relaxed),
        r + storage_done,
    )
}

/// Runs one demo by name; `None` if there is no such demo. Returns its failures.
pub fn run_one(name: &str, ctx: &mut Ctx) -> Option<usize> {
    let (_, body) = DEMOS.iter().find(|(n, _)| *n == name)?;
    let before = ctx.failures.len();
    let (sub0, res0) = token_counts();
    println!(
        "== {name} ({} workers{})",
        GATE.workers(),
        if ctx.quick { ", quick" } else { "" }
    );
    let t0 = Instant::now();
    body(ctx);
    // A waiter may return a moment before the worker records the run: allow a moment.
    let limit = Instant::now() + Duration::from_secs(2);
    let (mut sub, mut res) = token_counts();
    while sub - sub0 != res - res0 && Instant::now() < limit {
        std::thread::sleep(Duration::from_millis(5));
        (sub, res) = token_counts();
    }
    let (sub, res) = (sub - sub0, res - res0);
    println!("  tokens: {sub} submitted, {res} resolved, {} queued", GATE.queued());
    ctx.check(
        sub == res,
        format_args!("{name}: every token resolved ({res} of {sub})"),
    );
    ctx.check(GATE.queued() == 0, format_args!("{name}: nothing left queued"));
    let failed = ctx.failures.len() - before;
    println!(
        "  {name}: {} in {:.2} s\n",
        if failed == 0 {
            "ok".to_string()
        } else {
            format!("{failed} CHECKS FAILED")
        },
        t0.elapsed().as_secs_f64()
    );
    Some(failed)
}

/// Runs every demo; returns the number of failed checks.
pub fn run_all(ctx: &mut Ctx) -> usize {
    let t0 = Instant::now();
    let names: Vec<&str> = DEMOS.iter().map(|(n, _)| *n).collect();
    for name in names {
        run_one(name, ctx);
    }
    println!(
        "all: {} demos, {} checks, {} failed, {:.2} s",
        DEMOS.len(),
        ctx.checks,
        ctx.failures.len(),
        t0.elapsed().as_secs_f64()
    );
    ctx.failures.len()
}
