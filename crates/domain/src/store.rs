//! A connected store's settings (everything but its secrets) and the rules that decide an
//! order's type, plus what an update from the store does to an order Pressroom already has.
//!
//! An update is merged, not copied: the store owns what the customer ordered (status,
//! addresses, totals, items), Pressroom owns what it decided (order type, submission,
//! countdown, notes, rendered photos). An update older than what is stored changes nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ItemMapping, LineItem, Order, OrderType, Personalization, StatusChange};

/// A store's settings. Secrets (consumer key and secret, webhook secret) are kept apart,
/// sealed, and never part of this type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// Shown to the merchant; the store's id is its key.
    pub name: String,
    /// The store's address, e.g. `https://shop.example/`.
    pub url: String,
    /// Send the consumer key and secret in the query string instead of Basic auth, the
    /// fallback WooCommerce documents for servers that drop the Authorization header.
    pub auth_in_query: bool,
    /// Hours from import to automatic submission.
    pub submit_after_hours: f64,
    /// The fulfillment provider account orders go to unless a rule says otherwise.
    pub default_provider: String,
    /// Per SKU: which provider account makes these products (the first match wins).
    pub provider_rules: Vec<ProviderRule>,
    /// Which products are personalized with which template, and which meta keys fill which
    /// fields.
    pub mapping: ItemMapping,
    /// Checked in order, the first match decides; when none matches, an order with a
    /// Pressroom template is in-app and one without is "others".
    pub order_types: Vec<OrderTypeRule>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            name: String::new(),
            url: String::new(),
            auth_in_query: false,
            submit_after_hours: 24.0,
            default_provider: "manual".into(),
            provider_rules: Vec::new(),
            mapping: ItemMapping::default(),
            order_types: OrderTypeRule::defaults(),
        }
    }
}

/// Which provider account makes the products with a SKU: `sku` is exact, or a prefix when
/// it ends in `*` ("MUG-*").
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderRule {
    pub sku: String,
    pub provider: String,
}

impl ProviderRule {
    pub fn matches(&self, sku: &str) -> bool {
        match self.sku.strip_suffix('*') {
            Some(prefix) => sku.starts_with(prefix),
            None => !sku.is_empty() && sku == self.sku,
        }
    }
}

impl StoreSettings {
    /// The provider account for an order: the first rule matching one of its personalized
    /// items' SKUs, else the store's default. Items matching different rules are refused
    /// (an order goes to one provider), naming both.
    pub fn provider_for(&self, order: &Order) -> Result<String, String> {
        let mut chosen: Option<(&str, &str)> = None;
        for item in order.personalized_items() {
            let provider = self
                .provider_rules
                .iter()
                .find(|r| r.matches(&item.sku))
                .map_or(self.default_provider.as_str(), |r| r.provider.as_str());
            match chosen {
                Some((p, sku)) if p != provider => {
                    return Err(format!(
                        "items go to different providers ({sku} to {p}, {} to {provider}); \
                         an order goes to one provider",
                        item.sku
                    ));
                }
                Some(_) => {}
                None => chosen = Some((provider, &item.sku)),
            }
        }
        Ok(chosen.map_or_else(|| self.default_provider.clone(), |(p, _)| p.to_owned()))
    }
}

/// One rule deciding an order's type. Every criterion that is set must match; a rule with
/// none matches nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrderTypeRule {
    #[serde(rename = "type")]
    pub order_type: OrderType,
    /// `created_via` contains this (letters and digits only, any case: "amazon" matches
    /// "Amazon-Marketplace").
    pub created_via: Option<String>,
    /// The payment method id or title contains this (any case), e.g. "Amazon Marketplace".
    pub payment_method: Option<String>,
    /// The order has a meta entry with this key (exactly), e.g. `_shineon_order_id`.
    pub meta_key: Option<String>,
    /// No line item has a Pressroom template.
    pub no_template: bool,
}

/// What the order-type rules look at.
#[derive(Debug, Clone, Copy)]
pub struct OrderFacts<'a> {
    pub created_via: &'a str,
    pub payment_method: &'a str,
    pub payment_method_title: &'a str,
    pub meta_keys: &'a [String],
    pub has_template: bool,
}

