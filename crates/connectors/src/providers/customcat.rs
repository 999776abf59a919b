//! CustomCat (`https://customcat-beta.mylocker.net/api/v1`), from secondary sources (see the
//! fixtures' SOURCES): what they say, and what we assumed where they are silent.
//!
//! - Auth: the API key travels as `api_key` in the JSON body of a POST and in the query of a
//!   GET. So a URL of ours may hold the key: every error message is redacted of it, and
//!   transport errors never carry their URL.
//! - Submit: `POST /api/v1/order/{external_id}` — our id is the order's id at CustomCat.
//!   Success is a 200 with `MSG` "Order added successfully"; **a 200 whose `MSG` says
//!   anything else is a refusal** with that message (an `MSG` about the API key is taken as
//!   an unauthorized key). Assumed: a second create with the same id is refused with an `MSG`
//!   saying the order exists; it is answered with the existing order.
//! - Lookup: `GET /api/v1/order/status/{external_id}?api_key=...` with `ORDER_STATUS`,
//!   `SHIPMENTS[]` (`TRACKING_ID`, `METHOD`, `VENDOR`). Assumed: an unknown id answers 404 (or
//!   a 200 with only an `MSG`).
//! - Cancel: the sources disagree on whether `DELETE /order/{id}` works, so the adapter does
//!   not try: the merchant is told to ask CustomCat.
//! - Webhooks are unsigned: the secret token is in the URL we registered. The shipped payload
//!   carries `order_id` (ours), `customcat_order_id`, `tracker_number`, `tracking_url` (and
//!   the account's `api_key`, so the raw body is a secret too).

use domain::ShipmentUpdate;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{
    Answer, Api, before_create, clean_url, is_cancelled, opt_text, parse_json, parse_webhook,
    segment, url_token_matches,
};
use crate::provider::{
    Accepted, CancelOutcome, Provider, ProviderConfig, ProviderError, ProviderEvent, ProviderKind,
    ProviderNews, ProviderOrder, RemoteOrder, WebhookError, WebhookRequest,
};

/// A CustomCat account's adapter.
pub struct CustomCat {
    api: Api,
    api_key: String,
    webhook_secret: String,
}

impl CustomCat {
    pub fn new(config: ProviderConfig, http: reqwest::Client) -> Result<CustomCat, ProviderError> {
        Ok(CustomCat {
            api: Api::new(&config, http)?,
            api_key: config.api_key.trim().to_owned(),
            webhook_secret: config.webhook_secret,
        })
    }

    fn reason(&self, answer: &Answer) -> Option<String> {
        serde_json::from_slice::<CcMessage>(&answer.body)
            .ok()
            .and_then(CcMessage::text)
    }

    async fn find(&self, external_id: &str) -> Result<Option<CcStatus>, ProviderError> {
        let what = "looking the order up";
        let path = format!("/api/v1/order/status/{}", segment(external_id));
        let request =
            self.api
                .request_query(Method::GET, &path, &[("api_key", self.api_key.as_str())])?;
        let answer = self.api.send(request, what).await?;
        match answer.status.as_u16() {
            404 => Ok(None),
            s if (200..300).contains(&s) => {
                let status: CcStatus =
                    parse_json(&answer.body).map_err(|e| self.api.unreadable(&answer, what, e))?;
                if status.order_id.is_some() || status.customcat_order_id.is_some() {
                    return Ok(Some(status));
                }
                let msg = status.msg.unwrap_or_default();
                if says_not_found(&msg) {
                    Ok(None)
                } else if says_bad_key(&msg) {
                    Err(ProviderError::Unauthorized {
                        provider: self.api.provider,
                        message: self.api.redact(&msg),
                    })
                } else {
                    Err(self.api.unreadable(&answer, what, "no ORDER_ID"))
                }
            }
            _ => Err(self.api.status_error(&answer, self.reason(&answer), what)),
        }
    }
}

impl Provider for CustomCat {
    fn kind(&self) -> ProviderKind {
        ProviderKind::CustomCat
    }

