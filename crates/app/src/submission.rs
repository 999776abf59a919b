//! Handing orders to providers, exactly once: one path for the countdown, the Submit Order
//! button and Bulk Submit.
//!
//! 1. **Claim** ([`App::submit`]): the order moves to Submitting under a deterministic id
//!    (`<prefix><order id>-<attempt>`) by compare-and-set, in the transaction that queues
//!    the `submit_order` job. Of any number of concurrent claims one is stored; the others
//!    read "already submitted".
//! 2. **Send** (the `submit_order` job): before a request leaves, the order records that a
//!    send started (`sends`). A job that finds a send already started — its worker died, or
//!    the answer was unclear — looks the order up at the provider by our id first: found
//!    means Submitted; not found means sending is safe; no lookup means Review, for a person,
//!    never a second send.
//! 3. **Outcome**: accepted → Submitted; surely not received (DNS, connection refused, 429)
//!    → retried with backoff, then Failed with the reason; refused (invalid address, unknown
//!    product) → Failed with the provider's reason.
//!
//! The countdown is a job too (`countdown`, keyed by order, run at `submit_at`): moved or
//! cancelled in the transaction that changes the order's countdown, so it survives restarts
//! and any number of processes, and reaches the same claim.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use connectors::provider::{
    Accepted, Provider, ProviderError, ProviderItem, ProviderKind, ProviderOrder,
};
use domain::{
    Actor, Countdown, EventKind, HistoryEvent, ItemRender, Order, SubmitRefusal, SubmitStatus,
    SubmitTrigger,
};
use jobs::{Backoff, Completion, Job, JobKind, ResourceClass, RetryOn, RetryPolicy};
use serde::{Deserialize, Serialize};
use storage::{Enqueued, JobState};

use crate::providers::{ProviderAccount, SANDBOX};
use crate::{App, AppError, RENDER_JOB};

pub const SUBMIT_JOB: &str = "submit_order";
pub const COUNTDOWN_JOB: &str = "countdown";

/// How orders are handed to providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubmissionSettings {
    /// Starts every id sent to a provider (`pr42-1`); distinct per installation that shares
    /// a provider account.
    pub external_id_prefix: String,
    /// Sends of one attempt that surely did not arrive (DNS, refused, 429) before it is
    /// Failed.
    pub max_tries: u32,
    /// Backoff between those sends.
    pub retry_first_secs: u64,
    pub retry_max_secs: u64,
    /// How often a countdown that reached zero while the order was not ready looks again.
    pub recheck_secs: u64,
    /// A test order's countdown.
    pub test_delay_secs: u64,
}

impl Default for SubmissionSettings {
    fn default() -> Self {
        SubmissionSettings {
            external_id_prefix: "pr".into(),
            max_tries: 8,
            retry_first_secs: 5,
            retry_max_secs: 600,
            recheck_secs: 300,
            test_delay_secs: 60,
        }
    }
}

impl SubmissionSettings {
    fn backoff(&self, tries: u32) -> Duration {
        Backoff {
            first: Duration::from_secs(self.retry_first_secs),
            max: Duration::from_secs(self.retry_max_secs.max(self.retry_first_secs)),
        }
        .after(i64::from(tries.max(1)))
    }
}

/// What a submit request did, per order (the answer of the button and of each line of Bulk
/// Submit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum SubmitAnswer {
    /// Claimed and on its way to the provider (the job sends it).
    Submitting {
        provider: String,
        external_id: String,
    },
    /// Handed over (the manual provider: marked submitted at once).
    Submitted {
        provider: String,
    },
    /// It was claimed or handed over before: "You CANNOT submit an order again".
    AlreadySubmitted {
        state: String,
    },
    NotReady {
        reasons: Vec<String>,
    },
    /// This request failed (e.g. the order does not exist), with why.
    Failed {
        reason: String,
    },
}

fn countdown_key(order_id: i64) -> String {
    format!("countdown:{order_id}")
}

fn submit_key(order_id: i64) -> String {
    format!("submit:{order_id}")
}

/// The `submit_order` job's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitJob {
    pub order_id: i64,
    /// Sends of this attempt that surely did not arrive, so far.
    #[serde(default)]
    pub tries: u32,
}

/// The `countdown` job's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountdownJob {
    pub order_id: i64,
}

impl App {
    /// The provider id under which attempt `attempt` of order `order_id` is sent.
    pub fn external_id(&self, order_id: i64, attempt: u32) -> String {
        let prefix: String = self
            .settings
            .submission
            .external_id_prefix
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(12)
            .collect();
        format!("{prefix}{order_id}-{attempt}")
    }

