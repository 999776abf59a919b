//! Getting orders in: a WooCommerce REST v3 order (from `pressroom order add` or
//! `POST /api/v1/orders`) becomes a stored order, its customers' images are fetched into object
//! storage, and a render job is enqueued for each personalized item, all in one transaction.
//! Nothing is stored for an invalid order: photos this import stored are deleted again when it
//! is refused (a duplicate order, a later photo that fails, a database error).
//!
//! Lines that get no print file (no template for the SKU, quantity 0 = removed) are recorded
//! with why in the order's history, so the merchant sees why nothing was rendered.

use chrono::{DateTime, Utc};
use domain::{Actor, EventKind, HistoryEvent, Order};
use object_store::ObjectStoreExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use storage::NewJob;

use crate::{App, AppError, RENDER_JOB, fetch};

/// Where an import comes from, which decides what its image URLs may point at.
#[derive(Debug, Clone)]
pub struct ImportSource {
    pub actor: Actor,
    /// Local files allowed (the operator's CLI), resolved against this folder.
    pub local_files: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub order_id: i64,
    pub number: String,
    pub jobs: Vec<i64>,
}

/// The render job's payload.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct RenderJob {
    pub order_id: i64,
    pub item_id: i64,
}

impl App {
    /// Import one order. Invalid orders, unknown templates and unreachable images are refused
    /// with an error that names them; nothing is stored then.
    pub async fn import_order(
        &self,
        body: &[u8],
        source: &ImportSource,
    ) -> Result<Imported, AppError> {
        let mut order = connectors::woocommerce::parse_order(body, &self.settings.mapping)?;
        for item in order.personalized_items() {
            let template = &item
                .personalization
                .as_ref()
                .expect("personalized")
                .template_id;
            if !self.templates.exists(template) {
                return Err(AppError::InvalidItem {
                    item: item.id,
                    message: format!(
                        "SKU {:?} maps to template {template:?}, which is not installed in {}",
                        item.sku,
                        self.templates.dir().display()
                    ),
                });
            }
        }
        let mut stored = vec![];
        let result = self
            .store_order(body, &mut order, source, &mut stored)
            .await;
        if result.is_err() {
            self.forget_photos(&stored).await;
        }
        result
    }

    /// Fetch the photos (recording in `stored` the keys this import created) and store the
    /// order with its render jobs in one transaction.
    async fn store_order(
        &self,
        body: &[u8],
        order: &mut Order,
        source: &ImportSource,
        stored: &mut Vec<String>,
    ) -> Result<Imported, AppError> {
        self.fetch_client_images(order, source, stored).await?;
        let raw: serde_json::Value =
            serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);

