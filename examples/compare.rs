//! Standalone comparison report: tokengate vs rayon, tokio, a `std::thread` channel
//! pool and the `threadpool` crate, every pool with 2 threads, in one process.
//!
//! ```text
//! cargo run --release --example compare                 # full run (~1.5 min)
//! cargo run --release --example compare -- --quick      # ~45 s
//! cargo run --release --example compare -- --quick --csv docs/performance.csv
//! cargo run --release --example compare -- --only burst,fib --reps 7
//! cargo run --release --example plot                    # CSV -> docs/performance.svg
//! ```
//!
//! Flags (`TOKENGATE_QUICK=1` in the environment is the same as `--quick`):
//!
//! - `--quick`: fewer repetitions and shorter latency runs.
//! - `--reps N`: repetitions per scenario (default 11, quick 5). The latency and idle
//!   scenarios use fewer (they run for seconds each).
//! - `--csv PATH`: where the results go (default `target/compare.csv`).
//! - `--only a,b`: run only these scenarios: `idle`, `trickle`, `burst`, `pingpong`, `heavy`,
//!   `bridge`, `fib`, `latency`, `io-mix` (its sleep and fsync variants; with
//!   `--quick`, 400 CPU and 100 I/O tasks instead of 2,000 and 500).
//!
//! Method: each scenario builds its pools, runs every implementation once to warm it
//! up, then runs R repetitions, rotating the order of the implementations from one
//! repetition to the next. The table shows the median, min and max over the
//! repetitions, and `ratio` = this implementation's median / tokengate's median for
//! the same metric: for a `low` (lower is better) metric, a ratio above 1 means
//! tokengate is better; for a `high` metric, below 1. Results are checked; a wrong
//! result aborts the run.
//!
//! The scenarios are described in `docs/benchmarks.md` and implemented in
//! `benches/common/mod.rs`, shared with the criterion benches.

#[path = "../benches/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Goal {
    Low,
    High,
}

impl Goal {
    fn as_str(self) -> &'static str {
        match self {
            Goal::Low => "low",
            Goal::High => "high",
        }
    }
}

/// One (scenario, metric, implementation) cell and its samples, one per repetition.
struct Row {
    scenario: &'static str,
    metric: &'static str,
    unit: &'static str,
    goal: Goal,
    imp: String,
    samples: Vec<f64>,
    /// Shown in the plot's ratio chart.
    primary: bool,
}

fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
}

/// A metric's metadata.
#[derive(Clone, Copy)]
struct Metric {
    name: &'static str,
    unit: &'static str,
    goal: Goal,
    primary: bool,
}

const fn metric(name: &'static str, unit: &'static str, goal: Goal, primary: bool) -> Metric {
    Metric {
        name,
        unit,
        goal,
        primary,
    }
}

impl Table {
    fn push(&mut self, scenario: &'static str, m: Metric, imp: &str, value: f64) {
        if let Some(row) = self
            .rows
            .iter_mut()
            .find(|r| r.scenario == scenario && r.metric == m.name && r.imp == imp)
        {
            row.samples.push(value);
            return;
        }
        self.rows.push(Row {
            scenario,
            metric: m.name,
            unit: m.unit,
            goal: m.goal,
            imp: imp.to_string(),
            samples: vec![value],
            primary: m.primary,
        });
    }

    fn samples(&self, scenario: &str, metric: &str, imp: &str) -> Vec<f64> {
        self.rows
            .iter()
            .find(|r| r.scenario == scenario && r.metric == metric && r.imp == imp)
            .map(|r| r.samples.clone())
            .unwrap_or_default()
    }

    /// Median of tokengate's row of the same scenario and metric (the ratio's base).
    fn base(&self, r: &Row) -> f64 {
        self.rows
            .iter()
            .find(|b| b.scenario == r.scenario && b.metric == r.metric && b.imp == "tokengate")
            .map(|b| median(&b.samples))
            .unwrap_or(f64::NAN)
    }

