//! The orders dashboard with 100,000 orders: the first page of `/orders` (filtered, searched,
//! sorted, and a deep page) through the real web router, on SQLite and on Postgres, as a
//! merchant (their store only: half the orders) and as an admin. Prints p50 and p95 of the
//! server time (`Server-Timing: total`) per query. Goal: under 50 ms.
//!
//! `cargo bench --workspace --bench dashboard --profile dev` (`DASHBOARD_ORDERS=N`, default
//! 100000; `DASHBOARD_RUNS=N`, default 40; `DASHBOARD_DBS=sqlite,postgres`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::App;
use app::auth::Role;
use domain::{OrderType, StoreStatus, SubmitStatus};
use tokio_util::sync::CancellationToken;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

const FIRST: [&str; 8] = [
    "Anna", "Boris", "Chloé", "Dmitri", "Emma", "Farah", "Günter", "Hana",
];
const LAST: [&str; 8] = [
    "Smith", "Jones", "Müller", "García", "Kowalski", "Tanaka", "Okafor", "Lee",
];

/// `n` orders like the fixture name tag, half in `shop` and half in `other`, with statuses,
/// types, submit states and customers spread as a live store's are.
async fn seed(app: &App, n: usize) {
    let body = std::fs::read(testkit::repo_root().join("fixtures/orders/name-tag.json")).unwrap();
    let first = app
        .import_order(
            &body,
            &app::import::ImportSource {
                actor: domain::Actor::System,
                local_files: None,
            },
        )
        .await
        .expect("import the fixture");
    let template = app.db.get_order(first.order_id).await.unwrap().order;
    let now = app.now();
    let started = Instant::now();
    // Many rows per INSERT: one `insert_order` call at a time took 15 minutes on Postgres.
    // The triggers that keep the dashboard's counts and narrow rows run for each row as they
    // do for an import.
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut i = 0usize;
    while i < n {
        let mut values = vec![];
        for _ in 0..500.min(n - i) {
            let mut o = template.clone();
            o.store_order_id = 100_000 + i as i64;
            o.number = (100_000 + i).to_string();
            o.status = StoreStatus::new(match i % 20 {
                0..=11 => "processing",
                12..=14 => "on-hold",
                15..=18 => "completed",
                _ => "cancelled",
            });
            o.order_type = match i % 10 {
                0..=6 => OrderType::InApp,
                7 => OrderType::Amazon,
                8 => OrderType::ShineOn,
                _ => OrderType::Others,
            };
            o.submit_status = if i % 20 >= 15 {
                SubmitStatus::Submitted {
                    provider: "sandbox".into(),
                    provider_order_id: Some(format!("sb-{i}")),
                    at: now,
                    external_id: Some(format!("pr{i}-1")),
                }
            } else {
                SubmitStatus::Blank
            };
            o.countdown.submit_at =
                (i % 20 < 12).then(|| now + chrono::Duration::minutes(i as i64 % 1440));
            o.customer.name = format!("{} {}{}", FIRST[i % 8], LAST[(i / 8) % 8], i % 997);
            o.customer.email = format!("customer{i}@example.com");
            let store = if i.is_multiple_of(2) { "shop" } else { "other" };
            let millis = |t: chrono::DateTime<chrono::Utc>| t.timestamp_millis().to_string();
            values.push(format!(
                "({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                quote(store),
                o.store_order_id,
                quote(&o.number),
                quote(&o.status.raw),
                quote(o.status.kind.as_str()),
                quote(o.order_type.as_str()),
                quote(o.submit_status.label()),
                o.countdown
                    .submit_at
                    .map(millis)
                    .unwrap_or_else(|| "NULL".into()),
                quote(&serde_json::to_string(&o).unwrap()),
                millis(now),
                millis(now),
                quote(&storage::repo::customer_search(&o)),
                storage::repo::placed_at(&o)
                    .map(|p| quote(&p))
                    .unwrap_or_else(|| "NULL".into()),
            ));
            i += 1;
        }
        app.db
            .execute_raw_for_tests(&format!(
                "INSERT INTO orders (store_id, store_order_id, number, status, status_kind, \
                 order_type, submit_status, submit_at, data, created_at, updated_at, \
                 customer_search, placed_at) VALUES {}",
                values.join(", ")
            ))
            .await
            .unwrap();
    }
    // A live Postgres has been vacuumed and analyzed by now (autovacuum does it after this
    // many inserts); without it, it plans from empty-table statistics. SQLite is measured as
    // Pressroom leaves it, without statistics.
    if app.db.dialect() == storage::Dialect::Postgres {
        app.db
            .execute_raw_for_tests("VACUUM ANALYZE")
            .await
            .unwrap();
    }
    println!(
        "  seeded {n} orders in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn app_on(url: &str, dir: &std::path::Path) -> Arc<App> {
    let db = storage::Db::open(url, storage::DbOptions::default())
        .await
        .expect("database");
    let files = storage::Files::open(
        &storage::FilesConfig::Local {
            root: dir.join("files"),
        },
        None,
    )
    .unwrap();
    let settings: app::AppSettings =
        toml::from_str(&testkit::demo_app_settings()).expect("settings");
    let key = secrets::SecretKey::from_base64(&secrets::SecretKey::generate().expect("a key"))
        .expect("a key for store credentials");
    Arc::new(
        App::new(db, files, settings, app::system_clock())
            .unwrap()
            .with_secret_key(key),
    )
}

async fn connect(app: &App, id: &str) {
    app.put_store(app::stores::StoreInput {
        id: id.into(),
        settings: domain::StoreSettings {
            name: id.into(),
            url: format!("http://127.0.0.1:9/{id}/"),
            ..domain::StoreSettings::default()
        },
        ..app::stores::StoreInput::default()
    })
    .await
    .unwrap();
}

fn server_time(resp: &reqwest::Response) -> Option<Duration> {
    let timing = resp.headers().get("server-timing")?.to_str().ok()?;
    let ms: f64 = timing
        .split(',')
        .find_map(|part| part.trim().strip_prefix("total;dur="))?
        .parse()
        .ok()?;
    Some(Duration::from_secs_f64(ms / 1000.0))
}

async fn run(dialect: &str, url: &str, dir: &std::path::Path, n: usize, runs: usize) {
    println!("{dialect}:");
    let app = app_on(url, dir).await;
    connect(&app, "shop").await;
    connect(&app, "other").await;
    seed(&app, n).await;
    app.add_user(
        "merchant",
        "merchant-password",
        Role::Merchant,
        &["shop".into()],
    )
    .await
    .unwrap();
    app.add_user("admin", "admin-password", Role::Admin, &[])
        .await
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let router = server::router(app.clone()).merge(web::router(app.clone()));
    tokio::spawn(server::serve_router(listener, router, shutdown.clone()));
    let http = reqwest::Client::new();

    for (who, password) in [
        ("merchant", "merchant-password"),
        ("admin", "admin-password"),
    ] {
        let session = app.login(who, password, None).await.unwrap();
        let cookie = format!("{}={}", server::auth::SESSION_COOKIE, session.token);
        for (name, query) in [
            ("newest first", ""),
            ("processing, in-app", "?status=processing&type=in_app"),
            ("on hold, soonest submit", "?status=on-hold&sort=submit"),
            ("search a customer", "?q=kowalski"),
            ("search an order number", "?q=150001"),
            ("page 100", "?page=100"),
        ] {
            let target = format!("{base}/orders{query}");
            let mut server = vec![];
            let mut client = vec![];
            for k in 0..runs + 3 {
                let sent = Instant::now();
                let resp = http
                    .get(&target)
                    .header("Cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "{target}");
                let st = server_time(&resp);
                let html = resp.text().await.unwrap();
                assert!(
                    html.contains("<table") || html.contains("No orders"),
                    "{target}"
                );
                if k >= 3 {
                    client.push(sent.elapsed());
                    server.push(st.unwrap_or_else(|| sent.elapsed()));
                }
            }
            server.sort();
            client.sort();
            println!(
                "  {who:8} {name:26} server p50 {:6.1} ms  p95 {:6.1} ms   client p50 {:6.1} ms",
                ms(percentile(&server, 0.5)),
                ms(percentile(&server, 0.95)),
                ms(percentile(&client, 0.5)),
            );
        }
    }
    shutdown.cancel();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("DASHBOARD_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let runs: usize = std::env::var("DASHBOARD_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let dbs = std::env::var("DASHBOARD_DBS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!("the dashboard's first page with {n} orders, {runs} requests per query");
    if dbs.contains("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("pressroom.db").display());
        run("SQLite", &url, dir.path(), n, runs).await;
    }
    if dbs.contains("postgres") {
        let dir = tempfile::tempdir().unwrap();
        let pg = testkit::PgDatabase::create()
            .await
            .expect("a Postgres database");
        run("Postgres", &pg.url, dir.path(), n, runs).await;
    }
}
