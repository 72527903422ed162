//! Async tests: a `Token` awaited from tokio (multi-thread and current-thread),
//! from `futures::executor::block_on`, polled by reference in `tokio::select!` loops,
//! moved between tasks, re-polled with new wakers, and joined in bulk.
//!
//! To test real wake-ups (not just already-finished tokens), tasks are held back
//! with a latch and the test first checks that the token is `Pending`, so its waker
//! is registered before the task can finish. Every await that a lost wake-up could
//! hang is bounded by `LIMIT`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::ArcWake;
use tokengate::{Coordinator, Handle, Op, TaskError, Token};

/// Upper bound for anything that should take milliseconds.
const LIMIT: Duration = Duration::from_secs(20);

fn pool(workers: usize) -> Coordinator {
    Coordinator::builder().workers(workers).build().expect("build")
}

/// Awaits `f` with a bound (tokio timer), so a lost wake-up fails instead of hanging.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("future did not complete within LIMIT")
}

/// Runs `f` on a helper thread and waits for it with a bound.
fn on_thread<R: Send + 'static>(what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Disconnected) => std::panic::resume_unwind(thread.join().unwrap_err()),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} did not finish within {LIMIT:?}"),
    }
}

/// A one-shot gate: tasks `wait()` (bounded) until the test `open()`s it.
#[derive(Clone, Default)]
struct Latch(Arc<(Mutex<bool>, Condvar)>);

impl Latch {
    fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }
    fn wait(&self) {
        let (lock, cv) = &*self.0;
        let guard = lock.lock().unwrap();
        let (open, _) = cv.wait_timeout_while(guard, LIMIT, |o| !*o).unwrap();
        assert!(*open, "latch was not opened within {LIMIT:?}");
    }
}

/// Spawns a task that returns `value` once `latch` opens.
fn gated<T: Send + 'static>(h: &Handle, latch: &Latch, value: T) -> Token<T> {
    let l = latch.clone();
    h.spawn(&Op::new("gated"), move || {
        l.wait();
        value
    })
}

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_unpin<T: Unpin>() {}
fn assert_static<T: 'static>() {}
fn assert_future<F: Future<Output = Result<O, TaskError>>, O>() {}

/// Compiles only if `T` is not `Sync`: with a `Sync` T, `some_item` is ambiguous.
trait AmbiguousIfSync<A> {
    fn some_item() {}
}
impl<T: ?Sized> AmbiguousIfSync<()> for T {}
impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}

// Static: Token<T> is Send + Unpin + 'static (and, as documented, not Sync) and a
// Future of Result<T, TaskError>; Coordinator and Handle can be shared across threads.
#[test]
fn token_is_send_unpin_static() {
    assert_send::<Token<u64>>();
    <Token<u64> as AmbiguousIfSync<_>>::some_item();
    assert_unpin::<Token<u64>>();
    assert_static::<Token<u64>>();
    assert_send::<Token<String>>();
    assert_unpin::<Token<Vec<Box<dyn Send>>>>();
    assert_static::<Token<String>>();
    assert_future::<Token<u64>, u64>();
    assert_future::<&mut Token<String>, String>();
    assert_send::<Coordinator>();
    assert_sync::<Coordinator>();
    assert_send::<Handle>();
    assert_sync::<Handle>();
}

// On a multi-thread runtime: tokens spawned directly as tokio tasks resolve, and a
// gated token awaited while Pending is woken when the task finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_on_tokio_multi_thread() {
    let gate = pool(2);
    let op = Op::new("double");
    let joins: Vec<_> = (0..1000u64)
        .map(|i| tokio::spawn(gate.spawn(&op, move || i * 2)))
        .collect();
    for (i, j) in (0u64..).zip(joins) {
        assert_eq!(bounded(j).await.unwrap(), Ok(i * 2));
    }
    let latch = Latch::default();
    let mut token = gated(&gate.handle(), &latch, "late");
    assert!(futures::poll!(&mut token).is_pending());
    let opener = latch.clone();
    std::thread::spawn(move || opener.open());
    assert_eq!(bounded(token).await, Ok("late"));
}

