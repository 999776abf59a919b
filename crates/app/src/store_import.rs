//! Pulling orders from a store: an import (all orders, a range of creation dates, or a list
//! of ids) and the reconcile poll that catches what webhooks missed (WooCommerce disables a
//! webhook after five failed deliveries and never replays them).
//!
//! Both page through `GET /orders` 100 at a time and merge every order
//! (`App::upsert_order`), so running either twice changes nothing the second time. One order
//! that cannot be read is reported and skipped; a page the store will not give (after the
//! client's retries) ends the import as failed, with what was done kept.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use connectors::woo_client::{OrderQuery, RawOrder, WooClient};
use domain::Actor;
use jobs::{Backoff, Completion, Job, JobKind, ResourceClass, RetryOn, RetryPolicy};
use serde::{Deserialize, Serialize};
use storage::ImportProgress;

use crate::import::{ImportSource, Outcome};
use crate::stores::ConnectedStore;
use crate::{App, AppError};

pub const IMPORT_JOB: &str = "store_import";
pub const RECONCILE_STORES_JOB: &str = "reconcile_stores";
pub const RECONCILE_STORE_JOB: &str = "reconcile_store";

/// How often the farm polls every store by default.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(300);

/// How far back each poll looks before the last one's newest change, for clock skew between
/// the store and Pressroom and for changes committed late.
pub const RECONCILE_OVERLAP: chrono::Duration = chrono::Duration::minutes(10);

/// Where a store's first poll starts.
pub const FIRST_RECONCILE_WINDOW: chrono::Duration = chrono::Duration::days(1);

/// Which orders an import asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum ImportScope {
    All,
    /// Created after `after` (and before `before`).
    Range {
        after: DateTime<Utc>,
        before: Option<DateTime<Utc>>,
    },
    Ids {
        ids: Vec<i64>,
    },
}

impl ImportScope {
    fn queries(&self) -> Vec<OrderQuery> {
        match self {
            ImportScope::All => vec![OrderQuery::default()],
            ImportScope::Range { after, before } => vec![OrderQuery {
                after: Some(*after),
                before: *before,
                ..OrderQuery::default()
            }],
            ImportScope::Ids { ids } => ids
                .chunks(100)
                .map(|chunk| OrderQuery {
                    include: chunk.to_vec(),
                    ..OrderQuery::default()
                })
                .collect(),
        }
    }
}

/// The import job's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunImport {
    pub import_id: i64,
}

/// The per-store reconcile job's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReconcileStore {
    pub store: String,
}

/// What one reconcile pass did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reconciled {
    pub progress: ImportProgress,
    pub since: Option<DateTime<Utc>>,
    pub seen_until: Option<DateTime<Utc>>,
}

fn count(progress: &mut ImportProgress, outcome: Outcome) {
    match outcome {
        Outcome::Created => progress.created += 1,
        Outcome::Updated => progress.updated += 1,
        Outcome::Unchanged | Outcome::Stale => progress.unchanged += 1,
    }
}

