//! The integrated providers' adapters, one module each, and [`AnyProvider`], which the
//! coordinator holds: one type for every provider kind, dispatching to the adapter.
//!
//! What they share lives here: one request to a provider ([`Api::send`]) and the sorting of
//! what went wrong into [`ProviderError`]s, which is what exactly-once rests on:
//!
//! | what happened | error | why |
//! |---|---|---|
//! | connect failed (DNS, refused, TLS handshake) | `NotSent` | no byte of the request left us |
//! | 429 | `NotSent` + `Retry-After` | providers refuse over their rate before processing |
//! | 401, 403 | `Unauthorized` | refused at the door, nothing created |
//! | 400, 404, 409, 422, other 4xx | `Rejected` + the provider's reason | the provider looked and said no |
//! | timeout, 5xx, 408, a cut connection, a 2xx body we cannot read | `Unknown` | it may have been processed |
//!
//! Each adapter's `submit` looks the order up by our id first and answers with what it finds,
//! so sending the same order twice never creates a second one, whether or not the provider
//! deduplicates on that id itself (the fixtures do not say for all of them).

pub mod customcat;
pub mod gelato;
pub mod printful;
pub mod shineon;

pub use customcat::CustomCat;
pub use gelato::Gelato;
pub use printful::{Printful, printful_signature};
pub use shineon::ShineOn;

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::provider::{
    Accepted, CancelOutcome, Provider, ProviderConfig, ProviderError, ProviderEvent, ProviderKind,
    ProviderOrder, RemoteOrder, WebhookError, WebhookRequest,
};

/// An adapter for any integrated provider (Manual and Sandbox are handled by the
/// coordinator itself: they have no API).
pub enum AnyProvider {
    Printful(Printful),
    CustomCat(CustomCat),
    ShineOn(ShineOn),
    Gelato(Gelato),
}

impl AnyProvider {
    /// The adapter for `config`, sending with `http` (which carries no retries of its own).
    pub fn new(
        config: ProviderConfig,
        http: reqwest::Client,
    ) -> Result<AnyProvider, ProviderError> {
        Ok(match config.kind {
            ProviderKind::Printful => AnyProvider::Printful(Printful::new(config, http)?),
            ProviderKind::CustomCat => AnyProvider::CustomCat(CustomCat::new(config, http)?),
            ProviderKind::ShineOn => AnyProvider::ShineOn(ShineOn::new(config, http)?),
            ProviderKind::Gelato => AnyProvider::Gelato(Gelato::new(config, http)?),
            ProviderKind::Manual | ProviderKind::Sandbox => {
                return Err(ProviderError::Config {
                    message: format!(
                        "{} has no API adapter: the coordinator handles it itself",
                        config.kind.as_str()
                    ),
                });
            }
        })
    }
}

impl Provider for AnyProvider {
    fn kind(&self) -> ProviderKind {
        match self {
            AnyProvider::Printful(p) => p.kind(),
            AnyProvider::CustomCat(p) => p.kind(),
            AnyProvider::ShineOn(p) => p.kind(),
            AnyProvider::Gelato(p) => p.kind(),
        }
    }

    async fn submit(&self, order: &ProviderOrder) -> Result<Accepted, ProviderError> {
        match self {
            AnyProvider::Printful(p) => p.submit(order).await,
            AnyProvider::CustomCat(p) => p.submit(order).await,
            AnyProvider::ShineOn(p) => p.submit(order).await,
            AnyProvider::Gelato(p) => p.submit(order).await,
        }
    }

    async fn lookup(&self, external_id: &str) -> Result<Option<RemoteOrder>, ProviderError> {
        match self {
            AnyProvider::Printful(p) => p.lookup(external_id).await,
            AnyProvider::CustomCat(p) => p.lookup(external_id).await,
            AnyProvider::ShineOn(p) => p.lookup(external_id).await,
            AnyProvider::Gelato(p) => p.lookup(external_id).await,
        }
    }

    async fn cancel(
        &self,
        external_id: &str,
        provider_order_id: &str,
    ) -> Result<CancelOutcome, ProviderError> {
        match self {
            AnyProvider::Printful(p) => p.cancel(external_id, provider_order_id).await,
            AnyProvider::CustomCat(p) => p.cancel(external_id, provider_order_id).await,
            AnyProvider::ShineOn(p) => p.cancel(external_id, provider_order_id).await,
            AnyProvider::Gelato(p) => p.cancel(external_id, provider_order_id).await,
        }
    }

