//! What an update from the store does to an order Pressroom has (`apply_store_update`), and
//! how an order's type is decided: table tests.

mod common;

use common::*;
use domain::*;

/// The store's copy of `in_app_order()`, as a webhook would carry it: no fetched photos.
fn from_store(edit: impl FnOnce(&mut Order)) -> Order {
    let mut o = in_app_order();
    for item in &mut o.items {
        if let Some(p) = &mut item.personalization {
            for image in &mut p.client_images {
                image.object_key = None;
                image.sha256 = None;
            }
        }
    }
    o.modified_at = Some(t(1));
    edit(&mut o);
    o
}

fn pet_name(o: &mut Order, name: &str) {
    let p = o.items[1].personalization.as_mut().unwrap();
    p.values.insert("pet_name".into(), name.into());
}

#[derive(Debug, PartialEq)]
enum Want {
    Stale,
    Unchanged,
    Changed {
        status: Option<&'static str>,
        kept: Option<&'static str>,
        fields: &'static [&'static str],
        rerender: &'static [i64],
        after_submission: &'static [i64],
    },
}

fn outcome(u: &StoreUpdate) -> Want {
    match u {
        StoreUpdate::Stale { .. } => Want::Stale,
        StoreUpdate::Unchanged => Want::Unchanged,
        StoreUpdate::Changed(c) => Want::Changed {
            status: c.status.as_ref().map(|s| &*s.to.raw.clone().leak()),
            kept: c.status_kept.as_ref().map(|s| &*s.clone().leak()),
            fields: c.fields.clone().leak(),
            rerender: c.rerender.clone().leak(),
            after_submission: c.changed_after_submission.clone().leak(),
        },
    }
}

#[test]
fn store_updates() {
    type Edit = Box<dyn Fn(&mut Order)>;
    let nothing: Edit = Box::new(|_| {});
    // (what, stored order edit, local status pending, incoming edit, expected)
    let table: Vec<(&str, Edit, bool, Edit, Want)> = vec![
        (
            "the same order again (a repeated delivery)",
            Box::new(|_| {}),
            false,
            Box::new(|_| {}),
            Want::Unchanged,
        ),
        (
            "an older state than stored",
            Box::new(|o| o.modified_at = Some(t(5))),
            false,
            Box::new(|o| o.status = StoreStatus::new("completed")),
            Want::Stale,
        ),
        (
            "a new status, kept verbatim",
            Box::new(|_| {}),
            false,
            Box::new(|o| o.status = StoreStatus::new("On Hold")),
            Want::Changed {
                status: Some("On Hold"),
                kept: None,
                fields: &[],
                rerender: &[],
                after_submission: &[],
            },
        ),
        (
            "a status while Pressroom's own change is on its way to the store",
            Box::new(|_| {}),
            true,
            Box::new(|o| o.status = StoreStatus::new("completed")),
            Want::Changed {
                status: None,
                kept: Some("completed"),
                fields: &[],
                rerender: &[],
                after_submission: &[],
            },
        ),
        (
            "a new shipping address",
            Box::new(|_| {}),
            false,
            Box::new(|o| o.shipping.city = "Oakland".into()),
            Want::Changed {
                status: None,
                kept: None,
                fields: &["shipping"],
                rerender: &[],
                after_submission: &[],
            },
        ),
        (
            "a changed personalization before submission: re-render",
            Box::new(|_| {}),
            false,
            Box::new(|o| pet_name(o, "Rex")),
            Want::Changed {
                status: None,
                kept: None,
                fields: &["items"],
                rerender: &[316],
                after_submission: &[],
            },
        ),
        (
            "a changed personalization after submission: flagged, not re-rendered",
            Box::new(|o| o.submit_status = submitted()),
            false,
            Box::new(|o| pet_name(o, "Rex")),
            Want::Changed {
                status: None,
                kept: None,
                fields: &["items"],
                rerender: &[],
                after_submission: &[316],
            },
        ),
        (
            "a new personalized line",
            Box::new(|_| {}),
            false,
            Box::new(|o| {
                let mut extra = o.items[1].clone();
                extra.id = 317;
                o.items.push(extra);
            }),
            Want::Changed {
                status: None,
                kept: None,
                fields: &["items"],
                rerender: &[317],
                after_submission: &[],
            },
        ),
        (
            "a line removed in the store (quantity 0): nothing to render",
            Box::new(|_| {}),
            false,
            Box::new(|o| o.items[1].quantity = 0),
            Want::Changed {
                status: None,
                kept: None,
                fields: &["items"],
                rerender: &[],
                after_submission: &[],
            },
        ),
    ];
    drop(nothing);
    for (what, stored_edit, pending, incoming_edit, want) in table {
        let mut stored = in_app_order();
        stored_edit(&mut stored);
        let incoming = from_store(|o| incoming_edit(o));
        let before = stored.clone();
        let got = stored.apply_store_update(incoming, pending, t(2));
        assert_eq!(outcome(&got), want, "{what}");
        if matches!(want, Want::Stale | Want::Unchanged) {
            assert_eq!(stored, before, "{what}: nothing changes");
        }
    }
}

