//! orchestrator: a random mix of every op in batches of 10-20 with random gaps, for a
//! set duration (30 s; quick 2 s). Latency percentiles and a histogram by op, then the
//! pool's own per-op figures from `gate.metrics()`.

use std::path::Path;
use std::time::{Duration, Instant};

use super::work::*;
use super::{ms, quantile, Ctx, GATE};

/// The op names, as the guarded functions name them.
pub const OPS: [&str; 13] = [
    "trivial",
    "simple",
    "string_job",
    "moderate",
    "prime_sum",
    "complex",
    "heavy",
    "fibonacci",
    "sort_job",
    "sha_chain",
    "log_append",
    "json_write",
    "blob_write",
];

/// Submits one call of op `k`; the returned closure waits and checks its result.
pub fn submit(k: usize, i: u64, dir: &Path) -> Box<dyn FnOnce() -> bool + Send> {
    let d = dir.to_path_buf();
    match k {
        0 => with(trivial(i), move |v| v == trivial_inline(i)),
        1 => with(simple(i), move |v| v == simple_inline(i)),
        2 => with(string_job(i), move |v| v == string_job_inline(i)),
        3 => with(moderate(i), move |v| v == moderate_inline(i)),
        4 => with(prime_sum(1_000 + i % 1_000), move |v| {
            v == prime_sum_inline(1_000 + i % 1_000)
        }),
        5 => with(complex(i), move |v| v == complex_inline(i)),
        6 => with(heavy(i), move |v| v == heavy_inline(i)),
        7 => with(fibonacci(15 + (i % 5) as u32), move |v| {
            v == fibonacci_inline(15 + (i % 5) as u32)
        }),
        8 => with(sort_job(i), move |v| v == sort_job_inline(i)),
        9 => with(sha_chain(i, 150), move |v| v == sha_chain_inline(i, 150)),
        10 => with(counted(log_append(d, i)), |v| v.is_ok()),
        11 => with(counted(json_write(d, i % 50)), |v| v.is_ok()),
        _ => with(counted(blob_write(d, i % 20)), |v| matches!(v, Ok(8192))),
    }
}

fn with<T: Send + 'static>(
    t: tokengate::Token<T>,
    check: impl FnOnce(T) -> bool + Send + 'static,
) -> Box<dyn FnOnce() -> bool + Send> {
    Box::new(move || t.wait().is_ok_and(check))
}

const BUCKETS: [u64; 5] = [1, 5, 20, 100, u64::MAX];

pub fn run(ctx: &mut Ctx) {
    let dir = match TempDir::new("orchestrator") {
        Ok(d) => d,
        Err(e) => return ctx.check(false, format_args!("orchestrator: temp dir: {e}")),
    };
    let span = Duration::from_secs_f64(ctx.size(30.0, 2.0));
    let mut lat: Vec<Vec<Duration>> = vec![Vec::new(); OPS.len()];
    let (mut n, mut bad, mut batches, mut i) = (0usize, 0usize, 0usize, 0u64);
    let t0 = Instant::now();
    while t0.elapsed() < span {
        let size = ctx.rng.range(10, 20);
        let submitted: Vec<_> = (0..size)
            .map(|_| {
                let k = ctx.rng.range(0, OPS.len() as u64 - 1) as usize;
                i += 1;
                (k, Instant::now(), submit(k, i, &dir.0))
            })
            .collect();
        for (k, at, check) in submitted {
            if !check() {
                bad += 1;
            }
            lat[k].push(at.elapsed());
            n += 1;
        }
        batches += 1;
        let gap = Duration::from_millis(ctx.rng.range(10, 100));
        std::thread::sleep(gap.min(span.saturating_sub(t0.elapsed())));
    }
    let actual = t0.elapsed();
    println!(
        "  {n} tasks in {batches} batches over {:.2} s (planned {:.1} s), {bad} failed checks",
        actual.as_secs_f64(),
        span.as_secs_f64()
    );
    println!(
        "  {:<11} {:>5} {:>11} {:>11} {:>11}   histogram <1 <5 <20 <100 >=100 ms",
        "op", "n", "p50", "p95", "max"
    );
    for (k, l) in lat.iter_mut().enumerate() {
        let hist: Vec<usize> = BUCKETS
            .iter()
            .enumerate()
            .map(|(b, &hi)| {
                let lo = if b == 0 { 0 } else { BUCKETS[b - 1] };
                l.iter()
                    .filter(|d| (d.as_millis() as u64) >= lo && (d.as_millis() as u64) < hi)
                    .count()
            })
            .collect();
        let len = l.len();
        println!(
            "  {:<11} {len:>5} {:>11} {:>11} {:>11}   {hist:?}",
            OPS[k],
            ms(quantile(l, 0.5)),
            ms(quantile(l, 0.95)),
            ms(quantile(l, 1.0))
        );
    }
    let m = GATE.metrics();
    println!("  gate.metrics() (whole run so far): op, submitted, queue-wait p50/p99, run-time p50/p99");
    for name in OPS {
        if let Some(o) = m.op(name) {
            println!(
                "    {name:<11} {:>7} {:>11} {:>11} {:>11} {:>11}",
                o.submitted,
                ms(o.queue_wait.quantile(0.5)),
                ms(o.queue_wait.quantile(0.99)),
                ms(o.run_time.quantile(0.5)),
                ms(o.run_time.quantile(0.99))
            );
        }
    }
    ctx.check(
        bad == 0 && n > 0,
        format_args!("orchestrator: {bad} of {n} tasks failed their check"),
    );
    ctx.check(
        actual < span + Duration::from_secs(1),
        format_args!("orchestrator: the duration was honoured ({actual:?})"),
    );
}
