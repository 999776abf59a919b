//! The one contract every fulfillment provider's adapter meets: submit an order under our
//! deterministic id, look it up by that id, cancel where the provider allows, and turn the
//! provider's webhooks (checked first) into shipment and status news.
//!
//! Exactly-once lives above this trait (the coordinator claims the submission in the
//! database first); what the adapters owe it is an honest error: [`ProviderError::NotSent`]
//! only when the request surely never arrived, [`ProviderError::Unknown`] whenever it may
//! have. Adapters never retry a request themselves; the coordinator decides.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The providers Pressroom knows. The serde form is the configuration's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Printful,
    CustomCat,
    ShineOn,
    Gelato,
    /// Not integrated: the merchant places the order elsewhere and types the tracking.
    Manual,
    /// Built in: accepts everything and ships after a delay, to try the flow without an
    /// account.
    Sandbox,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 6] = [
        ProviderKind::Printful,
        ProviderKind::CustomCat,
        ProviderKind::ShineOn,
        ProviderKind::Gelato,
        ProviderKind::Manual,
        ProviderKind::Sandbox,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            ProviderKind::Printful => "printful",
            ProviderKind::CustomCat => "custom_cat",
            ProviderKind::ShineOn => "shine_on",
            ProviderKind::Gelato => "gelato",
            ProviderKind::Manual => "manual",
            ProviderKind::Sandbox => "sandbox",
        }
    }

    /// Whether an order can be found at the provider by our id (what makes an unknown
    /// outcome safe to resolve without a person).
    pub fn can_lookup(&self) -> bool {
        !matches!(self, ProviderKind::Manual)
    }
}

impl std::str::FromStr for ProviderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        ProviderKind::ALL
            .into_iter()
            .find(|k| k.as_str().replace('_', "") == wanted)
            .ok_or_else(|| {
                format!(
                    "unknown provider {s:?}: use one of {}",
                    ProviderKind::ALL.map(|k| k.as_str()).join(", ")
                )
            })
    }
}

/// How to reach one provider account. Secrets arrive opened (the caller keeps them sealed at
/// rest) and are never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    /// The API's base address (the provider's production address by default; a simulator's
    /// in tests), e.g. `https://api.printful.com`.
    pub base_url: String,
    /// The API key or token.
    pub api_key: String,
    /// The secret webhooks are checked with: Printful's signing secret (hex), or the token
    /// the webhook URL carries for providers that do not sign.
    pub webhook_secret: String,
    /// Provider specific: Printful's store id (`X-PF-Store-Id`), ShineOn's store, ...
    #[serde(default)]
    pub account: String,
    /// Send orders ready for production (Printful confirm, ShineOn `ready: 1`); false keeps
    /// them as drafts / on hold at the provider.
    #[serde(default = "yes")]
    pub confirm: bool,
    /// Time bound of one request.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
}

fn yes() -> bool {
    true
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("webhook_secret", &"<redacted>")
            .field("account", &self.account)
            .field("confirm", &self.confirm)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What is sent: one order under our deterministic id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderOrder {
    /// Our id the provider deduplicates on (Printful `external_id`, CustomCat's path id,
    /// ShineOn `source_id`, Gelato `orderReferenceId`). Letters, digits and `-`, at most 32.
    pub external_id: String,
    /// The store's order number, for the people at the provider.
    pub order_number: String,
    pub recipient: domain::Address,
    pub currency: String,
    /// The store's shipping method title ("Flat rate", "Express"), as a hint.
    pub shipping_method: String,
    pub items: Vec<ProviderItem>,
    /// Where the provider is to post this order's shipment news, for providers that take it
    /// per order (ShineOn's `shipment_notification_url`): the webhook URL with its secret
    /// token. `None` falls back to `ProviderConfig::account` when that is a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
    /// Look the id up before creating (the default): the caller may have sent it before.
    /// The coordinator clears it for the first send of a new claim, where nothing can
    /// exist under the id yet, saving a round trip per order (a duplicate refusal is still
    /// answered with the existing order).
    #[serde(default = "look_first")]
    pub look_first: bool,
}

fn look_first() -> bool {
    true
}

/// One line of a [`ProviderOrder`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderItem {
    /// The store's line item id, sent as the provider's external item id so shipments can
    /// name the items they hold.
    pub line_item_id: i64,
    /// The provider's product: Printful catalog variant id, CustomCat catalog SKU, ShineOn
    /// SKU, Gelato product UID.
    pub product: String,
    pub quantity: u32,
    pub name: String,
    /// A URL the provider can fetch the print file from for days (signed, long-lived).
    pub print_file_url: String,
    pub preview_url: String,
}

/// The provider took the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub provider_order_id: String,
    /// The provider's own status word, verbatim.
    pub status: String,
}

