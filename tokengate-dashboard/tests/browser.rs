//! The real browser test: headless Chromium driven through ChromeDriver (WebDriver,
//! `fantoccini`) against a dashboard serving a REAL pool: a 2-worker
//! [`Coordinator`] fed by a background producer thread.
//!
//! Needs `chromium` and `chromedriver`: run it through `scripts/browser.sh`, which
//! finds or installs them and exports `TOKENGATE_CHROMIUM` / `TOKENGATE_CHROMEDRIVER`.
//! Without them this test FAILS with a message saying so; it never skips.
//!
//! Every wait is a bounded poll of the DOM or the pool (timeout below), never a fixed
//! sleep used as synchronisation. The screenshot goes to
//! `target/dashboard-browser.png`; with `TOKENGATE_UPDATE_SCREENSHOT=1` it is also
//! copied to `docs/dashboard.png` (the README's picture).

use fantoccini::{Client, ClientBuilder, Locator};
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokengate::{Coordinator, Handle, Op, TaskError, Weight};
use tokengate_dashboard::testing::XSS_OP;
use tokengate_dashboard::Dashboard;

const WAIT: Duration = Duration::from_secs(20);

fn find_tool(env: &str, names: &[&str]) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        if !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the dashboard browser test needs {} (none found on PATH and {env} is not set): \
         run it through scripts/browser.sh, which installs chromium and chromium-driver",
        names.join(" or ")
    );
}

/// ChromeDriver, killed (by its own pid) when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver(path: &Path) -> Driver {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port} within {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(50)); // a bounded poll, not synchronisation
    }
    driver
}

