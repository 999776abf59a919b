//! Fulfillment provider accounts: their settings and sealed credentials, the adapter that
//! talks to each, and the per-account bound on concurrent requests (providers rate-limit).
//!
//! Two accounts exist without configuration: `manual` (the merchant places the order
//! elsewhere and types the tracking) and `sandbox` (accepts everything, ships after a
//! delay). A row with the same id replaces them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connectors::provider::{ProviderConfig, ProviderKind};
use connectors::providers::AnyProvider;
use secrets::Secret;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::stores::SecretText;
use crate::{App, AppError};

pub const API_KEY: &str = "api_key";
pub const WEBHOOK_SECRET: &str = "webhook_secret";

/// The built-in accounts' ids.
pub const MANUAL: &str = "manual";
pub const SANDBOX: &str = "sandbox";

/// An account's settings (everything but its secrets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSettings {
    pub name: String,
    /// The API's address; empty for the provider's production address.
    pub base_url: String,
    /// Provider specific account id (Printful store id, ...).
    pub account: String,
    /// Orders go straight to production (false: drafts / on hold at the provider).
    pub confirm: bool,
    pub timeout_secs: u64,
    /// Requests in flight at once to this account, per process.
    pub concurrency: usize,
    /// Store SKU -> the provider's product (variant id, catalog SKU, product UID); a SKU
    /// not listed is sent as it is.
    pub products: BTreeMap<String, String>,
    /// Sandbox only: seconds from submission to the parcel leaving, and to its delivery.
    pub ship_after_secs: u64,
    pub deliver_after_secs: u64,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        ProviderSettings {
            name: String::new(),
            base_url: String::new(),
            account: String::new(),
            confirm: true,
            timeout_secs: 30,
            concurrency: 8,
            products: BTreeMap::new(),
            ship_after_secs: 60,
            deliver_after_secs: 120,
        }
    }
}

/// What a merchant gives to add an account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderInput {
    pub id: String,
    pub kind: ProviderKind,
    #[serde(default)]
    pub settings: ProviderSettings,
    #[serde(default)]
    pub api_key: SecretText,
    #[serde(default)]
    pub webhook_secret: SecretText,
}

/// An account ready to use.
#[derive(Debug, Clone)]
pub struct ProviderAccount {
    pub id: String,
    pub kind: ProviderKind,
    pub settings: ProviderSettings,
    pub api_key: Secret,
    pub webhook_secret: Secret,
}

/// What the API and CLI show: never a secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderSummary {
    pub id: String,
    pub kind: ProviderKind,
    pub settings: ProviderSettings,
    pub api_key_hint: String,
    pub webhook_secret_set: bool,
    pub built_in: bool,
}

impl ProviderAccount {
    fn built_in(id: &str) -> Option<ProviderAccount> {
        let kind = match id {
            MANUAL => ProviderKind::Manual,
            SANDBOX => ProviderKind::Sandbox,
            _ => return None,
        };
        Some(ProviderAccount {
            id: id.to_owned(),
            kind,
            settings: ProviderSettings {
                name: id.to_owned(),
                ..ProviderSettings::default()
            },
            api_key: Secret::default(),
            webhook_secret: Secret::default(),
        })
    }

    /// The provider's production address for `kind`.
    pub fn default_base_url(kind: ProviderKind) -> &'static str {
        match kind {
            ProviderKind::Printful => "https://api.printful.com",
            ProviderKind::CustomCat => "https://customcat-beta.mylocker.net/api/v1",
            ProviderKind::ShineOn => "https://api.shineon.com/v1",
            ProviderKind::Gelato => "https://order.gelatoapis.com",
            ProviderKind::Manual | ProviderKind::Sandbox => "",
        }
    }

    pub fn config(&self) -> ProviderConfig {
        ProviderConfig {
            kind: self.kind,
            base_url: if self.settings.base_url.is_empty() {
                Self::default_base_url(self.kind).to_owned()
            } else {
                self.settings.base_url.clone()
            },
            api_key: self.api_key.expose().to_owned(),
            webhook_secret: self.webhook_secret.expose().to_owned(),
            account: self.settings.account.clone(),
            confirm: self.settings.confirm,
            timeout: Duration::from_secs(self.settings.timeout_secs.max(1)),
        }
    }

    /// The provider's product for a store SKU.
    pub fn product_for(&self, sku: &str) -> String {
        self.settings
            .products
            .get(sku)
            .cloned()
            .unwrap_or_else(|| sku.to_owned())
    }
}

/// Adapters and request bounds, per account, for this process.
#[derive(Default)]
pub(crate) struct ProviderCache {
    limits: Mutex<HashMap<String, (usize, Arc<Semaphore>)>>,
}

fn context(account: &str, name: &str) -> String {
    format!("provider/{account}/{name}")
}

/// Account ids appear in webhook URLs: lowercase letters, digits, `-` and `_`.
fn check_account_id(id: &str) -> Result<(), AppError> {
    crate::stores::check_store_id(id).map_err(|_| {
        AppError::Invalid(format!(
            "provider account id {id:?}: use 1-64 lowercase letters, digits, '-' or '_'"
        ))
    })
}

