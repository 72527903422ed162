//! Scenario 1, burst: an outside thread spawns `n` tiny tasks, keeps every handle, waits all.

use tokengate::{Coordinator, Op, Weight};
use tokio::sync::oneshot;

use super::pools::ChanPool;
use super::work::{mix, tiny};

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
    burst_oneshot(pool, n)
}

/// A pool without result handles. Generic, so each pool receives the closure itself,
/// with no extra boxing.
trait Submit {
    fn submit<F: FnOnce() + Send + 'static>(&self, f: F);
}

impl Submit for rayon::ThreadPool {
    fn submit<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.spawn(f);
    }
}

impl Submit for ChanPool {
    fn submit<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.execute(f);
    }
}

impl Submit for threadpool::ThreadPool {
    fn submit<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.execute(f);
    }
}

/// The burst for a pool without result handles: one job per task, each sending its
/// result through its own oneshot, then receive them all in order.
fn burst_oneshot(pool: &impl Submit, n: u64) -> u64 {
    let rxs: Vec<_> = (0..n)
        .map(|i| {
            let (tx, rx) = oneshot::channel();
            pool.submit(move || {
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
    burst_oneshot(pool, n)
}

/// threadpool crate: `execute` + oneshot per task.
pub fn burst_threadpool(pool: &threadpool::ThreadPool, n: u64) -> u64 {
    burst_oneshot(pool, n)
}
