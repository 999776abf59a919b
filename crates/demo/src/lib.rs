//! `pressroom serve --demo`: everything a newcomer needs to watch the whole flow on one machine.
//!
//! A simulated WooCommerce store (the simulator the tests use, speaking the real REST API) is
//! connected as the store `demo`. Every few seconds it places a personalized order (names in
//! Latin, Arabic, Devanagari, CJK and emoji, customer photos served from 127.0.0.1) and delivers
//! it by a signed webhook, exactly as a real store does. Orders go to the Sandbox provider after
//! a short countdown, and the sandbox ships them. Two users are made on a fresh database: an
//! admin and a merchant who owns the demo store.
//!
//! The order flow is not special-cased anywhere: the demo only plays the store's part.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use app::App;
use app::auth::Role;
use app::stores::{SecretText, StoreInput};
use chrono::Utc;
use serde_json::{Value, json};
use testkit::woo_sim::{WooSim, WooSimOptions};
use tokio_util::sync::CancellationToken;

/// The demo store's id.
pub const STORE: &str = "demo";
/// The demo admin's name and password (printed at start).
pub const ADMIN: (&str, &str) = ("demo", "pressroom-demo");
/// A merchant who owns the demo store.
pub const MERCHANT: (&str, &str) = ("merchant", "merchant-demo");
/// Hours from payment to automatic submission in the demo: two minutes.
pub const SUBMIT_AFTER_HOURS: f64 = 2.0 / 60.0;

const WEBHOOK_SECRET: &str = "demo-webhook-secret";
const NAME_TAG: &str = include_str!("../../../fixtures/orders/name-tag.json");
const PET_MUG: &str = include_str!("../../../fixtures/orders/pet-mug.json");
const BISCUIT: &[u8] = include_bytes!("../../../fixtures/orders/biscuit.jpg");
const PET: &[u8] = include_bytes!("../../../fixtures/templates/pet-portrait/pet.jpg");

/// Customers, with the name they want printed (every script the renderer shapes).
const CUSTOMERS: [(&str, &str, &str, &str, &str, &str); 8] = [
    ("Zoë", "Martin", "Zoë", "Lyon", "", "FR"),
    ("Layla", "Haddad", "ليلى", "Beirut", "", "LB"),
    ("Priya", "Sharma", "प्रिया", "Pune", "MH", "IN"),
    ("Wei", "Chen", "陈伟", "Taipei", "", "TW"),
    ("Mia", "Johnson", "Mia 🌸", "Austin", "TX", "US"),
    ("José", "Álvarez", "José ❤️", "Sevilla", "", "ES"),
    ("Sakura", "Tanaka", "さくら", "Osaka", "", "JP"),
    ("Omar", "Nasser", "عمر ⭐", "Amman", "", "JO"),
];

/// Pets for the mugs. Mochi's colour is not one the template offers: that order stops at its
/// countdown with the reason shown, for a newcomer to fix in the editor.
const PETS: [(&str, &str, &str); 4] = [
    ("Biscuit", "Good Boy Forever", "rose"),
    ("Luna", "Queen of the Sofa", "navy"),
    ("Mochi", "Best Friend", "mint"),
    ("Pepper", "Always Hungry", "forest"),
];

/// Settings the demo needs before the app is built: the Sandbox provider, a short countdown,
/// and customer photos allowed from this machine (the demo serves them on 127.0.0.1).
pub fn adjust_settings(settings: &mut app::AppSettings) {
    settings.default_provider = "sandbox".into();
    settings.submit_after_hours = SUBMIT_AFTER_HOURS;
    if !settings.fetch.allow_hosts.iter().any(|h| h == "127.0.0.1") {
        settings.fetch.allow_hosts.push("127.0.0.1".into());
    }
}

/// The running demo store.
pub struct Demo {
    sim: WooSim,
    photos: String,
    webhook_target: String,
    next_id: AtomicI64,
    _photo_server: testkit::HttpStub,
}

impl Demo {
    /// Start the simulated store, connect it as `demo`, and make the demo users on a database
    /// that has none. `server_base` is where this server answers (`http://127.0.0.1:8080`).
    pub async fn start(app: &App, server_base: &str) -> Result<Demo> {
        let sim = WooSim::start(WooSimOptions {
            consumer_key: "ck_demo".into(),
            consumer_secret: "cs_demo".into(),
            webhook_secret: WEBHOOK_SECRET.into(),
            ..WooSimOptions::default()
        })
        .await;
        let photo_server = testkit::HttpStub::start(|path| match path {
            "/biscuit.jpg" => testkit::StubResponse::ok(BISCUIT.to_vec()),
            "/pet.jpg" => testkit::StubResponse::ok(PET.to_vec()),
            _ => testkit::StubResponse::not_found(),
        })
        .await
        .context("start the demo's photo server")?;
        let settings = domain::StoreSettings {
            name: "Demo store".into(),
            url: sim.url(),
            submit_after_hours: SUBMIT_AFTER_HOURS,
            default_provider: "sandbox".into(),
            mapping: app.settings.mapping.clone(),
            ..domain::StoreSettings::default()
        };
        app.put_store(StoreInput {
            id: STORE.into(),
            settings,
            consumer_key: SecretText("ck_demo".into()),
            consumer_secret: SecretText("cs_demo".into()),
            webhook_secret: SecretText(WEBHOOK_SECRET.into()),
        })
        .await
        .context("connect the demo store")?;
        if app.db.count_users().await? == 0 {
            app.add_user(ADMIN.0, ADMIN.1, Role::Admin, &[]).await?;
            app.add_user(MERCHANT.0, MERCHANT.1, Role::Merchant, &[STORE.to_string()])
                .await?;
        }
        // Order ids continue after the newest the database knows, so a restarted demo on the
        // same data folder places new orders instead of updating old ones.
        let newest = app
            .db
            .order_list(&storage::OrderQuery {
                limit: 1,
                ..storage::OrderQuery::default()
            })
            .await?
            .orders
            .first()
            .map(|o| o.order.store_order_id)
            .unwrap_or(0);
        Ok(Demo {
            sim,
            photos: photo_server.base_url.clone(),
            webhook_target: format!(
                "{}/webhooks/woocommerce/{STORE}",
                server_base.trim_end_matches('/')
            ),
            next_id: AtomicI64::new(newest.max(5000) + 1),
            _photo_server: photo_server,
        })
    }

