//! The merchant's actions on an order besides editing and submitting: Hold, Unhold and
//! Cancel (each needs an explicit confirmation; written to the store through the outbox;
//! cancelling a submitted order asks the provider to cancel where it can), and test orders
//! that flow through render, countdown and the sandbox without touching a store or a real
//! provider.

use std::collections::BTreeMap;
use std::sync::Arc;

use connectors::provider::{CancelOutcome, Provider, ProviderKind};
use domain::{
    Actor, ClientImage, EventKind, HistoryEvent, LineItem, Order, OrderType, Personalization,
    StoreStatus, SubmitStatus,
};
use jobs::{Backoff, Completion, Job, JobKind, ResourceClass, RetryOn, RetryPolicy};
use serde::{Deserialize, Serialize};

use crate::{App, AppError};

pub const PROVIDER_CANCEL_JOB: &str = "provider_cancel";

/// An action with a confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    Hold,
    Unhold,
    Cancel,
}

impl OrderAction {
    fn status(&self) -> &'static str {
        match self {
            OrderAction::Hold => "on-hold",
            OrderAction::Unhold => "processing",
            OrderAction::Cancel => "cancelled",
        }
    }

    fn what(&self) -> &'static str {
        match self {
            OrderAction::Hold => "putting it on hold pauses its countdown",
            OrderAction::Unhold => "taking it off hold resumes its countdown",
            OrderAction::Cancel => "cancelling it stops it for good",
        }
    }
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionDone {
    pub order_id: i64,
    pub status: String,
    pub changed: bool,
    /// The change waits in the outbox for the store.
    pub sync_pending: bool,
    /// For a cancelled order that was handed over: what happens at the provider.
    pub provider: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderCancel {
    pub order_id: i64,
}

impl App {
    /// Hold, Unhold or Cancel an order. Refused without `confirm`, saying what it would do.
    pub async fn order_action(
        &self,
        order_id: i64,
        action: OrderAction,
        confirm: bool,
        actor: &Actor,
    ) -> Result<ActionDone, AppError> {
        let row = self.db.get_order(order_id).await?;
        if !confirm {
            return Err(AppError::NeedsConfirmation(format!(
                "order {}: {}; send confirm: true to go ahead",
                row.order.number,
                action.what()
            )));
        }
        let set = self.set_status(order_id, action.status(), actor).await?;
        let mut provider = None;
        if action == OrderAction::Cancel && set.changed {
            provider = Some(self.cancel_at_provider(order_id, &row.order).await?);
        }
        Ok(ActionDone {
            order_id,
            status: set.status,
            changed: set.changed,
            sync_pending: set.sync_pending,
            provider,
        })
    }

    /// Ask the provider to cancel a handed-over order (through a job that retries), or say
    /// why that cannot happen from here.
    async fn cancel_at_provider(&self, order_id: i64, order: &Order) -> Result<String, AppError> {
        let message = match &order.submit_status {
            SubmitStatus::Blank | SubmitStatus::Failed { .. } => {
                return Ok("not handed to a provider: nothing to cancel there".into());
            }
            SubmitStatus::Review { .. } => {
                "the submission is in review: check with the provider and cancel it there".into()
            }
            SubmitStatus::Submitting { provider, .. } => format!(
                "the order is being handed to {provider}: once it is submitted, cancel it there"
            ),
            SubmitStatus::Submitted { provider, .. } => {
                let account = self.provider_account(provider).await?;
                match account.kind {
                    ProviderKind::Manual => format!(
                        "{provider} is a manual provider: cancel the order with them yourself"
                    ),
                    _ => {
                        let now = self.now();
                        let mut job = ProviderCancelKind.new_job(&ProviderCancel { order_id }, now);
                        job.order_id = Some(order_id);
                        let mut tx = self.db.begin().await?;
                        self.db.enqueue(&mut tx, &job, now).await?;
                        tx.commit().await?;
                        format!("asking {provider} to cancel it")
                    }
                }
            }
        };
        self.history_note(order_id, EventKind::Note, &message)
            .await?;
        Ok(message)
    }

    /// One history event by Pressroom itself, in its own transaction.
    pub(crate) async fn history_note(
        &self,
        order_id: i64,
        kind: EventKind,
        message: &str,
    ) -> Result<(), AppError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        self.db
            .append_history(
                &mut tx,
                order_id,
                &HistoryEvent {
                    at: now,
                    actor: Actor::System,
                    kind,
                    message: message.to_owned(),
                    payload: None,
                },
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The `provider_cancel` job: ask the provider, and write its answer in the history.
    pub async fn provider_cancel(&self, order_id: i64) -> Result<String, AppError> {
        let row = self.db.get_order(order_id).await?;
        let SubmitStatus::Submitted {
            provider,
            provider_order_id,
            external_id: Some(external_id),
            ..
        } = &row.order.submit_status
        else {
            return Ok("not submitted: nothing to cancel".into());
        };
        let account = self.provider_account(provider).await?;
        let message = if account.kind == ProviderKind::Sandbox {
            "the sandbox cancelled it".to_owned()
        } else {
            let adapter = self.adapter(&account)?;
            let limit = self.provider_limit(&account);
            let _permit = limit.acquire().await.expect("never closed");
            match adapter
                .cancel(
                    external_id,
                    provider_order_id.as_deref().unwrap_or_default(),
                )
                .await
            {
                Ok(CancelOutcome::Cancelled) => format!("{provider} cancelled the order"),
                Ok(CancelOutcome::NotCancellable { reason }) => {
                    format!("{provider} cannot cancel it: {reason}")
                }
                Err(e @ connectors::provider::ProviderError::Unsupported { .. }) => {
                    format!("{e}: cancel it with {provider} yourself")
                }
                Err(e)
                    if matches!(
                        e,
                        connectors::provider::ProviderError::NotSent { .. }
                            | connectors::provider::ProviderError::Unknown { .. }
                    ) =>
                {
                    return Err(e.into());
                }
                Err(e) => format!("{provider} refused to cancel: {e}"),
            }
        };
        self.history_note(order_id, EventKind::Note, &message)
            .await?;
        Ok(message)
    }

    /// "Place test order": an order with sample values for `template_id`, marked as a test,
    /// that renders, counts down (`test_delay_secs`) and goes to the sandbox, never to a
    /// store or a real provider. Returns its id.
    pub async fn place_test_order(
        &self,
        template_id: &str,
        actor: &Actor,
    ) -> Result<i64, AppError> {
        let template = self.templates.get(&self.renderer, template_id)?;
        let manifest = template.manifest();
        let now = self.now();
        let mut values = BTreeMap::new();
        let mut client_images = vec![];
        for field in &manifest.fields {
            match field.kind {
                template::FieldKind::Photo => {
                    let key = self.sample_photo().await?;
                    client_images.push(ClientImage {
                        field: field.id.clone(),
                        source_url: "sample:photo".into(),
                        object_key: Some(key.key),
                        sha256: Some(key.sha256),
                    });
                }
                _ => {
                    let value = field
                        .default
                        .clone()
                        .or_else(|| field.allowed.first().cloned())
                        .unwrap_or_else(|| sample_text(&field.label, field.max_length));
                    values.insert(field.id.clone(), value);
                }
            }
        }
        let store_order_id = -now.timestamp_millis();
        let number = format!("TEST-{}", now.format("%Y%m%d-%H%M%S"));
        let mut order = Order {
            store_order_id,
            number: number.clone(),
            status: StoreStatus::new("processing"),
            created_at: Some(now),
            paid_at: Some(now),
            modified_at: Some(now),
            currency: "USD".into(),
            order_type: OrderType::InApp,
            test: true,
            items: vec![LineItem {
                id: 1,
                sku: format!("TEST-{template_id}"),
                name: format!("Test of {}", manifest.name),
                quantity: 1,
                personalization: Some(Personalization {
                    template_id: template_id.to_owned(),
                    values,
                    client_images,
                }),
                ..LineItem::default()
            }],
            ..Order::default()
        };
        order.customer.name = "Test Customer".into();
        order.shipping = domain::Address {
            first_name: "Test".into(),
            last_name: "Customer".into(),
            address_1: "1 Sample Street".into(),
            city: "Springfield".into(),
            postcode: "12345".into(),
            country: "US".into(),
            ..domain::Address::default()
        };
        order.start_countdown(
            now,
            chrono::Duration::seconds(self.settings.submission.test_delay_secs as i64),
        );
        let store_id = self.settings.store_id.clone();
        let mut tx = self.db.begin().await?;
        self.db
            .ensure_store(&mut tx, &store_id, &store_id, "", now)
            .await?;
        let order_id = self
            .db
            .insert_order(&mut tx, &store_id, &order, now)
            .await?;
        self.sync_countdown(
            &mut tx,
            order_id,
            &domain::Countdown::none(),
            &order.countdown,
            now,
        )
        .await?;
        self.db
            .append_history(
                &mut tx,
                order_id,
                &HistoryEvent {
                    at: now,
                    actor: actor.clone(),
                    kind: EventKind::Imported,
                    message: format!(
                        "test order {number} placed for template {template_id}: it goes to the \
                         sandbox provider and never to the store"
                    ),
                    payload: Some(serde_json::json!({"test": true, "template_id": template_id})),
                },
            )
            .await?;
        self.enqueue_renders(&mut tx, order_id, &[1], actor, now)
            .await?;
        tx.commit().await?;
        Ok(order_id)
    }

    /// A generated sample photo (a soft gradient), stored once by content.
    async fn sample_photo(&self) -> Result<storage::StoredObject, AppError> {
        let bytes = tokio::task::spawn_blocking(|| {
            let img = image::RgbImage::from_fn(1200, 1200, |x, y| {
                image::Rgb([
                    (60 + x * 150 / 1200) as u8,
                    (90 + y * 120 / 1200) as u8,
                    (180 - (x + y) * 60 / 2400) as u8,
                ])
            });
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageFormat::Jpeg)
                .map(|_| out.into_inner())
        })
        .await
        .map_err(|e| AppError::Config(format!("sample photo: {e}")))?
        .map_err(|e| AppError::Config(format!("sample photo: {e}")))?;
        Ok(self
            .files
            .put_content("photos", "jpg", bytes::Bytes::from(bytes))
            .await?)
    }
}

fn sample_text(label: &str, max: Option<usize>) -> String {
    let text = if label.to_lowercase().contains("date") {
        "June 14, 2026".to_owned()
    } else {
        "Sarah & James".to_owned()
    };
    match max {
        Some(m) if text.chars().count() > m => text.chars().take(m.max(1)).collect(),
        _ => text,
    }
}

/// `provider_cancel`: ask a provider to cancel a submitted order.
pub struct ProviderCancelKind;

impl JobKind<App> for ProviderCancelKind {
    type Payload = ProviderCancel;
    type Error = AppError;
    const NAME: &'static str = PROVIDER_CANCEL_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 20,
            backoff: Backoff {
                first: std::time::Duration::from_secs(5),
                max: std::time::Duration::from_secs(600),
            },
            retry_on: RetryOn::Retryable,
        }
    }

    async fn run(
        &self,
        app: Arc<App>,
        _job: &Job,
        payload: ProviderCancel,
    ) -> Result<Completion, AppError> {
        app.provider_cancel(payload.order_id).await?;
        Ok(Completion::Complete)
    }
}
