//! Scenario 5, fib: a spawn per call, each waiting on its child.

use std::sync::OnceLock;

use tokengate::{Coordinator, Handle, Op, Weight};

/// The fib argument.
pub const FIB_N: u64 = 25;

/// fib(n), sequentially (the checksum).
pub fn fib_serial(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib_serial(n - 1) + fib_serial(n - 2)
    }
}

fn fib_op() -> &'static Op {
    static OP: OnceLock<Op> = OnceLock::new();
    OP.get_or_init(|| Op::new("fib").weight(Weight::Light))
}

fn fib_tg(h: &Handle, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let child = h.clone();
    let a = h.spawn(fib_op(), move || fib_tg(&child, n - 1));
    let b = fib_tg(h, n - 2);
    a.wait().expect("fib task") + b
}

/// tokengate: the root is spawned from outside; each call spawns its `n - 1` child
/// through a `Handle`, computes `n - 2` inline, and waits on the child.
pub fn fib_tokengate(gate: &Coordinator, n: u64) -> u64 {
    let h = gate.handle();
    gate.spawn(fib_op(), move || fib_tg(&h, n)).wait().expect("fib root")
}

fn fib_tg_free(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let a = tokengate::spawn(fib_op(), move || fib_tg_free(n - 1));
    let b = fib_tg_free(n - 2);
    a.wait().expect("fib task") + b
}

/// The same recursion through the free function `tokengate::spawn`, which inside a
/// task spawns on that task's coordinator: no `Handle` is cloned per call.
pub fn fib_tokengate_free(gate: &Coordinator, n: u64) -> u64 {
    gate.spawn(fib_op(), move || fib_tg_free(n)).wait().expect("fib root")
}

/// The same recursion as `fib_tg_free`, written with `#[tokengate::guard]`: the op is
/// built once in the generated static, and each call is a `tokengate::spawn`.
#[tokengate::guard(op = "fib", weight = Light)]
fn fib_guarded(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let a = fib_guarded(n - 1);
    let b = fib_guarded_inline(n - 2);
    a.wait().expect("fib task") + b
}

/// fib through `#[tokengate::guard]`: should cost what `fib_tokengate_free` costs.
pub fn fib_tokengate_guard(gate: &Coordinator, n: u64) -> u64 {
    gate.spawn(fib_op(), move || fib_guarded_inline(n))
        .wait()
        .expect("fib root")
}

fn fib_tg_join(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = tokengate::join(|| fib_tg_join(n - 1), || fib_tg_join(n - 2));
    a + b
}

/// tokengate's fork-join, `tokengate::join` per call (a stack job, no token), inside
/// one spawned root task: the same shape as the rayon peer.
pub fn fib_tokengate_join(gate: &Coordinator, n: u64) -> u64 {
    gate.spawn(fib_op(), move || fib_tg_join(n)).wait().expect("fib root")
}

fn fib_join(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = rayon::join(|| fib_join(n - 1), || fib_join(n - 2));
    a + b
}

/// rayon: `rayon::join` per call, inside `install`.
pub fn fib_rayon(pool: &rayon::ThreadPool, n: u64) -> u64 {
    pool.install(|| fib_join(n))
}
