//! chain: five dependent steps, each a token that takes the previous step's token:
//! x*3+7; halve if even, else x*2+1; the sum of i*v for i = 1..=50; mod 9973; label and
//! parity. 5 chains in sequence, then 4 chains from 4 threads at once, each checked
//! against a direct computation. Each step is a token of the previous step's result.
//!
//! Why results and not tokens: a step that *waits* on a sibling token from inside a
//! worker can deadlock. A worker waiting in step 4 helps by running queued work; if it
//! picks step 5 (which waits on step 4, below it on the same stack), neither can finish.
//! Waiting on a task's own children is safe; waiting on a sibling spawned from outside
//! is not (found by this demo; reported with the issue).

use std::time::Instant;

use super::{ms, Ctx};

#[tokengate::guard(weight = Light, on = crate::demos::GATE)]
fn step1(x: u64) -> u64 {
    x * 3 + 7
}

#[tokengate::guard(weight = Light, on = crate::demos::GATE)]
fn step2(v: u64) -> u64 {
    if v % 2 == 0 {
        v / 2
    } else {
        v * 2 + 1
    }
}

#[tokengate::guard(weight = Medium, on = crate::demos::GATE)]
fn step3(v: u64) -> u64 {
    (1..=50).map(|i| i * v).sum()
}

#[tokengate::guard(weight = Light, on = crate::demos::GATE)]
fn step4(v: u64) -> u64 {
    v % 9973
}

#[tokengate::guard(weight = Light, on = crate::demos::GATE)]
fn step5(v: u64) -> String {
    format!("chain-{v}-{}", if v % 2 == 0 { "even" } else { "odd" })
}

/// The same five steps, computed directly.
fn direct(x: u64) -> String {
    let v = x * 3 + 7;
    let v = if v % 2 == 0 { v / 2 } else { v * 2 + 1 };
    let v: u64 = (1..=50).map(|i| i * v).sum();
    let v = v % 9973;
    format!("chain-{v}-{}", if v % 2 == 0 { "even" } else { "odd" })
}

/// One chain: five tokens, each handed the previous one's result.
fn chain(x: u64) -> Result<String, tokengate::TaskError> {
    let v = step1(x).wait()?;
    let v = step2(v).wait()?;
    let v = step3(v).wait()?;
    let v = step4(v).wait()?;
    step5(v).wait()
}

pub fn run(ctx: &mut Ctx) {
    let t0 = Instant::now();
    for i in 0..5 {
        let x = ctx.rng.range(1, 1_000_000);
        let got = chain(x);
        let want = direct(x);
        println!("  chain {i}: x = {x} -> {}", got.as_deref().unwrap_or("(error)"));
        ctx.check(
            got.as_ref() == Ok(&want),
            format_args!("chain {x}: got {got:?}, want {want}"),
        );
    }
    println!("  5 chains in sequence: {}", ms(t0.elapsed()));
    let xs: Vec<u64> = (0..4).map(|_| ctx.rng.range(1, 1_000_000)).collect();
    let t0 = Instant::now();
    let barrier = std::sync::Barrier::new(4);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = xs
            .iter()
            .map(|&x| {
                let b = &barrier;
                s.spawn(move || {
                    b.wait();
                    (x, chain(x))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("chain thread")).collect()
    });
    for (x, got) in &results {
        println!("  thread chain: x = {x} -> {}", got.as_deref().unwrap_or("(error)"));
        ctx.check(
            got.as_ref() == Ok(&direct(*x)),
            format_args!("chain {x} (threads): got {got:?}"),
        );
    }
    println!("  4 chains from 4 threads at once: {}", ms(t0.elapsed()));
}
