//! The database connection: SQLite (embedded default, one file in the data folder, WAL) or
//! Postgres (selected by URL), behind one `sqlx::AnyPool` so the repositories are written once.
//!
//! Queries use `$1`-style parameters, which both sqlx drivers understand. Times are Unix
//! milliseconds and JSON is TEXT, the types both dialects share.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::StorageError;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which SQL dialect a [`Db`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Connection settings beyond the URL.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    /// How long to wait for a connection (or, on SQLite, for the write lock).
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

/// A pool of connections to the one database all Pressroom processes share.
#[derive(Clone)]
pub struct Db {
    pub(crate) pool: AnyPool,
    dialect: Dialect,
    url: String,
    /// SQLite allows one writer at a time; writers in this process queue here instead of
    /// spinning on SQLITE_BUSY. Other processes are handled by the busy timeout.
    write_lock: Option<Arc<Mutex<()>>>,
    /// Wakes this process's idle workers as soon as a job is enqueued (both dialects);
    /// Postgres also wakes other processes through NOTIFY.
    pub(crate) jobs_enqueued: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dialect", &self.dialect)
            .finish()
    }
}

/// A write transaction. On SQLite it also holds the in-process write lock.
pub struct Tx {
    pub(crate) tx: sqlx::Transaction<'static, sqlx::Any>,
    _write: Option<OwnedMutexGuard<()>>,
    pub(crate) notify_jobs: bool,
    /// Jobs enqueued in this transaction.
    pub(crate) enqueued: usize,
    pub(crate) jobs_enqueued: Arc<tokio::sync::Notify>,
    pub(crate) pool: Option<AnyPool>,
}

/// After a burst this large, refresh the planner's statistics of the jobs table at once:
/// with stale statistics Postgres sorts the whole queue for every claim instead of reading
/// the claim index (20 ms instead of 0.1 ms per claim at 20,000 queued jobs).
const ANALYZE_AFTER_BURST: usize = 500;

impl Tx {
    /// Commit, then wake local workers if a job was enqueued.
    pub async fn commit(self) -> Result<(), StorageError> {
        let notify = self.notify_jobs;
        let wake = self.jobs_enqueued.clone();
        let analyze = (self.enqueued >= ANALYZE_AFTER_BURST)
            .then_some(self.pool)
            .flatten();
        self.tx.commit().await?;
        if let Some(pool) = analyze {
            sqlx::query("ANALYZE jobs").execute(&pool).await?;
        }
        if notify {
            wake.notify_waiters();
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StorageError> {
        self.tx.rollback().await?;
        Ok(())
    }
}

impl Db {
    /// Connect by URL: `sqlite:path/to/file.db` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str, options: DbOptions) -> Result<Db, StorageError> {
        install_default_drivers();
        let dialect = dialect_of(url)?;
        let connect_url = match dialect {
            Dialect::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let mut pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // A broken connection shows up as an error on use (and the callers retry); pinging
            // before every acquire would double the round trips of the queue.
            .test_before_acquire(false);
        if dialect == Dialect::Sqlite {
            let busy_ms = options.acquire_timeout.as_millis();
            pool = pool.after_connect(move |conn, _meta| {
                Box::pin(async move {
                    // WAL: readers never block the writer; NORMAL sync is durable across
                    // process crashes (only an OS crash can lose the last commits).
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute(&*format!("PRAGMA busy_timeout = {busy_ms}"))
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect(&connect_url).await?;
        Ok(Db {
            pool,
            dialect,
            url: url.to_string(),
            write_lock: (dialect == Dialect::Sqlite).then(|| Arc::new(Mutex::new(()))),
            jobs_enqueued: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Connect and bring the schema up to date.
    pub async fn open(url: &str, options: DbOptions) -> Result<Db, StorageError> {
        let db = Db::connect(url, options).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Apply this dialect's pending migrations (idempotent; safe from several processes).
    pub async fn migrate(&self) -> Result<(), StorageError> {
        match self.dialect {
            Dialect::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Dialect::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Begin a write transaction (`BEGIN IMMEDIATE` on SQLite, so the write lock is taken up
    /// front and a transaction never fails half-way on lock upgrade).
    pub async fn begin(&self) -> Result<Tx, StorageError> {
        let guard = match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
        Ok(Tx {
            tx,
            _write: guard,
            notify_jobs: false,
            enqueued: 0,
            jobs_enqueued: self.jobs_enqueued.clone(),
            pool: (self.dialect == Dialect::Postgres).then(|| self.pool.clone()),
        })
    }

    /// Run one write statement outside an explicit transaction (under the SQLite write lock).
    pub(crate) async fn write_lock(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// SQLite's `PRAGMA integrity_check` ("ok" when the file is sound); Postgres answers "ok".
    pub async fn integrity_check(&self) -> Result<String, StorageError> {
        if self.dialect == Dialect::Postgres {
            return Ok("ok".into());
        }
        let row: (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.0)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn dialect_of(url: &str) -> Result<Dialect, StorageError> {
    if url.starts_with("sqlite:") {
        Ok(Dialect::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Dialect::Postgres)
    } else {
        Err(StorageError::UnsupportedUrl(url.to_string()))
    }
}

impl Db {
    /// Run one statement as given (tests use it to prove what the schema refuses).
    #[doc(hidden)]
    pub async fn execute_raw_for_tests(&self, sql: &str) -> Result<(), StorageError> {
        let _w = self.write_lock().await;
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }
}
