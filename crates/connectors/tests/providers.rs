//! The fulfillment providers' adapters: the recorded webhooks read into events, the request
//! bodies against the documented shapes, and every adapter over real HTTP against the
//! simulated providers (`testkit::ProviderSim`) with scripted failures — what exactly-once
//! needs from each: one order per external id, honest errors, lookups that find what a lost
//! answer created.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use connectors::provider::{
    CancelOutcome, Provider, ProviderConfig, ProviderError, ProviderEvent, ProviderItem,
    ProviderKind, ProviderNews, ProviderOrder, WebhookError, WebhookRequest,
};
use connectors::providers::{AnyProvider, printful_signature};
use domain::{ShipmentItem, ShipmentStatus, ShipmentUpdate};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use testkit::{
    Fault, ProviderSim, ProviderSimOptions, SimEvent, SimOp, SimParcel, SimProvider, When,
};

const KINDS: [ProviderKind; 4] = [
    ProviderKind::Printful,
    ProviderKind::CustomCat,
    ProviderKind::ShineOn,
    ProviderKind::Gelato,
];

fn sim_of(kind: ProviderKind) -> SimProvider {
    match kind {
        ProviderKind::Printful => SimProvider::Printful,
        ProviderKind::CustomCat => SimProvider::CustomCat,
        ProviderKind::ShineOn => SimProvider::ShineOn,
        ProviderKind::Gelato => SimProvider::Gelato,
        other => panic!("{other:?} has no simulator"),
    }
}

fn fixture(path: &str) -> Value {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn product(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Printful => "4011:front:dtg",
        ProviderKind::CustomCat => "45475",
        ProviderKind::ShineOn => "SNO-NECKLACE-GOLD",
        _ => {
            "apparel_product_gca_t-shirt_gsc_crewneck_gcu_unisex_gqa_classic_gsi_s_gco_white_gpr_4-4"
        }
    }
}

/// Order 1001 of a store: two personalized lines (316 ×1, 317 ×2).
fn order(kind: ProviderKind, external_id: &str) -> ProviderOrder {
    let item = |line_item_id: i64, quantity: u32| ProviderItem {
        line_item_id,
        product: product(kind).into(),
        quantity,
        name: format!("Mug for line {line_item_id}"),
        print_file_url: format!("https://files.example/orders/1001/{line_item_id}.png?sig=abc"),
        preview_url: format!("https://files.example/orders/1001/{line_item_id}-preview.jpg"),
    };
    ProviderOrder {
        external_id: external_id.into(),
        order_number: "1001".into(),
        recipient: domain::Address {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            company: String::new(),
            address_1: "100 Main St".into(),
            address_2: "Apt 4".into(),
            city: "Edwardsville".into(),
            state: "IL".into(),
            postcode: "62025".into(),
            country: "US".into(),
            email: "ada@example.com".into(),
            phone: "555-123-4567".into(),
        },
        currency: "USD".into(),
        shipping_method: "Flat rate".into(),
        items: vec![item(316, 1), item(317, 2)],
        notify_url: Some("https://pressroom.example/webhooks/shine_on?token=hook-token".into()),
        look_first: true,
    }
}

fn config(sim: &ProviderSim, kind: ProviderKind) -> ProviderConfig {
    ProviderConfig {
        kind,
        base_url: sim.base_url(),
        api_key: sim.api_key(sim_of(kind)),
        webhook_secret: sim.webhook_secret(sim_of(kind)),
        account: if kind == ProviderKind::Printful {
            "11229252".into()
        } else {
            String::new()
        },
        confirm: true,
        timeout: Duration::from_secs(5),
    }
}

fn adapter_with(config: ProviderConfig) -> AnyProvider {
    AnyProvider::new(config, reqwest::Client::new()).expect("a valid configuration")
}

fn adapter(sim: &ProviderSim, kind: ProviderKind) -> AnyProvider {
    adapter_with(config(sim, kind))
}

async fn sim() -> ProviderSim {
    ProviderSim::start(ProviderSimOptions::default()).await
}

/// A simulator that makes a second order for a repeated id, as a provider that does not
/// deduplicate would: only the adapter stands between a repeat and a duplicate.
async fn sim_without_dedup() -> ProviderSim {
    ProviderSim::start(ProviderSimOptions {
        refuse_duplicates: false,
        ..ProviderSimOptions::default()
    })
    .await
}

/// Read a webhook the way the server hands it over: headers, raw body, the URL's token.
fn read_webhook(
    provider: &AnyProvider,
    headers: &[(String, String)],
    body: &[u8],
    token: Option<&str>,
) -> Result<Vec<ProviderEvent>, WebhookError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(
            reqwest::header::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    provider.webhook(WebhookRequest {
        headers: &map,
        body,
        url_token: token,
    })
}

// ---------------------------------------------------------------------------------------------
// Recorded webhooks

const PF_SECRET: &str = "8f1c3a9d2b7e4f60a1c5d9e3b7f2a6c0";

fn offline(kind: ProviderKind) -> AnyProvider {
    adapter_with(ProviderConfig {
        kind,
        base_url: "https://provider.invalid".into(),
        api_key: "key".into(),
        webhook_secret: if kind == ProviderKind::Printful {
            PF_SECRET.into()
        } else {
            "hook-token".into()
        },
        account: String::new(),
        confirm: true,
        timeout: Duration::from_secs(5),
    })
}

fn signed(body: &[u8]) -> Vec<(String, String)> {
    vec![(
        "x-pf-webhook-signature".into(),
        printful_signature(PF_SECRET, body),
    )]
}

