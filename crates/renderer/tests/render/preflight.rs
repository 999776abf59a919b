//! Preflight explains what would print badly: photo resolution, bleed, safe area, empty fields.

use crate::common::*;
use renderer::{Scale, Severity};
use std::sync::Arc;

fn workload_with_photo(file: &str) -> renderer::Rendered {
    let r = renderer();
    let t = r.load_template(&fixture("workload")).unwrap();
    let mut input = fixture_input(&r, &t, "workload");
    let bytes = std::fs::read(fixture("pet-portrait").join(file)).unwrap();
    input.photos.insert("photo".into(), Arc::new(bytes));
    r.render(&t, &input, Scale::Dpi(20.0), &never).unwrap()
}

#[test]
fn photo_resolution_is_judged_at_its_printed_size() {
    // 600 px across a 10 in circle: 60 DPI, under the slot's minimum of 150.
    let low = workload_with_photo("pet-small.jpg");
    let f = low
        .preflight
        .with_code("photo_low_dpi")
        .next()
        .expect("photo_low_dpi");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.details["effective_dpi"], 60.0);
    // 1800 px across 10 in: 180 DPI, printable but soft (warning under 200).
    let soft = workload_with_photo("pet.jpg");
    assert_eq!(
        soft.preflight
            .with_code("photo_soft")
            .next()
            .expect("photo_soft")
            .severity,
        Severity::Warning
    );
    assert!(!soft.preflight.has_errors());
    // The workload's own 3024 px photo: 302 DPI, nothing to say. Judged at print size even when
    // rendering a small preview.
    let (_, _, ok) = render_fixture("workload", Scale::Width(300));
    assert!(ok.preflight.findings.is_empty(), "{:?}", ok.preflight);
}

#[test]
fn an_empty_required_photo_blocks_submission() {
    let r = renderer();
    let t = r.load_template(&fixture("workload")).unwrap();
    let mut input = fixture_input(&r, &t, "workload");
    input.values.remove("photo");
    input.photos.clear();
    let out = r.render(&t, &input, Scale::Dpi(20.0), &never).unwrap();
    let f = out
        .preflight
        .with_code("required_missing")
        .next()
        .expect("required_missing");
    assert_eq!(f.field.as_deref(), Some("photo"));
    assert!(out.preflight.has_errors());
}

fn bleed_template(text_box: &str) -> renderer::Rendered {
    let manifest = format!(
        r#"
id = "b"
[print_area]
width = 4
height = 4
unit = "in"
dpi = 100
bleed = 0.25
safe_margin = 0.25
[[fields]]
id = "v"
kind = "text"
[[layers]]
kind = "text"
field = "v"
box = {text_box}
align = "left"
size = 30
"#
    );
    let dir = temp_template(&[("template.toml", manifest.as_bytes())]);
    let r = renderer();
    let t = r.load_template(dir.path()).unwrap();
    let mut input = renderer::Input::default();
    input.values.insert("v".into(), "Hello".into());
    r.render(&t, &input, Scale::Print, &never).unwrap()
}

#[test]
fn text_in_the_bleed_is_an_error_and_outside_the_safe_area_a_warning() {
    // Canvas is 4.5 in; the trim starts at 0.25 in and the safe area at 0.5 in.
    let in_bleed = bleed_template("[0.0, 2.0, 2.0, 0.5]");
    assert_eq!(
        in_bleed
            .preflight
            .with_code("text_in_bleed")
            .next()
            .unwrap()
            .severity,
        Severity::Error
    );
    let near_edge = bleed_template("[0.3, 2.0, 2.0, 0.5]");
    assert_eq!(
        near_edge
            .preflight
            .with_code("outside_safe_area")
            .next()
            .unwrap()
            .severity,
        Severity::Warning
    );
    assert!(!near_edge.preflight.has_errors());
    let centred = bleed_template("[1.0, 2.0, 2.5, 0.5]");
    assert!(
        centred.preflight.findings.is_empty(),
        "{:?}",
        centred.preflight
    );
}