/// Polls `f` until it returns `Some`, at most `WAIT`.
async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {WAIT:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text(c: &Client, css: &str) -> Option<String> {
    c.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

async fn number(c: &Client, css: &str) -> Option<u64> {
    text(c, css).await?.trim().parse().ok()
}

/// Clicks the button with class `class` in the ops row of `op`.
async fn click_op(c: &Client, op: &str, class: &str) {
    let script = "const [op, cls] = arguments; \
                  const tr = [...document.querySelectorAll('#ops tbody tr')].find(r => r.dataset.op === op); \
                  if (!tr) return false; tr.querySelector('button.' + cls).click(); return true;";
    let clicked = c
        .execute(script, vec![serde_json::json!(op), serde_json::json!(class)])
        .await
        .unwrap();
    assert_eq!(clicked, serde_json::json!(true), "no row for op {op}");
}

/// The ops-table cell `col` (0-based) of `op`.
async fn op_cell(c: &Client, op: &str, col: usize) -> Option<String> {
    let script = "const [op, col] = arguments; \
                  const tr = [...document.querySelectorAll('#ops tbody tr')].find(r => r.dataset.op === op); \
                  return tr ? tr.cells[col].textContent : null;";
    c.execute(script, vec![serde_json::json!(op), serde_json::json!(col)])
        .await
        .ok()?
        .as_str()
        .map(str::to_string)
}

/// Some CPU work: the primes below `n`, counted by trial division.
fn count_primes(n: u64) -> u64 {
    (2..n)
        .filter(|&k| (2..k).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count() as u64
}

/// Tasks executed by the pool's workers (what the page's "executed" total shows).
fn pool_executed(h: &Handle) -> u64 {
    h.worker_stats().iter().map(|w| w.executed).sum()
}

/// Tasks of `op` spawned and not yet resolved (queued, held or running).
fn unresolved(h: &Handle, op: &str) -> u64 {
    h.metrics().op(op).map_or(0, |o| o.submitted - o.resolved())
}

/// The background producer: batches of CPU tasks on four ops until stopped. Bounded:
/// it stops at the end of the test and spawns nothing while 3000 tasks are queued
/// (so a pause does not pile up work without end). Its pacing sleep shapes the load;
/// it synchronises nothing.
struct Producer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Producer {
    fn start(h: Handle) -> Producer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let ops = [
                (Op::new("prime_check").weight(Weight::Light), 10, 300),
                (Op::new("matrix"), 4, 1500),
                (Op::new("render").weight(Weight::Heavy), 2, 4000),
                (Op::new(XSS_OP).weight(Weight::Light), 1, 200),
            ];
            while !flag.load(Ordering::Relaxed) {
                if h.metrics().queued().total() < 3000 {
                    for (op, batch, n) in &ops {
                        for _ in 0..*batch {
                            let n = *n;
                            drop(h.spawn(op, move || count_primes(n))); // detached: it still runs
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Producer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_a_live_pool_and_operates_it() {
    let chromium = find_tool("TOKENGATE_CHROMIUM", &["chromium", "chromium-browser", "google-chrome"]);
    let chromedriver = find_tool("TOKENGATE_CHROMEDRIVER", &["chromedriver"]);
    let driver = start_driver(&chromedriver);

    let gate = Coordinator::builder().workers(2).build().unwrap();
    let h = gate.handle();
    let producer = Producer::start(gate.handle());
    let dash = Dashboard::new(gate.handle())
        .bind("127.0.0.1:0")
        .interval(Duration::from_millis(250))
        .start()
        .unwrap();

    let profile = std::env::temp_dir().join(format!("tokengate-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,1700", format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session with headless Chromium");

    // Without a token the page does not load.
    c.goto(dash.url()).await.unwrap();
    let src = c.source().await.unwrap();
    assert!(src.contains("Login required"), "{src}");
    assert!(c.find(Locator::Css("#executed-total")).await.is_err());
    c.goto(&format!("{}/login?token=wrong-token", dash.url()))
        .await
        .unwrap();
    assert!(c.find(Locator::Css("#executed-total")).await.is_err());

    // With the token: logs in, forwards to the page, goes live.
    c.goto(&dash.login_url()).await.unwrap();
    wait_for("the live stream", || async {
        (text(&c, "#conn").await? == "live").then_some(())
    })
    .await;
    let first = wait_for("a number", || number(&c, "#executed-total")).await;
    wait_for("executed to change", || async {
        (number(&c, "#executed-total").await? != first).then_some(())
    })
    .await;

    // The op named like markup is shown as text and runs nothing.
    wait_for("the XSS op row", || async {
        (op_cell(&c, XSS_OP, 0).await? == XSS_OP).then_some(())
    })
    .await;
    let clean = c
        .execute(
            "return window.__xss === undefined && document.querySelectorAll('img').length === 0",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(clean, serde_json::json!(true), "an op name was parsed as HTML");

    // Pause: queued grows while executed stays put.
    c.find(Locator::Id("btn-pause")).await.unwrap().click().await.unwrap();
    wait_for("paused state", || async {
        (text(&c, "#paused-state").await? == "paused").then_some(())
    })
    .await;
    assert!(h.is_paused());
    // The tasks running at the pause (sub-millisecond) finish; then the page's count
    // is the pool's and stays put.
    let executed = wait_for("the page to catch up with the paused pool", || async {
        let page = number(&c, "#executed-total").await?;
        (page == pool_executed(&h)).then_some(page)
    })
    .await;
    let held = wait_for("held work", || async { (h.held() > 0).then(|| h.held()) }).await;
    let queued = wait_for("queued", || number(&c, "#queued-total")).await;
    wait_for("queued (held) work to grow", || async {
        (number(&c, "#queued-total").await? > queued + 50 && h.held() > held + 50).then_some(())
    })
    .await;
    assert_eq!(
        number(&c, "#executed-total").await,
        Some(executed),
        "executed moved while paused"
    );
    assert_eq!(pool_executed(&h), executed, "the pool ran tasks while paused");

    // Resume: executed moves again.
    c.find(Locator::Id("btn-resume")).await.unwrap().click().await.unwrap();
    wait_for("running state", || async {
        (text(&c, "#paused-state").await? == "running").then_some(())
    })
    .await;
    wait_for("executed to move", || async {
        (number(&c, "#executed-total").await? > executed).then_some(())
    })
    .await;

    // Pause one op, let it pile up, drain it, resume it.
    click_op(&c, "render", "op-pause").await;
    wait_for("render paused", || async { h.is_op_paused("render").then_some(()) }).await;
    // At most the 2 tasks running at the pause are not queued.
    wait_for("render to pile up", || async {
        (unresolved(&h, "render") >= 8).then_some(())
    })
    .await;
    let cancelled_before = h.metrics().op("render").map_or(0, |o| o.cancelled);
    click_op(&c, "render", "op-drain").await;
    let message = wait_for("the drain reply", || async {
        text(&c, "#message").await.filter(|m| m.starts_with("drained"))
    })
    .await;
    let drained: usize = message.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(drained >= 5, "{message}");
    let cancelled = h.metrics().op("render").unwrap().cancelled;
    assert_eq!(
        cancelled - cancelled_before,
        drained as u64,
        "the pool's cancelled count"
    );
    wait_for("the cancelled count on the page", || async {
        (op_cell(&c, "render", 5).await?.parse::<u64>().ok()? >= cancelled).then_some(())
    })
    .await;
    click_op(&c, "render", "op-resume").await;
    wait_for("render resumed", || async { (!h.is_op_paused("render")).then_some(()) }).await;

    // Cancel a queued task by id, then look its status up: a task of a paused op,
    // spawned here so the test holds its token.
    click_op(&c, "matrix", "op-pause").await;
    wait_for("matrix paused", || async { h.is_op_paused("matrix").then_some(()) }).await;
    let victim = gate.spawn(&Op::new("matrix"), || count_primes(1500));
    let id = victim.id();
    let input = c.find(Locator::Id("task-id")).await.unwrap();
    input.send_keys(&id.to_string()).await.unwrap();
    // Looked up while it waits: a held task is found (not only resolved ones).
    c.find(Locator::Id("btn-status")).await.unwrap().click().await.unwrap();
    wait_for("the held status reply", || async {
        text(&c, "#task-result")
            .await
            .filter(|t| t.contains("\"state\": \"held\""))
            .map(|_| ())
    })
    .await;
    c.find(Locator::Id("btn-cancel")).await.unwrap().click().await.unwrap();
    let expect = format!("task {id} cancelled");
    wait_for("the cancel reply", || async {
        (text(&c, "#task-result").await? == expect).then_some(())
    })
    .await;
    wait_for("the token to resolve", || async { victim.is_finished().then_some(()) }).await;
    assert_eq!(victim.wait(), Err(TaskError::Cancelled));
    c.find(Locator::Id("btn-status")).await.unwrap().click().await.unwrap();
    wait_for("the status reply", || async {
        text(&c, "#task-result")
            .await
            .filter(|t| t.contains("\"state\": \"cancelled\""))
            .map(|_| ())
    })
    .await;
    click_op(&c, "matrix", "op-resume").await;

    // Change a storage tier's limit.
    let select = c.find(Locator::Id("limit-tier")).await.unwrap();
    select.select_by_value("fast").await.unwrap();
    let limit = c.find(Locator::Id("limit-value")).await.unwrap();
    limit.clear().await.unwrap();
    limit.send_keys("64").await.unwrap();
    c.find(Locator::Id("btn-limit")).await.unwrap().click().await.unwrap();
    wait_for("the new limit", || async {
        (text(&c, "#storage tr[data-tier=fast] td.limit").await? == "64").then_some(())
    })
    .await;
    assert_eq!(h.storage_stats()[tokengate::StorageSpeed::Fast as usize].limit, 64);

    // Sort by submitted (descending): the busiest op comes first.
    c.find(Locator::Css("#ops th[data-key=submitted]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for("sorted by submitted", || async {
        (text(&c, "#ops tbody tr:first-child td.name").await? == "prime_check").then_some(())
    })
    .await;

    // The history download is served to the page.
    let history = c
        .execute(
            "return fetch(document.getElementById('download-history').href).then(r => r.text())",
            vec![],
        )
        .await
        .unwrap();
    let parsed: serde_json::Value = serde_json::from_str(history.as_str().unwrap()).unwrap();
    assert!(!parsed.as_array().unwrap().is_empty());

    // Each of the three charts has drawn its line (pixels in the line's blue), then
    // the screenshot.
    let drawn = "return [...document.querySelectorAll('canvas')].map(c => { \
                 const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; \
                 for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 180 && d[i] < 120 && d[i + 3] > 100) n++; \
                 return n; })";
    wait_for("three drawn charts", || async {
        let counts = c.execute(drawn, vec![]).await.ok()?;
        let counts: Vec<u64> = counts.as_array()?.iter().filter_map(|v| v.as_u64()).collect();
        (counts.len() == 3 && counts.iter().all(|&n| n > 20) && pool_executed(&h) > executed + 200).then_some(())
    })
    .await;
    let png = c.screenshot().await.unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("dashboard-browser.png"), &png).unwrap();
    if std::env::var("TOKENGATE_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        std::fs::write(root.join("docs").join("dashboard.png"), &png).unwrap();
    }
    assert!(png.starts_with(b"\x89PNG"));

    c.close().await.unwrap();
    dash.stop();
    drop(producer);
    gate.shutdown();
    let _ = std::fs::remove_dir_all(&profile);
}
