//! Pressroom's admin web UI: pages rendered on the server with Leptos (the `ssr` feature only,
//! no WebAssembly, no hydration), plain links and `<form>`s, and one small script
//! (`assets/pressroom.js`) that adds ticking countdowns, the live preview, dialogs and import
//! progress. Everything works without the script.
//!
//! Handlers are plain axum handlers: they load data through [`app::App`] (the same use cases
//! as the JSON API), render a Leptos view to a string, and answer. A form posts, the handler
//! calls the use case and redirects (303) back with a flash message (post/redirect/get).
//!
//! [`router`] is merged with `server::router` by `pressroom serve`; it owns `/`, `/login`,
//! `/logout`, `/orders…`, `/imports/…`, `/settings…` and `/assets/…` and sets no fallback.
//!
//! Security: every page but `/login` and `/assets` needs a session (the cookie of
//! `server::auth`); every POST carries the session's CSRF token in a hidden `csrf` field
//! (the login form a double-submit cookie); a merchant sees only their stores' orders, and
//! another merchant's order is "not found", like one that does not exist.

#![forbid(unsafe_code)]
// Handlers answer refusals (a redirect to the login page, a 403 or 404 page) as the error of
// a `Result<_, Response>`: that is the response itself, once per request, so its size is no
// cost worth boxing for.
#![allow(clippy::result_large_err)]

pub mod assets;
pub mod form;
pub mod pages;
pub mod session;
pub mod ui;
pub mod viewer;
pub mod zip;

use std::sync::Arc;

use app::App;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

/// The largest form or upload the UI accepts (a photo upload is bounded again by
/// `app.fetch.max_bytes`).
pub const MAX_FORM_BYTES: usize = 64 * 1024 * 1024;

/// The web UI's routes, with the state applied.
pub fn router(app: Arc<App>) -> Router {
    use pages::{edit, imports, login, order, orders, settings, store_rules};
    Router::new()
        .route("/", get(orders::root))
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/assets/{file}", get(assets::serve))
        .route("/orders", get(orders::list))
        .route("/orders/bulk-submit", post(orders::bulk_submit))
        .route(
            "/orders/print-files.zip",
            get(orders::print_files).post(orders::print_files_post),
        )
        .route("/orders/test", post(orders::test_order))
        .route("/orders/import", get(imports::form).post(imports::start))
        .route("/imports/{id}", get(imports::progress))
        .route("/imports/{id}/events", get(imports::events))
        .route("/orders/{id}", get(order::show))
        .route(
            "/orders/{id}/submit",
            get(order::confirm_submit).post(order::submit),
        )
        .route("/orders/{id}/hold", post(order::hold))
        .route("/orders/{id}/unhold", post(order::unhold))
        .route(
            "/orders/{id}/cancel",
            get(order::confirm_cancel).post(order::cancel),
        )
        .route("/orders/{id}/notes", post(order::add_note))
        .route("/orders/{id}/notes/{note}", post(order::edit_note))
        .route("/orders/{id}/notes/{note}/delete", post(order::delete_note))
        .route("/orders/{id}/shipments", post(order::add_shipment))
        .route("/orders/{id}/render", post(order::rerender))
        .route("/orders/{id}/review", post(order::resolve_review))
        .route(
            "/orders/{id}/items/{item}/override",
            post(order::override_preflight),
        )
        .route(
            "/orders/{id}/items/{item}/edit",
            get(edit::show).post(edit::save),
        )
        .route("/orders/{id}/items/{item}/preview.jpg", get(edit::preview))
        .route("/orders/{id}/items/{item}/photo", post(edit::upload))
        .route("/settings", get(settings::show))
        .route("/settings/stores", post(settings::put_store))
        .route("/settings/stores/{id}/test", post(settings::test_store))
        .route(
            "/settings/stores/{id}/rules",
            get(store_rules::show).post(store_rules::save),
        )
        .route(
            "/settings/stores/{id}/webhooks",
            post(settings::register_webhooks),
        )
        .route("/settings/providers", post(settings::put_provider))
        .route("/settings/users", post(settings::add_user))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(app)
}
