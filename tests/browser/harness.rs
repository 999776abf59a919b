//! The parts of a browser test: a real `pressroom serve` process on a fresh data folder (with
//! an admin, two merchants and a simulated WooCommerce store made through the CLI), ChromeDriver
//! with a headless Chromium session per test, waits on page state (never sleeps), and
//! screenshots saved under `target/browser-screenshots/`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use testkit::woo_sim::{WooSim, WooSimOptions};

pub const ADMIN: (&str, &str) = ("admin", "admin-password");
pub const ANNA: (&str, &str) = ("anna", "anna-password");
pub const BORIS: (&str, &str) = ("boris", "boris-password");
/// How long a page state may take to appear (renders included).
pub const WAIT: Duration = Duration::from_secs(60);

/// Where screenshots and page sources of the browser tests go.
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder")
        .join("browser-screenshots");
    std::fs::create_dir_all(&dir).expect("create target/browser-screenshots");
    dir
}

/// ChromeDriver on a free port; killed when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Driver {
    pub async fn start() -> Driver {
        let binary = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("chromedriver is installed (scripts/test installs chromium-driver)");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().unwrap().port()
        };
        let mut child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = http.get(format!("{url}/status")).send().await
                && r.status().is_success()
            {
                return Driver { child, url };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromedriver did not answer on {url}");
    }

    /// A fresh headless Chromium session (its own profile), JavaScript on or off.
    pub async fn session(&self, javascript: bool) -> Client {
        let profile = tempfile::tempdir().expect("a profile folder").keep();
        let mut prefs = serde_json::Map::new();
        if !javascript {
            prefs.insert(
                "profile.managed_default_content_settings.javascript".into(),
                json!(2),
            );
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic", "--no-first-run",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": prefs,
            }
        });
        let caps = caps.as_object().unwrap().clone();
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `pressroom serve` with its own data folder, a simulated store `shop` (owned by anna) and
/// `other` (owned by boris); killed when dropped.
pub struct Pressroom {
    child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    /// The merchants' stores (kept running for the server to talk to).
    pub _shop: WooSim,
    pub _other: WooSim,
    _stdout: BufReader<ChildStdout>,
}

fn config_toml(data_dir: &Path) -> String {
    let app: toml::Table = toml::from_str(&testkit::demo_app_settings()).expect("demo [app]");
    let mut config: toml::Table = toml::from_str(&format!(
        "data_dir = {:?}\n[worker]\npoll_ms = 100\nlease_secs = 10\nsweep_every_secs = 0\n\
         reconcile_every_secs = 0\npoll_shipments_every_secs = 0\n",
        data_dir.display().to_string()
    ))
    .expect("TOML");
    let mut app = app;
    app.insert("default_provider".into(), "sandbox".into());
    let fetch = app
        .entry("fetch")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    fetch.as_table_mut().unwrap().insert(
        "allow_hosts".into(),
        toml::Value::Array(vec!["127.0.0.1".into()]),
    );
    config.insert("app".into(), toml::Value::Table(app));
    toml::to_string(&config).expect("serializes")
}

