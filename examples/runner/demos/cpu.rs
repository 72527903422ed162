//! cpu: the prototype's CPU demo (trivial 20, simple 20, string 15, moderate 15, prime
//! 15, complex 10, heavy 10, fibonacci 8 tasks through guarded functions, each result
//! checked), plus the two figures the prototype was measured by: 10,000 trivial tasks
//! in a row, and one submit-to-result round trip.

use std::time::Instant;

use super::work::*;
use super::{ms, quantile, CpuMeter, Ctx};

pub fn run(ctx: &mut Ctx) {
    let meter = CpuMeter::start();
    let mut ok = 0usize;
    let mut total = 0usize;
    macro_rules! batch {
        ($name:literal, $count:expr, $f:ident, $inline:ident, $arg:expr) => {{
            let t0 = Instant::now();
            let args: Vec<_> = (0..$count as u64).map($arg).collect();
            let tokens: Vec<_> = args.iter().map(|&a| $f(a)).collect();
            let mut good = 0;
            for (a, t) in args.iter().zip(tokens) {
                let got = t.wait();
                let want = $inline(*a);
                if got.as_ref() == Ok(&want) {
                    good += 1;
                } else {
                    ctx.check(false, format_args!("cpu {}({a}): got {got:?}, want {want:?}", $name));
                }
            }
            ctx.check(
                good == $count,
                format_args!("cpu {}: {good} of {} correct", $name, $count),
            );
            println!(
                "  {:<10} {:>3} tasks, {:>3} correct, {}",
                $name,
                $count,
                good,
                ms(t0.elapsed())
            );
            ok += good;
            total += $count;
        }};
    }
    batch!("trivial", 20, trivial, trivial_inline, |i| i);
    batch!("simple", 20, simple, simple_inline, |i| i * 3);
    batch!("string", 15, string_job, string_job_inline, |i| i);
    batch!("moderate", 15, moderate, moderate_inline, |i| i);
    batch!("prime", 15, prime_sum, prime_sum_inline, |i| 2_000 + 100 * i);
    batch!("complex", 10, complex, complex_inline, |i| i);
    batch!("heavy", 10, heavy, heavy_inline, |i| i);
    let fib_args: Vec<u32> = (0..8).map(|i| 18 + i).collect();
    let t0 = Instant::now();
    let tokens: Vec<_> = fib_args.iter().map(|&n| fibonacci(n)).collect();
    let mut good = 0;
    for (n, t) in fib_args.iter().zip(tokens) {
        let got = t.wait();
        if got == Ok(fibonacci_inline(*n)) {
            good += 1;
        }
    }
    ctx.check(good == 8, format_args!("cpu fibonacci: {good} of 8 correct"));
    println!(
        "  {:<10} {:>3} tasks, {:>3} correct, {}",
        "fibonacci",
        8,
        good,
        ms(t0.elapsed())
    );
    ok += good;
    total += 8;
    let (wall, par) = meter.stop();
    println!("  mixed set: {ok}/{total} correct in {}, CPU/wall {par:.2}", ms(wall));

    // 10,000 trivial tasks, from the first submit to the last result.
    let n = ctx.size(10_000u64, 2_000);
    let t0 = Instant::now();
    let tokens: Vec<_> = (0..n).map(trivial).collect();
    let sum: u64 = tokens.into_iter().map(|t| t.wait().unwrap_or(0)).sum();
    let el = t0.elapsed();
    ctx.check(
        sum == (1..=n).sum::<u64>(),
        format_args!("cpu: {n} trivial tasks sum to {sum}"),
    );
    println!(
        "  {n} trivial tasks: {} ({:.0} tokens/s; prototype about 2,400/s)",
        ms(el),
        n as f64 / el.as_secs_f64()
    );

    // One submit-to-result round trip, the median of many in a row.
    let rounds = ctx.size(500, 200);
    let mut rt: Vec<_> = (0..rounds as u64)
        .map(|i| {
            let t0 = Instant::now();
            let v = trivial(i).wait();
            let el = t0.elapsed();
            if v != Ok(i + 1) {
                println!("    round trip {i}: {v:?}");
            }
            el
        })
        .collect();
    let p50 = quantile(&mut rt, 0.5);
    println!(
        "  round trip: p50 {}, p95 {} over {rounds} (prototype about 0.57 ms)",
        ms(p50),
        ms(quantile(&mut rt, 0.95))
    );
}