fn event(
    external_id: Option<&str>,
    id: Option<&str>,
    name: &str,
    news: ProviderNews,
) -> ProviderEvent {
    ProviderEvent {
        external_id: external_id.map(str::to_owned),
        provider_order_id: id.map(str::to_owned),
        event: name.into(),
        news,
    }
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> Option<chrono::DateTime<Utc>> {
    Some(Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap())
}

#[test]
fn every_recorded_printful_webhook_reads_into_its_events() {
    let printful = offline(ProviderKind::Printful);
    let parcel = |status| {
        ProviderNews::Shipment(ShipmentUpdate {
            id: Some("0".into()),
            tracking_number: "string".into(),
            status: Some(status),
            shipped_at: at(2023, 4, 5, 6, 7, 8),
            ..ShipmentUpdate::default()
        })
    };
    let s = Some("string");
    let table: Vec<(&str, Vec<ProviderEvent>)> = vec![
        (
            "printful_v2_webhook_shipment_sent.schema-example.json",
            vec![event(
                s,
                Some("0"),
                "shipment_sent",
                parcel(ShipmentStatus::Shipped),
            )],
        ),
        (
            "printful_v2_webhook_shipment_returned.schema-example.json",
            vec![event(
                s,
                Some("0"),
                "shipment_returned",
                parcel(ShipmentStatus::Returned),
            )],
        ),
        (
            "printful_v2_webhook_order_failed.schema-example.json",
            vec![event(
                s,
                Some("0"),
                "order_failed",
                ProviderNews::Failed {
                    reason: "string".into(),
                },
            )],
        ),
        (
            "printful_v2_webhook_order_canceled.schema-example.json",
            vec![event(
                s,
                Some("0"),
                "order_canceled",
                ProviderNews::Cancelled,
            )],
        ),
        (
            "printful_v2_webhook_order_put_hold.schema-example.json",
            vec![event(
                s,
                Some("0"),
                "order_put_hold",
                ProviderNews::OnHold {
                    reason: "string".into(),
                },
            )],
        ),
        (
            "printful_v2_webhook_order_updated.schema-example.json",
            vec![event(
                s,
                Some("0"),
                "order_updated",
                ProviderNews::Status {
                    status: "string".into(),
                },
            )],
        ),
        (
            "printful_v2_webhook_order_created.schema-example.json",
            vec![event(
                s,
                Some("0"),
                "order_created",
                ProviderNews::Status {
                    status: "string".into(),
                },
            )],
        ),
        (
            // The docs' own example: a null external_id and times as numbers.
            "printful_v2_webhook_order_created.docs-example.json",
            vec![event(
                None,
                Some("11111"),
                "order_created",
                ProviderNews::Status {
                    status: "pending".into(),
                },
            )],
        ),
    ];
    for (file, want) in table {
        let body = serde_json::to_vec(&fixture(&format!("printful/{file}"))).unwrap();
        let got = read_webhook(&printful, &signed(&body), &body, None)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn printful_webhooks_without_the_right_signature_are_refused_before_reading() {
    let printful = offline(ProviderKind::Printful);
    let body = serde_json::to_vec(&fixture(
        "printful/printful_v2_webhook_shipment_sent.schema-example.json",
    ))
    .unwrap();
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let wrong_key = vec![(
        "x-pf-webhook-signature".to_string(),
        printful_signature("00112233", &body),
    )];
    for (headers, body) in [
        (vec![], &body),
        (signed(&body), &tampered),
        (wrong_key, &body),
        (
            vec![("x-pf-webhook-signature".into(), "not hex".into())],
            &body,
        ),
    ] {
        assert_eq!(
            read_webhook(&printful, &headers, body, None),
            Err(WebhookError::BadSignature)
        );
    }
    // Upper-case hex is the same signature.
    let upper = vec![(
        "x-pf-webhook-signature".to_string(),
        printful_signature(PF_SECRET, &body).to_ascii_uppercase(),
    )];
    assert!(read_webhook(&printful, &upper, &body, None).is_ok());
}

#[test]
fn events_we_do_not_track_give_status_or_nothing_and_broken_bodies_name_the_path() {
    let printful = offline(ProviderKind::Printful);
    let read = |body: Value| {
        let body = serde_json::to_vec(&body).unwrap();
        read_webhook(&printful, &signed(&body), &body, None)
    };
    assert_eq!(
        read(json!({ "type": "catalog_stock_updated", "data": { "variant_stock": [] } })),
        Ok(vec![])
    );
    assert_eq!(
        read(
            json!({ "type": "order_refunded", "data": { "order": { "id": 5, "external_id": "pr-1", "status": "fulfilled" } } })
        ),
        Ok(vec![event(
            Some("pr-1"),
            Some("5"),
            "order_refunded",
            ProviderNews::Status {
                status: "fulfilled".into()
            }
        )])
    );
    let Err(WebhookError::Malformed(why)) =
        read(json!({ "type": "shipment_sent", "data": { "order": { "id": [1] } } }))
    else {
        panic!("a list as an id was read")
    };
    assert!(why.contains("data.order.id"), "{why}");
    let Err(WebhookError::Malformed(why)) = read(json!({ "data": {} })) else {
        panic!("a body without a type was read")
    };
    assert!(why.contains("type"), "{why}");

    let gelato = offline(ProviderKind::Gelato);
    let body = br#"{"event":"order_status_updated","orderReferenceId":"pr-1","items":[{"fulfillments":7}]}"#;
    let Err(WebhookError::Malformed(why)) = read_webhook(&gelato, &[], body, Some("hook-token"))
    else {
        panic!("fulfillments as a number was read")
    };
    assert!(why.contains("items[0].fulfillments"), "{why}");
}

#[test]
fn the_recorded_customcat_shineon_and_gelato_webhooks_read_into_shipments() {
    // CustomCat documents the shipped payload as its field names.
    let cc = fixture("customcat/order_status_and_webhook.json");
    let mut body = serde_json::Map::new();
    for field in cc["webhook_order_shipped_payload_fields"]
        .as_array()
        .unwrap()
    {
        let field = field.as_str().unwrap();
        let value = match field {
            "api_key" => "cc-key",
            "order_id" => "pr-1001",
            "customcat_order_id" => "<customcat-uuid>",
            "tracker_number" => "TRACK123",
            "tracking_url" => "https://tools.usps.com/go/TrackConfirmAction?tLabels=TRACK123",
            other => panic!("a field the test does not know: {other}"),
        };
        body.insert(field.into(), value.into());
    }
    let body = serde_json::to_vec(&body).unwrap();
    assert_eq!(
        read_webhook(
            &offline(ProviderKind::CustomCat),
            &[],
            &body,
            Some("hook-token")
        )
        .unwrap(),
        vec![event(
            Some("pr-1001"),
            Some("<customcat-uuid>"),
            "order-shipped",
            ProviderNews::Shipment(ShipmentUpdate {
                tracking_number: "TRACK123".into(),
                tracking_url: "https://tools.usps.com/go/TrackConfirmAction?tLabels=TRACK123"
                    .into(),
                status: Some(ShipmentStatus::Shipped),
                ..ShipmentUpdate::default()
            })
        )]
    );

    // ShineOn's line ids in the SDK example are not ours ("item-1"): no items, whole order.
    let so = fixture("shineon/orders.json");
    let body = serde_json::to_vec(&so["shipment_notification"]).unwrap();
    assert_eq!(
        read_webhook(
            &offline(ProviderKind::ShineOn),
            &[],
            &body,
            Some("hook-token")
        )
        .unwrap(),
        vec![event(
            Some("store-order-1001"),
            Some("98765"),
            "shipment_notification",
            ProviderNews::Shipment(ShipmentUpdate {
                carrier: "USPS".into(),
                tracking_number: "9400111899223817612345".into(),
                status: Some(ShipmentStatus::Shipped),
                ..ShipmentUpdate::default()
            })
        )]
    );

    let gl = fixture("gelato/webhooks_and_order.json");
    let gelato = offline(ProviderKind::Gelato);
    let read = |v: &Value| {
        read_webhook(
            &gelato,
            &[],
            &serde_json::to_vec(v).unwrap(),
            Some("hook-token"),
        )
        .unwrap()
    };
    let order_id = Some("a6a1f9ce-2bdd-4a9e-9f8d-0009df0e24d9");
    assert_eq!(
        read(&gl["order_status_updated"]),
        vec![event(
            Some("my-order-123"),
            order_id,
            "order_status_updated",
            ProviderNews::Shipment(ShipmentUpdate {
                carrier: "UPS Ground".into(),
                tracking_number: "1Z999AA10123456784".into(),
                tracking_url: "https://tracking.example.com/1Z999AA10123456784".into(),
                status: Some(ShipmentStatus::Shipped),
                ..ShipmentUpdate::default()
            })
        )]
    );
    assert_eq!(
        read(&gl["order_item_tracking_code_updated"]),
        vec![event(
            Some("my-order-123"),
            order_id,
            "order_item_tracking_code_updated",
            ProviderNews::Shipment(ShipmentUpdate {
                carrier: "DHL Express Domestic BR".into(),
                tracking_number: "code123".into(),
                tracking_url: "http://example.com/tracking?code=code123".into(),
                status: Some(ShipmentStatus::Shipped),
                ..ShipmentUpdate::default()
            })
        )]
    );
}

#[test]
fn unsigned_providers_need_the_exact_url_token() {
    for kind in [
        ProviderKind::CustomCat,
        ProviderKind::ShineOn,
        ProviderKind::Gelato,
    ] {
        let provider = offline(kind);
        for token in [
            None,
            Some(""),
            Some("hook-toke"),
            Some("hook-token2"),
            Some("HOOK-TOKEN"),
        ] {
            assert_eq!(
                read_webhook(&provider, &[], b"{}", token),
                Err(WebhookError::BadSignature),
                "{kind:?} {token:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request bodies against the documented shapes

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

#[track_caller]
fn assert_subset(ours: &Value, documented: &Value, what: &str) {
    let extra: Vec<String> = keys(ours).difference(&keys(documented)).cloned().collect();
    assert!(
        extra.is_empty(),
        "{what}: fields the docs do not have: {extra:?}"
    );
}

#[test]
fn the_printful_order_has_the_documented_fields_and_our_ids() {
    let doc = fixture("printful/printful_v2_create_order_request.schema-example.json");
    let mut ours_order = order(ProviderKind::Printful, "pr-1001");
    // The docs' own file URL, zero-width space and all.
    ours_order.items[0].print_file_url = doc["order_items"][0]["placements"][0]["layers"][0]["url"]
        .as_str()
        .unwrap()
        .into();
    let ours = connectors::providers::printful::order_json(&ours_order).unwrap();
    assert_subset(&ours, &doc, "order");
    assert_subset(&ours["recipient"], &doc["recipient"], "recipient");
    let (item, doc_item) = (&ours["order_items"][0], &doc["order_items"][0]);
    assert_subset(item, doc_item, "order item");
    assert_subset(
        &item["placements"][0],
        &doc_item["placements"][0],
        "placement",
    );
    assert_subset(
        &item["placements"][0]["layers"][0],
        &doc_item["placements"][0]["layers"][0],
        "layer",
    );
    assert_subset(&ours["retail_costs"], &doc["retail_costs"], "retail costs");
    assert_subset(
        &ours["customization"]["packing_slip"],
        &doc["customization"]["packing_slip"],
        "packing slip",
    );
    assert_eq!(ours["external_id"], "pr-1001");
    assert_eq!(ours["shipping"], "STANDARD");
    assert_eq!(ours["recipient"]["name"], "Ada Lovelace");
    assert_eq!(ours["recipient"]["state_code"], "IL");
    assert_eq!(item["source"], "catalog");
    assert_eq!(item["catalog_variant_id"], 4011);
    assert_eq!(item["external_id"], "316");
    assert_eq!(item["placements"][0]["placement"], "front");
    assert_eq!(
        item["placements"][0]["layers"][0]["url"],
        "https://www.printful.com/static/images/layout/printful-logo.png"
    );
    assert_eq!(ours["order_items"][1]["quantity"], 2);
    assert_eq!(
        ours["customization"]["packing_slip"]["custom_order_id"],
        "1001"
    );

    let mut bad = order(ProviderKind::Printful, "pr-1001");
    bad.items[0].product = "SKU-7".into();
    let Err(ProviderError::Rejected { reason, .. }) =
        connectors::providers::printful::order_json(&bad)
    else {
        panic!("a product that is not a variant id was accepted")
    };
    assert!(reason.contains("SKU-7"), "{reason}");
}

#[test]
fn the_customcat_shineon_and_gelato_orders_have_the_documented_fields() {
    let cc_doc = fixture("customcat/order_submit.json")["request"].clone();
    let cc =
        connectors::providers::customcat::order_json(&order(ProviderKind::CustomCat, "pr-1001"))
            .unwrap();
    // `sandbox` is the docs' test switch; we send real orders.
    assert_eq!(
        keys(&cc),
        keys(&cc_doc)
            .into_iter()
            .filter(|k| k != "sandbox")
            .collect()
    );
    assert_subset(&cc["items"][0], &cc_doc["items"][0], "CustomCat item");
    assert_eq!(cc["items"][0]["catalog_sku"], "45475");
    assert_eq!(
        cc["items"][0]["design_url"],
        "https://files.example/orders/1001/316.png?sig=abc"
    );
    assert_eq!(cc["api_key"], "<api key>");

    let so_doc = fixture("shineon/orders.json");
    let so =
        connectors::providers::shineon::order_json(&order(ProviderKind::ShineOn, "pr-1001"), false)
            .unwrap();
    let doc_order = &so_doc["create_v1"]["order"];
    // `test` is the docs' test switch.
    assert_eq!(
        keys(&so["order"]),
        keys(doc_order)
            .into_iter()
            .filter(|k| k != "test")
            .collect()
    );
    assert_eq!(so["order"]["ready"], 0);
    assert_eq!(so["order"]["source_id"], "pr-1001");
    assert_eq!(
        so["order"]["shipment_notification_url"],
        "https://pressroom.example/webhooks/shine_on?token=hook-token"
    );
    let line = &so["order"]["line_items"][0];
    assert_subset(line, &doc_order["line_items"][0], "ShineOn line");
    assert_eq!(line["store_line_item_id"], "316");
    assert_eq!(
        line["properties"]["print_url"],
        "https://files.example/orders/1001/316.png?sig=abc"
    );
    // The fixture's address has no second line; the SDK's address type does.
    let documented_address: BTreeSet<String> = keys(&doc_order["shipping_address"])
        .into_iter()
        .chain(["address2", "company", "phone", "province"].map(String::from))
        .collect();
    assert!(keys(&so["order"]["shipping_address"]).is_subset(&documented_address));
    let ready =
        connectors::providers::shineon::order_json(&order(ProviderKind::ShineOn, "pr-1001"), true)
            .unwrap();
    assert_eq!(ready["order"]["ready"], 1);

    let gl_doc = fixture("gelato/webhooks_and_order.json")["create_order_request_sketch"].clone();
    let gl =
        connectors::providers::gelato::order_json(&order(ProviderKind::Gelato, "pr-1001"), true)
            .unwrap();
    // No shipment method for a store's "Flat rate": Gelato picks one.
    assert_subset(&gl, &gl_doc, "Gelato order");
    assert_subset(&gl["items"][0], &gl_doc["items"][0], "Gelato item");
    // The sketch's address has no second line or company; Gelato's address does.
    let documented_address: BTreeSet<String> = keys(&gl_doc["shippingAddress"])
        .into_iter()
        .chain(["addressLine2", "companyName"].map(String::from))
        .collect();
    assert!(keys(&gl["shippingAddress"]).is_subset(&documented_address));
    assert_eq!(gl["orderType"], "order");
    assert_eq!(gl["orderReferenceId"], "pr-1001");
    assert_eq!(gl["items"][0]["itemReferenceId"], "316");
    assert_eq!(gl["items"][0]["files"][0]["type"], "default");
    let draft =
        connectors::providers::gelato::order_json(&order(ProviderKind::Gelato, "pr-1001"), false)
            .unwrap();
    assert_eq!(draft["orderType"], "draft");
}

#[tokio::test]
async fn a_printful_order_as_the_docs_show_it_is_read_by_lookup() {
    // Printful answers the docs' own example order (a draft, external_id null).
    let doc = serde_json::to_vec(&fixture(
        "printful/printful_v2_order_get_94188292.docs-example.json",
    ))
    .unwrap();
    let stub = testkit::HttpStub::start(move |path| match path {
        "/v2/orders/@pr-doc" => testkit::StubResponse::ok(doc.clone()),
        "/v2/orders/94188292/shipments" => testkit::StubResponse::ok(
            br#"{"data":[],"paging":{"total":0,"offset":0,"limit":20}}"#.to_vec(),
        ),
        _ => testkit::StubResponse::not_found(),
    })
    .await
    .unwrap();
    let printful = adapter_with(ProviderConfig {
        kind: ProviderKind::Printful,
        base_url: stub.base_url.clone(),
        api_key: "pf-token".into(),
        webhook_secret: PF_SECRET.into(),
        account: String::new(),
        confirm: true,
        timeout: Duration::from_secs(5),
    });
    let found = printful.lookup("pr-doc").await.unwrap().unwrap();
    assert_eq!(found.provider_order_id, "94188292");
    assert_eq!(found.status, "draft");
    assert!(found.needs_confirmation && !found.cancelled && found.failed.is_none());
    assert_eq!(printful.lookup("pr-other").await.unwrap(), None);
}

/// A server that answers lookups with `read_answer` and cuts every create after reading its
/// head: the request arrived, the answer never comes.
async fn cutting_server(read_answer: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                // Gelato's lookup is a POST too: only creates are cut.
                let search = String::from_utf8_lossy(&head).contains("orders:search");
                if head.starts_with(b"POST") && !search {
                    return; // dropped: the connection closes without an answer
                }
                let answer = format!(
                    "HTTP/1.1 {read_answer}\r\nContent-Type: application/json\r\n\
                     Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_connection_cut_after_sending_or_an_unreadable_answer_is_unknown() {
    for kind in KINDS {
        // Lookups find nothing (404, or an empty search), then the create is cut.
        let read_answer = match kind {
            ProviderKind::ShineOn | ProviderKind::Gelato => "200 OK",
            _ => "404 Not Found",
        };
        let url = cutting_server(read_answer).await;
        let provider = adapter_with(ProviderConfig {
            kind,
            base_url: url,
            api_key: "key-0042".into(),
            webhook_secret: "secret".into(),
            account: String::new(),
            confirm: true,
            timeout: Duration::from_secs(5),
        });
        let err = provider.submit(&order(kind, "pr-cut")).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Unknown { .. }),
            "{kind:?}: {err:?}"
        );
        assert!(!err.to_string().contains("key-0042"), "{err}");
    }
    // A 2xx whose body is not the order (a proxy's page): processed, outcome unknown.
    let stub = testkit::HttpStub::start(|path| {
        if path.starts_with("/v2/orders/@") {
            testkit::StubResponse::not_found()
        } else {
            testkit::StubResponse::ok(b"<html>Welcome to nginx!</html>".to_vec())
        }
    })
    .await
    .unwrap();
    let printful = adapter_with(ProviderConfig {
        kind: ProviderKind::Printful,
        base_url: stub.base_url.clone(),
        api_key: "pf-token".into(),
        webhook_secret: PF_SECRET.into(),
        account: String::new(),
        confirm: true,
        timeout: Duration::from_secs(5),
    });
    let err = printful
        .submit(&order(ProviderKind::Printful, "pr-html"))
        .await
        .unwrap_err();
    let ProviderError::Unknown { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("nginx"), "{message}");
}

#[test]
fn the_configuration_never_prints_its_secrets() {
    let config = ProviderConfig {
        kind: ProviderKind::Printful,
        base_url: "https://api.printful.com".into(),
        api_key: "pf_live_topsecret".into(),
        webhook_secret: "cafebabe0042".into(),
        account: "11229252".into(),
        confirm: true,
        timeout: Duration::from_secs(30),
    };
    let text = format!("{config:?}");
    assert!(
        !text.contains("topsecret") && !text.contains("cafebabe0042"),
        "{text}"
    );
    assert!(text.contains("11229252"), "{text}");
}

#[test]
fn manual_and_sandbox_have_no_adapter() {
    for kind in [ProviderKind::Manual, ProviderKind::Sandbox] {
        let result = AnyProvider::new(
            ProviderConfig {
                kind,
                base_url: "https://x.invalid".into(),
                api_key: "k".into(),
                webhook_secret: "s".into(),
                account: String::new(),
                confirm: true,
                timeout: Duration::from_secs(1),
            },
            reqwest::Client::new(),
        );
        assert!(
            matches!(result, Err(ProviderError::Config { .. })),
            "{kind:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Against the simulated providers, over real HTTP

#[tokio::test]
async fn each_provider_accepts_an_order_once_however_often_it_is_sent() {
    let sim = sim_without_dedup().await;
    for kind in KINDS {
        let provider = adapter(&sim, kind);
        let ext = format!("pr-{}", kind.as_str().replace('_', ""));
        let first = provider.submit(&order(kind, &ext)).await.unwrap();
        let again = provider.submit(&order(kind, &ext)).await.unwrap();
        assert_eq!(first.provider_order_id, again.provider_order_id, "{kind:?}");
        assert_eq!(sim.count(sim_of(kind), &ext), 1, "{kind:?}");
        let stored = sim.order(sim_of(kind), &ext).unwrap();
        assert_eq!(stored.id, first.provider_order_id, "{kind:?}");
        assert_eq!(
            stored
                .items
                .iter()
                .map(|i| (i.line_item_id.as_str(), i.quantity))
                .collect::<Vec<_>>(),
            if kind == ProviderKind::CustomCat {
                // CustomCat has no external item id: its lines are numbered.
                vec![("1", 1), ("2", 2)]
            } else {
                vec![("316", 1), ("317", 2)]
            },
            "{kind:?}"
        );
        assert_eq!(
            stored.items[0].file_url, "https://files.example/orders/1001/316.png?sig=abc",
            "{kind:?}"
        );
    }
    // Printful: a draft, then confirmed, with the store header; the others in production.
    let pf = sim.order(SimProvider::Printful, "pr-printful").unwrap();
    assert_eq!(pf.status, "pending");
    let confirms = sim.requests_to(SimProvider::Printful, SimOp::Confirm);
    assert_eq!(confirms.len(), 1);
    assert_eq!(confirms[0].header("x-pf-store-id"), Some("11229252"));
    assert_eq!(confirms[0].header("authorization"), Some("Bearer pf-token"));
    assert_eq!(
        sim.order(SimProvider::ShineOn, "pr-shineon")
            .unwrap()
            .status,
        "awaiting_payment"
    );
    assert_eq!(
        sim.order(SimProvider::Gelato, "pr-gelato").unwrap().status,
        "created"
    );
    assert_eq!(
        sim.requests_to(SimProvider::CustomCat, SimOp::Create).len(),
        1
    );
}

#[tokio::test]
async fn without_confirm_orders_stay_drafts_or_on_hold() {
    let sim = sim().await;
    for kind in [
        ProviderKind::Printful,
        ProviderKind::ShineOn,
        ProviderKind::Gelato,
    ] {
        let provider = adapter_with(ProviderConfig {
            confirm: false,
            ..config(&sim, kind)
        });
        let accepted = provider.submit(&order(kind, "pr-draft")).await.unwrap();
        let want = match kind {
            ProviderKind::Printful => "draft",
            ProviderKind::ShineOn => "on_hold",
            _ => "draft",
        };
        assert_eq!(accepted.status, want, "{kind:?}");
        let found = provider.lookup("pr-draft").await.unwrap().unwrap();
        assert!(!found.needs_confirmation, "{kind:?}: a draft on purpose");
    }
    assert!(
        sim.requests_to(SimProvider::Printful, SimOp::Confirm)
            .is_empty()
    );
}

#[tokio::test]
async fn lookups_find_orders_with_their_parcels_and_say_none_for_unknown_ids() {
    let sim = sim().await;
    for kind in KINDS {
        let provider = adapter(&sim, kind);
        assert_eq!(
            provider.lookup("pr-unknown").await.unwrap(),
            None,
            "{kind:?}"
        );
        let accepted = provider.submit(&order(kind, "pr-7")).await.unwrap();
        let found = provider.lookup("pr-7").await.unwrap().expect("found");
        assert_eq!(
            found.provider_order_id, accepted.provider_order_id,
            "{kind:?}"
        );
        assert!(found.shipments.is_empty() && !found.cancelled && found.failed.is_none());

        sim.ship(
            sim_of(kind),
            "pr-7",
            vec![
                SimParcel::new("USPS", "9400-A", &[(316, 1)]),
                SimParcel::new("UPS", "1Z-B", &[(317, 2)]),
            ],
        );
        let found = provider.lookup("pr-7").await.unwrap().unwrap();
        let numbers: Vec<&str> = found
            .shipments
            .iter()
            .map(|s| s.tracking_number.as_str())
            .collect();
        assert_eq!(numbers, ["9400-A", "1Z-B"], "{kind:?}");
        assert!(
            found
                .shipments
                .iter()
                .all(|s| s.status.is_some_and(|s| s.has_left()))
        );
        if kind != ProviderKind::CustomCat {
            // CustomCat's status lists parcels without their lines.
            assert_eq!(
                found.shipments[1].items,
                vec![ShipmentItem {
                    line_item_id: 317,
                    quantity: 2
                }],
                "{kind:?}"
            );
        }
        assert_eq!(found.shipments[0].carrier, "USPS", "{kind:?}");
    }
}

#[tokio::test]
async fn an_order_accepted_but_answered_500_is_unknown_and_found_by_lookup() {
    let sim = sim().await;
    for kind in KINDS {
        let provider = adapter(&sim, kind);
        sim.accept_then_500(sim_of(kind));
        let err = provider.submit(&order(kind, "pr-500")).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Unknown { .. }),
            "{kind:?}: {err:?}"
        );
        assert!(!err.surely_not_received());
        let found = provider.lookup("pr-500").await.unwrap();
        assert!(
            found.is_some(),
            "{kind:?}: the order the lost answer created"
        );
        // Sending again answers with that order instead of making another.
        provider.submit(&order(kind, "pr-500")).await.unwrap();
        assert_eq!(sim.count(sim_of(kind), "pr-500"), 1, "{kind:?}");
    }
}

#[tokio::test]
async fn an_order_accepted_then_never_answered_times_out_as_unknown() {
    let sim = sim().await;
    for kind in KINDS {
        let provider = adapter_with(ProviderConfig {
            timeout: Duration::from_millis(300),
            ..config(&sim, kind)
        });
        sim.accept_then_hang(sim_of(kind));
        let err = provider.submit(&order(kind, "pr-hang")).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Unknown { .. }),
            "{kind:?}: {err:?}"
        );
        assert!(
            provider.lookup("pr-hang").await.unwrap().is_some(),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn printful_confirms_a_draft_left_by_a_lost_confirmation_instead_of_creating_another() {
    let sim = sim().await;
    let provider = adapter(&sim, ProviderKind::Printful);
    sim.fault(
        Some(SimProvider::Printful),
        Some(SimOp::Confirm),
        When::Next(1),
        Fault::Status(502),
    );
    let err = provider
        .submit(&order(ProviderKind::Printful, "pr-c"))
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unknown { .. }), "{err:?}");
    let found = provider.lookup("pr-c").await.unwrap().unwrap();
    assert_eq!(found.status, "draft");
    assert!(found.needs_confirmation, "found, but not yet in production");
    let accepted = provider
        .submit(&order(ProviderKind::Printful, "pr-c"))
        .await
        .unwrap();
    assert_eq!(accepted.status, "pending");
    assert_eq!(sim.count(SimProvider::Printful, "pr-c"), 1);
    assert!(
        !provider
            .lookup("pr-c")
            .await
            .unwrap()
            .unwrap()
            .needs_confirmation
    );
}

#[tokio::test]
async fn a_create_refused_as_a_duplicate_is_answered_with_the_existing_order() {
    // The lookup before the create misses (a lagging index); the provider refuses the second
    // create; the adapter finds and answers with the order that exists.
    let sim = sim().await;
    for kind in KINDS {
        let provider = adapter(&sim, kind);
        let first = provider.submit(&order(kind, "pr-dup")).await.unwrap();
        // ShineOn's and Gelato's lookups are searches: their miss is an empty list.
        let miss = match kind {
            ProviderKind::ShineOn | ProviderKind::Gelato => Fault::Status(200),
            _ => Fault::Status(404),
        };
        sim.fault(Some(sim_of(kind)), Some(SimOp::Lookup), When::Next(1), miss);
        let again = provider.submit(&order(kind, "pr-dup")).await;
        let again = again.unwrap_or_else(|e| panic!("{kind:?}: {e:?}"));
        assert_eq!(again.provider_order_id, first.provider_order_id, "{kind:?}");
        assert_eq!(sim.count(sim_of(kind), "pr-dup"), 1, "{kind:?}");
        assert_eq!(
            sim.requests_to(sim_of(kind), SimOp::Create).len(),
            2,
            "{kind:?}"
        );
        sim.clear_faults();
    }
}

#[tokio::test]
async fn a_closed_port_is_not_sent() {
    let port = testkit::free_port();
    for kind in KINDS {
        let provider = adapter_with(ProviderConfig {
            kind,
            base_url: format!("http://127.0.0.1:{port}"),
            api_key: "key-0042".into(),
            webhook_secret: "secret".into(),
            account: String::new(),
            confirm: true,
            timeout: Duration::from_secs(5),
        });
        let err = provider
            .submit(&order(kind, "pr-refused"))
            .await
            .unwrap_err();
        // CustomCat's key rides in the lookup's URL: never in a message.
        assert!(!err.to_string().contains("key-0042"), "{err}");
        let ProviderError::NotSent {
            message,
            retry_after,
            ..
        } = &err
        else {
            panic!("{kind:?}: {err:?}")
        };
        assert!(message.contains("connection refused"), "{message}");
        assert_eq!(*retry_after, None);
        assert!(err.surely_not_received());
    }
}

#[tokio::test]
async fn a_rate_limit_is_not_sent_with_the_wait_the_provider_asked_for() {
    let sim = sim().await;
    for kind in KINDS {
        let provider = adapter(&sim, kind);
        sim.fault(
            Some(sim_of(kind)),
            Some(SimOp::Create),
            When::Next(1),
            Fault::RateLimit(7),
        );
        let err = provider.submit(&order(kind, "pr-429")).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::NotSent { .. }),
            "{kind:?}: {err:?}"
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)), "{kind:?}");
        assert_eq!(sim.count(sim_of(kind), "pr-429"), 0);
        // On the lookup before it, too.
        sim.rate_limit(sim_of(kind), 3);
        let err = provider.submit(&order(kind, "pr-429")).await.unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)), "{kind:?}");
    }
}

