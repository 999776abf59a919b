//! The runner's specification, on SQLite and on Postgres: kinds with their own retry
//! policies, scheduled and cancelled jobs on an injected clock, periodic jobs across runners
//! on separate pools, I/O jobs beside busy render slots, and the kinds a runner takes.
//!
//! Time is the test's clock (`Ctx::advance`); nothing sleeps to show that nothing happens:
//! the runner's counters say when it has looked, and the test then asserts on job states.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use jobs::{
    Backoff, Completion, Failure, Job, JobContext, JobKind, JobsError, Registry, ResourceClass,
    RetryOn, RetryPolicy, Runner, RunnerOptions, RunnerStats,
};
use serde::{Deserialize, Serialize};
use storage::queue::JobState;
use storage::{Db, DbOptions};
use tokio_util::sync::CancellationToken;

/// The application's side, as a test sees it: a database, a clock the test moves, and what
/// the handlers did.
struct Ctx {
    db: Db,
    now_ms: Arc<AtomicI64>,
    notes: Mutex<Vec<String>>,
    /// Render-class handlers wait here until the test opens it.
    gate: tokio::sync::Semaphore,
}

impl Ctx {
    fn new(db: Db, now_ms: Arc<AtomicI64>) -> Arc<Ctx> {
        Arc::new(Ctx {
            db,
            now_ms,
            notes: Mutex::new(vec![]),
            gate: tokio::sync::Semaphore::new(0),
        })
    }

    fn advance(&self, d: Duration) {
        self.now_ms
            .fetch_add(d.as_millis() as i64, Ordering::SeqCst);
    }

    fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap().clone()
    }
}

impl JobContext for Ctx {
    fn db(&self) -> &Db {
        &self.db
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_ms.load(Ordering::SeqCst)).unwrap()
    }
}

fn start_clock() -> Arc<AtomicI64> {
    Arc::new(AtomicI64::new(
        Utc.timestamp_opt(1_780_000_000, 0)
            .unwrap()
            .timestamp_millis(),
    ))
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TestError(&'static str);

impl Failure for TestError {
    fn is_retryable(&self) -> bool {
        true
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Text {
    text: String,
}

fn text(s: &str) -> Text {
    Text { text: s.into() }
}

/// An I/O kind that writes a note.
struct Note;

impl JobKind<Ctx> for Note {
    type Payload = Text;
    type Error = TestError;
    const NAME: &'static str = "note";
    const CLASS: ResourceClass = ResourceClass::Io;

    async fn run(&self, ctx: Arc<Ctx>, _job: &Job, p: Text) -> Result<Completion, TestError> {
        ctx.notes.lock().unwrap().push(p.text);
        Ok(Completion::Complete)
    }
}

/// An outside system that keeps failing in a way that may pass: three attempts, 10 s apart.
struct Flaky;

impl JobKind<Ctx> for Flaky {
    type Payload = Text;
    type Error = TestError;
    const NAME: &'static str = "flaky";
    const CLASS: ResourceClass = ResourceClass::Io;

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            backoff: Backoff::fixed(Duration::from_secs(10)),
            retry_on: RetryOn::Retryable,
        }
    }

    async fn run(&self, _: Arc<Ctx>, _: &Job, _: Text) -> Result<Completion, TestError> {
        Err(TestError("503 from the store"))
    }
}

/// The same failure, under a policy that never retries.
struct Strict;

impl JobKind<Ctx> for Strict {
    type Payload = Text;
    type Error = TestError;
    const NAME: &'static str = "strict";
    const CLASS: ResourceClass = ResourceClass::Io;

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            retry_on: RetryOn::Never,
            ..RetryPolicy::default()
        }
    }

    async fn run(&self, _: Arc<Ctx>, _: &Job, _: Text) -> Result<Completion, TestError> {
        Err(TestError("503 from the store"))
    }

    async fn dead(&self, ctx: Arc<Ctx>, _: &Job, error: &TestError) {
        ctx.notes.lock().unwrap().push(format!("dead: {error}"));
    }
}

/// A render-class kind that holds its slot until the test opens the gate.
struct Hold;

