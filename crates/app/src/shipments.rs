//! Parcels and tracking: news from providers (webhooks kept raw first, a polling backstop),
//! from the merchant (manual provider) and from the sandbox, merged into the order
//! (`domain::Order::apply_shipment`: numbers merge, statuses only move forwards), then each
//! new tracking number written to the store once through the outbox, and the order marked
//! completed in the store once everything shipped.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use connectors::provider::{Provider, ProviderEvent, ProviderKind, ProviderNews, WebhookRequest};
use domain::{
    Actor, EventKind, HistoryEvent, ShipmentMerge, ShipmentStatus, ShipmentUpdate, SubmitStatus,
};
use jobs::{Backoff, Completion, Job, JobKind, ResourceClass, RetryOn, RetryPolicy};
use serde::{Deserialize, Serialize};

use crate::providers::SANDBOX;
use crate::{App, AppError};

pub const PROVIDER_WEBHOOK_JOB: &str = "provider_webhook";
pub const SANDBOX_SHIP_JOB: &str = "sandbox_ship";
pub const POLL_SHIPMENTS_JOB: &str = "poll_shipments";
/// The shipment poll's default period.
pub const POLL_SHIPMENTS_EVERY: Duration = Duration::from_secs(3600);

/// What merging shipment news did to an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShipmentsApplied {
    pub order_id: i64,
    /// Merges that changed something.
    pub changed: usize,
    /// Tracking numbers queued for the store.
    pub pushed: Vec<String>,
    pub fulfillment: domain::FulfillmentState,
}

