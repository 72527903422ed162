//! concurrency: 8 threads released together by a barrier, each submitting one task of
//! one of six kinds (moderate, complex, heavy, log append, JSON write, 8 KiB blob).
//! Reports the submit spread, the wall time, the real parallelism (CPU time consumed /
//! wall time, from `getrusage`) beside the sum-of-durations ratio the prototype printed.
//! Then a sustained "release" mode: the 8 threads submit and wait in a loop for a set
//! duration (`--release-secs N`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use super::work::*;
use super::{ms, CpuMeter, Ctx};

const KINDS: [&str; 6] = ["moderate", "complex", "heavy", "log", "json", "blob"];

/// Submits one task of kind `k` and waits; returns whether its result checked out.
fn one(k: usize, i: u64, dir: &std::path::Path) -> bool {
    let d = dir.to_path_buf();
    match k {
        0 => moderate(i).wait() == Ok(moderate_inline(i)),
        1 => complex(i).wait() == Ok(complex_inline(i)),
        2 => heavy(i).wait() == Ok(heavy_inline(i)),
        3 => matches!(counted(log_append(d, i)).wait(), Ok(Ok(()))),
        4 => matches!(counted(json_write(d, i)).wait(), Ok(Ok(_))),
        _ => matches!(counted(blob_write(d, i % 64)).wait(), Ok(Ok(8192))),
    }
}

pub fn run(ctx: &mut Ctx) {
    let dir = match TempDir::new("concurrency") {
        Ok(d) => d,
        Err(e) => return ctx.check(false, format_args!("concurrency: temp dir: {e}")),
    };
    let threads = 8;
    let barrier = Barrier::new(threads);
    let meter = CpuMeter::start();
    // (submit instant, result instant, ok) per thread.
    let out: Vec<(Instant, Instant, bool)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (b, dir) = (&barrier, &dir.0);
                s.spawn(move || {
                    b.wait();
                    let submit = Instant::now();
                    let ok = one(t % KINDS.len(), t as u64, dir);
                    (submit, Instant::now(), ok)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let (_, par) = meter.stop();
    let first = out.iter().map(|o| o.0).min().unwrap();
    let last_submit = out.iter().map(|o| o.0).max().unwrap();
    let last_done = out.iter().map(|o| o.1).max().unwrap();
    let wall = last_done - first;
    let sum: Duration = out.iter().map(|o| o.1 - o.0).sum();
    for (t, o) in out.iter().enumerate() {
        println!(
            "  thread {t} {:<8} submit +{} took {}",
            KINDS[t % 6],
            ms(o.0 - first),
            ms(o.1 - o.0)
        );
        ctx.check(
            o.2,
            format_args!("concurrency: thread {t}'s {} task checked out", KINDS[t % 6]),
        );
    }
    println!(
        "  submit spread {}, wall {}, CPU/wall {par:.2} (real parallelism), sum of durations / wall {:.2} (the prototype's ratio)",
        ms(last_submit - first),
        ms(wall),
        sum.as_secs_f64() / wall.as_secs_f64()
    );
    release(ctx, &dir);
}

/// The sustained mode: 8 threads submit and wait in a loop until the duration is up.
fn release(ctx: &mut Ctx, dir: &TempDir) {
    let secs = ctx.release_secs.unwrap_or(ctx.size(5.0, 1.0));
    let span = Duration::from_secs_f64(secs);
    let done = AtomicU64::new(0);
    let bad = AtomicU64::new(0);
    let barrier = Barrier::new(8);
    let meter = CpuMeter::start();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let (b, done, bad, dir) = (&barrier, &done, &bad, &dir.0);
            s.spawn(move || {
                b.wait();
                let end = Instant::now() + span;
                let mut i = t;
                while Instant::now() < end {
                    if !one((i % 6) as usize, i, dir) {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 8;
                }
            });
        }
    });
    let (wall, par) = meter.stop();
    let (n, bad) = (done.into_inner(), bad.into_inner());
    println!(
        "  release mode {secs:.1} s: {n} tasks ({:.0}/s), {bad} bad, actual {:.2} s, CPU/wall {par:.2}",
        n as f64 / wall.as_secs_f64(),
        wall.as_secs_f64()
    );
    ctx.check(
        bad == 0 && n > 0,
        format_args!("concurrency release: {bad} of {n} tasks failed their check"),
    );
}
