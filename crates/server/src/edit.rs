//! Editing before submission and the live preview: photo uploads, personalization edits and
//! previews from unsaved values (the use cases are `app::edit`).

use std::sync::Arc;
use std::time::Instant;

use api::codes;
use app::App;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use domain::Actor;
use serde::Deserialize;

use crate::error::ApiError;
use crate::views;

type ApiResult<T> = Result<T, ApiError>;

/// The preview's width when the request names none.
pub const DEFAULT_PREVIEW_WIDTH: u32 = 1000;

/// The header that carries a preview's preflight counts.
pub const PREFLIGHT_HEADER: &str = "pressroom-preflight";

fn api_actor() -> Actor {
    Actor::Merchant("api".into())
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::BAD_REQUEST,
            format!("{what}: {e}"),
        )
    })
}

/// `POST /api/v1/orders/{id}/photos`: the image's bytes as the body (`Content-Type:
/// image/…`), at most `app.fetch.max_bytes`, checked like a fetched customer photo.
pub(crate) async fn upload_photo(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("image/") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "a photo upload is the image's bytes with Content-Type image/jpeg, image/png, image/webp or image/gif (got {:?})",
                content_type
            ),
        ));
    }
    let limit = app.settings.fetch.max_bytes;
    let bytes = axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::PAYLOAD_TOO_LARGE,
                format!("the photo is over the limit of {limit} bytes"),
            )
        })?;
    let photo = app.upload_photo(id, bytes, &api_actor()).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(api::PhotoUploaded {
            photo: photo.key,
            sha256: photo.sha256,
            width: photo.width,
            height: photo.height,
        }),
    )
        .into_response())
}

/// `PUT /api/v1/orders/{id}/items/{item}/personalization`.
pub(crate) async fn edit_personalization(
    State(app): State<Arc<App>>,
    Path((id, item)): Path<(i64, i64)>,
    body: Bytes,
) -> ApiResult<axum::Json<api::PersonalizationEdited>> {
    let req: api::PersonalizationEdit = parse("personalization edit", &body)?;
    let edit = app::edit::PersonalizationEdit {
        template_id: req.template_id,
        values: req.values,
        photos: req.photos,
    };
    let edited = app
        .edit_personalization(id, item, &edit, &api_actor())
        .await?;
    Ok(axum::Json(api::PersonalizationEdited {
        order_id: edited.order_id,
        item_id: edited.item_id,
        changed: edited.changed,
        changes: edited
            .changes
            .into_iter()
            .map(|c| api::FieldChange {
                field: c.field,
                from: c.from,
                to: c.to,
            })
            .collect(),
        job: edited.job,
        personalization: views::personalization(edited.personalization),
    }))
}

#[derive(Deserialize)]
pub(crate) struct PreviewQuery {
    /// `1` or `true`: answer JSON with every finding and the image in base64.
    #[serde(default)]
    report: Option<String>,
}

/// `POST /api/v1/templates/{id}/preview`: a JPEG of the template with unsaved values; the
/// preflight counts in `Pressroom-Preflight`, the server's time in `Server-Timing`.
pub(crate) async fn preview(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(query): Query<PreviewQuery>,
    body: Bytes,
) -> ApiResult<Response> {
    let started = Instant::now();
    let req: api::PreviewRequest = parse("preview request", &body)?;
    let request = app::edit::PreviewRequest {
        values: req.values,
        photos: req.photos,
        width: req.width.unwrap_or(DEFAULT_PREVIEW_WIDTH),
    };
    let preview = app.preview(&id, &request).await?;
    let counts = api::PreflightCounts {
        errors: preview.preflight.errors().count(),
        warnings: preview.preflight.warnings().count(),
    };
    let timing = format!(
        "render;dur={:.1}, total;dur={:.1}",
        preview.render_time.as_secs_f64() * 1000.0,
        started.elapsed().as_secs_f64() * 1000.0
    );
    let report = matches!(query.report.as_deref(), Some("1" | "true"));
    let mut resp = if report {
        axum::Json(api::PreviewReport {
            width: preview.width,
            height: preview.height,
            preflight: serde_json::to_value(&preview.preflight).expect("preflight serializes"),
            image_base64: base64::engine::general_purpose::STANDARD.encode(&preview.jpeg),
        })
        .into_response()
    } else {
        let mut resp = Response::new(Body::from(preview.jpeg));
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
        resp
    };
    let h = resp.headers_mut();
    h.insert(
        PREFLIGHT_HEADER,
        HeaderValue::from_str(&serde_json::to_string(&counts).expect("counts serialize"))
            .expect("ASCII JSON"),
    );
    if let Ok(v) = HeaderValue::from_str(&timing) {
        h.insert("server-timing", v);
    }
    // Unsaved values: nothing to keep.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
