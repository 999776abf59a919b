//! Readiness and metrics say the truth quickly: a folder that cannot be written is not ready,
//! a stopped database is reported within the probe bound, and queue gauges that could not be
//! read are flagged and left out instead of repeated. Workers serve metrics of their own.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::harness::*;

fn gauge<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).map(str::trim))
}

async fn metrics_text(http: &reqwest::Client, url: &str) -> String {
    let resp = http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_files_folder_cannot_be_written() {
    let server = Server::start().await;
    let http = client();
    let ready: Value = get_json(&http, &server.url("/readyz")).await;
    assert_eq!(ready["files"], "ok");

    // The folder is replaced by a plain file: reading a missing key still "works" (not
    // found), but nothing can be written any more.
    let root = server.files_root();
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::write(&root, b"not a folder").unwrap();

    let resp = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["database"], "ok", "{body}");
    let files = body["files"].as_str().unwrap();
    assert!(files.starts_with("file store write failed"), "{body}");
    assert!(
        !files.contains(&root.display().to_string()),
        "no server path: {files}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_metrics_with_the_database_stopped() {
    let pg = tokio::task::spawn_blocking(testkit::PrivatePostgres::init)
        .await
        .unwrap()
        .expect("a private Postgres cluster");
    let server = Server::start_on(tempfile::tempdir().unwrap(), &pg.url, false).await;
    let http = client();

    let text = metrics_text(&http, &server.url("/metrics")).await;
    assert_eq!(gauge(&text, "pressroom_queue_gauges_available"), Some("1"));
    assert_eq!(gauge(&text, "pressroom_jobs{state=\"queued\"}"), Some("0"));

    pg.stop().expect("stop Postgres");

    let resp = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = resp.json().await.unwrap();
    assert_ne!(body["database"], "ok", "{body}");
    assert_eq!(body["files"], "ok", "{body}");

    let text = metrics_text(&http, &server.url("/metrics")).await;
    assert_eq!(
        gauge(&text, "pressroom_queue_gauges_available"),
        Some("0"),
        "{text}"
    );
    assert_eq!(
        gauge(&text, "pressroom_jobs{"),
        None,
        "no stale queue depth:\n{text}"
    );
}

/// What `pressroom worker --metrics-listen` serves: metrics and liveness, and no API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_serves_metrics_and_nothing_else() {
    let server = Server::without_worker().await;
    server
        .app
        .metrics
        .jobs_finished
        .with_label_values(&["render", "done"])
        .inc();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let task = tokio::spawn(server::run_metrics(
        listener,
        Arc::clone(&server.app),
        stop.clone(),
    ));
    let http = client();

    let text = metrics_text(&http, &format!("{base}/metrics")).await;
    assert_eq!(
        gauge(
            &text,
            "pressroom_jobs_finished_total{kind=\"render\",outcome=\"done\"}"
        ),
        Some("1"),
        "{text}"
    );
    assert_eq!(gauge(&text, "pressroom_queue_gauges_available"), Some("1"));
    let resp = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = http
        .get(format!("{base}/api/v1/orders"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;

    stop.cancel();
    task.await
        .unwrap()
        .expect("the metrics listener stops cleanly");
}
