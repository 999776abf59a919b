//! The WooCommerce connection against a simulated store (`testkit::WooSim`, REST v3 with
//! paging headers, strict auth and signed webhooks): webhooks kept and processed, refused
//! when unsigned, repeated and out of order; the reconcile poll catching dropped webhooks;
//! imports through 429s and 500s, twice, and 2,500 orders by range; status changes written
//! to the store through the outbox while it is down, and the echo recognised.

use std::future::Future;
use std::time::{Duration, Instant};

use app::stores::{SecretText, StoreInput};
use chrono::Utc;
use domain::StoreSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{WooSim, WooSimOptions};

use crate::harness::*;

pub(crate) const STORE: &str = "shop";

/// Connect the simulated store as `shop`, with the demo mapping.
async fn connect(server: &Server, sim: &WooSim) {
    server
        .app
        .put_store(StoreInput {
            id: STORE.into(),
            settings: StoreSettings {
                url: sim.url(),
                mapping: settings().mapping,
                ..StoreSettings::default()
            },
            consumer_key: SecretText("ck_test".into()),
            consumer_secret: SecretText("cs_test".into()),
            webhook_secret: SecretText("test-webhook-secret".into()),
        })
        .await
        .expect("connect the store");
}

fn hook_url(server: &Server) -> String {
    server.url(&format!("/webhooks/woocommerce/{STORE}"))
}

/// The name-tag demo order as the store has it: id `id`, the name `name`, its photo at
/// `photo_url`, modified `modified` (UTC).
pub(crate) fn name_tag(id: i64, name: &str, photo_url: &str) -> Value {
    let mut order = order_fixture("name-tag.json", "Photo", photo_url);
    order["id"] = json!(id);
    order["number"] = json!(id.to_string());
    for meta in order["line_items"][0]["meta_data"].as_array_mut().unwrap() {
        if meta["key"] == "Name" {
            meta["value"] = json!(name);
            meta["display_value"] = json!(name);
        }
    }
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    order["date_modified_gmt"] = json!(now);
    order["date_modified"] = json!(now);
    order
}

/// An order without anything to render (no mapped SKU), for volume.
fn plain_order() -> Value {
    let mut order = testkit::woo_sim::order_template();
    for item in order["line_items"].as_array_mut().unwrap() {
        item["sku"] = json!("NOT-PERSONALIZED");
    }
    order
}

/// Run an import of the store in this process: its id and its result.
pub(crate) async fn run_import(
    server: &Server,
    scope: &app::store_import::ImportScope,
) -> (i64, storage::ImportProgress) {
    let id = server
        .app
        .start_store_import(STORE, scope, &domain::Actor::Merchant("test".into()))
        .await
        .unwrap();
    (id, server.app.run_store_import(id, &|_| {}).await.unwrap())
}

/// Poll `check` every 50 ms until it returns `Some`, for at most `limit`.
pub(crate) async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until every kept delivery of the store has been processed; their outcomes.
async fn processed(server: &Server, expected: usize) -> Vec<String> {
    eventually("deliveries processed", Duration::from_secs(60), || async {
        let rows = server.app.db.deliveries(STORE, 1000).await.unwrap();
        (rows.len() == expected && rows.iter().all(|d| d.processed_at.is_some())).then(|| {
            rows.iter()
                .rev()
                .map(|d| d.outcome.clone().unwrap())
                .collect()
        })
    })
    .await
}

