//! The worker loop: claim render jobs (up to a memory-aware number at once), keep their
//! leases alive with heartbeats, render and store, record; return expired leases of dead
//! workers to the queue; on shutdown stop claiming, let running renders finish within a grace
//! period, then release what is left.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use storage::{ClaimedJob, FailOutcome, StorageError};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{App, AppError, RENDER_JOB};

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Names this worker in job rows, logs and history (`host-pid` by default).
    pub id: String,
    /// Renders at once. A 300-DPI canvas is about 100 MB and a render needs about twice that.
    pub concurrency: usize,
    pub lease: Duration,
    /// The polling backstop for wake-ups (SQLite across processes; lost notifications).
    pub poll: Duration,
    /// How long running renders may take to finish after a shutdown request.
    pub grace: Duration,
}

/// Memory a render may need at peak (canvas, template layers, encoders); used to bound
/// concurrency by the memory available.
pub const RENDER_MEMORY_BYTES: u64 = 350 * 1024 * 1024;

impl WorkerOptions {
    pub fn new(id: impl Into<String>) -> WorkerOptions {
        WorkerOptions {
            id: id.into(),
            concurrency: auto_concurrency(),
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(2),
            grace: Duration::from_secs(30),
        }
    }
}

/// min(cores, available memory / [`RENDER_MEMORY_BYTES`]), at least 1.
pub fn auto_concurrency() -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let by_memory = available_memory()
        .map(|b| (b / RENDER_MEMORY_BYTES) as usize)
        .unwrap_or(cores);
    cores.min(by_memory).max(1)
}

fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub struct Worker {
    app: Arc<App>,
    opts: WorkerOptions,
}

struct Running {
    /// Set when the render must stop (lease lost, or shutdown past its grace period).
    stop: Arc<AtomicBool>,
}

impl Worker {
    pub fn new(app: Arc<App>, opts: WorkerOptions) -> Worker {
        Worker { app, opts }
    }

