//! [`JoinAll`]: many tokens awaited as one, at the cost of about one wake-up.
//!
//! `futures::future::join_all` over `n` tokens registers a waker on every token, so
//! each completion wakes the awaiting task. When the awaiting task is the only one
//! on its runtime (a handler awaiting a batch), that is `n` wake-ups of a parked
//! thread, and on a machine whose cores are all busy with workers each one also
//! preempts a worker: with 4000 tasks of 20 µs on 2 cores this costs about a third
//! of the wall time (`docs/benchmarks.md`, bridge).
//!
//! [`JoinAll`] registers **one** waker at a time, on the last token that is not yet
//! finished. Tasks spawned from outside the pool run roughly in spawn order, so that
//! token is one of the last to finish, and the batch is woken about once per worker
//! instead of once per task. Correctness does not depend on the order: the awaiting
//! task is woken when the registered token finishes, and then re-checks and
//! registers on the next unfinished one, so it never misses a completion and never
//! returns before every token has finished. In the worst order (the last token
//! finishes first, every time) it is woken once per token, like `join_all`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::TaskError;
use crate::token::Token;

/// Many tokens, awaited or waited on as one. Resolves to every result, in the order
/// the tokens were given. Made by [`join_all`] or by collecting tokens.
///
/// Like a [`Token`], it is both a future and a blocking handle ([`JoinAll::wait`]).
/// Dropping it drops the tokens: the tasks still run, and their results are
/// discarded.
///
/// ```
/// use tokengate::{Coordinator, JoinAll, Op};
/// let gate = Coordinator::builder().workers(2).build().unwrap();
/// let op = Op::new("square");
/// let all: JoinAll<u64> = (0..100u64).map(|i| gate.spawn(&op, move || i * i)).collect();
/// let squares = futures::executor::block_on(all);
/// assert_eq!(squares[9], Ok(81));
/// ```
#[must_use = "a JoinAll holds the only handles to its tasks' results"]
pub struct JoinAll<T> {
    tokens: Vec<Token<T>>,
    /// `tokens[unfinished..]` are known to have finished (a token never un-finishes).
    unfinished: usize,
    /// Set once the results have been handed out by `poll`.
    taken: bool,
}

/// Waits for every token, as one future or one blocking call (see [`JoinAll`]).
///
/// ```
/// use tokengate::{join_all, Coordinator, Op};
/// let gate = Coordinator::builder().workers(2).build().unwrap();
/// let op = Op::new("double");
/// let results = join_all((0..10).map(|i| gate.spawn(&op, move || 2 * i))).wait();
/// assert_eq!(results.into_iter().sum::<Result<i32, _>>(), Ok(90));
/// ```
pub fn join_all<T, I>(tokens: I) -> JoinAll<T>
where
    I: IntoIterator<Item = Token<T>>,
{
    tokens.into_iter().collect()
}

impl<T> FromIterator<Token<T>> for JoinAll<T> {
    fn from_iter<I: IntoIterator<Item = Token<T>>>(iter: I) -> Self {
        let tokens: Vec<Token<T>> = iter.into_iter().collect();
        JoinAll {
            unfinished: tokens.len(),
            tokens,
            taken: false,
        }
    }
}

impl<T> JoinAll<T> {
    /// How many tokens it holds.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True if it holds no tokens (it then resolves at once, to an empty `Vec`).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// True once every task has a result.
    pub fn is_finished(&self) -> bool {
        self.tokens[..self.unfinished].iter().all(Token::is_finished)
    }

    /// Blocks until every task has finished, then returns the results in order. On a
    /// worker thread it runs other queued work meanwhile, like [`Token::wait`].
    pub fn wait(mut self) -> Vec<Result<T, TaskError>> {
        self.assert_not_taken();
        self.results()
    }

    fn assert_not_taken(&self) {
        if self.taken {
            panic!("tokengate: JoinAll used after its results were taken by .await");
        }
    }

    fn results(&mut self) -> Vec<Result<T, TaskError>> {
        self.taken = true;
        std::mem::take(&mut self.tokens).into_iter().map(Token::wait).collect()
    }
}

impl<T> Future for JoinAll<T> {
    type Output = Vec<Result<T, TaskError>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.taken {
            panic!("tokengate: JoinAll polled after it completed");
        }
        while let Some(last) = self.unfinished.checked_sub(1) {
            // Registers only if it has not finished: the one waker in use (module docs).
            if !self.tokens[last].finished_or_register(cx.waker()) {
                return Poll::Pending;
            }
            self.unfinished = last;
        }
        Poll::Ready(self.results())
    }
}

impl<T> std::fmt::Debug for JoinAll<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinAll")
            .field("len", &self.tokens.len())
            .field("unfinished", &self.unfinished)
            .finish()
    }
}
