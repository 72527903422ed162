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

/// Checks every task succeeded and folds the results into the scenario's checksum.
fn checksum<E: std::fmt::Debug>(results: Vec<Result<u64, E>>) -> u64 {
    results.into_iter().map(|r| r.expect("bridge task")).fold(0, mix)
}

/// tokengate: [`tokengate::join_all`] of the tokens (Medium op) inside `block_on`.
/// One waker registration for the whole batch (see `src/join.rs`).
pub fn bridge_tokengate(rt: &tokio::runtime::Runtime, gate: &Coordinator, iters: u64, n: u64) -> u64 {
    let op = Op::new("bridge");
    rt.block_on(async {
        let tokens = (0..n).map(|_| gate.spawn(&op, move || spin(iters)));
        checksum(tokengate::join_all(tokens).await)
    })
}

/// tokengate tokens awaited with `futures::future::join_all`, as the peers are: one
/// waker per token, so every completion wakes the runtime thread.
pub fn bridge_tokengate_futures(rt: &tokio::runtime::Runtime, gate: &Coordinator, iters: u64, n: u64) -> u64 {
    let op = Op::new("bridge");
    rt.block_on(async {
        let tokens = (0..n).map(|_| gate.spawn(&op, move || spin(iters)));
        checksum(join_all(tokens).await)
    })
}

/// tokio: `spawn_blocking` on the same runtime (`max_blocking_threads(2)`).
pub fn bridge_spawn_blocking(rt: &tokio::runtime::Runtime, iters: u64, n: u64) -> u64 {
    rt.block_on(async {
        let handles = (0..n).map(|_| tokio::task::spawn_blocking(move || spin(iters)));
        checksum(join_all(handles).await)
    })
}

/// rayon: `ThreadPool::spawn` + a tokio oneshot per task, `.await`ed.
pub fn bridge_rayon(rt: &tokio::runtime::Runtime, pool: &rayon::ThreadPool, iters: u64, n: u64) -> u64 {
    rt.block_on(async {
        checksum(
            join_all((0..n).map(|_| {
                let (tx, rx) = oneshot::channel();
                pool.spawn(move || {
                    let _ = tx.send(spin(iters));
                });
                rx
            }))
            .await,
        )
    })
}