    fn print(&self) {
        println!(
            "{:<9} {:<28} {:<4} {:<27} {:>12} {:>12} {:>12} {:>8}",
            "scenario", "metric", "goal", "impl", "median", "min", "max", "ratio"
        );
        println!("{}", "-".repeat(119));
        let mut last = ("", "");
        for r in &self.rows {
            let scen = if r.scenario == last.0 { "" } else { r.scenario };
            let (m, goal) = if (r.scenario, r.metric) == last {
                (String::new(), "")
            } else {
                (format!("{} [{}]", r.metric, r.unit), r.goal.as_str())
            };
            last = (r.scenario, r.metric);
            let ratio = median(&r.samples) / self.base(r);
            println!(
                "{:<9} {:<28} {:<4} {:<27} {:>12} {:>12} {:>12} {:>8}",
                scen,
                m,
                goal,
                r.imp,
                fmt_num(median(&r.samples)),
                fmt_num(min(&r.samples)),
                fmt_num(max(&r.samples)),
                if ratio.is_finite() {
                    format!("{ratio:.2}")
                } else {
                    "-".into()
                }
            );
        }
    }

    fn csv(&self) -> String {
        let mut out = String::from("scenario,metric,unit,goal,impl,median,min,max,reps,ratio,primary\n");
        for r in &self.rows {
            let med = median(&r.samples);
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{}",
                r.scenario,
                r.metric,
                r.unit,
                r.goal.as_str(),
                r.imp,
                med,
                min(&r.samples),
                max(&r.samples),
                r.samples.len(),
                med / self.base(r),
                u8::from(r.primary)
            );
        }
        out
    }
}

fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x.abs() >= 1000.0 {
        format!("{x:.0}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// One implementation of a scenario: its name and one repetition, returning
/// `(metric name, value)` pairs.
type Run<'a> = (&'a str, Box<dyn FnMut() -> Vec<(&'static str, f64)> + 'a>);

/// Warms up (optionally), then runs `reps` repetitions, rotating the start.
fn run_scenario(
    table: &mut Table,
    scenario: &'static str,
    metrics: &[Metric],
    reps: usize,
    warmup: bool,
    mut impls: Vec<Run<'_>>,
) {
    let t0 = Instant::now();
    eprint!("{scenario:<9} ");
    if warmup {
        for (_, f) in impls.iter_mut() {
            f();
        }
    }
    let n = impls.len();
    for rep in 0..reps {
        for k in 0..n {
            let (name, f) = &mut impls[(rep + k) % n];
            for (mname, value) in f() {
                let m = metrics
                    .iter()
                    .find(|m| m.name == mname)
                    .copied()
                    .unwrap_or_else(|| panic!("unknown metric {mname}"));
                table.push(scenario, m, name, value);
            }
        }
        eprint!(".");
    }
    eprintln!(" {:.1} s", t0.elapsed().as_secs_f64());
}

fn timed(f: impl FnOnce() -> u64, expect: u64, what: &str) -> Duration {
    let t = Instant::now();
    let got = f();
    let d = t.elapsed();
    assert_eq!(got, expect, "{what}: wrong result");
    d
}

struct Cfg {
    quick: bool,
    reps: usize,
    csv: String,
    only: Option<Vec<String>>,
}

fn parse_args() -> Cfg {
    let mut quick = std::env::var("TOKENGATE_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let mut reps = None;
    let mut csv = "target/compare.csv".to_string();
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--reps" => reps = args.next().and_then(|v| v.parse().ok()),
            "--csv" => csv = args.next().expect("--csv PATH"),
            "--only" => only = args.next().map(|v| v.split(',').map(str::to_string).collect()),
            "--bench" => {} // passed by `cargo bench --examples`; ignore
            "-h" | "--help" => {
                println!("usage: compare [--quick] [--reps N] [--csv PATH] [--only a,b,...]");
                std::process::exit(0);
            }
            other => panic!("unknown argument {other:?} (see --help)"),
        }
    }
    Cfg {
        quick,
        reps: reps.unwrap_or(if quick { 5 } else { 11 }).max(1),
        csv,
        only,
    }
}

/// A scenario measuring the process's CPU share with each peer's pool (`idle`,
/// `trickle`), plus no pool at all (the measurement's floor).
fn cpu_scenario(
    table: &mut Table,
    name: &'static str,
    cpu: Metric,
    reps: usize,
    measure: impl Fn(IdlePeer) -> f64 + Copy + 'static,
) {
    let mk = |p: IdlePeer| -> Box<dyn FnMut() -> Vec<(&'static str, f64)>> {
        Box::new(move || vec![(cpu.name, measure(p))])
    };
    run_scenario(
        table,
        name,
        &[cpu],
        reps,
        false,
        vec![
            ("tokengate", mk(IdlePeer::Tokengate)),
            ("rayon", mk(IdlePeer::Rayon)),
            ("tokio", mk(IdlePeer::Tokio)),
            ("no pool", mk(IdlePeer::Nothing)),
        ],
    );
}

fn main() {
    let cfg = parse_args();
    let wants = |s: &str| cfg.only.as_ref().map_or(true, |o| o.iter().any(|x| x == s));
    let started = Instant::now();
    let cal = calib();
    let reps = cfg.reps;
    let lat_reps = if cfg.quick { 3 } else { 5 };
    let lat_time = Duration::from_millis(if cfg.quick { 1000 } else { 2000 });
    let idle_reps = if cfg.quick { 2 } else { 3 };
    let idle_window = Duration::from_secs(2);

    {
        let probe = tokengate(0);
        eprintln!(
            "tokengate compare: {} workers per pool, tokengate pinned = {}, cpus = {}, reps = {}{}",
            WORKERS,
            probe.is_pinned(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            reps,
            if cfg.quick { " (quick)" } else { "" }
        );
        probe.shutdown();
    }
    eprintln!("calibration: {:.1} spin iterations/us", cal.iters_per_us);
    let cores_before = effective_cores(cal, WORKERS, Duration::from_millis(300));

    let mut table = Table::default();

    // 7. idle first, while the process has no other threads; then 7b, trickle: one
    // tiny task every 10 ms from outside (issue 15: under 1%).
    for (name, metric_name, measure) in [
        ("idle", "idle CPU", idle as fn(IdlePeer, Duration) -> f64),
        ("trickle", "trickle CPU", trickle),
    ] {
        if wants(name) {
            cpu_scenario(
                &mut table,
                name,
                metric(metric_name, "% core", Goal::Low, false),
                idle_reps,
                move |p| measure(p, idle_window),
            );
        }
    }

    // 1. burst
    if wants("burst") {
        const M: Metric = metric("burst 200k", "ns/task", Goal::Low, true);
        let gate = tokengate(0);
        let quiet = tokengate_with(|b| b.metrics(false));
        let bounded = tokengate_with(|b| b.max_queued(1 << 20));
        let pool = rayon_pool();
        let rt = tokio_mt();
        let chan = ChanPool::new(WORKERS);
        let tp = thread_pool();
        let n = BURST_TASKS;
        let e = tiny_sum(n);
        let per = move |d: Duration| vec![(M.name, d.as_nanos() as f64 / n as f64)];
        run_scenario(
            &mut table,
            "burst",
            &[M],
            reps,
            true,
            vec![
                (
                    "tokengate",
                    Box::new(|| per(timed(|| burst_tokengate(&gate, n), e, "burst tokengate"))),
                ),
                (
                    "tokengate metrics(false)",
                    Box::new(|| per(timed(|| burst_tokengate(&quiet, n), e, "burst tg quiet"))),
                ),
                (
                    "tokengate max_queued",
                    Box::new(|| per(timed(|| burst_tokengate(&bounded, n), e, "burst tg bounded"))),
                ),
                (
                    "rayon",
                    Box::new(|| per(timed(|| burst_rayon(&pool, n), e, "burst rayon"))),
                ),
                (
                    "tokio",
                    Box::new(|| per(timed(|| burst_tokio(&rt, n), e, "burst tokio"))),
                ),
                (
                    "chanpool",
                    Box::new(|| per(timed(|| burst_chanpool(&chan, n), e, "burst chanpool"))),
                ),
                (
                    "threadpool",
                    Box::new(|| per(timed(|| burst_threadpool(&tp, n), e, "burst threadpool"))),
                ),
            ],
        );
        gate.shutdown();
    }

    // 2. pingpong
    if wants("pingpong") {
        const M: Metric = metric("round trip", "us", Goal::Low, true);
        let gate = tokengate(0);
        let quiet = tokengate_with(|b| b.metrics(false));
        let bounded = tokengate_with(|b| b.max_queued(1 << 20));
        let own = tokengate_with(|b| b.help_policy(tokengate::HelpPolicy::OwnLanes));
        let pool = rayon_pool();
        let rt = tokio_mt();
        let n = PINGPONG_ROUNDS;
        let e = tiny_sum(n);
        let per = move |d: Duration| vec![(M.name, d.as_secs_f64() * 1e6 / n as f64)];
        run_scenario(
            &mut table,
            "pingpong",
            &[M],
            reps,
            true,
            vec![
                (
                    "tokengate",
                    Box::new(|| per(timed(|| pingpong_tokengate(&gate, n), e, "pingpong tg"))),
                ),
                (
                    "tokengate metrics(false)",
                    Box::new(|| per(timed(|| pingpong_tokengate(&quiet, n), e, "pingpong tg quiet"))),
                ),
                (
                    "tokengate max_queued",
                    Box::new(|| per(timed(|| pingpong_tokengate(&bounded, n), e, "pingpong tg bounded"))),
                ),
                (
                    "tokengate OwnLanes",
                    Box::new(|| per(timed(|| pingpong_tokengate(&own, n), e, "pingpong tg own"))),
                ),
                (
                    "rayon",
                    Box::new(|| per(timed(|| pingpong_rayon(&pool, n), e, "pingpong rayon"))),
                ),
                (
                    "tokio",
                    Box::new(|| per(timed(|| pingpong_tokio(&rt, n), e, "pingpong tokio"))),
                ),
            ],
        );
        gate.shutdown();
    }

    // 3. heavy
    if wants("heavy") {
        const WALL: Metric = metric("16 x 25ms wall", "ms", Goal::Low, true);
        const SPEEDUP: Metric = metric("speedup (ideal 2)", "x serial", Goal::High, false);
        let gate = tokengate(0);
        let pool = rayon_pool();
        let iters = cal.iters(HEAVY_TASK_TIME);
        let n = HEAVY_TASKS;
        let e = heavy_serial(iters, 1).wrapping_mul(n);
        let ms = |d: Duration| vec![(WALL.name, d.as_secs_f64() * 1e3)];
        run_scenario(
            &mut table,
            "heavy",
            &[WALL],
            reps,
            true,
            vec![
                (
                    "tokengate",
                    Box::new(|| ms(timed(|| heavy_tokengate(&gate, iters, n), e, "heavy tg"))),
                ),
                (
                    "rayon",
                    Box::new(|| ms(timed(|| heavy_rayon(&pool, iters, n), e, "heavy rayon"))),
                ),
                (
                    "serial",
                    Box::new(|| ms(timed(|| heavy_serial(iters, n), e, "heavy serial"))),
                ),
            ],
        );
        let serial = table.samples("heavy", WALL.name, "serial");
        for imp in ["tokengate", "rayon"] {
            let wall = table.samples("heavy", WALL.name, imp);
            for (s, w) in serial.iter().zip(&wall) {
                table.push("heavy", SPEEDUP, imp, s / w);
            }
        }
        gate.shutdown();
    }

    // 4. bridge
    if wants("bridge") {
        const WALL: Metric = metric("4000 x 20us wall", "ms", Goal::Low, true);
        const VS: Metric = metric("wall / ideal", "x", Goal::Low, false);
        let rt = tokio_current();
        let gate = tokengate(0);
        let pool = rayon_pool();
        let iters = cal.iters(BRIDGE_TASK_TIME);
        let n = BRIDGE_TASKS;
        let e = heavy_serial(iters, 1).wrapping_mul(n);
        let ms = |d: Duration| vec![(WALL.name, d.as_secs_f64() * 1e3)];
        run_scenario(
            &mut table,
            "bridge",
            &[WALL],
            reps,
            true,
            vec![
                (
                    "tokengate",
                    Box::new(|| ms(timed(|| bridge_tokengate(&rt, &gate, iters, n), e, "bridge tg"))),
                ),
                (
                    "tokengate+futures::join_all",
                    Box::new(|| {
                        ms(timed(
                            || bridge_tokengate_futures(&rt, &gate, iters, n),
                            e,
                            "bridge tg futures",
                        ))
                    }),
                ),
                (
                    "tokio spawn_blocking",
                    Box::new(|| {
                        ms(timed(
                            || bridge_spawn_blocking(&rt, iters, n),
                            e,
                            "bridge spawn_blocking",
                        ))
                    }),
                ),
                (
                    "rayon+oneshot",
                    Box::new(|| ms(timed(|| bridge_rayon(&rt, &pool, iters, n), e, "bridge rayon"))),
                ),
                (
                    "serial",
                    Box::new(|| ms(timed(|| heavy_serial(iters, n), e, "bridge serial"))),
                ),
            ],
        );
        // ideal = serial / WORKERS, per repetition.
        let serial = table.samples("bridge", WALL.name, "serial");
        for imp in [
            "tokengate",
            "tokengate+futures::join_all",
            "tokio spawn_blocking",
            "rayon+oneshot",
        ] {
            let wall = table.samples("bridge", WALL.name, imp);
            for (s, w) in serial.iter().zip(&wall) {
                table.push("bridge", VS, imp, w / (s / WORKERS as f64));
            }
        }
        gate.shutdown();
    }

    // 5. fib
    if wants("fib") {
        const M: Metric = metric("fib(25) fork/call", "ms", Goal::Low, true);
        let gate = tokengate(0);
        let quiet = tokengate_with(|b| b.metrics(false));
        let own = tokengate_with(|b| b.help_policy(tokengate::HelpPolicy::OwnLanes));
        let pool = rayon_pool();
        let e = fib_serial(FIB_N);
        let ms = |d: Duration| vec![(M.name, d.as_secs_f64() * 1e3)];
        run_scenario(
            &mut table,
            "fib",
            &[M],
            reps,
            true,
            vec![
                (
                    "tokengate",
                    Box::new(|| ms(timed(|| fib_tokengate_join(&gate, FIB_N), e, "fib tg join"))),
                ),
                (
                    "tokengate metrics(false)",
                    Box::new(|| ms(timed(|| fib_tokengate_join(&quiet, FIB_N), e, "fib tg join quiet"))),
                ),
                (
                    "tokengate OwnLanes",
                    Box::new(|| ms(timed(|| fib_tokengate_join(&own, FIB_N), e, "fib tg join own"))),
                ),
                (
                    "tokengate+Handle::spawn",
                    Box::new(|| ms(timed(|| fib_tokengate(&gate, FIB_N), e, "fib tg"))),
                ),
                (
                    "tokengate::spawn",
                    Box::new(|| ms(timed(|| fib_tokengate_free(&gate, FIB_N), e, "fib tg free fn"))),
                ),
                (
                    "tokengate::spawn metrics(false)",
                    Box::new(|| ms(timed(|| fib_tokengate_free(&quiet, FIB_N), e, "fib tg free fn quiet"))),
                ),
                (
                    "#[tokengate::guard]",
                    Box::new(|| ms(timed(|| fib_tokengate_guard(&gate, FIB_N), e, "fib tg guard"))),
                ),
                (
                    "rayon::join",
                    Box::new(|| ms(timed(|| fib_rayon(&pool, FIB_N), e, "fib rayon"))),
                ),
            ],
        );
        gate.shutdown();
    }

    // 6. latency
    if wants("latency") {
        const P50: Metric = metric("light p50", "us", Goal::Low, false);
        const P99: Metric = metric("light p99", "us", Goal::Low, true);
        const MAX: Metric = metric("light max", "us", Goal::Low, false);
        const HEAVY: Metric = metric("heavy throughput", "tasks/s", Goal::High, false);
        let on = tokengate(1);
        let off = tokengate(0);
        let pool = Arc::new(rayon_pool());
        let out = |r: LatencyRun| {
            vec![
                (P50.name, r.p50_us),
                (P99.name, r.p99_us),
                (MAX.name, r.max_us),
                (HEAVY.name, r.heavy_per_s),
            ]
        };
        run_scenario(
            &mut table,
            "latency",
            &[P50, P99, MAX, HEAVY],
            lat_reps,
            false,
            vec![
                ("tokengate", Box::new(|| out(latency_tokengate(&on, cal, lat_time)))),
                (
                    "tokengate reserve=0",
                    Box::new(|| out(latency_tokengate(&off, cal, lat_time))),
                ),
                ("rayon", Box::new(|| out(latency_rayon(&pool, cal, lat_time)))),
            ],
        );
        on.shutdown();
        off.shutdown();
    }

    // 8. io-mix: CPU work alongside capped blocking I/O (storage lane).
    if wants("io-mix") {
        io_mix(&mut table, cfg.quick, reps.min(5), cal);
    }

    // Group rows by scenario then metric (run_scenario interleaves metrics per impl).
    let order: HashMap<(&str, &str), usize> = table
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.scenario, r.metric), i))
        .rev()
        .collect();
    table
        .rows
        .sort_by_key(|r| order.get(&(r.scenario, r.metric)).copied().unwrap_or(0));

    println!();
    println!(
        "tokengate vs peers: {WORKERS} threads per pool, median of {reps} reps \
         (latency {lat_reps} x {:.0} s, idle {idle_reps} x {:.0} s); \
         ratio = impl median / tokengate median",
        lat_time.as_secs_f64(),
        idle_window.as_secs_f64()
    );
    println!(
        "latency: \"tokengate\" = reserve_for_light(1), \"reserve=0\" = no reservation; \
         light tasks at {LIGHT_RATE_HZ} Hz under {LOAD_OUTSTANDING} outstanding {} ms heavy tasks",
        LOAD_HEAVY_TIME.as_millis()
    );
    let cores_after = effective_cores(cal, WORKERS, Duration::from_millis(300));
    println!(
        "machine check: {WORKERS} spinning threads got {cores_before:.2} cores' worth of CPU \
         before the run and {cores_after:.2} after (2.00 = quiet machine)"
    );
    const AVAIL: Metric = metric("CPU available", "cores", Goal::High, false);
    table.push("machine", AVAIL, "before run", cores_before);
    table.push("machine", AVAIL, "after run", cores_after);
    println!();
    table.print();

    if let Some(dir) = std::path::Path::new(&cfg.csv).parent() {
        if !dir.as_os_str().is_empty() {
            let _ = std::fs::create_dir_all(dir);
        }
    }
    match std::fs::write(&cfg.csv, table.csv()) {
        Ok(()) => eprintln!("\nwrote {}", cfg.csv),
        Err(e) => eprintln!("\ncould not write {}: {e}", cfg.csv),
    }
    eprintln!("total {:.1} s", started.elapsed().as_secs_f64());
}

