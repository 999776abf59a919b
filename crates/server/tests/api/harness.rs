//! The server under test, customers' photos over HTTP, and HTTP helpers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use app::{App, AppSettings, Worker, WorkerOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The API token of the admin every test server has; [`client`] sends it.
pub const ADMIN_TOKEN: &str = "prt_api-test-admin-token";

/// The secret the server signs provider URLs with (`files.url_secret`).
pub const URL_SECRET: &str = "api-test-url-secret";

/// A server running in this process with its own data folder; stopped when dropped.
pub struct Server {
    pub base: String,
    pub app: Arc<App>,
    pub dir: tempfile::TempDir,
    shutdown: CancellationToken,
}

/// The demo `[app]` section with photos allowed from 127.0.0.1 (the test's photo server).
pub fn settings() -> AppSettings {
    let mut s: AppSettings = toml::from_str(&testkit::demo_app_settings()).expect("demo [app]");
    s.fetch.allow_hosts = vec!["127.0.0.1".into()];
    // The simulated store answers at once: retry quickly.
    s.store_api.base_delay_ms = 10;
    s.store_api.max_delay_ms = 50;
    s.store_api.timeout_secs = 10;
    s
}

/// The key store credentials are sealed with in these tests.
pub fn secret_key() -> secrets::SecretKey {
    secrets::SecretKey::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").expect("a key")
}

impl Server {
    /// SQLite in a fresh temporary folder, a worker polling every 100 ms.
    pub async fn start() -> Server {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite:{}", dir.path().join("pressroom.db").display());
        Server::start_on(dir, &url, true).await
    }

    /// SQLite in a fresh temporary folder, no worker.
    pub async fn without_worker() -> Server {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite:{}", dir.path().join("pressroom.db").display());
        Server::start_on(dir, &url, false).await
    }

    /// On the given database; `worker`: run an embedded worker.
    pub async fn start_on(dir: tempfile::TempDir, db_url: &str, worker: bool) -> Server {
        Server::start_with(dir, db_url, worker, settings(), None, app::system_clock()).await
    }

    /// SQLite, a worker that also polls the connected stores every `every`.
    pub async fn with_reconcile_every(every: Duration) -> Server {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite:{}", dir.path().join("pressroom.db").display());
        Server::start_with(
            dir,
            &url,
            true,
            settings(),
            Some(every),
            app::system_clock(),
        )
        .await
    }

    /// SQLite in a fresh temporary folder, a worker, and these settings.
    pub async fn with_settings(settings: AppSettings) -> Server {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite:{}", dir.path().join("pressroom.db").display());
        Server::start_with(dir, &url, true, settings, None, app::system_clock()).await
    }

    /// SQLite in a fresh temporary folder, a worker, these settings, and the time from
    /// `clock` (tests move it to reach retries and schedules).
    pub async fn with_clock(settings: AppSettings, clock: app::Clock) -> Server {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite:{}", dir.path().join("pressroom.db").display());
        Server::start_with(dir, &url, true, settings, None, clock).await
    }

    async fn start_with(
        dir: tempfile::TempDir,
        db_url: &str,
        worker: bool,
        settings: AppSettings,
        reconcile_every: Option<Duration>,
        clock: app::Clock,
    ) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let db = storage::Db::open(db_url, storage::DbOptions::default())
            .await
            .expect("open the database");
        let files = storage::Files::open(
            &storage::FilesConfig::Local {
                root: dir.path().join("files"),
            },
            Some(storage::UrlMode::Server {
                base_url: base.clone(),
                secret: URL_SECRET.into(),
                ttl_days: 90,
            }),
        )
        .expect("the files folder");
        let app = Arc::new(
            App::new(db, files, settings, clock)
                .expect("app")
                .with_secret_key(secret_key()),
        );
        let admin = app
            .add_user("admin", "admin-password", app::auth::Role::Admin, &[])
            .await
            .expect("add the admin");
        app.db
            .create_token(
                admin.id,
                "tests",
                &app::auth::token_hash(ADMIN_TOKEN),
                chrono::Utc::now(),
            )
            .await
            .expect("the admin's token");
        let shutdown = CancellationToken::new();
        if worker {
            let mut opts = WorkerOptions::new("api-test");
            opts.poll = Duration::from_millis(100);
            opts.lease = Duration::from_secs(10);
            opts.reconcile_every = reconcile_every;
            tokio::spawn(Worker::new(app.clone(), opts).run(shutdown.clone()));
        }
        tokio::spawn(server::run(listener, app.clone(), shutdown.clone()));
        Server {
            base,
            app,
            dir,
            shutdown,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn files_root(&self) -> PathBuf {
        self.dir.path().join("files")
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An HTTP client that calls as the admin ([`ADMIN_TOKEN`]).
pub fn client() -> reqwest::Client {
    client_with_token(ADMIN_TOKEN)
}

/// An HTTP client that sends this bearer token.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("a header value"),
    );
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .default_headers(headers)
        .build()
        .expect("HTTP client")
}

/// An HTTP client without credentials.
pub fn anonymous_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// Serves `GET /photo.jpg` with the given bytes on 127.0.0.1; every other path is a 404.
/// Returns the base URL and the number of requests served.
pub async fn serve_photo(photo: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let stub = testkit::HttpStub::start(move |path| {
        if path == "/photo.jpg" {
            let mut ok = testkit::StubResponse::ok(photo.clone());
            ok.headers
                .push(("Content-Type".into(), "image/jpeg".into()));
            ok
        } else {
            testkit::StubResponse::not_found()
        }
    })
    .await
    .expect("start the photo server");
    (stub.base_url, stub.hits)
}

pub fn biscuit() -> Vec<u8> {
    std::fs::read(testkit::repo_root().join("fixtures/orders/biscuit.jpg")).expect("biscuit.jpg")
}

/// A fixture order with the value of its photo meta (`meta_key`) replaced by `photo_url`.
pub fn order_fixture(file: &str, meta_key: &str, photo_url: &str) -> Value {
    let path = testkit::repo_root().join("fixtures/orders").join(file);
    let mut order: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read the order fixture"))
            .expect("the fixture is JSON");
    let mut replaced = 0;
    for item in order["line_items"].as_array_mut().expect("line items") {
        for meta in item["meta_data"].as_array_mut().expect("meta data") {
            if meta["key"] == meta_key {
                meta["value"] = json!(photo_url);
                meta["display_value"] = json!(photo_url);
                replaced += 1;
            }
        }
    }
    assert_eq!(replaced, 1, "{file} has one {meta_key:?} meta");
    order
}

pub async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    let resp = http.get(url).send().await.expect("GET");
    assert_eq!(resp.status(), StatusCode::OK, "GET {url}");
    resp.json().await.expect("a JSON body")
}

/// Check an API error: the status, and the body `{"error": {"code", "message"}}` with the
/// code. Returns the message.
pub async fn expect_error(resp: reqwest::Response, status: StatusCode, code: &str) -> String {
    let url = resp.url().to_string();
    assert_eq!(resp.status(), status, "status of {url}");
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/json", "errors are JSON ({url})");
    let body: Value = resp.json().await.expect("a JSON error body");
    let error = body["error"].as_object().unwrap_or_else(|| {
        panic!("{url}: the body is {{\"error\": {{…}}}}, got {body}");
    });
    let mut keys: Vec<_> = error.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["code", "message"], "{url}: {body}");
    assert_eq!(error["code"], code, "{url}: {body}");
    let message = error["message"].as_str().expect("a message string");
    assert!(!message.is_empty(), "{url}: the message says what is wrong");
    message.to_string()
}
