//! Render jobs at the boundary between the worker and storage: fencing of a paused worker,
//! uploads that fail half-way, and imports that must store nothing.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use app::import::ImportSource;
use app::{App, AppError, AppSettings};
use domain::Actor;
use storage::files::S3Config;
use storage::{Db, DbOptions, Files, FilesConfig, StorageError};

fn settings() -> AppSettings {
    toml::from_str(&testkit::demo_app_settings()).unwrap()
}

fn cli() -> ImportSource {
    ImportSource {
        actor: Actor::Merchant("test".into()),
        local_files: Some(testkit::repo_root().join("fixtures/orders")),
    }
}

fn name_tag_order(id: i64, name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(testkit::repo_root().join("fixtures/orders/name-tag.json"))
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["id"] = id.into();
    v["number"] = id.to_string().into();
    v["line_items"][0]["meta_data"][0]["value"] = name.into();
    // On hold: no countdown, so the queue holds only the renders these tests count.
    v["status"] = "on-hold".into();
    serde_json::to_vec(&v).unwrap()
}

fn s3(server: &testkit::S3Server, endpoint: &str) -> FilesConfig {
    FilesConfig::S3(S3Config {
        endpoint: endpoint.into(),
        bucket: server.bucket.clone(),
        access_key_id: server.access_key.clone(),
        secret_access_key: server.secret_key.clone(),
        allow_http: true,
        max_retries: 1,
        retry_timeout_secs: 5,
        ..S3Config::default()
    })
}

async fn app(db_url: &str, files: FilesConfig) -> App {
    app_on_clock(db_url, files, app::system_clock()).await
}

async fn app_on_clock(db_url: &str, files: FilesConfig, clock: app::Clock) -> App {
    let db = Db::open(db_url, DbOptions::default()).await.unwrap();
    App::new(db, Files::open(&files, None).unwrap(), settings(), clock).unwrap()
}

