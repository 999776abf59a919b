//! The order page (`/orders/{id}`): header with number, status, time and total, Submit order
//! (confirmed; disabled once submitted, saying where), Hold / Unhold, Cancel (confirmed), Edit
//! order in WooCommerce; per item the mockup, preview, print file, client images, template
//! and render versions with their preflight findings, Re-render and Edit design; the side
//! column with the countdown, customer, shipping, totals, shipments (manual entry for the
//! Manual provider) and store sync; notes and the full history.
//!
//! Every handler first asks `App::order_for`, so another merchant's order is a 404.

use std::sync::Arc;

use app::App;
use app::order_actions::OrderAction;
use app::submission::SubmitAnswer;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::form::Form;
use crate::session::{self, Flash, Viewer};
use crate::ui::{self, Chrome, Nav, Tone};

/// Load an order this viewer may see, or answer the 404 page.
pub async fn load(app: &App, viewer: &Viewer, id: i64) -> Result<storage::OrderRow, Response> {
    app.order_for(&viewer.user, id)
        .await
        .map_err(|e| session::error_page(Some(viewer), &e))
}

fn findings(preflight: &serde_json::Value) -> AnyView {
    let list = preflight["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if list.is_empty() {
        return view! { <li class="muted">"No preflight findings"</li> }.into_any();
    }
    list.into_iter()
        .map(|f| {
            let tone = match f["severity"].as_str() {
                Some("error") => Tone::Critical,
                Some("warning") => Tone::Attention,
                _ => Tone::Neutral,
            };
            let label = match f["severity"].as_str() {
                Some("error") => "Error",
                Some("warning") => "Warning",
                _ => "Info",
            };
            let dpi = f["details"]["effective_dpi"]
                .as_f64()
                .map(|d| ui::badge(format!("{d:.0} DPI"), tone));
            let message = f["message"].as_str().unwrap_or("").to_string();
            view! {
                <li class="finding">{ui::badge(label, tone)}" "{dpi}" "{message}</li>
            }
        })
        .collect_view()
        .into_any()
}

fn render_versions(renders: &[&api::RenderView], now: DateTime<Utc>) -> AnyView {
    let rows = renders
        .iter()
        .map(|r| {
            let title = format!("Version {}", r.version);
            let size = if r.print_size >= 1_000_000 {
                format!("{:.1} MB", r.print_size as f64 / 1_000_000.0)
            } else {
                format!("{} KB", (r.print_size + 999) / 1000)
            };
            let sha = r.print_sha256.chars().take(12).collect::<String>();
            let print = r.files.print.clone();
            let report = r.files.report.clone();
            let took = format!("{:.1} s", r.duration_ms as f64 / 1000.0);
            view! {
                <li class="version">
                    <div>
                        <span class="strong">{title}</span>" · "{ui::time(r.created_at, now)}
                        " · "<span class="muted">{took}</span>
                    </div>
                    <div class="muted">
                        <a href=print>"Print file"</a>" · "{size}" · SHA-256 "
                        <code title=r.print_sha256.clone()>{sha}"…"</code>" · "
                        <a href=report>"Report"</a>
                    </div>
                    <ul class="plain findings">{findings(&r.preflight)}</ul>
                </li>
            }
        })
        .collect_view();
    view! { <ol class="versions plain">{rows}</ol> }.into_any()
}

