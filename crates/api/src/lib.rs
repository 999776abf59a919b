//! Pressroom's HTTP API contract: what `/api/v1/…`, `/readyz` and the error bodies look like on
//! the wire. These types are made for the boundary, not copied from the database document: the
//! server builds them from its rows, and the coming web UI and an OpenAPI description read the
//! same structs. Nothing here knows HTTP frameworks or databases.
//!
//! Money is an exact decimal written as a string (`"29.35"`); times are RFC 3339 in UTC.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Every API error's body: `{"error": {"code": "…", "message": "…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, snake_case; clients branch on it (see [`codes`]).
    pub code: String,
    /// For people: what was wrong. Never a server path or what an outside host answered.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

/// The error codes of the HTTP layer itself. The use cases add their own (`woo_json`,
/// `woo_invalid`, `invalid_item`, `client_image`, `duplicate_order`, `design_locked`,
/// `order_closed`, `database`, `object_storage`, …); all are listed in docs/configuration.md.
pub mod codes {
    /// The request is malformed: not JSON, a wrong field type, a bad query string.
    pub const BAD_REQUEST: &str = "bad_request";
    /// The body is over the server's limit.
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const NOT_FOUND: &str = "not_found";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// A `/files/…` link whose signature is wrong or whose time is up.
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// Anything the server could not do; the cause is in its log.
    pub const INTERNAL: &str = "internal";
}

/// `POST /api/v1/orders` → 201 for a new order, 200 when it existed (merged: updated,
/// unchanged, or stale when older than what is stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imported {
    pub order_id: i64,
    pub number: String,
    /// The render jobs queued, one per new or changed personalized line item.
    pub jobs: Vec<i64>,
    /// "created", "updated", "unchanged" or "stale".
    pub outcome: String,
    /// What an update changed, in words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub changes: String,
}

/// `POST /webhooks/woocommerce/{store}` → 200.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAccepted {
    /// The kept delivery; absent for a ping.
    pub delivery: Option<i64>,
    pub ping: bool,
}

/// `POST /api/v1/orders/{id}/render` → 202.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderQueued {
    pub order_id: i64,
    pub jobs: Vec<i64>,
}

/// `POST /api/v1/orders/{id}/render` body (optional): one item, or all personalized items.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    #[serde(default)]
    pub item_id: Option<i64>,
}

/// `GET /api/v1/orders?limit&offset`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPage {
    pub orders: Vec<OrderSummary>,
}

/// One row of the order list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub id: i64,
    pub number: String,
    /// The store's status, verbatim.
    pub status: String,
    /// The derived kind (`processing`, `on-hold`, `completed`, …).
    pub status_kind: String,
    pub order_type: String,
    /// "" (never submitted), "Submitting", "Submitted", "Failed" or "Review".
    pub submit_status: String,
    /// Why it failed or is in review (the list shows it on hover), or why the countdown
    /// could not submit it.
    #[serde(default)]
    pub submit_reason: Option<String>,
    pub submit_at: Option<DateTime<Utc>>,
    /// `unfulfilled`, `partially_fulfilled`, `fulfilled` or `delivered`.
    #[serde(default)]
    pub fulfillment: String,
    /// A test order (sandbox only, never written to the store).
    #[serde(default)]
    pub test: bool,
    pub total: Decimal,
    pub currency: String,
    pub customer: String,
}

/// `GET /api/v1/orders/{id}`: the order with its renders (newest last), jobs and history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    pub id: i64,
    pub store_id: String,
    /// Changes on every write; a later edit API takes it back for compare-and-set.
    pub row_version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub order: OrderDetail,
    pub renders: Vec<RenderView>,
    pub jobs: Vec<JobView>,
    pub history: Vec<HistoryEntry>,
    /// Writes to the store (status changes, notes, tracking), oldest first.
    pub store_sync: StoreSync,
}

