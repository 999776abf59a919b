//! The job queue: leases, fencing tokens, retries, dead letters, wake-ups.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use storage::queue::{JobState, backoff};
use storage::{Db, DbOptions, FailOutcome, NewJob, StorageError};

use crate::common::t;
use crate::on_both_databases;

on_both_databases!(
    a_job_exists_only_once_its_transaction_commits,
    claims_take_priority_then_age_and_respect_run_at,
    an_expired_lease_is_taken_over_and_the_stale_token_is_refused,
    retryable_failures_back_off_then_dead_letter,
    fatal_failures_dead_letter_with_the_reason,
    a_released_job_is_claimable_at_once_without_using_an_attempt,
    concurrent_workers_never_claim_the_same_job,
    an_idle_worker_is_woken_by_an_enqueue,
);

const LEASE: Duration = Duration::from_secs(10);

async fn a_job_exists_only_once_its_transaction_commits(db: Db) {
    let mut tx = db.begin().await.unwrap();
    db.enqueue(&mut tx, &NewJob::new("render", json!({"n": 1}), t(0)), t(0))
        .await
        .unwrap();
    // Another connection cannot see or claim it yet (SQLite: the writer holds the lock, so
    // only check the count from a reader).
    if db.dialect() == storage::Dialect::Postgres {
        assert!(
            db.claim("w1", &["render"], t(0), LEASE)
                .await
                .unwrap()
                .is_none()
        );
    }
    tx.commit().await.unwrap();
    let job = db
        .claim("w1", &["render"], t(0), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.payload, json!({"n": 1}));
    assert_eq!((job.attempts, job.token), (1, 1));
}

