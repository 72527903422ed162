//! Locality in tokengate: sticky anchors and lead domains, shown by where each task
//! ran, plus a small cache-locality measurement.
//!
//! The fixed ops are declared with `#[tokengate::guard]`, as the prototype's demos use
//! its decorator; the cache demo builds its per-group anchors at run time with
//! `Op::sticky_anchor`.
//!
//! ```text
//! cargo run --release --example locality
//! ```

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::{Duration, Instant};

use tokengate::{current_worker, Coordinator, Op, Token};

/// The demo's pool, named by the guarded functions' `on = GATE`.
static GATE: LazyLock<Coordinator> = LazyLock::new(|| Coordinator::builder().build().expect("start the coordinator"));

/// A starting gate: tasks block on it (holding their worker) until `open`, so that all
/// the tokens of a demo are active at the same time.
#[derive(Default)]
struct StartGate {
    open: Mutex<bool>,
    cv: Condvar,
}

impl StartGate {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }

    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.cv.wait(open).unwrap();
        }
    }
}

fn here() -> usize {
    current_worker().expect("runs on a worker")
}

/// About 50 µs of arithmetic, so that the demo's tasks are not instantaneous.
fn some_work() {
    let mut x = 1u64;
    for i in 0..50_000u64 {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
    }
}

fn workers_of(list: impl IntoIterator<Item = usize>) -> String {
    let set: BTreeSet<usize> = list.into_iter().collect();
    let items: Vec<String> = set.iter().map(|w| w.to_string()).collect();
    format!("{{{}}}", items.join(", "))
}

fn short(seed: &str) -> String {
    format!("{}…{}", &seed[..8], &seed[seed.len() - 4..])
}

// --- 1. Sticky anchors ----------------------------------------------------------------

/// One profile load: the first round holds its anchor's worker until all are queued.
fn load(start: Option<Arc<StartGate>>) -> usize {
    if let Some(start) = start {
        start.wait();
    }
    some_work();
    here()
}

#[tokengate::guard(op = "load_profile", weight = Light, sticky_anchor = "user:alice", on = GATE)]
fn load_alice(start: Option<Arc<StartGate>>) -> usize {
    load(start)
}

#[tokengate::guard(op = "load_profile", weight = Medium, sticky_anchor = "user:bob", on = GATE)]
fn load_bob(start: Option<Arc<StartGate>>) -> usize {
    load(start)
}

#[tokengate::guard(op = "load_profile", weight = Heavy, sticky_anchor = "user:carol", on = GATE)]
fn load_carol(start: Option<Arc<StartGate>>) -> usize {
    load(start)
}

/// No anchor: runs wherever a worker is free.
#[tokengate::guard(on = GATE)]
fn free_task() -> usize {
    some_work();
    here()
}

/// A guarded profile loader, as a plain function pointer.
type Load = fn(Option<Arc<StartGate>>) -> Token<usize>;

fn sticky_demo(gate: &Coordinator) {
    println!("1. Sticky anchors: every active token of an anchor runs on one worker");
    println!();
    let anchors = ["user:alice", "user:bob", "user:carol"];
    let loads: [Load; 3] = [load_alice, load_bob, load_carol];
    let start = Arc::new(StartGate::default());
    let mut tokens: Vec<(usize, Token<usize>)> = Vec::new();
    for round in 0..12 {
        for (a, load) in loads.iter().enumerate() {
            let hold = (round == 0).then(|| Arc::clone(&start));
            tokens.push((a, load(hold)));
        }
    }
    // Free tasks for comparison: they go wherever a worker is free.
    let free: Vec<Token<usize>> = (0..36).map(|_| free_task()).collect();
    let pinned_to: Vec<Option<usize>> = anchors.iter().map(|a| gate.anchor_worker(a)).collect();
    let stats = gate.locality_stats();
    start.open();

    let mut ran_on = vec![Vec::new(); anchors.len()];
    for (a, t) in tokens {
        ran_on[a].push(t.wait().expect("sticky task"));
    }
    for (a, anchor) in anchors.iter().enumerate() {
        println!(
            "   anchor {:<12} pinned to worker {}   {} tasks ran on workers {}",
            format!("{anchor:?}"),
            pinned_to[a].map_or("-".into(), |w| w.to_string()),
            ran_on[a].len(),
            workers_of(ran_on[a].iter().copied()),
        );
    }
    let free: Vec<usize> = free.into_iter().map(|t| t.wait().unwrap()).collect();
    println!(
        "   no anchor               -   {} tasks ran on workers {}",
        free.len(),
        workers_of(free)
    );
    println!(
        "   while queued: {} anchor slots pinned, pinned tasks per worker {:?}",
        stats.pinned_anchor_slots, stats.pinned_tasks
    );
    let after: Vec<Option<usize>> = anchors.iter().map(|a| gate.anchor_worker(a)).collect();
    println!(
        "   after the last token finished: anchor_worker = {after:?} (pins released, {} slots pinned)",
        gate.locality_stats().pinned_anchor_slots
    );
    println!();
}

