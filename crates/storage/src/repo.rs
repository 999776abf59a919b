//! Repositories: orders (with compare-and-set updates), their append-only history, render
//! versions, templates and stores. Orders are stored as a JSON document of the domain model,
//! with the columns the queries filter on beside it.

use chrono::{DateTime, Utc};
use domain::{Actor, EventKind, HistoryEvent, Order};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{Db, Tx};
use crate::error::StorageError;
use crate::{from_millis, millis};

/// An order as stored: Pressroom's id and the row version used for compare-and-set.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRow {
    pub id: i64,
    pub store_id: String,
    pub row_version: i64,
    pub order: Order,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A template version as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRow {
    pub id: String,
    pub version: String,
    pub manifest_sha256: String,
    pub location: String,
    pub updated_at: DateTime<Utc>,
}

/// A finished render to record (one new version of an order's item).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRender {
    pub order_id: i64,
    pub item_id: i64,
    pub job_id: Option<i64>,
    pub template_id: String,
    pub print_key: String,
    pub print_sha256: String,
    pub print_size: i64,
    pub preview_key: String,
    pub mockup_key: Option<String>,
    pub report_key: String,
    pub preflight: serde_json::Value,
    pub preflight_errors: i64,
    pub preflight_warnings: i64,
    pub record: serde_json::Value,
    pub duration_ms: i64,
}

/// A recorded render version.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderRow {
    pub id: i64,
    pub version: i64,
    pub render: NewRender,
    pub created_at: DateTime<Utc>,
}

const ORDER_COLUMNS: &str = "id, store_id, row_version, data, created_at, updated_at";
const ORDER_BY_ID: &str =
    "SELECT id, store_id, row_version, data, created_at, updated_at FROM orders WHERE id = $1";

fn order_found(row: Option<AnyRow>, id: i64) -> Result<OrderRow, StorageError> {
    let row = row.ok_or_else(|| StorageError::NotFound {
        what: "order",
        id: id.to_string(),
    })?;
    order_from_row(&row)
}

pub(crate) fn order_from_row(row: &AnyRow) -> Result<OrderRow, StorageError> {
    let id: i64 = row.try_get("id")?;
    let data: String = row.try_get("data")?;
    let order = serde_json::from_str(&data).map_err(|e| StorageError::Corrupt {
        what: "order",
        id: id.to_string(),
        message: e.to_string(),
    })?;
    Ok(OrderRow {
        id,
        store_id: row.try_get("store_id")?,
        row_version: row.try_get("row_version")?,
        order,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
    })
}

fn order_json(order: &Order) -> String {
    serde_json::to_string(order).expect("domain orders always serialize")
}

/// What the dashboard's search matches a customer on: name and email, lowercased.
pub fn customer_search(order: &Order) -> String {
    format!("{} {}", order.customer.name, order.customer.email).to_lowercase()
}

