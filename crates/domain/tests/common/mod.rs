//! Shared fixtures for the domain tests.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use domain::*;
use std::collections::BTreeMap;
use std::str::FromStr;

/// 2024-05-01 12:00:00 UTC plus `hours`.
pub fn t(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap() + chrono::Duration::hours(hours)
}

pub fn h(hours: i64) -> chrono::Duration {
    chrono::Duration::hours(hours)
}

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A paid in-app order with one personalized item and one plain item.
pub fn in_app_order() -> Order {
    Order {
        store_order_id: 1001,
        number: "1001".into(),
        status: StoreStatus::new("processing"),
        created_at: Some(t(0)),
        paid_at: Some(t(0)),
        modified_at: Some(t(0)),
        customer: Customer {
            name: "John Doe".into(),
            city: "San Francisco".into(),
            state: "CA".into(),
            country: "US".into(),
            email: "john.doe@example.com".into(),
        },
        billing: Address {
            first_name: "John".into(),
            last_name: "Doe".into(),
            city: "San Francisco".into(),
            country: "US".into(),
            email: "john.doe@example.com".into(),
            ..Address::default()
        },
        shipping: Address::default(),
        payment_method: "bacs".into(),
        payment_method_title: "Direct Bank Transfer".into(),
        currency: "USD".into(),
        totals: Totals {
            total: dec("29.35"),
            subtotal: dec("18.00"),
            shipping_total: dec("10.00"),
            tax_total: dec("1.35"),
            discount_total: dec("0.00"),
        },
        shipping_lines: vec![ShippingLine {
            method_id: "flat_rate".into(),
            method_title: "Flat Rate".into(),
            total: dec("10.00"),
        }],
        items: vec![
            LineItem {
                id: 315,
                sku: String::new(),
                product_id: 93,
                variation_id: 0,
                name: "Woo Single #1".into(),
                quantity: 2,
                price: dec("3"),
                total: dec("6.00"),
                attributes: vec![],
                personalization: None,
            },
            LineItem {
                id: 316,
                sku: "Bar3".into(),
                product_id: 22,
                variation_id: 23,
                name: "Pet portrait".into(),
                quantity: 1,
                price: dec("12"),
                total: dec("12.00"),
                attributes: vec![Attribute {
                    key: "Name".into(),
                    value: "Zoë 李".into(),
                }],
                personalization: Some(Personalization {
                    template_id: "pet-portrait".into(),
                    values: BTreeMap::from([
                        ("pet_name".to_owned(), "Zoë 李".to_owned()),
                        ("photo".to_owned(), "https://example.com/a.jpg".to_owned()),
                    ]),
                    client_images: vec![ClientImage {
                        field: "photo".into(),
                        source_url: "https://example.com/a.jpg".into(),
                        object_key: Some("uploads/ab/cd.jpg".into()),
                        sha256: Some("ab".repeat(32)),
                    }],
                }),
            },
        ],
        order_type: OrderType::InApp,
        submit_status: SubmitStatus::Blank,
        countdown: Countdown::none(),
        notes: vec![Note {
            at: t(0),
            id: 0,
            author: "customer".into(),
            text: "Please hurry".into(),
            customer_visible: true,
            edited_at: None,
        }],
        flags: Default::default(),
        shipments: Vec::new(),
        submission_attempts: 0,
        preflight_overrides: Default::default(),
        submission_blocked: None,
        test: false,
        last_note_id: 0,
    }
}

pub fn submitted() -> SubmitStatus {
    SubmitStatus::Submitted {
        provider: "printful".into(),
        provider_order_id: Some("PF-1".into()),
        at: t(1),
        external_id: None,
    }
}

pub fn failed() -> SubmitStatus {
    SubmitStatus::Failed {
        reason: "bad file".into(),
        at: t(1),
    }
}

pub fn review() -> SubmitStatus {
    SubmitStatus::Review {
        reason: "timeout".into(),
        at: t(1),
        provider: None,
        external_id: None,
    }
}