/// Whether the store shows what Pressroom did: "sync pending" while writes wait.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StoreSync {
    pub pending: usize,
    /// Why the oldest pending write has not landed yet, in the merchant's words.
    pub last_error: Option<String>,
    pub writes: Vec<StoreWrite>,
    /// The store changed the items after submission, or deleted the order.
    pub changed_after_submission: bool,
    pub deleted_in_store: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreWrite {
    pub id: i64,
    /// "status", "note" or "tracking".
    pub kind: String,
    pub payload: serde_json::Value,
    /// "pending", "delivered", or "failed" (the store refused it for good; the history says
    /// why).
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The order as the store sent it, plus what Pressroom decided about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDetail {
    pub store_order_id: i64,
    pub number: String,
    pub status: Status,
    pub created_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub modified_at: Option<DateTime<Utc>>,
    pub customer: Customer,
    pub billing: Address,
    pub shipping: Address,
    pub payment_method: String,
    pub payment_method_title: String,
    pub currency: String,
    pub totals: Totals,
    pub shipping_lines: Vec<ShippingLine>,
    pub items: Vec<LineItem>,
    /// `in_app`, `amazon`, `shine_on` or `others`.
    pub order_type: String,
    pub submit_status: SubmitStatus,
    pub countdown: Countdown,
    /// Why the countdown reached zero without submitting ("item 2: photo at 94 DPI, …").
    #[serde(default)]
    pub submission_blocked: Option<String>,
    pub notes: Vec<Note>,
    /// `unfulfilled`, `partially_fulfilled`, `fulfilled` or `delivered`, from the parcels.
    #[serde(default)]
    pub fulfillment: String,
    #[serde(default)]
    pub shipments: Vec<Shipment>,
    /// A test order: it goes to the sandbox provider and never to the store.
    #[serde(default)]
    pub test: bool,
}

/// One parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub provider: String,
    pub id: String,
    pub carrier: String,
    /// Every tracking number of the parcel, the first one first.
    pub tracking_numbers: Vec<String>,
    pub tracking_url: String,
    /// `awaiting_shipment`, `shipped`, `in_transit`, `out_for_delivery`, `delivered`,
    /// `delivery_failed`, `returned` or `cancelled`.
    pub status: String,
    /// Line item id and quantity; empty when the provider did not say (the whole order).
    pub items: Vec<(i64, u32)>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The store's status verbatim (`raw`) and the kind Pressroom derived from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub raw: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Customer {
    pub name: String,
    pub city: String,
    pub state: String,
    pub country: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Address {
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub address_1: String,
    pub address_2: String,
    pub city: String,
    pub state: String,
    pub postcode: String,
    pub country: String,
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub total: Decimal,
    pub subtotal: Decimal,
    pub shipping_total: Decimal,
    pub tax_total: Decimal,
    pub discount_total: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingLine {
    pub method_id: String,
    pub method_title: String,
    pub total: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    /// The store's line item id.
    pub id: i64,
    pub sku: String,
    pub product_id: i64,
    pub variation_id: i64,
    pub name: String,
    /// 0 is a line the store removed: kept for the record, never rendered.
    pub quantity: u32,
    pub price: Decimal,
    pub total: Decimal,
    pub attributes: Vec<Attribute>,
    pub personalization: Option<Personalization>,
    /// Why this line gets no print file (no template for its SKU, removed), for the merchant;
    /// absent when it is rendered.
    pub not_rendered: Option<String>,
    /// Photo fields not in storage yet ("waiting for photo"): the item is rendered when they
    /// are; the history says why they are missing.
    #[serde(default)]
    pub waiting_for_photos: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Personalization {
    pub template_id: String,
    /// Template field id → value.
    pub values: BTreeMap<String, String>,
    pub photos: Vec<Photo>,
}

/// A customer photo: where it came from and the hash of the copy Pressroom keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Photo {
    pub field: String,
    /// Where it came from: the customer's URL, or `upload:<key>` for a merchant's upload.
    pub source_url: String,
    pub sha256: Option<String>,
    /// The stored copy (`photos/<sha256>.<ext>`), what an edit or a preview names the photo
    /// by; absent while the photo is being fetched.
    #[serde(default)]
    pub key: Option<String>,
}

/// Where the order stands with the print provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitStatus {
    /// `blank`, `submitting`, `submitted`, `failed` or `review`.
    pub state: String,
    /// What the merchant sees in the list ("" for blank).
    pub label: String,
    pub provider: Option<String>,
    pub provider_order_id: Option<String>,
    /// Our id the provider knows the order by.
    #[serde(default)]
    pub external_id: Option<String>,
    pub reason: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

/// The countdown to automatic submission: running (`submit_at`), paused (seconds left) or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Countdown {
    pub submit_at: Option<DateTime<Utc>>,
    pub paused_remaining_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// 0 for the customer's note from the store; Pressroom's notes (1, 2, …) can be edited
    /// and deleted.
    #[serde(default)]
    pub id: u64,
    pub at: DateTime<Utc>,
    pub author: String,
    pub text: String,
    pub customer_visible: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
}

/// One render version of one line item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderView {
    pub id: i64,
    pub version: i64,
    pub item_id: i64,
    pub template_id: String,
    pub created_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// The print file's object key (what `/files/<print_key>?…` links name).
    pub print_key: String,
    pub print_sha256: String,
    pub print_size: i64,
    pub preflight_errors: i64,
    pub preflight_warnings: i64,
    /// The preflight report, as the renderer wrote it.
    pub preflight: serde_json::Value,
    pub files: RenderFiles,
    /// What a provider is handed for the print file (signed or public, by configuration).
    pub provider_url: Option<String>,
}