    /// The order a provider id names (when it is one of ours).
    pub fn order_of_external_id(&self, external_id: &str) -> Option<i64> {
        let prefix: String = self
            .settings
            .submission
            .external_id_prefix
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(12)
            .collect();
        let rest = external_id.strip_prefix(&prefix)?;
        let (id, attempt) = rest.split_once('-')?;
        attempt.parse::<u32>().ok()?;
        id.parse().ok()
    }

    /// Each personalized item's latest render, as the submission decision needs it.
    pub async fn item_renders(&self, order_id: i64) -> Result<BTreeMap<i64, ItemRender>, AppError> {
        let renders = self.db.renders(order_id).await?;
        let jobs = self
            .db
            .order_jobs_with_payload(order_id, RENDER_JOB)
            .await?;
        let mut out = BTreeMap::new();
        // The latest job per item decides whether a render is pending or failed; a done
        // job's render is the item's latest version.
        let mut latest_job: BTreeMap<i64, &storage::JobRow> = BTreeMap::new();
        for (job, payload) in &jobs {
            if let Some(item) = payload["item_id"].as_i64() {
                latest_job.insert(item, job);
            }
        }
        for (item, job) in &latest_job {
            let state = match job.state {
                JobState::Queued | JobState::Running => ItemRender::Rendering,
                JobState::Dead => ItemRender::Failed {
                    reason: job
                        .last_error
                        .clone()
                        .unwrap_or_else(|| "unknown error".into()),
                },
                JobState::Done | JobState::Cancelled => ItemRender::NotRendered,
            };
            out.insert(*item, state);
        }
        for r in renders {
            let latest_job_id = latest_job.get(&r.render.item_id).map(|j| j.id);
            // A render older than the item's latest job does not count while that job is
            // pending or failed.
            let current = match (latest_job_id, r.render.job_id) {
                (Some(latest), Some(this)) => this >= latest,
                _ => true,
            };
            if !current
                && !matches!(
                    out.get(&r.render.item_id),
                    Some(ItemRender::NotRendered) | None
                )
            {
                continue;
            }
            out.insert(
                r.render.item_id,
                ItemRender::Done {
                    version: r.version,
                    preflight_errors: preflight_errors(&r.render.preflight),
                },
            );
        }
        Ok(out)
    }

    /// The provider account an order goes to: its store's rules (test orders: the sandbox).
    pub async fn provider_for_order(
        &self,
        store_id: &str,
        order: &Order,
    ) -> Result<ProviderAccount, AppError> {
        if order.test {
            return self.provider_account(SANDBOX).await;
        }
        let store = self.connected_store(store_id).await?;
        let id = store
            .settings
            .provider_for(order)
            .map_err(AppError::Invalid)?;
        self.provider_account(&id).await
    }

