//! Users, the stores a merchant owns, login sessions, API tokens and the failed-login record
//! the throttle counts.
//!
//! This module stores what it is given: hashing passwords, making tokens and deciding who may
//! see what happen in `app`. Tokens arrive here already hashed (SHA-256, hex).

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::Db;
use crate::error::StorageError;
use crate::{from_millis, millis};

/// A user as stored, with the stores they own (empty for admins).
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    /// An Argon2id PHC string.
    pub password_hash: String,
    /// `admin` or `merchant`.
    pub role: String,
    pub stores: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A login session: its user and the CSRF token its forms carry.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub user: UserRow,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An API token (never its value: only the hash is kept).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

const USER_COLUMNS: &str = "id, username, password_hash, role, created_at";

impl Db {
    fn user_from_row(row: &AnyRow) -> Result<UserRow, StorageError> {
        Ok(UserRow {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            role: row.try_get("role")?,
            stores: vec![],
            created_at: from_millis(row.try_get("created_at")?),
        })
    }

    async fn with_stores(&self, mut user: UserRow) -> Result<UserRow, StorageError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT store_id FROM user_stores WHERE user_id = $1 ORDER BY store_id")
                .bind(user.id)
                .fetch_all(&self.pool)
                .await?;
        user.stores = rows.into_iter().map(|(s,)| s).collect();
        Ok(user)
    }

    /// Add a user. A taken name is `Conflict`.
    pub async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: &str,
        stores: &[String],
        now: DateTime<Utc>,
    ) -> Result<i64, StorageError> {
        let mut tx = self.begin().await?;
        let taken: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx.tx)
            .await?;
        if taken.is_some() {
            return Err(StorageError::Conflict {
                what: "user",
                id: username.to_string(),
            });
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO users (username, password_hash, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(username)
        .bind(password_hash)
        .bind(role)
        .bind(millis(now))
        .fetch_one(&mut *tx.tx)
        .await?;
        for store in stores {
            sqlx::query("INSERT INTO user_stores (user_id, store_id) VALUES ($1, $2)")
                .bind(id)
                .bind(store)
                .execute(&mut *tx.tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.with_stores(Db::user_from_row(&row)?).await?)),
            None => Ok(None),
        }
    }

    pub async fn user(&self, id: i64) -> Result<Option<UserRow>, StorageError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(self.with_stores(Db::user_from_row(&row)?).await?)),
            None => Ok(None),
        }
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserRow>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut users = vec![];
        for row in &rows {
            users.push(self.with_stores(Db::user_from_row(row)?).await?);
        }
        Ok(users)
    }

    pub async fn count_users(&self) -> Result<i64, StorageError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Replace a user's password and end their sessions (a changed password logs out
    /// everywhere).
    pub async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(password_hash)
                .bind(millis(now))
                .bind(user_id)
                .execute(&mut *tx.tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound {
                what: "user",
                id: user_id.to_string(),
            });
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// Replace the stores a merchant owns.
    pub async fn set_user_stores(
        &self,
        user_id: i64,
        stores: &[String],
    ) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM user_stores WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx.tx)
            .await?;
        for store in stores {
            sqlx::query("INSERT INTO user_stores (user_id, store_id) VALUES ($1, $2)")
                .bind(user_id)
                .bind(store)
                .execute(&mut *tx.tx)
                .await?;
        }
        tx.commit().await
    }

    /// Remove a user with their sessions, tokens and store links.
    pub async fn delete_user(&self, user_id: i64) -> Result<bool, StorageError> {
        let mut tx = self.begin().await?;
        for table in ["sessions", "api_tokens", "user_stores"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(user_id)
                .execute(&mut *tx.tx)
                .await?;
        }
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Start a session (the caller made the token and keeps only its hash here).
    pub async fn create_session(
        &self,
        token_sha256: &str,
        user_id: i64,
        csrf: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        // Expired sessions go as new ones start, so the table stays the size of the live ones.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(millis(now))
            .execute(&mut *tx.tx)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_sha256, user_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_sha256)
        .bind(user_id)
        .bind(csrf)
        .bind(millis(now))
        .bind(millis(expires_at))
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await
    }

    /// The live session with this token hash, with its user.
    pub async fn session(
        &self,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRow>, StorageError> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.password_hash, u.role, u.created_at, \
             s.csrf, s.created_at AS s_created, s.expires_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_sha256 = $1 AND s.expires_at > $2",
        )
        .bind(token_sha256)
        .bind(millis(now))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = self.with_stores(Db::user_from_row(&row)?).await?;
        Ok(Some(SessionRow {
            user,
            csrf: row.try_get("csrf")?,
            created_at: from_millis(row.try_get("s_created")?),
            expires_at: from_millis(row.try_get("expires_at")?),
        }))
    }

    pub async fn delete_session(&self, token_sha256: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
            .bind(token_sha256)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Record an API token (its hash) for a user.
    pub async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StorageError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO api_tokens (user_id, name, token_sha256, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_sha256)
        .bind(millis(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// The user a token belongs to; marks the token used.
    pub async fn user_for_token(
        &self,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRow>, StorageError> {
        let row: Option<(i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, user_id, last_used_at FROM api_tokens WHERE token_sha256 = $1",
        )
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        let Some((id, user_id, last_used)) = row else {
            return Ok(None);
        };
        // At most one write a minute per token: the record is for people, not an audit log.
        if last_used.is_none_or(|t| millis(now) - t > 60_000) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(millis(now))
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        self.user(user_id).await
    }

    pub async fn tokens(&self, user_id: i64) -> Result<Vec<TokenRow>, StorageError> {
        let rows: Vec<(i64, i64, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, user_id, name, created_at, last_used_at FROM api_tokens \
             WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, user_id, name, created, used)| TokenRow {
                id,
                user_id,
                name,
                created_at: from_millis(created),
                last_used_at: used.map(from_millis),
            })
            .collect())
    }

    pub async fn delete_token(&self, id: i64) -> Result<bool, StorageError> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Record a failed login under each key (account and address); rows older than
    /// `forget_before` go.
    pub async fn record_login_failure(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(millis(forget_before))
            .execute(&mut *tx.tx)
            .await?;
        for key in keys {
            sqlx::query("INSERT INTO login_failures (throttle_key, at) VALUES ($1, $2)")
                .bind(key)
                .bind(millis(now))
                .execute(&mut *tx.tx)
                .await?;
        }
        tx.commit().await
    }

    /// Failed logins under `key` since `since`, and the oldest of them (when the throttle
    /// lets go).
    pub async fn login_failures(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<(i64, Option<DateTime<Utc>>), StorageError> {
        let (n, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(at) FROM login_failures WHERE throttle_key = $1 AND at >= $2",
        )
        .bind(key)
        .bind(millis(since))
        .fetch_one(&self.pool)
        .await?;
        Ok((n, oldest.map(from_millis)))
    }

    /// Forget an account's failures (after a successful login).
    pub async fn clear_login_failures(&self, key: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
