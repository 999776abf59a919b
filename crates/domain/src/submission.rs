//! The submission decision: whether an order may go to a provider now, and if not, why — in
//! words a merchant can act on ("item 2: photo at 94 DPI, minimum 150") — and the claim that
//! makes the hand-off happen once.
//!
//! The countdown, the Submit button and Bulk Submit all ask [`Order::claim_submission`]; the
//! caller writes the claimed order with compare-and-set before any request leaves, so of many
//! concurrent claims exactly one is stored.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Order, OrderType, StatusKind, SubmitStatus};

/// Where an item's latest render stands (what the coordinator read from the renders and
/// render jobs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ItemRender {
    /// No render was ever asked for.
    NotRendered,
    /// A render is queued or running.
    Rendering,
    /// The latest render failed for good.
    Failed { reason: String },
    /// The latest render is done; its preflight errors, as the renderer worded them.
    Done {
        version: i64,
        preflight_errors: Vec<String>,
    },
}

/// Who asks for the submission: the rules differ only in what may be automatic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitTrigger {
    /// The countdown reached zero.
    Countdown,
    /// The merchant's Submit Order button (or Bulk Submit, or the API).
    Merchant,
}

/// Why a submission was not claimed. `code()` is stable for APIs and the UI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum SubmitRefusal {
    /// Already claimed, handed over or in review: "You CANNOT submit an order again".
    #[error("order {number} was already submitted ({state}); it cannot be submitted again")]
    AlreadySubmitted { number: String, state: String },
    /// Not ready yet; every reason, in the merchant's words.
    #[error("order {number} is not ready: {}", reasons.join("; "))]
    NotReady {
        number: String,
        reasons: Vec<String>,
    },
}

impl SubmitRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            SubmitRefusal::AlreadySubmitted { .. } => "already_submitted",
            SubmitRefusal::NotReady { .. } => "not_ready",
        }
    }
}

impl Order {
    /// 1-based position of a line item, as the merchant counts them ("item 2").
    fn item_number(&self, item_id: i64) -> usize {
        self.items
            .iter()
            .position(|i| i.id == item_id)
            .map_or(0, |p| p + 1)
    }

    /// Everything that keeps this order from going to a provider, in the merchant's words;
    /// empty when it may go. `renders` holds each personalized item's latest render.
    /// Preflight errors of a render the merchant overrode (that version) do not block.
    pub fn submission_blockers(&self, renders: &BTreeMap<i64, ItemRender>) -> Vec<String> {
        let mut reasons = Vec::new();
        let status = if self.status.raw.trim().is_empty() {
            self.status.kind.as_str().to_owned()
        } else {
            self.status.raw.clone()
        };
        match self.status.kind {
            StatusKind::Processing => {}
            StatusKind::OnHold => reasons.push(format!("the order is {status} in the store")),
            StatusKind::Cancelled | StatusKind::Refunded | StatusKind::Failed => {
                reasons.push(format!("the order is {status}: nothing will be printed"))
            }
            _ => reasons.push(format!("the order is {status}, not paid and processing")),
        }
        if self.flags.deleted_in_store {
            reasons.push("the order was deleted in the store".into());
        }
        if self.personalized_items().next().is_none() {
            reasons.push("no item has a print file".into());
        }
        for item in self.personalized_items() {
            let n = self.item_number(item.id);
            if let Some(p) = &item.personalization {
                let waiting: Vec<&str> = p
                    .client_images
                    .iter()
                    .filter(|c| c.object_key.is_none())
                    .map(|c| c.field.as_str())
                    .collect();
                if !waiting.is_empty() {
                    reasons.push(format!(
                        "item {n}: waiting for the customer's photo ({})",
                        waiting.join(", ")
                    ));
                    continue;
                }
            }
            match renders.get(&item.id).unwrap_or(&ItemRender::NotRendered) {
                ItemRender::NotRendered => reasons.push(format!("item {n}: not rendered")),
                ItemRender::Rendering => reasons.push(format!("item {n}: still rendering")),
                ItemRender::Failed { reason } => {
                    reasons.push(format!("item {n}: the render failed: {reason}"))
                }
                ItemRender::Done {
                    version,
                    preflight_errors,
                } => {
                    let overridden = self.preflight_overrides.get(&item.id) == Some(version);
                    if !overridden {
                        reasons.extend(preflight_errors.iter().map(|e| format!("item {n}: {e}")));
                    }
                }
            }
        }
        reasons
    }

    /// Claim the submission for `provider`: checks that it was never handed over and that
    /// nothing blocks it, then moves it to Submitting under a new attempt's id
    /// (`external_id(attempt)`, deterministic, the id the provider deduplicates on). Only
    /// in-app orders go by the countdown; every type may be submitted by the merchant.
    pub fn claim_submission(
        &mut self,
        trigger: SubmitTrigger,
        provider: &str,
        renders: &BTreeMap<i64, ItemRender>,
        external_id: impl FnOnce(u32) -> String,
        now: DateTime<Utc>,
    ) -> Result<String, SubmitRefusal> {
        if !self.submit_status.can_submit() {
            return Err(SubmitRefusal::AlreadySubmitted {
                number: self.number.clone(),
                state: self.submit_status.label().to_owned(),
            });
        }
        let mut reasons = self.submission_blockers(renders);
        if trigger == SubmitTrigger::Countdown {
            if self.order_type != OrderType::InApp {
                reasons.insert(
                    0,
                    format!(
                        "only in-app orders are submitted automatically (this one is {})",
                        self.order_type.as_str()
                    ),
                );
            }
            if !self.countdown.is_due(now) {
                reasons.insert(0, "the countdown has not reached zero".into());
            }
        }
        if !reasons.is_empty() {
            return Err(SubmitRefusal::NotReady {
                number: self.number.clone(),
                reasons,
            });
        }
        self.submission_attempts += 1;
        let id = external_id(self.submission_attempts);
        self.submit_status = SubmitStatus::Submitting {
            provider: provider.to_owned(),
            external_id: id.clone(),
            at: now,
            sends: 0,
        };
        self.countdown.clear();
        self.submission_blocked = None;
        Ok(id)
    }

    /// The merchant accepts the preflight errors of an item's render version.
    pub fn override_preflight(&mut self, item_id: i64, version: i64) -> bool {
        self.preflight_overrides.insert(item_id, version) != Some(version)
    }
}
