//! `POST /webhooks/woocommerce/{store}`: WooCommerce deliveries. The body is read raw (the
//! signature is over its bytes), kept with its job before the answer, and refused with 401
//! (bad or missing signature), 404 (no such store) or 413 (over [`MAX_WEBHOOK_BYTES`]).

use std::sync::Arc;

use app::App;
use app::webhooks::{WebhookAck, WebhookHeaders, WebhookRefused};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use crate::error::ApiError;

/// The largest delivery kept: an order with hundreds of lines is well under 1 MiB.
pub const MAX_WEBHOOK_BYTES: usize = 4 * 1024 * 1024;

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

impl From<WebhookRefused> for ApiError {
    fn from(e: WebhookRefused) -> Self {
        match e {
            WebhookRefused::App(e) => e.into(),
            e => ApiError::new(
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
                e.code(),
                e.to_string(),
            ),
        }
    }
}

pub(crate) async fn woocommerce(
    State(app): State<Arc<App>>,
    Path(store): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::Json<api::WebhookAccepted>, ApiError> {
    let hooks = WebhookHeaders {
        topic: header(&headers, "x-wc-webhook-topic"),
        signature: header(&headers, "x-wc-webhook-signature"),
        delivery_id: header(&headers, "x-wc-webhook-delivery-id"),
        webhook_id: header(&headers, "x-wc-webhook-id"),
        source: header(&headers, "x-wc-webhook-source"),
    };
    let ack = app.receive_webhook(&store, hooks, body).await?;
    app.metrics
        .webhooks
        .with_label_values(&[match ack {
            WebhookAck::Ping { .. } => "ping",
            WebhookAck::Stored { .. } => "stored",
        }])
        .inc();
    Ok(axum::Json(match ack {
        WebhookAck::Ping { .. } => api::WebhookAccepted {
            delivery: None,
            ping: true,
        },
        WebhookAck::Stored { delivery } => api::WebhookAccepted {
            delivery: Some(delivery),
            ping: false,
        },
    }))
}
