//! Gelato, Order API v4 (`https://order.gelatoapis.com/v4`), from secondary sources quoting
//! Gelato's docs (see the fixtures' SOURCES).
//!
//! - Auth: `X-API-KEY`. Errors: `{"code": "...", "message": "..."}` (the message is kept).
//! - Submit: `POST /v4/orders` with our id as `orderReferenceId`, each line's id as
//!   `itemReferenceId`, the print file as the item's `default` file, `orderType` `order`
//!   (production) or `draft` from `config.confirm`.
//! - Lookup: `POST /v4/orders:search` with `orderReferenceIds` finds Gelato's id; `GET
//!   /v4/orders/{id}` gives items and parcels (`shipment.packages[]` with `trackingCode`,
//!   `trackingUrl`, `orderItemIds`, and items' `fulfillments[]` as the webhooks have them).
//! - Cancel: `POST /v4/orders/{id}:cancel`, possible "before it moves into production"; a
//!   refusal is reported as not cancellable in Gelato's words.
//! - Webhooks are not signed: the secret token is in the URL we registered.
//!   `order_status_updated` (with items' `fulfillments`) and
//!   `order_item_tracking_code_updated` carry `orderReferenceId`, our id. Their items carry no
//!   quantity, so a parcel from a webhook names no items (taken as the whole order) unless
//!   the item says its `quantity`.

use domain::{ShipmentItem, ShipmentStatus, ShipmentUpdate};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{
    Answer, Api, before_create, clean_url, id_text, is_cancelled, line_item_id, opt_text,
    parse_json, parse_webhook, segment, shipment_status, url_token_matches,
};
use crate::provider::{
    Accepted, CancelOutcome, Provider, ProviderConfig, ProviderError, ProviderEvent, ProviderKind,
    ProviderNews, ProviderOrder, RemoteOrder, WebhookError, WebhookRequest,
};

/// A Gelato account's adapter.
pub struct Gelato {
    api: Api,
    api_key: String,
    confirm: bool,
    webhook_secret: String,
}

impl Gelato {
    pub fn new(config: ProviderConfig, http: reqwest::Client) -> Result<Gelato, ProviderError> {
        Ok(Gelato {
            api: Api::new(&config, http)?,
            api_key: config.api_key.trim().to_owned(),
            confirm: config.confirm,
            webhook_secret: config.webhook_secret,
        })
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.api
            .request(method, path)
            .header("X-API-KEY", &self.api_key)
    }

    fn error(&self, answer: &Answer, what: &str) -> ProviderError {
        self.api
            .status_error(answer, error_message(&answer.body), what)
    }

    async fn find(&self, external_id: &str) -> Result<Option<GlOrder>, ProviderError> {
        let what = "looking the order up";
        let body = serde_json::json!({ "orderReferenceIds": [external_id], "limit": 10 });
        let request = self.request(Method::POST, "/v4/orders:search").json(&body);
        let answer = self.api.send(request, what).await?;
        if !answer.status.is_success() {
            return Err(self.error(&answer, what));
        }
        let list: GlList =
            parse_json(&answer.body).map_err(|e| self.api.unreadable(&answer, what, e))?;
        Ok(list
            .orders
            .into_iter()
            .find(|o| o.order_reference_id.as_deref() == Some(external_id)))
    }

    async fn get(&self, id: &str) -> Result<Option<GlOrder>, ProviderError> {
        let what = "reading the order";
        let path = format!("/v4/orders/{}", segment(id));
        let answer = self
            .api
            .send(self.request(Method::GET, &path), what)
            .await?;
        match answer.status.as_u16() {
            404 => Ok(None),
            s if (200..300).contains(&s) => parse_json(&answer.body)
                .map(Some)
                .map_err(|e| self.api.unreadable(&answer, what, e)),
            _ => Err(self.error(&answer, what)),
        }
    }
}

