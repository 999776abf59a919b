//! The WooCommerce REST client against the simulated store (`testkit::WooSim`): paging and
//! filters, both ways of authenticating, retries and the errors a merchant sees.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use connectors::woo_client::{
    AuthMode, OrderQuery, RetryPolicy, Tracking, TrackingProvider, WooClient, WooClientError,
    WooCredentials,
};
use connectors::woocommerce::{parse_order, parse_orders};
use domain::ItemMapping;
use serde_json::json;
use testkit::woo_sim::order_template;
use testkit::{HttpStub, StubResponse, WooSim, WooSimOptions};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap()
}

/// Retries fast enough for tests: 3 attempts, waits of a few milliseconds.
fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(30),
    }
}

fn client_for(url: &str, secret: &str, auth: AuthMode) -> WooClient {
    WooClient::new(
        reqwest::Client::new(),
        WooCredentials {
            url: url.into(),
            consumer_key: "ck_test".into(),
            consumer_secret: secret.into(),
            auth,
        },
        quick_retries(),
    )
    .unwrap()
}

fn client(sim: &WooSim) -> WooClient {
    client_for(&sim.url(), "cs_test", AuthMode::Header)
}

async fn store_with_orders(n: usize) -> WooSim {
    let sim = WooSim::start(WooSimOptions::default()).await;
    sim.seed_orders(n, &order_template(), 1, t0(), chrono::Duration::hours(1));
    sim
}

fn ids(page: &connectors::woo_client::OrdersPage) -> Vec<i64> {
    page.orders.iter().map(|o| o.id.unwrap()).collect()
}

#[tokio::test]
async fn three_pages_of_250_orders_with_totals_from_the_headers() {
    let sim = store_with_orders(250).await;
    let client = client(&sim);
    let q = OrderQuery::default();
    let mut seen = vec![];
    for page in 1..=3 {
        let p = client.orders_page(&q, page).await.unwrap();
        assert_eq!((p.total, p.total_pages), (250, 3));
        assert_eq!(p.orders.len(), if page < 3 { 100 } else { 50 });
        for raw in &p.orders {
            let order = parse_order(&raw.body, &ItemMapping::default()).unwrap();
            assert_eq!(Some(order.store_order_id), raw.id);
            assert!(raw.date_modified_gmt.is_some());
        }
        seen.extend(ids(&p));
    }
    assert_eq!(seen, (1..=250).collect::<Vec<_>>());
    let beyond = client.orders_page(&q, 4).await.unwrap();
    assert!(beyond.orders.is_empty());
    let first = &sim.requests()[0];
    assert_eq!(first.query_param("per_page").as_deref(), Some("100"));
    assert_eq!(first.query_param("order").as_deref(), Some("asc"));
    assert_eq!(first.query_param("dates_are_gmt").as_deref(), Some("true"));
}

#[tokio::test]
async fn date_and_id_filters_are_sent_and_exclusive() {
    let sim = store_with_orders(10).await; // order i created at t0 + (i-1) hours
    let client = client(&sim);
    let hours = |h| t0() + chrono::Duration::hours(h);
    let page = |q: OrderQuery| {
        let client = client.clone();
        async move { ids(&client.orders_page(&q, 1).await.unwrap()) }
    };

    let after = page(OrderQuery {
        after: Some(hours(2)),
        ..Default::default()
    });
    assert_eq!(after.await, vec![4, 5, 6, 7, 8, 9, 10]);
    let between = page(OrderQuery {
        after: Some(hours(2)),
        before: Some(hours(5)),
        ..Default::default()
    });
    assert_eq!(between.await, vec![4, 5]);
    assert_eq!(
        sim.requests()
            .last()
            .unwrap()
            .query_param("after")
            .as_deref(),
        Some("2024-05-01T12:00:00")
    );

    sim.merchant_edit(3, |o| o["customer_note"] = "gift wrap".into(), hours(30));
    sim.merchant_set_status(7, "on-hold", hours(31));
    let modified = page(OrderQuery {
        modified_after: Some(hours(20)),
        ..Default::default()
    });
    assert_eq!(modified.await, vec![3, 7]);

    let included = page(OrderQuery {
        include: vec![9, 2, 5],
        ..Default::default()
    });
    assert_eq!(included.await, vec![2, 5, 9]);
}

