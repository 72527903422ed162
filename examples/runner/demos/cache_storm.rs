//! cache-storm: a sticky op with the anchors 101, 202, 303 and 404, in 6 waves of 4
//! (each wave: 8 tokens per anchor, all active at once). Checks that every anchor's
//! tokens ran on one worker while it was active (`tokengate::current_worker()` recorded
//! inside the tasks), and counts the re-placements between waves, after release.
//!
//! Each wave's tokens wait for a start flag that is raised once the whole wave is
//! spawned, so every anchor stays active from its first spawn to the end of the wave
//! (otherwise a token could finish, release its anchor, and the next one be placed
//! elsewhere, legitimately).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokengate::{current_worker, Op, Weight};

use super::{ms, Ctx, GATE};

const ANCHORS: [u64; 4] = [101, 202, 303, 404];

/// A little cache-friendly work: a 4 KiB table, mixed.
fn work(seed: u64) -> u64 {
    let mut table = [0u64; 512];
    for (i, v) in table.iter_mut().enumerate() {
        *v = seed.wrapping_mul(i as u64 + 1);
    }
    (0..20_000).fold(seed, |a, i| a ^ table[(a as usize + i) % 512].rotate_left(7))
}

pub fn run(ctx: &mut Ctx) {
    let ops: Vec<Op<_>> = ANCHORS
        .iter()
        .map(|a| {
            Op::new("cache_storm")
                .weight(Weight::Medium)
                .sticky_anchor(a.to_string())
        })
        .collect();
    let per = 8u64;
    let mut last: Vec<Option<usize>> = vec![None; ANCHORS.len()];
    let mut replaced = 0;
    let t0 = Instant::now();
    for wave in 0..6 {
        let start = Arc::new(AtomicBool::new(false));
        let tokens: Vec<Vec<_>> = ops
            .iter()
            .enumerate()
            .map(|(a, op)| {
                (0..per)
                    .map(|i| {
                        let start = start.clone();
                        GATE.spawn(op, move || {
                            while !start.load(Ordering::Acquire) {
                                std::thread::yield_now();
                            }
                            (current_worker(), work(a as u64 * 1000 + i))
                        })
                    })
                    .collect()
            })
            .collect();
        // While the wave is active, the pool reports one worker per anchor.
        let reported: Vec<Option<usize>> = ANCHORS.iter().map(|a| GATE.anchor_worker(&a.to_string())).collect();
        start.store(true, Ordering::Release);
        let mut line = Vec::new();
        for (a, ts) in tokens.into_iter().enumerate() {
            let mut workers = Vec::new();
            for (i, t) in ts.into_iter().enumerate() {
                match t.wait() {
                    Ok((w, v)) => {
                        ctx.check(v == work(a as u64 * 1000 + i as u64), "cache-storm: result");
                        workers.push(w);
                    }
                    Err(e) => ctx.check(false, format_args!("cache-storm: {e:?}")),
                }
            }
            let w = workers[0];
            ctx.check(
                w.is_some() && workers.iter().all(|x| *x == w),
                format_args!(
                    "cache-storm wave {wave}: anchor {} ran on one worker ({workers:?})",
                    ANCHORS[a]
                ),
            );
            if let Some(r) = reported[a] {
                ctx.check(
                    Some(r) == w,
                    format_args!("cache-storm: anchor {} reported on {r}, ran on {w:?}", ANCHORS[a]),
                );
            }
            if last[a].is_some() && last[a] != w {
                replaced += 1;
            }
            last[a] = w;
            line.push(format!("{}->w{}", ANCHORS[a], w.map_or("?".into(), |w| w.to_string())));
        }
        println!("  wave {wave}: {}", line.join(" "));
    }
    let stats = GATE.locality_stats();
    println!(
        "  {} tokens in {}; {replaced} re-placements between waves (after release an anchor may move); pinned anchor slots now {}",
        6 * 4 * per,
        ms(t0.elapsed()),
        stats.pinned_anchor_slots
    );
    ctx.check(
        stats.pinned_anchor_slots == 0,
        "cache-storm: every anchor released at the end",
    );
}
