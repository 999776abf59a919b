//! Bulk Submit of 1,000 ready orders to a provider that answers in 200 ms, with the
//! account's concurrency limit at 8: the time from the request until every order is
//! Submitted, each once at the provider (`testkit::ProviderSim`, the provider's API over
//! HTTP).
//!
//! `cargo bench -p app --bench bulk_submit` (`BULK_ORDERS=N` to change the count,
//! `BULK_PROVIDER=gelato|custom_cat|shine_on|printful`, default gelato). Goal on the 2-core
//! machine: under 30 s for a provider that takes an order in one request (the floor is
//! 1,000 × 200 ms / 8 = 25 s); Printful takes two (a draft, then its confirmation), so its
//! floor is 50 s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::import::ImportSource;
use app::providers::{ProviderInput, ProviderSettings};
use app::stores::SecretText;
use app::{App, AppSettings, Worker, WorkerOptions};
use connectors::provider::ProviderKind;
use domain::{Actor, SubmitStatus};
use storage::{Db, DbOptions, Files, FilesConfig};
use testkit::provider_sim::{ProviderSim, ProviderSimOptions, SimOp, SimProvider};
use tokio_util::sync::CancellationToken;

fn name_tag(id: i64) -> Vec<u8> {
    let text = std::fs::read_to_string(testkit::repo_root().join("fixtures/orders/name-tag.json"))
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["id"] = id.into();
    v["number"] = id.to_string().into();
    v["date_paid"] = serde_json::Value::Null;
    v["date_paid_gmt"] = serde_json::Value::Null;
    v["line_items"][0]["meta_data"][0]["value"] = format!("Guest {id}").into();
    serde_json::to_vec(&v).unwrap()
}

fn main() {
    let orders: i64 = std::env::var("BULK_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let sim = ProviderSim::start(ProviderSimOptions::default()).await;
        let mut settings: AppSettings = toml::from_str(&testkit::demo_app_settings()).unwrap();
        settings.default_provider = "pf".into();
        let provider = match std::env::var("BULK_PROVIDER").as_deref() {
            Ok("printful") => SimProvider::Printful,
            Ok("custom_cat") => SimProvider::CustomCat,
            Ok("shine_on") => SimProvider::ShineOn,
            _ => SimProvider::Gelato,
        };
        settings.public_url = "http://pressroom.test".into();
        settings.submit_after_hours = 24.0;
        let url = format!("sqlite:{}", dir.path().join("p.db").display());
        let db = Db::open(&url, DbOptions::default()).await.unwrap();
        let files = Files::open(
            &FilesConfig::Local {
                root: dir.path().join("files"),
            },
            Some(storage::UrlMode::Public {
                base_url: "https://files.example".into(),
            }),
        )
        .unwrap();
        let app = Arc::new(
            App::new(db, files, settings, app::system_clock())
                .unwrap()
                .with_secret_key(secrets::SecretKey::from_base64(&secrets::SecretKey::generate().unwrap()).unwrap()),
        );
        app.put_provider(ProviderInput {
            id: "pf".into(),
            kind: provider.as_str().parse::<ProviderKind>().unwrap(),
            settings: ProviderSettings {
                base_url: sim.base_url(),
                account: if provider == SimProvider::Printful { "12".into() } else { String::new() },
                concurrency: 8,
                products: [(
                    "NAME-TAG".to_owned(),
                    if provider == SimProvider::Printful { "4011:front:dtg" } else { "NAME-TAG-2X1" }.to_owned(),
                )]
                .into(),
                ..ProviderSettings::default()
            },
            api_key: SecretText(sim.api_key(provider)),
            webhook_secret: SecretText(sim.webhook_secret(provider)),
        })
        .await
        .unwrap();
        let shutdown = CancellationToken::new();
        let mut opts = WorkerOptions::new("bench");
        opts.poll = Duration::from_millis(20);
        opts.io_concurrency = 32;
        tokio::spawn(Worker::new(app.clone(), opts).run(shutdown.clone()));

        let source = ImportSource {
            actor: Actor::Merchant("bench".into()),
            local_files: Some(testkit::repo_root().join("fixtures/orders")),
        };
        let mut ids = vec![];
        for n in 0..orders {
            ids.push(app.import_order(&name_tag(10_000 + n), &source).await.unwrap().order_id);
        }
        while app.db.count_renders().await.unwrap() < orders {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!(
            "{orders} orders imported and rendered; Bulk Submit to {} at 200 ms, 8 at once",
            provider.as_str()
        );

        sim.set_latency(Duration::from_millis(200));
        sim.reset_max_in_flight();
        let started = Instant::now();
        let answers = app.bulk_submit(&ids, &Actor::Merchant("bench".into())).await;
        let claimed = started.elapsed();
        assert!(answers.iter().all(|(_, a)| matches!(a, app::submission::SubmitAnswer::Submitting { .. })));
        loop {
            let mut done = 0;
            for id in &ids {
                if matches!(app.db.get_order(*id).await.unwrap().order.submit_status, SubmitStatus::Submitted { .. }) {
                    done += 1;
                }
            }
            if done == ids.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let total = started.elapsed();
        let creates = sim.requests_to(provider, SimOp::Create).len();
        let requests = sim.requests().len();
        let once = ids
            .iter()
            .all(|id| sim.count(provider, &app.external_id(*id, 1)) == 1);
        println!(
            "bulk submit to {}: {orders} orders claimed in {:.2} s, all submitted in {:.2} s; {creates} creates ({requests} requests) at the provider, each order once: {once}; most requests in flight: {} (limit 8)",
            provider.as_str(),
            claimed.as_secs_f64(),
            total.as_secs_f64(),
            sim.max_in_flight()
        );
        assert!(once, "every order exactly once at the provider");
        assert!(sim.max_in_flight() <= 8, "the concurrency limit held");
        shutdown.cancel();
    });
}
