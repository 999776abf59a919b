//! A store's rules (`/settings/stores/{id}/rules`): which products are personalized with which
//! template, which order meta keys fill which template fields (and which are photo URLs), the
//! order-type rules and which provider makes which SKUs. One form of plain tables, each with
//! blank rows to add to (a row left blank is dropped); saving checks every row first and
//! saves nothing when one is wrong, naming it.

use std::sync::Arc;

use app::App;
use app::stores::{SecretText, StoreInput};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::{FieldMapping, ItemMapping, OrderType, OrderTypeRule, ProductRule, ProviderRule};
use leptos::prelude::*;

use crate::form::{Fields, Form};
use crate::session::{self, Flash, Viewer};
use crate::ui::{self, Chrome, Nav};

/// Blank rows under each table's rules.
const BLANK_ROWS: usize = 3;

const TYPES: [(&str, &str); 4] = [
    ("in_app", "In-app"),
    ("amazon", "Amazon"),
    ("shine_on", "ShineOn"),
    ("others", "Others"),
];

fn order_type(s: &str) -> Option<OrderType> {
    match s {
        "in_app" => Some(OrderType::InApp),
        "amazon" => Some(OrderType::Amazon),
        "shine_on" => Some(OrderType::ShineOn),
        "others" => Some(OrderType::Others),
        _ => None,
    }
}

/// The value of column `name` in row `i` (columns are repeated fields, one per row).
fn cell(columns: &[(&str, Vec<String>)], name: &str, i: usize) -> String {
    columns
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.get(i))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The rows of a table whose columns are `names`, blank rows dropped.
fn rows<'a>(form: &Fields, names: &[&'a str]) -> Vec<Vec<(&'a str, String)>> {
    let columns: Vec<(&str, Vec<String>)> = names.iter().map(|n| (*n, form.column(n))).collect();
    let n = columns.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    (0..n)
        .map(|i| {
            names
                .iter()
                .map(|c| (*c, cell(&columns, c, i)))
                .collect::<Vec<_>>()
        })
        .filter(|row: &Vec<(&str, String)>| row.iter().any(|(_, v)| !v.is_empty()))
        .collect()
}

fn get<'a>(row: &'a [(&str, String)], name: &str) -> &'a str {
    row.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn optional(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn number(s: &str, what: &str, row: usize) -> Result<Option<i64>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<i64>()
        .map(Some)
        .map_err(|_| format!("product rule {row}: the {what} must be a whole number, not {s:?}"))
}

/// The rules a posted form describes, checked against the installed templates and provider
/// accounts.
pub struct Rules {
    pub mapping: ItemMapping,
    pub order_types: Vec<OrderTypeRule>,
    pub provider_rules: Vec<ProviderRule>,
}

pub fn parse_rules(
    form: &Fields,
    templates: &[String],
    providers: &[String],
) -> Result<Rules, String> {
    let mut products = vec![];
    for (i, row) in rows(form, &["p_sku", "p_product", "p_variation", "p_template"])
        .iter()
        .enumerate()
    {
        let n = i + 1;
        let template = get(row, "p_template");
        if !templates.iter().any(|t| t == template) {
            return Err(format!(
                "product rule {n}: choose one of the installed templates"
            ));
        }
        let rule = ProductRule {
            sku: optional(get(row, "p_sku")),
            product_id: number(get(row, "p_product"), "product ID", n)?,
            variation_id: number(get(row, "p_variation"), "variation ID", n)?,
            template: template.to_string(),
        };
        if rule.sku.is_none() && rule.product_id.is_none() && rule.variation_id.is_none() {
            return Err(format!(
                "product rule {n}: give a SKU, a product ID or a variation ID"
            ));
        }
        products.push(rule);
    }
    let mut fields = vec![];
    for (i, row) in rows(form, &["f_meta", "f_field"]).iter().enumerate() {
        let (meta_key, field) = (get(row, "f_meta"), get(row, "f_field"));
        if meta_key.is_empty() || field.is_empty() {
            return Err(format!(
                "field mapping {}: give both the meta key and the template field",
                i + 1
            ));
        }
        fields.push(FieldMapping {
            meta_key: meta_key.to_string(),
            field: field.to_string(),
        });
    }
    let photo_fields: Vec<String> = form
        .get("photo_fields")
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let mut order_types = vec![];
    for (i, row) in rows(
        form,
        &["t_type", "t_via", "t_payment", "t_meta", "t_no_template"],
    )
    .iter()
    .enumerate()
    {
        let n = i + 1;
        // A row with only its type chosen is a blank row (the select always sends a value).
        if ["t_via", "t_payment", "t_meta"]
            .iter()
            .all(|c| get(row, c).is_empty())
            && get(row, "t_no_template") != "yes"
        {
            continue;
        }
        let Some(kind) = order_type(get(row, "t_type")) else {
            return Err(format!("order-type rule {n}: choose a type"));
        };
        order_types.push(OrderTypeRule {
            order_type: kind,
            created_via: optional(get(row, "t_via")),
            payment_method: optional(get(row, "t_payment")),
            meta_key: optional(get(row, "t_meta")),
            no_template: get(row, "t_no_template") == "yes",
        });
    }
    let mut provider_rules = vec![];
    for (i, row) in rows(form, &["r_sku", "r_provider"]).iter().enumerate() {
        let n = i + 1;
        let (sku, provider) = (get(row, "r_sku"), get(row, "r_provider"));
        if sku.is_empty() {
            continue;
        }
        if !providers.iter().any(|p| p == provider) {
            return Err(format!("provider rule {n}: choose a provider account"));
        }
        provider_rules.push(ProviderRule {
            sku: sku.to_string(),
            provider: provider.to_string(),
        });
    }
    Ok(Rules {
        mapping: ItemMapping {
            products,
            fields,
            photo_fields,
        },
        order_types,
        provider_rules,
    })
}