#[test]
fn what_pressroom_decided_survives_a_store_update() {
    let mut stored = in_app_order();
    stored.order_type = OrderType::Others; // the merchant's choice
    stored.countdown = Countdown::start(t(0), h(24));
    let incoming = from_store(|o| {
        o.shipping.city = "Oakland".into();
        o.order_type = OrderType::InApp;
    });
    let StoreUpdate::Changed(_) = stored.apply_store_update(incoming, false, t(2)) else {
        panic!("changed")
    };
    assert_eq!(stored.order_type, OrderType::Others);
    assert!(stored.countdown.is_running());
    // The fetched photo is kept: its URL did not change.
    let p = stored.items[1].personalization.as_ref().unwrap();
    assert_eq!(
        p.client_images[0].object_key.as_deref(),
        Some("uploads/ab/cd.jpg")
    );
    assert_eq!(stored.modified_at, Some(t(1)));
}

#[test]
fn a_personalization_changed_after_submission_flags_the_order() {
    let mut stored = in_app_order();
    stored.submit_status = submitted();
    let incoming = from_store(|o| pet_name(o, "Rex"));
    stored.apply_store_update(incoming, false, t(2));
    assert!(stored.flags.changed_after_submission);
}

/// A personalization the merchant edited in Pressroom stays while the store keeps sending
/// what it sent before the edit (any update: a status change, an address); when the store's
/// own personalization changes, the store's newer one is taken and re-rendered.
#[test]
fn a_merchants_edit_survives_store_updates_until_the_store_changes_the_item() {
    let mut stored = in_app_order();
    let store_version = stored.items[1].personalization.clone();
    pet_name(&mut stored, "Edited in Pressroom");
    stored.flags.edited_items.insert(
        stored.items[1].id,
        EditedItem {
            store: store_version,
        },
    );
    let edited = stored.items[1].personalization.clone();

    let incoming = from_store(|o| o.shipping.city = "Oakland".into());
    let StoreUpdate::Changed(c) = stored.apply_store_update(incoming, false, t(2)) else {
        panic!("changed")
    };
    assert!(c.rerender.is_empty(), "{c:?}");
    assert_eq!(stored.items[1].personalization, edited, "the edit stands");
    assert!(stored.flags.edited_items.contains_key(&stored.items[1].id));

    let mut incoming = from_store(|o| pet_name(o, "Rex"));
    incoming.modified_at = Some(t(3));
    let StoreUpdate::Changed(c) = stored.apply_store_update(incoming, false, t(4)) else {
        panic!("changed")
    };
    assert_eq!(c.rerender, [stored.items[1].id]);
    let p = stored.items[1].personalization.as_ref().unwrap();
    assert_eq!(
        p.values["pet_name"], "Rex",
        "the store's newer personalization"
    );
    assert!(stored.flags.edited_items.is_empty());
}

#[test]
fn order_type_rules() {
    let amazon_pay = OrderTypeRule {
        order_type: OrderType::Amazon,
        payment_method: Some("amazon marketplace".into()),
        ..Default::default()
    };
    let shineon_meta = OrderTypeRule {
        order_type: OrderType::ShineOn,
        meta_key: Some("_shineon_order_id".into()),
        ..Default::default()
    };
    let empty_rule = OrderTypeRule {
        order_type: OrderType::Amazon,
        ..Default::default()
    };
    let meta = vec!["_shineon_order_id".to_string()];
    let facts =
        |via: &'static str, title: &'static str, meta: &'static [String], t: bool| OrderFacts {
            created_via: via,
            payment_method: "",
            payment_method_title: title,
            meta_keys: meta,
            has_template: t,
        };
    let meta: &'static [String] = meta.leak();
    let defaults = OrderTypeRule::defaults();
    let table = [
        (
            "checkout",
            &defaults[..],
            facts("checkout", "", &[], true),
            OrderType::InApp,
        ),
        (
            "checkout, no template",
            &defaults[..],
            facts("checkout", "", &[], false),
            OrderType::Others,
        ),
        (
            "Amazon-MCF",
            &defaults[..],
            facts("Amazon-MCF", "", &[], true),
            OrderType::Amazon,
        ),
        (
            "shine-on",
            &defaults[..],
            facts("shine-on", "", &[], true),
            OrderType::ShineOn,
        ),
        (
            "payment title",
            std::slice::from_ref(&amazon_pay),
            facts("checkout", "Amazon Marketplace", &[], true),
            OrderType::Amazon,
        ),
        (
            "meta key",
            std::slice::from_ref(&shineon_meta),
            facts("checkout", "", meta, true),
            OrderType::ShineOn,
        ),
        (
            "a rule with no criterion matches nothing",
            std::slice::from_ref(&empty_rule),
            facts("checkout", "", &[], true),
            OrderType::InApp,
        ),
    ];
    for (what, rules, facts, want) in table {
        assert_eq!(decide_order_type(rules, &facts), want, "{what}");
    }
}
