//! Object storage on a local folder and on a real S3 server (s3s-fs on 127.0.0.1).

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use storage::files::S3Config;
use storage::{Files, FilesConfig, UrlMode};

use crate::common::t;

fn s3_config(server: &testkit::S3Server, endpoint: &str) -> FilesConfig {
    FilesConfig::S3(S3Config {
        endpoint: endpoint.to_string(),
        bucket: server.bucket.clone(),
        region: "us-east-1".into(),
        access_key_id: server.access_key.clone(),
        secret_access_key: server.secret_key.clone(),
        path_style: true,
        allow_http: true,
        max_retries: 1,
        retry_timeout_secs: 5,
    })
}

async fn content_addressed_keys_round_trip(files: &Files) {
    let bytes = Bytes::from_static(b"\x89PNG pretend print file");
    let first = files
        .put_content("orders/7/items/316", "png", bytes.clone())
        .await
        .unwrap();
    assert_eq!(
        first.key,
        format!("orders/7/items/316/{}.png", first.sha256)
    );
    assert_eq!(first.size, bytes.len() as u64);
    // Same content, same key, still one object.
    let second = files
        .put_content("orders/7/items/316", "png", bytes.clone())
        .await
        .unwrap();
    assert_eq!(second, first);
    assert_eq!(files.get(&first.key).await.unwrap(), bytes);
    assert!(files.exists(&first.key).await.unwrap());
    assert_eq!(
        files.list("orders/7").await.unwrap(),
        vec![first.key.clone()]
    );
    // Only our own key shapes resolve.
    for bad in [
        "../etc/passwd",
        "orders/../x",
        "orders//x",
        "orders/x y.png",
        "",
    ] {
        assert!(files.get(bad).await.is_err(), "{bad:?} must not resolve");
    }
}

#[tokio::test]
async fn local_folder_stores_content_addressed_objects() {
    let dir = tempfile::tempdir().unwrap();
    let files = Files::open(
        &FilesConfig::Local {
            root: dir.path().join("files"),
        },
        None,
    )
    .unwrap();
    content_addressed_keys_round_trip(&files).await;
}

#[tokio::test]
async fn s3_bucket_stores_content_addressed_objects() {
    let server = testkit::S3Server::start().unwrap();
    let files = Files::open(&s3_config(&server, &server.endpoint), None).unwrap();
    content_addressed_keys_round_trip(&files).await;
    files.check().await.unwrap();
}

#[tokio::test]
async fn a_presigned_url_downloads_the_file_without_credentials() {
    let server = testkit::S3Server::start().unwrap();
    let files = Files::open(
        &s3_config(&server, &server.endpoint),
        Some(UrlMode::Presigned { ttl_days: 7 }),
    )
    .unwrap();
    let stored = files
        .put_content("orders/1/items/2", "png", Bytes::from_static(b"print"))
        .await
        .unwrap();
    let url = files.provider_url(&stored.key, t(0)).await.unwrap();
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let body = reqwest::get(&url).await.unwrap();
    assert!(body.status().is_success(), "{}", body.status());
    assert_eq!(body.bytes().await.unwrap().as_ref(), b"print");
    // Tampering with the key breaks the signature.
    let forged = url.replace(&stored.sha256, &"0".repeat(64));
    assert!(!reqwest::get(&forged).await.unwrap().status().is_success());
}

#[tokio::test]
async fn server_signed_and_public_urls() {
    let dir = tempfile::tempdir().unwrap();
    let mode = UrlMode::Server {
        base_url: "https://press.example.com".into(),
        secret: "s3cret".into(),
        ttl_days: 30,
    };
    let files = Files::open(
        &FilesConfig::Local {
            root: dir.path().to_path_buf(),
        },
        Some(mode),
    )
    .unwrap();
    let key = "orders/1/items/2/abc.png";
    let url = files.provider_url(key, t(0)).await.unwrap();
    let parsed = url::Url::parse(&url).unwrap();
    assert_eq!(parsed.path(), format!("/files/{key}"));
    let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    let expires: i64 = q["expires"].parse().unwrap();
    assert_eq!(expires, t(0).timestamp() + 30 * 86_400);
    assert!(files.verify_server_url(key, expires, &q["signature"], t(10)));
    assert!(!files.verify_server_url(
        "orders/1/items/2/other.png",
        expires,
        &q["signature"],
        t(10)
    ));
    assert!(
        !files.verify_server_url(key, expires, &q["signature"], t(31 * 86_400)),
        "expired"
    );
    assert!(
        !files.verify_server_url(key, expires + 1, &q["signature"], t(10)),
        "expiry tampered"
    );

    let public = Files::open(
        &FilesConfig::Local {
            root: dir.path().to_path_buf(),
        },
        Some(UrlMode::Public {
            base_url: "https://cdn.example.com/prints/".into(),
        }),
    )
    .unwrap();
    assert_eq!(
        public.provider_url(key, t(0)).await.unwrap(),
        format!("https://cdn.example.com/prints/{key}")
    );
    // Presigned URLs need S3.
    assert!(
        Files::open(
            &FilesConfig::Local {
                root: dir.path().to_path_buf()
            },
            Some(UrlMode::Presigned { ttl_days: 1 })
        )
        .is_err()
    );
}