        let now = self.now();
        let delay =
            chrono::Duration::seconds((self.settings.submit_after_hours * 3600.0).round() as i64);
        order.start_countdown(now, delay);
        let mut tx = self.db.begin().await?;
        self.db
            .ensure_store(
                &mut tx,
                &self.settings.store_id,
                &self.settings.store_id,
                "",
                now,
            )
            .await?;
        let order_id = self
            .db
            .insert_order(&mut tx, &self.settings.store_id, order, now)
            .await?;
        self.db
            .append_history(
                &mut tx,
                order_id,
                &HistoryEvent {
                    at: now,
                    actor: source.actor.clone(),
                    kind: EventKind::Imported,
                    message: format!(
                        "imported order {} ({}, {} item(s), {} personalized)",
                        order.number,
                        order.status.raw,
                        order.items.len(),
                        order.personalized_items().count()
                    ),
                    payload: Some(raw),
                },
            )
            .await?;
        let unrendered: Vec<(i64, String)> = order
            .unrendered_items()
            .map(|(item, why)| (item.id, why))
            .collect();
        if !unrendered.is_empty() {
            let message = unrendered
                .iter()
                .map(|(id, why)| format!("item {id}: {why}"))
                .collect::<Vec<_>>()
                .join("; ");
            self.db
                .append_history(
                    &mut tx,
                    order_id,
                    &HistoryEvent {
                        at: now,
                        actor: Actor::System,
                        kind: EventKind::Note,
                        message,
                        payload: Some(serde_json::json!({
                            "not_rendered": unrendered
                                .iter()
                                .map(|(id, why)| serde_json::json!({"item_id": id, "reason": why}))
                                .collect::<Vec<_>>()
                        })),
                    },
                )
                .await?;
        }
        let items: Vec<i64> = order.personalized_items().map(|i| i.id).collect();
        let jobs = self
            .enqueue_renders(&mut tx, order_id, &items, &source.actor, now)
            .await?;
        tx.commit().await?;
        tracing::info!(order_id, number = %order.number, jobs = jobs.len(), "order imported");
        Ok(Imported {
            order_id,
            number: order.number.clone(),
            jobs,
        })
    }

    /// Delete the photos a refused import stored. Photos are shared by content, so only keys
    /// that did not exist before this import are listed; a failed delete is logged (the file
    /// is then an orphan, never a wrong file).
    async fn forget_photos(&self, keys: &[String]) {
        for key in keys {
            let path = object_store::path::Path::from(key.as_str());
            match self.files.store().delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                    tracing::info!(key, "refused import: its photo was removed again");
                }
                Err(e) => {
                    tracing::warn!(key, error = %e, "refused import: could not remove its photo")
                }
            }
        }
    }

    async fn fetch_client_images(
        &self,
        order: &mut Order,
        source: &ImportSource,
        stored: &mut Vec<String>,
    ) -> Result<(), AppError> {
        for item in &mut order.items {
            // A removed line (quantity 0) is never rendered: its photos are not fetched.
            if !item.is_rendered() {
                continue;
            }
            let Some(p) = item.personalization.as_mut() else {
                continue;
            };
            for image in &mut p.client_images {
                let bytes = fetch::fetch_image(
                    &self.http,
                    &self.settings.fetch,
                    source.local_files.is_some() || self.settings.fetch.allow_files,
                    source.local_files.as_deref(),
                    &image.source_url,
                )
                .await?;
                let ext = fetch::sniff_image(&bytes)
                    .map_err(|e| AppError::ClientImage {
                        url: image.source_url.clone(),
                        message: e.to_string(),
                    })?
                    .extension();
                // Photos are keyed by their content only: the same photo in two orders is
                // stored once, and no customer file name reaches a key.
                let sha256 = hex::encode(Sha256::digest(&bytes));
                let key = format!("photos/{sha256}.{ext}");
                let existed = self.files.exists(&key).await?;
                let object = self.files.put_hashed("photos", ext, sha256, bytes).await?;
                if !existed {
                    stored.push(object.key.clone());
                }
                image.object_key = Some(object.key);
                image.sha256 = Some(object.sha256);
            }
        }
        Ok(())
    }

    pub(crate) async fn enqueue_renders(
        &self,
        tx: &mut storage::Tx,
        order_id: i64,
        items: &[i64],
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, AppError> {
        let mut jobs = vec![];
        for &item_id in items {
            let mut job = NewJob::new(
                RENDER_JOB,
                serde_json::to_value(RenderJob { order_id, item_id }).expect("serializes"),
                now,
            );
            job.order_id = Some(order_id);
            let job_id = self.db.enqueue(tx, &job, now).await?;
            self.db
                .append_history(
                    tx,
                    order_id,
                    &HistoryEvent {
                        at: now,
                        actor: actor.clone(),
                        kind: EventKind::RenderRequested,
                        message: format!("render of item {item_id} queued (job {job_id})"),
                        payload: Some(serde_json::json!({"item_id": item_id, "job_id": job_id})),
                    },
                )
                .await?;
            jobs.push(job_id);
        }
        Ok(jobs)
    }

    /// Queue a new render of one item, or of every personalized item. Allowed as often as
    /// wanted until the order is submitted (its design is locked then).
    pub async fn request_render(
        &self,
        order_id: i64,
        item_id: Option<i64>,
        actor: &Actor,
    ) -> Result<Vec<i64>, AppError> {
        let now = self.now();
        let row = self.db.get_order(order_id).await?;
        row.order.can_render()?;
        let items: Vec<i64> = match item_id {
            Some(id) => {
                let item = row.order.item(id).ok_or_else(|| {
                    AppError::NotFound(format!("order {order_id} has no line item {id}"))
                })?;
                if let Some(why) = item.not_rendered_reason() {
                    return Err(AppError::InvalidItem {
                        item: id,
                        message: why,
                    });
                }
                vec![id]
            }
            None => row.order.personalized_items().map(|i| i.id).collect(),
        };
        if items.is_empty() {
            return Err(AppError::NotFound(format!(
                "order {order_id} has no personalized items"
            )));
        }
        let mut tx = self.db.begin().await?;
        let jobs = self
            .enqueue_renders(&mut tx, order_id, &items, actor, now)
            .await?;
        tx.commit().await?;
        Ok(jobs)
    }
}
