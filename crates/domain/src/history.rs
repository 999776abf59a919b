//! The order's append-only history: every import, webhook, render, edit, preflight,
//! submission attempt, status change, tracking update and note, with who and when.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Who did something. Serializes as its [`Actor::label`] ("worker:w1") so it fits one text
/// column and reads well in logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Actor {
    /// Pressroom itself (countdown, reconcile poll).
    System,
    /// The store (webhook, import).
    Store,
    Worker(String),
    Merchant(String),
    Provider(String),
}

impl Actor {
    /// "system", "store", "worker:<id>", "merchant:<name>", "provider:<name>".
    pub fn label(&self) -> String {
        match self {
            Actor::System => "system".to_owned(),
            Actor::Store => "store".to_owned(),
            Actor::Worker(id) => format!("worker:{id}"),
            Actor::Merchant(name) => format!("merchant:{name}"),
            Actor::Provider(name) => format!("provider:{name}"),
        }
    }

    /// The actor a [`label`](Actor::label) names; a label of no known shape is a merchant's
    /// name as it was written.
    pub fn from_label(label: &str) -> Actor {
        match label.split_once(':') {
            _ if label == "system" => Actor::System,
            _ if label == "store" => Actor::Store,
            Some(("worker", id)) => Actor::Worker(id.to_owned()),
            Some(("merchant", name)) => Actor::Merchant(name.to_owned()),
            Some(("provider", name)) => Actor::Provider(name.to_owned()),
            _ => Actor::Merchant(label.to_owned()),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// A label that is not an [`Actor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("unknown actor {0:?}")]
pub struct UnknownActor(pub String);

/// Parses what [`Actor::label`] produces (the part after ':' is kept verbatim).
impl FromStr for Actor {
    type Err = UnknownActor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "system" => return Ok(Actor::System),
            "store" => return Ok(Actor::Store),
            _ => {}
        }
        match s.split_once(':') {
            Some(("worker", id)) => Ok(Actor::Worker(id.to_owned())),
            Some(("merchant", name)) => Ok(Actor::Merchant(name.to_owned())),
            Some(("provider", name)) => Ok(Actor::Provider(name.to_owned())),
            _ => Err(UnknownActor(s.to_owned())),
        }
    }
}

impl From<Actor> for String {
    fn from(a: Actor) -> String {
        a.label()
    }
}

impl TryFrom<String> for Actor {
    type Error = UnknownActor;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Imported,
    Updated,
    WebhookReceived,
    StatusChanged,
    RenderRequested,
    Rendered,
    RenderFailed,
    Edited,
    Preflight,
    SubmissionAttempt,
    Submitted,
    SubmissionFailed,
    Tracking,
    Note,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 14] = [
        EventKind::Imported,
        EventKind::Updated,
        EventKind::WebhookReceived,
        EventKind::StatusChanged,
        EventKind::RenderRequested,
        EventKind::Rendered,
        EventKind::RenderFailed,
        EventKind::Edited,
        EventKind::Preflight,
        EventKind::SubmissionAttempt,
        EventKind::Submitted,
        EventKind::SubmissionFailed,
        EventKind::Tracking,
        EventKind::Note,
    ];

    /// Stable snake_case name (also the serde form), fit for a database column.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Imported => "imported",
            EventKind::Updated => "updated",
            EventKind::WebhookReceived => "webhook_received",
            EventKind::StatusChanged => "status_changed",
            EventKind::RenderRequested => "render_requested",
            EventKind::Rendered => "rendered",
            EventKind::RenderFailed => "render_failed",
            EventKind::Edited => "edited",
            EventKind::Preflight => "preflight",
            EventKind::SubmissionAttempt => "submission_attempt",
            EventKind::Submitted => "submitted",
            EventKind::SubmissionFailed => "submission_failed",
            EventKind::Tracking => "tracking",
            EventKind::Note => "note",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an [`EventKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("unknown event kind {0:?}")]
pub struct UnknownEventKind(pub String);

impl FromStr for EventKind {
    type Err = UnknownEventKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownEventKind(s.to_owned()))
    }
}

/// One entry in an order's history. Never updated or deleted once written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub kind: EventKind,
    pub message: String,
    /// Details worth keeping verbatim (a webhook's raw body, a provider's answer).
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
}

impl HistoryEvent {
    pub fn new(
        at: DateTime<Utc>,
        actor: Actor,
        kind: EventKind,
        message: impl Into<String>,
    ) -> Self {
        HistoryEvent {
            at,
            actor,
            kind,
            message: message.into(),
            payload: None,
        }
    }

    pub fn with_payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = Some(payload);
        self
    }
}