/// A clock the test moves by hand (leases expire when the test says so, not after a sleep).
fn manual_clock() -> (app::Clock, Arc<std::sync::atomic::AtomicI64>) {
    let ms = Arc::new(std::sync::atomic::AtomicI64::new(
        chrono::Utc::now().timestamp_millis(),
    ));
    let read = ms.clone();
    let clock: app::Clock = Arc::new(move || {
        chrono::DateTime::from_timestamp_millis(read.load(std::sync::atomic::Ordering::SeqCst))
            .unwrap()
    });
    (clock, ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_worker_cannot_complete_a_job_that_was_taken_over_nor_replace_its_files() {
    let pg = testkit::PgDatabase::create().await.unwrap();
    let s3server = testkit::S3Server::start().unwrap();
    let (clock, now_ms) = manual_clock();
    let app = app_on_clock(&pg.url, s3(&s3server, &s3server.endpoint), clock).await;
    let imported = app
        .import_order(&name_tag_order(1, "Ada"), &cli())
        .await
        .unwrap();
    assert_eq!(imported.jobs.len(), 1);

    let lease = Duration::from_secs(1);
    // Worker A claims the job, then stalls (a GC pause, a stopped VM…) past its lease.
    let a = app
        .db
        .claim("worker-a", &["render"], app.now(), lease)
        .await
        .unwrap()
        .unwrap();
    now_ms.fetch_add(1_100, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(app.db.requeue_expired(app.now()).await.unwrap(), 1);

    // Worker B takes it over and finishes.
    let b = app
        .db
        .claim("worker-b", &["render"], app.now(), lease * 30)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.id, a.id);
    let out_b = app
        .render_and_store(&b, Arc::new(AtomicBool::new(false)))
        .await
        .unwrap();
    let row_b = app.record_render(&b, &out_b, "worker-b").await.unwrap();
    assert_eq!(row_b.version, 1);
    let templates = app.db.templates().await.unwrap();
    assert_eq!(
        (templates[0].id.as_str(), templates[0].version.as_str()),
        ("name-tag", "1")
    );
    let keys = app.files.list("orders").await.unwrap();
    let before: Vec<_> = {
        let mut v = vec![];
        for k in &keys {
            v.push(app.files.store().head(&k.as_str().into()).await.unwrap());
        }
        v
    };

    // A resumes: it renders and uploads, then tries to record. Refused, and nothing changed.
    let out_a = app
        .render_and_store(&a, Arc::new(AtomicBool::new(false)))
        .await
        .unwrap();
    let late = app.record_render(&a, &out_a, "worker-a").await;
    assert!(
        matches!(
            late,
            Err(AppError::Storage(StorageError::StaleToken { .. }))
        ),
        "{late:?}"
    );
    assert_eq!(app.db.renders(imported.order_id).await.unwrap().len(), 1);
    assert_eq!(
        app.files.list("orders").await.unwrap(),
        keys,
        "no new objects"
    );
    for (k, meta) in keys.iter().zip(&before) {
        let now = app.files.store().head(&k.as_str().into()).await.unwrap();
        assert_eq!(
            (now.last_modified, now.size, &now.e_tag),
            (meta.last_modified, meta.size, &meta.e_tag),
            "{k} was rewritten"
        );
    }
    // Its files are the winner's, byte for byte (rendering is deterministic, keys are hashes).
    assert_eq!(out_a.render.print_key, out_b.render.print_key);
    let job = app.db.job(a.id).await.unwrap();
    assert_eq!(job.state, storage::queue::JobState::Done);
    assert_eq!(job.worker.as_deref(), Some("worker-b"));
}

use object_store::ObjectStoreExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_fails_half_way_leaves_no_object_and_records_no_render() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("p.db").display());
    let s3server = testkit::S3Server::start().unwrap();
    // Import through a healthy connection (the photo upload is small)…
    let healthy = app(&url, s3(&s3server, &s3server.endpoint)).await;
    let imported = healthy
        .import_order(&name_tag_order(7, "Grace"), &cli())
        .await
        .unwrap();
    // …then render through a connection that dies 8 kB into each request: the print file
    // (larger than that) cannot get through.
    let proxy = testkit::cutting_proxy(s3server.port, 8 * 1024).await;
    let broken = app(&url, s3(&s3server, &format!("http://127.0.0.1:{proxy}"))).await;
    let job = broken
        .db
        .claim("w", &["render"], broken.now(), Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    let err = broken
        .render_and_store(&job, Arc::new(AtomicBool::new(false)))
        .await
        .unwrap_err();
    assert!(
        err.is_retryable(),
        "a failed upload is worth retrying: {err}"
    );
    let outcome = broken
        .db
        .fail(&job, &err.to_string(), true, broken.now())
        .await
        .unwrap();
    assert!(
        matches!(outcome, storage::FailOutcome::Retry { .. }),
        "{outcome:?}"
    );
    // The print file never appeared under its key. (The small preview and report may have
    // got through before the cut: whole objects, named by their hash, recorded nowhere.)
    let keys = healthy.files.list("orders").await.unwrap();
    for key in &keys {
        assert!(
            !key.ends_with(".png"),
            "the print file must not appear: {key}"
        );
        let bytes = healthy.files.get(key).await.unwrap();
        assert!(
            key.contains(&renderer::sha256_hex(&bytes)),
            "{key} is not whole"
        );
    }
    assert!(
        healthy
            .db
            .renders(imported.order_id)
            .await
            .unwrap()
            .is_empty(),
        "no render recorded"
    );
    let on_disk = testkit::files_below(&s3server.bucket_dir().join("orders"));
    assert_eq!(
        on_disk.len(),
        keys.len(),
        "nothing half-written on the server's disk: {on_disk:?}"
    );
}

/// The embedded default: an SQLite file and a files folder in a temporary folder.
async fn local_app() -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("p.db").display());
    let files = FilesConfig::Local {
        root: dir.path().join("files"),
    };
    let app = app(&url, files).await;
    (dir, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_orders_store_nothing() {
    let (_dir, app) = local_app().await;

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not JSON", b"<html>".to_vec(), "woo_json"),
        (
            "bad quantity",
            {
                let mut v: serde_json::Value =
                    serde_json::from_slice(&name_tag_order(2, "x")).unwrap();
                v["line_items"][0]["quantity"] = "two".into();
                serde_json::to_vec(&v).unwrap()
            },
            "woo_json",
        ),
    ];
    for (what, body, code) in cases {
        let err = app.import_order(&body, &cli()).await.expect_err(what);
        assert_eq!(err.code(), code, "{what}: {err}");
        assert!(
            (400..500).contains(&err.http_status()),
            "{what}: {}",
            err.http_status()
        );
    }
    assert!(app.db.list_orders(100, 0).await.unwrap().is_empty());
    // A photo that is missing or not an image does not refuse the order (it waits for its
    // photo, see tests/import.rs); its fetch fails for good, naming why.
    for (file, why) in [
        ("no-such-photo.jpg", "No such file"),
        ("name-tag.json", "not an image"),
    ] {
        let dir = testkit::repo_root().join("fixtures/orders");
        let e = app::photo_job::fetch_and_store(&app, file, Some(&dir))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "client_image", "{file}: {e}");
        assert!(!e.is_retryable(), "{file}: {e}");
        assert!(e.to_string().contains(why), "{file}: {e}");
    }
    // A template that is not installed.
    let mut missing = settings();
    for rule in &mut missing.mapping.products {
        rule.template = "no-such-template".into();
    }
    let app2 = App::new(
        app.db.clone(),
        app.files.clone(),
        missing,
        app::system_clock(),
    )
    .unwrap();
    let err = app2
        .import_order(&name_tag_order(6, "x"), &cli())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_item");
    assert!(err.to_string().contains("no-such-template"), "{err}");

    assert!(app.db.list_orders(100, 0).await.unwrap().is_empty());
    assert_eq!(
        app.db.queue_counts().await.unwrap(),
        storage::QueueCounts::default()
    );

    // The same order with a new name: one order, merged, its item rendered again.
    let first = app
        .import_order(&name_tag_order(8, "Ada"), &cli())
        .await
        .unwrap();
    let again = app
        .import_order(&name_tag_order(8, "Eve"), &cli())
        .await
        .unwrap();
    assert_eq!(again.order_id, first.order_id);
    assert_eq!(again.outcome, app::import::Outcome::Updated);
    assert_eq!(again.jobs.len(), 1);
    let orders = app.db.list_orders(100, 0).await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(
        orders[0].order.items[0]
            .personalization
            .as_ref()
            .unwrap()
            .values["name"],
        "Eve"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_are_unlimited_until_the_order_is_submitted() {
    let (_dir, app) = local_app().await;
    let imported = app
        .import_order(&name_tag_order(9, "Ada"), &cli())
        .await
        .unwrap();
    for _ in 0..3 {
        app.request_render(imported.order_id, None, &Actor::Merchant("m".into()))
            .await
            .unwrap();
    }
    assert_eq!(app.db.queue_counts().await.unwrap().queued, 4);
    // Submitted: the design is locked.
    let row = app.db.get_order(imported.order_id).await.unwrap();
    let mut order = row.order.clone();
    order.submit_status = domain::SubmitStatus::Submitted {
        provider: "manual".into(),
        provider_order_id: None,
        at: app.now(),
        external_id: None,
    };
    let mut tx = app.db.begin().await.unwrap();
    app.db
        .update_order(&mut tx, row.id, row.row_version, &order, app.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let err = app
        .request_render(imported.order_id, None, &Actor::Merchant("m".into()))
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.http_status()), ("design_locked", 409));
    let err = app
        .request_render(imported.order_id + 100, None, &Actor::Merchant("m".into()))
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 404);
}
