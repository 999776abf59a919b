//! Order rules: what may be rendered, edited or submitted, how store status changes move the
//! countdown, and when an order submits itself.

mod common;
use common::*;
use domain::*;

#[test]
fn submit_status_table_label_lock_and_submit() {
    // submit status, label, design_locked, can_submit, can_render on a processing order
    let table = [
        (SubmitStatus::Blank, "", false, true, Ok(())),
        (submitted(), "Submitted", true, false, Err("design_locked")),
        (failed(), "Failed", false, true, Ok(())),
        (review(), "Review", true, false, Err("design_locked")),
    ];
    for (status, label, locked, submit, render) in table {
        assert_eq!(status.label(), label);
        assert_eq!(status.design_locked(), locked, "{label:?} locked");
        assert_eq!(status.can_submit(), submit, "{label:?} can_submit");
        let mut order = in_app_order();
        order.submit_status = status;
        assert_eq!(
            order.can_render().map_err(|e| e.code()),
            render,
            "{label:?} render"
        );
        assert_eq!(
            order.can_edit().map_err(|e| e.code()),
            render,
            "{label:?} edit"
        );
    }
}

#[test]
fn can_render_by_store_status() {
    // raw store status, expected can_render code
    let table = [
        ("processing", Ok(())),
        ("pending", Ok(())),
        ("On hold", Ok(())),
        ("completed", Ok(())),
        ("failed", Ok(())),
        ("Cancelled", Err("order_closed")),
        ("wc-cancelled", Err("order_closed")),
        ("refunded", Err("order_closed")),
    ];
    for (raw, want) in table {
        let mut order = in_app_order();
        order.status = StoreStatus::new(raw);
        assert_eq!(order.can_render().map_err(|e| e.code()), want, "{raw}");
        assert_eq!(order.can_edit().map_err(|e| e.code()), want, "{raw}");
    }
}

