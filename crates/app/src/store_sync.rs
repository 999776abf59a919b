//! Writes to the store go through an outbox: a status change or a note made in Pressroom is
//! saved with an outbox entry in the transaction that changes the order, and the
//! `store_outbox` job (one per order at a time, by key) delivers the order's entries oldest
//! first, retrying while the store is down. The order shows "sync pending" until they land.
//!
//! The echo: WooCommerce answers `PUT /orders/<id>` with the order as it now is; its
//! `date_modified_gmt` is recorded, so the `order.updated` webhook that follows carries
//! nothing newer and merges as unchanged. While a status change is still pending, the status
//! the store reports is its old one and does not overwrite Pressroom's
//! (`domain::Order::apply_store_update`).

use std::sync::Arc;
use std::time::Duration;

use connectors::woo_client::{AuthMode, RetryPolicy as HttpRetry, WooClient, WooCredentials};
use domain::{Actor, EventKind, HistoryEvent};
use jobs::{Backoff, Completion, Job, JobKind, ResourceClass, RetryOn, RetryPolicy};
use serde::{Deserialize, Serialize};
use storage::Enqueued;

use crate::order_write::OrderWrite;
use crate::stores::ConnectedStore;
use crate::{App, AppError};

pub const OUTBOX_JOB: &str = "store_outbox";

/// How calls to stores are repeated inside one attempt of a job or command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreApiSettings {
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    pub timeout_secs: u64,
}

impl Default for StoreApiSettings {
    fn default() -> Self {
        StoreApiSettings {
            max_attempts: 5,
            base_delay_ms: 500,
            max_delay_ms: 30_000,
            timeout_secs: 30,
        }
    }
}

/// The outbox job's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliverOutbox {
    pub order_id: i64,
}

/// What `set_status` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusSet {
    pub order_id: i64,
    pub status: String,
    pub changed: bool,
    /// The change waits in the outbox for the store.
    pub sync_pending: bool,
}

/// A 4xx about the request itself (not the credentials): sending it again cannot help.
fn refused_for_good(e: &connectors::woo_client::WooClientError) -> bool {
    use connectors::woo_client::WooClientError as E;
    match e {
        E::Http { status, .. } => (400..500).contains(status) && !e.is_retryable(),
        E::NotFound { .. } => true,
        _ => false,
    }
}

fn outbox_key(order_id: i64) -> String {
    format!("outbox:{order_id}")
}

impl App {
    /// A client for a connected store.
    pub fn store_client(&self, store: &ConnectedStore) -> Result<WooClient, AppError> {
        if store.consumer_key.is_empty() || store.consumer_secret.is_empty() {
            return Err(AppError::Store(format!(
                "store {:?} has no consumer key and secret; add them with `pressroom store add`",
                store.id
            )));
        }
        let s = &self.settings.store_api;
        let client = WooClient::new(
            self.store_http.clone(),
            WooCredentials {
                url: store.settings.url.clone(),
                consumer_key: store.consumer_key.expose().to_owned(),
                consumer_secret: store.consumer_secret.expose().to_owned(),
                auth: if store.settings.auth_in_query {
                    AuthMode::QueryString
                } else {
                    AuthMode::Header
                },
            },
            HttpRetry {
                max_attempts: s.max_attempts.max(1),
                base_delay: Duration::from_millis(s.base_delay_ms),
                max_delay: Duration::from_millis(s.max_delay_ms),
            },
        )?;
        Ok(client.with_timeout(Duration::from_secs(s.timeout_secs.max(1))))
    }

    /// Whether changes made in Pressroom can be written to this store.
    pub(crate) fn syncs(store: &ConnectedStore) -> bool {
        store.stored && !store.consumer_key.is_empty() && !store.settings.url.is_empty()
    }

