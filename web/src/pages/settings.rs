//! Settings (`/settings`), annotated sections (title and line left, card right): Stores
//! (connect or change, test the connection with a readable result, the webhook URL and a
//! secret shown once, submit-after hours), Providers (admin: accounts with credentials and
//! the test switch) and Users (admin: accounts with role and stores). Secrets are write-only.
//! Each store's mappings and rules have their own page (`store_rules`).
//! A merchant sees and changes only their own stores.

use std::str::FromStr;
use std::sync::Arc;

use app::App;
use app::auth::{Role, random_token};
use app::providers::{ProviderInput, ProviderSettings};
use app::stores::{SecretText, StoreInput, StoreTest};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use connectors::provider::ProviderKind;
use leptos::prelude::*;

use crate::form::Form;
use crate::session::{self, Flash, Viewer};
use crate::ui::{self, Chrome, Nav, Tone};

fn section(id: &'static str, title: &'static str, line: &'static str, card: AnyView) -> AnyView {
    let h = format!("{id}-h");
    let labelled = h.clone();
    view! {
        <section class="annotated" id=id aria-labelledby=labelled>
            <div class="annotation">
                <h2 id=h>{title}</h2>
                <p class="muted">{line}</p>
            </div>
            <div class="card">{card}</div>
        </section>
    }
    .into_any()
}

fn test_result(t: &StoreTest) -> AnyView {
    let checks = t
        .checks
        .iter()
        .map(|c| {
            let (label, tone) = if c.ok { ("OK", Tone::Success) } else { ("Problem", Tone::Critical) };
            view! { <li>{ui::badge(label, tone)}" "<span class="strong">{c.name}</span>": "{c.message.clone()}</li> }
        })
        .collect_view();
    let summary = if t.ok {
        "The connection works."
    } else {
        "The connection has problems:"
    };
    view! {
        <div class="test-result" role="status">
            <p class="strong">{summary}</p>
            <ul class="plain">{checks}</ul>
        </div>
    }
    .into_any()
}

async fn stores_card(
    app: &App,
    viewer: &Viewer,
    tested: Option<&StoreTest>,
) -> Result<AnyView, app::AppError> {
    let stores: Vec<_> = app
        .store_summaries()
        .await?
        .into_iter()
        .filter(|s| viewer.user.sees_store(&s.id))
        .collect();
    let list = stores
        .iter()
        .map(|s| {
            let name = if s.settings.name.is_empty() { s.id.clone() } else { s.settings.name.clone() };
            let hook = app::stores::webhook_url(&app.settings.public_url, &s.id);
            let secret = if s.webhook_secret_set { "set (write-only)" } else { "not set" };
            let key = if s.consumer_key_hint.is_empty() {
                "no consumer key".to_string()
            } else {
                format!("consumer key {}", s.consumer_key_hint)
            };
            let test_action = format!("/settings/stores/{}/test", s.id);
            let hooks_action = format!("/settings/stores/{}/webhooks", s.id);
            let rules = format!("/settings/stores/{}/rules", s.id);
            let rules_line = format!(
                "{} product rules · {} field mappings · {} order-type rules · {} provider rules",
                s.settings.mapping.products.len(),
                s.settings.mapping.fields.len(),
                s.settings.order_types.len(),
                s.settings.provider_rules.len()
            );
            let result = tested.filter(|t| t.store == s.id).map(test_result);
            let hours = format!("Submits {} h after import · default provider {}", s.settings.submit_after_hours, s.settings.default_provider);
            let last = s.last_webhook_at.map(|at| view! { " · last webhook "{ui::time(at, app.now())} });
            view! {
                <li class="store">
                    <p><span class="strong">{name}</span>" "<span class="muted">{format!("({})", s.id)}</span></p>
                    <p class="muted">{s.settings.url.clone()}" · "{key}{last}</p>
                    <p class="muted">{hours}</p>
                    <p>"Webhook URL: "<code>{hook}</code>" · secret "{secret}</p>
                    <p class="muted">{rules_line}</p>
                    <div class="row-actions">
                        <a class="button" href=rules>"Edit rules"</a>
                        <form method="post" action=test_action class="inline">
                            {ui::csrf_field(viewer)}
                            <button type="submit">"Test connection"</button>
                        </form>
                        <form method="post" action=hooks_action class="inline">
                            {ui::csrf_field(viewer)}
                            <button type="submit">"Register webhooks in the store"</button>
                        </form>
                    </div>
                    {result}
                </li>
            }
        })
        .collect_view();
    let empty = stores
        .is_empty()
        .then(|| view! { <p class="muted">"No store is connected yet."</p> });
    let providers = app
        .provider_summaries()
        .await?
        .into_iter()
        .map(|p| view! { <option value=p.id.clone() selected={p.id == "manual"}>{p.id.clone()}</option> })
        .collect_view();
    Ok(view! {
        <ul class="plain stores">{list}</ul>
        {empty}
        <form method="post" action="/settings/stores" class="stack">
            {ui::csrf_field(viewer)}
            <h3>"Connect or change a store"</h3>
            <p class="muted">"Keys left empty keep the stored ones. A new store gets a webhook secret, shown once."</p>
            <div class="field"><label for="s-id">"Store ID (letters, digits, - and _)"</label><input id="s-id" name="id" type="text" required=true autocomplete="off" /></div>
            <div class="field"><label for="s-name">"Name"</label><input id="s-name" name="name" type="text" /></div>
            <div class="field"><label for="s-url">"Store URL"</label><input id="s-url" name="url" type="url" placeholder="https://shop.example/" /></div>
            <div class="field"><label for="s-key">"Consumer key"</label><input id="s-key" name="consumer_key" type="password" autocomplete="off" /></div>
            <div class="field"><label for="s-secret">"Consumer secret"</label><input id="s-secret" name="consumer_secret" type="password" autocomplete="off" /></div>
            <div class="field"><label for="s-hook">"Webhook secret (optional)"</label><input id="s-hook" name="webhook_secret" type="password" autocomplete="off" /></div>
            <div class="field"><label for="s-hours">"Submit after (hours)"</label><input id="s-hours" name="submit_after_hours" type="number" min="0" max="8760" step="0.25" value="24" /></div>
            <div class="field"><label for="s-provider">"Default provider"</label><select id="s-provider" name="default_provider">{providers}</select></div>
            <button type="submit" class="primary">"Save store"</button>
        </form>
    }
    .into_any())
}

