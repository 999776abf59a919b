//! The job queue: leases, fencing tokens, retries, dead letters, wake-ups, scheduled and keyed
//! jobs, unique jobs, periodic schedules, batched claims and completions.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use storage::queue::{JobState, backoff};
use storage::{Db, DbOptions, Enqueued, FailOutcome, NewJob, StorageError};

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
    a_scheduled_job_waits_for_its_time_and_can_be_moved_or_cancelled_by_its_key,
    a_unique_key_refuses_a_duplicate_while_queued_or_running_and_keeps_the_transaction,
    a_periodic_schedule_fires_once_per_period_across_processes_and_restarts,
    a_batch_claim_takes_up_to_the_limit_in_order_and_never_twice,
    a_batch_completion_skips_jobs_that_were_taken_over,
    a_failure_with_the_callers_retry_time_is_retried_then,
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

async fn a_scheduled_job_waits_for_its_time_and_can_be_moved_or_cancelled_by_its_key(db: Db) {
    // Two countdowns of 24 h, found again by their keys.
    let day = chrono::Duration::hours(24);
    let mut tx = db.begin().await.unwrap();
    let a = db
        .enqueue(
            &mut tx,
            &NewJob::new("submit", json!({"order": 1}), t(0))
                .at(t(0) + day)
                .with_key("submit:1"),
            t(0),
        )
        .await
        .unwrap();
    let b = db
        .enqueue(
            &mut tx,
            &NewJob::new("submit", json!({"order": 2}), t(0))
                .at(t(0) + day)
                .with_key("submit:2"),
            t(0),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        db.claim("w", &["submit"], t(3600), LEASE)
            .await
            .unwrap()
            .is_none()
    );

    // Order 1 goes On hold after an hour (cancelled); order 2's countdown is moved.
    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        db.cancel_by_key(&mut tx, "submit:1", t(3600))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        db.reschedule_by_key(&mut tx, "submit:2", t(7200), t(3600))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        db.cancel_by_key(&mut tx, "submit:nope", t(3600))
            .await
            .unwrap(),
        0
    );
    tx.commit().await.unwrap();
    assert_eq!(db.job(a).await.unwrap().state, JobState::Cancelled);
    assert_eq!(db.job(b).await.unwrap().run_at, t(7200));

    // Not before its new time; then it is the only one that fires (the cancelled one never).
    assert!(
        db.claim("w", &["submit"], t(7199), LEASE)
            .await
            .unwrap()
            .is_none()
    );
    let fired = db
        .claim("w", &["submit"], t(7200), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((fired.id, fired.key.as_deref()), (b, Some("submit:2")));
    assert!(
        db.claim("w", &["submit"], t(0) + day * 2, LEASE)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(db.job(a).await.unwrap().state, JobState::Cancelled);
    // A running job is not cancelled by its key: it holds a lease.
    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        db.cancel_by_key(&mut tx, "submit:2", t(7201))
            .await
            .unwrap(),
        0
    );
    tx.commit().await.unwrap();
    assert_eq!(db.job(b).await.unwrap().state, JobState::Running);
    let counts = db.queue_counts().await.unwrap();
    assert_eq!((counts.cancelled, counts.running), (1, 1));

    // Paused and resumed: a new countdown under the same key is accepted once the old one is
    // no longer queued.
    let resumed = db
        .enqueue_now(
            &NewJob::new("submit", json!({"order": 1}), t(9000)).with_key("submit:1"),
            t(9000),
        )
        .await
        .unwrap();
    assert_ne!(resumed, a);
}

