//! Scenario 7, idle: CPU used by an idle pool.

use std::time::{Duration, Instant};

use rayon::prelude::*;
use tokengate::Op;

use super::pools::{rayon_pool, tokengate, tokio_mt};
use super::work::spin;

/// User + system CPU time of the whole process so far (`getrusage(RUSAGE_SELF)`).
pub fn process_cpu() -> Duration {
    // SAFETY: `rusage` is plain old data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage failed");
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Process CPU used while the calling thread sleeps for `window`, as % of one core.
pub fn idle_cpu_percent(window: Duration) -> f64 {
    let c0 = process_cpu();
    let t0 = Instant::now();
    std::thread::sleep(window);
    let used = process_cpu().saturating_sub(c0);
    100.0 * used.as_secs_f64() / t0.elapsed().as_secs_f64()
}

/// Which pool an idle measurement builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdlePeer {
    /// No pool at all: the measurement's own noise floor.
    Nothing,
    /// A tokengate coordinator.
    Tokengate,
    /// A rayon pool.
    Rayon,
    /// A tokio multi-thread runtime.
    Tokio,
}

/// Builds the pool, runs a few tasks on it so every worker ran, waits for them,
/// then measures [`idle_cpu_percent`] over `window` and drops the pool.
pub fn idle(peer: IdlePeer, window: Duration) -> f64 {
    match peer {
        IdlePeer::Nothing => idle_cpu_percent(window),
        IdlePeer::Tokengate => {
            let gate = tokengate(0);
            let op = Op::new("warm");
            let tokens: Vec<_> = (0..8u64).map(|i| gate.spawn(&op, move || spin(1000 + i))).collect();
            for t in tokens {
                t.wait().expect("warm task");
            }
            let pct = idle_cpu_percent(window);
            gate.shutdown();
            pct
        }
        IdlePeer::Rayon => {
            let pool = rayon_pool();
            let items: Vec<u64> = (0..8).collect();
            pool.install(|| items.par_iter().map(|&i| spin(1000 + i)).sum::<u64>());
            idle_cpu_percent(window)
        }
        IdlePeer::Tokio => {
            let rt = tokio_mt();
            let hs: Vec<_> = (0..8u64).map(|i| rt.spawn(async move { spin(1000 + i) })).collect();
            rt.block_on(async {
                for h in hs {
                    h.await.expect("warm task");
                }
            });
            idle_cpu_percent(window)
        }
    }
}

/// One tiny task every 10 ms, submitted from this (outside) thread and waited for,
/// for `window`: the process CPU used, in % of one core (issue 15: under 1%). What a
/// pool burns between the tasks (spinning before parking) shows here; the tasks
/// themselves cost microseconds.
pub fn trickle(peer: IdlePeer, window: Duration) -> f64 {
    let period = Duration::from_millis(10);
    let run = |submit: &mut dyn FnMut()| {
        submit(); // warm
        let c0 = process_cpu();
        let t0 = Instant::now();
        let mut next = t0;
        while t0.elapsed() < window {
            submit();
            next += period;
            if let Some(d) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
        }
        let used = process_cpu().saturating_sub(c0);
        100.0 * used.as_secs_f64() / t0.elapsed().as_secs_f64()
    };
    match peer {
        IdlePeer::Nothing => run(&mut || {
            std::hint::black_box(spin(100));
        }),
        IdlePeer::Tokengate => {
            let gate = tokengate(0);
            let op = Op::new("trickle");
            let pct = run(&mut || {
                gate.spawn(&op, || spin(100)).wait().expect("trickle task");
            });
            gate.shutdown();
            pct
        }
        IdlePeer::Rayon => {
            let pool = rayon_pool();
            run(&mut || {
                std::hint::black_box(pool.install(|| spin(100)));
            })
        }
        IdlePeer::Tokio => {
            let rt = tokio_mt();
            run(&mut || {
                rt.block_on(rt.spawn(async { spin(100) })).expect("trickle task");
            })
        }
    }
}
