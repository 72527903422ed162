//! Models 1-3: a token resolving while its owner blocks, awaits, or cancels it.
//!
//! These use a bare task (`loom_api::task`) and one "worker" loom thread that calls
//! `TaskRef::run`, exactly what a worker does with a task it found. No coordinator:
//! the state word, the result slot and the `AtomicWaker` are the whole protocol here,
//! so every interleaving of it is explored (bounded only by LOOM_MAX_PREEMPTIONS).

// The models need `--cfg tokengate_loom` (README.md); without it this file is empty,
// so `cargo clippy --workspace --all-targets` builds.
#![cfg(tokengate_loom)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use loom::thread;
use tokengate::loom_api;
use tokengate::TaskError;
use tokengate_loom_tests::{model, CountingWaker, Runs};

/// Model 1: the task completes on another thread while the owner is inside
/// `wait()` (spin round, waker registration, park). A lost wake-up parks the main
/// thread forever, which loom reports as a deadlock.
#[test]
fn wait_sees_completion() {
    model(|| {
        let runs = Runs::new();
        let r = runs.clone();
        let (task, token) = loom_api::task(move || {
            r.hit();
            42u32
        });
        let worker = thread::spawn(move || task.run());
        assert_eq!(token.wait(), Ok(42));
        assert!(worker.join().unwrap(), "the only runner must win the claim");
        assert_eq!(runs.get(), 1, "closure ran exactly once");
    });
}

/// Model 1b: the same, but the task is resolved by the shutdown path
/// (`abort(Shutdown)`) instead of running: that publish must wake the waiter too.
#[test]
fn wait_sees_abort() {
    model(|| {
        let runs = Runs::new();
        let r = runs.clone();
        let (task, token) = loom_api::task(move || r.hit());
        let worker = thread::spawn(move || task.abort_shutdown());
        assert_eq!(token.wait(), Err(TaskError::Shutdown));
        worker.join().unwrap();
        assert_eq!(runs.get(), 0, "an aborted closure never runs");
    });
}

/// Model 2a: the token awaited with loom's `block_on` (its waker parks and unparks
/// the main thread) while the task completes. A lost wake-up is a loom deadlock.
#[test]
fn await_sees_completion() {
    model(|| {
        let (task, token) = loom_api::task(|| 7u8);
        let worker = thread::spawn(move || task.run());
        assert_eq!(loom::future::block_on(token), Ok(7));
        assert!(worker.join().unwrap());
    });
}

/// Model 2b: manual polls, replacing the waker between them (as a `select!` loop
/// does) while the task completes. If the last poll returned `Pending`, the waker
/// registered by *that* poll must be woken (the main thread parks until it is; a
/// lost wake-up is a loom deadlock), and the poll after the wake must be `Ready`.
#[test]
fn await_with_waker_replaced() {
    model(|| {
        let runs = Runs::new();
        let r = runs.clone();
        let (task, mut token) = loom_api::task(move || {
            r.hit();
            5u16
        });
        let worker = thread::spawn(move || task.run());

        let (_a, waker_a) = CountingWaker::new();
        let (b, waker_b) = CountingWaker::new();
        let first = Pin::new(&mut token).poll(&mut Context::from_waker(&waker_a));
        let result = match first {
            Poll::Ready(v) => v,
            Poll::Pending => match Pin::new(&mut token).poll(&mut Context::from_waker(&waker_b)) {
                Poll::Ready(v) => v,
                Poll::Pending => {
                    // The awaiting side now relies on waker B alone.
                    while b.wakes() == 0 {
                        thread::park();
                    }
                    match Pin::new(&mut token).poll(&mut Context::from_waker(&waker_b)) {
                        Poll::Ready(v) => v,
                        Poll::Pending => panic!("woken, but the token was not ready"),
                    }
                }
            },
        };
        assert_eq!(result, Ok(5));
        assert!(worker.join().unwrap());
        assert_eq!(runs.get(), 1);
    });
}

/// Model 3: `cancel()` racing the worker's claim. Exactly one of them wins:
/// either the closure ran once and the token holds its value (cancel returned
/// false), or it never ran and the token is `Cancelled` (cancel returned true).
#[test]
fn cancel_races_start() {
    model(|| {
        let runs = Runs::new();
        let r = runs.clone();
        let (task, token) = loom_api::task(move || {
            r.hit();
            9i64
        });
        let worker = thread::spawn(move || task.run());
        let cancelled = token.cancel();
        let ran = worker.join().unwrap();
        assert_ne!(cancelled, ran, "exactly one claim wins");
        match token.wait() {
            Ok(v) => {
                assert_eq!(v, 9);
                assert!(ran && !cancelled);
                assert_eq!(runs.get(), 1);
            }
            Err(TaskError::Cancelled) => {
                assert!(cancelled && !ran);
                assert_eq!(runs.get(), 0);
            }
            Err(e) => panic!("unexpected resolution {e:?}"),
        }
    });
}
