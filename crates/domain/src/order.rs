//! The order as Pressroom keeps it, and the rules about rendering, editing, store status
//! changes and automatic submission.

use crate::{Countdown, Decimal, StatusKind, StoreStatus, SubmitStatus};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the order came from; only in-app orders submit automatically, the others are
/// personalized by the merchant in the editor and submitted by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    /// Placed on the store with a Pressroom template.
    InApp,
    Amazon,
    ShineOn,
    #[default]
    Others,
}

impl OrderType {
    /// Same as the serde form: "in_app", "amazon", "shine_on", "others".
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderType::InApp => "in_app",
            OrderType::Amazon => "amazon",
            OrderType::ShineOn => "shine_on",
            OrderType::Others => "others",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub address_1: String,
    pub address_2: String,
    pub city: String,
    pub state: String,
    pub postcode: String,
    pub country: String,
    pub email: String,
    pub phone: String,
}

/// A summary for lists and search; the full addresses are on the order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Customer {
    pub name: String,
    pub city: String,
    pub state: String,
    pub country: String,
    pub email: String,
}

/// Order money in the order's currency, exact.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Totals {
    pub total: Decimal,
    pub subtotal: Decimal,
    pub shipping_total: Decimal,
    pub tax_total: Decimal,
    pub discount_total: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ShippingLine {
    pub method_id: String,
    pub method_title: String,
    pub total: Decimal,
}

/// A visible line item option (color, size, a personalization value), as the store shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attribute {
    pub key: String,
    pub value: String,
}

/// A customer upload for a template photo field.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClientImage {
    pub field: String,
    pub source_url: String,
    /// Set once the image has been fetched into object storage.
    #[serde(default)]
    pub object_key: Option<String>,
    /// Hex SHA-256 of the fetched bytes, set with `object_key`.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// What the customer chose for a templated item.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Personalization {
    pub template_id: String,
    /// Template field id -> value.
    pub values: BTreeMap<String, String>,
    pub client_images: Vec<ClientImage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LineItem {
    /// The store's line item id.
    pub id: i64,
    #[serde(default)]
    pub sku: String,
    #[serde(default)]
    pub product_id: i64,
    #[serde(default)]
    pub variation_id: i64,
    #[serde(default)]
    pub name: String,
    pub quantity: u32,
    #[serde(default)]
    pub price: Decimal,
    #[serde(default)]
    pub total: Decimal,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
    #[serde(default)]
    pub personalization: Option<Personalization>,
}

impl LineItem {
    /// Whether this line gets a print file: a template maps to it and it was not removed.
    pub fn is_rendered(&self) -> bool {
        self.personalization.is_some() && self.quantity > 0
    }

    /// Why this line gets no print file, in the merchant's words; `None` when it is rendered.
    /// Quantity 0 is a line the store removed (an edited order): kept for the record, never
    /// rendered.
    pub fn not_rendered_reason(&self) -> Option<String> {
        if self.quantity == 0 {
            Some("quantity 0: the line was removed from the order, so it is not rendered".into())
        } else if self.personalization.is_some() {
            None
        } else if self.sku.is_empty() {
            Some(format!(
                "product {} has no SKU and no template maps to it, so it is not rendered",
                self.product_id
            ))
        } else {
            Some(format!(
                "SKU {:?} has no template, so it is not rendered",
                self.sku
            ))
        }
    }
}

/// A note on an order: the customer's (from the store, id 0) or one written in Pressroom
/// (ids from 1), which its readers may edit or delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// 0 for a note that came from the store; 1, 2, … for Pressroom's, never reused.
    #[serde(default)]
    pub id: u64,
    pub at: DateTime<Utc>,
    pub author: String,
    pub text: String,
    pub customer_visible: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime<Utc>>,
}

/// Why a note could not be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("a note is 1 to 10,000 characters")]
    Length,
    #[error("order has no note {0}")]
    NotFound(u64),
    #[error("the customer's note comes from the store and is changed there")]
    FromStore,
}

/// The longest note, in characters.
pub const NOTE_MAX_CHARS: usize = 10_000;