/// `pressroom <args>` on this configuration, checked.
pub fn pressroom(config: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pressroom"));
    cmd.arg("--config").arg(config).args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PRESSROOM_") {
            cmd.env_remove(key);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.current_dir(config.parent().unwrap());
    let out = cmd.output().expect("run pressroom");
    assert!(
        out.status.success(),
        "pressroom {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// A pet mug order (a 300-DPI pet portrait) in the simulated store's shape, its photo at
/// `photo_url`. Paid minutes ago: its countdown (a day) does not run out during a test.
pub fn pet_mug_order(photo_url: &str) -> Value {
    let mut order: Value = serde_json::from_slice(
        &std::fs::read(testkit::repo_root().join("fixtures/orders/pet-mug.json")).unwrap(),
    )
    .unwrap();
    for item in order["line_items"].as_array_mut().unwrap() {
        for meta in item["meta_data"].as_array_mut().unwrap() {
            if meta["key"] == "Pet photo" {
                meta["value"] = json!(photo_url);
                meta["display_value"] = json!(photo_url);
            }
        }
    }
    order["status"] = json!("processing");
    order
}

impl Pressroom {
    /// Start the stores and the server; `orders` pet mugs are waiting in `shop`, two in
    /// `other`.
    pub async fn start(orders: usize, photo_url: &str) -> Pressroom {
        let dir = tempfile::tempdir().expect("temporary folder");
        let config = dir.path().join("pressroom.toml");
        std::fs::write(&config, config_toml(dir.path())).unwrap();
        let shop = WooSim::start(WooSimOptions::default()).await;
        let other = WooSim::start(WooSimOptions::default()).await;
        let start = chrono::Utc::now() - chrono::Duration::minutes(30);
        let step = chrono::Duration::minutes(1);
        shop.seed_orders(orders, &pet_mug_order(photo_url), 1001, start, step);
        other.seed_orders(2, &pet_mug_order(photo_url), 9001, start, step);
        // The stores map the demo SKUs to the fixture templates, as the demo configuration does.
        let app: toml::Table = toml::from_str(&testkit::demo_app_settings()).unwrap();
        let mut store = toml::Table::new();
        store.insert("mapping".into(), app["mapping"].clone());
        let store_settings = dir.path().join("store.toml");
        std::fs::write(&store_settings, toml::to_string(&store).unwrap()).unwrap();
        let store_settings = store_settings.display().to_string();
        let cfg = config.clone();
        let (shop_url, other_url) = (shop.url(), other.url());
        tokio::task::spawn_blocking(move || {
            for (id, url) in [("shop", &shop_url), ("other", &other_url)] {
                pressroom(
                    &cfg,
                    &[
                        "store",
                        "add",
                        id,
                        "--url",
                        url,
                        "--consumer-key",
                        "ck_test",
                        "--consumer-secret",
                        "cs_test",
                        "--webhook-secret",
                        "test-webhook-secret",
                        "--settings",
                        &store_settings,
                    ],
                    &[],
                );
            }
            for (user, password, role, store) in [
                (ADMIN.0, ADMIN.1, "admin", None),
                (ANNA.0, ANNA.1, "merchant", Some("shop")),
                (BORIS.0, BORIS.1, "merchant", Some("other")),
            ] {
                let mut args = vec!["user", "add", user, "--role", role];
                if let Some(s) = store {
                    args.extend(["--store", s]);
                }
                pressroom(&cfg, &args, &[("PRESSROOM_PASSWORD", password)]);
            }
        })
        .await
        .unwrap();

        let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pressroom"));
        cmd.arg("--config")
            .arg(&config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PRESSROOM_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd.spawn().expect("start pressroom serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let base = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("serve printed {first:?}"))
            .to_string();
        Pressroom {
            child,
            base,
            dir,
            _shop: shop,
            _other: other,
            _stdout: stdout,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("pressroom.toml")
    }
}

impl Drop for Pressroom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// axe-core 4.14.1 (MPL-2.0, from the npm registry), the accessibility checker run on every
/// page a test takes a screenshot of.
const AXE: &str = include_str!("vendor/axe.min.js");

/// A browser session and where its screenshots go.
pub struct Page {
    pub c: Client,
    pub test: &'static str,
    /// Whether the session runs scripts (the page's own and the checks'); see
    /// [`Driver::session`].
    javascript: bool,
    shots: usize,
}

impl Page {
    /// A page of a session with JavaScript on.
    pub fn new(c: Client, test: &'static str) -> Page {
        Page {
            c,
            test,
            javascript: true,
            shots: 0,
        }
    }

    /// A page of a session made with `Driver::session(false)`.
    pub fn without_javascript(c: Client, test: &'static str) -> Page {
        Page {
            c,
            test,
            javascript: false,
            shots: 0,
        }
    }

    /// Save a screenshot (and the page's HTML) as `<test>-<n>-<name>.png`. With JavaScript
    /// on, the page is also checked: axe-core finds no serious or critical problem, and
    /// `pressroom.js` set the page up without a script error.
    pub async fn shot(&mut self, name: &str) {
        self.shots += 1;
        let stem = format!("{}-{:02}-{name}", self.test, self.shots);
        let png = self.c.screenshot().await.expect("a screenshot");
        std::fs::write(artifacts().join(format!("{stem}.png")), png).unwrap();
        let html = self.c.source().await.unwrap_or_default();
        std::fs::write(artifacts().join(format!("{stem}.html")), html).unwrap();
        if self.javascript {
            self.assert_scripts_ran(&stem).await;
            let problems = self.accessibility_problems().await;
            assert!(
                problems.is_empty(),
                "{stem}: axe-core finds serious or critical problems:\n{}",
                problems.join("\n")
            );
        }
    }

    /// axe-core's serious and critical findings on the current page, one line each.
    pub async fn accessibility_problems(&self) -> Vec<String> {
        let script = format!(
            "{AXE}\n;const done = arguments[arguments.length - 1];\
             axe.run(document, {{ resultTypes: ['violations'] }}).then((r) => done(\
               r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')\
                 .map((v) => `${{v.impact}} ${{v.id}}: ${{v.help}} at ${{v.nodes.map((n) => n.target.join(' ')).join(', ')}}`)\
             ), (e) => done([`axe-core failed: ${{e}}`]));"
        );
        let found = self
            .c
            .execute_async(&script, vec![])
            .await
            .expect("run axe-core");
        serde_json::from_value(found).expect("axe-core's findings")
    }

    /// `pressroom.js` ran to its end on this page (`html[data-js=ready]`) and no script
    /// error happened since the page loaded.
    pub async fn assert_scripts_ran(&self, what: &str) {
        let state = self
            .c
            .execute(
                "return [document.documentElement.dataset.js || null, window.pressroomErrors || null];",
                vec![],
            )
            .await
            .expect("read the script state");
        assert_eq!(
            state[0],
            json!("ready"),
            "{what}: pressroom.js did not set up the page"
        );
        assert_eq!(state[1], json!([]), "{what}: script errors");
    }

    pub async fn goto(&self, url: &str) {
        self.c.goto(url).await.expect("navigate");
    }

    /// Wait for an element matching `css`.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css:?}: {e}"))
    }

    /// The page's text.
    pub async fn text(&self) -> String {
        self.find("body").await.text().await.unwrap_or_default()
    }

    /// Wait until the page's text contains `needle` (reloading is the caller's business).
    pub async fn wait_for_text(&self, needle: &str) {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if self.text().await.contains(needle) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{needle:?} never appeared; the page says:\n{}",
                self.text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Log in through the form.
    pub async fn login(&self, base: &str, (user, password): (&str, &str)) {
        self.goto(&format!("{base}/login")).await;
        self.find("input[name=username]")
            .await
            .send_keys(user)
            .await
            .unwrap();
        self.find("input[name=password]")
            .await
            .send_keys(password)
            .await
            .unwrap();
        self.find("form button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        self.c
            .wait()
            .at_most(WAIT)
            .for_url(&url::Url::parse(&format!("{base}/orders")).unwrap())
            .await
            .expect("the dashboard after login");
    }
}
