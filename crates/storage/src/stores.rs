//! The store connection's tables: stores (settings as JSON, credentials sealed by the caller,
//! sync state), webhook deliveries kept raw, imports with their progress, and the outbox of
//! writes to the store.
//!
//! This module stores what it is given: sealing secrets and deciding what a delivery means
//! happen in `app`.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{Db, Tx};
use crate::error::StorageError;
use crate::{from_millis, millis};

/// A connected store as stored. `secrets` holds sealed values by name (`consumer_key`,
/// `consumer_secret`, `webhook_secret`); this crate never opens them.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreRow {
    pub id: String,
    pub name: String,
    pub url: String,
    /// `domain::StoreSettings` as JSON.
    pub settings: serde_json::Value,
    pub secrets: std::collections::BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_webhook_at: Option<DateTime<Utc>>,
    pub last_reconcile_at: Option<DateTime<Utc>>,
    pub last_reconcile_error: Option<String>,
    pub reconciled_until: Option<DateTime<Utc>>,
}

/// A webhook delivery to keep, exactly as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub store_id: String,
    pub topic: String,
    pub delivery_id: String,
    pub webhook_id: String,
    /// The store order the body is about, when it names one.
    pub store_order_id: Option<i64>,
    /// The headers that matter for the record (topic, ids, signature, source), as JSON.
    pub headers: serde_json::Value,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    pub id: i64,
    pub delivery: NewDelivery,
    pub processed_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub order_id: Option<i64>,
}

/// An import's progress and result.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ImportProgress {
    pub total: i64,
    pub seen: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub failed: i64,
    /// `{"store_order_id": N|null, "reason": "..."}` per failed order.
    pub failures: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub id: i64,
    pub store_id: String,
    pub scope: serde_json::Value,
    /// "running", "done" or "failed".
    pub state: String,
    pub actor: String,
    pub progress: ImportProgress,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A write to the store to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbox<'a> {
    pub store_id: &'a str,
    pub order_id: i64,
    /// "status", "note" or "tracking".
    pub kind: &'a str,
    pub payload: &'a serde_json::Value,
    pub actor: &'a str,
}

/// One write to the store, waiting or done.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub store_id: String,
    pub order_id: i64,
    /// "status", "note" or "tracking".
    pub kind: String,
    pub payload: serde_json::Value,
    /// "pending", "delivered", or "failed" (the store refused it for good).
    pub state: String,
    pub actor: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Rows per multi-row INSERT (8 parameters each, well under both databases' limits).
const ROWS_PER_INSERT: usize = 100;

const STORE_COLUMNS: &str = "id, name, url, config, secrets, created_at, updated_at, \
     last_webhook_at, last_reconcile_at, last_reconcile_error, reconciled_until";

fn corrupt(what: &'static str, id: impl ToString, message: impl ToString) -> StorageError {
    StorageError::Corrupt {
        what,
        id: id.to_string(),
        message: message.to_string(),
    }
}

fn opt_time(row: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>, StorageError> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(from_millis))
}

fn store_from_row(row: &AnyRow) -> Result<StoreRow, StorageError> {
    let id: String = row.try_get("id")?;
    let config: String = row.try_get("config")?;
    let secrets: String = row.try_get("secrets")?;
    Ok(StoreRow {
        settings: serde_json::from_str(&config).map_err(|e| corrupt("store", &id, e))?,
        secrets: serde_json::from_str(&secrets).map_err(|e| corrupt("store", &id, e))?,
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
        last_webhook_at: opt_time(row, "last_webhook_at")?,
        last_reconcile_at: opt_time(row, "last_reconcile_at")?,
        last_reconcile_error: row.try_get("last_reconcile_error")?,
        reconciled_until: opt_time(row, "reconciled_until")?,
        id,
    })
}

const DELIVERY_COLUMNS: &str = "id, store_id, topic, delivery_id, webhook_id, store_order_id, \
     headers, body, received_at, processed_at, outcome, order_id";

