//! The prototype's pressure demo, with the dashboard serving it: waves of light, medium
//! and heavy CPU ops in phases of different batch sizes and gaps.
//!
//! ```text
//! cargo run --release -p tokengate-dashboard --example pressure              # until Ctrl-C
//! cargo run --release -p tokengate-dashboard --example pressure -- --duration 30
//! cargo run --release -p tokengate-dashboard --example pressure -- --cost    # what the page costs
//! ```
//!
//! Options: `--duration SECS`, `--bind ADDR` (default 127.0.0.1:8750), `--workers N`,
//! `--tasks N` (the `--cost` batch size), `--cost` (runs one CPU batch without and one with the dashboard serving a live
//! stream, and prints both throughputs).
//!
//! Log appends go to a file in a temporary directory on the `Moderate` storage tier.
//! The mixed op `data_processing` runs on the same tier: heavy CPU work (a matrix
//! product) whose closure then appends its result to a file. On Ctrl-C (or at the end
//! of `--duration`) it stops spawning, resumes anything paused from the page, waits
//! for every token it holds, prints a summary, stops the server and removes its
//! directory.
//!
//! `--cost` is what the lead runs on a quiet machine for the README's cost figure:
//! `--tasks N` (default 1,000,000) sets the batch size, small values for a smoke run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokengate::{Coordinator, Handle, Op, Storage, StorageSpeed, Token, Weight};
use tokengate_dashboard::Dashboard;

/// A few microseconds of string work: `Light`.
fn string_ops(seed: u64) -> u64 {
    let s: String = (0..32).map(|i| char::from(b'a' + ((seed + i) % 26) as u8)).collect();
    s.to_uppercase().bytes().filter(|b| b"AEIOU".contains(b)).count() as u64
}

/// Trial division: tens of microseconds: `Medium`.
fn is_prime(n: u64) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n % 2 == 0 {
        return false;
    }
    let mut d = 3;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 2;
    }
    true
}

/// A small matrix product: about a millisecond: `Heavy`.
fn matrix(seed: u64) -> u64 {
    const N: usize = 48;
    let a: Vec<u64> = (0..N * N).map(|i| (i as u64 ^ seed) % 7).collect();
    let mut c = vec![0u64; N * N];
    for i in 0..N {
        for k in 0..N {
            let aik = a[i * N + k];
            for j in 0..N {
                c[i * N + j] = c[i * N + j].wrapping_add(aik * a[k * N + j]);
            }
        }
    }
    c.iter().fold(0, |x, y| x.wrapping_add(*y))
}

/// Appends one line to `path` (a blocking write: it belongs on the storage lane).
fn append_log(path: &Path, line: u64) -> u64 {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("the log file");
    writeln!(f, "event {line}").expect("a log append");
    line
}

struct Ops {
    light: Op,
    medium: Op,
    heavy: Op,
    log: Op<Storage>,
    mixed: Op<Storage>,
    dir: PathBuf,
}

