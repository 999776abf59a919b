//! Editing before submission (issue 9): photos uploaded to an order, personalization edits
//! checked against the template and rendered as a new version, refused once the order was
//! submitted; and the editor's live preview from unsaved values.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::flow::{ids, wait_for_jobs};
use crate::harness::*;

fn photo_fixture(name: &str) -> Vec<u8> {
    std::fs::read(testkit::repo_root().join("fixtures/photos").join(name)).expect("a fixture photo")
}

/// Import the name-tag order (photo from the test's photo server) and wait for version 1.
async fn rendered_name_tag(server: &Server, http: &reqwest::Client) -> i64 {
    let (photos, _) = serve_photo(biscuit()).await;
    let order = order_fixture("name-tag.json", "Photo", &format!("{photos}/photo.jpg"));
    let imported: Value = http
        .post(server.url("/api/v1/orders"))
        .json(&order)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = imported["order_id"].as_i64().unwrap();
    wait_for_jobs(http, server, id, &ids(&imported["jobs"])).await;
    id
}

async fn put_edit(
    server: &Server,
    http: &reqwest::Client,
    order: i64,
    item: i64,
    body: Value,
) -> reqwest::Response {
    http.put(server.url(&format!(
        "/api/v1/orders/{order}/items/{item}/personalization"
    )))
    .json(&body)
    .send()
    .await
    .unwrap()
}