impl App {
    /// Record an import and queue it for a worker; its progress is polled by id.
    pub async fn queue_store_import(
        &self,
        store_id: &str,
        scope: &ImportScope,
        actor: &Actor,
    ) -> Result<i64, AppError> {
        let id = self.start_store_import(store_id, scope, actor).await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        self.db
            .enqueue(
                &mut tx,
                &ImportKind.new_job(&RunImport { import_id: id }, now),
                now,
            )
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Record an import (for running it in this process with [`App::run_store_import`]).
    pub async fn start_store_import(
        &self,
        store_id: &str,
        scope: &ImportScope,
        actor: &Actor,
    ) -> Result<i64, AppError> {
        let store = self.connected_store(store_id).await?;
        self.store_client(&store)?;
        Ok(self
            .db
            .start_import(
                store_id,
                &serde_json::to_value(scope).expect("scopes serialize"),
                &actor.label(),
                self.now(),
            )
            .await?)
    }

    /// Run a recorded import to its end, saving progress after every page and telling
    /// `on_progress`.
    pub async fn run_store_import(
        &self,
        import_id: i64,
        on_progress: &(dyn Fn(&ImportProgress) + Send + Sync),
    ) -> Result<ImportProgress, AppError> {
        let row = self.db.import(import_id).await?;
        let scope: ImportScope = serde_json::from_value(row.scope.clone()).map_err(|e| {
            AppError::BadJob(format!("import {import_id} has an unreadable scope: {e}"))
        })?;
        let store = self.connected_store(&row.store_id).await?;
        let client = self.store_client(&store)?;
        let mut progress = ImportProgress::default();
        let source = ImportSource {
            actor: Actor::from_label(&row.actor),
            local_files: None,
        };
        let result = self
            .pull_orders(
                &store,
                &client,
                &scope.queries(),
                &source,
                &mut progress,
                &|p| {
                    on_progress(p);
                },
                Some(import_id),
            )
            .await;
        let error = result.as_ref().err().map(|e| match e {
            AppError::StoreApi(e) => e.merchant_message(),
            e => e.to_string(),
        });
        self.db
            .update_import(import_id, &progress, Some((self.now(), error.as_deref())))
            .await?;
        on_progress(&progress);
        result.map(|_| progress)
    }

    /// Page through `queries` and merge every order. Returns the newest `date_modified` seen.
    #[allow(clippy::too_many_arguments)]
    async fn pull_orders(
        &self,
        store: &ConnectedStore,
        client: &WooClient,
        queries: &[OrderQuery],
        source: &ImportSource,
        progress: &mut ImportProgress,
        on_progress: &(dyn Fn(&ImportProgress) + Send + Sync),
        import_id: Option<i64>,
    ) -> Result<Option<DateTime<Utc>>, AppError> {
        let mut newest: Option<DateTime<Utc>> = None;
        let mut totals = 0i64;
        for query in queries {
            let mut page = 1;
            let mut counted = false;
            loop {
                let answer = client.orders_page(query, page).await?;
                if !counted {
                    totals += answer.total as i64;
                    progress.total = totals;
                    counted = true;
                }
                for raw in &answer.orders {
                    self.pull_one(store, raw, source, progress, &mut newest)
                        .await?;
                }
                if let Some(id) = import_id {
                    self.db.update_import(id, progress, None).await?;
                }
                on_progress(progress);
                if page >= answer.total_pages || answer.orders.is_empty() {
                    break;
                }
                page += 1;
            }
        }
        Ok(newest)
    }

    async fn pull_one(
        &self,
        store: &ConnectedStore,
        raw: &RawOrder,
        source: &ImportSource,
        progress: &mut ImportProgress,
        newest: &mut Option<DateTime<Utc>>,
    ) -> Result<(), AppError> {
        progress.seen += 1;
        match self.upsert_order(store, &raw.body, source).await {
            Ok(imported) => {
                count(progress, imported.outcome);
                if let Some(m) = imported.store_modified_at {
                    *newest = Some(newest.map_or(m, |n| n.max(m)));
                }
                Ok(())
            }
            // The database being away ends the run (it is retried as a whole); anything
            // about this one order is reported and the run goes on.
            Err(AppError::Storage(e)) if e.is_retryable() => Err(AppError::Storage(e)),
            Err(e) => {
                progress.failed += 1;
                progress.failures.push(serde_json::json!({
                    "store_order_id": raw.id,
                    "reason": e.to_string(),
                }));
                tracing::warn!(store = %store.id, order = ?raw.id, error = %e, "order skipped");
                Ok(())
            }
        }
    }

    /// Poll the store for orders modified since the last poll (with overlap) and merge them.
    pub async fn reconcile_store(&self, store_id: &str) -> Result<Reconciled, AppError> {
        let row = self.db.store(store_id).await?;
        let store = self.open_store(store_id, row.clone())?;
        let client = self.store_client(&store)?;
        let now = self.now();
        let since = row
            .and_then(|r| r.reconciled_until)
            .map(|t| t - RECONCILE_OVERLAP)
            .unwrap_or(now - FIRST_RECONCILE_WINDOW);
        let query = OrderQuery {
            modified_after: Some(since),
            ..OrderQuery::default()
        };
        let source = ImportSource {
            actor: Actor::System,
            local_files: None,
        };
        let mut progress = ImportProgress::default();
        let result = self
            .pull_orders(
                &store,
                &client,
                std::slice::from_ref(&query),
                &source,
                &mut progress,
                &|_| {},
                None,
            )
            .await;
        match result {
            Ok(newest) => {
                // The next poll starts from this one's start (or the newest change seen, if
                // the store's clock is ahead), less the overlap.
                let seen_until = Some(newest.map_or(now, |n| n.max(now)));
                self.db
                    .record_reconcile(store_id, now, seen_until, None)
                    .await?;
                Ok(Reconciled {
                    progress,
                    since: Some(since),
                    seen_until,
                })
            }
            Err(e) => {
                let message = match &e {
                    AppError::StoreApi(e) => e.merchant_message(),
                    e => e.to_string(),
                };
                self.db
                    .record_reconcile(store_id, now, None, Some(&message))
                    .await?;
                Err(e)
            }
        }
    }

    /// Queue a reconcile of every store that has credentials (one job per store, by key).
    pub async fn queue_reconciles(&self) -> Result<usize, AppError> {
        let now = self.now();
        let mut queued = 0;
        for row in self.db.stores().await? {
            let Ok(store) = self.open_store(&row.id, Some(row.clone())) else {
                continue;
            };
            if !store.stored || store.consumer_key.is_empty() {
                continue;
            }
            let job = ReconcileStoreKind
                .new_job(
                    &ReconcileStore {
                        store: row.id.clone(),
                    },
                    now,
                )
                .with_key(format!("reconcile:{}", row.id));
            let mut tx = self.db.begin().await?;
            if let storage::Enqueued::Queued(_) = self.db.enqueue_unique(&mut tx, &job, now).await?
            {
                queued += 1;
            }
            tx.commit().await?;
        }
        Ok(queued)
    }
}

/// `store_import`: run a queued import.
pub struct ImportKind;

impl JobKind<App> for ImportKind {
    type Payload = RunImport;
    type Error = AppError;
    const NAME: &'static str = IMPORT_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    /// An import is idempotent: a retry after the database or store came back redoes what
    /// is left and finds the rest unchanged.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            backoff: Backoff {
                first: Duration::from_secs(30),
                max: Duration::from_secs(600),
            },
            retry_on: RetryOn::Retryable,
        }
    }

    async fn run(
        &self,
        app: Arc<App>,
        _job: &Job,
        payload: RunImport,
    ) -> Result<Completion, AppError> {
        app.run_store_import(payload.import_id, &|_| {}).await?;
        Ok(Completion::Complete)
    }
}

