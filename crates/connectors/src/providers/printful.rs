//! Printful, API v2 (`https://api.printful.com/v2`).
//!
//! - Auth: `Authorization: Bearer <token>`, and `X-PF-Store-Id` from `config.account` when set
//!   (required for account-level tokens).
//! - Submit: `POST /v2/orders` creates a **draft** with our `external_id`; `POST
//!   /v2/orders/{id}/confirmation` sends it to production (when `config.confirm`).
//! - Lookup: `GET /v2/orders/@{external_id}` (the docs: "Order ID (integer) or Order External ID
//!   (string prepended with "@" symbol)"), shipments from `GET /v2/orders/{id}/shipments`.
//! - Cancel: v2's `DELETE /v2/orders/{id}` deletes an order "if it's status is draft, failed or
//!   cancelled" and the order was not charged; anything else answers 409 and is reported as
//!   not cancellable in Printful's words (v2 has no cancel of an order in production).
//! - Webhooks: `x-pf-webhook-signature` is the hex HMAC-SHA256 of the raw body under the
//!   webhook's `secret_key`, which Printful hands out hex-encoded and which is decoded to bytes
//!   to be the key.
//! - Errors: `{"code": 400, "result": "...", "error": {"reason": "...", "message": "..."}}`
//!   (v2 also answers RFC 9457 problem bodies with `detail`/`title`); the message is kept.
//!
//! Never two orders: `submit` looks `@external_id` up first and answers with the order found
//! (confirming a draft that a half-finished earlier submit left behind). The fixtures do not
//! say what Printful answers to a second create with the same `external_id`; we assume a
//! refusal (409, or a 4xx whose message says the external id already exists) and answer it
//! with the existing order too, so a race between two submits still yields one order.

use domain::{ShipmentItem, ShipmentUpdate};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{
    Answer, Api, before_create, clean_url, id_text, is_cancelled, line_item_id, opt_text,
    parse_json, parse_webhook, segment, shipment_status, timestamp,
};
use crate::provider::{
    Accepted, CancelOutcome, Provider, ProviderConfig, ProviderError, ProviderEvent, ProviderKind,
    ProviderNews, ProviderOrder, RemoteOrder, WebhookError, WebhookRequest,
};

/// The header Printful signs webhooks in.
pub const SIGNATURE_HEADER: &str = "x-pf-webhook-signature";

/// A Printful account's adapter.
pub struct Printful {
    api: Api,
    token: String,
    store_id: String,
    confirm: bool,
    webhook_secret: Vec<u8>,
}

impl Printful {
    pub fn new(config: ProviderConfig, http: reqwest::Client) -> Result<Printful, ProviderError> {
        let api = Api::new(&config, http)?;
        let secret = config.webhook_secret.trim();
        // Printful gives the secret hex-encoded; a secret that is not hex is used as it is.
        let webhook_secret = hex_decode(secret).unwrap_or_else(|| secret.as_bytes().to_vec());
        Ok(Printful {
            api,
            token: config.api_key.trim().to_owned(),
            store_id: config.account.trim().to_owned(),
            confirm: config.confirm,
            webhook_secret,
        })
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self.api.request(method, path).bearer_auth(&self.token);
        if !self.store_id.is_empty() {
            r = r.header("X-PF-Store-Id", &self.store_id);
        }
        r
    }

    fn error(&self, answer: &Answer, what: &str) -> ProviderError {
        self.api
            .status_error(answer, error_message(&answer.body), what)
    }

    /// The order by `@external_id` or by Printful's id, without shipments.
    async fn find(&self, id: &str) -> Result<Option<PfOrder>, ProviderError> {
        let what = "looking the order up";
        let path = format!("/v2/orders/{}", segment(id));
        let answer = self
            .api
            .send(self.request(Method::GET, &path), what)
            .await?;
        match answer.status.as_u16() {
            404 => Ok(None),
            s if (200..300).contains(&s) => parse_json::<Envelope<PfOrder>>(&answer.body)
                .map(|e| Some(e.data))
                .map_err(|e| self.api.unreadable(&answer, what, e)),
            _ => Err(self.error(&answer, what)),
        }
    }

