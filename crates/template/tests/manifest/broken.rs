//! Broken manifests, as designers write them: every error names the file, where in it (a line
//! or a key path), and what is wrong.

use template::Manifest;

const FILE: &str = "shop/mug/template.toml";

/// A valid manifest; each case below breaks it in one place. (The renderer's tests load it
/// from a folder too.)
const GOOD: &str = include_str!("good.toml");

/// Replaces exactly one occurrence of `from`.
fn breaking(from: &str, to: &str) -> String {
    assert_eq!(
        GOOD.matches(from).count(),
        1,
        "`{from}` must occur once in GOOD"
    );
    GOOD.replacen(from, to, 1)
}

/// The 1-based line on which `needle` first occurs.
fn line_of(text: &str, needle: &str) -> String {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in the text"));
    format!("line {}", text[..at].matches('\n').count() + 1)
}

#[test]
fn the_base_manifest_is_valid() {
    let m = Manifest::parse(GOOD, FILE).expect("GOOD parses");
    assert_eq!(m.layers.len(), 3);
}

#[test]
fn broken_manifests_name_the_file_the_place_and_the_problem() {
    // (what is broken, manifest text, substrings the error must contain)
    let mut cases: Vec<(&str, String, Vec<String>)> = Vec::new();
    let mut case = |what: &'static str, text: String, needles: &[&str]| {
        let needles = needles.iter().map(|s| s.to_string()).collect();
        cases.push((what, text, needles));
    };

    let t = breaking("size = 24", "size = 24\ncolour = \"red\"");
    let line = line_of(&t, "colour =");
    case("unknown key", t, &[&line, "unknown field `colour`"]);

    let t = breaking("dpi = 300", "dpi = \"300\"");
    let line = line_of(&t, "dpi =");
    case("wrong type", t, &[&line, "invalid type", "string"]);

    let t = breaking("box = [0.5, 0.5, 2, 2]", "box = [0.5, 0.5, 2]");
    let line = line_of(&t, "box =");
    case("box of three numbers", t, &[&line]);

    let t = GOOD.replacen(
        "[print_area]\nwidth = 8\nheight = 3\nunit = \"in\"\ndpi = 300\nbackground = \"#FFFFFF\"\n",
        "",
        1,
    );
    case("missing print_area", t, &["missing field `print_area`"]);

    case(
        "box_from an unknown layer",
        breaking("art#title", "artwork#title"),
        &["layers[2].box_from", "no SVG layer `artwork`"],
    );
    case(
        "box_from a layer that is not SVG",
        breaking("art#title", "portrait#title"),
        &["layers[2].box_from", "`portrait` is not an SVG layer"],
    );
    case(
        "box_from without an element",
        breaking("art#title", "art"),
        &["layers[2].box_from", "svg_layer_id#element_id"],
    );

    case(
        "a layer's field is not declared",
        breaking("field = \"name\"", "field = \"nmae\""),
        &["layers[2].field", "field `nmae` is not declared"],
    );
    case(
        "a text template's field is not declared",
        breaking("field = \"name\"", "text = \"Hi {who}\""),
        &["layers[2].field", "field `who` is not declared"],
    );
    case(
        "a photo slot on a text field",
        breaking("field = \"photo\"", "field = \"name\""),
        &["layers[1].field", "`name` is not a photo field"],
    );

    let t = breaking("background = \"#FFFFFF\"", "background = \"#FFFFF\"");
    let line = line_of(&t, "background =");
    case(
        "bad background colour",
        t,
        &[&line, "`#FFFFF` is not a colour"],
    );

    case(
        "path with ..",
        breaking("file = \"art.svg\"", "file = \"../other/art.svg\""),
        &[
            "layers[0].file",
            "`../other/art.svg` must be a relative path inside the template folder",
        ],
    );
    case(
        "absolute path",
        breaking("file = \"art.svg\"", "file = \"/etc/passwd\""),
        &["layers[0].file", "relative path"],
    );
    case(
        "URL",
        breaking("file = \"art.svg\"", "file = \"https://example.com/a.svg\""),
        &["layers[0].file", "relative path"],
    );

    case(
        "negative box width",
        breaking("box = [0.5, 0.5, 2, 2]", "box = [0.5, 0.5, -2, 2]"),
        &["layers[1].box (width)", "must be a positive number, got -2"],
    );
    case(
        "negative text size",
        breaking("size = 24", "size = -24"),
        &["layers[2].size", "positive", "-24"],
    );
    case(
        "negative print width",
        breaking("width = 8", "width = -8"),
        &["print_area.width", "positive"],
    );
    case(
        "NaN print height",
        breaking("height = 3", "height = nan"),
        &["print_area.height", "positive"],
    );
    case(
        "absurd DPI",
        breaking("dpi = 300", "dpi = 100000"),
        &["print_area.dpi", "100000"],
    );
    case(
        "absurd canvas",
        breaking("width = 8", "width = 8000"),
        &["print_area", "megapixels"],
    );

    case(
        "duplicate layer id",
        breaking("id = \"title\"", "id = \"art\""),
        &["layers[2].id", "used twice"],
    );
    case(
        "unknown mask",
        breaking("mask = \"circle\"", "mask = \"star\""),
        &["layers[1].mask", "unknown mask `star`"],
    );
    case(
        "min_size above size",
        breaking("size = 24", "size = 24\nmin_size = 30"),
        &["layers[2].min_size"],
    );
    case(
        "key for another kind",
        breaking(
            "mask = \"circle\"",
            "mask = \"circle\"\nfont = \"Noto Sans\"",
        ),
        &["layers[1].font", "does not apply to a photo layer"],
    );
    case(
        "no layers",
        GOOD[..GOOD.find("[[layers]]").expect("layers")].to_string(),
        &["layers", "at least one"],
    );

    let t = breaking("name = \"Mug\"", "name = \"Mug");
    let line = line_of(&t, "name = \"Mug");
    case("unterminated string", t, &[&line]);

    for (what, text, needles) in &cases {
        let err = match Manifest::parse(text, FILE) {
            Ok(_) => panic!("{what}: parsed"),
            Err(e) => e,
        };
        let shown = err.to_string();
        assert_eq!(err.file, FILE, "{what}");
        assert!(!err.location.is_empty(), "{what}: no location in `{shown}`");
        assert!(!err.message.is_empty(), "{what}: no message");
        assert!(
            shown.starts_with(&format!("{FILE}: {}: ", err.location)),
            "{what}: `{shown}`"
        );
        for n in needles {
            assert!(
                shown.contains(n.as_str()),
                "{what}: `{shown}` should contain `{n}`"
            );
        }
    }
}

#[test]
fn bad_layer_colour_says_what_is_wrong() {
    // A print-area background gets "`#FFFFF` is not a colour; write #RGB, #RRGGBB or #RRGGBBAA",
    // but a layer `color` / `recolor` (an untagged enum: a colour or a by-field map) gets serde's
    // "data did not match any variant of untagged enum RawColor", which names no colour.
    for (from, to, bad) in [
        ("color = \"#1B2A49\"", "color = \"navy\"", "navy"),
        ("color = \"#1B2A49\"", "color = \"#1B2A4\"", "#1B2A4"),
        (
            "color = \"#1B2A49\"",
            "color = { field = \"name\", map = { Ann = \"pink\" } }",
            "pink",
        ),
    ] {
        let t = breaking(from, to);
        let err = Manifest::parse(&t, FILE).expect_err("refused");
        let shown = err.to_string();
        assert!(shown.contains(&line_of(&t, "color =")), "{shown}");
        assert!(
            shown.contains(&format!("`{bad}` is not a colour")),
            "{to}: {shown}"
        );
        assert!(
            !shown.contains("untagged enum"),
            "{to}: serde internals leak: {shown}"
        );
    }
}
