//! Authentication: the secret (a random access token or a salted Argon2id password
//! hash), login sessions with their CSRF tokens, and the per-IP slow-down of failed
//! logins.
//!
//! Secrets are compared in constant time (`subtle`); passwords are checked by Argon2,
//! whose verification compares in constant time too. Session ids and CSRF tokens are
//! 256-bit values from the OS RNG. Sessions are found by a constant-time scan of a
//! small bounded list, so lookups leak nothing about a guessed id.
//!
//! Failed logins (a wrong token or password at `/login`, or a wrong `Bearer`) are
//! counted per client IP: the first [`FREE_FAILURES`] cost nothing, after that each
//! further attempt from that IP is refused with `429` until a back-off that doubles
//! per failure (1 s, 2 s, 4 s, ... up to [`MAX_BACKOFF`]) has passed. A success clears
//! the count. This state is behind a `Mutex`: it is the dashboard's, not the pool's,
//! and only touched on logins.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Failed logins per IP that are not slowed down.
pub const FREE_FAILURES: u32 = 3;
/// The longest back-off after repeated failures.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How many sessions are kept; the oldest is dropped beyond that.
const MAX_SESSIONS: usize = 64;
/// How long a session lives.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// The secret that unlocks the dashboard.
pub(crate) enum Secret {
    /// An access token, compared in constant time.
    Token(String),
    /// An Argon2 hash in PHC string format.
    PasswordHash(String),
}

/// `n` random bytes from the OS RNG, as lowercase hex.
pub(crate) fn random_hex(n: usize) -> Result<String, getrandom::Error> {
    let mut bytes = vec![0u8; n];
    getrandom::getrandom(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Hashes `password` with Argon2id (default parameters) and a random 16-byte salt.
pub(crate) fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks that `phc` parses as a password hash.
pub(crate) fn check_hash(phc: &str) -> Result<(), String> {
    PasswordHash::new(phc).map(|_| ()).map_err(|e| e.to_string())
}

struct Session {
    id: String,
    csrf: String,
    created: Instant,
}

struct Failures {
    count: u32,
    last: Instant,
}

pub(crate) struct Auth {
    secret: Secret,
    sessions: Mutex<Vec<Session>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

impl Auth {
    pub(crate) fn new(secret: Secret) -> Self {
        Auth {
            secret,
            sessions: Mutex::new(Vec::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `candidate` is the secret. Slow (tens of ms) for a password: call it off
    /// the async threads.
    pub(crate) fn verify(&self, candidate: &str) -> bool {
        match &self.secret {
            Secret::Token(token) => bool::from(token.as_bytes().ct_eq(candidate.as_bytes())),
            Secret::PasswordHash(phc) => match PasswordHash::new(phc) {
                Ok(parsed) => Argon2::default().verify_password(candidate.as_bytes(), &parsed).is_ok(),
                Err(_) => false,
            },
        }
    }

    /// `Err(retry_after)` if `ip` must wait before trying again.
    pub(crate) fn throttled(&self, ip: IpAddr) -> Result<(), Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(&ip) {
            Some(f) if f.count >= FREE_FAILURES => {
                let backoff = backoff(f.count);
                let waited = f.last.elapsed();
                if waited < backoff {
                    Err(backoff - waited)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn record_failure(&self, ip: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > 10_000 {
            // Bound the table: forget IPs whose back-off is long over.
            failures.retain(|_, f| f.last.elapsed() < MAX_BACKOFF);
        }
        let f = failures.entry(ip).or_insert(Failures {
            count: 0,
            last: Instant::now(),
        });
        f.count = f.count.saturating_add(1);
        f.last = Instant::now();
    }

    pub(crate) fn record_success(&self, ip: IpAddr) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&ip);
    }

    /// Opens a session: returns `(session id, csrf token)`, or the RNG's error.
    pub(crate) fn open_session(&self) -> Result<(String, String), getrandom::Error> {
        let id = random_hex(32)?;
        let csrf = random_hex(32)?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|s| s.created.elapsed() < SESSION_TTL);
        if sessions.len() >= MAX_SESSIONS {
            sessions.remove(0);
        }
        sessions.push(Session {
            id: id.clone(),
            csrf: csrf.clone(),
            created: Instant::now(),
        });
        Ok((id, csrf))
    }

    /// The CSRF token of the live session `id`, scanning in constant time per entry.
    pub(crate) fn session_csrf(&self, id: &str) -> Option<String> {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let mut found = None;
        for s in sessions.iter() {
            if bool::from(s.id.as_bytes().ct_eq(id.as_bytes())) && s.created.elapsed() < SESSION_TTL {
                found = Some(s.csrf.clone());
            }
        }
        found
    }

    pub(crate) fn close_session(&self, id: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|s| !bool::from(s.id.as_bytes().ct_eq(id.as_bytes())));
    }
}

/// Constant-time equality of two strings (length may leak, content does not).
pub(crate) fn ct_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn backoff(count: u32) -> Duration {
    let doublings = count.saturating_sub(FREE_FAILURES).min(6);
    Duration::from_secs(1u64 << doublings).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_and_password_verify() {
        let auth = Auth::new(Secret::Token("abc123".into()));
        assert!(auth.verify("abc123"));
        assert!(!auth.verify("abc124"));
        assert!(!auth.verify("abc12"));
        let hash = hash_password("hunter2").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let auth = Auth::new(Secret::PasswordHash(hash.clone()));
        assert!(auth.verify("hunter2"));
        assert!(!auth.verify("hunter3"));
        // A fresh salt every time.
        assert_ne!(hash, hash_password("hunter2").unwrap());
    }

    #[test]
    fn failures_back_off_and_success_clears() {
        let auth = Auth::new(Secret::Token("t".into()));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..FREE_FAILURES {
            assert!(auth.throttled(ip).is_ok());
            auth.record_failure(ip);
        }
        assert!(auth.throttled(ip).is_err());
        assert!(auth.throttled(other).is_ok());
        auth.record_success(ip);
        assert!(auth.throttled(ip).is_ok());
    }

    #[test]
    fn sessions_open_find_close() {
        let auth = Auth::new(Secret::Token("t".into()));
        let (id, csrf) = auth.open_session().unwrap();
        assert_eq!(id.len(), 64);
        assert_eq!(auth.session_csrf(&id), Some(csrf));
        assert_eq!(auth.session_csrf("nope"), None);
        auth.close_session(&id);
        assert_eq!(auth.session_csrf(&id), None);
    }
}
