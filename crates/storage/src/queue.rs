//! The job queue, in the same database as the orders so a job is enqueued in the same
//! transaction as the change that causes it.
//!
//! A claim takes a lease (`lease_until`) and a fencing token (`token`, bumped at every claim).
//! Heartbeats extend the lease; completing, failing or extending needs the current token, so a
//! worker that paused past its lease and was taken over can no longer touch the job. Expired
//! leases are returned to the queue by [`Db::requeue_expired`], which every worker runs
//! periodically. Postgres claims with `FOR UPDATE SKIP LOCKED`; SQLite has one writer at a time.
//!
//! Beyond that: jobs scheduled for a time (`run_at`) and found again by their key
//! ([`Db::cancel_by_key`], [`Db::reschedule_by_key`]); unique jobs (the database holds at most
//! one queued or running job per key, and a duplicate enqueue answers
//! [`Enqueued::AlreadyQueued`] without disturbing the caller's transaction); periodic jobs
//! ([`Db::fire_periodic`]: a compare-and-set on the `periodic` table fires each period once
//! across all processes); and claims and completions in batches for throughput.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{Db, Dialect, Tx};
use crate::error::StorageError;
use crate::{from_millis, millis};

/// The most jobs one claim takes (a larger request is cut to this).
pub const MAX_CLAIM_BATCH: usize = 1000;

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
    /// Cancelled by its key before it ran (a countdown paused, a schedule withdrawn).
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Dead,
        JobState::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
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
    /// Finds the job again (cancel, reschedule); at most one queued or running job per key.
    pub key: Option<String>,
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
            key: None,
        }
    }

    /// The same job, found by `key` and unique by it while queued or running.
    pub fn with_key(mut self, key: impl Into<String>) -> NewJob {
        self.key = Some(key.into());
        self
    }

    /// The same job, not to run before `at`.
    pub fn at(mut self, at: DateTime<Utc>) -> NewJob {
        self.run_at = at;
        self
    }
}

/// What an enqueue did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job with this id.
    Queued(i64),
    /// A job with the same key is already queued or running (this id); nothing was added.
    AlreadyQueued(i64),
}

impl Enqueued {
    /// The new job's id, or the existing one's.
    pub fn id(&self) -> i64 {
        match self {
            Enqueued::Queued(id) | Enqueued::AlreadyQueued(id) => *id,
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
    pub key: Option<String>,
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
    pub key: Option<String>,
}

/// Jobs by state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueCounts {
    pub queued: i64,
    pub running: i64,
    pub done: i64,
    pub dead: i64,
    pub cancelled: i64,
}

impl QueueCounts {
    pub fn get(&self, state: JobState) -> i64 {
        match state {
            JobState::Queued => self.queued,
            JobState::Running => self.running,
            JobState::Done => self.done,
            JobState::Dead => self.dead,
            JobState::Cancelled => self.cancelled,
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
        key: row.try_get("job_key")?,
        lease_until: from_millis(row.try_get("lease_until")?),
    })
}

/// The columns of a [`JobRow`].
const JOB_ROW_SELECT: &str =
    "SELECT id, kind, state, attempts, token, last_error, worker, run_at, job_key FROM jobs";

fn job_row(row: &AnyRow) -> Result<JobRow, StorageError> {
    let id: i64 = row.try_get("id")?;
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
        key: row.try_get("job_key")?,
    })
}

impl Db {
    /// Enqueue inside the caller's transaction: the job exists exactly when the change that
    /// caused it was committed. Idle workers are woken at commit. A job whose key is already
    /// queued or running is refused with [`StorageError::DuplicateJob`]; use
    /// [`Db::enqueue_unique`] where a duplicate is expected.
    pub async fn enqueue(
        &self,
        tx: &mut Tx,
        job: &NewJob,
        now: DateTime<Utc>,
    ) -> Result<i64, StorageError> {
        match self.enqueue_unique(tx, job, now).await? {
            Enqueued::Queued(id) => Ok(id),
            Enqueued::AlreadyQueued(existing) => Err(StorageError::DuplicateJob {
                key: job.key.clone().unwrap_or_default(),
                existing,
            }),
        }
    }