/// When the customer placed the order, as the dashboard's date filter compares it: RFC 3339 in
/// UTC, as the order's JSON has it.
pub fn placed_at(order: &Order) -> Option<String> {
    order
        .created_at
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

fn submit_at(order: &Order) -> Option<i64> {
    order.countdown.submit_at.map(millis)
}

impl Db {
    /// Store a new order. A second import of the same store order is refused with the id of
    /// the first, so callers can treat it as an update instead.
    pub async fn insert_order(
        &self,
        tx: &mut Tx,
        store_id: &str,
        order: &Order,
        now: DateTime<Utc>,
    ) -> Result<i64, StorageError> {
        let existing: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM orders WHERE store_id = $1 AND store_order_id = $2")
                .bind(store_id)
                .bind(order.store_order_id)
                .fetch_optional(&mut *tx.tx)
                .await?;
        if let Some((existing,)) = existing {
            return Err(StorageError::DuplicateOrder {
                store_id: store_id.to_string(),
                store_order_id: order.store_order_id,
                existing,
            });
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO orders (store_id, store_order_id, number, status, status_kind, order_type, \
             submit_status, submit_at, data, created_at, updated_at, customer_search, placed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12) RETURNING id",
        )
        .bind(store_id)
        .bind(order.store_order_id)
        .bind(&order.number)
        .bind(&order.status.raw)
        .bind(order.status.kind.as_str())
        .bind(order.order_type.as_str())
        .bind(order.submit_status.label())
        .bind(submit_at(order))
        .bind(order_json(order))
        .bind(millis(now))
        .bind(customer_search(order))
        .bind(placed_at(order))
        .fetch_one(&mut *tx.tx)
        .await?;
        Ok(id)
    }

    pub async fn get_order(&self, id: i64) -> Result<OrderRow, StorageError> {
        let row = sqlx::query(ORDER_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        order_found(row, id)
    }

    /// The order inside a transaction (to decide and then write with compare-and-set).
    pub async fn get_order_tx(&self, tx: &mut Tx, id: i64) -> Result<OrderRow, StorageError> {
        let row = sqlx::query(ORDER_BY_ID)
            .bind(id)
            .fetch_optional(&mut *tx.tx)
            .await?;
        order_found(row, id)
    }

    pub async fn find_order(
        &self,
        store_id: &str,
        store_order_id: i64,
    ) -> Result<Option<OrderRow>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE store_id = $1 AND store_order_id = $2"
        ))
        .bind(store_id)
        .bind(store_order_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(order_from_row).transpose()
    }

    /// Newest first.
    pub async fn list_orders(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<OrderRow>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders ORDER BY id DESC LIMIT $1 OFFSET $2"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(order_from_row).collect()
    }

    /// Compare-and-set: write `order` only if the row is still at `expected_version`. Returns
    /// the new version, or `Conflict` when somebody else wrote in between.
    pub async fn update_order(
        &self,
        tx: &mut Tx,
        id: i64,
        expected_version: i64,
        order: &Order,
        now: DateTime<Utc>,
    ) -> Result<i64, StorageError> {
        let row: Option<(i64,)> = sqlx::query_as(
            "UPDATE orders SET number = $1, status = $2, status_kind = $3, order_type = $4, \
             submit_status = $5, submit_at = $6, data = $7, updated_at = $8, \
             customer_search = $11, placed_at = $12, row_version = row_version + 1 \
             WHERE id = $9 AND row_version = $10 RETURNING row_version",
        )
        .bind(&order.number)
        .bind(&order.status.raw)
        .bind(order.status.kind.as_str())
        .bind(order.order_type.as_str())
        .bind(order.submit_status.label())
        .bind(submit_at(order))
        .bind(order_json(order))
        .bind(millis(now))
        .bind(id)
        .bind(expected_version)
        .bind(customer_search(order))
        .bind(placed_at(order))
        .fetch_optional(&mut *tx.tx)
        .await?;
        row.map(|(v,)| v).ok_or_else(|| StorageError::Conflict {
            what: "order",
            id: id.to_string(),
        })
    }

    /// Compare-and-set on the store status alone: move from `from` (verbatim) to `order`'s
    /// status. False when the status was no longer `from`.
    pub async fn compare_and_set_status(
        &self,
        tx: &mut Tx,
        id: i64,
        from: &str,
        order: &Order,
        now: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE orders SET status = $1, status_kind = $2, submit_at = $3, data = $4, \
             updated_at = $5, row_version = row_version + 1 WHERE id = $6 AND status = $7",
        )
        .bind(&order.status.raw)
        .bind(order.status.kind.as_str())
        .bind(submit_at(order))
        .bind(order_json(order))
        .bind(millis(now))
        .bind(id)
        .bind(from)
        .execute(&mut *tx.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Append one event to an order's history (the only write history ever gets).
    pub async fn append_history(
        &self,
        tx: &mut Tx,
        order_id: i64,
        event: &HistoryEvent,
    ) -> Result<i64, StorageError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO history (order_id, at, actor, kind, message, payload) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(order_id)
        .bind(millis(event.at))
        .bind(serde_json::to_string(&event.actor).expect("actors serialize"))
        .bind(event.kind.as_str())
        .bind(&event.message)
        .bind(event.payload.as_ref().map(|p| p.to_string()))
        .fetch_one(&mut *tx.tx)
        .await?;
        Ok(id)
    }

    /// Oldest first.
    pub async fn history(&self, order_id: i64) -> Result<Vec<HistoryEvent>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, kind, message, payload FROM history \
             WHERE order_id = $1 ORDER BY id",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                let corrupt = |message: String| StorageError::Corrupt {
                    what: "history event",
                    id: id.to_string(),
                    message,
                };
                let actor: String = row.try_get("actor")?;
                let actor: Actor =
                    serde_json::from_str(&actor).map_err(|e| corrupt(e.to_string()))?;
                let kind: String = row.try_get("kind")?;
                let kind: EventKind = kind
                    .parse()
                    .map_err(|_| corrupt(format!("unknown event kind {kind:?}")))?;
                let payload: Option<String> = row.try_get("payload")?;
                let payload = payload
                    .map(|p| serde_json::from_str(&p))
                    .transpose()
                    .map_err(|e| corrupt(e.to_string()))?;
                Ok(HistoryEvent {
                    at: from_millis(row.try_get("at")?),
                    actor,
                    kind,
                    message: row.try_get("message")?,
                    payload,
                })
            })
            .collect()
    }

    /// Record a render as the order's next version (versions count per order, 1, 2, 3…).
    /// Taking the version bumps the order's counter, which also serializes concurrent renders
    /// of one order on Postgres (row lock) and SQLite (single writer).
    pub async fn record_render(
        &self,
        tx: &mut Tx,
        render: &NewRender,
        now: DateTime<Utc>,
    ) -> Result<RenderRow, StorageError> {
        let (version,): (i64,) = sqlx::query_as(
            "UPDATE orders SET render_seq = render_seq + 1 WHERE id = $1 RETURNING render_seq",
        )
        .bind(render.order_id)
        .fetch_optional(&mut *tx.tx)
        .await?
        .ok_or_else(|| StorageError::NotFound {
            what: "order",
            id: render.order_id.to_string(),
        })?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO renders (order_id, item_id, version, job_id, template_id, print_key, \
             print_sha256, print_size, preview_key, mockup_key, report_key, preflight, \
             preflight_errors, preflight_warnings, record, duration_ms, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
             RETURNING id",
        )
        .bind(render.order_id)
        .bind(render.item_id)
        .bind(version)
        .bind(render.job_id)
        .bind(&render.template_id)
        .bind(&render.print_key)
        .bind(&render.print_sha256)
        .bind(render.print_size)
        .bind(&render.preview_key)
        .bind(render.mockup_key.as_deref())
        .bind(&render.report_key)
        .bind(render.preflight.to_string())
        .bind(render.preflight_errors)
        .bind(render.preflight_warnings)
        .bind(render.record.to_string())
        .bind(render.duration_ms)
        .bind(millis(now))
        .fetch_one(&mut *tx.tx)
        .await?;
        Ok(RenderRow {
            id,
            version,
            render: render.clone(),
            created_at: now,
        })
    }

    /// Every render of an order, oldest first.
    pub async fn renders(&self, order_id: i64) -> Result<Vec<RenderRow>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {RENDER_COLUMNS} FROM renders WHERE order_id = $1 ORDER BY version"
        ))
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(render_from_row).collect()
    }

    pub async fn render(&self, id: i64) -> Result<RenderRow, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {RENDER_COLUMNS} FROM renders WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StorageError::NotFound {
            what: "render",
            id: id.to_string(),
        })?;
        render_from_row(&row)
    }

    pub async fn count_renders(&self) -> Result<i64, StorageError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM renders")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Remember which template version is installed (templates live in a folder; this row
    /// lets renders and the UI name them).
    pub async fn upsert_template(
        &self,
        id: &str,
        version: &str,
        manifest_sha256: &str,
        location: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let _w = self.write_lock().await;
        sqlx::query(
            "INSERT INTO templates (id, version, manifest_sha256, location, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET version = $2, \
             manifest_sha256 = $3, location = $4, updated_at = $5",
        )
        .bind(id)
        .bind(version)
        .bind(manifest_sha256)
        .bind(location)
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Installed template versions that renders used, by id.
    pub async fn templates(&self) -> Result<Vec<TemplateRow>, StorageError> {
        let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
            "SELECT id, version, manifest_sha256, location, updated_at FROM templates ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, version, manifest_sha256, location, at)| TemplateRow {
                id,
                version,
                manifest_sha256,
                location,
                updated_at: from_millis(at),
            })
            .collect())
    }

    /// Make sure a store row exists (orders reference their store by id).
    pub async fn ensure_store(
        &self,
        tx: &mut Tx,
        id: &str,
        name: &str,
        url: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO stores (id, name, url, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(name)
        .bind(url)
        .bind(millis(now))
        .execute(&mut *tx.tx)
        .await?;
        Ok(())
    }
}

