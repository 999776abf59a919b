//! The store's order status: kept verbatim, with a normalized kind beside it for logic.
//!
//! Merchants see their store's own wording ("On hold", custom statuses from plugins), so the
//! raw string is never rewritten; only [`StatusKind`] is used to decide anything.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a store status means to Pressroom, whatever its spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusKind {
    Pending,
    Processing,
    OnHold,
    Completed,
    Cancelled,
    Refunded,
    Failed,
    Draft,
    /// A status Pressroom does not know (custom statuses, "trash", empty): never acted on.
    #[default]
    Other,
}

impl StatusKind {
    /// Every kind, in declaration order (handy for tables and UI filters).
    pub const ALL: [StatusKind; 9] = [
        StatusKind::Pending,
        StatusKind::Processing,
        StatusKind::OnHold,
        StatusKind::Completed,
        StatusKind::Cancelled,
        StatusKind::Refunded,
        StatusKind::Failed,
        StatusKind::Draft,
        StatusKind::Other,
    ];

    /// Derive the kind from any spelling a store may send.
    ///
    /// Trims, lowercases, treats `' '` and `'_'` as `'-'` (runs collapse to one), and strips the
    /// `wc-` prefix WordPress uses for post statuses: "On hold", "on-hold", "wc-on-hold" and
    /// "ON_HOLD" are all [`StatusKind::OnHold`]. Unknown strings are [`StatusKind::Other`].
    pub fn normalize(raw: &str) -> StatusKind {
        let mut norm = String::with_capacity(raw.len());
        for c in raw.trim().chars().flat_map(char::to_lowercase) {
            let c = if c == ' ' || c == '_' { '-' } else { c };
            // Collapse "on  hold" / "on - hold" style runs so they still match.
            if c == '-' && norm.ends_with('-') {
                continue;
            }
            norm.push(c);
        }
        let norm = norm.trim_matches('-');
        let norm = norm.strip_prefix("wc-").unwrap_or(norm);
        match norm {
            "pending" | "pending-payment" => StatusKind::Pending,
            "processing" => StatusKind::Processing,
            "on-hold" | "onhold" => StatusKind::OnHold,
            "completed" | "complete" => StatusKind::Completed,
            // US spelling shows up in plugins and other platforms.
            "cancelled" | "canceled" => StatusKind::Cancelled,
            "refunded" => StatusKind::Refunded,
            "failed" => StatusKind::Failed,
            "checkout-draft" | "draft" => StatusKind::Draft,
            _ => StatusKind::Other,
        }
    }

    /// Stable lowercase name, also the serde form.
    pub fn as_str(&self) -> &'static str {
        match self {
            StatusKind::Pending => "pending",
            StatusKind::Processing => "processing",
            StatusKind::OnHold => "on-hold",
            StatusKind::Completed => "completed",
            StatusKind::Cancelled => "cancelled",
            StatusKind::Refunded => "refunded",
            StatusKind::Failed => "failed",
            StatusKind::Draft => "draft",
            StatusKind::Other => "other",
        }
    }

    /// The store will not move this order forward any more.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            StatusKind::Completed
                | StatusKind::Cancelled
                | StatusKind::Refunded
                | StatusKind::Failed
        )
    }

    /// Only a paid order that the store is processing may go to a print provider.
    pub fn allows_submission(&self) -> bool {
        matches!(self, StatusKind::Processing)
    }
}

impl fmt::Display for StatusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The store's status exactly as received, never altered, plus the derived kind.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StoreStatus {
    pub raw: String,
    pub kind: StatusKind,
}

impl StoreStatus {
    pub fn new(raw: impl Into<String>) -> Self {
        let raw = raw.into();
        let kind = StatusKind::normalize(&raw);
        StoreStatus { raw, kind }
    }
}

/// Shows the store's own wording.
impl fmt::Display for StoreStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}