// On a current-thread runtime: awaiting a Pending token is woken from the worker
// thread; the default coordinator's tokens can be awaited too.
#[tokio::test]
async fn await_on_tokio_current_thread() {
    let gate = pool(2);
    let latch = Latch::default();
    let mut token = gated(&gate.handle(), &latch, 17u32);
    assert!(futures::poll!(&mut token).is_pending());
    latch.open();
    assert_eq!(bounded(&mut token).await, Ok(17));
    assert!(token.is_finished());
    let t = tokengate::spawn(&Op::new("default"), || "from the default pool");
    assert_eq!(bounded(t).await, Ok("from the default pool"));
}

// futures::executor::block_on awaits both a finished token and a Pending one that
// completes later.
#[test]
fn await_with_futures_block_on() {
    let gate = pool(2);
    let latch = Latch::default();
    let quick = gate.spawn(&Op::new("quick"), || 1);
    let mut slow = gated(&gate.handle(), &latch, 11);
    let result = on_thread("block_on", move || {
        futures::executor::block_on(async move {
            let a = quick.await;
            assert!(futures::poll!(&mut slow).is_pending());
            latch.open();
            (a, slow.await)
        })
    });
    assert_eq!(result, (Ok(1), Ok(11)));
}

/// A `select!` loop that polls `&mut token` alongside a channel fed from another
/// thread and a ticking interval; the task is released only after 20 messages, so
/// the token is polled (and its waker registered) again and again while pending.
async fn select_loop(gate: &Coordinator) {
    let latch = Latch::default();
    let mut token = gated(&gate.handle(), &latch, 42u64);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let feeder = std::thread::spawn(move || (0..20).all(|i| tx.send(i).is_ok()));
    let mut interval = tokio::time::interval(Duration::from_millis(1));
    let deadline = tokio::time::sleep(LIMIT);
    tokio::pin!(deadline);
    let (mut messages, mut iterations) = (0, 0);
    let result = loop {
        iterations += 1;
        tokio::select! {
            r = &mut token => break r,
            Some(_) = rx.recv() => {
                messages += 1;
                if messages == 20 {
                    latch.open();
                }
            }
            _ = interval.tick() => {}
            _ = &mut deadline => panic!("token did not resolve within {LIMIT:?}"),
        }
    };
    assert_eq!(result, Ok(42));
    assert_eq!(messages, 20, "the token resolved before its gate opened");
    assert!(iterations > 20);
    assert!(feeder.join().unwrap());
}

// select! polling `&mut token` by reference in a loop, on a multi-thread runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_loop_on_multi_thread() {
    select_loop(&pool(2)).await;
}

// select! polling `&mut token` by reference in a loop, on a current-thread runtime.
#[tokio::test]
async fn select_loop_on_current_thread() {
    select_loop(&pool(1)).await;
}

// A token polled Pending in one tokio task, then moved to another task that polls it
// Pending again, wakes the second task (the waker registration is replaced).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_moved_between_tasks() {
    let gate = pool(1);
    let latch = Latch::default();
    let mut token = gated(&gate.handle(), &latch, 5);
    assert!(futures::poll!(&mut token).is_pending());
    let (registered_tx, registered_rx) = tokio::sync::oneshot::channel();
    let second = tokio::spawn(async move {
        assert!(futures::poll!(&mut token).is_pending());
        registered_tx.send(()).unwrap();
        token.await
    });
    bounded(registered_rx).await.unwrap();
    latch.open();
    assert_eq!(bounded(second).await.unwrap(), Ok(5));
}

/// A waker that reports its name on a channel when woken.
struct NamedWaker(Mutex<mpsc::Sender<&'static str>>, &'static str);