// --- 2. Lead domains ------------------------------------------------------------------

/// One line of the domain tree: depth, name, worker, seed.
type Line = (usize, String, usize, Option<String>);

#[tokengate::guard(weight = Light)]
fn parse() -> usize {
    here()
}

/// One part of a page: spawns two `parse` children and reports where each ran.
fn fetch(name: &str) -> Vec<Line> {
    let mut lines = vec![(1, name.to_string(), here(), None)];
    let kids: Vec<Token<usize>> = (0..2).map(|_| parse()).collect();
    for k in kids {
        let seed = k.domain_seed();
        lines.push((2, "parse".into(), k.wait().unwrap(), seed));
    }
    lines
}

#[tokengate::guard(weight = Medium)]
fn fetch_header() -> Vec<Line> {
    fetch("fetch_header")
}

#[tokengate::guard(weight = Medium)]
fn fetch_body() -> Vec<Line> {
    fetch("fetch_body")
}

/// The lead: each call opens a domain; its children and grandchildren (spawned from
/// inside it, so on the current pool) stay on its worker.
#[tokengate::guard(external_calls = ["fetch_header", "fetch_body", "parse"], on = GATE)]
fn render_page(start: Arc<StartGate>, page: usize) -> Vec<Line> {
    start.wait(); // both leads are placed before either runs
    let mut lines = vec![(0, format!("render_page #{page} (lead)"), here(), None)];
    for t in [fetch_header(), fetch_body()] {
        let seed = t.domain_seed();
        let mut sub = t.wait().expect("child");
        sub[0].3 = seed;
        lines.extend(sub);
    }
    lines
}

fn domain_demo(gate: &Coordinator) {
    println!("2. Lead domains: a lead's children and grandchildren stay on its worker");
    println!();
    let before = gate.locality_stats();
    let start = Arc::new(StartGate::default());
    let leads: Vec<Token<Vec<Line>>> = (1..=2).map(|page| render_page(Arc::clone(&start), page)).collect();
    let open = gate.locality_stats();
    start.open();
    for t in leads {
        let seed = t.domain_seed().expect("a lead has a seed");
        let lines = t.wait().expect("lead");
        for (depth, name, worker, s) in lines {
            let label = format!("{}{name}", "  ".repeat(depth));
            let s = match s {
                None => format!("seed {}", short(&seed)),
                Some(s) if s == seed => "same seed".to_string(),
                Some(s) => format!("OTHER seed {}", short(&s)),
            };
            println!("   {label:<26} worker {worker}   {s}");
        }
        println!("   {:<26} {seed}", "  full seed (SHA-256):");
    }
    let after = gate.locality_stats();
    println!(
        "   domains opened {} / released {}; pinned tasks per worker while open {:?}, after {:?}",
        after.domains_opened - before.domains_opened,
        after.domains_released - before.domains_released,
        open.pinned_tasks,
        after.pinned_tasks
    );
    println!();
}

// --- 3. Cache locality ----------------------------------------------------------------

const GROUP_KIB: usize = 256;
const TASKS_PER_GROUP: usize = 100;
const STEPS_PER_TASK: usize = 4096;
const REPS: usize = 15;

