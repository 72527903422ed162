//! Shared scenario code for the comparison benchmarks.
//!
//! Used by the criterion benches (`benches/scheduler.rs`, as `mod common;`) and by the
//! standalone report (`examples/compare.rs`, through `#[path]`). Every scenario is a
//! plain function that runs **one** repetition on pools built by the caller, and
//! returns a checksum (or the measurement itself) so results can be verified and the
//! work cannot be optimised away.
//!
//! Every pool has [`WORKERS`] (2) threads. The peers are:
//!
//! - `tokengate`: `Coordinator` with 2 pinned workers.
//! - `rayon`: a `rayon::ThreadPool` with 2 threads.
//! - `tokio`: a multi-thread runtime with 2 workers.
//! - `chanpool`: [`ChanPool`], 2 `std::thread`s pulling boxed jobs from one
//!   `std::sync::mpsc` channel (the textbook pool).
//! - `threadpool`: the `threadpool` crate with 2 threads.
//!
//! Results of pools without their own handles (rayon `spawn`, chanpool, threadpool)
//! travel through a per-task `tokio::sync::oneshot` channel, received with
//! `blocking_recv` from sync code or `.await`ed from async code.

// Each user of this module uses a different subset of it.
#![allow(dead_code)]

mod bridge;
mod burst;
mod fib;
mod heavy;
mod idle;
mod iomix;
mod latency;
mod pingpong;
mod pools;
mod work;

// The users reach everything through `use common::*;`, each for its own subset.
#[allow(unused_imports)]
pub use self::{bridge::*, burst::*, fib::*, heavy::*, idle::*, iomix::*, latency::*, pingpong::*, pools::*, work::*};
