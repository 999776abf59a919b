//! The worker: the application's job kinds in a [`jobs::Registry`], run by a
//! [`jobs::Runner`] (claim loops per resource class, heartbeats, reaper, periodic schedules,
//! graceful shutdown). Render jobs take memory-bounded slots; I/O jobs their own, many more.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs::{Registry, Runner, RunnerOptions};
use tokio_util::sync::CancellationToken;

use crate::housekeeping::{SWEEP_STAGING_EVERY, SWEEP_STAGING_JOB, SweepStaging, SweepStagingKind};
use crate::render_kind::RenderKind;
use crate::store_import::{
    ImportKind, RECONCILE_EVERY, RECONCILE_STORES_JOB, ReconcileStoreKind, ReconcileStores,
    ReconcileStoresKind,
};
use crate::store_sync::OutboxKind;
use crate::webhooks::WebhookKind;
use crate::{App, AppError};

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Names this worker in job rows, logs and history (`host-pid` by default).
    pub id: String,
    /// Renders at once. A 300-DPI canvas is about 100 MB and a render needs about twice that.
    pub concurrency: usize,
    /// I/O jobs (HTTP calls) at once, in slots of their own.
    pub io_concurrency: usize,
    pub lease: Duration,
    /// The polling backstop for wake-ups (SQLite across processes; lost notifications).
    pub poll: Duration,
    /// How long running jobs may take to finish after a shutdown request.
    pub grace: Duration,
    /// The job kinds this worker takes (every registered kind when empty).
    pub kinds: Vec<String>,
    /// How often the farm sweeps stale staging files (one worker per period); `None`: this
    /// worker does not schedule the sweep (another process may).
    pub sweep_every: Option<Duration>,
    /// How often the farm polls every store for orders webhooks missed (one fan-out job per
    /// period); `None`: this worker does not schedule it.
    pub reconcile_every: Option<Duration>,
    /// How often submitted orders are polled at their providers for shipments (the backstop
    /// for lost webhooks); `None`: not scheduled by this worker.
    pub poll_shipments_every: Option<Duration>,
}

/// Memory a render may need at peak (canvas, template layers, encoders); used to bound
/// concurrency by the memory available.
pub const RENDER_MEMORY_BYTES: u64 = 350 * 1024 * 1024;

/// I/O jobs at once by default.
pub const IO_CONCURRENCY: usize = 16;

impl WorkerOptions {
    pub fn new(id: impl Into<String>) -> WorkerOptions {
        WorkerOptions {
            id: id.into(),
            concurrency: auto_concurrency(),
            io_concurrency: IO_CONCURRENCY,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(2),
            grace: Duration::from_secs(30),
            kinds: vec![],
            sweep_every: None,
            reconcile_every: None,
            poll_shipments_every: None,
        }
    }

    fn runner(&self) -> RunnerOptions {
        RunnerOptions {
            id: self.id.clone(),
            render_slots: self.concurrency.max(1),
            io_slots: self.io_concurrency.max(1),
            lease: self.lease,
            poll: self.poll,
            grace: self.grace,
            kinds: self.kinds.clone(),
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

/// Every job kind the application runs, and its periodic schedules at their default
/// periods. A new kind is declared next to its use case and registered here.
pub fn job_registry() -> Registry<App> {
    job_registry_with(
        Some(SWEEP_STAGING_EVERY),
        Some(RECONCILE_EVERY),
        Some(crate::shipments::POLL_SHIPMENTS_EVERY),
    )
}

/// [`job_registry`] with the staging sweep every `sweep_every` and the stores' reconcile poll
/// every `reconcile_every` and the shipment poll every `poll_every` (`None`: not scheduled
/// here).
pub fn job_registry_with(
    sweep_every: Option<Duration>,
    reconcile_every: Option<Duration>,
    poll_every: Option<Duration>,
) -> Registry<App> {
    let mut registry = Registry::new();
    registry
        .register(RenderKind)
        .and_then(|r| r.register(SweepStagingKind))
        .and_then(|r| r.register(WebhookKind))
        .and_then(|r| r.register(crate::photo_job::FetchPhotoKind))
        .and_then(|r| r.register(OutboxKind))
        .and_then(|r| r.register(ImportKind))
        .and_then(|r| r.register(ReconcileStoresKind))
        .and_then(|r| r.register(ReconcileStoreKind))
        .and_then(|r| r.register(crate::submission::SubmitKind))
        .and_then(|r| r.register(crate::submission::CountdownKind))
        .and_then(|r| r.register(crate::shipments::ProviderWebhookKind))
        .and_then(|r| r.register(crate::shipments::SandboxShipKind))
        .and_then(|r| r.register(crate::shipments::PollShipmentsKind))
        .and_then(|r| r.register(crate::order_actions::ProviderCancelKind))
        .and_then(|r| r.register(crate::outbound::DeliverWebhookKind))
        .expect("job kind names are distinct");
    if let Some(every) = reconcile_every {
        registry
            .periodic(
                RECONCILE_STORES_JOB,
                every.max(Duration::from_secs(1)),
                &ReconcileStoresKind,
                &ReconcileStores::default(),
            )
            .expect("the reconcile kind is registered");
    }
    if let Some(every) = poll_every {
        registry
            .periodic(
                crate::shipments::POLL_SHIPMENTS_JOB,
                every.max(Duration::from_secs(1)),
                &crate::shipments::PollShipmentsKind,
                &crate::shipments::PollShipments::default(),
            )
            .expect("the poll kind is registered");
    }
    if let Some(every) = sweep_every {
        registry
            .periodic(
                SWEEP_STAGING_JOB,
                every.max(Duration::from_secs(1)),
                &SweepStagingKind,
                &SweepStaging::default(),
            )
            .expect("the sweep kind is registered");
    }
    registry
}

/// Check `--kinds` before starting: unknown names are refused with the list of known ones.
pub fn check_kinds(kinds: &[String]) -> Result<(), AppError> {
    job_registry()
        .select(kinds)
        .map(|_| ())
        .map_err(|e| AppError::Config(e.to_string()))
}

pub struct Worker {
    app: Arc<App>,
    opts: WorkerOptions,
}

impl Worker {
    pub fn new(app: Arc<App>, opts: WorkerOptions) -> Worker {
        Worker { app, opts }
    }

    /// Run until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        let registry = job_registry_with(
            self.opts.sweep_every,
            self.opts.reconcile_every,
            self.opts.poll_shipments_every,
        );
        let runner = Runner::new(self.app, Arc::new(registry), self.opts.runner());
        if let Err(e) = runner.run(shutdown).await {
            tracing::error!(error = %e, "worker cannot start");
        }
    }
}

impl jobs::JobContext for App {
    fn db(&self) -> &storage::Db {
        &self.db
    }

    fn now(&self) -> DateTime<Utc> {
        App::now(self)
    }

    fn job_finished(&self, kind: &str, state: &str) {
        self.metrics
            .jobs_finished
            .with_label_values(&[kind, state])
            .inc();
    }

    fn job_failed(&self, kind: &str, code: &str) {
        self.metrics
            .job_failures
            .with_label_values(&[kind, code])
            .inc();
    }
}

impl jobs::Failure for AppError {
    fn is_retryable(&self) -> bool {
        AppError::is_retryable(self)
    }

    fn code(&self) -> &'static str {
        AppError::code(self)
    }

    fn is_taken_over(&self) -> bool {
        matches!(
            self,
            AppError::Storage(storage::StorageError::StaleToken { .. })
        )
    }
}
