//! Model 12: metrics count every token once (`src/metrics/mod.rs`, "Counting each
//! token once"). A token's `cancel()` on another thread races the queue reference's
//! release by a worker (12a) or by a drain (12b). The cancel cannot count (no pool at
//! hand), so the queue reference must learn the winner's outcome from
//! `Meta::outcome`, announced before the claim; whichever side wins, the op's counts
//! balance and agree with what the token resolved to.
//!
//! Mutations (each applied alone, then reverted): MM1, `Header::abort` announcing
//! *after* its claim, is caught by 12a and 12b (*fatal*: "a released task had no
//! outcome", the loser read the cell between the claim and the announcement).
//! MM2, `Metrics::count` not counting a lost claim's `Cancelled`, is caught by 12a
//! and 12b (*assert*: the op does not balance).

// The models need `--cfg tokengate_loom` (README.md); without it this file is empty,
// so `cargo clippy --workspace --all-targets` builds.
#![cfg(tokengate_loom)]

use loom::thread;
use tokengate::{loom_api, TaskError};
use tokengate_loom_tests::model;

/// `[submitted, completed, panicked, cancelled, expired, shutdown, executed]`
fn expected(result: &Result<(), TaskError>) -> [u64; 7] {
    match result {
        Ok(()) => [1, 1, 0, 0, 0, 0, 1],
        Err(TaskError::Cancelled) => [1, 0, 0, 1, 0, 0, 0],
        Err(TaskError::Shutdown) => [1, 0, 0, 0, 0, 1, 0],
        Err(other) => panic!("unexpected outcome {other:?}"),
    }
}

/// Model 12a: cancel on a user thread vs. a worker popping and running the task.
#[test]
fn cancel_vs_run_counts_once() {
    model(|| {
        let metrics = std::sync::Arc::new(loom_api::Metrics::new());
        let (task, token) = metrics.task(|| ());
        let m = std::sync::Arc::clone(&metrics);
        let worker = thread::spawn(move || m.run(task));
        let cancelled = token.cancel();
        let ran = worker.join().unwrap();
        assert!(ran != cancelled, "exactly one side resolves the task");
        let result = token.wait();
        assert_eq!(metrics.counts(), expected(&result), "counts vs {result:?}");
    });
}

/// Model 12b: cancel on a user thread vs. a drain resolving it `Shutdown`.
#[test]
fn cancel_vs_drain_counts_once() {
    model(|| {
        let metrics = std::sync::Arc::new(loom_api::Metrics::new());
        let (task, token) = metrics.task(|| ());
        let m = std::sync::Arc::clone(&metrics);
        let drainer = thread::spawn(move || m.drain(task));
        token.cancel();
        drainer.join().unwrap();
        let result = token.wait();
        assert_eq!(metrics.counts(), expected(&result), "counts vs {result:?}");
    });
}