impl JobKind<Ctx> for Hold {
    type Payload = Text;
    type Error = TestError;
    const NAME: &'static str = "hold";
    const CLASS: ResourceClass = ResourceClass::Render;

    async fn run(&self, ctx: Arc<Ctx>, _: &Job, p: Text) -> Result<Completion, TestError> {
        ctx.gate.acquire().await.unwrap().forget();
        ctx.notes.lock().unwrap().push(p.text);
        Ok(Completion::Complete)
    }
}

fn registry() -> Arc<Registry<Ctx>> {
    let mut r = Registry::new();
    r.register(Note).unwrap();
    r.register(Flaky).unwrap();
    r.register(Strict).unwrap();
    r.register(Hold).unwrap();
    Arc::new(r)
}

fn options(id: &str) -> RunnerOptions {
    RunnerOptions {
        render_slots: 1,
        io_slots: 4,
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        grace: Duration::from_secs(5),
        ..RunnerOptions::new(id)
    }
}

/// A runner in the background, stopped and awaited on drop of the guard.
struct Running {
    stats: RunnerStats,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), JobsError>>>,
}

impl Running {
    fn start(ctx: &Arc<Ctx>, registry: Arc<Registry<Ctx>>, opts: RunnerOptions) -> Running {
        let runner = Runner::new(ctx.clone(), registry, opts);
        let stats = runner.stats();
        let stop = CancellationToken::new();
        let task = Some(tokio::spawn(runner.run(stop.clone())));
        Running { stats, stop, task }
    }

    /// Wait until this runner has run `n` more claim statements, each reading the clock after
    /// this call: whatever was ready at the current time has been claimed.
    async fn looked(&self, n: u64) {
        let target = self.stats.claim_passes() + n;
        eventually("the runner to look", || async {
            self.stats.claim_passes() >= target
        })
        .await;
    }

    async fn periodic_looked(&self, n: u64) {
        let target = self.stats.periodic_passes() + n;
        eventually("the runner to check its schedules", || async {
            self.stats.periodic_passes() >= target
        })
        .await;
    }

    async fn stop(mut self) {
        self.stop.cancel();
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

/// Poll a condition (on state, not on time) until it holds; fail after a generous bound.
async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !cond().await {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "waited too long for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn state(db: &Db, id: i64) -> JobState {
    db.job(id).await.unwrap().state
}

async fn sqlite() -> (Db, Box<dyn std::any::Any>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("jobs.db").display());
    (
        Db::open(&url, DbOptions::default()).await.unwrap(),
        Box::new(dir),
    )
}

async fn postgres() -> (Db, Box<dyn std::any::Any>) {
    let pg = testkit::PgDatabase::create().await.unwrap();
    let db = Db::open(&pg.url, DbOptions::default()).await.unwrap();
    (db, Box::new(pg))
}

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (db, _guard) = super::sqlite().await;
                super::$name(db).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let (db, _guard) = super::postgres().await;
                super::$name(db).await;
            }
        }
    )*};
}

on_both_databases!(
    two_kinds_fail_alike_and_each_follows_its_own_retry_policy,
    a_scheduled_job_fires_at_the_injected_time_and_a_cancelled_one_never,
    a_periodic_job_fires_once_per_period_with_two_runners_on_separate_pools,
    io_jobs_run_while_every_render_slot_is_busy,
    a_runner_takes_only_the_kinds_it_is_given_and_refuses_unknown_names,
);

async fn enqueue<K: JobKind<Ctx>>(ctx: &Ctx, kind: &K, p: &K::Payload) -> i64 {
    ctx.db
        .enqueue_now(&kind.new_job(p, ctx.now()), ctx.now())
        .await
        .unwrap()
}