async fn upload(
    server: &Server,
    http: &reqwest::Client,
    order: i64,
    bytes: Vec<u8>,
    content_type: &str,
) -> reqwest::Response {
    http.post(server.url(&format!("/api/v1/orders/{order}/photos")))
        .header("Content-Type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

/// The render record of a render, from its report file.
async fn record(server: &Server, http: &reqwest::Client, render: &Value) -> Value {
    let report = get_json(
        http,
        &server.url(render["files"]["report"].as_str().unwrap()),
    )
    .await;
    report["record"].clone()
}

fn history_of(view: &Value, kind: &str) -> Vec<Value> {
    view["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

/// Set the order's state through storage, as a submission or the store would.
async fn change_stored_order(server: &Server, id: i64, change: impl FnOnce(&mut domain::Order)) {
    let db = &server.app.db;
    let row = db.get_order(id).await.unwrap();
    let mut order = row.order.clone();
    change(&mut order);
    let mut tx = db.begin().await.unwrap();
    db.update_order(&mut tx, id, row.row_version, &order, chrono::Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Width and height from a JPEG's start-of-frame segment.
fn jpeg_size(jpeg: &[u8]) -> (u32, u32) {
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "a JPEG");
    let mut at = 2;
    while at + 9 < jpeg.len() {
        let marker = jpeg[at + 1];
        let len = u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
        if matches!(marker, 0xC0..=0xC2) {
            let h = u16::from_be_bytes([jpeg[at + 5], jpeg[at + 6]]) as u32;
            let w = u16::from_be_bytes([jpeg[at + 7], jpeg[at + 8]]) as u32;
            return (w, h);
        }
        at += 2 + len;
    }
    panic!("no start-of-frame segment");
}

// ---------------------------------------------------------------------------------------------
// Edits

/// An edit of the values answers what changed, records the diff in the history, and the
/// worker renders it as version 2 with the new values; the same edit again changes nothing
/// and queues nothing.
async fn an_edit_is_rendered_as_a_new_version(server: &Server) {
    let http = client();
    let id = rendered_name_tag(server, &http).await;

    let resp = put_edit(server, &http, id, 501, json!({"values": {"name": "Rosa"}})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let edited: Value = resp.json().await.unwrap();
    assert_eq!(edited["changed"], true);
    assert_eq!(edited["changes"][0]["field"], "name");
    assert_eq!(edited["changes"][0]["to"], "Rosa");
    assert_eq!(edited["personalization"]["values"]["name"], "Rosa");
    let job = edited["job"].as_i64().expect("a render job");

    let view = wait_for_jobs(&http, server, id, &[job]).await;
    let renders = view["renders"].as_array().unwrap();
    assert_eq!(renders.len(), 2);
    assert_eq!(renders[1]["version"], 2);
    let rec = record(server, &http, &renders[1]).await;
    assert_eq!(rec["fields"]["name"], "Rosa", "rendered with the new value");
    let first = record(server, &http, &renders[0]).await;
    assert_ne!(
        first["fields"]["name"], "Rosa",
        "version 1 is kept as it was"
    );

    let edits = history_of(&view, "edited");
    assert_eq!(edits.len(), 1, "{view}");
    assert_eq!(edits[0]["actor"], "merchant:api");
    let changes = &edits[0]["payload"]["changes"];
    assert_eq!(changes[0]["field"], "name");
    assert_eq!(changes[0]["from"], first["fields"]["name"]);
    assert_eq!(changes[0]["to"], "Rosa");

    // The same again: nothing to do.
    let jobs_before = view["jobs"].as_array().unwrap().len();
    let resp = put_edit(server, &http, id, 501, json!({"values": {"name": "Rosa"}})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let again: Value = resp.json().await.unwrap();
    assert_eq!(again["changed"], false);
    assert_eq!(again["job"], Value::Null);
    assert_eq!(again["changes"], json!([]));
    let view = get_json(&http, &server.url(&format!("/api/v1/orders/{id}"))).await;
    assert_eq!(view["jobs"].as_array().unwrap().len(), jobs_before);
    assert_eq!(history_of(&view, "edited").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_is_rendered_as_a_new_version_on_sqlite() {
    an_edit_is_rendered_as_a_new_version(&Server::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_is_rendered_as_a_new_version_on_postgres() {
    let pg = testkit::PgDatabase::create().await.unwrap();
    let server = Server::start_on(tempfile::tempdir().unwrap(), &pg.url, true).await;
    an_edit_is_rendered_as_a_new_version(&server).await;
}

/// A photo uploaded to the order (its EXIF orientation applied) replaces the item's photo in
/// an edit, and the new version is rendered from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_photo_is_used_by_an_edit() {
    let server = Server::start().await;
    let http = client();
    let id = rendered_name_tag(&server, &http).await;

    let resp = upload(
        &server,
        &http,
        id,
        photo_fixture("orientation-6.jpg"),
        "image/jpeg",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let photo: Value = resp.json().await.unwrap();
    let key = photo["photo"].as_str().unwrap().to_string();
    let sha = photo["sha256"].as_str().unwrap();
    assert_eq!(key, format!("photos/{sha}.jpg"));
    assert_eq!(
        (photo["width"].clone(), photo["height"].clone()),
        (json!(240), json!(320))
    );
    assert!(server.files_root().join(&key).is_file());

    let resp = put_edit(&server, &http, id, 501, json!({"photos": {"photo": key}})).await;
    assert_eq!(resp.status(), StatusCode::OK, "{:?}", resp.text().await);
    let edited: Value = resp.json().await.unwrap();
    assert_eq!(edited["changes"][0]["field"], "photo");
    assert_eq!(edited["changes"][0]["to"], key.as_str());
    assert_eq!(edited["personalization"]["photos"][0]["key"], key.as_str());
    let view = wait_for_jobs(&http, &server, id, &[edited["job"].as_i64().unwrap()]).await;
    let rec = record(&server, &http, &view["renders"][1]).await;
    assert_eq!(
        rec["photos"]["photo"], sha,
        "rendered from the uploaded photo"
    );
    assert_eq!(view["order"]["items"][0]["waiting_for_photos"], json!([]));
    let notes = history_of(&view, "note");
    assert!(
        notes
            .iter()
            .any(|n| n["payload"]["photo_uploaded"] == key.as_str()),
        "the upload is in the history: {notes:?}"
    );

    // A key that was never uploaded to this order is refused.
    let stranger = format!("photos/{}.jpg", "0".repeat(64));
    let resp = put_edit(
        &server,
        &http,
        id,
        501,
        json!({"photos": {"photo": stranger}}),
    )
    .await;
    let message = expect_error(
        resp,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_personalization",
    )
    .await;
    assert!(
        message.contains("photo") && message.contains("not uploaded"),
        "{message}"
    );
}

/// Values that break the template's rules are refused with 422, naming the field and the
/// rule, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_values_are_refused_naming_the_field_and_the_rule() {
    let server = Server::start().await;
    let http = client();
    let id = rendered_name_tag(&server, &http).await;
    let (photos, _) = serve_photo(biscuit()).await;
    let mug = order_fixture("pet-mug.json", "Pet photo", &format!("{photos}/photo.jpg"));
    let imported: Value = http
        .post(server.url("/api/v1/orders"))
        .json(&mug)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mug_id = imported["order_id"].as_i64().unwrap();
    let mug = get_json(&http, &server.url(&format!("/api/v1/orders/{mug_id}"))).await;
    let mug_item = mug["order"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["personalization"] != Value::Null)
        .expect("the mug is personalized")["id"]
        .as_i64()
        .unwrap();

    let cases = [
        (
            id,
            501,
            json!({"values": {"name": "Rosa", "nickname": "R"}}),
            vec!["nickname", "unknown_field"],
        ),
        (
            id,
            501,
            json!({"values": {"name": "A name far longer than the tag"}}),
            vec!["name", "too_long", "24"],
        ),
        (
            id,
            501,
            json!({"values": {}}),
            vec!["name", "required_missing"],
        ),
        (
            id,
            501,
            json!({"values": {"name": "Rosa", "photo": "x"}}),
            vec!["photo", "photo field"],
        ),
        (
            id,
            501,
            json!({"photos": {"name": "photos/x.jpg"}}),
            vec!["name", "not a photo"],
        ),
        (
            mug_id,
            mug_item,
            json!({"values": {"pet_name": "Rex", "color": "purple"}}),
            vec!["color", "not_allowed", "purple", "navy"],
        ),
    ];
    for (order, item, body, words) in cases {
        let resp = put_edit(&server, &http, order, item, body.clone()).await;
        let message = expect_error(
            resp,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_personalization",
        )
        .await;
        for word in words {
            assert!(message.contains(word), "{body}: {message:?} names {word:?}");
        }
    }
    for order in [id, mug_id] {
        let view = get_json(&http, &server.url(&format!("/api/v1/orders/{order}"))).await;
        assert!(history_of(&view, "edited").is_empty(), "nothing was edited");
    }
    // An unknown template, and a body that is not an edit.
    let resp = put_edit(
        &server,
        &http,
        id,
        501,
        json!({"template_id": "nope", "values": {}}),
    )
    .await;
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "template").await;
    let resp = put_edit(&server, &http, id, 501, json!({"value": {"name": "x"}})).await;
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "bad_request").await;
    let resp = put_edit(&server, &http, id, 999, json!({"values": {"name": "x"}})).await;
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

/// Once the order was submitted its design is locked: edits and uploads are refused with 409
/// `design_locked`; a cancelled order's with `order_closed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_order_can_no_longer_be_edited() {
    let server = Server::without_worker().await;
    let http = client();
    let (photos, _) = serve_photo(biscuit()).await;
    let order = order_fixture("name-tag.json", "Photo", &format!("{photos}/photo.jpg"));
    let imported: Value = http
        .post(server.url("/api/v1/orders"))
        .json(&order)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = imported["order_id"].as_i64().unwrap();
    change_stored_order(&server, id, |o| {
        o.submit_status = domain::SubmitStatus::Submitted {
            provider: "sandbox".into(),
            provider_order_id: Some("P-1".into()),
            at: chrono::Utc::now(),
            external_id: None,
        }
    })
    .await;

    let resp = put_edit(&server, &http, id, 501, json!({"values": {"name": "Rosa"}})).await;
    let message = expect_error(resp, StatusCode::CONFLICT, "design_locked").await;
    assert!(
        message.contains("submitted") && message.contains("can no longer be edited"),
        "{message}"
    );
    let resp = upload(
        &server,
        &http,
        id,
        photo_fixture("baseline.jpg"),
        "image/jpeg",
    )
    .await;
    expect_error(resp, StatusCode::CONFLICT, "design_locked").await;
    let view = get_json(&http, &server.url(&format!("/api/v1/orders/{id}"))).await;
    assert_eq!(
        view["order"]["items"][0]["personalization"]["values"]["name"],
        "Zoë 李"
    );
    let renders = view["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["kind"] == "render")
        .count();
    assert_eq!(renders, 1, "no render queued");

    change_stored_order(&server, id, |o| {
        o.submit_status = domain::SubmitStatus::Blank;
        o.status = domain::StoreStatus::new("cancelled");
    })
    .await;
    let resp = put_edit(&server, &http, id, 501, json!({"values": {"name": "Rosa"}})).await;
    expect_error(resp, StatusCode::CONFLICT, "order_closed").await;
}

/// An order from outside the app's templates (an Amazon or "Others" line with no template)
/// is personalized by the merchant: the edit names the template, and the item is rendered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_source_order_is_personalized_with_a_template() {
    let server = Server::start().await;
    let http = client();
    let mut order = order_fixture("name-tag.json", "Photo", "https://photos.invalid/p.jpg");
    order["line_items"][0]["sku"] = json!("AMZ-TEE-1");
    order["line_items"][0]["meta_data"] = json!([]);
    let imported: Value = http
        .post(server.url("/api/v1/orders"))
        .json(&order)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = imported["order_id"].as_i64().unwrap();
    assert_eq!(imported["jobs"], json!([]), "nothing to render yet");

    let resp = put_edit(&server, &http, id, 501, json!({"values": {"name": "Amy"}})).await;
    let message = expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "template").await;
    assert!(message.contains("template_id"), "{message}");

    let resp = put_edit(
        &server,
        &http,
        id,
        501,
        json!({"template_id": "name-tag", "values": {"name": "Amy"}}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let edited: Value = resp.json().await.unwrap();
    assert_eq!(
        edited["changes"][0],
        json!({"field": "template", "from": null, "to": "name-tag"})
    );
    let view = wait_for_jobs(&http, &server, id, &[edited["job"].as_i64().unwrap()]).await;
    let item = &view["order"]["items"][0];
    assert_eq!(item["personalization"]["template_id"], "name-tag");
    assert_eq!(item["not_rendered"], Value::Null);
    assert_eq!(view["renders"][0]["template_id"], "name-tag");
    let rec = record(&server, &http, &view["renders"][0]).await;
    assert_eq!(rec["fields"]["name"], "Amy");
}

/// A file that is not a usable photo is refused with 422 naming what is wrong, and nothing is
/// stored; a body that is not an image type is refused with 415.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_upload_is_refused_and_nothing_is_stored() {
    let server = Server::without_worker().await;
    let http = client();
    let (photos, _) = serve_photo(biscuit()).await;
    let order = order_fixture("name-tag.json", "Photo", &format!("{photos}/photo.jpg"));
    let imported: Value = http
        .post(server.url("/api/v1/orders"))
        .json(&order)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = imported["order_id"].as_i64().unwrap();
    let stored_before = server.app.files.list("photos").await.unwrap();

    for (file, words) in [
        ("truncated.jpg", vec!["truncated", "JPEG"]),
        ("iphone.heic", vec!["HEIC"]),
        ("order.pdf", vec!["PDF"]),
        ("empty.jpg", vec!["empty"]),
        ("bomb.png", vec!["MP", "limit"]),
    ] {
        let resp = upload(&server, &http, id, photo_fixture(file), "image/jpeg").await;
        let message = expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "invalid_photo").await;
        for word in words {
            assert!(message.contains(word), "{file}: {message:?} names {word:?}");
        }
    }
    let resp = upload(
        &server,
        &http,
        id,
        photo_fixture("baseline.jpg"),
        "text/plain",
    )
    .await;
    expect_error(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let resp = upload(
        &server,
        &http,
        999,
        photo_fixture("baseline.jpg"),
        "image/jpeg",
    )
    .await;
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        server.app.files.list("photos").await.unwrap(),
        stored_before,
        "nothing stored"
    );
}

// ---------------------------------------------------------------------------------------------
// The live preview

/// A preview renders unsaved values at the requested width with its preflight in a header,
/// writes nothing, and renders bad values too (the preflight says what is wrong).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_renders_unsaved_values_at_the_requested_width() {
    let server = Server::without_worker().await;
    let http = client();
    let (photos, _) = serve_photo(biscuit()).await;
    let order = order_fixture("name-tag.json", "Photo", &format!("{photos}/photo.jpg"));
    let imported: Value = http
        .post(server.url("/api/v1/orders"))
        .json(&order)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = imported["order_id"].as_i64().unwrap();
    let photo: Value = upload(&server, &http, id, photo_fixture("rgb8.png"), "image/png")
        .await
        .json()
        .await
        .unwrap();
    let key = photo["photo"].as_str().unwrap();
    let files_before = testkit::files_below(&server.files_root());
    let preview = |body: Value, query: &'static str| {
        http.post(server.url(&format!("/api/v1/templates/name-tag/preview{query}")))
            .json(&body)
            .send()
    };

    let resp = preview(
        json!({"values": {"name": "Ann"}, "photos": {"photo": key}, "width": 600}),
        "",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    let counts: Value =
        serde_json::from_str(resp.headers()["pressroom-preflight"].to_str().unwrap()).unwrap();
    assert_eq!(counts["errors"], 0, "{counts}");
    assert!(resp.headers().contains_key("server-timing"));
    let jpeg = resp.bytes().await.unwrap();
    assert_eq!(jpeg_size(&jpeg), (600, 300), "the name tag is 2 x 1 in");

    // The default width, and values that break the rules: rendered, with the findings.
    let resp = preview(
        json!({"values": {"name": "A name far longer than the tag", "nick": "x"}}),
        "?report=1",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let counts: Value =
        serde_json::from_str(resp.headers()["pressroom-preflight"].to_str().unwrap()).unwrap();
    assert!(counts["errors"].as_u64().unwrap() >= 1, "{counts}");
    let report: Value = resp.json().await.unwrap();
    assert_eq!(
        (report["width"].clone(), report["height"].clone()),
        (json!(1000), json!(500))
    );
    let codes: Vec<&str> = report["preflight"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"too_long") && codes.contains(&"unknown_field"),
        "{codes:?}"
    );
    assert!(
        report["image_base64"].as_str().unwrap().starts_with("/9j/"),
        "a JPEG in base64"
    );

    // A photo key that names no stored photo is a finding, not a failure.
    let resp = preview(
        json!({"values": {"name": "Ann"}, "photos": {"photo": format!("photos/{}.jpg", "0".repeat(64))}}),
        "?report=1",
    )
    .await
    .unwrap();
    let report: Value = resp.json().await.unwrap();
    assert_eq!(
        report["preflight"]["findings"][0]["code"], "photo_not_found",
        "{report}"
    );

    assert_eq!(
        testkit::files_below(&server.files_root()),
        files_before,
        "a preview stores nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_of_a_missing_template_or_a_bad_request_is_refused() {
    let server = Server::without_worker().await;
    let http = client();
    let post = |path: &str, body: &'static str| {
        http.post(server.url(path))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let resp = post("/api/v1/templates/no-such-template/preview", "{}")
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert!(message.contains("no-such-template"), "{message}");
    let resp = post("/api/v1/templates/name-tag/preview", "{\"values\": ")
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "bad_request").await;
    let resp = post("/api/v1/templates/name-tag/preview", "{\"width\": 5000}")
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "bad_request").await;
    assert!(message.contains("5000"), "{message}");
}