    /// A status change made in Pressroom (e.g. Processing → On hold): stored verbatim, the
    /// countdown paused or resumed as the status says, and written to the store through the
    /// outbox.
    pub async fn set_status(
        &self,
        order_id: i64,
        status: &str,
        actor: &Actor,
    ) -> Result<StatusSet, AppError> {
        let status = status.trim();
        if status.is_empty() || status.chars().count() > 64 {
            return Err(AppError::Store(
                "a status is 1 to 64 characters, e.g. \"on-hold\"".into(),
            ));
        }
        let Some(write) = self
            .write_order(order_id, |order, now| order.apply_store_status(status, now))
            .await?
        else {
            return Ok(StatusSet {
                order_id,
                status: status.to_owned(),
                changed: false,
                sync_pending: false,
            });
        };
        let OrderWrite {
            mut tx,
            row,
            now,
            value: change,
        } = write;
        let store = self.connected_store(&row.store_id).await?;
        // Test orders are never written to the store.
        let sync = Self::syncs(&store) && !row.order.test;
        self.db
            .append_history(
                &mut tx,
                order_id,
                &HistoryEvent {
                    at: now,
                    actor: actor.clone(),
                    kind: EventKind::StatusChanged,
                    message: format!(
                        "status {} → {}{}",
                        change.from.raw,
                        change.to.raw,
                        if sync {
                            "; to be written to the store"
                        } else {
                            ""
                        }
                    ),
                    payload: Some(serde_json::json!({
                        "from": change.from.raw, "to": change.to.raw,
                        "countdown": change.countdown,
                    })),
                },
            )
            .await?;
        if sync {
            self.queue_outbox(
                &mut tx,
                &store,
                order_id,
                "status",
                serde_json::json!({"status": status}),
                actor,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(StatusSet {
            order_id,
            status: status.to_owned(),
            changed: true,
            sync_pending: sync,
        })
    }

    /// A note written in Pressroom, kept on the order and, with `push`, written to the store
    /// as a private order note. Returns the note's id and whether it goes to the store.
    pub async fn add_note(
        &self,
        order_id: i64,
        text: &str,
        push: bool,
        actor: &Actor,
    ) -> Result<(u64, bool), AppError> {
        let text = text.trim();
        let mut refused = None;
        let Some(OrderWrite {
            mut tx,
            row,
            now,
            value: note_id,
        }) = self
            .write_order(order_id, |order, now| {
                order
                    .add_note(now, &actor.label(), text)
                    .map_err(|e| refused = Some(e))
                    .ok()
            })
            .await?
        else {
            return Err(note_refused(refused, order_id));
        };
        let store = self.connected_store(&row.store_id).await?;
        let push = push && Self::syncs(&store) && !row.order.test;
        self.db
            .append_history(
                &mut tx,
                order_id,
                &HistoryEvent {
                    at: now,
                    actor: actor.clone(),
                    kind: EventKind::Note,
                    message: text.to_owned(),
                    payload: Some(serde_json::json!({"pushed_to_store": push})),
                },
            )
            .await?;
        if push {
            self.queue_outbox(
                &mut tx,
                &store,
                order_id,
                "note",
                serde_json::json!({"note": text, "customer_note": false}),
                actor,
            )
            .await?;
        }
        tx.commit().await?;
        Ok((note_id, push))
    }

    /// Changes the text of a note written in Pressroom. The store keeps the copy it was sent
    /// (WooCommerce's notes cannot be edited); the history keeps the text before.
    pub async fn edit_note(
        &self,
        order_id: i64,
        note_id: u64,
        text: &str,
        actor: &Actor,
    ) -> Result<(), AppError> {
        self.change_note(
            order_id,
            actor,
            |order, now| order.edit_note(note_id, text, now),
            |before| {
                (
                    format!("Note {note_id} edited"),
                    serde_json::json!({"note": note_id, "before": before, "after": text.trim()}),
                )
            },
        )
        .await
    }

    /// Deletes a note written in Pressroom; its text stays in the history.
    pub async fn delete_note(
        &self,
        order_id: i64,
        note_id: u64,
        actor: &Actor,
    ) -> Result<(), AppError> {
        self.change_note(
            order_id,
            actor,
            |order, _| order.delete_note(note_id),
            |gone| {
                (
                    format!("Note {note_id} deleted"),
                    serde_json::json!({"note": note_id, "author": gone.author, "text": gone.text}),
                )
            },
        )
        .await
    }

    /// Applies a note change to the order and records it in the history, in one transaction;
    /// `event` names the change and what it replaced.
    async fn change_note<T>(
        &self,
        order_id: i64,
        actor: &Actor,
        mut change: impl FnMut(
            &mut domain::Order,
            chrono::DateTime<chrono::Utc>,
        ) -> Result<T, domain::NoteError>,
        event: impl FnOnce(T) -> (String, serde_json::Value),
    ) -> Result<(), AppError> {
        let mut refused = None;
        let Some(OrderWrite {
            mut tx, now, value, ..
        }) = self
            .write_order(order_id, |order, now| {
                change(order, now).map_err(|e| refused = Some(e)).ok()
            })
            .await?
        else {
            return Err(note_refused(refused, order_id));
        };
        let (message, payload) = event(value);
        self.db
            .append_history(
                &mut tx,
                order_id,
                &HistoryEvent {
                    at: now,
                    actor: actor.clone(),
                    kind: EventKind::Note,
                    message,
                    payload: Some(payload),
                },
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Add an outbox entry and make sure the order's outbox job is queued, in `tx`.
    pub(crate) async fn queue_outbox(
        &self,
        tx: &mut storage::Tx,
        store: &ConnectedStore,
        order_id: i64,
        kind: &str,
        payload: serde_json::Value,
        actor: &Actor,
    ) -> Result<(), AppError> {
        let now = self.now();
        self.db
            .add_outbox(
                tx,
                &storage::NewOutbox {
                    store_id: &store.id,
                    order_id,
                    kind,
                    payload: &payload,
                    actor: &actor.label(),
                },
                now,
            )
            .await?;
        let mut job = OutboxKind
            .new_job(&DeliverOutbox { order_id }, now)
            .with_key(outbox_key(order_id));
        job.order_id = Some(order_id);
        // A job already queued will see this entry; one already running re-queues itself
        // when it finds entries it did not deliver (see `deliver_outbox`).
        let _: Enqueued = self.db.enqueue_unique(tx, &job, now).await?;
        Ok(())
    }

    /// Deliver an order's pending outbox entries, oldest first. Stops at the first failure
    /// that may pass (later entries wait, so the store sees changes in order); an entry the
    /// store refuses for good (a 4xx) ends as failed, with the reason in the history.
    pub async fn deliver_outbox(&self, order_id: i64) -> Result<usize, AppError> {
        let mut delivered = 0;
        loop {
            let mut tx = self.db.begin().await?;
            let next = self.db.next_outbox(&mut tx, order_id).await?;
            tx.commit().await?;
            let Some(entry) = next else {
                return Ok(delivered);
            };
            let row = self.db.get_order(order_id).await?;
            let store = self.connected_store(&entry.store_id).await?;
            let client = self.store_client(&store)?;
            let store_order_id = row.order.store_order_id;
            let result = match entry.kind.as_str() {
                "status" => {
                    let status = entry.payload["status"].as_str().unwrap_or_default();
                    client
                        .update_status(store_order_id, status)
                        .await
                        .map(|body| (format!("status {status} written to the store"), Some(body)))
                }
                "note" => {
                    let note = entry.payload["note"].as_str().unwrap_or_default();
                    let customer = entry.payload["customer_note"].as_bool().unwrap_or(false);
                    client
                        .add_note(store_order_id, note, customer)
                        .await
                        .map(|id| (format!("note written to the store (note {id})"), None))
                }
                "tracking" => self
                    .push_tracking(&client, store_order_id, &entry.payload)
                    .await
                    .map(|m| (m, None)),
                other => {
                    return Err(AppError::BadJob(format!(
                        "outbox entry {} has unknown kind {other:?}",
                        entry.id
                    )));
                }
            };
            let (message, echo) = match result {
                Ok(done) => done,
                Err(e) if e.is_retryable() => {
                    let message = e.merchant_message();
                    self.db.outbox_attempt_failed(entry.id, &message).await?;
                    tracing::warn!(order_id, entry = entry.id, error = %message, "store write failed");
                    return Err(e.into());
                }
                Err(e) if refused_for_good(&e) => {
                    // The store will never take it as it is (a status it does not know, an
                    // order it no longer has): say so on the order and go on with its later
                    // writes.
                    self.record_refused(order_id, &entry, &e.merchant_message())
                        .await?;
                    continue;
                }
                Err(e) => {
                    // Refused credentials or a wrong address: the merchant can fix those, so
                    // the entry stays pending (and shown) for the next attempt.
                    let message = e.merchant_message();
                    self.db.outbox_attempt_failed(entry.id, &message).await?;
                    return Err(e.into());
                }
            };
            self.record_delivered(order_id, &entry, &message, echo.as_deref())
                .await?;
            delivered += 1;
        }
    }

    /// Write one tracking number to the store: through the Shipment Tracking extension when
    /// the store has it, else as a note the customer sees.
    async fn push_tracking(
        &self,
        client: &connectors::woo_client::WooClient,
        store_order_id: i64,
        payload: &serde_json::Value,
    ) -> Result<String, connectors::woo_client::WooClientError> {
        use connectors::woo_client::{Tracking, TrackingProvider};
        let number = payload["tracking_number"].as_str().unwrap_or_default();
        let carrier = payload["carrier"].as_str().unwrap_or_default();
        let link = payload["tracking_url"].as_str().unwrap_or_default();
        let shipped = payload["date_shipped"]
            .as_str()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .unwrap_or_else(|| self.now().date_naive());
        if client.index().await?.has_shipment_tracking() {
            let provider = if link.is_empty() {
                TrackingProvider::Known(carrier.to_owned())
            } else {
                TrackingProvider::Custom {
                    name: carrier.to_owned(),
                    link: link.to_owned(),
                }
            };
            let id = client
                .add_tracking(
                    store_order_id,
                    &Tracking {
                        provider,
                        tracking_number: number.to_owned(),
                        date_shipped: shipped,
                    },
                )
                .await?;
            Ok(format!(
                "tracking {number} written to the store (tracking {id})"
            ))
        } else {
            let mut note = format!("Your order has shipped: {carrier} tracking number {number}");
            if !link.is_empty() {
                note.push_str(&format!(" ({link})"));
            }
            let id = client.add_note(store_order_id, &note, true).await?;
            Ok(format!(
                "tracking {number} written to the store as a customer note (note {id})"
            ))
        }
    }

    async fn record_refused(
        &self,
        order_id: i64,
        entry: &storage::OutboxRow,
        message: &str,
    ) -> Result<(), AppError> {
        tracing::warn!(order_id, entry = entry.id, error = %message, "the store refused a write");
        let now = self.now();
        let mut tx = self.db.begin().await?;
        self.db.outbox_refused(&mut tx, entry.id, message).await?;
        self.db
            .append_history(
                &mut tx,
                order_id,
                &HistoryEvent {
                    at: now,
                    actor: Actor::System,
                    kind: EventKind::Note,
                    message: format!(
                        "the store refused the {} write ({}): {message}",
                        entry.kind, entry.payload
                    ),
                    payload: Some(serde_json::json!({
                        "outbox": entry.id, "kind": entry.kind, "refused": message,
                    })),
                },
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Mark an entry delivered and note the store's `date_modified_gmt` from its answer, so
    /// the webhook echo of this change merges as unchanged.
    async fn record_delivered(
        &self,
        order_id: i64,
        entry: &storage::OutboxRow,
        message: &str,
        answer: Option<&[u8]>,
    ) -> Result<(), AppError> {
        let modified = answer
            .and_then(|body| {
                connectors::woocommerce::parse_order(body, &domain::ItemMapping::default()).ok()
            })
            .and_then(|o| o.modified_at);
        // The store's modification time is noted only when it is newer than the stored one.
        let write = self
            .write_order(order_id, |order, _| {
                let m = modified.filter(|m| order.modified_at.is_none_or(|have| have < *m))?;
                order.modified_at = Some(m);
                Some(())
            })
            .await?;
        let (mut tx, now) = match write {
            Some(w) => (w.tx, w.now),
            None => (self.db.begin().await?, self.now()),
        };
        self.db.outbox_delivered(&mut tx, entry.id, now).await?;
        self.db
            .append_history(
                &mut tx,
                order_id,
                &HistoryEvent {
                    at: now,
                    actor: Actor::System,
                    kind: EventKind::Note,
                    message: message.to_owned(),
                    payload: Some(serde_json::json!({"outbox": entry.id, "kind": entry.kind})),
                },
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// `store_outbox`: deliver one order's pending writes to its store.
pub struct OutboxKind;

impl JobKind<App> for OutboxKind {
    type Payload = DeliverOutbox;
    type Error = AppError;
    const NAME: &'static str = OUTBOX_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    /// Never give up quickly: a store can be down for hours. About a week of retries, at
    /// most ten minutes apart; the entries stay pending (and shown) even after that.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1000,
            backoff: Backoff {
                first: Duration::from_secs(2),
                max: Duration::from_secs(600),
            },
            retry_on: RetryOn::Retryable,
        }
    }

    async fn run(
        &self,
        app: Arc<App>,
        job: &Job,
        payload: DeliverOutbox,
    ) -> Result<Completion, AppError> {
        app.deliver_outbox(payload.order_id).await?;
        // Complete this job and, if an entry arrived after the last read (its enqueue was
        // refused because this job held the key), queue the next one in the same
        // transaction.
        let now = app.now();
        let mut tx = app.db.begin().await?;
        app.db
            .complete(&mut tx, job.claimed.id, job.claimed.token, now)
            .await?;
        if app
            .db
            .next_outbox(&mut tx, payload.order_id)
            .await?
            .is_some()
        {
            let mut next = OutboxKind
                .new_job(&payload, now)
                .with_key(outbox_key(payload.order_id));
            next.order_id = Some(payload.order_id);
            app.db.enqueue_unique(&mut tx, &next, now).await?;
        }
        tx.commit().await?;
        Ok(Completion::Recorded)
    }
}

/// The error for a note change the order refused.
fn note_refused(refused: Option<domain::NoteError>, order_id: i64) -> AppError {
    match refused {
        Some(domain::NoteError::NotFound(id)) => {
            AppError::NotFound(format!("order {order_id} has no note {id}"))
        }
        Some(e) => AppError::Invalid(e.to_string()),
        None => AppError::Invalid("the note was not changed".into()),
    }
}
