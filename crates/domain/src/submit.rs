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
    Submitted {
        provider: String,
        provider_order_id: Option<String>,
        at: DateTime<Utc>,
    },
    /// The provider refused it (or it never left): safe to fix and submit again.
    Failed { reason: String, at: DateTime<Utc> },
    /// The outcome is unknown (timeout, ambiguous answer): a person must look before anything
    /// else happens, because the provider may already be printing it.
    Review { reason: String, at: DateTime<Utc> },
}

impl SubmitStatus {
    /// The label the merchant sees in the order list ("" for blank).
    pub fn label(&self) -> &'static str {
        match self {
            SubmitStatus::Blank => "",
            SubmitStatus::Submitted { .. } => "Submitted",
            SubmitStatus::Failed { .. } => "Failed",
            SubmitStatus::Review { .. } => "Review",
        }
    }

    /// Submitted or Review: the provider may have the files, so no more edits or renders.
    pub fn design_locked(&self) -> bool {
        matches!(
            self,
            SubmitStatus::Submitted { .. } | SubmitStatus::Review { .. }
        )
    }

    /// Blank or Failed: nothing can have reached the provider.
    pub fn can_submit(&self) -> bool {
        matches!(self, SubmitStatus::Blank | SubmitStatus::Failed { .. })
    }
}
