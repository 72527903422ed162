//! Loom models for tokengate live in `tests/`; run them with the command in README.md.
//!
//! This library only holds helpers shared by the model files.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

/// Runs `f` under `loom::model` with loom's defaults, which read
/// `LOOM_MAX_PREEMPTIONS` (and the other `LOOM_*` variables) from the environment.
/// Prints the number of explored executions and the time taken (visible with
/// `--nocapture`), which is what README.md's table records.
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    model_bounded(None, f);
}

/// Like [`model`], but explores at most `max_preemptions` preemptions per execution
/// when that is fewer than the environment's bound: for models whose full bound
/// takes minutes, run in CI at a lower bound next to an `#[ignore]`d full run.
pub fn model_bounded<F>(max_preemptions: Option<usize>, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    quiet_task_panics();
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&executions);
    let start = std::time::Instant::now();
    let mut builder = loom::model::Builder::new();
    if let Some(max) = max_preemptions {
        builder.preemption_bound = Some(builder.preemption_bound.map_or(max, |env| env.min(max)));
    }
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    eprintln!(
        "[{}] {} executions in {:.1?}",
        std::thread::current().name().unwrap_or("model"),
        executions.load(Ordering::Relaxed),
        start.elapsed()
    );
}

/// Task closures in some models panic on purpose. The default hook would print a
/// message for each of the thousands of explored executions; this hook stays silent
/// for panics whose payload starts with `"model:"` and prints the rest as usual.
pub fn quiet_task_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str));
            if msg.is_some_and(|m| m.starts_with("model:")) {
                return;
            }
            default(info);
        }));
    });
}

/// A waker that counts its wakes and unparks the loom thread that created it.
///
/// The count is a plain `std` atomic: it is only an observation of the model, read
/// by the thread that owns the waker, and loom runs one thread at a time.
pub struct CountingWaker {
    wakes: AtomicUsize,
    thread: loom::thread::Thread,
}

impl CountingWaker {
    /// A counting waker for the current loom thread, and its `Waker`.
    pub fn new() -> (Arc<CountingWaker>, Waker) {
        let w = Arc::new(CountingWaker {
            wakes: AtomicUsize::new(0),
            thread: loom::thread::current(),
        });
        let waker = Waker::from(Arc::clone(&w));
        (w, waker)
    }

    /// How many times it was woken.
    pub fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// A plain counter for "how many times did this closure run", shared with task
/// closures. `std` atomic for the same reason as [`CountingWaker`]: it observes the
/// model and is read only after the threads that bump it are joined.
#[derive(Clone, Default)]
pub struct Runs(Arc<AtomicUsize>);

impl Runs {
    /// A new counter at 0.
    pub fn new() -> Self {
        Self::default()
    }
    /// Records one run.
    pub fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    /// Raises the counter to `v` if it is lower (a max-register).
    pub fn max(&self, v: usize) {
        self.0.fetch_max(v, Ordering::SeqCst);
    }
    /// Runs so far.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A queue of work items as a counter, for the protocol models (4b, 4f) that stand
/// in for the lanes: a push is a Release RMW (crossbeam publishes a pushed slot with
/// a Release store of its back index); a take is a CAS that succeeds only on a
/// non-zero count; a look is a plain Acquire load, which, like crossbeam's
/// `is_empty`, publishes nothing.
pub struct CountQueue(loom::sync::atomic::AtomicUsize);

impl CountQueue {
    /// An empty queue.
    pub fn new() -> CountQueue {
        CountQueue(loom::sync::atomic::AtomicUsize::new(0))
    }

    /// Queues one item.
    pub fn push(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    /// Takes one item; false if there was none.
    pub fn take(&self) -> bool {
        let mut n = self.0.load(Ordering::Acquire);
        while n > 0 {
            match self.0.compare_exchange(n, n - 1, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => return true,
                Err(actual) => n = actual,
            }
        }
        false
    }

    /// True if an item is queued (may be stale, as crossbeam's `is_empty`).
    pub fn look(&self) -> bool {
        self.0.load(Ordering::Acquire) > 0
    }
}

impl Default for CountQueue {
    fn default() -> Self {
        Self::new()
    }
}