impl Provider for Gelato {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Gelato
    }

    async fn submit(&self, order: &ProviderOrder) -> Result<Accepted, ProviderError> {
        let body = order_input(order, self.confirm)?;
        // Looked up first unless the coordinator knows nothing was ever sent under this id.
        if order.look_first
            && let Some(found) = self.find(&order.external_id).await.map_err(before_create)?
        {
            return Ok(found.accepted());
        }
        let what = "creating the order";
        let answer = self
            .api
            .send(self.request(Method::POST, "/v4/orders").json(&body), what)
            .await?;
        if answer.status.is_success() {
            let created: GlOrder =
                parse_json(&answer.body).map_err(|e| self.api.unreadable(&answer, what, e))?;
            return Ok(created.accepted());
        }
        // Assumed: a second order with the same reference is refused with 409; answered
        // with the order that exists.
        if answer.status.as_u16() == 409
            && let Some(found) = self.find(&order.external_id).await?
        {
            return Ok(found.accepted());
        }
        Err(self.error(&answer, what))
    }

    async fn lookup(&self, external_id: &str) -> Result<Option<RemoteOrder>, ProviderError> {
        let Some(found) = self.find(external_id).await? else {
            return Ok(None);
        };
        // The search gives a summary; the order itself has the parcels.
        let full = self.get(&found.id).await?.unwrap_or(found);
        let status = full.fulfillment_status.clone().unwrap_or_default();
        Ok(Some(RemoteOrder {
            shipments: full.parcels(),
            cancelled: is_cancelled(&status),
            failed: (status.eq_ignore_ascii_case("failed"))
                .then(|| "Gelato says the order failed".to_owned()),
            provider_order_id: full.id,
            status,
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
                        reason: "Gelato has no such order".into(),
                    });
                }
            },
            id => id.to_owned(),
        };
        let what = "cancelling the order";
        let path = format!("/v4/orders/{}:cancel", segment(&id));
        let answer = self
            .api
            .send(self.request(Method::POST, &path), what)
            .await?;
        match answer.status.as_u16() {
            s if (200..300).contains(&s) => Ok(CancelOutcome::Cancelled),
            400 | 404 | 409 | 422 => Ok(CancelOutcome::NotCancellable {
                reason: error_message(&answer.body).unwrap_or_else(|| {
                    "Gelato cancels an order only before it moves into production".into()
                }),
            }),
            _ => Err(self.error(&answer, what)),
        }
    }

    fn webhook(&self, request: WebhookRequest<'_>) -> Result<Vec<ProviderEvent>, WebhookError> {
        if !url_token_matches(request.url_token, &self.webhook_secret) {
            return Err(WebhookError::BadSignature);
        }
        parse_event(request.body)
    }
}

fn parse_event(body: &[u8]) -> Result<Vec<ProviderEvent>, WebhookError> {
    let hook: GlHook = parse_webhook("gelato", body)?;
    let Some(reference) = hook.order_reference_id.clone().filter(|s| !s.is_empty()) else {
        // Events about other things (products, stores): none of our orders.
        return Ok(vec![]);
    };
    let event = |news| ProviderEvent {
        external_id: Some(reference.clone()),
        provider_order_id: hook.order_id.clone().filter(|s| !s.is_empty()),
        event: hook.event.clone(),
        news,
    };
    match hook.event.as_str() {
        "order_item_tracking_code_updated" => {
            let number = hook.tracking_code.clone().unwrap_or_default();
            if number.trim().is_empty() {
                return Ok(vec![]);
            }
            Ok(vec![event(ProviderNews::Shipment(ShipmentUpdate {
                id: None,
                carrier: hook.shipment_method_name.clone().unwrap_or_default(),
                tracking_number: number.trim().to_owned(),
                tracking_url: hook.tracking_url.clone().unwrap_or_default(),
                status: Some(ShipmentStatus::Shipped),
                items: vec![],
                shipped_at: None,
            }))])
        }
        _ => {
            let status = hook.fulfillment_status.clone().unwrap_or_default();
            let order = GlOrder {
                id: hook.order_id.clone().unwrap_or_default(),
                order_reference_id: Some(reference.clone()),
                fulfillment_status: Some(status.clone()),
                items: hook.items.clone(),
                shipment: None,
            };
            let parcels = order.parcels();
            if !parcels.is_empty() {
                return Ok(parcels
                    .into_iter()
                    .map(|p| event(ProviderNews::Shipment(p)))
                    .collect());
            }
            let news = match status.to_ascii_lowercase().as_str() {
                "canceled" | "cancelled" => ProviderNews::Cancelled,
                "failed" => ProviderNews::Failed {
                    reason: hook
                        .comment
                        .clone()
                        .filter(|c| !c.trim().is_empty())
                        .unwrap_or_else(|| "Gelato says the order failed".into()),
                },
                "on_hold" | "not_connected" => ProviderNews::OnHold {
                    reason: hook.comment.clone().unwrap_or_else(|| status.clone()),
                },
                "" => ProviderNews::Status {
                    status: hook.event.clone(),
                },
                _ => ProviderNews::Status { status },
            };
            Ok(vec![event(news)])
        }
    }
}

