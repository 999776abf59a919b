//! Shipment news merges: numbers are added, never replaced; a status only moves forwards;
//! repeats change nothing; fulfillment follows from the parcels.

mod common;

use common::*;
use domain::*;

use ShipmentStatus::*;

fn update(id: &str, tracking: &str, status: Option<ShipmentStatus>) -> ShipmentUpdate {
    ShipmentUpdate {
        id: (!id.is_empty()).then(|| id.to_owned()),
        carrier: "UPS".into(),
        tracking_number: tracking.into(),
        tracking_url: String::new(),
        status,
        items: vec![],
        shipped_at: None,
    }
}

#[test]
fn a_status_moves_only_forwards() {
    // (from, to, allowed)
    let table = [
        (AwaitingShipment, Shipped, true),
        (Shipped, InTransit, true),
        (InTransit, OutForDelivery, true),
        (OutForDelivery, Delivered, true),
        (OutForDelivery, DeliveryFailed, true),
        (DeliveryFailed, Delivered, true),
        (Delivered, Returned, true),
        (AwaitingShipment, Cancelled, true),
        (Delivered, Shipped, false),
        (Delivered, InTransit, false),
        (InTransit, Shipped, false),
        (Shipped, AwaitingShipment, false),
        (Shipped, Cancelled, false),
        (Delivered, Cancelled, false),
        (Returned, Delivered, false),
        (Cancelled, Shipped, true),
        (Cancelled, AwaitingShipment, false),
        (Shipped, Shipped, false),
    ];
    for (from, to, allowed) in table {
        assert_eq!(from.may_become(to), allowed, "{from:?} -> {to:?}");
    }
}

#[test]
fn repeated_and_late_news_never_undo_a_delivery() {
    let mut o = in_app_order();
    let first = o.apply_shipment("printful", &update("s1", "1Z1", Some(Shipped)), t(1));
    assert_eq!(first, ShipmentMerge::New { index: 0 });
    let delivered = o.apply_shipment("printful", &update("s1", "1Z1", Some(Delivered)), t(3));
    assert_eq!(
        delivered,
        ShipmentMerge::Changed {
            index: 0,
            from: Shipped,
            to: Delivered
        }
    );
    // The "shipped" webhook delivered late, then again.
    for _ in 0..3 {
        let late = o.apply_shipment("printful", &update("s1", "1Z1", Some(Shipped)), t(4));
        assert_eq!(late, ShipmentMerge::Unchanged { index: 0 });
    }
    assert_eq!(o.shipments.len(), 1);
    assert_eq!(o.shipments[0].status, Delivered);
    assert_eq!(o.shipments[0].updated_at, t(3));
}

#[test]
fn tracking_numbers_merge_and_are_never_overwritten() {
    let mut o = in_app_order();
    // Known first without a number, then with one, then a new label for the same parcel.
    o.apply_shipment("gelato", &update("p1", "", Some(AwaitingShipment)), t(1));
    o.apply_shipment("gelato", &update("p1", "TRACK-A", None), t(2));
    o.apply_shipment("gelato", &update("p1", "TRACK-B", None), t(3));
    o.apply_shipment("gelato", &update("p1", "", None), t(4));
    let s = &o.shipments[0];
    assert_eq!(s.tracking_number, "TRACK-A");
    assert_eq!(s.more_tracking_numbers, vec!["TRACK-B".to_owned()]);
    assert_eq!(s.status, Shipped, "a number means it left");
    assert_eq!(s.unpushed_tracking(), vec!["TRACK-A", "TRACK-B"]);
}

#[test]
fn a_parcel_without_an_id_is_known_by_its_tracking_number() {
    let mut o = in_app_order();
    o.apply_shipment("customcat", &update("", "9400", Some(Shipped)), t(1));
    o.apply_shipment("customcat", &update("", "9400", Some(Delivered)), t(2));
    assert_eq!(o.shipments.len(), 1);
    assert_eq!(o.shipments[0].id, "9400");
    assert_eq!(
        o.apply_shipment("customcat", &update("", "", Some(Delivered)), t(3)),
        ShipmentMerge::Unidentified
    );
}

#[test]
fn fulfillment_follows_the_parcels() {
    let mut o = in_app_order();
    // Two of the personalized item.
    o.items[1].quantity = 2;
    assert_eq!(o.fulfillment(), FulfillmentState::Unfulfilled);
    let parcel = |id: &str, qty: u32, status| ShipmentUpdate {
        items: vec![ShipmentItem {
            line_item_id: 316,
            quantity: qty,
        }],
        ..update(id, &format!("T-{id}"), Some(status))
    };
    o.apply_shipment("printful", &parcel("a", 1, AwaitingShipment), t(1));
    assert_eq!(o.fulfillment(), FulfillmentState::Unfulfilled);
    o.apply_shipment("printful", &parcel("a", 1, Shipped), t(2));
    assert_eq!(o.fulfillment(), FulfillmentState::PartiallyFulfilled);
    o.apply_shipment("printful", &parcel("b", 1, InTransit), t(3));
    assert_eq!(o.fulfillment(), FulfillmentState::Fulfilled);
    o.apply_shipment("printful", &parcel("a", 1, Delivered), t(4));
    assert_eq!(o.fulfillment(), FulfillmentState::Fulfilled);
    o.apply_shipment("printful", &parcel("b", 1, Delivered), t(5));
    assert_eq!(o.fulfillment(), FulfillmentState::Delivered);
    // A parcel that names no items holds the whole order.
    let mut whole = in_app_order();
    whole.apply_shipment("sandbox", &update("x", "SBX1", Some(Shipped)), t(1));
    assert_eq!(whole.fulfillment(), FulfillmentState::Fulfilled);
}