fn ops() -> Ops {
    let dir = std::env::temp_dir().join(format!("tokengate-pressure-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    Ops {
        light: Op::new("string_ops").weight(Weight::Light),
        medium: Op::new("prime_check").weight(Weight::Medium),
        heavy: Op::new("matrix_multiply").weight(Weight::Heavy),
        log: Op::new("log_append")
            .weight(Weight::Light)
            .storage_speed(StorageSpeed::Moderate),
        mixed: Op::new("data_processing")
            .weight(Weight::Heavy)
            .storage_speed(StorageSpeed::Moderate),
        dir,
    }
}

/// One wave: `batch` tasks, mostly light, some medium, a few heavy, log appends and
/// the mixed op.
fn wave(gate: &Handle, ops: &Ops, batch: u64, seed: u64, out: &mut Vec<Token<u64>>) {
    for i in 0..batch {
        let n = seed * 1_000 + i;
        let t = match i % 20 {
            0 => gate.spawn(&ops.heavy, move || matrix(n)),
            1 => {
                let path = ops.dir.join(format!("result-{}.txt", n % 16));
                gate.spawn(&ops.mixed, move || append_log(&path, matrix(n)))
            }
            2..=6 => gate.spawn(&ops.medium, move || is_prime(1_000_003 + 2 * n) as u64),
            7..=10 => {
                let path = ops.dir.join("events.log");
                gate.spawn(&ops.log, move || append_log(&path, n))
            }
            _ => gate.spawn(&ops.light, move || string_ops(n)),
        };
        out.push(t);
    }
}

/// Phases of the demo: (name, waves, batch per wave, gap between waves).
const PHASES: &[(&str, u32, u64, Duration)] = &[
    ("warm-up", 10, 50, Duration::from_millis(200)),
    ("surge", 20, 400, Duration::from_millis(50)),
    ("steady", 20, 150, Duration::from_millis(100)),
    ("flood", 5, 2_000, Duration::from_millis(300)),
    ("cool-down", 10, 20, Duration::from_millis(300)),
];

struct Args {
    duration: Option<Duration>,
    bind: String,
    workers: Option<usize>,
    cost: bool,
    tasks: u64,
}

fn args() -> Args {
    let mut a = Args {
        duration: None,
        bind: "127.0.0.1:8750".into(),
        workers: None,
        cost: false,
        tasks: 1_000_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--duration" => {
                let secs: f64 = it.next().and_then(|s| s.parse().ok()).expect("--duration SECS");
                a.duration = Some(Duration::from_secs_f64(secs));
            }
            "--bind" => a.bind = it.next().expect("--bind ADDR"),
            "--workers" => a.workers = Some(it.next().and_then(|s| s.parse().ok()).expect("--workers N")),
            "--cost" => a.cost = true,
            "--tasks" => a.tasks = it.next().and_then(|s| s.parse().ok()).expect("--tasks N"),
            other => {
                eprintln!("unknown argument {other:?}; see the example's docs");
                std::process::exit(2);
            }
        }
    }
    a
}

fn build(workers: Option<usize>) -> Coordinator {
    let mut b = Coordinator::builder();
    if let Some(n) = workers {
        b = b.workers(n);
    }
    b.build().expect("a coordinator")
}