fn order_input(order: &ProviderOrder, confirm: bool) -> Result<OrderInput, ProviderError> {
    let r = &order.recipient;
    let mut items = Vec::with_capacity(order.items.len());
    for item in &order.items {
        items.push(ItemInput {
            item_reference_id: item.line_item_id.to_string(),
            product_uid: item.product.trim().to_owned(),
            files: vec![File {
                kind: "default",
                url: clean_url("gelato", "print file URL", &item.print_file_url)?,
            }],
            quantity: item.quantity,
        });
    }
    let express = order
        .shipping_method
        .to_ascii_lowercase()
        .contains("express");
    Ok(OrderInput {
        order_type: if confirm { "order" } else { "draft" },
        order_reference_id: order.external_id.clone(),
        customer_reference_id: match r.email.trim() {
            "" => format!("order-{}", order.order_number),
            email => email.to_owned(),
        },
        currency: order.currency.clone(),
        items,
        shipment_method_uid: express.then_some("express"),
        shipping_address: Address {
            first_name: r.first_name.trim().to_owned(),
            last_name: r.last_name.trim().to_owned(),
            company_name: r.company.trim().to_owned(),
            address_line1: r.address_1.trim().to_owned(),
            address_line2: r.address_2.trim().to_owned(),
            city: r.city.trim().to_owned(),
            post_code: r.postcode.trim().to_owned(),
            state: r.state.trim().to_owned(),
            country: r.country.trim().to_owned(),
            email: r.email.trim().to_owned(),
            phone: r.phone.trim().to_owned(),
        },
    })
}

/// The create-order JSON for `order` as sent (for tests checking it against the docs).
pub fn order_json(
    order: &ProviderOrder,
    confirm: bool,
) -> Result<serde_json::Value, ProviderError> {
    serde_json::to_value(order_input(order, confirm)?).map_err(|e| ProviderError::Config {
        message: e.to_string(),
    })
}

