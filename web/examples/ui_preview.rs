//! Look at the UI with seeded data: `cargo run --example ui_preview -- 127.0.0.1:8099`.
//! A temporary SQLite database, the fixture templates, a worker, two stores with orders, test
//! orders that render and count down, and the user `admin` / `admin-password`.
//!
//! With `--auto-login`, every request without a session cookie gets the admin's session (for
//! headless screenshots only; this is an example program, never the product).

use std::sync::Arc;
use std::time::Duration;

use app::auth::Role;
use app::{App, Worker, WorkerOptions};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:8099".into());
    let auto_login = args.iter().any(|a| a == "--auto-login");
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("pressroom.db").display());
    let db = storage::Db::open(&url, storage::DbOptions::default()).await?;
    let files = storage::Files::open(
        &storage::FilesConfig::Local {
            root: dir.path().join("files"),
        },
        None,
    )?;
    let mut settings: app::AppSettings = toml::from_str(&testkit::demo_app_settings())?;
    settings.submission.test_delay_secs = 3600;
    let key = secrets::SecretKey::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")?;
    let app = Arc::new(App::new(db, files, settings, app::system_clock())?.with_secret_key(key));
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
        .await?;
    }
    let now = app.now();
    let mut tx = app.db.begin().await?;
    let names = [
        "Amélie Poulain",
        "محمد علي",
        "अनन्या शर्मा",
        "山田太郎",
        "Zoë 🐶 Smith",
    ];
    let statuses = ["processing", "on-hold", "completed", "pending", "failed"];
    for i in 0..60 {
        let mut o = domain::Order {
            store_order_id: 1000 + i,
            number: (1000 + i).to_string(),
            status: domain::StoreStatus::new(statuses[i as usize % statuses.len()]),
            currency: "USD".into(),
            payment_method_title: "Credit card".into(),
            created_at: Some(now - chrono::Duration::minutes(i * 37)),
            ..domain::Order::default()
        };
        o.totals.total = rust_decimal::Decimal::new(1999 + i * 100, 2);
        o.customer.name = names[i as usize % names.len()].into();
        o.customer.city = "Lyon".into();
        o.customer.country = "FR".into();
        if i % 7 == 3 {
            o.submit_status = domain::SubmitStatus::Failed {
                reason: "The provider refused the order: the SKU MUG-11 is not in its catalog"
                    .into(),
                at: now,
            };
        }
        let store = if i % 3 == 0 { "shop-b" } else { "shop-a" };
        app.db.insert_order(&mut tx, store, &o, now).await?;
    }
    tx.commit().await?;
    for t in ["name-tag", "pet-portrait", "multilingual-names"] {
        if app.templates.exists(t) {
            app.place_test_order(t, &domain::Actor::System).await?;
        }
    }
    app.add_user("admin", "admin-password", Role::Admin, &[])
        .await?;
    app.add_user(
        "merchant",
        "merchant-password",
        Role::Merchant,
        &["shop-a".into()],
    )
    .await?;
    let session = app.login("admin", "admin-password", None).await?;
    let cookie = format!("{}={}", server::auth::SESSION_COOKIE, session.token);

    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut opts = WorkerOptions::new("ui-preview");
    opts.poll = Duration::from_millis(200);
    tokio::spawn(Worker::new(app.clone(), opts).run(shutdown.clone()));

    let mut router = web::router(app.clone()).merge(server::router(app.clone()));
    if auto_login {
        router = router.layer(axum::middleware::from_fn(
            move |mut req: Request, next: Next| {
                let cookie = cookie.clone();
                async move {
                    if !req.headers().contains_key(header::COOKIE) {
                        req.headers_mut().insert(
                            header::COOKIE,
                            HeaderValue::from_str(&cookie).expect("ASCII"),
                        );
                    }
                    next.run(req).await
                }
            },
        ));
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("http://{addr}/  (admin / admin-password)");
    server::serve_router(listener, router, shutdown).await?;
    Ok(())
}