    /// Submit an order: the one path of the countdown, the button and Bulk Submit. Claims
    /// the submission (compare-and-set) and queues the hand-off in one transaction.
    pub async fn submit(
        &self,
        order_id: i64,
        trigger: SubmitTrigger,
        actor: &Actor,
    ) -> Result<SubmitAnswer, AppError> {
        for _ in 0..8 {
            let row = self.db.get_order(order_id).await?;
            if !row.order.submit_status.can_submit() {
                return Ok(SubmitAnswer::AlreadySubmitted {
                    state: row.order.submit_status.label().to_owned(),
                });
            }
            let account = match self.provider_for_order(&row.store_id, &row.order).await {
                Ok(a) => a,
                Err(e @ (AppError::Invalid(_) | AppError::NotFound(_))) => {
                    return Ok(SubmitAnswer::NotReady {
                        reasons: vec![e.to_string()],
                    });
                }
                Err(e) => return Err(e),
            };
            let renders = self.item_renders(order_id).await?;
            let now = self.now();
            let mut order = row.order.clone();
            let claimed =
                if account.kind == ProviderKind::Manual && trigger == SubmitTrigger::Countdown {
                    Err(SubmitRefusal::NotReady {
                        number: order.number.clone(),
                        reasons: vec![format!(
                            "the provider is {} (manual): place the order with the provider, then \
                         mark it submitted",
                            account.id
                        )],
                    })
                } else {
                    order.claim_submission(
                        trigger,
                        &account.id,
                        &renders,
                        |attempt| self.external_id(order_id, attempt),
                        now,
                    )
                };
            let external_id = match claimed {
                Ok(id) => id,
                Err(SubmitRefusal::AlreadySubmitted { state, .. }) => {
                    return Ok(SubmitAnswer::AlreadySubmitted { state });
                }
                Err(SubmitRefusal::NotReady { reasons, .. }) => {
                    return Ok(SubmitAnswer::NotReady { reasons });
                }
            };
            let manual = account.kind == ProviderKind::Manual;
            if manual {
                // Nothing to send: the merchant placed it elsewhere.
                order.submit_status = SubmitStatus::Submitted {
                    provider: account.id.clone(),
                    provider_order_id: None,
                    at: now,
                    external_id: Some(external_id.clone()),
                };
            }
            let mut tx = self.db.begin().await?;
            match self
                .db
                .update_order(&mut tx, order_id, row.row_version, &order, now)
                .await
            {
                Err(storage::StorageError::Conflict { .. }) => continue,
                other => other?,
            };
            self.sync_countdown(
                &mut tx,
                order_id,
                &row.order.countdown,
                &order.countdown,
                now,
            )
            .await?;
            let message = if manual {
                format!(
                    "marked submitted ({}: placed with the provider by the merchant) as {external_id}",
                    account.id
                )
            } else {
                format!("submission claimed for {} as {external_id}", account.id)
            };
            self.db
                .append_history(
                    &mut tx,
                    order_id,
                    &HistoryEvent {
                        at: now,
                        actor: actor.clone(),
                        kind: if manual {
                            EventKind::Submitted
                        } else {
                            EventKind::SubmissionAttempt
                        },
                        message,
                        payload: Some(serde_json::json!({
                            "provider": account.id, "external_id": external_id,
                            "trigger": trigger,
                        })),
                    },
                )
                .await?;
            if manual {
                self.emit(
                    &mut tx,
                    crate::outbound::OutboundEvent::OrderSubmitted,
                    order_id,
                    serde_json::json!({"provider": account.id, "external_id": external_id}),
                    now,
                )
                .await?;
                tx.commit().await?;
                return Ok(SubmitAnswer::Submitted {
                    provider: account.id,
                });
            }
            let mut job = SubmitKind
                .new_job(&SubmitJob { order_id, tries: 0 }, now)
                .with_key(submit_key(order_id));
            job.order_id = Some(order_id);
            let _: Enqueued = self.db.enqueue_unique(&mut tx, &job, now).await?;
            tx.commit().await?;
            return Ok(SubmitAnswer::Submitting {
                provider: account.id,
                external_id,
            });
        }
        Err(AppError::Storage(storage::StorageError::Conflict {
            what: "order",
            id: order_id.to_string(),
        }))
    }

    /// Bulk Submit: every order through [`App::submit`], a few at a time; what happened to
    /// each, in the order given.
    pub async fn bulk_submit(&self, order_ids: &[i64], actor: &Actor) -> Vec<(i64, SubmitAnswer)> {
        use futures::StreamExt;
        futures::stream::iter(order_ids.iter().copied())
            .map(|id| async move {
                let answer = match self.submit(id, SubmitTrigger::Merchant, actor).await {
                    Ok(a) => a,
                    Err(e) => SubmitAnswer::Failed {
                        reason: e.to_string(),
                    },
                };
                (id, answer)
            })
            .buffered(8)
            .collect()
            .await
    }

    /// Keep the countdown job in step with the order's countdown, in the transaction that
    /// changed it: queued at `submit_at` while running, cancelled when paused or stopped.
    pub(crate) async fn sync_countdown(
        &self,
        tx: &mut storage::Tx,
        order_id: i64,
        before: &Countdown,
        after: &Countdown,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        if before == after {
            return Ok(());
        }
        let key = countdown_key(order_id);
        match after.submit_at.filter(|_| after.is_running()) {
            Some(at) => {
                let mut job = CountdownKind
                    .new_job(&CountdownJob { order_id }, now)
                    .with_key(key.clone())
                    .at(at);
                job.order_id = Some(order_id);
                if let Enqueued::AlreadyQueued(_) = self.db.enqueue_unique(tx, &job, now).await? {
                    self.db.reschedule_by_key(tx, &key, at, now).await?;
                }
            }
            None => {
                self.db.cancel_by_key(tx, &key, now).await?;
            }
        }
        Ok(())
    }

