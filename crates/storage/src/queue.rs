//! The job queue, in the same database as the orders so a job is enqueued in the same
//! transaction as the change that causes it.
//!
//! A claim takes a lease (`lease_until`) and a fencing token (`token`, bumped at every claim).
//! Heartbeats extend the lease; completing, failing or extending needs the current token, so a
//! worker that paused past its lease and was taken over can no longer touch the job. Expired
//! leases are returned to the queue by [`Db::requeue_expired`], which every worker runs
//! periodically. Postgres claims with `FOR UPDATE SKIP LOCKED`; SQLite has one writer at a time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{Db, Dialect, Tx};
use crate::error::StorageError;
use crate::{from_millis, millis};

/// The Postgres channel idle workers listen on.
pub const JOBS_CHANNEL: &str = "pressroom_jobs";

const COMPLETE: &str = "UPDATE jobs SET state = 'done', lease_until = NULL, finished_at = $1, \
     updated_at = $1, last_error = NULL WHERE id = $2 AND token = $3 AND state = 'running'";

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for `run_at` and a worker (also after a retryable failure).
    Queued,
    /// Held by a worker under a lease.
    Running,
    Done,
    /// Failed for good (fatal error or out of attempts); `last_error` says why.
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 4] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Dead,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// Higher runs first.
    pub priority: i64,
    pub run_at: DateTime<Utc>,
    pub max_attempts: i64,
    pub order_id: Option<i64>,
}

impl NewJob {
    pub fn new(kind: &str, payload: serde_json::Value, now: DateTime<Utc>) -> NewJob {
        NewJob {
            kind: kind.to_string(),
            payload,
            priority: 0,
            run_at: now,
            max_attempts: 8,
            order_id: None,
        }
    }
}

/// A job this worker holds, with the token that proves it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Claims so far, this one included.
    pub attempts: i64,
    pub max_attempts: i64,
    pub token: i64,
    pub order_id: Option<i64>,
    pub lease_until: DateTime<Utc>,
}

/// What became of a failed job.
#[derive(Debug, Clone, PartialEq)]
pub enum FailOutcome {
    Retry { at: DateTime<Utc> },
    Dead,
}

/// A job's row, for tests and the operator.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub state: JobState,
    pub attempts: i64,
    pub token: i64,
    pub last_error: Option<String>,
    pub worker: Option<String>,
    pub run_at: DateTime<Utc>,
}

/// Jobs by state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueCounts {
    pub queued: i64,
    pub running: i64,
    pub done: i64,
    pub dead: i64,
}

impl QueueCounts {
    pub fn get(&self, state: JobState) -> i64 {
        match state {
            JobState::Queued => self.queued,
            JobState::Running => self.running,
            JobState::Done => self.done,
            JobState::Dead => self.dead,
        }
    }
}

/// Retry delay after the `attempts`-th failed attempt: 2 s, 4 s, 8 s… capped at 5 minutes.
pub fn backoff(attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 20) - 1;
    Duration::from_secs((2u64 << exp).min(300))
}

/// A job write that needed the caller's token: exactly one row, or the token was stale.
fn held(done: &sqlx::any::AnyQueryResult, job: i64, token: i64) -> Result<(), StorageError> {
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StorageError::StaleToken { job, token })
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn claimed_from_row(row: &AnyRow) -> Result<ClaimedJob, StorageError> {
    let id: i64 = row.try_get("id")?;
    let payload: String = row.try_get("payload")?;
    Ok(ClaimedJob {
        id,
        kind: row.try_get("kind")?,
        payload: serde_json::from_str(&payload).map_err(|e| StorageError::Corrupt {
            what: "job",
            id: id.to_string(),
            message: e.to_string(),
        })?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        token: row.try_get("token")?,
        order_id: row.try_get("order_id")?,
        lease_until: from_millis(row.try_get("lease_until")?),
    })
}

