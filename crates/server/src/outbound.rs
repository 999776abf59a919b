//! `/api/v1/webhooks`: the merchant's outbound webhook endpoints (register, list, show,
//! remove), their delivery log, and a test ping. A secret goes in (or is generated) and comes
//! out once, in the 201 that registers it; after that only a hint.

use std::sync::Arc;

use api::{
    Webhook, WebhookAttempt, WebhookCreated, WebhookDeliveries, WebhookDelivery, WebhookList,
    WebhookRequest, WebhookTestQueued,
};
use app::App;
use app::outbound::{DeliveryLog, WebhookEndpoint, WebhookInput};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use crate::error::ApiError;

type ApiResult<T> = Result<T, ApiError>;

fn webhook_view(e: WebhookEndpoint) -> Webhook {
    Webhook {
        id: e.id,
        url: e.url,
        events: e.events,
        description: e.description,
        enabled: e.enabled,
        secret_hint: e.secret_hint,
        created_at: e.created_at,
        updated_at: e.updated_at,
    }
}

fn delivery_view(d: DeliveryLog) -> WebhookDelivery {
    WebhookDelivery {
        id: d.id,
        event_id: d.event_id,
        event_type: d.event_type,
        order_id: d.order_id,
        state: d.state.to_owned(),
        attempts: d.attempts,
        last_status_code: d.last_status_code,
        last_error: d.last_error,
        created_at: d.created_at,
        next_attempt_at: d.next_attempt_at,
        delivered_at: d.delivered_at,
        log: d
            .log
            .into_iter()
            .map(|a| WebhookAttempt {
                attempt: a.attempt,
                at: a.at,
                status_code: a.status_code,
                error: a.error,
                duration_ms: a.duration_ms,
                response_excerpt: a.response_excerpt,
            })
            .collect(),
    }
}

/// `POST /api/v1/webhooks` → 201 with the endpoint and its secret (shown this once).
pub(crate) async fn add_webhook(
    State(app): State<Arc<App>>,
    axum::Json(body): axum::Json<WebhookRequest>,
) -> ApiResult<(StatusCode, axum::Json<WebhookCreated>)> {
    let created = app
        .add_webhook(WebhookInput {
            url: body.url,
            events: body.events,
            description: body.description,
            secret: body.secret,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(WebhookCreated {
            webhook: webhook_view(created.webhook),
            secret: created.secret,
        }),
    ))
}

pub(crate) async fn list_webhooks(
    State(app): State<Arc<App>>,
) -> ApiResult<axum::Json<WebhookList>> {
    let webhooks = app
        .webhooks()
        .await?
        .into_iter()
        .map(webhook_view)
        .collect();
    Ok(axum::Json(WebhookList { webhooks }))
}

pub(crate) async fn get_webhook(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Webhook>> {
    Ok(axum::Json(webhook_view(app.webhook(&id).await?)))
}

pub(crate) async fn delete_webhook(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.remove_webhook(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    /// Deliveries to show, 1 to 1000 (default 50).
    limit: Option<i64>,
}

/// `GET /api/v1/webhooks/{id}/deliveries?limit=N`: the newest deliveries with their attempts.
pub(crate) async fn list_deliveries(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(query): Query<LogQuery>,
) -> ApiResult<axum::Json<WebhookDeliveries>> {
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    let deliveries = app
        .webhook_deliveries(&id, limit)
        .await?
        .into_iter()
        .map(delivery_view)
        .collect();
    Ok(axum::Json(WebhookDeliveries {
        webhook_id: id,
        deliveries,
    }))
}

/// `POST /api/v1/webhooks/{id}/test` → 202: a `ping` queued through the delivery job.
pub(crate) async fn test_webhook(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, axum::Json<WebhookTestQueued>)> {
    let delivery_id = app.test_webhook(&id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(WebhookTestQueued { delivery_id }),
    ))
}
