//! The render farm under failure: worker processes killed with SIGKILL after every so many
//! completed jobs (on progress, not on a clock, so each kill lands mid-work on any machine),
//! the database server stopped and started under load, the embedded SQLite file crashed
//! mid-write, a worker paused past its lease. Every job must complete, with exactly one set of
//! files per job in storage, nothing half-written, nothing lost, nothing stuck in "running".

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use app::import::ImportSource;
use app::{App, AppSettings};
use domain::Actor;
use storage::files::S3Config;
use storage::{Db, DbOptions, Files, FilesConfig};

fn settings() -> AppSettings {
    toml::from_str(&testkit::demo_app_settings()).unwrap()
}

/// The farm's shared configuration, as a worker process reads it.
struct Farm {
    dir: tempfile::TempDir,
    db_url: String,
    files: FilesConfig,
    /// Extra lines for the workers' `[app]` section.
    app_extra: String,
    /// The periodic staging sweep (0: off, so the queue holds only the test's render jobs).
    sweep_every_secs: u64,
}

impl Farm {
    fn new(db_url: String, files: FilesConfig) -> Farm {
        Farm {
            dir: tempfile::tempdir().unwrap(),
            db_url,
            files,
            app_extra: String::new(),
            sweep_every_secs: 0,
        }
    }

