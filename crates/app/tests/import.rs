//! Imports merge orders that exist, and a refused import leaves no customer photo behind in
//! the files folder: photos this import stored are removed again, photos that were already
//! there (another order's) stay. Photos are stored under their format's extension; a format
//! that is not accepted refuses the import, naming the format.

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

    // An update whose new photo is missing: refused, nothing stored, the order as it was.
    let broken = name_tag(&format!("{base}/orders/missing.jpg"));
    let e = app
        .import_order(&serde_json::to_vec(&broken).unwrap(), &api())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "client_image", "{e}");
    assert_eq!(photos(&app).await, kept);
    let row = app.db.get_order(created.order_id).await.unwrap();
    assert_eq!(row.row_version, 1, "the order was not written");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_item_order_whose_second_photo_is_missing_leaves_no_photo_behind() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let base = fixture_server().await;
    let mut order = name_tag(&format!("{base}/orders/biscuit.jpg"));
    let mut second = order["line_items"][0].clone();
    second["id"] = json!(502);
    second["meta_data"][1]["value"] = json!(format!("{base}/orders/missing.jpg"));
    order["line_items"].as_array_mut().unwrap().push(second);

    let e = app
        .import_order(&serde_json::to_vec(&order).unwrap(), &api())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "client_image", "{e}");
    assert!(e.to_string().contains("missing.jpg"), "{e}");
    assert_eq!(
        photos(&app).await,
        Vec::<String>::new(),
        "the first photo is gone"
    );
    assert!(app.db.list_orders(10, 0).await.unwrap().is_empty());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heic_photo_refuses_the_import_naming_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let base = fixture_server().await;
    let order = name_tag(&format!("{base}/photos/iphone.heic"));
    let e = app
        .import_order(&serde_json::to_vec(&order).unwrap(), &api())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "client_image", "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("iphone.heic")
            && msg.ends_with(
                "HEIC images (iPhone photos) are not accepted; ask the customer for a JPEG, PNG, WebP or GIF"
            ),
        "{msg}"
    );
    assert_eq!(photos(&app).await, Vec::<String>::new());
    assert!(app.db.list_orders(10, 0).await.unwrap().is_empty());
}
