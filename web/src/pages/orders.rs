//! The orders dashboard (`/orders`): a native table of 50 orders a page with search, filters
//! and sort kept in the URL, the bulk bar (Bulk Submit with a confirmation and per-order
//! results; the latest print files of the selected orders as one streamed ZIP), "Place test
//! order", and the empty states. A merchant sees only their own stores' orders.

use std::collections::BTreeMap;
use std::sync::Arc;

use app::App;
use app::submission::SubmitAnswer;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use storage::{OrderQuery, OrderRow, OrderSort};

use crate::form::{Fields, Form};
use crate::session::{self, Flash, Viewer, see_other};
use crate::ui::{self, Chrome, Nav, Tone};

/// Rows per page.
pub const PAGE_SIZE: i64 = 50;

pub use crate::session::MAX_SELECTED;

/// `GET /`: the dashboard is the home page.
pub async fn root() -> Response {
    see_other("/orders", None, false)
}

/// The words for an order type.
pub fn type_label(t: &str) -> &'static str {
    match t {
        "in_app" => "In-app",
        "amazon" => "Amazon",
        "shine_on" => "ShineOn",
        _ => "Others",
    }
}

const TYPES: [&str; 4] = ["in_app", "amazon", "shine_on", "others"];
/// Submit filter values: "none" is never submitted.
const SUBMITS: [(&str, &str); 5] = [
    ("none", "Not submitted"),
    ("Submitting", "Submitting"),
    ("Submitted", "Submitted"),
    ("Failed", "Failed"),
    ("Review", "Needs review"),
];

/// The installed templates' ids (for "Place test order").
pub fn template_ids(app: &App) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(app.templates.dir())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|id| app.templates.exists(id))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// A `YYYY-MM-DD` day from a date field (anything else is no filter).
fn day(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// The dashboard's query from the URL.
fn order_query(viewer: &Viewer, q: &Fields) -> (OrderQuery, i64) {
    let page = q
        .get("page")
        .parse::<i64>()
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    let query = OrderQuery {
        stores: viewer.user.store_scope(),
        search: q.get("q").trim().chars().take(200).collect(),
        statuses: q.all("status"),
        order_types: q.all("type"),
        submit: q
            .all("submit")
            .into_iter()
            .map(|s| if s == "none" { String::new() } else { s })
            .collect(),
        placed_from: day(q.get("from")).map(|d| d.to_string()),
        // "To" includes its day: orders placed before the next one.
        placed_before: day(q.get("to"))
            .and_then(|d| d.succ_opt())
            .map(|d| d.to_string()),
        sort: OrderSort::parse(q.get("sort")).unwrap_or_default(),
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    };
    (query, page)
}

/// The latest render's preview link of each order (for the thumbnails), in one query.
async fn thumbnails(app: &App, orders: &[OrderRow]) -> BTreeMap<i64, String> {
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    app.db
        .latest_renders(&ids)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(order, render)| (order, format!("/api/v1/renders/{render}/preview")))
        .collect()
}

/// The "Auto-submit" cell.
pub fn auto_submit_cell(o: &domain::Order, now: DateTime<Utc>) -> AnyView {
    if o.submit_status != domain::SubmitStatus::Blank {
        return ().into_any();
    }
    if o.order_type != domain::OrderType::InApp && !o.test {
        return view! { <span>"Manual"</span> }.into_any();
    }
    if o.countdown.paused_remaining_secs.is_some() {
        return ui::badge("Paused (On hold)", Tone::Attention);
    }
    if let Some(reason) = &o.submission_blocked {
        return ui::badge_with_reason("Blocked", Tone::Critical, Some(reason.clone()));
    }
    match o.countdown.submit_at {
        Some(at) => ui::countdown(at, now),
        None => ().into_any(),
    }
}

fn submit_reason(o: &domain::Order) -> Option<String> {
    match &o.submit_status {
        domain::SubmitStatus::Failed { reason, .. }
        | domain::SubmitStatus::Review { reason, .. } => Some(reason.clone()),
        _ => None,
    }
}