#[tokio::test]
async fn an_upload_cut_half_way_leaves_no_object() {
    let server = testkit::S3Server::start().unwrap();
    let proxy = testkit::cutting_proxy(server.port, 256 * 1024).await;
    let files = Files::open(
        &s3_config(&server, &format!("http://127.0.0.1:{proxy}")),
        None,
    )
    .unwrap();
    let big = Bytes::from(vec![7u8; 2 * 1024 * 1024]);
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        files.put_content("orders/9/items/1", "png", big.clone()),
    )
    .await
    .unwrap();
    assert!(result.is_err(), "the upload must fail");
    // Nothing under the key, seen through a healthy connection and on the server's disk.
    let direct = Files::open(&s3_config(&server, &server.endpoint), None).unwrap();
    assert_eq!(direct.list("orders").await.unwrap(), Vec::<String>::new());
    let on_disk: Vec<_> = testkit::files_below(&server.bucket_dir());
    assert!(
        on_disk.iter().all(|p| !p.ends_with(".png")),
        "stray files: {on_disk:?}"
    );
    // The same upload through the healthy connection works.
    direct
        .put_content("orders/9/items/1", "png", big)
        .await
        .unwrap();
}

/// Writes `path` with a modification time `age` before `now`.
fn file_aged(path: &std::path::Path, now: SystemTime, age: Duration) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = std::fs::File::create(path).unwrap();
    f.set_len(1024).unwrap();
    f.set_modified(now - age).unwrap();
}

#[tokio::test]
async fn a_sweep_removes_only_stale_staging_files_from_the_local_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("files");
    let files = Files::open(&FilesConfig::Local { root: root.clone() }, None).unwrap();
    let object = files
        .put_content("orders/1/items/2", "png", Bytes::from_static(b"print"))
        .await
        .unwrap();
    let now = SystemTime::now();
    // A worker killed while writing the same key two hours ago, another one writing now, and
    // an old object: only the first is debris.
    let stale = format!("{}#1", object.key);
    let fresh = "orders/1/items/3/feed.png#2";
    file_aged(&root.join(&stale), now, Duration::from_secs(2 * 3600));
    file_aged(&root.join(fresh), now, Duration::from_secs(60));
    std::fs::File::options()
        .write(true)
        .open(root.join(&object.key))
        .unwrap()
        .set_modified(now - Duration::from_secs(48 * 3600))
        .unwrap();

    let removed = files
        .sweep_staging(storage::files::STAGING_GRACE, now)
        .await
        .unwrap();
    assert_eq!(removed, vec![stale.clone()]);
    assert!(!root.join(&stale).exists());
    assert!(root.join(fresh).exists(), "a write in progress stays");
    assert_eq!(
        files.get(&object.key).await.unwrap().as_ref(),
        b"print",
        "objects stay"
    );
    assert_eq!(
        files
            .sweep_staging(storage::files::STAGING_GRACE, now)
            .await
            .unwrap(),
        Vec::<String>::new(),
        "nothing left to sweep"
    );
    // Once its grace has passed, the other staging file goes too.
    let later = now + storage::files::STAGING_GRACE;
    assert_eq!(
        files
            .sweep_staging(storage::files::STAGING_GRACE, later)
            .await
            .unwrap(),
        vec![fresh.to_string()]
    );
}

#[tokio::test]
async fn a_sweep_on_s3_removes_nothing() {
    let server = testkit::S3Server::start().unwrap();
    let files = Files::open(&s3_config(&server, &server.endpoint), None).unwrap();
    let object = files
        .put_content("orders/1/items/2", "png", Bytes::from_static(b"print"))
        .await
        .unwrap();
    let removed = files
        .sweep_staging(Duration::ZERO, SystemTime::now())
        .await
        .unwrap();
    assert!(removed.is_empty(), "{removed:?}");
    assert!(files.exists(&object.key).await.unwrap());
}
