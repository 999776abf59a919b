//! Submission to providers over real HTTP (`testkit::ProviderSim`, the four providers' APIs
//! with a ledger and scripted faults) for an order of a simulated WooCommerce store: one
//! order at the provider however many ask, unclear answers looked up before anything else,
//! outages retried then failed with the reason, refusals failed in the provider's words,
//! shipment webhooks repeated and out of order merged and pushed to the store once each.

use std::time::Duration;

use app::providers::{ProviderInput, ProviderSettings};
use app::stores::{SecretText, StoreInput};
use connectors::provider::ProviderKind;
use domain::{StoreSettings, SubmitStatus};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::provider_sim::{
    ProviderSim, ProviderSimOptions, SimEvent, SimOp, SimParcel, SimProvider,
};
use testkit::{WooSim, WooSimOptions};

use crate::harness::*;
use crate::woocommerce::{STORE, eventually, name_tag, run_import};

const ACCOUNT: &str = "fulfil";

fn kind_of(p: SimProvider) -> ProviderKind {
    match p {
        SimProvider::Printful => ProviderKind::Printful,
        SimProvider::CustomCat => ProviderKind::CustomCat,
        SimProvider::ShineOn => ProviderKind::ShineOn,
        SimProvider::Gelato => ProviderKind::Gelato,
    }
}

/// A server whose sends are retried at once (three tries), a provider simulator, a store
/// simulator, and one rendered name-tag order of the store that goes to `provider`.
struct Setup {
    server: Server,
    sim: ProviderSim,
    woo: WooSim,
    order_id: i64,
}

async fn setup(provider: SimProvider, base_url: Option<String>) -> Setup {
    let mut s = settings();
    s.submission.retry_first_secs = 0;
    s.submission.retry_max_secs = 0;
    s.submission.max_tries = 3;
    s.public_url = "http://pressroom.test".into();
    let server = Server::with_settings(s).await;
    let sim = ProviderSim::start(ProviderSimOptions::default()).await;
    let woo = WooSim::start(WooSimOptions::default()).await;
    server
        .app
        .put_provider(ProviderInput {
            id: ACCOUNT.into(),
            kind: kind_of(provider),
            settings: ProviderSettings {
                base_url: base_url.unwrap_or_else(|| sim.base_url()),
                // Printful's store id; the others have none.
                account: if provider == SimProvider::Printful {
                    "12".into()
                } else {
                    String::new()
                },
                timeout_secs: 2,
                // The store's SKU as each provider knows the product.
                products: [(
                    "NAME-TAG".to_owned(),
                    match provider {
                        SimProvider::Printful => "4011:front:dtg".to_owned(),
                        _ => "NAME-TAG-2X1".to_owned(),
                    },
                )]
                .into(),
                ..ProviderSettings::default()
            },
            api_key: SecretText(sim.api_key(provider)),
            webhook_secret: SecretText(sim.webhook_secret(provider)),
        })
        .await
        .expect("add the provider account");
    server
        .app
        .put_store(StoreInput {
            id: STORE.into(),
            settings: StoreSettings {
                url: woo.url(),
                mapping: settings().mapping,
                default_provider: ACCOUNT.into(),
                ..StoreSettings::default()
            },
            consumer_key: SecretText("ck_test".into()),
            consumer_secret: SecretText("cs_test".into()),
            webhook_secret: SecretText("test-webhook-secret".into()),
        })
        .await
        .expect("connect the store");
    let (photos, _) = serve_photo(biscuit()).await;
    // Paid now: the countdown (24 hours) stays out of the way; the tests submit by hand.
    let mut order = name_tag(727, "Ada", &format!("{photos}/photo.jpg"));
    order["date_paid"] = Value::Null;
    order["date_paid_gmt"] = Value::Null;
    woo.insert_order(order);
    run_import(
        &server,
        &app::store_import::ImportScope::Ids { ids: vec![727] },
    )
    .await;
    let order_id = server
        .app
        .db
        .find_order(STORE, 727)
        .await
        .unwrap()
        .expect("imported")
        .id;
    eventually("rendered", Duration::from_secs(60), || async {
        (!server.app.db.renders(order_id).await.unwrap().is_empty()).then_some(())
    })
    .await;
    Setup {
        server,
        sim,
        woo,
        order_id,
    }
}

impl Setup {
    async fn status(&self) -> SubmitStatus {
        self.server
            .app
            .db
            .get_order(self.order_id)
            .await
            .unwrap()
            .order
            .submit_status
    }

    async fn settled(&self) -> SubmitStatus {
        eventually(
            "the submission settles",
            Duration::from_secs(60),
            || async {
                let s = self.status().await;
                (!matches!(s, SubmitStatus::Blank | SubmitStatus::Submitting { .. })).then_some(s)
            },
        )
        .await
    }

