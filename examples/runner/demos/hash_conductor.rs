//! hash-conductor: 3 leads (`external_calls`) with 4 children each. Checks that the
//! children ran on their lead's worker with its domain seed, that the seeds are unique,
//! and that no domain is left open at the end (`gate.locality_stats()`).

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

use tokengate::current_worker;

use super::{Ctx, GATE};

#[tokengate::guard(weight = Light, on = crate::demos::GATE)]
fn hash_child(lead: u64, i: u64) -> (Option<usize>, String) {
    let h = Sha256::digest(format!("lead-{lead}-child-{i}").as_bytes());
    (current_worker(), h.iter().map(|b| format!("{b:02x}")).collect())
}

/// (its worker, and per child: its worker, its token's seed, its digest).
type LeadReport = (Option<usize>, Vec<(Option<usize>, Option<String>, String)>);

#[tokengate::guard(weight = Medium, external_calls = ["hash_child"], on = crate::demos::GATE)]
fn hash_lead(lead: u64) -> LeadReport {
    let tokens: Vec<_> = (0..4).map(|i| hash_child(lead, i)).collect();
    let me = current_worker();
    let children = tokens
        .into_iter()
        .map(|t| {
            let seed = t.domain_seed();
            let (w, digest) = t.wait().expect("child");
            (w, seed, digest)
        })
        .collect();
    (me, children)
}

pub fn run(ctx: &mut Ctx) {
    let before = GATE.locality_stats();
    let leads: Vec<_> = (0..3).map(hash_lead).collect();
    let seeds: Vec<Option<String>> = leads.iter().map(|t| t.domain_seed()).collect();
    let mut unique = BTreeSet::new();
    for (l, (t, seed)) in leads.into_iter().zip(&seeds).enumerate() {
        let Ok((lw, children)) = t.wait() else {
            ctx.check(false, format_args!("hash-conductor: lead {l} failed"));
            continue;
        };
        ctx.check(
            seed.as_ref().is_some_and(|s| s.len() == 64),
            format_args!("hash-conductor: lead {l} has a seed"),
        );
        unique.insert(seed.clone());
        for (i, (cw, cseed, digest)) in children.iter().enumerate() {
            ctx.check(
                *cw == lw,
                format_args!("hash-conductor: lead {l} child {i} on {cw:?}, lead on {lw:?}"),
            );
            ctx.check(
                cseed == seed,
                format_args!("hash-conductor: lead {l} child {i} shares the seed"),
            );
            ctx.check(
                *digest == hash_child_inline(l as u64, i as u64).1,
                "hash-conductor: child digest",
            );
        }
        println!(
            "  lead {l} on worker {}: seed {}…, children on {:?}",
            lw.map_or("?".into(), |w| w.to_string()),
            seed.as_deref().map_or("none", |s| &s[..16]),
            children.iter().map(|c| c.0).collect::<Vec<_>>()
        );
    }
    ctx.check(
        unique.len() == 3,
        format_args!("hash-conductor: 3 unique seeds ({})", unique.len()),
    );
    // A domain is released when its last member finishes, a moment after its result.
    let limit = Instant::now() + Duration::from_secs(2);
    let mut after = GATE.locality_stats();
    while after.domains_released - before.domains_released < 3 && Instant::now() < limit {
        std::thread::sleep(Duration::from_millis(1));
        after = GATE.locality_stats();
    }
    let opened = after.domains_opened - before.domains_opened;
    let released = after.domains_released - before.domains_released;
    println!(
        "  domains opened {opened}, released {released}; pinned tasks per worker {:?}",
        after.pinned_tasks
    );
    ctx.check(
        opened == 3 && released == 3,
        format_args!("hash-conductor: 3 domains opened and released ({opened}/{released})"),
    );
    ctx.check(
        after.pinned_tasks.iter().all(|&n| n == 0),
        "hash-conductor: no domain left open",
    );
}
