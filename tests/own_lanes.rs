//! A worker's own lanes after a batch steal (`src/lanes.rs`, `LocalLanes::maybe`).

use std::sync::mpsc;
use std::time::Duration;

use tokengate::{Coordinator, Op, Weight};

/// On one worker (no thief to rescue a stranded task), a batch steal from the
/// injector leaves tasks in the worker's own Light lane, and every one of them must
/// still be found there. (Caught when `LocalLanes::fill` stops setting the lane's
/// "maybe non-empty" bit: the worker then spins on work it cannot see.)
#[test]
fn batch_stolen_tasks_are_found_on_one_worker() {
    let gate = Coordinator::builder().workers(1).build().unwrap();
    let op = Op::new("own-lanes").weight(Weight::Light);
    let (release, gate_open) = mpsc::channel::<()>();
    let blocker = gate.spawn(&op, move || gate_open.recv().unwrap());
    // Queued on the injector while the only worker is busy.
    let tokens: Vec<_> = (0..64u32).map(|i| gate.spawn(&op, move || i)).collect();
    release.send(()).unwrap();
    assert!(blocker.wait_timeout(Duration::from_secs(10)));
    for (i, t) in tokens.iter().enumerate() {
        assert!(
            t.wait_timeout(Duration::from_secs(10)),
            "task {i} stranded in an own lane"
        );
    }
    let sum: u32 = tokens.into_iter().map(|t| t.wait().unwrap()).sum();
    assert_eq!(sum, (0..64).sum());
}
