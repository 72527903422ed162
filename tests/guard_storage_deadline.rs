//! PENDING (issue 14): `#[tokengate::guard]` with `storage_speed` and `deadline`.
//!
//! These tags generate calls of `Op::storage_speed` (on `Op<Free>`, returning
//! `Op<Storage>`) and `Op::deadline` (on every `Op<K>`), which land on other branches.
//! Move this file to `tests/guard_storage_deadline.rs` once both are merged; it needs
//! `::tokengate::{Storage, StorageSpeed}` exported from the crate root.

mod common;

use std::sync::LazyLock;

use common::get;
use tokengate::{Coordinator, Token};

static GATE: LazyLock<Coordinator> =
    LazyLock::new(|| Coordinator::builder().workers(2).pin_workers(false).build().unwrap());

/// The example: a named op, heavy, on moderate storage.
#[tokengate::guard(op = "data_processing", weight = Heavy, storage_speed = Moderate)]
fn process(batch: Vec<u8>) -> std::io::Result<usize> {
    Ok(batch.len())
}

#[tokengate::guard(storage_speed = Slow, on = GATE)]
fn slow_store(n: u64) -> u64 {
    n + 1
}

#[tokengate::guard(storage_speed = Fast, deadline = "30s", on = GATE)]
fn fast_store_with_deadline(n: u64) -> u64 {
    n * 2
}

#[tokengate::guard(storage_speed = Insane)]
fn insane_store() -> &'static str {
    "insane"
}

#[tokengate::guard(weight = Light, deadline = "30000ms", on = GATE)]
fn quick(n: u64) -> u64 {
    n
}

#[tokengate::guard(sticky_anchor = "deadline_anchor", deadline = "30000000us", on = GATE)]
fn sticky_with_deadline() -> u64 {
    7
}

#[tokengate::guard(external_calls = ["quick"], deadline = "30s", on = GATE)]
fn lead_with_deadline() -> u64 {
    quick(3).wait().unwrap()
}

#[tokengate::guard(deadline = "30000000000ns")]
fn nanos() -> u64 {
    1
}

#[test]
fn storage_speed_ops_run_and_return_their_results() {
    let t: Token<std::io::Result<usize>> = process(vec![1, 2, 3]);
    assert_eq!(get(t).unwrap().unwrap(), 3);
    assert_eq!(get(slow_store(1)), Ok(2));
    assert_eq!(get(fast_store_with_deadline(4)), Ok(8));
    assert_eq!(get(insane_store()), Ok("insane"));
}

#[test]
fn deadline_on_every_kind_of_op() {
    // Generous deadlines: these check that the tag builds and the call completes,
    // not how expiry behaves (that belongs to the deadline branch's own tests).
    assert_eq!(get(quick(5)), Ok(5));
    assert_eq!(get(sticky_with_deadline()), Ok(7));
    assert_eq!(get(lead_with_deadline()), Ok(3));
    assert_eq!(get(nanos()), Ok(1));
}
