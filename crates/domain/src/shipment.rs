//! Parcels on their way to the customer, and how news about them is merged.
//!
//! Providers report shipments by webhook and by poll, repeatedly and out of order. The rules:
//! a shipment is known by the provider's shipment id (or its tracking number when the provider
//! gives no id); tracking numbers are added, never replaced; a status never moves backwards (a
//! late "shipped" cannot undo "delivered"). The order's fulfillment state is derived from its
//! shipments, never stored on its own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Order;

/// Where one parcel stands, in the order a parcel goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    AwaitingShipment,
    Shipped,
    InTransit,
    OutForDelivery,
    DeliveryFailed,
    Delivered,
    Returned,
    /// Cancelled before it left; news of a parcel that already left cannot cancel it.
    Cancelled,
}

impl ShipmentStatus {
    pub const ALL: [ShipmentStatus; 8] = [
        ShipmentStatus::AwaitingShipment,
        ShipmentStatus::Shipped,
        ShipmentStatus::InTransit,
        ShipmentStatus::OutForDelivery,
        ShipmentStatus::DeliveryFailed,
        ShipmentStatus::Delivered,
        ShipmentStatus::Returned,
        ShipmentStatus::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            ShipmentStatus::AwaitingShipment => "awaiting_shipment",
            ShipmentStatus::Shipped => "shipped",
            ShipmentStatus::InTransit => "in_transit",
            ShipmentStatus::OutForDelivery => "out_for_delivery",
            ShipmentStatus::DeliveryFailed => "delivery_failed",
            ShipmentStatus::Delivered => "delivered",
            ShipmentStatus::Returned => "returned",
            ShipmentStatus::Cancelled => "cancelled",
        }
    }

    /// The merchant's words.
    pub fn label(&self) -> &'static str {
        match self {
            ShipmentStatus::AwaitingShipment => "Awaiting shipment",
            ShipmentStatus::Shipped => "Shipped",
            ShipmentStatus::InTransit => "In transit",
            ShipmentStatus::OutForDelivery => "Out for delivery",
            ShipmentStatus::DeliveryFailed => "Delivery failed",
            ShipmentStatus::Delivered => "Delivered",
            ShipmentStatus::Returned => "Returned",
            ShipmentStatus::Cancelled => "Cancelled",
        }
    }

    /// Progress rank: an update may only raise it. A failed delivery ranks below delivered
    /// (a second attempt may still deliver), returned above it.
    fn rank(&self) -> u8 {
        match self {
            ShipmentStatus::AwaitingShipment => 0,
            ShipmentStatus::Cancelled => 1,
            ShipmentStatus::Shipped => 2,
            ShipmentStatus::InTransit => 3,
            ShipmentStatus::OutForDelivery => 4,
            ShipmentStatus::DeliveryFailed => 5,
            ShipmentStatus::Delivered => 6,
            ShipmentStatus::Returned => 7,
        }
    }

    /// The parcel has left the provider (it counts towards fulfillment).
    pub fn has_left(&self) -> bool {
        self.rank() >= ShipmentStatus::Shipped.rank()
    }

    /// Whether a parcel at `self` may move to `to`.
    pub fn may_become(&self, to: ShipmentStatus) -> bool {
        if to == ShipmentStatus::Cancelled {
            // Only a parcel that has not left can be cancelled.
            return *self == ShipmentStatus::AwaitingShipment;
        }
        if *self == ShipmentStatus::Cancelled {
            // A cancelled parcel that turns out to have left is news worth keeping.
            return to.has_left();
        }
        to.rank() > self.rank()
    }
}

impl std::str::FromStr for ShipmentStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ShipmentStatus::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown shipment status {s:?}"))
    }
}

/// Which line item (the store's line item id) and how many of it a parcel holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentItem {
    pub line_item_id: i64,
    pub quantity: u32,
}

/// One parcel as Pressroom keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// The provider that sent it ("printful", "manual", ...).
    pub provider: String,
    /// The provider's shipment id, or the tracking number when the provider gives none.
    pub id: String,
    #[serde(default)]
    pub carrier: String,
    /// The first tracking number reported; never replaced.
    #[serde(default)]
    pub tracking_number: String,
    /// Numbers reported later for the same parcel (a new label), kept beside the first.
    #[serde(default)]
    pub more_tracking_numbers: Vec<String>,
    #[serde(default)]
    pub tracking_url: String,
    pub status: ShipmentStatus,
    /// Empty when the provider did not say: the parcel is taken to hold the whole order.
    #[serde(default)]
    pub items: Vec<ShipmentItem>,
    #[serde(default)]
    pub shipped_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Tracking numbers already handed to the store's outbox (each goes once).
    #[serde(default)]
    pub pushed_to_store: Vec<String>,
}

impl Shipment {
    /// Every tracking number of this parcel, the first one first.
    pub fn tracking_numbers(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.tracking_number.as_str())
            .chain(self.more_tracking_numbers.iter().map(String::as_str))
            .filter(|n| !n.is_empty())
    }

    /// Tracking numbers not yet handed to the store.
    pub fn unpushed_tracking(&self) -> Vec<String> {
        self.tracking_numbers()
            .filter(|n| !self.pushed_to_store.iter().any(|p| p == n))
            .map(str::to_owned)
            .collect()
    }
}