    /// The countdown reached zero: submit if ready; otherwise say why on the order and look
    /// again later (and as soon as a render finishes).
    pub async fn countdown_expired(&self, order_id: i64) -> Result<SubmitAnswer, AppError> {
        let answer = self
            .submit(order_id, SubmitTrigger::Countdown, &Actor::System)
            .await?;
        if let SubmitAnswer::NotReady { reasons } = &answer {
            let reason = reasons.join("; ");
            let write = self
                .write_order(order_id, |order, now| {
                    if !order.countdown.is_due(now) {
                        // Paused, stopped or moved meanwhile: nothing to say.
                        return None;
                    }
                    let changed = order.submission_blocked.as_deref() != Some(reason.as_str());
                    order.submission_blocked = Some(reason.clone());
                    Some(changed)
                })
                .await?;
            if let Some(mut w) = write {
                if w.value {
                    self.db
                        .append_history(
                            &mut w.tx,
                            order_id,
                            &HistoryEvent {
                                at: w.now,
                                actor: Actor::System,
                                kind: EventKind::SubmissionFailed,
                                message: format!("not submitted automatically: {reason}"),
                                payload: Some(serde_json::json!({"reasons": reasons})),
                            },
                        )
                        .await?;
                }
                // The running countdown job holds its key until it completes; it queues the
                // next look itself (see `CountdownKind`).
                w.tx.commit().await?;
            }
        }
        Ok(answer)
    }

    /// A render finished: if the order's countdown already ran out (it waited for this
    /// render), look again now instead of at the next recheck.
    pub(crate) async fn recheck_countdown(
        &self,
        tx: &mut storage::Tx,
        order_id: i64,
        order: &Order,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        if !order.countdown.is_due(now) {
            return Ok(());
        }
        let key = countdown_key(order_id);
        let mut job = CountdownKind
            .new_job(&CountdownJob { order_id }, now)
            .with_key(key.clone());
        job.order_id = Some(order_id);
        if let Enqueued::AlreadyQueued(_) = self.db.enqueue_unique(tx, &job, now).await? {
            self.db.reschedule_by_key(tx, &key, now, now).await?;
        }
        Ok(())
    }

    /// The merchant accepts the preflight errors of an item's latest render; recorded in the
    /// history with who did it.
    pub async fn override_preflight(
        &self,
        order_id: i64,
        item_id: i64,
        actor: &Actor,
    ) -> Result<i64, AppError> {
        let renders = self.item_renders(order_id).await?;
        let Some(ItemRender::Done {
            version,
            preflight_errors,
        }) = renders.get(&item_id).cloned()
        else {
            return Err(AppError::Invalid(format!(
                "item {item_id} has no finished render to accept"
            )));
        };
        let write = self
            .write_order(order_id, |order, _| {
                if order.submit_status.design_locked() {
                    return Some(Err(()));
                }
                order.override_preflight(item_id, version).then_some(Ok(()))
            })
            .await?;
        let Some(mut w) = write else {
            return Ok(version);
        };
        if w.value.is_err() {
            return Err(AppError::Rule(domain::RuleViolation::DesignLocked {
                number: w.row.order.number.clone(),
            }));
        }
        self.db
            .append_history(
                &mut w.tx,
                order_id,
                &HistoryEvent {
                    at: w.now,
                    actor: actor.clone(),
                    kind: EventKind::Preflight,
                    message: format!(
                        "preflight errors of item {item_id} version {version} accepted by {actor}: {}",
                        preflight_errors.join("; ")
                    ),
                    payload: Some(serde_json::json!({
                        "item_id": item_id, "version": version, "override": true,
                        "errors": preflight_errors,
                    })),
                },
            )
            .await?;
        let order = self.db.get_order_tx(&mut w.tx, order_id).await?.order;
        self.recheck_countdown(&mut w.tx, order_id, &order, w.now)
            .await?;
        w.tx.commit().await?;
        Ok(version)
    }

