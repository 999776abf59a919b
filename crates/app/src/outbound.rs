//! Outbound webhooks: merchants register URLs that receive signed JSON events about their
//! orders (imported, rendered, preflight failed, submitted, failed, shipped, delivered).
//!
//! An event is written in the transaction of the change that caused it ([`App::emit`]): one
//! delivery per enabled endpoint subscribed to it, each with a `deliver_webhook` job. So an
//! event exists exactly when its change committed, and nothing is lost when a receiver is
//! down: the job retries with exponential backoff (12 attempts over about a day), logging
//! every attempt, and only then ends the delivery as `failed` with the last reason (and a note
//! in the order's history).
//!
//! Every attempt POSTs the same body, the envelope `{"id", "type", "created_at", "data"}`,
//! with `Pressroom-Event`, `Pressroom-Delivery` (receivers deduplicate on it: a delivery may
//! arrive twice when a worker dies between the receiver's answer and the record of it) and
//! `Pressroom-Signature: t=<unix secs>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//! (docs/webhooks.md has the receiver's recipe). The secret is sealed at rest like store
//! credentials (`webhook/<endpoint>/secret` as context), shown once at registration and
//! never again (a hint such as `…c1f2` only).
//!
//! The URL is the merchant's, but it is still kept off the operator's network like a
//! customer's photo (`fetch.rs`): literal private addresses are refused at registration, and
//! every attempt connects through the guarded resolver (same `app.fetch.allow_hosts`), with
//! redirects never followed and a bounded time. A refused or unreachable address is logged as
//! such, never with what the connection saw.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use domain::{Actor, EventKind, HistoryEvent};
use futures::StreamExt;
use jobs::{Backoff, Completion, Job, JobKind, ResourceClass, RetryOn, RetryPolicy};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use storage::{AttemptEnd, OutboundAttempt, OutboundState};

use crate::fetch::AddressPolicy;
use crate::{App, AppError};

/// The job kind that sends one delivery.
pub const DELIVER_WEBHOOK_JOB: &str = "deliver_webhook";

/// How long one attempt may take, connection included.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of a receiver's answer the log keeps.
pub const RESPONSE_EXCERPT_BYTES: usize = 256;

/// Attempts per delivery, the first included: 1 min, 2, 4 … then every 8 hours, so the
/// twelfth attempt comes about 24.5 hours after the first.
pub const WEBHOOK_ATTEMPTS: i64 = 12;

/// The events a merchant can subscribe to. Their names are stable: receivers branch on them
/// and endpoints store them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboundEvent {
    /// A new order came in from the store or the API.
    OrderImported,
    /// An item's print file was made without preflight errors.
    OrderRendered,
    /// An item was rendered with preflight errors (it will not submit automatically).
    OrderPreflightFailed,
    /// The order was handed to its provider.
    OrderSubmitted,
    /// The hand-off failed.
    OrderFailed,
    /// The provider shipped it (tracking).
    OrderShipped,
    OrderDelivered,
    /// Sent only by "test" to one endpoint, whatever it subscribed to.
    Ping,
}

impl OutboundEvent {
    /// Every event an endpoint can subscribe to.
    pub const SUBSCRIBABLE: [OutboundEvent; 7] = [
        OutboundEvent::OrderImported,
        OutboundEvent::OrderRendered,
        OutboundEvent::OrderPreflightFailed,
        OutboundEvent::OrderSubmitted,
        OutboundEvent::OrderFailed,
        OutboundEvent::OrderShipped,
        OutboundEvent::OrderDelivered,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            OutboundEvent::OrderImported => "order.imported",
            OutboundEvent::OrderRendered => "order.rendered",
            OutboundEvent::OrderPreflightFailed => "order.preflight_failed",
            OutboundEvent::OrderSubmitted => "order.submitted",
            OutboundEvent::OrderFailed => "order.failed",
            OutboundEvent::OrderShipped => "order.shipped",
            OutboundEvent::OrderDelivered => "order.delivered",
            OutboundEvent::Ping => "ping",
        }
    }

    /// A subscribable event by name.
    pub fn parse(name: &str) -> Option<OutboundEvent> {
        OutboundEvent::SUBSCRIBABLE
            .into_iter()
            .find(|e| e.as_str() == name)
    }

    fn known() -> String {
        let names: Vec<&str> = OutboundEvent::SUBSCRIBABLE
            .iter()
            .map(|e| e.as_str())
            .collect();
        format!("{} (or \"*\" for all)", names.join(", "))
    }
}

