//! Text slots: placement like other tools, shrink-to-fit, overflow, missing glyphs, arcs, case.

use crate::common::*;
use renderer::{Input, Scale, Severity};

fn text_template(layer: &str) -> tempfile::TempDir {
    let manifest = format!(
        r#"
id = "t"
[print_area]
width = 4500
height = 5400
unit = "px"
[[fields]]
id = "v"
kind = "text"
[[layers]]
kind = "text"
field = "v"
{layer}
"#
    );
    temp_template(&[("template.toml", manifest.as_bytes())])
}

fn render_text(layer: &str, value: &str, scale: Scale) -> renderer::Rendered {
    let dir = text_template(layer);
    let r = renderer();
    let t = r.load_template(dir.path()).unwrap();
    let mut input = Input::default();
    input.values.insert("v".into(), value.into());
    r.render(&t, &input, scale, &never).unwrap()
}

/// Pillow (ImageDraw.text, anchor "mm") puts the workload's lines here; we must agree within
/// 10 px so that a template made against other tools prints where the designer put it.
#[test]
fn workload_lines_land_where_pillow_puts_them() {
    let names = r#"box = [400, 4000, 3700, 600]
font = "DejaVu Serif"
weight = 700
size = 72"#;
    let date = r#"box = [400, 4520, 3700, 400]
font = "DejaVu Serif"
weight = 700
size = 48"#;
    for (layer, text, pillow) in [
        (names, "Sarah & James", (1033, 4178, 3475, 4467)),
        (date, "Est. 2026", (1732, 4642, 2764, 4792)),
    ] {
        let out = render_text(layer, text, Scale::Print);
        let (x0, y0, x1, y1) = ink_bbox(&out.canvas, 127).expect("ink");
        let (px0, py0, px1, py1) = pillow;
        for (ours, theirs, what) in [
            (x0, px0, "left"),
            (y0, py0, "top"),
            (x1, px1, "right"),
            (y1, py1, "bottom"),
        ] {
            assert!(
                ours.abs_diff(theirs) <= 10,
                "{text}: {what} edge at {ours}, Pillow at {theirs}"
            );
        }
    }
}

#[test]
fn long_text_shrinks_to_fit_its_box_and_says_so() {
    let layer = r#"box = [1000, 1000, 1500, 400]
size = 72
min_size = 12"#;
    let out = render_text(
        layer,
        "Maximilian Alexander Featherstonehaugh",
        Scale::Print,
    );
    let (x0, _, x1, _) = ink_bbox(&out.canvas, 0).unwrap();
    assert!(
        x0 >= 1000 && x1 <= 2500,
        "ink {x0}..{x1} stays inside the box 1000..2500"
    );
    let f = out
        .preflight
        .with_code("text_shrunk")
        .next()
        .expect("a text_shrunk warning");
    assert_eq!(f.severity, Severity::Warning);
    assert!(!out.preflight.has_errors(), "{:?}", out.preflight);
}

#[test]
fn text_that_cannot_fit_even_at_its_minimum_is_an_error() {
    let layer = r#"box = [1000, 1000, 600, 400]
size = 72
min_size = 60"#;
    let out = render_text(
        layer,
        "Maximilian Alexander Featherstonehaugh",
        Scale::Print,
    );
    let f = out
        .preflight
        .with_code("text_overflow")
        .next()
        .expect("a text_overflow error");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("does not fit"), "{}", f.message);
}

#[test]
fn characters_no_font_has_are_named_as_errors() {
    // Cuneiform: none of the project's fonts covers it.
    let out = render_text("box = [0, 0, 4500, 1000]", "Anu 𒀭", Scale::Dpi(30.0));
    let f = out
        .preflight
        .with_code("missing_glyphs")
        .next()
        .expect("missing_glyphs");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("U+1202D"), "{}", f.message);
    // Scripts the library covers do not trigger it.
    let ok = render_text(
        "box = [0, 0, 4500, 1000]",
        "Zoë مريم श्री 王 🐶 שלום",
        Scale::Dpi(30.0),
    );
    assert_eq!(
        ok.preflight.with_code("missing_glyphs").count(),
        0,
        "{:?}",
        ok.preflight
    );
}

#[test]
fn text_on_a_top_arc_bends_down_at_both_ends() {
    let layer = r#"box = [500, 500, 3500, 600]
size = 72
curve = { radius = 1500, side = "top" }"#;
    let out = render_text(layer, "IIIIIIIIIIIIIIIIIIIIIII", Scale::Print);
    let (x0, _, x1, _) = ink_bbox(&out.canvas, 127).unwrap();
    let top_of_column =
        |x: u32| (0..out.canvas.height()).find(|&y| pixel(&out.canvas, x, y)[3] > 127);
    // Find an inked column near each end and at the middle.
    let left = (x0..x1).find_map(top_of_column).unwrap();
    let right = (x0..x1).rev().find_map(top_of_column).unwrap();
    let mid = ((x0 + x1) / 2..x1).find_map(top_of_column).unwrap();
    assert!(
        left > mid + 40 && right > mid + 40,
        "ends ({left}, {right}) lie lower than the middle ({mid})"
    );
    // And a bottom arc is the mirror image: ends higher than the middle.
    let layer = layer.replace("top", "bottom");
    let out = render_text(&layer, "IIIIIIIIIIIIIIIIIIIIIII", Scale::Print);
    let (x0, _, x1, _) = ink_bbox(&out.canvas, 127).unwrap();
    let bottom_of_column = |x: u32| {
        (0..out.canvas.height())
            .rev()
            .find(|&y| pixel(&out.canvas, x, y)[3] > 127)
    };
    let left = (x0..x1).find_map(bottom_of_column).unwrap();
    let mid = ((x0 + x1) / 2..x1).find_map(bottom_of_column).unwrap();
    assert!(left + 40 < mid, "bottom arc: end {left} above middle {mid}");
}

#[test]
fn case_transform_is_applied_before_shaping() {
    let upper = render_text(
        "box = [0, 0, 4500, 1000]\ncase = \"upper\"",
        "biscuit",
        Scale::Dpi(60.0),
    );
    let plain = render_text("box = [0, 0, 4500, 1000]", "BISCUIT", Scale::Dpi(60.0));
    assert_eq!(upper.canvas.data(), plain.canvas.data());
}