    /// A person settles a submission in review after checking with the provider: it is
    /// there (`Submitted`, with the provider's order id when known) or it is not (`Failed`,
    /// so it may be submitted again under the next attempt's id).
    pub async fn resolve_review(
        &self,
        order_id: i64,
        at_provider: bool,
        provider_order_id: Option<String>,
        actor: &Actor,
    ) -> Result<SubmitStatus, AppError> {
        let row = self.db.get_order(order_id).await?;
        let (provider, external_id) = match &row.order.submit_status {
            SubmitStatus::Review {
                provider,
                external_id,
                ..
            } => (provider.clone().unwrap_or_default(), external_id.clone()),
            other => {
                return Err(AppError::Invalid(format!(
                    "order {} is not in review (it is {})",
                    row.order.number,
                    if other.label().is_empty() {
                        "not submitted"
                    } else {
                        other.label()
                    }
                )));
            }
        };
        let write = self
            .write_order(order_id, |order, now| {
                if !matches!(order.submit_status, SubmitStatus::Review { .. }) {
                    return None;
                }
                order.submit_status = if at_provider {
                    SubmitStatus::Submitted {
                        provider: provider.clone(),
                        provider_order_id: provider_order_id.clone(),
                        at: now,
                        external_id: external_id.clone(),
                    }
                } else {
                    SubmitStatus::Failed {
                        reason: format!("not at {provider} (checked by {actor})"),
                        at: now,
                    }
                };
                Some(order.submit_status.clone())
            })
            .await?;
        let Some(mut w) = write else {
            return Ok(self.db.get_order(order_id).await?.order.submit_status);
        };
        self.db
            .append_history(
                &mut w.tx,
                order_id,
                &HistoryEvent {
                    at: w.now,
                    actor: actor.clone(),
                    kind: if at_provider {
                        EventKind::Submitted
                    } else {
                        EventKind::SubmissionFailed
                    },
                    message: if at_provider {
                        format!("review settled by {actor}: the order is at {provider}")
                    } else {
                        format!("review settled by {actor}: the order is not at {provider}")
                    },
                    payload: Some(serde_json::json!({
                        "review": true, "at_provider": at_provider,
                        "provider_order_id": provider_order_id,
                    })),
                },
            )
            .await?;
        w.tx.commit().await?;
        Ok(w.value)
    }

    /// What the provider is sent for an order: recipient, items with long-lived print file
    /// URLs, under the claimed id.
    async fn provider_order(
        &self,
        order_id: i64,
        order: &Order,
        external_id: &str,
        account: &ProviderAccount,
    ) -> Result<ProviderOrder, AppError> {
        let renders = self.db.renders(order_id).await?;
        let now = self.now();
        let mut items = vec![];
        for item in order.personalized_items() {
            let Some(render) = renders.iter().rev().find(|r| r.render.item_id == item.id) else {
                return Err(AppError::Invalid(format!(
                    "item {} has no print file",
                    item.id
                )));
            };
            items.push(ProviderItem {
                line_item_id: item.id,
                product: account.product_for(&item.sku),
                quantity: item.quantity,
                name: item.name.clone(),
                print_file_url: self
                    .files
                    .provider_url(&render.render.print_key, now)
                    .await?,
                preview_url: self
                    .files
                    .provider_url(&render.render.preview_key, now)
                    .await?,
            });
        }
        let recipient = if order.shipping.address_1.is_empty() {
            order.billing.clone()
        } else {
            order.shipping.clone()
        };
        // Providers that take a notification URL per order get the account's webhook URL,
        // its secret token in the path.
        let notify_url = (!self.settings.public_url.is_empty()
            && !account.webhook_secret.is_empty())
        .then(|| {
            format!(
                "{}/webhooks/providers/{}/{}",
                self.settings.public_url.trim_end_matches('/'),
                account.id,
                account.webhook_secret.expose()
            )
        });
        Ok(ProviderOrder {
            notify_url,
            look_first: true,
            external_id: external_id.to_owned(),
            order_number: order.number.clone(),
            recipient,
            currency: order.currency.clone(),
            shipping_method: order
                .shipping_lines
                .first()
                .map(|l| l.method_title.clone())
                .unwrap_or_default(),
            items,
        })
    }

    /// Change the submit status of a Submitting order (the job's outcome), with its history
    /// event, in one compare-and-set write. Returns false when the order was no longer
    /// Submitting under `external_id` (someone else recorded the outcome).
    async fn settle(
        &self,
        order_id: i64,
        external_id: &str,
        to: impl Fn(&SubmitStatus, DateTime<Utc>) -> SubmitStatus,
        record: Settled,
    ) -> Result<bool, AppError> {
        let Settled {
            event,
            message,
            payload,
            actor,
        } = record;
        let write = self
            .write_order(order_id, |order, now| {
                let mine = matches!(&order.submit_status,
                    SubmitStatus::Submitting { external_id: e, .. } if e == external_id);
                if !mine {
                    return None;
                }
                order.submit_status = to(&order.submit_status, now);
                Some(())
            })
            .await?;
        let Some(mut w) = write else {
            return Ok(false);
        };
        self.db
            .append_history(
                &mut w.tx,
                order_id,
                &HistoryEvent {
                    at: w.now,
                    actor,
                    kind: event,
                    message,
                    payload: Some(payload.clone()),
                },
            )
            .await?;
        // Merchants' webhooks hear of it in the same transaction.
        let outbound = match event {
            EventKind::Submitted => Some(crate::outbound::OutboundEvent::OrderSubmitted),
            EventKind::SubmissionFailed => Some(crate::outbound::OutboundEvent::OrderFailed),
            _ => None,
        };
        if let Some(kind) = outbound {
            self.emit(&mut w.tx, kind, order_id, payload.clone(), w.now)
                .await?;
        }
        if event == EventKind::Submitted && w.row.order.submit_status.provider() == Some(SANDBOX) {
            crate::shipments::schedule_sandbox(self, &mut w.tx, order_id, w.now).await?;
        }
        w.tx.commit().await?;
        Ok(true)
    }