fn delivery_from_row(row: &AnyRow) -> Result<DeliveryRow, StorageError> {
    let id: i64 = row.try_get("id")?;
    let headers: String = row.try_get("headers")?;
    Ok(DeliveryRow {
        delivery: NewDelivery {
            store_id: row.try_get("store_id")?,
            topic: row.try_get("topic")?,
            delivery_id: row.try_get("delivery_id")?,
            webhook_id: row.try_get("webhook_id")?,
            store_order_id: row.try_get("store_order_id")?,
            headers: serde_json::from_str(&headers).map_err(|e| corrupt("delivery", id, e))?,
            body: row.try_get("body")?,
            received_at: from_millis(row.try_get("received_at")?),
        },
        processed_at: opt_time(row, "processed_at")?,
        outcome: row.try_get("outcome")?,
        order_id: row.try_get("order_id")?,
        id,
    })
}

const IMPORT_COLUMNS: &str = "id, store_id, scope, state, actor, total, seen, created, updated, \
     unchanged, failed, failures, error, started_at, finished_at";

fn import_from_row(row: &AnyRow) -> Result<ImportRow, StorageError> {
    let id: i64 = row.try_get("id")?;
    let scope: String = row.try_get("scope")?;
    let failures: String = row.try_get("failures")?;
    Ok(ImportRow {
        store_id: row.try_get("store_id")?,
        scope: serde_json::from_str(&scope).map_err(|e| corrupt("import", id, e))?,
        state: row.try_get("state")?,
        actor: row.try_get("actor")?,
        progress: ImportProgress {
            total: row.try_get("total")?,
            seen: row.try_get("seen")?,
            created: row.try_get("created")?,
            updated: row.try_get("updated")?,
            unchanged: row.try_get("unchanged")?,
            failed: row.try_get("failed")?,
            failures: serde_json::from_str(&failures).map_err(|e| corrupt("import", id, e))?,
        },
        error: row.try_get("error")?,
        started_at: from_millis(row.try_get("started_at")?),
        finished_at: opt_time(row, "finished_at")?,
        id,
    })
}

const OUTBOX_COLUMNS: &str = "id, store_id, order_id, kind, payload, state, actor, attempts, \
     last_error, created_at, delivered_at";

fn outbox_from_row(row: &AnyRow) -> Result<OutboxRow, StorageError> {
    let id: i64 = row.try_get("id")?;
    let payload: String = row.try_get("payload")?;
    Ok(OutboxRow {
        store_id: row.try_get("store_id")?,
        order_id: row.try_get("order_id")?,
        kind: row.try_get("kind")?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt("outbox entry", id, e))?,
        state: row.try_get("state")?,
        actor: row.try_get("actor")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: from_millis(row.try_get("created_at")?),
        delivered_at: opt_time(row, "delivered_at")?,
        id,
    })
}

