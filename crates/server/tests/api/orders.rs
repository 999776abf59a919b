//! What an order's lines mean when they get no print file, and amounts that are refused.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::flow::ids;
use crate::harness::*;

/// A line whose SKU no template maps to is stored with the order, gets no render job, and the
/// order says why: on the line in the order view and as a note in its history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_whose_sku_has_no_template_says_why() {
    let server = Server::without_worker().await;
    let http = client();
    let (photos, _) = serve_photo(biscuit()).await;
    let mut order = order_fixture("name-tag.json", "Photo", &format!("{photos}/photo.jpg"));
    let mut gift = order["line_items"][0].clone();
    gift["id"] = json!(502);
    gift["sku"] = json!("GIFT-WRAP");
    gift["name"] = json!("Gift wrap");
    gift["meta_data"] = json!([]);
    order["line_items"].as_array_mut().unwrap().push(gift);

    let resp = http
        .post(server.url("/api/v1/orders"))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let imported: Value = resp.json().await.unwrap();
    assert_eq!(
        ids(&imported["jobs"]).len(),
        1,
        "a job for the name tag only"
    );
    let id = imported["order_id"].as_i64().unwrap();

    let view = get_json(&http, &server.url(&format!("/api/v1/orders/{id}"))).await;
    let items = view["order"]["items"].as_array().unwrap();
    assert_eq!(
        items[0]["not_rendered"],
        Value::Null,
        "the name tag is rendered"
    );
    assert_eq!(
        items[1]["not_rendered"],
        "SKU \"GIFT-WRAP\" has no template, so it is not rendered"
    );
    let note = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "note")
        .unwrap_or_else(|| panic!("a note in the history: {view}"));
    assert_eq!(
        note["message"],
        "item 502: SKU \"GIFT-WRAP\" has no template, so it is not rendered"
    );
    assert_eq!(note["actor"], "system");

    // Asking to render it says the same.
    let resp = http
        .post(server.url(&format!("/api/v1/orders/{id}/render")))
        .json(&json!({"item_id": 502}))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "invalid_item").await;
    assert!(message.contains("GIFT-WRAP"), "{message}");
}

/// Quantity 0 is a line the store removed: kept and shown as such, its photo not fetched, no
/// render job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_with_quantity_0_is_removed_and_not_rendered() {
    let server = Server::without_worker().await;
    let http = client();
    let (photos, hits) = serve_photo(biscuit()).await;
    let mut order = order_fixture("name-tag.json", "Photo", &format!("{photos}/photo.jpg"));
    order["line_items"][0]["quantity"] = json!(0);

    let resp = http
        .post(server.url("/api/v1/orders"))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let imported: Value = resp.json().await.unwrap();
    assert_eq!(ids(&imported["jobs"]), Vec::<i64>::new());
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the removed line's photo is not fetched"
    );
    let id = imported["order_id"].as_i64().unwrap();
    let view = get_json(&http, &server.url(&format!("/api/v1/orders/{id}"))).await;
    let item = &view["order"]["items"][0];
    assert_eq!(item["quantity"], 0);
    assert!(
        item["not_rendered"]
            .as_str()
            .unwrap()
            .starts_with("quantity 0: the line was removed"),
        "{item}"
    );
    let resp = http
        .post(server.url(&format!("/api/v1/orders/{id}/render")))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

/// Refunds are separate records in WooCommerce; a negative amount on the order itself is
/// refused with the JSON path that holds it, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_amounts_are_refused_naming_the_field() {
    let server = Server::without_worker().await;
    let http = client();
    let (photos, _) = serve_photo(biscuit()).await;
    for (path, edit) in [
        (
            "total",
            Box::new(|o: &mut Value| o["total"] = json!("-29.35")) as Box<dyn Fn(&mut Value)>,
        ),
        (
            "line_items[0].total",
            Box::new(|o: &mut Value| o["line_items"][0]["total"] = json!("-12.00")),
        ),
    ] {
        let mut order = order_fixture("name-tag.json", "Photo", &format!("{photos}/photo.jpg"));
        edit(&mut order);
        let resp = http
            .post(server.url("/api/v1/orders"))
            .json(&order)
            .send()
            .await
            .unwrap();
        let message = expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "woo_invalid").await;
        assert!(message.contains(path), "names {path}: {message}");
        assert!(message.contains("must not be negative"), "{message}");
    }
    let list = get_json(&http, &server.url("/api/v1/orders")).await;
    assert_eq!(list["orders"], json!([]), "nothing stored");
}

/// A photo the store's customer linked but that cannot be fetched does not lose the order: it
/// is stored (201), the line says it is waiting for its photo, and the photo's job, which a
/// 404 will not change, ends with the reason in the history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_photo_is_missing_is_kept_and_its_line_waits_for_the_photo() {
    let server = Server::start().await;
    let http = client();
    let (photos, _) = serve_photo(biscuit()).await;
    let order = order_fixture("name-tag.json", "Photo", &format!("{photos}/missing.jpg"));
    let resp = http
        .post(server.url("/api/v1/orders"))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let imported: Value = resp.json().await.unwrap();
    assert!(ids(&imported["jobs"]).is_empty(), "nothing to render yet");
    let id = imported["order_id"].as_i64().unwrap();
    let url = server.url(&format!("/api/v1/orders/{id}"));

    let started = std::time::Instant::now();
    let view = loop {
        let view = get_json(&http, &url).await;
        let photo_job = view["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["kind"] == "fetch_photo")
            .cloned()
            .unwrap_or_else(|| panic!("a photo job: {view}"));
        // Dead, and its reason recorded (by the kind's dead hook, just after).
        let recorded = view["history"].as_array().unwrap().iter().any(|h| {
            h["message"]
                .as_str()
                .unwrap()
                .contains("could not be fetched")
        });
        if photo_job["state"] == "dead" && recorded {
            break view;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        view["order"]["items"][0]["waiting_for_photos"],
        json!(["photo"])
    );
    let history = view["history"].as_array().unwrap();
    assert!(
        history.iter().any(|h| h["message"]
            .as_str()
            .unwrap()
            .contains("could not be fetched: client image")
            && h["message"].as_str().unwrap().contains("HTTP 404")),
        "{history:?}"
    );
    assert!(view["renders"].as_array().unwrap().is_empty());
}
