//! Customer photos that could not be fetched at import: the order is stored anyway, the item
//! waits ("waiting for photo": it is not rendered, so nothing can be submitted without it),
//! and a `fetch_photo` job tries again with backoff. When the last missing photo of an item is
//! in storage, its render is queued in the transaction that records the photo.
//!
//! A download that can never succeed (a 404, an address the guard refuses, a format that is
//! not accepted, a file over the limit) is not retried; the order's history says why, and the
//! merchant can replace the photo in the editor.

use std::sync::Arc;
use std::time::Duration;

use domain::{Actor, EventKind, HistoryEvent};
use jobs::{Backoff, Completion, Job, JobKind, ResourceClass, RetryOn, RetryPolicy};
use serde::{Deserialize, Serialize};

use crate::order_write::OrderWrite;
use crate::{App, AppError, fetch};

pub const FETCH_PHOTO_JOB: &str = "fetch_photo";

/// The `fetch_photo` job's payload: which photo of which item, from where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchPhoto {
    pub order_id: i64,
    pub item_id: i64,
    pub field: String,
    pub url: String,
    /// Local files allowed, resolved against this folder (an operator's CLI import).
    #[serde(default)]
    pub local_files: Option<std::path::PathBuf>,
}

impl FetchPhoto {
    pub fn key(&self) -> String {
        format!("photo:{}:{}:{}", self.order_id, self.item_id, self.field)
    }
}

/// What a photo job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhotoOutcome {
    /// Stored; `render` is the render job queued when it was the item's last missing photo.
    Stored { render: Option<i64> },
    /// The item no longer wants this photo (the store changed it, or the item is gone).
    NotWanted,
}

/// Fetch one photo into storage: bytes, their format checked, keyed by content. Returns the
/// key, the SHA-256 and whether the object is new.
pub async fn fetch_and_store(
    app: &App,
    url: &str,
    local_files: Option<&std::path::Path>,
) -> Result<(String, String, bool), AppError> {
    let bytes = fetch::fetch_image(
        &app.http,
        &app.settings.fetch,
        local_files.is_some() || app.settings.fetch.allow_files,
        local_files,
        url,
    )
    .await?;
    let ext = fetch::sniff_image(&bytes)
        .map_err(|e| AppError::ClientImage {
            url: url.to_owned(),
            message: e.to_string(),
            retryable: false,
        })?
        .extension();
    // Photos are keyed by their content only: the same photo in two orders is stored once,
    // and no customer file name reaches a key.
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let key = format!("photos/{sha256}.{ext}");
    let existed = app.files.exists(&key).await?;
    let object = app.files.put_hashed("photos", ext, sha256, bytes).await?;
    Ok((object.key, object.sha256, !existed))
}

impl App {
    /// Run a photo job: fetch, store, record on the order (compare-and-set), and queue the
    /// item's render when nothing is missing any more.
    pub async fn fetch_photo(&self, job: &FetchPhoto) -> Result<PhotoOutcome, AppError> {
        let (key, sha256, _) = fetch_and_store(self, &job.url, job.local_files.as_deref()).await?;
        let write = self
            .write_order(job.order_id, |order, _| {
                let item = order.items.iter_mut().find(|i| i.id == job.item_id)?;
                let p = item.personalization.as_mut()?;
                let image = p
                    .client_images
                    .iter_mut()
                    .find(|i| i.field == job.field && i.source_url == job.url)?;
                image.object_key = Some(key.clone());
                image.sha256 = Some(sha256.clone());
                let complete = p.client_images.iter().all(|i| i.object_key.is_some());
                let rendered = item.is_rendered();
                // Renders when it was the item's last missing photo.
                Some(complete && rendered && order.can_render().is_ok())
            })
            .await?;
        // The item is gone or wants another photo now (the store changed it).
        let Some(OrderWrite {
            mut tx,
            now,
            value: renders,
            ..
        }) = write
        else {
            return Ok(PhotoOutcome::NotWanted);
        };
        self.db
            .append_history(
                &mut tx,
                job.order_id,
                &HistoryEvent {
                    at: now,
                    actor: Actor::System,
                    kind: EventKind::Note,
                    message: format!(
                        "the photo of item {} ({}) is in: {}",
                        job.item_id, job.field, job.url
                    ),
                    payload: Some(serde_json::json!({
                        "item_id": job.item_id, "field": job.field, "object_key": key,
                    })),
                },
            )
            .await?;
        let render = if renders {
            self.enqueue_renders(&mut tx, job.order_id, &[job.item_id], &Actor::System, now)
                .await?
                .first()
                .copied()
        } else {
            None
        };
        tx.commit().await?;
        Ok(PhotoOutcome::Stored { render })
    }

    /// Queue a photo job in `tx` (one per item and field at a time).
    pub(crate) async fn queue_photo(
        &self,
        tx: &mut storage::Tx,
        job: &FetchPhoto,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), AppError> {
        let mut new = FetchPhotoKind.new_job(job, now).with_key(job.key());
        new.order_id = Some(job.order_id);
        self.db.enqueue_unique(tx, &new, now).await?;
        Ok(())
    }
}

/// `fetch_photo`: one customer photo, retried while its host is unreachable.
pub struct FetchPhotoKind;

impl JobKind<App> for FetchPhotoKind {
    type Payload = FetchPhoto;
    type Error = AppError;
    const NAME: &'static str = FETCH_PHOTO_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    /// About a day of tries, 30 s doubling up to an hour; only while the failure may pass.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 30,
            backoff: Backoff {
                first: Duration::from_secs(30),
                max: Duration::from_secs(3600),
            },
            retry_on: RetryOn::Retryable,
        }
    }

    async fn run(
        &self,
        app: Arc<App>,
        _job: &Job,
        payload: FetchPhoto,
    ) -> Result<Completion, AppError> {
        let outcome = app.fetch_photo(&payload).await?;
        tracing::info!(
            order_id = payload.order_id,
            item = payload.item_id,
            ?outcome,
            "photo job"
        );
        Ok(Completion::Complete)
    }

    /// The photo will not come: say so in the order's history.
    async fn dead(&self, app: Arc<App>, job: &Job, error: &AppError) {
        let Ok(payload) = serde_json::from_value::<FetchPhoto>(job.claimed.payload.clone()) else {
            return;
        };
        let now = app.now();
        let event = HistoryEvent {
            at: now,
            actor: Actor::System,
            kind: EventKind::Note,
            message: format!(
                "the photo of item {} ({}) could not be fetched: {error}; the item is not \
                 rendered until it is replaced",
                payload.item_id, payload.field
            ),
            payload: Some(serde_json::json!({
                "item_id": payload.item_id, "field": payload.field, "url": payload.url,
                "photo_error": error.to_string(),
            })),
        };
        let result = async {
            let mut tx = app.db.begin().await?;
            app.db
                .append_history(&mut tx, payload.order_id, &event)
                .await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not record a failed photo");
        }
    }
}
