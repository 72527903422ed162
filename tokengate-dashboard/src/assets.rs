//! The page and its assets, embedded in the binary: the page works with no network.
//! Hand-written, no framework, no CDN. Scripts are served as files (the CSP allows no
//! inline script) and every user-controlled string is written with `textContent`.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The dashboard page; `{{CSRF}}` is replaced by the session's CSRF token.
pub(crate) const INDEX_HTML: &str = include_str!("../assets/index.html");
/// The page's script.
pub(crate) const APP_JS: &str = include_str!("../assets/app.js");
/// The page's style.
pub(crate) const STYLE_CSS: &str = include_str!("../assets/style.css");
/// The login form.
pub(crate) const LOGIN_HTML: &str = include_str!("../assets/login.html");
/// After a login: forwards to the page (a meta refresh, so no script is needed and the
/// SameSite=Strict cookie goes with a same-site navigation).
pub(crate) const LOGGED_IN_HTML: &str = include_str!("../assets/logged_in.html");
/// What an unauthenticated request for any protected route gets.
pub(crate) const UNAUTHORIZED_HTML: &str = include_str!("../assets/unauthorized.html");

pub(crate) fn html(body: impl Into<String>) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body.into()).into_response()
}
