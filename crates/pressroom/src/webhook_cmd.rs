//! `pressroom webhook add|list|show|remove|deliveries|test`: the merchant's outbound webhook
//! endpoints. The signing secret is printed once, by `add`; afterwards only its hint.

use std::process::ExitCode;

use anyhow::Result;
use app::outbound::WebhookInput;
use clap::{Args, Subcommand};

use crate::config::Config;
use crate::roles::{init_logging, open_app, runtime};

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Register a URL to receive signed order events (prints its secret, once).
    Add(AddArgs),
    /// The registered endpoints (secrets never shown).
    List,
    /// One endpoint.
    Show { id: String },
    /// Stop sending to an endpoint (its queued deliveries and log are removed).
    Remove { id: String },
    /// An endpoint's newest deliveries with every attempt, newest first.
    Deliveries {
        id: String,
        /// How many deliveries to show.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Queue a `ping` event to an endpoint (a worker sends it; see `deliveries`).
    Test { id: String },
}

#[derive(Args)]
pub struct AddArgs {
    /// Where events are POSTed, e.g. https://erp.example/hooks/pressroom
    url: String,
    /// An event to send (repeatable): order.imported, order.rendered,
    /// order.preflight_failed, order.submitted, order.failed, order.shipped,
    /// order.delivered. Default: every event.
    #[arg(long = "event", value_name = "EVENT")]
    events: Vec<String>,
    /// A note for the merchant (what receives these).
    #[arg(long, default_value = "")]
    description: String,
    /// The signing secret (default: a new random one).
    #[arg(long, env = "PRESSROOM_WEBHOOK_SECRET", hide_env_values = true)]
    secret: Option<String>,
}

pub fn webhook(config: Config, cmd: WebhookCommand) -> Result<ExitCode> {
    init_logging(&config);
    runtime()?.block_on(async {
        let app = open_app(&config).await?;
        match cmd {
            WebhookCommand::Add(args) => {
                let created = app
                    .add_webhook(WebhookInput {
                        url: args.url,
                        events: args.events,
                        description: args.description,
                        secret: args.secret,
                    })
                    .await?;
                println!("{}", serde_json::to_string_pretty(&created.webhook)?);
                println!(
                    "signing secret (shown only now; keep it with the receiver):\n{}",
                    created.secret
                );
                println!(
                    "Deliveries carry Pressroom-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">; see docs/webhooks.md."
                );
            }
            WebhookCommand::List => {
                println!("{}", serde_json::to_string_pretty(&app.webhooks().await?)?);
            }
            WebhookCommand::Show { id } => {
                println!("{}", serde_json::to_string_pretty(&app.webhook(&id).await?)?);
            }
            WebhookCommand::Remove { id } => {
                app.remove_webhook(&id).await?;
                println!("webhook {id} removed");
            }
            WebhookCommand::Deliveries { id, limit } => {
                let log = app.webhook_deliveries(&id, limit.clamp(1, 1000)).await?;
                println!("{}", serde_json::to_string_pretty(&log)?);
            }
            WebhookCommand::Test { id } => {
                let delivery = app.test_webhook(&id).await?;
                println!(
                    "ping queued as delivery {delivery}; a worker sends it (see `pressroom webhook deliveries {id}`)"
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