    fn config_file(&self) -> PathBuf {
        let path = self.dir.path().join("pressroom.toml");
        let files = match &self.files {
            FilesConfig::Local { root } => format!(
                "kind = \"local\"\nroot = {:?}\n",
                root.display().to_string()
            ),
            FilesConfig::S3(s3) => format!(
                "kind = \"s3\"\n[files.s3]\nendpoint = {:?}\nbucket = {:?}\naccess_key_id = {:?}\nsecret_access_key = {:?}\nallow_http = true\npath_style = true\nmax_retries = 2\nretry_timeout_secs = 10\n",
                s3.endpoint, s3.bucket, s3.access_key_id, s3.secret_access_key
            ),
        };
        let text = format!(
            "data_dir = {:?}\n[database]\nurl = {:?}\nmax_connections = 4\n[worker]\nlease_secs = 2\npoll_ms = 200\ngrace_secs = 5\nconcurrency = 1\nsweep_every_secs = {}\nreconcile_every_secs = 0\npoll_shipments_every_secs = 0\n[app]\ntemplates_dir = {:?}\nfonts_dir = {:?}\n{}\n[files]\n{files}",
            self.dir.path().display().to_string(),
            self.db_url,
            self.sweep_every_secs,
            testkit::repo_root()
                .join("fixtures/templates")
                .display()
                .to_string(),
            testkit::repo_root().join("fonts").display().to_string(),
            self.app_extra,
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    async fn app(&self) -> App {
        let db = Db::open(&self.db_url, DbOptions::default()).await.unwrap();
        App::new(
            db,
            Files::open(&self.files, None).unwrap(),
            settings(),
            app::system_clock(),
        )
        .unwrap()
    }

    fn spawn_worker(&self, config: &Path, args: &[&str]) -> Child {
        self.spawn_worker_logging(config, args, Stdio::null())
    }

    /// A worker whose warnings go to `stderr` (a file the test reads).
    fn spawn_worker_logging(&self, config: &Path, args: &[&str], stderr: Stdio) -> Child {
        Command::new(env!("CARGO_BIN_EXE_pressroom"))
            .arg("--config")
            .arg(config)
            .arg("worker")
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap()
    }
}

fn order(id: i64) -> Vec<u8> {
    let text = std::fs::read_to_string(testkit::repo_root().join("fixtures/orders/name-tag.json"))
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["id"] = id.into();
    v["number"] = id.to_string().into();
    // A different name per order: different pixels, different files.
    v["line_items"][0]["meta_data"][0]["value"] = format!("Guest {id}").into();
    // On hold: no countdown, so the queue holds only the renders these tests count.
    v["status"] = "on-hold".into();
    serde_json::to_vec(&v).unwrap()
}

async fn import(app: &App, n: i64) {
    let source = ImportSource {
        actor: Actor::System,
        local_files: Some(testkit::repo_root().join("fixtures/orders")),
    };
    for id in 1..=n {
        app.import_order(&order(id), &source).await.unwrap();
    }
    assert_eq!(app.db.queue_counts().await.unwrap().queued, n);
}

/// Wait for every job to finish, calling `chaos` every `period` meanwhile.
async fn wait_for_all(
    app: &App,
    n: i64,
    period: Duration,
    timeout: Duration,
    mut chaos: impl FnMut(u32),
) {
    let start = Instant::now();
    let mut tick = 0;
    loop {
        tokio::time::sleep(period).await;
        tick += 1;
        match app.db.queue_counts().await {
            Ok(c) if c.done + c.dead == n => {
                assert_eq!(c.dead, 0, "no job may be dead-lettered: {c:?}");
                return;
            }
            Ok(c) => assert!(
                start.elapsed() < timeout,
                "not finished after {timeout:?}: {c:?}"
            ),
            Err(e) => assert!(
                start.elapsed() < timeout,
                "database unreachable for too long: {e}"
            ),
        }
        chaos(tick);
    }
}

/// Wait for every job to finish; meanwhile call `fault` each time another `every` jobs have
/// completed while jobs are running, so every fault lands mid-work however fast the machine
/// is. Returns how many faults were injected.
async fn wait_for_all_with_faults(
    app: &App,
    n: i64,
    every: i64,
    timeout: Duration,
    mut fault: impl FnMut(),
) -> u32 {
    let start = Instant::now();
    let mut next = every;
    let mut faults = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        match app.db.queue_counts().await {
            Ok(c) if c.done + c.dead == n => {
                assert_eq!(c.dead, 0, "no job may be dead-lettered: {c:?}");
                return faults;
            }
            Ok(c) => {
                assert!(
                    start.elapsed() < timeout,
                    "not finished after {timeout:?}: {c:?}"
                );
                if c.done >= next && c.running > 0 {
                    fault();
                    faults += 1;
                    next = c.done + every;
                }
            }
            Err(e) => assert!(
                start.elapsed() < timeout,
                "database unreachable for too long: {e}"
            ),
        }
    }
}

/// Every job has exactly one render; storage holds exactly the files the renders name, each
/// whole (its bytes hash to its key).
async fn check_outcome(app: &App, n: i64) {
    let counts = app.db.queue_counts().await.unwrap();
    assert_eq!(
        (counts.done, counts.queued, counts.running, counts.dead),
        (n, 0, 0, 0)
    );
    let mut expected = BTreeSet::new();
    for row in app.db.list_orders(n + 10, 0).await.unwrap() {
        let renders = app.db.renders(row.id).await.unwrap();
        assert_eq!(
            renders.len(),
            1,
            "order {} must have exactly one render",
            row.id
        );
        let r = &renders[0].render;
        for key in [&r.print_key, &r.preview_key, &r.report_key] {
            expected.insert(key.clone());
        }
        let history = app.db.history(row.id).await.unwrap();
        let rendered = history
            .iter()
            .filter(|e| e.kind == domain::EventKind::Rendered)
            .count();
        assert_eq!(rendered, 1, "order {}: one 'rendered' event", row.id);
    }
    let stored: BTreeSet<String> = app
        .files
        .list("orders")
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(
        stored, expected,
        "exactly the files of the recorded renders"
    );
    for key in &stored {
        let bytes = app.files.get(key).await.unwrap();
        let sha = renderer::sha256_hex(&bytes);
        assert!(
            key.contains(&sha),
            "{key} holds bytes hashing to {sha}: half-written?"
        );
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_on_postgres_and_s3_survive_sigkill_after_every_40_completions() {
    let pg = testkit::PgDatabase::create().await.unwrap();
    let s3 = testkit::S3Server::start().unwrap();
    let farm = Farm::new(
        pg.url.clone(),
        FilesConfig::S3(S3Config {
            endpoint: s3.endpoint.clone(),
            bucket: s3.bucket.clone(),
            access_key_id: s3.access_key.clone(),
            secret_access_key: s3.secret_key.clone(),
            allow_http: true,
            ..S3Config::default()
        }),
    );
    let app = farm.app().await;
    import(&app, 200).await;
    let config = farm.config_file();
    let mut workers: Vec<Child> = (0..3).map(|_| farm.spawn_worker(&config, &[])).collect();
    let mut next = 0;
    let kills = wait_for_all_with_faults(&app, 200, 40, Duration::from_secs(300), || {
        let w = &mut workers[next % 3];
        kill(w);
        *w = farm.spawn_worker(&config, &[]);
        next += 1;
    })
    .await;
    for w in &mut workers {
        kill(w);
    }
    assert!(kills >= 3, "the test must actually kill workers ({kills})");
    check_outcome(&app, 200).await;
    // The server's disk holds the objects and nothing else (no partial uploads).
    let on_disk = testkit::files_below(&s3.bucket_dir().join("orders"));
    assert_eq!(on_disk.len(), 3 * 200, "{} files on disk", on_disk.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_loops_on_sqlite_survive_sigkill_after_every_100_completions() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite:{}", dir.path().join("pressroom.db").display());
    let files_root = dir.path().join("files");
    let farm = Farm::new(
        db_url,
        FilesConfig::Local {
            root: files_root.clone(),
        },
    );
    let app = farm.app().await;
    import(&app, 600).await;
    let config = farm.config_file();
    // Two worker loops in one process, on the one SQLite file.
    let mut worker = farm.spawn_worker(&config, &["--loops", "2"]);
    let kills = wait_for_all_with_faults(&app, 600, 100, Duration::from_secs(300), || {
        kill(&mut worker);
        worker = farm.spawn_worker(&config, &["--loops", "2"]);
    })
    .await;
    kill(&mut worker);
    assert!(
        kills >= 3,
        "the test must actually kill the worker ({kills})"
    );
    assert_eq!(app.db.integrity_check().await.unwrap(), "ok");
    check_outcome(&app, 600).await;
    // Only whole objects under final names; a write cut by SIGKILL can leave only a staging
    // file (`name#N`), which is never listed or served.
    for path in testkit::files_below(&files_root.join("orders")) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.contains('#') || name.len() > 64,
            "unexpected file {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_reconnect_after_postgres_stops_and_starts_under_load() {
    let pg = tokio::task::spawn_blocking(testkit::PrivatePostgres::init)
        .await
        .unwrap()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let farm = Farm::new(
        pg.url.clone(),
        FilesConfig::Local {
            root: dir.path().join("files"),
        },
    );
    let app = farm.app().await;
    import(&app, 80).await;
    let config = farm.config_file();
    let mut workers: Vec<Child> = (0..2).map(|_| farm.spawn_worker(&config, &[])).collect();
    // Let the workers get going, then take the database away for three seconds.
    let start = Instant::now();
    while app.db.queue_counts().await.unwrap().done < 10 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "workers never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pg.stop().unwrap();
    // A worker that starts while the database is away waits for it.
    workers.push(farm.spawn_worker(&config, &[]));
    tokio::time::sleep(Duration::from_secs(3)).await;
    pg.start().unwrap();
    wait_for_all(
        &app,
        80,
        Duration::from_secs(1),
        Duration::from_secs(180),
        |_| {},
    )
    .await;
    for w in &mut workers {
        assert!(
            w.try_wait().unwrap().is_none(),
            "a worker exited instead of reconnecting"
        );
        kill(w);
    }
    check_outcome(&app, 80).await;
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_worker_process_cannot_finish_a_job_that_was_taken_over() {
    let pg = testkit::PgDatabase::create().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files_root = dir.path().join("files");
    let mut farm = Farm::new(
        pg.url.clone(),
        FilesConfig::Local {
            root: files_root.clone(),
        },
    );
    // The standard workload with the slowest PNG encoder: seconds per job, so the worker is
    // surely holding the job when it is paused.
    farm.app_extra = "print_format = \"png_best\"".into();
    let config = farm.config_file();
    let mut settings = settings();
    settings.mapping.products.push(domain::ProductRule {
        sku: Some("WORKLOAD".into()),
        product_id: None,
        variation_id: None,
        template: "workload".into(),
    });
    for f in ["names", "year"] {
        settings.mapping.fields.push(domain::FieldMapping {
            meta_key: f.into(),
            field: f.into(),
        });
    }
    let db = Db::open(&farm.db_url, DbOptions::default()).await.unwrap();
    let app = App::new(
        db,
        Files::open(&farm.files, None).unwrap(),
        settings,
        app::system_clock(),
    )
    .unwrap();
    let order = serde_json::json!({
        "id": 1, "number": "1", "status": "processing", "total": "30.00",
        "line_items": [{"id": 1, "sku": "WORKLOAD", "quantity": 1, "total": "30.00", "meta_data": [
            {"id": 1, "key": "names", "value": "Ada & Alan"},
            {"id": 2, "key": "year", "value": "2026"},
            {"id": 3, "key": "Photo", "value": "templates/workload/photo.jpg"},
        ]}]
    });
    let source = ImportSource {
        actor: Actor::System,
        local_files: Some(testkit::repo_root().join("fixtures")),
    };
    let imported = app
        .import_order(&serde_json::to_vec(&order).unwrap(), &source)
        .await
        .unwrap();
    let job_id = imported.jobs[0];

    // Worker A claims the job; pause it (SIGSTOP) while it renders.
    let a_log = farm.dir.path().join("worker-a.log");
    let mut a = farm.spawn_worker_logging(
        &config,
        &[],
        Stdio::from(std::fs::File::create(&a_log).unwrap()),
    );
    let start = Instant::now();
    loop {
        let job = app.db.job(job_id).await.unwrap();
        if job.state == storage::queue::JobState::Running {
            signal(&a, "-STOP");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "worker A never claimed the job"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let held_by_a = app.db.job(job_id).await.unwrap();
    assert_eq!(
        held_by_a.state,
        storage::queue::JobState::Running,
        "A was paused holding the job"
    );

    // Worker B starts at once; when A's lease (2 s) runs out, B's reaper returns the job to
    // the queue and B takes it over and finishes it.
    let mut b = farm.spawn_worker(&config, &[]);
    wait_for_all(
        &app,
        1,
        Duration::from_millis(200),
        Duration::from_secs(120),
        |_| {},
    )
    .await;
    let done = app.db.job(job_id).await.unwrap();
    assert_ne!(done.worker, held_by_a.worker, "B finished it");
    let snapshot = |root: &Path| -> Vec<(PathBuf, std::time::SystemTime, u64)> {
        let mut v: Vec<_> = testkit::files_below(root)
            .into_iter()
            .map(|p| {
                let m = std::fs::metadata(&p).unwrap();
                (p, m.modified().unwrap(), m.len())
            })
            .collect();
        v.sort();
        v
    };
    let before = snapshot(&files_root.join("orders"));
    assert_eq!(before.len(), 3, "print, preview and report: {before:?}");

    // A resumes. Its heartbeat (or its attempt to record) finds the token stale, and it says
    // so; it keeps running. Then it shuts down gracefully, which waits for its job to end:
    // after that, nothing of A's can still happen.
    signal(&a, "-CONT");
    let start = Instant::now();
    loop {
        let said = std::fs::read_to_string(&a_log).unwrap_or_default();
        if said.contains("lease lost") || said.contains("taken over") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "A never noticed that it lost the job: {said}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        a.try_wait().unwrap().is_none(),
        "A keeps running after losing the job"
    );
    signal(&a, "-TERM");
    let exit = tokio::task::spawn_blocking(move || a.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "A shut down gracefully: {exit:?}");
    assert_eq!(app.db.renders(imported.order_id).await.unwrap().len(), 1);
    assert_eq!(app.db.job(job_id).await.unwrap().worker, done.worker);
    let after: Vec<_> = snapshot(&files_root.join("orders"))
        .into_iter()
        .filter(|(p, _, _)| !p.to_string_lossy().contains('#'))
        .collect();
    assert_eq!(after, before, "no file added or rewritten");
    kill(&mut b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_fire_a_periodic_job_once_per_period() {
    let pg = testkit::PgDatabase::create().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut farm = Farm::new(
        pg.url.clone(),
        FilesConfig::Local {
            root: dir.path().to_path_buf(),
        },
    );
    // The staging sweep every second, so a few periods pass quickly.
    farm.sweep_every_secs = 1;
    let config = farm.config_file();
    let mut workers: Vec<Child> = (0..2).map(|_| farm.spawn_worker(&config, &[])).collect();
    let db = Db::open(&pg.url, DbOptions::default()).await.unwrap();

    // Wait on progress: until four periods' jobs are done.
    let start = Instant::now();
    loop {
        let jobs = db.jobs_of_kind("sweep_staging").await.unwrap();
        if jobs
            .iter()
            .filter(|j| j.state == storage::JobState::Done)
            .count()
            >= 4
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "periodic jobs did not run: {jobs:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for w in &mut workers {
        assert!(
            w.try_wait().unwrap().is_none(),
            "both workers ran throughout"
        );
    }
    for w in &mut workers {
        kill(w);
    }

    // Read again with both workers gone, so the rows and the counts are of the same moment.
    let jobs = db.jobs_of_kind("sweep_staging").await.unwrap();
    let c = db.queue_counts().await.unwrap();
    assert_eq!(
        (c.queued + c.running + c.done + c.dead + c.cancelled) as usize,
        jobs.len(),
        "only sweep jobs were queued: {c:?}"
    );
    // Once per period: no two jobs were fired in the same one-second period, whichever of the
    // two processes fired them.
    let mut periods = BTreeSet::new();
    for j in &jobs {
        let period = j.run_at.timestamp();
        assert!(
            periods.insert(period),
            "two sweep jobs in the period starting at {period}: {jobs:?}"
        );
    }
    assert!(
        jobs.iter().all(|j| j.state != storage::JobState::Dead),
        "{jobs:?}"
    );
}

/// A worker process SIGKILLed after the provider accepted the order but before Pressroom
/// recorded it: the next worker looks the order up by our id first and records it, and the
/// provider holds one order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_after_the_provider_accepted_leaves_one_order_at_the_provider() {
    use testkit::provider_sim::{ProviderSim, ProviderSimOptions, SimProvider};
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite:{}", dir.path().join("pressroom.db").display());
    let sim = ProviderSim::start(ProviderSimOptions::default()).await;
    let mut farm = Farm::new(
        db_url,
        FilesConfig::Local {
            root: dir.path().join("files"),
        },
    );
    farm.app_extra = "default_provider = \"pf\"\n".into();
    let key = secrets::SecretKey::generate().unwrap();
    let config = farm.config_file();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("[secrets]\nkey = {key:?}\n"));
    std::fs::write(&config, text).unwrap();

    let db = Db::open(&farm.db_url, DbOptions::default()).await.unwrap();
    let mut s = settings();
    s.default_provider = "pf".into();
    let app = App::new(
        db,
        Files::open(&farm.files, None).unwrap(),
        s,
        app::system_clock(),
    )
    .unwrap()
    .with_secret_key(secrets::SecretKey::from_base64(&key).unwrap());
    app.put_provider(app::providers::ProviderInput {
        id: "pf".into(),
        kind: connectors::provider::ProviderKind::Printful,
        settings: app::providers::ProviderSettings {
            base_url: sim.base_url(),
            account: "12".into(),
            timeout_secs: 600,
            products: [("NAME-TAG".to_owned(), "4011:front:dtg".to_owned())].into(),
            ..Default::default()
        },
        api_key: app::stores::SecretText(sim.api_key(SimProvider::Printful)),
        webhook_secret: app::stores::SecretText(sim.webhook_secret(SimProvider::Printful)),
    })
    .await
    .unwrap();
    let mut body: serde_json::Value = serde_json::from_slice(&order(1)).unwrap();
    body["status"] = "processing".into();
    body["date_paid"] = serde_json::Value::Null;
    body["date_paid_gmt"] = serde_json::Value::Null;
    let source = ImportSource {
        actor: Actor::System,
        local_files: Some(testkit::repo_root().join("fixtures/orders")),
    };
    let order_id = app
        .import_order(&serde_json::to_vec(&body).unwrap(), &source)
        .await
        .unwrap()
        .order_id;

    let mut worker = farm.spawn_worker(&config, &[]);
    let started = Instant::now();
    while app.db.renders(order_id).await.unwrap().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(120), "not rendered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The provider takes the order and never answers; the worker dies waiting.
    sim.accept_then_hang(SimProvider::Printful);
    let answer = app
        .submit(
            order_id,
            domain::SubmitTrigger::Merchant,
            &Actor::Merchant("m".into()),
        )
        .await
        .unwrap();
    let app::submission::SubmitAnswer::Submitting { external_id, .. } = answer else {
        panic!("not claimed: {answer:?}");
    };
    while sim.count(SimProvider::Printful, &external_id) == 0 {
        assert!(started.elapsed() < Duration::from_secs(120), "never sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    kill(&mut worker);
    assert!(matches!(
        app.db
            .get_order(order_id)
            .await
            .unwrap()
            .order
            .submit_status,
        domain::SubmitStatus::Submitting { sends: 1, .. }
    ));

    // Another worker takes the job over once its lease ran out.
    let mut worker = farm.spawn_worker(&config, &[]);
    loop {
        let status = app
            .db
            .get_order(order_id)
            .await
            .unwrap()
            .order
            .submit_status;
        if matches!(status, domain::SubmitStatus::Submitted { .. }) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not submitted: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kill(&mut worker);
    assert_eq!(sim.count(SimProvider::Printful, &external_id), 1);
    // Looked up before anything else: Printful had the draft, so it was confirmed, not
    // created again.
    let lookups = sim.requests_to(SimProvider::Printful, testkit::provider_sim::SimOp::Lookup);
    assert!(!lookups.is_empty(), "looked up after the takeover");
    let history = app.db.history(order_id).await.unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|e| e.kind == domain::EventKind::Submitted)
            .count(),
        1
    );
}
