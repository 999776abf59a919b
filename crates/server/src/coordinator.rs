//! The coordinator's routes: submit (one order, or Bulk Submit), Hold / Unhold / Cancel with
//! an explicit `confirm`, preflight overrides, typed shipments (manual provider), test
//! orders, provider accounts, and provider webhooks (checked, kept raw, then answered).

use std::sync::Arc;

use app::App;
use app::order_actions::{ActionDone, OrderAction};
use app::providers::{ProviderInput, ProviderSummary};
use app::shipments::ShipmentsApplied;
use app::submission::SubmitAnswer;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use domain::{Actor, ShipmentItem, ShipmentUpdate, SubmitTrigger};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::ApiError;

type ApiResult<T> = Result<T, ApiError>;

fn merchant() -> Actor {
    Actor::Merchant("api".into())
}

/// The answer for one order (its id beside what happened).
#[derive(Debug, Serialize)]
pub(crate) struct SubmitResult {
    order_id: i64,
    #[serde(flatten)]
    answer: SubmitAnswer,
}

/// `POST /api/v1/orders/{id}/submit`: 202 while it goes to the provider (200 when the
/// manual provider marked it submitted), 409 when it was submitted before or is not ready.
pub(crate) async fn submit(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, axum::Json<SubmitResult>)> {
    let answer = app.submit(id, SubmitTrigger::Merchant, &merchant()).await?;
    let status = match &answer {
        SubmitAnswer::Submitting { .. } => StatusCode::ACCEPTED,
        SubmitAnswer::Submitted { .. } => StatusCode::OK,
        SubmitAnswer::AlreadySubmitted { .. } | SubmitAnswer::NotReady { .. } => {
            StatusCode::CONFLICT
        }
        SubmitAnswer::Failed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Ok((
        status,
        axum::Json(SubmitResult {
            order_id: id,
            answer,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BulkBody {
    order_ids: Vec<i64>,
}

#[derive(Serialize)]
pub(crate) struct BulkAnswer {
    results: Vec<SubmitResult>,
}

/// `POST /api/v1/orders/bulk-submit` with `{"order_ids": [..]}`: what happened to each.
pub(crate) async fn bulk_submit(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    axum::Json(body): axum::Json<BulkBody>,
) -> ApiResult<axum::Json<BulkAnswer>> {
    if body.order_ids.is_empty() || body.order_ids.len() > 5000 {
        return Err(app::AppError::Invalid("send 1 to 5,000 order ids".into()).into());
    }
    // Another merchant's order is refused like one that does not exist, before anything is
    // submitted.
    for id in &body.order_ids {
        app.order_for(&caller.user, *id).await?;
    }
    let results = app
        .bulk_submit(&body.order_ids, &caller.actor())
        .await
        .into_iter()
        .map(|(order_id, answer)| SubmitResult { order_id, answer })
        .collect();
    Ok(axum::Json(BulkAnswer { results }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmBody {
    #[serde(default)]
    confirm: bool,
}

async fn action(
    app: Arc<App>,
    id: i64,
    action: OrderAction,
    body: Bytes,
) -> ApiResult<axum::Json<ActionDone>> {
    // No body is "not confirmed"; a body must be `{"confirm": true|false}`.
    let confirm = if body.iter().all(u8::is_ascii_whitespace) {
        false
    } else {
        serde_json::from_slice::<ConfirmBody>(&body)
            .map_err(|e| {
                app::AppError::Invalid(format!("the body must be {{\"confirm\": true}}: {e}"))
            })?
            .confirm
    };
    Ok(axum::Json(
        app.order_action(id, action, confirm, &merchant()).await?,
    ))
}

/// `POST /api/v1/orders/{id}/hold` with `{"confirm": true}`.
pub(crate) async fn hold(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<axum::Json<ActionDone>> {
    action(app, id, OrderAction::Hold, body).await
}

/// `POST /api/v1/orders/{id}/unhold` with `{"confirm": true}`.
pub(crate) async fn unhold(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<axum::Json<ActionDone>> {
    action(app, id, OrderAction::Unhold, body).await
}

/// `POST /api/v1/orders/{id}/cancel` with `{"confirm": true}`.
pub(crate) async fn cancel(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    body: Bytes,
) -> ApiResult<axum::Json<ActionDone>> {
    action(app, id, OrderAction::Cancel, body).await
}

/// `POST /api/v1/orders/{id}/items/{item}/preflight-override`: accept the preflight errors
/// of the item's latest render.
pub(crate) async fn override_preflight(
    State(app): State<Arc<App>>,
    Path((id, item)): Path<(i64, i64)>,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let version = app.override_preflight(id, item, &merchant()).await?;
    Ok(axum::Json(serde_json::json!({
        "order_id": id, "item_id": item, "version": version, "overridden": true,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewBody {
    /// `submitted` (the provider has it) or `failed` (it does not).
    resolution: String,
    #[serde(default)]
    provider_order_id: Option<String>,
}

/// `POST /api/v1/orders/{id}/review` with `{"resolution": "submitted"|"failed"}`: a person
/// settles an unknown outcome after checking with the provider.
pub(crate) async fn resolve_review(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    axum::Json(body): axum::Json<ReviewBody>,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let at_provider = match body.resolution.as_str() {
        "submitted" => true,
        "failed" => false,
        other => {
            return Err(app::AppError::Invalid(format!(
                "resolution {other:?}: use \"submitted\" or \"failed\""
            ))
            .into());
        }
    };
    let status = app
        .resolve_review(id, at_provider, body.provider_order_id, &merchant())
        .await?;
    Ok(axum::Json(serde_json::json!({
        "order_id": id, "submit_status": status.label(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShipmentBody {
    carrier: String,
    tracking_number: String,
    #[serde(default)]
    tracking_url: String,
    #[serde(default)]
    items: Vec<ShipmentItem>,
    #[serde(default)]
    status: Option<domain::ShipmentStatus>,
}

/// `POST /api/v1/orders/{id}/shipments`: the merchant types a parcel's carrier and
/// tracking number.
pub(crate) async fn add_shipment(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    axum::Json(body): axum::Json<ShipmentBody>,
) -> ApiResult<(StatusCode, axum::Json<ShipmentsApplied>)> {
    let update = ShipmentUpdate {
        id: None,
        carrier: body.carrier,
        tracking_number: body.tracking_number,
        tracking_url: body.tracking_url,
        status: body.status,
        items: body.items,
        shipped_at: None,
    };
    let applied = app.add_manual_shipment(id, update, &merchant()).await?;
    Ok((StatusCode::CREATED, axum::Json(applied)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestOrderBody {
    template: String,
}

/// `POST /api/v1/orders/test` with `{"template": "mug"}`: a test order with sample values.
pub(crate) async fn test_order(
    State(app): State<Arc<App>>,
    axum::Extension(caller): axum::Extension<Caller>,
    axum::Json(body): axum::Json<TestOrderBody>,
) -> ApiResult<(StatusCode, axum::Json<serde_json::Value>)> {
    // Test orders are filed under the default store.
    caller.require_store(&app.settings.store_id)?;
    if !app.templates.exists(&body.template) {
        return Err(app::AppError::NotFound(format!("no template {:?}", body.template)).into());
    }
    let id = app.place_test_order(&body.template, &merchant()).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "order_id": id, "test": true })),
    ))
}

pub(crate) async fn list_providers(
    State(app): State<Arc<App>>,
) -> ApiResult<axum::Json<Vec<ProviderSummary>>> {
    Ok(axum::Json(app.provider_summaries().await?))
}

pub(crate) async fn get_provider(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ProviderSummary>> {
    Ok(axum::Json(app.provider_summary(&id).await?))
}

pub(crate) async fn put_provider(
    State(app): State<Arc<App>>,
    axum::Json(input): axum::Json<ProviderInput>,
) -> ApiResult<(StatusCode, axum::Json<ProviderSummary>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(app.put_provider(input).await?),
    ))
}

pub(crate) async fn delete_provider(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.remove_provider(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The largest provider webhook accepted.
pub const MAX_PROVIDER_WEBHOOK_BYTES: usize = 1024 * 1024;

/// `POST /webhooks/providers/{account}` (signed providers) and
/// `/webhooks/providers/{account}/{token}` (providers whose webhook URL carries a secret):
/// 200 once kept, 401 when the signature or token does not check (nothing kept).
pub(crate) async fn provider_webhook(
    State(app): State<Arc<App>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<axum::Json<app::shipments::ProviderWebhookAccepted>> {
    Ok(axum::Json(
        app.receive_provider_webhook(&account, None, &headers, &body)
            .await?,
    ))
}

pub(crate) async fn provider_webhook_token(
    State(app): State<Arc<App>>,
    Path((account, token)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<axum::Json<app::shipments::ProviderWebhookAccepted>> {
    Ok(axum::Json(
        app.receive_provider_webhook(&account, Some(&token), &headers, &body)
            .await?,
    ))
}