/// Download links (relative to the server) of a render's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderFiles {
    pub print: String,
    pub preview: String,
    pub mockup: Option<String>,
    pub report: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub id: i64,
    pub kind: String,
    /// `queued`, `running`, `done`, `failed` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// One event of the order's append-only history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    /// `system`, `store`, `worker:<id>`, `merchant:<name>`, `provider:<name>`.
    pub actor: String,
    /// `imported`, `render_requested`, `rendered`, `render_failed`, `note`, …
    pub kind: String,
    pub message: String,
    pub payload: Option<serde_json::Value>,
}

/// `POST /api/v1/orders/{id}/photos` (the image's bytes as the body) → 201: the photo,
/// checked and stored, for an edit of that order to name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoUploaded {
    /// `photos/<sha256>.<ext>`.
    pub photo: String,
    pub sha256: String,
    /// Pixels, after the photo's EXIF orientation.
    pub width: u32,
    pub height: u32,
}

/// `PUT /api/v1/orders/{id}/items/{item}/personalization` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalizationEdit {
    /// Required when the item has no personalization yet (an Amazon or Others order); may
    /// change it otherwise.
    #[serde(default)]
    pub template_id: Option<String>,
    /// The item's values, the full set (fields not given are cleared); absent: unchanged.
    #[serde(default)]
    pub values: Option<BTreeMap<String, String>>,
    /// Photo field → a photo key uploaded to this order or already on it; `null` removes the
    /// field's photo; fields not named keep theirs.
    #[serde(default)]
    pub photos: BTreeMap<String, Option<String>>,
}

/// `PUT /api/v1/orders/{id}/items/{item}/personalization` → 200.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalizationEdited {
    pub order_id: i64,
    pub item_id: i64,
    /// False when the edit changed nothing: nothing was written and no render queued.
    pub changed: bool,
    /// What changed (also in the order's history, as an `edited` event).
    pub changes: Vec<FieldChange>,
    /// The render job of the new version; absent when unchanged, or while another photo of
    /// the item is still being fetched (that job renders it).
    pub job: Option<i64>,
    pub personalization: Personalization,
}

/// One field an edit changed: `template`, a value, or a photo (by key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// `POST /api/v1/templates/{id}/preview` body: unsaved values. Answered with the preview as
/// `image/jpeg` and a `Pressroom-Preflight` header ([`PreflightCounts`]), or with `?report=1`
/// as a [`PreviewReport`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// Photo field → a stored photo's key.
    #[serde(default)]
    pub photos: BTreeMap<String, String>,
    /// Pixels, 64 to 2000; default 1000.
    #[serde(default)]
    pub width: Option<u32>,
}

