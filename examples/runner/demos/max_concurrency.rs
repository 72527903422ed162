//! max-concurrency: four ops round-robin (a prime sum, a 300-character string job, a
//! sort, a SHA-256 chain of 120-200 rounds); a warm-up of 256 tokens, then waves of 4,
//! 8, ... 16,384 tokens (quick: up to 2,048). Per wave: tokens per second from the
//! first submit to the last result (the prototype started its clock after submitting),
//! latency (submit to the task's finish) and CPU/wall. Every result is checked.

use std::sync::LazyLock;
use std::time::Instant;

use tokengate::{Op, Token, Weight};

use super::work::{prime_sum_inline, sha_chain_inline, sort_job_inline, string_job_inline};
use super::{ms, quantile, CpuMeter, Ctx, GATE};

static OPS: LazyLock<[Op; 4]> = LazyLock::new(|| {
    [
        Op::new("mc_prime").weight(Weight::Medium),
        Op::new("mc_string").weight(Weight::Light),
        Op::new("mc_sort").weight(Weight::Light),
        Op::new("mc_sha").weight(Weight::Medium),
    ]
});

fn compute(i: u64) -> u64 {
    match i % 4 {
        0 => prime_sum_inline(500 + i % 500),
        1 => string_job_inline(i) as u64,
        2 => sort_job_inline(i),
        _ => sha_chain_inline(i, 120 + (i % 81) as u32),
    }
}

fn spawn(i: u64) -> Token<(u64, Instant)> {
    GATE.spawn(&OPS[(i % 4) as usize], move || (compute(i), Instant::now()))
}

/// One wave of `n` tokens; returns (tokens/s, p50, p95, CPU/wall, bad results).
fn wave(n: u64, base: u64) -> (f64, std::time::Duration, std::time::Duration, f64, usize) {
    let meter = CpuMeter::start();
    let t0 = Instant::now();
    let tokens: Vec<_> = (base..base + n).map(|i| (i, Instant::now(), spawn(i))).collect();
    let results: Vec<_> = tokens.into_iter().map(|(i, at, t)| (i, at, t.wait())).collect();
    let el = t0.elapsed();
    let (_, par) = meter.stop();
    let mut lat = Vec::with_capacity(n as usize);
    let mut bad = 0;
    for (i, at, r) in results {
        match r {
            Ok((v, done)) => {
                lat.push(done.saturating_duration_since(at));
                if v != compute(i) {
                    bad += 1;
                }
            }
            Err(_) => bad += 1,
        }
    }
    (
        n as f64 / el.as_secs_f64(),
        quantile(&mut lat, 0.5),
        quantile(&mut lat, 0.95),
        par,
        bad,
    )
}

pub fn run(ctx: &mut Ctx) {
    let top: u64 = ctx.size(16_384, 2_048);
    let (_, _, _, _, bad) = wave(256, 0);
    ctx.check(bad == 0, format_args!("max-concurrency warm-up: {bad} bad results"));
    println!(
        "  {:>6} {:>10} {:>11} {:>11} {:>8}",
        "wave", "tokens/s", "p50", "p95", "CPU/wall"
    );
    let (mut n, mut base, mut best) = (4u64, 256u64, 0f64);
    while n <= top {
        let (rate, p50, p95, par, bad) = wave(n, base);
        println!("  {n:>6} {rate:>10.0} {:>11} {:>11} {par:>8.2}", ms(p50), ms(p95));
        ctx.check(bad == 0, format_args!("max-concurrency wave {n}: {bad} bad results"));
        best = best.max(rate);
        base += n;
        n *= 2;
    }
    println!(
        "  best {best:.0} tokens/s, first submit to last result (prototype about 1,500/s; its own clock said 1,900)"
    );
}