fn note_text(text: &str) -> Result<String, NoteError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > NOTE_MAX_CHARS {
        return Err(NoteError::Length);
    }
    Ok(text.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Order {
    pub store_order_id: i64,
    pub number: String,
    pub status: StoreStatus,
    pub created_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub modified_at: Option<DateTime<Utc>>,
    pub customer: Customer,
    pub billing: Address,
    pub shipping: Address,
    pub payment_method: String,
    pub payment_method_title: String,
    pub currency: String,
    pub totals: Totals,
    pub shipping_lines: Vec<ShippingLine>,
    pub items: Vec<LineItem>,
    pub order_type: OrderType,
    pub submit_status: SubmitStatus,
    pub countdown: Countdown,
    pub notes: Vec<Note>,
    /// What Pressroom noticed about the order's life in the store.
    #[serde(default)]
    pub flags: crate::StoreFlags,
    /// Parcels the provider (or the merchant, for manual fulfilment) reported.
    #[serde(default)]
    pub shipments: Vec<crate::Shipment>,
    /// How many times a submission was claimed (each claim's provider id ends with it).
    #[serde(default)]
    pub submission_attempts: u32,
    /// Render versions whose preflight errors the merchant accepted: item id -> version.
    #[serde(default)]
    pub preflight_overrides: BTreeMap<i64, i64>,
    /// Why the countdown reached zero without submitting, shown until it goes.
    #[serde(default)]
    pub submission_blocked: Option<String>,
    /// A test order: it goes only to the sandbox provider and never to the store.
    #[serde(default)]
    pub test: bool,
    /// The highest note id given out, so a deleted note's id is not given again.
    #[serde(default)]
    pub last_note_id: u64,
}

/// What a store status update changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub from: StoreStatus,
    pub to: StoreStatus,
    pub countdown: CountdownEffect,
}

/// What a store status update did to the submission countdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountdownEffect {
    Unchanged,
    Paused,
    Resumed,
    Cleared,
}

/// Why an action on an order is refused. `code()` is stable for APIs and the UI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum RuleViolation {
    #[error("order {number} was submitted; its design is locked")]
    DesignLocked { number: String },
    #[error("order {number} is {status}; it cannot be rendered")]
    ClosedOrder { number: String, status: String },
}

impl RuleViolation {
    pub fn code(&self) -> &'static str {
        match self {
            RuleViolation::DesignLocked { .. } => "design_locked",
            RuleViolation::ClosedOrder { .. } => "order_closed",
        }
    }
}

impl Order {
    /// Adds an internal note written in Pressroom; returns its id.
    pub fn add_note(
        &mut self,
        at: DateTime<Utc>,
        author: &str,
        text: &str,
    ) -> Result<u64, NoteError> {
        let text = note_text(text)?;
        // Ids are never reused, so a deleted note's id stays free of another's history.
        let id = self.next_note_id();
        self.last_note_id = id;
        self.notes.push(Note {
            id,
            at,
            author: author.to_owned(),
            text,
            customer_visible: false,
            edited_at: None,
        });
        Ok(id)
    }

    /// Replaces the text of a Pressroom note; returns the text it had.
    pub fn edit_note(
        &mut self,
        id: u64,
        text: &str,
        at: DateTime<Utc>,
    ) -> Result<String, NoteError> {
        let text = note_text(text)?;
        let note = self.own_note(id)?;
        note.edited_at = Some(at);
        Ok(std::mem::replace(&mut note.text, text))
    }

    /// Removes a Pressroom note; returns it.
    pub fn delete_note(&mut self, id: u64) -> Result<Note, NoteError> {
        self.own_note(id)?;
        let at = self
            .notes
            .iter()
            .position(|n| n.id == id)
            .ok_or(NoteError::NotFound(id))?;
        Ok(self.notes.remove(at))
    }

    fn own_note(&mut self, id: u64) -> Result<&mut Note, NoteError> {
        if id == 0 {
            return Err(NoteError::FromStore);
        }
        self.notes
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or(NoteError::NotFound(id))
    }

