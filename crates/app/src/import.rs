//! Getting orders in: a WooCommerce REST v3 order (from `pressroom order add`,
//! `POST /api/v1/orders`, an import, a webhook or a reconcile poll) becomes a stored order, or
//! is merged into the stored one; its customers' images are fetched into object storage, and
//! a render job is enqueued for each new or changed personalized item, in the transaction that
//! stores the order. Nothing is stored for an invalid order: photos this import stored are
//! deleted again when it is refused (a later photo that fails, a database error).
//!
//! Lines that get no print file (no template for the SKU, quantity 0 = removed) are recorded
//! with why in the order's history, so the merchant sees why nothing was rendered.

use chrono::{DateTime, Utc};
use domain::{Actor, EventKind, HistoryEvent, Order, StoreUpdate};
use object_store::ObjectStoreExt;
use serde::Serialize;
use storage::NewJob;

use crate::order_write::OrderWrite;
use crate::outbound::OutboundEvent;
use crate::photo_job::{FetchPhoto, fetch_and_store};
use crate::stores::ConnectedStore;
use crate::{App, AppError, RENDER_JOB};

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
    /// The render jobs queued.
    pub jobs: Vec<i64>,
    pub outcome: Outcome,
    /// What changed, for an update.
    pub changes: String,
    /// Items whose photos could not be fetched yet: a job fetches them, then renders.
    pub waiting_for_photos: Vec<i64>,
    /// The store's `date_modified_gmt` of the order as it came (where a reconcile poll got to).
    #[serde(skip)]
    pub store_modified_at: Option<DateTime<Utc>>,
}

fn waiting_items(waiting: &[(FetchPhoto, String)]) -> Vec<i64> {
    let mut items: Vec<i64> = waiting.iter().map(|(j, _)| j.item_id).collect();
    items.dedup();
    items
}

fn hours(h: f64) -> chrono::Duration {
    chrono::Duration::seconds((h * 3600.0).round() as i64)
}

/// The render job's payload.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct RenderJob {
    pub order_id: i64,
    pub item_id: i64,
}

/// What an import or a store update did to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new order.
    Created,
    /// The store's newer state was merged in.
    Updated,
    /// The same as stored (a repeated delivery, an echo of Pressroom's own change).
    Unchanged,
    /// Older than what is stored: ignored.
    Stale,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Stale => "stale",
        }
    }
}

/// How many times a store update is re-read and re-merged when another writer changed the
/// order in between (compare-and-set).
const MERGE_ATTEMPTS: usize = 5;

impl App {
    /// Import one order into the configured default store: created when new, merged when it
    /// exists (see [`App::upsert_order`]).
    pub async fn import_order(
        &self,
        body: &[u8],
        source: &ImportSource,
    ) -> Result<Imported, AppError> {
        let store = self.connected_store(&self.settings.store_id).await?;
        self.upsert_order(&store, body, source).await
    }

    /// An order from a store (an import, a webhook, a reconcile poll): created when new;
    /// when it exists, keyed by (store, store order id), the store's newer state is merged
    /// (`domain::Order::apply_store_update`): an older `date_modified_gmt` changes nothing,
    /// what changed goes into the history, items whose personalization changed are rendered
    /// again unless the order was submitted (then it is flagged). Invalid orders and unknown
    /// templates are refused with an error that names them, and nothing is stored; a photo
    /// that cannot be fetched yet leaves its item waiting for a `fetch_photo` job.
    pub async fn upsert_order(
        &self,
        store: &ConnectedStore,
        body: &[u8],
        source: &ImportSource,
    ) -> Result<Imported, AppError> {
        let incoming = connectors::woocommerce::parse_store_order(body, &store.settings)?;
        self.check_templates(&incoming)?;
        let raw: serde_json::Value =
            serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
        for _ in 0..MERGE_ATTEMPTS {
            let existing = self
                .db
                .find_order(&store.id, incoming.store_order_id)
                .await?;
            let mut stored = vec![];
            let result = match existing {
                None => {
                    let mut order = incoming.clone();
                    self.create_order(store, &raw, &mut order, source, &mut stored)
                        .await
                }
                Some(row) => {
                    self.merge_order(store, &raw, row, incoming.clone(), source, &mut stored)
                        .await
                }
            };
            match result {
                Err(AppError::Storage(
                    storage::StorageError::DuplicateOrder { .. }
                    | storage::StorageError::Conflict { .. },
                )) => {
                    // Somebody else stored or changed this order meanwhile: read it again. The
                    // photos stay: the other writer may have stored the same content-addressed
                    // keys and now refer to them.
                    continue;
                }
                Err(e) => {
                    self.forget_photos(&stored).await;
                    return Err(e);
                }
                Ok(imported) => {
                    return Ok(Imported {
                        store_modified_at: incoming.modified_at,
                        ..imported
                    });
                }
            }
        }
        Err(AppError::Storage(storage::StorageError::Conflict {
            what: "order",
            id: format!("{}/{}", store.id, incoming.store_order_id),
        }))
    }

