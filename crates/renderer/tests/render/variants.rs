//! Choice-driven variants: colours that follow a choice, layers shown by a choice, slots placed
//! by SVG element ids.

use crate::common::*;
use renderer::{Scale, Severity};

fn svg_slots(color: &str, style: &str) -> renderer::Rendered {
    let r = renderer();
    let t = r.load_template(&fixture("svg-slots")).unwrap();
    let mut input = fixture_input(&r, &t, "svg-slots");
    input.values.insert("color".into(), color.into());
    input.values.insert("style".into(), style.into());
    r.render(&t, &input, Scale::Dpi(100.0), &never).unwrap()
}

/// The frame's outer line: art.svg draws it 6 units wide at x = 30 of 800 (8 in), so at
/// 100 DPI it sits at about x = 12.5 + 30 = 42 px; the canvas has 12.5 px of bleed.
fn frame_pixel(out: &renderer::Rendered) -> [u8; 4] {
    pixel(out, 43, 500)
}

fn pixel(out: &renderer::Rendered, x: u32, y: u32) -> [u8; 4] {
    crate::common::pixel(&out.canvas, x, y)
}

#[test]
fn a_colour_choice_recolours_the_artwork() {
    let navy = frame_pixel(&svg_slots("navy", "hearts"));
    let rose = frame_pixel(&svg_slots("rose", "hearts"));
    assert_eq!(navy, [0x1B, 0x2A, 0x49, 255]);
    assert_eq!(rose, [0xC2, 0x18, 0x5B, 255]);
}

#[test]
fn a_style_choice_shows_one_variant_layer() {
    // A heart's lower point at (100, 140) of 800 x 1000 units; a star has nothing there.
    let at = |out: &renderer::Rendered| pixel(out, 13 + 100, 13 + 136);
    assert_eq!(at(&svg_slots("navy", "hearts"))[3], 255);
    assert_eq!(at(&svg_slots("navy", "stars")), [255, 255, 255, 255]);
}

#[test]
fn slots_placed_by_svg_id_land_on_the_element() {
    let out = svg_slots("navy", "hearts");
    // photo-slot: x 150..650, y 140..700 of 800 x 1000 units on an 8 x 10 in area at 100 DPI,
    // so 1 unit = 1 px, shifted by the 12.5 px bleed: x 162.5..662.5, y 152.5..712.5.
    let inside = pixel(&out, 412, 432);
    assert!(
        inside[..3] != [255, 255, 255],
        "the photo covers the slot's middle: {inside:?}"
    );
    assert_ne!(
        pixel(&out, 412, 156),
        [255, 255, 255, 255],
        "the slot's top edge is covered"
    );
    assert_eq!(
        pixel(&out, 412, 148),
        [255, 255, 255, 255],
        "above the slot stays white"
    );
    assert_eq!(
        pixel(&out, 157, 432),
        [255, 255, 255, 255],
        "left of the slot stays white"
    );
}

#[test]
fn a_choice_outside_its_list_is_a_preflight_error() {
    let out = svg_slots("purple", "hearts");
    let f = out
        .preflight
        .with_code("not_allowed")
        .next()
        .expect("not_allowed");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.field.as_deref(), Some("color"));
}
