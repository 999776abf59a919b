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
