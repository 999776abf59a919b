//! The coordinator's specification at the boundary of the use cases: one submission however
//! many ask at once, the countdown as a job on an injected clock (hold pauses it, unhold
//! resumes it with the time that was left, a refund stops it), preflight errors that block
//! it until the merchant accepts them, and two coordinator processes racing on one expiry.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use app::import::ImportSource;
use app::order_actions::OrderAction;
use app::submission::SubmitAnswer;
use app::{App, AppSettings, Worker, WorkerOptions};
use chrono::{DateTime, Utc};
use domain::{Actor, EventKind, SubmitStatus, SubmitTrigger};
use storage::{Db, DbOptions, Files, FilesConfig, JobState};
use tokio_util::sync::CancellationToken;

const HOUR_MS: i64 = 3_600_000;

fn settings() -> AppSettings {
    let mut s: AppSettings = toml::from_str(&testkit::demo_app_settings()).unwrap();
    s.default_provider = "sandbox".into();
    s.submit_after_hours = 1.0;
    s.submission.recheck_secs = 60;
    s
}

fn cli() -> ImportSource {
    ImportSource {
        actor: Actor::Merchant("test".into()),
        local_files: Some(testkit::repo_root().join("fixtures/orders")),
    }
}

/// The name-tag fixture as order `id`, paid when it is imported, with `name` and `status`.
fn name_tag(id: i64, name: &str, status: &str, modified: DateTime<Utc>) -> Vec<u8> {
    let text = std::fs::read_to_string(testkit::repo_root().join("fixtures/orders/name-tag.json"))
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["id"] = id.into();
    v["number"] = id.to_string().into();
    v["status"] = status.into();
    v["date_paid"] = serde_json::Value::Null;
    v["date_paid_gmt"] = serde_json::Value::Null;
    let stamp = modified.format("%Y-%m-%dT%H:%M:%S").to_string();
    v["date_modified"] = stamp.clone().into();
    v["date_modified_gmt"] = stamp.into();
    v["line_items"][0]["meta_data"][0]["value"] = name.into();
    serde_json::to_vec(&v).unwrap()
}

/// A clock the test moves by hand.
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn new() -> (TestClock, app::Clock) {
        // Whole seconds, so times written to the store's JSON compare exactly.
        let start = (Utc::now().timestamp() - 86_400) * 1000;
        let ms = Arc::new(AtomicI64::new(start));
        let read = ms.clone();
        let clock: app::Clock =
            Arc::new(move || DateTime::from_timestamp_millis(read.load(Ordering::SeqCst)).unwrap());
        (TestClock(ms), clock)
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.load(Ordering::SeqCst)).unwrap()
    }

    fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

async fn open_app(db_url: &str, files: &std::path::Path, clock: app::Clock) -> Arc<App> {
    let db = Db::open(db_url, DbOptions::default()).await.unwrap();
    let files = Files::open(
        &FilesConfig::Local {
            root: files.to_path_buf(),
        },
        None,
    )
    .unwrap();
    Arc::new(App::new(db, files, settings(), clock).unwrap())
}

fn start_worker(app: &Arc<App>, id: &str) -> CancellationToken {
    let shutdown = CancellationToken::new();
    let mut opts = WorkerOptions::new(id);
    opts.poll = Duration::from_millis(20);
    opts.lease = Duration::from_secs(600);
    opts.io_concurrency = 16;
    tokio::spawn(Worker::new(app.clone(), opts).run(shutdown.clone()));
    shutdown
}

/// Wait until `check` holds (polling state, never a fixed sleep), at most 60 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn import(app: &App, body: &[u8]) -> i64 {
    app.import_order(body, &cli()).await.unwrap().order_id
}

async fn rendered(app: &App, order_id: i64) {
    eventually("the item is rendered", || async {
        !app.db.renders(order_id).await.unwrap().is_empty()
    })
    .await;
}