    async fn confirm_order(&self, order: PfOrder) -> Result<Accepted, ProviderError> {
        let what = "confirming the draft order";
        let path = format!("/v2/orders/{}/confirmation", segment(&order.id));
        let answer = self
            .api
            .send(self.request(Method::POST, &path), what)
            .await?;
        if !answer.status.is_success() {
            // The draft exists either way; a new submit finds it and confirms it.
            return Err(self.error(&answer, what));
        }
        let status = parse_json::<Envelope<PfOrder>>(&answer.body)
            .map(|e| e.data.status)
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "pending".into());
        Ok(Accepted {
            provider_order_id: order.id,
            status,
        })
    }

    /// An order that already exists: confirmed if it is a draft we are to confirm.
    async fn existing(&self, order: PfOrder) -> Result<Accepted, ProviderError> {
        if self.confirm && order.status == "draft" {
            self.confirm_order(order).await
        } else {
            Ok(Accepted {
                provider_order_id: order.id,
                status: order.status,
            })
        }
    }

    async fn shipments(&self, order: &PfOrder) -> Result<Vec<ShipmentUpdate>, ProviderError> {
        let what = "reading the order's shipments";
        let path = format!("/v2/orders/{}/shipments", segment(&order.id));
        let answer = self
            .api
            .send(self.request(Method::GET, &path), what)
            .await?;
        if answer.status.as_u16() == 404 {
            return Ok(vec![]);
        }
        if !answer.status.is_success() {
            return Err(self.error(&answer, what));
        }
        let list: Envelope<Vec<PfShipment>> =
            parse_json(&answer.body).map_err(|e| self.api.unreadable(&answer, what, e))?;
        Ok(list
            .data
            .into_iter()
            .map(|s| s.update(None, &order.order_items))
            .collect())
    }
}

impl Provider for Printful {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Printful
    }

    async fn submit(&self, order: &ProviderOrder) -> Result<Accepted, ProviderError> {
        let body = order_input(order)?;
        let at = format!("@{}", order.external_id);
        // Looked up first unless the coordinator knows nothing was ever sent under this id.
        if order.look_first
            && let Some(found) = self.find(&at).await.map_err(before_create)?
        {
            return self.existing(found).await;
        }
        let what = "creating the draft order";
        let answer = self
            .api
            .send(self.request(Method::POST, "/v2/orders").json(&body), what)
            .await?;
        if answer.status.is_success() {
            let created: Envelope<PfOrder> =
                parse_json(&answer.body).map_err(|e| self.api.unreadable(&answer, what, e))?;
            return self.existing(created.data).await;
        }
        if is_duplicate(&answer) {
            // Someone (an earlier submit whose answer we lost) created it meanwhile.
            if let Some(found) = self.find(&at).await? {
                return self.existing(found).await;
            }
        }
        Err(self.error(&answer, what))
    }

    async fn lookup(&self, external_id: &str) -> Result<Option<RemoteOrder>, ProviderError> {
        let Some(order) = self.find(&format!("@{external_id}")).await? else {
            return Ok(None);
        };
        let shipments = self.shipments(&order).await?;
        let status = order.status.clone();
        Ok(Some(RemoteOrder {
            provider_order_id: order.id,
            failed: (status == "failed").then(|| "Printful marked the order failed".to_owned()),
            cancelled: is_cancelled(&status),
            needs_confirmation: self.confirm && status == "draft",
            status,
            shipments,
        }))
    }

    async fn cancel(
        &self,
        external_id: &str,
        provider_order_id: &str,
    ) -> Result<CancelOutcome, ProviderError> {
        let id = match provider_order_id.trim() {
            "" => format!("@{external_id}"),
            id => id.to_owned(),
        };
        let what = "deleting the order";
        let path = format!("/v2/orders/{}", segment(&id));
        let answer = self
            .api
            .send(self.request(Method::DELETE, &path), what)
            .await?;
        match answer.status.as_u16() {
            s if (200..300).contains(&s) => Ok(CancelOutcome::Cancelled),
            409 => Ok(CancelOutcome::NotCancellable {
                reason: error_message(&answer.body).unwrap_or_else(|| {
                    "Printful only deletes orders that are drafts, failed or cancelled".into()
                }),
            }),
            404 => Ok(CancelOutcome::NotCancellable {
                reason: "Printful has no such order".into(),
            }),
            _ => Err(self.error(&answer, what)),
        }
    }

    fn webhook(&self, request: WebhookRequest<'_>) -> Result<Vec<ProviderEvent>, WebhookError> {
        let signature = request
            .headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| hex_decode(v.trim()))
            .ok_or(WebhookError::BadSignature)?;
        if self.webhook_secret.is_empty() {
            return Err(WebhookError::BadSignature);
        }
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.webhook_secret);
        ring::hmac::verify(&key, request.body, &signature)
            .map_err(|_| WebhookError::BadSignature)?;
        parse_event(request.body)
    }
}

