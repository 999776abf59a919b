//! The submission decision: who may claim an order, what blocks it (in the merchant's
//! words), and that a claim happens once.

mod common;

use std::collections::BTreeMap;

use common::*;
use domain::*;

fn done(errors: &[&str]) -> BTreeMap<i64, ItemRender> {
    BTreeMap::from([(
        316,
        ItemRender::Done {
            version: 3,
            preflight_errors: errors.iter().map(|e| e.to_string()).collect(),
        },
    )])
}

fn id(attempt: u32) -> String {
    format!("pr1-{attempt}")
}

#[test]
fn blockers_name_the_item_and_the_reason() {
    let o = in_app_order();
    // (renders, expected reasons)
    let table: Vec<(BTreeMap<i64, ItemRender>, Vec<&str>)> = vec![
        (done(&[]), vec![]),
        (BTreeMap::new(), vec!["item 2: not rendered"]),
        (
            BTreeMap::from([(316, ItemRender::Rendering)]),
            vec!["item 2: still rendering"],
        ),
        (
            BTreeMap::from([(
                316,
                ItemRender::Failed {
                    reason: "font missing".into(),
                },
            )]),
            vec!["item 2: the render failed: font missing"],
        ),
        (
            done(&["photo at 94 DPI, minimum 150"]),
            vec!["item 2: photo at 94 DPI, minimum 150"],
        ),
    ];
    for (renders, want) in table {
        assert_eq!(o.submission_blockers(&renders), want, "{renders:?}");
    }
}

#[test]
fn the_store_status_decides_first() {
    // (status, a reason contains)
    for (status, reason) in [
        ("on-hold", "the order is on-hold in the store"),
        ("cancelled", "nothing will be printed"),
        ("refunded", "nothing will be printed"),
        ("failed", "nothing will be printed"),
        ("pending", "not paid and processing"),
    ] {
        let mut o = in_app_order();
        o.status = StoreStatus::new(status);
        let reasons = o.submission_blockers(&done(&[]));
        assert!(
            reasons.iter().any(|r| r.contains(reason)),
            "{status}: {reasons:?}"
        );
    }
}

#[test]
fn a_photo_not_fetched_yet_blocks() {
    let mut o = in_app_order();
    o.items[1].personalization.as_mut().unwrap().client_images[0].object_key = None;
    assert_eq!(
        o.submission_blockers(&done(&[])),
        vec!["item 2: waiting for the customer's photo (photo)"]
    );
}

#[test]
fn an_override_lets_that_render_version_through_not_a_later_one() {
    let mut o = in_app_order();
    let errors = done(&["text shrank below 24 pt"]);
    assert!(!o.submission_blockers(&errors).is_empty());
    assert!(o.override_preflight(316, 3));
    assert!(!o.override_preflight(316, 3), "once is enough");
    assert!(o.submission_blockers(&errors).is_empty());
    let newer = BTreeMap::from([(
        316,
        ItemRender::Done {
            version: 4,
            preflight_errors: vec!["text shrank below 24 pt".into()],
        },
    )]);
    assert!(!o.submission_blockers(&newer).is_empty());
}

#[test]
fn a_claim_happens_once_and_locks_the_design() {
    let mut o = in_app_order();
    let got = o.claim_submission(SubmitTrigger::Merchant, "printful", &done(&[]), id, t(1));
    assert_eq!(got, Ok("pr1-1".to_owned()));
    assert!(o.submit_status.design_locked());
    assert!(o.can_edit().is_err());
    let again = o.claim_submission(SubmitTrigger::Merchant, "printful", &done(&[]), id, t(2));
    assert!(matches!(again, Err(SubmitRefusal::AlreadySubmitted { .. })));
    assert_eq!(again.unwrap_err().code(), "already_submitted");
}

#[test]
fn a_failed_submission_may_be_claimed_again_under_the_next_id() {
    let mut o = in_app_order();
    o.claim_submission(SubmitTrigger::Merchant, "gelato", &done(&[]), id, t(1))
        .unwrap();
    o.submit_status = SubmitStatus::Failed {
        reason: "invalid address".into(),
        at: t(2),
    };
    let got = o.claim_submission(SubmitTrigger::Merchant, "gelato", &done(&[]), id, t(3));
    assert_eq!(got, Ok("pr1-2".to_owned()));
}

#[test]
fn the_countdown_submits_only_in_app_orders_that_are_due() {
    // (order type, countdown due, claimed)
    for (order_type, due, claimed) in [
        (OrderType::InApp, true, true),
        (OrderType::InApp, false, false),
        (OrderType::Amazon, true, false),
        (OrderType::Others, true, false),
    ] {
        let mut o = in_app_order();
        o.order_type = order_type;
        o.countdown = Countdown::start(t(0), h(if due { 1 } else { 5 }));
        let got = o.claim_submission(SubmitTrigger::Countdown, "sandbox", &done(&[]), id, t(2));
        assert_eq!(got.is_ok(), claimed, "{order_type:?} due={due}: {got:?}");
        if claimed {
            assert!(o.countdown.is_none(), "the claim ends the countdown");
        }
    }
    // The merchant may submit any type by hand.
    let mut amazon = in_app_order();
    amazon.order_type = OrderType::Amazon;
    assert!(
        amazon
            .claim_submission(SubmitTrigger::Merchant, "manual", &done(&[]), id, t(2))
            .is_ok()
    );
}

#[test]
fn provider_rules_pick_one_provider_per_order() {
    let mut settings = StoreSettings {
        default_provider: "printful".into(),
        provider_rules: vec![ProviderRule {
            sku: "Bar*".into(),
            provider: "gelato".into(),
        }],
        ..StoreSettings::default()
    };
    let o = in_app_order();
    assert_eq!(settings.provider_for(&o), Ok("gelato".to_owned()));
    settings.provider_rules[0].sku = "Mug-*".into();
    assert_eq!(settings.provider_for(&o), Ok("printful".to_owned()));
    // Two personalized items that go to different providers.
    let mut two = in_app_order();
    let mut other = two.items[1].clone();
    other.id = 317;
    other.sku = "Mug-11".into();
    two.items.push(other);
    let err = settings.provider_for(&two).unwrap_err();
    assert!(err.contains("different providers"), "{err}");
}
