//! Queue throughput: claiming and completing no-op jobs, on SQLite and on Postgres, one job
//! per statement and in batches.
//!
//! `cargo bench -p storage --bench queue` (Postgres from `PRESSROOM_TEST_POSTGRES`, default
//! the local server; `SKIP_SQLITE=1` for Postgres only). Goals on the 2-core machine:
//! ≥ 2,000 jobs/s on Postgres and ≥ 1,000 jobs/s on SQLite one at a time (one claim and one
//! completion, each a statement of its own), and in batches (`claim_batch` of up to
//! [`BATCH`] jobs, one `complete_batch`) at least twice the one-at-a-time figure on Postgres.
//!
//! Issue 7, side by side on a quiet 2-core machine (two runs each, this bench against the one
//! of commit 2ab421b): before, one at a time, SQLite 4,151 / 4,194 and Postgres 3,577 / 3,181
//! jobs/s; after, one at a time SQLite 4,265 / 3,995 and Postgres 3,384 / 3,508, in batches of
//! 32 SQLite 48,132 / 49,021 and Postgres 18,407 / 17,948 (about 5 times before).

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use storage::{Db, DbOptions, NewJob};

const JOBS: usize = 20_000;
const BATCH: usize = 32;
const LEASE: Duration = Duration::from_secs(60);

async fn enqueue(db: &Db, n: usize) {
    let now = Utc::now();
    let mut tx = db.begin().await.unwrap();
    for i in 0..n {
        db.enqueue(&mut tx, &NewJob::new("noop", json!({"n": i}), now), now)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn drain(db: &Db, workers: usize, batch: usize) -> (usize, Duration) {
    let start = Instant::now();
    let mut tasks = vec![];
    for w in 0..workers {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("bench-{w}");
            let mut n = 0;
            loop {
                if batch == 1 {
                    let Some(job) = db.claim(&name, &["noop"], Utc::now(), LEASE).await.unwrap()
                    else {
                        break;
                    };
                    db.complete_now(job.id, job.token, Utc::now())
                        .await
                        .unwrap();
                    n += 1;
                } else {
                    let jobs = db
                        .claim_batch(&name, &["noop"], Utc::now(), LEASE, batch)
                        .await
                        .unwrap();
                    if jobs.is_empty() {
                        break;
                    }
                    let held: Vec<(i64, i64)> = jobs.iter().map(|j| (j.id, j.token)).collect();
                    let done = db.complete_batch(&held, Utc::now()).await.unwrap();
                    assert_eq!(done.len(), held.len());
                    n += done.len();
                }
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    (total, start.elapsed())
}

async fn run(name: &str, db: &Db, workers: usize, batch: usize) {
    enqueue(db, JOBS).await;
    let (n, took) = drain(db, workers, batch).await;
    assert_eq!(n, JOBS);
    let how = if batch == 1 {
        "one at a time".to_string()
    } else {
        format!("batches of {batch}")
    };
    println!(
        "{name:<9} {workers} workers, {how:<13}: {n} jobs claimed and completed in {:.2} s = {:.0} jobs/s",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("bench.db").display());
        let sqlite = Db::open(&url, DbOptions::default()).await.unwrap();
        if std::env::var_os("SKIP_SQLITE").is_none() {
            run("sqlite", &sqlite, 4, 1).await;
            run("sqlite", &sqlite, 4, BATCH).await;
        }

        let pg = testkit::PgDatabase::create().await.unwrap();
        let opts = DbOptions {
            max_connections: 16,
            ..Default::default()
        };
        let postgres = Db::open(&pg.url, opts).await.unwrap();
        run("postgres", &postgres, 8, 1).await;
        run("postgres", &postgres, 8, BATCH).await;
        postgres.close().await;
        pg.drop_now().await.unwrap();
    });
}