/// Throughput of a fixed batch of light and medium tasks, in tasks per second.
fn batch_rate(gate: &Handle, ops: &Ops, n: u64) -> f64 {
    let start = Instant::now();
    let tokens: Vec<Token<u64>> = (0..n)
        .map(|i| {
            if i % 4 == 0 {
                gate.spawn(&ops.medium, move || is_prime(10_007 + 2 * i) as u64)
            } else {
                gate.spawn(&ops.light, move || string_ops(i))
            }
        })
        .collect();
    for t in tokens {
        t.wait().expect("a result");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// `--cost`: the same batch without the dashboard and with it serving a live stream
/// to one client (a raw HTTP connection reading the event stream), `REPS` times
/// each, interleaved rep by rep (the order alternating), so that drift on a shared
/// machine hits both alike; prints median, min and max of each and the ratio of
/// medians. Then the page's own CPU use with the pool idle: the process's CPU time
/// over a few seconds with the stream open against without.
fn cost(workers: Option<usize>, n: u64) {
    const REPS: usize = 11;
    let gate = build(workers);
    let ops = ops();
    let h = gate.handle();
    batch_rate(&h, &ops, n); // warm-up
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for rep in 0..REPS {
        for dashboard in [rep % 2 == 0, rep % 2 == 1] {
            if dashboard {
                let live = LiveStream::open(&gate);
                with.push(batch_rate(&h, &ops, n));
                live.close();
            } else {
                without.push(batch_rate(&h, &ops, n));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&ops.dir);
    let (w, d) = (spread(&mut without), spread(&mut with));
    println!("batch of {n} tasks, {REPS} reps each, interleaved; tasks/s median (min..max)");
    println!("  without dashboard: {:>10.0} ({:.0}..{:.0})", w.0, w.1, w.2);
    println!(
        "  with dashboard:    {:>10.0} ({:.0}..{:.0})  one live stream open, 1 update/s",
        d.0, d.1, d.2
    );
    println!("  ratio of medians with/without: {:.3}", d.0 / w.0);
    // Idle: what the page itself burns.
    let idle = Duration::from_secs(3);
    let base = cpu_share(idle);
    let live = LiveStream::open(&gate);
    let page = cpu_share(idle);
    live.close();
    println!(
        "idle pool, process CPU: {:.2}% of a core without the page, {:.2}% with a live stream",
        base * 100.0,
        page * 100.0
    );
}

/// Median, min and max.
fn spread(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// The share of one core this process used over `span` (user + system time).
fn cpu_share(span: Duration) -> f64 {
    let cpu = || {
        let mut ru = std::mem::MaybeUninit::<libc::rusage>::uninit();
        // SAFETY: `getrusage` fills the struct it is given.
        let ru = unsafe {
            libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr());
            ru.assume_init()
        };
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
        t(ru.ru_utime) + t(ru.ru_stime)
    };
    let (c0, t0) = (cpu(), Instant::now());
    std::thread::sleep(span);
    (cpu() - c0) / t0.elapsed().as_secs_f64()
}

/// A dashboard serving one live event-stream client, for `--cost`.
struct LiveStream {
    dash: tokengate_dashboard::RunningDashboard,
    reader: std::thread::JoinHandle<usize>,
}

impl LiveStream {
    /// Starts the dashboard and returns once its stream has sent its first update.
    fn open(gate: &Coordinator) -> LiveStream {
        use std::io::Read;
        let dash = Dashboard::new(gate.handle())
            .bind("127.0.0.1:0")
            .start()
            .expect("dashboard");
        let token = dash.access_token().expect("a token").to_string();
        let mut stream = std::net::TcpStream::connect(dash.local_addr()).expect("connect");
        write!(
            stream,
            "GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .expect("request");
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut got = 0usize;
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if got == 0 {
                    let _ = first_tx.send(());
                }
                got += n;
            }
            got
        });
        first_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the live stream answered");
        LiveStream { dash, reader }
    }

    fn close(self) {
        self.dash.stop();
        let bytes = self.reader.join().expect("reader");
        assert!(bytes > 0, "the live stream sent nothing");
    }
}

fn main() {
    let args = args();
    if args.cost {
        cost(args.workers, args.tasks);
        return;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).expect("a Ctrl-C handler");

    let gate = build(args.workers);
    let dash = match Dashboard::new(gate.handle()).bind(&args.bind).start() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot start the dashboard: {e}");
            std::process::exit(1);
        }
    };
    println!("dashboard: {}", dash.login_url());
    println!(
        "(Ctrl-C to stop{})",
        match args.duration {
            Some(d) => format!(", or it stops after {} s", d.as_secs_f64()),
            None => String::new(),
        }
    );

    let ops = ops();
    let h = gate.handle();
    let start = Instant::now();
    let over = |stop: &AtomicBool| stop.load(Ordering::SeqCst) || args.duration.is_some_and(|d| start.elapsed() >= d);
    let mut tokens = Vec::new();
    let mut spawned = 0u64;
    let mut done = 0u64;
    let mut seed = 0u64;
    'outer: loop {
        for &(name, waves, batch, gap) in PHASES {
            println!("phase {name}: {waves} waves of {batch}, every {gap:?}");
            for _ in 0..waves {
                if over(&stop) {
                    break 'outer;
                }
                seed += 1;
                wave(&h, &ops, batch, seed, &mut tokens);
                spawned += batch;
                // Collect what finished, so memory stays bounded.
                tokens.retain(|t: &Token<u64>| {
                    if t.is_finished() {
                        done += 1;
                        false
                    } else {
                        true
                    }
                });
                std::thread::sleep(gap); // the demo's pacing, not synchronisation
            }
        }
    }
    // Anything paused from the page would keep its tasks waiting: lift it.
    h.resume();
    for name in [
        "string_ops",
        "prime_check",
        "matrix_multiply",
        "log_append",
        "data_processing",
    ] {
        h.resume_op(name);
    }
    println!("stopping: waiting for {} outstanding tasks", tokens.len());
    for t in tokens {
        t.wait().expect("a result");
        done += 1;
    }
    assert_eq!(done, spawned);
    println!("done: {spawned} tasks in {:.1} s", start.elapsed().as_secs_f64());
    for s in gate.storage_stats() {
        println!(
            "storage {:?}: peak {} of limit {}, {} done",
            s.speed, s.peak_active, s.limit, s.completed
        );
    }
    dash.stop();
    gate.shutdown();
    let _ = std::fs::remove_dir_all(&ops.dir);
}