    /// The simulated store's address.
    pub fn store_url(&self) -> String {
        self.sim.url()
    }

    /// Place one personalized order in the store and deliver its `order.created` webhook.
    /// Returns the store's order id.
    pub async fn place_order(&self) -> Result<i64> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let order = demo_order(id, &self.photos)?;
        self.sim.insert_order(order);
        let status = self
            .sim
            .send_webhook(&self.webhook_target, "order.created", id)
            .await;
        anyhow::ensure!(
            status.is_success(),
            "the server answered {status} to the demo store's webhook"
        );
        Ok(id)
    }

    /// Place an order every `every` until `shutdown`.
    pub async fn run(self: Arc<Self>, every: Duration, shutdown: CancellationToken) {
        loop {
            match self.place_order().await {
                Ok(id) => tracing::info!(store_order = id, "the demo store placed an order"),
                Err(e) => tracing::warn!(error = %e, "the demo store could not place an order"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// The `n`th demo order: a name tag (a name in one of eight scripts and a photo) or, every
/// third order, a pet mug.
pub fn demo_order(id: i64, photos: &str) -> Result<Value> {
    let n = id.unsigned_abs() as usize;
    let (first, last, printed, city, state, country) = CUSTOMERS[n % CUSTOMERS.len()];
    let pet_mug = n.is_multiple_of(3);
    let mut order: Value = serde_json::from_str(if pet_mug { PET_MUG } else { NAME_TAG })
        .context("the demo order fixtures are JSON")?;
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    order["id"] = json!(id);
    order["number"] = json!(id.to_string());
    order["order_key"] = json!(format!("wc_order_demo{id}"));
    order["status"] = json!("processing");
    for key in [
        "date_created",
        "date_created_gmt",
        "date_modified",
        "date_modified_gmt",
        "date_paid",
        "date_paid_gmt",
    ] {
        order[key] = json!(now);
    }
    let email = format!(
        "{}.{}@example.com",
        first.to_lowercase(),
        last.to_lowercase()
    );
    for (part, with_email) in [("billing", true), ("shipping", false)] {
        let a = &mut order[part];
        a["first_name"] = json!(first);
        a["last_name"] = json!(last);
        a["city"] = json!(city);
        a["state"] = json!(state);
        a["country"] = json!(country);
        if with_email {
            a["email"] = json!(email);
        }
    }
    let (pet, tagline, colour) = PETS[n % PETS.len()];
    let items = order["line_items"]
        .as_array_mut()
        .context("the fixture has line items")?;
    for (k, item) in items.iter_mut().enumerate() {
        item["id"] = json!(id * 100 + k as i64 + 1);
        let Some(meta) = item["meta_data"].as_array_mut() else {
            continue;
        };
        for m in meta {
            let value = match m["key"].as_str().unwrap_or_default() {
                "Name" => json!(printed),
                "Photo" => json!(format!("{photos}/biscuit.jpg")),
                "Pet name" => json!(pet),
                "Tagline" => json!(tagline),
                "Colour" => json!(colour),
                "Pet photo" => json!(format!("{photos}/pet.jpg")),
                _ => continue,
            };
            m["value"] = value.clone();
            m["display_value"] = value;
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed_name(order: &Value) -> String {
        order["line_items"][0]["meta_data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == "Name")
            .map(|m| m["value"].as_str().unwrap().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn demo_orders_cycle_through_scripts_and_products() {
        // 5002 % 3 != 0: a name tag.
        let a = demo_order(5002, "http://127.0.0.1:9").unwrap();
        assert_eq!(a["id"], 5002);
        assert_eq!(a["number"], "5002");
        assert_eq!(a["status"], "processing");
        let metas = a["line_items"][0]["meta_data"].as_array().unwrap();
        let photo = metas.iter().find(|m| m["key"] == "Photo").unwrap();
        assert_eq!(photo["value"], "http://127.0.0.1:9/biscuit.jpg");
        assert_eq!(a["line_items"][0]["id"], 500201);
        // 5001 % 3 == 0: a pet mug, its photo from the same server.
        let mug = demo_order(5001, "http://x").unwrap();
        let line = mug["line_items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["sku"] == "PET-MUG-11")
            .expect("every third order is a pet mug");
        assert!(line["meta_data"].to_string().contains("http://x/pet.jpg"));
        let printed: Vec<String> = (5000..5024)
            .filter(|n: &i64| !n.unsigned_abs().is_multiple_of(3))
            .map(|n| printed_name(&demo_order(n, "http://x").unwrap()))
            .collect();
        let has = |range: std::ops::RangeInclusive<char>| {
            printed
                .iter()
                .any(|n| n.chars().any(|c| range.contains(&c)))
        };
        assert!(has('\u{0600}'..='\u{06FF}'), "Arabic: {printed:?}");
        assert!(has('\u{0900}'..='\u{097F}'), "Devanagari: {printed:?}");
        assert!(has('\u{4E00}'..='\u{9FFF}'), "CJK: {printed:?}");
        assert!(has('\u{1F300}'..='\u{1FAFF}'), "emoji: {printed:?}");
    }
}
