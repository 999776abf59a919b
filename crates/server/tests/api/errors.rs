//! Every error answer is the documented JSON, and none carries a server path.

use reqwest::StatusCode;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_answer_is_the_documented_json() {
    let server = Server::without_worker().await;
    let http = client();
    let root = server.data_dir().display().to_string();
    let mut messages = vec![];

    // A query string of the wrong type, a path that is not a number.
    let resp = http
        .get(server.url("/api/v1/orders?limit=abc"))
        .send()
        .await
        .unwrap();
    messages.push(expect_error(resp, StatusCode::BAD_REQUEST, "bad_request").await);
    let resp = http
        .get(server.url("/api/v1/orders/abc"))
        .send()
        .await
        .unwrap();
    messages.push(expect_error(resp, StatusCode::BAD_REQUEST, "bad_request").await);
    // A signed-file link without its signature.
    let resp = http
        .get(server.url("/files/photos/x.png"))
        .send()
        .await
        .unwrap();
    messages.push(expect_error(resp, StatusCode::BAD_REQUEST, "bad_request").await);

    // A body over the 16 MB limit.
    let big = vec![b' '; server::MAX_BODY_BYTES + 1];
    let resp = http
        .post(server.url("/api/v1/orders"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(message.contains("16777216"), "names the limit: {message}");
    messages.push(message);

    // No such route, no such method.
    let resp = http
        .get(server.url("/api/v2/nothing"))
        .send()
        .await
        .unwrap();
    messages.push(expect_error(resp, StatusCode::NOT_FOUND, "not_found").await);
    let resp = http
        .delete(server.url("/api/v1/orders"))
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers().contains_key(reqwest::header::ALLOW),
        "405 keeps Allow"
    );
    messages.push(expect_error(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await);

    // A render request that is not JSON (the body is optional, but when given it is JSON).
    let resp = http
        .post(server.url("/api/v1/orders/1/render"))
        .body("{")
        .send()
        .await
        .unwrap();
    messages.push(expect_error(resp, StatusCode::UNPROCESSABLE_ENTITY, "bad_request").await);

    for m in &messages {
        assert!(!m.contains(&root), "no server path in {m:?}");
    }
}

/// A correctly signed link to an object that is not there (deleted, never written) is a 404
/// that names no path; before, it was a 500 with the absolute path of the local file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_link_to_a_missing_object_is_a_404_without_paths() {
    let server = Server::without_worker().await;
    let http = client();
    let key = format!("orders/1/items/1/{}.png", "0".repeat(64));
    let link = server
        .app
        .files
        .provider_url(&key, chrono::Utc::now())
        .await
        .expect("a signed link");
    let resp = http.get(&link).send().await.unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let root = server.files_root().display().to_string();
    assert!(!message.contains(&root), "no path: {message}");
    assert!(
        !message.contains(&key),
        "not even the key's file: {message}"
    );
}
