//! The submission countdown: start, pause on hold, resume with the time that was left.

mod common;
use chrono::Duration;
use common::{h, t};
use domain::Countdown;

#[test]
fn start_runs_until_delay_has_passed() {
    let c = Countdown::start(t(0), h(6));
    assert_eq!(c.submit_at, Some(t(6)));
    assert!(!c.is_paused());
    assert!(c.is_running());
    // at, is_due, remaining
    let table = [
        (t(0), false, Some(h(6))),
        (t(5), false, Some(h(1))),
        (t(6), true, Some(h(0))),
        (t(9), true, Some(h(0))), // never negative
    ];
    for (now, due, remaining) in table {
        assert_eq!(c.is_due(now), due, "due at {now}");
        assert_eq!(c.remaining(now), remaining, "remaining at {now}");
    }
}

#[test]
fn none_is_never_due_and_has_no_remaining_time() {
    let c = Countdown::none();
    assert!(c.is_none());
    assert!(!c.is_due(t(100)));
    assert_eq!(c.remaining(t(0)), None);
    assert!(!c.is_paused());
}

#[test]
fn pause_with_3h_left_then_resume_5h_later_is_due_3h_after_resume() {
    let mut c = Countdown::start(t(0), h(6));
    c.pause(t(3)); // 3h left
    assert!(c.is_paused());
    assert_eq!(c.paused_remaining_secs, Some(3 * 3600));
    assert_eq!(c.submit_at, None);
    // Paused: the clock does not run, however long the hold lasts.
    assert!(!c.is_due(t(6)));
    assert!(!c.is_due(t(100)));
    assert_eq!(c.remaining(t(7)), Some(h(3)));

    c.resume(t(8)); // 5h later
    assert!(!c.is_paused());
    assert_eq!(c.submit_at, Some(t(11)));
    assert!(!c.is_due(t(10)));
    assert!(c.is_due(t(11)));
    assert_eq!(c.remaining(t(9)), Some(h(2)));
}

#[test]
fn pause_and_resume_are_noops_in_the_wrong_state() {
    // Resume of a running countdown changes nothing.
    let mut running = Countdown::start(t(0), h(6));
    running.resume(t(2));
    assert_eq!(running, Countdown::start(t(0), h(6)));

    // A second pause keeps the first remainder.
    let mut paused = Countdown::start(t(0), h(6));
    paused.pause(t(1));
    paused.pause(t(4));
    assert_eq!(paused.paused_remaining_secs, Some(5 * 3600));

    // Neither does anything to no countdown.
    let mut none = Countdown::none();
    none.pause(t(1));
    none.resume(t(2));
    assert_eq!(none, Countdown::none());
}

#[test]
fn pausing_past_due_keeps_zero_and_is_due_right_after_resume() {
    let mut c = Countdown::start(t(0), h(1));
    c.pause(t(3));
    assert_eq!(c.paused_remaining_secs, Some(0));
    c.resume(t(5));
    assert!(c.is_due(t(5)));
}

#[test]
fn pause_rounds_partial_seconds_up_so_it_never_fires_early() {
    let mut c = Countdown::start(t(0), Duration::milliseconds(10_200));
    c.pause(t(0));
    assert_eq!(c.paused_remaining_secs, Some(11));
}

#[test]
fn serde_round_trip_of_each_state() {
    let mut paused = Countdown::start(t(0), h(6));
    paused.pause(t(1));
    for c in [Countdown::none(), Countdown::start(t(0), h(6)), paused] {
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            serde_json::from_str::<Countdown>(&json).unwrap(),
            c,
            "{json}"
        );
    }
    // Missing fields default to no countdown.
    assert_eq!(
        serde_json::from_str::<Countdown>("{}").unwrap(),
        Countdown::none()
    );
}
