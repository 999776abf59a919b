//! Connected stores: their settings and sealed credentials, read and written through here so
//! secrets are sealed on the way in and only opened where they are used.
//!
//! The single-store `[app]` configuration of earlier versions keeps working: the store
//! `settings.store_id` ("default") exists without a row, with the `[app]` mapping and
//! countdown, and no credentials.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::StoreSettings;
use secrets::{Secret, SecretKey};
use serde::{Deserialize, Serialize};

use crate::{App, AppError};

/// The names of a store's sealed values.
pub const CONSUMER_KEY: &str = "consumer_key";
pub const CONSUMER_SECRET: &str = "consumer_secret";
pub const WEBHOOK_SECRET: &str = "webhook_secret";

/// What a merchant gives to connect a store.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreInput {
    pub id: String,
    pub settings: StoreSettings,
    pub consumer_key: SecretText,
    pub consumer_secret: SecretText,
    pub webhook_secret: SecretText,
}

/// Secret text on its way in: deserialized like a string, never shown by `Debug`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

/// A store ready to use: its settings and its opened credentials.
#[derive(Debug, Clone)]
pub struct ConnectedStore {
    pub id: String,
    pub settings: StoreSettings,
    pub consumer_key: Secret,
    pub consumer_secret: Secret,
    pub webhook_secret: Secret,
    /// False for the configured default store without a row (no credentials).
    pub stored: bool,
}

/// What the API and CLI show of a store: never a secret, only whether it is set and a hint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreSummary {
    pub id: String,
    pub settings: StoreSettings,
    pub consumer_key_hint: String,
    pub consumer_secret_set: bool,
    pub webhook_secret_set: bool,
    pub last_webhook_at: Option<DateTime<Utc>>,
    pub last_reconcile_at: Option<DateTime<Utc>>,
    pub last_reconcile_error: Option<String>,
    pub reconciled_until: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
}

/// Connected stores kept for [`STORE_CACHE_TTL`]: a burst of webhooks needs the store's
/// webhook secret once, not once per delivery. Changes made through this process clear it;
/// other processes' changes are seen within the TTL.
#[derive(Default)]
pub(crate) struct StoreCache {
    stores:
        std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, ConnectedStore)>>,
}

pub(crate) const STORE_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

impl StoreCache {
    fn get(&self, id: &str) -> Option<ConnectedStore> {
        let map = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id)
            .filter(|(at, _)| at.elapsed() < STORE_CACHE_TTL)
            .map(|(_, s)| s.clone())
    }

    fn put(&self, store: &ConnectedStore) {
        let mut map = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(store.id.clone(), (std::time::Instant::now(), store.clone()));
    }

    fn forget(&self, id: &str) {
        let mut map = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id);
    }
}

fn context(store: &str, name: &str) -> String {
    format!("store/{store}/{name}")
}

/// Store ids appear in URLs (`/webhooks/woocommerce/{store}`) and keys: short, lowercase
/// letters, digits, `-` and `_`.
pub fn check_store_id(id: &str) -> Result<(), AppError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(AppError::Store(format!(
            "store id {id:?}: use 1-64 lowercase letters, digits, '-' or '_'"
        )))
    }
}

fn check_url(url: &str) -> Result<(), AppError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| AppError::Store(format!("store URL {url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(AppError::Store(format!(
            "store URL {url:?}: use the shop's address, e.g. https://shop.example/"
        )));
    }
    Ok(())
}

impl App {
    fn secret_key(&self) -> Result<&SecretKey, AppError> {
        self.secret_key.as_deref().ok_or_else(|| {
            AppError::Config(
                "no secrets key is configured (secrets.key), so store credentials cannot be \
                 sealed or opened"
                    .into(),
            )
        })
    }