/// The `Pressroom-Preflight` header of a preview, as compact JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightCounts {
    pub errors: usize,
    pub warnings: usize,
}

/// `POST /api/v1/templates/{id}/preview?report=1` → 200: the preview and all findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewReport {
    pub width: u32,
    pub height: u32,
    /// `{"findings": [{severity, code, field?, layer?, message, details?}]}`, as in a render's
    /// report.
    pub preflight: serde_json::Value,
    /// The JPEG, base64 (standard alphabet, padded).
    pub image_base64: String,
}

/// `GET /readyz`: "ok" or what failed, per dependency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    pub database: String,
    pub files: String,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.database == "ok" && self.files == "ok"
    }
}

/// `POST /api/v1/webhooks`: an endpoint to register for outbound events.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookRequest {
    /// `https://…` (or `http://…`), no user name or password in it.
    pub url: String,
    /// Event names (`order.imported`, `order.rendered`, `order.preflight_failed`,
    /// `order.submitted`, `order.failed`, `order.shipped`, `order.delivered`); empty or
    /// `["*"]`: every event.
    pub events: Vec<String>,
    pub description: String,
    /// The signing secret (16 to 256 characters); a random one when absent.
    pub secret: Option<String>,
}

impl std::fmt::Debug for WebhookRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRequest")
            .field("url", &self.url)
            .field("events", &self.events)
            .field("description", &self.description)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .finish()
    }
}

/// A registered outbound webhook endpoint. Its secret is never shown, only a hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    /// Event names, or `["*"]`.
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// The secret's last four characters, e.g. `…c1f2`.
    pub secret_hint: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/v1/webhooks` → 201: the endpoint, and its signing secret shown this once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookCreated {
    pub webhook: Webhook,
    pub secret: String,
}

impl std::fmt::Debug for WebhookCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookCreated")
            .field("webhook", &self.webhook)
            .field("secret", &"***")
            .finish()
    }
}

/// `GET /api/v1/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}

/// `GET /api/v1/webhooks/{id}/deliveries`: the delivery log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDeliveries {
    pub webhook_id: String,
    pub deliveries: Vec<WebhookDelivery>,
}

/// One event sent (or being sent) to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// The `Pressroom-Delivery` header.
    pub id: i64,
    /// The event's `id` in the body (the same for every endpoint it went to).
    pub event_id: String,
    /// `order.imported`, …, or `ping`.
    pub event_type: String,
    pub order_id: Option<i64>,
    /// `queued`, `delivered` or `failed` (every attempt of its budget failed).
    pub state: String,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due, while queued.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Every attempt, first to last.
    pub log: Vec<WebhookAttempt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAttempt {
    /// 1 for the first.
    pub attempt: i64,
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i64>,
    /// Why it failed: `HTTP 500`, `address not allowed`, `could not connect`, a timeout.
    pub error: Option<String>,
    pub duration_ms: i64,
    /// The first 256 bytes of the receiver's answer.
    pub response_excerpt: Option<String>,
}

/// `POST /api/v1/webhooks/{id}/test` → 202: the `ping` delivery queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookTestQueued {
    pub delivery_id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_has_exactly_code_and_message() {
        let v =
            serde_json::to_value(ErrorBody::new(codes::NOT_FOUND, "order 7 not found")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"code": "not_found", "message": "order 7 not found"}})
        );
    }

    #[test]
    fn money_is_an_exact_string() {
        let t = Totals {
            total: Decimal::new(2935, 2),
            subtotal: Decimal::ZERO,
            shipping_total: Decimal::new(1000, 2),
            tax_total: Decimal::new(135, 2),
            discount_total: Decimal::ZERO,
        };
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["total"], "29.35");
        assert_eq!(v["shipping_total"], "10.00");
    }
}
