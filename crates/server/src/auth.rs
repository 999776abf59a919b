//! Who is calling the API, and whether they may: a bearer token (`pressroom token create`) or
//! the web UI's session cookie. A cookie-authenticated request that changes something must
//! carry the session's CSRF token in `X-CSRF-Token` (a bearer token is not sent by browsers on
//! their own, so it needs none).
//!
//! Merchant isolation lives here, in one place for every route: a path naming an order, a
//! render, a store or an import the caller may not see answers 404, exactly like one that does
//! not exist, so ids reveal nothing. Provider accounts, outbound webhooks and users are for
//! admins.

use std::net::SocketAddr;
use std::sync::Arc;

use app::App;
use app::auth::{AuthError, Session, User};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pressroom_session";
/// The header a cookie-authenticated script sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The caller of a request, put into the request's extensions by [`require_caller`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// The session when the caller came with the cookie (`None` for a bearer token).
    pub session: Option<Session>,
}

impl Caller {
    /// Who the history names for what this caller does.
    pub fn actor(&self) -> domain::Actor {
        domain::Actor::Merchant(self.user.username.clone())
    }

    /// Refuse a store this caller may not see, as if it did not exist.
    pub fn require_store(&self, store_id: &str) -> Result<(), ApiError> {
        if self.user.sees_store(store_id) {
            Ok(())
        } else {
            Err(not_found("store", store_id))
        }
    }
}

/// The value of a cookie in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value of a new session. `secure` when the server is reached over HTTPS.
pub fn session_cookie(token: &str, secure: bool, max_age_secs: i64) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that ends the session in the browser.
pub fn clear_session_cookie(secure: bool) -> String {
    session_cookie("", secure, 0)
}

/// Whether cookies get `Secure`: the public URL is HTTPS, or the request came through an HTTPS
/// proxy.
pub fn is_https(app: &App, headers: &HeaderMap) -> bool {
    app.settings.public_url.starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The caller behind a request's bearer token or session cookie, if any.
pub async fn caller(app: &App, headers: &HeaderMap) -> Result<Option<Caller>, app::AppError> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let token = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
            .unwrap_or("")
            .trim();
        // A wrong token is a failure, not a fall-back to the cookie.
        return Ok(app.user_for_token(token).await?.map(|user| Caller {
            user,
            session: None,
        }));
    }
    let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    Ok(app.session(token).await?.map(|session| Caller {
        user: session.user.clone(),
        session: Some(session),
    }))
}

/// Whether a request changes something (and so needs a CSRF token when it comes with a
/// cookie).
pub fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The address a request came from (for the login throttle).
pub fn client_addr(request: &Request) -> Option<std::net::IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Middleware of `/api/v1`: a caller, their CSRF token, and the right to see what the path
/// names.
pub(crate) async fn require_caller(
    State(app): State<Arc<App>>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match caller(&app, request.headers()).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return ApiError::from(app::AppError::from(AuthError::Unauthenticated)).into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Some(session) = &caller.session
        && is_state_changing(request.method())
    {
        let sent = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !app::auth::same_secret(sent, &session.csrf) {
            return ApiError::from(app::AppError::from(AuthError::BadCsrf)).into_response();
        }
    }
    if let Err(e) = may_see(&app, &caller.user, request.uri().path()).await {
        return e.into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::not_found(format!("{what} {id} not found"))
}

/// Whether `user` may see what `path` names. Unknown ids and other merchants' ids give the
/// same 404.
async fn may_see(app: &App, user: &User, path: &str) -> Result<(), ApiError> {
    if user.is_admin() {
        return Ok(());
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", "v1", "providers", ..]
        | ["api", "v1", "webhooks", ..]
        | ["api", "v1", "users", ..] => {
            Err(ApiError::from(app::AppError::from(AuthError::Forbidden(
                "provider accounts, webhooks and users are managed by an admin".into(),
            ))))
        }
        ["api", "v1", "orders", id, ..] if id.parse::<i64>().is_ok() => {
            let order = id.parse::<i64>().unwrap_or_default();
            match app.db.get_order(order).await {
                Ok(row) if user.sees_store(&row.store_id) => Ok(()),
                Ok(_) | Err(storage::StorageError::NotFound { .. }) => Err(not_found("order", id)),
                Err(e) => Err(e.into()),
            }
        }
        ["api", "v1", "renders", id, ..] => {
            let Ok(render) = id.parse::<i64>() else {
                return Err(not_found("render", id));
            };
            let order = match app.db.render(render).await {
                Ok(r) => r.render.order_id,
                Err(storage::StorageError::NotFound { .. }) => return Err(not_found("render", id)),
                Err(e) => return Err(e.into()),
            };
            match app.db.get_order(order).await {
                Ok(row) if user.sees_store(&row.store_id) => Ok(()),
                Ok(_) | Err(storage::StorageError::NotFound { .. }) => Err(not_found("render", id)),
                Err(e) => Err(e.into()),
            }
        }
        ["api", "v1", "stores", id, ..] => {
            if user.sees_store(id) {
                Ok(())
            } else {
                Err(not_found("store", id))
            }
        }
        ["api", "v1", "imports", id, ..] => {
            let Ok(import) = id.parse::<i64>() else {
                return Err(not_found("import", id));
            };
            match app.db.import(import).await {
                Ok(row) if user.sees_store(&row.store_id) => Ok(()),
                Ok(_) | Err(storage::StorageError::NotFound { .. }) => Err(not_found("import", id)),
                Err(e) => Err(e.into()),
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; pressroom_session_x=2; pressroom_session=tok"
                .parse()
                .unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, "b"), None);
    }

    #[test]
    fn the_session_cookie_is_http_only_and_lax_and_secure_over_https() {
        let c = session_cookie("t", false, 60);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && !c.contains("Secure"));
        assert!(session_cookie("t", true, 60).ends_with("; Secure"));
        assert!(clear_session_cookie(false).contains("Max-Age=0"));
    }
}
