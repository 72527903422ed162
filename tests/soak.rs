//! A seeded, randomized conservation soak over the public API (issue 10).
//!
//! Each round builds a small pool (1 to 3 workers, either help policy), runs a random
//! sequence of actions from [`ACTIONS`] (plain spawns, panics, cancels, dropped
//! tokens, time-outs, anchors, domains, joins, `join_all`), then ends the pool one of
//! three ways (wait then `shutdown`, `shutdown` with work queued, or a drop with work
//! queued) and checks conservation:
//!
//! - every closure runs at most once, and runs if and only if its token says so
//!   (`Ok`/`Panicked` ran it; `Cancelled`/`Shutdown` did not);
//! - every token resolves once, with the variant its action allows;
//! - everything created (closures and results, counted by drop probes) is dropped.
//!
//! It prints its seed; `TOKENGATE_SOAK_SEED=<n>` replays one, and
//! `TOKENGATE_SOAK_SECS=<s>` sets how long it runs (default 30). To cover a new API
//! (storage, control-plane calls), add a function to [`ACTIONS`].

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::LIMIT;
use tokengate::{Coordinator, HelpPolicy, Op, TaskError, Token, Weight};

/// splitmix64: a small, seedable generator (the soak needs replay, not quality).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Counts what was created and dropped, and how often each closure ran.
#[derive(Default)]
struct Ledger {
    probes_made: AtomicUsize,
    probes_dropped: AtomicUsize,
    runs: Vec<AtomicUsize>,
}

/// Moved into every closure and carried by every result: counts drops.
struct Probe(Arc<Ledger>);

impl Probe {
    fn new(ledger: &Arc<Ledger>) -> Probe {
        ledger.probes_made.fetch_add(1, SeqCst);
        Probe(Arc::clone(ledger))
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.probes_dropped.fetch_add(1, SeqCst);
    }
}

/// A result value: the closure's slot id, plus a probe.
struct Value(usize, #[allow(dead_code)] Probe);

/// What the resolution of an outer token may be.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Expect {
    /// Runs and returns its slot id (or `Shutdown` if the pool went away first).
    Value,
    /// Runs and panics (or `Shutdown`).
    Panic,
    /// `cancel()` returned true: `Cancelled`, never ran.
    Cancelled,
    /// Runs and returns a value whose content is not checked (composite tasks).
    Any,
}

struct Tracked {
    token: Token<Value>,
    slot: usize,
    expect: Expect,
}

/// One round's state, handed to each action.
struct Round<'a> {
    rng: &'a mut Rng,
    gate: &'a Coordinator,
    ledger: Arc<Ledger>,
    next_slot: usize,
    tracked: Vec<Tracked>,
}

const SLOTS: usize = 4096;

impl Round<'_> {
    fn slot(&mut self) -> usize {
        let s = self.next_slot;
        self.next_slot += 1;
        assert!(s < SLOTS, "round used more slots than the ledger holds");
        s
    }
    fn op(&mut self) -> Op {
        let weight = [Weight::Light, Weight::Medium, Weight::Heavy][self.rng.below(3) as usize];
        Op::new("soak").weight(weight)
    }
    /// A closure that records its run and returns `Value(slot)`, or panics.
    fn body(&mut self, slot: usize, panic: bool) -> impl FnOnce() -> Value + Send + 'static {
        let probe = Probe::new(&self.ledger);
        let ledger = Arc::clone(&self.ledger);
        move || {
            let probe = probe;
            ledger.runs[slot].fetch_add(1, SeqCst);
            if panic {
                panic!("soak panic {slot}");
            }
            Value(slot, Probe::new(&probe.0))
        }
    }
    fn track(&mut self, token: Token<Value>, slot: usize, expect: Expect) {
        self.tracked.push(Tracked { token, slot, expect });
    }
}

