//! The public surface: [`Dashboard`] (configure), [`RunningDashboard`] (a server on
//! its own thread) and [`DashboardError`].
//!
//! `start()` binds the address synchronously (so a bad address or a port in use is an
//! error you get at once), then runs the server on a background thread that owns a
//! single-threaded tokio runtime. The calling program needs no runtime of its own and
//! the pool's workers are never used by the server. Stopping (by `stop()` or by dropping
//! the `RunningDashboard`) ends the live streams, lets in-flight requests finish (for at
//! most two seconds) and joins the thread.

use crate::auth::{self, Secret};
use crate::routes::{self, AppConfig};
use crate::view::Pool;
use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

/// The default address: loopback only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8750";

/// The shortest configured access token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// A dashboard for a pool, not yet started.
///
/// ```no_run
/// use tokengate::Coordinator;
/// use tokengate_dashboard::Dashboard;
/// let gate = Coordinator::builder().workers(2).build().unwrap();
/// let dash = Dashboard::new(gate.handle()).bind("127.0.0.1:8750").start().unwrap();
/// println!("dashboard: {}", dash.login_url());
/// // ... run the workload; dropping `dash` stops the server.
/// ```
#[must_use = "a Dashboard does nothing until start() is called"]
pub struct Dashboard {
    pool: Arc<dyn Pool>,
    addr: String,
    token: Option<String>,
    password: Option<String>,
    password_hash: Option<String>,
    interval: Duration,
    history: usize,
}

impl Dashboard {
    /// A dashboard for `pool`, bound to [`DEFAULT_ADDR`], with a random access token.
    pub fn new<P: Pool>(pool: P) -> Self {
        Dashboard {
            pool: Arc::new(pool),
            addr: DEFAULT_ADDR.to_string(),
            token: None,
            password: None,
            password_hash: None,
            interval: Duration::from_secs(1),
            history: 300,
        }
    }

    /// The address to listen on (`host:port`; port 0 picks a free one). A non-loopback
    /// address needs a configured secret ([`access_token`](Self::access_token),
    /// [`password`](Self::password) or [`password_hash`](Self::password_hash)). The
    /// server speaks plain HTTP: off loopback, put it behind a TLS proxy.
    pub fn bind(mut self, addr: impl Into<String>) -> Self {
        self.addr = addr.into();
        self
    }

    /// Uses this access token instead of a random one (at least [`MIN_TOKEN_LEN`]
    /// characters).
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Protects the dashboard with a password instead of a token. It is hashed at
    /// `start()` with Argon2id and a random salt; only the hash is kept.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Protects the dashboard with an Argon2 password hash in PHC format (for example
    /// `$argon2id$v=19$...`), so the plain password need not be in your config.
    pub fn password_hash(mut self, phc: impl Into<String>) -> Self {
        self.password_hash = Some(phc.into());
        self
    }

    /// How often the page is pushed a new snapshot (default 1 s; at most 1 s).
    pub fn interval(mut self, every: Duration) -> Self {
        self.interval = every.clamp(Duration::from_millis(50), Duration::from_secs(1));
        self
    }

    /// How many chart samples are kept (default 300: five minutes at 1 s).
    pub fn history(mut self, samples: usize) -> Self {
        self.history = samples.clamp(10, 10_000);
        self
    }

    /// Checks the configuration and returns the secret plus the access token to print.
    fn secret(&self, addr: SocketAddr) -> Result<(Secret, Option<String>), DashboardError> {
        let configured = [
            self.token.is_some(),
            self.password.is_some(),
            self.password_hash.is_some(),
        ];
        if configured.iter().filter(|c| **c).count() > 1 {
            return Err(DashboardError::ConflictingSecrets);
        }
        if let Some(token) = &self.token {
            if token.len() < MIN_TOKEN_LEN {
                return Err(DashboardError::WeakToken);
            }
            return Ok((Secret::Token(token.clone()), Some(token.clone())));
        }
        if let Some(password) = &self.password {
            if password.is_empty() {
                return Err(DashboardError::WeakToken);
            }
            let hash = auth::hash_password(password).map_err(DashboardError::PasswordHash)?;
            return Ok((Secret::PasswordHash(hash), None));
        }
        if let Some(phc) = &self.password_hash {
            auth::check_hash(phc).map_err(DashboardError::PasswordHash)?;
            return Ok((Secret::PasswordHash(phc.clone()), None));
        }
        if !addr.ip().is_loopback() {
            return Err(DashboardError::NonLoopbackWithoutSecret(addr));
        }
        let token = auth::random_hex(24).map_err(|e| DashboardError::Rng(e.to_string()))?;
        Ok((Secret::Token(token.clone()), Some(token)))
    }

