//! Observability tour: a mixed workload, then a per-op table (counts, p50/p99 queue
//! wait and run time, health), the Prometheus text and the JSON history under
//! `target/`.
//!
//! ```text
//! cargo run --release --example metrics --features serde
//! ```

use std::time::{Duration, Instant};

use tokengate::{Coordinator, Op, Weight};

fn spin_for(d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

fn is_prime(n: u64) -> bool {
    n > 1 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}

/// A duration in three significant figures and a readable unit.
fn short(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    match ns {
        n if n < 1e3 => format!("{n:.0}ns"),
        n if n < 1e6 => format!("{:.1}us", n / 1e3),
        n if n < 1e9 => format!("{:.1}ms", n / 1e6),
        n => format!("{:.2}s", n / 1e9),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The flaky op panics on purpose: keep its panics out of the output.
    std::panic::set_hook(Box::new(|_| {}));
    let gate = Coordinator::builder().history(256).build()?;
    let prime = Op::new("prime_check").weight(Weight::Light);
    let resize = Op::new("resize_image").weight(Weight::Heavy);
    let flaky = Op::new("flaky_fetch");
    let report = Op::new("build_report");

    let mut tokens = Vec::new();
    for n in 0..2_000u64 {
        tokens.push(gate.spawn(&prime, move || is_prime(n * 7919 + 1)));
    }
    let heavy: Vec<_> = (0..20)
        .map(|_| gate.spawn(&resize, || spin_for(Duration::from_millis(2))))
        .collect();
    // One in six panics; a few are cancelled before they start.
    let flakes: Vec<_> = (0..120u32)
        .map(|i| {
            gate.spawn(&flaky, move || {
                spin_for(Duration::from_micros(50));
                assert!(i % 6 != 0, "upstream timed out");
            })
        })
        .collect();
    for t in flakes.iter().step_by(10) {
        t.cancel();
    }
    // A task that fans out children and joins.
    let fan = gate.spawn(&report, || {
        let section = Op::new("report_section").weight(Weight::Light);
        let parts: Vec<_> = (0..16u64).map(|i| tokengate::spawn(&section, move || i * i)).collect();
        let (a, b) = tokengate::join(|| 1, || 2);
        parts.into_iter().map(|p| p.wait().unwrap()).sum::<u64>() + a + b
    });
    for t in tokens {
        t.wait()?;
    }
    for t in heavy {
        t.wait()?;
    }
    for t in flakes {
        let _ = t.wait();
    }
    fan.wait()?;
    gate.shutdown();

    let m = gate.metrics();
    println!(
        "{:<16} {:>6} {:>6} {:>6} {:>6} {:>6} {:>10} {:>10} {:>10} {:>10}  health",
        "op", "subm", "ok", "panic", "cancel", "shut", "wait p50", "wait p99", "run p50", "run p99"
    );
    for o in m.ops() {
        println!(
            "{:<16} {:>6} {:>6} {:>6} {:>6} {:>6} {:>10} {:>10} {:>10} {:>10}  {}",
            o.name,
            o.submitted,
            o.completed,
            o.panicked,
            o.cancelled,
            o.shutdown,
            short(o.queue_wait.quantile(0.5)),
            short(o.queue_wait.quantile(0.99)),
            short(o.run_time.quantile(0.5)),
            short(o.run_time.quantile(0.99)),
            o.health().as_str(),
        );
    }
    println!();
    for w in m.workers() {
        println!(
            "worker {}: executed {}, stolen {}/{}/{} (light/medium/heavy), stack jobs {}, busy {}, parks {}, core {:?} (pinned: {})",
            w.index,
            w.executed,
            w.stolen.light,
            w.stolen.medium,
            w.stolen.heavy,
            w.stack_jobs,
            short(w.busy),
            w.parks,
            w.core,
            w.pinned
        );
    }

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&dir)?;
    let prom = dir.join("tokengate-metrics.prom");
    std::fs::write(&prom, m.to_prometheus())?;
    let json = dir.join("tokengate-history.json");
    std::fs::write(&json, serde_json::to_string_pretty(&gate.recent_executions(256))?)?;
    let snap = dir.join("tokengate-metrics.json");
    std::fs::write(&snap, serde_json::to_string_pretty(&m)?)?;
    println!("\nwrote {}, {} and {}", prom.display(), json.display(), snap.display());
    Ok(())
}
