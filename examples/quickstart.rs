//! tokengate quickstart: declare operations with `#[tokengate::guard]`, spawn a mixed
//! batch, compare with a serial run, and look at what each worker did.
//!
//! Each guarded function returns a token per call; its `_inline` twin runs the same
//! body on the calling thread, which is what the serial run uses.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use tokengate::{Coordinator, Op, Token, Weight};

/// The demo's pool: one pinned worker per core. The guarded functions below name it
/// with `on = GATE`; those spawned from inside its tasks land on it anyway.
static GATE: LazyLock<Coordinator> = LazyLock::new(|| Coordinator::builder().build().expect("start the coordinator"));

// --- The work: ordinary synchronous functions, guarded ---------------------------

/// Trial division by 6k ± 1. Tens of microseconds to a few milliseconds: `Medium`.
#[tokengate::guard(op = "prime_check", weight = Medium, on = GATE)]
fn is_prime(n: u64) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n % 2 == 0 || n % 3 == 0 {
        return false;
    }
    let mut d = 5;
    while d * d <= n {
        if n % d == 0 || n % (d + 2) == 0 {
            return false;
        }
        d += 6;
    }
    true
}

const WORDS: [&str; 16] = [
    "token", "gate", "worker", "steal", "pinned", "core", "lane", "heavy", "light", "medium", "domain", "anchor",
    "sticky", "lead", "wait", "await",
];

/// A little text processing (a few microseconds): `Light`. Called from inside
/// `word_batch`, so it spawns on the current task's pool (no `on` needed).
#[tokengate::guard(weight = Light)]
fn string_ops(seed: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut sentence = String::with_capacity(128);
    for _ in 0..16 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sentence.push_str(WORDS[(x % 16) as usize]);
        sentence.push(' ');
    }
    let upper = sentence.trim_end().to_uppercase();
    let reversed: String = upper.chars().rev().collect();
    let vowels = reversed.chars().filter(|c| "AEIOU".contains(*c)).count() as u64;
    let joined = reversed.split_whitespace().collect::<Vec<_>>().join("-");
    joined
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
        .wrapping_add(vowels)
}

/// A batch of `count` string ops: a `Medium` task that fans out `Light` children from
/// inside the pool. They land on this worker's own lanes, where idle workers steal them.
#[tokengate::guard(weight = Medium, on = GATE)]
fn word_batch(first: u64, count: u64) -> u64 {
    let tokens: Vec<Token<u64>> = (first..first + count).map(string_ops).collect();
    tokens
        .into_iter()
        .fold(0u64, |acc, t| acc.wrapping_add(t.wait().expect("string_ops")))
}

fn word_batch_serial(first: u64, count: u64) -> u64 {
    (first..first + count).fold(0u64, |acc, s| acc.wrapping_add(string_ops_inline(s)))
}

/// Multiplies two `n × n` matrices filled from `seed` (milliseconds): `Heavy`.
#[tokengate::guard(weight = Heavy, on = GATE)]
fn matrix_mul(seed: u64, n: usize) -> f64 {
    let mut x = seed | 1;
    let mut fill = || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (x >> 40) as f64 / (1u64 << 24) as f64 - 0.5
    };
    let a: Vec<f64> = (0..n * n).map(|_| fill()).collect();
    let b: Vec<f64> = (0..n * n).map(|_| fill()).collect();
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            let row = &b[k * n..(k + 1) * n];
            for (cij, bkj) in c[i * n..(i + 1) * n].iter_mut().zip(row) {
                *cij += aik * bkj;
            }
        }
    }
    c.iter().sum()
}

// --- The batch ----------------------------------------------------------------------

const PRIME_TASKS: u64 = 12_000;
const PRIME_BASE: u64 = 1_000_000_000_000;
const WORD_BATCHES: u64 = 120;
const WORDS_PER_BATCH: u64 = 500;
const MATRIX_TASKS: u64 = 400;
const MATRIX_N: usize = 192;

/// What the batch computes; the serial run and the pool must agree on it.
#[derive(Debug, PartialEq)]
struct Summary {
    primes: usize,
    words: u64,
    matrix: f64,
}

fn prime_candidate(i: u64) -> u64 {
    // Odd numbers, spread so that some are prime (slow) and most are not (fast).
    PRIME_BASE + 2 * i * 7_919 + 1
}

fn run_serial() -> Summary {
    let primes = (0..PRIME_TASKS)
        .filter(|&i| is_prime_inline(prime_candidate(i)))
        .count();
    let words = (0..WORD_BATCHES).fold(0u64, |acc, b| {
        acc.wrapping_add(word_batch_serial(b * WORDS_PER_BATCH, WORDS_PER_BATCH))
    });
    let matrix = (0..MATRIX_TASKS).map(|s| matrix_mul_inline(s, MATRIX_N)).sum();
    Summary { primes, words, matrix }
}