async fn claims_take_priority_then_age_and_respect_run_at(db: Db) {
    let mut later = NewJob::new("render", json!("later"), t(0));
    later.run_at = t(60);
    let mut urgent = NewJob::new("render", json!("urgent"), t(0));
    urgent.priority = 10;
    for job in [
        NewJob::new("render", json!("first"), t(0)),
        later,
        NewJob::new("other", json!("other kind"), t(0)),
        NewJob::new("render", json!("second"), t(0)),
        urgent,
    ] {
        db.enqueue_now(&job, t(0)).await.unwrap();
    }
    let mut order = vec![];
    while let Some(job) = db.claim("w", &["render"], t(1), LEASE).await.unwrap() {
        order.push(job.payload);
    }
    assert_eq!(order, [json!("urgent"), json!("first"), json!("second")]);
    let late = db
        .claim("w", &["render"], t(61), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(late.payload, json!("later"));
    let other = db
        .claim("w", &["render", "other"], t(61), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.kind, "other");
}

async fn an_expired_lease_is_taken_over_and_the_stale_token_is_refused(db: Db) {
    let id = db
        .enqueue_now(&NewJob::new("render", json!({}), t(0)), t(0))
        .await
        .unwrap();
    let a = db
        .claim("worker-a", &["render"], t(0), LEASE)
        .await
        .unwrap()
        .unwrap();
    // Heartbeats keep it alive.
    db.heartbeat(id, a.token, t(8), LEASE).await.unwrap();
    assert_eq!(db.requeue_expired(t(17)).await.unwrap(), 0);
    // Worker A pauses; its lease runs out and the job goes back to the queue.
    assert_eq!(db.requeue_expired(t(19)).await.unwrap(), 1);
    let b = db
        .claim("worker-b", &["render"], t(19), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.id, id);
    assert!(b.token > a.token);
    // A wakes up: it can neither extend, complete, fail nor release the job.
    assert!(matches!(
        db.heartbeat(id, a.token, t(20), LEASE).await,
        Err(StorageError::StaleToken { .. })
    ));
    let mut tx = db.begin().await.unwrap();
    assert!(matches!(
        db.complete(&mut tx, id, a.token, t(20)).await,
        Err(StorageError::StaleToken { .. })
    ));
    tx.rollback().await.unwrap();
    assert!(matches!(
        db.fail(&a, "boom", true, t(20)).await,
        Err(StorageError::StaleToken { .. })
    ));
    assert!(matches!(
        db.release(&a, t(20)).await,
        Err(StorageError::StaleToken { .. })
    ));
    // B finishes normally.
    db.complete_now(id, b.token, t(21)).await.unwrap();
    let row = db.job(id).await.unwrap();
    assert_eq!(row.state, JobState::Done);
    assert_eq!(row.attempts, 2);
}

async fn retryable_failures_back_off_then_dead_letter(db: Db) {
    let mut job = NewJob::new("render", json!({}), t(0));
    job.max_attempts = 3;
    let id = db.enqueue_now(&job, t(0)).await.unwrap();
    let mut now = t(0);
    for attempt in 1..=3 {
        let claimed = db
            .claim("w", &["render"], now, LEASE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.attempts, attempt);
        let outcome = db
            .fail(&claimed, "bucket unreachable", true, now)
            .await
            .unwrap();
        if attempt < 3 {
            let wait = chrono::Duration::from_std(backoff(attempt)).unwrap();
            assert_eq!(outcome, FailOutcome::Retry { at: now + wait });
            // Not before the backoff…
            assert!(
                db.claim(
                    "w",
                    &["render"],
                    now + wait - chrono::Duration::seconds(1),
                    LEASE
                )
                .await
                .unwrap()
                .is_none()
            );
            now += wait;
        } else {
            assert_eq!(outcome, FailOutcome::Dead);
        }
    }
    let row = db.job(id).await.unwrap();
    assert_eq!(row.state, JobState::Dead);
    assert_eq!(row.last_error.as_deref(), Some("bucket unreachable"));
    assert_eq!(backoff(1), Duration::from_secs(2));
    assert_eq!(backoff(2), Duration::from_secs(4));
    assert_eq!(backoff(30), Duration::from_secs(300));
}

async fn fatal_failures_dead_letter_with_the_reason(db: Db) {
    let id = db
        .enqueue_now(&NewJob::new("render", json!({}), t(0)), t(0))
        .await
        .unwrap();
    let claimed = db
        .claim("w", &["render"], t(0), LEASE)
        .await
        .unwrap()
        .unwrap();
    let outcome = db
        .fail(
            &claimed,
            "template pet-portrait: no such template",
            false,
            t(1),
        )
        .await
        .unwrap();
    assert_eq!(outcome, FailOutcome::Dead);
    let row = db.job(id).await.unwrap();
    assert_eq!(row.state, JobState::Dead);
    assert!(row.last_error.unwrap().contains("no such template"));
    let counts = db.queue_counts().await.unwrap();
    assert_eq!((counts.queued, counts.running, counts.dead), (0, 0, 1));
}

async fn a_released_job_is_claimable_at_once_without_using_an_attempt(db: Db) {
    let id = db
        .enqueue_now(&NewJob::new("render", json!({}), t(0)), t(0))
        .await
        .unwrap();
    let first = db
        .claim("w", &["render"], t(0), LEASE)
        .await
        .unwrap()
        .unwrap();
    db.release(&first, t(1)).await.unwrap();
    let again = db
        .claim("w2", &["render"], t(1), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (id, 1));
    assert!(again.token > first.token);
}

async fn concurrent_workers_never_claim_the_same_job(db: Db) {
    let mut tx = db.begin().await.unwrap();
    for n in 0..120 {
        db.enqueue(&mut tx, &NewJob::new("render", json!(n), t(0)), t(0))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut tasks = vec![];
    for w in 0..4 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = vec![];
            while let Some(job) = db
                .claim(&format!("w{w}"), &["render"], t(1), LEASE)
                .await
                .unwrap()
            {
                db.complete_now(job.id, job.token, t(1)).await.unwrap();
                mine.push(job.id);
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        for id in task.await.unwrap() {
            assert!(seen.insert(id), "job {id} was claimed twice");
        }
    }
    assert_eq!(seen.len(), 120);
    assert_eq!(db.queue_counts().await.unwrap().done, 120);
}

async fn an_idle_worker_is_woken_by_an_enqueue(db: Db) {
    // The waiting side is another connection pool, as another worker process would be.
    let other = Db::connect(db.url(), DbOptions::default()).await.unwrap();
    let _listener = other.listen_for_jobs().await.unwrap();
    let waiter_db = if _listener.is_some() {
        other.clone()
    } else {
        db.clone()
    };
    let waiter = tokio::spawn(async move {
        let start = std::time::Instant::now();
        waiter_db.wait_for_jobs(Duration::from_secs(30)).await;
        start.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    db.enqueue_now(&NewJob::new("render", json!({}), t(0)), t(0))
        .await
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(waited < Duration::from_secs(10), "woken after {waited:?}");
}
