//! `/login` and `/logout`. The login form is one card with `autocomplete` hints and one
//! generic error; it is protected by a double-submit cookie (there is no session yet). A
//! login makes a new session token every time (rotation) and sets it HttpOnly, SameSite=Lax,
//! Secure behind HTTPS. `next=` accepts local paths only. Too many failures answer 429.

use std::sync::Arc;

use app::auth::{AuthError, random_token, same_secret};
use app::{App, AppError};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use leptos::prelude::*;
use server::auth::{SESSION_COOKIE, clear_session_cookie, cookie, is_https, session_cookie};

use crate::form::{Fields, Form};
use crate::session::{self, Flash, Viewer, html_response, safe_next, see_other};
use crate::ui::{self, Chrome, Nav};

/// The login form's double-submit cookie.
pub const LOGIN_CSRF_COOKIE: &str = "pressroom_login_csrf";

struct LoginForm {
    next: String,
    username: String,
    error: Option<String>,
    csrf: String,
    flash: Option<Flash>,
}

fn login_page(f: LoginForm) -> String {
    let LoginForm {
        next,
        username,
        error,
        csrf,
        flash,
    } = f;
    let has_error = error.is_some();
    let error = error.map(|e| {
        view! { <div class="banner tone-critical" role="alert" id="login-error">{e}</div> }
    });
    let flash = flash.map(|f| view! { <p class="flash tone-success">{f.message}</p> });
    let described = has_error.then_some("login-error");
    let body = view! {
        <div class="login">
            <div class="card narrow">
                <p class="brand">"Pressroom"</p>
                {flash}
                {error}
                <form method="post" action="/login" class="stack">
                    <input type="hidden" name="csrf" value=csrf />
                    <input type="hidden" name="next" value=next />
                    <div class="field">
                        <label for="username">"Username"</label>
                        <input
                            id="username"
                            name="username"
                            type="text"
                            autocomplete="username"
                            required=true
                            value=username
                            aria-invalid=has_error.then_some("true")
                            aria-describedby=described
                        />
                    </div>
                    <div class="field">
                        <label for="password">"Password"</label>
                        <input
                            id="password"
                            name="password"
                            type="password"
                            autocomplete="current-password"
                            required=true
                            aria-invalid=has_error.then_some("true")
                            aria-describedby=described
                        />
                    </div>
                    <button type="submit" class="primary">"Sign in"</button>
                </form>
            </div>
        </div>
    }
    .into_any();
    ui::document(Chrome::new("Sign in", None, Nav::None), body)
}

fn login_csrf_cookie(value: &str, secure: bool) -> String {
    format!(
        "{LOGIN_CSRF_COOKIE}={value}; Path=/login; HttpOnly; SameSite=Lax; Max-Age=7200{}",
        if secure { "; Secure" } else { "" }
    )
}

fn answer_login_page(
    status: StatusCode,
    app: &App,
    headers: &HeaderMap,
    next: String,
    username: String,
    error: Option<String>,
) -> Response {
    let secure = is_https(app, headers);
    // Keep the browser's token when it has one (several tabs), else make one.
    let csrf = cookie(headers, LOGIN_CSRF_COOKIE)
        .filter(|c| c.len() >= 32)
        .map(str::to_owned)
        .unwrap_or_else(random_token);
    let flash = cookie(headers, session::FLASH_COOKIE).and_then(Flash::decode);
    let html = login_page(LoginForm {
        next,
        username,
        error,
        csrf: csrf.clone(),
        flash,
    });
    let mut resp = html_response(status, html);
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_str(&login_csrf_cookie(&csrf, secure)).expect("ASCII cookie"),
    );
    h.append(
        header::SET_COOKIE,
        HeaderValue::from_static("pressroom_flash=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    resp
}

/// `GET /login?next=…`: the form, or straight on when already signed in.
pub async fn show(State(app): State<Arc<App>>, headers: HeaderMap, uri: Uri) -> Response {
    let q = Fields::from_query(uri.query());
    let next = safe_next(q.get("next"));
    if let Some(token) = cookie(&headers, SESSION_COOKIE).filter(|t| !t.is_empty())
        && let Ok(Some(_)) = app.session(token).await
    {
        return see_other(&next, None, false);
    }
    answer_login_page(StatusCode::OK, &app, &headers, next, String::new(), None)
}

/// `POST /login`: check the double-submit token, then the name and password.
pub async fn submit(State(app): State<Arc<App>>, req: Request) -> Response {
    let headers = req.headers().clone();
    let addr = server::auth::client_addr(&req);
    let form = match Form::from_request(req, &()).await {
        Ok(Form(f)) => f,
        Err(r) => return r,
    };
    let next = safe_next(form.get("next"));
    let username = form.get("username").trim().to_string();
    let sent = form.get("csrf");
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if expected.is_empty() || !same_secret(sent, expected) {
        return session::csrf_refused(None);
    }
    match app.login(&username, form.get("password"), addr).await {
        Ok(new) => {
            let secure = is_https(&app, &headers);
            let max_age = (new.session.expires_at - app.now()).num_seconds().max(60);
            let mut resp = see_other(&next, None, secure);
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                HeaderValue::from_str(&session_cookie(&new.token, secure, max_age))
                    .expect("ASCII cookie"),
            );
            h.append(
                header::SET_COOKIE,
                HeaderValue::from_str(
                    &login_csrf_cookie("", secure).replace("Max-Age=7200", "Max-Age=0"),
                )
                .expect("ASCII cookie"),
            );
            resp
        }
        Err(AppError::Auth(AuthError::Throttled { retry_after_secs })) => {
            let mut resp = answer_login_page(
                StatusCode::TOO_MANY_REQUESTS,
                &app,
                &headers,
                next,
                username,
                Some(format!(
                    "Too many failed sign-ins. Try again in {}.",
                    ui::duration_text(retry_after_secs as i64)
                )),
            );
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&retry_after_secs.to_string()).expect("digits"),
            );
            resp
        }
        Err(AppError::Auth(AuthError::LoginFailed)) => answer_login_page(
            StatusCode::UNAUTHORIZED,
            &app,
            &headers,
            next,
            username,
            Some("The username or password is not right.".into()),
        ),
        Err(e) => session::error_page(None, &e),
    }
}

/// `POST /logout`: end the session (CSRF-checked) and go to the login page.
pub async fn logout(State(app): State<Arc<App>>, viewer: Viewer, Form(form): Form) -> Response {
    if let Err(r) = viewer.check_csrf(&form) {
        return r;
    }
    if let Err(e) = app.logout(&viewer.token).await {
        return session::error_page(Some(&viewer), &e);
    }
    let mut resp = see_other("/login", Some(Flash::ok("Signed out")), viewer.secure);
    resp.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear_session_cookie(viewer.secure)).expect("ASCII cookie"),
    );
    resp
}