async fn submit_status(app: &App, order_id: i64) -> SubmitStatus {
    app.db
        .get_order(order_id)
        .await
        .unwrap()
        .order
        .submit_status
}

async fn submitted_events(app: &App, order_id: i64) -> usize {
    app.db
        .history(order_id)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == EventKind::Submitted)
        .count()
}

async fn countdown_jobs(app: &App, order_id: i64) -> Vec<storage::JobRow> {
    app.db
        .jobs_for_order(order_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == app::submission::COUNTDOWN_JOB)
        .collect()
}

async fn queued_countdown(app: &App, order_id: i64) -> Option<DateTime<Utc>> {
    countdown_jobs(app, order_id)
        .await
        .into_iter()
        .find(|j| j.state == JobState::Queued)
        .map(|j| j.run_at)
}

async fn one_thousand_concurrent_submits_hand_the_order_over_once(db_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (clock, now) = TestClock::new();
    let app = open_app(db_url, dir.path(), now).await;
    let stop = start_worker(&app, "w1");
    let id = import(&app, &name_tag(501, "Ada", "processing", clock.now())).await;
    rendered(&app, id).await;
    // The countdown is due too: button, Bulk Submit and the countdown all ask at once.
    clock.advance_ms(HOUR_MS + 1000);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let app = app.clone();
        tasks.spawn(async move {
            match i % 3 {
                0 => app
                    .submit(
                        id,
                        SubmitTrigger::Merchant,
                        &Actor::Merchant("button".into()),
                    )
                    .await
                    .unwrap(),
                1 => {
                    app.bulk_submit(&[id], &Actor::Merchant("bulk".into()))
                        .await
                        .remove(0)
                        .1
                }
                _ => app.countdown_expired(id).await.unwrap(),
            }
        });
    }
    let mut claimed = 0;
    let mut already = 0;
    while let Some(answer) = tasks.join_next().await {
        match answer.unwrap() {
            SubmitAnswer::Submitting { .. } => claimed += 1,
            SubmitAnswer::AlreadySubmitted { .. } => already += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((claimed, already), (1, 999));
    eventually("the sandbox took it", || async {
        matches!(
            submit_status(&app, id).await,
            SubmitStatus::Submitted { .. }
        )
    })
    .await;
    assert_eq!(submitted_events(&app, id).await, 1);
    let sends = app
        .db
        .jobs_for_order(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == app::submission::SUBMIT_JOB)
        .count();
    assert_eq!(sends, 1, "one hand-off job");
    // And never again.
    let again = app
        .submit(
            id,
            SubmitTrigger::Merchant,
            &Actor::Merchant("button".into()),
        )
        .await
        .unwrap();
    assert!(matches!(again, SubmitAnswer::AlreadySubmitted { ref state } if state == "Submitted"));
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_thousand_concurrent_submits_hand_the_order_over_once_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("p.db").display());
    one_thousand_concurrent_submits_hand_the_order_over_once(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_thousand_concurrent_submits_hand_the_order_over_once_postgres() {
    let pg = testkit::PgDatabase::create().await.unwrap();
    one_thousand_concurrent_submits_hand_the_order_over_once(&pg.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_hold_pauses_the_countdown_and_unhold_resumes_it_with_the_time_left() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("p.db").display());
    let (clock, now) = TestClock::new();
    let app = open_app(&url, dir.path(), now).await;
    let stop = start_worker(&app, "w1");
    let t0 = clock.now();
    let id = import(&app, &name_tag(502, "Grace", "processing", t0)).await;
    rendered(&app, id).await;
    assert_eq!(
        queued_countdown(&app, id).await,
        Some(t0 + chrono::Duration::hours(1)),
        "the countdown job waits for submit_at"
    );

    // Half an hour in, the merchant puts it on hold: the job goes, the time left is kept.
    clock.advance_ms(HOUR_MS / 2);
    let needs = app
        .order_action(id, OrderAction::Hold, false, &Actor::Merchant("m".into()))
        .await
        .unwrap_err();
    assert_eq!(needs.code(), "confirmation_required");
    app.order_action(id, OrderAction::Hold, true, &Actor::Merchant("m".into()))
        .await
        .unwrap();
    let order = app.db.get_order(id).await.unwrap().order;
    assert_eq!(order.countdown.paused_remaining_secs, Some(1800));
    assert_eq!(queued_countdown(&app, id).await, None);
    assert!(
        countdown_jobs(&app, id)
            .await
            .iter()
            .all(|j| j.state == JobState::Cancelled)
    );

    // Long past the original time: nothing happens while on hold.
    clock.advance_ms(2 * HOUR_MS);
    assert_eq!(submit_status(&app, id).await, SubmitStatus::Blank);
    let held = app
        .submit(id, SubmitTrigger::Merchant, &Actor::Merchant("m".into()))
        .await
        .unwrap();
    assert!(
        matches!(&held, SubmitAnswer::NotReady { reasons } if reasons.iter().any(|r| r.contains("on-hold"))),
        "{held:?}"
    );

    // Off hold: due after the 30 minutes that were left, not at once.
    let resumed_at = clock.now();
    app.order_action(id, OrderAction::Unhold, true, &Actor::Merchant("m".into()))
        .await
        .unwrap();
    let due = resumed_at + chrono::Duration::minutes(30);
    assert_eq!(queued_countdown(&app, id).await, Some(due));
    clock.advance_ms(30 * 60_000 - 1000);
    assert_eq!(submit_status(&app, id).await, SubmitStatus::Blank);
    assert_eq!(queued_countdown(&app, id).await, Some(due), "not yet due");
    clock.advance_ms(1000);
    eventually("submitted at the remaining time", || async {
        matches!(
            submit_status(&app, id).await,
            SubmitStatus::Submitted { .. }
        )
    })
    .await;
    let SubmitStatus::Submitted { at, provider, .. } = submit_status(&app, id).await else {
        unreachable!()
    };
    assert_eq!((at, provider.as_str()), (due, "sandbox"));
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_refunded_in_the_store_is_never_submitted() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("p.db").display());
    let (clock, now) = TestClock::new();
    let app = open_app(&url, dir.path(), now).await;
    let stop = start_worker(&app, "w1");
    let t0 = clock.now();
    let id = import(&app, &name_tag(503, "Alan", "processing", t0)).await;
    rendered(&app, id).await;
    clock.advance_ms(HOUR_MS / 4);
    let refunded = name_tag(503, "Alan", "refunded", clock.now());
    app.import_order(&refunded, &cli()).await.unwrap();
    let order = app.db.get_order(id).await.unwrap().order;
    assert!(order.countdown.is_none());
    assert_eq!(queued_countdown(&app, id).await, None);
    clock.advance_ms(2 * HOUR_MS);
    let answer = app
        .submit(id, SubmitTrigger::Merchant, &Actor::Merchant("m".into()))
        .await
        .unwrap();
    assert!(
        matches!(&answer, SubmitAnswer::NotReady { reasons } if reasons.iter().any(|r| r.contains("refunded"))),
        "{answer:?}"
    );
    assert_eq!(submit_status(&app, id).await, SubmitStatus::Blank);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preflight_error_blocks_the_countdown_until_the_merchant_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("p.db").display());
    let (clock, now) = TestClock::new();
    let app = open_app(&url, dir.path(), now).await;
    let stop = start_worker(&app, "w1");
    // An empty required name is a preflight error.
    let id = import(&app, &name_tag(504, "", "processing", clock.now())).await;
    rendered(&app, id).await;
    let renders = app.item_renders(id).await.unwrap();
    let item = *renders.keys().next().unwrap();
    assert!(
        matches!(&renders[&item], domain::ItemRender::Done { preflight_errors, .. } if !preflight_errors.is_empty()),
        "{renders:?}"
    );
    clock.advance_ms(HOUR_MS + 1000);
    eventually("the countdown says why it did not submit", || async {
        app.db
            .get_order(id)
            .await
            .unwrap()
            .order
            .submission_blocked
            .is_some_and(|r| r.starts_with("item 1: "))
    })
    .await;
    assert_eq!(submit_status(&app, id).await, SubmitStatus::Blank);
    // The check that found the error queues the next one as its job completes.
    eventually("it looks again later", || async {
        queued_countdown(&app, id).await.is_some()
    })
    .await;

    app.override_preflight(id, item, &Actor::Merchant("ada".into()))
        .await
        .unwrap();
    eventually("submitted after the override", || async {
        matches!(
            submit_status(&app, id).await,
            SubmitStatus::Submitted { .. }
        )
    })
    .await;
    let history = app.db.history(id).await.unwrap();
    assert!(history.iter().any(|e| e.kind == EventKind::Preflight
        && e.actor == Actor::Merchant("ada".into())
        && e.message.contains("accepted")));
    stop.cancel();
}

