//! io: 10 JSON writes, 10 log appends and 6 blob writes of 8 KiB on the storage lane
//! (tier `Moderate`), in a fresh temporary directory that is removed afterwards. Every
//! file is read back and checked.

use std::time::Instant;

use tokengate::StorageSpeed;

use super::work::*;
use super::{ms, Ctx, GATE};

fn moderate_completed() -> u64 {
    GATE.storage_stats()
        .iter()
        .find(|s| s.speed == StorageSpeed::Moderate)
        .map_or(0, |s| s.completed)
}

pub fn run(ctx: &mut Ctx) {
    let dir = match TempDir::new("io") {
        Ok(d) => d,
        Err(e) => return ctx.check(false, format_args!("io: temp dir: {e}")),
    };
    let done0 = moderate_completed();
    let t0 = Instant::now();
    let jsons: Vec<_> = (0..10).map(|i| counted(json_write(dir.0.clone(), i))).collect();
    let logs: Vec<_> = (0..10).map(|i| counted(log_append(dir.0.clone(), i))).collect();
    let blobs: Vec<_> = (0..6).map(|i| counted(blob_write(dir.0.clone(), i))).collect();
    let json_ok = jsons
        .into_iter()
        .filter(|_| true)
        .map(|t| matches!(t.wait(), Ok(Ok(_))))
        .filter(|b| *b)
        .count();
    let log_ok = logs
        .into_iter()
        .map(|t| matches!(t.wait(), Ok(Ok(()))))
        .filter(|b| *b)
        .count();
    let blob_ok = blobs
        .into_iter()
        .map(|t| matches!(t.wait(), Ok(Ok(8192))))
        .filter(|b| *b)
        .count();
    let el = t0.elapsed();
    println!(
        "  26 storage tasks in {} (json {json_ok}/10, log {log_ok}/10, blob {blob_ok}/6)",
        ms(el)
    );
    ctx.check(
        json_ok == 10 && log_ok == 10 && blob_ok == 6,
        "io: every write reported success",
    );

    // Read everything back.
    let mut good_json = 0;
    for i in 0..10u64 {
        let text = std::fs::read_to_string(dir.0.join(format!("record-{i}.json"))).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if v["id"] == i && v["name"] == format!("record-{i}") {
            good_json += 1;
        }
    }
    let log = std::fs::read_to_string(dir.0.join("app.log")).unwrap_or_default();
    let mut lines: Vec<&str> = log.lines().collect();
    lines.sort_unstable();
    let mut want: Vec<String> = (0..10).map(|i| format!("entry {i}")).collect();
    want.sort_unstable();
    let good_blobs = (0..6u64)
        .filter(|&i| std::fs::read(dir.0.join(format!("blob-{i}.bin"))).ok() == Some(blob_bytes(i)))
        .count();
    println!(
        "  read back: {good_json}/10 JSON documents, {} log lines, {good_blobs}/6 blobs",
        lines.len()
    );
    ctx.check(
        good_json == 10,
        format_args!("io: {good_json} of 10 JSON documents read back"),
    );
    ctx.check(
        lines == want,
        format_args!("io: the log holds entries 0..10 once each ({} lines)", lines.len()),
    );
    ctx.check(
        good_blobs == 6,
        format_args!("io: {good_blobs} of 6 blobs read back byte for byte"),
    );
    let done = moderate_completed() - done0;
    let stats = GATE.storage_stats();
    let m = stats.iter().find(|s| s.speed == StorageSpeed::Moderate).copied();
    if let Some(m) = m {
        println!(
            "  Moderate tier: limit {}, peak {} at once, {done} completed here",
            m.limit, m.peak_active
        );
        ctx.check(
            m.peak_active <= m.limit,
            "io: the Moderate tier stayed within its limit",
        );
    }
    ctx.check(
        done == 26,
        format_args!("io: 26 tasks ran on the Moderate tier ({done})"),
    );
    let path = dir.0.clone();
    drop(dir);
    ctx.check(!path.exists(), "io: the temporary directory is removed");
}