#[tokio::test]
async fn query_string_authentication_carries_the_key_in_the_url() {
    let sim = store_with_orders(2).await;
    let client = client_for(&sim.url(), "cs_test", AuthMode::QueryString);
    let page = client.orders_page(&OrderQuery::default(), 1).await.unwrap();
    assert_eq!(ids(&page), vec![1, 2]);
    let request = &sim.requests()[0];
    assert_eq!(
        request.query_param("consumer_key").as_deref(),
        Some("ck_test")
    );
    assert_eq!(
        request.query_param("consumer_secret").as_deref(),
        Some("cs_test")
    );

    // The header mode keeps them out of the URL (and out of access logs).
    client_for(&sim.url(), "cs_test", AuthMode::Header)
        .order(1)
        .await
        .unwrap();
    assert!(!sim.requests()[1].query.contains("consumer"));
}

#[tokio::test]
async fn a_wrong_secret_is_unauthorized_and_never_repeated_or_shown() {
    let sim = store_with_orders(1).await;
    for auth in [AuthMode::Header, AuthMode::QueryString] {
        sim.clear_requests();
        let secret = "cs_wrong_but_secret_4711";
        let err = client_for(&sim.url(), secret, auth)
            .orders_page(&OrderQuery::default(), 1)
            .await
            .unwrap_err();
        let WooClientError::Unauthorized { status, message } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*status, 401);
        assert!(message.contains("Consumer secret is invalid."), "{message}");
        assert_eq!(err.code(), "woo_unauthorized");
        assert!(!err.is_retryable());
        let merchant = err.merchant_message();
        assert!(merchant.contains("Read/Write"), "{merchant}");
        for text in [merchant, err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(sim.requests().len(), 1, "a 401 is not retried");
    }
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_succeeds() {
    let sim = store_with_orders(1).await;
    sim.fail_next(2, 429, Some(1));
    let started = Instant::now();
    let page = client(&sim)
        .orders_page(&OrderQuery::default(), 1)
        .await
        .unwrap();
    assert_eq!(ids(&page), vec![1]);
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 429, 200]);
    // Retry-After: 1 s, capped at max_delay (30 ms), waited twice.
    assert!(started.elapsed() >= Duration::from_millis(60));
}

#[tokio::test]
async fn two_500s_then_success() {
    let sim = store_with_orders(1).await;
    sim.fail_next(2, 500, None);
    let body = client(&sim).order(1).await.unwrap();
    assert_eq!(
        parse_order(&body, &ItemMapping::default())
            .unwrap()
            .store_order_id,
        1
    );
    assert_eq!(sim.requests().len(), 3);
}

#[tokio::test]
async fn a_store_failing_every_time_is_an_http_error_after_max_attempts() {
    let sim = store_with_orders(1).await;
    sim.fail_next(100, 500, None);
    let err = client(&sim).order(1).await.unwrap_err();
    let WooClientError::Http {
        status, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 500);
    assert!(message.contains("critical error"), "{message}");
    assert!(err.is_retryable());
    assert_eq!(sim.requests().len(), 3);
}