    fn webhook(&self, request: WebhookRequest<'_>) -> Result<Vec<ProviderEvent>, WebhookError> {
        match self {
            AnyProvider::Printful(p) => p.webhook(request),
            AnyProvider::CustomCat(p) => p.webhook(request),
            AnyProvider::ShineOn(p) => p.webhook(request),
            AnyProvider::Gelato(p) => p.webhook(request),
        }
    }
}

/// Sent with every request.
const USER_AGENT: &str = concat!("Pressroom/", env!("CARGO_PKG_VERSION"));

/// One provider account's HTTP side: base address, client, time bound, and the secret to
/// keep out of every message.
#[derive(Clone)]
pub(crate) struct Api {
    pub provider: &'static str,
    http: reqwest::Client,
    /// Without a trailing `/`.
    base: String,
    timeout: Duration,
    /// Redacted from every error message (it may travel in a URL or be echoed in a body).
    api_key: String,
}

/// An answer the provider gave, any status.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Api {
    pub fn new(config: &ProviderConfig, http: reqwest::Client) -> Result<Api, ProviderError> {
        let provider = config.kind.as_str();
        let base = config.base_url.trim().trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base).map_err(|e| ProviderError::Config {
            message: format!("{provider}: the API address {base:?} is not a URL: {e}"),
        })?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(ProviderError::Config {
                message: format!("{provider}: the API address {base} must start with https://"),
            });
        }
        if config.api_key.trim().is_empty() {
            return Err(ProviderError::Config {
                message: format!("{provider}: the API key is empty"),
            });
        }
        if config.timeout.is_zero() {
            return Err(ProviderError::Config {
                message: format!("{provider}: the request timeout must be more than zero"),
            });
        }
        Ok(Api {
            provider,
            http,
            base,
            timeout: config.timeout,
            api_key: config.api_key.clone(),
        })
    }

    /// `base + path` (path starts with `/`, its segments already escaped).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the common headers and the time bound; the adapter adds its auth.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header(reqwest::header::USER_AGENT, USER_AGENT)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.timeout)
    }

    /// A request whose URL carries `params` in its query (encoded here: reqwest's own
    /// `query` is a feature this workspace does not enable).
    pub fn request_query(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        let url = reqwest::Url::parse_with_params(&self.url(path), params).map_err(|e| {
            ProviderError::Config {
                message: format!("{}: the API address is not a URL: {e}", self.provider),
            }
        })?;
        Ok(self
            .http
            .request(method, url)
            .header(reqwest::header::USER_AGENT, USER_AGENT)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.timeout))
    }

    /// Send and read the whole answer. Only transport failures are errors here; the caller
    /// sorts the statuses (see [`Api::status_error`]).
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Answer, ProviderError> {
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(&e, what)),
        };
        let status = response.status();
        let headers = response.headers().clone();
        match response.bytes().await {
            Ok(body) => Ok(Answer {
                status,
                headers,
                body,
            }),
            // The status line arrived, so the request did: whatever it said, we cannot read
            // all of it. A 429 or 401 still means nothing was created.
            Err(e) => match status.as_u16() {
                429 => Err(ProviderError::NotSent {
                    provider: self.provider,
                    message: format!("{what}: rate limited (429)"),
                    retry_after: retry_after(&headers),
                }),
                401 | 403 => Err(ProviderError::Unauthorized {
                    provider: self.provider,
                    message: format!("{what}: {}", status.as_u16()),
                }),
                _ => Err(ProviderError::Unknown {
                    provider: self.provider,
                    message: format!(
                        "{what}: the answer ({}) was cut off: {}",
                        status.as_u16(),
                        self.redact(&describe_transport(&e))
                    ),
                }),
            },
        }
    }

    /// Sorting a transport failure: only a failed connect is surely not sent.
    ///
    /// reqwest says `is_connect()` when opening the connection failed (DNS, refused,
    /// unreachable, TLS handshake): the request was never written. A timeout is checked
    /// first and is always `Unknown`, because reqwest's whole-request timeout may fire after
    /// the body was written (and a connect timeout cannot be told apart reliably). Every
    /// other send error (connection reset or closed mid-request, HTTP/2 stream errors, a body
    /// that could not be written in full) may come after the provider got the request.
    fn transport_error(&self, e: &reqwest::Error, what: &str) -> ProviderError {
        let message = format!("{what}: {}", self.redact(&describe_transport(e)));
        if e.is_timeout() {
            ProviderError::Unknown {
                provider: self.provider,
                message: format!("{message} (no answer within {:?})", self.timeout),
            }
        } else if e.is_connect() {
            ProviderError::NotSent {
                provider: self.provider,
                message,
                retry_after: None,
            }
        } else if e.is_builder() {
            ProviderError::Config {
                message: format!("{}: {message}", self.provider),
            }
        } else {
            ProviderError::Unknown {
                provider: self.provider,
                message,
            }
        }
    }

    /// The error for a non-success answer; `reason` is the provider's own message when its
    /// error body could be read.
    pub fn status_error(
        &self,
        answer: &Answer,
        reason: Option<String>,
        what: &str,
    ) -> ProviderError {
        let status = answer.status.as_u16();
        let reason = reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| snippet(&answer.body));
        let reason = self.redact(&reason);
        match status {
            429 => ProviderError::NotSent {
                provider: self.provider,
                message: format!("{what}: rate limited (429): {reason}"),
                retry_after: retry_after(&answer.headers),
            },
            401 | 403 => ProviderError::Unauthorized {
                provider: self.provider,
                message: format!("{status}: {reason}"),
            },
            // 408: the server gave up reading the request; a proxy may say it after passing
            // the request on, so it is not taken as "not received".
            408 | 500..=599 => ProviderError::Unknown {
                provider: self.provider,
                message: format!("{what}: {status}: {reason}"),
            },
            400..=499 => ProviderError::Rejected {
                provider: self.provider,
                status: Some(status),
                reason,
            },
            _ => ProviderError::Unknown {
                provider: self.provider,
                message: format!("{what}: unexpected {status}: {reason}"),
            },
        }
    }

    /// A 2xx answer whose body is not what the API documents: the request was processed,
    /// so the outcome is unknown.
    pub fn unreadable(
        &self,
        answer: &Answer,
        what: &str,
        why: impl std::fmt::Display,
    ) -> ProviderError {
        ProviderError::Unknown {
            provider: self.provider,
            message: format!(
                "{what}: the answer ({}) cannot be read: {why}: {}",
                answer.status.as_u16(),
                self.redact(&snippet(&answer.body))
            ),
        }
    }

    pub fn redact(&self, text: &str) -> String {
        if self.api_key.is_empty() {
            text.to_owned()
        } else {
            text.replace(self.api_key.as_str(), "[redacted]")
        }
    }
}

