//! Loading a template folder: the manifest's path in every error, fonts the manifest names,
//! files it names, SVG element ids `box_from` names, and boxes far beyond the canvas.
//! (The manifest's own rules are specified in `crates/template/tests/manifest`.)

use crate::common::{TempTemplate, largest_allocation_during, never, photo, renderer};
use renderer::{Input, Scale};
use std::sync::Arc;

/// The template crate's valid specimen manifest (an SVG layer `art`, a photo, a text slot
/// placed by `box_from = "art#title"`).
pub(crate) const GOOD: &str = include_str!("../../../template/tests/manifest/good.toml");

#[test]
fn loading_names_the_manifest_path_too() {
    // Not UTF-8: the byte offset of the first bad byte.
    let t = TempTemplate::new("");
    t.write("template.toml", b"id = \"caf\xE9\"\n");
    let msg = t.load().err().expect("refused").to_string();
    assert!(
        msg.contains("template.toml: byte 9: the manifest is not valid UTF-8"),
        "{msg}"
    );

    // A font family that is not in the font folder.
    let t = TempTemplate::new(
        "id = \"f\"\n[print_area]\nwidth = 10\nheight = 10\nunit = \"px\"\n\n[[layers]]\nid = \"t\"\nkind = \"text\"\ntext = \"x\"\nbox = [0, 0, 10, 10]\nfont = \"Comic Sans MS\"\n",
    );
    let msg = t.load().err().expect("refused").to_string();
    assert!(
        msg.contains("template.toml")
            && msg.contains("layer `t`.font")
            && msg.contains("Comic Sans MS"),
        "{msg}"
    );

    // A file the manifest names that is not there.
    let t = TempTemplate::new(
        "id = \"m\"\n[print_area]\nwidth = 10\nheight = 10\nunit = \"px\"\n\n[[layers]]\nkind = \"svg\"\nfile = \"missing.svg\"\n",
    );
    let msg = t.load().err().expect("refused").to_string();
    assert!(msg.contains("missing.svg"), "{msg}");

    // No manifest at all.
    let t = TempTemplate::new("");
    std::fs::remove_file(t.dir().join("template.toml")).expect("rm");
    let msg = t.load().err().expect("refused").to_string();
    assert!(msg.contains("template.toml"), "{msg}");
}

#[test]
fn box_from_a_missing_svg_element_is_refused_at_load() {
    let t = TempTemplate::new(GOOD);
    t.write(
        "art.svg",
        br#"<svg xmlns="http://www.w3.org/2000/svg" width="800" height="300"><rect id="other" width="10" height="10"/></svg>"#,
    );
    let msg = t.load().err().expect("refused").to_string();
    assert!(
        msg.contains("art.svg")
            && msg.contains("no element with id `title`")
            && msg.contains("layer `title`"),
        "{msg}"
    );
}