impl ArcWake for NamedWaker {
    fn wake_by_ref(this: &Arc<Self>) {
        let _ = this.0.lock().unwrap().send(this.1);
    }
}

// Re-polling with a different waker: the latest waker is woken when the task
// finishes, and the token is Ready by then.
#[test]
fn repoll_with_new_waker_wakes_the_latest() {
    let gate = pool(1);
    let latch = Latch::default();
    let mut token = gated(&gate.handle(), &latch, 8);
    let (tx, rx) = mpsc::channel();
    let make = |name| futures::task::waker(Arc::new(NamedWaker(Mutex::new(tx.clone()), name)));
    let (first, second) = (make("first"), make("second"));
    let mut cx1 = Context::from_waker(&first);
    let mut cx2 = Context::from_waker(&second);
    assert!(Pin::new(&mut token).poll(&mut cx1).is_pending());
    assert!(Pin::new(&mut token).poll(&mut cx2).is_pending());
    latch.open();
    loop {
        let woken = rx.recv_timeout(LIMIT).expect("the latest waker was not woken");
        if woken == "second" {
            break;
        }
    }
    match Pin::new(&mut token).poll(&mut cx2) {
        Poll::Ready(r) => assert_eq!(r, Ok(8)),
        Poll::Pending => panic!("woken, but the token was not ready"),
    }
}

// join_all over 10k tokens, on tokio and under block_on, yields every value in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_all_many_tokens() {
    let gate = pool(2);
    let op = Op::new("triple");
    let tokens: Vec<_> = (0..10_000u64).map(|i| gate.spawn(&op, move || i * 3)).collect();
    let results = bounded(futures::future::join_all(tokens)).await;
    assert!(results.into_iter().zip(0u64..).all(|(r, i)| r == Ok(i * 3)));
    let tokens: Vec<_> = (0..10_000u64).map(|i| gate.spawn(&op, move || i + 1)).collect();
    let sum = on_thread("block_on(join_all)", move || {
        let results = futures::executor::block_on(futures::future::join_all(tokens));
        results.into_iter().map(Result::unwrap).sum::<u64>()
    });
    assert_eq!(sum, (1..=10_000u64).sum());
}

// Awaited errors: a panic gives Panicked; cancelling a queued token while an await
// is pending wakes it with Cancelled; a spawn after shutdown awaits Shutdown.
#[tokio::test]
async fn awaited_errors() {
    let gate = pool(1);
    let boom = gate.spawn(&Op::new("boom"), || -> u8 { panic!("async boom") });
    let expected = TaskError::Panicked {
        message: "async boom".into(),
    };
    assert_eq!(bounded(boom).await, Err(expected));
    let latch = Latch::default();
    let (started_tx, started_rx) = mpsc::channel();
    let l = latch.clone();
    let blocker = gate.spawn(&Op::new("blocker"), move || {
        started_tx.send(()).unwrap();
        l.wait();
    });
    started_rx.recv_timeout(LIMIT).expect("blocker did not start");
    let mut victim = gate.spawn(&Op::new("victim"), || 1);
    assert!(futures::poll!(&mut victim).is_pending());
    assert!(victim.cancel());
    assert_eq!(bounded(&mut victim).await, Err(TaskError::Cancelled));
    latch.open();
    assert_eq!(bounded(blocker).await, Ok(()));
    gate.shutdown();
    let late = gate.spawn(&Op::new("late"), || 1);
    assert_eq!(bounded(late).await, Err(TaskError::Shutdown));
}

// Polling a token again after it returned Ready panics (its result was moved out)
// instead of returning garbage.
#[test]
#[should_panic(expected = "polled after it completed")]
fn polling_after_ready_panics() {
    let gate = pool(1);
    let mut token = gate.spawn(&Op::new("once"), || 1);
    assert!(token.wait_timeout(LIMIT));
    futures::executor::block_on(async {
        assert_eq!(futures::poll!(&mut token), Poll::Ready(Ok(1)));
        let _ = futures::poll!(&mut token);
    });
}
