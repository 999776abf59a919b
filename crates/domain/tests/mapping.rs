//! Item mapping: which products use which template, which meta keys fill which fields.

use domain::{FieldMapping, ItemMapping, ProductRule};

fn mapping() -> ItemMapping {
    ItemMapping {
        products: vec![
            ProductRule {
                sku: Some("Bar3".into()),
                template: "pet-portrait".into(),
                ..Default::default()
            },
            ProductRule {
                product_id: Some(50),
                variation_id: Some(51),
                template: "mug-51".into(),
                ..Default::default()
            },
            ProductRule {
                product_id: Some(50),
                template: "mug".into(),
                ..Default::default()
            },
            // No criterion: must never act as a catch-all.
            ProductRule {
                template: "everything".into(),
                ..Default::default()
            },
        ],
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
fn template_for_table() {
    let m = mapping();
    // sku, product_id, variation_id, template
    let table = [
        ("Bar3", 22, 23, Some("pet-portrait")),
        ("Bar3", 0, 0, Some("pet-portrait")),
        (" Bar3 ", 0, 0, Some("pet-portrait")),
        ("bar3", 22, 23, None), // SKUs are case-sensitive
        ("", 50, 51, Some("mug-51")),
        ("", 50, 52, Some("mug")), // first match wins, less specific rule after
        ("", 50, 0, Some("mug")),
        ("", 93, 0, None),
        ("", 0, 0, None),
    ];
    for (sku, p, v, want) in table {
        assert_eq!(m.template_for(sku, p, v), want, "({sku:?}, {p}, {v})");
    }
}

#[test]
fn field_for_ignores_case() {
    let m = mapping();
    let table = [
        ("Name", Some("pet_name")),
        ("name", Some("pet_name")),
        ("NAME", Some("pet_name")),
        (" Photo ", Some("photo")),
        ("pa_color", None),
        ("_personalization_id", None),
    ];
    for (key, want) in table {
        assert_eq!(m.field_for(key), want, "{key:?}");
    }
    assert!(m.is_photo_field("photo"));
    assert!(!m.is_photo_field("pet_name"));
}

#[test]
fn reads_from_toml_config() {
    let m: ItemMapping = toml::from_str(
        r#"
        photo_fields = ["photo"]

        [[products]]
        sku = "Bar3"
        template = "pet-portrait"

        [[products]]
        product_id = 50
        variation_id = 51
        template = "mug-51"

        [[fields]]
        meta_key = "Name"
        field = "pet_name"

        [[fields]]
        meta_key = "Photo"
        field = "photo"
        "#,
    )
    .unwrap();
    assert_eq!(m.template_for("Bar3", 0, 0), Some("pet-portrait"));
    assert_eq!(m.template_for("", 50, 51), Some("mug-51"));
    assert_eq!(m.field_for("photo"), Some("photo"));
    assert_eq!(m.photo_fields, ["photo"]);
    // Everything is optional.
    assert_eq!(
        toml::from_str::<ItemMapping>("").unwrap(),
        ItemMapping::default()
    );
}

#[test]
fn toml_typos_are_rejected() {
    let err = toml::from_str::<ItemMapping>("[[products]]\nskus = \"Bar3\"\ntemplate = \"x\"\n")
        .unwrap_err();
    assert!(err.to_string().contains("skus"), "{err}");
}
