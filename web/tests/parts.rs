//! The small parts of the UI on their own: number, money and time formats, tones, HTML
//! escaping of rendered views, form fields, safe ZIP entry names, flash messages and `next=`.

use chrono::{TimeZone, Utc};
use leptos::prelude::*;
use rust_decimal::Decimal;
use web::form::Fields;
use web::ui::*;
use web::zip::safe_name_part;

#[test]
fn numbers_money_and_times_read_well() {
    assert_eq!(thousands(1284), "1,284");
    assert_eq!(thousands(100), "100");
    assert_eq!(thousands(1_000_000), "1,000,000");
    assert_eq!(money(Decimal::new(123450, 2), "USD"), "$1,234.50");
    assert_eq!(money(Decimal::new(5, 0), "CHF"), "5.00 CHF");
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
    assert_eq!(
        relative(now - chrono::Duration::minutes(5), now),
        "5 min ago"
    );
    assert_eq!(relative(now - chrono::Duration::hours(3), now), "3 h ago");
    assert_eq!(
        relative(now - chrono::Duration::days(3), now),
        "Nov 18, 2026"
    );
    assert_eq!(duration_text(3 * 3600 + 12 * 60), "3 h 12 min");
}

#[test]
fn unknown_values_are_neutral_never_success() {
    assert_eq!(store_tone("other"), Tone::Neutral);
    assert_eq!(store_tone("processing"), Tone::Success);
    assert_eq!(submit_tone("Weird"), Some(Tone::Neutral));
    assert_eq!(submit_tone(""), None);
    assert_eq!(shipment_tone("lost"), Tone::Neutral);
}

#[test]
fn a_view_renders_to_escaped_html() {
    let name = "<script>".to_string();
    let html = render(view! { <p class="x">{name}</p> });
    assert!(html.contains("&lt;script&gt;"), "{html}");
}

#[test]
fn repeated_fields_keep_every_value_and_ids_skip_junk() {
    let f = Fields::parse(b"ids=3&ids=x&ids=4,5&ids=3&status=on-hold&status=");
    assert_eq!(f.ids("ids"), vec![3, 4, 5]);
    assert_eq!(f.all("status"), vec!["on-hold".to_string()]);
    assert_eq!(f.get("missing"), "");
    assert_eq!(f.with("page", Some("2")).get("page"), "2");
    assert_eq!(
        f.without("status", "on-hold").all("status"),
        Vec::<String>::new()
    );
}

#[test]
fn names_are_safe() {
    assert_eq!(safe_name_part("MUG/11oz é"), "MUG_11oz__");
    assert_eq!(safe_name_part(".."), "x");
    assert_eq!(safe_name_part("1042"), "1042");
}

#[test]
fn next_is_a_local_path_only_and_flashes_round_trip() {
    use web::session::{Flash, safe_next};
    assert_eq!(safe_next("/orders?page=2"), "/orders?page=2");
    for bad in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil",
        "/login",
        "",
        "javascript:x",
    ] {
        assert_eq!(safe_next(bad), "/orders", "{bad}");
    }
    assert_eq!(
        Flash::decode("ok.Order+put+on+hold"),
        Some(Flash::ok("Order put on hold"))
    );
    assert_eq!(
        Flash::decode("err.Not%3B+done"),
        Some(Flash::err("Not; done"))
    );
    assert_eq!(Flash::decode("garbage"), None);
}
