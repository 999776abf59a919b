//! `/api/v1/stores`: connect, list, show and remove stores. Secrets go in and never come
//! out: a store is shown with a hint of its consumer key and whether its secrets are set.

use std::sync::Arc;

use app::App;
use app::stores::{StoreInput, StoreSummary};
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::auth::Caller;
use crate::error::ApiError;

type ApiResult<T> = Result<T, ApiError>;

pub(crate) async fn list_stores(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> ApiResult<axum::Json<Vec<StoreSummary>>> {
    let mut stores = app.store_summaries().await?;
    stores.retain(|s| caller.user.sees_store(&s.id));
    Ok(axum::Json(stores))
}

pub(crate) async fn get_store(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<StoreSummary>> {
    Ok(axum::Json(app.store_summary(&id).await?))
}

pub(crate) async fn put_store(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    axum::Json(input): axum::Json<StoreInput>,
) -> ApiResult<(StatusCode, axum::Json<StoreSummary>)> {
    // A merchant changes their own stores; connecting a new one is an admin's (who then
    // gives it to the merchant with `pressroom user stores`).
    caller.require_store(&input.id)?;
    Ok((StatusCode::CREATED, axum::Json(app.put_store(input).await?)))
}

pub(crate) async fn delete_store(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.remove_store(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn test_store(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<app::stores::StoreTest>> {
    Ok(axum::Json(app.test_store(&id).await?))
}

/// `POST /api/v1/stores/{id}/imports` with `{"scope": "all"}`, `{"scope": "range", "after":
/// …, "before": …}` or `{"scope": "ids", "ids": [..]}` → 202 with the import's id.
pub(crate) async fn queue_import(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    axum::Json(scope): axum::Json<app::store_import::ImportScope>,
) -> ApiResult<(StatusCode, axum::Json<serde_json::Value>)> {
    let import = app
        .queue_store_import(&id, &scope, &domain::Actor::Merchant("api".into()))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({ "import_id": import })),
    ))
}

/// `GET /api/v1/imports/{id}`: progress and result.
pub(crate) async fn get_import(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let row = app.db.import(id).await?;
    Ok(axum::Json(serde_json::json!({
        "import_id": row.id,
        "store": row.store_id,
        "scope": row.scope,
        "state": row.state,
        "progress": row.progress,
        "error": row.error,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
    })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusBody {
    status: String,
}

/// `POST /api/v1/orders/{id}/status` with `{"status": "on-hold"}`: stored verbatim and
/// written to the store through the outbox.
pub(crate) async fn set_status(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    axum::Json(body): axum::Json<StatusBody>,
) -> ApiResult<axum::Json<app::store_sync::StatusSet>> {
    Ok(axum::Json(
        app.set_status(id, &body.status, &domain::Actor::Merchant("api".into()))
            .await?,
    ))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteBody {
    text: String,
    #[serde(default)]
    push_to_store: bool,
}

/// `POST /api/v1/orders/{id}/notes` with `{"text": …, "push_to_store": true}`.
pub(crate) async fn add_note(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<i64>,
    axum::Json(body): axum::Json<NoteBody>,
) -> ApiResult<(StatusCode, axum::Json<serde_json::Value>)> {
    let (note, pushed) = app
        .add_note(id, &body.text, body.push_to_store, &caller.actor())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({
            "order_id": id, "note_id": note, "pushed_to_store": pushed,
        })),
    ))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteEdit {
    text: String,
}

/// `PATCH /api/v1/orders/{id}/notes/{note}` with `{"text": …}`: a Pressroom note's new text.
pub(crate) async fn edit_note(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path((id, note)): Path<(i64, u64)>,
    axum::Json(body): axum::Json<NoteEdit>,
) -> ApiResult<StatusCode> {
    app.edit_note(id, note, &body.text, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/orders/{id}/notes/{note}`: removes a Pressroom note (the history keeps it).
pub(crate) async fn delete_note(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path((id, note)): Path<(i64, u64)>,
) -> ApiResult<StatusCode> {
    app.delete_note(id, note, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
