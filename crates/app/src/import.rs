//! Getting orders in: a WooCommerce REST v3 order (from `pressroom order add` or
//! `POST /api/v1/orders`) becomes a stored order, its customers' images are fetched into object
//! storage, and a render job is enqueued for each personalized item, all in one transaction.
//! Nothing is stored for an invalid order.

use chrono::{DateTime, Utc};
use domain::{Actor, EventKind, HistoryEvent, Order};
use serde::Serialize;
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
        self.fetch_client_images(&mut order, source).await?;
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
            .insert_order(&mut tx, &self.settings.store_id, &order, now)
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
        let items: Vec<i64> = order.personalized_items().map(|i| i.id).collect();
        let jobs = self
            .enqueue_renders(&mut tx, order_id, &items, &source.actor, now)
            .await?;
        tx.commit().await?;
        tracing::info!(order_id, number = %order.number, jobs = jobs.len(), "order imported");
        Ok(Imported {
            order_id,
            number: order.number,
            jobs,
        })
    }

    async fn fetch_client_images(
        &self,
        order: &mut Order,
        source: &ImportSource,
    ) -> Result<(), AppError> {
        for item in &mut order.items {
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
                let ext = fetch::image_extension(&bytes).ok_or_else(|| AppError::ClientImage {
                    url: image.source_url.clone(),
                    message: "not a JPEG or PNG image".into(),
                })?;
                // Photos are keyed by their content only: the same photo in two orders is
                // stored once, and no customer file name reaches a key.
                let stored = self.files.put_content("photos", ext, bytes).await?;
                image.object_key = Some(stored.key);
                image.sha256 = Some(stored.sha256);
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
                if item.personalization.is_none() {
                    return Err(AppError::InvalidItem {
                        item: id,
                        message: "is not personalized (no template maps to its SKU)".into(),
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