#[tokio::test]
async fn server_errors_are_unknown_and_an_error_on_the_lookup_first_is_not_sent() {
    let sim = sim().await;
    for kind in KINDS {
        let provider = adapter(&sim, kind);
        sim.fault(
            Some(sim_of(kind)),
            Some(SimOp::Create),
            When::Next(1),
            Fault::Status(503),
        );
        let err = provider.submit(&order(kind, "pr-503")).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Unknown { .. }),
            "{kind:?}: {err:?}"
        );
        sim.fault(
            Some(sim_of(kind)),
            Some(SimOp::Lookup),
            When::Next(1),
            Fault::Status(503),
        );
        let err = provider.submit(&order(kind, "pr-503")).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::NotSent { .. }),
            "{kind:?}: {err:?}"
        );
        assert!(
            sim.requests_to(sim_of(kind), SimOp::Create).len() == 1,
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn a_refusal_is_rejected_with_the_providers_reason_verbatim() {
    let sim = sim().await;
    let reason = "Recipient: the address could not be verified (ZIP 62025 does not match IL)";
    for kind in KINDS {
        let provider = adapter(&sim, kind);
        sim.reject(sim_of(kind), &format!("  {reason}\n"));
        let err = provider.submit(&order(kind, "pr-bad")).await.unwrap_err();
        let ProviderError::Rejected {
            reason: got,
            status,
            ..
        } = &err
        else {
            panic!("{kind:?}: {err:?}")
        };
        assert_eq!(got, reason, "{kind:?}");
        let want_status = match kind {
            ProviderKind::CustomCat => 200,
            ProviderKind::ShineOn => 422,
            _ => 400,
        };
        assert_eq!(*status, Some(want_status), "{kind:?}");
        assert_eq!(sim.count(sim_of(kind), "pr-bad"), 0);
    }
}

#[tokio::test]
async fn a_wrong_key_is_unauthorized_and_never_shown() {
    let sim = sim().await;
    for kind in KINDS {
        let provider = adapter_with(ProviderConfig {
            api_key: "wrong-key-0123".into(),
            ..config(&sim, kind)
        });
        let err = provider.submit(&order(kind, "pr-key")).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Unauthorized { .. }),
            "{kind:?}: {err:?}"
        );
        assert!(!err.to_string().contains("wrong-key-0123"), "{err}");
        assert!(provider.lookup("pr-key").await.is_err(), "{kind:?}");
    }
}

