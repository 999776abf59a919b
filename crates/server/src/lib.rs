//! Pressroom's HTTP layer as a library: the order API, downloads, signed file links, health
//! and metrics. [`run`] serves a listener the caller bound (tests bind port 0 and run it in
//! process); `pressroom serve` calls it with its configured address. Handlers answer with the
//! [`api`] crate's types, and every error, including axum's own rejections, is the documented
//! `{"error": {"code", "message"}}`.
//!
//! [`run_metrics`] serves only `/metrics` and `/healthz`, for worker processes.

#![forbid(unsafe_code)]

pub mod auth;
mod coordinator;
mod edit;
mod error;
mod handlers;
mod health;
mod outbound;
mod stores;
mod views;
mod webhooks;

use std::sync::Arc;

use app::App;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post, put};
use tokio_util::sync::CancellationToken;

pub use edit::{DEFAULT_PREVIEW_WIDTH, PREFLIGHT_HEADER};
pub use error::ApiError;
pub use health::PROBE_TIMEOUT;
pub use views::{order_summary, order_view};
pub use webhooks::MAX_WEBHOOK_BYTES;

/// The largest request body (an order) the API accepts.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The whole API. Everything under `/api/v1` needs a caller ([`auth`]); health, metrics,
/// signed file links and the stores' and providers' webhooks (which carry their own
/// signatures) do not.
pub fn router(app: Arc<App>) -> Router {
    let open = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/files/{*key}", get(handlers::signed_file))
        .route(
            "/webhooks/woocommerce/{store}",
            post(webhooks::woocommerce).layer(DefaultBodyLimit::max(webhooks::MAX_WEBHOOK_BYTES)),
        )
        .route(
            "/webhooks/providers/{account}",
            post(coordinator::provider_webhook).layer(DefaultBodyLimit::max(
                coordinator::MAX_PROVIDER_WEBHOOK_BYTES,
            )),
        )
        .route(
            "/webhooks/providers/{account}/{token}",
            post(coordinator::provider_webhook_token).layer(DefaultBodyLimit::max(
                coordinator::MAX_PROVIDER_WEBHOOK_BYTES,
            )),
        );
    let api = Router::new()
        .route(
            "/api/v1/orders",
            post(handlers::add_order).get(handlers::list_orders),
        )
        .route("/api/v1/orders/{id}", get(handlers::get_order))
        .route("/api/v1/orders/{id}/render", post(handlers::render_order))
        .route("/api/v1/renders/{id}/{file}", get(handlers::download))
        .route(
            "/api/v1/stores",
            get(stores::list_stores).post(stores::put_store),
        )
        .route(
            "/api/v1/stores/{id}",
            get(stores::get_store).delete(stores::delete_store),
        )
        .route("/api/v1/stores/{id}/test", post(stores::test_store))
        .route("/api/v1/stores/{id}/imports", post(stores::queue_import))
        .route("/api/v1/imports/{id}", get(stores::get_import))
        .route("/api/v1/orders/{id}/status", post(stores::set_status))
        .route("/api/v1/orders/{id}/notes", post(stores::add_note))
        .route(
            "/api/v1/orders/{id}/notes/{note}",
            patch(stores::edit_note).delete(stores::delete_note),
        )
        .route("/api/v1/orders/{id}/submit", post(coordinator::submit))
        .route("/api/v1/orders/bulk-submit", post(coordinator::bulk_submit))
        .route("/api/v1/orders/{id}/hold", post(coordinator::hold))
        .route("/api/v1/orders/{id}/unhold", post(coordinator::unhold))
        .route("/api/v1/orders/{id}/cancel", post(coordinator::cancel))
        .route(
            "/api/v1/orders/{id}/review",
            post(coordinator::resolve_review),
        )
        .route(
            "/api/v1/orders/{id}/items/{item}/preflight-override",
            post(coordinator::override_preflight),
        )
        .route(
            "/api/v1/orders/{id}/shipments",
            post(coordinator::add_shipment),
        )
        .route("/api/v1/orders/test", post(coordinator::test_order))
        .route(
            "/api/v1/providers",
            get(coordinator::list_providers).post(coordinator::put_provider),
        )
        .route(
            "/api/v1/providers/{id}",
            get(coordinator::get_provider).delete(coordinator::delete_provider),
        )
        .route(
            "/api/v1/webhooks",
            get(outbound::list_webhooks).post(outbound::add_webhook),
        )
        .route(
            "/api/v1/webhooks/{id}",
            get(outbound::get_webhook).delete(outbound::delete_webhook),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries",
            get(outbound::list_deliveries),
        )
        .route("/api/v1/webhooks/{id}/test", post(outbound::test_webhook))
        .route("/api/v1/orders/{id}/photos", post(edit::upload_photo))
        .route(
            "/api/v1/orders/{id}/items/{item}/personalization",
            put(edit::edit_personalization),
        )
        .route("/api/v1/templates/{id}/preview", post(edit::preview))
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::require_caller,
        ));
    open.merge(api)
        .fallback(error::no_route)
        .layer(axum::middleware::map_response(error::json_errors))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}

/// What a worker process serves: `/metrics` (its render durations and failures, and the queue)
/// and `/healthz`.
pub fn metrics_router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .fallback(error::no_route)
        .layer(axum::middleware::map_response(error::json_errors))
        .with_state(app)
}

/// Serve the API until `shutdown` is cancelled, then finish in-flight requests.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve_router(listener, router(app), shutdown).await
}

/// Serve [`metrics_router`] until `shutdown` is cancelled.
pub async fn run_metrics(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve_router(listener, metrics_router(app), shutdown).await
}

/// Say how long the server took to produce an answer's head (`Server-Timing: total;dur=…`),
/// for browsers' developer tools and the benchmarks; a handler's own timing is kept.
async fn server_timing(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    if !response.headers().contains_key("server-timing") {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if let Ok(v) = axum::http::HeaderValue::from_str(&format!("total;dur={ms:.1}")) {
            response.headers_mut().insert("server-timing", v);
        }
    }
    response
}

/// Serve any router (the API merged with the web UI, say) until `shutdown` is cancelled, with
/// the peer's address available to handlers.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    // The peer's address reaches handlers (the login throttle counts per address).
    let router = router.layer(axum::middleware::from_fn(server_timing));
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}