impl Db {
    /// Enqueue inside the caller's transaction: the job exists exactly when the change that
    /// caused it was committed. Idle workers are woken at commit.
    pub async fn enqueue(
        &self,
        tx: &mut Tx,
        job: &NewJob,
        now: DateTime<Utc>,
    ) -> Result<i64, StorageError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO jobs (kind, payload, state, priority, run_at, max_attempts, order_id, \
             created_at, updated_at) VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(job.priority)
        .bind(millis(job.run_at))
        .bind(job.max_attempts.max(1))
        .bind(job.order_id)
        .bind(millis(now))
        .fetch_one(&mut *tx.tx)
        .await?;
        if self.dialect() == Dialect::Postgres && !tx.notify_jobs {
            // Delivered by Postgres at commit, to every listening worker process.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(JOBS_CHANNEL)
                .bind(&job.kind)
                .execute(&mut *tx.tx)
                .await?;
        }
        tx.notify_jobs = true;
        tx.enqueued += 1;
        Ok(id)
    }

    /// Enqueue in a transaction of its own.
    pub async fn enqueue_now(&self, job: &NewJob, now: DateTime<Utc>) -> Result<i64, StorageError> {
        let mut tx = self.begin().await?;
        let id = self.enqueue(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Claim the most urgent ready job of one of `kinds`, with a lease of `lease`.
    pub async fn claim(
        &self,
        worker: &str,
        kinds: &[&str],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<ClaimedJob>, StorageError> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let kind_params: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 4)).collect();
        let lock = match self.dialect() {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, token = token + 1, \
             lease_until = $1, worker = $2, updated_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= $3 \
             AND kind IN ({}) ORDER BY priority DESC, run_at, id LIMIT 1 {lock}) \
             RETURNING id, kind, payload, attempts, max_attempts, token, order_id, lease_until",
            kind_params.join(", ")
        );
        let mut query = sqlx::query(&sql)
            .bind(millis(now) + ms(lease))
            .bind(worker)
            .bind(millis(now));
        for kind in kinds {
            query = query.bind(*kind);
        }
        let _w = self.write_lock().await;
        let row = query.fetch_optional(&self.pool).await?;
        row.as_ref().map(claimed_from_row).transpose()
    }

    /// Extend the lease of a job this worker still holds.
    pub async fn heartbeat(
        &self,
        job: i64,
        token: i64,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<DateTime<Utc>, StorageError> {
        let until = millis(now) + ms(lease);
        let _w = self.write_lock().await;
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = $1, updated_at = $2 \
             WHERE id = $3 AND token = $4 AND state = 'running'",
        )
        .bind(until)
        .bind(millis(now))
        .bind(job)
        .bind(token)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            Ok(from_millis(until))
        } else {
            Err(StorageError::StaleToken { job, token })
        }
    }

    /// Mark the job done, inside the transaction that records its result. A stale token (the
    /// lease expired and another worker took over) is refused, so the caller rolls back.
    pub async fn complete(
        &self,
        tx: &mut Tx,
        job: i64,
        token: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let done = sqlx::query(COMPLETE)
            .bind(millis(now))
            .bind(job)
            .bind(token)
            .execute(&mut *tx.tx)
            .await?;
        held(&done, job, token)
    }

    /// Complete in one statement of its own (jobs whose result is not stored in the database).
    pub async fn complete_now(
        &self,
        job: i64,
        token: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let _w = self.write_lock().await;
        let done = sqlx::query(COMPLETE)
            .bind(millis(now))
            .bind(job)
            .bind(token)
            .execute(&self.pool)
            .await?;
        held(&done, job, token)
    }

    /// Record a failure: a retryable one goes back to the queue after [`backoff`] while
    /// attempts remain; a fatal one (or the last attempt) is dead-lettered with its reason.
    pub async fn fail(
        &self,
        job: &ClaimedJob,
        error: &str,
        retryable: bool,
        now: DateTime<Utc>,
    ) -> Result<FailOutcome, StorageError> {
        let retry = retryable && job.attempts < job.max_attempts;
        let at = now + chrono::Duration::from_std(backoff(job.attempts)).unwrap_or_default();
        let _w = self.write_lock().await;
        let done = if retry {
            sqlx::query(
                "UPDATE jobs SET state = 'queued', run_at = $1, lease_until = NULL, last_error = $2, \
                 updated_at = $3 WHERE id = $4 AND token = $5 AND state = 'running'",
            )
            .bind(millis(at))
            .bind(error)
            .bind(millis(now))
            .bind(job.id)
            .bind(job.token)
            .execute(&self.pool)
            .await?
        } else {
            sqlx::query(
                "UPDATE jobs SET state = 'dead', lease_until = NULL, last_error = $1, \
                 finished_at = $2, updated_at = $2 WHERE id = $3 AND token = $4 AND state = 'running'",
            )
            .bind(error)
            .bind(millis(now))
            .bind(job.id)
            .bind(job.token)
            .execute(&self.pool)
            .await?
        };
        if done.rows_affected() != 1 {
            return Err(StorageError::StaleToken {
                job: job.id,
                token: job.token,
            });
        }
        Ok(if retry {
            FailOutcome::Retry { at }
        } else {
            FailOutcome::Dead
        })
    }

    /// Give a job back untouched (graceful shutdown): it is claimable again at once and the
    /// attempt does not count.
    pub async fn release(&self, job: &ClaimedJob, now: DateTime<Utc>) -> Result<(), StorageError> {
        let _w = self.write_lock().await;
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', run_at = $1, lease_until = NULL, \
             attempts = attempts - 1, updated_at = $1 WHERE id = $2 AND token = $3 AND state = 'running'",
        )
        .bind(millis(now))
        .bind(job.id)
        .bind(job.token)
        .execute(&self.pool)
        .await?;
        held(&done, job.id, job.token)
    }

    /// Return jobs whose lease expired (their worker died or stalled) to the queue, or
    /// dead-letter them when they have used all their attempts. Returns how many moved.
    pub async fn requeue_expired(&self, now: DateTime<Utc>) -> Result<u64, StorageError> {
        let _w = self.write_lock().await;
        let done = sqlx::query(
            "UPDATE jobs SET \
               state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
               finished_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END, \
               last_error = 'lease expired: worker ' || COALESCE(worker, '?') || ' stopped heartbeating', \
               run_at = $1, lease_until = NULL, updated_at = $1 \
             WHERE state = 'running' AND lease_until < $1",
        )
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn queue_counts(&self) -> Result<QueueCounts, StorageError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .fetch_all(&self.pool)
                .await?;
        let mut counts = QueueCounts::default();
        for (state, n) in rows {
            match JobState::parse(&state) {
                Some(JobState::Queued) => counts.queued = n,
                Some(JobState::Running) => counts.running = n,
                Some(JobState::Done) => counts.done = n,
                Some(JobState::Dead) => counts.dead = n,
                None => {}
            }
        }
        Ok(counts)
    }

    pub async fn job(&self, id: i64) -> Result<JobRow, StorageError> {
        let row = sqlx::query(
            "SELECT id, kind, state, attempts, token, last_error, worker, run_at FROM jobs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StorageError::NotFound {
            what: "job",
            id: id.to_string(),
        })?;
        let state: String = row.try_get("state")?;
        Ok(JobRow {
            id,
            kind: row.try_get("kind")?,
            state: JobState::parse(&state).ok_or_else(|| StorageError::Corrupt {
                what: "job",
                id: id.to_string(),
                message: format!("unknown state {state:?}"),
            })?,
            attempts: row.try_get("attempts")?,
            token: row.try_get("token")?,
            last_error: row.try_get("last_error")?,
            worker: row.try_get("worker")?,
            run_at: from_millis(row.try_get("run_at")?),
        })
    }

    /// Jobs of an order, newest first (for the order page).
    pub async fn jobs_for_order(&self, order_id: i64) -> Result<Vec<JobRow>, StorageError> {
        let ids: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM jobs WHERE order_id = $1 ORDER BY id DESC")
                .bind(order_id)
                .fetch_all(&self.pool)
                .await?;
        let mut jobs = Vec::with_capacity(ids.len());
        for (id,) in ids {
            jobs.push(self.job(id).await?);
        }
        Ok(jobs)
    }

    /// What [`Db::wait_for_jobs`] waits on, for callers that must start listening before
    /// they look (`notified().enable()`), so no wake-up falls between the two.
    pub fn job_wakeup(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.jobs_enqueued.clone()
    }

    /// Wait until a job may be ready: woken at once by an enqueue in this process (or, on
    /// Postgres, in any process through [`JobWakeups`]), else after `poll`.
    pub async fn wait_for_jobs(&self, poll: Duration) {
        let _ = tokio::time::timeout(poll, self.jobs_enqueued.notified()).await;
    }

    /// On Postgres, start listening for enqueues from other processes (LISTEN/NOTIFY); the
    /// listener reconnects by itself after the server restarts. A no-op on SQLite, where
    /// polling is the backstop for other processes.
    pub async fn listen_for_jobs(
        &self,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, StorageError> {
        if self.dialect() != Dialect::Postgres {
            return Ok(None);
        }
        let mut listener = sqlx::postgres::PgListener::connect(self.url()).await?;
        listener.listen(JOBS_CHANNEL).await?;
        let wake = self.jobs_enqueued.clone();
        Ok(Some(tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(_) => wake.notify_waiters(),
                    Err(e) => {
                        // The connection dropped (server restart); recv reconnects on the next
                        // call. Polling covers the gap.
                        tracing::debug!(error = %e, "job listener lost its connection");
                        wake.notify_waiters();
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        })))
    }
}
