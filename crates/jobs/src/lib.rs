//! The job runner: every kind of background job, known only by registration.
//!
//! A job kind is declared once, next to the use case that enqueues it, as a [`JobKind`]: its
//! name, payload type, handler, [`RetryPolicy`] and [`ResourceClass`]. The application puts
//! its kinds (and its periodic schedules) in a [`Registry`]; a [`Runner`] claims jobs of the
//! registered kinds from the queue in `storage` with one claim loop and one set of slots per
//! resource class, so I/O jobs never wait behind renders. This crate knows nothing of orders:
//! it is generic over the application's context ([`JobContext`]).

#![forbid(unsafe_code)]

mod kind;
mod registry;
mod runner;

pub use kind::{
    Backoff, Completion, Failure, Job, JobContext, JobKind, ResourceClass, RetryOn, RetryPolicy,
};
pub use registry::{Periodic, Registry};
pub use runner::{Runner, RunnerOptions, RunnerStats};

use thiserror::Error;

/// The runner's errors.
#[derive(Debug, Error)]
pub enum JobsError {
    #[error("unknown job kind {name:?}; known kinds: {}", .known.join(", "))]
    UnknownKind { name: String, known: Vec<String> },
    #[error("job kind {0:?} is registered twice")]
    DuplicateKind(String),
    #[error("{0}")]
    Storage(#[from] storage::StorageError),
}

impl JobsError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, JobsError::Storage(e) if e.is_retryable())
    }
}