fn error_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Body {
        message: Option<String>,
        error: Option<serde_json::Value>,
        detail: Option<String>,
    }
    let b: Body = serde_json::from_slice(body).ok()?;
    let text = b.message.or(b.detail).or_else(|| match b.error? {
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })?;
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderInput {
    order_type: &'static str,
    order_reference_id: String,
    customer_reference_id: String,
    currency: String,
    items: Vec<ItemInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipment_method_uid: Option<&'static str>,
    shipping_address: Address,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemInput {
    item_reference_id: String,
    product_uid: String,
    files: Vec<File>,
    quantity: u32,
}

#[derive(Serialize)]
struct File {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Address {
    first_name: String,
    last_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    company_name: String,
    address_line1: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    address_line2: String,
    city: String,
    post_code: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    state: String,
    country: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    email: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    phone: String,
}

#[derive(Deserialize)]
struct GlList {
    #[serde(default)]
    orders: Vec<GlOrder>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GlOrder {
    #[serde(deserialize_with = "id_text")]
    id: String,
    #[serde(default)]
    order_reference_id: Option<String>,
    #[serde(default)]
    fulfillment_status: Option<String>,
    #[serde(default)]
    items: Vec<GlItem>,
    #[serde(default)]
    shipment: Option<GlShipment>,
}

impl GlOrder {
    fn accepted(self) -> Accepted {
        Accepted {
            provider_order_id: self.id,
            status: self.fulfillment_status.unwrap_or_default(),
        }
    }

    /// Parcels: the shipment's packages, else the items' fulfillments (one per tracking code).
    fn parcels(&self) -> Vec<ShipmentUpdate> {
        let order_status = self
            .fulfillment_status
            .as_deref()
            .and_then(shipment_status)
            .filter(|s| s.has_left());
        let item_of = |id: &str| self.items.iter().find(|i| i.id.as_deref() == Some(id));
        let shipped_item = |item: &GlItem| {
            Some(ShipmentItem {
                line_item_id: line_item_id(item.item_reference_id.as_deref()?)?,
                quantity: item.quantity?,
            })
        };
        let mut out: Vec<ShipmentUpdate> = vec![];
        if let Some(shipment) = &self.shipment {
            for package in &shipment.packages {
                let number = package.tracking_code.clone().unwrap_or_default();
                if number.trim().is_empty() {
                    continue;
                }
                out.push(ShipmentUpdate {
                    id: package.id.clone().filter(|s| !s.is_empty()),
                    carrier: shipment.shipment_method_name.clone().unwrap_or_default(),
                    tracking_number: number.trim().to_owned(),
                    tracking_url: package.tracking_url.clone().unwrap_or_default(),
                    status: order_status.or(Some(ShipmentStatus::Shipped)),
                    items: package
                        .order_item_ids
                        .iter()
                        .filter_map(|id| item_of(id).and_then(shipped_item))
                        .collect(),
                    shipped_at: None,
                });
            }
        }
        for item in &self.items {
            let status = item
                .fulfillment_status
                .as_deref()
                .and_then(shipment_status)
                .or(order_status)
                .or(Some(ShipmentStatus::Shipped));
            for f in &item.fulfillments {
                let number = f.tracking_code.as_deref().unwrap_or("").trim();
                if number.is_empty() {
                    continue;
                }
                if let Some(parcel) = out.iter_mut().find(|p| p.tracking_number == number) {
                    if let Some(si) = shipped_item(item)
                        && !parcel.items.contains(&si)
                    {
                        parcel.items.push(si);
                    }
                    continue;
                }
                out.push(ShipmentUpdate {
                    id: None,
                    carrier: f.shipment_method_name.clone().unwrap_or_default(),
                    tracking_number: number.to_owned(),
                    tracking_url: f.tracking_url.clone().unwrap_or_default(),
                    status,
                    items: shipped_item(item).into_iter().collect(),
                    shipped_at: None,
                });
            }
        }
        out
    }
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct GlItem {
    #[serde(default, deserialize_with = "opt_text")]
    id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    item_reference_id: Option<String>,
    #[serde(default)]
    quantity: Option<u32>,
    #[serde(default)]
    fulfillment_status: Option<String>,
    #[serde(default)]
    fulfillments: Vec<GlFulfillment>,
}

#[derive(Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct GlFulfillment {
    #[serde(default, deserialize_with = "opt_text")]
    tracking_code: Option<String>,
    #[serde(default)]
    tracking_url: Option<String>,
    #[serde(default)]
    shipment_method_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GlShipment {
    #[serde(default)]
    shipment_method_name: Option<String>,
    #[serde(default)]
    packages: Vec<GlPackage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GlPackage {
    #[serde(default, deserialize_with = "opt_text")]
    id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    tracking_code: Option<String>,
    #[serde(default)]
    tracking_url: Option<String>,
    #[serde(default)]
    order_item_ids: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GlHook {
    event: String,
    #[serde(default, deserialize_with = "opt_text")]
    order_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    order_reference_id: Option<String>,
    #[serde(default)]
    fulfillment_status: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    items: Vec<GlItem>,
    #[serde(default, deserialize_with = "opt_text")]
    tracking_code: Option<String>,
    #[serde(default)]
    tracking_url: Option<String>,
    #[serde(default)]
    shipment_method_name: Option<String>,
}
