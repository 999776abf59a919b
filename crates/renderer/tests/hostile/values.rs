//! Field values: far too long (a render error), or breaking a field's rules (preflight errors
//! with stable codes), or not UTF-8 at all (the CLI refuses the data file in one line).

use crate::common::{TempTemplate, render_at_30dpi, renderer};
use renderer::{Input, RenderError, Rendered};
use std::time::{Duration, Instant};

const TEMPLATE: &str = r#"
id = "values"
[print_area]
width = 4
height = 2
unit = "in"

[[fields]]
id = "name"
label = "Name"
kind = "text"
required = true
max_length = 10

[[fields]]
id = "colour"
label = "Colour"
kind = "choice"
allowed = ["red", "blue"]
default = "red"

[[fields]]
id = "note"
kind = "text"

[[layers]]
kind = "text"
field = "name"
box = [0.2, 0.2, 3.6, 0.8]
size = 24
min_size = 6

[[layers]]
kind = "text"
text = "{colour}: {note}"
box = [0.2, 1.0, 3.6, 0.8]
size = 12
min_size = 2
"#;

fn render(values: &[(&str, &str)]) -> Result<Rendered, RenderError> {
    let t = TempTemplate::new(TEMPLATE);
    let r = renderer();
    let tpl = r.load_template(&t.dir()).expect("template loads");
    let mut input = Input::default();
    for (k, v) in values {
        input.values.insert(k.to_string(), v.to_string());
    }
    render_at_30dpi(&r, &tpl, &input)
}

#[test]
fn ten_thousand_characters_is_a_value_error() {
    let long = "a".repeat(10_000);
    let started = Instant::now();
    let err = render(&[("name", "Ann"), ("note", &long)])
        .err()
        .expect("refused");
    // Refused before shaping: 10,000 characters would otherwise be laid out and shrunk.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    match &err {
        RenderError::Value { field, reason } => {
            assert_eq!(field, "note");
            assert!(
                reason.contains("10000 characters") && reason.contains("at most 1000"),
                "{reason}"
            );
        }
        other => panic!("expected RenderError::Value, got {other:?}"),
    }
    assert!(err.is_input_error() && !err.is_retryable());
    assert!(err.to_string().starts_with("field `note`: "), "{err}");
}

#[test]
fn a_good_render_has_no_findings() {
    // The baseline for the tests below: their findings come from the value they break.
    let out = render(&[("name", "Ann"), ("colour", "blue"), ("note", "hello")]).expect("renders");
    assert!(out.preflight.findings.is_empty(), "{:?}", out.preflight);
    assert_eq!(out.record.fields["colour"], "blue");
}

#[test]
fn empty_required_field_is_required_missing() {
    for empty in [None, Some(""), Some("   ")] {
        let mut values = vec![("note", "x")];
        if let Some(v) = empty {
            values.push(("name", v));
        }
        let out = render(&values).expect("renders; preflight reports");
        let f: Vec<_> = out.preflight.with_code("required_missing").collect();
        assert_eq!(f.len(), 1, "{empty:?}: {:?}", out.preflight);
        assert_eq!(f[0].field.as_deref(), Some("name"));
        assert!(
            f[0].message.contains("Name is required"),
            "{}",
            f[0].message
        );
        assert!(out.preflight.has_errors());
    }
}

#[test]
fn value_not_allowed_is_not_allowed() {
    let out = render(&[("name", "Ann"), ("colour", "green")]).expect("renders; preflight reports");
    let f: Vec<_> = out.preflight.with_code("not_allowed").collect();
    assert_eq!(f.len(), 1, "{:?}", out.preflight);
    assert_eq!(f[0].field.as_deref(), Some("colour"));
    assert_eq!(f[0].details["value"], "green");
    assert_eq!(f[0].details["allowed"], serde_json::json!(["red", "blue"]));
    assert!(out.preflight.has_errors());
}

#[test]
fn too_long_counts_user_perceived_characters() {
    let out = render(&[("name", "Bartholomew")]).expect("renders; preflight reports");
    let f: Vec<_> = out.preflight.with_code("too_long").collect();
    assert_eq!(f.len(), 1, "{:?}", out.preflight);
    assert_eq!(f[0].field.as_deref(), Some("name"));
    assert_eq!(
        (
            f[0].details["length"].as_u64(),
            f[0].details["max_length"].as_u64()
        ),
        (Some(11), Some(10))
    );

    // Ten thumbs with skin tones are 20 code points but 10 characters: not too long.
    let thumbs = "\u{1F44D}\u{1F3FD}".repeat(10);
    let out = render(&[("name", &thumbs)]).expect("renders");
    assert_eq!(
        out.preflight.with_code("too_long").count(),
        0,
        "{:?}",
        out.preflight
    );
}

#[test]
fn unknown_field_is_a_warning_only() {
    let out = render(&[("name", "Ann"), ("nmae", "typo")]).expect("renders");
    let f: Vec<_> = out.preflight.with_code("unknown_field").collect();
    assert_eq!(f.len(), 1);
    assert!(!out.preflight.has_errors(), "{:?}", out.preflight);
}

// The CLI's handling of bad data files is specified in crates/pressroom/tests/cli.rs.
