//! Importing orders from a store: the import form (`/orders/import`: All, By range, By IDs)
//! starts the store import use case and goes to its progress page (`/imports/{id}`), which
//! refreshes itself every 3 s without JavaScript; with it, pressroom.js follows the import's
//! server-sent events (`/imports/{id}/events`) and reloads when it is done.

use std::convert::Infallible;
use std::sync::Arc;

use app::App;
use app::store_import::ImportScope;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, TimeZone, Utc};
use leptos::prelude::*;

use crate::form::{Fields, Form};
use crate::session::{self, Flash, Viewer};
use crate::ui::{self, Chrome, Nav, Tone};

/// The stores this viewer may import from.
async fn stores(app: &App, viewer: &Viewer) -> Result<Vec<(String, String)>, app::AppError> {
    Ok(app
        .store_summaries()
        .await?
        .into_iter()
        .filter(|s| viewer.user.sees_store(&s.id))
        .map(|s| {
            let name = if s.settings.name.is_empty() {
                s.id.clone()
            } else {
                s.settings.name.clone()
            };
            (s.id, name)
        })
        .collect())
}

fn import_form(
    viewer: &Viewer,
    stores: Vec<(String, String)>,
    error: Option<String>,
    given: &Fields,
) -> String {
    let scope = given.opt("scope").unwrap_or("all").to_string();
    let error = error.map(|e| view! { <div class="banner tone-critical" role="alert">{e}</div> });
    let body = if stores.is_empty() {
        view! {
            <div class="empty card">
                <p class="strong">"No store to import from"</p>
                <p class="muted">"Connect a WooCommerce store first."</p>
                <a class="button primary" href="/settings#stores">"Connect a store"</a>
            </div>
        }
        .into_any()
    } else {
        let chosen = given.get("store").to_string();
        let opts = stores
            .into_iter()
            .map(|(id, name)| view! { <option value=id.clone() selected={id == chosen}>{name}</option> })
            .collect_view();
        view! {
            {error}
            <form method="post" action="/orders/import" class="card narrow stack">
                {ui::csrf_field(viewer)}
                <div class="field">
                    <label for="store">"Store"</label>
                    <select id="store" name="store">{opts}</select>
                </div>
                <fieldset>
                    <legend>"Which orders"</legend>
                    <label class="check"><input type="radio" name="scope" value="all" checked={scope == "all"} />" All orders"</label>
                    <label class="check"><input type="radio" name="scope" value="range" checked={scope == "range"} />" By range (order date)"</label>
                    <div class="inline-fields">
                        <div class="field">
                            <label for="after">"From"</label>
                            <input id="after" name="after" type="date" value=given.get("after").to_string() />
                        </div>
                        <div class="field">
                            <label for="before">"To (optional)"</label>
                            <input id="before" name="before" type="date" value=given.get("before").to_string() />
                        </div>
                    </div>
                    <label class="check"><input type="radio" name="scope" value="ids" checked={scope == "ids"} />" By IDs"</label>
                    <div class="field inline-fields">
                        <label for="ids">"Store order IDs, separated by commas or spaces"</label>
                        <input id="ids" name="ids" type="text" inputmode="numeric" value=given.get("ids").to_string() />
                    </div>
                </fieldset>
                <div class="row-actions">
                    <a class="button" href="/orders">"Cancel"</a>
                    <button type="submit" class="primary">"Start import"</button>
                </div>
            </form>
        }
        .into_any()
    };
    ui::document(
        Chrome::new("Import orders", Some(viewer), Nav::Orders),
        body,
    )
}

/// `GET /orders/import`.
pub async fn form(State(app): State<Arc<App>>, viewer: Viewer) -> Response {
    match stores(&app, &viewer).await {
        Ok(s) => viewer.page(
            StatusCode::OK,
            import_form(&viewer, s, None, &Fields::default()),
        ),
        Err(e) => session::error_page(Some(&viewer), &e),
    }
}

fn day(s: &str) -> Option<chrono::DateTime<Utc>> {
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?))
}

/// The scope the form asks for, or what is wrong with it.
pub fn scope_of(form: &Fields) -> Result<ImportScope, String> {
    match form.get("scope") {
        "" | "all" => Ok(ImportScope::All),
        "range" => {
            let after = day(form.get("after")).ok_or("Give the first day of the range.")?;
            let before = match form.get("before").trim() {
                "" => None,
                s => Some(day(s).ok_or("The last day is not a date.")? + chrono::Duration::days(1)),
            };
            if before.is_some_and(|b| b <= after) {
                return Err("The range ends before it starts.".into());
            }
            Ok(ImportScope::Range { after, before })
        }
        "ids" => {
            let mut ids = vec![];
            for part in form
                .get("ids")
                .split(|c: char| c == ',' || c.is_whitespace())
            {
                let part = part.trim().trim_start_matches('#');
                if part.is_empty() {
                    continue;
                }
                ids.push(
                    part.parse::<i64>()
                        .map_err(|_| format!("{part:?} is not an order ID."))?,
                );
            }
            if ids.is_empty() || ids.len() > 10_000 {
                return Err("Give 1 to 10,000 order IDs.".into());
            }
            Ok(ImportScope::Ids { ids })
        }
        other => Err(format!("Unknown choice {other:?}.")),
    }
}

