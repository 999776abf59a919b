//! WooCommerce webhooks: a delivery is checked (HMAC-SHA256 of the raw body under the store's
//! webhook secret, compared in constant time), kept raw with the job that will process it in
//! one transaction, and only then acknowledged. The `woo_webhook` job merges the order
//! (`App::upsert_order`), so duplicates, replays and out-of-order deliveries are harmless:
//! the same state is unchanged, an older one is stale.
//!
//! A ping (form body `webhook_id=N`, no signature) is answered and not kept. A bad or
//! missing signature is refused and nothing is kept.

use std::sync::Arc;
use std::time::Duration;

use connectors::woo_webhook::{self, Topic};
use domain::Actor;
use jobs::{Backoff, Completion, Job, JobKind, ResourceClass, RetryOn, RetryPolicy};
use serde::{Deserialize, Serialize};
use storage::NewDelivery;

use crate::import::ImportSource;
use crate::{App, AppError};

pub const WEBHOOK_JOB: &str = "woo_webhook";

/// The headers of a delivery that matter (WooCommerce's `X-WC-Webhook-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookHeaders {
    pub topic: Option<String>,
    pub signature: Option<String>,
    pub delivery_id: Option<String>,
    pub webhook_id: Option<String>,
    pub source: Option<String>,
}

impl WebhookHeaders {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "X-WC-Webhook-Topic": self.topic,
            "X-WC-Webhook-Signature": self.signature,
            "X-WC-Webhook-Delivery-ID": self.delivery_id,
            "X-WC-Webhook-ID": self.webhook_id,
            "X-WC-Webhook-Source": self.source,
        })
    }
}

/// How a delivery was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAck {
    /// A ping: answered, not kept.
    Ping { webhook_id: i64 },
    /// Kept; the job processes it.
    Stored { delivery: i64 },
}

/// Why a delivery was refused (nothing was kept).
#[derive(Debug, thiserror::Error)]
pub enum WebhookRefused {
    #[error("no store {0:?}")]
    UnknownStore(String),
    #[error("the delivery has no X-WC-Webhook-Signature header")]
    MissingSignature,
    #[error("the X-WC-Webhook-Signature does not match the body under the store's webhook secret")]
    BadSignature,
    #[error("store {0:?} has no webhook secret; set one with `pressroom store add`")]
    NoSecret(String),
    #[error("the delivery has no X-WC-Webhook-Topic header")]
    MissingTopic,
    /// The database did not take it; WooCommerce will deliver it again.
    #[error("the delivery could not be kept; try again later")]
    NotKept(String),
    #[error("{0}")]
    App(#[from] AppError),
}

impl WebhookRefused {
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookRefused::UnknownStore(_) => 404,
            WebhookRefused::MissingSignature
            | WebhookRefused::BadSignature
            | WebhookRefused::NoSecret(_) => 401,
            WebhookRefused::MissingTopic => 400,
            WebhookRefused::NotKept(_) => 503,
            WebhookRefused::App(e) => e.http_status(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            WebhookRefused::UnknownStore(_) => "not_found",
            WebhookRefused::MissingSignature => "missing_signature",
            WebhookRefused::BadSignature => "bad_signature",
            WebhookRefused::NoSecret(_) => "no_webhook_secret",
            WebhookRefused::MissingTopic => "missing_topic",
            WebhookRefused::NotKept(_) => "unavailable",
            WebhookRefused::App(e) => e.code(),
        }
    }
}

/// The intake's writer: deliveries that arrive together are kept in one transaction (with
/// their jobs), so a burst of webhooks costs a few commits, not one each. Every caller waits
/// for the commit of its own delivery before it answers.
pub(crate) struct Intake {
    queue: tokio::sync::mpsc::Sender<Pending>,
}

struct Pending {
    delivery: NewDelivery,
    kept: tokio::sync::oneshot::Sender<Result<i64, String>>,
}

/// The most deliveries written in one transaction.
const INTAKE_BATCH: usize = 256;

