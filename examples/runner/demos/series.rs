//! series: saturation. 20 heavy busy loops of 1 s each (quick: 50 ms); prints the
//! earliest and latest finish and their spread. On N workers the last one cannot finish
//! before ceil(20/N) loop lengths; the prototype's last finished at 5.2 s on 2 cores.

use std::time::{Duration, Instant};

use super::{CpuMeter, Ctx, GATE};

/// Spins until `d` has passed; returns the spin count.
#[tokengate::guard(weight = Heavy, on = crate::demos::GATE)]
fn busy_for(d: Duration) -> u64 {
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed() < d {
        n = std::hint::black_box(n + 1);
    }
    n
}

pub fn run(ctx: &mut Ctx) {
    let len = ctx.size(Duration::from_secs(1), Duration::from_millis(50));
    let tasks = 20usize;
    let n = GATE.workers();
    let meter = CpuMeter::start();
    let t0 = Instant::now();
    let tokens: Vec<_> = (0..tasks).map(|_| busy_for(len)).collect();
    let mut finish: Vec<Duration> = Vec::new();
    // Record each finish as the token resolves: poll in order of completion.
    let mut pending: Vec<_> = tokens.into_iter().map(Some).collect();
    while finish.len() < tasks {
        for slot in pending.iter_mut() {
            if slot.as_ref().is_some_and(|t| t.is_finished()) {
                let t = slot.take().unwrap();
                finish.push(t0.elapsed());
                ctx.check(t.wait().is_ok_and(|spins| spins > 0), "series: a busy loop completed");
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let (wall, par) = meter.stop();
    finish.sort_unstable();
    let (first, last) = (finish[0], finish[tasks - 1]);
    let floor = len * tasks.div_ceil(n) as u32;
    println!(
        "  {tasks} loops of {:.0} ms on {n} workers: earliest {:.3} s, latest {:.3} s, spread {:.3} s",
        len.as_secs_f64() * 1e3,
        first.as_secs_f64(),
        last.as_secs_f64(),
        (last - first).as_secs_f64()
    );
    println!(
        "  ideal last finish ceil({tasks}/{n}) x {:.0} ms = {:.3} s; CPU/wall {par:.2} over {:.3} s (prototype: 5.2 s for 1 s loops on 2 cores)",
        len.as_secs_f64() * 1e3,
        floor.as_secs_f64(),
        wall.as_secs_f64()
    );
    // The busy loops measure their own time, so none can finish before its length, and
    // at most `n` run at once: the last finish is bounded below.
    ctx.check(first >= len, "series: no loop finished before its length");
    ctx.check(
        last + Duration::from_millis(2) >= floor,
        format_args!("series: last finish {last:?} >= {floor:?}"),
    );
}
