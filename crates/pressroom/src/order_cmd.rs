//! `pressroom order`: add, render, show, edit and the coordinator's actions, each on the
//! database directly (with a worker in this process where a command waits for renders).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use app::import::ImportSource;
use app::{App, Worker};
use clap::Subcommand;
use domain::Actor;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::roles::{
    init_logging, open_app, print_renders, run_until_done, runtime, worker_options,
};

#[derive(Subcommand)]
pub enum OrderCommand {
    /// Import a WooCommerce REST v3 order (JSON file); its personalized items are queued for rendering.
    Add {
        file: PathBuf,
        /// Render its items in this process and wait (no separate worker needed).
        #[arg(long)]
        wait: bool,
    },
    /// Queue a new render of an order's personalized items (or one item).
    Render {
        id: i64,
        #[arg(long)]
        item: Option<i64>,
        /// Render in this process and wait for the result instead of only queueing.
        #[arg(long)]
        wait: bool,
    },
    /// Print an order with its renders, jobs and history as JSON.
    Show { id: i64 },
    #[command(flatten)]
    Act(crate::coordinator_cmd::OrderAct),
    /// Change an item's personalization before submission (values, photos, template) and
    /// queue its new render version.
    Edit(crate::edit_cmd::EditArgs),
}

pub fn order(config: Config, cmd: OrderCommand) -> Result<ExitCode> {
    init_logging(&config);
    runtime()?.block_on(async {
        let app = open_app(&config).await?;
        match cmd {
            OrderCommand::Add { file, wait } => {
                let body =
                    std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
                let base = file.parent().map(PathBuf::from).unwrap_or_default();
                let source = ImportSource {
                    actor: Actor::Merchant("cli".into()),
                    local_files: Some(base),
                };
                match app.import_order(&body, &source).await {
                    Ok(imported) => {
                        println!("{}", serde_json::to_string_pretty(&imported)?);
                        // Adding the same order again changes nothing and is not an error
                        // (the first command of the README may be run twice).
                        if imported.outcome != app::import::Outcome::Created {
                            eprintln!(
                                "{}: already imported as order {} ({}){}",
                                file.display(),
                                imported.order_id,
                                imported.outcome.as_str(),
                                if imported.jobs.is_empty() {
                                    format!("; nothing to render (`pressroom order render {} --wait` renders it again)", imported.order_id)
                                } else {
                                    String::new()
                                }
                            );
                        }
                        if wait {
                            // Photos not fetched at import come by job, then their renders:
                            // wait for every job of the order.
                            run_until_order_done(&app, &config, imported.order_id).await?;
                            print_renders(&app, &config, imported.order_id).await?;
                        }
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(e) => {
                        eprintln!("error: {}: {e}", file.display());
                        Ok(ExitCode::from(2))
                    }
                }
            }
            OrderCommand::Render { id, item, wait } => {
                let jobs = app
                    .request_render(id, item, &Actor::Merchant("cli".into()))
                    .await?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"order_id": id, "jobs": jobs})
                    )?
                );
                if wait {
                    run_until_done(&app, &config, &jobs).await?;
                    print_renders(&app, &config, id).await?;
                }
                Ok(ExitCode::SUCCESS)
            }
            OrderCommand::Show { id } => {
                let view = server::order_view(&app, id).await?;
                println!("{}", serde_json::to_string_pretty(&view)?);
                Ok(ExitCode::SUCCESS)
            }
            OrderCommand::Act(cmd) => crate::coordinator_cmd::order_act(&app, cmd).await,
            OrderCommand::Edit(args) => crate::edit_cmd::run(&app, &config, args).await,
        }
    })
}

/// Run a worker in this process until no job of the order is queued or running.
async fn run_until_order_done(app: &Arc<App>, config: &Config, order_id: i64) -> Result<()> {
    use storage::queue::JobState;
    let stop = CancellationToken::new();
    let opts = worker_options(config, Some(format!("cli-{}", std::process::id())), None);
    let worker = tokio::spawn(Worker::new(app.clone(), opts).run(stop.clone()));
    let jobs = loop {
        // The order's renders and photo downloads; its countdown (a job due hours later) and
        // what follows submission are not waited for.
        let jobs: Vec<_> = app
            .db
            .jobs_for_order(order_id)
            .await?
            .into_iter()
            .filter(|j| j.kind == app::RENDER_JOB || j.kind == app::photo_job::FETCH_PHOTO_JOB)
            .collect();
        if jobs
            .iter()
            .all(|j| !matches!(j.state, JobState::Queued | JobState::Running))
        {
            break jobs;
        }
        // A photo whose host did not answer is retried for hours: do not wait for that here.
        if let Some(photo) = jobs.iter().find(|j| {
            j.kind == app::photo_job::FETCH_PHOTO_JOB
                && j.state == JobState::Queued
                && j.attempts > 0
        }) {
            stop.cancel();
            worker.await?;
            anyhow::bail!(
                "order {order_id} is stored, but a photo could not be fetched yet ({}); a worker keeps trying and renders the item when it is in",
                photo.last_error.clone().unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stop.cancel();
    worker.await?;
    if let Some(dead) = jobs.iter().find(|j| j.state == JobState::Dead) {
        anyhow::bail!(
            "{} job {} failed: {}",
            dead.kind,
            dead.id,
            dead.last_error.clone().unwrap_or_default()
        );
    }
    Ok(())
}
