//! `pressroom store` and `pressroom import` as a merchant runs them, against the simulated
//! WooCommerce store: connect, test (with plain-words failures), import twice; the secrets
//! never printed nor stored in clear. Outbound webhooks: add, list, remove, the secret printed
//! once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pressroom.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[app]\ntemplates_dir = {:?}\nfonts_dir = {:?}\n[app.store_api]\nbase_delay_ms = 10\nmax_delay_ms = 50\n",
            dir.path().display().to_string(),
            testkit::repo_root().join("fixtures/templates").display().to_string(),
            testkit::repo_root().join("fonts").display().to_string(),
        ),
    )
    .unwrap();
    (dir, config)
}

fn pressroom(config: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pressroom"));
    c.arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn");
    for (k, _) in std::env::vars() {
        if k.starts_with("PRESSROOM_") {
            c.env_remove(k);
        }
    }
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn plain_order() -> serde_json::Value {
    let mut order = testkit::order_template();
    for item in order["line_items"].as_array_mut().unwrap() {
        item["sku"] = serde_json::json!("NOT-PERSONALIZED");
    }
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_connects_a_store_tests_it_and_imports_its_orders_twice() {
    let sim = testkit::WooSim::start(testkit::WooSimOptions::default()).await;
    let start = chrono::Utc::now() - chrono::Duration::days(2);
    sim.seed_orders(3, &plain_order(), 900, start, chrono::Duration::hours(1));
    let (dir, config) = setup();
    let url = sim.url();

    let config2 = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        pressroom(
            &config2,
            &[
                "store",
                "add",
                "shop",
                "--url",
                &url,
                "--consumer-key",
                "ck_test",
                "--consumer-secret",
                "cs_test",
                "--webhook-secret",
                "whsec-test-value",
            ],
        )
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("/webhooks/woocommerce/shop"), "{shown}");
    for secret in ["cs_test", "whsec-test-value"] {
        assert!(!shown.contains(secret), "{secret} printed:\n{shown}");
    }

    let run = |args: Vec<String>| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            pressroom(&config, &args)
        })
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    // The order webhooks registered in the store, once.
    for expected in [3, 0] {
        let out = run(args(&["store", "add", "shop", "--register-webhooks"]))
            .await
            .unwrap();
        let said = text(&out.stdout);
        assert!(out.status.success(), "{said}{}", text(&out.stderr));
        assert!(
            said.contains(&format!("registered {expected} webhook(s)")),
            "{said}"
        );
    }
    let hooks = sim.webhooks();
    let mut topics: Vec<&str> = hooks.iter().map(|h| h["topic"].as_str().unwrap()).collect();
    topics.sort();
    assert_eq!(topics, ["order.created", "order.deleted", "order.updated"]);
    assert!(
        hooks
            .iter()
            .all(|h| h["delivery_url"] == "http://127.0.0.1:8080/webhooks/woocommerce/shop")
    );

    let out = run(args(&["store", "test", "shop"])).await.unwrap();
    let report = text(&out.stdout);
    assert!(out.status.success(), "{report}{}", text(&out.stderr));
    assert!(report.contains("ok   credentials"), "{report}");
    assert!(
        report.contains("Shipment Tracking extension is installed"),
        "{report}"
    );

    // A wrong secret: the test fails and says what to do, without the secret.
    let wrong = args(&[
        "store",
        "add",
        "wrong",
        "--url",
        &sim.url(),
        "--consumer-key",
        "ck_test",
        "--consumer-secret",
        "cs_not_it",
    ]);
    assert!(run(wrong).await.unwrap().status.success());
    let out = run(args(&["store", "test", "wrong"])).await.unwrap();
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("FAIL credentials: The store rejected the consumer key"),
        "{report}"
    );
    assert!(!report.contains("cs_not_it"), "{report}");

    let out = run(args(&["import", "--store", "shop", "--all", "--quiet"]))
        .await
        .unwrap();
    let summary = text(&out.stdout);
    assert!(out.status.success(), "{summary}{}", text(&out.stderr));
    assert!(
        summary.contains("3 order(s): 3 new, 0 updated, 0 unchanged, 0 failed"),
        "{summary}"
    );
    let out = run(args(&[
        "import", "--store", "shop", "--ids", "900,901", "--quiet",
    ]))
    .await
    .unwrap();
    let summary = text(&out.stdout);
    assert!(
        summary.contains("2 order(s): 0 new, 0 updated, 2 unchanged, 0 failed"),
        "{summary}"
    );

    // `store show` and `config` show no secret; the database holds none in clear.
    let out = run(args(&["store", "show", "shop"])).await.unwrap();
    let shown = text(&out.stdout);
    assert!(shown.contains("\"consumer_secret_set\": true"), "{shown}");
    assert!(
        !shown.contains("cs_test") && !shown.contains("whsec-test-value"),
        "{shown}"
    );
    let db = std::fs::read(dir.path().join("pressroom.db")).unwrap();
    let wal = std::fs::read(dir.path().join("pressroom.db-wal")).unwrap_or_default();
    for secret in [&b"cs_test"[..], b"whsec-test-value"] {
        for bytes in [&db, &wal] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{} is in the database file in clear",
                String::from_utf8_lossy(secret)
            );
        }
    }
    // The key made for this data folder is readable by its owner only.
    let key = std::fs::metadata(dir.path().join("secrets.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_merchant_adds_lists_and_removes_a_webhook_and_sees_its_secret_once() {
    let (_dir, config) = setup();
    let out = pressroom(
        &config,
        &[
            "webhook",
            "add",
            "https://erp.example/hooks/pressroom",
            "--event",
            "order.shipped",
            "--event",
            "order.delivered",
            "--description",
            "ERP",
        ],
    );
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    let secret = said
        .lines()
        .skip_while(|l| !l.starts_with("signing secret"))
        .nth(1)
        .expect("the secret on the line after its label")
        .to_string();
    assert_eq!(secret.len(), 64, "{said}");
    let id = said
        .split('"')
        .find(|s| s.starts_with("wh_"))
        .expect("the webhook's id")
        .to_string();

    let out = pressroom(&config, &["webhook", "list"]);
    let list = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(shown[0]["id"], id.as_str());
    assert_eq!(
        shown[0]["events"],
        serde_json::json!(["order.shipped", "order.delivered"])
    );
    assert_eq!(shown[0]["secret_hint"], format!("…{}", &secret[60..]));
    assert!(!list.contains(&secret), "the list shows the secret");

    // Refused with the reason: an unknown event, a URL with a password.
    let out = pressroom(
        &config,
        &[
            "webhook",
            "add",
            "https://erp.example/",
            "--event",
            "order.lost",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("order.submitted"),
        "{}",
        text(&out.stderr)
    );
    let out = pressroom(&config, &["webhook", "add", "https://u:pw@erp.example/"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("password"),
        "{}",
        text(&out.stderr)
    );

    let out = pressroom(&config, &["webhook", "remove", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("removed"));
    let out = pressroom(&config, &["webhook", "list"]);
    assert_eq!(text(&out.stdout).trim(), "[]");
    let out = pressroom(&config, &["webhook", "remove", &id]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains(&id), "{}", text(&out.stderr));
}
