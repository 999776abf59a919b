//! Pressroom's memory: the database (an embedded SQLite file by default, Postgres by URL for a
//! render farm), the repositories over it, the job queue, and object storage for files.
//!
//! Everything here is I/O at the edge: the rules live in `domain`, the callers pass `now`.
#![forbid(unsafe_code)]

pub mod dashboard;
pub mod db;
pub mod error;
pub mod files;
pub mod outbound;
pub mod providers;
pub mod queue;
pub mod repo;
pub mod stores;
pub mod users;

pub use dashboard::{OrderCount, OrderListPage, OrderQuery, OrderSort};
pub use db::{Db, DbOptions, Dialect, Tx};
pub use error::StorageError;
pub use files::{Files, FilesConfig, StoredObject, UrlMode};
pub use outbound::{
    AttemptEnd, EndpointRow, NewEndpoint, NewOutboundDelivery, OutboundAttempt, OutboundAttemptRow,
    OutboundDeliveryRow, OutboundState,
};
pub use providers::{ProviderAccountRow, ProviderWebhookRow};
pub use queue::{ClaimedJob, Enqueued, FailOutcome, JobRow, JobState, NewJob, QueueCounts};
pub use repo::{NewRender, OrderRow, RenderRow, TemplateRow};
pub use stores::{
    DeliveryRow, ImportProgress, ImportRow, NewDelivery, NewOutbox, OutboxRow, StoreRow,
};
pub use users::{SessionRow, TokenRow, UserRow};

/// `($1, $2, …), ($n+1, …)`: the VALUES of a multi-row INSERT of `rows` rows of `cols`
/// parameters each (both dialects number parameters the same way).
pub(crate) fn values_placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Unix milliseconds, the one time representation in both schemas.
pub fn millis(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

/// The inverse of [`millis`].
pub fn from_millis(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