async fn two_kinds_fail_alike_and_each_follows_its_own_retry_policy(db: Db) {
    let ctx = Ctx::new(db, start_clock());
    let flaky = enqueue(&ctx, &Flaky, &text("a")).await;
    let strict = enqueue(&ctx, &Strict, &text("b")).await;
    let runner = Running::start(&ctx, registry(), options("w"));

    // Strict: dead at the first failure, and its `dead` hook ran.
    eventually("strict to be dead", || async {
        state(&ctx.db, strict).await == JobState::Dead
    })
    .await;
    assert_eq!(ctx.db.job(strict).await.unwrap().attempts, 1);
    eventually("the dead hook", || async {
        ctx.notes() == ["dead: 503 from the store"]
    })
    .await;

    // Flaky: back in the queue 10 s later (its fixed backoff), twice, then dead.
    for attempt in 1..=2 {
        eventually("flaky to be retried", || async {
            let row = ctx.db.job(flaky).await.unwrap();
            row.state == JobState::Queued && row.attempts == attempt
        })
        .await;
        let row = ctx.db.job(flaky).await.unwrap();
        assert_eq!(row.run_at, ctx.now() + chrono::Duration::seconds(10));
        assert_eq!(row.last_error.as_deref(), Some("503 from the store"));
        // Not a moment before its time.
        ctx.advance(Duration::from_millis(9_999));
        runner.looked(2).await;
        assert_eq!(state(&ctx.db, flaky).await, JobState::Queued);
        assert_eq!(ctx.db.job(flaky).await.unwrap().attempts, attempt);
        ctx.advance(Duration::from_millis(1));
    }
    eventually("flaky to be dead", || async {
        state(&ctx.db, flaky).await == JobState::Dead
    })
    .await;
    assert_eq!(ctx.db.job(flaky).await.unwrap().attempts, 3);
    runner.stop().await;
}

