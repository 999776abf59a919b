//! Store status: every spelling a store sends maps to one kind; the raw string is kept.

use domain::{StatusKind, StoreStatus};

#[test]
fn normalize_maps_every_spelling_to_its_kind() {
    use StatusKind::*;
    let table: &[(&str, StatusKind)] = &[
        ("pending", Pending),
        ("Pending payment", Pending),
        ("wc-pending", Pending),
        ("processing", Processing),
        ("Processing", Processing),
        ("  PROCESSING \n", Processing),
        ("wc-processing", Processing),
        ("WC-Processing", Processing),
        ("on-hold", OnHold),
        ("On hold", OnHold),
        ("On Hold", OnHold),
        ("wc-on-hold", OnHold),
        ("ON_HOLD", OnHold),
        ("on_hold", OnHold),
        ("on  hold", OnHold),
        ("wc_on_hold", OnHold),
        ("completed", Completed),
        ("Completed", Completed),
        ("wc-completed", Completed),
        ("cancelled", Cancelled),
        ("Cancelled", Cancelled),
        ("canceled", Cancelled),
        ("wc-cancelled", Cancelled),
        ("refunded", Refunded),
        ("Refunded", Refunded),
        ("failed", Failed),
        ("wc-failed", Failed),
        ("checkout-draft", Draft),
        ("wc-checkout-draft", Draft),
        ("Checkout draft", Draft),
        ("draft", Draft),
        // Unknown or custom statuses are never acted on.
        ("", Other),
        ("   ", Other),
        ("trash", Other),
        ("shipped", Other),
        ("wc-awaiting-artwork", Other),
        ("processingx", Other),
        ("hold", Other),
    ];
    for (raw, want) in table {
        assert_eq!(StatusKind::normalize(raw), *want, "normalize({raw:?})");
    }
}

#[test]
fn kind_names_terminal_and_submission_rules() {
    use StatusKind::*;
    // kind, as_str, is_terminal, allows_submission
    let table = [
        (Pending, "pending", false, false),
        (Processing, "processing", false, true),
        (OnHold, "on-hold", false, false),
        (Completed, "completed", true, false),
        (Cancelled, "cancelled", true, false),
        (Refunded, "refunded", true, false),
        (Failed, "failed", true, false),
        (Draft, "draft", false, false),
        (Other, "other", false, false),
    ];
    assert_eq!(table.len(), StatusKind::ALL.len());
    for (kind, name, terminal, submit) in table {
        assert_eq!(kind.as_str(), name);
        assert_eq!(kind.to_string(), name);
        assert_eq!(kind.is_terminal(), terminal, "{name} terminal");
        assert_eq!(kind.allows_submission(), submit, "{name} allows submission");
        // The name normalizes back to the kind, and serde uses the same name.
        assert_eq!(StatusKind::normalize(name), kind);
        assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
        assert_eq!(
            serde_json::from_str::<StatusKind>(&format!("\"{name}\"")).unwrap(),
            kind
        );
    }
}

#[test]
fn store_status_keeps_the_raw_string_verbatim() {
    for raw in ["On Hold", " wc-on-hold ", "ON_HOLD", "Awaiting artwork"] {
        let s = StoreStatus::new(raw);
        assert_eq!(s.raw, raw);
        assert_eq!(s.to_string(), raw);
        let back: StoreStatus = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
    assert_eq!(StoreStatus::new("On Hold").kind, StatusKind::OnHold);
    assert_eq!(StoreStatus::new("Awaiting artwork").kind, StatusKind::Other);
}
