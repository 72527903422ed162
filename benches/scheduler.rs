//! Criterion benches: tokengate against rayon, tokio, a `std::thread` channel pool and
//! the `threadpool` crate, 2 threads per pool. One group per scenario; the scenario
//! code is shared with `examples/compare.rs` (in `benches/common/mod.rs`).
//!
//! ```text
//! cargo bench --bench scheduler              # everything, ~2 min
//! cargo bench --bench scheduler -- burst     # one group
//! ```
//!
//! Groups: `burst`, `pingpong`, `heavy`, `bridge`, `fib`, `latency`, `io-mix` (whole
//! mixed batch, sleep variant; the per-batch times are in the compare report). The `latency`
//! group here is closed-loop (submit one light task, wait, repeat, under heavy load);
//! the open-loop 1 kHz p50/p99/max version and the `idle` CPU measurement are not
//! time-per-iteration metrics and live in `examples/compare.rs` only.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput};
use tokengate::{Op, Weight};

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// A group of slow iterations: flat sampling, 10 samples.
fn slow_group<'a>(c: &'a mut Criterion, name: &str, measure: Duration) -> Group<'a> {
    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(measure);
    g
}

fn burst(c: &mut Criterion) {
    let n = BURST_TASKS;
    let e = tiny_sum(n);
    let mut g = slow_group(c, "burst", Duration::from_secs(2));
    g.throughput(Throughput::Elements(n));
    {
        let gate = tokengate(0);
        g.bench_function("tokengate", |b| b.iter(|| assert_eq!(burst_tokengate(&gate, n), e)));
        gate.shutdown();
    }
    {
        let pool = rayon_pool();
        g.bench_function("rayon", |b| b.iter(|| assert_eq!(burst_rayon(&pool, n), e)));
    }
    {
        let rt = tokio_mt();
        g.bench_function("tokio", |b| b.iter(|| assert_eq!(burst_tokio(&rt, n), e)));
    }
    {
        let pool = ChanPool::new(WORKERS);
        g.bench_function("chanpool", |b| b.iter(|| assert_eq!(burst_chanpool(&pool, n), e)));
    }
    {
        let pool = thread_pool();
        g.bench_function("threadpool", |b| b.iter(|| assert_eq!(burst_threadpool(&pool, n), e)));
    }
    g.finish();
}

fn pingpong(c: &mut Criterion) {
    let mut g = c.benchmark_group("pingpong");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    {
        let gate = tokengate(0);
        let op = pingpong_op();
        g.bench_function("tokengate", |b| b.iter(|| pingpong_tokengate_once(&gate, &op, 7)));
        gate.shutdown();
    }
    {
        let pool = rayon_pool();
        g.bench_function("rayon", |b| b.iter(|| pingpong_rayon_once(&pool, 7)));
    }
    {
        let rt = tokio_mt();
        g.bench_function("tokio", |b| b.iter(|| pingpong_tokio_once(&rt, 7)));
    }
    g.finish();
}

fn heavy(c: &mut Criterion) {
    let iters = calib().iters(HEAVY_TASK_TIME);
    let n = HEAVY_TASKS;
    let e = heavy_serial(iters, 1).wrapping_mul(n);
    let mut g = slow_group(c, "heavy", Duration::from_secs(3));
    {
        let gate = tokengate(0);
        g.bench_function("tokengate", |b| {
            b.iter(|| assert_eq!(heavy_tokengate(&gate, iters, n), e))
        });
        gate.shutdown();
    }
    {
        let pool = rayon_pool();
        g.bench_function("rayon", |b| b.iter(|| assert_eq!(heavy_rayon(&pool, iters, n), e)));
    }
    g.bench_function("serial", |b| b.iter(|| assert_eq!(heavy_serial(iters, n), e)));
    g.finish();
}

fn bridge(c: &mut Criterion) {
    let iters = calib().iters(BRIDGE_TASK_TIME);
    let n = BRIDGE_TASKS;
    let e = heavy_serial(iters, 1).wrapping_mul(n);
    let rt = tokio_current();
    let mut g = slow_group(c, "bridge", Duration::from_secs(2));
    {
        let gate = tokengate(0);
        g.bench_function("tokengate", |b| {
            b.iter(|| assert_eq!(bridge_tokengate(&rt, &gate, iters, n), e))
        });
        g.bench_function("tokengate_futures_join_all", |b| {
            b.iter(|| assert_eq!(bridge_tokengate_futures(&rt, &gate, iters, n), e))
        });
        gate.shutdown();
    }
    g.bench_function("tokio_spawn_blocking", |b| {
        b.iter(|| assert_eq!(bridge_spawn_blocking(&rt, iters, n), e))
    });
    {
        let pool = rayon_pool();
        g.bench_function("rayon_oneshot", |b| {
            b.iter(|| assert_eq!(bridge_rayon(&rt, &pool, iters, n), e))
        });
    }
    g.bench_function("serial", |b| b.iter(|| assert_eq!(heavy_serial(iters, n), e)));
    g.finish();
}