    /// Connect a store, or change one (a secret left empty keeps the stored one).
    pub async fn put_store(&self, input: StoreInput) -> Result<StoreSummary, AppError> {
        check_store_id(&input.id)?;
        check_url(&input.settings.url)?;
        if !(0.0..=24.0 * 365.0).contains(&input.settings.submit_after_hours) {
            return Err(AppError::Store(format!(
                "submit after {} hours: use 0 to 8760",
                input.settings.submit_after_hours
            )));
        }
        let key = self.secret_key()?;
        let existing = self.db.store(&input.id).await?;
        let mut sealed: BTreeMap<String, String> = existing.map(|s| s.secrets).unwrap_or_default();
        for (name, value) in [
            (CONSUMER_KEY, &input.consumer_key),
            (CONSUMER_SECRET, &input.consumer_secret),
            (WEBHOOK_SECRET, &input.webhook_secret),
        ] {
            if !value.0.is_empty() {
                sealed.insert(
                    name.to_owned(),
                    key.seal(&context(&input.id, name), value.0.trim())?,
                );
            }
        }
        let settings = serde_json::to_value(&input.settings).expect("settings serialize");
        let name = if input.settings.name.is_empty() {
            input.id.clone()
        } else {
            input.settings.name.clone()
        };
        self.db
            .put_store(
                &input.id,
                &name,
                &input.settings.url,
                &settings,
                &sealed,
                self.now(),
            )
            .await?;
        self.store_cache.forget(&input.id);
        self.store_summary(&input.id).await
    }

    pub async fn remove_store(&self, id: &str) -> Result<(), AppError> {
        self.store_cache.forget(id);
        if self.db.delete_store(id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("no store {id:?}")))
        }
    }

    /// The settings of the default store of the `[app]` configuration.
    fn default_store_settings(&self) -> StoreSettings {
        StoreSettings {
            name: self.settings.store_id.clone(),
            submit_after_hours: self.settings.submit_after_hours,
            default_provider: self.settings.default_provider.clone(),
            mapping: self.settings.mapping.clone(),
            ..StoreSettings::default()
        }
    }

    /// A store with its credentials opened.
    pub async fn connected_store(&self, id: &str) -> Result<ConnectedStore, AppError> {
        let row = self.db.store(id).await?;
        self.open_store(id, row)
    }

    /// A store from its row (as read), credentials opened.
    pub(crate) fn open_store(
        &self,
        id: &str,
        row: Option<storage::StoreRow>,
    ) -> Result<ConnectedStore, AppError> {
        let Some(row) = row.filter(|r| r.settings != serde_json::json!({})) else {
            if id == self.settings.store_id {
                return Ok(ConnectedStore {
                    id: id.to_owned(),
                    settings: self.default_store_settings(),
                    consumer_key: Secret::default(),
                    consumer_secret: Secret::default(),
                    webhook_secret: Secret::default(),
                    stored: false,
                });
            }
            return Err(AppError::NotFound(format!("no store {id:?}")));
        };
        let settings: StoreSettings = serde_json::from_value(row.settings).map_err(|e| {
            AppError::Store(format!(
                "store {id:?}: its stored settings are unreadable: {e}"
            ))
        })?;
        let open = |name: &str| -> Result<Secret, AppError> {
            match row.secrets.get(name) {
                None => Ok(Secret::default()),
                Some(sealed) => Ok(self.secret_key()?.open(&context(id, name), sealed)?),
            }
        };
        Ok(ConnectedStore {
            id: id.to_owned(),
            consumer_key: open(CONSUMER_KEY)?,
            consumer_secret: open(CONSUMER_SECRET)?,
            webhook_secret: open(WEBHOOK_SECRET)?,
            settings,
            stored: true,
        })
    }

    /// [`App::connected_store`], kept for a few seconds (for checking webhooks).
    pub async fn cached_store(&self, id: &str) -> Result<ConnectedStore, AppError> {
        if let Some(s) = self.store_cache.get(id) {
            return Ok(s);
        }
        let store = self.connected_store(id).await?;
        self.store_cache.put(&store);
        Ok(store)
    }

    pub async fn store_summary(&self, id: &str) -> Result<StoreSummary, AppError> {
        let row = self.db.store(id).await?;
        self.summary_of(id, row)
    }

    fn summary_of(
        &self,
        id: &str,
        row: Option<storage::StoreRow>,
    ) -> Result<StoreSummary, AppError> {
        let connected = self.open_store(id, row.clone())?;
        Ok(StoreSummary {
            id: id.to_owned(),
            consumer_key_hint: connected.consumer_key.hint(),
            consumer_secret_set: !connected.consumer_secret.is_empty(),
            webhook_secret_set: !connected.webhook_secret.is_empty(),
            settings: connected.settings,
            last_webhook_at: row.as_ref().and_then(|r| r.last_webhook_at),
            last_reconcile_at: row.as_ref().and_then(|r| r.last_reconcile_at),
            last_reconcile_error: row.as_ref().and_then(|r| r.last_reconcile_error.clone()),
            reconciled_until: row.as_ref().and_then(|r| r.reconciled_until),
            created_at: row.as_ref().map(|r| r.created_at),
        })
    }

    /// Every connected store (the configured default one too, once it has orders).
    pub async fn store_summaries(&self) -> Result<Vec<StoreSummary>, AppError> {
        let mut out = vec![];
        for row in self.db.stores().await? {
            let id = row.id.clone();
            out.push(self.summary_of(&id, Some(row))?);
        }
        Ok(out)
    }
}

