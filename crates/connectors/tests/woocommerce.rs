//! WooCommerce order parsing, on payloads recorded from the official REST API docs (and
//! payloads derived from them; see fixtures/woocommerce/SOURCES.md).

use chrono::{TimeZone, Utc};
use connectors::woocommerce::{WooError, parse_order, parse_orders};
use domain::*;
use std::str::FromStr;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/woocommerce/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// The mapping a pet-portrait shop would configure.
fn pet_mapping() -> ItemMapping {
    ItemMapping {
        products: vec![ProductRule {
            sku: Some("Bar3".into()),
            template: "pet-portrait".into(),
            ..Default::default()
        }],
        fields: vec![
            FieldMapping {
                meta_key: "Name".into(),
                field: "pet_name".into(),
            },
            FieldMapping {
                meta_key: "Photo".into(),
                field: "photo".into(),
            },
        ],
        photo_fields: vec!["photo".into()],
    }
}

#[test]
fn order_727_without_personalization() {
    let o = parse_order(
        &fixture("wc_v3_order_retrieve_727.json"),
        &ItemMapping::default(),
    )
    .unwrap();
    assert_eq!(o.store_order_id, 727);
    assert_eq!(o.number, "727");
    assert_eq!(o.status, StoreStatus::new("processing"));
    assert_eq!(o.status.kind, StatusKind::Processing);
    // The *_gmt fields win over the store-local ones.
    assert_eq!(
        o.created_at,
        Some(Utc.with_ymd_and_hms(2017, 3, 22, 19, 28, 2).unwrap())
    );
    assert_eq!(
        o.paid_at,
        Some(Utc.with_ymd_and_hms(2017, 3, 22, 19, 28, 8).unwrap())
    );
    assert_eq!(
        o.modified_at,
        Some(Utc.with_ymd_and_hms(2017, 3, 22, 19, 28, 8).unwrap())
    );
    assert_eq!(o.currency, "USD");
    assert_eq!(o.payment_method, "bacs");
    assert_eq!(o.payment_method_title, "Direct Bank Transfer");
    assert_eq!(
        o.customer,
        Customer {
            name: "John Doe".into(),
            city: "San Francisco".into(),
            state: "CA".into(),
            country: "US".into(),
            email: "john.doe@example.com".into(),
        }
    );
    assert_eq!(o.billing.phone, "(555) 555-5555");
    assert_eq!(o.billing.address_1, "969 Market");
    assert_eq!(o.shipping.postcode, "94103");
    assert_eq!(o.shipping.email, "");

    // Exact money, with the scale the store sent.
    let t = &o.totals;
    assert_eq!(t.total.to_string(), "29.35");
    assert_eq!(t.subtotal.to_string(), "18.00"); // 6.00 + 12.00
    assert_eq!(t.shipping_total.to_string(), "10.00");
    assert_eq!(t.tax_total.to_string(), "1.35");
    assert_eq!(t.discount_total.to_string(), "0.00");
    assert_eq!(
        t.subtotal + t.shipping_total + t.tax_total - t.discount_total,
        t.total
    );

    assert_eq!(
        o.shipping_lines,
        [ShippingLine {
            method_id: "flat_rate".into(),
            method_title: "Flat Rate".into(),
            total: dec("10.00")
        }]
    );

    assert_eq!(o.items.len(), 2);
    let i315 = o.item(315).unwrap();
    assert_eq!(
        (i315.product_id, i315.variation_id, i315.quantity),
        (93, 0, 2)
    );
    assert_eq!(i315.sku, "");
    assert_eq!(i315.name, "Woo Single #1");
    assert_eq!(i315.price, dec("3")); // a JSON number in the payload
    assert_eq!(i315.total.to_string(), "6.00");
    assert!(i315.attributes.is_empty());
    let i316 = o.item(316).unwrap();
    assert_eq!(
        (i316.product_id, i316.variation_id, i316.quantity),
        (22, 23, 1)
    );
    assert_eq!(i316.price, dec("12"));
    assert_eq!(
        i316.attributes,
        [
            Attribute {
                key: "pa_color".into(),
                value: "black".into()
            },
            Attribute {
                key: "size".into(),
                value: "M Test".into()
            },
        ]
    );

    assert!(o.personalized_items().next().is_none());
    assert_eq!(o.order_type, OrderType::Others);
    assert_eq!(o.submit_status, SubmitStatus::Blank);
    assert_eq!(o.countdown, Countdown::none());
    assert!(o.notes.is_empty());
}