    async fn mark_submitted(
        &self,
        order_id: i64,
        account: &ProviderAccount,
        external_id: &str,
        accepted: &Accepted,
        how: &str,
    ) -> Result<(), AppError> {
        let provider = account.id.clone();
        let provider_order_id = accepted.provider_order_id.clone();
        self.settle(
            order_id,
            external_id,
            |_, now| SubmitStatus::Submitted {
                provider: provider.clone(),
                provider_order_id: Some(provider_order_id.clone()),
                at: now,
                external_id: Some(external_id.to_owned()),
            },
            Settled {
                event: EventKind::Submitted,
                message: format!(
                    "submitted to {} as {external_id} (their order {}, status {:?}){how}",
                    account.id, accepted.provider_order_id, accepted.status
                ),
                payload: serde_json::json!({
                    "provider": account.id, "external_id": external_id,
                    "provider_order_id": accepted.provider_order_id, "status": accepted.status,
                }),
                actor: Actor::Provider(account.id.clone()),
            },
        )
        .await?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        order_id: i64,
        external_id: &str,
        reason: String,
        review: bool,
    ) -> Result<(), AppError> {
        let r = reason.clone();
        self.settle(
            order_id,
            external_id,
            move |claimed, now| {
                if review {
                    // The review keeps what was claimed, so a person can settle it.
                    SubmitStatus::Review {
                        reason: r.clone(),
                        at: now,
                        provider: claimed.provider().map(str::to_owned),
                        external_id: claimed.external_id().map(str::to_owned),
                    }
                } else {
                    SubmitStatus::Failed {
                        reason: r.clone(),
                        at: now,
                    }
                }
            },
            Settled {
                event: EventKind::SubmissionFailed,
                message: if review {
                    format!("{external_id} needs review: {reason}")
                } else {
                    format!("{external_id} failed: {reason}")
                },
                payload: serde_json::json!({
                    "external_id": external_id, "reason": reason, "review": review,
                }),
                actor: Actor::System,
            },
        )
        .await?;
        Ok(())
    }

