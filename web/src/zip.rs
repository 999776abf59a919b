//! "Download print files (ZIP)": the latest print file of every item of the selected orders
//! (only those the user may see), streamed as one ZIP while it is written: entries are
//! STORED (print files are already compressed) with data descriptors, ZIP64 when needed, so
//! neither the archive nor a file is ever held in memory. Entries are named
//! `<order number>-<item>-<SKU>.<ext>`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use app::App;
use async_zip::{Compression, ZipEntryBuilder};
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{AsyncWriteExt as _, StreamExt as _};
use tokio_util::io::ReaderStream;

use crate::session::{Flash, Viewer};

/// Letters, digits, `-`, `_` and `.` only (a name safe in any unzip tool and file system).
pub fn safe_name_part(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let out = out.trim_matches('.').to_string();
    if out.is_empty() { "x".into() } else { out }
}

/// One file of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub key: String,
}

/// The entries for these orders: per item, the latest render's print file.
pub async fn entries(app: &App, orders: &[(i64, storage::OrderRow)]) -> Vec<Entry> {
    let mut out = vec![];
    let mut names = HashSet::new();
    for (id, row) in orders {
        let Ok(renders) = app.db.renders(*id).await else {
            continue;
        };
        let mut latest: BTreeMap<i64, &storage::RenderRow> = BTreeMap::new();
        for r in &renders {
            let e = latest.entry(r.render.item_id).or_insert(r);
            if r.version > e.version {
                *e = r;
            }
        }
        for (item, r) in latest {
            let sku = row
                .order
                .item(item)
                .map(|i| i.sku.clone())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "item".into());
            let ext = r.render.print_key.rsplit('.').next().unwrap_or("png");
            let base = format!(
                "{}-{}-{}",
                safe_name_part(&row.order.number),
                item,
                safe_name_part(&sku)
            );
            let mut name = format!("{base}.{}", safe_name_part(ext));
            let mut n = 2;
            while !names.insert(name.clone()) {
                name = format!("{base}-{n}.{}", safe_name_part(ext));
                n += 1;
            }
            out.push(Entry {
                name,
                key: r.render.print_key.clone(),
            });
        }
    }
    out
}

async fn write_zip(
    app: Arc<App>,
    entries: Vec<Entry>,
    out: tokio::io::DuplexStream,
) -> Result<(), String> {
    let mut zip = async_zip::base::write::ZipFileWriter::with_tokio(out);
    for e in entries {
        let (_, mut stream) = app
            .files
            .get_stream(&e.key)
            .await
            .map_err(|err| format!("{}: {err}", e.key))?;
        let builder = ZipEntryBuilder::new(e.name.clone().into(), Compression::Stored);
        let mut w = zip
            .write_entry_stream(builder)
            .await
            .map_err(|err| err.to_string())?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|err| format!("{}: {err}", e.key))?;
            w.write_all(&chunk).await.map_err(|err| err.to_string())?;
        }
        w.close().await.map_err(|err| err.to_string())?;
    }
    zip.close().await.map_err(|err| err.to_string())?;
    Ok(())
}

/// Answer the ZIP of these orders' print files (or a redirect saying why there is none).
pub async fn print_files(app: &Arc<App>, viewer: &Viewer, ids: &[i64]) -> Response {
    if ids.is_empty() {
        return viewer.redirect(
            "/orders",
            Flash::err("Select at least one order to download."),
        );
    }
    let visible = viewer.visible_orders(app, ids).await;
    let entries = entries(app, &visible).await;
    if entries.is_empty() {
        return viewer.redirect(
            "/orders",
            Flash::err("The selected orders have no print files yet."),
        );
    }
    let (w, r) = tokio::io::duplex(256 * 1024);
    let app = app.clone();
    tokio::spawn(async move {
        if let Err(e) = write_zip(app, entries, w).await {
            // The client sees a cut archive; the log says why.
            tracing::warn!(error = %e, "print files ZIP stopped");
        }
    });
    let mut resp = (StatusCode::OK, Body::from_stream(ReaderStream::new(r))).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"print-files.zip\""),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