    /// Enqueue inside the caller's transaction unless a job with the same key is queued or
    /// running. The database decides (a partial unique index, `ON CONFLICT DO NOTHING`), so
    /// two processes racing on one key add one job, and a duplicate leaves the caller's
    /// transaction usable.
    pub async fn enqueue_unique(
        &self,
        tx: &mut Tx,
        job: &NewJob,
        now: DateTime<Utc>,
    ) -> Result<Enqueued, StorageError> {
        const INSERT: &str = "INSERT INTO jobs (kind, payload, state, priority, run_at, \
             max_attempts, order_id, job_key, created_at, updated_at) \
             VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $8)";
        let sql = if job.key.is_some() {
            format!(
                "{INSERT} ON CONFLICT (job_key) WHERE state IN ('queued', 'running') \
                 DO NOTHING RETURNING id"
            )
        } else {
            format!("{INSERT} RETURNING id")
        };
        let inserted: Option<(i64,)> = sqlx::query_as(&sql)
            .bind(&job.kind)
            .bind(job.payload.to_string())
            .bind(job.priority)
            .bind(millis(job.run_at))
            .bind(job.max_attempts.max(1))
            .bind(job.order_id)
            .bind(job.key.as_deref())
            .bind(millis(now))
            .fetch_optional(&mut *tx.tx)
            .await?;
        let Some((id,)) = inserted else {
            let (existing,): (i64,) = sqlx::query_as(
                "SELECT id FROM jobs WHERE job_key = $1 AND state IN ('queued', 'running')",
            )
            .bind(job.key.as_deref())
            .fetch_one(&mut *tx.tx)
            .await?;
            return Ok(Enqueued::AlreadyQueued(existing));
        };
        self.wake_at_commit(tx, &job.kind).await?;
        tx.enqueued += 1;
        Ok(Enqueued::Queued(id))
    }

    /// Enqueue many jobs without keys in the caller's transaction, in few statements (a burst
    /// of webhook deliveries). Returns their ids in the order given.
    pub async fn enqueue_many(
        &self,
        tx: &mut Tx,
        jobs: &[NewJob],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StorageError> {
        const ROWS: usize = 100;
        let mut ids = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(ROWS) {
            let sql = format!(
                "INSERT INTO jobs (kind, payload, state, priority, run_at, max_attempts, \
                 order_id, created_at, updated_at) VALUES {} RETURNING id",
                crate::values_placeholders(chunk.len(), 9)
            );
            let mut q = sqlx::query_as::<_, (i64,)>(&sql);
            for job in chunk {
                debug_assert!(job.key.is_none(), "keyed jobs go through enqueue_unique");
                q = q
                    .bind(&job.kind)
                    .bind(job.payload.to_string())
                    .bind(JobState::Queued.as_str())
                    .bind(job.priority)
                    .bind(millis(job.run_at))
                    .bind(job.max_attempts.max(1))
                    .bind(job.order_id)
                    .bind(millis(now))
                    .bind(millis(now));
            }
            // Identity ids follow the order of the VALUES; RETURNING need not.
            let mut chunk_ids: Vec<i64> = q
                .fetch_all(&mut *tx.tx)
                .await?
                .into_iter()
                .map(|(id,)| id)
                .collect();
            chunk_ids.sort_unstable();
            ids.extend(chunk_ids);
        }
        let mut kinds: Vec<&str> = jobs.iter().map(|j| j.kind.as_str()).collect();
        kinds.dedup();
        for kind in kinds {
            self.wake_at_commit(tx, kind).await?;
        }
        tx.enqueued += jobs.len();
        Ok(ids)
    }

    /// Wake idle workers (this process and, on Postgres, every listening one) at commit.
    async fn wake_at_commit(&self, tx: &mut Tx, kind: &str) -> Result<(), StorageError> {
        if self.dialect() == Dialect::Postgres && !tx.notify_jobs {
            // Delivered by Postgres at commit, to every listening worker process.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(JOBS_CHANNEL)
                .bind(kind)
                .execute(&mut *tx.tx)
                .await?;
        }
        tx.notify_jobs = true;
        Ok(())
    }

    /// Cancel the queued job(s) with this key, in the caller's transaction (a countdown
    /// paused with the order). A running job is not touched: it holds a lease and finishes or
    /// fails on its own. Returns how many were cancelled.
    pub async fn cancel_by_key(
        &self,
        tx: &mut Tx,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'cancelled', finished_at = $1, updated_at = $1 \
             WHERE job_key = $2 AND state = 'queued'",
        )
        .bind(millis(now))
        .bind(key)
        .execute(&mut *tx.tx)
        .await?;
        Ok(done.rows_affected())
    }

