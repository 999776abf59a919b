//! `pressroom order edit`: an item's personalization changed before submission, on the
//! database directly (like `order add`), through the same use case as the HTTP API
//! (`app::edit`). Local photo files are checked and stored as uploads are.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use app::App;
use app::edit::PersonalizationEdit;
use clap::Args;
use domain::Actor;

use crate::config::Config;

#[derive(Args)]
pub struct EditArgs {
    /// The order's id (as `order show` prints it).
    id: i64,
    /// The line item's id.
    #[arg(long)]
    item: i64,
    /// The template (required when the item has none yet: an Amazon or Others order).
    #[arg(long)]
    template: Option<String>,
    /// `FIELD=VALUE`, repeatable: one value changed, the others kept; `FIELD=` clears it.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    set: Vec<String>,
    /// `FIELD=FILE`, repeatable: a local image (JPEG, PNG, WebP or GIF) as the field's photo.
    #[arg(long = "photo", value_name = "FIELD=FILE")]
    photo: Vec<String>,
    /// Render the new version in this process and wait for it.
    #[arg(long)]
    wait: bool,
}

fn pair<'a>(option: &str, arg: &'a str) -> Result<(&'a str, &'a str)> {
    match arg.split_once('=') {
        Some((field, value)) if !field.trim().is_empty() => Ok((field.trim(), value)),
        _ => bail!("--{option} {arg:?}: expected FIELD=VALUE"),
    }
}

pub async fn run(app: &Arc<App>, config: &Config, args: EditArgs) -> Result<ExitCode> {
    let actor = Actor::Merchant("cli".into());
    let mut edit = PersonalizationEdit {
        template_id: args.template.clone(),
        ..Default::default()
    };
    if !args.set.is_empty() {
        let row = app.db.get_order(args.id).await?;
        let current = row
            .order
            .item(args.item)
            .and_then(|i| i.personalization.as_ref());
        // The values as they are, without the copies of photo URLs an import keeps among
        // them (photos change with --photo).
        let mut values: BTreeMap<String, String> = current
            .map(|p| {
                p.values
                    .iter()
                    .filter(|(k, _)| !p.client_images.iter().any(|c| &c.field == *k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for arg in &args.set {
            let (field, value) = pair("set", arg)?;
            if value.is_empty() {
                values.remove(field);
            } else {
                values.insert(field.to_string(), value.to_string());
            }
        }
        edit.values = Some(values);
    }
    for arg in &args.photo {
        let (field, file) = pair("photo", arg)?;
        let path = PathBuf::from(file);
        let size = std::fs::metadata(&path)
            .with_context(|| format!("--photo {field}: {}", path.display()))?
            .len();
        let max = app.settings.fetch.max_bytes;
        if size > max {
            bail!(
                "--photo {field}: {} is {size} bytes; the limit (app.fetch.max_bytes) is {max}",
                path.display()
            );
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("--photo {field}: {}", path.display()))?;
        match app.upload_photo(args.id, bytes.into(), &actor).await {
            Ok(photo) => {
                edit.photos.insert(field.to_string(), Some(photo.key));
            }
            Err(e) => {
                eprintln!("error: --photo {field}: {}: {e}", path.display());
                return Ok(ExitCode::from(2));
            }
        }
    }
    let edited = match app
        .edit_personalization(args.id, args.item, &edit, &actor)
        .await
    {
        Ok(edited) => edited,
        Err(e) => {
            eprintln!("error: order {} item {}: {e}", args.id, args.item);
            return Ok(ExitCode::from(2));
        }
    };
    println!("{}", serde_json::to_string_pretty(&edited)?);
    if !edited.changed {
        eprintln!("nothing changed; no render queued");
    }
    if args.wait
        && let Some(job) = edited.job
    {
        crate::roles::run_until_done(app, config, &[job]).await?;
        crate::roles::print_renders(app, config, args.id).await?;
    }
    Ok(ExitCode::SUCCESS)
}
