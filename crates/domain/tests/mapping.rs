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

#[test]
fn personalize_fills_fields_from_meta_and_lists_photos_to_fetch() {
    let m = mapping();
    let meta = [
        ("Name", "Rex".to_string()),
        ("name", "echo of the plugin".to_string()), // later duplicates do not win
        ("Photo", " https://shop.example/rex.jpg ".to_string()),
        ("pa_color", "red".to_string()), // not a template field
    ];
    let p = m
        .personalize("Bar3", 22, 23, meta)
        .expect("Bar3 is personalized");
    assert_eq!(p.template_id, "pet-portrait");
    assert_eq!(p.values["pet_name"], "Rex");
    assert!(!p.values.contains_key("pa_color"));
    assert_eq!(p.client_images.len(), 1);
    assert_eq!(p.client_images[0].field, "photo");
    assert_eq!(
        p.client_images[0].source_url,
        "https://shop.example/rex.jpg"
    );
    assert_eq!(p.client_images[0].object_key, None);
}

#[test]
fn personalize_without_a_matching_product_is_none_and_empty_photos_are_not_fetched() {
    let m = mapping();
    assert_eq!(
        m.personalize("", 93, 0, [("Name", "Rex".to_string())]),
        None
    );
    let p = m
        .personalize("Bar3", 0, 0, [("Photo", "  ".to_string())])
        .expect("personalized");
    assert!(p.client_images.is_empty());
}