/// An error of the lookup made before a create: the create was not sent, so an unknown
/// outcome of that read is "not sent" (a read creates nothing). A refusal, a bad key or a
/// rate limit stay what they are.
pub(crate) fn before_create(e: ProviderError) -> ProviderError {
    match e {
        ProviderError::Unknown { provider, message } => ProviderError::NotSent {
            provider,
            message: format!("looking the order up before sending it failed: {message}"),
            retry_after: None,
        },
        other => other,
    }
}

/// Parse a JSON body into `T`, naming the JSON path of what does not fit.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        format!("at {path}: {}", e.inner())
    })?;
    de.end().map_err(|e| format!("after the document: {e}"))?;
    Ok(value)
}

/// A webhook body into `T`, as [`WebhookError::Malformed`] naming the path.
pub(crate) fn parse_webhook<T: serde::de::DeserializeOwned>(
    provider: &str,
    body: &[u8],
) -> Result<T, WebhookError> {
    parse_json(body).map_err(|e| WebhookError::Malformed(format!("{provider} webhook {e}")))
}

/// Whether the webhook URL's token is the configured secret, in constant time (both sides
/// are MACed under a fixed key, so neither their bytes nor their lengths leak by timing).
pub(crate) fn url_token_matches(token: Option<&str>, secret: &str) -> bool {
    let (Some(token), false) = (token, secret.is_empty()) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"pressroom webhook url token");
    let expected = ring::hmac::sign(&key, secret.as_bytes());
    ring::hmac::verify(&key, token.as_bytes(), expected.as_ref()).is_ok()
}

/// `Retry-After` in seconds (an HTTP date is not used by these providers).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

/// The start of a body, for a message.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "an empty body".into();
    }
    let cut: String = text.chars().take(200).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// The innermost cause of a transport failure, in words ("connection refused"). The URL is
/// left out: for CustomCat it carries the API key.
fn describe_transport(e: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut last = String::new();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => return "connection reset".into(),
                std::io::ErrorKind::TimedOut => return "timed out".into(),
                _ => {}
            }
        }
        last = match s.downcast_ref::<reqwest::Error>() {
            Some(r) => {
                let mut text = r.to_string();
                if let Some(url) = r.url() {
                    text = text.replace(url.as_str(), "").replace("()", "");
                }
                text.trim().to_owned()
            }
            None => s.to_string(),
        };
        source = s.source();
    }
    if e.is_timeout() && last.is_empty() {
        "timed out".into()
    } else {
        last
    }
}

