//! What a job kind declares: name, payload, handler, retry policy and resource class, and
//! the context a handler runs in.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use storage::{ClaimedJob, Db, NewJob};

/// What the runner needs from the application: the database and the clock (injected, so
/// tests set the time), and optional hooks for metrics.
pub trait JobContext: Send + Sync + 'static {
    fn db(&self) -> &Db;
    fn now(&self) -> DateTime<Utc>;
    /// A job of `kind` left the runner as `state` (`done`, `dead`).
    fn job_finished(&self, _kind: &str, _state: &str) {}
    /// A job of `kind` failed with `code` (retried or not), or was taken over (`stale_token`,
    /// `lease_lost`).
    fn job_failed(&self, _kind: &str, _code: &str) {}
}

/// Which slots a job takes. Each class has its own slots and its own claim loop, so a class
/// never waits for another's slots to free up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceClass {
    /// CPU- and memory-bound (a 300-DPI render): few at once, bounded by memory.
    Render,
    /// Waits on other systems (HTTP calls, webhooks, polls): many at once.
    Io,
}

impl ResourceClass {
    pub fn as_str(&self) -> &'static str {
        match self {
            ResourceClass::Render => "render",
            ResourceClass::Io => "io",
        }
    }
}

/// Exponential backoff: `first`, then doubled after each failed attempt, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The same delay after every attempt.
    pub fn fixed(delay: Duration) -> Backoff {
        Backoff {
            first: delay,
            max: delay,
        }
    }

    /// The delay after the `attempts`-th failed attempt (1-based).
    pub fn after(&self, attempts: i64) -> Duration {
        let exp = u32::try_from(attempts.clamp(1, 31) - 1).unwrap_or(0);
        self.first
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// Which failures are tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOn {
    /// Failures whose error says trying again may help ([`Failure::is_retryable`]).
    Retryable,
    /// Every failure (an outside system that fails in ways it does not describe).
    Any,
    /// None: the first failure is final.
    Never,
}

/// How often and when a failed job is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (stored on the job when it is enqueued, so the
    /// reaper honours it too).
    pub max_attempts: i64,
    pub backoff: Backoff,
    pub retry_on: RetryOn,
}

impl Default for RetryPolicy {
    /// 8 attempts, 2 s doubling up to 5 minutes, on retryable errors (the render job's policy
    /// before kinds existed).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            backoff: Backoff {
                first: Duration::from_secs(2),
                max: Duration::from_secs(300),
            },
            retry_on: RetryOn::Retryable,
        }
    }
}

impl RetryPolicy {
    /// When to try again after the `attempts`-th attempt failed with an error that is
    /// `retryable` or not; `None` when the failure is final.
    pub fn retry_at(
        &self,
        attempts: i64,
        max_attempts: i64,
        retryable: bool,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let wanted = match self.retry_on {
            RetryOn::Retryable => retryable,
            RetryOn::Any => true,
            RetryOn::Never => false,
        };
        (wanted && attempts < max_attempts).then(|| {
            now + chrono::Duration::from_std(self.backoff.after(attempts)).unwrap_or_default()
        })
    }
}

/// A handler's error: whether it is worth retrying and a stable code for metrics.
pub trait Failure: std::error::Error + Send + Sync + 'static {
    fn is_retryable(&self) -> bool;
    fn code(&self) -> &'static str {
        "error"
    }
    /// The job was taken over by another worker (its token went stale): the runner records
    /// nothing for it.
    fn is_taken_over(&self) -> bool {
        false
    }
}

/// How a handler's success is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The runner completes the job.
    Complete,
    /// The handler completed the job itself (`Db::complete` with the job's token) in the
    /// transaction that recorded its result.
    Recorded,
}

/// A claimed job as its handler sees it.
#[derive(Debug, Clone)]
pub struct Job {
    pub claimed: ClaimedJob,
    /// The worker's name, for history and logs.
    pub worker: String,
    /// The lease length the runner keeps renewing.
    pub lease: Duration,
    /// Set when the handler must stop early: the lease was lost, or shutdown ran past its
    /// grace period.
    pub stop: Arc<AtomicBool>,
}

impl Job {
    pub fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A kind of job, declared once next to the use case that enqueues it.
pub trait JobKind<C: JobContext>: Send + Sync + 'static {
    /// The payload, stored as JSON in the job row.
    type Payload: Serialize + DeserializeOwned + Send + 'static;
    type Error: Failure;
    /// The kind's name in the queue (stable: it is stored in job rows).
    const NAME: &'static str;
    const CLASS: ResourceClass;

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::default()
    }

    /// Do the work. Runs under a lease that the runner keeps alive; `job.stop` asks it to
    /// stop early.
    fn run(
        &self,
        ctx: Arc<C>,
        job: &Job,
        payload: Self::Payload,
    ) -> impl Future<Output = Result<Completion, Self::Error>> + Send;

    /// Called once when a job of this kind is dead-lettered (to tell the merchant, say).
    fn dead(
        &self,
        _ctx: Arc<C>,
        _job: &Job,
        _error: &Self::Error,
    ) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// A job of this kind, ready to enqueue: its name, payload and the policy's attempts.
    fn new_job(&self, payload: &Self::Payload, now: DateTime<Utc>) -> NewJob {
        let mut job = NewJob::new(
            Self::NAME,
            serde_json::to_value(payload).expect("job payloads serialize"),
            now,
        );
        job.max_attempts = self.retry_policy().max_attempts;
        job
    }
}