async fn providers_card(app: &App, viewer: &Viewer) -> Result<AnyView, app::AppError> {
    let list = app
        .provider_summaries()
        .await?
        .into_iter()
        .map(|p| {
            let built_in = p.built_in.then(|| ui::badge("Built in", Tone::Neutral));
            let drafts = (!p.settings.confirm).then(|| ui::badge("Test mode (drafts)", Tone::Attention));
            let key = if p.api_key_hint.is_empty() { "no API key".to_string() } else { format!("API key {}", p.api_key_hint) };
            let addr = if p.settings.base_url.is_empty() { "production address".to_string() } else { p.settings.base_url.clone() };
            view! {
                <li>
                    <span class="strong">{p.id.clone()}</span>" "<span class="muted">{p.kind.as_str()}</span>" "{built_in}" "{drafts}
                    <br /><span class="muted">{key}" · "{addr}</span>
                </li>
            }
        })
        .collect_view();
    let kinds = ProviderKind::ALL
        .iter()
        .filter(|k| !matches!(k, ProviderKind::Manual | ProviderKind::Sandbox))
        .map(|k| view! { <option value=k.as_str()>{k.as_str()}</option> })
        .collect_view();
    Ok(view! {
        <ul class="plain">{list}</ul>
        <form method="post" action="/settings/providers" class="stack">
            {ui::csrf_field(viewer)}
            <h3>"Add or change a provider account"</h3>
            <div class="field"><label for="p-id">"Account ID"</label><input id="p-id" name="id" type="text" required=true autocomplete="off" /></div>
            <div class="field"><label for="p-kind">"Provider"</label><select id="p-kind" name="kind">{kinds}</select></div>
            <div class="field"><label for="p-name">"Name"</label><input id="p-name" name="name" type="text" /></div>
            <div class="field"><label for="p-key">"API key"</label><input id="p-key" name="api_key" type="password" autocomplete="off" /></div>
            <div class="field"><label for="p-hook">"Webhook secret"</label><input id="p-hook" name="webhook_secret" type="password" autocomplete="off" /></div>
            <div class="field"><label for="p-url">"API address (empty: the provider's production address; a sandbox address to test)"</label><input id="p-url" name="base_url" type="url" /></div>
            <label class="check"><input type="checkbox" name="sandbox" value="on" />" Test mode: send orders as drafts, not to production"</label>
            <button type="submit" class="primary">"Save provider"</button>
        </form>
    }
    .into_any())
}

