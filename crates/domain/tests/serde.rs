//! Serialized forms: orders round-trip losslessly and money stays exact decimal strings.

mod common;
use common::*;
use domain::*;
use serde_json::json;

#[test]
fn order_round_trips_through_json() {
    let mut order = in_app_order();
    order.status = StoreStatus::new("On Hold");
    order.countdown = Countdown::start(t(0), h(6));
    order.countdown.pause(t(2));
    for submit in [SubmitStatus::Blank, submitted(), failed(), review()] {
        order.submit_status = submit;
        let json = serde_json::to_string_pretty(&order).unwrap();
        let back: Order = serde_json::from_str(&json).unwrap();
        assert_eq!(back, order);
    }
}

#[test]
fn default_order_round_trips() {
    let order = Order::default();
    let back: Order = serde_json::from_str(&serde_json::to_string(&order).unwrap()).unwrap();
    assert_eq!(back, order);
}

#[test]
fn money_is_an_exact_string_in_json() {
    let order = in_app_order();
    let v = serde_json::to_value(&order).unwrap();
    assert_eq!(v["totals"]["total"], json!("29.35"));
    assert_eq!(v["totals"]["subtotal"], json!("18.00"));
    assert_eq!(v["shipping_lines"][0]["total"], json!("10.00"));
    assert_eq!(v["items"][1]["price"], json!("12"));
    let back: Order = serde_json::from_value(v).unwrap();
    assert_eq!(back.totals.total.to_string(), "29.35");
    // Scale survives too ("0.00" is not turned into "0").
    assert_eq!(back.totals.discount_total.to_string(), "0.00");
}

#[test]
fn money_sums_are_exact() {
    // 0.1 + 0.2 is 0.3 exactly, unlike f64.
    assert_eq!(dec("0.1") + dec("0.2"), dec("0.3"));
    let order = in_app_order();
    let items: Decimal = order.items.iter().map(|i| i.total).sum();
    assert_eq!(items, dec("18.00"));
    let t = &order.totals;
    assert_eq!(
        t.subtotal + t.shipping_total + t.tax_total - t.discount_total,
        t.total
    );
    // A thousand 29.35 orders add up to exactly 29350.00.
    let sum: Decimal = std::iter::repeat_n(t.total, 1000).sum();
    assert_eq!(sum.to_string(), "29350.00");
}

#[test]
fn money_as_a_json_number_is_refused() {
    // A float would already have lost exactness; the model only accepts strings.
    let err = serde_json::from_value::<Totals>(json!({ "total": 29.35 }));
    assert!(err.is_err());
}

#[test]
fn submit_status_is_tagged_by_state() {
    let table = [
        (SubmitStatus::Blank, json!({ "state": "blank" })),
        (
            submitted(),
            json!({ "state": "submitted", "provider": "printful", "provider_order_id": "PF-1", "at": "2024-05-01T13:00:00Z" }),
        ),
        (
            failed(),
            json!({ "state": "failed", "reason": "bad file", "at": "2024-05-01T13:00:00Z" }),
        ),
        (
            review(),
            json!({ "state": "review", "reason": "timeout", "at": "2024-05-01T13:00:00Z" }),
        ),
    ];
    for (status, want) in table {
        assert_eq!(serde_json::to_value(&status).unwrap(), want);
        assert_eq!(
            serde_json::from_value::<SubmitStatus>(want).unwrap(),
            status
        );
    }
}

#[test]
fn order_type_names() {
    let table = [
        (OrderType::InApp, "in_app"),
        (OrderType::Amazon, "amazon"),
        (OrderType::ShineOn, "shine_on"),
        (OrderType::Others, "others"),
    ];
    for (ty, name) in table {
        assert_eq!(ty.as_str(), name);
        assert_eq!(serde_json::to_value(ty).unwrap(), json!(name));
        assert_eq!(
            serde_json::from_value::<OrderType>(json!(name)).unwrap(),
            ty
        );
    }
}

#[test]
fn countdown_effect_and_rule_violation_serialize() {
    assert_eq!(
        serde_json::to_value(CountdownEffect::Paused).unwrap(),
        json!("paused")
    );
    let v = RuleViolation::ClosedOrder {
        number: "7".into(),
        status: "Cancelled".into(),
    };
    let back: RuleViolation = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
    assert_eq!(back, v);
}
