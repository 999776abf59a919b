//! `pressroom store add|list|show|test|remove` and `pressroom import`: connecting WooCommerce
//! stores and pulling their orders, with a progress bar and a summary.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use app::store_import::ImportScope;
use app::stores::{SecretText, StoreInput, webhook_url};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use domain::{Actor, StoreSettings};

use crate::config::Config;
use crate::roles::{init_logging, open_app, runtime};

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Connect a WooCommerce store, or change one (a secret not given keeps the stored one).
    Add(AddArgs),
    /// The connected stores (secrets never shown).
    List,
    /// One store, with its last webhook and last reconcile.
    Show { id: String },
    /// Check the address, the REST API, the credentials and the extensions, in plain words.
    Test { id: String },
    /// Disconnect a store (its orders stay).
    Remove { id: String },
}

#[derive(Args)]
pub struct AddArgs {
    /// A short name for the store, used in URLs: lowercase letters, digits, '-' and '_'.
    id: String,
    /// The shop's address, e.g. https://shop.example/
    #[arg(long)]
    url: Option<String>,
    /// REST API consumer key (WooCommerce > Settings > Advanced > REST API, Read/Write).
    #[arg(long, env = "PRESSROOM_STORE_CONSUMER_KEY", hide_env_values = true)]
    consumer_key: Option<String>,
    #[arg(long, env = "PRESSROOM_STORE_CONSUMER_SECRET", hide_env_values = true)]
    consumer_secret: Option<String>,
    /// The secret WooCommerce signs webhooks with (default: a new random one).
    #[arg(long, env = "PRESSROOM_STORE_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// The rest of the store's settings (mapping, order types, countdown, provider) as TOML.
    #[arg(long)]
    settings: Option<PathBuf>,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    submit_after_hours: Option<f64>,
    #[arg(long)]
    default_provider: Option<String>,
    /// Send the credentials in the query string (for servers that drop the Authorization
    /// header).
    #[arg(long)]
    auth_in_query: bool,
    /// Register the order webhooks in the store, delivering to server.public_url.
    #[arg(long)]
    register_webhooks: bool,
}

#[derive(Args)]
pub struct ImportArgs {
    /// The store to import from.
    #[arg(long)]
    store: String,
    /// Every order.
    #[arg(long, conflicts_with_all = ["after", "ids"])]
    all: bool,
    /// Orders created after this date or time (2024-05-01 or 2024-05-01T12:00:00Z).
    #[arg(long, value_parser = parse_time)]
    after: Option<DateTime<Utc>>,
    /// …and before this one.
    #[arg(long, value_parser = parse_time, requires = "after")]
    before: Option<DateTime<Utc>>,
    /// These order ids, comma-separated.
    #[arg(long, value_delimiter = ',', conflicts_with = "after")]
    ids: Vec<i64>,
    /// No progress bar (logs and scripts).
    #[arg(long)]
    quiet: bool,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        .map_err(|_| format!("{s:?}: use 2024-05-01 or 2024-05-01T12:00:00Z"))
}

