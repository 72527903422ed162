//! Handler tests for every route, through `tower::ServiceExt::oneshot` on the router,
//! with a `MockPool` whose control log shows what reached the pool.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use tokengate_dashboard::testing::MockPool;
use tokengate_dashboard::{Dashboard, DashboardError};
use tower::ServiceExt;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const HOST: &str = "127.0.0.1:8750";
const ORIGIN: &str = "http://127.0.0.1:8750";

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn app() -> (Router, Arc<MockPool>) {
    let mock = Arc::new(MockPool::new());
    let (router, token) = Dashboard::new(Arc::clone(&mock))
        .access_token(TOKEN)
        .interval(Duration::from_millis(50))
        .into_router()
        .unwrap();
    assert_eq!(token.as_deref(), Some(TOKEN));
    (router, mock)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap()
}

/// Logs in with the token; returns (cookie header value, csrf token).
async fn login(app: &Router) -> (String, String) {
    let r = send(app, get(&format!("/login?token={TOKEN}"))).await;
    assert_eq!(r.status, StatusCode::OK);
    let set = r.headers[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let page = send(
        app,
        Request::get("/")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    let marker = "name=\"csrf-token\" content=\"";
    let start = page.body.find(marker).expect("csrf meta") + marker.len();
    let csrf = page.body[start..start + 64].to_string();
    assert!(csrf.chars().all(|c| c.is_ascii_hexdigit()), "{csrf}");
    (cookie, csrf)
}

fn post_json(path: &str, cookie: &str, csrf: Option<&str>, origin: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::post(path)
        .header(header::HOST, HOST)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(c) = csrf {
        b = b.header("x-csrf-token", c);
    }
    if let Some(o) = origin {
        b = b.header(header::ORIGIN, o);
    }
    b.body(Body::from(body.to_string())).unwrap()
}

const PROTECTED: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/app.js"),
    ("GET", "/style.css"),
    ("GET", "/api/snapshot"),
    ("GET", "/api/series"),
    ("GET", "/api/events"),
    ("GET", "/api/history.json"),
    ("GET", "/api/status/1"),
    ("POST", "/api/pause"),
    ("POST", "/api/resume"),
    ("POST", "/api/op/pause"),
    ("POST", "/api/op/resume"),
    ("POST", "/api/op/drain"),
    ("POST", "/api/cancel"),
    ("POST", "/api/storage-limit"),
    ("POST", "/logout"),
    ("GET", "/metrics"),
];

#[tokio::test]
async fn every_route_refuses_without_auth_or_with_a_wrong_token_or_cookie() {
    let (app, mock) = app();
    for (method, path) in PROTECTED {
        let req = |extra: Option<(&str, &str)>| {
            let mut b = Request::builder()
                .method(*method)
                .uri(*path)
                .header(header::HOST, HOST)
                .header(header::ORIGIN, ORIGIN)
                .header(header::CONTENT_TYPE, "application/json");
            if let Some((k, v)) = extra {
                b = b.header(k, v);
            }
            b.body(Body::from("{\"op\":\"render\",\"id\":1,\"tier\":\"slow\",\"limit\":3}"))
                .unwrap()
        };
        let none = send(&app, req(None)).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{method} {path} without auth");
        assert!(!none.body.contains("csrf-token"), "{method} {path} leaked the page");
        let cookie = send(&app, req(Some(("cookie", "tg_session=deadbeef")))).await;
        assert_eq!(
            cookie.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a forged cookie"
        );
    }
    // Wrong bearer tokens: refused, and after three failures the IP is slowed down.
    for i in 0..3 {
        let r = send(
            &app,
            Request::get("/metrics")
                .header(header::AUTHORIZATION, format!("Bearer wrong-{i}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = send(
        &app,
        Request::get("/metrics")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right token waits out the back-off"
    );
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    assert!(mock.calls().is_empty(), "nothing reached the pool: {:?}", mock.calls());
}

#[tokio::test]
async fn login_with_a_wrong_token_is_refused_then_slowed_down() {
    let (app, _mock) = app();
    for _ in 0..3 {
        let r = send(&app, get("/login?token=nope")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(!r.headers.contains_key(header::SET_COOKIE));
    }
    let r = send(&app, get("/login?token=nope")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // The login form itself is public and shows nothing of the pool.
    let form = send(&app, get("/login")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("name=\"secret\""));
}

#[tokio::test]
async fn bearer_reads_metrics_and_the_page_has_strict_headers() {
    let (app, mock) = app();
    mock.step();
    let r = send(
        &app,
        Request::get("/metrics")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(
        r.body
            .contains("tokengate_tasks_total{op=\"prime_check\",outcome=\"completed\"} 6"),
        "{}",
        r.body
    );
    let (cookie, _) = login(&app).await;
    let page = send(
        &app,
        Request::get("/")
            .header(header::COOKIE, &cookie)
            .header(header::ORIGIN, "http://evil.example")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    assert!(
        !page.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "no CORS"
    );
    assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(!page.body.contains("<script>"), "no inline script");
    let js = send(
        &app,
        Request::get("/app.js")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(js.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!js.body.contains(sink), "the script never writes HTML: found {sink}");
    }
    let css = send(
        &app,
        Request::get("/style.css")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(css.status, StatusCode::OK);
}

#[tokio::test]
async fn post_without_csrf_or_with_a_bad_origin_is_refused() {
    let (app, mock) = app();
    let (cookie, csrf) = login(&app).await;
    let no_csrf = send(&app, post_json("/api/pause", &cookie, None, Some(ORIGIN), "{}")).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let wrong_csrf = send(
        &app,
        post_json("/api/pause", &cookie, Some(&"0".repeat(64)), Some(ORIGIN), "{}"),
    )
    .await;
    assert_eq!(wrong_csrf.status, StatusCode::FORBIDDEN);
    let bad_origin = send(
        &app,
        post_json("/api/pause", &cookie, Some(&csrf), Some("http://evil.example"), "{}"),
    )
    .await;
    assert_eq!(bad_origin.status, StatusCode::FORBIDDEN);
    let no_origin = send(&app, post_json("/api/pause", &cookie, Some(&csrf), None, "{}")).await;
    assert_eq!(no_origin.status, StatusCode::FORBIDDEN);
    // A bearer client needs no CSRF token, but a foreign Origin is refused for it too.
    let bearer_evil = send(
        &app,
        Request::post("/api/pause")
            .header(header::HOST, HOST)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::ORIGIN, "http://evil.example")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(bearer_evil.status, StatusCode::FORBIDDEN);
    assert!(mock.calls().is_empty(), "{:?}", mock.calls());
    assert!(!mock.is_paused());
    let ok = send(&app, post_json("/api/pause", &cookie, Some(&csrf), Some(ORIGIN), "{}")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(mock.is_paused());
    let bearer = send(
        &app,
        Request::post("/api/resume")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(bearer.status, StatusCode::OK, "{}", bearer.body);
    assert!(!mock.is_paused());
}

#[tokio::test]
async fn each_control_reaches_the_pool() {
    let (app, mock) = app();
    let (cookie, csrf) = login(&app).await;
    let post = |path: &str, body: &str| post_json(path, &cookie, Some(&csrf), Some(ORIGIN), body);

    // Pause all: queued grows, executed stays put.
    mock.step();
    let executed = mock.executed();
    assert_eq!(send(&app, post("/api/pause", "{}")).await.status, StatusCode::OK);
    let queued = mock.queued();
    mock.step();
    assert_eq!(mock.executed(), executed);
    assert!(mock.queued() > queued);
    assert_eq!(send(&app, post("/api/resume", "{}")).await.status, StatusCode::OK);
    mock.step();
    assert!(mock.executed() > executed);

    // One op.
    assert_eq!(
        send(&app, post("/api/op/pause", r#"{"op":"render"}"#)).await.status,
        StatusCode::OK
    );
    assert!(mock.is_op_paused("render"));
    assert_eq!(
        send(&app, post("/api/op/resume", r#"{"op":"render"}"#)).await.status,
        StatusCode::OK
    );
    assert!(!mock.is_op_paused("render"));
    mock.submit("render", 5);
    let queued = mock.queued_ids("render").len();
    assert!(queued >= 5);
    let r = send(&app, post("/api/op/drain", r#"{"op":"render"}"#)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, format!("{{\"drained\":{queued}}}"));
    assert!(mock.queued_ids("render").is_empty());

    // Cancel and status by id.
    let ids = mock.submit("matrix", 3);
    let r = send(&app, post("/api/cancel", &format!("{{\"id\":{}}}", ids[1]))).await;
    assert_eq!(r.body, r#"{"cancelled":true}"#);
    assert!(!mock.queued_ids("matrix").contains(&ids[1]));
    let r = send(&app, post("/api/cancel", r#"{"id":999999}"#)).await;
    assert_eq!(r.body, r#"{"cancelled":false}"#);
    let status = |id: u64| {
        Request::get(format!("/api/status/{id}"))
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap()
    };
    let r = send(&app, status(ids[1])).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("\"state\":\"cancelled\""), "{}", r.body);
    let r = send(&app, status(ids[2])).await;
    assert!(r.body.contains("\"state\":\"queued\""), "{}", r.body);
    assert_eq!(send(&app, status(999999)).await.status, StatusCode::NOT_FOUND);

    // Storage limit, with typed errors for bad input.
    let r = send(&app, post("/api/storage-limit", r#"{"tier":"fast","limit":64}"#)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(mock.storage_limit("fast"), Some(64));
    let r = send(&app, post("/api/storage-limit", r#"{"tier":"warp","limit":3}"#)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("unknown storage tier"));
    let r = send(&app, post("/api/storage-limit", r#"{"tier":"slow","limit":0}"#)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(mock.storage_limit("slow"), Some(10));
    let r = send(&app, post("/api/op/drain", r#"{"nope":1}"#)).await;
    assert!(r.status.is_client_error());

    assert_eq!(
        mock.calls(),
        vec![
            "pause".to_string(),
            "resume".into(),
            "pause_op:render".into(),
            "resume_op:render".into(),
            format!("drain_op:render={queued}"),
            format!("cancel:{}=true", ids[1]),
            "cancel:999999=false".into(),
            format!("status:{}", ids[1]),
            format!("status:{}", ids[2]),
            "status:999999".into(),
            "set_storage_limit:fast=64".into(),
            "set_storage_limit:warp=3".into(),
            "set_storage_limit:slow=0".into(),
        ]
    );
}

#[tokio::test]
async fn reads_snapshot_series_history_and_the_live_stream() {
    let (app, mock) = app();
    mock.step();
    let (cookie, _) = login(&app).await;
    let get_c = |path: &str| {
        Request::get(path)
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap()
    };
    let snap = send(&app, get_c("/api/snapshot")).await;
    let v: serde_json::Value = serde_json::from_str(&snap.body).unwrap();
    assert_eq!(v["workers"].as_array().unwrap().len(), 4);
    assert_eq!(v["ops"][0]["name"], "prime_check");
    let hist = send(&app, get_c("/api/history.json")).await;
    assert!(hist.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let h: serde_json::Value = serde_json::from_str(&hist.body).unwrap();
    assert!(!h.as_array().unwrap().is_empty());

    // The stream pushes updates carrying a snapshot; bounded wait.
    let res = app.clone().oneshot(get_c("/api/events")).await.unwrap();
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = res.into_body();
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let frame = body.frame().await.expect("stream open").unwrap();
            if let Some(data) = frame.data_ref() {
                seen.push_str(&String::from_utf8_lossy(data));
                if seen.matches("\"snapshot\"").count() >= 2 {
                    return;
                }
            }
        }
    })
    .await;
    assert!(found.is_ok(), "no two updates within 10 s: {seen}");
    assert!(seen.contains("event: update"));
    let series = send(&app, get_c("/api/series")).await;
    let s: serde_json::Value = serde_json::from_str(&series.body).unwrap();
    assert!(!s.as_array().unwrap().is_empty(), "{}", series.body);

    // Logout ends the session.
    let (cookie2, csrf2) = login(&app).await;
    let r = send(&app, post_json("/logout", &cookie2, Some(&csrf2), Some(ORIGIN), "{}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        &app,
        Request::get("/api/snapshot")
            .header(header::COOKIE, &cookie2)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn password_login_by_form_needs_the_origin() {
    let mock = Arc::new(MockPool::new());
    let (app, token) = Dashboard::new(mock).password("correct horse").into_router().unwrap();
    assert_eq!(token, None);
    let form = |origin: Option<&str>, secret: &str| {
        let mut b = Request::post("/login")
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        b.body(Body::from(format!("secret={secret}"))).unwrap()
    };
    assert_eq!(
        send(&app, form(None, "correct+horse")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, form(Some("http://evil.example"), "correct+horse"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, form(Some(ORIGIN), "wrong")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let ok = send(&app, form(Some(ORIGIN), "correct+horse")).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .starts_with("tg_session="));
}

#[test]
fn start_refuses_unsafe_configurations_and_serves_loopback() {
    let e = Dashboard::new(MockPool::new()).bind("0.0.0.0:0").start().unwrap_err();
    assert!(matches!(e, DashboardError::NonLoopbackWithoutSecret(_)), "{e}");
    let e = Dashboard::new(MockPool::new())
        .access_token("short")
        .start()
        .unwrap_err();
    assert!(matches!(e, DashboardError::WeakToken), "{e}");
    let e = Dashboard::new(MockPool::new())
        .access_token(TOKEN)
        .password("x")
        .bind("127.0.0.1:0")
        .start()
        .unwrap_err();
    assert!(matches!(e, DashboardError::ConflictingSecrets), "{e}");
    let e = Dashboard::new(MockPool::new())
        .password_hash("not a hash")
        .start()
        .unwrap_err();
    assert!(matches!(e, DashboardError::PasswordHash(_)), "{e}");
    // With a configured secret a non-loopback bind is allowed.
    let open = Dashboard::new(MockPool::new())
        .access_token(TOKEN)
        .bind("0.0.0.0:0")
        .start()
        .unwrap();
    open.stop();

    let dash = Dashboard::new(MockPool::new()).bind("127.0.0.1:0").start().unwrap();
    let token = dash.access_token().unwrap().to_string();
    assert_eq!(token.len(), 48);
    assert!(dash.login_url().ends_with(&format!("/login?token={token}")));
    let other = Dashboard::new(MockPool::new()).bind("127.0.0.1:0").start().unwrap();
    assert_ne!(
        other.access_token(),
        dash.access_token(),
        "a fresh random token per start"
    );
    let raw = |req: &str| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(dash.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    let r = raw("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let r = raw(&format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    ));
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    // Stopping ends an open live stream and returns (bounded by the read timeout).
    use std::io::{Read, Write};
    let mut sse = std::net::TcpStream::connect(dash.local_addr()).unwrap();
    sse.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        sse,
        "GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 4096];
    let n = sse.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    dash.stop();
    let mut rest = Vec::new();
    let end = sse.read_to_end(&mut rest);
    assert!(end.is_ok(), "the stream did not end after stop: {end:?}");
    drop(other);
}

/// The routes against a real `tokengate::Handle`: each control changes the pool as
/// intended, observed through the core API.
#[tokio::test]
async fn each_control_reaches_a_real_pool() {
    use tokengate::{Coordinator, Op, StorageSpeed, TaskError};
    let gate = Coordinator::builder().workers(2).build().unwrap();
    let op = Op::new("square");
    let tokens: Vec<_> = (0..50u64).map(|i| gate.spawn(&op, move || i * i)).collect();
    for t in tokens {
        t.wait().unwrap();
    }
    let (app, _) = Dashboard::new(gate.handle()).access_token(TOKEN).into_router().unwrap();
    let (cookie, csrf) = login(&app).await;
    let post = |path: &str, body: &str| post_json(path, &cookie, Some(&csrf), Some(ORIGIN), body);
    let snapshot = || async {
        let r = send(&app, get_with(&cookie, "/api/snapshot")).await;
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()
    };
    let v = snapshot().await;
    let executed: u64 = v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["executed"].as_u64().unwrap())
        .sum();
    assert_eq!(executed, 50);
    assert!(v["missing"].as_array().unwrap().is_empty(), "{v}");
    assert_eq!(v["ops"][0]["completed"], 50);

    // Pause all: spawned work is held; drain an op; cancel one task by id.
    assert_eq!(send(&app, post("/api/pause", "{}")).await.status, StatusCode::OK);
    assert!(gate.is_paused());
    let held: Vec<_> = (0..6u64).map(|i| gate.spawn(&op, move || i)).collect();
    let victim = gate.spawn(&Op::new("victim"), || 0u64);
    while gate.held() < 7 {
        std::thread::yield_now(); // the workers set each paused task aside
    }
    assert_eq!(snapshot().await["queued"]["held"], 7);
    let r = send(&app, post("/api/cancel", &format!(r#"{{"id":{}}}"#, victim.id()))).await;
    assert_eq!(r.body, r#"{"cancelled":true}"#);
    let id = victim.id();
    assert_eq!(victim.wait(), Err(TaskError::Cancelled));
    let r = send(&app, get_with(&cookie, &format!("/api/status/{id}"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(r#""state":"cancelled""#), "{}", r.body);
    let r = send(&app, get_with(&cookie, &format!("/api/status/{}", u64::MAX))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(&app, post("/api/op/drain", r#"{"op":"square"}"#)).await;
    assert_eq!(r.body, r#"{"drained":6}"#);
    assert!(held.into_iter().all(|t| t.wait() == Err(TaskError::Cancelled)));
    assert_eq!(gate.metrics().op("square").unwrap().cancelled, 6);
    assert_eq!(send(&app, post("/api/resume", "{}")).await.status, StatusCode::OK);
    assert!(!gate.is_paused());

    // One op paused by name, then resumed.
    assert_eq!(
        send(&app, post("/api/op/pause", r#"{"op":"square"}"#)).await.status,
        StatusCode::OK
    );
    assert!(gate.is_op_paused("square"));
    assert_eq!(snapshot().await["paused_ops"], serde_json::json!(["square"]));
    assert_eq!(
        send(&app, post("/api/op/resume", r#"{"op":"square"}"#)).await.status,
        StatusCode::OK
    );
    assert!(!gate.is_op_paused("square"));

    // Storage limits: set, and refused with 400 when out of range or unknown.
    let r = send(&app, post("/api/storage-limit", r#"{"tier":"fast","limit":64}"#)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(gate.storage_stats()[StorageSpeed::Fast as usize].limit, 64);
    let r = send(&app, post("/api/storage-limit", r#"{"tier":"fast","limit":0}"#)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = send(&app, post("/api/storage-limit", r#"{"tier":"warp","limit":5}"#)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(gate.storage_stats()[StorageSpeed::Fast as usize].limit, 64);

    // History and Prometheus text come from the core.
    let r = send(&app, get_with(&cookie, "/api/history.json")).await;
    let history: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 57);
    let r = send(&app, get_with(&cookie, "/metrics")).await;
    assert!(
        r.body.contains("tokengate_tasks_submitted_total{op=\"square\""),
        "{}",
        r.body
    );
}

fn get_with(cookie: &str, path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, HOST)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}