/// Subscribes to every event.
pub const ALL_EVENTS: &str = "*";

/// What a merchant gives to register an endpoint.
#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookInput {
    pub url: String,
    /// Event names; empty: every event.
    pub events: Vec<String>,
    pub description: String,
    /// The signing secret; a random one (32 bytes, hex) when not given.
    pub secret: Option<String>,
}

impl std::fmt::Debug for WebhookInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookInput")
            .field("url", &self.url)
            .field("events", &self.events)
            .field("description", &self.description)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .finish()
    }
}

/// An endpoint as the API and CLI show it: never its secret, only a hint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    pub secret_hint: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A registered endpoint and its secret, shown this once.
#[derive(Clone, Serialize)]
pub struct WebhookCreated {
    pub webhook: WebhookEndpoint,
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

/// One delivery in the log, with its attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryLog {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub order_id: Option<i64>,
    /// "queued", "delivered" or "failed".
    pub state: &'static str,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub log: Vec<AttemptLog>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptLog {
    pub attempt: i64,
    pub at: DateTime<Utc>,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub response_excerpt: Option<String>,
}

/// The `deliver_webhook` job's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverWebhook {
    pub delivery_id: i64,
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::Webhook(message.into())
}

fn context(endpoint: &str) -> String {
    format!("webhook/{endpoint}/secret")
}

/// `n` random bytes in hex.
fn random_hex(n: usize) -> Result<String, AppError> {
    let mut bytes = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| AppError::Config("the system random number generator failed".into()))?;
    Ok(hex::encode(bytes))
}

/// The `Pressroom-Signature` header of `body` sent at `t` (Unix seconds).
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(format!("{t}.").as_bytes());
    ctx.update(body);
    format!("t={t},v1={}", hex::encode(ctx.sign().as_ref()))
}

/// Check a registration's URL: http(s), a host, no credentials in it, and not a literal
/// address the policy refuses (a name is checked where it resolves, at every attempt).
fn check_webhook_url(url: &str, policy: &AddressPolicy) -> Result<url::Url, AppError> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|e| invalid(format!("webhook URL {url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "webhook URL {url:?}: use an http:// or https:// address"
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid(format!("webhook URL {url:?} has no host")));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(format!(
            "webhook URL {:?}: remove the user name and password from it; deliveries are \
             authenticated by their signature",
            redact(&parsed)
        )));
    }
    if url.len() > 2000 {
        return Err(invalid("webhook URL: at most 2000 characters"));
    }
    if policy.check_url(&parsed).is_err() {
        return Err(invalid(format!(
            "webhook URL {url:?}: the address is not allowed (private, loopback, link-local \
             and other non-public addresses are refused unless app.fetch.allow_hosts lists them)"
        )));
    }
    Ok(parsed)
}

/// A URL with its password hidden, for messages.
fn redact(url: &url::Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}

/// The events of a registration: known names, or `["*"]` when none (or `*`) is given.
fn check_events(events: &[String]) -> Result<Vec<String>, AppError> {
    let mut out: Vec<String> = vec![];
    for e in events {
        let e = e.trim();
        if e == ALL_EVENTS {
            return Ok(vec![ALL_EVENTS.into()]);
        }
        if OutboundEvent::parse(e).is_none() {
            return Err(invalid(format!(
                "unknown event {e:?}; the events are {}",
                OutboundEvent::known()
            )));
        }
        if !out.iter().any(|have| have == e) {
            out.push(e.to_owned());
        }
    }
    if out.is_empty() {
        out.push(ALL_EVENTS.into());
    }
    Ok(out)
}

fn subscribed(events: &[String], event: OutboundEvent) -> bool {
    events
        .iter()
        .any(|e| e == ALL_EVENTS || e == event.as_str())
}

