//! Cost of recording metrics: one scenario, metrics on or off, for instruction counts
//! under callgrind (wall-clock timings belong to the benchmark run).
//!
//! ```text
//! cargo build --release --example metrics_cost
//! valgrind --tool=callgrind target/release/examples/metrics_cost burst on 100000
//! valgrind --tool=callgrind target/release/examples/metrics_cost burst off 100000
//! ```
//!
//! Scenarios: `burst` (spawn `n` light tasks from outside, then wait for all),
//! `pingpong` (`n` sequential spawn-and-wait round trips), `fib` (`fib(n)` through
//! `tokengate::join` inside one task).

use tokengate::{Coordinator, Op, Weight};

fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = tokengate::join(|| fib(n - 1), || fib(n - 2));
    a + b
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scenario = args.get(1).map_or("burst", String::as_str);
    let on = args.get(2).map_or("on", String::as_str) == "on";
    let n: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let gate = Coordinator::builder().workers(2).metrics(on).build().expect("build");
    let op = Op::new(scenario).weight(Weight::Light);
    let sum: u64 = match scenario {
        "burst" => {
            let ts: Vec<_> = (0..n).map(|i| gate.spawn(&op, move || i ^ 0x5a)).collect();
            ts.into_iter().map(|t| t.wait().expect("task")).sum()
        }
        "pingpong" => (0..n)
            .map(|i| gate.spawn(&op, move || i ^ 0x5a).wait().expect("task"))
            .sum(),
        "fib" => gate.spawn(&op, move || fib(n)).wait().expect("fib"),
        other => panic!("unknown scenario {other}: burst, pingpong or fib"),
    };
    gate.shutdown();
    println!("{scenario} metrics={on} n={n}: {sum}");
}
