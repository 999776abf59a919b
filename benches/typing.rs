//! Typing in the editor, as a merchant feels it: the time from a keystroke in the "Names" field
//! of the standard workload template (4500 x 5400 artwork, a photo in a circle, two lines of
//! text) to the new preview image shown in headless Chromium, against a real `pressroom serve`
//! process. The clock runs in the page: `performance.now()` at the `input` event, and again
//! when the script swaps in the decoded image (it bumps the image's `data-rev`). The script
//! waits 300 ms after the last keystroke before asking (its debounce), so that pause is part
//! of every figure; the rest is the request, the render at 1000 px and the decode.
//!
//! `cargo bench --workspace --bench typing --profile dev` (`TYPING_KEYS=N`, default 40).
//! Needs chromium and chromium-driver (scripts/test installs them).

#[allow(dead_code)]
#[path = "../tests/browser/harness.rs"]
mod harness;

use fantoccini::Locator;
use harness::*;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Installed in the edit page: the time of the latest keystroke and, for each new preview,
/// how long after it the image was shown.
const PROBE: &str = r#"
    window.__typing = { typed: 0, shown: [] };
    const form = document.querySelector("form[data-live-preview]");
    const img = document.querySelector("img[data-preview]");
    form.addEventListener("input", () => { window.__typing.typed = performance.now(); }, true);
    new MutationObserver(() => {
        window.__typing.shown.push(performance.now() - window.__typing.typed);
    }).observe(img, { attributes: true, attributeFilter: ["data-rev"] });
    return true;
"#;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let keys: usize = std::env::var("TYPING_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let driver = Driver::start().await;
    let server = Pressroom::start(0, "http://127.0.0.1:9/none.jpg").await;
    let mut page = Page::new(driver.session(true).await, "typing");
    page.login(&server.base, ADMIN).await;

    // A test order of the workload template (its photo is Pressroom's 1200 px sample photo).
    page.find("#test-template option[value=workload]")
        .await
        .click()
        .await
        .unwrap();
    page.find("form[action='/orders/test'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    let edit = page.find("a[href$='/edit']").await;
    let href = edit
        .attr("href")
        .await
        .unwrap()
        .expect("an Edit design link");
    page.goto(&server.url(&href)).await;
    let names = page.find("input[name=names]").await;
    page.find("img[data-preview]").await;
    page.c.execute(PROBE, vec![]).await.expect("the probe");
    page.shot("editor").await;

    // Every keystroke makes a name never typed before (no cached preview): each round starts
    // from a new prefix, set without an input event, then types letters one at a time (the
    // field takes 30 characters).
    let letters = "abcdefghijklmnopqrst";
    let mut typed = 0;
    'rounds: for round in 0.. {
        page.c
            .execute(
                "document.querySelector('input[name=names]').value = arguments[0]; return true;",
                vec![serde_json::Value::String(format!("Round {round} "))],
            )
            .await
            .unwrap();
        for ch in letters.chars() {
            if typed == keys + 3 {
                break 'rounds;
            }
            names.send_keys(&ch.to_string()).await.unwrap();
            typed += 1;
            // The next preview, shown (a selector on the script's counter: a wait, not a sleep).
            page.c
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css(&format!(
                    "img[data-preview][data-rev='{typed}']"
                )))
                .await
                .unwrap_or_else(|e| panic!("preview {typed} never came: {e}"));
        }
    }
    page.shot("typed").await;
    let shown = page
        .c
        .execute("return window.__typing.shown;", vec![])
        .await
        .unwrap();
    let mut times: Vec<f64> = serde_json::from_value::<Vec<f64>>(shown)
        .expect("times")
        .into_iter()
        .skip(3) // warm-up: the template, artwork and photo are loaded by the first ones
        .collect();
    assert_eq!(times.len(), typed - 3, "one preview per keystroke");
    times.sort_by(f64::total_cmp);
    println!(
        "{} keystrokes, each to its new preview shown (workload template, 1000 px, 300 ms \
         debounce included): p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms; without the debounce p50 {:.0} ms, p95 {:.0} ms",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times.last().unwrap(),
        percentile(&times, 0.5) - 300.0,
        percentile(&times, 0.95) - 300.0,
    );
    let _ = page.c.close().await;
}
