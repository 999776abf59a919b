//! Housekeeping that no request asks for: the periodic sweep of staging files that writers
//! killed mid-write leave in the local files folder (`<key>#N`, up to a print file each).
//! Declared as a periodic I/O job, so one worker of the farm sweeps once per period, whichever
//! gets there first; every worker also sweeps once when it starts.

use std::sync::Arc;
use std::time::Duration;

use jobs::{Backoff, Completion, Job, JobKind, ResourceClass, RetryOn, RetryPolicy};
use serde::{Deserialize, Serialize};

use crate::{App, AppError};

/// The kind's name in the queue.
pub const SWEEP_STAGING_JOB: &str = "sweep_staging";

/// How often the farm sweeps by default.
pub const SWEEP_STAGING_EVERY: Duration = Duration::from_secs(3600);

/// The sweep's payload: nothing to say, the folder and the grace period are the app's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SweepStaging {}

/// `sweep_staging`: remove staging files older than [`storage::files::STAGING_GRACE`].
pub struct SweepStagingKind;

impl JobKind<App> for SweepStagingKind {
    type Payload = SweepStaging;
    type Error = AppError;
    const NAME: &'static str = SWEEP_STAGING_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    /// A few quick retries: the next period sweeps again anyway.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            backoff: Backoff::fixed(Duration::from_secs(10)),
            retry_on: RetryOn::Retryable,
        }
    }

    async fn run(
        &self,
        app: Arc<App>,
        _job: &Job,
        _payload: SweepStaging,
    ) -> Result<Completion, AppError> {
        let removed = sweep_staging(&app).await?;
        if removed > 0 {
            tracing::warn!(
                files = removed,
                "removed staging files of interrupted writes"
            );
        }
        Ok(Completion::Complete)
    }
}

/// Remove the stale staging files now; returns how many went.
pub async fn sweep_staging(app: &App) -> Result<usize, AppError> {
    // Staging files carry the file system's times, so the sweep reads the system clock, not
    // the app's (which tests may have moved).
    let removed = app
        .files
        .sweep_staging(storage::files::STAGING_GRACE, std::time::SystemTime::now())
        .await?;
    Ok(removed.len())
}
