//! Render throughput of a warm worker: the standard workload (fixtures/templates/workload,
//! 15 × 18 in at 300 DPI = 4500 × 5400 px) rendered into fast PNG print files plus previews,
//! stored in a local folder and recorded in SQLite, by one worker with the default
//! (memory-aware) concurrency. The template is loaded once in a warm-up round.
//!
//! `cargo bench -p app --bench render_throughput` (`RENDER_JOBS=N` to change the count).
//! Goal on the 2-core machine: at least 3 print files per second; peak memory bounded by the
//! concurrency setting.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::import::ImportSource;
use app::{App, AppSettings, Worker, WorkerOptions};
use domain::{Actor, FieldMapping, ItemMapping, ProductRule};
use storage::{Db, DbOptions, Files, FilesConfig};
use tokio_util::sync::CancellationToken;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn order(id: i64) -> Vec<u8> {
    let photo = root().join("fixtures/templates/workload/photo.jpg");
    serde_json::to_vec(&serde_json::json!({
        "id": id, "number": id.to_string(), "status": "processing", "currency": "USD",
        "total": "30.00",
        "line_items": [{
            "id": 1, "name": "Wedding print", "sku": "WORKLOAD", "product_id": 1, "variation_id": 0,
            "quantity": 1, "price": 30, "subtotal": "30.00", "total": "30.00",
            "meta_data": [
                {"id": 1, "key": "Names", "value": format!("Sarah & James {id}")},
                {"id": 2, "key": "Year", "value": "2026"},
                {"id": 3, "key": "Photo", "value": photo.display().to_string()},
            ]
        }]
    }))
    .unwrap()
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

async fn run_batch(app: &Arc<App>, first: i64, n: i64, opts: &WorkerOptions) -> Duration {
    let source = ImportSource {
        actor: Actor::System,
        local_files: Some(root()),
    };
    for id in first..first + n {
        app.import_order(&order(id), &source).await.unwrap();
    }
    let start = Instant::now();
    let stop = CancellationToken::new();
    let worker = tokio::spawn(Worker::new(app.clone(), opts.clone()).run(stop.clone()));
    loop {
        let c = app.db.queue_counts().await.unwrap();
        assert_eq!(c.dead, 0, "a render failed");
        if c.queued == 0 && c.running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = start.elapsed();
    stop.cancel();
    worker.await.unwrap();
    took
}

fn main() {
    let jobs: i64 = std::env::var("RENDER_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("bench.db").display());
        let db = Db::open(&url, DbOptions::default()).await.unwrap();
        let files = Files::open(&FilesConfig::Local { root: dir.path().join("files") }, None).unwrap();
        let settings = AppSettings {
            templates_dir: root().join("fixtures/templates"),
            fonts_dir: root().join("fonts"),
            mapping: ItemMapping {
                products: vec![ProductRule {
                    sku: Some("WORKLOAD".into()),
                    product_id: None,
                    variation_id: None,
                    template: "workload".into(),
                }],
                fields: ["names", "year", "photo"]
                    .iter()
                    .map(|f| FieldMapping { meta_key: f.to_string(), field: f.to_string() })
                    .collect(),
                photo_fields: vec!["photo".into()],
            },
            ..AppSettings::default()
        };
        let app = Arc::new(App::new(db, files, settings, app::system_clock()).unwrap());
        let mut opts = WorkerOptions::new("bench");
        if let Some(c) = std::env::var("RENDER_CONCURRENCY").ok().and_then(|s| s.parse().ok()) {
            opts.concurrency = c;
        }
        opts.poll = Duration::from_millis(20);
        // Warm-up: loads the template (17 MB PNG decoded once) and the fonts.
        run_batch(&app, 1, 2, &opts).await;
        let took = run_batch(&app, 1000, jobs, &opts).await;
        println!(
            "workload, fast PNG + preview, concurrency {}: {jobs} print files in {:.2} s = {:.2} files/s; peak RSS {:.0} MB",
            opts.concurrency,
            took.as_secs_f64(),
            jobs as f64 / took.as_secs_f64(),
            peak_rss_mb()
        );
    });
}