/// A plain processing order `id` created in the store and announced by webhook; Pressroom's
/// id for it once the delivery is processed (the store's `deliveries` deliveries in all).
async fn created_by_webhook(server: &Server, sim: &WooSim, id: i64, deliveries: usize) -> i64 {
    let mut order = plain_order();
    order["id"] = json!(id);
    order["status"] = json!("processing");
    sim.insert_order(order);
    sim.send_webhook(&hook_url(server), "order.created", id)
        .await;
    processed(server, deliveries).await;
    server
        .app
        .db
        .find_order(STORE, id)
        .await
        .unwrap()
        .expect("the order was created")
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_and_badly_signed_webhooks_get_401_and_nothing_is_kept_pings_get_200() {
    let server = Server::without_worker().await;
    let sim = WooSim::start(WooSimOptions::default()).await;
    connect(&server, &sim).await;
    let http = client();
    let target = hook_url(&server);

    assert_eq!(sim.send_ping(&target, 42).await, StatusCode::OK);

    let body = br#"{"id": 3001, "status": "processing"}"#.to_vec();
    let topic = (
        "X-WC-Webhook-Topic".to_string(),
        "order.updated".to_string(),
    );
    assert_eq!(
        sim.send_raw_webhook(&target, vec![topic.clone()], body.clone())
            .await,
        StatusCode::UNAUTHORIZED,
        "no signature"
    );
    let forged = testkit::woo_sim::webhook_signature("another-secret", &body);
    assert_eq!(
        sim.send_raw_webhook(
            &target,
            vec![
                topic.clone(),
                ("X-WC-Webhook-Signature".into(), forged.clone())
            ],
            body.clone()
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "signed with another secret"
    );
    // A correct signature of another body.
    let other = testkit::woo_sim::webhook_signature("test-webhook-secret", b"{}");
    let resp = http
        .post(&target)
        .header("X-WC-Webhook-Topic", "order.updated")
        .header("X-WC-Webhook-Signature", other)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "bad_signature").await;
    let resp = http.post(&target).body(body.clone()).send().await.unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "missing_signature").await;

    // A store nobody connected, and a body over the limit.
    let resp = http
        .post(server.url("/webhooks/woocommerce/nobody"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let huge = vec![b' '; server::MAX_WEBHOOK_BYTES + 1];
    let resp = http.post(&target).body(huge).send().await.unwrap();
    expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    assert_eq!(server.app.db.count_deliveries(STORE).await.unwrap(), 0);
    assert_eq!(
        server.app.db.queue_counts().await.unwrap(),
        storage::QueueCounts::default(),
        "no job was queued"
    );

    // Signed right: 200, kept raw, with its job.
    let good = testkit::woo_sim::webhook_signature("test-webhook-secret", &body);
    let resp = http
        .post(&target)
        .header("X-WC-Webhook-Topic", "order.updated")
        .header("X-WC-Webhook-Signature", good)
        .header("X-WC-Webhook-Delivery-ID", "d-1")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let accepted: Value = resp.json().await.unwrap();
    let delivery = server
        .app
        .db
        .delivery(accepted["delivery"].as_i64().unwrap())
        .await
        .unwrap();
    assert_eq!(delivery.delivery.body, body, "the raw body, byte for byte");
    assert_eq!(delivery.delivery.delivery_id, "d-1");
    assert_eq!(server.app.db.queue_counts().await.unwrap().queued, 1);
    let summary = server.app.store_summary(STORE).await.unwrap();
    assert!(summary.last_webhook_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_and_out_of_order_webhooks_make_one_order_in_its_newest_state_rendered_once() {
    let server = Server::start().await;
    let sim = WooSim::start(WooSimOptions::default()).await;
    connect(&server, &sim).await;
    let (photos, _) = serve_photo(biscuit()).await;
    let target = hook_url(&server);

    sim.insert_order(name_tag(3001, "Ada", &format!("{photos}/photo.jpg")));
    let old_body = serde_json::to_vec(&sim.order(3001).unwrap()).unwrap();
    // The merchant puts it on hold a minute later: the newest state.
    sim.merchant_set_status(3001, "on-hold", Utc::now() + chrono::Duration::minutes(1));

    // The newest state three times, then the older one three times.
    for _ in 0..3 {
        assert_eq!(
            sim.send_webhook(&target, "order.updated", 3001).await,
            StatusCode::OK
        );
    }
    for _ in 0..3 {
        let headers = vec![
            ("X-WC-Webhook-Topic".into(), "order.created".into()),
            ("X-WC-Webhook-Signature".into(), sim.signature(&old_body)),
        ];
        assert_eq!(
            sim.send_raw_webhook(&target, headers, old_body.clone())
                .await,
            StatusCode::OK
        );
    }
    let outcomes = processed(&server, 6).await;
    assert_eq!(outcomes.iter().filter(|o| *o == "created").count(), 1);
    assert!(
        outcomes
            .iter()
            .all(|o| ["created", "unchanged", "stale"].contains(&o.as_str())),
        "{outcomes:?}"
    );

    let orders = server.app.db.list_orders(10, 0).await.unwrap();
    assert_eq!(orders.len(), 1, "one order");
    assert_eq!(orders[0].order.status.raw, "on-hold", "the newest state");
    let order_id = orders[0].id;
    eventually("the render", Duration::from_secs(60), || async {
        (server.app.db.renders(order_id).await.unwrap().len() == 1).then_some(())
    })
    .await;
    let jobs = server.app.db.jobs_for_order(order_id).await.unwrap();
    assert_eq!(
        jobs.iter().filter(|j| j.kind == "render").count(),
        1,
        "rendered once: {jobs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconcile_poll_imports_the_orders_whose_webhooks_were_dropped() {
    let server = Server::start().await;
    let sim = WooSim::start(WooSimOptions::default()).await;
    connect(&server, &sim).await;
    let target = hook_url(&server);
    let start = Utc::now() - chrono::Duration::hours(2);
    sim.seed_orders(
        20,
        &plain_order(),
        5001,
        start,
        chrono::Duration::minutes(1),
    );

    // 30% of the deliveries never arrive (WooCommerce gives up on them for good).
    let mut sent = 0;
    for (i, id) in sim.order_ids().into_iter().enumerate() {
        if i % 10 < 7 {
            assert_eq!(
                sim.send_webhook(&target, "order.created", id).await,
                StatusCode::OK
            );
            sent += 1;
        }
    }
    processed(&server, sent).await;
    assert_eq!(server.app.db.list_orders(100, 0).await.unwrap().len(), 14);

    let done = server.app.reconcile_store(STORE).await.unwrap();
    assert_eq!(done.progress.seen, 20);
    assert_eq!((done.progress.created, done.progress.unchanged), (6, 14));
    assert_eq!(server.app.db.list_orders(100, 0).await.unwrap().len(), 20);
    // It asked for what changed since its window's start.
    let asked = sim.requests_to("GET", "/wc/v3/orders");
    assert!(
        asked
            .iter()
            .all(|r| r.query_param("modified_after").is_some())
    );

    // The next poll starts where this one ended (less the overlap) and finds nothing new.
    let again = server.app.reconcile_store(STORE).await.unwrap();
    assert_eq!(again.progress.created + again.progress.updated, 0);
    assert!(again.since.unwrap() > start);
    let summary = server.app.store_summary(STORE).await.unwrap();
    assert!(summary.last_reconcile_at.is_some());
    assert_eq!(summary.last_reconcile_error, None);

    // The store down: the poll fails, says why, and the next one catches up.
    sim.set_down(true);
    assert!(server.app.reconcile_store(STORE).await.is_err());
    let summary = server.app.store_summary(STORE).await.unwrap();
    assert!(
        summary
            .last_reconcile_error
            .as_deref()
            .unwrap_or("")
            .contains("503"),
        "{:?}",
        summary.last_reconcile_error
    );
    sim.set_down(false);
    sim.merchant_set_status(5003, "completed", Utc::now());
    let caught_up = server.app.reconcile_store(STORE).await.unwrap();
    assert_eq!(caught_up.progress.updated, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_rides_out_429_and_500_and_the_same_import_again_changes_nothing() {
    let server = Server::without_worker().await;
    let sim = WooSim::start(WooSimOptions::default()).await;
    connect(&server, &sim).await;
    let start = Utc::now() - chrono::Duration::days(3);
    sim.seed_orders(250, &plain_order(), 1, start, chrono::Duration::minutes(5));
    // A broken order among them: reported and skipped.
    let mut broken = plain_order();
    broken["id"] = json!(9999);
    broken["line_items"][0]["quantity"] = json!(-3);
    sim.insert_order(broken);

    sim.fail_next(1, 429, Some(0));
    let (import, progress) = run_import(&server, &app::store_import::ImportScope::All).await;
    assert_eq!(progress.seen, 251);
    assert_eq!((progress.created, progress.failed), (250, 1));
    assert_eq!(progress.failures[0]["store_order_id"], 9999);
    assert!(
        progress.failures[0]["reason"]
            .as_str()
            .unwrap()
            .contains("quantity"),
        "{:?}",
        progress.failures
    );
    let statuses: Vec<u16> = sim
        .requests_to("GET", "/wc/v3/orders")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses[0], 429, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3);

    // The API shows the import's result.
    let http = client();
    let shown = get_json(&http, &server.url(&format!("/api/v1/imports/{import}"))).await;
    assert_eq!(shown["state"], "done");
    assert_eq!(shown["progress"]["created"], 250);

    // 500s on the way, then the same import again: nothing changes.
    sim.fail_next(2, 500, None);
    let (_, progress) = run_import(&server, &app::store_import::ImportScope::All).await;
    assert_eq!(
        (
            progress.created,
            progress.updated,
            progress.unchanged,
            progress.failed
        ),
        (0, 0, 250, 1)
    );
    assert_eq!(server.app.db.list_orders(500, 0).await.unwrap().len(), 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_by_range_of_2500_orders_reads_25_pages() {
    let server = Server::without_worker().await;
    let sim = WooSim::start(WooSimOptions::default()).await;
    connect(&server, &sim).await;
    let start = Utc::now() - chrono::Duration::days(30);
    sim.seed_orders(
        2600,
        &plain_order(),
        1,
        start,
        chrono::Duration::minutes(10),
    );
    // Orders 51..=2550 were created in the range (exclusive bounds, as WooCommerce).
    let after = start + chrono::Duration::minutes(10 * 49) + chrono::Duration::seconds(30);
    let before = start + chrono::Duration::minutes(10 * 2549) + chrono::Duration::seconds(30);
    let (_, progress) = run_import(
        &server,
        &app::store_import::ImportScope::Range {
            after,
            before: Some(before),
        },
    )
    .await;
    assert_eq!((progress.total, progress.created), (2500, 2500));
    assert_eq!(sim.requests_to("GET", "/wc/v3/orders").len(), 25);
    let first = server.app.db.find_order(STORE, 51).await.unwrap();
    let outside = server.app.db.find_order(STORE, 50).await.unwrap();
    assert!(first.is_some() && outside.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_waits_while_the_store_is_down_lands_once_and_its_echo_changes_nothing() {
    let server = Server::start().await;
    let sim = WooSim::start(WooSimOptions::default()).await;
    connect(&server, &sim).await;
    let http = client();
    let target = hook_url(&server);
    let order_id = created_by_webhook(&server, &sim, 7001, 1).await;
    let view_url = server.url(&format!("/api/v1/orders/{order_id}"));

    // The store goes down; the merchant puts the order on hold in Pressroom.
    sim.set_down(true);
    let resp = http
        .post(server.url(&format!("/api/v1/orders/{order_id}/status")))
        .json(&json!({"status": "on-hold"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let set: Value = resp.json().await.unwrap();
    assert_eq!(set["sync_pending"], true);
    let view = get_json(&http, &view_url).await;
    assert_eq!(view["order"]["status"]["raw"], "on-hold");
    assert_eq!(view["store_sync"]["pending"], 1);

    // The store's attempts fail and are recorded while it is down…
    eventually("a failed attempt", Duration::from_secs(30), || async {
        let view = get_json(&http, &view_url).await;
        view["store_sync"]["last_error"]
            .as_str()
            .map(|e| e.to_string())
    })
    .await;
    // …and a webhook from the store meanwhile (an address edit) keeps Pressroom's status.
    sim.merchant_edit(
        7001,
        |o| o["shipping"]["city"] = json!("Oakland"),
        Utc::now(),
    );
    sim.send_webhook(&target, "order.updated", 7001).await;
    processed(&server, 2).await;
    let view = get_json(&http, &view_url).await;
    assert_eq!(view["order"]["status"]["raw"], "on-hold");
    assert_eq!(view["order"]["shipping"]["city"], "Oakland");

    // The store comes back: the change lands, once.
    sim.set_down(false);
    eventually("the status written", Duration::from_secs(60), || async {
        (sim.order(7001).unwrap()["status"] == "on-hold").then_some(())
    })
    .await;
    let view = eventually("sync done", Duration::from_secs(30), || async {
        let view = get_json(&http, &view_url).await;
        (view["store_sync"]["pending"] == 0).then_some(view)
    })
    .await;
    assert_eq!(view["store_sync"]["writes"][0]["state"], "delivered");
    let landed: Vec<_> = sim
        .requests_to("PUT", "/wc/v3/orders/7001")
        .into_iter()
        .filter(|r| r.status == 200)
        .collect();
    assert_eq!(landed.len(), 1, "written once");
    assert_eq!(landed[0].json()["status"], "on-hold");

    // The store's echo of that change: recognised, nothing new.
    let history_before = get_json(&http, &view_url).await["history"]
        .as_array()
        .unwrap()
        .len();
    sim.send_webhook(&target, "order.updated", 7001).await;
    let outcomes = processed(&server, 3).await;
    assert_eq!(outcomes[2], "unchanged", "{outcomes:?}");
    let history_after = get_json(&http, &view_url).await["history"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(history_after, history_before);

    // The other way: the merchant completes it in WooCommerce.
    sim.merchant_set_status(7001, "completed", Utc::now() + chrono::Duration::minutes(1));
    sim.send_webhook(&target, "order.updated", 7001).await;
    processed(&server, 4).await;
    let view = get_json(&http, &view_url).await;
    assert_eq!(view["order"]["status"]["raw"], "completed");
    let last_status_change = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|h| h["kind"] == "status_changed")
        .unwrap()
        .clone();
    assert_eq!(last_status_change["actor"], "store");
}

/// Photo URLs in orders from a store reach only public addresses: loopback, private and
/// metadata addresses and a redirect from an allowed host to loopback are refused, a listener
/// on loopback sees no connection, and every order is still kept, its item waiting with the
/// reason in its history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photo_urls_from_a_store_never_reach_internal_addresses() {
    // 127.0.0.1 plays a public photo host that redirects; 127.0.0.2 is the internal target.
    let mut s = settings();
    s.fetch.allow_hosts = vec!["127.0.0.1".into()];
    let server = Server::with_settings(s).await;
    let sim = WooSim::start(WooSimOptions::default()).await;
    connect(&server, &sim).await;
    let target = hook_url(&server);

    let victim = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let victim_port = victim.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let hits = hits.clone();
        tokio::spawn(async move {
            while victim.accept().await.is_ok() {
                hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }
    let redirector = testkit::HttpStub::start(move |path| {
        testkit::StubResponse::redirect(path.trim_start_matches("/to?"))
    })
    .await
    .unwrap();
    let internal = format!("http://127.0.0.2:{victim_port}/photo.jpg");
    let urls = [
        internal.clone(),
        format!("http://[::1]:{victim_port}/photo.jpg"),
        "http://10.0.0.1/photo.jpg".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        format!("http://2130706434:{victim_port}/photo.jpg"),
        format!("{}/to?{internal}", redirector.base_url),
    ];
    for (i, url) in urls.iter().enumerate() {
        let id = 8000 + i as i64;
        sim.insert_order(name_tag(id, "Ada", url));
        assert_eq!(
            sim.send_webhook(&target, "order.created", id).await,
            StatusCode::OK
        );
    }
    processed(&server, urls.len()).await;
    for (i, url) in urls.iter().enumerate() {
        let row = server
            .app
            .db
            .find_order(STORE, 8000 + i as i64)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("the order with {url} is kept"));
        let history = server.app.db.history(row.id).await.unwrap();
        assert!(
            history
                .iter()
                .any(|h| h.message.contains("waiting for its photo")
                    && h.message.contains("address not allowed")),
            "{url}: {history:?}"
        );
        assert!(server.app.db.renders(row.id).await.unwrap().is_empty());
    }
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no connection reached the internal listener"
    );
}

/// The stores API: connect (secrets in, never out), list, check, import by id with progress
/// polled by import id, disconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_are_connected_checked_and_imported_from_over_the_api() {
    let server = Server::start().await;
    let sim = WooSim::start(WooSimOptions::default()).await;
    let http = client();
    let start = Utc::now() - chrono::Duration::days(1);
    sim.seed_orders(5, &plain_order(), 300, start, chrono::Duration::minutes(1));

    let resp = http
        .post(server.url("/api/v1/stores"))
        .json(&json!({
            "id": "api-shop",
            "settings": {"url": sim.url(), "name": "API shop"},
            "consumer_key": "ck_test",
            "consumer_secret": "cs_test",
            "webhook_secret": "whsec-api",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let text = resp.text().await.unwrap();
    for secret in ["cs_test", "whsec-api"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let listed = get_json(&http, &server.url("/api/v1/stores")).await;
    assert_eq!(listed[0]["id"], "api-shop");
    assert_eq!(listed[0]["consumer_secret_set"], true);

    // A bad id and a bad URL are refused naming what is wrong.
    let resp = http
        .post(server.url("/api/v1/stores"))
        .json(&json!({"id": "Bad Id", "settings": {"url": sim.url()}}))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "store").await;
    assert!(message.contains("store id"), "{message}");
    let resp = http
        .post(server.url("/api/v1/stores"))
        .json(&json!({"id": "x", "settings": {"url": "ftp://shop"}}))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "store").await;

    let resp = http
        .post(server.url("/api/v1/stores/api-shop/test"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report["ok"], true, "{report}");

    let resp = http
        .post(server.url("/api/v1/stores/api-shop/imports"))
        .json(&json!({"scope": "ids", "ids": [300, 302, 304]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let import = resp.json::<Value>().await.unwrap()["import_id"]
        .as_i64()
        .unwrap();
    let done = eventually("the import", Duration::from_secs(30), || async {
        let v = get_json(&http, &server.url(&format!("/api/v1/imports/{import}"))).await;
        (v["state"] == "done").then_some(v)
    })
    .await;
    assert_eq!(done["progress"]["created"], 3, "{done}");
    assert_eq!(server.app.db.list_orders(10, 0).await.unwrap().len(), 3);

    let resp = http
        .delete(server.url("/api/v1/stores/api-shop"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = http
        .get(server.url("/api/v1/stores/api-shop"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        server.app.db.list_orders(10, 0).await.unwrap().len(),
        3,
        "its orders stay"
    );
}

/// The worker's periodic reconcile finds orders no webhook announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_periodic_reconcile_polls_every_connected_store() {
    let server = Server::with_reconcile_every(Duration::from_secs(1)).await;
    let sim = WooSim::start(WooSimOptions::default()).await;
    // The orders are in the store before it is connected: a poll looks at what was modified
    // since the previous poll (less an overlap), so orders dated an hour back that appeared
    // only later would be outside its window.
    sim.seed_orders(
        4,
        &plain_order(),
        600,
        Utc::now() - chrono::Duration::hours(1),
        chrono::Duration::minutes(1),
    );
    connect(&server, &sim).await;
    eventually("the orders polled in", Duration::from_secs(30), || async {
        (server.app.db.list_orders(10, 0).await.unwrap().len() == 4).then_some(())
    })
    .await;
    // The poll records itself after the orders it merged.
    let summary = eventually("the poll recorded", Duration::from_secs(30), || async {
        let summary = server.app.store_summary(STORE).await.unwrap();
        summary.last_reconcile_at.is_some().then_some(summary)
    })
    .await;
    assert!(summary.last_reconcile_at.is_some());
    assert!(
        sim.requests_to("GET", "/wc/v3/orders")
            .iter()
            .all(|r| r.query_param("modified_after").is_some())
    );
}

/// An order trashed in the store is flagged and stops its countdown; restored, it is
/// unflagged; a deletion for an order Pressroom never had is kept and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_deleted_and_restored_in_the_store_are_flagged_and_unflagged() {
    let server = Server::start().await;
    let sim = WooSim::start(WooSimOptions::default()).await;
    connect(&server, &sim).await;
    let http = client();
    let target = hook_url(&server);
    let mut order = plain_order();
    order["id"] = json!(7100);
    sim.insert_order(order);
    sim.send_webhook(&target, "order.created", 7100).await;
    sim.send_webhook(&target, "order.deleted", 7100).await;
    sim.send_webhook(&target, "order.deleted", 4242).await;
    let outcomes = processed(&server, 3).await;
    assert_eq!(outcomes, ["created", "deleted", "unknown_order"]);
    let id = server
        .app
        .db
        .find_order(STORE, 7100)
        .await
        .unwrap()
        .unwrap()
        .id;
    let url = server.url(&format!("/api/v1/orders/{id}"));
    let view = get_json(&http, &url).await;
    assert_eq!(view["store_sync"]["deleted_in_store"], true);
    assert!(view["order"]["countdown"]["submit_at"].is_null(), "{view}");

    sim.send_webhook(&target, "order.restored", 7100).await;
    processed(&server, 4).await;
    let view = get_json(&http, &url).await;
    assert_eq!(view["store_sync"]["deleted_in_store"], false);
    assert!(
        view["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["message"] == "restored in the store")
    );
}

/// A write the store refuses for good (a status it does not know) ends as failed with the
/// reason in the history, and the order's later writes still land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_store_refuses_for_good_is_recorded_and_later_writes_go_on() {
    let server = Server::start().await;
    let sim = WooSim::start(WooSimOptions::default()).await;
    connect(&server, &sim).await;
    let http = client();
    let id = created_by_webhook(&server, &sim, 7200, 1).await;
    for status in ["not-a-status", "on-hold"] {
        let resp = http
            .post(server.url(&format!("/api/v1/orders/{id}/status")))
            .json(&json!({ "status": status }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let url = server.url(&format!("/api/v1/orders/{id}"));
    let view = eventually("both writes settled", Duration::from_secs(30), || async {
        let view = get_json(&http, &url).await;
        (view["store_sync"]["pending"] == 0).then_some(view)
    })
    .await;
    let states: Vec<&str> = view["store_sync"]["writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["failed", "delivered"]);
    assert_eq!(sim.order(7200).unwrap()["status"], "on-hold");
    assert!(
        view["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["message"]
                .as_str()
                .unwrap()
                .starts_with("the store refused the status write")),
        "{view}"
    );
}
