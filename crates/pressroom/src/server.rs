//! The HTTP server: the order API, downloads, signed file URLs, health and metrics.
//! `run(listener, app, shutdown)` so tests bind port 0.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::Actor;
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use app::App;
use app::import::ImportSource;

/// An API error: a status, a stable code and a message.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl From<app::AppError> for ApiError {
    fn from(e: app::AppError) -> Self {
        ApiError {
            status: StatusCode::from_u16(e.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<storage::StorageError> for ApiError {
    fn from(e: storage::StorageError) -> Self {
        app::AppError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, error = %self.message, "request failed");
        }
        (
            self.status,
            axum::Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/orders", post(add_order).get(list_orders))
        .route("/api/v1/orders/{id}", get(get_order))
        .route("/api/v1/orders/{id}/render", post(render_order))
        .route("/api/v1/renders/{id}/{file}", get(download))
        .route("/files/{*key}", get(signed_file))
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(app)
}

/// Serve until `shutdown` is cancelled, then finish in-flight requests.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    let db = app.db.ping().await;
    let files = app.files.check().await;
    let body = json!({
        "database": db.as_ref().map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string()),
        "files": files.as_ref().map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string()),
    });
    let status = if db.is_ok() && files.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let counts = app.db.queue_counts().await.ok();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(counts.as_ref()),
    )
        .into_response()
}

async fn add_order(State(app): State<Arc<App>>, body: Bytes) -> ApiResult<Response> {
    let source = ImportSource {
        actor: Actor::Merchant("api".into()),
        local_files: None,
    };
    let imported = app.import_order(&body, &source).await?;
    Ok((StatusCode::CREATED, axum::Json(imported)).into_response())
}

#[derive(Deserialize)]
struct Page {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    50
}

async fn list_orders(State(app): State<Arc<App>>, Query(page): Query<Page>) -> ApiResult<Response> {
    let rows = app
        .db
        .list_orders(page.limit.clamp(1, 500), page.offset.max(0))
        .await?;
    let orders: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "number": r.order.number,
                "status": r.order.status.raw,
                "status_kind": r.order.status.kind.as_str(),
                "order_type": r.order.order_type.as_str(),
                "submit_status": r.order.submit_status.label(),
                "submit_at": r.order.countdown.submit_at,
                "total": r.order.totals.total,
                "currency": r.order.currency,
                "customer": r.order.customer.name,
            })
        })
        .collect();
    Ok(axum::Json(json!({"orders": orders})).into_response())
}

/// The order with its renders (newest last), their preflight and download links, its jobs and
/// its history.
pub async fn order_view(app: &App, id: i64) -> Result<serde_json::Value, app::AppError> {
    let row = app.db.get_order(id).await?;
    let mut renders = vec![];
    for r in app.db.renders(id).await? {
        // What a provider is handed for this print file (signed or public, by configuration).
        let provider_url = app
            .files
            .provider_url(&r.render.print_key, app.now())
            .await
            .ok();
        let link = |f: &str| format!("/api/v1/renders/{}/{f}", r.id);
        renders.push(json!({
                "id": r.id,
                "version": r.version,
                "item_id": r.render.item_id,
                "template_id": r.render.template_id,
                "created_at": r.created_at,
                "duration_ms": r.render.duration_ms,
                // The object key, for building provider URLs (`/files/<print_key>?…`).
                "print_key": r.render.print_key,
                "print_sha256": r.render.print_sha256,
                "print_size": r.render.print_size,
                "preflight_errors": r.render.preflight_errors,
                "preflight_warnings": r.render.preflight_warnings,
                "preflight": r.render.preflight,
                "files": {
                    "print": link("print"),
                    "preview": link("preview"),
                    "mockup": r.render.mockup_key.as_ref().map(|_| link("mockup")),
                    "report": link("report"),
                },
                "provider_url": provider_url,
        }));
    }
    let jobs: Vec<_> = app
        .db
        .jobs_for_order(id)
        .await?
        .into_iter()
        .map(|j| json!({"id": j.id, "kind": j.kind, "state": j.state.as_str(), "attempts": j.attempts, "last_error": j.last_error}))
        .collect();
    let history = app.db.history(id).await?;
    Ok(json!({
        "id": row.id,
        "store_id": row.store_id,
        "row_version": row.row_version,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "order": row.order,
        "renders": renders,
        "jobs": jobs,
        "history": history,
    }))
}

async fn get_order(State(app): State<Arc<App>>, Path(id): Path<i64>) -> ApiResult<Response> {
    Ok(axum::Json(order_view(&app, id).await?).into_response())
}

#[derive(Deserialize, Default)]
struct RenderRequest {
    item_id: Option<i64>,
}

async fn render_order(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: RenderRequest = if body.is_empty() {
        RenderRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "bad_request",
            message: format!("render request: {e}"),
        })?
    };
    let jobs = app
        .request_render(id, req.item_id, &Actor::Merchant("api".into()))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"order_id": id, "jobs": jobs})),
    )
        .into_response())
}

async fn download(
    State(app): State<Arc<App>>,
    Path((id, file)): Path<(i64, String)>,
) -> ApiResult<Response> {
    let render = app.db.render(id).await?;
    let r = &render.render;
    let (key, content_type) = match file.as_str() {
        "print" if r.print_key.ends_with(".jpg") => (r.print_key.clone(), "image/jpeg"),
        "print" => (r.print_key.clone(), "image/png"),
        "preview" => (r.preview_key.clone(), "image/jpeg"),
        "mockup" => (
            r.mockup_key
                .clone()
                .ok_or_else(|| app::AppError::NotFound(format!("render {id} has no mockup")))?,
            "image/jpeg",
        ),
        "report" => (r.report_key.clone(), "application/json"),
        other => {
            return Err(app::AppError::NotFound(format!(
                "no file {other:?}: expected print, preview, mockup or report"
            ))
            .into());
        }
    };
    let ext = key.rsplit('.').next().unwrap_or("bin");
    let order = app.db.get_order(r.order_id).await?;
    let filename = format!(
        "order-{}-item-{}-v{}-{file}.{ext}",
        sanitize(&order.order.number),
        r.item_id,
        render.version
    );
    stream(&app, &key, content_type, Some(&filename)).await
}

fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect()
}

async fn stream(
    app: &App,
    key: &str,
    content_type: &str,
    filename: Option<&str>,
) -> ApiResult<Response> {
    let (size, body) = app.files.get_stream(key).await?;
    let mut resp = Response::new(Body::from_stream(body));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).expect("static type"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Some(name) = filename
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
struct Signed {
    expires: i64,
    signature: String,
}

async fn signed_file(
    State(app): State<Arc<App>>,
    Path(key): Path<String>,
    Query(q): Query<Signed>,
) -> ApiResult<Response> {
    if !app
        .files
        .verify_server_url(&key, q.expires, &q.signature, app.now())
    {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            code: "bad_signature",
            message: "the link is invalid or has expired".into(),
        });
    }
    let content_type = match key.rsplit('.').next() {
        Some("png") => "image/png",
        Some("jpg") => "image/jpeg",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    stream(&app, &key, content_type, None).await
}
