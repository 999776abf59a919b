//! One server shared by the steps of a single test, in order: import an order and watch it
//! render, download its files, render it again, refuse bad orders without storing anything,
//! answer health, readiness and metrics, and hand print files to providers only through
//! correctly signed links.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;

/// How long one render may take before a step gives up.
pub const RENDER_TIMEOUT: Duration = Duration::from_secs(60);

/// Poll the order until every one of `jobs` is done (failing at once if one died).
pub async fn wait_for_jobs(
    http: &reqwest::Client,
    server: &Server,
    order_id: i64,
    jobs: &[i64],
) -> Value {
    let started = Instant::now();
    loop {
        let view = get_json(http, &server.url(&format!("/api/v1/orders/{order_id}"))).await;
        let states: Vec<(i64, String)> = jobs
            .iter()
            .map(|id| {
                let job = view["jobs"]
                    .as_array()
                    .expect("jobs")
                    .iter()
                    .find(|j| j["id"] == *id)
                    .unwrap_or_else(|| panic!("job {id} is listed with order {order_id}: {view}"));
                if job["state"] == "dead" {
                    panic!("job {id} failed: {}", job["last_error"]);
                }
                (*id, job["state"].as_str().unwrap_or_default().to_string())
            })
            .collect();
        if states.iter().all(|(_, s)| s == "done") {
            return view;
        }
        assert!(
            started.elapsed() < RENDER_TIMEOUT,
            "jobs {states:?} not done after {RENDER_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|j| j.as_i64().expect("an id"))
        .collect()
}

/// The PNG chunks after the signature: (type, data).
fn png_chunks(png: &[u8]) -> Vec<(String, &[u8])> {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG signature");
    let mut chunks = vec![];
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = String::from_utf8_lossy(&png[at + 4..at + 8]).into_owned();
        let data = &png[at + 8..at + 8 + len];
        chunks.push((kind, data));
        at += 12 + len;
    }
    chunks
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().unwrap())
}

// ---------------------------------------------------------------------------------------------
// The specification

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_api_from_import_to_print_file() {
    let server = Server::start().await;
    let http = client();
    let (photos, _) = serve_photo(biscuit()).await;

    let order_id = an_imported_order_is_rendered(&server, &http, &photos).await;
    let view = get_json(&http, &server.url(&format!("/api/v1/orders/{order_id}"))).await;
    let render = view["renders"][0].clone();
    the_render_files_download_with_their_types(&server, &http, &view).await;
    a_re_render_adds_a_version_and_keeps_the_first(&server, &http, order_id, &render).await;
    invalid_orders_are_refused_and_nothing_is_stored(&server, &http, &photos, order_id).await;
    health_readiness_and_metrics_answer(&server, &http).await;
    providers_get_print_files_only_through_signed_links(&server, &http, &render).await;
}

/// 1. POST /api/v1/orders → 201; the embedded worker renders it; the order view shows the
///    order as imported, one render with preflight, and the history.
async fn an_imported_order_is_rendered(
    server: &Server,
    http: &reqwest::Client,
    photos: &str,
) -> i64 {
    let order = order_fixture("name-tag.json", "Photo", &format!("{photos}/photo.jpg"));
    let resp = http
        .post(server.url("/api/v1/orders"))
        .json(&order)
        .send()
        .await
        .expect("POST the order");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let imported: Value = resp.json().await.expect("JSON");
    let order_id = imported["order_id"].as_i64().expect("order_id");
    assert_eq!(imported["number"], "3001");
    let jobs = ids(&imported["jobs"]);
    assert_eq!(
        jobs.len(),
        1,
        "one render job for the one personalized item"
    );

    let view = wait_for_jobs(http, server, order_id, &jobs).await;
    assert_eq!(view["id"], order_id);
    let o = &view["order"];
    assert_eq!(
        o["status"]["raw"], "processing",
        "the store's status, verbatim"
    );
    assert_eq!(o["number"], "3001");
    assert_eq!(o["currency"], "USD");
    assert_eq!(o["totals"]["total"], "29.35", "money is exact, as a string");
    assert_eq!(o["totals"]["shipping_total"], "10.00");
    assert_eq!(o["totals"]["tax_total"], "1.35");

    let renders = view["renders"].as_array().expect("renders");
    assert_eq!(renders.len(), 1, "{view}");
    let r = &renders[0];
    assert_eq!(r["version"], 1);
    assert_eq!(r["item_id"], 501);
    assert_eq!(r["template_id"], "name-tag");
    assert!(r["preflight"].is_object(), "preflight is JSON: {r}");
    assert_eq!(r["preflight_errors"], 0, "{r}");
    assert!(r["print_size"].as_i64().unwrap_or(0) > 0, "{r}");
    assert_eq!(r["print_sha256"].as_str().map(str::len), Some(64), "{r}");

    let kinds: Vec<&str> = view["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind is a string"))
        .collect();
    for kind in ["imported", "render_requested", "rendered"] {
        assert!(kinds.contains(&kind), "history has {kind}: {kinds:?}");
    }
    order_id
}

