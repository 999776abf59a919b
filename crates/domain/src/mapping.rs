//! How a store's line items map to templates and template fields. Comes from configuration
//! (TOML), e.g.
//!
//! ```toml
//! photo_fields = ["photo"]
//! [[products]]
//! sku = "Bar3"
//! template = "pet-portrait"
//! [[fields]]
//! meta_key = "Name"
//! field = "pet_name"
//! ```
//!
//! Unknown keys are rejected so a typo ("skus") fails loudly instead of matching nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ClientImage, Personalization};

/// Which store product uses which template. Every criterion that is set must match; a rule
/// with no criterion matches nothing (a catch-all would personalize every product by accident).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProductRule {
    pub sku: Option<String>,
    pub product_id: Option<i64>,
    pub variation_id: Option<i64>,
    pub template: String,
}

impl ProductRule {
    pub fn matches(&self, sku: &str, product_id: i64, variation_id: i64) -> bool {
        if self.sku.is_none() && self.product_id.is_none() && self.variation_id.is_none() {
            return false;
        }
        // An item without a SKU never matches a SKU rule, even an empty one.
        let sku_ok = self
            .sku
            .as_deref()
            .is_none_or(|want| !sku.trim().is_empty() && want.trim() == sku.trim());
        let product_ok = self.product_id.is_none_or(|want| want == product_id);
        let variation_ok = self.variation_id.is_none_or(|want| want == variation_id);
        sku_ok && product_ok && variation_ok
    }
}

/// A line item meta key (what the store's personalization plugin writes) and the template
/// field it fills. The key is matched case-insensitively: "Name", "name" -> `field`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    pub meta_key: String,
    pub field: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ItemMapping {
    /// Checked in order; the first match wins.
    pub products: Vec<ProductRule>,
    pub fields: Vec<FieldMapping>,
    /// Template field ids whose values are image URLs (the customer's uploads).
    pub photo_fields: Vec<String>,
}

impl ItemMapping {
    /// The template of the first rule matching this item.
    pub fn template_for(&self, sku: &str, product_id: i64, variation_id: i64) -> Option<&str> {
        self.products
            .iter()
            .find(|r| r.matches(sku, product_id, variation_id))
            .map(|r| r.template.as_str())
    }

    /// The template field a meta key fills (first mapping whose key matches, ignoring case and
    /// surrounding spaces).
    pub fn field_for(&self, meta_key: &str) -> Option<&str> {
        let key = meta_key.trim().to_lowercase();
        self.fields
            .iter()
            .find(|m| m.meta_key.trim().to_lowercase() == key)
            .map(|m| m.field.as_str())
    }

    pub fn is_photo_field(&self, field: &str) -> bool {
        self.photo_fields.iter().any(|f| f == field)
    }

    /// The personalization of a line item: its template (the first matching product rule) and
    /// the field values its meta entries fill, with the photo fields' URLs as client images to
    /// fetch. `None` when no rule matches (the item is not personalized by Pressroom).
    ///
    /// `meta` is the item's meta entries as (key, text value), in the store's order; the first
    /// entry for a field wins, since later duplicates are plugin echoes.
    pub fn personalize<'a>(
        &self,
        sku: &str,
        product_id: i64,
        variation_id: i64,
        meta: impl IntoIterator<Item = (&'a str, String)>,
    ) -> Option<Personalization> {
        let template = self.template_for(sku, product_id, variation_id)?;
        let mut values = BTreeMap::new();
        for (key, value) in meta {
            if let Some(f) = self.field_for(key) {
                values.entry(f.to_owned()).or_insert(value);
            }
        }
        let client_images = self
            .photo_fields
            .iter()
            .filter_map(|f| {
                let url = values.get(f)?.trim();
                (!url.is_empty()).then(|| ClientImage {
                    field: f.clone(),
                    source_url: url.to_owned(),
                    object_key: None,
                    sha256: None,
                })
            })
            .collect();
        Some(Personalization {
            template_id: template.to_owned(),
            values,
            client_images,
        })
    }
}
