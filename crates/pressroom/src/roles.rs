//! The roles that use the database: serve, worker, migrate, order. Each builds a tokio
//! runtime, opens the database (migrating it) and the file store, and wires an [`app::App`].

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use app::{App, Worker, WorkerOptions};
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (overrides server.listen).
    #[arg(long)]
    listen: Option<String>,
    /// Do not run a worker in this process.
    #[arg(long)]
    no_worker: bool,
    /// Run the demo: a fresh SQLite database and files folder under `<data_dir>/demo`, a
    /// simulated WooCommerce store placing a personalized order every few seconds, the
    /// Sandbox provider with a two-minute countdown, and demo logins (printed).
    #[arg(long)]
    demo: bool,
    /// Seconds between the demo store's orders.
    #[arg(long, default_value_t = 8, requires = "demo")]
    demo_every: u64,
}

#[derive(Args)]
pub struct WorkerArgs {
    /// Renders at once (overrides worker.concurrency; 0 = by cores and memory).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Worker name in job rows and logs (overrides worker.id).
    #[arg(long)]
    id: Option<String>,
    /// How many worker loops to run in this process (each with its own slots).
    #[arg(long, default_value_t = 1)]
    loops: usize,
    /// Serve /metrics and /healthz on this address (overrides worker.metrics_listen).
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Take only these job kinds, comma-separated (e.g. `render` on render-farm machines;
    /// default: every kind). Unknown names are refused with the list of known ones.
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<String>,
    /// I/O jobs (HTTP calls) at once, in slots of their own (default 16).
    #[arg(long)]
    io_concurrency: Option<usize>,
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub(crate) fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if config.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub(crate) async fn open_app(config: &Config) -> Result<Arc<App>> {
    if config.database.url.is_empty() || config.files.kind == "local" {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("create data folder {}", config.data_dir.display()))?;
    }
    let url = config.database_url();
    let options = storage::DbOptions {
        max_connections: config.database.max_connections,
        ..Default::default()
    };
    // A database that is restarting (or not up yet when a farm boots) is waited for, up to
    // a minute; a wrong URL or password fails at once.
    let started = std::time::Instant::now();
    let db = loop {
        match storage::Db::open(&url, options.clone()).await {
            Ok(db) => break db,
            Err(e) if e.is_retryable() && started.elapsed() < Duration::from_secs(60) => {
                tracing::warn!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("database {}", crate::config::redact_url_password(&url))
                });
            }
        }
    };
    let files = storage::Files::open(&config.files_config()?, Some(config.url_mode()?))?;
    let mut settings = config.app.clone();
    if settings.public_url.is_empty() {
        settings.public_url = config.server.public_url.clone();
    }
    let app =
        App::new(db, files, settings, app::system_clock())?.with_secret_key(config.secret_key()?);
    Ok(Arc::new(app))
}

/// Removes staging files that a killed worker left in the local files folder (a no-op on S3);
/// after this, the periodic `sweep_staging` job does it once per period for the whole farm.
async fn sweep_staging(app: &App) {
    match app::housekeeping::sweep_staging(app).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(files = n, "removed staging files of interrupted writes"),
        Err(e) => tracing::warn!(error = %e, "could not sweep staging files"),
    }
}

pub fn migrate(config: &Config) -> Result<ExitCode> {
    init_logging(config);
    runtime()?.block_on(async {
        let url = config.database_url();
        if url.starts_with("sqlite:") {
            std::fs::create_dir_all(&config.data_dir)?;
        }
        let db = storage::Db::connect(&url, Default::default()).await?;
        db.migrate().await?;
        println!(
            "database {} is up to date",
            crate::config::redact_url_password(&url)
        );
        Ok(ExitCode::SUCCESS)
    })
}

pub(crate) fn worker_options(
    config: &Config,
    id: Option<String>,
    concurrency: Option<usize>,
) -> WorkerOptions {
    let id = id.filter(|s| !s.is_empty()).unwrap_or_else(|| {
        if config.worker.id.is_empty() {
            let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "host".into());
            format!("{}-{}", host.trim(), std::process::id())
        } else {
            config.worker.id.clone()
        }
    });
    let mut opts = WorkerOptions::new(id);
    let concurrency = concurrency.unwrap_or(config.worker.concurrency);
    if concurrency > 0 {
        opts.concurrency = concurrency;
    }
    opts.lease = Duration::from_secs(config.worker.lease_secs.max(1));
    opts.poll = Duration::from_millis(config.worker.poll_ms.max(10));
    opts.grace = Duration::from_secs(config.worker.grace_secs);
    opts.sweep_every = (config.worker.sweep_every_secs > 0)
        .then(|| Duration::from_secs(config.worker.sweep_every_secs));
    opts.reconcile_every = (config.worker.reconcile_every_secs > 0)
        .then(|| Duration::from_secs(config.worker.reconcile_every_secs));
    opts.poll_shipments_every = (config.worker.poll_shipments_every_secs > 0)
        .then(|| Duration::from_secs(config.worker.poll_shipments_every_secs));
    opts
}

/// Cancelled on SIGTERM or Ctrl-C.
fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        tracing::info!("shutdown requested");
        t.cancel();
    });
    token
}

/// The demo's configuration: the embedded default in a fresh `<data_dir>/demo`, whatever the
/// configuration named, so trying the demo never touches real data.
fn demo_config(mut config: Config) -> Result<Config> {
    let dir = config.data_dir.join("demo");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("start the demo afresh: remove {}", dir.display()))?;
    }
    config.data_dir = dir;
    config.database.url = String::new();
    config.files.kind = "local".into();
    config.files.root = std::path::PathBuf::new();
    demo::adjust_settings(&mut config.app);
    Ok(config)
}

