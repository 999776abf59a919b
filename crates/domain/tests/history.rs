//! History events: actors and kinds have stable text forms for storage and logs.

mod common;
use common::t;
use domain::*;
use serde_json::json;

#[test]
fn actor_labels_parse_back() {
    let table = [
        (Actor::System, "system"),
        (Actor::Store, "store"),
        (Actor::Worker("w1".into()), "worker:w1"),
        (Actor::Merchant("alice".into()), "merchant:alice"),
        (Actor::Provider("printful".into()), "provider:printful"),
        // Only the first ':' separates; the rest is the name.
        (Actor::Merchant("a:b".into()), "merchant:a:b"),
    ];
    for (actor, label) in table {
        assert_eq!(actor.label(), label);
        assert_eq!(actor.to_string(), label);
        assert_eq!(label.parse::<Actor>().unwrap(), actor);
        assert_eq!(serde_json::to_value(&actor).unwrap(), json!(label));
        assert_eq!(
            serde_json::from_value::<Actor>(json!(label)).unwrap(),
            actor
        );
    }
    for bad in ["", "System", "robot:r2", "worker"] {
        assert!(bad.parse::<Actor>().is_err(), "{bad:?}");
        assert!(
            serde_json::from_value::<Actor>(json!(bad)).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn event_kinds_have_snake_case_names() {
    let table = [
        (EventKind::Imported, "imported"),
        (EventKind::Updated, "updated"),
        (EventKind::WebhookReceived, "webhook_received"),
        (EventKind::StatusChanged, "status_changed"),
        (EventKind::RenderRequested, "render_requested"),
        (EventKind::Rendered, "rendered"),
        (EventKind::RenderFailed, "render_failed"),
        (EventKind::Edited, "edited"),
        (EventKind::Preflight, "preflight"),
        (EventKind::SubmissionAttempt, "submission_attempt"),
        (EventKind::Submitted, "submitted"),
        (EventKind::SubmissionFailed, "submission_failed"),
        (EventKind::Tracking, "tracking"),
        (EventKind::Note, "note"),
    ];
    assert_eq!(table.len(), EventKind::ALL.len());
    for (kind, name) in table {
        assert_eq!(kind.as_str(), name);
        assert_eq!(name.parse::<EventKind>().unwrap(), kind);
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(name));
    }
    let err = "Rendered".parse::<EventKind>().unwrap_err();
    assert_eq!(err.to_string(), "unknown event kind \"Rendered\"");
}

#[test]
fn history_event_round_trips_with_and_without_payload() {
    let plain = HistoryEvent::new(
        t(0),
        Actor::Worker("w1".into()),
        EventKind::Rendered,
        "item 316",
    );
    let webhook = HistoryEvent::new(
        t(1),
        Actor::Store,
        EventKind::WebhookReceived,
        "order.updated",
    )
    .with_payload(json!({ "id": 727, "status": "processing" }));
    for e in [plain, webhook] {
        let back: HistoryEvent = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }
    let v =
        serde_json::to_value(HistoryEvent::new(t(0), Actor::System, EventKind::Note, "x")).unwrap();
    assert_eq!(v["actor"], json!("system"));
    assert_eq!(v["kind"], json!("note"));
}

#[test]
fn an_actor_comes_back_from_its_label() {
    for actor in [
        Actor::System,
        Actor::Store,
        Actor::Worker("w1".into()),
        Actor::Merchant("anna".into()),
        Actor::Provider("printful".into()),
    ] {
        assert_eq!(Actor::from_label(&actor.label()), actor);
    }
    // A bare name (an older row) is a merchant's.
    assert_eq!(Actor::from_label("api"), Actor::Merchant("api".into()));
}
