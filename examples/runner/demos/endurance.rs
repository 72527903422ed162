//! endurance: phases IDLE (250 tokens every 3-10 s), NORMAL (500 every 0.8-2.5 s) and
//! SURGE (750 every 0.05-0.3 s) in a schedule of cycles; p50 and p95 latency over the
//! last 500 samples; the planned duration is honoured (the prototype overran 60 s by
//! 10 s). `--quick` compresses the schedule 20 times and the bursts 5 times.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokengate::{Op, Token, Weight};

use super::work::{simple_inline, string_job_inline};
use super::{ms, quantile, Ctx, GATE};

struct Phase {
    name: &'static str,
    burst: usize,
    gap: (f64, f64),
    secs: f64,
}

const SCHEDULE: [Phase; 3] = [
    Phase {
        name: "IDLE",
        burst: 250,
        gap: (3.0, 10.0),
        secs: 12.0,
    },
    Phase {
        name: "NORMAL",
        burst: 500,
        gap: (0.8, 2.5),
        secs: 12.0,
    },
    Phase {
        name: "SURGE",
        burst: 750,
        gap: (0.05, 0.3),
        secs: 6.0,
    },
];

type Pending = Vec<(Instant, u64, Token<(u64, Instant)>)>;

/// Takes the finished tokens out of `pending`, checks them and records their latency.
fn harvest(ctx: &mut Ctx, pending: &mut Pending, window: &mut VecDeque<Duration>, all: bool) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < pending.len() {
        if all || pending[i].2.is_finished() {
            let (submit, x, t) = pending.swap_remove(i);
            match t.wait() {
                Ok((v, at)) => {
                    ctx.check(v == expected(x), format_args!("endurance: token {x} computed {v}"));
                    window.push_back(at.saturating_duration_since(submit));
                    if window.len() > 500 {
                        window.pop_front();
                    }
                }
                Err(e) => ctx.check(false, format_args!("endurance: token {x}: {e:?}")),
            }
            n += 1;
        } else {
            i += 1;
        }
    }
    n
}

fn expected(x: u64) -> u64 {
    if x % 2 == 0 {
        simple_inline(x)
    } else {
        string_job_inline(x) as u64
    }
}

pub fn run(ctx: &mut Ctx) {
    let (time_div, burst_div) = if ctx.quick { (20.0, 5) } else { (1.0, 1) };
    let cycles = 2;
    let planned: f64 = cycles as f64 * SCHEDULE.iter().map(|p| p.secs).sum::<f64>() / time_div;
    let op = Op::new("endurance").weight(Weight::Light);
    let mut pending: Pending = Vec::new();
    let mut window = VecDeque::new();
    let (mut submitted, mut resolved, mut x) = (0usize, 0usize, 0u64);
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs_f64(planned);
    let mut phase_end = t0;
    'outer: for c in 0..cycles {
        for p in &SCHEDULE {
            phase_end += Duration::from_secs_f64(p.secs / time_div);
            let mut bursts = 0;
            let before = submitted;
            while Instant::now() < phase_end.min(end) {
                for _ in 0..p.burst / burst_div {
                    let xi = x;
                    x += 1;
                    let t = GATE.spawn(&op, move || (expected(xi), Instant::now()));
                    pending.push((Instant::now(), xi, t));
                }
                submitted += p.burst / burst_div;
                bursts += 1;
                resolved += harvest(ctx, &mut pending, &mut window, false);
                let gap = Duration::from_secs_f64(ctx.rng.uniform(p.gap.0, p.gap.1) / time_div);
                let wake = (Instant::now() + gap).min(phase_end).min(end);
                std::thread::sleep(wake.saturating_duration_since(Instant::now()));
                resolved += harvest(ctx, &mut pending, &mut window, false);
            }
            let mut w: Vec<_> = window.iter().copied().collect();
            println!(
                "  cycle {c} {:<6} {bursts:>3} bursts, {:>5} tokens, p50 {} p95 {} (last {} samples)",
                p.name,
                submitted - before,
                ms(quantile(&mut w, 0.5)),
                ms(quantile(&mut w, 0.95)),
                w.len()
            );
            if Instant::now() >= end {
                break 'outer;
            }
        }
    }
    resolved += harvest(ctx, &mut pending, &mut window, true);
    let actual = t0.elapsed().as_secs_f64();
    let mut w: Vec<_> = window.into_iter().collect();
    println!(
        "  planned {planned:.2} s, actual {actual:.2} s (prototype: 60 s planned, 70 s actual); {submitted} submitted, {resolved} resolved; p50 {} p95 {}",
        ms(quantile(&mut w, 0.5)),
        ms(quantile(&mut w, 0.95))
    );
    ctx.check(
        resolved == submitted,
        format_args!("endurance: {resolved} of {submitted} resolved"),
    );
    ctx.check(
        actual <= planned * 1.1 + 0.5,
        format_args!("endurance: the duration was honoured ({actual:.2} s of {planned:.2} s)"),
    );
}
