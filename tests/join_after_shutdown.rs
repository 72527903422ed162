//! `tokengate::join` from outside any pool while the default coordinator shuts down.
//! In its own test binary, because it shuts down the process-wide default pool.

use std::sync::mpsc::channel;

use tokengate::{current_worker, default_coordinator, join};

const LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

#[test]
fn outside_joins_survive_the_default_pool_shutting_down() {
    // Two threads keep joining from outside while main shuts the pool down. Each
    // join either runs on the pool, or, refused or caught by the shutdown, on its
    // caller; none may hang or lose a half.
    let (started, ready) = channel();
    let (done_tx, done) = channel();
    for t in 0..2u64 {
        let started = started.clone();
        let done_tx = done_tx.clone();
        std::thread::spawn(move || {
            let mut sum = 0;
            for i in 0..500u64 {
                let (x, y) = join(|| i, || t);
                sum += x + y;
                if i == 0 {
                    started.send(()).unwrap();
                }
            }
            done_tx.send(sum).unwrap();
        });
    }
    for _ in 0..2 {
        ready.recv_timeout(LIMIT).expect("both joiners started");
    }
    default_coordinator().shutdown();
    let mut sums: Vec<u64> = (0..2)
        .map(|_| done.recv_timeout(LIMIT).expect("no join hangs"))
        .collect();
    sums.sort_unstable();
    let base = (0..500u64).sum::<u64>();
    assert_eq!(sums, vec![base, base + 500]);

    // After the shutdown, both halves run on the caller.
    assert_eq!(join(current_worker, || 2), (None, 2));
}