/// `x-pf-webhook-signature` for `body` under the hex secret `secret_hex` (for tests and
/// simulators).
pub fn printful_signature(secret_hex: &str, body: &[u8]) -> String {
    let secret = hex_decode(secret_hex).unwrap_or_else(|| secret_hex.as_bytes().to_vec());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
    hex_encode(ring::hmac::sign(&key, body).as_ref())
}

/// A Printful webhook body into our events (the signature already checked).
fn parse_event(body: &[u8]) -> Result<Vec<ProviderEvent>, WebhookError> {
    let hook: PfHook = parse_webhook("printful", body)?;
    let data = hook.data.unwrap_or_default();
    let Some(order) = data.order else {
        // Catalog, stock and product events: nothing about our orders.
        return Ok(vec![]);
    };
    let reason = || {
        data.reason
            .clone()
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| hook.kind.clone())
    };
    let news = match hook.kind.as_str() {
        "order_failed" => ProviderNews::Failed { reason: reason() },
        "order_canceled" => ProviderNews::Cancelled,
        "order_put_hold" | "order_put_hold_approval" => ProviderNews::OnHold { reason: reason() },
        kind if kind.starts_with("shipment_") && data.shipment.is_some() => {
            let status = match kind {
                "shipment_sent" => Some(domain::ShipmentStatus::Shipped),
                "shipment_delivered" => Some(domain::ShipmentStatus::Delivered),
                "shipment_returned" => Some(domain::ShipmentStatus::Returned),
                "shipment_canceled" => Some(domain::ShipmentStatus::Cancelled),
                _ => None,
            };
            match (status, data.shipment) {
                (Some(status), Some(shipment)) => {
                    ProviderNews::Shipment(shipment.update(Some(status), &[]))
                }
                (_, shipment) => ProviderNews::Status {
                    status: shipment
                        .and_then(|s| s.status)
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| kind.to_owned()),
                },
            }
        }
        kind => ProviderNews::Status {
            status: order
                .status
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| kind.to_owned()),
        },
    };
    Ok(vec![ProviderEvent {
        external_id: order.external_id.filter(|s| !s.trim().is_empty()),
        provider_order_id: Some(order.id).filter(|s| !s.is_empty()),
        event: hook.kind,
        news,
    }])
}

