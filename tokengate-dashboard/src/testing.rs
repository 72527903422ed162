//! A simulated pool for handler tests, the browser test and trying the page without a
//! workload. Not part of the supported API.
//!
//! Each [`MockPool::step`] is one tick: every op gets its arrivals queued (with fresh
//! ids) and, unless all work or that op is paused, up to its service rate of queued
//! tasks run and finish on a round-robin worker. So while paused, queued grows and
//! executed stays put. Drain and cancel remove queued tasks exactly. Every control
//! call is logged in [`MockPool::calls`] so tests can observe it.

use crate::view::*;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The op name the XSS test uses.
pub const XSS_OP: &str = "<img src=x onerror=\"window.__xss=1\">";

struct MockOp {
    name: String,
    weight: &'static str,
    arrivals: u64,
    service: u64,
    paused: bool,
    queue: VecDeque<u64>,
    submitted: u64,
    completed: u64,
    panicked: u64,
    cancelled: u64,
}

struct State {
    paused: bool,
    ops: Vec<MockOp>,
    workers: Vec<(u64, u64)>,
    next_id: u64,
    next_worker: usize,
    recent: VecDeque<ExecutionView>,
    done: HashMap<u64, (String, &'static str)>,
    tiers: Vec<TierView>,
    ticks: u64,
}

/// A simulated pool. See the module docs.
pub struct MockPool {
    state: Mutex<State>,
    calls: Mutex<Vec<String>>,
}

impl Default for MockPool {
    fn default() -> Self {
        Self::new()
    }
}

impl MockPool {
    /// Four workers, ops `prime_check` (light), `matrix` (medium), `render` (heavy),
    /// `log_append` (light, storage) and [`XSS_OP`], nothing queued yet.
    pub fn new() -> Self {
        let op = |name: &str, weight, arrivals, service| MockOp {
            name: name.to_string(),
            weight,
            arrivals,
            service,
            paused: false,
            queue: VecDeque::new(),
            submitted: 0,
            completed: 0,
            panicked: 0,
            cancelled: 0,
        };
        let tier = |name: &str, limit| TierView {
            tier: name.to_string(),
            limit,
            ..TierView::default()
        };
        MockPool {
            state: Mutex::new(State {
                paused: false,
                ops: vec![
                    op("prime_check", "light", 6, 9),
                    op("matrix", "medium", 3, 5),
                    op("render", "heavy", 1, 2),
                    op("log_append", "light", 4, 6),
                    op(XSS_OP, "light", 1, 2),
                ],
                workers: vec![(0, 0); 4],
                next_id: 1,
                next_worker: 0,
                recent: VecDeque::new(),
                done: HashMap::new(),
                tiers: vec![
                    tier("slow", 10),
                    tier("moderate", 25),
                    tier("fast", 50),
                    tier("insane", 70),
                ],
                ticks: 0,
            }),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log(&self, call: String) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
    }

    /// The control calls made so far, for example `"drain_op:render=3"`.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Queues `n` tasks of `op` (which must exist); returns their ids.
    pub fn submit(&self, op: &str, n: u64) -> Vec<u64> {
        let mut st = self.lock();
        let mut ids = Vec::new();
        let first = st.next_id;
        st.next_id += n;
        if let Some(o) = st.ops.iter_mut().find(|o| o.name == op) {
            for id in first..first + n {
                o.queue.push_back(id);
                ids.push(id);
            }
            o.submitted += n;
        }
        ids
    }

    /// One tick of arrivals and service.
    pub fn step(&self) {
        let mut st = self.lock();
        st.ticks += 1;
        let paused = st.paused;
        let mut finished = Vec::new();
        let State { ops, next_id, .. } = &mut *st;
        for o in ops.iter_mut() {
            for _ in 0..o.arrivals {
                o.queue.push_back(*next_id);
                *next_id += 1;
            }
            o.submitted += o.arrivals;
            if paused || o.paused {
                continue;
            }
            for _ in 0..o.service {
                let Some(id) = o.queue.pop_front() else { break };
                let panicked = id % 41 == 0;
                if panicked {
                    o.panicked += 1;
                } else {
                    o.completed += 1;
                }
                finished.push((
                    id,
                    o.name.clone(),
                    if panicked { "panicked" } else { "completed" },
                    o.queue.len(),
                ));
            }
        }
        for (id, op, outcome, depth) in finished {
            let w = st.next_worker;
            st.next_worker = (w + 1) % st.workers.len();
            st.workers[w].0 += 1;
            if id % 7 == 0 {
                st.workers[w].1 += 1;
            }
            st.recent.push_front(ExecutionView {
                id,
                op: op.clone(),
                worker: Some(w),
                outcome: outcome.to_string(),
                queued_for_us: 200 + 150 * depth as u64,
                ran_for_us: 300 + (id % 13) * 97,
            });
            st.recent.truncate(100);
            st.done.insert(id, (op, outcome));
        }
        let ticks = st.ticks;
        for (i, t) in st.tiers.iter_mut().enumerate() {
            t.active = ((ticks as usize + i) % (t.limit + 1)).min(t.limit);
            t.peak_active = t.peak_active.max(t.active);
            if !paused {
                t.completed += 3;
            }
        }
    }

    /// Runs [`step`](Self::step) every `every` on a thread until the returned guard is
    /// dropped.
    #[must_use = "the simulation stops when the guard is dropped"]
    pub fn simulate(self: &Arc<Self>, every: Duration) -> Simulation {
        let stop = Arc::new(AtomicBool::new(false));
        let pool = Arc::clone(self);
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                pool.step();
                std::thread::park_timeout(every);
            }
        });
        Simulation {
            stop,
            thread: Some(thread),
        }
    }

    /// Ids of the queued tasks of `op`, oldest first.
    pub fn queued_ids(&self, op: &str) -> Vec<u64> {
        self.lock()
            .ops
            .iter()
            .find(|o| o.name == op)
            .map(|o| o.queue.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Tasks run so far (all workers).
    pub fn executed(&self) -> u64 {
        self.lock().workers.iter().map(|w| w.0).sum()
    }

    /// Queued tasks (all ops).
    pub fn queued(&self) -> u64 {
        self.lock().ops.iter().map(|o| o.queue.len() as u64).sum()
    }

    /// Whether all work is paused.
    pub fn is_paused(&self) -> bool {
        self.lock().paused
    }

    /// Whether `op` is paused by name.
    pub fn is_op_paused(&self, op: &str) -> bool {
        self.lock().ops.iter().any(|o| o.name == op && o.paused)
    }

    /// The limit of a storage tier.
    pub fn storage_limit(&self, tier: &str) -> Option<usize> {
        self.lock().tiers.iter().find(|t| t.tier == tier).map(|t| t.limit)
    }

    fn with_op<T>(&self, op: &str, f: impl FnOnce(&mut MockOp) -> T) -> Option<T> {
        self.lock().ops.iter_mut().find(|o| o.name == op).map(f)
    }
}

/// Stops a [`MockPool::simulate`] thread when dropped.
pub struct Simulation {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Simulation {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn quantile_us(depth: usize, q: f64) -> u64 {
    ((200.0 + 150.0 * depth as f64) * (1.0 + 3.0 * q)) as u64
}

fn health(ok: u64, total: u64) -> &'static str {
    if total < 5 {
        return "unknown";
    }
    let r = ok as f64 / total as f64;
    if r >= 0.95 {
        "excellent"
    } else if r >= 0.80 {
        "healthy"
    } else if r >= 0.50 {
        "at_risk"
    } else {
        "problematic"
    }
}

impl Pool for MockPool {
    fn snapshot(&self) -> Snapshot {
        let st = self.lock();
        let queued: u64 = st.ops.iter().map(|o| o.queue.len() as u64).sum();
        let held: u64 = st
            .ops
            .iter()
            .filter(|o| st.paused || o.paused)
            .map(|o| o.queue.len() as u64)
            .sum();
        let storage: u64 = st
            .ops
            .iter()
            .filter(|o| o.name == "log_append" && !(st.paused || o.paused))
            .map(|o| o.queue.len() as u64)
            .sum();
        let rest = queued - held - storage;
        Snapshot {
            paused: st.paused,
            paused_ops: st.ops.iter().filter(|o| o.paused).map(|o| o.name.clone()).collect(),
            workers: st
                .workers
                .iter()
                .enumerate()
                .map(|(i, &(executed, stolen))| WorkerView {
                    index: i,
                    core: Some(i),
                    pinned: true,
                    executed,
                    stolen,
                    busy_share: Some(if st.paused { 0.05 } else { 0.55 + 0.1 * i as f64 }),
                    busy_us: None,
                })
                .collect(),
            heavy: PermitView {
                in_use: if st.paused { 0 } else { (st.ticks % 2) as usize + 1 },
                limit: 2,
            },
            queued: QueuedView {
                injector: rest / 2,
                local: rest - rest / 2,
                pinned: 0,
                storage,
                held,
            },
            storage: st.tiers.clone(),
            ops: st
                .ops
                .iter()
                .map(|o| {
                    let d = o.queue.len();
                    OpView {
                        name: o.name.clone(),
                        weight: o.weight.to_string(),
                        submitted: o.submitted,
                        completed: o.completed,
                        panicked: o.panicked,
                        cancelled: o.cancelled,
                        expired: 0,
                        shutdown: 0,
                        wait_p50_us: quantile_us(d, 0.5),
                        wait_p99_us: quantile_us(d, 0.99),
                        run_p50_us: 300 + 200 * (o.weight == "heavy") as u64,
                        run_p99_us: 900 + 2000 * (o.weight == "heavy") as u64,
                        health: health(o.completed, o.completed + o.panicked).to_string(),
                    }
                })
                .collect(),
            recent: st.recent.iter().take(50).cloned().collect(),
            missing: Vec::new(),
        }
    }

    fn prometheus(&self) -> String {
        let st = self.lock();
        let mut out = String::from("# HELP tokengate_tasks_total Tasks resolved, by op and outcome.\n");
        out.push_str("# TYPE tokengate_tasks_total counter\n");
        for o in &st.ops {
            let name = o.name.replace('\\', "\\\\").replace('"', "\\\"");
            out.push_str(&format!(
                "tokengate_tasks_total{{op=\"{name}\",outcome=\"completed\"}} {}\n",
                o.completed
            ));
        }
        out
    }

    fn history_json(&self) -> String {
        serde_json::to_string(&self.lock().recent).unwrap_or_else(|_| "[]".into())
    }

    fn pause(&self) -> Result<(), ControlError> {
        self.log("pause".into());
        self.lock().paused = true;
        Ok(())
    }

    fn resume(&self) -> Result<(), ControlError> {
        self.log("resume".into());
        self.lock().paused = false;
        Ok(())
    }

    fn pause_op(&self, op: &str) -> Result<(), ControlError> {
        self.log(format!("pause_op:{op}"));
        self.with_op(op, |o| o.paused = true);
        Ok(())
    }

    fn resume_op(&self, op: &str) -> Result<(), ControlError> {
        self.log(format!("resume_op:{op}"));
        self.with_op(op, |o| o.paused = false);
        Ok(())
    }

    fn drain_op(&self, op: &str) -> Result<usize, ControlError> {
        let mut st = self.lock();
        let mut drained = Vec::new();
        if let Some(o) = st.ops.iter_mut().find(|o| o.name == op) {
            drained.extend(o.queue.drain(..));
            o.cancelled += drained.len() as u64;
        }
        for id in &drained {
            st.done.insert(*id, (op.to_string(), "cancelled"));
        }
        drop(st);
        self.log(format!("drain_op:{op}={}", drained.len()));
        Ok(drained.len())
    }

    fn cancel(&self, id: u64) -> Result<bool, ControlError> {
        let mut st = self.lock();
        let mut hit = None;
        for o in st.ops.iter_mut() {
            if let Some(pos) = o.queue.iter().position(|&q| q == id) {
                o.queue.remove(pos);
                o.cancelled += 1;
                hit = Some(o.name.clone());
                break;
            }
        }
        if let Some(op) = &hit {
            st.done.insert(id, (op.clone(), "cancelled"));
        }
        drop(st);
        self.log(format!("cancel:{id}={}", hit.is_some()));
        Ok(hit.is_some())
    }

    fn status(&self, id: u64) -> Result<Option<TaskView>, ControlError> {
        self.log(format!("status:{id}"));
        let st = self.lock();
        for o in &st.ops {
            if o.queue.contains(&id) {
                return Ok(Some(TaskView {
                    id,
                    op: o.name.clone(),
                    state: "queued".into(),
                    ..TaskView::default()
                }));
            }
        }
        Ok(st.done.get(&id).map(|(op, state)| TaskView {
            id,
            op: op.clone(),
            state: state.to_string(),
            ..TaskView::default()
        }))
    }

    fn set_storage_limit(&self, tier: &str, limit: usize) -> Result<(), ControlError> {
        self.log(format!("set_storage_limit:{tier}={limit}"));
        if limit == 0 {
            return Err(ControlError::Invalid("a storage limit must be at least 1".into()));
        }
        let mut st = self.lock();
        match st.tiers.iter_mut().find(|t| t.tier == tier) {
            Some(t) => {
                t.limit = limit;
                Ok(())
            }
            None => Err(ControlError::UnknownTier(tier.to_string())),
        }
    }
}
