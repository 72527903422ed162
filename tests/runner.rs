//! Runs every demo of the `runner` example (`examples/runner/`) in quick mode: each
//! checks its results against a direct computation and that every token resolved.

#![cfg(feature = "macros")]

#[path = "../examples/runner/demos/mod.rs"]
mod demos;

#[test]
fn runner_all_quick() {
    let mut ctx = demos::Ctx::new(true, 0x5eed_1234_abcd);
    let failed = demos::run_all(&mut ctx);
    assert_eq!(failed, 0, "failed checks: {:#?}", ctx.failures);
    assert!(ctx.checks > 100, "the demos ran their checks ({})", ctx.checks);
}