impl Intake {
    fn start(db: storage::Db) -> Intake {
        let (queue, mut rx) = tokio::sync::mpsc::channel::<Pending>(4 * INTAKE_BATCH);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < INTAKE_BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                let deliveries: Vec<NewDelivery> =
                    batch.iter().map(|p| p.delivery.clone()).collect();
                let result = write_batch(&db, &deliveries).await;
                for (i, p) in batch.into_iter().enumerate() {
                    let answer = match &result {
                        Ok(ids) => Ok(ids[i]),
                        Err(e) => Err(e.clone()),
                    };
                    let _ = p.kept.send(answer);
                }
            }
        });
        Intake { queue }
    }

    /// Keep one delivery; returns its id once committed.
    async fn keep(&self, delivery: NewDelivery) -> Result<i64, WebhookRefused> {
        let (kept, answer) = tokio::sync::oneshot::channel();
        let gone =
            || WebhookRefused::App(AppError::Config("the webhook intake has stopped".into()));
        self.queue
            .send(Pending { delivery, kept })
            .await
            .map_err(|_| gone())?;
        match answer.await.map_err(|_| gone())? {
            Ok(id) => Ok(id),
            Err(message) => Err(WebhookRefused::NotKept(message)),
        }
    }
}

async fn write_batch(db: &storage::Db, deliveries: &[NewDelivery]) -> Result<Vec<i64>, String> {
    let write = async {
        let now = deliveries
            .iter()
            .map(|d| d.received_at)
            .max()
            .unwrap_or_default();
        let mut tx = db.begin().await?;
        let ids = db.insert_deliveries(&mut tx, deliveries).await?;
        let jobs: Vec<storage::NewJob> = ids
            .iter()
            .map(|&id| WebhookKind.new_job(&ProcessWebhook { delivery: id }, now))
            .collect();
        db.enqueue_many(&mut tx, &jobs, now).await?;
        tx.commit().await?;
        Ok::<_, storage::StorageError>(ids)
    };
    write.await.map_err(|e| {
        tracing::error!(error = %e, "webhook deliveries could not be kept");
        e.to_string()
    })
}

impl App {
    pub(crate) fn intake(&self) -> &Intake {
        self.intake.get_or_init(|| Intake::start(self.db.clone()))
    }
}

/// The `woo_webhook` job's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessWebhook {
    pub delivery: i64,
}