impl App {
    /// Add or change a provider account (a secret left empty keeps the stored one).
    pub async fn put_provider(&self, input: ProviderInput) -> Result<ProviderSummary, AppError> {
        check_account_id(&input.id)?;
        if !input.settings.base_url.is_empty() {
            let ok = url::Url::parse(&input.settings.base_url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if !ok {
                return Err(AppError::Invalid(format!(
                    "provider address {:?} is not an http(s) URL",
                    input.settings.base_url
                )));
            }
        }
        if !(1..=64).contains(&input.settings.concurrency) {
            return Err(AppError::Invalid(
                "concurrency: use 1 to 64 requests at once".into(),
            ));
        }
        let integrated = !matches!(input.kind, ProviderKind::Manual | ProviderKind::Sandbox);
        let existing = self.db.provider_account(&input.id).await?;
        let mut sealed = existing.map(|r| r.secrets).unwrap_or_default();
        if integrated && input.api_key.0.is_empty() && !sealed.contains_key(API_KEY) {
            return Err(AppError::Invalid(format!(
                "{} needs an API key",
                input.kind.as_str()
            )));
        }
        for (name, value) in [
            (API_KEY, &input.api_key),
            (WEBHOOK_SECRET, &input.webhook_secret),
        ] {
            if !value.0.is_empty() {
                let key = self.secret_key.as_deref().ok_or_else(|| {
                    AppError::Config(
                        "no secrets key is configured (secrets.key), so provider credentials \
                         cannot be sealed"
                            .into(),
                    )
                })?;
                sealed.insert(
                    name.to_owned(),
                    key.seal(&context(&input.id, name), value.0.trim())?,
                );
            }
        }
        let settings = serde_json::to_value(&input.settings).expect("settings serialize");
        self.db
            .put_provider_account(
                &input.id,
                input.kind.as_str(),
                &settings,
                &sealed,
                self.now(),
            )
            .await?;
        self.provider_summary(&input.id).await
    }

    pub async fn remove_provider(&self, id: &str) -> Result<(), AppError> {
        if self.db.delete_provider_account(id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("no provider account {id:?}")))
        }
    }

    /// An account with its credentials opened (the built-in ones without a row).
    pub async fn provider_account(&self, id: &str) -> Result<ProviderAccount, AppError> {
        let Some(row) = self.db.provider_account(id).await? else {
            return ProviderAccount::built_in(id)
                .ok_or_else(|| AppError::NotFound(format!("no provider account {id:?}")));
        };
        let kind: ProviderKind = row
            .kind
            .parse()
            .map_err(|e: String| AppError::Invalid(format!("provider account {id:?}: {e}")))?;
        let settings: ProviderSettings = serde_json::from_value(row.settings).map_err(|e| {
            AppError::Invalid(format!(
                "provider account {id:?}: its stored settings are unreadable: {e}"
            ))
        })?;
        let open = |name: &str| -> Result<Secret, AppError> {
            match row.secrets.get(name) {
                None => Ok(Secret::default()),
                Some(sealed) => {
                    let key = self.secret_key.as_deref().ok_or_else(|| {
                        AppError::Config("no secrets key is configured (secrets.key)".into())
                    })?;
                    Ok(key.open(&context(id, name), sealed)?)
                }
            }
        };
        Ok(ProviderAccount {
            id: id.to_owned(),
            kind,
            api_key: open(API_KEY)?,
            webhook_secret: open(WEBHOOK_SECRET)?,
            settings,
        })
    }

    pub async fn provider_summary(&self, id: &str) -> Result<ProviderSummary, AppError> {
        let stored = self.db.provider_account(id).await?.is_some();
        let a = self.provider_account(id).await?;
        Ok(ProviderSummary {
            id: a.id.clone(),
            kind: a.kind,
            api_key_hint: a.api_key.hint(),
            webhook_secret_set: !a.webhook_secret.is_empty(),
            settings: a.settings,
            built_in: !stored,
        })
    }

    /// Every account, the built-in ones included.
    pub async fn provider_summaries(&self) -> Result<Vec<ProviderSummary>, AppError> {
        let mut ids: Vec<String> = self
            .db
            .provider_accounts()
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect();
        for b in [MANUAL, SANDBOX] {
            if !ids.iter().any(|i| i == b) {
                ids.push(b.to_owned());
            }
        }
        ids.sort();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.provider_summary(&id).await?);
        }
        Ok(out)
    }

    /// The adapter for an integrated account.
    pub(crate) fn adapter(&self, account: &ProviderAccount) -> Result<AnyProvider, AppError> {
        Ok(AnyProvider::new(account.config(), self.store_http.clone())?)
    }

    /// The bound on this account's requests in flight (per process).
    pub(crate) fn provider_limit(&self, account: &ProviderAccount) -> Arc<Semaphore> {
        let wanted = account.settings.concurrency.clamp(1, 64);
        let mut map = self
            .providers
            .limits
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let entry = map
            .entry(account.id.clone())
            .or_insert_with(|| (wanted, Arc::new(Semaphore::new(wanted))));
        if entry.0 != wanted {
            // Changed settings: a new bound for new requests; those in flight finish.
            *entry = (wanted, Arc::new(Semaphore::new(wanted)));
        }
        entry.1.clone()
    }
}