    async fn submit(&self, order: &ProviderOrder) -> Result<Accepted, ProviderError> {
        let body = order_input(order, &self.api_key)?;
        // Looked up first unless the coordinator knows nothing was ever sent under this id.
        if order.look_first
            && let Some(found) = self.find(&order.external_id).await.map_err(before_create)?
        {
            return Ok(found.accepted(&order.external_id));
        }
        let what = "creating the order";
        let path = format!("/api/v1/order/{}", segment(&order.external_id));
        let answer = self
            .api
            .send(self.api.request(Method::POST, &path).json(&body), what)
            .await?;
        let message = self.reason(&answer).unwrap_or_default();
        if !answer.status.is_success() {
            return Err(self.api.status_error(&answer, Some(message), what));
        }
        let created: CcCreated =
            parse_json(&answer.body).map_err(|e| self.api.unreadable(&answer, what, e))?;
        let msg = created.msg.clone().unwrap_or_default();
        if says_success(&msg) {
            return Ok(Accepted {
                provider_order_id: created
                    .customcat_order_id
                    .or(created.order_id)
                    .unwrap_or_else(|| order.external_id.clone()),
                status: msg.trim().to_owned(),
            });
        }
        if says_bad_key(&msg) {
            return Err(ProviderError::Unauthorized {
                provider: self.api.provider,
                message: self.api.redact(msg.trim()),
            });
        }
        if says_exists(&msg)
            && let Some(found) = self.find(&order.external_id).await?
        {
            return Ok(found.accepted(&order.external_id));
        }
        Err(ProviderError::Rejected {
            provider: self.api.provider,
            status: Some(answer.status.as_u16()),
            reason: match msg.trim() {
                "" => "CustomCat answered without a message".to_owned(),
                m => self.api.redact(m),
            },
        })
    }

    async fn lookup(&self, external_id: &str) -> Result<Option<RemoteOrder>, ProviderError> {
        let Some(found) = self.find(external_id).await? else {
            return Ok(None);
        };
        let status = found.order_status.clone().unwrap_or_default();
        let shipments = found
            .shipments
            .iter()
            .filter_map(CcParcel::update)
            .collect();
        Ok(Some(RemoteOrder {
            provider_order_id: found
                .customcat_order_id
                .clone()
                .unwrap_or_else(|| external_id.to_owned()),
            cancelled: is_cancelled(&status),
            failed: matches!(
                status.trim().to_ascii_lowercase().as_str(),
                "rejected" | "failed" | "error"
            )
            .then(|| format!("CustomCat says the order is {status}")),
            status,
            shipments,
            needs_confirmation: false,
        }))
    }

    async fn cancel(
        &self,
        external_id: &str,
        _provider_order_id: &str,
    ) -> Result<CancelOutcome, ProviderError> {
        Ok(CancelOutcome::NotCancellable {
            reason: format!(
                "CustomCat's API has no reliable cancel: ask CustomCat support to cancel order \
                 {external_id}"
            ),
        })
    }

    fn webhook(&self, request: WebhookRequest<'_>) -> Result<Vec<ProviderEvent>, WebhookError> {
        if !url_token_matches(request.url_token, &self.webhook_secret) {
            return Err(WebhookError::BadSignature);
        }
        parse_event(request.body)
    }
}

fn parse_event(body: &[u8]) -> Result<Vec<ProviderEvent>, WebhookError> {
    let hook: CcHook = parse_webhook("customcat", body)?;
    let topic = hook
        .topic
        .or(hook.event)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let Some(order_id) = hook.order_id.filter(|s| !s.trim().is_empty()) else {
        // Product events carry no order.
        return Ok(vec![]);
    };
    let tracking = hook.tracker_number.unwrap_or_default();
    let news = match topic.as_deref() {
        Some(t) if t.starts_with("product-") => return Ok(vec![]),
        Some("design-rejected") => ProviderNews::OnHold {
            reason: hook
                .reason
                .or(hook.message)
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "CustomCat rejected the design".into()),
        },
        _ if !tracking.trim().is_empty() => ProviderNews::Shipment(ShipmentUpdate {
            id: None,
            carrier: hook.carrier.or(hook.vendor).unwrap_or_default(),
            tracking_number: tracking.trim().to_owned(),
            tracking_url: hook.tracking_url.unwrap_or_default(),
            status: Some(domain::ShipmentStatus::Shipped),
            items: vec![],
            shipped_at: None,
        }),
        t => ProviderNews::Status {
            status: t.unwrap_or("unknown").to_owned(),
        },
    };
    Ok(vec![ProviderEvent {
        external_id: Some(order_id),
        provider_order_id: hook.customcat_order_id.filter(|s| !s.is_empty()),
        event: topic.unwrap_or_else(|| "order-shipped".into()),
        news,
    }])
}

/// The create-order body, in the shape of the fixture's `request`.
fn order_input(order: &ProviderOrder, api_key: &str) -> Result<OrderInput, ProviderError> {
    let r = &order.recipient;
    let mut items = Vec::with_capacity(order.items.len());
    for item in &order.items {
        items.push(ItemInput {
            catalog_sku: item.product.trim().to_owned(),
            quantity: item.quantity,
            design_url: clean_url("custom_cat", "print file URL", &item.print_file_url)?,
        });
    }
    let method = order.shipping_method.to_ascii_lowercase();
    let shipping_method = if method.contains("express") || method.contains("expedited") {
        "Expedited"
    } else {
        "Economy"
    };
    Ok(OrderInput {
        shipping_first_name: r.first_name.trim().to_owned(),
        shipping_last_name: r.last_name.trim().to_owned(),
        shipping_address1: r.address_1.trim().to_owned(),
        shipping_address2: r.address_2.trim().to_owned(),
        shipping_city: r.city.trim().to_owned(),
        shipping_state: r.state.trim().to_owned(),
        shipping_zip: r.postcode.trim().to_owned(),
        shipping_country: r.country.trim().to_owned(),
        shipping_email: r.email.trim().to_owned(),
        shipping_phone: r.phone.trim().to_owned(),
        shipping_method,
        items,
        api_key: api_key.to_owned(),
    })
}

