//! Fulfillment provider accounts (settings as JSON, credentials sealed by the caller) and the
//! provider webhooks kept raw before they are acknowledged, plus the list the shipment poll
//! walks.
//!
//! This module stores what it is given: sealing, checking signatures and deciding what a
//! webhook means happen in `app`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{Db, Tx};
use crate::error::StorageError;
use crate::{from_millis, millis};

/// A provider account as stored. `secrets` holds sealed values by name (`api_key`,
/// `webhook_secret`); this crate never opens them.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderAccountRow {
    pub id: String,
    /// `connectors::provider::ProviderKind`'s spelling.
    pub kind: String,
    pub settings: serde_json::Value,
    pub secrets: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A provider webhook as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderWebhookRow {
    pub id: i64,
    pub account_id: String,
    pub headers: serde_json::Value,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
}

const ACCOUNT_COLUMNS: &str = "id, kind, settings, secrets, created_at, updated_at";

fn corrupt(what: &'static str, id: impl ToString, e: impl ToString) -> StorageError {
    StorageError::Corrupt {
        what,
        id: id.to_string(),
        message: e.to_string(),
    }
}

fn account_from_row(row: &AnyRow) -> Result<ProviderAccountRow, StorageError> {
    let id: String = row.try_get("id")?;
    let settings: String = row.try_get("settings")?;
    let secrets: String = row.try_get("secrets")?;
    Ok(ProviderAccountRow {
        settings: serde_json::from_str(&settings)
            .map_err(|e| corrupt("provider account", &id, e))?,
        secrets: serde_json::from_str(&secrets).map_err(|e| corrupt("provider account", &id, e))?,
        kind: row.try_get("kind")?,
        created_at: from_millis(row.try_get("created_at")?),
        updated_at: from_millis(row.try_get("updated_at")?),
        id,
    })
}

impl Db {
    /// Add or replace a provider account.
    pub async fn put_provider_account(
        &self,
        id: &str,
        kind: &str,
        settings: &serde_json::Value,
        secrets: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO provider_accounts (id, kind, settings, secrets, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (id) DO UPDATE SET kind = $2, settings = $3, secrets = $4, \
             updated_at = $5",
        )
        .bind(id)
        .bind(kind)
        .bind(settings.to_string())
        .bind(serde_json::to_string(secrets).expect("a map of strings serializes"))
        .bind(millis(now))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    pub async fn provider_account(
        &self,
        id: &str,
    ) -> Result<Option<ProviderAccountRow>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM provider_accounts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    pub async fn provider_accounts(&self) -> Result<Vec<ProviderAccountRow>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM provider_accounts ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    /// Remove an account; false when there was none. Orders keep the provider's name.
    pub async fn delete_provider_account(&self, id: &str) -> Result<bool, StorageError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM provider_accounts WHERE id = $1")
            .bind(id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Keep a provider webhook exactly as it arrived, in the caller's transaction (with the
    /// job that will process it). Returns its id.
    pub async fn insert_provider_webhook(
        &self,
        tx: &mut Tx,
        account_id: &str,
        headers: &serde_json::Value,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<i64, StorageError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO provider_webhooks (account_id, headers, body, received_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(account_id)
        .bind(headers.to_string())
        .bind(body)
        .bind(millis(now))
        .fetch_one(&mut *tx.tx)
        .await?;
        Ok(id)
    }

    pub async fn provider_webhook(&self, id: i64) -> Result<ProviderWebhookRow, StorageError> {
        let row = sqlx::query(
            "SELECT id, account_id, headers, body, received_at, processed_at, outcome \
             FROM provider_webhooks WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StorageError::NotFound {
            what: "provider webhook",
            id: id.to_string(),
        })?;
        let headers: String = row.try_get("headers")?;
        Ok(ProviderWebhookRow {
            id,
            account_id: row.try_get("account_id")?,
            headers: serde_json::from_str(&headers)
                .map_err(|e| corrupt("provider webhook", id, e))?,
            body: row.try_get("body")?,
            received_at: from_millis(row.try_get("received_at")?),
            processed_at: row
                .try_get::<Option<i64>, _>("processed_at")?
                .map(from_millis),
            outcome: row.try_get("outcome")?,
        })
    }

    /// Record what a provider webhook did; the first outcome stands.
    pub async fn mark_provider_webhook(
        &self,
        tx: &mut Tx,
        id: i64,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE provider_webhooks SET processed_at = $1, outcome = $2 \
             WHERE id = $3 AND processed_at IS NULL",
        )
        .bind(millis(now))
        .bind(outcome)
        .bind(id)
        .execute(&mut *tx.tx)
        .await?;
        Ok(())
    }

    /// Ids of orders in a submit state (`Submitted`, `Submitting`), oldest change first, at
    /// most `limit`: what the shipment poll and the stuck-submission check walk.
    pub async fn orders_in_submit_state(
        &self,
        label: &str,
        limit: i64,
    ) -> Result<Vec<i64>, StorageError> {
        let rows: Vec<(i64,)> = sqlx::query_as(&format!(
            "SELECT id FROM orders WHERE submit_status = $1 ORDER BY updated_at, id LIMIT {}",
            limit.max(0)
        ))
        .bind(label)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