const RENDER_COLUMNS: &str = "id, order_id, item_id, version, job_id, template_id, print_key, \
     print_sha256, print_size, preview_key, mockup_key, report_key, preflight, preflight_errors, \
     preflight_warnings, record, duration_ms, created_at";

fn render_from_row(row: &AnyRow) -> Result<RenderRow, StorageError> {
    let id: i64 = row.try_get("id")?;
    let json = |col: &str| -> Result<serde_json::Value, StorageError> {
        let text: String = row.try_get(col)?;
        serde_json::from_str(&text).map_err(|e| StorageError::Corrupt {
            what: "render",
            id: id.to_string(),
            message: format!("{col}: {e}"),
        })
    };
    Ok(RenderRow {
        id,
        version: row.try_get("version")?,
        created_at: from_millis(row.try_get("created_at")?),
        render: NewRender {
            order_id: row.try_get("order_id")?,
            item_id: row.try_get("item_id")?,
            job_id: row.try_get("job_id")?,
            template_id: row.try_get("template_id")?,
            print_key: row.try_get("print_key")?,
            print_sha256: row.try_get("print_sha256")?,
            print_size: row.try_get("print_size")?,
            preview_key: row.try_get("preview_key")?,
            mockup_key: row.try_get("mockup_key")?,
            report_key: row.try_get("report_key")?,
            preflight: json("preflight")?,
            preflight_errors: row.try_get("preflight_errors")?,
            preflight_warnings: row.try_get("preflight_warnings")?,
            record: json("record")?,
            duration_ms: row.try_get("duration_ms")?,
        },
    })
}
