//! The HTTP surface: routes, the authentication and CSRF middleware, the handlers and
//! the security headers.
//!
//! | route | method | what |
//! | --- | --- | --- |
//! | `/login` | GET | `?token=` logs in (sets the session cookie); without it, the login form |
//! | `/login` | POST | form field `secret` (token or password) |
//! | `/logout` | POST | ends the session |
//! | `/`, `/app.js`, `/style.css` | GET | the page and its assets (embedded) |
//! | `/api/snapshot` | GET | the current [`Snapshot`](crate::Snapshot) |
//! | `/api/series` | GET | the chart samples |
//! | `/api/events` | GET | server-sent events: one update per interval |
//! | `/api/history.json` | GET | the execution history, as a download |
//! | `/api/status/{id}` | GET | a resolved task's status (from the history), 404 otherwise |
//! | `/api/pause`, `/api/resume` | POST | all ops |
//! | `/api/op/pause`, `/api/op/resume`, `/api/op/drain` | POST | `{"op": name}` |
//! | `/api/cancel` | POST | `{"id": n}` |
//! | `/api/storage-limit` | POST | `{"tier": name, "limit": n}` |
//! | `/metrics` | GET | Prometheus text |
//!
//! Everything but `/login` needs either the session cookie (set by a login; `HttpOnly`,
//! `SameSite=Strict`) or `Authorization: Bearer <secret>`. A request that is not a
//! GET/HEAD must carry an `Origin` equal to the server's own origin (from `Host`) when
//! it comes with a cookie (and a matching one if it sends any), and with a cookie also
//! the session's CSRF token in `X-CSRF-Token`. No CORS headers are ever sent, so other
//! origins cannot read any response.

use crate::assets;
use crate::auth::{self, Auth, Secret};
use crate::series::{run_sampler, Point, Series};
use crate::view::{ControlError, Pool, Snapshot};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use futures_util::stream::Stream;
use serde::Deserialize;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The session cookie's name.
pub const COOKIE: &str = "tg_session";

/// The Content-Security-Policy of every response.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                       frame-ancestors 'none'";

pub(crate) struct AppConfig {
    pub(crate) pool: Arc<dyn Pool>,
    pub(crate) secret: Secret,
    pub(crate) interval: Duration,
    pub(crate) history: usize,
    pub(crate) stop: watch::Receiver<bool>,
    /// Keeps the stop channel open when no server owns its sender (`into_router`).
    pub(crate) stop_keep: Option<watch::Sender<bool>>,
}

struct AppState {
    pool: Arc<dyn Pool>,
    auth: Auth,
    series: Arc<Series>,
    latest: watch::Receiver<Arc<String>>,
    stop: watch::Receiver<bool>,
    _stop_keep: Option<watch::Sender<bool>>,
    _sampler: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type Shared = Arc<AppState>;

/// How a request was authenticated.
#[derive(Clone)]
enum Authed {
    Bearer,
    Session { id: String, csrf: String },
}

pub(crate) fn router(config: AppConfig) -> Router {
    let series = Arc::new(Series::new(config.history));
    let (latest_tx, latest) = watch::channel(Arc::new(String::from("{}")));
    let sampler = tokio::spawn(run_sampler(
        Arc::clone(&config.pool),
        Arc::clone(&series),
        latest_tx,
        config.interval,
        config.stop.clone(),
    ));
    let state: Shared = Arc::new(AppState {
        pool: config.pool,
        auth: Auth::new(config.secret),
        series,
        latest,
        stop: config.stop,
        _stop_keep: config.stop_keep,
        _sampler: AbortOnDrop(sampler),
    });
    let protected = Router::new()
        .route("/", get(index))
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", assets::APP_JS) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css; charset=utf-8", assets::STYLE_CSS) }),
        )
        .route("/api/snapshot", get(snapshot))
        .route("/api/series", get(series_all))
        .route("/api/events", get(events))
        .route("/api/history.json", get(history))
        .route("/api/status/{id}", get(status))
        .route("/api/pause", post(pause))
        .route("/api/resume", post(resume))
        .route("/api/op/pause", post(op_pause))
        .route("/api/op/resume", post(op_resume))
        .route("/api/op/drain", post(op_drain))
        .route("/api/cancel", post(cancel))
        .route("/api/storage-limit", post(storage_limit))
        .route("/metrics", get(metrics))
        .route("/logout", post(logout))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&state), require_auth));
    Router::new()
        .route("/login", get(login_get).post(login_post))
        .merge(protected)
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    res
}