fn letters(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

impl OrderTypeRule {
    /// Marketplace connectors record themselves in `created_via`.
    pub fn defaults() -> Vec<OrderTypeRule> {
        vec![
            OrderTypeRule {
                order_type: OrderType::Amazon,
                created_via: Some("amazon".into()),
                ..Default::default()
            },
            OrderTypeRule {
                order_type: OrderType::ShineOn,
                created_via: Some("shineon".into()),
                ..Default::default()
            },
        ]
    }

    pub fn matches(&self, facts: &OrderFacts) -> bool {
        let any = self.created_via.is_some()
            || self.payment_method.is_some()
            || self.meta_key.is_some()
            || self.no_template;
        let via = self.created_via.as_deref().is_none_or(|want| {
            let want = letters(want);
            !want.is_empty() && letters(facts.created_via).contains(&want)
        });
        let payment = self.payment_method.as_deref().is_none_or(|want| {
            let want = want.trim().to_lowercase();
            !want.is_empty()
                && (facts.payment_method.to_lowercase().contains(&want)
                    || facts.payment_method_title.to_lowercase().contains(&want))
        });
        let meta = self
            .meta_key
            .as_deref()
            .is_none_or(|want| facts.meta_keys.iter().any(|k| k == want));
        let template = !self.no_template || !facts.has_template;
        any && via && payment && meta && template
    }
}

/// The order's type: the first matching rule, else in-app when it has a Pressroom template
/// and "others" when not.
pub fn decide_order_type(rules: &[OrderTypeRule], facts: &OrderFacts) -> OrderType {
    rules
        .iter()
        .find(|r| r.matches(facts))
        .map(|r| r.order_type)
        .unwrap_or(if facts.has_template {
            OrderType::InApp
        } else {
            OrderType::Others
        })
}

/// What Pressroom keeps about an order's life in the store, beside the store's own data.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreFlags {
    /// The store changed the order's items after it was submitted; the provider has the old
    /// design, so the merchant must look.
    pub changed_after_submission: bool,
    /// The store deleted (trashed) the order.
    pub deleted_in_store: bool,
    /// Items whose personalization the merchant edited in Pressroom, by line item id, with
    /// what the store had sent for each before the first edit. While the store keeps sending
    /// that, its updates leave the merchant's edit in place.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub edited_items: BTreeMap<i64, EditedItem>,
}

/// An item edited in Pressroom: the store's own personalization of it (none for an item that
/// came without one, like an Amazon order's).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EditedItem {
    pub store: Option<Personalization>,
}

/// What an update from the store did.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreUpdate {
    /// Older than what is stored (`date_modified_gmt` before ours): nothing changed.
    Stale {
        stored: Option<DateTime<Utc>>,
        incoming: Option<DateTime<Utc>>,
    },
    /// The same order as stored (a duplicate delivery, an echo of our own change).
    Unchanged,
    Changed(StoreChanges),
}

/// The parts of an order an update changed, for the history and for what to do next.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoreChanges {
    pub status: Option<StatusChange>,
    /// The store reported another status while a change made in Pressroom is still on its
    /// way to the store: Pressroom's status stays (this is the store's old state).
    pub status_kept: Option<String>,
    /// Names of the other parts that changed: "billing", "shipping", "totals", "items",
    /// "payment", "shipping_lines", "number", "customer_note".
    pub fields: Vec<&'static str>,
    /// Items whose personalization is new or changed and that are rendered: re-render them
    /// (empty when the order was submitted).
    pub rerender: Vec<i64>,
    /// Items whose personalization changed although the order was submitted.
    pub changed_after_submission: Vec<i64>,
}

impl StoreChanges {
    /// One line for the order's history.
    pub fn summary(&self) -> String {
        let mut parts = vec![];
        if let Some(s) = &self.status {
            parts.push(format!("status {} → {}", s.from.raw, s.to.raw));
        }
        if let Some(s) = &self.status_kept {
            parts.push(format!(
                "store still shows status {s}; Pressroom's change is pending"
            ));
        }
        if !self.fields.is_empty() {
            parts.push(format!("changed: {}", self.fields.join(", ")));
        }
        if !self.rerender.is_empty() {
            parts.push(format!(
                "personalization changed for item(s) {}: re-rendering",
                join_ids(&self.rerender)
            ));
        }
        if !self.changed_after_submission.is_empty() {
            parts.push(format!(
                "personalization of item(s) {} changed in the store after submission: not re-rendered",
                join_ids(&self.changed_after_submission)
            ));
        }
        if parts.is_empty() {
            "updated in the store".into()
        } else {
            parts.join("; ")
        }
    }
}

fn join_ids(ids: &[i64]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Same personalization as the customer entered it (template, values, photo URLs); whether
/// a photo was fetched yet does not matter.
fn same_personalization(a: &Option<Personalization>, b: &Option<Personalization>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.template_id == b.template_id
                && a.values == b.values
                && a.client_images.len() == b.client_images.len()
                && a.client_images
                    .iter()
                    .zip(&b.client_images)
                    .all(|(x, y)| x.field == y.field && x.source_url == y.source_url)
        }
        _ => false,
    }
}