async fn a_scheduled_job_fires_at_the_injected_time_and_a_cancelled_one_never(db: Db) {
    let ctx = Ctx::new(db, start_clock());
    let t0 = ctx.now();
    let in_a_minute = t0 + chrono::Duration::seconds(60);
    let mut tx = ctx.db.begin().await.unwrap();
    let kept = ctx
        .db
        .enqueue(
            &mut tx,
            &Note
                .new_job(&text("kept"), t0)
                .at(in_a_minute)
                .with_key("countdown:1"),
            t0,
        )
        .await
        .unwrap();
    let paused = ctx
        .db
        .enqueue(
            &mut tx,
            &Note
                .new_job(&text("paused"), t0)
                .at(in_a_minute)
                .with_key("countdown:2"),
            t0,
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let runner = Running::start(&ctx, registry(), options("w"));

    // Before its time: the runner has looked, and both wait.
    runner.looked(2).await;
    assert_eq!(state(&ctx.db, kept).await, JobState::Queued);
    assert_eq!(state(&ctx.db, paused).await, JobState::Queued);
    // The second order goes On hold: its countdown is cancelled by its key.
    let mut tx = ctx.db.begin().await.unwrap();
    assert_eq!(
        ctx.db
            .cancel_by_key(&mut tx, "countdown:2", ctx.now())
            .await
            .unwrap(),
        1
    );
    tx.commit().await.unwrap();

    ctx.advance(Duration::from_secs(60));
    eventually("the scheduled job to run", || async {
        state(&ctx.db, kept).await == JobState::Done
    })
    .await;
    // Long after: the runner has looked again at a later time, and the cancelled one never ran.
    ctx.advance(Duration::from_secs(3600));
    runner.looked(2).await;
    assert_eq!(state(&ctx.db, paused).await, JobState::Cancelled);
    assert_eq!(ctx.notes(), ["kept"]);
    runner.stop().await;
}

async fn a_periodic_job_fires_once_per_period_with_two_runners_on_separate_pools(db: Db) {
    let clock = start_clock();
    let mut registry = Registry::new();
    registry.register(Note).unwrap();
    registry
        .periodic("reconcile", Duration::from_secs(300), &Note, &text("tick"))
        .unwrap();
    let registry = Arc::new(registry);
    // Two "processes": each its own pool on the one database, its own runner.
    let pool_b = Db::connect(db.url(), DbOptions::default()).await.unwrap();
    let a = Ctx::new(db.clone(), clock.clone());
    let b = Ctx::new(pool_b, clock.clone());
    let ra = Running::start(&a, registry.clone(), options("a"));
    let rb = Running::start(&b, registry.clone(), options("b"));

    let fired = |n: usize| {
        let db = db.clone();
        async move {
            let jobs = db.jobs_of_kind("note").await.unwrap();
            jobs.len() == n && jobs.iter().all(|j| j.state == JobState::Done)
        }
    };
    for period in 1..=3usize {
        eventually("this period's run", || fired(period)).await;
        // Both runners have checked the schedule several times in this period since.
        ra.periodic_looked(2).await;
        rb.periodic_looked(2).await;
        assert_eq!(
            db.jobs_of_kind("note").await.unwrap().len(),
            period,
            "once per period"
        );
        ctx_advance(&clock, Duration::from_secs(300));
    }
    // Both stop in the fourth period; restarts within it fire it once, not once per start.
    ra.stop().await;
    rb.stop().await;
    let c = Ctx::new(
        Db::connect(db.url(), DbOptions::default()).await.unwrap(),
        clock.clone(),
    );
    let rc = Running::start(&c, registry.clone(), options("c"));
    // On a timeout, say what the jobs were (this once timed out under a full suite's load).
    let started = std::time::Instant::now();
    while !fired(4).await {
        if started.elapsed() > Duration::from_secs(30) {
            let jobs = db.jobs_of_kind("note").await.unwrap();
            let periodic = db.queue_counts().await.unwrap();
            panic!("the fourth period's run did not happen: {jobs:?}; queue {periodic:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    rc.periodic_looked(2).await;
    rc.stop().await;
    let rc = Running::start(&c, registry.clone(), options("c2"));
    rc.periodic_looked(2).await;
    rc.stop().await;
    assert_eq!(db.jobs_of_kind("note").await.unwrap().len(), 4);
    assert_eq!(a.notes().len() + b.notes().len() + c.notes().len(), 4);
}

fn ctx_advance(clock: &AtomicI64, d: Duration) {
    clock.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
}

async fn io_jobs_run_while_every_render_slot_is_busy(db: Db) {
    let ctx = Ctx::new(db, start_clock());
    let renders = [
        enqueue(&ctx, &Hold, &text("render 1")).await,
        enqueue(&ctx, &Hold, &text("render 2")).await,
    ];
    let runner = Running::start(&ctx, registry(), options("w"));
    eventually("a render to hold the only render slot", || async {
        ctx.db.queue_counts().await.unwrap().running == 1
    })
    .await;
    let mut notes = vec![];
    for n in 0..8 {
        notes.push(enqueue(&ctx, &Note, &text(&format!("io {n}"))).await);
    }
    for id in &notes {
        eventually("the I/O job", || async {
            state(&ctx.db, *id).await == JobState::Done
        })
        .await;
    }
    // All eight went through while the render slot was held and the other render waited.
    let states = [
        state(&ctx.db, renders[0]).await,
        state(&ctx.db, renders[1]).await,
    ];
    assert!(
        states.contains(&JobState::Running) && states.contains(&JobState::Queued),
        "{states:?}"
    );
    assert_eq!(ctx.notes().len(), 8);
    ctx.gate.add_permits(2);
    for id in renders {
        eventually("the renders", || async {
            state(&ctx.db, id).await == JobState::Done
        })
        .await;
    }
    runner.stop().await;
}

async fn a_runner_takes_only_the_kinds_it_is_given_and_refuses_unknown_names(db: Db) {
    let ctx = Ctx::new(db, start_clock());
    let hold = enqueue(&ctx, &Hold, &text("render")).await;
    let note = enqueue(&ctx, &Note, &text("io")).await;
    let runner = Running::start(
        &ctx,
        registry(),
        RunnerOptions {
            kinds: vec!["note".into()],
            ..options("io-only")
        },
    );
    eventually("the note", || async {
        state(&ctx.db, note).await == JobState::Done
    })
    .await;
    runner.looked(2).await;
    assert_eq!(state(&ctx.db, hold).await, JobState::Queued);
    runner.stop().await;

    let refused = Runner::new(
        ctx.clone(),
        registry(),
        RunnerOptions {
            kinds: vec!["render".into(), "nope".into()],
            ..options("w")
        },
    )
    .run(CancellationToken::new())
    .await
    .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "unknown job kind \"render\"; known kinds: flaky, hold, note, strict"
    );
    assert_eq!(state(&ctx.db, hold).await, JobState::Queued);
}
