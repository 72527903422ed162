//! The chart history: once per interval the sampler takes one snapshot of the pool,
//! derives one [`Point`] (throughput, queue depth, worst p99 wait), keeps the last
//! `history` points in a ring and publishes the newest snapshot and point to every live
//! stream through a `watch` channel. So the pool is read once per interval, however
//! many pages are open.

use crate::view::{Pool, Snapshot};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// One chart sample.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Point {
    /// Milliseconds since the dashboard started.
    pub t_ms: u64,
    /// Executions per second since the previous sample.
    pub throughput: f64,
    /// Queued tasks, all lanes.
    pub queued: u64,
    /// The highest p99 queue wait over all ops, microseconds.
    pub p99_wait_us: u64,
}

/// The ring of points.
pub(crate) struct Series {
    points: Mutex<VecDeque<Point>>,
    capacity: usize,
}

impl Series {
    pub(crate) fn new(capacity: usize) -> Self {
        Series {
            points: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
        }
    }

    pub(crate) fn push(&self, p: Point) {
        let mut points = self.points.lock().unwrap_or_else(|e| e.into_inner());
        if points.len() == self.capacity {
            points.pop_front();
        }
        points.push_back(p);
    }

    pub(crate) fn all(&self) -> Vec<Point> {
        self.points
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect()
    }
}

/// What a live stream sends: the snapshot and the newest point, as one JSON text.
#[derive(Serialize)]
struct Update<'a> {
    snapshot: &'a Snapshot,
    point: Point,
}

/// Runs until `stop` turns true: samples the pool every `interval`.
pub(crate) async fn run_sampler(
    pool: Arc<dyn Pool>,
    series: Arc<Series>,
    latest: watch::Sender<Arc<String>>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let start = Instant::now();
    let mut last: Option<(Instant, u64)> = None;
    let mut last_busy: Option<(Instant, Vec<Option<u64>>)> = None;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let mut snapshot = pool.snapshot();
        let now = Instant::now();
        fill_busy_share(&mut snapshot, now, &mut last_busy);
        let executed: u64 = snapshot.workers.iter().map(|w| w.executed).sum();
        let throughput = match last {
            Some((then, before)) => {
                let dt = now.duration_since(then).as_secs_f64();
                if dt > 0.0 {
                    executed.saturating_sub(before) as f64 / dt
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        last = Some((now, executed));
        let point = Point {
            t_ms: now.duration_since(start).as_millis() as u64,
            throughput,
            queued: snapshot.queued.total(),
            p99_wait_us: snapshot.ops.iter().map(|o| o.wait_p99_us).max().unwrap_or(0),
        };
        series.push(point);
        let text = serde_json::to_string(&Update {
            snapshot: &snapshot,
            point,
        })
        .unwrap_or_else(|_| "{}".into());
        latest.send_replace(Arc::new(text));
    }
}

/// Fills `busy_share` of the workers whose pool gives only cumulative `busy_us`: busy
/// time gained since the previous sample over the wall time elapsed.
fn fill_busy_share(snapshot: &mut Snapshot, now: Instant, last: &mut Option<(Instant, Vec<Option<u64>>)>) {
    let busy: Vec<Option<u64>> = snapshot.workers.iter().map(|w| w.busy_us).collect();
    if let Some((then, before)) = last.as_ref() {
        let dt_us = now.duration_since(*then).as_micros() as f64;
        for (w, before) in snapshot.workers.iter_mut().zip(before) {
            if let (None, Some(now_us), Some(before_us), true) = (w.busy_share, w.busy_us, before, dt_us > 0.0) {
                w.busy_share = Some((now_us.saturating_sub(*before_us) as f64 / dt_us).clamp(0.0, 1.0));
            }
        }
    }
    *last = Some((now, busy));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::WorkerView;

    #[test]
    fn ring_is_bounded_oldest_first() {
        let s = Series::new(3);
        for i in 0..5 {
            s.push(Point {
                t_ms: i,
                throughput: 0.0,
                queued: 0,
                p99_wait_us: 0,
            });
        }
        let t: Vec<u64> = s.all().iter().map(|p| p.t_ms).collect();
        assert_eq!(t, vec![2, 3, 4]);
    }

    #[test]
    fn busy_share_is_the_busy_time_gained_over_the_interval() {
        let worker = |busy_us| WorkerView {
            busy_us: Some(busy_us),
            ..WorkerView::default()
        };
        let t0 = Instant::now();
        let mut last = None;
        let mut s = Snapshot {
            workers: vec![worker(1_000)],
            ..Snapshot::default()
        };
        fill_busy_share(&mut s, t0, &mut last);
        assert_eq!(s.workers[0].busy_share, None, "no interval yet");
        let mut s = Snapshot {
            workers: vec![worker(251_000)],
            ..Snapshot::default()
        };
        fill_busy_share(&mut s, t0 + Duration::from_millis(500), &mut last);
        assert_eq!(s.workers[0].busy_share, Some(0.5));
    }
}
