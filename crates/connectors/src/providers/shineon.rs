//! ShineOn (`https://api.shineon.com`), from its SDK and wiki (see the fixtures' SOURCES).
//!
//! - Auth: `Authorization: Bearer <token>`. Errors: `{"error": "..."}`.
//! - Submit: `POST /v1/orders` with `{"order": {...}}`: our id as `source_id`, each line's id
//!   as `store_line_item_id` (so shipment notifications name our line items), the print file
//!   as the line's `properties.print_url`, `ready: 1` (awaiting payment, i.e. production) or
//!   `ready: 0` (created on hold) from `config.confirm`, and the order's
//!   `shipment_notification_url` ([`ProviderOrder::notify_url`], else `config.account`).
//! - Lookup: `GET /v1/orders?source_ids=<id>` → `{"orders": [...]}` (empty: none).
//! - Cancel: `POST /v1/orders/{id}/cancel`, answered 202.
//! - Shipment notifications are unsigned: the secret token is in the notification URL. The
//!   body is the order with its line items, each with `tracking_company` and
//!   `tracking_number`; lines sharing a tracking number are one parcel.

use domain::{ShipmentItem, ShipmentUpdate};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{
    Answer, Api, before_create, clean_url, id_text, is_cancelled, line_item_id, opt_text,
    parse_json, parse_webhook, segment, url_token_matches,
};
use crate::provider::{
    Accepted, CancelOutcome, Provider, ProviderConfig, ProviderError, ProviderEvent, ProviderKind,
    ProviderNews, ProviderOrder, RemoteOrder, WebhookError, WebhookRequest,
};

/// A ShineOn account's adapter.
pub struct ShineOn {
    api: Api,
    token: String,
    confirm: bool,
    /// `config.account`, used as the notification URL when the order names none.
    default_notify_url: String,
    webhook_secret: String,
}

impl ShineOn {
    pub fn new(config: ProviderConfig, http: reqwest::Client) -> Result<ShineOn, ProviderError> {
        Ok(ShineOn {
            api: Api::new(&config, http)?,
            token: config.api_key.trim().to_owned(),
            confirm: config.confirm,
            default_notify_url: config.account.trim().to_owned(),
            webhook_secret: config.webhook_secret,
        })
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.api.request(method, path).bearer_auth(&self.token)
    }

    fn error(&self, answer: &Answer, what: &str) -> ProviderError {
        self.api
            .status_error(answer, error_message(&answer.body), what)
    }

    async fn find(&self, external_id: &str) -> Result<Option<SoOrder>, ProviderError> {
        let what = "looking the order up";
        let request = self
            .api
            .request_query(Method::GET, "/v1/orders", &[("source_ids", external_id)])?
            .bearer_auth(&self.token);
        let answer = self.api.send(request, what).await?;
        if !answer.status.is_success() {
            return Err(self.error(&answer, what));
        }
        let list: SoList =
            parse_json(&answer.body).map_err(|e| self.api.unreadable(&answer, what, e))?;
        // The filter is the provider's; the id is checked here too.
        Ok(list.orders.into_iter().find(|o| o.source_id == external_id))
    }
}

impl Provider for ShineOn {
    fn kind(&self) -> ProviderKind {
        ProviderKind::ShineOn
    }

    async fn submit(&self, order: &ProviderOrder) -> Result<Accepted, ProviderError> {
        let body = order_input(order, self.confirm, &self.default_notify_url)?;
        // Looked up first unless the coordinator knows nothing was ever sent under this id.
        if order.look_first
            && let Some(found) = self.find(&order.external_id).await.map_err(before_create)?
        {
            return Ok(Accepted {
                provider_order_id: found.id,
                status: found.status,
            });
        }
        let what = "creating the order";
        let answer = self
            .api
            .send(self.request(Method::POST, "/v1/orders").json(&body), what)
            .await?;
        if answer.status.is_success() {
            let created: SoOne =
                parse_json(&answer.body).map_err(|e| self.api.unreadable(&answer, what, e))?;
            return Ok(Accepted {
                provider_order_id: created.order.id,
                status: created.order.status,
            });
        }
        // Assumed: a second order with the same source_id is refused (422, "has already
        // been taken"); answered with the order that exists.
        let message = error_message(&answer.body).unwrap_or_default();
        if (answer.status.as_u16() == 409 || answer.status.as_u16() == 422)
            && message.to_ascii_lowercase().contains("source_id")
            && let Some(found) = self.find(&order.external_id).await?
        {
            return Ok(Accepted {
                provider_order_id: found.id,
                status: found.status,
            });
        }
        Err(self.error(&answer, what))
    }

