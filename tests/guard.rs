//! `#[tokengate::guard]`: what the generated functions do at run time.
//!
//! Each test uses its own static pool through `on = ...` where it needs to know the
//! pool, and synchronises with latches and tokens, never with `sleep`. Every wait is
//! bounded (`common::get`, `Latch::wait`).

#![cfg(feature = "macros")]
// The generated code must not warn in a user's crate (unused `mut`, dead code, ...).
#![deny(warnings)]

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};

use common::{get, Latch};
use tokengate::{current_worker, Coordinator, Handle, TaskError, Token};

static GATE: LazyLock<Coordinator> =
    LazyLock::new(|| Coordinator::builder().workers(3).pin_workers(false).build().unwrap());
static GATE_HANDLE: LazyLock<Handle> = LazyLock::new(|| GATE.handle());
static ONE: LazyLock<Coordinator> =
    LazyLock::new(|| Coordinator::builder().workers(1).pin_workers(false).build().unwrap());

fn pool_size() -> usize {
    Handle::current().expect("runs in a task").workers()
}

// --- results, the inline twin, the default and current pools ------------------------

/// Trial division.
#[tokengate::guard(weight = Medium)]
fn prime_check(n: u64) -> bool {
    n > 1 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}

#[test]
fn a_call_returns_a_token_of_the_result() {
    let t: Token<bool> = prime_check(7919);
    assert_eq!(get(t), Ok(true));
    assert_eq!(get(prime_check(7917)), Ok(false));
    // The body, inline: no token.
    assert!(prime_check_inline(7919));
    assert!(!prime_check_inline(1));
}

#[tokengate::guard]
fn where_am_i() -> (Option<usize>, usize) {
    (current_worker(), pool_size())
}

#[test]
fn without_on_a_call_runs_on_the_current_tasks_pool_or_the_default_one() {
    // From outside any task: the default coordinator.
    let (worker, size) = get(where_am_i()).unwrap();
    assert!(worker.is_some());
    assert_eq!(size, tokengate::default_coordinator().workers());
    // From inside a task of GATE (3 workers): GATE.
    let inner = GATE.spawn(&tokengate::Op::new("outer"), || get(where_am_i()).unwrap());
    assert_eq!(get(inner).unwrap().1, 3);
}

#[tokengate::guard(on = GATE)]
fn explode(n: u64) -> u64 {
    if n == 0 {
        panic!("guarded boom");
    }
    n
}

#[test]
fn a_panic_resolves_the_token_as_panicked() {
    match get(explode(0)) {
        Err(TaskError::Panicked { message }) => assert!(message.contains("guarded boom"), "{message}"),
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_eq!(get(explode(5)), Ok(5));
}

/// Patterns and `mut` arguments keep working in the body.
#[tokengate::guard(op = "patterns", weight = Light, on = GATE)]
fn patterns((a, b): (u64, u64), mut n: u64, _: u8) -> u64 {
    n += a * b;
    n
}

#[test]
fn pattern_and_mut_arguments() {
    assert_eq!(get(patterns((3, 4), 1, 0)), Ok(13));
    assert_eq!(patterns_inline((3, 4), 1, 0), 13);
}

/// Doc comments and other attributes stay on the generated function; `cfg` and
/// `allow` reach the `_inline` twin too.
#[tokengate::guard(on = GATE)]
#[must_use = "a token"]
#[inline]
#[allow(clippy::needless_return)]
fn attributed(n: u64) -> u64 {
    return n + 1;
}

// If the macro dropped this `cfg`, the body would not compile.
#[tokengate::guard]
#[cfg(any())]
fn configured_out() -> u64 {
    this_function_does_not_exist()
}

#[test]
fn attributes_are_kept() {
    assert_eq!(get(attributed(1)), Ok(2));
    assert_eq!(attributed_inline(1), 2);
}

// --- weights -------------------------------------------------------------------------

#[tokengate::guard(weight = Heavy, on = GATE)]
fn heavy_permits() -> usize {
    Handle::current().unwrap().heavy_running()
}

#[tokengate::guard(weight = Light, on = ONE)]
fn light_permits() -> usize {
    Handle::current().unwrap().heavy_running()
}

#[test]
fn the_weight_tag_reaches_the_op() {
    // A Heavy task holds a heavy permit while it runs; a Light one does not (no test
    // runs Heavy work on ONE, so its count is exact).
    assert!(get(heavy_permits()).unwrap() >= 1);
    assert_eq!(get(light_permits()), Ok(0));
}

// --- on = ... ------------------------------------------------------------------------

#[tokengate::guard(on = GATE_HANDLE)]
fn via_handle() -> usize {
    pool_size()
}

#[tokengate::guard(on = crate::ONE)]
fn via_path() -> usize {
    pool_size()
}

#[test]
fn on_targets_the_named_pool() {
    assert_eq!(get(via_handle()), Ok(3));
    assert_eq!(get(via_path()), Ok(1));
    // Even from inside a task of another pool.
    let t = GATE.spawn(&tokengate::Op::new("outer"), || get(via_path()).unwrap());
    assert_eq!(get(t), Ok(1));
}

// --- generics ------------------------------------------------------------------------

#[tokengate::guard(weight = Light, on = GATE)]
fn describe<T: std::fmt::Debug + Send + 'static>(x: T) -> String {
    format!("{x:?}")
}

#[tokengate::guard(on = GATE)]
fn total<const N: usize>(xs: [u64; N]) -> u64
where
    [u64; N]: Send,
{
    xs.iter().sum()
}

