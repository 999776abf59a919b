//! A refused import leaves no customer photo behind in the files folder: photos this import
//! stored are removed again, photos that were already there (another order's) stay.

use std::path::Path;
use std::sync::Arc;

use app::import::ImportSource;
use app::{App, AppError, AppSettings};
use domain::Actor;
use serde_json::{Value, json};
use storage::{Db, DbOptions, Files, FilesConfig, StorageError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves the files of `fixtures/` below `/`; anything missing is a 404.
async fn fixture_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let root = Arc::new(testkit::repo_root().join("fixtures"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let root = root.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request).to_string();
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                let body = std::fs::read(root.join(path.trim_start_matches('/'))).ok();
                let head = match &body {
                    Some(b) => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n", b.len()),
                    None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n".into(),
                };
                let _ = socket
                    .write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())
                    .await;
                if let Some(b) = body {
                    let _ = socket.write_all(&b).await;
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_order_with_a_new_photo_leaves_no_photo_behind() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let base = fixture_server().await;
    let first = name_tag(&format!("{base}/orders/biscuit.jpg"));
    app.import_order(&serde_json::to_vec(&first).unwrap(), &api())
        .await
        .unwrap();
    let kept = photos(&app).await;
    assert_eq!(kept.len(), 1);

    // The same order again, now with another photo: refused as a duplicate…
    let again = name_tag(&format!("{base}/photos/baseline.jpg"));
    let e = app
        .import_order(&serde_json::to_vec(&again).unwrap(), &api())
        .await
        .unwrap_err();
    assert!(
        matches!(e, AppError::Storage(StorageError::DuplicateOrder { .. })),
        "{e}"
    );
    // …and its new photo is gone, while the first order's stays.
    assert_eq!(photos(&app).await, kept);

    // The same photo as the first order, refused: the shared photo is not removed.
    let e = app
        .import_order(&serde_json::to_vec(&first).unwrap(), &api())
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        AppError::Storage(StorageError::DuplicateOrder { .. })
    ));
    assert_eq!(photos(&app).await, kept, "another order's photo stays");
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