fn options(values: &[(String, String)], chosen: &str, blank: Option<&str>) -> AnyView {
    let blank = blank.map(|label| {
        let label = label.to_string();
        view! { <option value="" selected={chosen.is_empty()}>{label}</option> }
    });
    let rest = values
        .iter()
        .map(|(v, label)| {
            let selected = v == chosen;
            view! { <option value=v.clone() selected=selected>{label.clone()}</option> }
        })
        .collect_view();
    view! { {blank}{rest} }.into_any()
}

fn text_cell(name: &'static str, label: String, value: String) -> AnyView {
    view! { <td><input type="text" name=name value=value aria-label=label autocomplete="off" /></td> }
        .into_any()
}

fn select_cell(name: &'static str, label: String, opts: AnyView) -> AnyView {
    view! { <td><select name=name aria-label=label>{opts}</select></td> }.into_any()
}

fn table(caption: &'static str, heads: &[&'static str], rows: Vec<AnyView>) -> AnyView {
    let heads = heads
        .iter()
        .map(|h| view! { <th scope="col">{*h}</th> })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="rules">
                <caption>{caption}</caption>
                <thead><tr>{heads}</tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

async fn page(app: &App, viewer: &Viewer, id: &str) -> Response {
    let summary = match app.store_summary(id).await {
        Ok(s) => s,
        Err(e) => return session::error_page(Some(viewer), &e),
    };
    let providers = match app.provider_summaries().await {
        Ok(p) => p,
        Err(e) => return session::error_page(Some(viewer), &e),
    };
    let s = &summary.settings;
    let templates: Vec<(String, String)> = crate::pages::orders::template_ids(app)
        .into_iter()
        .map(|t| (t.clone(), t))
        .collect();
    let providers: Vec<(String, String)> = providers
        .into_iter()
        .map(|p| (p.id.clone(), p.id))
        .collect();
    let types: Vec<(String, String)> = TYPES
        .iter()
        .map(|(v, l)| (v.to_string(), l.to_string()))
        .collect();
    let yes_no = vec![("yes".to_string(), "Yes".to_string())];

    let blank = ProductRule::default();
    let product_rows = s
        .mapping
        .products
        .iter()
        .chain(std::iter::repeat_n(&blank, BLANK_ROWS))
        .enumerate()
        .map(|(i, r)| {
            let n = i + 1;
            view! {
                <tr>
                    {text_cell("p_sku", format!("SKU, rule {n}"), r.sku.clone().unwrap_or_default())}
                    {text_cell("p_product", format!("Product ID, rule {n}"), r.product_id.map(|v| v.to_string()).unwrap_or_default())}
                    {text_cell("p_variation", format!("Variation ID, rule {n}"), r.variation_id.map(|v| v.to_string()).unwrap_or_default())}
                    {select_cell("p_template", format!("Template, rule {n}"), options(&templates, &r.template, Some("—")))}
                </tr>
            }
            .into_any()
        })
        .collect();
    let blank = FieldMapping::default();
    let field_rows = s
        .mapping
        .fields
        .iter()
        .chain(std::iter::repeat_n(&blank, BLANK_ROWS))
        .enumerate()
        .map(|(i, m)| {
            let n = i + 1;
            view! {
                <tr>
                    {text_cell("f_meta", format!("Meta key, mapping {n}"), m.meta_key.clone())}
                    {text_cell("f_field", format!("Template field, mapping {n}"), m.field.clone())}
                </tr>
            }
            .into_any()
        })
        .collect();
    let blank = OrderTypeRule::default();
    let type_rows = s
        .order_types
        .iter()
        .chain(std::iter::repeat_n(&blank, BLANK_ROWS))
        .enumerate()
        .map(|(i, r)| {
            let n = i + 1;
            view! {
                <tr>
                    {select_cell("t_type", format!("Type, rule {n}"), options(&types, r.order_type.as_str(), None))}
                    {text_cell("t_via", format!("Created via contains, rule {n}"), r.created_via.clone().unwrap_or_default())}
                    {text_cell("t_payment", format!("Payment method contains, rule {n}"), r.payment_method.clone().unwrap_or_default())}
                    {text_cell("t_meta", format!("Has meta key, rule {n}"), r.meta_key.clone().unwrap_or_default())}
                    {select_cell("t_no_template", format!("Only without a template, rule {n}"), options(&yes_no, if r.no_template { "yes" } else { "" }, Some("No")))}
                </tr>
            }
            .into_any()
        })
        .collect();
    let blank = ProviderRule::default();
    let provider_rows = s
        .provider_rules
        .iter()
        .chain(std::iter::repeat_n(&blank, BLANK_ROWS))
        .enumerate()
        .map(|(i, r)| {
            let n = i + 1;
            view! {
                <tr>
                    {text_cell("r_sku", format!("SKU, provider rule {n}"), r.sku.clone())}
                    {select_cell("r_provider", format!("Provider, rule {n}"), options(&providers, &r.provider, Some("—")))}
                </tr>
            }
            .into_any()
        })
        .collect();
    let photo_fields = s.mapping.photo_fields.join(", ");
    let action = format!("/settings/stores/{id}/rules");
    let name = if s.name.is_empty() {
        id.to_string()
    } else {
        s.name.clone()
    };
    let body = view! {
        <form method="post" action=action class="stack card">
            {ui::csrf_field(viewer)}
            <p class="muted">"Rules are checked in order; the first that matches decides. Leave a row blank to remove it."</p>
            {table("Products personalized with a template (SKU, product or variation)", &["SKU", "Product ID", "Variation ID", "Template"], product_rows)}
            {table("Order meta keys that fill template fields", &["Meta key", "Template field"], field_rows)}
            <div class="field">
                <label for="photo-fields">"Template fields whose values are photo URLs (comma-separated)"</label>
                <input id="photo-fields" name="photo_fields" type="text" value=photo_fields autocomplete="off" />
            </div>
            {table("Order types (when none matches: in-app with a template, else Others)", &["Type", "Created via contains", "Payment method contains", "Has meta key", "Only without a template"], type_rows)}
            {table("Which provider makes which SKUs (exact, or a prefix ending in *); others go to the default provider", &["SKU", "Provider"], provider_rows)}
            <div class="row-actions">
                <button type="submit" class="primary">"Save rules"</button>
                <a href="/settings#stores">"Cancel"</a>
            </div>
        </form>
    }
    .into_any();
    viewer.page(
        StatusCode::OK,
        ui::document(
            Chrome::new(format!("Rules of {name}"), Some(viewer), Nav::Settings),
            body,
        ),
    )
}

/// A merchant may change their own stores' rules; an admin any store's. Another merchant's
/// store is "not found", as if it did not exist.
fn allowed(viewer: &Viewer, id: &str) -> Result<(), Response> {
    if viewer.user.sees_store(id) {
        Ok(())
    } else {
        Err(session::not_found(Some(viewer)))
    }
}

/// `GET /settings/stores/{id}/rules`.
pub async fn show(State(app): State<Arc<App>>, viewer: Viewer, Path(id): Path<String>) -> Response {
    if let Err(r) = allowed(&viewer, &id) {
        return r;
    }
    page(&app, &viewer, &id).await
}

/// `POST /settings/stores/{id}/rules`: replaces the store's rules with the form's.
pub async fn save(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form,
) -> Response {
    if let Err(r) = viewer.check_csrf(&form) {
        return r;
    }
    if let Err(r) = allowed(&viewer, &id) {
        return r;
    }
    let back = format!("/settings/stores/{id}/rules");
    let mut settings = match app.store_summary(&id).await {
        Ok(s) => s.settings,
        Err(e) => return session::error_page(Some(&viewer), &e),
    };
    let providers: Vec<String> = match app.provider_summaries().await {
        Ok(p) => p.into_iter().map(|p| p.id).collect(),
        Err(e) => return session::error_page(Some(&viewer), &e),
    };
    let templates = crate::pages::orders::template_ids(&app);
    let rules = match parse_rules(&form, &templates, &providers) {
        Ok(r) => r,
        Err(e) => {
            return viewer.redirect(&back, Flash::err(format!("The rules were not saved: {e}")));
        }
    };
    settings.mapping = rules.mapping;
    settings.order_types = rules.order_types;
    settings.provider_rules = rules.provider_rules;
    let input = StoreInput {
        id: id.clone(),
        settings,
        // Empty secrets keep the stored ones.
        consumer_key: SecretText(String::new()),
        consumer_secret: SecretText(String::new()),
        webhook_secret: SecretText(String::new()),
    };
    match app.put_store(input).await {
        Ok(_) => viewer.redirect(&back, Flash::ok("Rules saved")),
        Err(e) => viewer.redirect(&back, Flash::err(format!("The rules were not saved: {e}"))),
    }
}