fn client_ip(req_ext: &axum::http::Extensions) -> IpAddr {
    req_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

fn error(status: StatusCode, msg: &str) -> Response {
    (status, Json(serde_json::json!({ "error": msg }))).into_response()
}

/// Whether `Origin` names this server (`http://` + `Host`).
fn origin_matches(headers: &HeaderMap) -> Option<bool> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    Some(match host {
        Some(host) => origin == format!("http://{host}"),
        None => false,
    })
}

/// Verifies a secret off the async thread (a password check takes tens of ms), with
/// the per-IP slow-down. `Err` is the response to send.
async fn check_secret(state: &Shared, ip: IpAddr, candidate: String) -> Result<(), Response> {
    if let Err(wait) = state.auth.throttled(ip) {
        let mut res = error(StatusCode::TOO_MANY_REQUESTS, "too many failed logins; wait");
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(res);
    }
    let st = Arc::clone(state);
    let ok = tokio::task::spawn_blocking(move || st.auth.verify(&candidate))
        .await
        .unwrap_or(false);
    if ok {
        state.auth.record_success(ip);
        Ok(())
    } else {
        state.auth.record_failure(ip);
        Err(error(StatusCode::UNAUTHORIZED, "wrong secret"))
    }
}

async fn require_auth(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let ip = client_ip(req.extensions());
    let headers = req.headers();
    let authed = if let Some(candidate) = bearer(headers) {
        if let Err(res) = check_secret(&state, ip, candidate).await {
            return res;
        }
        Authed::Bearer
    } else if let Some(id) = cookie_value(headers, COOKIE) {
        match state.auth.session_csrf(&id) {
            Some(csrf) => Authed::Session { id, csrf },
            None => return unauthorized(),
        }
    } else {
        return unauthorized();
    };
    let safe = req.method() == Method::GET || req.method() == Method::HEAD;
    if !safe {
        let headers = req.headers();
        match (&authed, origin_matches(headers)) {
            (_, Some(false)) => return error(StatusCode::FORBIDDEN, "bad Origin"),
            (Authed::Session { .. }, None) => return error(StatusCode::FORBIDDEN, "missing Origin"),
            _ => {}
        }
        if let Authed::Session { csrf, .. } = &authed {
            let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
            if !auth::ct_eq(sent, csrf) {
                return error(StatusCode::FORBIDDEN, "missing or wrong CSRF token");
            }
        }
    }
    req.extensions_mut().insert(authed);
    next.run(req).await
}

fn unauthorized() -> Response {
    let mut res = (StatusCode::UNAUTHORIZED, assets::html(assets::UNAUTHORIZED_HTML)).into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"tokengate\""),
    );
    res
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

#[derive(Deserialize)]
struct LoginQuery {
    token: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    secret: String,
}

async fn login_get(State(state): State<Shared>, req: Request) -> Response {
    let ip = client_ip(req.extensions());
    let token = Query::<LoginQuery>::try_from_uri(req.uri())
        .ok()
        .and_then(|q| q.0.token);
    match token {
        None => assets::html(assets::LOGIN_HTML).into_response(),
        Some(t) => login(&state, ip, t).await,
    }
}

async fn login_post(State(state): State<Shared>, req: Request) -> Response {
    let ip = client_ip(req.extensions());
    if origin_matches(req.headers()) != Some(true) {
        return error(StatusCode::FORBIDDEN, "bad or missing Origin");
    }
    let form = match Form::<LoginForm>::from_request(req, &()).await {
        Ok(Form(f)) => f,
        Err(_) => return error(StatusCode::BAD_REQUEST, "expected form field secret"),
    };
    login(&state, ip, form.secret).await
}

use axum::extract::FromRequest;

async fn login(state: &Shared, ip: IpAddr, candidate: String) -> Response {
    if let Err(res) = check_secret(state, ip, candidate).await {
        return res;
    }
    let id = match state.auth.open_session() {
        Ok((id, _csrf)) => id,
        Err(_) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the OS random number generator failed",
            )
        }
    };
    let cookie = format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/");
    let mut res = assets::html(assets::LOGGED_IN_HTML).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

