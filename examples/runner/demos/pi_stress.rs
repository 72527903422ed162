//! pi-stress: 1,000,000 term tokens, then 1,000 chunk sums (each taking 1,000 term
//! tokens), 10 partial sums (each taking 100 chunk tokens) and 1 converging token;
//! reports the correct digits and tokens per second, alongside a companion load of
//! 10,000 parity checks, 5,000 light series and 1,000 chain seeds, all checked.
//! `--quick` divides every count by 20.

use std::sync::LazyLock;
use std::time::Instant;

use tokengate::{Op, Token, Weight};

use super::leibniz::term;
use super::{CpuMeter, Ctx, GATE};

static TERM: LazyLock<Op> = LazyLock::new(|| Op::new("pi_term").weight(Weight::Light));
static CHUNK: LazyLock<Op> = LazyLock::new(|| Op::new("pi_chunk").weight(Weight::Light));
static PARTIAL: LazyLock<Op> = LazyLock::new(|| Op::new("pi_partial").weight(Weight::Light));
static CONVERGE: LazyLock<Op> = LazyLock::new(|| Op::new("pi_converge").weight(Weight::Light));
static PARITY: LazyLock<Op> = LazyLock::new(|| Op::new("parity_check").weight(Weight::Light));
static SERIES: LazyLock<Op> = LazyLock::new(|| Op::new("light_series").weight(Weight::Light));
static SEED: LazyLock<Op> = LazyLock::new(|| Op::new("chain_seed").weight(Weight::Light));

fn series(k: u64) -> f64 {
    (1..=100 + k % 50).map(|j| 1.0 / (j * j) as f64).sum()
}

/// Decimal digits of `x` that agree with pi (`|x - pi| < 0.5e-d`).
pub fn correct_digits(x: f64) -> u32 {
    let err = (x - std::f64::consts::PI).abs();
    (0..16i32).take_while(|&d| err < 0.5 * 10f64.powi(-d)).count() as u32
}

pub fn run(ctx: &mut Ctx) {
    let div = ctx.size(1, 20);
    let (chunks, per_chunk, partials) = (1_000 / div, 1_000u64, 10u64);
    let n = chunks * per_chunk;
    let (parity_n, series_n, seed_n) = (10_000 / div, 5_000 / div, 1_000 / div);
    let meter = CpuMeter::start();
    let t0 = Instant::now();
    // The pi tree: the converging token spawns the partial sums, each partial sum its
    // chunk sums, each chunk sum its term tokens; every wait is on work spawned within
    // (see `chain.rs` for why a task must not wait on a sibling spawned from outside).
    let per_partial = chunks.div_ceil(partials);
    let converge = GATE.spawn(&CONVERGE, move || {
        let parts: Vec<Token<f64>> = (0..chunks.div_ceil(per_partial))
            .map(|p| {
                GATE.spawn(&PARTIAL, move || {
                    let sums: Vec<Token<f64>> = (p * per_partial..((p + 1) * per_partial).min(chunks))
                        .map(|c| {
                            GATE.spawn(&CHUNK, move || {
                                let terms: Vec<Token<f64>> = (c * per_chunk..(c + 1) * per_chunk)
                                    .map(|k| GATE.spawn(&TERM, move || term(k)))
                                    .collect();
                                terms.into_iter().map(|t| t.wait().expect("term")).sum::<f64>()
                            })
                        })
                        .collect();
                    sums.into_iter().map(|t| t.wait().expect("chunk")).sum::<f64>()
                })
            })
            .collect();
        4.0 * parts.into_iter().map(|t| t.wait().expect("partial")).sum::<f64>()
    });
    // The companion load, submitted from here while the tree runs.
    let mut companion: Vec<(u64, Token<(u64, u64)>)> = Vec::new();
    let mut light: Vec<(u64, Token<f64>)> = Vec::new();
    for x in 0..parity_n {
        companion.push((x, GATE.spawn(&PARITY, move || (0, x % 2))));
        if x % 2 == 0 && x / 2 < series_n {
            let k = x / 2;
            light.push((k, GATE.spawn(&SERIES, move || series(k))));
        }
        if x % 10 == 0 && x / 10 < seed_n {
            let c = x / 10;
            companion.push((c, GATE.spawn(&SEED, move || (1, c * 3 + 7))));
        }
    }
    let pi = converge.wait();
    let el_pi = t0.elapsed();
    let (mut parity_bad, mut seeds, mut parities) = (0, 0, 0);
    for (x, t) in companion {
        match t.wait() {
            Ok((0, p)) => {
                parities += 1;
                parity_bad += (p != x % 2) as usize;
            }
            Ok((_, v)) => {
                seeds += 1;
                parity_bad += (v != x * 3 + 7) as usize;
            }
            Err(_) => parity_bad += 1,
        }
    }
    let series_count = light.len();
    let series_bad = light
        .into_iter()
        .map(|(k, t)| t.wait().map_or(true, |v| v != series(k)))
        .filter(|b| *b)
        .count();
    let el = t0.elapsed();
    let (_, par) = meter.stop();
    let total = n + chunks + partials + 1 + (parities + seeds + series_count) as u64;
    match pi {
        Ok(p) => {
            let digits = correct_digits(p);
            println!(
                "  pi = {p:.12} from {n} term tokens: {digits} correct digits, error {:.3e}, {:.2} s",
                (p - std::f64::consts::PI).abs(),
                el_pi.as_secs_f64()
            );
            let bound = 4.0 / (2 * n + 1) as f64;
            ctx.check(
                (p - std::f64::consts::PI).abs() <= bound,
                "pi-stress: error within the series bound",
            );
        }
        Err(e) => ctx.check(false, format_args!("pi-stress: converging token: {e:?}")),
    }
    println!(
        "  companion: {parities} parity checks, {series_count} light series, {seeds} chain seeds; {total} tokens in {:.2} s = {:.0} tokens/s, CPU/wall {par:.2}",
        el.as_secs_f64(),
        total as f64 / el.as_secs_f64()
    );
    ctx.check(
        parity_bad == 0 && series_bad == 0,
        format_args!("pi-stress: companion load: {parity_bad} bad results, {series_bad} bad series"),
    );
}