/// A provider's word for where a parcel is, onto [`domain::ShipmentStatus`] (`None` for a
/// word that says nothing about the parcel).
pub(crate) fn shipment_status(word: &str) -> Option<domain::ShipmentStatus> {
    use domain::ShipmentStatus as S;
    let w: String = word
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect();
    Some(match w.as_str() {
        "shipped" | "sent" | "fulfilled" | "partially_shipped" | "label_created" => S::Shipped,
        "in_transit" | "transit" | "intransit" => S::InTransit,
        "out_for_delivery" => S::OutForDelivery,
        "delivered" => S::Delivered,
        "returned" | "return_to_sender" | "returned_to_sender" => S::Returned,
        "failed_delivery" | "delivery_failed" | "failed_attempt" | "exception" => S::DeliveryFailed,
        "canceled" | "cancelled" => S::Cancelled,
        "pending" | "awaiting_shipment" | "on_hold" | "in_production" | "printed" => {
            S::AwaitingShipment
        }
        _ => return None,
    })
}

/// Whether a provider's order status word means cancelled.
pub(crate) fn is_cancelled(status: &str) -> bool {
    matches!(
        status.trim().to_ascii_lowercase().as_str(),
        "canceled" | "cancelled"
    )
}

/// Our line item id back from the provider's external item id (`None` if it is not ours).
pub(crate) fn line_item_id(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// A timestamp in RFC 3339 (`2023-04-05T06:07:08Z`) or a bare date (`2023-03-21`, midnight
/// UTC); anything else is left out rather than refusing the news it came with.
pub(crate) fn timestamp(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.to_utc());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return Some(t.and_utc());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// A URL handed to a provider: trimmed of whitespace and of the invisible characters a copy
/// and paste brings along (the Printful docs' own example starts with U+200B), and checked
/// to be absolute http(s), so a bad file URL is refused here rather than by the provider
/// after the order was created.
pub(crate) fn clean_url(
    provider: &'static str,
    what: &str,
    url: &str,
) -> Result<String, ProviderError> {
    let invisible = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
            )
    };
    let cleaned = url.trim_matches(invisible);
    match reqwest::Url::parse(cleaned) {
        Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host_str().is_some() => {
            Ok(cleaned.to_owned())
        }
        _ => Err(ProviderError::Rejected {
            provider,
            status: None,
            reason: format!("the {what} {url:?} is not an http(s) URL"),
        }),
    }
}

/// A path segment, escaped (our ids are letters, digits and `-`, but a provider's id is
/// whatever it sent). `@` stays: it is Printful's prefix of an external id in a path.
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An id that may come as a number or a string ("" for null).
pub(crate) fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(opt_text(d)?.unwrap_or_default())
}

pub(crate) fn opt_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s)),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(D::Error::custom(format!(
            "expected a string or a number, got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zero_width_space_of_the_printful_example_is_trimmed() {
        let url = "\u{200b}https://www.printful.com/static/images/layout/printful-logo.png";
        assert_eq!(
            clean_url("printful", "file URL", url).unwrap(),
            "https://www.printful.com/static/images/layout/printful-logo.png"
        );
        assert!(clean_url("printful", "file URL", "file:///etc/passwd").is_err());
        assert!(clean_url("printful", "file URL", "not a url").is_err());
    }

    #[test]
    fn url_tokens_compare_whole() {
        assert!(url_token_matches(Some("s3cret"), "s3cret"));
        assert!(!url_token_matches(Some("s3cre"), "s3cret"));
        assert!(!url_token_matches(Some("s3cret!"), "s3cret"));
        assert!(!url_token_matches(None, "s3cret"));
        assert!(!url_token_matches(Some(""), ""));
    }

    #[test]
    fn statuses_and_dates_are_read_leniently() {
        use domain::ShipmentStatus as S;
        assert_eq!(shipment_status("Shipped"), Some(S::Shipped));
        assert_eq!(shipment_status("in-transit"), Some(S::InTransit));
        assert_eq!(shipment_status("whatever"), None);
        assert!(timestamp("2023-03-21").is_some());
        assert!(timestamp("2023-04-05T06:07:08Z").is_some());
        assert!(timestamp("2026-05-19 10:00:00").is_some());
        assert!(timestamp("soon").is_none());
        assert_eq!(segment("a b/é"), "a%20b%2F%C3%A9");
    }
}
