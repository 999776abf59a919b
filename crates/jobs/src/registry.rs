//! The kinds a runner knows: registered by the application, each with its handler behind a
//! type-erased entry, plus the periodic schedules.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use storage::{FailOutcome, NewJob, StorageError};
use tokio_util::sync::CancellationToken;

use crate::JobsError;
use crate::kind::{Completion, Failure, Job, JobContext, JobKind, ResourceClass, RetryPolicy};

/// A job enqueued once per `period` (aligned to the Unix epoch) by whichever runner gets
/// there first.
#[derive(Debug, Clone)]
pub struct Periodic {
    /// The schedule's name (its row in the `periodic` table).
    pub name: String,
    pub period: Duration,
    /// The job to enqueue; `run_at` is set when it fires.
    pub job: NewJob,
}

/// The job kinds (and periodic schedules) an application offers its runners.
pub struct Registry<C> {
    kinds: BTreeMap<&'static str, Arc<dyn Erased<C>>>,
    periodic: Vec<Periodic>,
}

impl<C: JobContext> Default for Registry<C> {
    fn default() -> Self {
        Registry {
            kinds: BTreeMap::new(),
            periodic: vec![],
        }
    }
}

impl<C: JobContext> Registry<C> {
    pub fn new() -> Registry<C> {
        Registry::default()
    }

    /// Add a kind. Each name once.
    pub fn register<K: JobKind<C>>(&mut self, kind: K) -> Result<&mut Self, JobsError> {
        if self.kinds.contains_key(K::NAME) {
            return Err(JobsError::DuplicateKind(K::NAME.into()));
        }
        self.kinds.insert(K::NAME, Arc::new(Entry(Arc::new(kind))));
        Ok(self)
    }

    /// Enqueue a job of kind `K` (registered) once per `period`.
    pub fn periodic<K: JobKind<C>>(
        &mut self,
        name: &str,
        period: Duration,
        kind: &K,
        payload: &K::Payload,
    ) -> Result<&mut Self, JobsError> {
        if !self.kinds.contains_key(K::NAME) {
            return Err(self.unknown(K::NAME));
        }
        self.periodic.push(Periodic {
            name: name.into(),
            period,
            job: kind.new_job(payload, chrono::DateTime::UNIX_EPOCH),
        });
        Ok(self)
    }

    /// The registered kinds' names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }

    /// The kinds named (all when `wanted` is empty); an unknown name is refused with the list
    /// of known ones.
    pub fn select(&self, wanted: &[String]) -> Result<Vec<&'static str>, JobsError> {
        if wanted.is_empty() {
            return Ok(self.names());
        }
        let mut out = vec![];
        for name in wanted {
            let (&known, _) = self
                .kinds
                .get_key_value(name.as_str())
                .ok_or_else(|| self.unknown(name))?;
            if !out.contains(&known) {
                out.push(known);
            }
        }
        Ok(out)
    }

    pub fn class_of(&self, name: &str) -> Option<ResourceClass> {
        self.kinds.get(name).map(|k| k.class())
    }

    pub fn periodic_schedules(&self) -> &[Periodic] {
        &self.periodic
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<dyn Erased<C>>> {
        self.kinds.get(name)
    }

    fn unknown(&self, name: &str) -> JobsError {
        JobsError::UnknownKind {
            name: name.into(),
            known: self.names().into_iter().map(String::from).collect(),
        }
    }
}

/// What the runner hands a job besides the job itself.
pub(crate) struct Run {
    pub job: Job,
    /// Set by the heartbeat when the lease was lost.
    pub lost: Arc<AtomicBool>,
    pub shutdown: CancellationToken,
}

pub(crate) trait Erased<C>: Send + Sync {
    fn class(&self) -> ResourceClass;
    fn execute(&self, ctx: Arc<C>, run: Run) -> BoxFuture<'static, ()>;
}

struct Entry<K>(Arc<K>);

impl<C: JobContext, K: JobKind<C>> Erased<C> for Entry<K> {
    fn class(&self) -> ResourceClass {
        K::CLASS
    }

    fn execute(&self, ctx: Arc<C>, run: Run) -> BoxFuture<'static, ()> {
        Box::pin(execute(self.0.clone(), ctx, run))
    }
}

/// Run one job and record what became of it, by the kind's policy.
async fn execute<C: JobContext, K: JobKind<C>>(kind: Arc<K>, ctx: Arc<C>, run: Run) {
    let Run {
        job,
        lost,
        shutdown,
    } = run;
    let claimed = &job.claimed;
    let db = ctx.db();
    let payload = match serde_json::from_value::<K::Payload>(claimed.payload.clone()) {
        Ok(payload) => payload,
        Err(e) => {
            // No attempt can read it: dead at once, with the reason.
            ctx.job_failed(K::NAME, "bad_payload");
            let message = format!("job payload of kind {}: {e}", K::NAME);
            tracing::error!(error = %message, "job failed for good");
            match db.fail_at(claimed, &message, None, ctx.now()).await {
                Ok(_) => ctx.job_finished(K::NAME, "dead"),
                Err(e2) => {
                    tracing::warn!(error = %e2, "cannot record the failure; the lease will expire")
                }
            }
            return;
        }
    };
    match kind.run(ctx.clone(), &job, payload).await {
        Ok(Completion::Recorded) => ctx.job_finished(K::NAME, "done"),
        Ok(Completion::Complete) => {
            match db.complete_now(claimed.id, claimed.token, ctx.now()).await {
                Ok(()) => ctx.job_finished(K::NAME, "done"),
                Err(StorageError::StaleToken { .. }) => {
                    ctx.job_failed(K::NAME, "stale_token");
                    tracing::warn!("job was taken over; this result is discarded");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot complete the job; its lease will expire and it runs again")
                }
            }
        }
        Err(e) if e.is_taken_over() => {
            ctx.job_failed(K::NAME, "stale_token");
            tracing::warn!("job was taken over; this result is discarded");
        }
        Err(_) if lost.load(Ordering::Relaxed) => ctx.job_failed(K::NAME, "lease_lost"),
        Err(e) if job.should_stop() && shutdown.is_cancelled() => {
            // Stopped because shutdown outlasted its grace period, whatever the handler's own
            // error says about why it stopped.
            tracing::info!(handler_said = %e, "shutdown: the grace period ended before the job finished; releasing it to the queue");
            if let Err(e) = db.release(claimed, ctx.now()).await {
                tracing::warn!(error = %e, "cannot release; its lease will expire");
            }
        }
        Err(e) => {
            ctx.job_failed(K::NAME, e.code());
            let policy: RetryPolicy = kind.retry_policy();
            let now = ctx.now();
            let retry_at = policy.retry_at(
                claimed.attempts,
                claimed.max_attempts,
                e.is_retryable(),
                now,
            );
            match db.fail_at(claimed, &e.to_string(), retry_at, now).await {
                Ok(FailOutcome::Retry { at }) => {
                    tracing::warn!(error = %e, retry_at = %at, "job failed; will retry")
                }
                Ok(FailOutcome::Dead) => {
                    tracing::error!(error = %e, "job failed for good");
                    ctx.job_finished(K::NAME, "dead");
                    kind.dead(ctx.clone(), &job, &e).await;
                }
                Err(e2) => {
                    tracing::warn!(error = %e, error2 = %e2, "cannot record the failure; the lease will expire")
                }
            }
        }
    }
}