/// Scenario io-mix (`benches/common/iomix.rs`), in its sleep and fsync variants.
fn io_mix(table: &mut Table, quick: bool, reps: usize, cal: Calib) {
    const CPU: Metric = metric("cpu batch", "ms", Goal::Low, true);
    const CPU_VS: Metric = metric("cpu / alone (target 1.05)", "x", Goal::Low, false);
    const IO: Metric = metric("io batch", "ms", Goal::Low, false);
    const IO_VS: Metric = metric("io / ideal (target 1.15)", "x", Goal::Low, false);
    const PEAK: Metric = metric("io peak (limit 25)", "tasks", Goal::High, false);
    let (cpu_tasks, io_tasks) = if quick {
        (IOMIX_CPU_TASKS / 5, IOMIX_IO_TASKS / 5)
    } else {
        (IOMIX_CPU_TASKS, IOMIX_IO_TASKS)
    };
    let dir = iomix_dir();
    let fsync = IoKind::Fsync(dir.clone());
    let fsync_latency = io_latency(&fsync, 20);
    eprintln!("io-mix: fsync'ed 8 KiB write takes {fsync_latency:.2?} serially");
    let variants = [
        ("io-mix", IoKind::Sleep(IOMIX_IO_TIME), IOMIX_IO_TIME),
        ("io-mix fsync", fsync, fsync_latency),
    ];
    let gate = tokengate(0);
    let pool = rayon_pool();
    let rt = tokio_mt();
    let (cpu_pool, io_pool) = (ChanPool::new(WORKERS), ChanPool::new(IOMIX_LIMIT));
    for (scenario, io, latency) in variants {
        let p = MixParams {
            cpu_tasks,
            cpu_iters: cal.iters(IOMIX_CPU_TIME),
            io_tasks,
            io,
        };
        let alone = MixParams {
            io_tasks: 0,
            ..p.clone()
        };
        let ideal = latency.as_secs_f64() * io_tasks as f64 / IOMIX_LIMIT as f64;
        let e = iomix_expected(&p);
        // One repetition: the CPU batch alone, then the mix, on the same pool.
        let rep = move |f: &dyn Fn(&MixParams) -> MixResult| {
            let a = f(&alone);
            let m = f(&p);
            assert_eq!((a.sum, m.sum), (e, e), "io-mix: wrong CPU checksum");
            vec![
                (CPU.name, m.cpu.as_secs_f64() * 1e3),
                (CPU_VS.name, m.cpu.as_secs_f64() / a.cpu.as_secs_f64()),
                (IO.name, m.io.as_secs_f64() * 1e3),
                (IO_VS.name, m.io.as_secs_f64() / ideal),
                (PEAK.name, m.peak as f64),
            ]
        };
        let rep = &rep;
        run_scenario(
            table,
            scenario,
            &[CPU, CPU_VS, IO, IO_VS, PEAK],
            reps,
            true,
            vec![
                ("tokengate", Box::new(|| rep(&|p| iomix_tokengate(&gate, p)))),
                ("rayon", Box::new(|| rep(&|p| iomix_rayon(&pool, p)))),
                ("tokio", Box::new(|| rep(&|p| iomix_tokio(&rt, p)))),
                (
                    "std threads",
                    Box::new(|| rep(&|p| iomix_threads(&cpu_pool, &io_pool, p))),
                ),
            ],
        );
    }
    gate.shutdown();
    let _ = std::fs::remove_dir_all(dir);
}