/// Keep the fetched photos of `old` in `new` where the URL is the same.
fn carry_photos(old: &LineItem, new: &mut LineItem) {
    let (Some(old), Some(new)) = (&old.personalization, &mut new.personalization) else {
        return;
    };
    for image in &mut new.client_images {
        if let Some(o) = old
            .client_images
            .iter()
            .find(|o| o.field == image.field && o.source_url == image.source_url)
        {
            image.object_key.clone_from(&o.object_key);
            image.sha256.clone_from(&o.sha256);
        }
    }
}

impl Order {
    /// Merge an update of this order from the store (a webhook, a reconcile poll, an import).
    ///
    /// - An update whose `modified_at` is before the stored one is [`StoreUpdate::Stale`].
    /// - The status is taken verbatim ([`Order::apply_store_status`]) unless
    ///   `local_status_pending`: then a status the store reports is its old state and
    ///   Pressroom's stays.
    /// - Addresses, totals, payment, shipping lines and items are the store's; order type,
    ///   submission, countdown, flags and Pressroom's notes are kept; fetched photos are kept
    ///   where their URL did not change; a personalization the merchant edited is kept while
    ///   the store sends the same personalization it sent before the edit (when the store's
    ///   changes, the store's is taken and re-rendered).
    /// - Items whose personalization is new or changed are re-rendered, unless the order was
    ///   submitted: then they are listed in `changed_after_submission` and the order is
    ///   flagged.
    pub fn apply_store_update(
        &mut self,
        mut incoming: Order,
        local_status_pending: bool,
        now: DateTime<Utc>,
    ) -> StoreUpdate {
        if let (Some(stored), Some(new)) = (self.modified_at, incoming.modified_at)
            && new < stored
        {
            return StoreUpdate::Stale {
                stored: Some(stored),
                incoming: Some(new),
            };
        }
        let mut changes = StoreChanges::default();
        if incoming.status.raw != self.status.raw {
            if local_status_pending {
                changes.status_kept = Some(incoming.status.raw.clone());
            } else {
                changes.status = self.apply_store_status(&incoming.status.raw, now);
            }
        }
        macro_rules! take {
            ($field:ident, $name:literal) => {
                if self.$field != incoming.$field {
                    self.$field = std::mem::take(&mut incoming.$field);
                    changes.fields.push($name);
                }
            };
        }
        take!(number, "number");
        take!(billing, "billing");
        take!(shipping, "shipping");
        take!(customer, "customer");
        take!(totals, "totals");
        take!(shipping_lines, "shipping_lines");
        take!(currency, "currency");
        if (&self.payment_method, &self.payment_method_title)
            != (&incoming.payment_method, &incoming.payment_method_title)
        {
            self.payment_method = std::mem::take(&mut incoming.payment_method);
            self.payment_method_title = std::mem::take(&mut incoming.payment_method_title);
            changes.fields.push("payment");
        }
        if incoming.paid_at.is_some() {
            self.paid_at = incoming.paid_at;
        }
        for note in incoming.notes {
            if !self.notes.contains(&note) {
                self.notes.push(note);
                if !changes.fields.contains(&"customer_note") {
                    changes.fields.push("customer_note");
                }
            }
        }

        let locked = self.submit_status.design_locked();
        let mut items_changed = self.items.len() != incoming.items.len();
        let mut edits_replaced = vec![];
        for new in &mut incoming.items {
            let old = self.items.iter().find(|o| o.id == new.id);
            if let (Some(old), Some(edited)) = (old, self.flags.edited_items.get(&new.id)) {
                if same_personalization(&edited.store, &new.personalization) {
                    // The store still sends what the merchant edited: the edit stands.
                    new.personalization.clone_from(&old.personalization);
                } else {
                    // The store's personalization changed since the edit: the newer one wins.
                    edits_replaced.push(new.id);
                }
            }
            if let Some(old) = old {
                carry_photos(old, new);
                if old != new {
                    items_changed = true;
                }
            } else {
                items_changed = true;
            }
            let personalization_changed =
                old.is_none_or(|o| !same_personalization(&o.personalization, &new.personalization));
            let newly_rendered = old.is_some_and(|o| !o.is_rendered()) && new.is_rendered();
            if new.is_rendered() && (personalization_changed || newly_rendered) {
                if locked {
                    changes.changed_after_submission.push(new.id);
                } else {
                    changes.rerender.push(new.id);
                }
            }
        }
        for id in edits_replaced {
            self.flags.edited_items.remove(&id);
        }
        if items_changed {
            self.items = incoming.items;
            changes.fields.push("items");
        }
        if !changes.changed_after_submission.is_empty() {
            self.flags.changed_after_submission = true;
        }
        if changes == StoreChanges::default() {
            // Only the store's modification time moved (an echo of our own change): nothing
            // to record.
            return StoreUpdate::Unchanged;
        }
        if incoming.modified_at.is_some() {
            self.modified_at = incoming.modified_at;
        }
        StoreUpdate::Changed(changes)
    }
}