async fn logout(State(state): State<Shared>, req: Request) -> Response {
    if let Some(Authed::Session { id, .. }) = req.extensions().get::<Authed>() {
        state.auth.close_session(id);
    }
    let mut res = Json(serde_json::json!({ "ok": true })).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("tg_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    res
}

async fn index(req: Request) -> Response {
    // Bearer clients get the page without a CSRF token: they need none.
    let csrf = match req.extensions().get::<Authed>() {
        Some(Authed::Session { csrf, .. }) => csrf.clone(),
        _ => String::new(),
    };
    // The token is hex, so it is safe inside the attribute.
    assets::html(assets::INDEX_HTML.replace("{{CSRF}}", &csrf)).into_response()
}

async fn snapshot(State(state): State<Shared>) -> Json<Snapshot> {
    let pool = Arc::clone(&state.pool);
    Json(
        tokio::task::spawn_blocking(move || pool.snapshot())
            .await
            .unwrap_or_default(),
    )
}

async fn series_all(State(state): State<Shared>) -> Json<Vec<Point>> {
    Json(state.series.all())
}

async fn events(State(state): State<Shared>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let latest = state.latest.clone();
    let stop = state.stop.clone();
    // First the current value, then each new one; the stream ends when the server stops.
    let stream = futures_util::stream::unfold((latest, stop, true), |(mut latest, mut stop, first)| async move {
        if !first {
            tokio::select! {
                changed = latest.changed() => { changed.ok()?; }
                _ = stop.wait_for(|s| *s) => return None,
            }
        }
        if *stop.borrow() {
            return None;
        }
        let text = latest.borrow_and_update().clone();
        Some((
            Ok(Event::default().event("update").data(text.as_str())),
            (latest, stop, false),
        ))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn history(State(state): State<Shared>) -> Response {
    let pool = Arc::clone(&state.pool);
    let body = tokio::task::spawn_blocking(move || pool.history_json())
        .await
        .unwrap_or_else(|_| "[]".into());
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"tokengate-history.json\"",
            ),
        ],
        body,
    )
        .into_response()
}

async fn metrics(State(state): State<Shared>) -> Response {
    let pool = Arc::clone(&state.pool);
    let body = tokio::task::spawn_blocking(move || pool.prometheus())
        .await
        .unwrap_or_default();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        Body::from(body),
    )
        .into_response()
}

/// Runs a control off the async thread (a drain may take a while) and maps its error.
async fn control<T, F>(state: &Shared, f: F) -> Result<T, Response>
where
    T: Send + 'static,
    F: FnOnce(&dyn Pool) -> Result<T, ControlError> + Send + 'static,
{
    let pool = Arc::clone(&state.pool);
    match tokio::task::spawn_blocking(move || f(&*pool)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            let status = match e {
                ControlError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
                _ => StatusCode::BAD_REQUEST,
            };
            Err(error(status, &e.to_string()))
        }
        Err(_) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "the control panicked")),
    }
}

fn reply<T: serde::Serialize>(r: Result<T, Response>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(res) => res,
    }
}

async fn status(State(state): State<Shared>, Path(id): Path<u64>) -> Response {
    match control(&state, move |p| p.status(id)).await {
        Ok(Some(view)) => Json(view).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "not found: never spawned, or resolved longer ago than the history reaches",
        ),
        Err(res) => res,
    }
}

async fn pause(State(state): State<Shared>) -> Response {
    reply(control(&state, |p| p.pause().map(|()| serde_json::json!({ "ok": true }))).await)
}

async fn resume(State(state): State<Shared>) -> Response {
    reply(control(&state, |p| p.resume().map(|()| serde_json::json!({ "ok": true }))).await)
}

#[derive(Deserialize)]
struct OpBody {
    op: String,
}

async fn op_pause(State(state): State<Shared>, Json(b): Json<OpBody>) -> Response {
    reply(
        control(&state, move |p| {
            p.pause_op(&b.op).map(|()| serde_json::json!({ "ok": true }))
        })
        .await,
    )
}

async fn op_resume(State(state): State<Shared>, Json(b): Json<OpBody>) -> Response {
    reply(
        control(&state, move |p| {
            p.resume_op(&b.op).map(|()| serde_json::json!({ "ok": true }))
        })
        .await,
    )
}

async fn op_drain(State(state): State<Shared>, Json(b): Json<OpBody>) -> Response {
    reply(
        control(&state, move |p| {
            p.drain_op(&b.op).map(|n| serde_json::json!({ "drained": n }))
        })
        .await,
    )
}

#[derive(Deserialize)]
struct CancelBody {
    id: u64,
}

async fn cancel(State(state): State<Shared>, Json(b): Json<CancelBody>) -> Response {
    reply(
        control(&state, move |p| {
            p.cancel(b.id).map(|c| serde_json::json!({ "cancelled": c }))
        })
        .await,
    )
}

#[derive(Deserialize)]
struct LimitBody {
    tier: String,
    limit: usize,
}

async fn storage_limit(State(state): State<Shared>, Json(b): Json<LimitBody>) -> Response {
    reply(
        control(&state, move |p| {
            p.set_storage_limit(&b.tier, b.limit)
                .map(|()| serde_json::json!({ "ok": true }))
        })
        .await,
    )
}
