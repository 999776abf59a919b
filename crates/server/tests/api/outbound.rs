//! Outbound webhooks as a merchant's receiver sees them: a real HTTP receiver on 127.0.0.1
//! checks every delivery's signature with the secret it was given once; an import is
//! delivered once, to the endpoints subscribed to it only; a receiver that fails is tried
//! again on the job runner's backoff (the test moves the server's clock, never sleeps) until
//! it answers 2xx or the budget is spent; a private address is refused without a connection;
//! a removed endpoint gets nothing more; the secret is never in an answer nor in the
//! database in clear.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::outbound::DELIVER_WEBHOOK_JOB;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use storage::JobState;

use crate::harness::*;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A merchant's receiver on 127.0.0.1: answers the scripted statuses in turn, then 200.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Default::default();
        let script = Arc::new(Mutex::new(
            script.iter().copied().collect::<VecDeque<u16>>(),
        ));
        let (got2, script2) = (got.clone(), script.clone());
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: bytes::Bytes| {
                let (got, script) = (got2.clone(), script2.clone());
                async move {
                    got.lock().unwrap().push(Received {
                        headers,
                        body: body.to_vec(),
                    });
                    let status = script.lock().unwrap().pop_front().unwrap_or(200);
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        format!("receiver says {status}"),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver { url, got }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// The receiver's check, as docs/webhooks.md tells merchants to write it: HMAC-SHA256 of
/// `"<t>.<body>"` with the secret, in hex, compared in constant time; and `t` recent.
fn signature_ok(secret: &str, header: &str, body: &[u8], now: DateTime<Utc>) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    ring::hmac::verify(&key, &signed, &v1).is_ok() && (now.timestamp() - t).abs() <= 300
}

/// Poll `check` every 20 ms until it returns `Some`, for at most `limit`.
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < limit, "{what}: not after {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A clock the test moves: (the clock, its time in Unix ms).
fn manual_clock() -> (app::Clock, Arc<AtomicI64>) {
    let ms = Arc::new(AtomicI64::new(Utc::now().timestamp_millis()));
    let read = ms.clone();
    let clock: app::Clock = Arc::new(move || {
        DateTime::from_timestamp_millis(read.load(Ordering::SeqCst)).expect("a time")
    });
    (clock, ms)
}

async fn register(server: &Server, body: Value) -> Value {
    let resp = client()
        .post(server.url("/api/v1/webhooks"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED, "register {body}");
    resp.json().await.unwrap()
}

async fn deliveries(server: &Server, id: &str) -> Vec<Value> {
    let log = get_json(
        &client(),
        &server.url(&format!("/api/v1/webhooks/{id}/deliveries")),
    )
    .await;
    log["deliveries"].as_array().unwrap().clone()
}

/// An order with nothing to render (no mapped SKU), store order id `id`.
fn plain_order(id: i64) -> Value {
    let mut order = testkit::order_template();
    order["id"] = json!(id);
    order["number"] = json!(id.to_string());
    for item in order["line_items"].as_array_mut().unwrap() {
        item["sku"] = json!("NOT-PERSONALIZED");
    }
    order
}

async fn import(server: &Server, order: &Value) -> i64 {
    let resp = client()
        .post(server.url("/api/v1/orders"))
        .json(order)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json::<Value>().await.unwrap()["order_id"]
        .as_i64()
        .unwrap()
}

/// The one `deliver_webhook` job once it is back in the queue after `attempts` attempts:
/// when it is due.
async fn retry_due(server: &Server, attempts: i64) -> DateTime<Utc> {
    eventually(
        "the job back in the queue",
        Duration::from_secs(30),
        || async {
            let jobs = server
                .app
                .db
                .jobs_of_kind(DELIVER_WEBHOOK_JOB)
                .await
                .unwrap();
            let job = jobs.last()?;
            (job.state == JobState::Queued && job.attempts == attempts).then_some(job.run_at)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_is_delivered_once_signed_with_the_secret_shown_only_at_registration() {
    let server = Server::start().await;
    let receiver = Receiver::start(&[]).await;
    let other = Receiver::start(&[]).await;
    let created = register(
        &server,
        json!({"url": receiver.url, "events": ["order.imported"], "description": "ERP"}),
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 64, "32 random bytes in hex: {secret}");
    let id = created["webhook"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["webhook"]["events"], json!(["order.imported"]));
    assert_eq!(
        created["webhook"]["secret_hint"],
        format!("…{}", &secret[60..])
    );
    // Subscribed to renders only: an import is not for it.
    let renders = register(
        &server,
        json!({"url": other.url, "events": ["order.rendered"]}),
    )
    .await;
    let renders_id = renders["webhook"]["id"].as_str().unwrap().to_string();

    let order_id = import(&server, &plain_order(4242)).await;
    // The deliveries were written with the order: none for the other endpoint.
    assert!(deliveries(&server, &renders_id).await.is_empty());

    let log = eventually("the delivery", Duration::from_secs(30), || async {
        let log = deliveries(&server, &id).await;
        (log.first()?["state"] == "delivered").then_some(log)
    })
    .await;
    assert_eq!(log.len(), 1, "{log:?}");
    let d = &log[0];
    assert_eq!(
        (d["event_type"].as_str(), d["attempts"].as_i64()),
        (Some("order.imported"), Some(1))
    );
    assert_eq!(d["last_status_code"], 200);
    assert_eq!(d["order_id"], order_id);
    assert_eq!(d["log"][0]["status_code"], 200);
    assert_eq!(d["log"][0]["response_excerpt"], "receiver says 200");

    let got = receiver.received();
    assert_eq!(got.len(), 1, "delivered once");
    let r = &got[0];
    assert!(
        signature_ok(
            &secret,
            r.header("pressroom-signature"),
            &r.body,
            Utc::now()
        ),
        "signature {:?}",
        r.header("pressroom-signature")
    );
    assert!(!signature_ok(
        "another-secret",
        r.header("pressroom-signature"),
        &r.body,
        Utc::now()
    ));
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("pressroom-event"), "order.imported");
    assert_eq!(r.header("pressroom-delivery"), d["id"].to_string());
    let event = r.json();
    assert_eq!(event["id"], d["event_id"]);
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(event["type"], "order.imported");
    assert!(DateTime::parse_from_rfc3339(event["created_at"].as_str().unwrap()).is_ok());
    assert_eq!(event["data"]["order_id"], order_id);
    assert_eq!(event["data"]["store_order_id"], 4242);
    assert_eq!(event["data"]["number"], "4242");
    assert!(other.received().is_empty());

    // The same order again is not a new order: no second event.
    let resp = client()
        .post(server.url("/api/v1/orders"))
        .json(&plain_order(4242))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(deliveries(&server, &id).await.len(), 1);

    // The secret is in no answer after the first, nor in the database files in clear.
    for path in [
        "/api/v1/webhooks".to_string(),
        format!("/api/v1/webhooks/{id}"),
        format!("/api/v1/webhooks/{id}/deliveries"),
    ] {
        let text = client()
            .get(server.url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains(&id), "{path}: {text}");
        assert!(!text.contains(&secret), "{path} shows the secret");
    }
    let row = server.app.db.endpoint(&id).await.unwrap().unwrap();
    assert!(row.secret_sealed.starts_with("v1.") && !row.secret_sealed.contains(&secret));
    for file in ["pressroom.db", "pressroom.db-wal"] {
        let bytes = std::fs::read(server.data_dir().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{file} holds the secret in clear"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_twice_gets_the_event_on_the_third_attempt_and_the_log_shows_all() {
    let (clock, now_ms) = manual_clock();
    let server = Server::with_clock(settings(), clock).await;
    let receiver = Receiver::start(&[500, 500]).await;
    let created = register(
        &server,
        json!({"url": receiver.url, "secret": "a-secret-of-the-merchants-choosing"}),
    )
    .await;
    assert_eq!(created["secret"], "a-secret-of-the-merchants-choosing");
    assert_eq!(created["webhook"]["events"], json!(["*"]));
    let id = created["webhook"]["id"].as_str().unwrap().to_string();
    let resp = client()
        .post(server.url(&format!("/api/v1/webhooks/{id}/test")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);

    // Each failure puts the job back on the runner's backoff; the clock is moved to it.
    let mut waits = vec![];
    for attempts in [1, 2] {
        let due = retry_due(&server, attempts).await;
        let at = now_ms.load(Ordering::SeqCst);
        waits.push((due.timestamp_millis() - at) / 1000);
        let log = deliveries(&server, &id).await;
        assert_eq!(log[0]["state"], "queued");
        assert_eq!(log[0]["attempts"], attempts);
        assert_eq!(log[0]["last_error"], "HTTP 500");
        assert!(log[0]["next_attempt_at"].is_string());
        now_ms.store(due.timestamp_millis(), Ordering::SeqCst);
    }
    // 1 minute, then 2.
    assert!(
        (59..=61).contains(&waits[0]) && (119..=121).contains(&waits[1]),
        "{waits:?}"
    );

    let log = eventually("delivered", Duration::from_secs(30), || async {
        let log = deliveries(&server, &id).await;
        (log[0]["state"] == "delivered").then_some(log)
    })
    .await;
    let d = &log[0];
    assert_eq!(
        (d["attempts"].as_i64(), d["event_type"].as_str()),
        (Some(3), Some("ping"))
    );
    let attempts: Vec<(i64, Option<i64>, Option<&str>)> = d["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["attempt"].as_i64().unwrap(),
                a["status_code"].as_i64(),
                a["error"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (1, Some(500), Some("HTTP 500")),
            (2, Some(500), Some("HTTP 500")),
            (3, Some(200), None)
        ]
    );

    // The same body and delivery id every time, each signed at its own time.
    let got = receiver.received();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.body == got[0].body));
    let delivery_id = d["id"].to_string();
    assert!(
        got.iter()
            .all(|r| r.header("pressroom-delivery") == delivery_id)
    );
    let now = DateTime::from_timestamp_millis(now_ms.load(Ordering::SeqCst)).unwrap();
    assert!(signature_ok(
        "a-secret-of-the-merchants-choosing",
        got[2].header("pressroom-signature"),
        &got[2].body,
        now
    ));
    assert_ne!(
        got[0].header("pressroom-signature"),
        got[2].header("pressroom-signature")
    );
    assert_eq!(got[0].json()["data"]["webhook_id"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_its_last_attempt_a_delivery_fails_with_the_reason_in_the_orders_history() {
    let (clock, now_ms) = manual_clock();
    let server = Server::with_clock(settings(), clock).await;
    let receiver = Receiver::start(&[503; 20]).await;
    let created = register(
        &server,
        json!({"url": receiver.url, "events": ["order.imported"]}),
    )
    .await;
    let id = created["webhook"]["id"].as_str().unwrap().to_string();
    let order_id = import(&server, &plain_order(77)).await;

    let budget = app::outbound::WEBHOOK_ATTEMPTS;
    let started = now_ms.load(Ordering::SeqCst);
    for attempts in 1..budget {
        let due = retry_due(&server, attempts).await;
        now_ms.store(due.timestamp_millis(), Ordering::SeqCst);
    }
    let hours = (now_ms.load(Ordering::SeqCst) - started) as f64 / 3_600_000.0;
    assert!(
        (20.0..30.0).contains(&hours),
        "the retries span about a day: {hours} h"
    );
    let log = eventually("failed for good", Duration::from_secs(30), || async {
        let log = deliveries(&server, &id).await;
        (log[0]["state"] == "failed").then_some(log)
    })
    .await;
    assert_eq!(log[0]["attempts"], budget);
    assert_eq!(log[0]["last_error"], "HTTP 503");
    assert_eq!(log[0]["log"].as_array().unwrap().len() as i64, budget);
    assert_eq!(receiver.received().len() as i64, budget);
    let job = eventually("the job dead-lettered", Duration::from_secs(30), || async {
        let jobs = server
            .app
            .db
            .jobs_of_kind(DELIVER_WEBHOOK_JOB)
            .await
            .unwrap();
        jobs.into_iter().find(|j| j.state == JobState::Dead)
    })
    .await;
    assert!(job.last_error.unwrap().contains("HTTP 503"));
    let history = server.app.db.history(order_id).await.unwrap();
    let note = history
        .iter()
        .find(|h| h.message.contains("webhook order.imported"))
        .expect("a history note");
    assert!(
        note.message
            .contains(&format!("failed after {budget} attempts: HTTP 503")),
        "{}",
        note.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_at_registration_and_at_delivery_without_a_connection() {
    // Public addresses only: no allow_hosts.
    let mut s = settings();
    s.fetch.allow_hosts.clear();
    let server = Server::with_settings(s).await;
    let stub = testkit::HttpStub::start(|_| testkit::StubResponse::ok(b"ok".to_vec()))
        .await
        .unwrap();
    let http = client();
    for (body, says) in [
        (
            json!({"url": format!("{}/hook", stub.base_url)}),
            "not allowed",
        ),
        (
            json!({"url": "http://169.254.169.254/latest/meta-data"}),
            "not allowed",
        ),
        (json!({"url": "ftp://hooks.example/x"}), "http"),
        (
            json!({"url": "https://user:hunter2@hooks.example/x"}),
            "password",
        ),
        (
            json!({"url": "https://hooks.example/x", "events": ["order.teleported"]}),
            "order.shipped",
        ),
        (
            json!({"url": "https://hooks.example/x", "secret": "short"}),
            "16 to 256",
        ),
    ] {
        let resp = http
            .post(server.url("/api/v1/webhooks"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let message = expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "webhook").await;
        assert!(message.contains(says), "{body}: {message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    assert!(
        get_json(&http, &server.url("/api/v1/webhooks")).await["webhooks"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A name is checked where it resolves: localhost is refused at the attempt.
    let created = register(
        &server,
        json!({"url": format!("http://localhost:{}/hook", stub.port)}),
    )
    .await;
    let id = created["webhook"]["id"].as_str().unwrap().to_string();
    let resp = http
        .post(server.url(&format!("/api/v1/webhooks/{id}/test")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let log = eventually("the refused attempt", Duration::from_secs(30), || async {
        let log = deliveries(&server, &id).await;
        (log[0]["attempts"] == 1).then_some(log)
    })
    .await;
    assert_eq!(
        log[0]["state"], "queued",
        "refusals are retried like outages"
    );
    assert_eq!(log[0]["log"][0]["error"], "address not allowed");
    assert_eq!(log[0]["log"][0]["status_code"], Value::Null);
    assert_eq!(stub.hits.load(Ordering::SeqCst), 0, "never connected");

    let resp = http
        .post(server.url("/api/v1/webhooks/wh_nope/test"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_endpoint_gets_no_retry_and_no_new_event() {
    let (clock, now_ms) = manual_clock();
    let server = Server::with_clock(settings(), clock).await;
    let receiver = Receiver::start(&[500; 10]).await;
    let created = register(&server, json!({"url": receiver.url})).await;
    let id = created["webhook"]["id"].as_str().unwrap().to_string();
    import(&server, &plain_order(1)).await;
    let due = retry_due(&server, 1).await;
    assert_eq!(receiver.received().len(), 1);

    let http = client();
    let resp = http
        .delete(server.url(&format!("/api/v1/webhooks/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = http
        .get(server.url(&format!("/api/v1/webhooks/{id}")))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;

    // The retry comes due and finds nothing to send.
    now_ms.store(due.timestamp_millis(), Ordering::SeqCst);
    eventually("the retry done", Duration::from_secs(30), || async {
        let jobs = server
            .app
            .db
            .jobs_of_kind(DELIVER_WEBHOOK_JOB)
            .await
            .unwrap();
        (jobs.last()?.state == JobState::Done).then_some(())
    })
    .await;
    // A new order: no endpoint, no delivery.
    import(&server, &plain_order(2)).await;
    assert_eq!(
        server
            .app
            .db
            .jobs_of_kind(DELIVER_WEBHOOK_JOB)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(receiver.received().len(), 1);
}
