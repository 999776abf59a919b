//! `pressroom`: one binary, several roles: `serve` (HTTP + a worker), `worker` (render-farm
//! worker), `migrate`, `order` (add / render / show / edit / submit / hold / unhold / cancel /
//! ship / accept-preflight / test), `store` (connect WooCommerce stores), `provider`
//! (fulfillment provider accounts), `import` (pull a store's orders), `webhook` (outbound
//! webhooks), `config`, `secrets-key`, and `render` (one print file from a template folder,
//! no database).
#![forbid(unsafe_code)]

mod config;
mod coordinator_cmd;
mod edit_cmd;
mod order_cmd;
mod render_cmd;
mod roles;
mod store_cmd;
mod user_cmd;
mod webhook_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "pressroom",
    version,
    about = "Self-hosted web-to-print: WooCommerce orders in, 300-DPI print files out"
)]
struct Cli {
    /// Configuration file (default: $PRESSROOM_CONFIG, else ./pressroom.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a template with personalization values into a print file (and preview, mockup, report).
    Render(render_cmd::RenderArgs),
    /// Run the HTTP server (API, downloads, health, metrics) with a worker in the same process.
    Serve(roles::ServeArgs),
    /// Run a worker: claim jobs (all kinds, or `--kinds render` on a render farm) from the shared database.
    Worker(roles::WorkerArgs),
    /// Bring the database schema up to date (also done on every start).
    Migrate,
    /// Orders: import one, re-render one, show one, edit one's personalization.
    #[command(subcommand)]
    Order(order_cmd::OrderCommand),
    /// Connected WooCommerce stores: add, list, show, test, remove.
    #[command(subcommand)]
    Store(store_cmd::StoreCommand),
    /// Fulfillment provider accounts: add, list, show, remove.
    #[command(subcommand)]
    Provider(coordinator_cmd::ProviderCommand),
    /// Import a store's orders: all, by creation date, or by id (new ones created, known ones
    /// updated; running it again changes nothing).
    Import(store_cmd::ImportArgs),
    /// Outbound webhooks: URLs that receive signed order events (add, list, show, remove,
    /// deliveries, test).
    #[command(subcommand)]
    Webhook(webhook_cmd::WebhookCommand),
    /// Users of the web UI and the API: add (the first admin too), list, passwd, stores, remove.
    #[command(subcommand)]
    User(user_cmd::UserCommand),
    /// API bearer tokens: create, list, revoke.
    #[command(subcommand)]
    Token(user_cmd::TokenCommand),
    /// Print a new key for `secrets.key` (store credentials are sealed with it).
    SecretsKey,
    /// Print the effective configuration (secrets hidden).
    Config,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Render(args) => render_cmd::run(args),
        Command::SecretsKey => match secrets::SecretKey::generate() {
            Ok(key) => {
                println!("{key}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        },
        command => {
            let config = match config::Config::load(cli.config.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return ExitCode::from(2);
                }
            };
            let result = match command {
                Command::Config => config
                    .to_redacted_toml()
                    .map(|t| print!("{t}"))
                    .map(|_| ExitCode::SUCCESS),
                Command::Migrate => roles::migrate(&config),
                Command::Serve(args) => roles::serve(config, args),
                Command::Worker(args) => roles::worker(config, args),
                Command::Order(cmd) => order_cmd::order(config, cmd),
                Command::Store(cmd) => store_cmd::store(config, cmd),
                Command::Provider(cmd) => coordinator_cmd::provider(config, cmd),
                Command::Import(args) => store_cmd::import(config, args),
                Command::Webhook(cmd) => webhook_cmd::webhook(config, cmd),
                Command::User(cmd) => user_cmd::user(config, cmd),
                Command::Token(cmd) => user_cmd::token(config, cmd),
                Command::Render(_) | Command::SecretsKey => unreachable!("handled above"),
            };
            match result {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