/// The create-order body from our order; refuses what Printful surely would (a product that
/// is not a catalog variant id, a file URL that is not one) before anything is sent.
fn order_input(order: &ProviderOrder) -> Result<OrderInput, ProviderError> {
    let r = &order.recipient;
    let name = format!("{} {}", r.first_name.trim(), r.last_name.trim())
        .trim()
        .to_owned();
    let mut items = Vec::with_capacity(order.items.len());
    for item in &order.items {
        let mut parts = item.product.split(':').map(str::trim);
        let variant = parts.next().unwrap_or("");
        let catalog_variant_id: i64 = variant.parse().map_err(|_| ProviderError::Rejected {
            provider: "printful",
            status: None,
            reason: format!(
                "the product {:?} of {:?} is not a Printful catalog variant id (write \
                 \"<variant id>[:<placement>[:<technique>]]\", e.g. \"4011:front:dtg\")",
                item.product, item.name
            ),
        })?;
        let placement = parts.next().filter(|p| !p.is_empty()).unwrap_or("front");
        let technique = parts.next().filter(|p| !p.is_empty()).unwrap_or("dtg");
        items.push(ItemInput {
            source: "catalog",
            catalog_variant_id,
            external_id: item.line_item_id.to_string(),
            quantity: item.quantity,
            name: item.name.clone(),
            placements: vec![Placement {
                placement: placement.to_owned(),
                technique: technique.to_owned(),
                layers: vec![Layer {
                    kind: "file",
                    url: clean_url("printful", "print file URL", &item.print_file_url)?,
                }],
            }],
        });
    }
    let express = order
        .shipping_method
        .to_ascii_lowercase()
        .contains("express");
    Ok(OrderInput {
        external_id: order.external_id.clone(),
        shipping: if express { "EXPRESS" } else { "STANDARD" },
        recipient: Recipient {
            name,
            company: r.company.trim().to_owned(),
            address1: r.address_1.trim().to_owned(),
            address2: r.address_2.trim().to_owned(),
            city: r.city.trim().to_owned(),
            state_code: r.state.trim().to_owned(),
            country_code: r.country.trim().to_owned(),
            zip: r.postcode.trim().to_owned(),
            phone: r.phone.trim().to_owned(),
            email: r.email.trim().to_owned(),
        },
        order_items: items,
        retail_costs: RetailCosts {
            currency: order.currency.clone(),
        },
        customization: Customization {
            packing_slip: PackingSlip {
                custom_order_id: order.order_number.clone(),
            },
        },
    })
}

/// The create-order JSON for `order`, as sent (for tests checking it against the docs).
pub fn order_json(order: &ProviderOrder) -> Result<serde_json::Value, ProviderError> {
    serde_json::to_value(order_input(order)?).map_err(|e| ProviderError::Config {
        message: e.to_string(),
    })
}

/// A refusal of a second order with the same `external_id` (see the module docs).
fn is_duplicate(answer: &Answer) -> bool {
    let status = answer.status.as_u16();
    if status == 409 {
        return true;
    }
    let message = error_message(&answer.body)
        .unwrap_or_default()
        .to_ascii_lowercase();
    (400..500).contains(&status)
        && message.contains("external")
        && (message.contains("exist") || message.contains("already") || message.contains("unique"))
}

/// Printful's error message: `error.message`, else an RFC 9457 `detail`/`title`, else
/// `result`.
fn error_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Inner {
        message: Option<String>,
    }
    #[derive(Deserialize)]
    struct Body {
        error: Option<Inner>,
        detail: Option<String>,
        title: Option<String>,
        result: Option<serde_json::Value>,
    }
    let b: Body = serde_json::from_slice(body).ok()?;
    [
        b.error.and_then(|e| e.message),
        b.detail,
        b.result.and_then(|r| r.as_str().map(str::to_owned)),
        b.title,
    ]
    .into_iter()
    .flatten()
    .map(|m| m.trim().to_owned())
    .find(|m| !m.is_empty())
}

#[derive(Serialize)]
struct OrderInput {
    external_id: String,
    shipping: &'static str,
    recipient: Recipient,
    order_items: Vec<ItemInput>,
    retail_costs: RetailCosts,
    customization: Customization,
}

#[derive(Serialize)]
struct Recipient {
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    company: String,
    address1: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    address2: String,
    city: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    state_code: String,
    country_code: String,
    zip: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    phone: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    email: String,
}

#[derive(Serialize)]
struct ItemInput {
    source: &'static str,
    catalog_variant_id: i64,
    external_id: String,
    quantity: u32,
    name: String,
    placements: Vec<Placement>,
}

#[derive(Serialize)]
struct Placement {
    placement: String,
    technique: String,
    layers: Vec<Layer>,
}

#[derive(Serialize)]
struct Layer {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
}