    /// Builds the router without serving it: for tests and for embedding in an
    /// existing axum server. Must be called inside a tokio runtime (it spawns the
    /// sampler). Returns the router and the access token (if token-protected).
    #[doc(hidden)]
    pub fn into_router(self) -> Result<(axum::Router, Option<String>), DashboardError> {
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("a valid address");
        let (secret, token) = self.secret(addr)?;
        // No server owns a stop sender here: the router keeps it, so the sampler runs
        // as long as the router lives.
        let (keep, rx) = watch::channel(false);
        let router = routes::router(AppConfig {
            pool: self.pool,
            secret,
            interval: self.interval,
            history: self.history,
            stop: rx,
            stop_keep: Some(keep),
        });
        Ok((router, token))
    }

    /// Binds and starts serving on a background thread.
    pub fn start(self) -> Result<RunningDashboard, DashboardError> {
        let listener = TcpListener::bind(&self.addr).map_err(|e| DashboardError::Bind(self.addr.clone(), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| DashboardError::Bind(self.addr.clone(), e))?;
        let (secret, token) = self.secret(addr)?;
        listener.set_nonblocking(true).map_err(DashboardError::Runtime)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(DashboardError::Runtime)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let config = AppConfig {
            pool: self.pool,
            secret,
            interval: self.interval,
            history: self.history,
            stop: stop_rx.clone(),
            stop_keep: None,
        };
        let thread = std::thread::Builder::new()
            .name("tokengate-dashboard".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            eprintln!("tokengate-dashboard: cannot serve: {e}");
                            return;
                        }
                    };
                    let app = routes::router(config).into_make_service_with_connect_info::<SocketAddr>();
                    let mut signal = stop_rx.clone();
                    let shutdown = async move {
                        let _ = signal.wait_for(|stop| *stop).await;
                    };
                    let mut deadline = stop_rx;
                    let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown);
                    tokio::select! {
                        result = serve => {
                            if let Err(e) = result {
                                eprintln!("tokengate-dashboard: server error: {e}");
                            }
                        }
                        _ = async move {
                            let _ = deadline.wait_for(|stop| *stop).await;
                            tokio::time::sleep(Duration::from_secs(2)).await;
                        } => {}
                    }
                });
            })
            .map_err(DashboardError::Runtime)?;
        let url = match addr {
            SocketAddr::V4(a) => format!("http://{a}"),
            SocketAddr::V6(a) => format!("http://[{}]:{}", a.ip(), a.port()),
        };
        Ok(RunningDashboard {
            url,
            addr,
            token,
            stop: stop_tx,
            thread: Some(thread),
        })
    }
}

/// A dashboard being served. Dropping it stops the server.
#[must_use = "dropping a RunningDashboard stops the server"]
pub struct RunningDashboard {
    url: String,
    addr: SocketAddr,
    token: Option<String>,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl RunningDashboard {
    /// The base URL, for example `http://127.0.0.1:8750`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The access token, or `None` when protected by a password.
    pub fn access_token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The URL to open in a browser: it logs in with the access token and leaves a
    /// session cookie. With a password, the login page.
    pub fn login_url(&self) -> String {
        match &self.token {
            Some(t) => format!("{}/login?token={t}", self.url),
            None => format!("{}/login", self.url),
        }
    }

    /// Stops the server and joins its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningDashboard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for RunningDashboard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningDashboard")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Why a dashboard could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum DashboardError {
    /// The address could not be bound (bad address, port in use, ...).
    Bind(String, std::io::Error),
    /// A non-loopback address was asked for without a configured secret.
    NonLoopbackWithoutSecret(SocketAddr),
    /// A configured access token shorter than [`MIN_TOKEN_LEN`], or an empty password.
    WeakToken,
    /// More than one of token, password and password hash was configured.
    ConflictingSecrets,
    /// The password could not be hashed, or the given hash does not parse.
    PasswordHash(String),
    /// The runtime or its thread could not be started.
    Runtime(std::io::Error),
    /// The OS random number generator failed, so no access token could be made.
    Rng(String),
}

impl fmt::Display for DashboardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DashboardError::Bind(addr, e) => write!(f, "cannot bind {addr}: {e}"),
            DashboardError::NonLoopbackWithoutSecret(addr) => write!(
                f,
                "refusing to listen on non-loopback {addr} without a configured secret \
                 (use access_token, password or password_hash)"
            ),
            DashboardError::WeakToken => write!(f, "the access token must have at least {MIN_TOKEN_LEN} characters"),
            DashboardError::ConflictingSecrets => write!(f, "configure one of access_token, password, password_hash"),
            DashboardError::PasswordHash(e) => write!(f, "password hash: {e}"),
            DashboardError::Runtime(e) => write!(f, "cannot start the server thread: {e}"),
            DashboardError::Rng(e) => write!(f, "the OS random number generator failed: {e}"),
        }
    }
}

impl std::error::Error for DashboardError {}