fn random_secret() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("read /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn store(config: Config, cmd: StoreCommand) -> Result<ExitCode> {
    init_logging(&config);
    runtime()?.block_on(async {
        let app = open_app(&config).await?;
        match cmd {
            StoreCommand::Add(args) => add(&app, &config, args).await,
            StoreCommand::List => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&app.store_summaries().await?)?
                );
                Ok(ExitCode::SUCCESS)
            }
            StoreCommand::Show { id } => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&app.store_summary(&id).await?)?
                );
                Ok(ExitCode::SUCCESS)
            }
            StoreCommand::Test { id } => {
                let report = app.test_store(&id).await?;
                for c in &report.checks {
                    println!(
                        "{} {}: {}",
                        if c.ok { "ok  " } else { "FAIL" },
                        c.name,
                        c.message
                    );
                }
                Ok(if report.ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            }
            StoreCommand::Remove { id } => {
                app.remove_store(&id).await?;
                println!("store {id} removed; its orders are kept");
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

async fn add(app: &app::App, config: &Config, args: AddArgs) -> Result<ExitCode> {
    let existing = app.db.store(&args.id).await?.is_some();
    let mut settings: StoreSettings = match &args.settings {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("{}", path.display()))?
        }
        None if existing => app.connected_store(&args.id).await?.settings,
        None => StoreSettings::default(),
    };
    if let Some(url) = args.url {
        settings.url = url;
    }
    if let Some(name) = args.name {
        settings.name = name;
    }
    if let Some(h) = args.submit_after_hours {
        settings.submit_after_hours = h;
    }
    if let Some(p) = args.default_provider {
        settings.default_provider = p;
    }
    if args.auth_in_query {
        settings.auth_in_query = true;
    }
    let generated = args.webhook_secret.is_none() && !existing;
    let webhook_secret = match args.webhook_secret {
        Some(s) => s,
        None if existing => String::new(),
        None => random_secret()?,
    };
    let summary = app
        .put_store(StoreInput {
            id: args.id.clone(),
            settings,
            consumer_key: SecretText(args.consumer_key.unwrap_or_default()),
            consumer_secret: SecretText(args.consumer_secret.unwrap_or_default()),
            webhook_secret: SecretText(webhook_secret.clone()),
        })
        .await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    let delivery = webhook_url(&config.server.public_url, &args.id);
    if args.register_webhooks {
        let ids = app.register_webhooks(&args.id, &delivery).await?;
        println!(
            "registered {} webhook(s) in the store, delivering to {delivery}",
            ids.len()
        );
    } else {
        println!(
            "To receive orders as they happen, add these webhooks in WooCommerce > Settings > Advanced > Webhooks (or run again with --register-webhooks):"
        );
        for topic in app::stores::WEBHOOK_TOPICS {
            println!("  topic {topic:<14} delivery URL {delivery}");
        }
        if generated {
            println!("  secret {webhook_secret}");
            println!("(this generated secret is shown this once; it is stored sealed)");
        } else {
            println!("  secret: the webhook secret you gave");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn import(config: Config, args: ImportArgs) -> Result<ExitCode> {
    init_logging(&config);
    let scope = if args.all {
        ImportScope::All
    } else if let Some(after) = args.after {
        ImportScope::Range {
            after,
            before: args.before,
        }
    } else if !args.ids.is_empty() {
        ImportScope::Ids { ids: args.ids }
    } else {
        anyhow::bail!("say which orders: --all, --after DATE [--before DATE], or --ids 1,2,3");
    };
    runtime()?.block_on(async {
        let app = open_app(&config).await?;
        let id = app
            .start_store_import(&args.store, &scope, &Actor::Merchant("cli".into()))
            .await?;
        let bar = if args.quiet {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(0)
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{bar:40}] {pos}/{len} orders {msg} ({elapsed})",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        let shown = bar.clone();
        let result = app
            .run_store_import(id, &move |p| {
                shown.set_length(p.total.max(p.seen) as u64);
                shown.set_position(p.seen as u64);
                shown.set_message(format!(
                    "new {} updated {} unchanged {} failed {}",
                    p.created, p.updated, p.unchanged, p.failed
                ));
            })
            .await;
        bar.finish_and_clear();
        let row = app.db.import(id).await?;
        let p = &row.progress;
        println!(
            "import {id} from {}: {} order(s): {} new, {} updated, {} unchanged, {} failed",
            args.store, p.seen, p.created, p.updated, p.unchanged, p.failed
        );
        for f in &p.failures {
            println!(
                "  order {}: {}",
                f["store_order_id"],
                f["reason"].as_str().unwrap_or_default()
            );
        }
        match result {
            Ok(_) if p.failed == 0 => Ok(ExitCode::SUCCESS),
            Ok(_) => Ok(ExitCode::from(1)),
            Err(e) => {
                eprintln!("error: the import stopped: {e}");
                Ok(ExitCode::from(1))
            }
        }
    })
}