    fn check_templates(&self, order: &Order) -> Result<(), AppError> {
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
        Ok(())
    }

    /// Fetch the photos (recording in `stored` the keys this import created) and store the
    /// new order with its render jobs in one transaction.
    async fn create_order(
        &self,
        store: &ConnectedStore,
        raw: &serde_json::Value,
        order: &mut Order,
        source: &ImportSource,
        stored: &mut Vec<String>,
    ) -> Result<Imported, AppError> {
        let all: Vec<i64> = order.personalized_items().map(|i| i.id).collect();
        let waiting = self
            .fetch_client_images(order, &all, source, stored)
            .await?;
        let waiting_items = waiting_items(&waiting);
        let ready: Vec<i64> = all
            .iter()
            .copied()
            .filter(|i| !waiting_items.contains(i))
            .collect();

        let now = self.now();
        order.start_countdown(now, hours(store.settings.submit_after_hours));
        let mut tx = self.db.begin().await?;
        self.db
            .ensure_store(&mut tx, &store.id, &store.id, &store.settings.url, now)
            .await?;
        let order_id = self.db.insert_order(&mut tx, &store.id, order, now).await?;
        self.sync_countdown(
            &mut tx,
            order_id,
            &domain::Countdown::none(),
            &order.countdown,
            now,
        )
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
                    payload: Some(raw.clone()),
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
        let jobs = self
            .enqueue_renders(&mut tx, order_id, &ready, &source.actor, now)
            .await?;
        self.queue_waiting_photos(&mut tx, order_id, waiting, now)
            .await?;
        // Only a new order is `order.imported`; a merged update is not an event (yet).
        self.emit(
            &mut tx,
            OutboundEvent::OrderImported,
            order_id,
            serde_json::json!({
                "store_id": store.id,
                "store_order_id": order.store_order_id,
                "number": order.number,
                "status": order.status.raw,
                "items": order.items.len(),
                "personalized_items": all.len(),
                "render_jobs": jobs.len(),
                "waiting_for_photos": waiting_items,
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(order_id, number = %order.number, jobs = jobs.len(), "order imported");
        Ok(Imported {
            order_id,
            number: order.number.clone(),
            jobs,
            outcome: Outcome::Created,
            changes: String::new(),
            waiting_for_photos: waiting_items,
            store_modified_at: None,
        })
    }

    /// Merge the store's state into a stored order, with compare-and-set on its row version.
    async fn merge_order(
        &self,
        store: &ConnectedStore,
        raw: &serde_json::Value,
        row: storage::OrderRow,
        incoming: Order,
        source: &ImportSource,
        stored: &mut Vec<String>,
    ) -> Result<Imported, AppError> {
        let now = self.now();
        let status_pending = self.db.has_pending_outbox(row.id, "status").await?;
        let mut order = row.order.clone();
        let unchanged = |outcome| Imported {
            order_id: row.id,
            number: row.order.number.clone(),
            jobs: vec![],
            outcome,
            changes: String::new(),
            waiting_for_photos: vec![],
            store_modified_at: None,
        };
        let changes = match order.apply_store_update(incoming, status_pending, now) {
            StoreUpdate::Stale { .. } => return Ok(unchanged(Outcome::Stale)),
            StoreUpdate::Unchanged => return Ok(unchanged(Outcome::Unchanged)),
            StoreUpdate::Changed(changes) => changes,
        };
        let waiting = self
            .fetch_client_images(&mut order, &changes.rerender, source, stored)
            .await?;
        let waiting_items = waiting_items(&waiting);
        let ready: Vec<i64> = changes
            .rerender
            .iter()
            .copied()
            .filter(|i| !waiting_items.contains(i))
            .collect();
        order.start_countdown(now, hours(store.settings.submit_after_hours));

        let mut tx = self.db.begin().await?;
        self.db
            .update_order(&mut tx, row.id, row.row_version, &order, now)
            .await?;
        self.sync_countdown(&mut tx, row.id, &row.order.countdown, &order.countdown, now)
            .await?;
        let summary = changes.summary();
        self.db
            .append_history(
                &mut tx,
                row.id,
                &HistoryEvent {
                    at: now,
                    actor: source.actor.clone(),
                    kind: EventKind::Updated,
                    message: format!("updated in the store: {summary}"),
                    payload: Some(raw.clone()),
                },
            )
            .await?;
        if let Some(change) = &changes.status {
            self.db
                .append_history(
                    &mut tx,
                    row.id,
                    &HistoryEvent {
                        at: now,
                        actor: Actor::Store,
                        kind: EventKind::StatusChanged,
                        message: format!(
                            "status {} → {} in the store{}",
                            change.from.raw,
                            change.to.raw,
                            match change.countdown {
                                domain::CountdownEffect::Unchanged => "",
                                domain::CountdownEffect::Paused => "; countdown paused",
                                domain::CountdownEffect::Resumed => "; countdown resumed",
                                domain::CountdownEffect::Cleared => "; countdown cleared",
                            }
                        ),
                        payload: Some(serde_json::json!({
                            "from": change.from.raw, "to": change.to.raw,
                            "countdown": change.countdown,
                        })),
                    },
                )
                .await?;
        }
        let jobs = self
            .enqueue_renders(&mut tx, row.id, &ready, &source.actor, now)
            .await?;
        self.queue_waiting_photos(&mut tx, row.id, waiting, now)
            .await?;
        tx.commit().await?;
        tracing::info!(order_id = row.id, %summary, "order updated from the store");
        Ok(Imported {
            order_id: row.id,
            number: order.number.clone(),
            jobs,
            outcome: Outcome::Updated,
            changes: summary,
            waiting_for_photos: waiting_items,
            store_modified_at: None,
        })
    }

    /// The store deleted (trashed) an order (`deleted`), or restored it from the trash: a
    /// deleted order is flagged and its countdown stopped, so it is never submitted by itself;
    /// a restored one loses the flag and its countdown starts again if it is eligible.
    pub async fn order_deleted_in_store(
        &self,
        store: &ConnectedStore,
        store_order_id: i64,
        deleted: bool,
        actor: &Actor,
    ) -> Result<Option<i64>, AppError> {
        let Some(row) = self.db.find_order(&store.id, store_order_id).await? else {
            return Ok(None);
        };
        let write = self
            .write_order(row.id, |order, now| {
                if order.flags.deleted_in_store == deleted {
                    return None;
                }
                order.flags.deleted_in_store = deleted;
                Some(if deleted {
                    order.countdown.clear();
                    "deleted in the store; it will not be submitted automatically"
                } else {
                    order.start_countdown(now, hours(store.settings.submit_after_hours));
                    "restored in the store"
                })
            })
            .await?;
        if let Some(OrderWrite {
            mut tx,
            now,
            value: message,
            ..
        }) = write
        {
            self.db
                .append_history(
                    &mut tx,
                    row.id,
                    &HistoryEvent {
                        at: now,
                        actor: actor.clone(),
                        kind: EventKind::Updated,
                        message: message.into(),
                        payload: None,
                    },
                )
                .await?;
            tx.commit().await?;
        }
        Ok(Some(row.id))
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

    /// Fetch the photos of these items that are not in storage yet. A photo that cannot be
    /// fetched now does not refuse the order: it is returned, to be fetched by a job while its
    /// item waits.
    async fn fetch_client_images(
        &self,
        order: &mut Order,
        items: &[i64],
        source: &ImportSource,
        stored: &mut Vec<String>,
    ) -> Result<Vec<(FetchPhoto, String)>, AppError> {
        let mut waiting = vec![];
        for item in &mut order.items {
            // A removed line (quantity 0) is never rendered: its photos are not fetched.
            if !item.is_rendered() || !items.contains(&item.id) {
                continue;
            }
            let item_id = item.id;
            let Some(p) = item.personalization.as_mut() else {
                continue;
            };
            for image in &mut p.client_images {
                if image.object_key.is_some() {
                    continue;
                }
                match fetch_and_store(self, &image.source_url, source.local_files.as_deref()).await
                {
                    Ok((key, sha256, new)) => {
                        if new {
                            stored.push(key.clone());
                        }
                        image.object_key = Some(key);
                        image.sha256 = Some(sha256);
                    }
                    Err(e @ AppError::ClientImage { .. }) => waiting.push((
                        FetchPhoto {
                            order_id: 0,
                            item_id,
                            field: image.field.clone(),
                            url: image.source_url.clone(),
                            local_files: source.local_files.clone(),
                        },
                        e.to_string(),
                    )),
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(waiting)
    }

    /// Queue the photo jobs of an order's waiting items, with a history line each.
    async fn queue_waiting_photos(
        &self,
        tx: &mut storage::Tx,
        order_id: i64,
        waiting: Vec<(FetchPhoto, String)>,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        for (mut job, why) in waiting {
            job.order_id = order_id;
            self.queue_photo(tx, &job, now).await?;
            self.db
                .append_history(
                    tx,
                    order_id,
                    &HistoryEvent {
                        at: now,
                        actor: Actor::System,
                        kind: EventKind::Note,
                        message: format!(
                            "item {} is waiting for its photo ({}): {why}; it is fetched again in the background and rendered when it is in",
                            job.item_id, job.field
                        ),
                        payload: Some(serde_json::json!({
                            "item_id": job.item_id, "field": job.field, "url": job.url,
                            "waiting_for_photo": why,
                        })),
                    },
                )
                .await?;
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
