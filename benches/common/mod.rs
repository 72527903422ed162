//! Shared scenario code for the comparison benchmarks.
//!
//! Used by the criterion benches (`benches/scheduler.rs`, as `mod common;`) and by the
//! standalone report (`examples/compare.rs`, through `#[path]`). Every scenario is a
//! plain function that runs **one** repetition on pools built by the caller, and
//! returns a checksum (or the measurement itself) so results can be verified and the
//! work cannot be optimised away.
//!
//! Every pool has [`WORKERS`] (2) threads. The peers are:
//!
//! - `tokengate`: `Coordinator` with 2 pinned workers.
//! - `rayon`: a `rayon::ThreadPool` with 2 threads.
//! - `tokio`: a multi-thread runtime with 2 workers.
//! - `chanpool`: [`ChanPool`], 2 `std::thread`s pulling boxed jobs from one
//!   `std::sync::mpsc` channel (the textbook pool).
//! - `threadpool`: the `threadpool` crate with 2 threads.
//!
//! Results of pools without their own handles (rayon `spawn`, chanpool, threadpool)
//! travel through a per-task `tokio::sync::oneshot` channel, received with
//! `blocking_recv` from sync code or `.await`ed from async code.

// Each user of this module uses a different subset of it.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::future::join_all;
use rayon::prelude::*;
use tokengate::{Coordinator, Handle, Op, Weight};
use tokio::sync::oneshot;

/// Threads in every pool.
pub const WORKERS: usize = 2;

// ---------------------------------------------------------------------------------
// Pools
// ---------------------------------------------------------------------------------

/// A tokengate coordinator with [`WORKERS`] pinned workers and `reserve` workers
/// reserved for non-heavy work.
pub fn tokengate(reserve: usize) -> Coordinator {
    Coordinator::builder()
        .workers(WORKERS)
        .pin_workers(true)
        .reserve_for_light(reserve)
        .build()
        .expect("tokengate coordinator")
}

/// A rayon pool with [`WORKERS`] threads.
pub fn rayon_pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(WORKERS)
        .thread_name(|i| format!("rayon-{i}"))
        .build()
        .expect("rayon pool")
}

/// A tokio multi-thread runtime with [`WORKERS`] workers.
pub fn tokio_mt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("tokio-mt")
        .build()
        .expect("tokio runtime")
}

/// The bridge scenario's runtime: current-thread, with at most [`WORKERS`] blocking
/// threads (for the `spawn_blocking` peer).
pub fn tokio_current() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(WORKERS)
        .thread_name("tokio-ct")
        .build()
        .expect("tokio runtime")
}