fn fib(c: &mut Criterion) {
    let e = fib_serial(FIB_N);
    let mut g = slow_group(c, "fib", Duration::from_secs(2));
    {
        let gate = tokengate(0);
        g.bench_function("tokengate_join", |b| {
            b.iter(|| assert_eq!(fib_tokengate_join(&gate, FIB_N), e))
        });
        g.bench_function("tokengate_handle_spawn", |b| {
            b.iter(|| assert_eq!(fib_tokengate(&gate, FIB_N), e))
        });
        g.bench_function("tokengate_free_spawn", |b| {
            b.iter(|| assert_eq!(fib_tokengate_free(&gate, FIB_N), e))
        });
        g.bench_function("tokengate_guard_attribute", |b| {
            b.iter(|| assert_eq!(fib_tokengate_guard(&gate, FIB_N), e))
        });
        gate.shutdown();
    }
    {
        let pool = rayon_pool();
        g.bench_function("rayon_join", |b| b.iter(|| assert_eq!(fib_rayon(&pool, FIB_N), e)));
    }
    g.finish();
}

/// Closed-loop light round trips under continuous heavy load: each iteration submits
/// one light task and waits for it. The load runs for the whole bench function.
fn latency(c: &mut Criterion) {
    let cal = calib();
    let heavy_iters = cal.iters(LOAD_HEAVY_TIME);
    let li = cal.iters(LIGHT_TASK_TIME);
    let mut g = slow_group(c, "latency", Duration::from_secs(3));
    let light = Op::new("light").weight(Weight::Light);
    for (name, reserve) in [("tokengate_reserve1", 1), ("tokengate_reserve0", 0)] {
        let gate = tokengate(reserve);
        let load = HeavyLoad::tokengate(gate.handle(), heavy_iters);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    gate.spawn(&light, move || light_task(li)).wait().expect("light task");
                }
                t.elapsed()
            })
        });
        load.stop();
        gate.shutdown();
    }
    {
        let pool = Arc::new(rayon_pool());
        let load = HeavyLoad::rayon(Arc::clone(&pool), heavy_iters);
        g.bench_function("rayon", |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    pool.install(|| light_task(li));
                }
                t.elapsed()
            })
        });
        load.stop();
    }
    g.finish();
}

/// io-mix (`benches/common/iomix.rs`): the time of the whole mixed batch, sleep variant.
fn io_mix(c: &mut Criterion) {
    let cal = calib();
    let p = MixParams {
        cpu_tasks: IOMIX_CPU_TASKS,
        cpu_iters: cal.iters(IOMIX_CPU_TIME),
        io_tasks: IOMIX_IO_TASKS,
        io: IoKind::Sleep(IOMIX_IO_TIME),
    };
    let e = iomix_expected(&p);
    let mut g = slow_group(c, "io-mix", Duration::from_secs(10));
    {
        let gate = tokengate(0);
        g.bench_function("tokengate", |b| {
            b.iter(|| assert_eq!(iomix_tokengate(&gate, &p).sum, e))
        });
        gate.shutdown();
    }
    {
        let pool = rayon_pool();
        g.bench_function("rayon", |b| b.iter(|| assert_eq!(iomix_rayon(&pool, &p).sum, e)));
    }
    {
        let rt = tokio_mt();
        g.bench_function("tokio", |b| b.iter(|| assert_eq!(iomix_tokio(&rt, &p).sum, e)));
    }
    {
        let (cpu, io) = (ChanPool::new(WORKERS), ChanPool::new(IOMIX_LIMIT));
        g.bench_function("std_threads", |b| {
            b.iter(|| assert_eq!(iomix_threads(&cpu, &io, &p).sum, e))
        });
    }
    g.finish();
}

criterion_group!(benches, burst, pingpong, heavy, bridge, fib, latency, io_mix);
criterion_main!(benches);
