//! Scenario 6, latency: light latency under heavy load.

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokengate::{Coordinator, Handle, Op, Weight};
use tokio::sync::oneshot;

use super::pools::WORKERS;
use super::work::{spin, Calib};

/// Work per heavy task of the load.
pub const LOAD_HEAVY_TIME: Duration = Duration::from_millis(5);
/// Heavy tasks kept outstanding by the load feeder (queued + running).
pub const LOAD_OUTSTANDING: usize = 3 * WORKERS;
/// Work per light task.
pub const LIGHT_TASK_TIME: Duration = Duration::from_micros(2);
/// Light task arrival rate.
pub const LIGHT_RATE_HZ: u64 = 1000;

/// Heavy background load: a feeder thread keeps `outstanding` heavy tasks submitted
/// from outside the pool, submitting a new one whenever the oldest finishes, until
/// stopped. Every peer gets its heavy work through the same path as its light work.
pub struct HeavyLoad {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl HeavyLoad {
    /// Starts the feeder. `submit` queues one heavy task; `wait` blocks on it.
    pub fn start<W: Send + 'static>(
        outstanding: usize,
        submit: impl Fn() -> W + Send + 'static,
        wait: impl Fn(W) + Send + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("heavy-feeder".into())
            .spawn(move || {
                let mut queue = VecDeque::with_capacity(outstanding);
                let mut done = 0u64;
                while !flag.load(Ordering::Relaxed) {
                    while queue.len() < outstanding {
                        queue.push_back(submit());
                    }
                    if let Some(w) = queue.pop_front() {
                        wait(w);
                        done += 1;
                    }
                }
                for w in queue {
                    wait(w);
                }
                done
            })
            .expect("feeder thread");
        HeavyLoad {
            stop,
            thread: Some(thread),
        }
    }

    /// Heavy load on tokengate: `Weight::Heavy` tasks of `iters` spin steps.
    pub fn tokengate(h: Handle, iters: u64) -> Self {
        let op = Op::new("load").weight(Weight::Heavy);
        HeavyLoad::start(
            LOAD_OUTSTANDING,
            move || h.spawn(&op, move || spin(iters)),
            |t| {
                t.wait().expect("load task");
            },
        )
    }

    /// The same load on rayon (`ThreadPool::spawn` + oneshot).
    pub fn rayon(pool: Arc<rayon::ThreadPool>, iters: u64) -> Self {
        HeavyLoad::start(
            LOAD_OUTSTANDING,
            move || {
                let (tx, rx) = oneshot::channel();
                pool.spawn(move || {
                    let _ = tx.send(spin(iters));
                });
                rx
            },
            |rx| {
                rx.blocking_recv().expect("load task");
            },
        )
    }

    /// Stops the feeder, waits for its outstanding tasks, and returns how many heavy
    /// tasks it saw finish while running.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map(|t| t.join().expect("feeder thread"))
            .unwrap_or(0)
    }
}

impl Drop for HeavyLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A light task: a little work, then the instant it finished.
#[inline]
pub fn light_task(iters: u64) -> Instant {
    black_box(spin(iters));
    Instant::now()
}

/// Open-loop light traffic: the calling thread submits one light task every
/// `1 / rate_hz` (on a fixed schedule, so a slow submission does not shift the next
/// ones) for `duration`. A collector thread waits for the results in order. Returns
/// each task's latency: from just before its submission to the end of its closure.
pub fn open_loop_latency<L: Send>(
    rate_hz: u64,
    duration: Duration,
    submit: impl Fn() -> L,
    wait: impl Fn(L) -> Instant + Send,
) -> Vec<Duration> {
    let count = (duration.as_secs_f64() * rate_hz as f64) as u64;
    let period = Duration::from_nanos(1_000_000_000 / rate_hz.max(1));
    let (tx, rx) = mpsc::channel::<(Instant, L)>();
    std::thread::scope(|s| {
        let collector = s.spawn(move || {
            rx.into_iter()
                .map(|(t0, l)| wait(l).saturating_duration_since(t0))
                .collect::<Vec<_>>()
        });
        let start = Instant::now();
        for k in 0..count {
            let due = start + period * k as u32;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let t0 = Instant::now();
            let l = submit();
            tx.send((t0, l)).expect("collector");
        }
        drop(tx);
        collector.join().expect("collector thread")
    })
}

/// One latency run's summary.
#[derive(Debug, Clone, Copy)]
pub struct LatencyRun {
    /// Median light latency, µs.
    pub p50_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// Maximum, µs.
    pub max_us: f64,
    /// Heavy load tasks completed per second meanwhile.
    pub heavy_per_s: f64,
}

/// The `q` quantile (nearest rank) of sorted `v`, in µs.
pub fn quantile_us(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e6
}

fn summarize(mut lat: Vec<Duration>, heavy_done: u64, elapsed: Duration) -> LatencyRun {
    lat.sort_unstable();
    LatencyRun {
        p50_us: quantile_us(&lat, 0.50),
        p99_us: quantile_us(&lat, 0.99),
        max_us: quantile_us(&lat, 1.0),
        heavy_per_s: heavy_done as f64 / elapsed.as_secs_f64(),
    }
}

/// How long the load runs before light traffic starts.
const LOAD_RAMP: Duration = Duration::from_millis(30);

/// Latency of Light tokens under Heavy load on `gate` (build it with the reservation
/// to test).
pub fn latency_tokengate(gate: &Coordinator, cal: Calib, duration: Duration) -> LatencyRun {
    let load = HeavyLoad::tokengate(gate.handle(), cal.iters(LOAD_HEAVY_TIME));
    std::thread::sleep(LOAD_RAMP);
    let light = Op::new("light").weight(Weight::Light);
    let li = cal.iters(LIGHT_TASK_TIME);
    let t = Instant::now();
    let lat = open_loop_latency(
        LIGHT_RATE_HZ,
        duration,
        || gate.spawn(&light, move || light_task(li)),
        |tok| tok.wait().expect("light task"),
    );
    let elapsed = t.elapsed();
    let done = load.stop();
    summarize(lat, done, elapsed + LOAD_RAMP)
}

/// The same mix on rayon, which has no priorities.
pub fn latency_rayon(pool: &Arc<rayon::ThreadPool>, cal: Calib, duration: Duration) -> LatencyRun {
    let load = HeavyLoad::rayon(Arc::clone(pool), cal.iters(LOAD_HEAVY_TIME));
    std::thread::sleep(LOAD_RAMP);
    let li = cal.iters(LIGHT_TASK_TIME);
    let t = Instant::now();
    let lat = open_loop_latency(
        LIGHT_RATE_HZ,
        duration,
        || {
            let (tx, rx) = oneshot::channel();
            pool.spawn(move || {
                let _ = tx.send(light_task(li));
            });
            rx
        },
        |rx| rx.blocking_recv().expect("light task"),
    );
    let elapsed = t.elapsed();
    let done = load.stop();
    summarize(lat, done, elapsed + LOAD_RAMP)
}