async fn a_unique_key_refuses_a_duplicate_while_queued_or_running_and_keeps_the_transaction(
    db: Db,
) {
    let reconcile =
        || NewJob::new("reconcile", json!({"store": "s1"}), t(0)).with_key("reconcile:s1");
    let mut tx = db.begin().await.unwrap();
    let first = db
        .enqueue_unique(&mut tx, &reconcile(), t(0))
        .await
        .unwrap();
    let Enqueued::Queued(id) = first else {
        panic!("the first is queued: {first:?}")
    };
    // The duplicate in the same transaction: refused, and the transaction goes on.
    assert_eq!(
        db.enqueue_unique(&mut tx, &reconcile(), t(0))
            .await
            .unwrap(),
        Enqueued::AlreadyQueued(id)
    );
    let other = db
        .enqueue_unique(
            &mut tx,
            &NewJob::new("reconcile", json!({}), t(0)).with_key("reconcile:s2"),
            t(0),
        )
        .await
        .unwrap();
    assert!(matches!(other, Enqueued::Queued(_)));
    tx.commit().await.unwrap();

    // From another transaction, and through `enqueue`, which says so as an error.
    let mut tx = db.begin().await.unwrap();
    match db.enqueue(&mut tx, &reconcile(), t(1)).await {
        Err(StorageError::DuplicateJob { key, existing }) => {
            assert_eq!((key.as_str(), existing), ("reconcile:s1", id))
        }
        other => panic!("expected a duplicate: {other:?}"),
    }
    tx.commit().await.unwrap();

    // Still unique while it runs; once done, a new one may be queued.
    let claimed = db
        .claim("w", &["reconcile"], t(1), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, id);
    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        db.enqueue_unique(&mut tx, &reconcile(), t(2))
            .await
            .unwrap(),
        Enqueued::AlreadyQueued(id)
    );
    tx.commit().await.unwrap();
    db.complete_now(id, claimed.token, t(3)).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let again = db
        .enqueue_unique(&mut tx, &reconcile(), t(4))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(again, Enqueued::Queued(n) if n != id), "{again:?}");
    assert_eq!(db.queue_counts().await.unwrap().queued, 2);
}

async fn a_periodic_schedule_fires_once_per_period_across_processes_and_restarts(db: Db) {
    // Two "processes": two pools on one database, racing on every tick.
    let other = Db::connect(db.url(), DbOptions::default()).await.unwrap();
    let period = Duration::from_secs(600);
    let job = NewJob::new("poll", json!({"store": "s1"}), t(0));
    // t(0) is 1_780_000_000 s, a multiple of 600 s plus 400 s; the period [t(-400), t(200)).
    let mut fired = vec![];
    for secs in [0, 1, 5, 199] {
        let mut tasks = vec![];
        for p in [db.clone(), other.clone()] {
            let job = job.clone();
            tasks.push(tokio::spawn(async move {
                p.fire_periodic("poll-s1", period, &job, t(secs))
                    .await
                    .unwrap()
            }));
        }
        for task in tasks {
            if let Some(outcome) = task.await.unwrap() {
                fired.push((secs, outcome));
            }
        }
    }
    assert_eq!(fired.len(), 1, "once in the first period: {fired:?}");
    assert_eq!(fired[0].0, 0);
    let first = fired[0].1;
    assert!(matches!(first, Enqueued::Queued(_)));
    assert_eq!(
        db.job(first.id()).await.unwrap().key.as_deref(),
        Some("periodic:poll-s1")
    );

    // A "restart" (a fresh pool) in the next period fires once more, and only once, even
    // though the previous run is still queued (it is unique: the period is consumed).
    drop(other);
    let restarted = Db::connect(db.url(), DbOptions::default()).await.unwrap();
    assert_eq!(
        restarted
            .fire_periodic("poll-s1", period, &job, t(200))
            .await
            .unwrap(),
        Some(Enqueued::AlreadyQueued(first.id()))
    );
    assert_eq!(
        db.fire_periodic("poll-s1", period, &job, t(799))
            .await
            .unwrap(),
        None
    );
    let claimed = db
        .claim("w", &["poll"], t(799), LEASE)
        .await
        .unwrap()
        .unwrap();
    db.complete_now(claimed.id, claimed.token, t(799))
        .await
        .unwrap();
    // Down for three periods: one catch-up run, not three.
    let late = restarted
        .fire_periodic("poll-s1", period, &job, t(2500))
        .await
        .unwrap();
    assert!(matches!(late, Some(Enqueued::Queued(_))), "{late:?}");
    assert_eq!(
        db.fire_periodic("poll-s1", period, &job, t(2599))
            .await
            .unwrap(),
        None
    );
    assert_eq!(db.jobs_of_kind("poll").await.unwrap().len(), 2);
}