impl Db {
    /// Add a store, or replace the settings and secrets of the store with this id (its sync
    /// state is kept).
    pub async fn put_store(
        &self,
        id: &str,
        name: &str,
        url: &str,
        settings: &serde_json::Value,
        secrets: &std::collections::BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO stores (id, name, url, config, secrets, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (id) DO UPDATE SET name = $2, url = $3, config = $4, secrets = $5, \
             updated_at = $6",
        )
        .bind(id)
        .bind(name)
        .bind(url)
        .bind(settings.to_string())
        .bind(serde_json::to_string(secrets).expect("a map of strings serializes"))
        .bind(millis(now))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    pub async fn store(&self, id: &str) -> Result<Option<StoreRow>, StorageError> {
        let row = sqlx::query(&format!("SELECT {STORE_COLUMNS} FROM stores WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(store_from_row).transpose()
    }

    pub async fn stores(&self) -> Result<Vec<StoreRow>, StorageError> {
        let rows = sqlx::query(&format!("SELECT {STORE_COLUMNS} FROM stores ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(store_from_row).collect()
    }

    /// Remove a store's connection. Its orders stay (they are the merchant's records); false
    /// when there was no such store.
    pub async fn delete_store(&self, id: &str) -> Result<bool, StorageError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM stores WHERE id = $1")
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Record a reconcile pass: when it ran, up to when it has seen the store's changes
    /// (only moved forward), and its error if it failed.
    pub async fn record_reconcile(
        &self,
        store_id: &str,
        at: DateTime<Utc>,
        seen_until: Option<DateTime<Utc>>,
        error: Option<&str>,
    ) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE stores SET last_reconcile_at = $1, last_reconcile_error = $2, \
             reconciled_until = CASE WHEN $3 IS NULL THEN reconciled_until \
               WHEN reconciled_until IS NULL OR reconciled_until < $3 THEN $3 \
               ELSE reconciled_until END \
             WHERE id = $4",
        )
        .bind(millis(at))
        .bind(error)
        .bind(seen_until.map(millis))
        .bind(store_id)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// Keep webhook deliveries, each with the job that will process it, in one transaction
    /// (the intake answers 2xx only after this commits). Returns the delivery ids in order.
    pub async fn insert_deliveries(
        &self,
        tx: &mut Tx,
        deliveries: &[NewDelivery],
    ) -> Result<Vec<i64>, StorageError> {
        let mut ids = Vec::with_capacity(deliveries.len());
        let mut latest: std::collections::BTreeMap<&str, i64> = Default::default();
        // Many rows per statement: a burst of deliveries is a few round trips, not hundreds.
        for chunk in deliveries.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO webhook_deliveries (store_id, topic, delivery_id, webhook_id, \
                 store_order_id, headers, body, received_at) VALUES {} RETURNING id",
                crate::values_placeholders(chunk.len(), 8)
            );
            let mut q = sqlx::query_as::<_, (i64,)>(&sql);
            for d in chunk {
                q = q
                    .bind(&d.store_id)
                    .bind(&d.topic)
                    .bind(&d.delivery_id)
                    .bind(&d.webhook_id)
                    .bind(d.store_order_id)
                    .bind(d.headers.to_string())
                    .bind(d.body.clone())
                    .bind(millis(d.received_at));
            }
            // Ids are taken in the order of the VALUES; RETURNING need not keep it.
            let mut chunk_ids: Vec<i64> = q
                .fetch_all(&mut *tx.tx)
                .await?
                .into_iter()
                .map(|(id,)| id)
                .collect();
            chunk_ids.sort_unstable();
            ids.extend(chunk_ids);
        }
        for d in deliveries {
            let at = latest.entry(&d.store_id).or_default();
            *at = (*at).max(millis(d.received_at));
        }
        for (store, at) in latest {
            sqlx::query(
                "UPDATE stores SET last_webhook_at = $1 WHERE id = $2 \
                 AND (last_webhook_at IS NULL OR last_webhook_at < $1)",
            )
            .bind(at)
            .bind(store)
            .execute(&mut *tx.tx)
            .await?;
        }
        Ok(ids)
    }

    pub async fn delivery(&self, id: i64) -> Result<DeliveryRow, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => delivery_from_row(&row),
            None => Err(StorageError::NotFound {
                what: "webhook delivery",
                id: id.to_string(),
            }),
        }
    }