/// One task's work: a walk through its group's table, as in a lookup structure (tree,
/// graph, hash chains): each step reads a cell, updates it, and follows it to the next
/// cell. The steps depend on each other, so every cache miss is paid in full. Relaxed
/// atomic loads and stores are plain moves; they only make the sharing legal.
fn update(data: &[AtomicU64], salt: u64) -> u64 {
    let n = data.len();
    let mut i = (salt as usize).wrapping_mul(7_919) % n;
    let mut sum = 0u64;
    for _ in 0..STEPS_PER_TASK {
        let v = data[i].load(Ordering::Relaxed);
        data[i].store(v.wrapping_add(1), Ordering::Relaxed);
        sum = sum.wrapping_add(v);
        i = ((v ^ i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20) as usize % n;
    }
    sum
}

/// Runs every group's tasks, arriving round-robin over the groups (mixed traffic).
fn one_run(
    gate: &Coordinator,
    groups: &[Arc<Vec<AtomicU64>>],
    ops: &[Op<tokengate::Sticky>],
    sticky: bool,
) -> Duration {
    let free = Op::new("update_group");
    let t0 = Instant::now();
    let mut tokens = Vec::with_capacity(groups.len() * TASKS_PER_GROUP);
    for i in 0..TASKS_PER_GROUP {
        for (g, data) in groups.iter().enumerate() {
            let data = Arc::clone(data);
            let work = move || update(&data, i as u64);
            tokens.push(if sticky {
                gate.spawn(&ops[g], work)
            } else {
                gate.spawn(&free, work)
            });
        }
    }
    let mut check = 0u64;
    for t in tokens {
        check = check.wrapping_add(t.wait().expect("update"));
    }
    std::hint::black_box(check);
    t0.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn cache_demo(gate: &Coordinator) {
    let n_groups = 2 * gate.workers();
    println!(
        "3. Cache locality: {n_groups} groups x {GROUP_KIB} KiB of u64, {TASKS_PER_GROUP} tasks per group, each walking"
    );
    println!("   {STEPS_PER_TASK} linked cells of its group (read + update); tasks arrive round-robin over the");
    println!("   groups; median of {REPS} runs of each mode");
    println!();
    let groups: Vec<Arc<Vec<AtomicU64>>> = (0..n_groups)
        .map(|g| {
            Arc::new(
                (0..GROUP_KIB * 1024 / 8)
                    .map(|i| AtomicU64::new((g * 1_000_003 + i) as u64))
                    .collect(),
            )
        })
        .collect();
    let ops: Vec<Op<tokengate::Sticky>> = (0..n_groups)
        .map(|g| Op::new("update_group").sticky_anchor(format!("group-{g}")))
        .collect();

    // Warm up both modes once, then alternate so drift affects both alike.
    one_run(gate, &groups, &ops, false);
    one_run(gate, &groups, &ops, true);
    let (mut free, mut sticky) = (Vec::new(), Vec::new());
    for _ in 0..REPS {
        free.push(one_run(gate, &groups, &ops, false));
        sticky.push(one_run(gate, &groups, &ops, true));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (f_min, s_min) = (*free.iter().min().unwrap(), *sticky.iter().min().unwrap());
    let (f, s) = (median(free), median(sticky));
    println!("                   median       fastest");
    println!("   without anchor  {:>8.2} ms  {:>8.2} ms", ms(f), ms(f_min));
    println!("   sticky anchor   {:>8.2} ms  {:>8.2} ms", ms(s), ms(s_min));
    println!(
        "   ratio (without / sticky): {:.2}x median, {:.2}x fastest",
        ms(f) / ms(s),
        ms(f_min) / ms(s_min)
    );
    println!();
    println!("   With an anchor per group, each group's table stays in one core's cache. Without");
    println!("   one, a group's tasks run on whichever core is free, and every line the other core");
    println!("   just wrote must move across first. The size of the effect depends on the machine's");
    println!("   cache sizes and on what else is running on it.");
}

fn main() {
    let gate: &Coordinator = &GATE;
    println!("tokengate locality demo");
    println!("=======================");
    println!(
        "pool: {} workers, pinned: {}",
        gate.workers(),
        if gate.is_pinned() { "yes" } else { "no" }
    );
    println!();
    sticky_demo(gate);
    domain_demo(gate);
    cache_demo(gate);
    gate.shutdown();
}
