//! Scenario 3, heavy: 16 CPU-bound tasks of ~25 ms.

use std::time::Duration;

use rayon::prelude::*;
use tokengate::{Coordinator, Op, Weight};

use super::work::{mix, spin};

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