#[test]
fn rule_violation_messages_name_the_order_and_status() {
    let mut order = in_app_order();
    order.status = StoreStatus::new("Cancelled");
    let err = order.can_render().unwrap_err();
    assert_eq!(
        err.to_string(),
        "order 1001 is Cancelled; it cannot be rendered"
    );

    // The lock wins over the closed status.
    order.submit_status = submitted();
    let err = order.can_render().unwrap_err();
    assert_eq!(
        err,
        RuleViolation::DesignLocked {
            number: "1001".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "order 1001 was submitted; its design is locked"
    );
}

/// The countdown state before a status change.
#[derive(Clone, Copy, Debug)]
enum Cd {
    None,
    Running,
    Paused,
}

fn countdown(state: Cd) -> Countdown {
    let mut c = Countdown::start(t(0), h(6));
    match state {
        Cd::None => Countdown::none(),
        Cd::Running => c,
        Cd::Paused => {
            c.pause(t(3));
            c
        }
    }
}

#[test]
fn apply_store_status_table() {
    use CountdownEffect::*;
    // from raw, countdown before, to raw, effect
    let table = [
        ("processing", Cd::Running, "on-hold", Paused),
        ("processing", Cd::Running, "On Hold", Paused),
        ("processing", Cd::Running, "wc-on-hold", Paused),
        ("processing", Cd::None, "on-hold", Unchanged),
        ("on-hold", Cd::Paused, "processing", Resumed),
        ("On Hold", Cd::Paused, "Processing", Resumed),
        ("on-hold", Cd::Paused, "pending", Resumed),
        ("on-hold", Cd::None, "processing", Unchanged),
        // Another spelling of on-hold is not "leaving" it.
        ("on-hold", Cd::Paused, "On Hold", Unchanged),
        ("processing", Cd::Running, "cancelled", Cleared),
        ("processing", Cd::Running, "refunded", Cleared),
        ("processing", Cd::Running, "failed", Cleared),
        ("on-hold", Cd::Paused, "cancelled", Cleared),
        ("processing", Cd::None, "cancelled", Unchanged),
        ("processing", Cd::Running, "completed", Unchanged),
        ("processing", Cd::Running, "pending", Unchanged),
        ("pending", Cd::None, "processing", Unchanged),
        ("processing", Cd::Running, "Processing", Unchanged),
        ("processing", Cd::Running, "awaiting-artwork", Unchanged),
    ];
    for (from, before, to, effect) in table {
        let mut order = in_app_order();
        order.status = StoreStatus::new(from);
        order.countdown = countdown(before);
        let change = order
            .apply_store_status(to, t(4))
            .unwrap_or_else(|| panic!("{from} -> {to}: expected a change"));
        let case = format!("{from} ({before:?}) -> {to}");
        assert_eq!(change.from, StoreStatus::new(from), "{case}");
        assert_eq!(change.to, StoreStatus::new(to), "{case}");
        assert_eq!(change.countdown, effect, "{case}");
        // The raw string is kept verbatim: 'On Hold' stays 'On Hold'.
        assert_eq!(order.status.raw, to, "{case}");
        assert_eq!(order.status.kind, StatusKind::normalize(to), "{case}");
        // The countdown state agrees with the reported effect.
        match effect {
            Paused => assert!(order.countdown.is_paused(), "{case}"),
            Resumed => assert_eq!(order.countdown.submit_at, Some(t(7)), "{case}"),
            Cleared => assert!(order.countdown.is_none(), "{case}"),
            Unchanged => assert_eq!(order.countdown, countdown(before), "{case}"),
        }
    }
}

#[test]
fn apply_the_same_raw_status_returns_none_and_changes_nothing() {
    for (raw, before) in [("processing", Cd::Running), ("On Hold", Cd::Paused)] {
        let mut order = in_app_order();
        order.status = StoreStatus::new(raw);
        order.countdown = countdown(before);
        let snapshot = order.clone();
        assert_eq!(order.apply_store_status(raw, t(4)), None, "{raw}");
        assert_eq!(order, snapshot);
    }
}

#[test]
fn hold_then_release_keeps_the_remaining_time() {
    let mut order = in_app_order();
    assert!(order.start_countdown(t(0), h(6)));
    order.apply_store_status("On Hold", t(3)); // 3h left
    assert!(!order.auto_submit_due(t(20), 0));
    order.apply_store_status("processing", t(8)); // 5h later
    assert!(!order.auto_submit_due(t(10), 0));
    assert!(order.auto_submit_due(t(11), 0));
}

#[test]
fn start_countdown_only_for_eligible_orders() {
    let base = in_app_order();
    let mut running = base.clone();
    running.countdown = Countdown::start(t(-1), h(6));
    let mut paused = running.clone();
    paused.countdown.pause(t(0));
    let cases: Vec<(&str, Order, bool)> = vec![
        ("eligible", base.clone(), true),
        (
            "amazon",
            Order {
                order_type: OrderType::Amazon,
                ..base.clone()
            },
            false,
        ),
        (
            "shineon",
            Order {
                order_type: OrderType::ShineOn,
                ..base.clone()
            },
            false,
        ),
        (
            "others",
            Order {
                order_type: OrderType::Others,
                ..base.clone()
            },
            false,
        ),
        (
            "pending",
            Order {
                status: StoreStatus::new("pending"),
                ..base.clone()
            },
            false,
        ),
        (
            "on hold",
            Order {
                status: StoreStatus::new("On hold"),
                ..base.clone()
            },
            false,
        ),
        (
            "submitted",
            Order {
                submit_status: submitted(),
                ..base.clone()
            },
            false,
        ),
        (
            "failed",
            Order {
                submit_status: failed(),
                ..base.clone()
            },
            false,
        ),
        (
            "review",
            Order {
                submit_status: review(),
                ..base.clone()
            },
            false,
        ),
        ("already running", running, false),
        ("already paused", paused, false),
    ];
    for (name, mut order, want) in cases {
        let before = order.countdown.clone();
        assert_eq!(order.start_countdown(t(0), h(6)), want, "{name}");
        if want {
            assert_eq!(order.countdown, Countdown::start(t(0), h(6)), "{name}");
        } else {
            assert_eq!(order.countdown, before, "{name}: countdown untouched");
        }
    }
}

#[test]
fn auto_submit_due_fails_on_each_condition_once() {
    let mut due = in_app_order();
    due.countdown = Countdown::start(t(0), h(6));
    let now = t(6);
    let mut paused = due.clone();
    paused.countdown.pause(t(1));
    // name, order, preflight errors, expected
    let cases: Vec<(&str, Order, usize, bool)> = vec![
        ("all conditions hold", due.clone(), 0, true),
        (
            "failed before, may retry",
            Order {
                submit_status: failed(),
                ..due.clone()
            },
            0,
            true,
        ),
        (
            "not in-app",
            Order {
                order_type: OrderType::Others,
                ..due.clone()
            },
            0,
            false,
        ),
        (
            "amazon",
            Order {
                order_type: OrderType::Amazon,
                ..due.clone()
            },
            0,
            false,
        ),
        (
            "not processing",
            Order {
                status: StoreStatus::new("on-hold"),
                ..due.clone()
            },
            0,
            false,
        ),
        (
            "completed",
            Order {
                status: StoreStatus::new("completed"),
                ..due.clone()
            },
            0,
            false,
        ),
        (
            "already submitted",
            Order {
                submit_status: submitted(),
                ..due.clone()
            },
            0,
            false,
        ),
        (
            "in review",
            Order {
                submit_status: review(),
                ..due.clone()
            },
            0,
            false,
        ),
        (
            "no countdown",
            Order {
                countdown: Countdown::none(),
                ..due.clone()
            },
            0,
            false,
        ),
        ("countdown paused", paused, 0, false),
        ("preflight errors", due.clone(), 1, false),
    ];
    for (name, order, errors, want) in cases {
        assert_eq!(order.auto_submit_due(now, errors), want, "{name}");
    }
    assert!(!due.auto_submit_due(t(5), 0), "countdown not yet due");
}

#[test]
fn items_lookup() {
    let order = in_app_order();
    let ids: Vec<i64> = order.personalized_items().map(|i| i.id).collect();
    assert_eq!(ids, [316]);
    assert_eq!(
        order.item(315).map(|i| i.name.as_str()),
        Some("Woo Single #1")
    );
    assert!(order.item(999).is_none());
}
