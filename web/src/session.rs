//! Who is looking: the [`Viewer`] extractor (a live session from the cookie, or a 303 to
//! `/login?next=…`), the CSRF check of every POST, flash messages carried across a redirect
//! in a short-lived cookie, and the responses every handler ends with (an HTML page, a
//! redirect, an error page).

use std::sync::Arc;

use app::auth::same_secret;
use app::{App, AppError};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use server::auth::{SESSION_COOKIE, cookie};

use crate::form::Fields;
use crate::ui;

pub use crate::viewer::{FLASH_COOKIE, Flash, Viewer};

/// Where a redirect to the login page should come back to: a local path only.
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && !next.starts_with("/login")
        && !next.starts_with("/logout");
    if ok {
        next.to_string()
    } else {
        "/orders".to_string()
    }
}

fn login_redirect(parts: &Parts) -> Response {
    let here = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/orders");
    let next = if parts.method == axum::http::Method::GET {
        safe_next(here)
    } else {
        "/orders".to_string()
    };
    let location = format!(
        "/login?next={}",
        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    );
    see_other(&location, None, false)
}

impl FromRequestParts<Arc<App>> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            return Err(login_redirect(parts));
        };
        let session = match app.session(token).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(login_redirect(parts)),
            Err(e) => return Err(error_page(None, &e)),
        };
        let flash = cookie(&parts.headers, FLASH_COOKIE).and_then(Flash::decode);
        Ok(Viewer {
            user: session.user,
            csrf: session.csrf,
            token: token.to_string(),
            flash,
            secure: server::auth::is_https(app, &parts.headers),
        })
    }
}

/// The most orders one Bulk Submit or ZIP takes.
pub const MAX_SELECTED: usize = 5000;

impl Viewer {
    /// The selected orders this user may see, up to [`MAX_SELECTED`] (others are dropped as if
    /// they did not exist).
    pub async fn visible_orders(&self, app: &App, ids: &[i64]) -> Vec<(i64, storage::OrderRow)> {
        let mut out = vec![];
        for id in ids.iter().take(MAX_SELECTED) {
            if let Ok(row) = app.order_for(&self.user, *id).await {
                out.push((*id, row));
            }
        }
        out
    }

    /// Refuse a form without this session's CSRF token (403, nothing done).
    pub fn check_csrf(&self, form: &Fields) -> Result<(), Response> {
        if same_secret(form.get("csrf"), &self.csrf) {
            Ok(())
        } else {
            Err(csrf_refused(Some(self)))
        }
    }

    /// The actor recorded in histories for this user.
    pub fn actor(&self) -> domain::Actor {
        domain::Actor::Merchant(self.user.username.clone())
    }

    /// An HTML page answer (clears the flash it showed).
    pub fn page(&self, status: StatusCode, html: String) -> Response {
        let mut resp = html_response(status, html);
        if self.flash.is_some() {
            resp.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_str(&flash_cookie(None, self.secure)).expect("ASCII cookie"),
            );
        }
        resp
    }

    /// A 303 to `location` with a flash message.
    pub fn redirect(&self, location: &str, flash: Flash) -> Response {
        see_other(location, Some(flash), self.secure)
    }
}

fn flash_cookie(flash: Option<&Flash>, secure: bool) -> String {
    let (value, age) = match flash {
        Some(f) => (f.encode(), 60),
        None => (String::new(), 0),
    };
    format!(
        "{FLASH_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Headers every page carries: no caching of private pages, no framing, a strict CSP (no
/// inline scripts or styles).
fn page_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
}

/// An HTML document answer.
pub fn html_response(status: StatusCode, html: String) -> Response {
    let mut resp = (status, html).into_response();
    page_headers(resp.headers_mut());
    resp
}

/// A 303 See Other, optionally with a flash message.
pub fn see_other(location: &str, flash: Option<Flash>, secure: bool) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/orders")),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(f) = flash {
        h.append(
            header::SET_COOKIE,
            HeaderValue::from_str(&flash_cookie(Some(&f), secure)).expect("ASCII cookie"),
        );
    }
    resp
}

/// 403: the form's CSRF token is missing or wrong.
pub fn csrf_refused(viewer: Option<&Viewer>) -> Response {
    let html = ui::message_page(
        viewer,
        "Form expired",
        "This form has expired or did not come from this site, so nothing was changed. \
         Go back, reload the page and try again.",
    );
    html_response(StatusCode::FORBIDDEN, html)
}

/// The page for an error of a use case, with the matching status (404 for "not found", which
/// is also what another merchant's order answers).
pub fn error_page(viewer: Option<&Viewer>, e: &AppError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(error = %e, "web page failed");
    }
    let (title, text) = match status {
        StatusCode::NOT_FOUND => (
            "Not found",
            "Page not found: there is nothing here, or it is not yours to see. Check the address or go back to the orders."
                .to_string(),
        ),
        StatusCode::FORBIDDEN => ("Not allowed", e.to_string()),
        s if s.is_server_error() => (
            "Something went wrong",
            format!("The server could not do this: {e}. Try again in a moment."),
        ),
        _ => ("Not done", e.to_string()),
    };
    html_response(status, ui::message_page(viewer, title, &text))
}

/// The 404 page.
pub fn not_found(viewer: Option<&Viewer>) -> Response {
    error_page(viewer, &AppError::NotFound("not found".into()))
}