impl App {
    /// Check a delivery and keep it with its processing job; answer only after this returns.
    pub async fn receive_webhook(
        &self,
        store_id: &str,
        headers: WebhookHeaders,
        body: bytes::Bytes,
    ) -> Result<WebhookAck, WebhookRefused> {
        let store = match self.cached_store(store_id).await {
            Ok(s) => s,
            Err(AppError::NotFound(_)) => {
                return Err(WebhookRefused::UnknownStore(store_id.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(signature) = headers.signature.as_deref() else {
            return match woo_webhook::ping_webhook_id(&body) {
                Some(webhook_id) => {
                    tracing::info!(store = store_id, webhook_id, "webhook ping");
                    Ok(WebhookAck::Ping { webhook_id })
                }
                None => Err(WebhookRefused::MissingSignature),
            };
        };
        if store.webhook_secret.is_empty() {
            return Err(WebhookRefused::NoSecret(store_id.to_owned()));
        }
        if !woo_webhook::verify_signature(&body, store.webhook_secret.expose(), signature) {
            tracing::warn!(store = store_id, "webhook refused: bad signature");
            return Err(WebhookRefused::BadSignature);
        }
        let topic = headers
            .topic
            .clone()
            .filter(|t| !t.trim().is_empty())
            .ok_or(WebhookRefused::MissingTopic)?;
        let now = self.now();
        let delivery = NewDelivery {
            store_id: store_id.to_owned(),
            store_order_id: connectors::woocommerce::order_id_of(&body),
            topic,
            delivery_id: headers.delivery_id.clone().unwrap_or_default(),
            webhook_id: headers.webhook_id.clone().unwrap_or_default(),
            headers: headers.to_json(),
            body: body.to_vec(),
            received_at: now,
        };
        let id = self.intake().keep(delivery).await?;
        Ok(WebhookAck::Stored { delivery: id })
    }

    /// Process a kept delivery: merge the order it carries, or flag a deleted one. The
    /// outcome is recorded on the delivery.
    ///
    /// The deliveries of one store order are processed in the order they arrived: a job
    /// first processes the earlier ones of its order that no job has finished yet (another
    /// job may be on one at the same time; merging twice changes nothing), so a deletion that
    /// overtook its order's creation finds the order.
    pub async fn process_webhook(&self, delivery: i64) -> Result<String, AppError> {
        let row = self.db.delivery(delivery).await?;
        if let Some(outcome) = row.outcome.clone().filter(|_| row.processed_at.is_some()) {
            return Ok(outcome);
        }
        if let Some(store_order_id) = row.delivery.store_order_id {
            let earlier = self
                .db
                .unprocessed_deliveries(&row.delivery.store_id, store_order_id, delivery)
                .await?;
            for d in earlier.into_iter().filter(|d| d.id != delivery) {
                self.process_one(d).await?;
            }
        }
        self.process_one(row).await
    }

    async fn process_one(&self, row: storage::DeliveryRow) -> Result<String, AppError> {
        let delivery = row.id;
        let store = self.connected_store(&row.delivery.store_id).await?;
        let source = ImportSource {
            actor: Actor::Store,
            local_files: None,
        };
        let body = &row.delivery.body;
        let (outcome, order_id) = match Topic::parse(&row.delivery.topic) {
            Topic::OrderChanged => match self.upsert_order(&store, body, &source).await {
                Ok(imported) => {
                    if row.delivery.topic.trim() == "order.restored" {
                        let id = connectors::woocommerce::order_id_of(body).unwrap_or_default();
                        self.order_deleted_in_store(&store, id, false, &Actor::Store)
                            .await?;
                    }
                    (
                        imported.outcome.as_str().to_owned(),
                        Some(imported.order_id),
                    )
                }
                Err(e) if e.is_retryable() => return Err(e),
                // A body that cannot be an order (or names a template that is not
                // installed) stays kept with the reason; retrying would not change it.
                Err(e) => (format!("failed: {e}"), None),
            },
            Topic::OrderDeleted => match connectors::woocommerce::order_id_of(body) {
                Some(id) => {
                    let order = self
                        .order_deleted_in_store(&store, id, true, &Actor::Store)
                        .await?;
                    (
                        if order.is_some() {
                            "deleted"
                        } else {
                            "unknown_order"
                        }
                        .into(),
                        order,
                    )
                }
                None => ("failed: the body has no order id".into(), None),
            },
            Topic::Other => ("ignored".into(), None),
        };
        let mut tx = self.db.begin().await?;
        self.db
            .mark_delivery(&mut tx, delivery, &outcome, order_id, self.now())
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

/// `woo_webhook`: process one kept delivery.
pub struct WebhookKind;

impl JobKind<App> for WebhookKind {
    type Payload = ProcessWebhook;
    type Error = AppError;
    const NAME: &'static str = WEBHOOK_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    /// The database or a photo's server may be down for a while: keep trying for about a
    /// day (the delivery is kept either way).
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 20,
            backoff: Backoff {
                first: Duration::from_secs(5),
                max: Duration::from_secs(3600),
            },
            retry_on: RetryOn::Retryable,
        }
    }

    async fn run(
        &self,
        app: Arc<App>,
        _job: &Job,
        payload: ProcessWebhook,
    ) -> Result<Completion, AppError> {
        let outcome = app.process_webhook(payload.delivery).await?;
        tracing::info!(delivery = payload.delivery, %outcome, "webhook processed");
        Ok(Completion::Complete)
    }
}