async fn users_card(app: &App, viewer: &Viewer) -> Result<AnyView, app::AppError> {
    let list = app
        .users()
        .await?
        .into_iter()
        .map(|u| {
            let stores = if u.is_admin() { "all stores".to_string() } else { u.stores.join(", ") };
            view! { <li><span class="strong">{u.username.clone()}</span>" "<span class="muted">{u.role.as_str()}" · "{stores}</span></li> }
        })
        .collect_view();
    let stores = app
        .store_summaries()
        .await?
        .into_iter()
        .map(|s| view! { <label class="check"><input type="checkbox" name="stores" value=s.id.clone() />" "{s.id.clone()}</label> })
        .collect_view();
    Ok(view! {
        <ul class="plain">{list}</ul>
        <form method="post" action="/settings/users" class="stack">
            {ui::csrf_field(viewer)}
            <h3>"Add a user"</h3>
            <div class="field"><label for="u-name">"Username"</label><input id="u-name" name="username" type="text" required=true autocomplete="off" /></div>
            <div class="field"><label for="u-pass">"Password (at least 8 characters)"</label><input id="u-pass" name="password" type="password" required=true autocomplete="new-password" /></div>
            <div class="field">
                <label for="u-role">"Role"</label>
                <select id="u-role" name="role">
                    <option value="merchant">"Merchant (own stores only)"</option>
                    <option value="admin">"Admin (everything)"</option>
                </select>
            </div>
            <fieldset><legend>"Stores (merchants)"</legend>{stores}</fieldset>
            <button type="submit" class="primary">"Add user"</button>
        </form>
    }
    .into_any())
}

async fn page(app: &App, viewer: &Viewer, tested: Option<&StoreTest>) -> Response {
    let stores = match stores_card(app, viewer, tested).await {
        Ok(v) => v,
        Err(e) => return session::error_page(Some(viewer), &e),
    };
    let mut body = vec![section(
        "stores",
        "Stores",
        "Your WooCommerce stores: keys, the webhook to paste into WooCommerce, and when orders submit.",
        stores,
    )];
    if viewer.user.is_admin() {
        match (
            providers_card(app, viewer).await,
            users_card(app, viewer).await,
        ) {
            (Ok(p), Ok(u)) => {
                body.push(section(
                    "providers",
                    "Providers",
                    "Print providers orders go to. Secrets are write-only.",
                    p,
                ));
                body.push(section(
                    "users",
                    "Users",
                    "Who may sign in, and which stores a merchant sees.",
                    u,
                ));
            }
            (Err(e), _) | (_, Err(e)) => return session::error_page(Some(viewer), &e),
        }
    }
    let body = view! { {body} }.into_any();
    viewer.page(
        StatusCode::OK,
        ui::document(Chrome::new("Settings", Some(viewer), Nav::Settings), body),
    )
}

/// `GET /settings`.
pub async fn show(State(app): State<Arc<App>>, viewer: Viewer) -> Response {
    page(&app, &viewer, None).await
}

/// `POST /settings/stores`: connect or change a store.
pub async fn put_store(State(app): State<Arc<App>>, viewer: Viewer, Form(form): Form) -> Response {
    if let Err(r) = viewer.check_csrf(&form) {
        return r;
    }
    let id = form.get("id").trim().to_string();
    let existing = app.db.store(&id).await.ok().flatten();
    let allowed = viewer.user.is_admin() || (existing.is_some() && viewer.user.sees_store(&id));
    if !allowed {
        return viewer.redirect(
            "/settings#stores",
            Flash::err("Only an admin connects a new store; you may change your own stores."),
        );
    }
    let mut settings = match &existing {
        Some(_) => match app.store_summary(&id).await {
            Ok(s) => s.settings,
            Err(e) => {
                return viewer.redirect("/settings#stores", Flash::err(format!("Not saved: {e}")));
            }
        },
        None => domain::StoreSettings::default(),
    };
    if !form.get("name").trim().is_empty() {
        settings.name = form.get("name").trim().to_string();
    }
    if !form.get("url").trim().is_empty() {
        settings.url = form.get("url").trim().to_string();
    }
    if let Ok(h) = form.get("submit_after_hours").trim().parse::<f64>() {
        settings.submit_after_hours = h;
    }
    if !form.get("default_provider").is_empty() {
        settings.default_provider = form.get("default_provider").to_string();
    }
    let mut webhook_secret = form.get("webhook_secret").trim().to_string();
    let new_secret = existing.is_none() && webhook_secret.is_empty();
    if new_secret {
        webhook_secret = random_token();
    }
    let input = StoreInput {
        id: id.clone(),
        settings,
        consumer_key: SecretText(form.get("consumer_key").trim().to_string()),
        consumer_secret: SecretText(form.get("consumer_secret").trim().to_string()),
        webhook_secret: SecretText(webhook_secret.clone()),
    };
    match app.put_store(input).await {
        Ok(_) if new_secret => viewer.redirect(
            "/settings#stores",
            Flash::ok(format!(
                "Store {id} saved. Its webhook secret, to paste into WooCommerce now (it is not shown again): {webhook_secret}"
            )),
        ),
        Ok(_) => viewer.redirect("/settings#stores", Flash::ok(format!("Store {id} saved"))),
        Err(e) => viewer.redirect("/settings#stores", Flash::err(format!("The store was not saved: {e}"))),
    }
}

