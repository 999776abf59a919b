//! One error type for the storage crate, with predicates the callers decide on.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: expected sqlite:… or postgres://…")]
    UnsupportedUrl(String),
    #[error("order {store_id}/{store_order_id} already exists as order {existing}")]
    DuplicateOrder {
        store_id: String,
        store_order_id: i64,
        existing: i64,
    },
    #[error("a job with key {key:?} is already queued or running (job {existing})")]
    DuplicateJob { key: String, existing: i64 },
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("{what} {id} was changed by someone else; reload and try again")]
    Conflict { what: &'static str, id: String },
    #[error(
        "job {job} is no longer held with token {token}: its lease expired and it was taken over"
    )]
    StaleToken { job: i64, token: i64 },
    #[error("stored document for {what} {id} is unreadable: {message}")]
    Corrupt {
        what: &'static str,
        id: String,
        message: String,
    },
    #[error("object storage: {0}")]
    Object(#[from] object_store::Error),
    #[error("object storage configuration: {0}")]
    ObjectConfig(String),
}

impl StorageError {
    /// Whether trying again later may succeed (the database or bucket was unreachable).
    pub fn is_retryable(&self) -> bool {
        match self {
            StorageError::Database(e) => {
                matches!(
                    e,
                    sqlx::Error::Io(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::Tls(_)
                        | sqlx::Error::Protocol(_)
                        | sqlx::Error::WorkerCrashed
                ) || is_transient_db(e)
            }
            StorageError::Object(e) => !matches!(
                e,
                object_store::Error::NotFound { .. } | object_store::Error::AlreadyExists { .. }
            ),
            StorageError::Conflict { .. } => true,
            _ => false,
        }
    }

    /// Stable code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            StorageError::Database(_) | StorageError::Migrate(_) => "database",
            StorageError::UnsupportedUrl(_) => "bad_database_url",
            StorageError::DuplicateOrder { .. } => "duplicate_order",
            StorageError::DuplicateJob { .. } => "duplicate_job",
            StorageError::NotFound { .. } => "not_found",
            StorageError::Conflict { .. } => "conflict",
            StorageError::StaleToken { .. } => "stale_token",
            StorageError::Corrupt { .. } => "corrupt",
            StorageError::Object(_) | StorageError::ObjectConfig(_) => "object_storage",
        }
    }
}

/// Serialization failures, deadlocks, a busy SQLite file, a Postgres server shutting down.
fn is_transient_db(e: &sqlx::Error) -> bool {
    if let sqlx::Error::Database(d) = e {
        let code = d.code().unwrap_or_default();
        // 40001 serialization_failure, 40P01 deadlock, 57P01..3 admin/crash shutdown,
        // 08xxx connection exceptions; SQLite 5 BUSY, 6 LOCKED, 261/517 BUSY_RECOVERY/SNAPSHOT.
        return matches!(
            &*code,
            "40001" | "40P01" | "57P01" | "57P02" | "57P03" | "5" | "6" | "261" | "517"
        ) || code.starts_with("08");
    }
    false
}
