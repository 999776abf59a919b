//! The frame every page shares (left navigation, header with title and primary action, the
//! `role=status` flash, skip link, landmarks) and the small pieces pages are built of:
//! badges with one exhaustive tone per value, times (relative under a day, exact on hover),
//! money, counts.
//!
//! Views are Leptos views rendered to a string once ([`document`]); nothing is reactive.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use rust_decimal::Decimal;

use crate::assets;
use crate::viewer::Viewer;

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Orders,
    Settings,
    None,
}

/// What the frame around a page says.
pub struct Chrome<'a> {
    /// The page's `<title>` and `<h1>`.
    pub title: String,
    pub viewer: Option<&'a Viewer>,
    pub nav: Nav,
    /// Shown beside the title (badges, a time).
    pub heading: Option<AnyView>,
    /// The header's actions, primary last (top right).
    pub actions: Option<AnyView>,
    /// `<meta http-equiv=refresh>` every this many seconds (import progress without JS).
    pub refresh: Option<u32>,
}

impl<'a> Chrome<'a> {
    pub fn new(title: impl Into<String>, viewer: Option<&'a Viewer>, nav: Nav) -> Chrome<'a> {
        Chrome {
            title: title.into(),
            viewer,
            nav,
            heading: None,
            actions: None,
            refresh: None,
        }
    }

    pub fn heading(mut self, v: AnyView) -> Self {
        self.heading = Some(v);
        self
    }

    pub fn actions(mut self, v: AnyView) -> Self {
        self.actions = Some(v);
        self
    }

    pub fn refresh(mut self, secs: u32) -> Self {
        self.refresh = Some(secs);
        self
    }
}

/// Render a view to HTML inside a fresh reactive owner.
pub fn render(view: impl RenderHtml) -> String {
    let owner = leptos::reactive::owner::Owner::new();
    owner.with(|| view.to_html())
}

/// The hidden CSRF field of a form.
pub fn csrf_field(viewer: &Viewer) -> AnyView {
    let csrf = viewer.csrf.clone();
    view! { <input type="hidden" name="csrf" value=csrf /> }.into_any()
}

/// A whole HTML document.
pub fn document(chrome: Chrome<'_>, body: AnyView) -> String {
    let title = chrome.title.clone();
    let page_title = format!("{} · Pressroom", chrome.title);
    let refresh = chrome
        .refresh
        // Only without scripts: with them, the page's script follows the progress itself.
        .map(
            |s| view! { <noscript><meta http-equiv="refresh" content=s.to_string() /></noscript> },
        );
    let current = |n: Nav| (chrome.nav == n).then_some("page");
    let side = chrome.viewer.map(|v| {
        let who = format!("{} ({})", v.user.username, v.user.role.as_str());
        view! {
            <div class="who">
                <span class="muted">"Signed in as "</span>
                <span>{who}</span>
                <form method="post" action="/logout">
                    {csrf_field(v)}
                    <button type="submit" class="link">"Sign out"</button>
                </form>
            </div>
        }
    });
    let flash = chrome.viewer.and_then(|v| v.flash.clone());
    let flash_class = match &flash {
        Some(f) if !f.ok => "flash tone-critical",
        Some(_) => "flash tone-success",
        None => "flash empty",
    };
    let flash_text = flash.map(|f| f.message);
    let nav = chrome.viewer.map(|_| {
        view! {
            <nav class="side" aria-label="Main">
                <a class="brand" href="/orders">"Pressroom"</a>
                <ul>
                    <li><a href="/orders" aria-current=current(Nav::Orders)>"Orders"</a></li>
                    <li><a href="/settings" aria-current=current(Nav::Settings)>"Settings"</a></li>
                </ul>
                {side}
            </nav>
        }
    });
    let heading = chrome.heading;
    let actions = chrome.actions;
    let doc = view! {
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                {refresh}
                <title>{page_title}</title>
                <link rel="stylesheet" href=assets::css_url() />
                <script type="module" src=assets::js_url()></script>
            </head>
            <body>
                <a class="skip" href="#main">"Skip to content"</a>
                <div class="frame">
                    {nav}
                    <div class="content">
                        <header class="page-head">
                            <div class="title">
                                <h1>{title}</h1>
                                {heading}
                            </div>
                            <div class="actions">{actions}</div>
                        </header>
                        <div role="status" class=flash_class>{flash_text}</div>
                        <main id="main" tabindex="-1">{body}</main>
                    </div>
                </div>
            </body>
        </html>
    };
    format!("<!DOCTYPE html>{}", render(doc))
}

/// A page with one message (errors, refusals).
pub fn message_page(viewer: Option<&Viewer>, title: &str, text: &str) -> String {
    let text = text.to_string();
    let body = view! {
        <div class="card narrow">
            <p>{text}</p>
            <p><a href="/orders">"Back to orders"</a></p>
        </div>
    }
    .into_any();
    document(Chrome::new(title, viewer, Nav::None), body)
}

/// A badge's colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Neutral,
    Info,
    Success,
    Attention,
    Warning,
    Critical,
}