/// 2. The print (a PNG at the template's DPI), the preview, the report; unknown files are 404s.
async fn the_render_files_download_with_their_types(
    server: &Server,
    http: &reqwest::Client,
    view: &Value,
) {
    let r = &view["renders"][0];
    let render_id = r["id"].as_i64().expect("render id");
    assert_eq!(
        r["files"]["print"],
        format!("/api/v1/renders/{render_id}/print")
    );

    let resp = http
        .get(server.url(r["files"]["print"].as_str().unwrap()))
        .send()
        .await
        .expect("GET print");
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    assert_eq!(headers[reqwest::header::CONTENT_TYPE], "image/png");
    let disposition = headers[reqwest::header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap();
    assert_eq!(
        disposition, "attachment; filename=\"order-3001-item-501-v1-print.png\"",
        "a download named after the order, item and version"
    );
    let png = resp.bytes().await.expect("print bytes");
    assert_eq!(png.len() as i64, r["print_size"].as_i64().unwrap());
    let chunks = png_chunks(&png);
    let ihdr = chunks.iter().find(|(k, _)| k == "IHDR").expect("IHDR").1;
    assert_eq!(
        (be_u32(&ihdr[0..]), be_u32(&ihdr[4..])),
        (300, 150),
        "2 × 1 in at 150 DPI"
    );
    let phys = chunks
        .iter()
        .find(|(k, _)| k == "pHYs")
        .expect("a pHYs chunk")
        .1;
    let per_metre = (150.0f64 / 0.0254).round() as u32;
    assert_eq!(per_metre, 5906);
    assert_eq!(be_u32(&phys[0..]), per_metre, "x resolution is 150 DPI");
    assert_eq!(be_u32(&phys[4..]), per_metre, "y resolution is 150 DPI");
    assert_eq!(phys[8], 1, "the unit is the metre");

    let resp = http
        .get(server.url(r["files"]["preview"].as_str().unwrap()))
        .send()
        .await
        .expect("GET preview");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[reqwest::header::CONTENT_TYPE], "image/jpeg");
    assert!(
        resp.bytes().await.unwrap().starts_with(&[0xFF, 0xD8, 0xFF]),
        "a JPEG"
    );

    let resp = http
        .get(server.url(r["files"]["report"].as_str().unwrap()))
        .send()
        .await
        .expect("GET report");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[reqwest::header::CONTENT_TYPE],
        "application/json"
    );
    let report: Value = resp.json().await.expect("the report is JSON");
    assert!(
        report.get("preflight").is_some(),
        "the report has the preflight: {report}"
    );

    // The name tag has no mockup: no link, and the URL is a 404.
    assert!(r["files"]["mockup"].is_null(), "{r}");
    let resp = http
        .get(server.url(&format!("/api/v1/renders/{render_id}/mockup")))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = http
        .get(server.url(&format!("/api/v1/renders/{render_id}/thumbnail")))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert!(message.contains("thumbnail"), "{message}");
    let resp = http
        .get(server.url("/api/v1/renders/999999/print"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

/// 3. POST …/render queues a new render: version 2 appears and version 1 stays downloadable.
async fn a_re_render_adds_a_version_and_keeps_the_first(
    server: &Server,
    http: &reqwest::Client,
    order_id: i64,
    first: &Value,
) {
    let resp = http
        .post(server.url(&format!("/api/v1/orders/{order_id}/render")))
        .send()
        .await
        .expect("POST render");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let queued: Value = resp.json().await.unwrap();
    assert_eq!(queued["order_id"], order_id);
    let jobs = ids(&queued["jobs"]);
    assert_eq!(jobs.len(), 1, "{queued}");

    let view = wait_for_jobs(http, server, order_id, &jobs).await;
    let versions: Vec<i64> = view["renders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2], "renders newest last");
    assert_eq!(
        view["renders"][0]["id"], first["id"],
        "version 1 is unchanged"
    );

    let resp = http
        .get(server.url(first["files"]["print"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "version 1's print still downloads"
    );
    assert_eq!(
        resp.bytes().await.unwrap().len() as i64,
        first["print_size"].as_i64().unwrap()
    );

    let resp = http
        .post(server.url(&format!("/api/v1/orders/{order_id}/render")))
        .json(&json!({"item_id": 999999}))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert!(message.contains("999999"), "{message}");
    let resp = http
        .post(server.url("/api/v1/orders/999999/render"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
}

/// 4. Bad orders get a 4xx naming the problem, and the order list is unchanged.
async fn invalid_orders_are_refused_and_nothing_is_stored(
    server: &Server,
    http: &reqwest::Client,
    photos: &str,
    order_id: i64,
) {
    let orders = server.url("/api/v1/orders");

    let resp = http
        .post(&orders)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body("this is not an order")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "woo_json").await;

    let mut order = order_fixture("name-tag.json", "Photo", &format!("{photos}/photo.jpg"));
    order["id"] = json!(3002);
    order["line_items"][0]["quantity"] = json!("two");
    let resp = http.post(&orders).json(&order).send().await.unwrap();
    let message = expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "woo_json").await;
    assert!(
        message.contains("line_items[0].quantity"),
        "the message names the field: {message}"
    );

    // The order imported earlier, again: merged into it (200, not a new order).
    let order = order_fixture("name-tag.json", "Photo", &format!("{photos}/photo.jpg"));
    let resp = http.post(&orders).json(&order).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let again: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(again["order_id"], order_id, "{again}");
    assert!(
        ["unchanged", "updated"].contains(&again["outcome"].as_str().unwrap()),
        "{again}"
    );

    let list = get_json(http, &orders).await;
    let listed: Vec<i64> = list["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        listed,
        [order_id],
        "only the order imported earlier: {list}"
    );
    assert_eq!(list["orders"][0]["status"], "processing");
    assert_eq!(list["orders"][0]["total"], "29.35");
}

/// 5. Liveness, readiness (database and files) and Prometheus metrics.
async fn health_readiness_and_metrics_answer(server: &Server, http: &reqwest::Client) {
    let resp = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "ok");

    let ready = get_json(http, &server.url("/readyz")).await;
    assert_eq!(ready, json!({"database": "ok", "files": "ok"}));

    let resp = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = resp.text().await.unwrap();
    let done: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("pressroom_jobs{state=\"done\"} "))
        .unwrap_or_else(|| panic!("a done-jobs gauge in:\n{text}"))
        .trim()
        .parse()
        .expect("a number");
    assert!(done >= 2.0, "both renders counted as done: {done}");
    assert!(
        text.contains("pressroom_render_duration_seconds_bucket"),
        "render durations are a histogram:\n{text}"
    );
}

/// 6. `/files/<key>` serves a print file to whoever holds a link signed by this server (the
///    default `files.urls = "server"`), and to nobody else.
async fn providers_get_print_files_only_through_signed_links(
    server: &Server,
    http: &reqwest::Client,
    render: &Value,
) {
    let key = render["print_key"]
        .as_str()
        .expect("the render names its print key");

    let resp = http
        .get(server.url(&format!("/files/{key}?expires=9999999999&signature=00")))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::FORBIDDEN, "bad_signature").await;

    // The order view carries the link a provider is handed, and it works without credentials.
    let handed = render["provider_url"]
        .as_str()
        .expect("the render's provider URL");
    assert!(
        handed.starts_with(&server.url(&format!("/files/{key}?expires="))),
        "{handed}"
    );
    let resp = http.get(handed).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{handed}");

    // A link as the server hands it to providers, made with the same secret.
    let signer = |ttl_days| {
        storage::Files::open(
            &storage::FilesConfig::Local {
                root: server.files_root(),
            },
            Some(storage::UrlMode::Server {
                base_url: server.base.clone(),
                secret: URL_SECRET.into(),
                ttl_days,
            }),
        )
        .expect("open the files folder")
    };
    let link = signer(1)
        .provider_url(key, chrono::Utc::now())
        .await
        .expect("a signed link");
    assert!(
        link.starts_with(&server.url(&format!("/files/{key}?expires="))),
        "{link}"
    );
    let resp = http.get(&link).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{link}");
    assert_eq!(resp.headers()[reqwest::header::CONTENT_TYPE], "image/png");
    assert_eq!(
        resp.bytes().await.unwrap().len() as i64,
        render["print_size"].as_i64().unwrap(),
        "the print file itself"
    );

    // The signature covers the expiry: a link with its expiry moved is refused…
    let (_, signature) = link.split_once("&signature=").expect("a signature");
    let resp = http
        .get(server.url(&format!(
            "/files/{key}?expires=9999999999&signature={signature}"
        )))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::FORBIDDEN, "bad_signature").await;

    // …and so is a correctly signed link that has expired.
    let expired = signer(1)
        .provider_url(key, chrono::Utc::now() - chrono::Duration::days(2))
        .await
        .unwrap();
    let resp = http.get(&expired).send().await.unwrap();
    expect_error(resp, StatusCode::FORBIDDEN, "bad_signature").await;
}