/// An order as the provider has it (a lookup or a poll).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RemoteOrder {
    pub provider_order_id: String,
    pub status: String,
    pub shipments: Vec<domain::ShipmentUpdate>,
    /// Set when the provider says the order failed (and why).
    pub failed: Option<String>,
    pub cancelled: bool,
    /// The provider holds only an unconfirmed draft that `submit` would have confirmed
    /// (Printful: created, but the confirmation's answer was lost). Not yet in production:
    /// call `submit` again, which finds the draft and confirms it instead of creating one.
    #[serde(default)]
    pub needs_confirmation: bool,
}

/// Cancelling an order at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CancelOutcome {
    Cancelled,
    /// The provider does not cancel (this kind, or this order any more): said in the
    /// merchant's words.
    NotCancellable {
        reason: String,
    },
}

/// Why a call to a provider did not succeed, sorted by what it means for exactly-once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The request surely never arrived (DNS, connection refused, 429): safe to send again,
    /// after `retry_after` when the provider said so.
    #[error("{provider} could not be reached: {message}")]
    NotSent {
        provider: &'static str,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The request may have arrived (timeout, 5xx, connection cut after sending, an answer
    /// that cannot be read): look the order up before anything else.
    #[error("{provider} did not answer clearly: {message}")]
    Unknown {
        provider: &'static str,
        message: String,
    },
    /// The provider refused the order for good (invalid address, unknown product): its
    /// reason, verbatim, for the merchant.
    #[error("{provider} refused the order: {reason}")]
    Rejected {
        provider: &'static str,
        status: Option<u16>,
        reason: String,
    },
    /// 401/403: the API key is wrong or lacks permission. Nothing was created.
    #[error("{provider} refused the API key: {message}")]
    Unauthorized {
        provider: &'static str,
        message: String,
    },
    /// The provider has no such operation (e.g. lookup or cancel).
    #[error("{provider} does not support {what}")]
    Unsupported {
        provider: &'static str,
        what: &'static str,
    },
    #[error("invalid provider configuration: {message}")]
    Config { message: String },
}

impl ProviderError {
    /// The request surely did not create anything at the provider.
    pub fn surely_not_received(&self) -> bool {
        matches!(
            self,
            ProviderError::NotSent { .. }
                | ProviderError::Unauthorized { .. }
                | ProviderError::Unsupported { .. }
                | ProviderError::Config { .. }
        )
    }

    /// Stable code for logs, history and APIs.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::NotSent { .. } => "provider_unreachable",
            ProviderError::Unknown { .. } => "provider_unknown_outcome",
            ProviderError::Rejected { .. } => "provider_rejected",
            ProviderError::Unauthorized { .. } => "provider_unauthorized",
            ProviderError::Unsupported { .. } => "provider_unsupported",
            ProviderError::Config { .. } => "provider_config",
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::NotSent { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A webhook request as it arrived, for checking and parsing.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    pub headers: &'a reqwest::header::HeaderMap,
    pub body: &'a [u8],
    /// The secret token from the webhook's URL (for providers that do not sign).
    pub url_token: Option<&'a str>,
}

/// A webhook that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Missing or wrong signature or URL token: nothing is stored.
    #[error("the webhook's signature or token does not check")]
    BadSignature,
    /// Signed, but not a payload this adapter can read; names the JSON path.
    #[error("the webhook body cannot be read: {0}")]
    Malformed(String),
}

/// News from a provider about one of our orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEvent {
    /// Our id, when the provider echoes it (the usual key back to the order).
    pub external_id: Option<String>,
    pub provider_order_id: Option<String>,
    /// The provider's event name, verbatim ("shipment_sent", "order_failed").
    pub event: String,
    pub news: ProviderNews,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProviderNews {
    Shipment(domain::ShipmentUpdate),
    /// The provider could not fulfil it, with its reason.
    Failed {
        reason: String,
    },
    Cancelled,
    /// Held at the provider (e.g. a problem with the file), with its reason.
    OnHold {
        reason: String,
    },
    /// A status word with no consequence for us (kept in the history).
    Status {
        status: String,
    },
}

/// One provider account's adapter. Implemented by each integrated provider; the
/// coordinator holds them as [`crate::providers::AnyProvider`].
pub trait Provider: Send + Sync {
    fn kind(&self) -> ProviderKind;

    /// Create the order under `order.external_id`. A provider that already has an order
    /// with that id must not get a second one (the adapter uses the provider's dedup, or
    /// answers with the existing order).
    fn submit(
        &self,
        order: &ProviderOrder,
    ) -> impl Future<Output = Result<Accepted, ProviderError>> + Send;

    /// Find the order by our id: `Ok(None)` when the provider surely has none.
    fn lookup(
        &self,
        external_id: &str,
    ) -> impl Future<Output = Result<Option<RemoteOrder>, ProviderError>> + Send;

    /// Cancel where the provider allows it.
    fn cancel(
        &self,
        external_id: &str,
        provider_order_id: &str,
    ) -> impl Future<Output = Result<CancelOutcome, ProviderError>> + Send;

    /// Check a webhook (signature or URL token, in constant time) and read its news. A
    /// webhook about something we do not track (e.g. a product update) gives no events.
    fn webhook(&self, request: WebhookRequest<'_>) -> Result<Vec<ProviderEvent>, WebhookError>;
}
