//! The editor's live preview through the real endpoint: `POST /api/v1/templates/workload/
//! preview` of an in-process server, the standard workload template (4500 x 5400 artwork PNG,
//! a 12 MP photo in a circle, two lines of text) at 1000 px, warm (template, artwork and
//! photo cached after the first requests). Each request changes the names, as typing does.
//! Prints p50 and p95 of the server's time (its `Server-Timing: total`) and of the time the
//! client saw. Goal: server time under 150 ms.
//!
//! `cargo bench -p server --bench preview` (`PREVIEW_REQUESTS=N`, default 60).

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::{App, AppSettings};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn server_total(resp: &reqwest::Response) -> Duration {
    let timing = resp.headers()["server-timing"].to_str().unwrap();
    let ms: f64 = timing
        .split(',')
        .find_map(|part| part.trim().strip_prefix("total;dur="))
        .expect("a total in Server-Timing")
        .parse()
        .unwrap();
    Duration::from_secs_f64(ms / 1000.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let requests: usize = std::env::var("PREVIEW_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("pressroom.db").display());
    let db = storage::Db::open(&url, storage::DbOptions::default())
        .await
        .expect("database");
    let files = storage::Files::open(
        &storage::FilesConfig::Local {
            root: dir.path().join("files"),
        },
        None,
    )
    .expect("files");
    let settings: AppSettings = toml::from_str(&testkit::demo_app_settings()).expect("settings");
    let app = Arc::new(App::new(db, files, settings, app::system_clock()).expect("app"));
    let photo = std::fs::read(testkit::repo_root().join("fixtures/templates/workload/photo.jpg"))
        .expect("the workload photo");
    let key = app
        .files
        .put_content("photos", "jpg", photo.into())
        .await
        .expect("store the photo")
        .key;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!(
        "http://{}/api/v1/templates/workload/preview",
        listener.local_addr().unwrap()
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(server::run(listener, app.clone(), shutdown.clone()));
    app.add_user("bench", "bench-password", app::auth::Role::Admin, &[])
        .await
        .expect("a user");
    let token = app.create_token("bench", "bench").await.expect("a token");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let body = |names: &str| {
        json!({
            "values": {"names": names, "year": "2026"},
            "photos": {"photo": key},
            "width": 1000,
        })
    };

    // Cold: the template loaded, the artwork and the photo decoded and fitted.
    let cold = Instant::now();
    let resp = http
        .post(&target)
        .json(&body("Sarah & James"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    println!("first (cold) preview: {:.0} ms", ms(cold.elapsed()));
    for _ in 0..3 {
        let resp = http
            .post(&target)
            .json(&body("Sarah & James"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    let mut server_times = vec![];
    let mut client_times = vec![];
    let names = "Sarah & James Whitfield";
    for i in 0..requests {
        // A keystroke: the names grow and shrink.
        let typed = &names[..(i % names.len()) + 1];
        let sent = Instant::now();
        let resp = http.post(&target).json(&body(typed)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let server = server_total(&resp);
        let jpeg = resp.bytes().await.unwrap();
        client_times.push(sent.elapsed());
        server_times.push(server);
        assert!(jpeg.len() > 10_000, "a preview JPEG");
    }
    server_times.sort();
    client_times.sort();
    println!(
        "live preview, workload at 1000 px, {requests} requests one after another: \
         server p50 {:.1} ms, p95 {:.1} ms (max {:.1}); client p50 {:.1} ms, p95 {:.1} ms",
        ms(percentile(&server_times, 0.50)),
        ms(percentile(&server_times, 0.95)),
        ms(*server_times.last().unwrap()),
        ms(percentile(&client_times, 0.50)),
        ms(percentile(&client_times, 0.95)),
    );
    shutdown.cancel();
}
