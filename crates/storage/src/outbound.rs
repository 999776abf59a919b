//! Outbound webhooks' tables: the merchant's endpoints (the signing secret sealed by the
//! caller, never opened here), one delivery per event and endpoint with its state, and every
//! attempt's outcome for the delivery log.
//!
//! This module stores what it is given: which endpoint an event goes to, the body, the retry
//! decision and the sealing all happen in `app`. Deliveries are written in the caller's
//! transaction, so an event commits with the change that caused it.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{Db, Tx};
use crate::error::StorageError;
use crate::{from_millis, millis};

/// An endpoint to register.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEndpoint<'a> {
    pub id: &'a str,
    pub url: &'a str,
    /// Event names, or `["*"]` for all.
    pub events: &'a [String],
    /// The signing secret, sealed by the caller.
    pub secret_sealed: &'a str,
    pub description: &'a str,
}

/// A registered endpoint as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub secret_sealed: String,
    pub description: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One event to deliver to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboundDelivery<'a> {
    pub endpoint_id: &'a str,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub order_id: Option<i64>,
    /// The JSON body every attempt sends, as is.
    pub payload: &'a str,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundState {
    /// Waiting for its (next) attempt.
    Queued,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt of its budget failed.
    Failed,
}

impl OutboundState {
    pub fn as_str(&self) -> &'static str {
        match self {
            OutboundState::Queued => "queued",
            OutboundState::Delivered => "delivered",
            OutboundState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<OutboundState> {
        Some(match s {
            "queued" => OutboundState::Queued,
            "delivered" => OutboundState::Delivered,
            "failed" => OutboundState::Failed,
            _ => return None,
        })
    }
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundDeliveryRow {
    pub id: i64,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub order_id: Option<i64>,
    pub payload: String,
    pub state: OutboundState,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The outcome of one attempt, for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundAttempt {
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i64>,
    /// Why the attempt failed (a status other than 2xx, a refused address, a timeout).
    pub error: Option<String>,
    pub duration_ms: i64,
    /// The first bytes of the receiver's answer.
    pub response_excerpt: Option<String>,
}

/// One attempt as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundAttemptRow {
    pub delivery_id: i64,
    /// 1 for the first attempt.
    pub attempt: i64,
    pub outcome: OutboundAttempt,
}

/// What an attempt leaves the delivery as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    Delivered,
    /// Tried again at this time (or later, as the queue gets to it).
    Retry(DateTime<Utc>),
    Failed,
}

const ENDPOINT_COLUMNS: &str =
    "id, url, events, secret_sealed, description, enabled, created_at, updated_at";

const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, event_type, order_id, payload, state, \
     attempts, last_status_code, last_error, created_at, next_attempt_at, delivered_at";

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

fn endpoint_from_row(row: &AnyRow) -> Result<EndpointRow, StorageError> {
    let id: String = row.try_get("id")?;
    let events: String = row.try_get("events")?;
    Ok(EndpointRow {
        events: serde_json::from_str(&events).map_err(|e| corrupt("webhook endpoint", &id, e))?,
        url: row.try_get("url")?,
        secret_sealed: row.try_get("secret_sealed")?,
        description: row.try_get("description")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
        id,
    })
}

fn delivery_from_row(row: &AnyRow) -> Result<OutboundDeliveryRow, StorageError> {
    let id: i64 = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    Ok(OutboundDeliveryRow {
        state: OutboundState::parse(&state)
            .ok_or_else(|| corrupt("webhook delivery", id, format!("state {state:?}")))?,
        endpoint_id: row.try_get("endpoint_id")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        order_id: row.try_get("order_id")?,
        payload: row.try_get("payload")?,
        attempts: row.try_get("attempts")?,
        last_status_code: row.try_get("last_status_code")?,
        last_error: row.try_get("last_error")?,
        created_at: from_millis(row.try_get("created_at")?),
        next_attempt_at: opt_time(row, "next_attempt_at")?,
        delivered_at: opt_time(row, "delivered_at")?,
        id,
    })
}

impl Db {
    /// Register an endpoint (its id is the caller's, unique).
    pub async fn insert_endpoint(
        &self,
        endpoint: &NewEndpoint<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, url, events, secret_sealed, description, \
             enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $6)",
        )
        .bind(endpoint.id)
        .bind(endpoint.url)
        .bind(serde_json::to_string(endpoint.events).expect("strings serialize"))
        .bind(endpoint.secret_sealed)
        .bind(endpoint.description)
        .bind(millis(now))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    pub async fn endpoint(&self, id: &str) -> Result<Option<EndpointRow>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    /// Every endpoint, oldest first.
    pub async fn endpoints(&self) -> Result<Vec<EndpointRow>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    /// The enabled endpoints, read in the caller's transaction (the one that writes their
    /// deliveries, so an endpoint removed meanwhile gets none).
    pub async fn enabled_endpoints(&self, tx: &mut Tx) -> Result<Vec<EndpointRow>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE enabled = 1 \
             ORDER BY created_at, id"
        ))
        .fetch_all(&mut *tx.tx)
        .await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    /// Remove an endpoint with its deliveries and their log; false when there was none.
    pub async fn delete_endpoint(&self, id: &str) -> Result<bool, StorageError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Queue a delivery in the caller's transaction; its id.
    pub async fn insert_outbound_delivery(
        &self,
        tx: &mut Tx,
        delivery: &NewOutboundDelivery<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64, StorageError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO outbound_deliveries (endpoint_id, event_id, event_type, order_id, \
             payload, state, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, 'queued', $6, $6) RETURNING id",
        )
        .bind(delivery.endpoint_id)
        .bind(delivery.event_id)
        .bind(delivery.event_type)
        .bind(delivery.order_id)
        .bind(delivery.payload)
        .bind(millis(now))
        .fetch_one(&mut *tx.tx)
        .await?;
        Ok(id)
    }

    /// A delivery; `None` when it is gone (its endpoint was removed).
    pub async fn outbound_delivery(
        &self,
        id: i64,
    ) -> Result<Option<OutboundDeliveryRow>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM outbound_deliveries WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(delivery_from_row).transpose()
    }

    /// An endpoint's newest deliveries, newest first.
    pub async fn outbound_deliveries(
        &self,
        endpoint_id: &str,
        limit: i64,
    ) -> Result<Vec<OutboundDeliveryRow>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM outbound_deliveries WHERE endpoint_id = $1 \
             ORDER BY id DESC LIMIT {}",
            limit.clamp(1, 1000)
        ))
        .bind(endpoint_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_from_row).collect()
    }

    /// The attempts of these deliveries, in the order they were made.
    pub async fn outbound_attempts(
        &self,
        delivery_ids: &[i64],
    ) -> Result<Vec<OutboundAttemptRow>, StorageError> {
        if delivery_ids.is_empty() {
            return Ok(vec![]);
        }
        let list: Vec<String> = (1..=delivery_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT delivery_id, attempt, at, status_code, error, duration_ms, response_excerpt \
             FROM outbound_attempts WHERE delivery_id IN ({}) ORDER BY delivery_id, id",
            list.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for id in delivery_ids {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(OutboundAttemptRow {
                    delivery_id: row.try_get("delivery_id")?,
                    attempt: row.try_get("attempt")?,
                    outcome: OutboundAttempt {
                        at: from_millis(row.try_get("at")?),
                        status_code: row.try_get("status_code")?,
                        error: row.try_get("error")?,
                        duration_ms: row.try_get("duration_ms")?,
                        response_excerpt: row.try_get("response_excerpt")?,
                    },
                })
            })
            .collect()
    }

    /// Log an attempt and leave the delivery as `end`, in the caller's transaction (the one
    /// that completes the delivery's job when it ends). Only a queued delivery changes: an
    /// attempt recorded twice (a job taken over) or after its endpoint was removed changes
    /// nothing. True when the delivery was queued and is now updated.
    pub async fn record_outbound_attempt(
        &self,
        tx: &mut Tx,
        delivery_id: i64,
        attempt: &OutboundAttempt,
        end: AttemptEnd,
    ) -> Result<bool, StorageError> {
        let (state, next, delivered) = match end {
            AttemptEnd::Delivered => (OutboundState::Delivered, None, Some(millis(attempt.at))),
            AttemptEnd::Retry(at) => (OutboundState::Queued, Some(millis(at)), None),
            AttemptEnd::Failed => (OutboundState::Failed, None, None),
        };
        let updated = sqlx::query_as::<_, (i64,)>(
            "UPDATE outbound_deliveries SET state = $1, attempts = attempts + 1, \
             last_status_code = $2, last_error = $3, next_attempt_at = $4, delivered_at = $5 \
             WHERE id = $6 AND state = 'queued' RETURNING attempts",
        )
        .bind(state.as_str())
        .bind(attempt.status_code)
        .bind(attempt.error.as_deref())
        .bind(next)
        .bind(delivered)
        .bind(delivery_id)
        .fetch_optional(&mut *tx.tx)
        .await?;
        let Some((n,)) = updated else {
            return Ok(false);
        };
        sqlx::query(
            "INSERT INTO outbound_attempts (delivery_id, attempt, at, status_code, error, \
             duration_ms, response_excerpt) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(delivery_id)
        .bind(n)
        .bind(millis(attempt.at))
        .bind(attempt.status_code)
        .bind(attempt.error.as_deref())
        .bind(attempt.duration_ms)
        .bind(attempt.response_excerpt.as_deref())
        .execute(&mut *tx.tx)
        .await?;
        Ok(true)
    }

    /// Deliveries per state, for tests and the operator.
    pub async fn count_outbound(&self, state: OutboundState) -> Result<i64, StorageError> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM outbound_deliveries WHERE state = $1")
                .bind(state.as_str())
                .fetch_one(&self.pool)
                .await?;
        Ok(n)
    }
}