    async fn submit(&self) -> (StatusCode, Value) {
        let resp = client()
            .post(
                self.server
                    .url(&format!("/api/v1/orders/{}/submit", self.order_id)),
            )
            .send()
            .await
            .unwrap();
        (resp.status(), resp.json().await.unwrap())
    }

    fn external_id(&self) -> String {
        format!("pr{}-1", self.order_id)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_submits_reach_the_provider_once() {
    let t = setup(SimProvider::Printful, None).await;
    let http = client();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let (http, base, id) = (http.clone(), t.server.base.clone(), t.order_id);
        tasks.spawn(async move {
            let resp = if i % 2 == 0 {
                http.post(format!("{base}/api/v1/orders/{id}/submit"))
                    .send()
                    .await
            } else {
                http.post(format!("{base}/api/v1/orders/bulk-submit"))
                    .json(&json!({"order_ids": [id]}))
                    .send()
                    .await
            };
            let body: Value = resp.unwrap().json().await.unwrap();
            let line = if body["results"].is_array() {
                body["results"][0].clone()
            } else {
                body
            };
            line["result"].as_str().unwrap().to_owned()
        });
    }
    let mut results = std::collections::BTreeMap::<String, usize>::new();
    while let Some(r) = tasks.join_next().await {
        *results.entry(r.unwrap()).or_default() += 1;
    }
    assert_eq!(
        results,
        std::collections::BTreeMap::from([
            ("already_submitted".to_owned(), 999),
            ("submitting".to_owned(), 1)
        ])
    );
    assert!(matches!(t.settled().await, SubmitStatus::Submitted { .. }));
    assert_eq!(t.sim.count(SimProvider::Printful, &t.external_id()), 1);
    assert_eq!(
        t.sim
            .requests_to(SimProvider::Printful, SimOp::Create)
            .len(),
        1
    );
    // The button says so afterwards too.
    let (status, body) = t.submit().await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["result"], "already_submitted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_then_500_or_a_timeout_is_looked_up_and_submitted_once() {
    for provider in SimProvider::ALL {
        for hang in [false, true] {
            let t = setup(provider, None).await;
            if hang {
                t.sim.accept_then_hang(provider);
            } else {
                t.sim.accept_then_500(provider);
            }
            let (status, _) = t.submit().await;
            assert_eq!(status, StatusCode::ACCEPTED);
            let settled = t.settled().await;
            assert!(
                matches!(settled, SubmitStatus::Submitted { .. }),
                "{provider:?} hang={hang}: {settled:?}"
            );
            assert_eq!(
                t.sim.count(provider, &t.external_id()),
                1,
                "{provider:?} hang={hang}: one order at the provider"
            );
            // The first send skips the look-up (a new id); any look-up is the recovery's.
            assert!(
                !t.sim.requests_to(provider, SimOp::Lookup).is_empty(),
                "{provider:?} hang={hang}: looked up before anything else"
            );
            let history = t.server.app.db.history(t.order_id).await.unwrap();
            assert!(
                history
                    .iter()
                    .any(|e| e.message.contains("found by looking it up")
                        || e.message.contains("unconfirmed draft")),
                "{provider:?} hang={hang}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_that_cannot_be_looked_up_goes_to_review_and_is_never_sent_again() {
    let t = setup(SimProvider::Gelato, None).await;
    // The order is created and answered with a 500; every look-up fails. The first send of
    // a claim makes no look-up, so every failing look-up is the recovery's.
    t.sim.accept_then_500(SimProvider::Gelato);
    for op in [SimOp::Lookup, SimOp::Detail] {
        t.sim.fault(
            Some(SimProvider::Gelato),
            Some(op),
            testkit::provider_sim::When::Always,
            testkit::provider_sim::Fault::Status(503),
        );
    }
    t.submit().await;
    let settled = t.settled().await;
    assert!(
        matches!(settled, SubmitStatus::Review { .. }),
        "{settled:?}"
    );
    assert_eq!(
        t.sim.requests_to(SimProvider::Gelato, SimOp::Create).len(),
        1
    );
    // A person checked: it is there.
    let resp = client()
        .post(
            t.server
                .url(&format!("/api/v1/orders/{}/review", t.order_id)),
        )
        .json(&json!({"resolution": "submitted", "provider_order_id": "G-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let SubmitStatus::Submitted { external_id, .. } = t.status().await else {
        panic!("not submitted after the review");
    };
    assert_eq!(
        external_id,
        Some(t.external_id()),
        "the claimed id, kept in review"
    );
    let (status, _) = t.submit().await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_providers_are_retried_then_failed_with_the_reason() {
    // A closed port (connection refused) and a name that does not resolve.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    for base in [closed, "http://no-such-provider.invalid".to_owned()] {
        let t = setup(SimProvider::Printful, Some(base.clone())).await;
        t.submit().await;
        let SubmitStatus::Failed { reason, .. } = t.settled().await else {
            panic!("{base}: not failed");
        };
        assert!(reason.contains("could not be reached"), "{base}: {reason}");
        assert!(reason.contains("3 tries"), "{base}: {reason}");
        // Fixed (here: nothing to fix) and submitted again, under the next attempt's id.
        let (status, body) = t.submit().await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["external_id"], format!("pr{}-2", t.order_id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_for_retry_after_then_submits_once() {
    let t = setup(SimProvider::CustomCat, None).await;
    t.sim.rate_limit(SimProvider::CustomCat, 1);
    t.submit().await;
    assert!(matches!(t.settled().await, SubmitStatus::Submitted { .. }));
    assert_eq!(t.sim.count(SimProvider::CustomCat, &t.external_id()), 1);
    let history: Vec<String> = t
        .server
        .app
        .db
        .history(t.order_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert!(
        history.iter().any(|m| m.contains("trying again in 1s")),
        "the wait follows Retry-After: {history:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_fails_the_order_with_the_providers_reason_shown_in_the_list() {
    let t = setup(SimProvider::ShineOn, None).await;
    t.sim
        .reject(SimProvider::ShineOn, "Invalid address: postcode missing");
    t.submit().await;
    let SubmitStatus::Failed { reason, .. } = t.settled().await else {
        panic!("not failed");
    };
    assert!(
        reason.contains("Invalid address: postcode missing"),
        "{reason}"
    );
    let list = get_json(&client(), &t.server.url("/api/v1/orders")).await;
    let row = list["orders"]
        .as_array()
        .or(list.as_array())
        .unwrap()
        .iter()
        .find(|o| o["id"] == t.order_id)
        .cloned()
        .unwrap();
    assert_eq!(row["submit_status"], "Failed");
    assert!(
        row["submit_reason"]
            .as_str()
            .unwrap()
            .contains("postcode missing")
    );
    assert_eq!(t.sim.count(SimProvider::ShineOn, &t.external_id()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipment_webhooks_repeated_and_out_of_order_merge_and_reach_the_store_once_each() {
    let t = setup(SimProvider::Printful, None).await;
    t.submit().await;
    assert!(matches!(t.settled().await, SubmitStatus::Submitted { .. }));
    let ext = t.external_id();
    t.sim.ship(
        SimProvider::Printful,
        &ext,
        vec![
            SimParcel::new("UPS", "1ZPARCEL1", &[]),
            SimParcel::new("USPS", "9400PARCEL2", &[]),
        ],
    );
    let url = t.server.url(&format!("/webhooks/providers/{ACCOUNT}"));
    // Delivered first, then the "shipped" news, each three times.
    let events = [
        SimEvent::Delivered(0),
        SimEvent::Shipped(0),
        SimEvent::Shipped(1),
    ];
    for _ in 0..3 {
        for e in events.iter().rev().chain(events.iter()) {
            let status = t
                .sim
                .send_webhook(&url, SimProvider::Printful, e, &ext)
                .await;
            assert_eq!(status, StatusCode::OK);
        }
    }
    // A forged one is refused and not kept.
    let body = t
        .sim
        .webhook_body(SimProvider::Printful, &SimEvent::Delivered(1), &ext);
    let forged = t
        .sim
        .send_raw_webhook(
            &url,
            vec![("x-pf-webhook-signature".into(), "00".repeat(32))],
            body,
        )
        .await;
    assert_eq!(forged, StatusCode::UNAUTHORIZED);
    let woo_id = 727;
    eventually(
        "both numbers in the store",
        Duration::from_secs(60),
        || async { (t.woo.trackings(woo_id).len() >= 2).then_some(()) },
    )
    .await;
    let order = t.server.app.db.get_order(t.order_id).await.unwrap().order;
    assert_eq!(order.shipments.len(), 2);
    let first = order
        .shipments
        .iter()
        .find(|s| s.tracking_number == "1ZPARCEL1")
        .unwrap();
    assert_eq!(
        first.status,
        domain::ShipmentStatus::Delivered,
        "never backwards"
    );
    assert!(
        order
            .shipments
            .iter()
            .any(|s| s.tracking_number == "9400PARCEL2")
    );
    // Each number once, even after everything settled.
    eventually("the outbox is empty", Duration::from_secs(60), || async {
        let db = &t.server.app.db;
        let tracking = db.has_pending_outbox(t.order_id, "tracking").await.unwrap();
        let status = db.has_pending_outbox(t.order_id, "status").await.unwrap();
        (!tracking && !status).then_some(())
    })
    .await;
    let numbers: Vec<String> = t
        .woo
        .trackings(woo_id)
        .iter()
        .map(|v| v["tracking_number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers.len(), 2, "{numbers:?}");
    assert!(
        numbers.contains(&"1ZPARCEL1".to_owned()) && numbers.contains(&"9400PARCEL2".to_owned())
    );
    assert_eq!(order.fulfillment(), domain::FulfillmentState::Fulfilled);
    assert_eq!(order.status.raw, "completed");
}