/// The body every attempt of one event sends.
fn envelope(
    event_id: &str,
    event: OutboundEvent,
    now: DateTime<Utc>,
    data: serde_json::Value,
) -> String {
    serde_json::json!({
        "id": event_id,
        "type": event.as_str(),
        "created_at": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

impl App {
    fn webhook_key(&self) -> Result<&secrets::SecretKey, AppError> {
        self.secret_key.as_deref().ok_or_else(|| {
            AppError::Config(
                "no secrets key is configured (secrets.key), so webhook secrets cannot be \
                 sealed or opened"
                    .into(),
            )
        })
    }

    fn address_policy(&self) -> Result<AddressPolicy, AppError> {
        AddressPolicy::new(&self.settings.fetch.allow_hosts).map_err(AppError::Config)
    }

    /// Register an endpoint; its secret (given or generated) is in the answer, and never
    /// shown again.
    pub async fn add_webhook(&self, input: WebhookInput) -> Result<WebhookCreated, AppError> {
        let url = check_webhook_url(&input.url, &self.address_policy()?)?;
        let events = check_events(&input.events)?;
        let description = input.description.trim();
        if description.chars().count() > 500 {
            return Err(invalid("a description is at most 500 characters"));
        }
        let secret = match input.secret.as_deref().map(str::trim) {
            None | Some("") => random_hex(32)?,
            Some(s) if s.chars().count() < 16 || s.chars().count() > 256 => {
                return Err(invalid(
                    "a webhook secret is 16 to 256 characters (leave it out for a random one)",
                ));
            }
            Some(s) => s.to_owned(),
        };
        let key = self.webhook_key()?;
        let id = format!("wh_{}", random_hex(8)?);
        let sealed = key.seal(&context(&id), &secret)?;
        let url = url.to_string();
        self.db
            .insert_endpoint(
                &storage::NewEndpoint {
                    id: &id,
                    url: &url,
                    events: &events,
                    secret_sealed: &sealed,
                    description,
                },
                self.now(),
            )
            .await?;
        tracing::info!(webhook = %id, url = %url, "webhook endpoint registered");
        Ok(WebhookCreated {
            webhook: self.webhook(&id).await?,
            secret,
        })
    }

    fn endpoint_view(&self, row: storage::EndpointRow) -> Result<WebhookEndpoint, AppError> {
        let secret = self
            .webhook_key()?
            .open(&context(&row.id), &row.secret_sealed)?;
        Ok(WebhookEndpoint {
            secret_hint: secret.hint(),
            id: row.id,
            url: row.url,
            events: row.events,
            description: row.description,
            enabled: row.enabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    pub async fn webhook(&self, id: &str) -> Result<WebhookEndpoint, AppError> {
        let row = self
            .db
            .endpoint(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no webhook {id:?}")))?;
        self.endpoint_view(row)
    }

    pub async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>, AppError> {
        self.db
            .endpoints()
            .await?
            .into_iter()
            .map(|row| self.endpoint_view(row))
            .collect()
    }

    /// Remove an endpoint: no event reaches it any more, its queued deliveries are dropped
    /// with its log (an attempt under way records nothing).
    pub async fn remove_webhook(&self, id: &str) -> Result<(), AppError> {
        if self.db.delete_endpoint(id).await? {
            tracing::info!(webhook = %id, "webhook endpoint removed");
            Ok(())
        } else {
            Err(AppError::NotFound(format!("no webhook {id:?}")))
        }
    }

    /// An endpoint's newest deliveries (at most `limit`), newest first, with their attempts.
    pub async fn webhook_deliveries(
        &self,
        id: &str,
        limit: i64,
    ) -> Result<Vec<DeliveryLog>, AppError> {
        if self.db.endpoint(id).await?.is_none() {
            return Err(AppError::NotFound(format!("no webhook {id:?}")));
        }
        let rows = self.db.outbound_deliveries(id, limit).await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let mut attempts = self.db.outbound_attempts(&ids).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let log = attempts
                    .extract_if(.., |a| a.delivery_id == r.id)
                    .map(|a| AttemptLog {
                        attempt: a.attempt,
                        at: a.outcome.at,
                        status_code: a.outcome.status_code,
                        error: a.outcome.error,
                        duration_ms: a.outcome.duration_ms,
                        response_excerpt: a.outcome.response_excerpt,
                    })
                    .collect();
                DeliveryLog {
                    id: r.id,
                    event_id: r.event_id,
                    event_type: r.event_type,
                    order_id: r.order_id,
                    state: r.state.as_str(),
                    attempts: r.attempts,
                    last_status_code: r.last_status_code,
                    last_error: r.last_error,
                    created_at: r.created_at,
                    next_attempt_at: r.next_attempt_at,
                    delivered_at: r.delivered_at,
                    log,
                }
            })
            .collect())
    }

    /// Send a `ping` event to one endpoint through the same job as every event; the
    /// delivery's id.
    pub async fn test_webhook(&self, id: &str) -> Result<i64, AppError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let exists = self
            .db
            .enabled_endpoints(&mut tx)
            .await?
            .into_iter()
            .any(|e| e.id == id);
        if !exists {
            return Err(AppError::NotFound(format!("no webhook {id:?}")));
        }
        let event_id = format!("evt_{}", random_hex(16)?);
        let body = envelope(
            &event_id,
            OutboundEvent::Ping,
            now,
            serde_json::json!({ "webhook_id": id }),
        );
        let delivery = self
            .queue_delivery(
                &mut tx,
                id,
                &event_id,
                OutboundEvent::Ping,
                None,
                &body,
                now,
            )
            .await?;
        tx.commit().await?;
        Ok(delivery)
    }

    /// Emit an order event in the caller's transaction `tx` (the one that makes the change
    /// the event reports, so the event exists exactly when the change committed): one
    /// delivery, with its `deliver_webhook` job, per enabled endpoint subscribed to `event`.
    /// `data` is the event's `data` object; `order_id` is added to it when missing. Returns
    /// how many deliveries were queued (none when no endpoint listens).
    ///
    /// ```ignore
    /// app.emit(&mut tx, OutboundEvent::OrderShipped, order_id,
    ///          json!({"tracking_number": n, "carrier": c}), now).await?;
    /// ```
    pub async fn emit(
        &self,
        tx: &mut storage::Tx,
        event: OutboundEvent,
        order_id: i64,
        mut data: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<usize, AppError> {
        let endpoints: Vec<storage::EndpointRow> = self
            .db
            .enabled_endpoints(tx)
            .await?
            .into_iter()
            .filter(|e| subscribed(&e.events, event))
            .collect();
        if endpoints.is_empty() {
            return Ok(0);
        }
        if let Some(map) = data.as_object_mut() {
            map.entry("order_id").or_insert(order_id.into());
        }
        let event_id = format!("evt_{}", random_hex(16)?);
        let body = envelope(&event_id, event, now, data);
        for endpoint in &endpoints {
            self.queue_delivery(
                tx,
                &endpoint.id,
                &event_id,
                event,
                Some(order_id),
                &body,
                now,
            )
            .await?;
        }
        Ok(endpoints.len())
    }

    #[allow(clippy::too_many_arguments)]
    async fn queue_delivery(
        &self,
        tx: &mut storage::Tx,
        endpoint_id: &str,
        event_id: &str,
        event: OutboundEvent,
        order_id: Option<i64>,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, AppError> {
        let id = self
            .db
            .insert_outbound_delivery(
                tx,
                &storage::NewOutboundDelivery {
                    endpoint_id,
                    event_id,
                    event_type: event.as_str(),
                    order_id,
                    payload: body,
                },
                now,
            )
            .await?;
        let job = DeliverWebhookKind.new_job(&DeliverWebhook { delivery_id: id }, now);
        self.db.enqueue(tx, &job, now).await?;
        Ok(id)
    }

    /// One attempt of a delivery (the `deliver_webhook` job). A 2xx is recorded in the
    /// transaction that completes the job; anything else is logged and returned as an error
    /// for the runner to retry, or, on the last attempt, ends the delivery as failed.
    async fn deliver_webhook(&self, job: &Job, delivery_id: i64) -> Result<Completion, AppError> {
        let Some(delivery) = self.db.outbound_delivery(delivery_id).await? else {
            // Its endpoint was removed.
            return Ok(Completion::Complete);
        };
        if delivery.state != OutboundState::Queued {
            return Ok(Completion::Complete);
        }
        let Some(endpoint) = self.db.endpoint(&delivery.endpoint_id).await? else {
            return Ok(Completion::Complete);
        };
        let secret = self
            .webhook_key()?
            .open(&context(&endpoint.id), &endpoint.secret_sealed)?;

        let now = self.now();
        let started = Instant::now();
        let result = self
            .post_webhook(&endpoint.url, &delivery, secret.expose(), now)
            .await;
        let attempt = OutboundAttempt {
            at: now,
            status_code: result.status.map(i64::from),
            error: result.error.clone(),
            duration_ms: started.elapsed().as_millis() as i64,
            response_excerpt: result.excerpt,
        };
        let claimed = &job.claimed;
        let mut tx = self.db.begin().await?;
        let Some(error) = result.error else {
            self.db
                .record_outbound_attempt(&mut tx, delivery.id, &attempt, AttemptEnd::Delivered)
                .await?;
            self.db
                .complete(&mut tx, claimed.id, claimed.token, self.now())
                .await?;
            tx.commit().await?;
            tracing::info!(delivery = delivery.id, webhook = %endpoint.id, event = %delivery.event_type, "webhook delivered");
            return Ok(Completion::Recorded);
        };
        let last = claimed.attempts >= claimed.max_attempts;
        let end = if last {
            AttemptEnd::Failed
        } else {
            let at = DeliverWebhookKind
                .retry_policy()
                .retry_at(claimed.attempts, claimed.max_attempts, true, now)
                .unwrap_or(now);
            AttemptEnd::Retry(at)
        };
        let recorded = self
            .db
            .record_outbound_attempt(&mut tx, delivery.id, &attempt, end)
            .await?;
        if last
            && recorded
            && let Some(order_id) = delivery.order_id
        {
            self.db
                .append_history(
                    &mut tx,
                    order_id,
                    &HistoryEvent {
                        at: now,
                        actor: Actor::System,
                        kind: EventKind::Note,
                        message: format!(
                            "webhook {} to {} failed after {} attempts: {error}",
                            delivery.event_type, endpoint.url, claimed.attempts
                        ),
                        payload: Some(serde_json::json!({
                            "webhook_id": endpoint.id,
                            "delivery_id": delivery.id,
                            "event_id": delivery.event_id,
                            "event_type": delivery.event_type,
                            "error": error,
                        })),
                    },
                )
                .await?;
        }
        tx.commit().await?;
        tracing::warn!(delivery = delivery.id, webhook = %endpoint.id, attempt = claimed.attempts, error = %error, final_attempt = last, "webhook delivery failed");
        Err(AppError::WebhookDelivery(error))
    }

    /// POST the delivery's body, signed, to `url`; what happened, in the log's words.
    async fn post_webhook(
        &self,
        url: &str,
        delivery: &storage::OutboundDeliveryRow,
        secret: &str,
        now: DateTime<Utc>,
    ) -> PostResult {
        let failed = |error: String| PostResult {
            status: None,
            error: Some(error),
            excerpt: None,
        };
        let parsed = match url::Url::parse(url) {
            Ok(u) => u,
            Err(_) => return failed("the URL is not valid".into()),
        };
        let policy = match self.address_policy() {
            Ok(p) => p,
            Err(e) => return failed(e.to_string()),
        };
        // A literal IP skips the resolver: check it here (names are checked as they resolve).
        if policy.check_url(&parsed).is_err() {
            tracing::warn!(url, "webhook refused: address not allowed");
            return failed(NOT_ALLOWED.into());
        }
        let signature = signature_header(secret, now.timestamp(), delivery.payload.as_bytes());
        let sent = self
            .webhook_http
            .post(parsed)
            .header("Content-Type", "application/json")
            .header(
                "User-Agent",
                concat!("Pressroom/", env!("CARGO_PKG_VERSION")),
            )
            .header("Pressroom-Event", &delivery.event_type)
            .header("Pressroom-Delivery", delivery.id.to_string())
            .header("Pressroom-Signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return failed(transport_error(url, &e)),
        };
        let status = resp.status();
        let excerpt = excerpt(resp).await;
        PostResult {
            status: Some(status.as_u16()),
            error: (!status.is_success()).then(|| {
                if status.is_redirection() {
                    format!("HTTP {} (redirects are not followed)", status.as_u16())
                } else {
                    format!("HTTP {}", status.as_u16())
                }
            }),
            excerpt,
        }
    }
}

struct PostResult {
    status: Option<u16>,
    /// `None`: delivered.
    error: Option<String>,
    excerpt: Option<String>,
}

const NOT_ALLOWED: &str = "address not allowed";

/// A failed request in the log's words: refused by the address policy, timed out, could not
/// connect, or failed; never what the connection saw (which would tell an open port from a
/// closed one). The details go to the operator's log.
fn transport_error(url: &str, e: &reqwest::Error) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<crate::fetch::NotAllowed>().is_some() {
            tracing::warn!(url, "webhook refused: address not allowed");
            return NOT_ALLOWED.into();
        }
        cur = err.source();
    }
    tracing::warn!(url, error = %e, "webhook request failed");
    if e.is_timeout() {
        format!("no answer within {} s", WEBHOOK_TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "the request failed".into()
    }
}

/// The first bytes of an answer, as text; the rest is not read.
async fn excerpt(resp: reqwest::Response) -> Option<String> {
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() >= RESPONSE_EXCERPT_BYTES {
            break;
        }
    }
    if body.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(RESPONSE_EXCERPT_BYTES)]);
    // A cut in the middle of a character shows as U+FFFD; drop it.
    Some(text.trim_end_matches('\u{fffd}').to_string())
}

/// `deliver_webhook`: one attempt to send one delivery.
pub struct DeliverWebhookKind;

impl JobKind<App> for DeliverWebhookKind {
    type Payload = DeliverWebhook;
    type Error = AppError;
    const NAME: &'static str = DELIVER_WEBHOOK_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    /// A receiver may be down for hours: 12 attempts, 1 minute apart at first, doubling up to
    /// 8 hours (about a day in all). Every failure is tried again: a 4xx may be a receiver
    /// deployed half-way, and the merchant sees each attempt in the log meanwhile.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: WEBHOOK_ATTEMPTS,
            backoff: Backoff {
                first: Duration::from_secs(60),
                max: Duration::from_secs(8 * 3600),
            },
            retry_on: RetryOn::Any,
        }
    }

    async fn run(
        &self,
        app: Arc<App>,
        job: &Job,
        payload: DeliverWebhook,
    ) -> Result<Completion, AppError> {
        app.deliver_webhook(job, payload.delivery_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_stable_and_parse_back() {
        let names: Vec<&str> = OutboundEvent::SUBSCRIBABLE
            .iter()
            .map(|e| e.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "order.imported",
                "order.rendered",
                "order.preflight_failed",
                "order.submitted",
                "order.failed",
                "order.shipped",
                "order.delivered"
            ]
        );
        for e in OutboundEvent::SUBSCRIBABLE {
            assert_eq!(OutboundEvent::parse(e.as_str()), Some(e));
        }
        // A ping is never subscribed to.
        assert_eq!(OutboundEvent::parse("ping"), None);
    }

    #[test]
    fn events_default_to_all_and_unknown_names_list_the_known_ones() {
        assert_eq!(check_events(&[]).unwrap(), ["*"]);
        assert_eq!(
            check_events(&["order.shipped".into(), "order.shipped".into()]).unwrap(),
            ["order.shipped"]
        );
        assert_eq!(
            check_events(&["order.shipped".into(), "*".into()]).unwrap(),
            ["*"]
        );
        let e = check_events(&["order.teleported".into()]).unwrap_err();
        assert_eq!(e.http_status(), 422);
        let message = e.to_string();
        assert!(message.contains("order.teleported"), "{message}");
        assert!(message.contains("order.preflight_failed"), "{message}");
        assert!(subscribed(&["*".into()], OutboundEvent::OrderShipped));
        assert!(!subscribed(
            &["order.imported".into()],
            OutboundEvent::OrderShipped
        ));
    }

    #[test]
    fn registration_refuses_other_schemes_credentials_and_literal_private_addresses() {
        let policy = AddressPolicy::default();
        for (url, says) in [
            ("ftp://hooks.example/x", "http"),
            ("not a url", "not a URL"),
            ("https://user:pw@hooks.example/x", "password"),
            ("https://user@hooks.example/x", "password"),
            ("http://127.0.0.1:9000/hook", "not allowed"),
            ("http://[::1]/hook", "not allowed"),
            ("http://169.254.169.254/latest", "not allowed"),
            ("http://10.1.2.3/hook", "not allowed"),
        ] {
            let e = check_webhook_url(url, &policy).unwrap_err();
            assert_eq!(e.http_status(), 422, "{url}");
            let message = e.to_string();
            assert!(message.contains(says), "{url}: {message}");
            assert!(!message.contains(":pw@"), "{message}");
        }
        assert!(check_webhook_url("https://hooks.example/x", &policy).is_ok());
        // A name is checked where it resolves, at each attempt.
        assert!(check_webhook_url("http://localhost:9000/hook", &policy).is_ok());
        let allowed = AddressPolicy::new(&["127.0.0.1".into()]).unwrap();
        assert!(check_webhook_url("http://127.0.0.1:9000/hook", &allowed).is_ok());
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body_in_hex() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
        let header = signature_header("s3cret", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            header,
            "t=1700000000,v1=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
        );
    }

    #[test]
    fn the_retry_budget_spans_about_a_day() {
        let policy = DeliverWebhookKind.retry_policy();
        let total: Duration = (1..WEBHOOK_ATTEMPTS).map(|n| policy.backoff.after(n)).sum();
        let hours = total.as_secs_f64() / 3600.0;
        assert!((20.0..30.0).contains(&hours), "{hours} hours");
    }
}
