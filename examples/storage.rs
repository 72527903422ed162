//! The storage lane: the prototype's I/O demo. JSON documents, log appends and 8 KiB
//! blobs are written into a temporary directory by storage ops of three tiers, while
//! CPU work keeps the workers busy. Each tier's peak concurrency is printed beside
//! its limit.
//!
//! ```text
//! cargo run --release --example storage
//! ```

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Instant;

use tokengate::{join_all, Coordinator, Op, StorageSpeed, Weight};

/// Counts tasks running at once, per tier, and keeps the peak.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    fn measure<T>(&self, f: impl FnOnce() -> T) -> T {
        let n = self.now.fetch_add(1, SeqCst) + 1;
        self.peak.fetch_max(n, SeqCst);
        let out = f();
        self.now.fetch_sub(1, SeqCst);
        out
    }
}

fn write_json(dir: &Path, i: usize) -> std::io::Result<usize> {
    let doc = format!("{{\"id\": {i}, \"name\": \"record-{i}\", \"tags\": [\"demo\", \"tokengate\"]}}\n");
    let mut f = std::fs::File::create(dir.join(format!("record-{i}.json")))?;
    f.write_all(doc.as_bytes())?;
    f.sync_all()?;
    Ok(doc.len())
}

fn append_log(path: &Path, line: &str) -> std::io::Result<usize> {
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(line.as_bytes())?;
    f.sync_data()?;
    Ok(line.len())
}

fn write_blob(dir: &Path, i: usize) -> std::io::Result<usize> {
    let blob: Vec<u8> = (0..8192).map(|b| (b ^ i) as u8).collect();
    let mut f = std::fs::File::create(dir.join(format!("blob-{i}.bin")))?;
    f.write_all(&blob)?;
    f.sync_all()?;
    Ok(blob.len())
}

/// A CPU-bound stand-in: a checksum over a generated buffer.
fn checksum(seed: u64) -> u64 {
    (0..200_000u64).fold(seed, |h, x| (h ^ x).wrapping_mul(0x100_0000_01b3))
}

fn temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("tokengate-storage-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the temporary directory");
    dir
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gate = Coordinator::builder()
        .workers(2)
        .storage_limit(StorageSpeed::Slow, 4) // one log file: few appenders at once
        .build()?;
    let dir = Arc::new(temp_dir());
    let log = Arc::new(dir.join("events.log"));

    let json = Op::new("write_json")
        .weight(Weight::Light)
        .storage_speed(StorageSpeed::Moderate);
    let append = Op::new("append_log").storage_speed(StorageSpeed::Slow);
    let blob = Op::new("write_blob")
        .weight(Weight::Heavy)
        .storage_speed(StorageSpeed::Fast);
    let cpu = Op::new("checksum").weight(Weight::Medium);
    let gauges: [Arc<Gauge>; 4] = Default::default();
    let gauge = |speed: StorageSpeed| Arc::clone(&gauges[speed as usize]);

    let started = Instant::now();
    let mut io = Vec::new();
    for i in 0..200 {
        let (d, g) = (Arc::clone(&dir), gauge(StorageSpeed::Moderate));
        io.push(gate.spawn(&json, move || g.measure(|| write_json(&d, i))));
        let (l, g) = (Arc::clone(&log), gauge(StorageSpeed::Slow));
        let line = format!("event {i}: wrote record-{i}.json\n");
        io.push(gate.spawn(&append, move || g.measure(|| append_log(&l, &line))));
        if i % 2 == 0 {
            let (d, g) = (Arc::clone(&dir), gauge(StorageSpeed::Fast));
            io.push(gate.spawn(&blob, move || g.measure(|| write_blob(&d, i))));
        }
    }
    // CPU work runs on the workers meanwhile; storage never blocks them.
    let sums = join_all((0..64).map(|s| gate.spawn(&cpu, move || checksum(s))));
    let cpu_done = sums
        .wait()
        .into_iter()
        .map(|r| r.expect("checksum"))
        .fold(0, u64::wrapping_add);
    let cpu_time = started.elapsed();
    let mut bytes = 0;
    for r in join_all(io).wait() {
        bytes += r.expect("storage task")?;
    }
    let io_time = started.elapsed();

    println!("wrote {bytes} bytes into {} in {io_time:.2?}", dir.display());
    println!("64 CPU tasks (checksum {cpu_done:#x}) finished after {cpu_time:.2?}, beside the I/O");
    println!();
    println!("{:<9} {:>6} {:>6} {:>10}", "tier", "limit", "peak", "completed");
    for s in gate.storage_stats() {
        if s.completed == 0 {
            continue;
        }
        let measured = gauges[s.speed as usize].peak.load(SeqCst);
        assert!(
            measured <= s.limit,
            "{:?}: {measured} ran at once, limit {}",
            s.speed,
            s.limit
        );
        println!(
            "{:<9} {:>6} {:>6} {:>10}",
            format!("{:?}", s.speed),
            s.limit,
            measured,
            s.completed
        );
    }
    let lines = std::fs::read_to_string(log.as_path())?.lines().count();
    assert_eq!(lines, 200, "every log append landed");
    gate.shutdown();
    std::fs::remove_dir_all(dir.as_path())?;
    Ok(())
}