#[derive(Serialize)]
struct RetailCosts {
    currency: String,
}

#[derive(Serialize)]
struct Customization {
    packing_slip: PackingSlip,
}

#[derive(Serialize)]
struct PackingSlip {
    custom_order_id: String,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct PfOrder {
    #[serde(deserialize_with = "id_text")]
    id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    order_items: Vec<PfOrderItem>,
}

#[derive(Deserialize)]
struct PfOrderItem {
    #[serde(deserialize_with = "id_text")]
    id: String,
    #[serde(default)]
    external_id: Option<String>,
}

#[derive(Deserialize)]
struct PfShipment {
    #[serde(deserialize_with = "id_text")]
    id: String,
    #[serde(default)]
    carrier: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    tracking_number: Option<String>,
    #[serde(default)]
    tracking_url: Option<String>,
    /// v2 shipment resource: `shipment_status` and `delivery_status`; webhook: `status`.
    #[serde(default)]
    shipment_status: Option<String>,
    #[serde(default)]
    delivery_status: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    shipped_at: Option<String>,
    #[serde(default)]
    ship_date: Option<String>,
    #[serde(default)]
    shipment_items: Vec<PfShipmentItem>,
}

#[derive(Deserialize)]
struct PfShipmentItem {
    #[serde(default, deserialize_with = "opt_text")]
    order_item_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    order_item_external_id: Option<String>,
    #[serde(default)]
    quantity: u32,
}

impl PfShipment {
    /// Our update; `order_items` names each Printful item's external id (our line item).
    fn update(
        self,
        status: Option<domain::ShipmentStatus>,
        order_items: &[PfOrderItem],
    ) -> ShipmentUpdate {
        let status = status.or_else(|| {
            // Delivery news outranks the shipment's own word.
            [&self.delivery_status, &self.shipment_status, &self.status]
                .into_iter()
                .flatten()
                .find_map(|w| shipment_status(w))
        });
        let items = self
            .shipment_items
            .iter()
            .filter_map(|si| {
                let ours = si.order_item_external_id.clone().or_else(|| {
                    let id = si.order_item_id.as_deref()?;
                    order_items
                        .iter()
                        .find(|oi| oi.id == id)
                        .and_then(|oi| oi.external_id.clone())
                })?;
                Some(ShipmentItem {
                    line_item_id: line_item_id(&ours)?,
                    quantity: si.quantity,
                })
            })
            .collect();
        ShipmentUpdate {
            id: Some(self.id).filter(|s| !s.is_empty()),
            carrier: self.carrier.unwrap_or_default(),
            tracking_number: self.tracking_number.unwrap_or_default(),
            tracking_url: self.tracking_url.unwrap_or_default(),
            status,
            items,
            shipped_at: self
                .shipped_at
                .as_deref()
                .and_then(timestamp)
                .or_else(|| self.ship_date.as_deref().and_then(timestamp)),
        }
    }
}

#[derive(Deserialize)]
struct PfHook {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Option<PfHookData>,
}

#[derive(Deserialize, Default)]
struct PfHookData {
    #[serde(default)]
    order: Option<PfHookOrder>,
    #[serde(default)]
    shipment: Option<PfShipment>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct PfHookOrder {
    #[serde(default, deserialize_with = "id_text")]
    id: String,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_non_hex() {
        assert_eq!(hex_decode("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(hex_decode("0g"), None);
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_encode(&[0, 255, 16]), "00ff10");
    }

    #[test]
    fn error_messages_come_from_either_error_shape() {
        let v1 = br#"{"code":400,"result":"Invalid address","error":{"reason":"BadRequest","message":"Recipient: Invalid address"}}"#;
        assert_eq!(
            error_message(v1).as_deref(),
            Some("Recipient: Invalid address")
        );
        let problem = br#"{"type":"about:blank","status":422,"title":"Unprocessable","detail":"Variant 1 is discontinued"}"#;
        assert_eq!(
            error_message(problem).as_deref(),
            Some("Variant 1 is discontinued")
        );
        assert_eq!(error_message(b"<html>"), None);
    }
}