/// The same batch on `GATE`: every call of a guarded function is a token.
fn run_on_pool() -> Summary {
    // Interleave the three kinds, as a real mixed workload would arrive.
    let mut primes = Vec::new();
    let mut batches = Vec::new();
    let mut matrices = Vec::new();
    let mut next = (0u64, 0u64, 0u64);
    while next != (PRIME_TASKS, WORD_BATCHES, MATRIX_TASKS) {
        if next.2 < MATRIX_TASKS {
            let s = next.2;
            matrices.push(matrix_mul(s, MATRIX_N));
            next.2 += 1;
        }
        for _ in 0..16 {
            if next.0 < PRIME_TASKS {
                let n = prime_candidate(next.0);
                primes.push(is_prime(n));
                next.0 += 1;
            }
        }
        if next.1 < WORD_BATCHES {
            let b = next.1;
            batches.push(word_batch(b * WORDS_PER_BATCH, WORDS_PER_BATCH));
            next.1 += 1;
        }
    }
    let primes = primes
        .into_iter()
        .map(|t| t.wait().expect("prime_check"))
        .filter(|&p| p)
        .count();
    let words = batches
        .into_iter()
        .fold(0u64, |acc, t| acc.wrapping_add(t.wait().expect("word_batch")));
    let matrix = matrices.into_iter().map(|t| t.wait().expect("matrix_mul")).sum();
    Summary { primes, words, matrix }
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn main() {
    let gate: &Coordinator = &GATE;
    let workers = gate.workers();

    println!("tokengate quickstart");
    println!("====================");
    println!();
    println!(
        "pool: {workers} worker(s), heavy limit {} (at most that many Heavy tasks at once)",
        gate.heavy_limit()
    );
    let stats = gate.worker_stats();
    let placement: Vec<String> = stats
        .iter()
        .map(|w| match (w.core, w.pinned) {
            (Some(core), true) => format!("worker {} -> core {core}", w.index),
            (Some(core), false) => format!("worker {} -> core {core} (pin failed)", w.index),
            (None, _) => format!("worker {} -> unpinned", w.index),
        })
        .collect();
    println!(
        "pinned: {}  [{}]",
        if gate.is_pinned() { "yes" } else { "no" },
        placement.join(", ")
    );

    // --- 1. Tokens: a guarded call returns one; .await it or wait() on it -------------
    println!();
    println!("1. Tokens");
    let (a, b) = futures::executor::block_on(async {
        let a = is_prime(1_000_000_007);
        let b = is_prime(1_000_000_001);
        (a.await, b.await)
    });
    println!("   .await (futures::executor::block_on): 1_000_000_007 prime? {a:?}, 1_000_000_001 prime? {b:?}");
    let found: Vec<u64> = (PRIME_BASE..PRIME_BASE + 200)
        .map(|n| (n, is_prime(n)))
        .filter_map(|(n, t)| t.wait().expect("guarded call").then_some(n))
        .collect();
    println!(
        "   #[guard] is_prime(n) for n in 10^12 .. 10^12+200 -> {} primes, first {:?}",
        found.len(),
        found.first()
    );
    println!(
        "   #[guard] matrix_mul(7, 64).wait() = {:.4}",
        matrix_mul(7, 64).wait().expect("matrix")
    );
    // The closure form, for ops built at run time: Handle::guard.
    let square = gate.guard(Op::new("square").weight(Weight::Light), |n: u64| n * n);
    println!(
        "   gate.guard(op, f): square(12).wait() = {}",
        square(12).wait().expect("square")
    );

    // --- 2. A mixed batch: serial vs the pool ---------------------------------------
    println!();
    println!("2. Mixed batch");
    let tasks = PRIME_TASKS + WORD_BATCHES * (1 + WORDS_PER_BATCH) + MATRIX_TASKS;
    println!("   {PRIME_TASKS:>6} x prime_check  (Medium)  trial division near 10^12");
    println!(
        "   {WORD_BATCHES:>6} x word_batch   (Medium)  each fans out {WORDS_PER_BATCH} string_ops from inside the pool"
    );
    println!(
        "   {:>6} x string_ops   (Light)   split, uppercase, reverse, join, hash",
        WORD_BATCHES * WORDS_PER_BATCH
    );
    println!("   {MATRIX_TASKS:>6} x matrix_mul   (Heavy)   {MATRIX_N}x{MATRIX_N} f64");
    println!("   {tasks:>6} tasks in all");
    println!();

    let t0 = Instant::now();
    let serial = run_serial();
    let serial_time = t0.elapsed();

    let before = gate.worker_stats();
    let t0 = Instant::now();
    let pooled = run_on_pool();
    let pool_time = t0.elapsed();
    // Graceful shutdown joins the workers, so the counters below are final.
    gate.shutdown();
    let after = gate.worker_stats();

    let speedup = serial_time.as_secs_f64() / pool_time.as_secs_f64();
    println!("   serial (main thread)     {:>9}", secs(serial_time));
    println!("   tokengate ({workers} workers)   {:>9}", secs(pool_time));
    println!(
        "   speedup                  {:>7.2}x   ({:.0}% of the ideal {workers}x)",
        speedup,
        100.0 * speedup / workers as f64
    );
    println!(
        "   same results as serial:  {}   ({} primes, words {:#018x}, matrix sum {:.6})",
        if serial == pooled { "yes" } else { "NO" },
        pooled.primes,
        pooled.words,
        pooled.matrix
    );
    assert_eq!(serial, pooled, "the pool must compute what the serial run does");

    // --- 3. Who did what ---------------------------------------------------------
    println!();
    println!("3. Workers (this batch only)");
    println!("   worker   core   pinned   executed   stolen");
    let mut total = 0;
    for (b, a) in before.iter().zip(&after) {
        let executed = a.executed - b.executed;
        total += executed;
        println!(
            "   {:>6}   {:>4}   {:>6}   {:>8}   {:>6}",
            a.index,
            a.core.map_or("-".to_string(), |c| c.to_string()),
            if a.pinned { "yes" } else { "no" },
            executed,
            a.stolen - b.stolen
        );
    }
    println!("   {:>6}   {:>4}   {:>6}   {:>8}", "total", "", "", total);
    println!();
    println!("   Tasks spawned from main() go through the global injector; taking them is not");
    println!("   stealing. The string_ops spawned inside word_batch land on that worker's own");
    println!("   lanes: the `stolen` column counts those that idle workers took (in batches).");
}