async fn a_batch_claim_takes_up_to_the_limit_in_order_and_never_twice(db: Db) {
    let mut tx = db.begin().await.unwrap();
    for n in 0..10 {
        let mut job = NewJob::new("noop", json!(n), t(0));
        job.priority = if n == 9 { 5 } else { 0 };
        db.enqueue(&mut tx, &job, t(0)).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut first = db
        .claim_batch("a", &["noop"], t(1), LEASE, 4)
        .await
        .unwrap();
    first.sort_by_key(|j| j.id);
    let payloads: Vec<_> = first.iter().map(|j| j.payload.clone()).collect();
    assert_eq!(
        payloads,
        [json!(0), json!(1), json!(2), json!(9)],
        "most urgent first"
    );
    assert!(first.iter().all(|j| j.token == 1 && j.attempts == 1));
    let rest = db
        .claim_batch("b", &["noop"], t(1), LEASE, 32)
        .await
        .unwrap();
    assert_eq!(rest.len(), 6);
    let mut ids: HashSet<i64> = first.iter().map(|j| j.id).collect();
    for j in &rest {
        assert!(ids.insert(j.id), "job {} claimed twice", j.id);
    }
    assert!(
        db.claim_batch("c", &["noop"], t(1), LEASE, 8)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(db.queue_counts().await.unwrap().running, 10);
}

async fn a_batch_completion_skips_jobs_that_were_taken_over(db: Db) {
    for n in 0..3 {
        db.enqueue_now(&NewJob::new("noop", json!(n), t(0)), t(0))
            .await
            .unwrap();
    }
    let held = db
        .claim_batch("a", &["noop"], t(0), LEASE, 3)
        .await
        .unwrap();
    assert_eq!(held.len(), 3);
    // One of them outlives its lease and is taken over by worker b.
    let lost = &held[0];
    db.heartbeat(held[1].id, held[1].token, t(9), LEASE)
        .await
        .unwrap();
    db.heartbeat(held[2].id, held[2].token, t(9), LEASE)
        .await
        .unwrap();
    assert_eq!(db.requeue_expired(t(11)).await.unwrap(), 1);
    let b = db
        .claim("b", &["noop"], t(11), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.id, lost.id);
    let pairs: Vec<(i64, i64)> = held.iter().map(|j| (j.id, j.token)).collect();
    let mut done = db.complete_batch(&pairs, t(12)).await.unwrap();
    done.sort();
    assert_eq!(done, [held[1].id, held[2].id]);
    assert_eq!(db.job(lost.id).await.unwrap().state, JobState::Running);
    assert_eq!(
        db.complete_batch(&[(b.id, b.token)], t(13)).await.unwrap(),
        [b.id]
    );
    assert_eq!(db.queue_counts().await.unwrap().done, 3);
    assert!(db.complete_batch(&[], t(13)).await.unwrap().is_empty());
}

async fn a_failure_with_the_callers_retry_time_is_retried_then(db: Db) {
    let id = db
        .enqueue_now(&NewJob::new("webhook", json!({}), t(0)), t(0))
        .await
        .unwrap();
    let claimed = db
        .claim("w", &["webhook"], t(0), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        db.fail_at(&claimed, "HTTP 503", Some(t(30)), t(1))
            .await
            .unwrap(),
        FailOutcome::Retry { at: t(30) }
    );
    assert!(
        db.claim("w", &["webhook"], t(29), LEASE)
            .await
            .unwrap()
            .is_none()
    );
    let again = db
        .claim("w", &["webhook"], t(30), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        db.fail_at(&again, "HTTP 410", None, t(31)).await.unwrap(),
        FailOutcome::Dead
    );
    let row = db.job(id).await.unwrap();
    assert_eq!((row.state, row.attempts), (JobState::Dead, 2));
}
