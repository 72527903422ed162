//! Hot-path probe for instruction counting: runs one operation `N` times on a
//! one-worker pool, from inside a task, so no other thread takes part and the count
//! is repeatable under `valgrind --tool=callgrind`.
//!
//! ```text
//! cargo build --release --example hotpath
//! scripts/callgrind.sh            # instructions per operation, for every mode
//! target/release/examples/hotpath spawn 100000
//! ```
//!
//! Modes:
//! - `spawn`: `tokengate::spawn` a trivial closure and `wait()` it (the worker pops
//!   its own child: the waiter's shortcut);
//! - `handle`: the same through a `Handle` cloned into every task;
//! - `join`: `tokengate::join` of two trivial closures;
//! - `fib`: `fib(N)` through `join`, one call per node;
//! - `fibtok`: `fib(N)` with a token per call through `tokengate::spawn` (the
//!   `n - 1` child is spawned, `n - 2` computed inline, then the child waited on);
//! - `fibhandle`: the same through a `Handle` cloned into every child (the natural
//!   user code; issue #15 wants it within 1.2x of `fibtok`);
//! - `rayonjoin`, `rayonfib`: `join` and `fib` through `rayon::join`, run the same
//!   way inside a one-thread rayon pool, as the peer's count.
//!
//! `scripts/callgrind.sh` counts only inside `probe` and divides by `N`.

use std::hint::black_box;
use std::sync::LazyLock;

use tokengate::{Coordinator, Handle, Op, Weight};

static OP: LazyLock<Op> = LazyLock::new(|| Op::new("hotpath"));
static FIB_OP: LazyLock<Op> = LazyLock::new(|| Op::new("fib").weight(Weight::Light));

fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = tokengate::join(|| fib(n - 1), || fib(n - 2));
    a + b
}

fn fib_tok(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let a = tokengate::spawn(&FIB_OP, move || fib_tok(n - 1));
    let b = fib_tok(n - 2);
    a.wait().unwrap() + b
}

fn fib_handle(h: &Handle, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let child = h.clone();
    let a = h.spawn(&FIB_OP, move || fib_handle(&child, n - 1));
    let b = fib_handle(h, n - 2);
    a.wait().unwrap() + b
}

fn rayon_fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = rayon::join(|| rayon_fib(n - 1), || rayon_fib(n - 2));
    a + b
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "spawn".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    // `TOKENGATE_METRICS=0` measures with recording off (`Builder::metrics(false)`).
    let metrics = std::env::var("TOKENGATE_METRICS").map_or(true, |v| v != "0");
    let gate = Coordinator::builder()
        .workers(1)
        .metrics(metrics)
        .build()
        .expect("pool");
    let handle = gate.handle();
    let sum = if mode.starts_with("rayon") {
        let rayon = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("rayon pool");
        rayon.install(|| probe(&mode, n, &handle))
    } else {
        gate.spawn(&OP, move || probe(&mode, n, &handle)).wait().unwrap()
    };
    black_box(sum);
    gate.shutdown();
}

/// The measured part: `scripts/callgrind.sh` counts only inside this function
/// (`--toggle-collect`), so start-up, clock calibration and shutdown are left out.
#[inline(never)]
fn probe(mode: &str, n: u64, handle: &Handle) -> u64 {
    match mode {
        "spawn" => (0..n)
            .map(|i| tokengate::spawn(&OP, move || black_box(i)).wait().unwrap())
            .sum::<u64>(),
        "handle" => (0..n)
            .map(|i| {
                let h: Handle = handle.clone();
                handle
                    .spawn(&OP, move || black_box(i) + h.workers() as u64 - 1)
                    .wait()
                    .unwrap()
            })
            .sum(),
        "join" => (0..n)
            .map(|i| {
                let (a, b) = tokengate::join(|| black_box(i), || black_box(1));
                a + b
            })
            .sum(),
        "fib" => fib(n),
        "fibtok" => fib_tok(n),
        "fibhandle" => fib_handle(handle, n),
        "rayonjoin" => (0..n)
            .map(|i| {
                let (a, b) = rayon::join(|| black_box(i), || black_box(1));
                a + b
            })
            .sum(),
        "rayonfib" => rayon_fib(n),
        other => panic!("unknown mode {other}: spawn, handle, join, fib, fibtok, fibhandle, rayonjoin or rayonfib"),
    }
}