/// `POST /orders/import`: start the import, then show its progress.
pub async fn start(State(app): State<Arc<App>>, viewer: Viewer, Form(form): Form) -> Response {
    if let Err(r) = viewer.check_csrf(&form) {
        return r;
    }
    let list = match stores(&app, &viewer).await {
        Ok(s) => s,
        Err(e) => return session::error_page(Some(&viewer), &e),
    };
    let store = form.get("store");
    if !list.iter().any(|(id, _)| id == store) {
        return viewer.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            import_form(
                &viewer,
                list,
                Some("Choose one of your stores.".into()),
                &form,
            ),
        );
    }
    let scope = match scope_of(&form) {
        Ok(s) => s,
        Err(e) => {
            return viewer.page(
                StatusCode::UNPROCESSABLE_ENTITY,
                import_form(&viewer, list, Some(e), &form),
            );
        }
    };
    match app.queue_store_import(store, &scope, &viewer.actor()).await {
        Ok(id) => viewer.redirect(&format!("/imports/{id}"), Flash::ok("Import started")),
        Err(e) => viewer.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            import_form(
                &viewer,
                list,
                Some(format!("The import did not start: {e}")),
                &form,
            ),
        ),
    }
}

/// `GET /imports/{id}`: progress and result.
pub async fn progress(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Response {
    let row = match app.db.import(id).await {
        Ok(r) if viewer.user.sees_store(&r.store_id) => r,
        Ok(_) => return session::not_found(Some(&viewer)),
        Err(e) => return session::error_page(Some(&viewer), &e.into()),
    };
    let p = &row.progress;
    let running = row.state == "running";
    let (state, tone) = match row.state.as_str() {
        "done" => ("Done", Tone::Success),
        "failed" => ("Failed", Tone::Critical),
        _ => ("Running", Tone::Info),
    };
    let counts = format!(
        "{} of {} seen · {} new · {} updated · {} unchanged · {} failed",
        ui::thousands(p.seen),
        ui::thousands(p.total.max(p.seen)),
        ui::thousands(p.created),
        ui::thousands(p.updated),
        ui::thousands(p.unchanged),
        ui::thousands(p.failed)
    );
    let failures = p
        .failures
        .iter()
        .take(100)
        .map(|f| {
            let text = format!(
                "Order {}: {}",
                f["store_order_id"]
                    .as_i64()
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "?".into()),
                f["reason"].as_str().unwrap_or("")
            );
            view! { <li>{text}</li> }
        })
        .collect_view();
    let error = row
        .error
        .clone()
        .map(|e| view! { <div class="banner tone-critical" role="alert">{e}</div> });
    let max = p.total.max(p.seen).max(1);
    let events = format!("/imports/{id}/events");
    let body = view! {
        {error}
        <section class="card narrow" data-import=events data-state=row.state.clone() aria-labelledby="import-h">
            <h2 id="import-h">{format!("Import from {}", row.store_id)}" "{ui::badge(state, tone)}</h2>
            <label for="import-progress">"Progress"</label>
            <progress id="import-progress" max=max.to_string() value=p.seen.to_string()>{counts.clone()}</progress>
            <p data-import-counts="">{counts.clone()}</p>
            <p class="muted">{format!("Started by {} · ", row.actor)}{ui::time(row.started_at, app.now())}</p>
            {(!p.failures.is_empty()).then(|| view! { <p class="label">"Failed orders"</p><ul>{failures}</ul> })}
            <p><a class="button" href="/orders">"Back to orders"</a></p>
        </section>
    }
    .into_any();
    let mut chrome = Chrome::new("Import", Some(&viewer), Nav::Orders);
    if running {
        chrome = chrome.refresh(3);
    }
    viewer.page(StatusCode::OK, ui::document(chrome, body))
}

/// `GET /imports/{id}/events`: the import's progress as server-sent events, the full state in
/// each (so a reconnect loses nothing), sent when it changes; the stream ends when the import
/// is over.
pub async fn events(State(app): State<Arc<App>>, viewer: Viewer, Path(id): Path<i64>) -> Response {
    match app.db.import(id).await {
        Ok(r) if viewer.user.sees_store(&r.store_id) => {}
        Ok(_) => return session::not_found(Some(&viewer)),
        Err(e) => return session::error_page(Some(&viewer), &e.into()),
    }
    let stream = futures::stream::unfold(
        (app, None::<String>, false),
        move |(app, last, over)| async move {
            if over {
                return None;
            }
            loop {
                // A database error ends the stream; the browser reconnects and asks again.
                let row = app.db.import(id).await.ok()?;
                let data = serde_json::json!({
                    "state": row.state,
                    "progress": row.progress,
                    "error": row.error,
                })
                .to_string();
                let over = row.state != "running";
                if over || last.as_deref() != Some(data.as_str()) {
                    let event = Event::default().event("progress").data(data.clone());
                    return Some((Ok::<_, Infallible>(event), (app, Some(data), over)));
                }
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