/// `reconcile_stores`: the periodic fan-out, one `reconcile_store` job per store.
pub struct ReconcileStoresKind;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReconcileStores {}

impl JobKind<App> for ReconcileStoresKind {
    type Payload = ReconcileStores;
    type Error = AppError;
    const NAME: &'static str = RECONCILE_STORES_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            backoff: Backoff::fixed(Duration::from_secs(10)),
            retry_on: RetryOn::Retryable,
        }
    }

    async fn run(
        &self,
        app: Arc<App>,
        _job: &Job,
        _payload: ReconcileStores,
    ) -> Result<Completion, AppError> {
        app.queue_reconciles().await?;
        Ok(Completion::Complete)
    }
}

/// `reconcile_store`: one store's poll.
pub struct ReconcileStoreKind;

impl JobKind<App> for ReconcileStoreKind {
    type Payload = ReconcileStore;
    type Error = AppError;
    const NAME: &'static str = RECONCILE_STORE_JOB;
    const CLASS: ResourceClass = ResourceClass::Io;

    /// The next period polls again; a few retries cover a short outage.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            backoff: Backoff::fixed(Duration::from_secs(30)),
            retry_on: RetryOn::Retryable,
        }
    }

    async fn run(
        &self,
        app: Arc<App>,
        _job: &Job,
        payload: ReconcileStore,
    ) -> Result<Completion, AppError> {
        let done = app.reconcile_store(&payload.store).await?;
        tracing::info!(store = %payload.store, seen = done.progress.seen,
            created = done.progress.created, updated = done.progress.updated, "store reconciled");
        Ok(Completion::Complete)
    }
}