    /// The deliveries about one store order not processed yet, up to `up_to`, oldest first.
    pub async fn unprocessed_deliveries(
        &self,
        store_id: &str,
        store_order_id: i64,
        up_to: i64,
    ) -> Result<Vec<DeliveryRow>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE store_id = $1 \
             AND store_order_id = $2 AND id <= $3 AND processed_at IS NULL ORDER BY id"
        ))
        .bind(store_id)
        .bind(store_order_id)
        .bind(up_to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    /// The newest deliveries of a store, newest first.
    pub async fn deliveries(
        &self,
        store_id: &str,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE store_id = $1 \
             ORDER BY id DESC LIMIT {}",
            limit.clamp(1, 1000)
        ))
        .bind(store_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    pub async fn count_deliveries(&self, store_id: &str) -> Result<i64, StorageError> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM webhook_deliveries WHERE store_id = $1")
                .bind(store_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(n)
    }

    /// Record what processing a delivery did. The first record stands: a delivery that two
    /// jobs processed at once (merging twice changes nothing) keeps the first outcome.
    pub async fn mark_delivery(
        &self,
        tx: &mut Tx,
        id: i64,
        outcome: &str,
        order_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE webhook_deliveries SET processed_at = $1, outcome = $2, order_id = $3 \
             WHERE id = $4 AND processed_at IS NULL",
        )
        .bind(millis(now))
        .bind(outcome)
        .bind(order_id)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
        Ok(())
    }

    pub async fn start_import(
        &self,
        store_id: &str,
        scope: &serde_json::Value,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StorageError> {
        let mut tx = self.begin().await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO imports (store_id, scope, state, actor, started_at) \
             VALUES ($1, $2, 'running', $3, $4) RETURNING id",
        )
        .bind(store_id)
        .bind(scope.to_string())
        .bind(actor)
        .bind(millis(now))
        .fetch_one(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Save an import's progress; with `finished` it ends as "done" (or "failed" with an
    /// error).
    pub async fn update_import(
        &self,
        id: i64,
        progress: &ImportProgress,
        finished: Option<(DateTime<Utc>, Option<&str>)>,
    ) -> Result<(), StorageError> {
        let (state, at, error) = match finished {
            None => ("running", None, None),
            Some((at, None)) => ("done", Some(millis(at)), None),
            Some((at, Some(e))) => ("failed", Some(millis(at)), Some(e)),
        };
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE imports SET total = $1, seen = $2, created = $3, updated = $4, \
             unchanged = $5, failed = $6, failures = $7, state = $8, finished_at = $9, \
             error = $10 WHERE id = $11",
        )
        .bind(progress.total)
        .bind(progress.seen)
        .bind(progress.created)
        .bind(progress.updated)
        .bind(progress.unchanged)
        .bind(progress.failed)
        .bind(serde_json::Value::from(progress.failures.clone()).to_string())
        .bind(state)
        .bind(at)
        .bind(error)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    pub async fn import(&self, id: i64) -> Result<ImportRow, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {IMPORT_COLUMNS} FROM imports WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => import_from_row(&row),
            None => Err(StorageError::NotFound {
                what: "import",
                id: id.to_string(),
            }),
        }
    }

    /// Queue a write to the store, in the caller's transaction (with the change it carries).
    pub async fn add_outbox(
        &self,
        tx: &mut Tx,
        entry: &NewOutbox<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64, StorageError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO outbox (store_id, order_id, kind, payload, state, actor, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', $5, $6) RETURNING id",
        )
        .bind(entry.store_id)
        .bind(entry.order_id)
        .bind(entry.kind)
        .bind(entry.payload.to_string())
        .bind(entry.actor)
        .bind(millis(now))
        .fetch_one(&mut *tx.tx)
        .await?;
        Ok(id)
    }

    /// An order's writes to the store, oldest first (pending and delivered).
    pub async fn outbox_for_order(&self, order_id: i64) -> Result<Vec<OutboxRow>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE order_id = $1 ORDER BY id"
        ))
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(outbox_from_row).collect()
    }

    /// The oldest pending write of an order, in the caller's transaction.
    pub async fn next_outbox(
        &self,
        tx: &mut Tx,
        order_id: i64,
    ) -> Result<Option<OutboxRow>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE order_id = $1 AND state = 'pending' \
             ORDER BY id LIMIT 1"
        ))
        .bind(order_id)
        .fetch_optional(&mut *tx.tx)
        .await?;
        row.as_ref().map(outbox_from_row).transpose()
    }

    /// Whether an order has writes of `kind` still on their way to the store (a read: no
    /// write lock).
    pub async fn has_pending_outbox(
        &self,
        order_id: i64,
        kind: &str,
    ) -> Result<bool, StorageError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM outbox WHERE order_id = $1 AND kind = $2 AND state = 'pending'",
        )
        .bind(order_id)
        .bind(kind)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    pub async fn outbox_delivered(
        &self,
        tx: &mut Tx,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE outbox SET state = 'delivered', delivered_at = $1, \
             attempts = attempts + 1, last_error = NULL WHERE id = $2",
        )
        .bind(millis(now))
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
        Ok(())
    }

    /// The store refused the entry for good (it will never take it as it is): the entry ends
    /// as "failed" with the reason, and the order's later writes go on.
    pub async fn outbox_refused(
        &self,
        tx: &mut Tx,
        id: i64,
        error: &str,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = $1 \
             WHERE id = $2",
        )
        .bind(error)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
        Ok(())
    }

    /// Record a failed attempt (the entry stays pending; the job retries).
    pub async fn outbox_attempt_failed(&self, id: i64, error: &str) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $1 WHERE id = $2")
            .bind(error)
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }
}
