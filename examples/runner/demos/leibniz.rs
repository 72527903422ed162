//! leibniz-pi: three sticky-anchored stages (terms, chunks, unify), each taking the
//! previous stage's token, for the rounds (terms, chunks) = (100, 10), (1000, 20),
//! (10,000, 50), (100,000, 100), (1,000,000, 500). Prints pi, the error and the time,
//! and checks the error against the alternating series' bound 4/(2n+1).

use std::sync::LazyLock;
use std::time::Instant;

use tokengate::{Op, Sticky, Token, Weight};

use super::{ms, Ctx, GATE};

static TERMS: LazyLock<Op<Sticky>> = LazyLock::new(|| {
    Op::new("leibniz_terms")
        .weight(Weight::Medium)
        .sticky_anchor("leibniz-terms")
});
static CHUNKS: LazyLock<Op<Sticky>> = LazyLock::new(|| {
    Op::new("leibniz_chunks")
        .weight(Weight::Light)
        .sticky_anchor("leibniz-chunks")
});
static UNIFY: LazyLock<Op<Sticky>> = LazyLock::new(|| {
    Op::new("leibniz_unify")
        .weight(Weight::Light)
        .sticky_anchor("leibniz-unify")
});

/// The term (-1)^k / (2k+1).
pub fn term(k: u64) -> f64 {
    let t = 1.0 / (2 * k + 1) as f64;
    if k % 2 == 0 {
        t
    } else {
        -t
    }
}

/// pi from `n` terms in `chunks` chunks, through the three stages. The unify task
/// spawns the other stages itself, so that every wait inside a task is on work spawned
/// within it (see `chain.rs` for why a task must not wait on a sibling from outside).
pub fn pi(n: u64, chunks: u64) -> Result<f64, tokengate::TaskError> {
    let per = n.div_ceil(chunks);
    GATE.spawn(&UNIFY, move || {
        let sums: Vec<Token<f64>> = (0..chunks)
            .map(|c| {
                let (lo, hi) = (c * per, ((c + 1) * per).min(n));
                let terms: Token<Vec<f64>> = GATE.spawn(&TERMS, move || (lo..hi).map(term).collect());
                GATE.spawn(&CHUNKS, move || terms.wait().expect("terms").iter().sum::<f64>())
            })
            .collect();
        4.0 * sums.into_iter().map(|t| t.wait().expect("chunk")).sum::<f64>()
    })
    .wait()
}

pub fn run(ctx: &mut Ctx) {
    let rounds: &[(u64, u64)] = if ctx.quick {
        &[(100, 10), (1000, 20), (10_000, 50), (100_000, 100)]
    } else {
        &[(100, 10), (1000, 20), (10_000, 50), (100_000, 100), (1_000_000, 500)]
    };
    for &(n, chunks) in rounds {
        let t0 = Instant::now();
        let got = pi(n, chunks);
        let el = t0.elapsed();
        match got {
            Ok(p) => {
                let err = (p - std::f64::consts::PI).abs();
                let bound = 4.0 / (2 * n + 1) as f64;
                println!(
                    "  {n:>9} terms / {chunks:>3} chunks: pi = {p:.12}, error {err:.3e} (bound {bound:.3e}), {}",
                    ms(el)
                );
                ctx.check(
                    err <= bound,
                    format_args!("leibniz-pi {n}: error {err:e} > bound {bound:e}"),
                );
            }
            Err(e) => ctx.check(false, format_args!("leibniz-pi {n}: {e:?}")),
        }
    }
}
