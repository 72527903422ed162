//! Pools: the constructors of every peer, and [`ChanPool`], the textbook `std::thread` pool.

use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use tokengate::Coordinator;

/// Threads in every pool.
pub const WORKERS: usize = 2;

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

/// [`tokengate`]`(0)` with more builder settings: the cost variants of the report
/// (metrics off, a help policy, an admission bound) are measured beside the default.
pub fn tokengate_with(configure: impl FnOnce(tokengate::Builder) -> tokengate::Builder) -> Coordinator {
    configure(
        Coordinator::builder()
            .workers(WORKERS)
            .pin_workers(true)
            .reserve_for_light(0),
    )
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