/// `POST /settings/stores/{id}/test`: the settings page with the test's result in the store.
pub async fn test_store(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form,
) -> Response {
    if let Err(r) = viewer.check_csrf(&form) {
        return r;
    }
    if !viewer.user.sees_store(&id) {
        return session::not_found(Some(&viewer));
    }
    match app.test_store(&id).await {
        Ok(t) => page(&app, &viewer, Some(&t)).await,
        Err(e) => viewer.redirect(
            "/settings#stores",
            Flash::err(format!("The test did not run: {e}")),
        ),
    }
}

/// `POST /settings/providers` (admin).
pub async fn put_provider(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Form(form): Form,
) -> Response {
    if let Err(r) = viewer.check_csrf(&form) {
        return r;
    }
    if !viewer.user.is_admin() {
        return session::error_page(
            Some(&viewer),
            &app::auth::AuthError::Forbidden("Provider accounts are managed by an admin.".into())
                .into(),
        );
    }
    let kind = match ProviderKind::from_str(form.get("kind")) {
        Ok(k) => k,
        Err(e) => return viewer.redirect("/settings#providers", Flash::err(e)),
    };
    let settings = ProviderSettings {
        name: form.get("name").trim().to_string(),
        base_url: form.get("base_url").trim().to_string(),
        confirm: !form.checked("sandbox"),
        ..ProviderSettings::default()
    };
    let input = ProviderInput {
        id: form.get("id").trim().to_string(),
        kind,
        settings,
        api_key: SecretText(form.get("api_key").trim().to_string()),
        webhook_secret: SecretText(form.get("webhook_secret").trim().to_string()),
    };
    match app.put_provider(input).await {
        Ok(p) => viewer.redirect(
            "/settings#providers",
            Flash::ok(format!("Provider {} saved", p.id)),
        ),
        Err(e) => viewer.redirect(
            "/settings#providers",
            Flash::err(format!("The provider was not saved: {e}")),
        ),
    }
}

/// `POST /settings/users` (admin).
pub async fn add_user(State(app): State<Arc<App>>, viewer: Viewer, Form(form): Form) -> Response {
    if let Err(r) = viewer.check_csrf(&form) {
        return r;
    }
    if !viewer.user.is_admin() {
        return session::error_page(
            Some(&viewer),
            &app::auth::AuthError::Forbidden("Users are managed by an admin.".into()).into(),
        );
    }
    let role = Role::parse(form.get("role")).unwrap_or(Role::Merchant);
    let stores = form.all("stores");
    match app
        .add_user(
            form.get("username").trim(),
            form.get("password"),
            role,
            &stores,
        )
        .await
    {
        Ok(u) => viewer.redirect(
            "/settings#users",
            Flash::ok(format!("User {} added", u.username)),
        ),
        Err(e) => viewer.redirect(
            "/settings#users",
            Flash::err(format!("The user was not added: {e}")),
        ),
    }
}

/// `POST /settings/stores/{id}/webhooks`: register the order webhooks in the store, to this
/// server's public address.
pub async fn register_webhooks(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form,
) -> Response {
    if let Err(r) = viewer.check_csrf(&form) {
        return r;
    }
    if !viewer.user.sees_store(&id) {
        return session::not_found(Some(&viewer));
    }
    if app.settings.public_url.is_empty() {
        return viewer.redirect(
            "/settings#stores",
            Flash::err(
                "Set server.public_url first: the store must reach this server's webhook address.",
            ),
        );
    }
    let url = app::stores::webhook_url(&app.settings.public_url, &id);
    match app.register_webhooks(&id, &url).await {
        Ok(ids) => viewer.redirect(
            "/settings#stores",
            Flash::ok(format!(
                "Webhooks registered in store {id} ({} new)",
                ids.len()
            )),
        ),
        Err(e) => viewer.redirect(
            "/settings#stores",
            Flash::err(format!("Webhooks not registered: {e}")),
        ),
    }
}
