//! Colours that follow a choice: a `color` or `recolor` map must cover every allowed value or
//! give a `default`, or the missing choices would print in the artwork's own colour (or black)
//! with no word to anyone.

use template::{ColorSpec, Manifest, Rgba, Values};

const FILE: &str = "shop/tee/template.toml";

/// A choice field `color` (navy, rose, forest) and a layer of `kind` whose `key` is `map`.
fn manifest(kind: &str, key: &str, map: &str) -> String {
    let source = match kind {
        "svg" => "file = \"art.svg\"",
        "text" => "text = \"Hi\"\nbox = [0, 0, 10, 10]",
        _ => "",
    };
    format!(
        "id = \"tee\"\n[print_area]\nwidth = 10\nheight = 10\nunit = \"in\"\n\n\
         [[fields]]\nid = \"color\"\nkind = \"choice\"\nallowed = [\"navy\", \"rose\", \"forest\"]\n\n\
         [[layers]]\nid = \"ink\"\nkind = \"{kind}\"\n{source}\n{key} = {map}\n"
    )
}

#[test]
fn a_map_that_leaves_out_a_choice_without_a_default_is_refused_naming_layer_key_and_choices() {
    for (kind, key) in [("svg", "recolor"), ("text", "color"), ("fill", "color")] {
        let text = manifest(
            kind,
            key,
            "{ field = \"color\", map = { navy = \"#1B2A49\" } }",
        );
        let err = Manifest::parse(&text, FILE).expect_err("refused");
        let shown = err.to_string();
        assert_eq!(err.location, format!("layers[0].{key}.map"), "{shown}");
        for needle in [
            "layer `ink`",
            &format!("`{key}`"),
            "`rose`, `forest`",
            "field `color`",
            "default",
        ] {
            assert!(
                shown.contains(needle),
                "{kind}.{key}: `{shown}` lacks `{needle}`"
            );
        }
        assert!(!shown.contains("`navy`"), "{shown}");
    }
}

#[test]
fn a_partial_map_with_a_default_or_a_full_map_is_accepted() {
    let navy = Rgba {
        r: 0x1B,
        g: 0x2A,
        b: 0x49,
        a: 255,
    };
    for map in [
        "{ field = \"color\", map = { navy = \"#1B2A49\" }, default = \"#000000\" }",
        "{ field = \"color\", map = { navy = \"#1B2A49\", rose = \"#C2185B\", forest = \"#2E7D32\" } }",
    ] {
        let m = Manifest::parse(&manifest("svg", "recolor", map), FILE)
            .unwrap_or_else(|e| panic!("{map}: {e}"));
        let spec: &ColorSpec = m.layers[0].recolor.as_ref().expect("recolor");
        let mut values = Values::new();
        values.insert("color".into(), "navy".into());
        assert_eq!(spec.resolve(&values), Some(navy));
        values.insert("color".into(), "rose".into());
        assert!(
            spec.resolve(&values).is_some(),
            "{map}: every choice has a colour"
        );
    }
}