/// The create-order JSON for `order` as sent, with the key shown as `<api key>` (for tests
/// checking it against the docs).
pub fn order_json(order: &ProviderOrder) -> Result<serde_json::Value, ProviderError> {
    serde_json::to_value(order_input(order, "<api key>")?).map_err(|e| ProviderError::Config {
        message: e.to_string(),
    })
}

fn says_success(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("success") && !m.contains("unsuccess") && !m.contains("not success")
}

fn says_exists(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("already exist") || m.contains("duplicate")
}

fn says_not_found(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("not found") || m.contains("no order") || m.contains("does not exist")
}

fn says_bad_key(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    (m.contains("api key") || m.contains("api_key") || m.contains("apikey"))
        && (m.contains("invalid") || m.contains("missing") || m.contains("wrong"))
}

#[derive(Serialize)]
struct OrderInput {
    shipping_first_name: String,
    shipping_last_name: String,
    shipping_address1: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    shipping_address2: String,
    shipping_city: String,
    shipping_state: String,
    shipping_zip: String,
    shipping_country: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    shipping_email: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    shipping_phone: String,
    shipping_method: &'static str,
    items: Vec<ItemInput>,
    api_key: String,
}

#[derive(Serialize)]
struct ItemInput {
    catalog_sku: String,
    quantity: u32,
    design_url: String,
}

/// Any CustomCat answer's message: `MSG`, `message` or `error`.
#[derive(Deserialize)]
struct CcMessage {
    #[serde(rename = "MSG", default)]
    msg: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

impl CcMessage {
    fn text(self) -> Option<String> {
        self.msg.or(self.message).or_else(|| match self.error? {
            serde_json::Value::String(s) => Some(s),
            other => Some(other.to_string()),
        })
    }
}

#[derive(Deserialize)]
struct CcCreated {
    #[serde(rename = "MSG", default)]
    msg: Option<String>,
    #[serde(rename = "ORDER_ID", default, deserialize_with = "opt_text")]
    order_id: Option<String>,
    #[serde(rename = "CUSTOMCAT_ORDER_ID", default, deserialize_with = "opt_text")]
    customcat_order_id: Option<String>,
}

#[derive(Deserialize)]
struct CcStatus {
    #[serde(rename = "MSG", default)]
    msg: Option<String>,
    #[serde(rename = "ORDER_ID", default, deserialize_with = "opt_text")]
    order_id: Option<String>,
    #[serde(rename = "CUSTOMCAT_ORDER_ID", default, deserialize_with = "opt_text")]
    customcat_order_id: Option<String>,
    #[serde(rename = "ORDER_STATUS", default)]
    order_status: Option<String>,
    #[serde(rename = "SHIPMENTS", default)]
    shipments: Vec<CcParcel>,
}

impl CcStatus {
    fn accepted(&self, external_id: &str) -> Accepted {
        Accepted {
            provider_order_id: self
                .customcat_order_id
                .clone()
                .unwrap_or_else(|| external_id.to_owned()),
            status: self.order_status.clone().unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct CcParcel {
    #[serde(rename = "TRACKING_ID", default, deserialize_with = "opt_text")]
    tracking_id: Option<String>,
    #[serde(rename = "VENDOR", default)]
    vendor: Option<String>,
    #[serde(rename = "TRACKING_URL", default)]
    tracking_url: Option<String>,
}

impl CcParcel {
    fn update(&self) -> Option<ShipmentUpdate> {
        let number = self.tracking_id.as_deref()?.trim();
        (!number.is_empty()).then(|| ShipmentUpdate {
            id: None,
            carrier: self.vendor.clone().unwrap_or_default(),
            tracking_number: number.to_owned(),
            tracking_url: self.tracking_url.clone().unwrap_or_default(),
            status: Some(domain::ShipmentStatus::Shipped),
            items: vec![],
            shipped_at: None,
        })
    }
}

#[derive(Deserialize)]
struct CcHook {
    #[serde(default, deserialize_with = "opt_text")]
    order_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    customcat_order_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    tracker_number: Option<String>,
    #[serde(default)]
    tracking_url: Option<String>,
    #[serde(default)]
    carrier: Option<String>,
    #[serde(default)]
    vendor: Option<String>,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_success_message_is_success() {
        assert!(says_success("Order added successfully"));
        assert!(!says_success("Order was not successful"));
        assert!(!says_success("Invalid catalog_sku 99999"));
        assert!(says_bad_key("Invalid API key"));
        assert!(says_exists("Order 1001 already exists"));
    }
}