impl Tone {
    pub fn class(self) -> &'static str {
        match self {
            Tone::Neutral => "badge tone-neutral",
            Tone::Info => "badge tone-info",
            Tone::Success => "badge tone-success",
            Tone::Attention => "badge tone-attention",
            Tone::Warning => "badge tone-warning",
            Tone::Critical => "badge tone-critical",
        }
    }
}

/// The tone of a store status, from its normalized kind (`StatusKind::as_str`); the label
/// is always the store's own string.
pub fn store_tone(kind: &str) -> Tone {
    match kind {
        "processing" => Tone::Success,
        "on-hold" => Tone::Attention,
        "completed" => Tone::Info,
        "failed" => Tone::Critical,
        _ => Tone::Neutral,
    }
}

/// The tone of a submit status label ("" is no badge).
pub fn submit_tone(label: &str) -> Option<Tone> {
    match label {
        "" => None,
        "Submitting" => Some(Tone::Info),
        "Submitted" => Some(Tone::Success),
        "Failed" => Some(Tone::Critical),
        "Review" => Some(Tone::Warning),
        _ => Some(Tone::Neutral),
    }
}

/// The tone of a shipment status (`ShipmentStatus::as_str`).
pub fn shipment_tone(status: &str) -> Tone {
    match status {
        "in_transit" | "shipped" | "out_for_delivery" => Tone::Info,
        "delivered" => Tone::Success,
        "delivery_failed" | "returned" => Tone::Critical,
        _ => Tone::Neutral,
    }
}

/// A badge: words first, colour second.
pub fn badge(text: impl Into<String>, tone: Tone) -> AnyView {
    let text = text.into();
    view! { <span class=tone.class()>{text}</span> }.into_any()
}

/// A badge with its full reason on hover.
pub fn badge_with_reason(text: impl Into<String>, tone: Tone, reason: Option<String>) -> AnyView {
    let text = text.into();
    view! { <span class=tone.class() title=reason>{text}</span> }.into_any()
}

/// "just now", "5 min ago", "3 h ago" under a day, else the date.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    if (0..60).contains(&secs) {
        "just now".into()
    } else if (60..3600).contains(&secs) {
        format!("{} min ago", secs / 60)
    } else if (3600..86_400).contains(&secs) {
        format!("{} h ago", secs / 3600)
    } else {
        at.format("%b %-d, %Y").to_string()
    }
}

/// The exact time, for `title`.
pub fn exact(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `<time>` with the relative text and the exact time on hover.
pub fn time(at: DateTime<Utc>, now: DateTime<Utc>) -> AnyView {
    let text = relative(at, now);
    view! { <time datetime=at.to_rfc3339() title=exact(at)>{text}</time> }.into_any()
}

/// "3 h 12 min", "12 min", "45 s".
pub fn duration_text(secs: i64) -> String {
    let secs = secs.max(0);
    if secs >= 86_400 {
        format!("{} d {} h", secs / 86_400, (secs % 86_400) / 3600)
    } else if secs >= 3600 {
        format!("{} h {} min", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{} min", (secs + 59) / 60)
    } else {
        format!("{secs} s")
    }
}

/// The ticking countdown of an order waiting for automatic submission.
pub fn countdown(submit_at: DateTime<Utc>, now: DateTime<Utc>) -> AnyView {
    let left = (submit_at - now).num_seconds();
    let text = if left <= 0 {
        "Submitting…".to_string()
    } else {
        format!("Submits in {}", duration_text(left))
    };
    view! {
        <time
            datetime=submit_at.to_rfc3339()
            title=exact(submit_at)
            data-now=now.to_rfc3339()
            data-countdown=""
        >
            {text}
        </time>
    }
    .into_any()
}

/// 1284 → "1,284".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// An amount with its currency: "$1,234.50", "€12.00", "12.00 CHF".
pub fn money(amount: Decimal, currency: &str) -> String {
    let rounded = amount.round_dp(2);
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let abs = rounded.abs();
    let whole = abs.trunc();
    let cents = ((abs - whole) * Decimal::from(100)).round();
    let whole: i64 = whole.to_string().parse().unwrap_or(0);
    let body = format!(
        "{}.{:02}",
        thousands(whole),
        cents.to_string().parse::<u32>().unwrap_or(0)
    );
    let sign = if negative { "-" } else { "" };
    match currency.to_ascii_uppercase().as_str() {
        "USD" => format!("{sign}${body}"),
        "EUR" => format!("{sign}€{body}"),
        "GBP" => format!("{sign}£{body}"),
        "" => format!("{sign}{body}"),
        other => format!("{sign}{body} {other}"),
    }
}

/// Escape text for a place Leptos does not escape (the content of a `<textarea>`).
pub fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