type Action = fn(&mut Round<'_>);

/// The table of actions; each is picked with equal chance. Add new API calls here.
const ACTIONS: &[(&str, Action)] = &[
    ("spawn", |r| {
        let (slot, op) = (r.slot(), r.op());
        let t = {
            let b = r.body(slot, false);
            r.gate.spawn(&op, b)
        };
        r.track(t, slot, Expect::Value);
    }),
    ("spawn_panic", |r| {
        let (slot, op) = (r.slot(), r.op());
        let t = {
            let b = r.body(slot, true);
            r.gate.spawn(&op, b)
        };
        r.track(t, slot, Expect::Panic);
    }),
    ("cancel", |r| {
        let (slot, op) = (r.slot(), r.op());
        let t = {
            let b = r.body(slot, false);
            r.gate.spawn(&op, b)
        };
        let expect = if t.cancel() { Expect::Cancelled } else { Expect::Value };
        r.track(t, slot, expect);
    }),
    ("drop_token", |r| {
        let (slot, op) = (r.slot(), r.op());
        drop({
            let p = r.rng.chance(20);
            let b = r.body(slot, p);
            r.gate.spawn(&op, b)
        });
    }),
    ("timeout", |r| {
        let (slot, op) = (r.slot(), r.op());
        let t = {
            let b = r.body(slot, false);
            r.gate.spawn(&op, b)
        };
        let _ = t.wait_timeout(Duration::from_micros(r.rng.below(500)));
        r.track(t, slot, Expect::Value);
    }),
    ("anchor", |r| {
        let slot = r.slot();
        let anchor = ["a", "b", "c"][r.rng.below(3) as usize];
        let op = Op::new("soak-anchor").sticky_anchor(anchor);
        let t = {
            let p = r.rng.chance(10);
            let b = r.body(slot, p);
            r.gate.spawn(&op, b)
        };
        r.track(t, slot, Expect::Any);
    }),
    ("domain", |r| {
        // A lead whose children (some panicking, some cancelled, some dropped) run in
        // its domain; it waits on the rest.
        let slot = r.slot();
        let kids: Vec<(usize, bool, u64)> = (0..r.rng.below(6))
            .map(|_| (r.slot(), r.rng.chance(15), r.rng.below(3)))
            .collect();
        let bodies: Vec<_> = kids.iter().map(|&(s, p, fate)| (r.body(s, p), fate)).collect();
        let probe = Probe::new(&r.ledger);
        let ledger = Arc::clone(&r.ledger);
        let lead = Op::new("soak-lead").external_calls(["soak-kid"]);
        let t = r.gate.spawn(&lead, move || {
            let _probe = probe;
            ledger.runs[slot].fetch_add(1, SeqCst);
            let kid = Op::new("soak-kid");
            let tokens: Vec<_> = bodies
                .into_iter()
                .filter_map(|(b, fate)| {
                    let t = tokengate::spawn(&kid, b);
                    match fate {
                        0 => Some(t),
                        1 => {
                            t.cancel();
                            Some(t)
                        }
                        _ => None,
                    }
                })
                .collect();
            for t in tokens {
                let _ = t.wait();
            }
            Value(slot, Probe::new(&ledger))
        });
        r.track(t, slot, Expect::Any);
    }),
    ("join", |r| {
        // Nested joins over borrowed data, one half panicking now and then.
        let slot = r.slot();
        let panic_half = r.rng.chance(10);
        let probe = Probe::new(&r.ledger);
        let ledger = Arc::clone(&r.ledger);
        let op = r.op();
        let t = r.gate.spawn(&op, move || {
            let _probe = probe;
            ledger.runs[slot].fetch_add(1, SeqCst);
            fn sum(xs: &[u64], panic: bool) -> u64 {
                if xs.len() <= 4 {
                    if panic && xs.contains(&7) {
                        panic!("soak join panic");
                    }
                    return xs.iter().sum();
                }
                let (l, r) = xs.split_at(xs.len() / 2);
                let (a, b) = tokengate::join(|| sum(l, panic), || sum(r, panic));
                a + b
            }
            let data: Vec<u64> = (0..64).collect();
            assert_eq!(sum(&data, panic_half), (0..64).sum::<u64>());
            Value(slot, Probe::new(&ledger))
        });
        r.track(t, slot, if panic_half { Expect::Panic } else { Expect::Value });
    }),
    ("join_all", |r| {
        let n = r.rng.below(5);
        let mut parts = Vec::new();
        for _ in 0..n {
            let (slot, op, panic) = (r.slot(), r.op(), r.rng.chance(15));
            parts.push((slot, panic, {
                let b = r.body(slot, panic);
                r.gate.spawn(&op, b)
            }));
        }
        let (meta, tokens): (Vec<_>, Vec<_>) = parts.into_iter().map(|(s, p, t)| ((s, p), t)).unzip();
        let results = tokengate::join_all(tokens).wait();
        for ((slot, panic), result) in meta.into_iter().zip(results) {
            check_one(
                &r.ledger,
                slot,
                if panic { Expect::Panic } else { Expect::Value },
                result,
            );
        }
    }),
    ("spawn_inside", |r| {
        // A task that spawns children and drops or cancels some of their tokens.
        let slot = r.slot();
        let kids: Vec<(usize, u64)> = (0..r.rng.below(5)).map(|_| (r.slot(), r.rng.below(3))).collect();
        let bodies: Vec<_> = kids.iter().map(|&(s, fate)| (r.body(s, false), fate)).collect();
        let probe = Probe::new(&r.ledger);
        let ledger = Arc::clone(&r.ledger);
        let op = r.op();
        let t = r.gate.spawn(&op, move || {
            let _probe = probe;
            ledger.runs[slot].fetch_add(1, SeqCst);
            let kid = Op::new("soak-child");
            for (b, fate) in bodies {
                let t = tokengate::spawn(&kid, b);
                match fate {
                    0 => {
                        let _ = t.wait();
                    }
                    1 => {
                        t.cancel();
                    }
                    _ => {}
                }
            }
            Value(slot, Probe::new(&ledger))
        });
        r.track(t, slot, Expect::Any);
    }),
];

/// Checks one outer token's result against what its action allows, and the run count.
fn check_one(ledger: &Ledger, slot: usize, expect: Expect, result: Result<Value, TaskError>) {
    let runs = ledger.runs[slot].load(SeqCst);
    assert!(runs <= 1, "slot {slot} ran {runs} times");
    match (&result, expect) {
        (Ok(Value(s, _)), Expect::Value | Expect::Any) => {
            assert_eq!(*s, slot, "slot {slot} got another task's value");
            assert_eq!(runs, 1, "slot {slot} resolved Ok but never ran");
        }
        (Err(TaskError::Panicked { .. }), Expect::Panic | Expect::Any) => {
            assert_eq!(runs, 1, "slot {slot} resolved Panicked but never ran")
        }
        (Err(TaskError::Cancelled), Expect::Cancelled) => assert_eq!(runs, 0, "slot {slot} cancelled but ran"),
        (Err(TaskError::Shutdown), Expect::Value | Expect::Panic | Expect::Any) => {
            assert_eq!(runs, 0, "slot {slot} resolved Shutdown but ran")
        }
        _ => panic!("slot {slot}: {expect:?} resolved as {:?}", result.as_ref().err()),
    }
}

fn round(rng: &mut Rng) -> usize {
    let workers = 1 + rng.below(3) as usize;
    let policy = if rng.chance(30) {
        HelpPolicy::OwnLanes
    } else {
        HelpPolicy::Any
    };
    let ledger = Arc::new(Ledger {
        runs: (0..SLOTS).map(|_| AtomicUsize::new(0)).collect(),
        ..Ledger::default()
    });
    let gate = Coordinator::builder()
        .workers(workers)
        .pin_workers(false)
        .help_policy(policy)
        .build()
        .expect("build");
    let actions = 20 + rng.below(200) as usize;
    let mut r = Round {
        rng,
        gate: &gate,
        ledger: Arc::clone(&ledger),
        next_slot: 0,
        tracked: Vec::new(),
    };
    for _ in 0..actions {
        let pick = r.rng.below(ACTIONS.len() as u64) as usize;
        (ACTIONS[pick].1)(&mut r);
    }
    let (tracked, ending) = (std::mem::take(&mut r.tracked), r.rng.below(3));
    drop(r);
    match ending {
        0 => {
            for t in tracked {
                assert!(t.token.wait_timeout(LIMIT), "slot {} never resolved", t.slot);
                check_one(&ledger, t.slot, t.expect, t.token.wait());
            }
            gate.shutdown();
        }
        1 => {
            gate.shutdown();
            for t in tracked {
                assert!(t.token.is_finished(), "slot {} unresolved after shutdown", t.slot);
                check_one(&ledger, t.slot, t.expect, t.token.wait());
            }
        }
        _ => {
            drop(gate);
            for t in tracked {
                assert!(t.token.wait_timeout(LIMIT), "slot {} unresolved after drop", t.slot);
                check_one(&ledger, t.slot, t.expect, t.token.wait());
            }
        }
    }
    for (slot, runs) in ledger.runs.iter().enumerate() {
        assert!(runs.load(SeqCst) <= 1, "slot {slot} ran more than once");
    }
    let (made, dropped) = (ledger.probes_made.load(SeqCst), ledger.probes_dropped.load(SeqCst));
    assert_eq!(
        made, dropped,
        "{made} probes created, {dropped} dropped: something leaked"
    );
    actions
}

#[test]
fn soak() {
    let seed = std::env::var("TOKENGATE_SOAK_SEED")
        .ok()
        .map(|s| s.parse::<u64>().expect("TOKENGATE_SOAK_SEED must be a u64"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let secs = std::env::var("TOKENGATE_SOAK_SECS")
        .ok()
        .map(|s| {
            s.parse::<u64>()
                .expect("TOKENGATE_SOAK_SECS must be a number of seconds")
        })
        .unwrap_or(30);
    println!("soak: seed {seed} (replay with TOKENGATE_SOAK_SEED={seed}), {secs} s");
    // The soak's own panics are expected by the thousand: keep them off stderr.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if !text.starts_with("soak ") {
            default_hook(info);
        }
    }));
    let mut rng = Rng(seed);
    let end = Instant::now() + Duration::from_secs(secs);
    let (mut rounds, mut actions, mut slowest) = (0, 0, Duration::ZERO);
    // Always at least one round, so a replay of a seed runs its first round.
    loop {
        let began = Instant::now();
        actions += round(&mut rng);
        slowest = slowest.max(began.elapsed());
        rounds += 1;
        if Instant::now() >= end {
            break;
        }
    }
    println!("soak: {rounds} rounds, {actions} actions, slowest round {slowest:?}, seed {seed}");
}
