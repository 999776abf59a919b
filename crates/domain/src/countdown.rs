//! The automatic submission countdown of an in-app order.
//!
//! A new paid order waits `delay` before it goes to the provider, so the customer or merchant
//! can still change or cancel it. Putting the order "On hold" in the store pauses the wait and
//! keeps what was left; taking it off hold resumes with that remainder, so a hold never
//! shortens the merchant's window.
//!
//! States: none (both fields `None`), running (`submit_at` set), paused
//! (`paused_remaining_secs` set). The two fields are never both set.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Countdown {
    /// When the order becomes due, while running.
    pub submit_at: Option<DateTime<Utc>>,
    /// Whole seconds left when paused (rounded up, so a pause never makes it fire early).
    pub paused_remaining_secs: Option<i64>,
}

impl Countdown {
    /// No countdown.
    pub fn none() -> Self {
        Countdown::default()
    }

    /// A running countdown due at `now + delay`.
    pub fn start(now: DateTime<Utc>, delay: Duration) -> Self {
        Countdown {
            submit_at: Some(now + delay),
            paused_remaining_secs: None,
        }
    }

    /// Neither running nor paused.
    pub fn is_none(&self) -> bool {
        self.submit_at.is_none() && self.paused_remaining_secs.is_none()
    }

    /// Running (not paused, not none).
    pub fn is_running(&self) -> bool {
        self.submit_at.is_some() && self.paused_remaining_secs.is_none()
    }

    pub fn is_paused(&self) -> bool {
        self.paused_remaining_secs.is_some()
    }

    /// Stop the clock, keeping the time left (zero if already past due). No-op unless running.
    pub fn pause(&mut self, now: DateTime<Utc>) {
        if !self.is_running() {
            return;
        }
        let Some(at) = self.submit_at.take() else {
            return;
        };
        let left_ms = (at - now).num_milliseconds().max(0);
        // Ceiling division: 1.2 s left is kept as 2 s, never as 1 s.
        let left_secs = (left_ms + 999) / 1000;
        self.paused_remaining_secs = Some(left_secs);
    }

    /// Restart the clock with the time kept at pause. No-op unless paused.
    pub fn resume(&mut self, now: DateTime<Utc>) {
        if let Some(secs) = self.paused_remaining_secs.take() {
            self.submit_at = Some(now + Duration::seconds(secs.max(0)));
        }
    }

    /// Stop and forget the countdown.
    pub fn clear(&mut self) {
        *self = Countdown::none();
    }

    /// Running and `submit_at <= now`. A paused countdown is never due.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.is_running() && self.submit_at.is_some_and(|at| at <= now)
    }

    /// Time left (never negative): `None` without a countdown, the kept time when paused.
    pub fn remaining(&self, now: DateTime<Utc>) -> Option<Duration> {
        if let Some(secs) = self.paused_remaining_secs {
            return Some(Duration::seconds(secs.max(0)));
        }
        self.submit_at.map(|at| (at - now).max(Duration::zero()))
    }
}
