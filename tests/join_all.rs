//! `JoinAll`: many tokens awaited as one. Results come back in order whatever the
//! completion order; tokens finishing in spawn order wake the awaiting task once;
//! and the blocking `wait()` helps on a worker thread instead of deadlocking.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake};

use common::{pool, spin_until, Latch, LIMIT};
use tokengate::{join_all, JoinAll, Op, TaskError, Token};

/// A waker that counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

// With one worker, gated tasks finish strictly in spawn order. The first poll
// registers on the last token only, so the first n-1 completions wake nobody, and
// the last one wakes the batch exactly once. (With a waker per token, each earlier
// task's wake would have happened before the worker moved on to the next task, so
// the count would be n.)
#[test]
fn in_order_completions_wake_once() {
    const N: usize = 8;
    let gate = pool(1);
    let latches: Vec<Latch> = (0..N).map(|_| Latch::default()).collect();
    let done = Arc::new(AtomicUsize::new(0));
    let mut all: JoinAll<usize> = latches
        .iter()
        .enumerate()
        .map(|(i, latch)| {
            let (latch, done) = (latch.clone(), Arc::clone(&done));
            gate.spawn(&Op::new("gated"), move || {
                latch.wait();
                done.fetch_add(1, SeqCst);
                i
            })
        })
        .collect();
    let counter = Arc::new(CountingWaker::default());
    let waker = Arc::clone(&counter).into();
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut all).poll(&mut cx).is_pending());
    for latch in &latches[..N - 1] {
        latch.open();
    }
    spin_until("the first n-1 tasks to finish", || done.load(SeqCst) == N - 1);
    latches[N - 1].open();
    spin_until("the batch to be woken", || counter.0.load(SeqCst) > 0);
    match Pin::new(&mut all).poll(&mut cx) {
        Poll::Ready(results) => assert_eq!(results, (0..N).map(Ok).collect::<Vec<_>>()),
        Poll::Pending => panic!("woken by the last task, but not ready"),
    }
    assert_eq!(counter.0.load(SeqCst), 1, "expected one wake-up for the whole batch");
}

// Children spawned inside a task go to its worker's LIFO lane, so they run in
// reverse order: the worst case for JoinAll's one registration. Every result still
// comes back, in spawn order.
#[tokio::test]
async fn reverse_completions_resolve_in_order() {
    let gate = pool(1);
    let handle = gate.handle();
    let latch = Latch::default();
    let l = latch.clone();
    let children: Vec<Token<u32>> = gate
        .spawn(&Op::new("parent"), move || {
            (0..64u32)
                .map(|i| {
                    let l = l.clone();
                    handle.spawn(&Op::new("child"), move || {
                        l.wait();
                        i * 2
                    })
                })
                .collect()
        })
        .wait()
        .expect("parent");
    let mut all = join_all(children);
    assert!(futures::poll!(&mut all).is_pending());
    latch.open();
    let results = tokio::time::timeout(LIMIT, all).await.expect("JoinAll not woken");
    assert_eq!(results, (0..64u32).map(|i| Ok(i * 2)).collect::<Vec<_>>());
}

// Many tokens on a multi-thread runtime, finishing in any order: all values, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tokens_on_tokio() {
    let gate = pool(2);
    let op = Op::new("square");
    let all: JoinAll<u64> = (0..10_000u64).map(|i| gate.spawn(&op, move || i * i)).collect();
    assert_eq!(all.len(), 10_000);
    let results = tokio::time::timeout(LIMIT, all).await.expect("JoinAll not woken");
    assert!(results.into_iter().zip(0u64..).all(|(r, i)| r == Ok(i * i)));
}

// Errors stay in their slot: a panic, a cancellation and a shutdown, next to values.
#[test]
fn errors_keep_their_position() {
    let gate = pool(1);
    let latch = Latch::default();
    let l = latch.clone();
    let blocker = gate.spawn(&Op::new("blocker"), move || l.wait());
    let ok = gate.spawn(&Op::new("ok"), || 1);
    let boom = gate.spawn(&Op::new("boom"), || -> i32 { panic!("joined boom") });
    let cancelled = gate.spawn(&Op::new("cancelled"), || 3);
    assert!(cancelled.cancel());
    let all = join_all([ok, boom, cancelled]);
    latch.open();
    blocker.wait().expect("blocker");
    gate.shutdown();
    let late = join_all([gate.spawn(&Op::new("late"), || 4)]);
    let panicked = TaskError::Panicked {
        message: "joined boom".into(),
    };
    assert_eq!(all.wait(), vec![Ok(1), Err(panicked), Err(TaskError::Cancelled)]);
    assert_eq!(late.wait(), vec![Err(TaskError::Shutdown)]);
}

// An empty batch is finished at once, as a future and as a blocking call.
#[test]
fn empty_batch_resolves_at_once() {
    let all: JoinAll<u8> = join_all(Vec::new());
    assert!(all.is_empty() && all.is_finished());
    assert_eq!(futures::executor::block_on(all), Vec::new());
    assert_eq!(join_all(Vec::<Token<u8>>::new()).wait(), Vec::new());
}

// `wait()` inside a task, on the only worker, over children queued behind it: the
// worker runs the children while it waits instead of deadlocking.
#[test]
fn wait_inside_a_task_helps() {
    let gate = pool(1);
    let handle = gate.handle();
    let sum = gate.spawn(&Op::new("parent"), move || {
        let all = join_all((1..=100u64).map(|i| handle.spawn(&Op::new("child"), move || i)));
        all.wait().into_iter().map(Result::unwrap).sum::<u64>()
    });
    assert!(sum.wait_timeout(LIMIT), "parent deadlocked in JoinAll::wait");
    assert_eq!(sum.wait(), Ok(5050));
}

// Polling again after Ready panics instead of returning an empty or stale result.
#[test]
#[should_panic(expected = "JoinAll polled after it completed")]
fn polling_after_ready_panics() {
    let gate = pool(1);
    let mut all = join_all([gate.spawn(&Op::new("once"), || 1)]);
    spin_until("the task to finish", || all.is_finished());
    futures::executor::block_on(async {
        assert_eq!(futures::poll!(&mut all), Poll::Ready(vec![Ok(1)]));
        let _ = futures::poll!(&mut all);
    });
}
