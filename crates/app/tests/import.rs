//! Imports merge orders that exist; a photo that cannot be fetched yet never refuses an
//! order: its item waits and a `fetch_photo` job brings it in, then queues the render. Photos
//! are stored under their format's extension; a format that is not accepted is named.

use std::path::Path;

use app::import::{ImportSource, Outcome};
use app::{App, AppSettings};
use domain::{Actor, EventKind};
use serde_json::{Value, json};
use storage::{Db, DbOptions, Files, FilesConfig};

/// Serves the files of `fixtures/` below `/`; anything missing is a 404.
async fn fixture_server() -> String {
    let root = testkit::repo_root().join("fixtures");
    let stub = testkit::HttpStub::start(move |path| {
        match std::fs::read(root.join(path.trim_start_matches('/'))) {
            Ok(body) => testkit::StubResponse::ok(body),
            Err(_) => testkit::StubResponse::not_found(),
        }
    })
    .await
    .unwrap();
    stub.base_url
}

async fn app(dir: &Path) -> App {
    let url = format!("sqlite:{}", dir.join("pressroom.db").display());
    let db = Db::open(&url, DbOptions::default()).await.unwrap();
    let mut settings: AppSettings = toml::from_str(&testkit::demo_app_settings()).unwrap();
    settings.fetch.allow_hosts = vec!["127.0.0.1".into()];
    let files = Files::open(
        &FilesConfig::Local {
            root: dir.join("files"),
        },
        None,
    )
    .unwrap();
    App::new(db, files, settings, app::system_clock()).unwrap()
}

fn api() -> ImportSource {
    ImportSource {
        actor: Actor::Merchant("test".into()),
        local_files: None,
    }
}

/// name-tag.json with its photo at `photo_url`.
fn name_tag(photo_url: &str) -> Value {
    let text = std::fs::read_to_string(testkit::repo_root().join("fixtures/orders/name-tag.json"))
        .unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["line_items"][0]["meta_data"][1]["value"] = json!(photo_url);
    v
}

async fn photos(app: &App) -> Vec<String> {
    app.files.list("photos").await.unwrap()
}

/// Importing an order that exists merges it: the same order changes nothing; a new photo is
/// fetched and the item rendered again; an update whose photo cannot be fetched is refused,
/// leaving the order and the files as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_imported_again_is_merged_and_a_refused_update_leaves_no_photo_behind() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let base = fixture_server().await;
    let first = name_tag(&format!("{base}/orders/biscuit.jpg"));
    let created = app
        .import_order(&serde_json::to_vec(&first).unwrap(), &api())
        .await
        .unwrap();
    assert_eq!(created.outcome, Outcome::Created);
    assert_eq!(created.jobs.len(), 1);
    let kept = photos(&app).await;
    assert_eq!(kept.len(), 1);

    // The same order again: nothing changes, nothing is rendered.
    let same = app
        .import_order(&serde_json::to_vec(&first).unwrap(), &api())
        .await
        .unwrap();
    assert_eq!(
        (same.order_id, same.outcome, same.jobs.len()),
        (created.order_id, Outcome::Unchanged, 0)
    );

    // An update whose new photo is missing: merged, the item waits for its photo (a job),
    // nothing is rendered and no file is added.
    let broken = name_tag(&format!("{base}/orders/missing.jpg"));
    let waiting = app
        .import_order(&serde_json::to_vec(&broken).unwrap(), &api())
        .await
        .unwrap();
    assert_eq!(waiting.outcome, Outcome::Updated);
    assert_eq!(
        (waiting.jobs.len(), waiting.waiting_for_photos.clone()),
        (0, vec![501])
    );
    assert_eq!(photos(&app).await, kept);

    // The same order with another photo: merged, the photo fetched, the item re-rendered.
    let again = name_tag(&format!("{base}/photos/progressive.jpg"));
    let updated = app
        .import_order(&serde_json::to_vec(&again).unwrap(), &api())
        .await
        .unwrap();
    assert_eq!(updated.outcome, Outcome::Updated);
    assert_eq!(updated.order_id, created.order_id);
    assert_eq!(updated.jobs.len(), 1, "{}", updated.changes);
    assert!(
        updated.changes.contains("re-rendering"),
        "{}",
        updated.changes
    );
    assert_eq!(photos(&app).await.len(), 2);
    let history = app.db.history(created.order_id).await.unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.kind == EventKind::Updated && h.message.contains("items")),
        "{history:?}"
    );
}

