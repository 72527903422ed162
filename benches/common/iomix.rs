//! Scenario io-mix: CPU tasks of ~1 ms alongside storage tasks that block ~5 ms.
//!
//! 2,000 CPU tasks and 500 blocking I/O tasks are submitted interleaved (4 CPU, 1
//! I/O). The I/O either sleeps (a stand-in for device latency) or writes 8 KiB to a
//! file and `fsync`s it. Measured from the first submission: when the last CPU task
//! finished (`cpu`), when the last I/O task finished (`io`), and the most I/O tasks
//! that ran at once (`peak`). Each implementation also runs the CPU batch alone, so
//! `cpu / alone` shows what the I/O costs the CPU work. The ideal I/O time is
//! `io tasks x latency / limit` (limit 25, tier `Moderate`).
//!
//! Peers: tokengate (I/O on its storage lane), rayon (I/O blocks its pool), tokio
//! (`spawn_blocking` behind a `Semaphore` of 25), and `std::thread` pools (CPU on 2
//! threads, I/O on 25).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::Thread;
use std::time::{Duration, Instant};

use tokengate::{Coordinator, Op, StorageSpeed, Weight};

use super::pools::ChanPool;
use super::work::spin;

/// CPU tasks in the full run.
pub const IOMIX_CPU_TASKS: usize = 2000;
/// Work per CPU task.
pub const IOMIX_CPU_TIME: Duration = Duration::from_millis(1);
/// I/O tasks in the full run.
pub const IOMIX_IO_TASKS: usize = 500;
/// Blocking time of one I/O task in the sleep variant.
pub const IOMIX_IO_TIME: Duration = Duration::from_millis(5);
/// Concurrent I/O allowed: tier `Moderate`'s default limit.
pub const IOMIX_LIMIT: usize = StorageSpeed::Moderate.default_limit();

/// What one I/O task does.
#[derive(Clone, Debug)]
pub enum IoKind {
    /// `thread::sleep` for this long.
    Sleep(Duration),
    /// Write 8 KiB to a file in this directory and `fsync` it.
    Fsync(PathBuf),
}

impl IoKind {
    fn run(&self, i: usize) {
        match self {
            IoKind::Sleep(d) => std::thread::sleep(*d),
            IoKind::Fsync(dir) => fsync_write(dir, i),
        }
    }
}

fn fsync_write(dir: &Path, i: usize) {
    let mut f = std::fs::File::create(dir.join(format!("blob-{}.bin", i % 256))).expect("create");
    f.write_all(&[0xa5; 8192]).expect("write");
    f.sync_all().expect("fsync");
}

