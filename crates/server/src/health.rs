//! Liveness, readiness and metrics. Every probe of a dependency is bounded by
//! [`PROBE_TIMEOUT`]: a stopped database or a hung bucket makes `/readyz` say so quickly
//! instead of holding the request for the pool's 30 s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use app::App;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};

/// How long one probe (database round trip, file store write) may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// `f` within [`PROBE_TIMEOUT`], as "ok" or what went wrong.
async fn probe<E: std::fmt::Display>(what: &str, f: impl Future<Output = Result<(), E>>) -> String {
    match tokio::time::timeout(PROBE_TIMEOUT, f).await {
        Ok(Ok(())) => "ok".into(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: {what} failed");
            format!("{what} failed: {}", first_line(&e.to_string()))
        }
        Err(_) => {
            tracing::warn!("readiness: {what} did not answer within {PROBE_TIMEOUT:?}");
            format!("no answer within {} s", PROBE_TIMEOUT.as_secs())
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// Put and delete a small object under `health/`: the file store is readable AND writable.
async fn probe_files_write(app: &App) -> Result<(), object_store::Error> {
    static N: AtomicU64 = AtomicU64::new(0);
    let key = ObjectPath::from(format!(
        "health/probe-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let store = app.files.store();
    store
        .put(&key, PutPayload::from_static(b"pressroom readiness probe"))
        .await?;
    store.delete(&key).await
}

pub(crate) async fn readyz(State(app): State<Arc<App>>) -> Response {
    let (database, files) = tokio::join!(
        probe("database round trip", app.db.ping()),
        // The message of a local store's error names the server's path: keep it in the log.
        probe("file store write", async {
            probe_files_write(&app).await.map_err(|e| {
                tracing::warn!(error = %e, "readiness: file store write failed");
                Redacted
            })
        }),
    );
    let body = api::Readiness { database, files };
    let status = if body.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// A file store error whose details (a local store names its folder) stay in the log.
struct Redacted;

impl std::fmt::Display for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the store refused a write (see the server log)")
    }
}

/// Prometheus text. The queue gauges are read from the database within [`PROBE_TIMEOUT`]; when
/// that fails they are left out and `pressroom_queue_gauges_available` is 0, so a dashboard
/// never shows a stale depth as current.
pub(crate) async fn metrics(State(app): State<Arc<App>>) -> Response {
    let counts = match tokio::time::timeout(PROBE_TIMEOUT, app.db.queue_counts()).await {
        Ok(Ok(c)) => Some(c),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: queue counts unavailable");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: queue counts did not come within {PROBE_TIMEOUT:?}");
            None
        }
    };
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(counts.as_ref()),
    )
        .into_response()
}
