//! A live web dashboard for a running [tokengate](https://docs.rs/tokengate) pool:
//! panels for workers, heavy permits, queues, storage tiers, per-op health and recent
//! executions, charts of throughput, queue depth and p99 wait, and controls (pause and
//! resume, pause/resume/drain an op, cancel or look up a task by id, change a storage
//! tier's limit, download the history). Secure by default.
//!
//! ```no_run
//! use tokengate::Coordinator;
//! use tokengate_dashboard::Dashboard;
//!
//! let gate = Coordinator::builder().build().unwrap();
//! let dash = Dashboard::new(gate.handle()).start().unwrap();   // 127.0.0.1:8750
//! println!("open {}", dash.login_url());                        // carries the access token
//! // ... the pool works; the page updates every second ...
//! dash.stop();                                                   // or just drop it
//! ```
//!
//! # How it runs
//!
//! [`Dashboard::start`] binds at once (errors are returned, not printed) and serves
//! from one background thread with its own single-threaded tokio runtime, so a plain
//! synchronous program needs no runtime and the pool's workers never serve HTTP. A
//! sampler reads the pool once per interval (default 1 s) whatever the number of open
//! pages, keeps the chart history (default 300 samples) and pushes each update to every
//! page over server-sent events. The page, its script and its style are embedded.
//!
//! # Security
//!
//! - Binds `127.0.0.1` unless told otherwise; a non-loopback address without a
//!   configured secret is refused with [`DashboardError::NonLoopbackWithoutSecret`].
//! - Every route but `/login` needs authentication: a session cookie (`HttpOnly`,
//!   `SameSite=Strict`) from logging in with the secret, or `Authorization: Bearer`.
//!   The secret is a 192-bit random access token made at start from the OS RNG (see
//!   [`RunningDashboard::login_url`]), a configured token, or a password kept only as
//!   a salted Argon2id hash. Secrets are compared in constant time.
//! - State-changing requests need a same-origin `Origin` and, with a cookie, the
//!   session's CSRF token in `X-CSRF-Token`. No CORS headers are sent. Every response
//!   carries a restrictive Content-Security-Policy (no inline script, `default-src
//!   'self'`), `nosniff`, `frame-ancestors 'none'`, `no-store`.
//! - The page writes everything from the pool with `textContent`, never as HTML.
//! - Failed logins are slowed down per client IP (429 with `Retry-After`, doubling).
//! - It speaks plain HTTP: off loopback, put a TLS proxy in front.
//!
//! # The pool
//!
//! The page reads and steers a pool through the [`Pool`] trait, which returns the
//! dashboard's own view structs. [`tokengate::Handle`] implements it: busy share is
//! per sample interval (from cumulative busy time), and the status lookup by id finds
//! resolved tasks only, in the newest 1024 entries of the execution history (the core
//! reads a live task's status only through its token); a queued or running task
//! answers "not found". Cancel by id reaches queued tasks only.

mod assets;
mod auth;
mod handle_pool;
mod routes;
mod series;
mod server;
#[doc(hidden)]
pub mod testing;
mod view;

pub use routes::{COOKIE, CSP};
pub use series::Point;
pub use server::{Dashboard, DashboardError, RunningDashboard, DEFAULT_ADDR, MIN_TOKEN_LEN};
pub use view::{
    ControlError, ExecutionView, OpView, PermitView, Pool, QueuedView, Snapshot, TaskView, TierView, WorkerView,
};