fn item_card(
    v: &api::OrderView,
    item: &api::LineItem,
    locked: bool,
    store_url: Option<&str>,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> AnyView {
    let mut renders: Vec<&api::RenderView> =
        v.renders.iter().filter(|r| r.item_id == item.id).collect();
    renders.sort_by_key(|r| std::cmp::Reverse(r.version));
    let latest = renders.first().copied();
    let number = v.order.number.clone();
    let heading = format!("{} × {}", item.quantity, item.name);
    let sku = format!(
        "SKU {}",
        if item.sku.is_empty() {
            "—"
        } else {
            &item.sku
        }
    );
    let style = item
        .attributes
        .iter()
        .filter(|a| !a.key.starts_with('_'))
        .map(|a| format!("{}: {}", a.key, a.value))
        .collect::<Vec<_>>()
        .join(" · ");
    let images = latest.map(|r| {
        let alt = format!("Preview of {} for order #{number}", item.name);
        let mock_alt = format!("Mockup of {} for order #{number}", item.name);
        let mockup = r.files.mockup.clone().map(|m| {
            view! { <figure><img src=m alt=mock_alt width="240" /><figcaption>"Mockup"</figcaption></figure> }
        });
        let print = r.files.print.clone();
        view! {
            <div class="images">
                {mockup}
                <figure>
                    <img src=r.files.preview.clone() alt=alt width="240" />
                    <figcaption>"Preview · "<a href=print>"View design"</a></figcaption>
                </figure>
            </div>
        }
    });
    let state = match (
        &item.not_rendered,
        latest,
        item.waiting_for_photos.is_empty(),
    ) {
        (Some(why), _, _) => Some(ui::badge_with_reason(
            "Not rendered",
            Tone::Neutral,
            Some(why.clone()),
        )),
        (None, _, false) => Some(ui::badge("Waiting for photos", Tone::Info)),
        _ => None,
    };
    let job = v
        .jobs
        .iter()
        .rfind(|j| j.kind == app::RENDER_JOB)
        .filter(|j| j.state == "queued" || j.state == "running" || j.state == "dead")
        .map(|j| match j.state.as_str() {
            "dead" => ui::badge_with_reason("Render failed", Tone::Critical, j.last_error.clone()),
            "running" => ui::badge("Rendering", Tone::Info),
            _ => ui::badge("Render queued", Tone::Neutral),
        });
    let personal = item.personalization.clone().map(|p| {
        let values = p
            .values
            .iter()
            .map(|(k, val)| view! { <div><dt>{k.clone()}</dt><dd>{val.clone()}</dd></div> })
            .collect_view();
        let photos = p
            .photos
            .iter()
            .map(|ph| {
                let src = ph.source_url.clone();
                let text = format!("{}: {}", ph.field, if ph.key.is_some() { "stored" } else { "not fetched yet" });
                view! { <li><a href=src.clone() rel="noreferrer noopener" target="_blank">{text}</a></li> }
            })
            .collect_view();
        let template = format!("Template: {}", p.template_id);
        view! {
            <p class="muted">{template}</p>
            <dl class="values">{values}</dl>
            <p class="label">"Client images"</p>
            <ul class="plain">{photos}</ul>
        }
    });
    let actions = (item.personalization.is_some() && !locked).then(|| {
        let edit = format!("/orders/{}/items/{}/edit", v.id, item.id);
        let action = format!("/orders/{}/render", v.id);
        view! {
            <div class="row-actions">
                <a class="button" href=edit>"Edit design"</a>
                <form method="post" action=action class="inline">
                    {ui::csrf_field(viewer)}
                    <input type="hidden" name="item" value=item.id.to_string() />
                    <button type="submit">"Re-render"</button>
                </form>
            </div>
        }
    });
    let versions = (!renders.is_empty()).then(|| {
        view! {
            <details open={renders.len() == 1}>
                <summary>{format!("Render versions ({})", renders.len())}</summary>
                {render_versions(&renders, now)}
            </details>
        }
    });
    let latest_findings =
        latest.map(|r| view! { <ul class="plain findings">{findings(&r.preflight)}</ul> });
    // The history records who accepted which version's preflight errors.
    let overridden = latest.and_then(|r| {
        v.history
            .iter()
            .rev()
            .find(|h| {
                h.kind == "preflight"
                    && h.payload.as_ref().is_some_and(|p| {
                        p["override"] == true
                            && p["item_id"] == item.id
                            && p["version"] == r.version
                    })
            })
            .map(|h| h.actor.clone())
    });
    let override_form = latest
        .filter(|r| r.preflight_errors > 0 && !locked)
        .map(|r| match &overridden {
            Some(who) => ui::badge(format!("Overridden by {who}"), Tone::Neutral),
            None => {
                let action = format!("/orders/{}/items/{}/override", v.id, item.id);
                let note = format!(
                    "Version {} has preflight errors, which stop automatic submission.",
                    r.version
                );
                view! {
                    <form method="post" action=action class="inline">
                        {ui::csrf_field(viewer)}
                        <span class="muted">{note}</span>
                        <button type="submit">"Accept and allow submission"</button>
                    </form>
                }
                .into_any()
            }
        });
    let product = store_url.filter(|_| item.product_id > 0).map(|u| {
        let href = format!(
            "{}/?post_type=product&p={}",
            u.trim_end_matches('/'),
            item.product_id
        );
        view! { <a href=href rel="noreferrer noopener" target="_blank">"View product in the store"</a> }
    });
    view! {
        <section class="card item" aria-label=item.name.clone()>
            <h2>{heading}</h2>
            <p class="muted">{sku}" "{style}" "{product}</p>
            {state}
            {job}
            {images}
            {latest_findings}
            {override_form}
            {personal}
            {actions}
            {versions}
        </section>
    }
    .into_any()
}

fn address_lines(a: &api::Address) -> Vec<String> {
    let name = format!("{} {}", a.first_name, a.last_name)
        .trim()
        .to_string();
    let city = [a.postcode.as_str(), a.city.as_str()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    [
        name,
        a.company.clone(),
        a.address_1.clone(),
        a.address_2.clone(),
        city,
        [a.state.as_str(), a.country.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(", "),
    ]
    .into_iter()
    .filter(|l| !l.is_empty())
    .collect()
}

fn side(v: &api::OrderView, viewer: &Viewer, now: DateTime<Utc>) -> AnyView {
    let o = &v.order;
    let countdown = if o.submit_status.state != "blank" {
        None
    } else if o.countdown.paused_remaining_secs.is_some() {
        Some(view! { <p>{ui::badge("Paused (On hold)", Tone::Attention)}</p> }.into_any())
    } else if let Some(reason) = &o.submission_blocked {
        Some(view! { <p>{ui::badge("Blocked", Tone::Critical)}" "{reason.clone()}</p> }.into_any())
    } else {
        o.countdown
            .submit_at
            .map(|at| view! { <p>{ui::countdown(at, now)}</p> }.into_any())
    };
    let status_form = {
        let kind = o.status.kind.as_str();
        let (action, label) = match kind {
            "on-hold" => (Some("unhold"), "Release hold (Processing)"),
            "processing" | "pending" => (Some("hold"), "Put on hold"),
            _ => (None, ""),
        };
        action.map(|a| {
            let url = format!("/orders/{}/{a}", v.id);
            view! {
                <form method="post" action=url>
                    {ui::csrf_field(viewer)}
                    <button type="submit">{label}</button>
                </form>
            }
        })
    };
    let sync = if v.store_sync.pending > 0 {
        let reason = v.store_sync.last_error.clone();
        Some(
            view! {
                <p>
                    {ui::badge_with_reason("Sync pending", Tone::Attention, reason.clone())}
                    " "<span class="muted">{reason.unwrap_or_else(|| "Waiting to be written to the store.".into())}</span>
                </p>
            }
            .into_any(),
        )
    } else if v
        .store_sync
        .writes
        .iter()
        .any(|w| w.state == "failed" || w.state == "refused")
    {
        Some(view! { <p>{ui::badge("Sync failed", Tone::Critical)}</p> }.into_any())
    } else {
        None
    };
    let deleted = v.store_sync.deleted_in_store.then(
        || view! { <p class="banner tone-warning">"This order was deleted in the store."</p> },
    );
    let changed = v.store_sync.changed_after_submission.then(|| {
        view! { <p class="banner tone-warning">"The store changed this order after it was submitted; check it with the provider."</p> }
    });
    let customer = o.customer.name.clone();
    let email = o.customer.email.clone();
    let ship = address_lines(&o.shipping)
        .into_iter()
        .map(|l| view! { <span>{l}</span><br /> })
        .collect_view();
    let cur = o.currency.clone();
    let line = |label: &'static str, amount: rust_decimal::Decimal| {
        let text = ui::money(amount, &cur);
        view! { <div><dt>{label}</dt><dd class="num">{text}</dd></div> }
    };
    let totals = view! {
        <dl class="totals">
            {line("Subtotal", o.totals.subtotal)}
            {line("Shipping", o.totals.shipping_total)}
            {line("Tax", o.totals.tax_total)}
            {line("Discount", o.totals.discount_total)}
            {line("Total", o.totals.total)}
        </dl>
    };
    let payment = (!o.payment_method_title.is_empty())
        .then(|| format!("Paid via {}", o.payment_method_title));
    let shipments = o
        .shipments
        .iter()
        .map(|s| {
            let tone = ui::shipment_tone(&s.status);
            let status = s.status.replace('_', " ");
            let tracking = s.tracking_numbers.join(", ");
            let link = (!s.tracking_url.is_empty()).then(|| {
                let url = s.tracking_url.clone();
                view! { " · "<a href=url rel="noreferrer noopener" target="_blank">"Track"</a> }
            });
            let carrier = s.carrier.clone();
            view! {
                <li>{ui::badge(status, tone)}" "{carrier}" "{tracking}{link}</li>
            }
        })
        .collect_view();
    let manual = (o.submit_status.state == "submitted"
        && o.submit_status.provider.as_deref() == Some(app::providers::MANUAL))
    .then(|| {
        let action = format!("/orders/{}/shipments", v.id);
        view! {
            <form method="post" action=action class="stack">
                {ui::csrf_field(viewer)}
                <p class="label">"Add a shipment"</p>
                <div class="field"><label for="carrier">"Carrier"</label><input id="carrier" name="carrier" type="text" required=true /></div>
                <div class="field"><label for="tracking">"Tracking number"</label><input id="tracking" name="tracking_number" type="text" required=true /></div>
                <div class="field"><label for="tracking-url">"Tracking URL (optional)"</label><input id="tracking-url" name="tracking_url" type="url" /></div>
                <button type="submit">"Add shipment"</button>
            </form>
        }
    });
    view! {
        <section class="card" aria-labelledby="h-status">
            <h2 id="h-status">"Status"</h2>
            {ui::badge(o.status.raw.clone(), ui::store_tone(&o.status.kind))}
            {countdown}
            {status_form}
            {sync}
            {deleted}
            {changed}
        </section>
        <section class="card" aria-labelledby="h-customer">
            <h2 id="h-customer">"Customer"</h2>
            <p>{customer}<br /><span class="muted">{email}</span></p>
            <p class="label">"Shipping address"</p>
            <address>{ship}</address>
        </section>
        <section class="card" aria-labelledby="h-totals">
            <h2 id="h-totals">"Totals"</h2>
            {totals}
            <p class="muted">{payment}</p>
        </section>
        <section class="card" aria-labelledby="h-shipments">
            <h2 id="h-shipments">"Shipments"</h2>
            <ul class="plain">{shipments}</ul>
            {o.shipments.is_empty().then(|| view! { <p class="muted">"Nothing shipped yet."</p> })}
            {manual}
        </section>
    }
    .into_any()
}

fn notes_and_history(v: &api::OrderView, viewer: &Viewer, now: DateTime<Utc>) -> AnyView {
    let notes = v
        .order
        .notes
        .iter()
        .rev()
        .map(|n| {
            let who = n.author.clone();
            let text = n.text.clone();
            let vis = n.customer_visible.then(|| ui::badge("Customer sees it", Tone::Info));
            let edited = n.edited_at.map(|at| view! { " · edited "{ui::time(at, now)} });
            // Pressroom's own notes (id > 0) can be edited and deleted; the customer's note
            // is the store's.
            let actions = (n.id > 0).then(|| {
                let edit = format!("/orders/{}/notes/{}", v.id, n.id);
                let delete = format!("{edit}/delete");
                let field = format!("note-{}", n.id);
                view! {
                    <details class="note-edit">
                        <summary>"Edit"</summary>
                        <form method="post" action=edit class="stack">
                            {ui::csrf_field(viewer)}
                            <label for=field.clone()>"Note text"</label>
                            <textarea id=field name="text" rows="3" required=true>{n.text.clone()}</textarea>
                            <button type="submit">"Save note"</button>
                        </form>
                    </details>
                    <form method="post" action=delete class="inline">
                        {ui::csrf_field(viewer)}
                        <button type="submit" class="link">"Delete note"</button>
                    </form>
                }
            });
            view! {
                <li>
                    <p>{text}</p>
                    <p class="muted">{who}" · "{ui::time(n.at, now)}{edited}" "{vis}</p>
                    {actions}
                </li>
            }
        })
        .collect_view();
    let action = format!("/orders/{}/notes", v.id);
    let history = v
        .history
        .iter()
        .rev()
        .map(|h| {
            let payload = h.payload.as_ref().map(|p| {
                let text = serde_json::to_string_pretty(p).unwrap_or_default();
                view! { <details><summary>"Raw payload"</summary><pre>{text}</pre></details> }
            });
            let kind = h.kind.replace('_', " ");
            view! {
                <li>
                    <p><span class="strong">{kind}</span>" · "{h.message.clone()}</p>
                    <p class="muted">{h.actor.clone()}" · "{ui::time(h.at, now)}</p>
                    {payload}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="h-notes">
            <h2 id="h-notes">"Notes"</h2>
            <ul class="plain notes">{notes}</ul>
            <form method="post" action=action class="stack">
                {ui::csrf_field(viewer)}
                <div class="field">
                    <label for="note">"Add an internal note"</label>
                    <textarea id="note" name="text" rows="3" required=true></textarea>
                </div>
                <label class="check"><input type="checkbox" name="push" value="on" />" Also add it to the order in the store (private note)"</label>
                <button type="submit">"Add note"</button>
            </form>
        </section>
        <section class="card" aria-labelledby="h-history">
            <h2 id="h-history">"History"</h2>
            <ol class="plain history">{history}</ol>
        </section>
    }
    .into_any()
}

/// `GET /orders/{id}`.
pub async fn show(State(app): State<Arc<App>>, viewer: Viewer, Path(id): Path<i64>) -> Response {
    let row = match load(&app, &viewer, id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let v = match server::order_view(&app, id).await {
        Ok(v) => v,
        Err(e) => return session::error_page(Some(&viewer), &e),
    };
    let store_url = app
        .db
        .store(&row.store_id)
        .await
        .ok()
        .flatten()
        .map(|s| s.url)
        .filter(|u| !u.is_empty());
    let now = app.now();
    let o = &v.order;
    let locked = row.order.submit_status.design_locked();
    let placed = o.created_at.unwrap_or(v.created_at);
    let total = ui::money(o.totals.total, &o.currency);
    let submit_badge = ui::submit_tone(&o.submit_status.label).map(|t| {
        ui::badge_with_reason(
            o.submit_status.label.clone(),
            t,
            o.submit_status.reason.clone(),
        )
    });
    let test = o.test.then(|| ui::badge("Test", Tone::Neutral));
    let heading = view! {
        <div class="meta">
            {ui::badge(o.status.raw.clone(), ui::store_tone(&o.status.kind))}
            " "{submit_badge}" "{test}
            " "<span class="muted">{ui::time(placed, now)}" · "{total}</span>
        </div>
    }
    .into_any();
    let submit = if locked {
        let provider = o
            .submit_status
            .provider
            .clone()
            .unwrap_or_else(|| "the provider".into());
        let when = o
            .submit_status
            .at
            .map(|at| format!(" on {}", at.format("%b %-d, %Y")));
        let verb = match o.submit_status.state.as_str() {
            "submitting" => "Submitting to",
            "review" => "In review with",
            _ => "Submitted to",
        };
        let label = format!("{verb} {provider}{}", when.unwrap_or_default());
        view! { <button type="button" class="primary" disabled=true>{label}</button> }.into_any()
    } else {
        let href = format!("/orders/{id}/submit");
        view! { <a class="button primary" href=href data-dialog="confirm-submit">"Submit order"</a> }.into_any()
    };
    let edit_order = store_url.clone().map(|u| {
        let href = format!(
            "{}/wp-admin/post.php?post={}&action=edit",
            u.trim_end_matches('/'),
            o.store_order_id
        );
        view! { <a class="button" href=href rel="noreferrer noopener" target="_blank">"Edit order"</a> }
    });
    let cancellable = !matches!(
        o.status.kind.as_str(),
        "cancelled" | "completed" | "refunded"
    );
    let cancel = cancellable.then(|| {
        let href = format!("/orders/{id}/cancel");
        view! { <a class="button" href=href data-dialog="confirm-cancel">"Cancel order"</a> }
    });
    let actions = view! {
        {edit_order}
        {cancel}
        <form method="get" action="/orders/print-files.zip" class="inline">
            <input type="hidden" name="ids" value=id.to_string() />
            <button type="submit">"Download print files"</button>
        </form>
        {submit}
    }
    .into_any();
    let failure = match o.submit_status.state.as_str() {
        "failed" | "review" => o.submit_status.reason.clone().map(|r| {
            let what = if o.submit_status.state == "failed" {
                "Submission failed: "
            } else {
                "Submission needs review: "
            };
            let review = (o.submit_status.state == "review").then(|| {
                let action = format!("/orders/{id}/review");
                view! {
                    <form method="post" action=action class="row-actions">
                        {ui::csrf_field(&viewer)}
                        <span>"Check with the provider, then settle it:"</span>
                        <input type="hidden" name="confirm" value="1" />
                        <label for="provider-order" class="sr-only">"The provider's order id (if it has the order)"</label>
                        <input id="provider-order" name="provider_order_id" type="text" placeholder="Provider's order id (optional)" />
                        <button type="submit" name="resolution" value="submitted">"The provider has it"</button>
                        <button type="submit" name="resolution" value="failed">"It did not arrive"</button>
                    </form>
                }
            });
            view! { <div class="banner tone-critical" role="alert">{what}{r}{review}</div> }
        }),
        _ => None,
    };
    let items = o
        .items
        .iter()
        .map(|i| item_card(&v, i, locked, store_url.as_deref(), &viewer, now))
        .collect_view();
    let dialogs = view! {
        {(!locked).then(|| confirm_dialog(&viewer, id, &o.number, "submit"))}
        {cancellable.then(|| confirm_dialog(&viewer, id, &o.number, "cancel"))}
    };
    let body = view! {
        {failure}
        <div class="columns">
            <div class="main-col">
                {items}
                {notes_and_history(&v, &viewer, now)}
            </div>
            <aside class="side-col" aria-label="Order details">{side(&v, &viewer, now)}</aside>
        </div>
        {dialogs}
    }
    .into_any();
    let title = format!("#{}", o.number);
    let html = ui::document(
        Chrome::new(title, Some(&viewer), Nav::Orders)
            .heading(heading)
            .actions(actions),
        body,
    );
    viewer.page(StatusCode::OK, html)
}

fn confirm_text(number: &str, what: &str) -> (String, String, &'static str) {
    match what {
        "submit" => (
            format!("Submit order #{number}?"),
            "The order goes to its provider now. A submitted order cannot be submitted again, and its design is locked.".to_string(),
            "Submit order",
        ),
        _ => (
            format!("Cancel order #{number}?"),
            "Cancelling stops the order for good: it is not submitted, and the store is told. An order already at a provider is cancelled there if the provider allows it.".to_string(),
            "Cancel order",
        ),
    }
}

/// The `<dialog>` pressroom.js opens for a confirm link (`data-dialog`), holding the same
/// form as the confirm page.
fn confirm_dialog(viewer: &Viewer, id: i64, number: &str, what: &'static str) -> AnyView {
    let (title, text, button) = confirm_text(number, what);
    let dialog_id = format!("confirm-{what}");
    let title_id = format!("confirm-{what}-title");
    let labelled = title_id.clone();
    let action = format!("/orders/{id}/{what}");
    view! {
        <dialog id=dialog_id aria-labelledby=labelled>
            <h2 id=title_id>{title}</h2>
            <p>{text}</p>
            <form method="post" action=action class="row-actions">
                {ui::csrf_field(viewer)}
                <input type="hidden" name="confirm" value="1" />
                <button type="button" data-close="" autofocus=true>"Keep it"</button>
                <button type="submit" class="primary" data-once="">{button}</button>
            </form>
        </dialog>
    }
    .into_any()
}

fn confirm_page(viewer: &Viewer, id: i64, number: &str, what: &'static str) -> Response {
    let (title, text, button) = confirm_text(number, what);
    let action = format!("/orders/{id}/{what}");
    let back = format!("/orders/{id}");
    let body = view! {
        <div class="card narrow">
            <p>{text}</p>
            <form method="post" action=action class="row-actions">
                {ui::csrf_field(viewer)}
                <input type="hidden" name="confirm" value="1" />
                <a class="button" href=back autofocus="">"Keep it"</a>
                <button type="submit" class="primary" data-once="">{button}</button>
            </form>
        </div>
    }
    .into_any();
    viewer.page(
        StatusCode::OK,
        ui::document(Chrome::new(title, Some(viewer), Nav::Orders), body),
    )
}

/// `GET /orders/{id}/submit`: the confirmation (the no-JS path of the dialog).
pub async fn confirm_submit(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Response {
    match load(&app, &viewer, id).await {
        Ok(row) => confirm_page(&viewer, id, &row.order.number, "submit"),
        Err(r) => r,
    }
}

/// `GET /orders/{id}/cancel`: the confirmation.
pub async fn confirm_cancel(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Response {
    match load(&app, &viewer, id).await {
        Ok(row) => confirm_page(&viewer, id, &row.order.number, "cancel"),
        Err(r) => r,
    }
}

/// Check the form and the order; the common start of every POST here.
async fn posted(
    app: &App,
    viewer: &Viewer,
    id: i64,
    form: &crate::form::Fields,
) -> Result<storage::OrderRow, Response> {
    viewer.check_csrf(form)?;
    load(app, viewer, id).await
}

fn back(id: i64) -> String {
    format!("/orders/{id}")
}

/// `POST /orders/{id}/submit` with `confirm=1`.
pub async fn submit(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form,
) -> Response {
    let row = match posted(&app, &viewer, id, &form).await {
        Ok(row) => row,
        Err(r) => return r,
    };
    if !form.checked("confirm") {
        return confirm_page(&viewer, id, &row.order.number, "submit");
    }
    let flash = match app
        .submit(id, domain::SubmitTrigger::Merchant, &viewer.actor())
        .await
    {
        Ok(SubmitAnswer::Submitting { provider, .. }) => {
            Flash::ok(format!("Order submitting to {provider}"))
        }
        Ok(SubmitAnswer::Submitted { provider }) => {
            Flash::ok(format!("Order submitted to {provider}"))
        }
        Ok(SubmitAnswer::AlreadySubmitted { .. }) => {
            Flash::err("This order was already submitted; it cannot be submitted again.")
        }
        Ok(SubmitAnswer::NotReady { reasons }) => {
            Flash::err(format!("Not submitted: {}", reasons.join("; ")))
        }
        Ok(SubmitAnswer::Failed { reason }) => Flash::err(format!("Not submitted: {reason}")),
        Err(e) => Flash::err(format!("Not submitted: {e}")),
    };
    viewer.redirect(&back(id), flash)
}

async fn action(
    app: Arc<App>,
    viewer: Viewer,
    id: i64,
    form: crate::form::Fields,
    what: OrderAction,
) -> Response {
    let row = match posted(&app, &viewer, id, &form).await {
        Ok(row) => row,
        Err(r) => return r,
    };
    if what == OrderAction::Cancel && !form.checked("confirm") {
        return confirm_page(&viewer, id, &row.order.number, "cancel");
    }
    let flash = match app.order_action(id, what, true, &viewer.actor()).await {
        Ok(done) => {
            let verb = match what {
                OrderAction::Hold => "Order put on hold",
                OrderAction::Unhold => "Order released from hold",
                OrderAction::Cancel => "Order cancelled",
            };
            let sync = if done.sync_pending {
                "; the store will be updated"
            } else {
                ""
            };
            Flash::ok(format!("{verb}{sync}"))
        }
        Err(e) => Flash::err(format!("Not done: {e}")),
    };
    viewer.redirect(&back(id), flash)
}

/// `POST /orders/{id}/hold`.
pub async fn hold(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form,
) -> Response {
    action(app, viewer, id, form, OrderAction::Hold).await
}

/// `POST /orders/{id}/unhold`.
pub async fn unhold(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form,
) -> Response {
    action(app, viewer, id, form, OrderAction::Unhold).await
}

/// `POST /orders/{id}/cancel` with `confirm=1`.
pub async fn cancel(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form,
) -> Response {
    action(app, viewer, id, form, OrderAction::Cancel).await
}

/// `POST /orders/{id}/notes`: add an internal note (optionally pushed to the store).
pub async fn add_note(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form,
) -> Response {
    if let Err(r) = posted(&app, &viewer, id, &form).await {
        return r;
    }
    let done = app
        .add_note(id, form.get("text"), form.checked("push"), &viewer.actor())
        .await;
    back_to_notes(&viewer, id, done.map(drop), "added")
}

/// Back to the order's notes, saying what became of the change ("Note added", "The note was
/// not added: …").
fn back_to_notes(
    viewer: &Viewer,
    id: i64,
    done: Result<(), app::AppError>,
    verb: &str,
) -> Response {
    let flash = match done {
        Ok(()) => Flash::ok(format!("Note {verb}")),
        Err(e) => Flash::err(format!("The note was not {verb}: {e}")),
    };
    viewer.redirect(&format!("/orders/{id}#h-notes"), flash)
}

/// `POST /orders/{id}/notes/{note}`: a Pressroom note's new text.
pub async fn edit_note(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((id, note)): Path<(i64, u64)>,
    Form(form): Form,
) -> Response {
    if let Err(r) = posted(&app, &viewer, id, &form).await {
        return r;
    }
    let done = app
        .edit_note(id, note, form.get("text"), &viewer.actor())
        .await;
    back_to_notes(&viewer, id, done, "saved")
}

/// `POST /orders/{id}/notes/{note}/delete`: removes a Pressroom note (the history keeps its
/// text, so no confirmation).
pub async fn delete_note(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((id, note)): Path<(i64, u64)>,
    Form(form): Form,
) -> Response {
    if let Err(r) = posted(&app, &viewer, id, &form).await {
        return r;
    }
    let done = app.delete_note(id, note, &viewer.actor()).await;
    back_to_notes(&viewer, id, done, "deleted")
}

/// `POST /orders/{id}/shipments`: a parcel typed by the merchant (Manual provider).
pub async fn add_shipment(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form,
) -> Response {
    if let Err(r) = posted(&app, &viewer, id, &form).await {
        return r;
    }
    let update = domain::ShipmentUpdate {
        id: None,
        carrier: form.get("carrier").trim().to_string(),
        tracking_number: form.get("tracking_number").trim().to_string(),
        tracking_url: form.get("tracking_url").trim().to_string(),
        status: None,
        items: vec![],
        shipped_at: None,
    };
    let flash = match app.add_manual_shipment(id, update, &viewer.actor()).await {
        Ok(_) => Flash::ok("Shipment added"),
        Err(e) => Flash::err(format!("The shipment was not added: {e}")),
    };
    viewer.redirect(&back(id), flash)
}

/// `POST /orders/{id}/render` with `item`: render an item again.
pub async fn rerender(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form,
) -> Response {
    if let Err(r) = posted(&app, &viewer, id, &form).await {
        return r;
    }
    let item = form.get("item").parse::<i64>().ok();
    let flash = match app.request_render(id, item, &viewer.actor()).await {
        Ok(_) => Flash::ok("Render queued; the new version appears when it is ready"),
        Err(e) => Flash::err(format!("Not rendered: {e}")),
    };
    viewer.redirect(&back(id), flash)
}

/// `POST /orders/{id}/items/{item}/override`: accept the preflight errors of the item's
/// latest render (recorded with who did it).
pub async fn override_preflight(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((id, item)): Path<(i64, i64)>,
    Form(form): Form,
) -> Response {
    if let Err(r) = posted(&app, &viewer, id, &form).await {
        return r;
    }
    let flash = match app.override_preflight(id, item, &viewer.actor()).await {
        Ok(version) => Flash::ok(format!("Preflight errors of version {version} accepted")),
        Err(e) => Flash::err(format!("Not accepted: {e}")),
    };
    viewer.redirect(&back(id), flash)
}

/// `POST /orders/{id}/review` with `resolution=submitted|failed`: settle a submission whose
/// outcome was unknown, after checking with the provider.
pub async fn resolve_review(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form,
) -> Response {
    if let Err(r) = posted(&app, &viewer, id, &form).await {
        return r;
    }
    let at_provider = match form.get("resolution") {
        "submitted" => true,
        "failed" => false,
        _ => {
            return viewer.redirect(
                &back(id),
                Flash::err("Choose whether the provider has the order."),
            );
        }
    };
    let provider_order_id =
        Some(form.get("provider_order_id").trim().to_string()).filter(|s| !s.is_empty());
    let flash = match app
        .resolve_review(id, at_provider, provider_order_id, &viewer.actor())
        .await
    {
        Ok(status) => Flash::ok(format!("Submission settled: {}", status.label())),
        Err(e) => Flash::err(format!("Not settled: {e}")),
    };
    viewer.redirect(&back(id), flash)
}