#[tokio::test]
async fn cancelling_where_the_provider_allows_it() {
    let sim = sim().await;
    // Printful deletes drafts only.
    let draft = adapter_with(ProviderConfig {
        confirm: false,
        ..config(&sim, ProviderKind::Printful)
    });
    let accepted = draft
        .submit(&order(ProviderKind::Printful, "pr-x1"))
        .await
        .unwrap();
    assert_eq!(
        draft
            .cancel("pr-x1", &accepted.provider_order_id)
            .await
            .unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(draft.lookup("pr-x1").await.unwrap(), None);
    let printful = adapter(&sim, ProviderKind::Printful);
    let accepted = printful
        .submit(&order(ProviderKind::Printful, "pr-x2"))
        .await
        .unwrap();
    let CancelOutcome::NotCancellable { reason } = printful
        .cancel("pr-x2", &accepted.provider_order_id)
        .await
        .unwrap()
    else {
        panic!("a confirmed Printful order was cancelled")
    };
    assert!(reason.contains("can not be deleted"), "{reason}");

    for kind in [ProviderKind::ShineOn, ProviderKind::Gelato] {
        let provider = adapter(&sim, kind);
        provider.submit(&order(kind, "pr-x3")).await.unwrap();
        // Without the provider's id: found by ours.
        assert_eq!(
            provider.cancel("pr-x3", "").await.unwrap(),
            CancelOutcome::Cancelled,
            "{kind:?}"
        );
        assert!(
            provider.lookup("pr-x3").await.unwrap().unwrap().cancelled,
            "{kind:?}"
        );
        provider.submit(&order(kind, "pr-x4")).await.unwrap();
        sim.ship(
            sim_of(kind),
            "pr-x4",
            vec![SimParcel::new("USPS", "9400-C", &[])],
        );
        let outcome = provider.cancel("pr-x4", "").await.unwrap();
        assert!(
            matches!(outcome, CancelOutcome::NotCancellable { .. }),
            "{kind:?}: {outcome:?}"
        );
    }
    let cc = adapter(&sim, ProviderKind::CustomCat);
    assert!(matches!(
        cc.cancel("pr-x5", "").await.unwrap(),
        CancelOutcome::NotCancellable { .. }
    ));
}

#[tokio::test]
async fn the_simulators_webhooks_read_back_into_the_same_news_repeats_included() {
    let sim = sim().await;
    for kind in KINDS {
        let provider = adapter(&sim, kind);
        let p = sim_of(kind);
        provider.submit(&order(kind, "pr-w")).await.unwrap();
        sim.ship(
            p,
            "pr-w",
            vec![SimParcel::new("USPS", "9400-W", &[(316, 1)])],
        );
        let token = (kind != ProviderKind::Printful).then_some("hook-token");
        let read = |event: SimEvent| {
            let body = sim.webhook_body(p, &event, "pr-w");
            read_webhook(&provider, &sim.webhook_headers(p, &body), &body, token)
                .unwrap_or_else(|e| panic!("{kind:?} {event:?}: {e}"))
        };
        let shipped = read(SimEvent::Shipped(0));
        assert_eq!(shipped.len(), 1, "{kind:?}");
        assert_eq!(shipped[0].external_id.as_deref(), Some("pr-w"), "{kind:?}");
        let ProviderNews::Shipment(update) = &shipped[0].news else {
            panic!("{kind:?}: {shipped:?}")
        };
        assert_eq!(update.tracking_number, "9400-W", "{kind:?}");
        assert_eq!(update.status, Some(ShipmentStatus::Shipped), "{kind:?}");
        if kind == ProviderKind::ShineOn {
            assert_eq!(
                update.items,
                vec![ShipmentItem {
                    line_item_id: 316,
                    quantity: 1
                }]
            );
        }
        // A repeat is the same news (the merge makes it a no-op).
        assert_eq!(read(SimEvent::Shipped(0)), shipped, "{kind:?}");

        let hold = read(SimEvent::OnHold("Low resolution file".into()));
        assert!(
            matches!(&hold[0].news, ProviderNews::OnHold { reason } if reason == "Low resolution file"),
            "{kind:?}: {hold:?}"
        );
        if kind != ProviderKind::CustomCat {
            let cancelled = read(SimEvent::Cancelled);
            assert_eq!(cancelled[0].news, ProviderNews::Cancelled, "{kind:?}");
        }
        // A token or signature from someone else is refused.
        let body = sim.webhook_body(p, &SimEvent::Shipped(0), "pr-w");
        let forged = match kind {
            ProviderKind::Printful => read_webhook(
                &provider,
                &[(
                    "x-pf-webhook-signature".into(),
                    printful_signature("0badc0de", &body),
                )],
                &body,
                None,
            ),
            _ => read_webhook(&provider, &[], &body, Some("guess")),
        };
        assert_eq!(forged, Err(WebhookError::BadSignature), "{kind:?}");
    }
    // Printful and Gelato say delivered; Printful says returned.
    let printful = adapter(&sim, ProviderKind::Printful);
    let body = sim.webhook_body(SimProvider::Printful, &SimEvent::Delivered(0), "pr-w");
    let events = read_webhook(
        &printful,
        &sim.webhook_headers(SimProvider::Printful, &body),
        &body,
        None,
    )
    .unwrap();
    assert!(
        matches!(&events[0].news, ProviderNews::Shipment(u) if u.status == Some(ShipmentStatus::Delivered))
    );
    let gelato = adapter(&sim, ProviderKind::Gelato);
    let body = sim.webhook_body(SimProvider::Gelato, &SimEvent::Delivered(0), "pr-w");
    let events = read_webhook(&gelato, &[], &body, Some("hook-token")).unwrap();
    assert!(
        matches!(&events[0].news, ProviderNews::Shipment(u) if u.status == Some(ShipmentStatus::Delivered))
    );
}

#[tokio::test]
async fn webhooks_are_delivered_over_http_with_their_signature() {
    // A receiver that checks each delivery with the Printful adapter, as the server will.
    let sim = sim().await;
    let printful = std::sync::Arc::new(adapter(&sim, ProviderKind::Printful));
    printful
        .submit(&order(ProviderKind::Printful, "pr-h"))
        .await
        .unwrap();
    sim.ship(
        SimProvider::Printful,
        "pr-h",
        vec![SimParcel::new("DHL", "JD01", &[])],
    );
    let check = printful.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let check = check.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            match check.webhook(WebhookRequest {
                headers: &parts.headers,
                body: &body,
                url_token: None,
            }) {
                Ok(events) if events.len() == 1 => axum::http::StatusCode::OK,
                Ok(_) => axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                Err(_) => axum::http::StatusCode::UNAUTHORIZED,
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/webhooks/printful",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    for event in [
        SimEvent::Delivered(0),
        SimEvent::Shipped(0),
        SimEvent::Shipped(0),
    ] {
        // Out of order and repeated: each one checks.
        let status = sim
            .send_webhook(&url, SimProvider::Printful, &event, "pr-h")
            .await;
        assert_eq!(status, 200, "{event:?}");
    }
    let body = sim.webhook_body(SimProvider::Printful, &SimEvent::Shipped(0), "pr-h");
    let status = sim
        .send_raw_webhook(
            &url,
            vec![("x-pf-webhook-signature".into(), "00".repeat(32))],
            body,
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_simulator_counts_requests_in_flight() {
    let sim = sim().await;
    sim.set_latency(Duration::from_millis(200));
    let provider = adapter(&sim, ProviderKind::Gelato);
    let lookups = (0..8).map(|i| {
        let provider = &provider;
        async move { provider.lookup(&format!("pr-{i}")).await }
    });
    for result in futures_join(lookups).await {
        assert_eq!(result.unwrap(), None);
    }
    assert_eq!(sim.max_in_flight(), 8);
}

async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    // tokio's JoinSet needs 'static; a small join of borrowed futures instead.
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, f) in pending.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    done.into_iter()
        .map(|v| v.expect("every future finished"))
        .collect()
}
