//! The admin web UI in headless Chromium, against a real `pressroom serve` process: a merchant
//! logs in, imports orders from the WooCommerce simulator, filters and searches, opens an
//! order, edits a name and sees the preview change, saves it and gets a new print file at 300
//! DPI, puts the order on hold and back, submits it once; bulk-submits a mix and reads each
//! order's result; and cannot see another merchant's order. Each page is saved as a
//! screenshot under `target/browser-screenshots/`.

mod harness;

use std::time::Duration;

use fantoccini::Locator;
use harness::*;

/// The pet portrait's photo, served to the store's orders from 127.0.0.1.
async fn photo_server() -> testkit::HttpStub {
    let pet = std::fs::read(testkit::repo_root().join("fixtures/templates/pet-portrait/pet.jpg"))
        .expect("the pet photo");
    testkit::HttpStub::start(move |path| {
        if path == "/pet.jpg" {
            testkit::StubResponse::ok(pet.clone())
        } else {
            testkit::StubResponse::not_found()
        }
    })
    .await
    .expect("the photo server")
}

/// Import every order of the merchant's store through the import dialog and wait until done.
async fn import_all(page: &mut Page, base: &str) {
    page.goto(&format!("{base}/orders/import")).await;
    page.shot("import-dialog").await;
    page.find("input[name=scope][value=all]")
        .await
        .click()
        .await
        .unwrap();
    page.find("form[action='/orders/import'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    // The progress page polls by itself (meta refresh, or the script's stream).
    page.find("[data-import][data-state=done]").await;
    page.shot("import-done").await;
}

/// The order page of the dashboard row whose number is `number`.
async fn open_order(page: &Page, base: &str, number: &str) -> i64 {
    page.goto(&format!("{base}/orders?q={number}")).await;
    let link = page.find("tbody tr a[href^='/orders/']").await;
    let href = link.attr("href").await.unwrap().unwrap();
    link.click().await.unwrap();
    href.trim_start_matches("/orders/")
        .split(['/', '?'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Reload until the page shows `needle` (a render or a submission finishing in the worker).
async fn reload_until(page: &Page, needle: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if page.text().await.contains(needle) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{needle:?} never appeared; the page says:\n{}",
            page.text().await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        page.c.refresh().await.unwrap();
    }
}

/// Search the dashboard for `needle` through its form; exactly one order matches.
async fn search_one(page: &Page, needle: &str) {
    page.find("input[name=q]")
        .await
        .send_keys(needle)
        .await
        .unwrap();
    page.find("form[role=search] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    page.wait_for_text(&format!("Search: {needle}")).await;
    assert_eq!(
        page.c
            .find_all(Locator::Css("tbody tr"))
            .await
            .unwrap()
            .len(),
        1,
        "one order matches {needle}"
    );
}

/// In the editor: replace the pet's name with `name`.
async fn type_pet_name(page: &Page, name: &str) {
    let field = page.find("input[name=pet_name]").await;
    field.clear().await.unwrap();
    field.send_keys(name).await.unwrap();
}

/// On the order page: Hold pauses the countdown; Processing resumes it.
async fn hold_and_resume(page: &mut Page, id: i64) {
    page.find(&format!("form[action='/orders/{id}/hold'] button"))
        .await
        .click()
        .await
        .unwrap();
    page.wait_for_text("Paused (On hold)").await;
    page.shot("order-on-hold").await;
    page.find(&format!("form[action='/orders/{id}/unhold'] button"))
        .await
        .click()
        .await
        .unwrap();
    page.find(&format!("form[action='/orders/{id}/hold'] button"))
        .await;
}

/// The session cookie of the browser, for downloading what a link points at.
async fn session_cookie(page: &Page) -> String {
    let cookies = page.c.get_all_cookies().await.unwrap();
    let c = cookies
        .iter()
        .find(|c| c.name() == server::auth::SESSION_COOKIE)
        .expect("a session cookie");
    format!("{}={}", c.name(), c.value())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_imports_edits_holds_and_submits_an_order() {
    let photos = photo_server().await;
    let app = Pressroom::start(3, &format!("{}/pet.jpg", photos.base_url)).await;
    let driver = Driver::start().await;
    let mut page = Page::new(driver.session(true).await, "merchant-flow");

    page.goto(&app.url("/login")).await;
    page.shot("login").await;
    page.login(&app.base, ANNA).await;
    page.shot("dashboard-empty").await;

    import_all(&mut page, &app.base).await;
    page.goto(&app.url("/orders")).await;
    let rows = page.c.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 3, "the three imported orders");
    page.shot("dashboard").await;

    // Search and filters live in the URL: a reload keeps them.
    search_one(&page, "1002").await;
    page.c.refresh().await.unwrap();
    assert_eq!(
        page.c
            .find_all(Locator::Css("tbody tr"))
            .await
            .unwrap()
            .len(),
        1,
        "the search survives a reload"
    );
    page.shot("dashboard-search").await;

    // The order page, once its print file is rendered.
    let id = open_order(&page, &app.base, "1001").await;
    reload_until(&page, "View design").await;
    page.shot("order").await;

    // Edit the pet's name: the preview changes as the merchant types.
    let edit = page.find("a[href*='/edit']").await;
    edit.click().await.unwrap();
    let preview = page.find("img[data-preview]").await;
    let before = preview.attr("src").await.unwrap().unwrap();
    page.shot("editor").await;
    type_pet_name(&page, "Marmalade").await;
    page.find("img[data-preview]:not([data-rev='0'])").await;
    let after = page
        .find("img[data-preview]")
        .await
        .attr("src")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(before, after, "the preview image changed");
    assert!(after.contains("Marmalade"), "{after}");
    page.shot("editor-typed").await;
    page.find("form#design button[type=submit]:not([formmethod])")
        .await
        .click()
        .await
        .unwrap();
    // Back on the order page; the new version appears when the worker has rendered it.
    reload_until(&page, "Render versions (2)").await;
    page.shot("order-rerendered").await;

    // The print file: a 300-DPI PNG at the template's pixel size (8.5 x 3.5 in and 1/8 in of
    // bleed on every side: 8.75 x 3.75 in).
    let print = page.find("a[href*='/print']").await;
    let href = print.attr("href").await.unwrap().unwrap();
    let bytes = reqwest::Client::new()
        .get(app.url(&href))
        .header("Cookie", session_cookie(&page).await)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()));
    let reader = decoder.read_info().expect("a PNG print file");
    let info = reader.info();
    assert_eq!((info.width, info.height), (2625, 1125));
    let dims = info.pixel_dims.expect("a pHYs chunk");
    assert_eq!(dims.xppu, 11811, "300 DPI is 11811 pixels per metre");

    hold_and_resume(&mut page, id).await;

    // The store's rules, as tables: this SKU goes to the Sandbox provider (an integrated
    // provider with an API, so the submission below is a real provider order).
    page.goto(&app.url("/settings/stores/shop/rules")).await;
    page.find("input[name=r_sku]")
        .await
        .send_keys("PET-MUG-*")
        .await
        .unwrap();
    page.find("select[name=r_provider] option[value=sandbox]")
        .await
        .click()
        .await
        .unwrap();
    page.shot("store-rules").await;
    page.find("form[action='/settings/stores/shop/rules'] button.primary")
        .await
        .click()
        .await
        .unwrap();
    page.wait_for_text("Rules saved").await;
    page.goto(&app.url(&format!("/orders/{id}"))).await;

    // Submit once: a confirmation dialog first (Esc gives the focus back to the button), then
    // the button is disabled with the provider named.
    let submit = page
        .find(&format!("a[href='/orders/{id}/submit'][data-dialog]"))
        .await;
    submit.click().await.unwrap();
    page.find("dialog#confirm-submit[open]").await;
    page.shot("submit-confirm").await;
    page.c
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{e00c}")
        .await
        .unwrap();
    page.find("dialog#confirm-submit:not([open])").await;
    let focused = page.c.active_element().await.unwrap();
    assert_eq!(
        focused.attr("href").await.unwrap().as_deref(),
        Some(format!("/orders/{id}/submit").as_str()),
        "Esc closes the dialog and gives the focus back"
    );
    submit.click().await.unwrap();
    page.find("dialog#confirm-submit[open] button[type=submit]")
        .await;
    // An impatient double click: two presses before the page goes. The order is claimed in
    // the database before the provider is called, so the provider gets it once.
    page.c
        .execute(
            "const b = document.querySelector('dialog#confirm-submit[open] button[type=submit]'); \
             b.click(); b.click(); return true;",
            vec![],
        )
        .await
        .unwrap();
    reload_until(&page, "Submitted to sandbox").await;
    let button = page.find("button[disabled]").await;
    assert!(button.text().await.unwrap().contains("Submitted to"));
    page.shot("order-submitted").await;
    let order: serde_json::Value = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/orders/{id}")))
        .header("Cookie", session_cookie(&page).await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = order["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["kind"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "submitted").count(),
        1,
        "one submission after a double click: {kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "submission_attempt").count(),
        1,
        "one claim, so one order at the provider: {kinds:?}"
    );

    // An internal note, then an edit of it.
    page.find("textarea#note")
        .await
        .send_keys("Customer asked for a gift box")
        .await
        .unwrap();
    page.find(&format!(
        "form[action='/orders/{id}/notes'] button[type=submit]"
    ))
    .await
    .click()
    .await
    .unwrap();
    page.wait_for_text("Note added").await;
    page.find(".notes details.note-edit summary")
        .await
        .click()
        .await
        .unwrap();
    page.shot("note-edit").await;
}

/// The same flow with JavaScript off: every page works with links and forms (the import
/// progress page refreshes itself, "Update preview" reloads the editor, Submit has its own
/// confirmation page).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_flows_work_without_javascript() {
    let photos = photo_server().await;
    let app = Pressroom::start(2, &format!("{}/pet.jpg", photos.base_url)).await;
    let driver = Driver::start().await;
    let mut page = Page::without_javascript(driver.session(false).await, "no-js");
    page.login(&app.base, ANNA).await;
    import_all(&mut page, &app.base).await;

    page.goto(&app.url("/orders")).await;
    search_one(&page, "1002").await;
    page.shot("dashboard-search").await;

    let id = open_order(&page, &app.base, "1001").await;
    reload_until(&page, "View design").await;
    page.find("a[href*='/edit']").await.click().await.unwrap();
    type_pet_name(&page, "Pumpkin").await;
    page.find("form#design button[formmethod=get]")
        .await
        .click()
        .await
        .unwrap();
    // The editor again, its preview of the typed name, the name still in the field.
    let src = page
        .find("img[data-preview][src*='Pumpkin']")
        .await
        .attr("src")
        .await
        .unwrap()
        .unwrap();
    let preview = reqwest::Client::new()
        .get(app.url(&src))
        .header("Cookie", session_cookie(&page).await)
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), 200, "{src}");
    assert_eq!(
        page.find("input[name=pet_name]")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("Pumpkin")
    );
    page.shot("editor-updated").await;
    page.find("form#design button[type=submit]:not([formmethod])")
        .await
        .click()
        .await
        .unwrap();
    reload_until(&page, "Render versions (2)").await;

    hold_and_resume(&mut page, id).await;

    // Without the dialog, Submit opens its confirmation page.
    page.find(&format!("a[href='/orders/{id}/submit']"))
        .await
        .click()
        .await
        .unwrap();
    page.wait_for_text("Submit order #1001?").await;
    page.shot("submit-confirm-page").await;
    page.find(&format!(
        "main form[action='/orders/{id}/submit'] button[type=submit]"
    ))
    .await
    .click()
    .await
    .unwrap();
    reload_until(&page, "Submitted to").await;
    page.shot("order-submitted").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_cannot_open_another_merchants_order() {
    let photos = photo_server().await;
    let app = Pressroom::start(1, &format!("{}/pet.jpg", photos.base_url)).await;
    // Boris's store's orders come in through the admin's import on the command line.
    let cfg = app.config();
    tokio::task::spawn_blocking(move || {
        pressroom(&cfg, &["import", "--store", "other", "--all"], &[]);
        pressroom(&cfg, &["import", "--store", "shop", "--all"], &[]);
    })
    .await
    .unwrap();
    let driver = Driver::start().await;
    let mut page = Page::new(driver.session(true).await, "isolation");
    page.login(&app.base, BORIS).await;
    let rows = page.c.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 2, "boris sees his two orders only");
    page.shot("boris-dashboard").await;
    // Anna's order (the last imported) by its id: not found, as if it did not exist.
    page.goto(&app.url("/orders/3")).await;
    page.wait_for_text("not found").await;
    page.shot("boris-404").await;
    let text = page.text().await;
    assert!(
        !text.contains("1001"),
        "nothing of anna's order shows: {text}"
    );
    // The API, called with his session, says the same as for an order that does not exist.
    let cookie = session_cookie(&page).await;
    let http = reqwest::Client::new();
    for id in [3, 999] {
        let resp = http
            .get(app.url(&format!("/api/v1/orders/{id}")))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "order {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_submit_of_a_mix_reports_each_order() {
    let photos = photo_server().await;
    let app = Pressroom::start(3, &format!("{}/pet.jpg", photos.base_url)).await;
    let cfg = app.config();
    tokio::task::spawn_blocking(move || {
        pressroom(&cfg, &["import", "--store", "shop", "--all"], &[])
    })
    .await
    .unwrap();
    let driver = Driver::start().await;
    let mut page = Page::new(driver.session(true).await, "bulk");
    page.login(&app.base, ANNA).await;

    // One order goes first, on its own page, once its print file is there.
    let first = open_order(&page, &app.base, "1001").await;
    reload_until(&page, "View design").await;
    page.goto(&app.url(&format!("/orders/{first}/submit")))
        .await;
    page.find(&format!(
        "main form[action='/orders/{first}/submit'] button[type=submit]"
    ))
    .await
    .click()
    .await
    .unwrap();
    reload_until(&page, "Submitted to").await;
    // The other two have rendered too.
    for number in ["1002", "1003"] {
        open_order(&page, &app.base, number).await;
        reload_until(&page, "View design").await;
    }

    // Select all three and Bulk Submit: a confirmation naming the skip, then one result each.
    page.goto(&app.url("/orders")).await;
    for b in page
        .c
        .find_all(Locator::Css("tbody input[type=checkbox][name=ids]"))
        .await
        .unwrap()
    {
        b.click().await.unwrap();
    }
    page.wait_for_text("3 selected").await;
    page.shot("selected").await;
    page.find("form#bulk button[type=submit]:not([formaction]):not([name])")
        .await
        .click()
        .await
        .unwrap();
    page.wait_for_text("Submit 3 orders?").await;
    page.wait_for_text("Already submitted, will be skipped: #1001")
        .await;
    page.shot("bulk-confirm").await;
    page.find("form[action='/orders/bulk-submit'] button[type=submit].primary")
        .await
        .click()
        .await
        .unwrap();
    page.wait_for_text("2 submitted, 1 skipped").await;
    page.shot("bulk-results").await;
    let rows = page
        .c
        .find_all(Locator::Css("table.results tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "one result per order");
    let mut results = vec![];
    for r in rows {
        results.push(r.text().await.unwrap());
    }
    assert!(
        results
            .iter()
            .any(|r| r.contains("#1001") && r.to_lowercase().contains("already")),
        "{results:?}"
    );
}