#[test]
fn a_layer_box_far_beyond_the_canvas_costs_no_more_than_the_canvas() {
    // A designer's unit slip (a box in pixels under `unit = "mm"`) makes a layer box 60 times
    // the canvas. Only the canvas is visible, so the render must not build the whole box:
    // 6000 x 6000 px is 108 MB of RGB here; 100000 x 100000 would be 30 GB and kill the worker.
    // Refusing the box at load (naming it) is fine too. The 100 px boxes are the control.
    let mut failures = Vec::new();
    for (kind, side) in [
        ("photo", 100),
        ("raster", 100),
        ("photo", 6000),
        ("raster", 6000),
    ] {
        let source = match kind {
            "photo" => "field = \"photo\"",
            _ => "file = \"card.png\"",
        };
        let t = TempTemplate::new(&format!(
            "id = \"big\"\n[print_area]\nwidth = 100\nheight = 100\nunit = \"px\"\n\n[[fields]]\nid = \"photo\"\nkind = \"photo\"\n\n\
             [[layers]]\nid = \"huge\"\nkind = \"{kind}\"\n{source}\nbox = [0, 0, {side}, {side}]\n"
        ));
        t.write("card.png", &photo("rgb8.png"));
        let r = renderer();
        let tpl = match r.load_template(&t.dir()) {
            Ok(tpl) => tpl,
            Err(e) => {
                let msg = e.to_string();
                assert!(side > 100, "{kind} {side}: the control loads: {msg}");
                assert!(
                    msg.contains("template.toml") && msg.contains("layers[0].box"),
                    "{kind}: {msg}"
                );
                continue;
            }
        };
        let mut input = Input::default();
        input.values.insert("photo".into(), "p.png".into());
        input
            .photos
            .insert("photo".into(), Arc::new(photo("rgb8.png")));
        let (result, largest) =
            largest_allocation_during(|| r.render(&tpl, &input, Scale::Print, &never));
        match result {
            Ok(out) => assert_eq!((out.canvas.width(), out.canvas.height()), (100, 100)),
            Err(e) => assert!(
                side > 100 && e.to_string().contains("huge"),
                "{kind} {side}: {e}"
            ),
        }
        if largest >= 32 << 20 {
            failures.push(format!(
                "{kind} box {side} px: a 100 x 100 render allocated {} MB at once",
                largest >> 20
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("; "));
}

/// A 10 x 10 px template with one text layer in `font`, italic or not.
fn text_template(font: &str, italic: bool) -> TempTemplate {
    TempTemplate::new(&format!(
        "id = \"f\"\n[print_area]\nwidth = 10\nheight = 10\nunit = \"px\"\n\n[[layers]]\nid = \"t\"\nkind = \"text\"\ntext = \"x\"\nbox = [0, 0, 10, 10]\nfont = \"{font}\"\nitalic = {italic}\n"
    ))
}

#[test]
fn an_unknown_font_family_is_refused_with_the_families_there_are() {
    let msg = text_template("Comic Sans MS", false)
        .load()
        .err()
        .expect("refused")
        .to_string();
    for family in ["DejaVu Sans", "Noto Sans", "Noto Serif"] {
        assert!(msg.contains(family), "lists `{family}`: {msg}");
    }
}

#[test]
fn italic_on_a_family_without_an_italic_face_is_refused_not_printed_upright() {
    // Noto Sans has an italic face; DejaVu Sans and Noto Serif have none in fonts/.
    text_template("Noto Sans", true)
        .load()
        .unwrap_or_else(|e| panic!("Noto Sans Italic exists: {e}"));
    text_template("DejaVu Sans", false)
        .load()
        .unwrap_or_else(|e| panic!("upright DejaVu Sans exists: {e}"));
    for family in ["DejaVu Sans", "Noto Serif"] {
        let msg = text_template(family, true)
            .load()
            .err()
            .unwrap_or_else(|| panic!("{family} italic must be refused"))
            .to_string();
        assert!(
            msg.contains("template.toml")
                && msg.contains("layer `t`.italic")
                && msg.contains(&format!("`{family}` has no italic face"))
                && msg.contains("Noto Sans"),
            "{msg}"
        );
    }
}

#[test]
fn box_from_an_element_inside_defs_says_why_it_has_no_place() {
    let t = TempTemplate::new(GOOD);
    t.write(
        "art.svg",
        br##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="800" height="300">
  <defs><rect id="title" x="10" y="10" width="100" height="40"/></defs>
  <use xlink:href="#title"/>
</svg>"##,
    );
    let msg = t.load().err().expect("refused").to_string();
    assert!(
        msg.contains("art.svg")
            && msg.contains("`title`")
            && msg.contains("layer `title`")
            && msg.contains("inside <defs>")
            && msg.contains("<use>"),
        "{msg}"
    );

    // Drawn through a `<use>` with its own id, the same rectangle places the slot.
    t.write(
        "art.svg",
        br##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="800" height="300">
  <defs><rect id="title-shape" x="10" y="10" width="100" height="40"/></defs>
  <use id="title" xlink:href="#title-shape"/>
</svg>"##,
    );
    t.load()
        .unwrap_or_else(|e| panic!("a <use> with the id places the slot: {e}"));
}

#[test]
fn a_hidden_element_is_named_as_drawing_nothing() {
    let t = TempTemplate::new(GOOD);
    t.write(
        "art.svg",
        br#"<svg xmlns="http://www.w3.org/2000/svg" width="800" height="300"><rect id="title" width="10" height="10" display="none"/></svg>"#,
    );
    let msg = t.load().err().expect("refused").to_string();
    assert!(msg.contains("draws nothing"), "{msg}");
}

#[test]
fn a_manifest_and_an_svg_saved_with_a_byte_order_mark_load() {
    let t = TempTemplate::new("");
    t.write("template.toml", format!("\u{feff}{GOOD}").as_bytes());
    t.write(
        "art.svg",
        "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"300\"><rect id=\"title\" x=\"10\" y=\"10\" width=\"100\" height=\"40\"/></svg>".as_bytes(),
    );
    let tpl = t
        .load()
        .unwrap_or_else(|e| panic!("a BOM is not part of the text: {e}"));
    assert_eq!(tpl.manifest().id, "mug");
}

#[test]
fn a_template_error_is_printed_once_through_an_error_chain() {
    // `pressroom render` prints `{:#}` (the message and every `source` after it): the manifest's
    // message must not come back as its own source ("error: A: A").
    let t = text_template("Comic Sans MS", false);
    let err = t.load().err().expect("refused");
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push_str(&format!(": {s}"));
        source = s.source();
    }
    assert_eq!(
        chain.matches("Comic Sans MS").count(),
        1,
        "the message repeats: {chain}"
    );
}