    fn next_note_id(&self) -> u64 {
        self.notes
            .iter()
            .map(|n| n.id)
            .chain([self.last_note_id])
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Items to render: they carry a template personalization and were not removed
    /// (quantity 0).
    pub fn personalized_items(&self) -> impl Iterator<Item = &LineItem> {
        self.items.iter().filter(|i| i.is_rendered())
    }

    /// The items that get no print file, with why (for the merchant and the history).
    pub fn unrendered_items(&self) -> impl Iterator<Item = (&LineItem, String)> {
        self.items
            .iter()
            .filter_map(|i| i.not_rendered_reason().map(|why| (i, why)))
    }

    /// The item with this store line item id.
    pub fn item(&self, id: i64) -> Option<&LineItem> {
        self.items.iter().find(|i| i.id == id)
    }

    /// Rendering is refused once the design is locked (the provider may have the files) and
    /// for cancelled or refunded orders (nothing will be printed). The lock is checked first.
    pub fn can_render(&self) -> Result<(), RuleViolation> {
        if self.submit_status.design_locked() {
            return Err(RuleViolation::DesignLocked {
                number: self.number.clone(),
            });
        }
        if matches!(
            self.status.kind,
            StatusKind::Cancelled | StatusKind::Refunded
        ) {
            // The merchant's own wording, as their store shows it.
            let status = if self.status.raw.trim().is_empty() {
                self.status.kind.as_str().to_owned()
            } else {
                self.status.raw.clone()
            };
            return Err(RuleViolation::ClosedOrder {
                number: self.number.clone(),
                status,
            });
        }
        Ok(())
    }

    /// Editing a personalization follows the same rule as rendering: an edit is only useful
    /// for a new render.
    pub fn can_edit(&self) -> Result<(), RuleViolation> {
        self.can_render()
    }

    /// The store reported a (possibly) new status. Keeps the raw string verbatim; returns what
    /// changed; pauses/resumes the countdown (OnHold pauses, leaving OnHold resumes;
    /// Cancelled/Refunded/Failed clear it). A status the same as now returns None.
    ///
    /// "Same" means the identical raw string: a new spelling of the same kind ("on-hold" ->
    /// "On hold") is stored and reported, with the countdown unchanged.
    pub fn apply_store_status(&mut self, raw: &str, now: DateTime<Utc>) -> Option<StatusChange> {
        if raw == self.status.raw {
            return None;
        }
        let to = StoreStatus::new(raw);
        let from = std::mem::replace(&mut self.status, to.clone());
        let cd = &mut self.countdown;
        let effect = if matches!(
            to.kind,
            StatusKind::Cancelled | StatusKind::Refunded | StatusKind::Failed
        ) {
            // Nothing will be printed: forget the countdown, even a paused one.
            if cd.is_none() {
                CountdownEffect::Unchanged
            } else {
                cd.clear();
                CountdownEffect::Cleared
            }
        } else if to.kind == StatusKind::OnHold && from.kind != StatusKind::OnHold {
            if cd.is_running() {
                cd.pause(now);
                CountdownEffect::Paused
            } else {
                CountdownEffect::Unchanged
            }
        } else if from.kind == StatusKind::OnHold && to.kind != StatusKind::OnHold {
            if cd.is_paused() {
                cd.resume(now);
                CountdownEffect::Resumed
            } else {
                CountdownEffect::Unchanged
            }
        } else {
            CountdownEffect::Unchanged
        };
        Some(StatusChange {
            from,
            to,
            countdown: effect,
        })
    }

    /// Start the countdown if this order should auto-submit: order_type InApp, kind
    /// Processing, submit status Blank, countdown not already set, not deleted in the store.
    /// It runs from the moment the order became payable: the store's payment time when it
    /// has one (and it is not in the future), else `now`. Returns whether it started.
    pub fn start_countdown(&mut self, now: DateTime<Utc>, delay: Duration) -> bool {
        let eligible = self.order_type == OrderType::InApp
            && self.status.kind == StatusKind::Processing
            && self.submit_status == SubmitStatus::Blank
            && self.countdown.is_none()
            && !self.flags.deleted_in_store;
        if eligible {
            let payable = self.paid_at.filter(|p| *p <= now).unwrap_or(now);
            self.countdown = Countdown::start(payable, delay);
        }
        eligible
    }

    /// Whether the order should be submitted automatically now (InApp, Processing,
    /// can_submit, countdown due, `preflight_errors == 0`).
    pub fn auto_submit_due(&self, now: DateTime<Utc>, preflight_errors: usize) -> bool {
        self.order_type == OrderType::InApp
            && self.status.kind.allows_submission()
            && self.submit_status.can_submit()
            && self.countdown.is_due(now)
            && preflight_errors == 0
    }
}