async fn two_coordinators_race_on_one_expiry(db_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (clock, now) = TestClock::new();
    let a = open_app(db_url, dir.path(), now.clone()).await;
    let b = open_app(db_url, dir.path(), now).await;
    let stop_a = start_worker(&a, "a");
    let id = import(&a, &name_tag(505, "Edsger", "processing", clock.now())).await;
    rendered(&a, id).await;
    let stop_b = start_worker(&b, "b");
    clock.advance_ms(HOUR_MS + 1000);
    // Both processes' workers see the expiry; both also run it by hand, at once.
    let (ra, rb) = tokio::join!(a.countdown_expired(id), b.countdown_expired(id));
    let claims = [ra.unwrap(), rb.unwrap()]
        .iter()
        .filter(|x| matches!(x, SubmitAnswer::Submitting { .. }))
        .count();
    assert!(claims <= 1, "at most one of the two claims");
    eventually("submitted", || async {
        matches!(submit_status(&a, id).await, SubmitStatus::Submitted { .. })
    })
    .await;
    assert_eq!(submitted_events(&a, id).await, 1);
    stop_a.cancel();
    stop_b.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_coordinator_processes_race_on_one_expiry_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("p.db").display());
    two_coordinators_race_on_one_expiry(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_coordinator_processes_race_on_one_expiry_postgres() {
    let pg = testkit::PgDatabase::create().await.unwrap();
    two_coordinators_race_on_one_expiry(&pg.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_order_flows_through_the_sandbox_to_tracking_and_never_to_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("p.db").display());
    let (clock, now) = TestClock::new();
    let app = open_app(&url, dir.path(), now).await;
    let stop = start_worker(&app, "w1");
    let id = app
        .place_test_order("name-tag", &Actor::Merchant("m".into()))
        .await
        .unwrap();
    rendered(&app, id).await;
    let order = app.db.get_order(id).await.unwrap().order;
    assert!(order.test);
    // The test countdown (60 s), then the sandbox ships (60 s) and delivers (120 s).
    clock.advance_ms(61_000);
    eventually("submitted to the sandbox", || async {
        matches!(submit_status(&app, id).await, SubmitStatus::Submitted { ref provider, .. } if provider == "sandbox")
    })
    .await;
    clock.advance_ms(61_000);
    eventually("shipped", || async {
        app.db.get_order(id).await.unwrap().order.fulfillment()
            == domain::FulfillmentState::Fulfilled
    })
    .await;
    clock.advance_ms(121_000);
    eventually("delivered", || async {
        app.db.get_order(id).await.unwrap().order.fulfillment()
            == domain::FulfillmentState::Delivered
    })
    .await;
    let order = app.db.get_order(id).await.unwrap().order;
    assert_eq!(order.shipments.len(), 1);
    assert!(order.shipments[0].tracking_number.starts_with("SBX"));
    assert_eq!(order.status.raw, "completed");
    assert!(
        order.shipments[0].pushed_to_store.is_empty(),
        "a test order is never written to the store"
    );
    stop.cancel();
}