#[tokengate::guard(on = GATE)]
fn make_default<T: Default + Send + 'static>() -> T {
    T::default()
}

#[test]
fn generic_functions() {
    assert_eq!(get(describe(5u8)), Ok("5".to_string()));
    assert_eq!(get(describe(vec!["a"])), Ok("[\"a\"]".to_string()));
    assert_eq!(get(total([1, 2, 3])), Ok(6));
    assert_eq!(get(total([1; 10])), Ok(10));
    assert_eq!(get(make_default::<String>()), Ok(String::new()));
    assert_eq!(get(make_default::<u32>()), Ok(0));
    assert_eq!(describe_inline(1.5), "1.5");
}

// --- methods -------------------------------------------------------------------------

struct Counter {
    base: u64,
}

impl Counter {
    /// An associated function that names `Self`.
    #[tokengate::guard(on = GATE)]
    fn new(base: u64) -> Self {
        Counter { base }
    }

    #[tokengate::guard(on = GATE)]
    fn add(self, k: u64) -> u64 {
        self.base + k
    }

    #[tokengate::guard(on = GATE)]
    fn bump(mut self, k: u64) -> u64 {
        self.base += k;
        self.base
    }

    #[tokengate::guard(weight = Light, on = GATE)]
    fn shared(self: Arc<Self>, k: u64) -> (u64, Option<usize>) {
        (self.base * k, current_worker())
    }
}

/// A method of a generic type: the one static op is shared by every `T`.
struct Wrapper<T>(T);

impl<T: Send + 'static> Wrapper<T> {
    #[tokengate::guard(weight = Light, on = GATE)]
    fn into_inner(self) -> T {
        self.0
    }
}

#[test]
fn methods_of_generic_types() {
    assert_eq!(get(Wrapper(5u8).into_inner()), Ok(5));
    assert_eq!(get(Wrapper("s".to_string()).into_inner()), Ok("s".to_string()));
}

#[test]
fn methods_by_value_and_arc_self() {
    let c = get(Counter::new(10)).unwrap();
    assert_eq!(get(c.add(5)), Ok(15));
    assert_eq!(get(Counter { base: 1 }.bump(2)), Ok(3));
    let shared = Arc::new(Counter { base: 7 });
    let (v, worker) = get(Arc::clone(&shared).shared(3)).unwrap();
    assert_eq!(v, 21);
    assert!(worker.is_some());
    assert_eq!(Counter::add_inline(Counter { base: 1 }, 1), 2);
    assert_eq!(Arc::strong_count(&shared), 1, "the task dropped its Arc");
}

// --- recursion -----------------------------------------------------------------------

/// A token per call, each waiting on its child: on one worker, `wait` runs the child.
#[tokengate::guard(weight = Light, on = ONE)]
fn fib(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let child = fib(n - 1);
    fib_inline(n - 2) + child.wait().expect("child")
}

#[test]
fn recursion_with_one_worker_does_not_deadlock() {
    assert_eq!(get(fib(15)), Ok(610));
    assert_eq!(fib_inline(10), 55);
}

// --- locality ------------------------------------------------------------------------

#[tokengate::guard(weight = Medium, sticky_anchor = "guard_test_anchor", on = GATE)]
fn anchored(hold: Option<Arc<Latch>>) -> usize {
    if let Some(latch) = hold {
        latch.wait();
    }
    current_worker().unwrap()
}

#[test]
fn sticky_anchor_through_the_attribute() {
    let latch = Latch::new();
    // The first token holds the anchor active until every other one is queued.
    let first = anchored(Some(Arc::clone(&latch)));
    common::spin_until("the anchor to be pinned", || {
        GATE.anchor_worker("guard_test_anchor").is_some()
    });
    let pinned = GATE.anchor_worker("guard_test_anchor").unwrap();
    let rest: Vec<_> = (0..20).map(|_| anchored(None)).collect();
    latch.open();
    let mut ran_on: BTreeSet<usize> = rest.into_iter().map(|t| get(t).unwrap()).collect();
    ran_on.insert(get(first).unwrap());
    assert_eq!(ran_on, BTreeSet::from([pinned]));
}

#[tokengate::guard(weight = Light)]
fn child_op(n: u64) -> (u64, Option<usize>) {
    (n * 2, current_worker())
}

/// The lead's worker, and each child's value and worker.
type LeadResult = (usize, Vec<(u64, Option<usize>)>);

#[tokengate::guard(weight = Medium, external_calls = ["child_op"], on = GATE)]
fn lead_operation(n: u64) -> LeadResult {
    let kids: Vec<_> = (0..8).map(|i| child_op(n + i)).collect();
    (
        current_worker().unwrap(),
        kids.into_iter().map(|t| t.wait().unwrap()).collect(),
    )
}

#[test]
fn lead_domain_through_the_attribute() {
    let t = lead_operation(10);
    assert_eq!(
        t.domain_seed().map(|s| s.len()),
        Some(64),
        "a lead token has a domain seed"
    );
    let (lead_worker, kids) = get(t).unwrap();
    for (i, (v, worker)) in kids.into_iter().enumerate() {
        assert_eq!(v, 2 * (10 + i as u64));
        assert_eq!(worker, Some(lead_worker), "child {i} left the lead's domain");
    }
    // A plain op has no seed.
    assert_eq!(prime_check(3).domain_seed(), None);
}