fn row(o: &OrderRow, thumb: Option<String>, now: DateTime<Utc>) -> AnyView {
    let d = &o.order;
    let id = o.id;
    let href = format!("/orders/{id}");
    let number = format!("#{}", d.number);
    let select_label = format!("Select order #{}", d.number);
    let placed = d.created_at.unwrap_or(o.created_at);
    let status = ui::badge(d.status.raw.clone(), ui::store_tone(d.status.kind.as_str()));
    let place: Vec<&str> = [&d.customer.city, &d.customer.state, &d.customer.country]
        .into_iter()
        .map(|s| s.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    let place = place.join(", ");
    let customer = d.customer.name.clone();
    let total = ui::money(d.totals.total, &d.currency);
    let via =
        (!d.payment_method_title.is_empty()).then(|| format!("via {}", d.payment_method_title));
    let items: u32 = d.items.iter().map(|i| i.quantity).sum();
    let kind = type_label(d.order_type.as_str());
    let label = d.submit_status.label();
    let reason = submit_reason(d);
    let submit = ui::submit_tone(label).map(|tone| {
        let line = reason.clone().filter(|_| label == "Failed");
        let pop_id = format!("why-{id}");
        view! {
            {ui::badge_with_reason(label, tone, reason.clone())}
            {line.map(|l| {
                let t = l.clone();
                let full = l.clone();
                let target = pop_id.clone();
                view! {
                    <span class="reason muted" title=t>{l}</span>
                    <button type="button" class="link small" popovertarget=target.clone()>"Why?"</button>
                    <div popover="" id=target class="popover">{full}</div>
                }
            })}
        }
    });
    let test = d.test.then(|| ui::badge("Test", Tone::Neutral));
    let thumb = thumb.map(|src| {
        view! { <img class="thumb" src=src alt="" width="64" height="64" loading="lazy" /> }
    });
    view! {
        <tr>
            <td class="check">
                <input type="checkbox" form="bulk" name="ids" value=id.to_string() aria-label=select_label data-select="" />
            </td>
            <td>
                <a href=href class="strong">{number}</a>
                " "
                {test}
                <br />
                <span class="muted">{ui::time(placed, now)}</span>
            </td>
            <td>{status}</td>
            <td>
                {customer}
                <br />
                <span class="muted">{place}</span>
            </td>
            <td class="num">
                {total}
                <br />
                <span class="muted">{via}</span>
            </td>
            <td class="num">{items}</td>
            <td>{kind}</td>
            <td class="submit">{submit}</td>
            <td class="preview">{thumb}</td>
            <td>{auto_submit_cell(d, now)}</td>
        </tr>
    }
    .into_any()
}

/// A header cell that sorts: the link flips the order, `aria-sort` on the sorted one only.
fn sort_header(
    q: &Fields,
    label: &'static str,
    asc: OrderSort,
    desc: Option<OrderSort>,
) -> AnyView {
    let current = OrderSort::parse(q.get("sort")).unwrap_or_default();
    let sorted = current == asc || Some(current) == desc;
    let aria = sorted.then(|| {
        if current == OrderSort::Newest {
            "descending"
        } else {
            "ascending"
        }
    });
    let next = match desc {
        Some(d) if current == d => asc,
        Some(d) => d,
        None => asc,
    };
    let href = format!(
        "/orders?{}",
        q.with("page", None)
            .with("sort", Some(next.as_str()))
            .to_query()
    );
    view! { <th scope="col" aria-sort=aria><a href=href>{label}</a></th> }.into_any()
}

/// A saved filter: its name, its query string, and which orders it counts.
struct Tab {
    label: &'static str,
    query: &'static str,
    counts: fn(&storage::OrderCount) -> bool,
}

/// The saved filters above the table, with how many orders each has.
const TABS: [Tab; 5] = [
    Tab {
        label: "All",
        query: "",
        counts: |_| true,
    },
    Tab {
        label: "Needs action",
        query: "submit=Failed&submit=Review",
        counts: |c| matches!(c.submit_status.as_str(), "Failed" | "Review"),
    },
    Tab {
        label: "Waiting",
        query: "status=processing&submit=none",
        counts: |c| c.status == "processing" && c.submit_status.is_empty(),
    },
    Tab {
        label: "On hold",
        query: "status=on-hold",
        counts: |c| c.status == "on-hold",
    },
    Tab {
        label: "Submitted",
        query: "submit=Submitted",
        counts: |c| c.submit_status == "Submitted",
    },
];

fn tabs(q: &Fields, counts: &[storage::OrderCount]) -> AnyView {
    // The current tab is the one whose filters are exactly the URL's (search, sort and page
    // aside; empty "Any" fields are no filter).
    let filters_of = |f: &Fields| {
        let mut pairs: Vec<(String, String)> = f
            .0
            .iter()
            .filter(|(k, v)| !v.is_empty() && matches!(k.as_str(), "status" | "type" | "submit"))
            .cloned()
            .collect();
        pairs.sort();
        pairs
    };
    let current = filters_of(q);
    let items = TABS
        .iter()
        .map(|t| {
            let n: i64 = counts.iter().filter(|c| (t.counts)(c)).map(|c| c.n).sum();
            let href = if t.query.is_empty() {
                "/orders".to_string()
            } else {
                format!("/orders?{}", t.query)
            };
            let here =
                (current == filters_of(&Fields::parse(t.query.as_bytes()))).then_some("page");
            view! {
                <li>
                    <a href=href aria-current=here>
                        {t.label}" "<span class="count">{ui::thousands(n)}</span>
                    </a>
                </li>
            }
        })
        .collect_view();
    view! { <nav class="tabs" aria-label="Saved filters"><ul>{items}</ul></nav> }.into_any()
}

fn chips(q: &Fields) -> AnyView {
    let mut chips = vec![];
    if !q.get("q").is_empty() {
        chips.push((format!("Search: {}", q.get("q")), q.with("q", None)));
    }
    for s in q.all("status") {
        chips.push((format!("Status: {s}"), q.without("status", &s)));
    }
    for t in q.all("type") {
        chips.push((format!("Type: {}", type_label(&t)), q.without("type", &t)));
    }
    for s in q.all("submit") {
        let label = SUBMITS
            .iter()
            .find(|(v, _)| *v == s)
            .map(|(_, l)| *l)
            .unwrap_or("?");
        chips.push((format!("Submit: {label}"), q.without("submit", &s)));
    }
    if let Some(d) = day(q.get("from")) {
        chips.push((format!("From {d}"), q.with("from", None)));
    }
    if let Some(d) = day(q.get("to")) {
        chips.push((format!("To {d}"), q.with("to", None)));
    }
    if chips.is_empty() {
        return ().into_any();
    }
    let items = chips
        .into_iter()
        .map(|(label, rest)| {
            let href = format!("/orders?{}", rest.with("page", None).to_query());
            let aria = format!("Remove filter {label}");
            view! { <li><a class="chip" href=href aria-label=aria>{label}" ×"</a></li> }
        })
        .collect_view();
    view! {
        <ul class="chips" aria-label="Active filters">
            {items}
            <li><a href="/orders">"Clear all"</a></li>
        </ul>
    }
    .into_any()
}

fn filters(q: &Fields, statuses: &[(String, i64)]) -> AnyView {
    let chosen_status = q.get("status").to_string();
    let chosen_type = q.get("type").to_string();
    let chosen_submit = q.get("submit").to_string();
    let status_opts = statuses
        .iter()
        .map(|(s, n)| {
            let text = format!("{s} ({})", ui::thousands(*n));
            view! { <option value=s.clone() selected={*s == chosen_status}>{text}</option> }
        })
        .collect_view();
    let type_opts = TYPES
        .iter()
        .map(|t| view! { <option value=*t selected={*t == chosen_type}>{type_label(t)}</option> })
        .collect_view();
    let submit_opts = SUBMITS
        .iter()
        .map(|(v, l)| view! { <option value=*v selected={*v == chosen_submit}>{*l}</option> })
        .collect_view();
    let search = q.get("q").to_string();
    let from = day(q.get("from"))
        .map(|d| d.to_string())
        .unwrap_or_default();
    let to = day(q.get("to")).map(|d| d.to_string()).unwrap_or_default();
    let sort = OrderSort::parse(q.get("sort")).unwrap_or_default();
    let sort = (sort != OrderSort::Newest).then(|| {
        view! { <input type="hidden" name="sort" value=sort.as_str() /> }
    });
    view! {
        <form method="get" action="/orders" class="filters" role="search">
            <div class="field grow">
                <label for="q">"Search"</label>
                <input id="q" name="q" type="search" value=search placeholder="Order id, number or customer" />
            </div>
            <div class="field">
                <label for="f-status">"Status"</label>
                <select id="f-status" name="status">
                    <option value="">"Any"</option>
                    {status_opts}
                </select>
            </div>
            <div class="field">
                <label for="f-type">"Type"</label>
                <select id="f-type" name="type">
                    <option value="">"Any"</option>
                    {type_opts}
                </select>
            </div>
            <div class="field">
                <label for="f-submit">"Submit"</label>
                <select id="f-submit" name="submit">
                    <option value="">"Any"</option>
                    {submit_opts}
                </select>
            </div>
            <div class="field">
                <label for="f-from">"Placed from (UTC)"</label>
                <input id="f-from" name="from" type="date" value=from />
            </div>
            <div class="field">
                <label for="f-to">"to"</label>
                <input id="f-to" name="to" type="date" value=to />
            </div>
            {sort}
            <button type="submit">"Apply"</button>
        </form>
    }
    .into_any()
}

fn test_order_form(viewer: &Viewer, templates: Vec<String>) -> AnyView {
    if templates.is_empty() {
        return ().into_any();
    }
    let opts = templates
        .into_iter()
        .map(|t| view! { <option value=t.clone()>{t.clone()}</option> })
        .collect_view();
    view! {
        <form method="post" action="/orders/test" class="inline">
            {ui::csrf_field(viewer)}
            <label for="test-template" class="sr-only">"Template for the test order"</label>
            <select id="test-template" name="template">{opts}</select>
            <button type="submit">"Place test order"</button>
        </form>
    }
    .into_any()
}

/// `GET /orders`.
pub async fn list(State(app): State<Arc<App>>, viewer: Viewer, uri: Uri) -> Response {
    let q = Fields::from_query(uri.query());
    let (query, page) = order_query(&viewer, &q);
    let scope = viewer.user.store_scope();
    let (list, counts) = match tokio::try_join!(
        app.db.order_list(&query),
        app.db.order_counts(scope.as_deref())
    ) {
        Ok(x) => x,
        Err(e) => return session::error_page(Some(&viewer), &e.into()),
    };
    let statuses = storage::dashboard::statuses(&counts);
    let thumbs = thumbnails(&app, &list.orders).await;
    let now = app.now();
    let filtered = !query.search.is_empty()
        || query.placed_from.is_some()
        || query.placed_before.is_some()
        || !query.statuses.is_empty()
        || !query.order_types.is_empty()
        || !query.submit.is_empty();
    let first = query.offset + 1;
    let last = query.offset + list.orders.len() as i64;
    // A search stops counting at 1,000 ("1,000+").
    let total = format!(
        "{}{}",
        ui::thousands(list.total),
        if list.total_capped { "+" } else { "" }
    );
    let range = if list.total == 0 {
        "0 orders".to_string()
    } else {
        format!(
            "{}–{} of {total}",
            ui::thousands(first),
            ui::thousands(last),
        )
    };
    let prev = (page > 1).then(|| {
        let href = format!(
            "/orders?{}",
            q.with("page", Some(&(page - 1).to_string())).to_query()
        );
        view! { <a href=href rel="prev">"Previous"</a> }
    });
    let next = (last < list.total || list.total_capped).then(|| {
        let href = format!(
            "/orders?{}",
            q.with("page", Some(&(page + 1).to_string())).to_query()
        );
        view! { <a href=href rel="next">"Next"</a> }
    });
    let table = if list.orders.is_empty() {
        if filtered || page > 1 {
            view! {
                <div class="empty card">
                    <p class="strong">"No orders match"</p>
                    <p class="muted">"Try another search or fewer filters."</p>
                    <a class="button" href="/orders">"Clear filters"</a>
                </div>
            }
            .into_any()
        } else {
            view! {
                <div class="empty card">
                    <p class="strong">"No orders yet"</p>
                    <p class="muted">"Orders appear here as your store sends them. Connect a store, then import its orders."</p>
                    <a class="button primary" href="/settings#stores">"Connect a store"</a>
                </div>
            }
            .into_any()
        }
    } else {
        let rows = list
            .orders
            .iter()
            .map(|o| row(o, thumbs.get(&o.id).cloned(), now))
            .collect_view();
        view! {
            <div class="table-wrap">
                <table class="orders">
                    <caption class="sr-only">{format!("Orders, {range}")}</caption>
                    <thead>
                        <tr>
                            <th scope="col" class="check"><span class="sr-only">"Select"</span></th>
                            {sort_header(&q, "Order", OrderSort::Oldest, Some(OrderSort::Newest))}
                            <th scope="col">"Store status"</th>
                            <th scope="col">"Customer"</th>
                            <th scope="col" class="num">"Total"</th>
                            <th scope="col" class="num">"Items"</th>
                            <th scope="col">"Type"</th>
                            <th scope="col">"Submit"</th>
                            <th scope="col">"Preview"</th>
                            {sort_header(&q, "Auto-submit", OrderSort::SubmitSoonest, None)}
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    // "Submit all matching" posts the filter, not ids.
    let all_matching = (list.total > list.orders.len() as i64).then(|| {
        let filter = q.with("page", None).with("sort", None).to_query();
        let label = format!("Submit all {total} matching");
        view! { <button type="submit" name="all" value=filter>{label}</button> }
    });
    let bulk = view! {
        <form id="bulk" method="post" action="/orders/bulk-submit" class="bulk-bar" data-bulk="">
            {ui::csrf_field(&viewer)}
            <span data-selected-count="" aria-live="off">"Select orders below, then"</span>
            <button type="submit">"Bulk Submit"</button>
            <button type="submit" formaction="/orders/print-files.zip">"Download print files (ZIP)"</button>
            {all_matching}
        </form>
    };
    let body = view! {
        {tabs(&q, &counts)}
        {filters(&q, &statuses)}
        {chips(&q)}
        {bulk}
        {table}
        <nav class="pager" aria-label="Pages">
            <span>{range.clone()}</span>
            {prev}
            {next}
        </nav>
    }
    .into_any();
    let actions = view! {
        {test_order_form(&viewer, template_ids(&app))}
        <a class="button primary" href="/orders/import">"Import orders"</a>
    }
    .into_any();
    let html = ui::document(
        Chrome::new("Orders", Some(&viewer), Nav::Orders).actions(actions),
        body,
    );
    viewer.page(StatusCode::OK, html)
}

/// Every order matching a dashboard filter (a query string), up to [`MAX_SELECTED`]: "Submit
/// all matching".
async fn matching(
    app: &App,
    viewer: &Viewer,
    filter: &str,
) -> Result<Vec<(i64, OrderRow)>, storage::StorageError> {
    let fields = Fields::parse(filter.as_bytes()).with("page", None);
    let (mut query, _) = order_query(viewer, &fields);
    query.limit = 500;
    query.offset = 0;
    let mut out = vec![];
    loop {
        let page = app.db.order_list(&query).await?;
        let n = page.orders.len();
        out.extend(page.orders.into_iter().map(|r| (r.id, r)));
        if n < 500 || out.len() >= MAX_SELECTED {
            break;
        }
        query.offset += 500;
    }
    out.truncate(MAX_SELECTED);
    Ok(out)
}

fn answer_text(a: &SubmitAnswer) -> (String, Tone) {
    match a {
        SubmitAnswer::Submitting { provider, .. } => {
            (format!("Submitting to {provider}"), Tone::Info)
        }
        SubmitAnswer::Submitted { provider } => (format!("Submitted to {provider}"), Tone::Success),
        SubmitAnswer::AlreadySubmitted { state } => {
            (format!("Already submitted ({state})"), Tone::Neutral)
        }
        SubmitAnswer::NotReady { reasons } => (
            format!("Not ready: {}", reasons.join("; ")),
            Tone::Attention,
        ),
        SubmitAnswer::Failed { reason } => (format!("Failed: {reason}"), Tone::Critical),
    }
}

/// `POST /orders/bulk-submit`: without `confirm`, the confirmation page; with it, submit
/// each order and show what happened to each.
pub async fn bulk_submit(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Form(form): Form,
) -> Response {
    if let Err(r) = viewer.check_csrf(&form) {
        return r;
    }
    let all = form.opt("all").map(str::to_owned);
    let visible = match &all {
        Some(filter) => match matching(&app, &viewer, filter).await {
            Ok(v) => v,
            Err(e) => return session::error_page(Some(&viewer), &e.into()),
        },
        None => {
            let ids = form.ids("ids");
            if ids.is_empty() {
                return viewer.redirect(
                    "/orders",
                    Flash::err("Select at least one order to submit."),
                );
            }
            viewer.visible_orders(&app, &ids).await
        }
    };
    if visible.is_empty() {
        return viewer.redirect(
            "/orders",
            Flash::err("None of the selected orders was found."),
        );
    }
    if !form.checked("confirm") {
        let count = visible.len();
        let title = format!("Submit {count} order{}?", if count == 1 { "" } else { "s" });
        let already: Vec<String> = visible
            .iter()
            .filter(|(_, r)| r.order.submit_status.design_locked())
            .map(|(_, r)| format!("#{}", r.order.number))
            .collect();
        let skips = (!already.is_empty()).then(|| {
            view! { <p class="banner tone-attention">{format!("Already submitted, will be skipped: {}", already.join(", "))}</p> }
        });
        let more = visible.len().saturating_sub(50);
        let more = (more > 0).then(|| view! { <li class="muted">{format!("and {} more", ui::thousands(more as i64))}</li> });
        let list = visible
            .iter()
            .take(50)
            .map(|(id, r)| {
                let href = format!("/orders/{id}");
                let text = format!("#{} · {}", r.order.number, r.order.customer.name);
                view! { <li><a href=href>{text}</a></li> }
            })
            .collect_view();
        let hidden = match &all {
            Some(filter) => {
                view! { <input type="hidden" name="all" value=filter.clone() /> }.into_any()
            }
            None => visible
                .iter()
                .map(|(id, _)| view! { <input type="hidden" name="ids" value=id.to_string() /> })
                .collect_view()
                .into_any(),
        };
        let body = view! {
            <div class="card narrow">
                <p>"These orders go to their providers now. A submitted order cannot be submitted again."</p>
                {skips}
                <ul class="plain">{list}{more}</ul>
                <form method="post" action="/orders/bulk-submit" class="row-actions">
                    {ui::csrf_field(&viewer)}
                    {hidden}
                    <input type="hidden" name="confirm" value="1" />
                    <a class="button" href="/orders" autofocus="">"Cancel"</a>
                    <button type="submit" class="primary" data-once="">{title.clone()}</button>
                </form>
            </div>
        }
        .into_any();
        let html = ui::document(Chrome::new(title, Some(&viewer), Nav::Orders), body);
        return viewer.page(StatusCode::OK, html);
    }
    let ids: Vec<i64> = visible.iter().map(|(id, _)| *id).collect();
    let numbers: BTreeMap<i64, String> = visible
        .iter()
        .map(|(id, r)| (*id, r.order.number.clone()))
        .collect();
    let results = app.bulk_submit(&ids, &viewer.actor()).await;
    let ok = results
        .iter()
        .filter(|(_, a)| {
            matches!(
                a,
                SubmitAnswer::Submitting { .. } | SubmitAnswer::Submitted { .. }
            )
        })
        .count();
    let skipped = results.len() - ok;
    let summary = format!("{ok} submitted, {skipped} skipped");
    let rows = results
        .iter()
        .map(|(id, a)| {
            let (text, tone) = answer_text(a);
            let href = format!("/orders/{id}");
            let number = format!(
                "#{}",
                numbers.get(id).cloned().unwrap_or_else(|| id.to_string())
            );
            view! {
                <tr>
                    <th scope="row"><a href=href>{number}</a></th>
                    <td>{ui::badge(text, tone)}</td>
                </tr>
            }
        })
        .collect_view();
    let body = view! {
        <p role="status" class="flash tone-success">{summary.clone()}</p>
        <table class="results">
            <caption>"What happened to each order"</caption>
            <thead><tr><th scope="col">"Order"</th><th scope="col">"Result"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <p><a class="button" href="/orders">"Back to orders"</a></p>
    }
    .into_any();
    let html = ui::document(
        Chrome::new("Bulk Submit results", Some(&viewer), Nav::Orders),
        body,
    );
    viewer.page(StatusCode::OK, html)
}

/// `POST /orders/test`: place a test order for a template.
pub async fn test_order(State(app): State<Arc<App>>, viewer: Viewer, Form(form): Form) -> Response {
    if let Err(r) = viewer.check_csrf(&form) {
        return r;
    }
    let template = form.get("template");
    if !app.templates.exists(template) {
        return viewer.redirect(
            "/orders",
            Flash::err(format!("No template {template:?} is installed.")),
        );
    }
    match app.place_test_order(template, &viewer.actor()).await {
        Ok(id) => viewer.redirect(&format!("/orders/{id}"), Flash::ok("Test order placed")),
        Err(e) => viewer.redirect(
            "/orders",
            Flash::err(format!("The test order was not placed: {e}")),
        ),
    }
}

/// `GET /orders/print-files.zip?ids=…`: the latest print file of each item of the orders
/// this user may see, streamed as one ZIP.
pub async fn print_files(State(app): State<Arc<App>>, viewer: Viewer, uri: Uri) -> Response {
    let q = Fields::from_query(uri.query());
    crate::zip::print_files(&app, &viewer, &q.ids("ids")).await
}

/// `POST /orders/print-files.zip` (the bulk bar's button): the same, CSRF-checked.
pub async fn print_files_post(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Form(form): Form,
) -> Response {
    if let Err(r) = viewer.check_csrf(&form) {
        return r;
    }
    crate::zip::print_files(&app, &viewer, &form.ids("ids")).await
}