    /// Record that a send of `external_id` is starting (before the request leaves), so a
    /// worker that takes over knows one may have arrived. False when the order is no longer
    /// Submitting under that id.
    async fn start_send(&self, order_id: i64, external_id: &str) -> Result<bool, AppError> {
        let write = self
            .write_order(order_id, |order, _| match &mut order.submit_status {
                SubmitStatus::Submitting {
                    external_id: e,
                    sends,
                    ..
                } if e == external_id => {
                    *sends += 1;
                    Some(())
                }
                _ => None,
            })
            .await?;
        match write {
            Some(w) => {
                w.tx.commit().await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// A send that surely did not arrive: forget it (so a takeover need not look it up).
    async fn undo_send(&self, order_id: i64, external_id: &str) -> Result<(), AppError> {
        let write = self
            .write_order(order_id, |order, _| match &mut order.submit_status {
                SubmitStatus::Submitting {
                    external_id: e,
                    sends,
                    ..
                } if e == external_id && *sends > 0 => {
                    *sends -= 1;
                    Some(())
                }
                _ => None,
            })
            .await?;
        if let Some(w) = write {
            w.tx.commit().await?;
        }
        Ok(())
    }

    /// The `submit_order` job: hand a claimed order to its provider. Returns when to run
    /// again (a send that surely did not arrive, or an unknown outcome to look up), or
    /// `None` when the order's submission is settled.
    pub async fn hand_off(&self, job: &SubmitJob) -> Result<Option<(Duration, u32)>, AppError> {
        let order_id = job.order_id;
        let row = self.db.get_order(order_id).await?;
        let SubmitStatus::Submitting {
            provider,
            external_id,
            sends,
            ..
        } = row.order.submit_status.clone()
        else {
            return Ok(None);
        };
        let account = match self.provider_account(&provider).await {
            Ok(a) => a,
            Err(e @ AppError::NotFound(_)) => {
                self.mark_failed(order_id, &external_id, e.to_string(), false)
                    .await?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        if account.kind == ProviderKind::Sandbox {
            let accepted = Accepted {
                provider_order_id: format!("SBX-{external_id}"),
                status: "accepted".into(),
            };
            self.mark_submitted(order_id, &account, &external_id, &accepted, "")
                .await?;
            return Ok(None);
        }
        let adapter = match self.adapter(&account) {
            Ok(a) => a,
            Err(e) => {
                self.mark_failed(order_id, &external_id, e.to_string(), false)
                    .await?;
                return Ok(None);
            }
        };
        let limit = self.provider_limit(&account);
        if sends > 0 {
            // A send may have arrived: find out before anything else.
            let _permit = limit.acquire().await.expect("never closed");
            match adapter.lookup(&external_id).await {
                Ok(Some(remote)) if remote.needs_confirmation => {
                    // A draft whose confirmation was lost: sending again finds the draft and
                    // confirms it (the adapter never creates a second order).
                    tracing::info!(order_id, %external_id, "found as an unconfirmed draft: confirming");
                    self.note_attempt(
                        order_id,
                        &format!(
                            "{external_id} found at {} as an unconfirmed draft; confirming it",
                            account.id
                        ),
                    )
                    .await?;
                }
                Ok(Some(remote)) => {
                    let accepted = Accepted {
                        provider_order_id: remote.provider_order_id,
                        status: remote.status,
                    };
                    self.mark_submitted(
                        order_id,
                        &account,
                        &external_id,
                        &accepted,
                        "; found by looking it up after an unclear answer",
                    )
                    .await?;
                    return Ok(None);
                }
                Ok(None) => {
                    tracing::info!(order_id, %external_id, "not at the provider: sending again");
                }
                Err(ProviderError::Unsupported { .. }) => {
                    self.mark_failed(
                        order_id,
                        &external_id,
                        format!(
                            "a send to {} may have arrived and {} cannot look orders up: \
                             check with the provider, then mark it submitted or failed",
                            account.id,
                            account.kind.as_str()
                        ),
                        true,
                    )
                    .await?;
                    return Ok(None);
                }
                Err(e) => {
                    // The lookup itself did not work: try it again later (looking up is
                    // safe to repeat), until the budget runs out; then a person decides.
                    let tries = job.tries + 1;
                    if tries >= self.settings.submission.max_tries {
                        self.mark_failed(
                            order_id,
                            &external_id,
                            format!(
                                "a send may have arrived and the lookup kept failing: {e}; check \
                                 with the provider, then mark it submitted or failed"
                            ),
                            true,
                        )
                        .await?;
                        return Ok(None);
                    }
                    let wait = e
                        .retry_after()
                        .unwrap_or_else(|| self.settings.submission.backoff(tries));
                    return Ok(Some((wait, tries)));
                }
            }
        }
        let order = self.provider_order(order_id, &row.order, &external_id, &account);
        let order = match order.await {
            Ok(o) => ProviderOrder {
                // A fresh claim's first send: nothing can exist under its id yet.
                look_first: sends > 0,
                ..o
            },
            Err(
                e @ (AppError::Invalid(_)
                | AppError::Storage(storage::StorageError::ObjectConfig(_))),
            ) => {
                self.mark_failed(order_id, &external_id, e.to_string(), false)
                    .await?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        if !self.start_send(order_id, &external_id).await? {
            return Ok(None);
        }
        let result = {
            let _permit = limit.acquire().await.expect("never closed");
            adapter.submit(&order).await
        };
        match result {
            Ok(accepted) => {
                self.mark_submitted(order_id, &account, &external_id, &accepted, "")
                    .await?;
                Ok(None)
            }
            Err(e @ ProviderError::Rejected { .. })
            | Err(e @ ProviderError::Unauthorized { .. })
            | Err(e @ ProviderError::Config { .. })
            | Err(e @ ProviderError::Unsupported { .. }) => {
                self.mark_failed(order_id, &external_id, e.to_string(), false)
                    .await?;
                Ok(None)
            }
            Err(e @ ProviderError::NotSent { .. }) => {
                self.undo_send(order_id, &external_id).await?;
                let tries = job.tries + 1;
                if tries >= self.settings.submission.max_tries {
                    self.mark_failed(
                        order_id,
                        &external_id,
                        format!("{e} (gave up after {tries} tries)"),
                        false,
                    )
                    .await?;
                    return Ok(None);
                }
                let wait = e
                    .retry_after()
                    .unwrap_or_else(|| self.settings.submission.backoff(tries))
                    .max(
                        self.settings
                            .submission
                            .backoff(tries)
                            .min(Duration::from_secs(1)),
                    );
                tracing::warn!(order_id, %external_id, error = %e, tries, "provider unreachable; will retry");
                self.note_attempt(
                    order_id,
                    &format!("{e}; trying again in {}s", wait.as_secs()),
                )
                .await?;
                Ok(Some((wait, tries)))
            }
            Err(e @ ProviderError::Unknown { .. }) => {
                // It may have arrived: the next run looks it up first (sends > 0).
                tracing::warn!(order_id, %external_id, error = %e, "unclear answer; looking the order up");
                self.note_attempt(order_id, &format!("{e}; looking the order up"))
                    .await?;
                if !account.kind.can_lookup() {
                    self.mark_failed(
                        order_id,
                        &external_id,
                        format!("{e}; {} cannot look orders up", account.kind.as_str()),
                        true,
                    )
                    .await?;
                    return Ok(None);
                }
                Ok(Some((Duration::ZERO, job.tries)))
            }
        }
    }

    async fn note_attempt(&self, order_id: i64, message: &str) -> Result<(), AppError> {
        self.history_note(order_id, EventKind::SubmissionAttempt, message)
            .await
    }
}

/// The history event that goes with a settled submission.
struct Settled {
    event: EventKind,
    message: String,
    payload: serde_json::Value,
    actor: Actor,
}

/// The error messages of a stored preflight report (`{"findings": [...]}`).
fn preflight_errors(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .map(|findings| {
            findings
                .iter()
                .filter(|f| f["severity"] == "error")
                .filter_map(|f| f["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `submit_order`: send one claimed order to its provider.
pub struct SubmitKind;

impl JobKind<App> for SubmitKind {
    type Payload = SubmitJob;
    type Error = AppError;
    const NAME: &'static str = SUBMIT_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    /// Errors of our own (the database) retry; the provider's outcomes are handled by the
    /// job itself, which re-queues with its own backoff.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 50,
            backoff: Backoff {
                first: Duration::from_secs(2),
                max: Duration::from_secs(300),
            },
            retry_on: RetryOn::Retryable,
        }
    }

    async fn run(
        &self,
        app: Arc<App>,
        job: &Job,
        payload: SubmitJob,
    ) -> Result<Completion, AppError> {
        let again = app.hand_off(&payload).await?;
        let now = app.now();
        let mut tx = app.db.begin().await?;
        app.db
            .complete(&mut tx, job.claimed.id, job.claimed.token, now)
            .await?;
        if let Some((wait, tries)) = again {
            let mut next = SubmitKind
                .new_job(
                    &SubmitJob {
                        order_id: payload.order_id,
                        tries,
                    },
                    now,
                )
                .with_key(submit_key(payload.order_id))
                .at(now + chrono::Duration::from_std(wait).unwrap_or_default());
            next.order_id = Some(payload.order_id);
            app.db.enqueue_unique(&mut tx, &next, now).await?;
        }
        tx.commit().await?;
        Ok(Completion::Recorded)
    }
}

/// `countdown`: an order's automatic submission time came.
pub struct CountdownKind;

impl JobKind<App> for CountdownKind {
    type Payload = CountdownJob;
    type Error = AppError;
    const NAME: &'static str = COUNTDOWN_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    async fn run(
        &self,
        app: Arc<App>,
        job: &Job,
        payload: CountdownJob,
    ) -> Result<Completion, AppError> {
        let answer = app.countdown_expired(payload.order_id).await?;
        let now = app.now();
        let mut tx = app.db.begin().await?;
        app.db
            .complete(&mut tx, job.claimed.id, job.claimed.token, now)
            .await?;
        if matches!(answer, SubmitAnswer::NotReady { .. }) {
            // Still due but not ready: look again later (a finished render or an override
            // brings it forward).
            let order = app.db.get_order_tx(&mut tx, payload.order_id).await?.order;
            if order.countdown.is_due(now) {
                let recheck = Duration::from_secs(app.settings.submission.recheck_secs.max(1));
                let mut next = CountdownKind
                    .new_job(&payload, now)
                    .with_key(countdown_key(payload.order_id))
                    .at(now + chrono::Duration::from_std(recheck).unwrap_or_default());
                next.order_id = Some(payload.order_id);
                app.db.enqueue_unique(&mut tx, &next, now).await?;
            }
        }
        tx.commit().await?;
        Ok(Completion::Recorded)
    }
}
