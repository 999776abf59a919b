//! The web UI in process: the UI router merged with the API router (as `pressroom serve`
//! does) over a real SQLite database in a temporary folder, driven with plain HTTP requests
//! (no browser): pages for an admin and a merchant, login cookies and throttle, CSRF on every
//! form, and merchant isolation.

use std::sync::Arc;

use app::App;
use app::auth::Role;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt as _;

struct Ui {
    app: Arc<App>,
    router: Router,
    _dir: tempfile::TempDir,
    /// An order of shop-a (the merchant's) and one of shop-b (another merchant's).
    order_a: i64,
    order_b: i64,
    /// A rendered-less test order with a template (default store, admin only).
    test_order: i64,
}

fn settings() -> app::AppSettings {
    toml::from_str(&testkit::demo_app_settings()).expect("demo [app]")
}

fn order(number: &str, store_order_id: i64, customer: &str) -> domain::Order {
    let mut o = domain::Order {
        store_order_id,
        number: number.into(),
        status: domain::StoreStatus::new("processing"),
        currency: "USD".into(),
        payment_method_title: "Credit card".into(),
        ..domain::Order::default()
    };
    o.totals.total = rust_decimal::Decimal::new(4250, 2);
    o.customer.name = customer.into();
    o.customer.city = "Lyon".into();
    o.customer.country = "FR".into();
    o
}

async fn setup() -> Ui {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite:{}", dir.path().join("pressroom.db").display());
    let db = storage::Db::open(&url, storage::DbOptions::default())
        .await
        .expect("database");
    let files = storage::Files::open(
        &storage::FilesConfig::Local {
            root: dir.path().join("files"),
        },
        None,
    )
    .expect("files");
    let key = secrets::SecretKey::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
        .expect("a key");
    let app = Arc::new(
        App::new(db, files, settings(), app::system_clock())
            .expect("app")
            .with_secret_key(key),
    );
    for store in ["shop-a", "shop-b"] {
        app.put_store(app::stores::StoreInput {
            id: store.into(),
            settings: domain::StoreSettings {
                name: format!("Shop {store}"),
                url: "https://shop.example".into(),
                ..domain::StoreSettings::default()
            },
            ..app::stores::StoreInput::default()
        })
        .await
        .expect("store");
    }
    let now = app.now();
    let mut tx = app.db.begin().await.expect("tx");
    let order_a = app
        .db
        .insert_order(
            &mut tx,
            "shop-a",
            &order("1001", 1001, "Amélie Poulain"),
            now,
        )
        .await
        .expect("order a");
    let order_b = app
        .db
        .insert_order(&mut tx, "shop-b", &order("2002", 2002, "Bruno Other"), now)
        .await
        .expect("order b");
    tx.commit().await.expect("commit");
    let test_order = app
        .place_test_order("name-tag", &domain::Actor::System)
        .await
        .expect("test order");
    app.add_user("admin", "admin-password", Role::Admin, &[])
        .await
        .expect("admin");
    app.add_user(
        "merchant",
        "merchant-password",
        Role::Merchant,
        &["shop-a".into()],
    )
    .await
    .expect("merchant");
    let router = web::router(app.clone()).merge(server::router(app.clone()));
    Ui {
        app,
        router,
        _dir: dir,
        order_a,
        order_b,
        test_order,
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field in {}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').expect("end of value")].to_string()
    }
}

async fn send(ui: &Ui, req: Request<Body>) -> Answer {
    let resp = ui.router.clone().oneshot(req).await.expect("an answer");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("request")
}

fn post(path: &str, cookie: &str, form: &[(&str, &str)]) -> Request<Body> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("request")
}

/// A signed-in browser: its cookie header and its session's CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

/// The page at `path` as the browser sees it after the redirect `answer`: with the flash
/// message the answer set.
async fn follow(ui: &Ui, answer: &Answer, path: &str, who: &Browser) -> Answer {
    let flash = cookie_value(&answer.cookies(), "pressroom_flash").expect("a flash message");
    send(
        ui,
        get(path, &format!("{}; pressroom_flash={flash}", who.cookie)),
    )
    .await
}

