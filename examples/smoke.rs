use std::time::Instant;
use tokengate::{Coordinator, Op};
fn main() {
    let gate = Coordinator::builder().workers(2).build().unwrap();
    let op = Op::new("x");
    let t0 = Instant::now();
    let n = 200_000u64;
    let toks: Vec<_> = (0..n).map(|i| gate.spawn(&op, move || i * 2)).collect();
    let s: u64 = toks.into_iter().map(|t| t.wait().unwrap()).sum();
    println!(
        "burst {} ns/task sum ok={}",
        t0.elapsed().as_nanos() / n as u128,
        s == n * (n - 1)
    );
    let t0 = Instant::now();
    for i in 0..20000u64 {
        assert_eq!(gate.spawn(&op, move || i).wait(), Ok(i));
    }
    println!("pingpong {} ns", t0.elapsed().as_nanos() / 20000);
    fn fib(h: tokengate::Handle, n: u64) -> u64 {
        if n < 2 {
            return n;
        }
        let h2 = h.clone();
        let a = h.spawn(&Op::new("fib"), move || fib(h2, n - 1));
        let b = fib(h.clone(), n - 2);
        a.wait().unwrap() + b
    }
    let h = gate.handle();
    let t0 = Instant::now();
    let r = gate.spawn(&op, move || fib(h, 25)).wait().unwrap();
    println!("fib25 = {r} in {:?}", t0.elapsed());
    println!("{:?} pinned={}", gate.worker_stats(), gate.is_pinned());
    gate.shutdown();
    println!("shutdown ok");
}