    async fn lookup(&self, external_id: &str) -> Result<Option<RemoteOrder>, ProviderError> {
        let Some(found) = self.find(external_id).await? else {
            return Ok(None);
        };
        Ok(Some(RemoteOrder {
            cancelled: is_cancelled(&found.status),
            failed: None,
            shipments: parcels(&found.line_items),
            provider_order_id: found.id,
            status: found.status,
            needs_confirmation: false,
        }))
    }

    async fn cancel(
        &self,
        external_id: &str,
        provider_order_id: &str,
    ) -> Result<CancelOutcome, ProviderError> {
        let id = match provider_order_id.trim() {
            "" => match self.find(external_id).await? {
                Some(o) => o.id,
                None => {
                    return Ok(CancelOutcome::NotCancellable {
                        reason: "ShineOn has no such order".into(),
                    });
                }
            },
            id => id.to_owned(),
        };
        let what = "cancelling the order";
        let path = format!("/v1/orders/{}/cancel", segment(&id));
        let answer = self
            .api
            .send(self.request(Method::POST, &path), what)
            .await?;
        match answer.status.as_u16() {
            s if (200..300).contains(&s) => Ok(CancelOutcome::Cancelled),
            404 | 409 | 422 => Ok(CancelOutcome::NotCancellable {
                reason: error_message(&answer.body)
                    .unwrap_or_else(|| "ShineOn no longer cancels this order".into()),
            }),
            _ => Err(self.error(&answer, what)),
        }
    }

    fn webhook(&self, request: WebhookRequest<'_>) -> Result<Vec<ProviderEvent>, WebhookError> {
        if !url_token_matches(request.url_token, &self.webhook_secret) {
            return Err(WebhookError::BadSignature);
        }
        let hook: SoOne = parse_webhook("shineon", request.body)?;
        let order = hook.order;
        let external_id = Some(order.source_id.clone()).filter(|s| !s.is_empty());
        let provider_order_id = Some(order.id.clone()).filter(|s| !s.is_empty());
        let mut events: Vec<ProviderEvent> = parcels(&order.line_items)
            .into_iter()
            .map(|update| ProviderEvent {
                external_id: external_id.clone(),
                provider_order_id: provider_order_id.clone(),
                event: "shipment_notification".into(),
                news: ProviderNews::Shipment(update),
            })
            .collect();
        if events.is_empty() && !order.status.is_empty() {
            let news = if is_cancelled(&order.status) {
                ProviderNews::Cancelled
            } else if order.status == "on_hold" {
                ProviderNews::OnHold {
                    reason: order
                        .on_hold_reason
                        .clone()
                        .unwrap_or_else(|| "on hold".into()),
                }
            } else {
                ProviderNews::Status {
                    status: order.status.clone(),
                }
            };
            events.push(ProviderEvent {
                external_id,
                provider_order_id,
                event: "order_notification".into(),
                news,
            });
        }
        Ok(events)
    }
}

/// Line items with a tracking number, one parcel per number.
fn parcels(lines: &[SoLine]) -> Vec<ShipmentUpdate> {
    let mut out: Vec<ShipmentUpdate> = vec![];
    for line in lines {
        let number = line.tracking_number.as_deref().unwrap_or("").trim();
        if number.is_empty() {
            continue;
        }
        let item = line_item_id(&line.store_line_item_id).map(|id| ShipmentItem {
            line_item_id: id,
            quantity: line.quantity,
        });
        match out.iter_mut().find(|p| p.tracking_number == number) {
            Some(parcel) => parcel.items.extend(item),
            None => out.push(ShipmentUpdate {
                id: None,
                carrier: line.tracking_company.clone().unwrap_or_default(),
                tracking_number: number.to_owned(),
                tracking_url: String::new(),
                status: Some(domain::ShipmentStatus::Shipped),
                items: item.into_iter().collect(),
                shipped_at: None,
            }),
        }
    }
    out
}

