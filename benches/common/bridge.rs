//! Scenario 4, bridge: CPU tasks awaited from a current-thread tokio runtime.

use std::time::Duration;

use futures::future::join_all;
use tokengate::{Coordinator, Op};
use tokio::sync::oneshot;

use super::work::{mix, spin};

/// Tasks in the bridge scenario.
pub const BRIDGE_TASKS: u64 = 4000;
/// Work per bridge task.
pub const BRIDGE_TASK_TIME: Duration = Duration::from_micros(20);

/// tokengate: [`tokengate::join_all`] of the tokens (Medium op) inside `block_on`.
/// One waker registration for the whole batch (see `src/join.rs`).
pub fn bridge_tokengate(rt: &tokio::runtime::Runtime, gate: &Coordinator, iters: u64, n: u64) -> u64 {
    let op = Op::new("bridge");
    rt.block_on(async {
        tokengate::join_all((0..n).map(|_| gate.spawn(&op, move || spin(iters))))
            .await
            .into_iter()
            .map(|r| r.expect("bridge task"))
            .fold(0, mix)
    })
}

/// tokengate tokens awaited with `futures::future::join_all`, as the peers are: one
/// waker per token, so every completion wakes the runtime thread.
pub fn bridge_tokengate_futures(rt: &tokio::runtime::Runtime, gate: &Coordinator, iters: u64, n: u64) -> u64 {
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
