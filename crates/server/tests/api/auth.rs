//! Who may call the API and what they see: a caller is needed, a merchant sees only their own
//! stores' orders, files, renders, stores and imports (anything else is the same 404 an unknown
//! id gets), a cookie session needs its CSRF token for every change, and logins are throttled
//! per account and per address.

use std::sync::{Arc, Mutex};

use app::auth::Role;
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::flow::ids;
use crate::harness::*;

/// A merchant's bearer client.
async fn merchant_client(server: &Server, name: &str, stores: &[&str]) -> reqwest::Client {
    let stores: Vec<String> = stores.iter().map(|s| s.to_string()).collect();
    server
        .app
        .add_user(name, "merchant-password", Role::Merchant, &stores)
        .await
        .expect("add the merchant");
    let token = server.app.create_token(name, "tests").await.expect("token");
    client_with_token(&token)
}

/// A rendered order in the default store, and a copy of it filed under `shop-b`. Returns
/// both ids and the copy's render id.
async fn orders_in_two_stores(server: &Server) -> (i64, i64, i64) {
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
    let ours = imported["order_id"].as_i64().unwrap();
    let app = &server.app;
    let mut copy = app.db.get_order(ours).await.unwrap().order;
    copy.store_order_id += 1000;
    app.put_store(app::stores::StoreInput {
        id: "shop-b".into(),
        settings: domain::StoreSettings {
            name: "Shop B".into(),
            url: "http://127.0.0.1:9/".into(),
            ..domain::StoreSettings::default()
        },
        ..app::stores::StoreInput::default()
    })
    .await
    .expect("connect shop-b");
    let now = app.now();
    let mut tx = app.db.begin().await.unwrap();
    let theirs = app
        .db
        .insert_order(&mut tx, "shop-b", &copy, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // A render of the other store's order, through the one render path.
    let queued: Value = http
        .post(server.url(&format!("/api/v1/orders/{theirs}/render")))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!ids(&queued["jobs"]).is_empty(), "{queued}");
    let render = crate::woocommerce::eventually(
        "the other store's render",
        std::time::Duration::from_secs(60),
        || async {
            let view = get_json(&http, &server.url(&format!("/api/v1/orders/{theirs}"))).await;
            view["renders"][0]["id"].as_i64()
        },
    )
    .await;
    (ours, theirs, render)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_needs_a_caller_and_refuses_a_wrong_token() {
    let server = Server::without_worker().await;
    let anonymous = anonymous_client();
    for (method, path) in [
        ("GET", "/api/v1/orders"),
        ("POST", "/api/v1/orders"),
        ("POST", "/api/v1/orders/1/submit"),
        ("GET", "/api/v1/stores"),
        ("GET", "/api/v1/renders/1/print"),
    ] {
        let resp = anonymous
            .request(method.parse().unwrap(), server.url(path))
            .send()
            .await
            .unwrap();
        expect_error(resp, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let resp = anonymous
        .get(server.url("/api/v1/orders"))
        .bearer_auth("prt_not-a-token")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // Health and the signed webhooks stay open.
    let resp = anonymous.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_gets_404_for_another_merchants_order_file_render_store_and_import() {
    let server = Server::start().await;
    let (ours, theirs, their_render) = orders_in_two_stores(&server).await;
    let merchant = merchant_client(&server, "anna", &["default"]).await;
    let import = server
        .app
        .db
        .start_import(
            "shop-b",
            &json!({"scope": "all"}),
            "admin",
            server.app.now(),
        )
        .await
        .unwrap();

    // Their things answer exactly like things that do not exist.
    for path in [
        format!("/api/v1/orders/{theirs}"),
        format!("/api/v1/renders/{their_render}/print"),
        format!("/api/v1/renders/{their_render}/preview"),
        "/api/v1/stores/shop-b".to_string(),
        format!("/api/v1/imports/{import}"),
    ] {
        let resp = merchant.get(server.url(&path)).send().await.unwrap();
        expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
    let resp = merchant
        .get(server.url("/api/v1/orders/999999"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;

    // Changes to their orders are refused and change nothing.
    let before = server.app.db.get_order(theirs).await.unwrap();
    for path in [
        format!("/api/v1/orders/{theirs}/hold"),
        format!("/api/v1/orders/{theirs}/submit"),
        format!("/api/v1/orders/{theirs}/render"),
    ] {
        let resp = merchant
            .post(server.url(&path))
            .json(&json!({"confirm": true}))
            .send()
            .await
            .unwrap();
        expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    }
    let resp = merchant
        .post(server.url("/api/v1/orders/bulk-submit"))
        .json(&json!({"order_ids": [ours, theirs]}))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let after = server.app.db.get_order(theirs).await.unwrap();
    assert_eq!(
        after.row_version, before.row_version,
        "their order is untouched"
    );
    assert_eq!(
        server
            .app
            .db
            .get_order(ours)
            .await
            .unwrap()
            .order
            .submit_status,
        domain::SubmitStatus::Blank,
        "a bulk submit naming their order submits nothing"
    );

    // Lists hold only their own.
    let list = get_json(&merchant, &server.url("/api/v1/orders")).await;
    let listed: Vec<i64> = list["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, vec![ours]);
    let stores = get_json(&merchant, &server.url("/api/v1/stores")).await;
    let store_ids: Vec<&str> = stores
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(!store_ids.contains(&"shop-b"), "{stores}");
    // Their own order is theirs to see; admin things are not.
    get_json(&merchant, &server.url(&format!("/api/v1/orders/{ours}"))).await;
    let resp = merchant
        .get(server.url("/api/v1/providers"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::FORBIDDEN, "forbidden").await;

    // The admin sees both.
    let resp = client()
        .get(server.url("/api/v1/orders"))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let all: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["orders"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_session_needs_its_csrf_token_for_every_change() {
    let server = Server::without_worker().await;
    let (photos, _) = serve_photo(biscuit()).await;
    let order = order_fixture("name-tag.json", "Photo", &format!("{photos}/photo.jpg"));
    let imported: Value = client()
        .post(server.url("/api/v1/orders"))
        .json(&order)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = imported["order_id"].as_i64().unwrap();
    let login = server
        .app
        .login("admin", "admin-password", None)
        .await
        .expect("log in");
    let cookie = format!("{}={}", server::auth::SESSION_COOKIE, login.token);
    let browser = anonymous_client();

    // Reading needs no CSRF token.
    let resp = browser
        .get(server.url("/api/v1/orders"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let before = server.app.db.get_order(id).await.unwrap().row_version;
    let changes = [
        (
            "POST",
            format!("/api/v1/orders/{id}/hold"),
            json!({"confirm": true}),
        ),
        ("POST", format!("/api/v1/orders/{id}/submit"), json!({})),
        ("POST", format!("/api/v1/orders/{id}/render"), json!({})),
        (
            "POST",
            format!("/api/v1/orders/{id}/notes"),
            json!({"note": "hi"}),
        ),
        (
            "POST",
            "/api/v1/orders/bulk-submit".to_string(),
            json!({"order_ids": [id]}),
        ),
        ("POST", "/api/v1/orders".to_string(), order.clone()),
        (
            "PUT",
            format!("/api/v1/orders/{id}/items/1/personalization"),
            json!({}),
        ),
        ("POST", "/api/v1/providers".to_string(), json!({})),
        ("DELETE", "/api/v1/stores/default".to_string(), json!({})),
    ];
    for (method, path, body) in &changes {
        for token in [None, Some("wrong"), Some("")] {
            let mut req = browser
                .request(method.parse().unwrap(), server.url(path))
                .header("Cookie", &cookie)
                .json(body);
            if let Some(t) = token {
                req = req.header(server::auth::CSRF_HEADER, t);
            }
            let resp = req.send().await.unwrap();
            expect_error(resp, StatusCode::FORBIDDEN, "bad_csrf").await;
        }
    }
    assert_eq!(
        server.app.db.get_order(id).await.unwrap().row_version,
        before,
        "nothing changed"
    );
    // With the session's token the change goes through.
    let resp = browser
        .post(server.url(&format!("/api/v1/orders/{id}/hold")))
        .header("Cookie", &cookie)
        .header(server::auth::CSRF_HEADER, &login.session.csrf)
        .json(&json!({"confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );

    // After logout the cookie opens nothing.
    server.app.logout(&login.token).await.unwrap();
    let resp = browser
        .get(server.url("/api/v1/orders"))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

/// A clock the test moves.
fn movable_clock(start: DateTime<Utc>) -> (app::Clock, Arc<Mutex<DateTime<Utc>>>) {
    let now = Arc::new(Mutex::new(start));
    let reader = now.clone();
    (Arc::new(move || *reader.lock().unwrap()), now)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_throttled_per_account_and_per_address() {
    let (clock, now) = movable_clock(Utc::now());
    let server = Server::with_clock(settings(), clock).await;
    let app = &server.app;
    let addr: std::net::IpAddr = "203.0.113.7".parse().unwrap();
    let code = |r: Result<app::auth::NewSession, app::AppError>| match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    };

    // Five wrong passwords, then even the right one is refused for a while.
    for _ in 0..5 {
        assert_eq!(
            code(app.login("admin", "wrong", Some(addr)).await),
            "login_failed"
        );
    }
    let refused = app.login("admin", "admin-password", Some(addr)).await;
    assert_eq!(code(refused), "throttled");
    // An unknown name answers like a wrong password.
    assert_eq!(
        code(app.login("nobody", "whatever1", None).await),
        "login_failed"
    );

    // The window passes; the right password works and clears the account's count.
    *now.lock().unwrap() += Duration::minutes(16);
    assert_eq!(
        code(app.login("admin", "admin-password", Some(addr)).await),
        "ok"
    );

    // One address trying many accounts is stopped too.
    let spray: std::net::IpAddr = "198.51.100.9".parse().unwrap();
    for i in 0..20 {
        let name = format!("guess{i}");
        assert_eq!(
            code(app.login(&name, "wrong", Some(spray)).await),
            "login_failed"
        );
    }
    assert_eq!(
        code(app.login("admin", "admin-password", Some(spray)).await),
        "throttled"
    );
    // Another address still gets in.
    assert_eq!(
        code(app.login("admin", "admin-password", Some(addr)).await),
        "ok"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_rotate_at_login_and_a_password_change_ends_them() {
    let server = Server::without_worker().await;
    let app = &server.app;
    let first = app.login("admin", "admin-password", None).await.unwrap();
    let second = app.login("admin", "admin-password", None).await.unwrap();
    assert_ne!(first.token, second.token, "each login gets a new session");
    assert_ne!(first.session.csrf, second.session.csrf);
    assert!(app.session(&first.token).await.unwrap().is_some());
    app.set_password("admin", "a new password").await.unwrap();
    assert!(app.session(&first.token).await.unwrap().is_none());
    assert!(app.session(&second.token).await.unwrap().is_none());
    assert!(app.login("admin", "admin-password", None).await.is_err());
    assert!(app.login("admin", "a new password", None).await.is_ok());
}
