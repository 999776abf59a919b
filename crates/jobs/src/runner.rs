//! The runner: one claim loop and one set of slots per resource class, a heartbeat per job,
//! the reaper for dead workers' leases, the periodic schedules, and graceful shutdown.
//!
//! Leases and fencing tokens are the queue's (`storage::queue`): a job is held under a lease
//! that its heartbeat extends every third of it; a heartbeat that finds the token stale stops
//! the job and its result is discarded. On shutdown the loops stop claiming, running jobs get
//! `grace` to finish, then are asked to stop and are released to the queue.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use storage::{ClaimedJob, StorageError};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::JobsError;
use crate::kind::{Job, JobContext, ResourceClass};
use crate::registry::{Registry, Run};

/// Most jobs claimed in one statement (one per free slot, up to this).
const MAX_BATCH: usize = 32;

#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Names this worker in job rows, logs and history.
    pub id: String,
    /// Render-class jobs at once (bounded by memory).
    pub render_slots: usize,
    /// I/O-class jobs at once.
    pub io_slots: usize,
    pub lease: Duration,
    /// The polling backstop for wake-ups (SQLite across processes; lost notifications), and
    /// how often periodic schedules are checked.
    pub poll: Duration,
    /// How long running jobs may take to finish after a shutdown request.
    pub grace: Duration,
    /// The kinds this runner takes (all registered kinds when empty).
    pub kinds: Vec<String>,
}

impl RunnerOptions {
    pub fn new(id: impl Into<String>) -> RunnerOptions {
        RunnerOptions {
            id: id.into(),
            render_slots: 1,
            io_slots: 16,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(2),
            grace: Duration::from_secs(30),
            kinds: vec![],
        }
    }

    fn slots(&self, class: ResourceClass) -> usize {
        match class {
            ResourceClass::Render => self.render_slots,
            ResourceClass::Io => self.io_slots,
        }
        .max(1)
    }
}

/// Counters that let a test see that the runner has looked (instead of sleeping to show that
/// nothing happened).
#[derive(Debug, Clone, Default)]
pub struct RunnerStats {
    claims: Arc<AtomicU64>,
    periodic: Arc<AtomicU64>,
}

impl RunnerStats {
    /// Claim statements run so far (each after the clock was read), all classes together.
    pub fn claim_passes(&self) -> u64 {
        self.claims.load(Ordering::SeqCst)
    }

    /// Passes over the periodic schedules so far.
    pub fn periodic_passes(&self) -> u64 {
        self.periodic.load(Ordering::SeqCst)
    }
}

pub struct Runner<C> {
    ctx: Arc<C>,
    registry: Arc<Registry<C>>,
    opts: RunnerOptions,
    stats: RunnerStats,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the claim loops share.
struct Shared<C> {
    ctx: Arc<C>,
    registry: Arc<Registry<C>>,
    opts: RunnerOptions,
    stats: RunnerStats,
    tracker: TaskTracker,
    /// Stop flags of running jobs (pruned as jobs end).
    stops: Mutex<Vec<Arc<AtomicBool>>>,
    shutdown: CancellationToken,
}

impl<C: JobContext> Runner<C> {
    pub fn new(ctx: Arc<C>, registry: Arc<Registry<C>>, opts: RunnerOptions) -> Runner<C> {
        Runner {
            ctx,
            registry,
            opts,
            stats: RunnerStats::default(),
        }
    }

    pub fn stats(&self) -> RunnerStats {
        self.stats.clone()
    }

    /// Run until `shutdown` is cancelled. Refuses at once (before claiming anything) when
    /// `kinds` names a kind that is not registered.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), JobsError> {
        let kinds = self.registry.select(&self.opts.kinds)?;
        let mut by_class: BTreeMap<ResourceClass, Vec<&'static str>> = BTreeMap::new();
        for kind in &kinds {
            if let Some(class) = self.registry.class_of(kind) {
                by_class.entry(class).or_default().push(kind);
            }
        }
        let shared = Arc::new(Shared {
            ctx: self.ctx.clone(),
            registry: self.registry.clone(),
            opts: self.opts.clone(),
            stats: self.stats.clone(),
            tracker: TaskTracker::new(),
            stops: Mutex::new(vec![]),
            shutdown: shutdown.clone(),
        });
        let opts = &self.opts;
        tracing::info!(worker = %opts.id, kinds = ?kinds, render_slots = opts.render_slots, io_slots = opts.io_slots, "runner started");
        let db = self.ctx.db();
        let _listener = match db.listen_for_jobs().await {
            Ok(l) => l.map(AbortOnDrop),
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for jobs; polling only");
                None
            }
        };
        // The reaper and the periodic schedules end on `shutdown` between two passes; they
        // are awaited, never aborted: an abort could cut a transaction in two and, on SQLite,
        // leave its connection holding the write lock until that connection is used again.
        let reaper = tokio::spawn(reap_expired(
            self.ctx.clone(),
            opts.lease / 2,
            shutdown.clone(),
        ));
        let schedules: Vec<_> = self
            .registry
            .periodic_schedules()
            .iter()
            .filter(|p| kinds.contains(&p.job.kind.as_str()))
            .cloned()
            .collect();
        let periodic =
            (!schedules.is_empty()).then(|| tokio::spawn(fire_periodic(shared.clone(), schedules)));
        let loops: Vec<_> = by_class
            .into_iter()
            .map(|(class, kinds)| tokio::spawn(claim_loop(shared.clone(), class, kinds)))
            .collect();
        for l in loops {
            let _ = l.await;
        }
        let _ = reaper.await;
        if let Some(p) = periodic {
            let _ = p.await;
        }