#[tokio::test]
async fn a_store_that_is_down_answers_503_until_it_is_back() {
    let sim = store_with_orders(1).await;
    let client = client(&sim);
    sim.set_down(true);
    let err = client.order(1).await.unwrap_err();
    assert!(
        matches!(err, WooClientError::Http { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(
        err.merchant_message().contains("503"),
        "{}",
        err.merchant_message()
    );
    sim.set_down(false);
    assert!(client.order(1).await.is_ok());
}

#[tokio::test]
async fn nothing_listening_is_a_transport_error_naming_the_store() {
    let url = format!("http://127.0.0.1:{}/", testkit::free_port());
    let err = client_for(&url, "cs_test", AuthMode::QueryString)
        .order(1)
        .await
        .unwrap_err();
    assert!(matches!(err, WooClientError::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(
        err.merchant_message(),
        format!("Could not reach {url}: connection refused")
    );
    assert!(!format!("{err:?}").contains("cs_test"));
}

#[tokio::test]
async fn update_status_bumps_date_modified_with_one_put() {
    let sim = store_with_orders(3).await;
    let now = Utc.with_ymd_and_hms(2024, 6, 1, 8, 30, 0).unwrap();
    sim.set_clock(now);
    let body = client(&sim).update_status(2, "completed").await.unwrap();

    let order = parse_order(&body, &ItemMapping::default()).unwrap();
    assert_eq!(order.status.raw, "completed");
    assert_eq!(order.modified_at, Some(now));
    assert_eq!(sim.order(2).unwrap()["status"], "completed");
    assert_eq!(
        sim.order(2).unwrap()["date_modified_gmt"],
        "2024-06-01T08:30:00"
    );
    let puts = sim.requests_to("PUT", "/wp-json/wc/v3/orders/2");
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].json(), json!({ "status": "completed" }));
    let notes = sim.notes(2);
    assert_eq!(
        notes[0]["note"],
        "Order status changed from Processing to Completed."
    );
}

#[tokio::test]
async fn update_status_is_retried_and_a_missing_order_is_not_found() {
    let sim = store_with_orders(1).await;
    let client = client(&sim);
    sim.fail_next(1, 503, None);
    client.update_status(1, "on-hold").await.unwrap();
    assert_eq!(sim.requests_to("PUT", "/orders/1").len(), 2);

    let err = client.update_status(999, "completed").await.unwrap_err();
    assert_eq!(
        err,
        WooClientError::NotFound {
            what: "order 999".into()
        }
    );
    assert_eq!(sim.requests_to("PUT", "/orders/999").len(), 1);
}

#[tokio::test]
async fn add_note_creates_one_note_and_is_not_repeated_after_a_500() {
    let sim = store_with_orders(1).await;
    let client = client(&sim);
    let id = client
        .add_note(1, "Your print is on its way", true)
        .await
        .unwrap();
    let notes = sim.notes(1);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["id"], id);
    assert_eq!(notes[0]["note"], "Your print is on its way");
    assert_eq!(notes[0]["customer_note"], true);

    // A 500 may come after the note was written: sending it again could duplicate it.
    sim.fail_next(1, 500, None);
    assert!(client.add_note(1, "again", false).await.is_err());
    // A 429 means the store did nothing: safe to repeat.
    sim.fail_next(1, 429, Some(0));
    client.add_note(1, "after a 429", false).await.unwrap();
    let posts = sim.requests_to("POST", "/orders/1/notes");
    assert_eq!(posts.len(), 4);
    assert_eq!(sim.notes(1).len(), 2);
}

#[tokio::test]
async fn the_index_says_whether_shipment_tracking_is_installed() {
    let with = WooSim::start(WooSimOptions::default()).await;
    let index = client(&with).index().await.unwrap();
    assert!(index.has_wc_v3());
    assert!(index.has_shipment_tracking());
    assert!(!index.name.is_empty());

    let without = WooSim::start(WooSimOptions {
        shipment_tracking: false,
        ..Default::default()
    })
    .await;
    assert!(
        !client(&without)
            .index()
            .await
            .unwrap()
            .has_shipment_tracking()
    );
}

#[tokio::test]
async fn a_site_without_woocommerce_is_named_as_such() {
    let stub = HttpStub::start(|path| {
        if path.starts_with("/plain/wp-json/") {
            StubResponse::ok(br#"{"name":"A blog","namespaces":["oembed/1.0","wp/v2"]}"#.to_vec())
        } else {
            StubResponse::ok(b"<!DOCTYPE html><html><body>Welcome</body></html>".to_vec())
        }
    })
    .await
    .unwrap();
    for (site, why) in [
        ("html/", "is not JSON"),
        ("plain/", "the REST API index has no wc/v3"),
    ] {
        let url = format!("{}/{site}", stub.base_url);
        let err = client_for(&url, "cs_test", AuthMode::Header)
            .index()
            .await
            .unwrap_err();
        assert_eq!(err.code(), "woo_not_woocommerce");
        let merchant = err.merchant_message();
        assert!(merchant.starts_with(&format!("{url} does not look like a WooCommerce store")));
        assert!(merchant.contains(why), "{merchant}");
    }
}

#[tokio::test]
async fn tracking_goes_to_the_shipment_tracking_route() {
    let sim = store_with_orders(1).await;
    let tracking = Tracking {
        provider: TrackingProvider::Custom {
            name: "Parcel Co".into(),
            link: "https://parcel.example/t/1Z999".into(),
        },
        tracking_number: "1Z999".into(),
        date_shipped: chrono::NaiveDate::from_ymd_opt(2024, 5, 3).unwrap(),
    };
    let id = client(&sim).add_tracking(1, &tracking).await.unwrap();
    let stored = sim.trackings(1);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["tracking_id"], id.as_str());
    assert_eq!(stored[0]["tracking_number"], "1Z999");
    assert_eq!(stored[0]["date_shipped"], "2024-05-03");
    assert_eq!(stored[0]["tracking_provider"], "Parcel Co");

    let without = WooSim::start(WooSimOptions {
        shipment_tracking: false,
        ..Default::default()
    })
    .await;
    without.insert_order(order_template());
    let err = client(&without)
        .add_tracking(1001, &tracking)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "woo_not_found");
}

#[tokio::test]
async fn a_created_webhook_is_listed() {
    let sim = WooSim::start(WooSimOptions::default()).await;
    let client = client(&sim);
    let target = "https://pressroom.example/webhooks/woocommerce";
    let id = client
        .create_webhook("Pressroom order updated", "order.updated", target, "s3cret")
        .await
        .unwrap();
    let hooks = client.webhooks().await.unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].id, id);
    assert_eq!(hooks[0].name, "Pressroom order updated");
    assert_eq!(hooks[0].topic, "order.updated");
    assert_eq!(hooks[0].status, "active");
    assert_eq!(hooks[0].delivery_url, target);
    assert_eq!(sim.webhooks()[0]["secret"], "s3cret");
}