/// A provider webhook that was accepted and kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderWebhookAccepted {
    pub id: i64,
    pub events: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessProviderWebhook {
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxShip {
    pub order_id: i64,
    /// `ship` or `deliver`.
    pub stage: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PollShipments {}

/// Queue the sandbox's parcel for a just-submitted order (in the submission's transaction).
pub(crate) async fn schedule_sandbox(
    app: &App,
    tx: &mut storage::Tx,
    order_id: i64,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let account = app.provider_account(SANDBOX).await?;
    let at = now + chrono::Duration::seconds(account.settings.ship_after_secs as i64);
    let mut job = SandboxShipKind
        .new_job(
            &SandboxShip {
                order_id,
                stage: "ship".into(),
            },
            now,
        )
        .at(at);
    job.order_id = Some(order_id);
    app.db.enqueue(tx, &job, now).await?;
    Ok(())
}

impl App {
    /// Merge news about an order's parcels, write new tracking numbers to the store through
    /// the outbox (each once) and mark the order completed there once everything shipped.
    pub async fn apply_shipments(
        &self,
        order_id: i64,
        provider: &str,
        updates: &[ShipmentUpdate],
        actor: &Actor,
    ) -> Result<ShipmentsApplied, AppError> {
        let row = self.db.get_order(order_id).await?;
        let store = self.connected_store(&row.store_id).await?;
        let sync = Self::syncs(&store) && !row.order.test;
        let write = self
            .write_order(order_id, |order, now| {
                let before = order.fulfillment();
                let mut merges = vec![];
                for u in updates {
                    let m = order.apply_shipment(provider, u, now);
                    if matches!(m, ShipmentMerge::New { .. } | ShipmentMerge::Changed { .. }) {
                        merges.push(m);
                    }
                }
                let mut pushed = vec![];
                if sync {
                    for s in &mut order.shipments {
                        for number in s.unpushed_tracking() {
                            s.pushed_to_store.push(number.clone());
                            pushed.push((
                                number,
                                s.carrier.clone(),
                                s.tracking_url.clone(),
                                s.shipped_at,
                            ));
                        }
                    }
                }
                let after = order.fulfillment();
                let complete = after.all_shipped()
                    && !before.all_shipped()
                    && order.status.kind != domain::StatusKind::Completed;
                let status_change = if complete {
                    order.apply_store_status("completed", now)
                } else {
                    None
                };
                if merges.is_empty() && pushed.is_empty() && status_change.is_none() {
                    return None;
                }
                Some((merges, pushed, before, after, status_change))
            })
            .await?;
        let Some(mut w) = write else {
            return Ok(ShipmentsApplied {
                order_id,
                changed: 0,
                pushed: vec![],
                fulfillment: row.order.fulfillment(),
            });
        };
        let (merges, pushed, before, after, status_change) = std::mem::replace(
            &mut w.value,
            (
                vec![],
                vec![],
                domain::FulfillmentState::Unfulfilled,
                domain::FulfillmentState::Unfulfilled,
                None,
            ),
        );
        let order = self.db.get_order_tx(&mut w.tx, order_id).await?.order;
        for m in &merges {
            let (index, text) = match m {
                ShipmentMerge::New { index } => (*index, "new parcel"),
                ShipmentMerge::Changed { index, .. } => (*index, "parcel update"),
                _ => continue,
            };
            let s = &order.shipments[index];
            self.db
                .append_history(
                    &mut w.tx,
                    order_id,
                    &HistoryEvent {
                        at: w.now,
                        actor: actor.clone(),
                        kind: EventKind::Tracking,
                        message: format!(
                            "{text} from {provider}: {} {} ({})",
                            if s.carrier.is_empty() {
                                "carrier unknown"
                            } else {
                                &s.carrier
                            },
                            s.tracking_numbers().collect::<Vec<_>>().join(", "),
                            s.status.label()
                        ),
                        payload: Some(serde_json::to_value(s).expect("serializes")),
                    },
                )
                .await?;
        }
        // Merchants' webhooks: a parcel that left, and the whole order delivered.
        for m in &merges {
            let (index, left_now) = match m {
                ShipmentMerge::New { index } => (*index, order.shipments[*index].status.has_left()),
                ShipmentMerge::Changed { index, from, to } => {
                    (*index, !from.has_left() && to.has_left())
                }
                _ => continue,
            };
            if left_now {
                self.emit(
                    &mut w.tx,
                    crate::outbound::OutboundEvent::OrderShipped,
                    order_id,
                    serde_json::json!({"provider": provider, "shipment": &order.shipments[index]}),
                    w.now,
                )
                .await?;
            }
        }
        if after == domain::FulfillmentState::Delivered && before != after {
            self.emit(
                &mut w.tx,
                crate::outbound::OutboundEvent::OrderDelivered,
                order_id,
                serde_json::json!({"provider": provider, "shipments": &order.shipments}),
                w.now,
            )
            .await?;
        }
        for (number, carrier, url, shipped_at) in &pushed {
            self.queue_outbox(
                &mut w.tx,
                &store,
                order_id,
                "tracking",
                serde_json::json!({
                    "tracking_number": number, "carrier": carrier, "tracking_url": url,
                    "date_shipped": shipped_at.unwrap_or(w.now).date_naive().to_string(),
                }),
                actor,
            )
            .await?;
        }
        if let Some(change) = &status_change {
            self.db
                .append_history(
                    &mut w.tx,
                    order_id,
                    &HistoryEvent {
                        at: w.now,
                        actor: Actor::System,
                        kind: EventKind::StatusChanged,
                        message: format!(
                            "everything shipped: status {} → {}{}",
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
                        })),
                    },
                )
                .await?;
            if sync {
                self.queue_outbox(
                    &mut w.tx,
                    &store,
                    order_id,
                    "status",
                    serde_json::json!({"status": "completed"}),
                    &Actor::System,
                )
                .await?;
            }
        }
        if before != after {
            tracing::info!(
                order_id,
                from = before.as_str(),
                to = after.as_str(),
                "fulfillment"
            );
        }
        w.tx.commit().await?;
        Ok(ShipmentsApplied {
            order_id,
            changed: merges.len(),
            pushed: pushed.into_iter().map(|p| p.0).collect(),
            fulfillment: after,
        })
    }

    /// The merchant typed a parcel (manual provider, or a provider without tracking news).
    /// Only for orders handed over.
    pub async fn add_manual_shipment(
        &self,
        order_id: i64,
        update: ShipmentUpdate,
        actor: &Actor,
    ) -> Result<ShipmentsApplied, AppError> {
        if update.tracking_number.trim().is_empty() {
            return Err(AppError::Invalid("a tracking number is required".into()));
        }
        if update.tracking_number.chars().count() > 100 || update.carrier.chars().count() > 100 {
            return Err(AppError::Invalid(
                "carrier and tracking number are at most 100 characters".into(),
            ));
        }
        if !update.tracking_url.is_empty()
            && !url::Url::parse(&update.tracking_url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        {
            return Err(AppError::Invalid(format!(
                "tracking link {:?} is not an http(s) URL",
                update.tracking_url
            )));
        }
        let row = self.db.get_order(order_id).await?;
        let SubmitStatus::Submitted { provider, .. } = &row.order.submit_status else {
            return Err(AppError::Invalid(format!(
                "order {} is not submitted yet: submit it (or mark it submitted) first",
                row.order.number
            )));
        };
        let provider = provider.clone();
        self.apply_shipments(order_id, &provider, &[update], actor)
            .await
    }

    /// A provider webhook: checked against the account's secret (signature or URL token)
    /// before anything is stored, then kept raw with the job that processes it. A bad
    /// signature stores nothing.
    pub async fn receive_provider_webhook(
        &self,
        account_id: &str,
        token: Option<&str>,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<ProviderWebhookAccepted, AppError> {
        let account = self.provider_account(account_id).await?;
        if matches!(account.kind, ProviderKind::Manual | ProviderKind::Sandbox) {
            return Err(AppError::NotFound(format!(
                "provider account {account_id:?} takes no webhooks"
            )));
        }
        let adapter = self.adapter(&account)?;
        let events = adapter
            .webhook(WebhookRequest {
                headers,
                body,
                url_token: token,
            })
            .map_err(|e| match e {
                connectors::provider::WebhookError::BadSignature => AppError::BadSignature,
                other => AppError::Invalid(other.to_string()),
            })?;
        let kept: serde_json::Map<String, serde_json::Value> = headers
            .iter()
            .filter(|(name, _)| {
                let n = name.as_str();
                n.starts_with("x-") || n == "content-type" || n == "user-agent"
            })
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    serde_json::Value::String(String::from_utf8_lossy(value.as_bytes()).into()),
                )
            })
            .collect();
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let id = self
            .db
            .insert_provider_webhook(
                &mut tx,
                account_id,
                &serde_json::Value::Object(kept),
                body,
                now,
            )
            .await?;
        let job = ProviderWebhookKind.new_job(&ProcessProviderWebhook { id }, now);
        self.db.enqueue(&mut tx, &job, now).await?;
        tx.commit().await?;
        Ok(ProviderWebhookAccepted {
            id,
            events: events.len(),
        })
    }

    /// Process a kept provider webhook: each event applied to the order it names.
    pub async fn process_provider_webhook(&self, id: i64) -> Result<String, AppError> {
        let row = self.db.provider_webhook(id).await?;
        if row.processed_at.is_some() {
            return Ok(row.outcome.unwrap_or_default());
        }
        let account = self.provider_account(&row.account_id).await?;
        let adapter = self.adapter(&account)?;
        let headers: reqwest::header::HeaderMap = row
            .headers
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| {
                Some((
                    reqwest::header::HeaderName::from_bytes(k.as_bytes()).ok()?,
                    reqwest::header::HeaderValue::from_str(v.as_str()?).ok()?,
                ))
            })
            .collect();
        // Checked at arrival; read again here (the token is not kept, so the check is
        // skipped by giving the account's own secret).
        let events = adapter
            .webhook(WebhookRequest {
                headers: &headers,
                body: &row.body,
                url_token: Some(account.webhook_secret.expose()),
            })
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        let mut outcomes = vec![];
        for event in &events {
            outcomes.push(self.apply_provider_event(&account.id, event).await?);
        }
        let outcome = if outcomes.is_empty() {
            "no events".to_owned()
        } else {
            outcomes.join("; ")
        };
        let mut tx = self.db.begin().await?;
        self.db
            .mark_provider_webhook(&mut tx, id, &outcome, self.now())
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// One piece of provider news, applied to the order our id names.
    pub async fn apply_provider_event(
        &self,
        provider: &str,
        event: &ProviderEvent,
    ) -> Result<String, AppError> {
        let Some(order_id) = event
            .external_id
            .as_deref()
            .and_then(|e| self.order_of_external_id(e))
        else {
            return Ok(format!("{}: not one of our orders", event.event));
        };
        let row = match self.db.get_order(order_id).await {
            Ok(r) => r,
            Err(storage::StorageError::NotFound { .. }) => {
                return Ok(format!("{}: order {order_id} not found", event.event));
            }
            Err(e) => return Err(e.into()),
        };
        let actor = Actor::Provider(provider.to_owned());
        match &event.news {
            ProviderNews::Shipment(update) => {
                let applied = self
                    .apply_shipments(order_id, provider, std::slice::from_ref(update), &actor)
                    .await?;
                Ok(format!(
                    "{}: order {order_id}, {} change(s), {}",
                    event.event,
                    applied.changed,
                    applied.fulfillment.as_str()
                ))
            }
            ProviderNews::Failed { reason } => {
                let ours = row.order.submit_status.external_id() == event.external_id.as_deref();
                let write = self
                    .write_order(order_id, |order, now| {
                        let submitted =
                            matches!(order.submit_status, SubmitStatus::Submitted { .. });
                        if !(ours && submitted) {
                            return None;
                        }
                        order.submit_status = SubmitStatus::Failed {
                            reason: format!("{provider}: {reason}"),
                            at: now,
                        };
                        Some(())
                    })
                    .await?;
                let (mut tx, now) = match write {
                    Some(w) => (w.tx, w.now),
                    None => (self.db.begin().await?, self.now()),
                };
                self.db
                    .append_history(
                        &mut tx,
                        order_id,
                        &HistoryEvent {
                            at: now,
                            actor,
                            kind: EventKind::SubmissionFailed,
                            message: format!("{provider} says the order failed: {reason}"),
                            payload: Some(serde_json::to_value(event).expect("serializes")),
                        },
                    )
                    .await?;
                self.emit(
                    &mut tx,
                    crate::outbound::OutboundEvent::OrderFailed,
                    order_id,
                    serde_json::json!({"provider": provider, "reason": reason}),
                    now,
                )
                .await?;
                tx.commit().await?;
                Ok(format!(
                    "{}: order {order_id} failed at {provider}",
                    event.event
                ))
            }
            ProviderNews::Cancelled | ProviderNews::OnHold { .. } | ProviderNews::Status { .. } => {
                let message = match &event.news {
                    ProviderNews::Cancelled => format!("{provider} cancelled the order"),
                    ProviderNews::OnHold { reason } => {
                        format!("{provider} put the order on hold: {reason}")
                    }
                    ProviderNews::Status { status } => format!("{provider}: {status}"),
                    _ => unreachable!("matched above"),
                };
                let now = self.now();
                let mut tx = self.db.begin().await?;
                self.db
                    .append_history(
                        &mut tx,
                        order_id,
                        &HistoryEvent {
                            at: now,
                            actor,
                            kind: EventKind::Note,
                            message: message.clone(),
                            payload: Some(serde_json::to_value(event).expect("serializes")),
                        },
                    )
                    .await?;
                tx.commit().await?;
                Ok(format!("{}: order {order_id}: {message}", event.event))
            }
        }
    }

    /// The polling backstop: ask the providers about submitted orders not yet delivered
    /// (webhooks get lost). Returns how many orders were asked about.
    pub async fn poll_shipments(&self, limit: i64) -> Result<usize, AppError> {
        let ids = self.db.orders_in_submit_state("Submitted", limit).await?;
        let mut asked = 0;
        for order_id in ids {
            let row = self.db.get_order(order_id).await?;
            if row.order.fulfillment() == domain::FulfillmentState::Delivered {
                continue;
            }
            let SubmitStatus::Submitted {
                provider,
                external_id: Some(external_id),
                ..
            } = &row.order.submit_status
            else {
                continue;
            };
            let Ok(account) = self.provider_account(provider).await else {
                continue;
            };
            if matches!(account.kind, ProviderKind::Manual | ProviderKind::Sandbox) {
                continue;
            }
            let adapter = self.adapter(&account)?;
            let limit = self.provider_limit(&account);
            let found = {
                let _permit = limit.acquire().await.expect("never closed");
                adapter.lookup(external_id).await
            };
            asked += 1;
            match found {
                Ok(Some(remote)) => {
                    if !remote.shipments.is_empty() {
                        self.apply_shipments(
                            order_id,
                            provider,
                            &remote.shipments,
                            &Actor::Provider(provider.clone()),
                        )
                        .await?;
                    }
                }
                Ok(None) => {
                    tracing::warn!(order_id, %external_id, provider = %provider, "a submitted order is not at the provider");
                }
                Err(e) => {
                    tracing::warn!(order_id, provider = %provider, error = %e, "shipment poll failed");
                }
            }
        }
        Ok(asked)
    }

    /// The sandbox's parcel: it leaves, then arrives.
    pub async fn sandbox_ship(&self, order_id: i64, stage: &str) -> Result<(), AppError> {
        let row = self.db.get_order(order_id).await?;
        let Some(external_id) = row.order.submit_status.external_id().map(str::to_owned) else {
            return Ok(());
        };
        let tracking = format!("SBX{:010}", order_id);
        let status = if stage == "deliver" {
            ShipmentStatus::Delivered
        } else {
            ShipmentStatus::Shipped
        };
        let update = ShipmentUpdate {
            id: Some(format!("{external_id}-1")),
            carrier: "Sandbox Post".into(),
            tracking_number: tracking.clone(),
            tracking_url: format!("https://tracking.example/sandbox/{tracking}"),
            status: Some(status),
            items: vec![],
            shipped_at: Some(self.now()),
        };
        self.apply_shipments(
            order_id,
            SANDBOX,
            &[update],
            &Actor::Provider(SANDBOX.into()),
        )
        .await?;
        if stage == "ship" {
            let account = self.provider_account(SANDBOX).await?;
            let now = self.now();
            let mut job = SandboxShipKind
                .new_job(
                    &SandboxShip {
                        order_id,
                        stage: "deliver".into(),
                    },
                    now,
                )
                .at(now + chrono::Duration::seconds(account.settings.deliver_after_secs as i64));
            job.order_id = Some(order_id);
            let mut tx = self.db.begin().await?;
            self.db.enqueue(&mut tx, &job, now).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// `provider_webhook`: process one kept provider webhook.
pub struct ProviderWebhookKind;

impl JobKind<App> for ProviderWebhookKind {
    type Payload = ProcessProviderWebhook;
    type Error = AppError;
    const NAME: &'static str = PROVIDER_WEBHOOK_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    async fn run(
        &self,
        app: Arc<App>,
        _job: &Job,
        payload: ProcessProviderWebhook,
    ) -> Result<Completion, AppError> {
        app.process_provider_webhook(payload.id).await?;
        Ok(Completion::Complete)
    }
}

/// `sandbox_ship`: the sandbox provider's parcel moves.
pub struct SandboxShipKind;

impl JobKind<App> for SandboxShipKind {
    type Payload = SandboxShip;
    type Error = AppError;
    const NAME: &'static str = SANDBOX_SHIP_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    async fn run(
        &self,
        app: Arc<App>,
        _job: &Job,
        payload: SandboxShip,
    ) -> Result<Completion, AppError> {
        app.sandbox_ship(payload.order_id, &payload.stage).await?;
        Ok(Completion::Complete)
    }
}

/// `poll_shipments`: the periodic backstop for lost provider webhooks.
pub struct PollShipmentsKind;

impl JobKind<App> for PollShipmentsKind {
    type Payload = PollShipments;
    type Error = AppError;
    const NAME: &'static str = POLL_SHIPMENTS_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            backoff: Backoff::fixed(Duration::from_secs(60)),
            retry_on: RetryOn::Retryable,
        }
    }

    async fn run(
        &self,
        app: Arc<App>,
        _job: &Job,
        _payload: PollShipments,
    ) -> Result<Completion, AppError> {
        app.poll_shipments(500).await?;
        Ok(Completion::Complete)
    }
}
