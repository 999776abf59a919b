//! `pressroom user add|list|passwd|stores|remove` and `pressroom token create|list|revoke`:
//! the accounts of the web UI and the API's bearer tokens. The first admin is made here.

use std::io::BufRead as _;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use app::auth::Role;
use clap::{Args, Subcommand};

use crate::config::Config;
use crate::roles::{init_logging, open_app, runtime};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from PRESSROOM_PASSWORD or, without it, from the
    /// first line of standard input (never from the command line, where `ps` would show it).
    Add(UserAddArgs),
    /// The users with their role and stores.
    List,
    /// Set a user's password (read like `add` does); their sessions end.
    Passwd { username: String },
    /// Set the stores a merchant sees.
    Stores {
        username: String,
        #[arg(long = "store", required = true)]
        stores: Vec<String>,
    },
    /// Remove a user with their sessions and tokens.
    Remove { username: String },
}

#[derive(Args)]
pub struct UserAddArgs {
    username: String,
    /// admin (sees everything) or merchant (sees their stores).
    #[arg(long, default_value = "merchant")]
    role: String,
    /// A store the merchant sees (repeat for more).
    #[arg(long = "store")]
    stores: Vec<String>,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make an API token for a user and print it (shown once: only its hash is kept).
    Create {
        username: String,
        /// What the token is for (shown in `token list`).
        #[arg(long, default_value = "api")]
        name: String,
    },
    /// A user's tokens (names and use, never values).
    List { username: String },
    /// Revoke a token by its id.
    Revoke { id: i64 },
}

fn read_password() -> Result<String> {
    if let Ok(p) = std::env::var("PRESSROOM_PASSWORD") {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        bail!("no password: set PRESSROOM_PASSWORD or write it on standard input");
    }
    Ok(password)
}

pub fn user(config: Config, cmd: UserCommand) -> Result<ExitCode> {
    init_logging(&config);
    runtime()?.block_on(async {
        let app = open_app(&config).await?;
        match cmd {
            UserCommand::Add(args) => {
                let Some(role) = Role::parse(&args.role) else {
                    bail!("--role {:?}: use admin or merchant", args.role);
                };
                if role == Role::Merchant && args.stores.is_empty() {
                    eprintln!(
                        "note: merchant {} sees no store yet (add --store, or `pressroom user stores`)",
                        args.username
                    );
                }
                let password = read_password()?;
                let user = app.add_user(&args.username, &password, role, &args.stores).await?;
                println!("user {} added ({})", user.username, user.role.as_str());
            }
            UserCommand::List => {
                for u in app.users().await? {
                    let stores = if u.is_admin() {
                        "all stores".to_string()
                    } else {
                        u.stores.join(", ")
                    };
                    println!("{}\t{}\t{}", u.username, u.role.as_str(), stores);
                }
            }
            UserCommand::Passwd { username } => {
                let password = read_password()?;
                app.set_password(&username, &password).await?;
                println!("password of {username} changed; their sessions ended");
            }
            UserCommand::Stores { username, stores } => {
                app.set_user_stores(&username, &stores).await?;
                println!("{username} sees {}", stores.join(", "));
            }
            UserCommand::Remove { username } => {
                app.remove_user(&username).await?;
                println!("user {username} removed");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn token(config: Config, cmd: TokenCommand) -> Result<ExitCode> {
    init_logging(&config);
    runtime()?.block_on(async {
        let app = open_app(&config).await?;
        match cmd {
            TokenCommand::Create { username, name } => {
                let token = app.create_token(&username, &name).await?;
                // Alone on stdout, so scripts can capture it.
                println!("{token}");
            }
            TokenCommand::List { username } => {
                let user = app.user_named(&username).await?;
                for t in app.db.tokens(user.id).await? {
                    let used = t
                        .last_used_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| "never used".into());
                    println!(
                        "{}\t{}\tcreated {}\t{used}",
                        t.id,
                        t.name,
                        t.created_at.to_rfc3339()
                    );
                }
            }
            TokenCommand::Revoke { id } => {
                if !app.db.delete_token(id).await? {
                    bail!("no token {id}");
                }
                println!("token {id} revoked");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
