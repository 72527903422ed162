//! The prototype's demos in one runner (issue 17). Every demo measures, checks its
//! results against a direct computation, and checks that every token it submitted
//! resolved; the process exits non-zero when any check fails.
//!
//! ```text
//! cargo run --release --example runner                  # the interactive prompt
//! cargo run --release --example runner -- all           # every demo
//! cargo run --release --example runner -- all --quick   # every demo, small sizes
//! cargo run --release --example runner -- cpu chain     # some demos
//! cargo run --release --example runner -- concurrency --release-secs 10
//! cargo run --release --example runner -- all --seed 42
//! ```
//!
//! The demos live in `examples/runner/demos/`, one file each; `tests/runner.rs` runs
//! them all in quick mode.

mod demos;

use std::io::{BufRead, Write};

use demos::{run_all, run_one, Ctx, DEMOS, GATE};

fn usage() -> String {
    let names: Vec<&str> = DEMOS.iter().map(|(n, _)| *n).collect();
    format!(
        "usage: runner [all | {}]... [--quick] [--seed N] [--release-secs N]",
        names.join(" | ")
    )
}

fn main() {
    let mut quick = false;
    let mut seed = 0x5eed_1234_abcd_u64;
    let mut release_secs = None;
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--seed" => {
                seed = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| bad(&usage()))
            }
            "--release-secs" => {
                release_secs = Some(
                    args.next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or_else(|| bad(&usage())),
                )
            }
            "-h" | "--help" => {
                println!("{}", usage());
                return;
            }
            _ => names.push(a),
        }
    }
    let mut ctx = Ctx::new(quick, seed);
    ctx.release_secs = release_secs;
    println!(
        "tokengate runner: {} workers, seed {seed}{}",
        GATE.workers(),
        if quick { ", quick" } else { "" }
    );
    if names.is_empty() {
        prompt(&mut ctx);
    } else {
        for name in &names {
            if name == "all" {
                run_all(&mut ctx);
            } else if run_one(name, &mut ctx).is_none() {
                bad(&format!("no demo `{name}`\n{}", usage()));
            }
        }
    }
    finish(&ctx);
}

/// The interactive menu: a number or a name runs a demo, `all` runs them all, `q` or
/// end of input quits.
fn prompt(ctx: &mut Ctx) {
    let menu = || {
        for (i, (name, _)) in DEMOS.iter().enumerate() {
            println!("  {:>2}. {name}", i + 1);
        }
        println!("   a. all\n   q. quit");
    };
    menu();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        print!("tokengate> ");
        let _ = std::io::stdout().flush();
        let Some(Ok(line)) = lines.next() else {
            println!();
            return;
        };
        let line = line.trim();
        match line {
            "" => {}
            "q" | "quit" | "exit" => return,
            "a" | "all" => {
                run_all(ctx);
            }
            "?" | "h" | "help" | "m" | "menu" => menu(),
            _ => {
                let name = match line.parse::<usize>() {
                    Ok(i) if (1..=DEMOS.len()).contains(&i) => DEMOS[i - 1].0,
                    _ => line,
                };
                if run_one(name, ctx).is_none() {
                    println!("no demo `{line}`; type a number, a name, `all` or `q`");
                }
            }
        }
    }
}

fn finish(ctx: &Ctx) {
    if ctx.failures.is_empty() {
        println!("runner: {} checks, all passed", ctx.checks);
    } else {
        println!("runner: {} of {} checks FAILED:", ctx.failures.len(), ctx.checks);
        for f in &ctx.failures {
            println!("  - {f}");
        }
        std::process::exit(1);
    }
}

fn bad(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(2);
}
