//! Compile-time errors of `#[tokengate::guard]`, checked against the committed
//! `tests/ui/*.stderr` (regenerate with `TRYBUILD=overwrite`, then review the diff).
//!
//! - `guard_tags.rs`: unknown, misspelled, duplicate and conflicting tags.
//! - `guard_signature.rs`: what cannot become a task (`async fn`, borrowed `self`,
//!   borrowed or `impl Trait` arguments, lifetime parameters, ...).
//! - `guard_send.rs`: arguments and results that are not `Send + 'static`, reported
//!   on the argument's type by the generated assertions.

#![cfg(feature = "macros")]

#[test]
fn guard_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/guard_*.rs");
}