/// The `threadpool` crate with [`WORKERS`] threads.
pub fn thread_pool() -> threadpool::ThreadPool {
    threadpool::ThreadPool::with_name("threadpool".into(), WORKERS)
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The textbook `std::thread` pool: one `mpsc` channel of boxed jobs, shared by the
/// worker threads behind a `Mutex`.
pub struct ChanPool {
    tx: Option<mpsc::Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl ChanPool {
    /// Starts `n` threads.
    pub fn new(n: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = (0..n)
            .map(|i| {
                let rx = Arc::clone(&rx);
                std::thread::Builder::new()
                    .name(format!("chanpool-{i}"))
                    .spawn(move || loop {
                        // The guard is a temporary: the lock is released before `job()` runs.
                        let job = rx.lock().expect("chanpool lock").recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    })
                    .expect("chanpool thread")
            })
            .collect();
        ChanPool { tx: Some(tx), threads }
    }

    /// Queues `f`.
    pub fn execute(&self, f: impl FnOnce() + Send + 'static) {
        if let Some(tx) = &self.tx {
            tx.send(Box::new(f)).expect("chanpool send");
        }
    }
}

impl Drop for ChanPool {
    fn drop(&mut self) {
        drop(self.tx.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------
// Work
// ---------------------------------------------------------------------------------

/// The body of a "tiny" task.
#[inline]
pub fn tiny(i: u64) -> u64 {
    black_box(i).wrapping_mul(2).wrapping_add(1)
}

/// The sum of `tiny(i)` for `i` in `0..n`.
pub fn tiny_sum(n: u64) -> u64 {
    n * n
}

/// CPU-bound busy work: `iters` dependent xorshift steps. Never optimised away.
#[inline(never)]
pub fn spin(iters: u64) -> u64 {
    let mut x = black_box(0x9E37_79B9_7F4A_7C15_u64);
    for _ in 0..iters {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x)
}

/// How many [`spin`] iterations make a given duration on this machine.
#[derive(Debug, Clone, Copy)]
pub struct Calib {
    /// Iterations per microsecond.
    pub iters_per_us: f64,
}

impl Calib {
    /// Times many short runs of [`spin`] and keeps the fastest: on a shared machine a
    /// run is often preempted or slowed by a busy hyperthread sibling, never sped up.
    pub fn measure() -> Self {
        const N: u64 = 200_000;
        black_box(spin(N));
        let best = (0..41)
            .map(|_| {
                let t = Instant::now();
                black_box(spin(N));
                t.elapsed()
            })
            .min()
            .unwrap_or(Duration::from_millis(1));
        Calib {
            iters_per_us: N as f64 / (best.as_secs_f64() * 1e6),
        }
    }

    /// Iterations for `d` of work.
    pub fn iters(&self, d: Duration) -> u64 {
        ((d.as_secs_f64() * 1e6 * self.iters_per_us) as u64).max(1)
    }
}

/// A cached calibration, measured on first use.
pub fn calib() -> Calib {
    static CALIB: OnceLock<Calib> = OnceLock::new();
    *CALIB.get_or_init(Calib::measure)
}

/// How many cores' worth of CPU `threads` spinning threads actually get over `window`,
/// judged by the spin rate against `cal`: 2.0 on an idle 2-core machine, less when
/// other processes compete for the CPUs.
pub fn effective_cores(cal: Calib, threads: usize, window: Duration) -> f64 {
    const CHUNK: u64 = 20_000;
    let start = Instant::now();
    let done: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while start.elapsed() < window {
                        black_box(spin(CHUNK));
                        n += CHUNK;
                    }
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    done as f64 / (cal.iters_per_us * start.elapsed().as_secs_f64() * 1e6)
}

/// Folds checksums without overflow.
pub fn mix(acc: u64, x: u64) -> u64 {
    acc.wrapping_add(x)
}

// ---------------------------------------------------------------------------------
// 1. burst: an outside thread spawns `n` tiny tasks, keeps every handle, waits all.
// ---------------------------------------------------------------------------------

/// Burst size of the scenario.
pub const BURST_TASKS: u64 = 200_000;

/// tokengate: `spawn` (Light op) per task, then `wait()` every token in order.
pub fn burst_tokengate(gate: &Coordinator, n: u64) -> u64 {
    let op = Op::new("burst").weight(Weight::Light);
    let tokens: Vec<_> = (0..n).map(|i| gate.spawn(&op, move || tiny(i))).collect();
    tokens.into_iter().map(|t| t.wait().expect("burst task")).fold(0, mix)
}

/// rayon: `ThreadPool::spawn` + oneshot per task.
pub fn burst_rayon(pool: &rayon::ThreadPool, n: u64) -> u64 {
    let rxs: Vec<_> = (0..n)
        .map(|i| {
            let (tx, rx) = oneshot::channel();
            pool.spawn(move || {
                let _ = tx.send(tiny(i));
            });
            rx
        })
        .collect();
    rxs.into_iter()
        .map(|rx| rx.blocking_recv().expect("burst task"))
        .fold(0, mix)
}

/// tokio: `Runtime::spawn` from the outside thread, then one `block_on` awaiting every
/// `JoinHandle` in order.
pub fn burst_tokio(rt: &tokio::runtime::Runtime, n: u64) -> u64 {
    let handles: Vec<_> = (0..n).map(|i| rt.spawn(async move { tiny(i) })).collect();
    rt.block_on(async move {
        let mut acc = 0;
        for h in handles {
            acc = mix(acc, h.await.expect("burst task"));
        }
        acc
    })
}

/// chanpool: boxed job per task + oneshot per task.
pub fn burst_chanpool(pool: &ChanPool, n: u64) -> u64 {
    let rxs: Vec<_> = (0..n)
        .map(|i| {
            let (tx, rx) = oneshot::channel();
            pool.execute(move || {
                let _ = tx.send(tiny(i));
            });
            rx
        })
        .collect();
    rxs.into_iter()
        .map(|rx| rx.blocking_recv().expect("burst task"))
        .fold(0, mix)
}

/// threadpool crate: `execute` + oneshot per task.
pub fn burst_threadpool(pool: &threadpool::ThreadPool, n: u64) -> u64 {
    let rxs: Vec<_> = (0..n)
        .map(|i| {
            let (tx, rx) = oneshot::channel();
            pool.execute(move || {
                let _ = tx.send(tiny(i));
            });
            rx
        })
        .collect();
    rxs.into_iter()
        .map(|rx| rx.blocking_recv().expect("burst task"))
        .fold(0, mix)
}

// ---------------------------------------------------------------------------------
// 2. pingpong: submit one task from outside, wait for it, repeat.
// ---------------------------------------------------------------------------------

/// Round trips per repetition.
pub const PINGPONG_ROUNDS: u64 = 10_000;

/// One tokengate round trip.
#[inline]
pub fn pingpong_tokengate_once(gate: &Coordinator, op: &Op, i: u64) -> u64 {
    gate.spawn(op, move || tiny(i)).wait().expect("pingpong task")
}

/// One rayon round trip (`install` from outside the pool).
#[inline]
pub fn pingpong_rayon_once(pool: &rayon::ThreadPool, i: u64) -> u64 {
    pool.install(move || tiny(i))
}

/// One tokio round trip (`block_on(spawn(..))` on the multi-thread runtime).
#[inline]
pub fn pingpong_tokio_once(rt: &tokio::runtime::Runtime, i: u64) -> u64 {
    rt.block_on(rt.spawn(async move { tiny(i) })).expect("pingpong task")
}

/// The op used by the tokengate pingpong (a Light op: the task is tiny).
pub fn pingpong_op() -> Op {
    Op::new("pingpong").weight(Weight::Light)
}

/// `n` sequential tokengate round trips.
pub fn pingpong_tokengate(gate: &Coordinator, n: u64) -> u64 {
    let op = pingpong_op();
    (0..n).map(|i| pingpong_tokengate_once(gate, &op, i)).fold(0, mix)
}

/// `n` sequential rayon round trips.
pub fn pingpong_rayon(pool: &rayon::ThreadPool, n: u64) -> u64 {
    (0..n).map(|i| pingpong_rayon_once(pool, i)).fold(0, mix)
}

/// `n` sequential tokio round trips.
pub fn pingpong_tokio(rt: &tokio::runtime::Runtime, n: u64) -> u64 {
    (0..n).map(|i| pingpong_tokio_once(rt, i)).fold(0, mix)
}

// ---------------------------------------------------------------------------------
// 3. heavy: 16 CPU-bound tasks of ~25 ms.
// ---------------------------------------------------------------------------------

/// Tasks in the heavy scenario.
pub const HEAVY_TASKS: u64 = 16;
/// Work per heavy task.
pub const HEAVY_TASK_TIME: Duration = Duration::from_millis(25);

/// The heavy tasks one after another on the calling thread.
pub fn heavy_serial(iters: u64, n: u64) -> u64 {
    (0..n).map(|_| spin(iters)).fold(0, mix)
}

/// tokengate: one `Weight::Heavy` task each, wait all.
pub fn heavy_tokengate(gate: &Coordinator, iters: u64, n: u64) -> u64 {
    let op = Op::new("heavy").weight(Weight::Heavy);
    let tokens: Vec<_> = (0..n).map(|_| gate.spawn(&op, move || spin(iters))).collect();
    tokens.into_iter().map(|t| t.wait().expect("heavy task")).fold(0, mix)
}

/// rayon: `par_iter` over the tasks inside `install`.
pub fn heavy_rayon(pool: &rayon::ThreadPool, iters: u64, n: u64) -> u64 {
    let items: Vec<u64> = (0..n).collect();
    pool.install(|| items.par_iter().map(|_| spin(iters)).reduce(|| 0, u64::wrapping_add))
}

// ---------------------------------------------------------------------------------
// 4. bridge: CPU tasks awaited from a current-thread tokio runtime.
// ---------------------------------------------------------------------------------

/// Tasks in the bridge scenario.
pub const BRIDGE_TASKS: u64 = 4000;
/// Work per bridge task.
pub const BRIDGE_TASK_TIME: Duration = Duration::from_micros(20);

/// tokengate: `join_all` of the tokens (Medium op) inside `block_on`.
pub fn bridge_tokengate(rt: &tokio::runtime::Runtime, gate: &Coordinator, iters: u64, n: u64) -> u64 {
    let op = Op::new("bridge");
    rt.block_on(async {
        join_all((0..n).map(|_| gate.spawn(&op, move || spin(iters))))
            .await
            .into_iter()
            .map(|r| r.expect("bridge task"))
            .fold(0, mix)
    })
}

/// tokio: `spawn_blocking` on the same runtime (`max_blocking_threads(2)`).
pub fn bridge_spawn_blocking(rt: &tokio::runtime::Runtime, iters: u64, n: u64) -> u64 {
    rt.block_on(async {
        join_all((0..n).map(|_| tokio::task::spawn_blocking(move || spin(iters))))
            .await
            .into_iter()
            .map(|r| r.expect("bridge task"))
            .fold(0, mix)
    })
}

/// rayon: `ThreadPool::spawn` + a tokio oneshot per task, `.await`ed.
pub fn bridge_rayon(rt: &tokio::runtime::Runtime, pool: &rayon::ThreadPool, iters: u64, n: u64) -> u64 {
    rt.block_on(async {
        join_all((0..n).map(|_| {
            let (tx, rx) = oneshot::channel();
            pool.spawn(move || {
                let _ = tx.send(spin(iters));
            });
            rx
        }))
        .await
        .into_iter()
        .map(|r| r.expect("bridge task"))
        .fold(0, mix)
    })
}

// ---------------------------------------------------------------------------------
// 5. fib: a spawn per call, each waiting on its child.
// ---------------------------------------------------------------------------------

/// The fib argument.
pub const FIB_N: u64 = 25;

/// fib(n), sequentially (the checksum).
pub fn fib_serial(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib_serial(n - 1) + fib_serial(n - 2)
    }
}

fn fib_op() -> &'static Op {
    static OP: OnceLock<Op> = OnceLock::new();
    OP.get_or_init(|| Op::new("fib").weight(Weight::Light))
}

fn fib_tg(h: &Handle, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let child = h.clone();
    let a = h.spawn(fib_op(), move || fib_tg(&child, n - 1));
    let b = fib_tg(h, n - 2);
    a.wait().expect("fib task") + b
}

/// tokengate: the root is spawned from outside; each call spawns its `n - 1` child
/// through a `Handle`, computes `n - 2` inline, and waits on the child.
pub fn fib_tokengate(gate: &Coordinator, n: u64) -> u64 {
    let h = gate.handle();
    gate.spawn(fib_op(), move || fib_tg(&h, n)).wait().expect("fib root")
}

fn fib_tg_free(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let a = tokengate::spawn(fib_op(), move || fib_tg_free(n - 1));
    let b = fib_tg_free(n - 2);
    a.wait().expect("fib task") + b
}

/// The same recursion through the free function `tokengate::spawn`, which inside a
/// task spawns on that task's coordinator: no `Handle` is cloned per call.
pub fn fib_tokengate_free(gate: &Coordinator, n: u64) -> u64 {
    gate.spawn(fib_op(), move || fib_tg_free(n)).wait().expect("fib root")
}

fn fib_join(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = rayon::join(|| fib_join(n - 1), || fib_join(n - 2));
    a + b
}

/// rayon: `rayon::join` per call, inside `install`.
pub fn fib_rayon(pool: &rayon::ThreadPool, n: u64) -> u64 {
    pool.install(|| fib_join(n))
}

// ---------------------------------------------------------------------------------
// 6. light latency under heavy load.
// ---------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------
// 7. idle: CPU used by an idle pool.
// ---------------------------------------------------------------------------------

/// User + system CPU time of the whole process so far (`getrusage(RUSAGE_SELF)`).
pub fn process_cpu() -> Duration {
    // SAFETY: `rusage` is plain old data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage failed");
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Process CPU used while the calling thread sleeps for `window`, as % of one core.
pub fn idle_cpu_percent(window: Duration) -> f64 {
    let c0 = process_cpu();
    let t0 = Instant::now();
    std::thread::sleep(window);
    let used = process_cpu().saturating_sub(c0);
    100.0 * used.as_secs_f64() / t0.elapsed().as_secs_f64()
}

/// Which pool an idle measurement builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdlePeer {
    /// No pool at all: the measurement's own noise floor.
    Nothing,
    /// A tokengate coordinator.
    Tokengate,
    /// A rayon pool.
    Rayon,
    /// A tokio multi-thread runtime.
    Tokio,
}

/// Builds the pool, runs a few tasks on it so every worker ran, waits for them,
/// then measures [`idle_cpu_percent`] over `window` and drops the pool.
pub fn idle(peer: IdlePeer, window: Duration) -> f64 {
    match peer {
        IdlePeer::Nothing => idle_cpu_percent(window),
        IdlePeer::Tokengate => {
            let gate = tokengate(0);
            let op = Op::new("warm");
            let tokens: Vec<_> = (0..8u64).map(|i| gate.spawn(&op, move || spin(1000 + i))).collect();
            for t in tokens {
                t.wait().expect("warm task");
            }
            let pct = idle_cpu_percent(window);
            gate.shutdown();
            pct
        }
        IdlePeer::Rayon => {
            let pool = rayon_pool();
            let items: Vec<u64> = (0..8).collect();
            pool.install(|| items.par_iter().map(|&i| spin(1000 + i)).sum::<u64>());
            idle_cpu_percent(window)
        }
        IdlePeer::Tokio => {
            let rt = tokio_mt();
            let hs: Vec<_> = (0..8u64).map(|i| rt.spawn(async move { spin(1000 + i) })).collect();
            rt.block_on(async {
                for h in hs {
                    h.await.expect("warm task");
                }
            });
            idle_cpu_percent(window)
        }
    }
}