#[test]
fn personalized_order_maps_fields_and_photos() {
    let o = parse_order(
        &fixture("wc_v3_order_personalized_SYNTH.json"),
        &pet_mapping(),
    )
    .unwrap();
    assert_eq!(o.store_order_id, 1001);
    assert_eq!(o.status.raw, "processing");
    assert_eq!(o.order_type, OrderType::InApp);

    let plain = o.item(315).unwrap();
    assert_eq!(plain.personalization, None);

    let item = o.item(316).unwrap();
    let p = item
        .personalization
        .as_ref()
        .expect("item 316 is personalized");
    assert_eq!(p.template_id, "pet-portrait");
    let url = "https://example.com/wp-content/uploads/personalize/2024/05/upload-abc123.jpg";
    assert_eq!(p.values.get("pet_name").map(String::as_str), Some("Zoë 李"));
    assert_eq!(p.values.get("photo").map(String::as_str), Some(url));
    assert_eq!(
        p.values.len(),
        2,
        "only mapped keys become values: {:?}",
        p.values
    );
    assert_eq!(
        p.client_images,
        [ClientImage {
            field: "photo".into(),
            source_url: url.into(),
            object_key: None,
            sha256: None
        }]
    );

    // Visible meta are attributes; the hidden `_personalization_id` is not.
    let keys: Vec<&str> = item.attributes.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["pa_color", "size", "Name", "Photo"]);
    assert_eq!(item.attributes[2].value, "Zoë 李");

    let ids: Vec<i64> = o.personalized_items().map(|i| i.id).collect();
    assert_eq!(ids, [316]);

    // A freshly imported in-app order is ready for its countdown.
    let mut o = o;
    assert!(o.start_countdown(
        Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap(),
        chrono::Duration::hours(1)
    ));
}

#[test]
fn mapped_item_without_field_values_is_personalized_but_empty() {
    // Order 727's item 316 has SKU Bar3 but no Name/Photo meta.
    let o = parse_order(&fixture("wc_v3_order_retrieve_727.json"), &pet_mapping()).unwrap();
    let p = o.item(316).unwrap().personalization.as_ref().unwrap();
    assert_eq!(p.template_id, "pet-portrait");
    assert!(p.values.is_empty());
    assert!(p.client_images.is_empty());
    assert_eq!(o.order_type, OrderType::InApp);
}