fn cookie_value(set_cookies: &[String], name: &str) -> Option<String> {
    set_cookies.iter().find_map(|c| {
        let first = c.split(';').next()?;
        let (k, v) = first.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

async fn login_answer(ui: &Ui, username: &str, password: &str) -> Answer {
    let page = send(ui, get("/login?next=/orders", "")).await;
    assert_eq!(page.status, StatusCode::OK);
    let login_csrf = cookie_value(&page.cookies(), "pressroom_login_csrf").expect("login cookie");
    let csrf = page.csrf();
    assert_eq!(
        csrf, login_csrf,
        "double-submit: the field repeats the cookie"
    );
    send(
        ui,
        post(
            "/login",
            &format!("pressroom_login_csrf={login_csrf}"),
            &[
                ("csrf", &csrf),
                ("next", "/orders"),
                ("username", username),
                ("password", password),
            ],
        ),
    )
    .await
}

async fn login(ui: &Ui, username: &str, password: &str) -> Browser {
    let a = login_answer(ui, username, password).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location(), "/orders");
    let token = cookie_value(&a.cookies(), "pressroom_session").expect("session cookie");
    let cookie = format!("pressroom_session={token}");
    let page = send(ui, get("/orders", &cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    Browser {
        csrf: page.csrf(),
        cookie,
    }
}

#[tokio::test]
async fn login_sets_a_strict_cookie_and_wrong_passwords_get_one_generic_error() {
    let ui = setup().await;
    let a = login_answer(&ui, "admin", "admin-password").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let session = a
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("pressroom_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(!session.contains("Secure"), "plain HTTP: {session}");
    // A second login rotates the token.
    let b = login_answer(&ui, "admin", "admin-password").await;
    assert_ne!(
        cookie_value(&a.cookies(), "pressroom_session"),
        cookie_value(&b.cookies(), "pressroom_session")
    );

    let wrong = login_answer(&ui, "admin", "nope-nope-nope").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .body
            .contains("The username or password is not right.")
    );
    let unknown = login_answer(&ui, "nobody", "nope-nope-nope").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(
        unknown
            .body
            .contains("The username or password is not right.")
    );
    assert!(cookie_value(&wrong.cookies(), "pressroom_session").is_none());
}

#[tokio::test]
async fn the_login_throttle_answers_429_even_with_the_right_password() {
    let ui = setup().await;
    let limit = ui.app.settings.auth.max_failures_per_account;
    for _ in 0..limit {
        let a = login_answer(&ui, "merchant", "wrong-password").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let a = login_answer(&ui, "merchant", "merchant-password").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.body.contains("Too many failed sign-ins"), "{}", a.body);
    assert!(a.headers.get(header::RETRY_AFTER).is_some());
}

#[tokio::test]
async fn the_login_form_needs_its_double_submit_token_and_next_stays_local() {
    let ui = setup().await;
    let a = send(
        &ui,
        post(
            "/login",
            "",
            &[
                ("csrf", "x"),
                ("username", "admin"),
                ("password", "admin-password"),
            ],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let page = send(&ui, get("/login?next=https://evil.example/", "")).await;
    assert!(
        page.body.contains("name=\"next\" value=\"/orders\""),
        "{}",
        page.body
    );
    let page = send(&ui, get("/login?next=//evil.example/", "")).await;
    assert!(page.body.contains("name=\"next\" value=\"/orders\""));
}

#[tokio::test]
async fn pages_need_a_session() {
    let ui = setup().await;
    for path in [
        "/orders",
        "/orders/1",
        "/settings",
        "/orders/import",
        "/imports/1",
    ] {
        let a = send(&ui, get(path, "")).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            a.location().starts_with("/login?next="),
            "{path}: {}",
            a.location()
        );
    }
    let a = send(
        &ui,
        get("/orders?status=processing", "pressroom_session=forged"),
    )
    .await;
    assert_eq!(a.location(), "/login?next=%2Forders%3Fstatus%3Dprocessing");
    let css = send(&ui, get("/assets/pressroom.css", "")).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let root = send(&ui, get("/", "")).await;
    assert_eq!(root.location(), "/orders");
}

#[tokio::test]
async fn the_dashboard_shows_an_admin_everything_and_a_merchant_their_stores() {
    let ui = setup().await;
    let admin = login(&ui, "admin", "admin-password").await;
    let page = send(&ui, get("/orders", &admin.cookie)).await;
    let b = &page.body;
    assert!(b.starts_with("<!DOCTYPE html><html lang=\"en\">"), "{b}");
    assert!(b.contains("<title>Orders · Pressroom</title>"));
    assert!(b.contains("role=\"status\""));
    assert!(b.contains("href=\"#main\""), "skip link");
    assert!(b.contains("#1001") && b.contains("#2002") && b.contains("#TEST-"));
    assert!(b.contains("Amélie Poulain") && b.contains("Lyon, FR"));
    assert!(b.contains("$42.50") && b.contains("via Credit card"));
    assert!(
        b.contains("badge tone-success\">processing<"),
        "store status verbatim, success tone"
    );
    assert!(b.contains("1–3 of 3"), "{b}");
    assert!(b.contains("aria-label=\"Select order #1001\""));
    assert!(b.contains("form=\"bulk\""));
    assert!(b.contains("data-countdown"), "the test order counts down");

    let merchant = login(&ui, "merchant", "merchant-password").await;
    let page = send(&ui, get("/orders", &merchant.cookie)).await;
    assert!(page.body.contains("#1001"));
    assert!(
        !page.body.contains("#2002"),
        "another merchant's order is not listed"
    );
    assert!(!page.body.contains("#TEST-"));
    assert!(page.body.contains("1–1 of 1"));
    // The saved filters count the merchant's orders only; "All" is the current one. (Leptos
    // marks where dynamic text ends with `<!>`.)
    let body = page.body.replace("<!>", "");
    assert!(
        body.contains(
            "<a href=\"/orders\" aria-current=\"page\">All <span class=\"count\">1</span>"
        ),
        "{body}"
    );
    assert!(body.contains("Needs action <span class=\"count\">0</span>"));
    let page = send(&ui, get("/orders?status=on-hold", &merchant.cookie)).await;
    assert!(
        page.body.contains("aria-current=\"page\">On hold"),
        "{}",
        page.body
    );

    // Filters are in the URL and combine; no match has its own empty state.
    let page = send(
        &ui,
        get("/orders?q=Amélie&status=processing", &admin.cookie),
    )
    .await;
    assert!(page.body.contains("#1001") && !page.body.contains("#2002"));
    assert!(page.body.contains("Clear all"));
    let page = send(
        &ui,
        get("/orders?from=2000-01-01&to=2000-01-31", &admin.cookie),
    )
    .await;
    assert!(page.body.contains("From 2000-01-01") && page.body.contains("To 2000-01-31"));
    assert!(
        page.body.contains("No orders match"),
        "none was placed in January 2000"
    );
    let page = send(&ui, get("/orders?q=nobody-at-all", &admin.cookie)).await;
    assert!(page.body.contains("No orders match"));
    assert!(page.body.contains("Clear filters"));
}

#[tokio::test]
async fn the_order_page_renders_for_its_owner_and_is_404_for_another_merchant() {
    let ui = setup().await;
    let admin = login(&ui, "admin", "admin-password").await;
    let page = send(
        &ui,
        get(&format!("/orders/{}", ui.test_order), &admin.cookie),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let b = &page.body;
    assert!(b.contains("<h1>#TEST-"), "{b}");
    assert!(b.contains("Submit order"));
    assert!(b.contains("Put on hold"));
    assert!(b.contains("History"));
    assert!(b.contains("Edit design"));
    assert!(b.contains("<dialog id=\"confirm-submit\""));

    let merchant = login(&ui, "merchant", "merchant-password").await;
    let own = send(
        &ui,
        get(&format!("/orders/{}", ui.order_a), &merchant.cookie),
    )
    .await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(own.body.contains("Amélie Poulain"));
    for path in [
        format!("/orders/{}", ui.order_b),
        format!("/orders/{}/submit", ui.order_b),
        format!("/orders/{}", ui.test_order),
        format!("/orders/{}/items/1/edit", ui.test_order),
        format!("/orders/{}/items/1/preview.jpg", ui.test_order),
        "/orders/999999".to_string(),
    ] {
        let a = send(&ui, get(&path, &merchant.cookie)).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!a.body.contains("Bruno Other"));
    }
    // Acting on another merchant's order is 404 too, and changes nothing.
    let a = send(
        &ui,
        post(
            &format!("/orders/{}/hold", ui.order_b),
            &merchant.cookie,
            &[("csrf", &merchant.csrf)],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let b = ui.app.db.get_order(ui.order_b).await.unwrap();
    assert_eq!(b.order.status.raw, "processing");
}

#[tokio::test]
async fn hold_and_unhold_redirect_back_with_a_flash() {
    let ui = setup().await;
    let admin = login(&ui, "admin", "admin-password").await;
    let a = send(
        &ui,
        post(
            &format!("/orders/{}/hold", ui.test_order),
            &admin.cookie,
            &[("csrf", &admin.csrf)],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location(), format!("/orders/{}", ui.test_order));
    let row = ui.app.db.get_order(ui.test_order).await.unwrap();
    assert_eq!(row.order.status.raw, "on-hold");
    let page = follow(&ui, &a, &format!("/orders/{}", ui.test_order), &admin).await;
    assert!(page.body.contains("Order put on hold"), "{}", page.body);
    assert!(page.body.contains("Paused (On hold)"));
    assert!(
        page.cookies()
            .iter()
            .any(|c| c.starts_with("pressroom_flash=;")),
        "the flash is shown once"
    );
}

#[tokio::test]
async fn every_form_refuses_a_missing_or_wrong_csrf_token_and_changes_nothing() {
    let ui = setup().await;
    let admin = login(&ui, "admin", "admin-password").await;
    let t = ui.test_order;
    let routes = [
        "/logout".to_string(),
        "/orders/bulk-submit".to_string(),
        "/orders/print-files.zip".to_string(),
        "/orders/test".to_string(),
        "/orders/import".to_string(),
        format!("/orders/{t}/submit"),
        format!("/orders/{t}/hold"),
        format!("/orders/{t}/unhold"),
        format!("/orders/{t}/cancel"),
        format!("/orders/{t}/notes"),
        format!("/orders/{t}/notes/1"),
        format!("/orders/{t}/notes/1/delete"),
        format!("/orders/{t}/shipments"),
        format!("/orders/{t}/render"),
        format!("/orders/{t}/review"),
        format!("/orders/{t}/items/1/override"),
        "/settings/stores/shop-a/webhooks".to_string(),
        format!("/orders/{t}/items/1/edit"),
        "/settings/stores".to_string(),
        "/settings/stores/shop-a/test".to_string(),
        "/settings/stores/shop-a/rules".to_string(),
        "/settings/providers".to_string(),
        "/settings/users".to_string(),
    ];
    let before = ui.app.db.get_order(t).await.unwrap();
    let users_before = ui.app.users().await.unwrap().len();
    for route in &routes {
        for token in [None, Some("wrong-token")] {
            let mut form = vec![
                ("ids", t.to_string()),
                ("confirm", "1".into()),
                ("text", "a note".into()),
                ("template", "name-tag".into()),
                ("username", "intruder".into()),
                ("password", "intruder-password".into()),
                ("id", "evil".into()),
                ("url", "https://evil.example".into()),
                ("kind", "printful".into()),
                ("store", "shop-a".into()),
                ("carrier", "UPS".into()),
                ("tracking_number", "1Z".into()),
                ("name", "Changed".into()),
            ];
            if let Some(tok) = token {
                form.push(("csrf", tok.into()));
            }
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let a = send(&ui, post(route, &admin.cookie, &pairs)).await;
            assert_eq!(a.status, StatusCode::FORBIDDEN, "{route} with {token:?}");
            assert!(a.body.contains("Form expired"), "{route}");
        }
    }
    // The photo upload (multipart) too.
    let boundary = "XBOUNDARY";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nwrong\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\nphoto\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\nnot really\r\n--{boundary}--\r\n"
    );
    let req = Request::post(format!("/orders/{t}/items/1/photo"))
        .header(header::COOKIE, &admin.cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    assert_eq!(send(&ui, req).await.status, StatusCode::FORBIDDEN);

    let after = ui.app.db.get_order(t).await.unwrap();
    assert_eq!(
        before.row_version, after.row_version,
        "the order did not change"
    );
    assert_eq!(ui.app.users().await.unwrap().len(), users_before);
    assert!(ui.app.db.store("evil").await.unwrap().is_none());
    // The session survived the refused logout.
    assert_eq!(
        send(&ui, get("/orders", &admin.cookie)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn notes_are_added_edited_and_deleted_and_the_history_keeps_their_text() {
    let ui = setup().await;
    let admin = login(&ui, "admin", "admin-password").await;
    let t = ui.test_order;
    let notes = format!("/orders/{t}/notes");
    let a = send(
        &ui,
        post(
            &notes,
            &admin.cookie,
            &[("csrf", &admin.csrf), ("text", "Chek the spelling")],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let page = send(&ui, get(&format!("/orders/{t}"), &admin.cookie)).await;
    assert!(page.body.contains("Chek the spelling"));
    assert!(
        page.body
            .contains(&format!("action=\"/orders/{t}/notes/1\"")),
        "Pressroom's note has an edit form"
    );

    let a = send(
        &ui,
        post(
            &format!("{notes}/1"),
            &admin.cookie,
            &[("csrf", &admin.csrf), ("text", "Check the spelling")],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let order = ui.app.db.get_order(t).await.unwrap().order;
    let note = order.notes.iter().find(|n| n.id == 1).unwrap();
    assert_eq!(note.text, "Check the spelling");
    assert!(note.edited_at.is_some());

    // An empty text is refused with the reason, and the note stays.
    let a = send(
        &ui,
        post(
            &format!("{notes}/1"),
            &admin.cookie,
            &[("csrf", &admin.csrf), ("text", " ")],
        ),
    )
    .await;
    let page = follow(&ui, &a, &format!("/orders/{t}"), &admin).await;
    assert!(
        page.body.contains("The note was not saved"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Check the spelling"));

    let a = send(
        &ui,
        post(
            &format!("{notes}/1/delete"),
            &admin.cookie,
            &[("csrf", &admin.csrf)],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let order = ui.app.db.get_order(t).await.unwrap().order;
    assert!(order.notes.iter().all(|n| n.id != 1), "deleted");
    let history = ui.app.db.history(t).await.unwrap();
    let kept: Vec<String> = history
        .iter()
        .filter_map(|h| h.payload.as_ref())
        .map(|p| p.to_string())
        .collect();
    assert!(
        kept.iter().any(|p| p.contains("Chek the spelling")),
        "the text before the edit is in the history"
    );
    assert!(
        kept.iter()
            .any(|p| p.contains("Check the spelling") && p.contains("\"text\"")),
        "the deleted text is in the history"
    );
    // A note that is not there is a clear refusal, not a crash.
    let a = send(
        &ui,
        post(
            &format!("{notes}/9/delete"),
            &admin.cookie,
            &[("csrf", &admin.csrf)],
        ),
    )
    .await;
    let page = follow(&ui, &a, &format!("/orders/{t}"), &admin).await;
    assert!(page.body.contains("has no note 9"), "{}", page.body);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let ui = setup().await;
    let admin = login(&ui, "admin", "admin-password").await;
    let a = send(
        &ui,
        post("/logout", &admin.cookie, &[("csrf", &admin.csrf)]),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(a.location(), "/login");
    assert!(
        a.cookies()
            .iter()
            .any(|c| c.starts_with("pressroom_session=;"))
    );
    let page = send(&ui, get("/orders", &admin.cookie)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_editor_previews_unsaved_values_and_saves_a_new_version() {
    let ui = setup().await;
    let admin = login(&ui, "admin", "admin-password").await;
    let t = ui.test_order;
    let page = send(
        &ui,
        get(&format!("/orders/{t}/items/1/edit"), &admin.cookie),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("name=\"name\""), "{}", page.body);
    assert!(page.body.contains("data-preview=\"\""));
    assert!(page.body.contains("data-rev=\"0\""));
    assert!(page.body.contains("Update preview"));

    let img = send(
        &ui,
        get(
            &format!("/orders/{t}/items/1/preview.jpg?name=Zo%C3%A9"),
            &admin.cookie,
        ),
    )
    .await;
    assert_eq!(img.status, StatusCode::OK, "{}", img.body);
    assert_eq!(img.headers[header::CONTENT_TYPE], "image/jpeg");
    let etag = img.headers[header::ETAG].to_str().unwrap().to_string();
    let again = Request::get(format!("/orders/{t}/items/1/preview.jpg?name=Zo%C3%A9"))
        .header(header::COOKIE, &admin.cookie)
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&ui, again).await.status, StatusCode::NOT_MODIFIED);

    let a = send(
        &ui,
        post(
            &format!("/orders/{t}/items/1/edit"),
            &admin.cookie,
            &[("csrf", &admin.csrf), ("name", "Zoé")],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location(), format!("/orders/{t}"));
    let row = ui.app.db.get_order(t).await.unwrap();
    let values = &row.order.items[0].personalization.as_ref().unwrap().values;
    assert_eq!(values.get("name").map(String::as_str), Some("Zoé"));
}

#[tokio::test]
async fn bulk_submit_confirms_then_answers_per_order() {
    let ui = setup().await;
    let merchant = login(&ui, "merchant", "merchant-password").await;
    let a_id = ui.order_a.to_string();
    let b_id = ui.order_b.to_string();
    let confirm = send(
        &ui,
        post(
            "/orders/bulk-submit",
            &merchant.cookie,
            &[("csrf", &merchant.csrf), ("ids", &a_id), ("ids", &b_id)],
        ),
    )
    .await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert!(
        confirm.body.contains("Submit 1 order?"),
        "only the merchant's order counts"
    );
    assert!(!confirm.body.contains("#2002"));
    let done = send(
        &ui,
        post(
            "/orders/bulk-submit",
            &merchant.cookie,
            &[
                ("csrf", &merchant.csrf),
                ("ids", &a_id),
                ("ids", &b_id),
                ("confirm", "1"),
            ],
        ),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("#1001"));
    assert!(!done.body.contains("#2002"));
    assert!(done.body.contains("What happened to each order"));

    // "Submit all matching" posts the filter; the merchant's scope still applies.
    let all = send(
        &ui,
        post(
            "/orders/bulk-submit",
            &merchant.cookie,
            &[("csrf", &merchant.csrf), ("all", "status=processing")],
        ),
    )
    .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert!(all.body.contains("Submit 1 order?"), "{}", all.body);
    assert!(
        all.body
            .contains("name=\"all\" value=\"status=processing\"")
    );
}

#[tokio::test]
async fn settings_show_stores_to_merchants_and_users_to_admins() {
    let ui = setup().await;
    let admin = login(&ui, "admin", "admin-password").await;
    let page = send(&ui, get("/settings", &admin.cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Providers") && page.body.contains("Users"));
    assert!(page.body.contains("/webhooks/woocommerce/shop-a"));
    let merchant = login(&ui, "merchant", "merchant-password").await;
    let page = send(&ui, get("/settings", &merchant.cookie)).await;
    assert!(page.body.contains("shop-a"));
    assert!(!page.body.contains("shop-b"));
    assert!(!page.body.contains("Add a user"));
    let a = send(
        &ui,
        post(
            "/settings/users",
            &merchant.cookie,
            &[
                ("csrf", &merchant.csrf),
                ("username", "x"),
                ("password", "long-password"),
            ],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    // An admin adds a merchant.
    let a = send(
        &ui,
        post(
            "/settings/users",
            &admin.cookie,
            &[
                ("csrf", &admin.csrf),
                ("username", "second"),
                ("password", "second-password"),
                ("role", "merchant"),
                ("stores", "shop-b"),
            ],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let user = ui.app.user_named("second").await.unwrap();
    assert_eq!(user.stores, vec!["shop-b".to_string()]);
}

#[tokio::test]
async fn a_merchant_edits_their_stores_rules_and_a_wrong_row_saves_nothing() {
    let ui = setup().await;
    let merchant = login(&ui, "merchant", "merchant-password").await;
    let page = send(&ui, get("/settings/stores/shop-a/rules", &merchant.cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<caption>Products personalized"));
    assert!(page.body.contains("aria-label=\"SKU, rule 1\""));
    // Another merchant's store is not there for them.
    let other = send(&ui, get("/settings/stores/shop-b/rules", &merchant.cookie)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    // Columns are repeated fields, one value a row; the blank rows are dropped.
    let form = [
        ("csrf", merchant.csrf.as_str()),
        ("p_sku", "TAG-1"),
        ("p_product", ""),
        ("p_variation", ""),
        ("p_template", "name-tag"),
        ("p_sku", ""),
        ("p_product", "77"),
        ("p_variation", ""),
        ("p_template", "name-tag"),
        ("p_sku", ""),
        ("p_product", ""),
        ("p_variation", ""),
        ("p_template", ""),
        ("f_meta", "Name on tag"),
        ("f_field", "name"),
        ("f_meta", ""),
        ("f_field", ""),
        ("photo_fields", "photo, logo"),
        ("t_type", "amazon"),
        ("t_via", "amazon"),
        ("t_payment", ""),
        ("t_meta", ""),
        ("t_no_template", ""),
        ("t_type", "in_app"),
        ("t_via", ""),
        ("t_payment", ""),
        ("t_meta", ""),
        ("t_no_template", ""),
        ("r_sku", "TAG-*"),
        ("r_provider", "manual"),
        ("r_sku", ""),
        ("r_provider", ""),
    ];
    let a = send(
        &ui,
        post("/settings/stores/shop-a/rules", &merchant.cookie, &form),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let s = ui.app.store_summary("shop-a").await.unwrap().settings;
    assert_eq!(s.mapping.products.len(), 2);
    assert_eq!(s.mapping.products[0].sku.as_deref(), Some("TAG-1"));
    assert_eq!(s.mapping.products[1].product_id, Some(77));
    assert_eq!(s.mapping.field_for("name on tag"), Some("name"));
    assert_eq!(s.mapping.photo_fields, ["photo", "logo"]);
    assert_eq!(s.order_types.len(), 1, "the type-only row is blank");
    assert_eq!(s.order_types[0].created_via.as_deref(), Some("amazon"));
    assert_eq!(s.provider_rules.len(), 1);
    assert_eq!(s.provider_rules[0].sku, "TAG-*");
    let page = send(&ui, get("/settings/stores/shop-a/rules", &merchant.cookie)).await;
    assert!(
        page.body.contains("value=\"TAG-1\""),
        "saved rules show again"
    );

    // A template that is not installed: the row is named and nothing changes.
    let wrong: Vec<(&str, &str)> = form
        .iter()
        .map(|(k, v)| {
            if *v == "name-tag" {
                (*k, "no-such-template")
            } else {
                (*k, *v)
            }
        })
        .collect();
    let a = send(
        &ui,
        post("/settings/stores/shop-a/rules", &merchant.cookie, &wrong),
    )
    .await;
    let page = follow(&ui, &a, "/settings/stores/shop-a/rules", &merchant).await;
    assert!(
        page.body
            .contains("product rule 1: choose one of the installed templates"),
        "{}",
        page.body
    );
    assert_eq!(ui.app.store_summary("shop-a").await.unwrap().settings, s);
}

#[tokio::test]
async fn the_import_form_and_progress_page_render() {
    let ui = setup().await;
    let merchant = login(&ui, "merchant", "merchant-password").await;
    let page = send(&ui, get("/orders/import", &merchant.cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("By range") && page.body.contains("By IDs"));
    let a = send(
        &ui,
        post(
            "/orders/import",
            &merchant.cookie,
            &[
                ("csrf", &merchant.csrf),
                ("store", "shop-b"),
                ("scope", "all"),
            ],
        ),
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another merchant's store"
    );
    let a = send(
        &ui,
        post(
            "/orders/import",
            &merchant.cookie,
            &[
                ("csrf", &merchant.csrf),
                ("store", "shop-a"),
                ("scope", "ids"),
                ("ids", "12, x"),
            ],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(a.body.contains("is not an order ID"));

    // A running import's page refreshes itself and shows a labelled progress bar; another
    // merchant's import is not found.
    let now = ui.app.now();
    let mine = ui
        .app
        .db
        .start_import(
            "shop-a",
            &serde_json::json!({"scope": "all"}),
            "merchant:merchant",
            now,
        )
        .await
        .unwrap();
    let theirs = ui
        .app
        .db
        .start_import(
            "shop-b",
            &serde_json::json!({"scope": "all"}),
            "merchant:other",
            now,
        )
        .await
        .unwrap();
    let page = send(&ui, get(&format!("/imports/{mine}"), &merchant.cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains("<noscript><meta http-equiv=\"refresh\" content=\"3\"/></noscript>")
            || page
                .body
                .contains("<noscript><meta http-equiv=\"refresh\" content=\"3\"></noscript>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<label for=\"import-progress\">"));
    assert!(page.body.contains("<progress id=\"import-progress\""));
    let other = send(&ui, get(&format!("/imports/{theirs}"), &merchant.cookie)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let other = send(
        &ui,
        get(&format!("/imports/{theirs}/events"), &merchant.cookie),
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    // Its live progress: server-sent events with the whole state, a new one as it changes,
    // and the stream ends when the import does.
    let resp = ui
        .router
        .clone()
        .oneshot(get(&format!("/imports/{mine}/events"), &merchant.cookie))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut stream = resp.into_body().into_data_stream();
    async fn next(s: &mut axum::body::BodyDataStream) -> Option<String> {
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            futures::StreamExt::next(s),
        )
        .await
        .expect("an event in time")
        .map(|chunk| String::from_utf8_lossy(&chunk.unwrap()).into_owned())
    }
    let first = next(&mut stream).await.expect("a first event");
    assert!(first.contains("event: progress"), "{first}");
    assert!(first.contains("\"state\":\"running\""), "{first}");
    let progress = storage::ImportProgress {
        total: 2,
        seen: 1,
        ..Default::default()
    };
    ui.app
        .db
        .update_import(mine, &progress, None)
        .await
        .unwrap();
    let second = next(&mut stream).await.expect("the change");
    assert!(second.contains("\"seen\":1"), "{second}");
    ui.app
        .db
        .update_import(mine, &progress, Some((ui.app.now(), None)))
        .await
        .unwrap();
    let mut rest = String::new();
    while let Some(chunk) = next(&mut stream).await {
        rest.push_str(&chunk);
    }
    assert!(rest.contains("\"state\":\"done\""), "{rest}");
}

#[tokio::test]
async fn print_files_stream_as_a_zip_of_the_orders_the_user_may_see() {
    let ui = setup().await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut opts = app::WorkerOptions::new("web-test");
    opts.poll = std::time::Duration::from_millis(50);
    tokio::spawn(app::Worker::new(ui.app.clone(), opts).run(shutdown.clone()));
    // Wait for the test order's render (state, not time: bounded by a deadline).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while ui.app.db.renders(ui.test_order).await.unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the render did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let number = ui
        .app
        .db
        .get_order(ui.test_order)
        .await
        .unwrap()
        .order
        .number;
    let admin = login(&ui, "admin", "admin-password").await;
    let ids = format!(
        "/orders/print-files.zip?ids={}&ids={}",
        ui.test_order, ui.order_a
    );
    let zip = {
        let resp = ui
            .router
            .clone()
            .oneshot(get(&ids, &admin.cookie))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/zip");
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
    };
    assert!(zip.starts_with(b"PK\x03\x04"), "a local file header first");
    let name = format!("{number}-1-TEST-name-tag.png");
    assert!(
        zip.windows(name.len()).any(|w| w == name.as_bytes()),
        "the entry is named <number>-<item>-<SKU>.<ext>"
    );
    assert!(
        zip.windows(8).any(|w| w == b"\x89PNG\r\n\x1a\n"),
        "the print file inside"
    );
    assert!(
        zip.windows(4).any(|w| w == b"PK\x05\x06"),
        "a central directory at the end"
    );
    // The merchant may not download another store's print files: nothing to download.
    let merchant = login(&ui, "merchant", "merchant-password").await;
    let a = send(
        &ui,
        get(
            &format!("/orders/print-files.zip?ids={}", ui.test_order),
            &merchant.cookie,
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(!a.body.contains("PNG"));
    shutdown.cancel();
}

#[tokio::test]
async fn placing_and_submitting_a_test_order_disables_the_submit_button() {
    let ui = setup().await;
    let admin = login(&ui, "admin", "admin-password").await;
    let a = send(
        &ui,
        post(
            "/orders/test",
            &admin.cookie,
            &[("csrf", &admin.csrf), ("template", "name-tag")],
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let id: i64 = a
        .location()
        .trim_start_matches("/orders/")
        .parse()
        .expect("the new order's page");
    assert!(ui.app.db.get_order(id).await.unwrap().order.test);

    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut opts = app::WorkerOptions::new("web-test");
    opts.poll = std::time::Duration::from_millis(50);
    tokio::spawn(app::Worker::new(ui.app.clone(), opts).run(shutdown.clone()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while ui.app.db.renders(id).await.unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the render did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Without confirm: the confirmation page, nothing submitted.
    let confirm = send(
        &ui,
        post(
            &format!("/orders/{id}/submit"),
            &admin.cookie,
            &[("csrf", &admin.csrf)],
        ),
    )
    .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Submit order #TEST-"));
    assert_eq!(
        ui.app.db.get_order(id).await.unwrap().order.submit_status,
        domain::SubmitStatus::Blank
    );
    let done = send(
        &ui,
        post(
            &format!("/orders/{id}/submit"),
            &admin.cookie,
            &[("csrf", &admin.csrf), ("confirm", "1")],
        ),
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let flash = cookie_value(&done.cookies(), "pressroom_flash").expect("flash");
    assert!(flash.starts_with("ok."), "{flash}");
    assert!(
        ui.app
            .db
            .get_order(id)
            .await
            .unwrap()
            .order
            .submit_status
            .design_locked()
    );
    let page = send(&ui, get(&format!("/orders/{id}"), &admin.cookie)).await;
    assert!(
        page.body
            .contains("disabled class=\"primary\">Submitting to sandbox")
            || page
                .body
                .contains("disabled class=\"primary\">Submitted to sandbox"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Edit design"), "the design is locked");
    // A second submit is refused, and says so.
    let again = send(
        &ui,
        post(
            &format!("/orders/{id}/submit"),
            &admin.cookie,
            &[("csrf", &admin.csrf), ("confirm", "1")],
        ),
    )
    .await;
    let flash = cookie_value(&again.cookies(), "pressroom_flash").expect("flash");
    assert!(flash.starts_with("err."), "{flash}");
    shutdown.cancel();
}