pub fn serve(config: Config, args: ServeArgs) -> Result<ExitCode> {
    let config = if args.demo {
        demo_config(config)?
    } else {
        config
    };
    init_logging(&config);
    runtime()?.block_on(async {
        let app = open_app(&config).await?;
        let listen = args.listen.unwrap_or_else(|| config.server.listen.clone());
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("listen on {listen}"))?;
        let addr = listener.local_addr()?;
        // The first line on stdout names the address (tests and scripts bind port 0).
        println!("listening on http://{addr}");
        let shutdown = shutdown_on_signals();
        if args.demo {
            // The simulated store delivers its webhooks here, on this machine.
            let base = format!("http://127.0.0.1:{}", addr.port());
            let store = Arc::new(demo::Demo::start(&app, &base).await?);
            println!(
                "Pressroom demo: open http://127.0.0.1:{}/ and sign in as {} / {} (admin) or \
                 {} / {} (the demo store's merchant). A new order arrives every {} s; data in {}",
                addr.port(),
                demo::ADMIN.0,
                demo::ADMIN.1,
                demo::MERCHANT.0,
                demo::MERCHANT.1,
                args.demo_every,
                config.data_dir.display()
            );
            tokio::spawn(store.run(
                Duration::from_secs(args.demo_every.max(1)),
                shutdown.clone(),
            ));
        }
        if config.server.embedded_worker && !args.no_worker {
            sweep_staging(&app).await;
        }
        let worker = (config.server.embedded_worker && !args.no_worker).then(|| {
            let opts = worker_options(&config, None, None);
            tokio::spawn(Worker::new(app.clone(), opts).run(shutdown.clone()))
        });
        // The JSON API and the web UI on one address.
        let router = server::router(app.clone()).merge(web::router(app.clone()));
        server::serve_router(listener, router, shutdown.clone()).await?;
        if let Some(w) = worker {
            w.await?;
        }
        app.db.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

pub fn worker(config: Config, args: WorkerArgs) -> Result<ExitCode> {
    init_logging(&config);
    app::worker::check_kinds(&args.kinds).context("--kinds")?;
    runtime()?.block_on(async {
        let app = open_app(&config).await?;
        sweep_staging(&app).await;
        let shutdown = shutdown_on_signals();
        let metrics_listen = args
            .metrics_listen
            .unwrap_or_else(|| config.worker.metrics_listen.clone());
        let metrics = if metrics_listen.is_empty() {
            None
        } else {
            let listener = tokio::net::TcpListener::bind(&metrics_listen)
                .await
                .with_context(|| format!("metrics listener on {metrics_listen}"))?;
            // The first line on stdout names the address (tests and scripts bind port 0).
            println!("metrics on http://{}", listener.local_addr()?);
            Some(tokio::spawn(server::run_metrics(
                listener,
                app.clone(),
                shutdown.clone(),
            )))
        };
        let mut base = worker_options(&config, args.id, args.concurrency);
        base.kinds = args.kinds.clone();
        if let Some(n) = args.io_concurrency.filter(|&n| n > 0) {
            base.io_concurrency = n;
        }
        let mut loops = vec![];
        for n in 0..args.loops.max(1) {
            let mut opts = base.clone();
            if args.loops > 1 {
                opts.id = format!("{}-{n}", base.id);
            }
            loops.push(tokio::spawn(
                Worker::new(app.clone(), opts).run(shutdown.clone()),
            ));
        }
        for l in loops {
            l.await?;
        }
        if let Some(m) = metrics {
            m.await??;
        }
        app.db.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// One line per render version, with where its files are.
pub(crate) async fn print_renders(app: &App, config: &Config, order_id: i64) -> Result<()> {
    let local_root = match config.files_config()? {
        storage::FilesConfig::Local { root } => Some(root),
        storage::FilesConfig::S3(_) => None,
    };
    let place = |key: &str| match &local_root {
        Some(root) => root.join(key).display().to_string(),
        None => key.to_string(),
    };
    for r in app.db.renders(order_id).await? {
        let x = &r.render;
        println!(
            "order {order_id} item {} version {}: {} preflight error(s), {} warning(s)",
            x.item_id, r.version, x.preflight_errors, x.preflight_warnings
        );
        println!("  print   {}", place(&x.print_key));
        println!("  preview {}", place(&x.preview_key));
        if let Some(m) = &x.mockup_key {
            println!("  mockup  {}", place(m));
        }
        println!("  report  {}", place(&x.report_key));
    }
    Ok(())
}

/// Run a worker in this process until the given jobs are finished.
pub(crate) async fn run_until_done(app: &Arc<App>, config: &Config, jobs: &[i64]) -> Result<()> {
    let stop = CancellationToken::new();
    let opts = worker_options(config, Some(format!("cli-{}", std::process::id())), None);
    let worker = tokio::spawn(Worker::new(app.clone(), opts).run(stop.clone()));
    loop {
        let mut pending = false;
        for &id in jobs {
            let job = app.db.job(id).await?;
            match job.state {
                storage::queue::JobState::Done => {}
                storage::queue::JobState::Dead => {
                    stop.cancel();
                    worker.await?;
                    anyhow::bail!(
                        "render job {id} failed: {}",
                        job.last_error.unwrap_or_default()
                    );
                }
                _ => pending = true,
            }
        }
        if !pending {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    worker.await?;
    Ok(())
}