/// News about a parcel, from a provider's webhook, a poll or the merchant (manual provider).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ShipmentUpdate {
    /// The provider's shipment id, when it has one.
    pub id: Option<String>,
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: String,
    pub status: Option<ShipmentStatus>,
    pub items: Vec<ShipmentItem>,
    pub shipped_at: Option<DateTime<Utc>>,
}

/// What merging a [`ShipmentUpdate`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum ShipmentMerge {
    /// A parcel not seen before.
    New { index: usize },
    /// Something new about a known parcel (status forward, a tracking number, a carrier).
    Changed {
        index: usize,
        from: ShipmentStatus,
        to: ShipmentStatus,
    },
    /// Nothing new (a repeat, or a status that would move backwards).
    Unchanged { index: usize },
    /// Neither an id nor a tracking number: nothing to know the parcel by.
    Unidentified,
}

/// The order's fulfillment, derived from its shipments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentState {
    Unfulfilled,
    PartiallyFulfilled,
    Fulfilled,
    Delivered,
}

impl FulfillmentState {
    pub fn as_str(&self) -> &'static str {
        match self {
            FulfillmentState::Unfulfilled => "unfulfilled",
            FulfillmentState::PartiallyFulfilled => "partially_fulfilled",
            FulfillmentState::Fulfilled => "fulfilled",
            FulfillmentState::Delivered => "delivered",
        }
    }

    /// Everything has left the provider (fulfilled or delivered).
    pub fn all_shipped(&self) -> bool {
        matches!(
            self,
            FulfillmentState::Fulfilled | FulfillmentState::Delivered
        )
    }
}

impl Order {
    /// Merge news about a parcel: find it by id (or tracking number), add what is new, move
    /// its status only forwards.
    pub fn apply_shipment(
        &mut self,
        provider: &str,
        update: &ShipmentUpdate,
        now: DateTime<Utc>,
    ) -> ShipmentMerge {
        let tracking = update.tracking_number.trim();
        let id = update
            .id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(tracking);
        if id.is_empty() {
            return ShipmentMerge::Unidentified;
        }
        let found = self.shipments.iter().position(|s| {
            s.provider == provider
                && (s.id == id
                    || (!tracking.is_empty() && s.tracking_numbers().any(|n| n == tracking)))
        });
        let Some(index) = found else {
            self.shipments.push(Shipment {
                provider: provider.to_owned(),
                id: id.to_owned(),
                carrier: update.carrier.trim().to_owned(),
                tracking_number: tracking.to_owned(),
                more_tracking_numbers: Vec::new(),
                tracking_url: update.tracking_url.trim().to_owned(),
                status: update.status.unwrap_or(if tracking.is_empty() {
                    ShipmentStatus::AwaitingShipment
                } else {
                    ShipmentStatus::Shipped
                }),
                items: update.items.clone(),
                shipped_at: update.shipped_at,
                updated_at: now,
                pushed_to_store: Vec::new(),
            });
            return ShipmentMerge::New {
                index: self.shipments.len() - 1,
            };
        };
        let s = &mut self.shipments[index];
        let from = s.status;
        let mut changed = false;
        if !tracking.is_empty() && !s.tracking_numbers().any(|n| n == tracking) {
            if s.tracking_number.is_empty() {
                s.tracking_number = tracking.to_owned();
            } else {
                s.more_tracking_numbers.push(tracking.to_owned());
            }
            changed = true;
        }
        for (mine, theirs) in [
            (&mut s.carrier, update.carrier.trim()),
            (&mut s.tracking_url, update.tracking_url.trim()),
        ] {
            // Filled in, never blanked or replaced.
            if mine.is_empty() && !theirs.is_empty() {
                *mine = theirs.to_owned();
                changed = true;
            }
        }
        if s.items.is_empty() && !update.items.is_empty() {
            s.items = update.items.clone();
            changed = true;
        }
        if s.shipped_at.is_none() && update.shipped_at.is_some() {
            s.shipped_at = update.shipped_at;
            changed = true;
        }
        let to_status = update
            .status
            .or((!tracking.is_empty()).then_some(ShipmentStatus::Shipped));
        if let Some(to) = to_status
            && s.status.may_become(to)
        {
            s.status = to;
            changed = true;
        }
        if changed {
            s.updated_at = now;
            ShipmentMerge::Changed {
                index,
                from,
                to: s.status,
            }
        } else {
            ShipmentMerge::Unchanged { index }
        }
    }

    /// Unfulfilled, partially fulfilled (some items left), fulfilled (every personalized
    /// item's quantity left) or delivered (fulfilled, and every parcel that left arrived).
    /// A parcel that says nothing of its items is taken to hold the whole order.
    pub fn fulfillment(&self) -> FulfillmentState {
        let left: Vec<&Shipment> = self
            .shipments
            .iter()
            .filter(|s| s.status.has_left())
            .collect();
        if left.is_empty() {
            return FulfillmentState::Unfulfilled;
        }
        let whole = left.iter().any(|s| s.items.is_empty());
        let all = whole
            || self.personalized_items().all(|item| {
                let shipped: u32 = left
                    .iter()
                    .flat_map(|s| &s.items)
                    .filter(|si| si.line_item_id == item.id)
                    .map(|si| si.quantity)
                    .sum();
                shipped >= item.quantity
            });
        if !all {
            return FulfillmentState::PartiallyFulfilled;
        }
        if left
            .iter()
            .all(|s| matches!(s.status, ShipmentStatus::Delivered))
        {
            FulfillmentState::Delivered
        } else {
            FulfillmentState::Fulfilled
        }
    }
}
