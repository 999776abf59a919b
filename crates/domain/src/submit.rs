//! Where an order stands with the print provider.
//!
//! The hand-off must happen exactly once, so the states that may have reached the provider
//! ([`SubmitStatus::Submitted`] and [`SubmitStatus::Review`]) lock the design and forbid
//! another submission; only a known failure may be retried.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SubmitStatus {
    /// Never handed to a provider.
    #[default]
    Blank,
    /// Claimed for a provider: the hand-off is under way (or its outcome is being found
    /// out). `sends` counts the requests started, so a worker that takes over after a crash
    /// knows whether one may have arrived.
    Submitting {
        provider: String,
        external_id: String,
        at: DateTime<Utc>,
        #[serde(default)]
        sends: u32,
    },
    Submitted {
        provider: String,
        provider_order_id: Option<String>,
        at: DateTime<Utc>,
        /// Our id the provider knows the order by (absent for orders submitted before
        /// providers were integrated).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
    },
    /// The provider refused it (or it never left): safe to fix and submit again.
    Failed { reason: String, at: DateTime<Utc> },
    /// The outcome is unknown (timeout, ambiguous answer): a person must look before anything
    /// else happens, because the provider may already be printing it.
    Review {
        reason: String,
        at: DateTime<Utc>,
        /// The provider and our id of the claim whose outcome is unknown.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
    },
}

impl SubmitStatus {
    /// The label the merchant sees in the order list ("" for blank).
    pub fn label(&self) -> &'static str {
        match self {
            SubmitStatus::Blank => "",
            SubmitStatus::Submitting { .. } => "Submitting",
            SubmitStatus::Submitted { .. } => "Submitted",
            SubmitStatus::Failed { .. } => "Failed",
            SubmitStatus::Review { .. } => "Review",
        }
    }

    /// Submitting, Submitted or Review: the provider may have the files, so no more edits or
    /// renders.
    pub fn design_locked(&self) -> bool {
        matches!(
            self,
            SubmitStatus::Submitting { .. }
                | SubmitStatus::Submitted { .. }
                | SubmitStatus::Review { .. }
        )
    }

    /// The provider this order was claimed for or handed to (or whose answer is in review).
    pub fn provider(&self) -> Option<&str> {
        match self {
            SubmitStatus::Submitting { provider, .. }
            | SubmitStatus::Submitted { provider, .. } => Some(provider),
            SubmitStatus::Review { provider, .. } => provider.as_deref(),
            _ => None,
        }
    }

    /// Our id at the provider, once claimed.
    pub fn external_id(&self) -> Option<&str> {
        match self {
            SubmitStatus::Submitting { external_id, .. } => Some(external_id),
            SubmitStatus::Submitted { external_id, .. }
            | SubmitStatus::Review { external_id, .. } => external_id.as_deref(),
            _ => None,
        }
    }

    /// Blank or Failed: nothing can have reached the provider.
    pub fn can_submit(&self) -> bool {
        matches!(self, SubmitStatus::Blank | SubmitStatus::Failed { .. })
    }
}
