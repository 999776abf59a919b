//! The store connection under load, on SQLite and on Postgres:
//!
//! - webhook intake: 200 signed `order.updated` deliveries sent at once to
//!   `POST /webhooks/woocommerce/{store}` over HTTP; the time from sending each to its 2xx
//!   answer (p50, p99, max), and every body checked kept. Goal: p99 under 50 ms.
//! - import: 2,500 orders (nothing to render) pulled from the simulated store in 25 pages and
//!   merged. Goal: at least 300 orders/s on Postgres.
//!
//! `cargo bench -p server --bench store_intake` (Postgres from `PRESSROOM_TEST_POSTGRES`,
//! default the local server; `SKIP_SQLITE=1` / `SKIP_POSTGRES=1` to leave one out).

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::stores::{SecretText, StoreInput};
use app::{App, AppSettings};
use chrono::Utc;
use domain::{Actor, StoreSettings};
use serde_json::json;
use testkit::{WooSim, WooSimOptions};
use tokio_util::sync::CancellationToken;

const DELIVERIES: usize = 200;
const ORDERS: usize = 2500;

fn plain_order() -> serde_json::Value {
    let mut order = testkit::woo_sim::order_template();
    for item in order["line_items"].as_array_mut().unwrap() {
        item["sku"] = json!("NOT-PERSONALIZED");
    }
    order
}

async fn app(db_url: &str, dir: &std::path::Path) -> Arc<App> {
    let db = storage::Db::open(db_url, storage::DbOptions::default())
        .await
        .expect("database");
    let files = storage::Files::open(
        &storage::FilesConfig::Local {
            root: dir.join("files"),
        },
        None,
    )
    .expect("files");
    let settings: AppSettings = toml::from_str(&testkit::demo_app_settings()).expect("settings");
    let key = secrets::SecretKey::from_base64(&secrets::SecretKey::generate().unwrap()).unwrap();
    Arc::new(
        App::new(db, files, settings, app::system_clock())
            .expect("app")
            .with_secret_key(key),
    )
}

async fn connect(app: &App, sim: &WooSim) {
    app.put_store(StoreInput {
        id: "shop".into(),
        settings: StoreSettings {
            url: sim.url(),
            ..StoreSettings::default()
        },
        consumer_key: SecretText("ck_test".into()),
        consumer_secret: SecretText("cs_test".into()),
        webhook_secret: SecretText("test-webhook-secret".into()),
    })
    .await
    .expect("connect");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

async fn intake(name: &str, db_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let app = app(db_url, dir.path()).await;
    let sim = WooSim::start(WooSimOptions::default()).await;
    connect(&app, &sim).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!(
        "http://{}/webhooks/woocommerce/shop",
        listener.local_addr().unwrap()
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(server::run(listener, app.clone(), shutdown.clone()));

    // The bodies and signatures are made before the clock starts.
    let mut requests = vec![];
    for i in 0..DELIVERIES {
        let mut order = plain_order();
        order["id"] = json!(10_000 + i);
        let body = serde_json::to_vec(&order).unwrap();
        let sig = sim.signature(&body);
        requests.push((body, sig));
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(DELIVERIES)
        .build()
        .unwrap();
    // Warm up the connection pool and the store's lookup.
    for _ in 0..5 {
        let _ = http
            .get(target.replace("/webhooks/woocommerce/shop", "/healthz"))
            .send()
            .await;
    }
    let gate = Arc::new(tokio::sync::Barrier::new(DELIVERIES));
    let mut tasks = vec![];
    for (body, sig) in requests {
        let http = http.clone();
        let target = target.clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            gate.wait().await;
            let sent = Instant::now();
            let resp = http
                .post(&target)
                .header("X-WC-Webhook-Topic", "order.updated")
                .header("X-WC-Webhook-Signature", sig)
                .body(body)
                .send()
                .await
                .expect("delivery");
            assert!(resp.status().is_success(), "{}", resp.status());
            sent.elapsed()
        }));
    }
    let mut times = vec![];
    for t in tasks {
        times.push(t.await.unwrap());
    }
    times.sort();
    let kept = app.db.count_deliveries("shop").await.unwrap();
    assert_eq!(kept as usize, DELIVERIES, "every body kept");
    println!(
        "webhook intake, {name}: {DELIVERIES} concurrent deliveries: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (goal p99 < 50 ms); {kept} kept",
        percentile(&times, 0.50).as_secs_f64() * 1000.0,
        percentile(&times, 0.99).as_secs_f64() * 1000.0,
        times.last().unwrap().as_secs_f64() * 1000.0,
    );
    shutdown.cancel();
}

async fn import(name: &str, db_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let app = app(db_url, dir.path()).await;
    let sim = WooSim::start(WooSimOptions::default()).await;
    connect(&app, &sim).await;
    let start = Utc::now() - chrono::Duration::days(30);
    sim.seed_orders(
        ORDERS,
        &plain_order(),
        1,
        start,
        chrono::Duration::minutes(5),
    );
    let id = app
        .start_store_import(
            "shop",
            &app::store_import::ImportScope::All,
            &Actor::Merchant("bench".into()),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let progress = app.run_store_import(id, &|_| {}).await.unwrap();
    let took = started.elapsed();
    assert_eq!(progress.created as usize, ORDERS);
    println!(
        "import, {name}: {ORDERS} orders in {:.2} s = {:.0} orders/s (goal ≥ 300 on Postgres)",
        took.as_secs_f64(),
        ORDERS as f64 / took.as_secs_f64()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if std::env::var_os("SKIP_SQLITE").is_none() {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite:{}", dir.path().join("bench.db").display());
            intake("SQLite", &url).await;
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite:{}", dir.path().join("bench.db").display());
            import("SQLite", &url).await;
        }
        if std::env::var_os("SKIP_POSTGRES").is_none() {
            let pg = testkit::PgDatabase::create().await.expect("Postgres");
            intake("Postgres", &pg.url).await;
            let pg = testkit::PgDatabase::create().await.expect("Postgres");
            import("Postgres", &pg.url).await;
        }
    });
}
