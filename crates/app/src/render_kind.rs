//! The render job kind, declared next to the use case it runs (`render_job.rs`): a
//! personalized line item rendered and stored, then recorded in the transaction that
//! completes the job. Render class: bounded by memory.

use std::sync::Arc;
use std::time::Duration;

use jobs::{Completion, Job, JobKind, ResourceClass, RetryPolicy};
use storage::{ClaimedJob, StorageError};

use crate::import::RenderJob;
use crate::{App, AppError, RENDER_JOB};

/// `render`: one line item's print file, preview, mockup and report.
pub struct RenderKind;

impl JobKind<App> for RenderKind {
    type Payload = RenderJob;
    type Error = AppError;
    const NAME: &'static str = RENDER_JOB;
    const CLASS: ResourceClass = ResourceClass::Render;

    /// 8 attempts, 2 s doubling up to 5 minutes, on retryable errors (storage, database, a
    /// render stopped by its time bound); a bad template or photo is final.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::default()
    }

    async fn run(
        &self,
        app: Arc<App>,
        job: &Job,
        _payload: RenderJob,
    ) -> Result<Completion, AppError> {
        let claimed = &job.claimed;
        let output = match app.render_and_store(claimed, job.stop.clone()).await {
            Ok(output) => output,
            // The renderer says "ran past its time bound" for any stop; when the runner asked
            // it to stop (lease lost, shutdown), say that instead.
            Err(AppError::Render(renderer::RenderError::Stopped) | AppError::Stopped(_))
                if job.should_stop() =>
            {
                return Err(AppError::Stopped("lease lost or shutdown"));
            }
            Err(e) => return Err(e),
        };
        let row = record_with_retries(&app, claimed, &output, &job.worker, job.lease).await?;
        app.metrics
            .render_seconds
            .with_label_values(&[&output.render.template_id])
            .observe(output.duration.as_secs_f64());
        tracing::info!(
            version = row.version,
            seconds = output.duration.as_secs_f64(),
            "rendered"
        );
        Ok(Completion::Recorded)
    }

    async fn dead(&self, app: Arc<App>, job: &Job, error: &AppError) {
        if let Err(e) = app
            .record_render_failure(&job.claimed, error, &job.worker)
            .await
        {
            tracing::warn!(job = job.claimed.id, error = %e, "cannot record the failure in the order history");
        }
    }
}

/// The files are stored; recording may meet a database that is restarting. Keep trying while
/// the lease could still be ours; after that the job will be re-run (same content, same keys).
async fn record_with_retries(
    app: &App,
    job: &ClaimedJob,
    output: &crate::render_job::RenderOutput,
    worker: &str,
    lease: Duration,
) -> Result<storage::RenderRow, AppError> {
    let start = std::time::Instant::now();
    loop {
        match app.record_render(job, output, worker).await {
            Err(e)
                if e.is_retryable()
                    && !matches!(e, AppError::Storage(StorageError::StaleToken { .. }))
                    && start.elapsed() < lease * 2 =>
            {
                tracing::warn!(job = job.id, error = %e, "cannot record the render yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => return other,
        }
    }
}