/// One check of `store test`, in the merchant's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreCheck {
    pub name: &'static str,
    pub ok: bool,
    pub message: String,
}

/// What `store test` found; `ok` when every check passed (notes such as "no Shipment Tracking
/// extension" are not failures).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreTest {
    pub store: String,
    pub ok: bool,
    pub checks: Vec<StoreCheck>,
}

/// The topics Pressroom listens to.
pub const WEBHOOK_TOPICS: [&str; 3] = ["order.created", "order.updated", "order.deleted"];

/// Where a store's webhooks are delivered, from the server's public address.
pub fn webhook_url(public_url: &str, store: &str) -> String {
    format!(
        "{}/webhooks/woocommerce/{store}",
        public_url.trim_end_matches('/')
    )
}

impl App {
    /// Check a store's address, API, credentials and extensions, and say what is wrong.
    pub async fn test_store(&self, id: &str) -> Result<StoreTest, AppError> {
        let store = self.connected_store(id).await?;
        let mut checks = vec![];
        let mut check = |name, ok, message: String| checks.push(StoreCheck { name, ok, message });
        let client = match self.store_client(&store) {
            Ok(c) => c,
            Err(e) => {
                check("settings", false, e.to_string());
                return Ok(StoreTest {
                    store: id.to_owned(),
                    ok: false,
                    checks,
                });
            }
        };
        match client.index().await {
            Ok(index) => {
                check(
                    "address",
                    true,
                    format!(
                        "{} answers as the WordPress site {:?} with the WooCommerce REST API",
                        client.store_url(),
                        index.name
                    ),
                );
                check(
                    "shipment tracking",
                    true,
                    if index.has_shipment_tracking() {
                        "the Shipment Tracking extension is installed: tracking numbers go there"
                            .into()
                    } else {
                        "the Shipment Tracking extension is not installed: tracking numbers \
                         will be added as a note to the customer"
                            .into()
                    },
                );
            }
            Err(e) => check("address", false, e.merchant_message()),
        }
        let probe = connectors::woo_client::OrderQuery {
            per_page: 1,
            ..Default::default()
        };
        match client.orders_page(&probe, 1).await {
            Ok(page) => check(
                "credentials",
                true,
                format!(
                    "the consumer key can read orders ({} in the store)",
                    page.total
                ),
            ),
            Err(e) => check("credentials", false, e.merchant_message()),
        }
        check(
            "webhook secret",
            !store.webhook_secret.is_empty(),
            if store.webhook_secret.is_empty() {
                "no webhook secret is set, so deliveries cannot be checked and will be refused"
                    .into()
            } else {
                "set; deliveries are checked against it".into()
            },
        );
        let ok = checks.iter().all(|c| c.ok);
        Ok(StoreTest {
            store: id.to_owned(),
            ok,
            checks,
        })
    }

    /// Register the order webhooks in the store (`POST /webhooks`), delivering to
    /// `delivery_url`. Topics already registered there for that URL are left alone.
    pub async fn register_webhooks(
        &self,
        id: &str,
        delivery_url: &str,
    ) -> Result<Vec<i64>, AppError> {
        let store = self.connected_store(id).await?;
        if store.webhook_secret.is_empty() {
            return Err(AppError::Store(format!(
                "store {id:?} has no webhook secret to register webhooks with"
            )));
        }
        let client = self.store_client(&store)?;
        let existing = client.webhooks().await?;
        let mut created = vec![];
        for topic in WEBHOOK_TOPICS {
            if existing
                .iter()
                .any(|w| w.topic == topic && w.delivery_url == delivery_url && w.status == "active")
            {
                continue;
            }
            created.push(
                client
                    .create_webhook(
                        &format!("Pressroom {topic}"),
                        topic,
                        delivery_url,
                        store.webhook_secret.expose(),
                    )
                    .await?,
            );
        }
        Ok(created)
    }
}
