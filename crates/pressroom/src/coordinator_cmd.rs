//! `pressroom provider add|list|show|remove` and the order actions of the coordinator:
//! `pressroom order submit|hold|unhold|cancel|ship|accept-preflight|test`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use app::App;
use app::order_actions::OrderAction;
use app::providers::{ProviderInput, ProviderSettings};
use app::stores::SecretText;
use app::submission::SubmitAnswer;
use clap::{Args, Subcommand};
use connectors::provider::ProviderKind;
use domain::{Actor, ShipmentUpdate};

use crate::config::Config;
use crate::roles::{init_logging, open_app, runtime};

#[derive(Subcommand)]
pub enum ProviderCommand {
    /// Add a fulfillment provider account, or change one (a secret not given keeps the
    /// stored one).
    Add(ProviderAddArgs),
    /// The provider accounts, the built-in `manual` and `sandbox` included (secrets never
    /// shown).
    List,
    Show {
        id: String,
    },
    Remove {
        id: String,
    },
}

#[derive(Args)]
pub struct ProviderAddArgs {
    /// A short name for the account, used in webhook URLs: lowercase letters, digits, '-'
    /// and '_'.
    id: String,
    /// printful, custom_cat, shine_on, gelato, manual or sandbox.
    #[arg(long)]
    kind: ProviderKind,
    #[arg(long, env = "PRESSROOM_PROVIDER_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Printful's webhook signing secret, or the token other providers' webhook URLs carry
    /// (default: a new random one).
    #[arg(
        long,
        env = "PRESSROOM_PROVIDER_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    webhook_secret: Option<String>,
    /// The rest of the settings (address, account, products, concurrency) as TOML.
    #[arg(long)]
    settings: Option<PathBuf>,
    /// The API's address (default: the provider's production address).
    #[arg(long)]
    base_url: Option<String>,
    /// Printful store id, or the provider's account id.
    #[arg(long)]
    account: Option<String>,
    /// Requests in flight at once.
    #[arg(long)]
    concurrency: Option<usize>,
}

/// The coordinator's order commands (variants of `pressroom order`).
#[derive(Subcommand)]
pub enum OrderAct {
    /// Submit an order to its provider (the same path as the button and the countdown).
    Submit { ids: Vec<i64> },
    /// Put an order on hold (pauses its countdown; written to the store).
    Hold { id: i64 },
    /// Take an order off hold (resumes its countdown).
    Unhold { id: i64 },
    /// Cancel an order (and ask its provider to cancel it where it can).
    Cancel { id: i64 },
    /// Type a parcel's carrier and tracking number (manual provider).
    Ship {
        id: i64,
        #[arg(long)]
        carrier: String,
        #[arg(long)]
        tracking: String,
        #[arg(long, default_value = "")]
        url: String,
    },
    /// Accept the preflight errors of an item's latest render (recorded with who did it).
    AcceptPreflight {
        id: i64,
        #[arg(long)]
        item: i64,
    },
    /// Place a test order with sample values: it renders, counts down and goes to the
    /// sandbox provider, never to the store.
    Test {
        #[arg(long)]
        template: String,
    },
}

fn cli() -> Actor {
    Actor::Merchant("cli".into())
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn provider(config: Config, cmd: ProviderCommand) -> Result<ExitCode> {
    init_logging(&config);
    runtime()?.block_on(async {
        let app = open_app(&config).await?;
        match cmd {
            ProviderCommand::Add(args) => {
                let mut settings: ProviderSettings = match &args.settings {
                    Some(path) => {
                        let text = std::fs::read_to_string(path)
                            .with_context(|| format!("read {}", path.display()))?;
                        toml::from_str(&text).with_context(|| format!("{}", path.display()))?
                    }
                    None => match app.provider_summary(&args.id).await {
                        Ok(existing) => existing.settings,
                        Err(_) => ProviderSettings::default(),
                    },
                };
                if let Some(v) = args.base_url {
                    settings.base_url = v;
                }
                if let Some(v) = args.account {
                    settings.account = v;
                }
                if let Some(v) = args.concurrency {
                    settings.concurrency = v;
                }
                let generated = args.webhook_secret.is_none()
                    && !matches!(args.kind, ProviderKind::Manual | ProviderKind::Sandbox)
                    && !app
                        .provider_summary(&args.id)
                        .await
                        .is_ok_and(|s| s.webhook_secret_set);
                let webhook_secret = match args.webhook_secret {
                    Some(s) => s,
                    None if generated => secrets::SecretKey::generate()?
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric())
                        .take(32)
                        .collect(),
                    None => String::new(),
                };
                let summary = app
                    .put_provider(ProviderInput {
                        id: args.id.clone(),
                        kind: args.kind,
                        settings,
                        api_key: SecretText(args.api_key.unwrap_or_default()),
                        webhook_secret: SecretText(webhook_secret.clone()),
                    })
                    .await?;
                print_json(&summary)?;
                if generated {
                    eprintln!(
                        "webhook URL for the provider (keep it secret): {}/webhooks/providers/{}/{}",
                        config.server.public_url.trim_end_matches('/'),
                        args.id,
                        webhook_secret
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            ProviderCommand::List => {
                print_json(&app.provider_summaries().await?)?;
                Ok(ExitCode::SUCCESS)
            }
            ProviderCommand::Show { id } => {
                print_json(&app.provider_summary(&id).await?)?;
                Ok(ExitCode::SUCCESS)
            }
            ProviderCommand::Remove { id } => {
                app.remove_provider(&id).await?;
                eprintln!("provider account {id} removed");
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

/// Run one of the coordinator's order commands; exit 1 when an order was not submitted as
/// asked.
pub async fn order_act(app: &App, cmd: OrderAct) -> Result<ExitCode> {
    match cmd {
        OrderAct::Submit { ids } => {
            let mut ok = true;
            for (id, answer) in app.bulk_submit(&ids, &cli()).await {
                ok &= matches!(
                    answer,
                    SubmitAnswer::Submitting { .. } | SubmitAnswer::Submitted { .. }
                );
                print_json(&serde_json::json!({"order_id": id, "answer": answer}))?;
            }
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        OrderAct::Hold { id } => action(app, id, OrderAction::Hold).await,
        OrderAct::Unhold { id } => action(app, id, OrderAction::Unhold).await,
        OrderAct::Cancel { id } => action(app, id, OrderAction::Cancel).await,
        OrderAct::Ship {
            id,
            carrier,
            tracking,
            url,
        } => {
            let applied = app
                .add_manual_shipment(
                    id,
                    ShipmentUpdate {
                        carrier,
                        tracking_number: tracking,
                        tracking_url: url,
                        ..ShipmentUpdate::default()
                    },
                    &cli(),
                )
                .await?;
            print_json(&applied)?;
            Ok(ExitCode::SUCCESS)
        }
        OrderAct::AcceptPreflight { id, item } => {
            let version = app.override_preflight(id, item, &cli()).await?;
            print_json(&serde_json::json!({"order_id": id, "item_id": item, "version": version}))?;
            Ok(ExitCode::SUCCESS)
        }
        OrderAct::Test { template } => {
            let id = app.place_test_order(&template, &cli()).await?;
            print_json(&serde_json::json!({"order_id": id, "test": true}))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The CLI's confirmation is the command itself (typed on purpose).
async fn action(app: &App, id: i64, action: OrderAction) -> Result<ExitCode> {
    let done = app.order_action(id, action, true, &cli()).await?;
    print_json(&done)?;
    Ok(ExitCode::SUCCESS)
}
