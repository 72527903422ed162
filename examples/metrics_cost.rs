//! Cost of recording metrics, `Builder::metrics(true)` against `metrics(false)`.
//!
//! Two uses:
//!
//! 1. Instruction counts under callgrind, one scenario, metrics on or off:
//!
//! ```text
//! cargo build --release --example metrics_cost
//! valgrind --tool=callgrind target/release/examples/metrics_cost burst on 100000
//! valgrind --tool=callgrind target/release/examples/metrics_cost burst off 100000
//! ```
//!
//! 2. The wall-clock A/B for the issue's budget (burst and pingpong within 10%, fib
//!    through `join` within 5%), on a quiet machine:
//!
//! ```text
//! cargo run --release --example metrics_cost -- ab        # 21 repetitions, well under a minute
//! cargo run --release --example metrics_cost -- ab 31     # more repetitions
//! ```
//!
//!    For each scenario it builds one pool with metrics on and one with metrics off
//!    (2 workers each, both alive for the whole run, so neither pays a start-up the
//!    other does not), warms both up, then alternates repetitions on/off/off/on/...
//!    so drift in machine load hits both sides alike, and prints per side the median,
//!    min and max time per task (per fib call for `fib`), and the median ratio. The
//!    ratio is what the budget is about; min/max show how noisy the run was.
//!
//! For the spawn from a non-worker thread alone (the spawning half of `burst`):
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='*spawn_outside*' \
//!     target/release/examples/metrics_cost outside on 20000     # then: off
//! ```
//!
//! Scenarios: `burst` (spawn `n` light tasks from outside, then wait for all),
//! `pingpong` (`n` sequential spawn-and-wait round trips from outside), `fib`
//! (`fib(n)` through `tokengate::join` inside one task).

use std::time::{Duration, Instant};

use tokengate::{Coordinator, Op, Weight};

fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = tokengate::join(|| fib(n - 1), || fib(n - 2));
    a + b
}

/// Calls of `fib` that `fib(n)` makes (the unit of its per-call time).
fn fib_calls(n: u64) -> u64 {
    let (mut a, mut b) = (1u64, 1u64); // calls(0), calls(1)
    for _ in 1..n {
        (a, b) = (b, a + b + 1);
    }
    if n == 0 {
        a
    } else {
        b
    }
}

/// Runs `scenario` once on `gate` with size `n`; returns a checksum.
fn run(gate: &Coordinator, op: &Op, scenario: &str, n: u64) -> u64 {
    match scenario {
        "burst" => {
            let ts: Vec<_> = (0..n).map(|i| gate.spawn(op, move || i ^ 0x5a)).collect();
            ts.into_iter().map(|t| t.wait().expect("task")).sum()
        }
        "pingpong" => (0..n)
            .map(|i| gate.spawn(op, move || i ^ 0x5a).wait().expect("task"))
            .sum(),
        "fib" => gate.spawn(op, move || fib(n)).wait().expect("fib"),
        "outside" => spawn_outside(gate, op, n)
            .into_iter()
            .map(|t| t.wait().expect("task"))
            .sum(),
        other => panic!("unknown scenario {other}: burst, pingpong, fib or outside"),
    }
}

/// The spawning half of `burst`, on its own for callgrind
/// (`--toggle-collect='*spawn_outside*'`): what a spawn from a non-worker thread
/// costs, `submitted` in the outside shard included.
#[inline(never)]
fn spawn_outside(gate: &Coordinator, op: &Op, n: u64) -> Vec<tokengate::Token<u64>> {
    (0..n).map(|i| gate.spawn(op, move || i ^ 0x5a)).collect()
}

fn pool(on: bool) -> Coordinator {
    Coordinator::builder().workers(2).metrics(on).build().expect("build")
}

/// Median, min and max of `xs` (sorted in place).
fn stats(xs: &mut [f64]) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[xs.len() / 2], xs[0], xs[xs.len() - 1])
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} us", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// The interleaved A/B of one scenario: `reps` repetitions per side.
fn ab_one(scenario: &str, n: u64, reps: usize) {
    let (on, off) = (pool(true), pool(false));
    let op = Op::new(format!("metrics-cost-{scenario}")).weight(Weight::Light);
    let per = if scenario == "fib" { fib_calls(n) } else { n } as f64;
    let expect = run(&off, &op, scenario, n);
    // Warm-up: lanes, allocator caches, op cells, history rings.
    for _ in 0..2 {
        assert_eq!(run(&on, &op, scenario, n), expect);
        assert_eq!(run(&off, &op, scenario, n), expect);
    }
    let (mut t_on, mut t_off) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
    let time = |gate: &Coordinator, into: &mut Vec<f64>| {
        let start = Instant::now();
        let sum = run(gate, &op, scenario, n);
        into.push(start.elapsed().as_nanos() as f64 / per);
        assert_eq!(sum, expect);
    };
    for rep in 0..reps {
        // ABBA order: on/off, then off/on, so neither side always goes first.
        if rep % 2 == 0 {
            time(&on, &mut t_on);
            time(&off, &mut t_off);
        } else {
            time(&off, &mut t_off);
            time(&on, &mut t_on);
        }
    }
    let recorded = on.metrics().op(op.name()).map_or(0, |m| m.completed);
    assert!(off.metrics().op(op.name()).is_none(), "metrics(false) recorded");
    on.shutdown();
    off.shutdown();
    let (m_on, lo_on, hi_on) = stats(&mut t_on);
    let (m_off, lo_off, hi_off) = stats(&mut t_off);
    println!(
        "{scenario:>8} n={n:<7} on  median {:>10} (min {:>10}, max {:>10})  [{recorded} tasks recorded]",
        fmt_ns(m_on),
        fmt_ns(lo_on),
        fmt_ns(hi_on)
    );
    println!(
        "{:>8} {:9} off median {:>10} (min {:>10}, max {:>10})",
        "",
        "",
        fmt_ns(m_off),
        fmt_ns(lo_off),
        fmt_ns(hi_off)
    );
    println!(
        "{:>8} {:9} on/off: median {:+.1}%, min {:+.1}%",
        "",
        "",
        (m_on / m_off - 1.0) * 100.0,
        (lo_on / lo_off - 1.0) * 100.0
    );
}

fn ab(reps: usize) {
    let started = Instant::now();
    println!("metrics on vs off, 2 workers, {reps} interleaved repetitions per side; time per task (fib: per call)");
    ab_one("burst", 50_000, reps);
    ab_one("pingpong", 20_000, reps);
    ab_one("fib", 25, reps);
    println!("total {:.1?}", Duration::from_secs_f64(started.elapsed().as_secs_f64()));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scenario = args.get(1).map_or("burst", String::as_str);
    if scenario == "ab" {
        let reps = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(21);
        return ab(reps);
    }
    let on = args.get(2).map_or("on", String::as_str) == "on";
    let n: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let gate = pool(on);
    let op = Op::new(scenario).weight(Weight::Light);
    let sum = run(&gate, &op, scenario, n);
    gate.shutdown();
    println!("{scenario} metrics={on} n={n}: {sum}");
}