        tracing::info!(worker = %opts.id, running = shared.tracker.len(), "shutting down: finishing running jobs");
        shared.tracker.close();
        if tokio::time::timeout(opts.grace, shared.tracker.wait())
            .await
            .is_err()
        {
            for s in shared.stops.lock().expect("lock").iter() {
                s.store(true, Ordering::Relaxed);
            }
            shared.tracker.wait().await;
        }
        tracing::info!(worker = %opts.id, "runner stopped");
        Ok(())
    }
}

/// Claim jobs of one resource class while it has free slots: up to one job per free slot in
/// one statement.
async fn claim_loop<C: JobContext>(
    shared: Arc<Shared<C>>,
    class: ResourceClass,
    kinds: Vec<&'static str>,
) {
    let opts = &shared.opts;
    let db = shared.ctx.db();
    let slots = Arc::new(Semaphore::new(opts.slots(class)));
    let mut db_down = false;
    loop {
        let first = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            p = slots.clone().acquire_owned() => p.expect("semaphore never closed"),
        };
        let mut permits = vec![first];
        while permits.len() < MAX_BATCH {
            match slots.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        // Listen before looking, so an enqueue between an empty claim and the wait below
        // still wakes this loop.
        let wakeup = db.job_wakeup();
        let notified = wakeup.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let claimed = db
            .claim_batch(
                &opts.id,
                &kinds,
                shared.ctx.now(),
                opts.lease,
                permits.len(),
            )
            .await;
        shared.stats.claims.fetch_add(1, Ordering::SeqCst);
        match claimed {
            Ok(jobs) if jobs.is_empty() => {
                drop(permits);
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = notified => {}
                    _ = tokio::time::sleep(opts.poll) => {}
                }
            }
            Ok(jobs) => {
                if std::mem::take(&mut db_down) {
                    tracing::info!(worker = %opts.id, class = class.as_str(), "database reachable again");
                }
                for job in jobs {
                    let permit = permits.pop().expect("no more jobs than permits");
                    spawn_job(&shared, job, permit);
                }
            }
            Err(e) => {
                drop(permits);
                if !std::mem::replace(&mut db_down, true) {
                    tracing::warn!(worker = %opts.id, class = class.as_str(), error = %e, "cannot claim jobs; retrying");
                }
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
    }
}

fn spawn_job<C: JobContext>(
    shared: &Arc<Shared<C>>,
    claimed: ClaimedJob,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let Some(kind) = shared.registry.get(&claimed.kind).cloned() else {
        // Cannot happen: the claim asked only for registered kinds. Should it, the lease
        // expires and the reaper returns the job to the queue for a worker that knows it.
        tracing::error!(job = claimed.id, kind = %claimed.kind, "claimed a job of a kind this worker does not know");
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let mut stops = shared.stops.lock().expect("lock");
        stops.retain(|s| Arc::strong_count(s) > 1);
        stops.push(stop.clone());
    }
    let lost = Arc::new(AtomicBool::new(false));
    // Every log line of the job carries its ids.
    let span = tracing::info_span!(
        "job",
        job = claimed.id,
        kind = %claimed.kind,
        order = claimed.order_id.unwrap_or_default(),
        attempt = claimed.attempts,
        worker = %shared.opts.id
    );
    let heartbeat = heartbeat(
        shared.ctx.clone(),
        claimed.id,
        claimed.token,
        shared.opts.lease,
        stop.clone(),
        lost.clone(),
    );
    let run = Run {
        job: Job {
            claimed,
            worker: shared.opts.id.clone(),
            lease: shared.opts.lease,
            stop,
        },
        lost,
        shutdown: shared.shutdown.clone(),
    };
    let ctx = shared.ctx.clone();
    shared.tracker.spawn(
        async move {
            let _heartbeat = AbortOnDrop(tokio::spawn(heartbeat));
            kind.execute(ctx, run).await;
            drop(permit);
        }
        .instrument(span),
    );
}

/// Extend the lease every third of it; on a stale token, stop the job.
async fn heartbeat<C: JobContext>(
    ctx: Arc<C>,
    id: i64,
    token: i64,
    lease: Duration,
    stop: Arc<AtomicBool>,
    lost: Arc<AtomicBool>,
) {
    loop {
        tokio::time::sleep(lease / 3).await;
        match ctx.db().heartbeat(id, token, ctx.now(), lease).await {
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
}

/// Return expired leases to the queue: once at start (a restarted worker first picks up
/// what its previous life left behind), then every `every`.
async fn reap_expired<C: JobContext>(ctx: Arc<C>, every: Duration, shutdown: CancellationToken) {
    loop {
        match ctx.db().requeue_expired(ctx.now()).await {
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

/// Fire the periodic schedules whose period has come, every `poll`. The database decides
/// which runner fires (compare-and-set), so every runner may try.
async fn fire_periodic<C: JobContext>(shared: Arc<Shared<C>>, schedules: Vec<crate::Periodic>) {
    loop {
        for p in &schedules {
            let now = shared.ctx.now();
            let job = p.job.clone().at(now);
            match shared
                .ctx
                .db()
                .fire_periodic(&p.name, p.period, &job, now)
                .await
            {
                Ok(Some(outcome)) => {
                    tracing::info!(schedule = %p.name, outcome = ?outcome, "periodic job fired")
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(schedule = %p.name, error = %e, "cannot fire periodic job")
                }
            }
        }
        shared.stats.periodic.fetch_add(1, Ordering::SeqCst);
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tokio::time::sleep(shared.opts.poll) => {}
        }
    }
}