    /// Run until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        let app = self.app.clone();
        let opts = Arc::new(self.opts);
        tracing::info!(worker = %opts.id, concurrency = opts.concurrency, "worker started");
        let _listener = match app.db.listen_for_jobs().await {
            Ok(l) => l.map(AbortOnDrop),
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for jobs; polling only");
                None
            }
        };
        let reaper = tokio::spawn(reap_expired(app.clone(), opts.lease / 2, shutdown.clone()));
        let slots = Arc::new(Semaphore::new(opts.concurrency.max(1)));
        let mut running: JoinSet<()> = JoinSet::new();
        let mut stops: Vec<Arc<AtomicBool>> = vec![];
        let mut db_down_since: Option<std::time::Instant> = None;

        loop {
            while running.try_join_next().is_some() {}
            stops.retain(|s| Arc::strong_count(s) > 1);
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
            };
            // Listen before looking, so an enqueue between an empty claim and the wait below
            // still wakes this worker.
            let wakeup = app.db.job_wakeup();
            let notified = wakeup.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = app.now();
            match app.db.claim(&opts.id, &[RENDER_JOB], now, opts.lease).await {
                Ok(Some(job)) => {
                    if db_down_since.take().is_some() {
                        tracing::info!(worker = %opts.id, "database reachable again");
                    }
                    let stop = Arc::new(AtomicBool::new(false));
                    stops.push(stop.clone());
                    let (app, opts, shutdown) = (app.clone(), opts.clone(), shutdown.clone());
                    // Every log line of the job carries its job and order ids.
                    let span = tracing::info_span!(
                        "job",
                        job = job.id,
                        order = job.order_id.unwrap_or_default(),
                        attempt = job.attempts,
                        worker = %opts.id
                    );
                    running.spawn(
                        async move {
                            run_job(&app, &opts, job, Running { stop }, &shutdown).await;
                            drop(permit);
                        }
                        .instrument(span),
                    );
                }
                Ok(None) => {
                    drop(permit);
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = notified => {}
                        _ = tokio::time::sleep(opts.poll) => {}
                    }
                }
                Err(e) => {
                    drop(permit);
                    if db_down_since.is_none() {
                        tracing::warn!(worker = %opts.id, error = %e, "cannot claim jobs; retrying");
                        db_down_since = Some(std::time::Instant::now());
                    }
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }

        tracing::info!(worker = %opts.id, running = running.len(), "shutting down: finishing running renders");
        let finished = tokio::time::timeout(opts.grace, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            for s in &stops {
                s.store(true, Ordering::Relaxed);
            }
            while running.join_next().await.is_some() {}
        }
        reaper.abort();
        tracing::info!(worker = %opts.id, "worker stopped");
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Return expired leases to the queue: once at start (a restarted worker first picks up
/// what its previous life left behind), then every `every`.
async fn reap_expired(app: Arc<App>, every: Duration, shutdown: CancellationToken) {
    loop {
        match app.db.requeue_expired(app.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(jobs = n, "returned jobs of stopped workers to the queue"),
            Err(e) => tracing::debug!(error = %e, "cannot check expired leases"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

async fn run_job(
    app: &Arc<App>,
    opts: &WorkerOptions,
    job: ClaimedJob,
    running: Running,
    shutdown: &CancellationToken,
) {
    let lost = Arc::new(AtomicBool::new(false));
    let heartbeat = {
        let (app, stop, lost) = (app.clone(), running.stop.clone(), lost.clone());
        let (id, token, lease) = (job.id, job.token, opts.lease);
        AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match app.db.heartbeat(id, token, app.now(), lease).await {
                    Ok(_) => {}
                    Err(StorageError::StaleToken { .. }) => {
                        tracing::warn!(job = id, "lease lost: another worker took the job over");
                        lost.store(true, Ordering::Relaxed);
                        stop.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(e) => tracing::warn!(job = id, error = %e, "heartbeat failed; retrying"),
                }
            }
        }))
    };
    let result = app.render_and_store(&job, running.stop.clone()).await;
    let result = match result {
        Ok(output) => record_with_retries(app, &job, &output, &opts.id, opts.lease)
            .await
            .map(|row| (row, output)),
        Err(e) => Err(e),
    };
    drop(heartbeat);
    match result {
        Ok((row, output)) => {
            app.metrics
                .render_seconds
                .with_label_values(&[&output.render.template_id])
                .observe(output.duration.as_secs_f64());
            app.metrics
                .jobs_finished
                .with_label_values(&[RENDER_JOB, "done"])
                .inc();
            tracing::info!(
                version = row.version,
                seconds = output.duration.as_secs_f64(),
                "rendered"
            );
        }
        Err(AppError::Storage(StorageError::StaleToken { .. })) => {
            app.metrics
                .job_failures
                .with_label_values(&[RENDER_JOB, "stale_token"])
                .inc();
            tracing::warn!(job = job.id, "job was taken over; this result is discarded");
        }
        Err(_) if lost.load(Ordering::Relaxed) => {
            app.metrics
                .job_failures
                .with_label_values(&[RENDER_JOB, "lease_lost"])
                .inc();
        }
        Err(e) if running.stop.load(Ordering::Relaxed) && shutdown.is_cancelled() => {
            tracing::info!(job = job.id, error = %e, "shutdown: releasing the job");
            if let Err(e) = app.db.release(&job, app.now()).await {
                tracing::warn!(job = job.id, error = %e, "cannot release; its lease will expire");
            }
        }
        Err(e) => {
            app.metrics
                .job_failures
                .with_label_values(&[RENDER_JOB, e.code()])
                .inc();
            match app
                .db
                .fail(&job, &e.to_string(), e.is_retryable(), app.now())
                .await
            {
                Ok(FailOutcome::Retry { at }) => {
                    tracing::warn!(job = job.id, error = %e, retry_at = %at, "render failed; will retry")
                }
                Ok(FailOutcome::Dead) => {
                    tracing::error!(job = job.id, error = %e, "render failed for good");
                    app.metrics
                        .jobs_finished
                        .with_label_values(&[RENDER_JOB, "dead"])
                        .inc();
                    if let Err(e2) = app.record_render_failure(&job, &e, &opts.id).await {
                        tracing::warn!(job = job.id, error = %e2, "cannot record the failure in the order history");
                    }
                }
                Err(e2) => {
                    tracing::warn!(job = job.id, error = %e2, "cannot record the failure; the lease will expire")
                }
            }
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