    /// Move the queued job with this key to `run_at`, in the caller's transaction. Returns how
    /// many moved (0 when no job with that key is queued: it ran, is running, or never was).
    pub async fn reschedule_by_key(
        &self,
        tx: &mut Tx,
        key: &str,
        run_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StorageError> {
        let done = sqlx::query(
            "UPDATE jobs SET run_at = $1, updated_at = $2 WHERE job_key = $3 AND state = 'queued'",
        )
        .bind(millis(run_at))
        .bind(millis(now))
        .bind(key)
        .execute(&mut *tx.tx)
        .await?;
        if done.rows_affected() > 0 {
            self.wake_at_commit(tx, "rescheduled").await?;
        }
        Ok(done.rows_affected())
    }

    /// Fire the periodic schedule `name` if its period has come: in one transaction, move the
    /// schedule to the next period boundary (compare-and-set on `next_at`) and enqueue `job`
    /// (unique by its key, `periodic:<name>` unless it has one). Any number of runners in any
    /// number of processes may call this; each period fires once. Periods are aligned to the
    /// Unix epoch, and a schedule that was not run for several periods fires once, not once
    /// per missed period. Returns `None` when the current period already fired.
    pub async fn fire_periodic(
        &self,
        name: &str,
        period: Duration,
        job: &NewJob,
        now: DateTime<Utc>,
    ) -> Result<Option<Enqueued>, StorageError> {
        let period_ms = ms(period).max(1);
        let slot = millis(now).div_euclid(period_ms) * period_ms;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO periodic (name, next_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(slot)
        .execute(&mut *tx.tx)
        .await?;
        let due = sqlx::query(
            "UPDATE periodic SET next_at = $1, fired_at = $2 WHERE name = $3 AND next_at <= $2",
        )
        .bind(slot + period_ms)
        .bind(millis(now))
        .bind(name)
        .execute(&mut *tx.tx)
        .await?;
        if due.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let mut job = job.clone();
        if job.key.is_none() {
            job.key = Some(format!("periodic:{name}"));
        }
        let outcome = self.enqueue_unique(&mut tx, &job, now).await?;
        sqlx::query("UPDATE periodic SET fired_job = $1 WHERE name = $2")
            .bind(outcome.id())
            .bind(name)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(Some(outcome))
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
        Ok(self
            .claim_batch(worker, kinds, now, lease, 1)
            .await?
            .into_iter()
            .next())
    }

    /// Claim up to `limit` ready jobs of `kinds` in one statement, most urgent first, each
    /// with its own lease and fencing token (one round trip for a worker's free slots).
    pub async fn claim_batch(
        &self,
        worker: &str,
        kinds: &[&str],
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>, StorageError> {
        if kinds.is_empty() || limit == 0 {
            return Ok(vec![]);
        }
        let kind_params: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 4)).collect();
        // The limit is written into the statement, not bound: with a bound LIMIT, Postgres's
        // generic plan (after five executions of a prepared statement) does not know how few
        // rows are wanted and claimed one job at a time about 20 % slower. One statement per
        // batch size (at most the worker's slots) stays in the statement cache.
        let limit = limit.min(MAX_CLAIM_BATCH);
        let select = format!(
            "SELECT id FROM jobs WHERE state = 'queued' AND run_at <= $3 AND kind IN ({}) \
             ORDER BY priority DESC, run_at, id LIMIT {limit}",
            kind_params.join(", ")
        );
        let which = match self.dialect() {
            Dialect::Postgres if limit == 1 => format!("id = ({select} FOR UPDATE SKIP LOCKED)"),
            // ARRAY(…) evaluates the locking subquery exactly once (an `IN (…)` may be
            // re-planned as a join that locks more rows than it takes).
            Dialect::Postgres => format!("id = ANY(ARRAY({select} FOR UPDATE SKIP LOCKED))"),
            Dialect::Sqlite => format!("id IN ({select})"),
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, token = token + 1, \
             lease_until = $1, worker = $2, updated_at = $3 WHERE {which} \
             RETURNING id, kind, payload, attempts, max_attempts, token, order_id, job_key, lease_until"
        );
        let mut query = sqlx::query(&sql)
            .bind(millis(now) + ms(lease))
            .bind(worker)
            .bind(millis(now));
        for kind in kinds {
            query = query.bind(*kind);
        }
        let _w = self.write_lock().await;
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(claimed_from_row).collect()
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

    /// Complete many jobs in one statement (jobs whose result is not stored in the database).
    /// Each needs its current token; returns the ids that were completed, so the ids missing
    /// from the answer were taken over (stale token) and are not this worker's to finish.
    pub async fn complete_batch(
        &self,
        jobs: &[(i64, i64)],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StorageError> {
        if jobs.is_empty() {
            return Ok(vec![]);
        }
        let pairs: Vec<String> = (0..jobs.len())
            .map(|i| format!("(${}, ${})", 2 * i + 2, 2 * i + 3))
            .collect();
        let sql = format!(
            "UPDATE jobs SET state = 'done', lease_until = NULL, finished_at = $1, \
             updated_at = $1, last_error = NULL \
             WHERE state = 'running' AND (id, token) IN (VALUES {}) RETURNING id",
            pairs.join(", ")
        );
        let mut query = sqlx::query_as::<_, (i64,)>(&sql).bind(millis(now));
        for (id, token) in jobs {
            query = query.bind(*id).bind(*token);
        }
        let _w = self.write_lock().await;
        let done = query.fetch_all(&self.pool).await?;
        Ok(done.into_iter().map(|(id,)| id).collect())
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
        self.fail_at(job, error, retry.then_some(at), now).await
    }

    /// Record a failure with the caller's retry decision (a job kind's own policy): back to
    /// the queue at `retry_at`, or dead-lettered with its reason when `None`.
    pub async fn fail_at(
        &self,
        job: &ClaimedJob,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<FailOutcome, StorageError> {
        let _w = self.write_lock().await;
        let done = if let Some(at) = retry_at {
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
        Ok(match retry_at {
            Some(at) => FailOutcome::Retry { at },
            None => FailOutcome::Dead,
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
                Some(JobState::Cancelled) => counts.cancelled = n,
                None => {}
            }
        }
        Ok(counts)
    }

    pub async fn job(&self, id: i64) -> Result<JobRow, StorageError> {
        let row = sqlx::query(&format!("{JOB_ROW_SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StorageError::NotFound {
                what: "job",
                id: id.to_string(),
            })?;
        job_row(&row)
    }

    /// Jobs of an order, newest first (for the order page).
    pub async fn jobs_for_order(&self, order_id: i64) -> Result<Vec<JobRow>, StorageError> {
        let rows = sqlx::query(&format!(
            "{JOB_ROW_SELECT} WHERE order_id = $1 ORDER BY id DESC"
        ))
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_row).collect()
    }

    /// An order's jobs of one kind with their payloads, oldest first (which item a render
    /// job is for is in its payload).
    pub async fn order_jobs_with_payload(
        &self,
        order_id: i64,
        kind: &str,
    ) -> Result<Vec<(JobRow, serde_json::Value)>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, kind, state, attempts, token, last_error, worker, run_at, job_key, \
             payload FROM jobs WHERE order_id = $1 AND kind = $2 ORDER BY id",
        )
        .bind(order_id)
        .bind(kind)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let job = job_row(row)?;
                let payload: String = row.try_get("payload")?;
                let payload =
                    serde_json::from_str(&payload).map_err(|e| StorageError::Corrupt {
                        what: "job",
                        id: job.id.to_string(),
                        message: e.to_string(),
                    })?;
                Ok((job, payload))
            })
            .collect()
    }

    /// Jobs of one kind, oldest first (for tests and the operator).
    pub async fn jobs_of_kind(&self, kind: &str) -> Result<Vec<JobRow>, StorageError> {
        let rows = sqlx::query(&format!("{JOB_ROW_SELECT} WHERE kind = $1 ORDER BY id"))
            .bind(kind)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(job_row).collect()
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
