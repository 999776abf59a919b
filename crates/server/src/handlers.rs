//! The order API, downloads and signed file links.

use std::sync::Arc;

use api::codes;
use app::App;
use app::import::ImportSource;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::Actor;
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::views;

type ApiResult<T> = Result<T, ApiError>;

pub(crate) async fn add_order(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Bytes,
) -> ApiResult<Response> {
    // Orders sent here are filed under the default store.
    caller.require_store(&app.settings.store_id)?;
    let source = ImportSource {
        actor: caller.actor(),
        local_files: None,
    };
    let imported = app.import_order(&body, &source).await?;
    let status = if imported.outcome == app::import::Outcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = api::Imported {
        order_id: imported.order_id,
        number: imported.number,
        jobs: imported.jobs,
        outcome: imported.outcome.as_str().into(),
        changes: imported.changes,
    };
    Ok((status, axum::Json(body)).into_response())
}

#[derive(Deserialize)]
pub(crate) struct Page {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    50
}

pub(crate) async fn list_orders(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Query(page): Query<Page>,
) -> ApiResult<axum::Json<api::OrderPage>> {
    let page = app
        .db
        .order_list(&storage::OrderQuery {
            stores: caller.user.store_scope(),
            limit: page.limit.clamp(1, 500),
            offset: page.offset.max(0),
            ..storage::OrderQuery::default()
        })
        .await?;
    Ok(axum::Json(api::OrderPage {
        orders: page.orders.iter().map(views::order_summary).collect(),
    }))
}

pub(crate) async fn get_order(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<api::OrderView>> {
    Ok(axum::Json(views::order_view(&app, id).await?))
}

pub(crate) async fn render_order(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: api::RenderRequest = if body.is_empty() {
        api::RenderRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                codes::BAD_REQUEST,
                format!("render request: {e}"),
            )
        })?
    };
    let jobs = app
        .request_render(id, req.item_id, &Actor::Merchant("api".into()))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(api::RenderQueued { order_id: id, jobs }),
    )
        .into_response())
}

pub(crate) async fn download(
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
                .ok_or_else(|| ApiError::not_found(format!("render {id} has no mockup")))?,
            "image/jpeg",
        ),
        "report" => (r.report_key.clone(), "application/json"),
        other => {
            return Err(ApiError::not_found(format!(
                "no file {other:?}: expected print, preview, mockup or report"
            )));
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
    let (size, body) = app
        .files
        .get_stream(key)
        .await
        .map_err(app::AppError::from)?;
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
pub(crate) struct Signed {
    expires: i64,
    signature: String,
}

pub(crate) async fn signed_file(
    State(app): State<Arc<App>>,
    Path(key): Path<String>,
    Query(q): Query<Signed>,
) -> ApiResult<Response> {
    if !app
        .files
        .verify_server_url(&key, q.expires, &q.signature, app.now())
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            codes::BAD_SIGNATURE,
            "the link is invalid or has expired",
        ));
    }
    let content_type = match key.rsplit('.').next() {
        Some("png") => "image/png",
        Some("jpg") => "image/jpeg",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    stream(&app, &key, content_type, None).await
}