/// A fresh directory under the system temp dir for the fsync variant.
pub fn iomix_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tokengate-iomix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The mean latency of one I/O op, measured serially (the fsync variant's ideal).
pub fn io_latency(io: &IoKind, samples: usize) -> Duration {
    let t = Instant::now();
    for i in 0..samples {
        io.run(i);
    }
    t.elapsed() / samples as u32
}

/// One run's sizes.
#[derive(Clone, Debug)]
pub struct MixParams {
    pub cpu_tasks: usize,
    pub cpu_iters: u64,
    pub io_tasks: usize,
    pub io: IoKind,
}

/// One run's measurements.
#[derive(Clone, Copy, Debug)]
pub struct MixResult {
    /// First submission to the last CPU task's end.
    pub cpu: Duration,
    /// First submission to the last I/O task's end.
    pub io: Duration,
    /// Most I/O tasks running at once.
    pub peak: usize,
    /// Checksum of the CPU work.
    pub sum: u64,
}

/// Shared by the tasks of one run: end times, the I/O gauge, and a countdown that
/// unparks the submitter when every task is done.
struct Tracker {
    start: Instant,
    cpu_end: AtomicU64,
    io_end: AtomicU64,
    now: AtomicUsize,
    peak: AtomicUsize,
    left: AtomicUsize,
    sum: AtomicU64,
    main: Thread,
}

impl Tracker {
    fn new(tasks: usize) -> Arc<Tracker> {
        Arc::new(Tracker {
            start: Instant::now(),
            cpu_end: AtomicU64::new(0),
            io_end: AtomicU64::new(0),
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            left: AtomicUsize::new(tasks),
            sum: AtomicU64::new(0),
            main: std::thread::current(),
        })
    }

    fn done(&self, end: &AtomicU64) {
        end.fetch_max(self.start.elapsed().as_nanos() as u64, SeqCst);
        if self.left.fetch_sub(1, SeqCst) == 1 {
            self.main.unpark();
        }
    }

    fn wait(&self) -> MixResult {
        while self.left.load(SeqCst) > 0 {
            std::thread::park();
        }
        MixResult {
            cpu: Duration::from_nanos(self.cpu_end.load(SeqCst)),
            io: Duration::from_nanos(self.io_end.load(SeqCst)),
            peak: self.peak.load(SeqCst),
            sum: self.sum.load(SeqCst),
        }
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Submits the interleaved batch through `cpu` and `io`, then waits for all of it.
fn run_mix(p: &MixParams, mut cpu: impl FnMut(Job), mut io: impl FnMut(Job)) -> MixResult {
    let tracker = Tracker::new(p.cpu_tasks + p.io_tasks);
    let every = p.cpu_tasks.checked_div(p.io_tasks).unwrap_or(usize::MAX).max(1);
    let mut ios = 0;
    let submit_io = |io: &mut dyn FnMut(Job), i: usize| {
        let (t, kind) = (Arc::clone(&tracker), p.io.clone());
        io(Box::new(move || {
            let n = t.now.fetch_add(1, SeqCst) + 1;
            t.peak.fetch_max(n, SeqCst);
            kind.run(i);
            t.now.fetch_sub(1, SeqCst);
            t.done(&t.io_end);
        }));
    };
    for i in 0..p.cpu_tasks {
        let (t, iters) = (Arc::clone(&tracker), p.cpu_iters);
        cpu(Box::new(move || {
            t.sum.fetch_add(spin(iters), SeqCst);
            t.done(&t.cpu_end);
        }));
        if i % every == 0 && ios < p.io_tasks {
            submit_io(&mut io, ios);
            ios += 1;
        }
    }
    while ios < p.io_tasks {
        submit_io(&mut io, ios);
        ios += 1;
    }
    tracker.wait()
}

/// The expected checksum of the CPU batch.
pub fn iomix_expected(p: &MixParams) -> u64 {
    spin(p.cpu_iters).wrapping_mul(p.cpu_tasks as u64)
}

/// tokengate: CPU tasks on the workers, I/O as a `Moderate` storage op.
pub fn iomix_tokengate(gate: &Coordinator, p: &MixParams) -> MixResult {
    let cpu_op = Op::new("cpu").weight(Weight::Medium);
    let io_op = Op::new("io")
        .weight(Weight::Light)
        .storage_speed(StorageSpeed::Moderate);
    run_mix(
        p,
        |job| drop(gate.spawn(&cpu_op, job)),
        |job| drop(gate.spawn(&io_op, job)),
    )
}

/// rayon: everything on its pool, the blocking I/O included.
pub fn iomix_rayon(pool: &rayon::ThreadPool, p: &MixParams) -> MixResult {
    run_mix(p, |job| pool.spawn(job), |job| pool.spawn(job))
}

/// tokio: CPU tasks on the runtime's workers, I/O through `spawn_blocking` behind a
/// `Semaphore` of [`IOMIX_LIMIT`].
pub fn iomix_tokio(rt: &tokio::runtime::Runtime, p: &MixParams) -> MixResult {
    let sem = Arc::new(tokio::sync::Semaphore::new(IOMIX_LIMIT));
    run_mix(
        p,
        |job| drop(rt.spawn(async move { job() })),
        |job| {
            let sem = Arc::clone(&sem);
            drop(rt.spawn(async move {
                let permit = sem.acquire_owned().await.expect("semaphore");
                tokio::task::spawn_blocking(move || {
                    job();
                    drop(permit);
                })
                .await
                .expect("spawn_blocking");
            }));
        },
    )
}

/// `std::thread` pools: CPU on one of 2 threads, I/O on one of [`IOMIX_LIMIT`].
pub fn iomix_threads(cpu: &ChanPool, io: &ChanPool, p: &MixParams) -> MixResult {
    run_mix(p, |job| cpu.execute(job), |job| io.execute(job))
}