/// A photo that cannot be fetched yet does not refuse the order: the order is stored, the
/// other item is rendered, the item waits, and its `fetch_photo` job brings the photo in once
/// the host serves it, then queues its render.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_photo_cannot_be_fetched_yet_is_stored_and_the_item_waits_for_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let base = fixture_server().await;
    let mut order = name_tag(&format!("{base}/orders/biscuit.jpg"));
    let mut second = order["line_items"][0].clone();
    second["id"] = json!(502);
    // The host answers 404 for now; the photo appears there later (written below).
    let late = dir.path().join("late");
    std::fs::create_dir_all(&late).unwrap();
    let late_server = {
        let late = late.clone();
        testkit::HttpStub::start(move |path| {
            match std::fs::read(late.join(path.trim_start_matches('/'))) {
                Ok(body) => testkit::StubResponse::ok(body),
                Err(_) => testkit::StubResponse::not_found(),
            }
        })
        .await
        .unwrap()
    };
    let late_url = format!("{}/photo.jpg", late_server.base_url);
    second["meta_data"][1]["value"] = json!(late_url);
    order["line_items"].as_array_mut().unwrap().push(second);

    let imported = app
        .import_order(&serde_json::to_vec(&order).unwrap(), &api())
        .await
        .unwrap();
    assert_eq!(imported.outcome, Outcome::Created);
    assert_eq!(imported.jobs.len(), 1, "item 501 is rendered at once");
    assert_eq!(imported.waiting_for_photos, vec![502]);
    let jobs = app.db.jobs_for_order(imported.order_id).await.unwrap();
    let photo_job = jobs
        .iter()
        .find(|j| j.kind == "fetch_photo")
        .expect("a photo job");
    assert_eq!(
        photo_job.key.as_deref(),
        Some(format!("photo:{}:502:photo", imported.order_id).as_str())
    );
    let history = app.db.history(imported.order_id).await.unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.message.contains("item 502 is waiting for its photo")
                && h.message.contains("HTTP 404")),
        "{history:?}"
    );

    // A try while the host still answers 404 fails without storing anything.
    let job = app::photo_job::FetchPhoto {
        order_id: imported.order_id,
        item_id: 502,
        field: "photo".into(),
        url: late_url.clone(),
        local_files: None,
    };
    let e = app.fetch_photo(&job).await.unwrap_err();
    assert!(e.to_string().contains("HTTP 404"), "{e}");
    // The photo is there now: stored, recorded on the order, and the item's render queued.
    std::fs::copy(
        testkit::repo_root().join("fixtures/photos/progressive.jpg"),
        late.join("photo.jpg"),
    )
    .unwrap();
    let done = app.fetch_photo(&job).await.unwrap();
    let app::photo_job::PhotoOutcome::Stored {
        render: Some(render),
    } = done
    else {
        panic!("the render is queued: {done:?}")
    };
    assert_eq!(app.db.job(render).await.unwrap().kind, "render");
    let row = app.db.get_order(imported.order_id).await.unwrap();
    let image = &row
        .order
        .item(502)
        .unwrap()
        .personalization
        .as_ref()
        .unwrap()
        .client_images[0];
    assert!(image.object_key.is_some());
    assert_eq!(photos(&app).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webp_photo_is_stored_as_webp() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let base = fixture_server().await;
    let order = name_tag(&format!("{base}/photos/lossy.webp"));
    app.import_order(&serde_json::to_vec(&order).unwrap(), &api())
        .await
        .unwrap();
    let stored = photos(&app).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].ends_with(".webp"), "{stored:?}");
    let bytes = std::fs::read(testkit::repo_root().join("fixtures/photos/lossy.webp")).unwrap();
    assert_eq!(app.files.get(&stored[0]).await.unwrap(), bytes);
}

/// A photo in a format that is not accepted: the order is stored, the item waits, and the
/// photo's error names the format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heic_photo_is_refused_naming_the_format_and_the_order_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let base = fixture_server().await;
    let order = name_tag(&format!("{base}/photos/iphone.heic"));
    let imported = app
        .import_order(&serde_json::to_vec(&order).unwrap(), &api())
        .await
        .unwrap();
    assert_eq!(imported.waiting_for_photos, vec![501]);
    assert!(imported.jobs.is_empty(), "nothing rendered");
    let history = app.db.history(imported.order_id).await.unwrap();
    let msg = &history
        .iter()
        .find(|h| h.message.contains("waiting for its photo"))
        .expect("the history says why")
        .message;
    assert!(
        msg.contains("iphone.heic")
            && msg.contains(
                "HEIC images (iPhone photos) are not accepted; ask the customer for a JPEG, PNG, WebP or GIF"
            ),
        "{msg}"
    );
    // Its job does not retry: the format will not change.
    let e = app
        .fetch_photo(&app::photo_job::FetchPhoto {
            order_id: imported.order_id,
            item_id: 501,
            field: "photo".into(),
            url: format!("{base}/photos/iphone.heic"),
            local_files: None,
        })
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    assert_eq!(photos(&app).await, Vec::<String>::new());
}