#[test]
fn every_order_of_the_list_parses() {
    let body = fixture("wc_v3_orders_list.json");
    let list: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    let orders = parse_orders(&body, &ItemMapping::default()).unwrap();
    assert_eq!(orders.len(), list.len());
    for (o, raw) in orders.iter().zip(&list) {
        let one = parse_order(raw.to_string().as_bytes(), &ItemMapping::default()).unwrap();
        assert_eq!(&one, o);
    }
    let summary: Vec<(i64, &str, String, OrderType)> = orders
        .iter()
        .map(|o| {
            (
                o.store_order_id,
                o.status.raw.as_str(),
                o.totals.total.to_string(),
                o.order_type,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (727, "processing", "29.35".to_owned(), OrderType::Others),
            (723, "completed", "39.00".to_owned(), OrderType::Others),
        ]
    );
    assert_eq!(orders[1].totals.subtotal.to_string(), "29.00");
    assert_eq!(orders[1].status.kind, StatusKind::Completed);
}

#[test]
fn webhook_body_is_the_same_order() {
    let hook = parse_order(
        &fixture("webhook_order_updated_727.body.json"),
        &ItemMapping::default(),
    )
    .unwrap();
    let rest = parse_order(
        &fixture("wc_v3_order_retrieve_727.json"),
        &ItemMapping::default(),
    )
    .unwrap();
    assert_eq!(hook, rest);
}

#[test]
fn parsed_order_round_trips_through_domain_json() {
    let o = parse_order(
        &fixture("wc_v3_order_personalized_SYNTH.json"),
        &pet_mapping(),
    )
    .unwrap();
    let back: Order = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
    assert_eq!(back, o);
}

/// Order 727 with one JSON edit applied.
fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value =
        serde_json::from_slice(&fixture("wc_v3_order_retrieve_727.json")).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn created_via_and_notes() {
    use serde_json::json;
    // created_via, expected type (order 727 with the pet mapping has a personalized item)
    let table = [
        ("amazon", OrderType::Amazon),
        ("Amazon-MCF", OrderType::Amazon),
        ("wc-amazon-fulfillment", OrderType::Amazon),
        ("shineon", OrderType::ShineOn),
        ("ShineOn", OrderType::ShineOn),
        ("shine-on", OrderType::ShineOn),
        ("checkout", OrderType::InApp),
        ("rest-api", OrderType::InApp),
    ];
    for (via, want) in table {
        let body = edited(|v| v["created_via"] = json!(via));
        assert_eq!(
            parse_order(&body, &pet_mapping()).unwrap().order_type,
            want,
            "{via}"
        );
    }

    let body = edited(|v| v["customer_note"] = json!("Please gift wrap"));
    let o = parse_order(&body, &ItemMapping::default()).unwrap();
    assert_eq!(
        o.notes,
        [Note {
            id: 0,
            at: Utc.with_ymd_and_hms(2017, 3, 22, 19, 28, 2).unwrap(),
            author: "customer".into(),
            text: "Please gift wrap".into(),
            customer_visible: true,
            edited_at: None,
        }]
    );
    // Without a creation date the note is dated at the UNIX epoch.
    let body = edited(|v| {
        v["customer_note"] = json!("x");
        v["date_created"] = json!(null);
        v["date_created_gmt"] = json!(null);
    });
    let o = parse_order(&body, &ItemMapping::default()).unwrap();
    assert_eq!(o.created_at, None);
    assert_eq!(o.notes[0].at, chrono::DateTime::UNIX_EPOCH);
}

#[test]
fn tolerated_variations() {
    use serde_json::json;
    // Missing gmt date: the store-local one is used.
    let o = parse_order(
        &edited(|v| v["date_paid_gmt"] = json!(null)),
        &ItemMapping::default(),
    )
    .unwrap();
    assert_eq!(
        o.paid_at,
        Some(Utc.with_ymd_and_hms(2017, 3, 22, 16, 28, 8).unwrap())
    );

    // Unknown fields, null addresses and meta, a numeric price with cents, numeric total.
    let o = parse_order(
        &edited(|v| {
            v["brand_new_field"] = json!({ "x": [1, 2] });
            v["shipping"] = json!(null);
            v["line_items"][0]["meta_data"] = json!(null);
            v["line_items"][0]["price"] = json!(12.99);
            v["line_items"][1]["meta_data"][0]["value"] = json!(["a", 1]);
            v["line_items"][1]["meta_data"][1]["value"] = json!(42);
            v["total"] = json!(29.35);
            v["discount_total"] = json!("");
        }),
        &ItemMapping::default(),
    )
    .unwrap();
    assert_eq!(o.items[0].price.to_string(), "12.99");
    assert_eq!(o.totals.total.to_string(), "29.35");
    assert_eq!(o.totals.discount_total, Decimal::ZERO);
    assert_eq!(o.items[1].attributes[0].value, r#"["a",1]"#);
    assert_eq!(o.items[1].attributes[1].value, "42");
    // No shipping address: the customer's place comes from billing.
    assert_eq!(o.customer.city, "San Francisco");
    assert_eq!(o.shipping, Address::default());

    // Shipping address wins for the customer's place when present.
    let o = parse_order(
        &edited(|v| {
            v["shipping"]["city"] = json!("Oakland");
            v["shipping"]["country"] = json!("US");
        }),
        &ItemMapping::default(),
    )
    .unwrap();
    assert_eq!(o.customer.city, "Oakland");
    assert_eq!(o.billing.city, "San Francisco");

    // A missing number falls back to the id; a numeric number is text.
    let o = parse_order(
        &edited(|v| {
            v.as_object_mut()
                .unwrap()
                .remove("number")
                .map(drop)
                .unwrap()
        }),
        &ItemMapping::default(),
    )
    .unwrap();
    assert_eq!(o.number, "727");
    let o = parse_order(
        &edited(|v| v["number"] = json!(727)),
        &ItemMapping::default(),
    )
    .unwrap();
    assert_eq!(o.number, "727");
}

#[test]
fn bad_inputs_name_the_field() {
    use serde_json::json;
    let order = fixture("wc_v3_order_retrieve_727.json");
    let truncated = order[..order.len() / 2].to_vec();
    // name, body, error code, field (a truncated body is cut somewhere inside line_items, so
    // there the field is a prefix), a piece of the message
    let cases: Vec<(&str, Vec<u8>, &str, &str, &str)> = vec![
        (
            "not JSON",
            b"<html>502 Bad Gateway</html>".to_vec(),
            "woo_json",
            ".",
            "expected value",
        ),
        ("empty body", Vec::new(), "woo_json", ".", "EOF"),
        (
            "a list, not an order",
            b"[]".to_vec(),
            "woo_json",
            ".",
            "expected a JSON object",
        ),
        (
            "trailing garbage",
            [order.clone(), b"}".to_vec()].concat(),
            "woo_json",
            ".",
            "trailing",
        ),
        ("truncated body", truncated, "woo_json", "line_items", "EOF"),
        (
            "id missing",
            edited(|v| v.as_object_mut().unwrap().remove("id").map(drop).unwrap()),
            "woo_invalid",
            "id",
            "missing",
        ),
        (
            "id zero",
            edited(|v| v["id"] = json!(0)),
            "woo_invalid",
            "id",
            "must be positive",
        ),
        (
            "id text",
            edited(|v| v["id"] = json!("abc")),
            "woo_json",
            "id",
            "invalid type: string",
        ),
        (
            "quantity two",
            edited(|v| v["line_items"][1]["quantity"] = json!("two")),
            "woo_json",
            "line_items[1].quantity",
            "invalid type: string \"two\"",
        ),
        (
            "negative quantity",
            edited(|v| v["line_items"][0]["quantity"] = json!(-1)),
            "woo_invalid",
            "line_items[0].quantity",
            "must not be negative",
        ),
        (
            "negative total",
            edited(|v| v["total"] = json!("-29.35")),
            "woo_invalid",
            "total",
            "must not be negative",
        ),
        (
            "negative item total",
            edited(|v| v["line_items"][1]["total"] = json!("-1.00")),
            "woo_invalid",
            "line_items[1].total",
            "must not be negative",
        ),
        (
            "negative shipping line",
            edited(|v| v["shipping_lines"][0]["total"] = json!(-10)),
            "woo_invalid",
            "shipping_lines[0].total",
            "must not be negative",
        ),
        (
            "total 12.x",
            edited(|v| v["total"] = json!("12.x")),
            "woo_invalid",
            "total",
            "\"12.x\"",
        ),
        (
            "item total 12.x",
            edited(|v| v["line_items"][1]["total"] = json!("12.x")),
            "woo_invalid",
            "line_items[1].total",
            "\"12.x\"",
        ),
        (
            "item subtotal",
            edited(|v| v["line_items"][0]["subtotal"] = json!("six")),
            "woo_invalid",
            "line_items[0].subtotal",
            "\"six\"",
        ),
        (
            "shipping line total",
            edited(|v| v["shipping_lines"][0]["total"] = json!("ten")),
            "woo_invalid",
            "shipping_lines[0].total",
            "\"ten\"",
        ),
        (
            "money as an object",
            edited(|v| v["shipping_total"] = json!({ "amount": "10.00" })),
            "woo_json",
            "shipping_total",
            "invalid type: map",
        ),
        (
            "line_items not an array",
            edited(|v| v["line_items"] = json!("315,316")),
            "woo_json",
            "line_items",
            "expected a sequence",
        ),
        (
            "line item id missing",
            edited(|v| {
                v["line_items"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("id")
                    .map(drop)
                    .unwrap()
            }),
            "woo_invalid",
            "line_items[1].id",
            "missing",
        ),
        (
            "bad date",
            edited(|v| v["date_created_gmt"] = json!("yesterday")),
            "woo_invalid",
            "date_created_gmt",
            "invalid date",
        ),
        (
            "status object",
            edited(|v| v["status"] = json!({})),
            "woo_json",
            "status",
            "expected a string",
        ),
    ];
    for (name, body, code, field, message) in cases {
        let err = parse_order(&body, &ItemMapping::default()).expect_err(name);
        assert_eq!(err.code(), code, "{name}: {err}");
        if name == "truncated body" {
            assert!(err.field().starts_with(field), "{name}: {err}");
        } else {
            assert_eq!(err.field(), field, "{name}: {err}");
        }
        assert!(err.to_string().contains(message), "{name}: {err:?}");
        if field != "." {
            assert!(
                err.to_string().starts_with(&format!("{}: ", err.field())),
                "{name}: {err}"
            );
        }
    }
}

#[test]
fn list_errors_name_the_element() {
    let body = fixture("wc_v3_orders_list.json");
    let mut list: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    list[1]["line_items"][0]["quantity"] = serde_json::json!("two");
    let err =
        parse_orders(&serde_json::to_vec(&list).unwrap(), &ItemMapping::default()).unwrap_err();
    assert_eq!(err.field(), "[1].line_items[0].quantity");

    list[1]["line_items"][0]["quantity"] = serde_json::json!(1);
    list[1]["total"] = serde_json::json!("12.x");
    let err =
        parse_orders(&serde_json::to_vec(&list).unwrap(), &ItemMapping::default()).unwrap_err();
    assert_eq!(
        err,
        WooError::Invalid {
            field: "[1].total".into(),
            message: err_message(&err)
        }
    );
}

fn err_message(e: &WooError) -> String {
    match e {
        WooError::Json { message, .. } | WooError::Invalid { message, .. } => message.clone(),
    }
}

/// Refunds are separate records in WooCommerce (the order's `refunds`, negative there); they
/// are not read, so an order with refunds parses and keeps its own (positive) totals.
#[test]
fn refunds_are_not_negative_totals() {
    let orders = parse_orders(&fixture("wc_v3_orders_list.json"), &ItemMapping::default()).unwrap();
    assert!(orders.iter().all(|o| !o.totals.total.is_sign_negative()));
}

/// Quantity 0 is a line the store removed (an edited order): it is kept and shown, with why it
/// is not rendered, and never rendered even when a template maps to it.
#[test]
fn a_removed_line_is_kept_but_not_rendered() {
    let body = std::fs::read(format!(
        "{}/tests/fixtures/woocommerce/wc_v3_order_personalized_SYNTH.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let before = parse_order(&body, &pet_mapping()).unwrap();
    let first = before
        .personalized_items()
        .next()
        .expect("a personalized item")
        .id;
    for li in v["line_items"].as_array_mut().unwrap() {
        if li["id"] == first {
            li["quantity"] = 0.into();
        }
    }
    let o = parse_order(&serde_json::to_vec(&v).unwrap(), &pet_mapping()).unwrap();
    let removed = o.item(first).unwrap();
    assert_eq!(removed.quantity, 0);
    assert!(
        removed.personalization.is_some(),
        "kept as the store sent it"
    );
    assert!(
        !o.personalized_items().any(|i| i.id == first),
        "not rendered"
    );
    let why = removed.not_rendered_reason().expect("a reason");
    assert!(why.contains("quantity 0"), "{why}");
}

/// A line no template maps to says so, naming its SKU.
#[test]
fn a_line_without_template_says_why() {
    let o = parse_order(
        &fixture("wc_v3_order_retrieve_727.json"),
        &ItemMapping::default(),
    )
    .unwrap();
    let reasons: Vec<(String, String)> = o
        .unrendered_items()
        .map(|(i, why)| (i.sku.clone(), why))
        .collect();
    assert_eq!(reasons.len(), o.items.len(), "no item of 727 is mapped");
    let (_, why) = reasons.iter().find(|(sku, _)| sku == "Bar3").expect("Bar3");
    assert_eq!(why, "SKU \"Bar3\" has no template, so it is not rendered");
    let (_, why) = reasons
        .iter()
        .find(|(sku, _)| sku.is_empty())
        .expect("no SKU");
    assert!(why.contains("has no SKU and no template"), "{why}");
}

/// A store's own order-type rules: by payment method, by an order meta key, and "no
/// Pressroom template"; the first matching rule wins.
#[test]
fn store_order_type_rules() {
    use connectors::woocommerce::parse_store_order;
    use serde_json::json;
    let settings = StoreSettings {
        mapping: pet_mapping(),
        order_types: vec![
            OrderTypeRule {
                order_type: OrderType::Amazon,
                payment_method: Some("Amazon Marketplace".into()),
                ..Default::default()
            },
            OrderTypeRule {
                order_type: OrderType::ShineOn,
                meta_key: Some("_shineon_order_id".into()),
                ..Default::default()
            },
            OrderTypeRule {
                order_type: OrderType::Others,
                no_template: true,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let table: [(&str, Edit, OrderType); 5] = [
        (
            "plain checkout with a template",
            Box::new(|_| {}),
            OrderType::InApp,
        ),
        (
            "paid through Amazon",
            Box::new(|v| v["payment_method_title"] = json!("Amazon Marketplace")),
            OrderType::Amazon,
        ),
        (
            "a ShineOn meta key",
            Box::new(|v| {
                v["meta_data"] = json!([{"id": 1, "key": "_shineon_order_id", "value": "S-1"}])
            }),
            OrderType::ShineOn,
        ),
        (
            "no template in the order",
            Box::new(|v| v["line_items"][1]["sku"] = json!("OTHER")),
            OrderType::Others,
        ),
        (
            // The store's rules replace the defaults: created_via alone decides nothing here.
            "created_via amazon without a rule for it",
            Box::new(|v| v["created_via"] = json!("amazon")),
            OrderType::InApp,
        ),
    ];
    for (what, edit, want) in table {
        let body = edited(edit);
        assert_eq!(
            parse_store_order(&body, &settings).unwrap().order_type,
            want,
            "{what}"
        );
    }
}

/// Personalization plugins write HTML and entities into values and use a slug as the key
/// with the label in `display_key`: the mapping may name either, values are the text.
#[test]
fn meta_values_with_html_entities_and_display_keys() {
    use serde_json::json;
    let mapping = ItemMapping {
        fields: vec![
            FieldMapping {
                meta_key: "Pet name".into(),
                field: "pet_name".into(),
            },
            FieldMapping {
                meta_key: "Photo".into(),
                field: "photo".into(),
            },
        ],
        ..pet_mapping()
    };
    let body = edited(|v| {
        v["line_items"][1]["sku"] = json!("Bar3");
        v["line_items"][1]["meta_data"] = json!([
            {"id": 1, "key": "_pz_name", "value": "O&#039;Brien &amp; <b>Rex</b>",
             "display_key": "Pet name", "display_value": "O'Brien &amp; Rex"},
            {"id": 2, "key": "Photo",
             "value": "<a href=\"https://shop.example/up/rex.jpg?a=1&amp;b=2\">rex.jpg</a>",
             "display_key": "Photo", "display_value": "rex.jpg"},
        ]);
    });
    let o = parse_order(&body, &mapping).unwrap();
    let p = o.item(316).unwrap().personalization.as_ref().unwrap();
    assert_eq!(p.values["pet_name"], "O'Brien & Rex");
    assert_eq!(
        p.client_images[0].source_url,
        "https://shop.example/up/rex.jpg?a=1&b=2"
    );
}

/// The recorded delivery's signature verifies with its secret, and not with another or
/// with one byte of the body changed.
#[test]
fn recorded_webhook_signature_verifies() {
    use connectors::woo_webhook::{ping_webhook_id, verify_signature};
    let body = fixture("webhook_order_updated_727.body.json");
    let headers: serde_json::Value =
        serde_json::from_slice(&fixture("webhook_order_updated_727.headers.json")).unwrap();
    let secret = headers["secret"].as_str().unwrap();
    let sig = headers["headers"]["X-WC-Webhook-Signature"]
        .as_str()
        .unwrap();
    assert!(verify_signature(&body, secret, sig));
    assert!(!verify_signature(&body, "another-secret", sig));
    let mut altered = body.clone();
    altered[10] ^= 1;
    assert!(!verify_signature(&altered, secret, sig));
    assert_eq!(ping_webhook_id(&fixture("webhook_ping.body.txt")), Some(42));
}

/// An update merges the store's state: an older one changes nothing, a newer one updates
/// the status verbatim and says what changed.
#[test]
fn store_updates_merge_by_date_modified() {
    use serde_json::json;
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut stored = parse_order(
        &fixture("wc_v3_order_personalized_SYNTH.json"),
        &pet_mapping(),
    )
    .unwrap();
    let newer = parse_order(
        &edited_personalized(|v| {
            v["status"] = json!("on-hold");
            v["date_modified_gmt"] = json!("2030-01-01T00:00:00");
        }),
        &pet_mapping(),
    )
    .unwrap();
    let older = parse_order(
        &edited_personalized(|v| {
            v["status"] = json!("completed");
            v["date_modified_gmt"] = json!("2001-01-01T00:00:00");
        }),
        &pet_mapping(),
    )
    .unwrap();
    let StoreUpdate::Changed(changes) = stored.apply_store_update(newer.clone(), false, now) else {
        panic!("a newer state changes the order")
    };
    assert_eq!(changes.status.unwrap().to.raw, "on-hold");
    assert!(changes.rerender.is_empty());
    assert_eq!(stored.status.raw, "on-hold");
    assert!(matches!(
        stored.apply_store_update(older, false, now),
        StoreUpdate::Stale { .. }
    ));
    assert_eq!(stored.status.raw, "on-hold");
    assert_eq!(
        stored.apply_store_update(newer, false, now),
        StoreUpdate::Unchanged
    );
}

fn edited_personalized(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value =
        serde_json::from_slice(&fixture("wc_v3_order_personalized_SYNTH.json")).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}