fn order_input(
    order: &ProviderOrder,
    ready: bool,
    default_notify_url: &str,
) -> Result<OrderInput, ProviderError> {
    let notify = order
        .notify_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(default_notify_url);
    if notify.is_empty() {
        return Err(ProviderError::Config {
            message: "shine_on: each order needs a shipment notification URL (the order's \
                      notify_url, or the provider's account set to the webhook URL)"
                .into(),
        });
    }
    // A bad notification URL is our configuration's fault, not the order's.
    let notify = clean_url("shine_on", "shipment notification URL", notify).map_err(|e| {
        ProviderError::Config {
            message: e.to_string(),
        }
    })?;
    let r = &order.recipient;
    let mut line_items = Vec::with_capacity(order.items.len());
    for item in &order.items {
        line_items.push(LineInput {
            store_line_item_id: item.line_item_id.to_string(),
            sku: item.product.trim().to_owned(),
            quantity: item.quantity,
            properties: Properties {
                print_url: clean_url("shine_on", "print file URL", &item.print_file_url)?,
            },
        });
    }
    let international = !r.country.trim().eq_ignore_ascii_case("US");
    Ok(OrderInput {
        order: OrderBody {
            source_id: order.external_id.clone(),
            shipment_notification_url: notify,
            // The two methods the docs name; others depend on the partner account.
            shipping_method: if international {
                "international"
            } else {
                "standard-us"
            },
            email: r.email.trim().to_owned(),
            ready: u8::from(ready),
            shipping_address: Address {
                name: format!("{} {}", r.first_name.trim(), r.last_name.trim())
                    .trim()
                    .to_owned(),
                company: r.company.trim().to_owned(),
                address1: r.address_1.trim().to_owned(),
                address2: r.address_2.trim().to_owned(),
                city: r.city.trim().to_owned(),
                zip: r.postcode.trim().to_owned(),
                country_code: r.country.trim().to_owned(),
                province_code: r.state.trim().to_owned(),
                phone: r.phone.trim().to_owned(),
            },
            line_items,
        },
    })
}

/// The create-order JSON for `order` as sent (for tests checking it against the docs).
pub fn order_json(order: &ProviderOrder, ready: bool) -> Result<serde_json::Value, ProviderError> {
    serde_json::to_value(order_input(order, ready, "")?).map_err(|e| ProviderError::Config {
        message: e.to_string(),
    })
}

fn error_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Body {
        error: Option<serde_json::Value>,
        message: Option<String>,
    }
    let b: Body = serde_json::from_slice(body).ok()?;
    let text = match b.error {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
        None => b.message,
    }?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

#[derive(Serialize)]
struct OrderInput {
    order: OrderBody,
}

#[derive(Serialize)]
struct OrderBody {
    source_id: String,
    shipment_notification_url: String,
    shipping_method: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    email: String,
    ready: u8,
    shipping_address: Address,
    line_items: Vec<LineInput>,
}

#[derive(Serialize)]
struct Address {
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    company: String,
    address1: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    address2: String,
    city: String,
    zip: String,
    country_code: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    province_code: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    phone: String,
}

#[derive(Serialize)]
struct LineInput {
    store_line_item_id: String,
    sku: String,
    quantity: u32,
    properties: Properties,
}

#[derive(Serialize)]
struct Properties {
    print_url: String,
}

#[derive(Deserialize)]
struct SoList {
    #[serde(default)]
    orders: Vec<SoOrder>,
}

#[derive(Deserialize)]
struct SoOne {
    order: SoOrder,
}

#[derive(Deserialize)]
struct SoOrder {
    #[serde(deserialize_with = "id_text")]
    id: String,
    #[serde(default, deserialize_with = "id_text")]
    source_id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    on_hold_reason: Option<String>,
    #[serde(default)]
    line_items: Vec<SoLine>,
}

#[derive(Deserialize)]
struct SoLine {
    #[serde(default, deserialize_with = "id_text")]
    store_line_item_id: String,
    #[serde(default)]
    quantity: u32,
    #[serde(default)]
    tracking_company: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    tracking_number: Option<String>,
}