#[tokio::test]
async fn one_malformed_order_does_not_hide_the_others() {
    let sim = store_with_orders(3).await;
    sim.insert_raw_order(4, json!("not an order"));
    let mut broken = order_template();
    broken["id"] = 5.into();
    broken["line_items"] = "oops".into();
    sim.insert_order(broken);

    let page = client(&sim)
        .orders_page(&OrderQuery::default(), 1)
        .await
        .unwrap();
    assert_eq!(page.orders.len(), 5);
    let got: Vec<Option<i64>> = page.orders.iter().map(|o| o.id).collect();
    assert_eq!(got, vec![Some(1), Some(2), Some(3), None, Some(5)]);
    assert_eq!(page.orders[3].body.as_ref(), br#""not an order""#);
    let parsed: Vec<bool> = page
        .orders
        .iter()
        .map(|o| parse_order(&o.body, &ItemMapping::default()).is_ok())
        .collect();
    assert_eq!(parsed, vec![true, true, true, false, false]);
    let err = parse_order(&page.orders[4].body, &ItemMapping::default()).unwrap_err();
    assert_eq!(err.field(), "line_items");
}

#[tokio::test]
async fn the_recorded_orders_list_is_served_and_parsed() {
    let path = format!(
        "{}/tests/fixtures/woocommerce/wc_v3_orders_list.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let fixture = std::fs::read(&path).unwrap();
    let sim = WooSim::start(WooSimOptions::default()).await;
    let orders: Vec<serde_json::Value> = serde_json::from_slice(&fixture).unwrap();
    for order in orders {
        sim.insert_order(order);
    }
    let page = client(&sim)
        .orders_page(&OrderQuery::default(), 1)
        .await
        .unwrap();
    assert_eq!(ids(&page), vec![723, 727]);
    assert_eq!(
        page.orders[1].date_modified_gmt.as_deref(),
        Some("2017-03-22T19:28:08")
    );

    let mapping = ItemMapping::default();
    let mut expected = parse_orders(&fixture, &mapping).unwrap();
    expected.reverse();
    let got: Vec<_> = page
        .orders
        .iter()
        .map(|o| parse_order(&o.body, &mapping).unwrap())
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn the_simulator_signs_webhooks_as_woocommerce_does() {
    let dir = testkit::repo_root().join("crates/testkit/fixtures/woocommerce");
    let body = std::fs::read(dir.join("webhook_order_updated_727.body.json")).unwrap();
    let headers: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("webhook_order_updated_727.headers.json")).unwrap(),
    )
    .unwrap();
    let sim = WooSim::start(WooSimOptions::default()).await;
    assert_eq!(
        sim.signature(&body),
        headers["headers"]["X-WC-Webhook-Signature"]
    );
}

#[tokio::test]
async fn a_read_only_key_cannot_change_an_order() {
    let sim = WooSim::start(WooSimOptions {
        read_only: true,
        ..Default::default()
    })
    .await;
    sim.seed_orders(1, &order_template(), 1, t0(), chrono::Duration::hours(1));
    let client = client(&sim);
    assert!(client.order(1).await.is_ok());
    let err = client.update_status(1, "completed").await.unwrap_err();
    assert!(
        matches!(&err, WooClientError::Unauthorized { status: 401, message } if message.contains("write permissions")),
        "{err:?}"
    );
    assert_eq!(sim.order(1).unwrap()["status"], "processing");
}

#[tokio::test]
async fn a_status_the_store_does_not_know_is_refused_once() {
    let sim = store_with_orders(1).await;
    let err = client(&sim).update_status(1, "shipped").await.unwrap_err();
    let WooClientError::Http {
        status, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 400);
    assert!(
        message.contains("Invalid parameter(s): status"),
        "{message}"
    );
    assert!(!err.is_retryable());
    assert_eq!(sim.requests().len(), 1);
}

#[tokio::test]
async fn an_html_page_instead_of_json_is_an_invalid_response() {
    // A security plugin or a maintenance page answering 200 with HTML.
    let stub = HttpStub::start(|_| {
        StubResponse::ok(b"<!DOCTYPE html><html><body>Maintenance</body></html>".to_vec())
    })
    .await
    .unwrap();
    let client = client_for(&stub.base_url, "cs_test", AuthMode::Header);
    let err = client.order(1).await.unwrap_err();
    assert_eq!(err.code(), "woo_invalid_response");
    assert!(err.to_string().contains("Maintenance"), "{err}");
    let err = client
        .orders_page(&OrderQuery::default(), 1)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "woo_invalid_response");
}

#[tokio::test]
async fn a_store_that_never_answers_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    // Accepts connections and keeps them open without a word.
    tokio::spawn(async move {
        let mut open = vec![];
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let err = client_for(&url, "cs_test", AuthMode::Header)
        .with_timeout(Duration::from_millis(50))
        .order(1)
        .await
        .unwrap_err();
    assert!(matches!(err, WooClientError::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains("no answer within"), "{err}");
}

#[tokio::test]
async fn setting_the_status_an_order_already_has_changes_nothing() {
    let sim = store_with_orders(1).await;
    let before = sim.order(1).unwrap();
    sim.set_clock(Utc.with_ymd_and_hms(2024, 6, 1, 8, 30, 0).unwrap());
    client(&sim).update_status(1, "processing").await.unwrap();
    assert_eq!(sim.order(1).unwrap(), before);
    assert!(sim.notes(1).is_empty());
}
