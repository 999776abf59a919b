//! The HTTP roles as processes: `pressroom serve` starts, answers and stops on SIGTERM;
//! `pressroom worker --metrics-listen` serves its metrics; and what either prints never shows a
//! database password. The API itself is specified in process, in `crates/server/tests/api/`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

/// A role process with its own data folder; killed when dropped.
struct Role {
    child: Child,
    base: String,
    /// The data folder, removed when the role is dropped.
    _dir: tempfile::TempDir,
    /// Kept open so the process never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
    /// An admin's API token, made with `pressroom user add` and `pressroom token create`
    /// before the role started.
    token: String,
}

impl Role {
    /// Start `pressroom <args>` on a fresh configuration; the first stdout line must be
    /// `<prefix> http://<address>`.
    fn start(args: &[&str], prefix: &str) -> Role {
        let dir = tempfile::tempdir().expect("temporary folder");
        let config_path = dir.path().join("pressroom.toml");
        std::fs::write(&config_path, config_toml(dir.path())).expect("write the configuration");
        let added = pressroom(&config_path)
            .args(["user", "add", "admin", "--role", "admin"])
            .env("PRESSROOM_PASSWORD", "admin-password")
            .current_dir(dir.path())
            .output()
            .expect("run pressroom user add");
        assert!(added.status.success(), "user add: {added:?}");
        let created = pressroom(&config_path)
            .args(["token", "create", "admin"])
            .current_dir(dir.path())
            .output()
            .expect("run pressroom token create");
        assert!(created.status.success(), "token create: {created:?}");
        let token = String::from_utf8(created.stdout)
            .expect("UTF-8")
            .trim()
            .to_string();
        assert!(token.starts_with("prt_"), "{token:?}");
        let log = std::fs::File::create(dir.path().join("role.log")).expect("log file");
        let mut cmd = pressroom(&config_path);
        cmd.args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = cmd.spawn().expect("start pressroom");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("read stdout");
        let log = std::fs::read_to_string(dir.path().join("role.log")).unwrap_or_default();
        let base = first
            .trim_end()
            .strip_prefix(&format!("{prefix} "))
            .unwrap_or_else(|| panic!("first line {first:?} starts with {prefix:?}; log:\n{log}"))
            .to_string();
        Role {
            child,
            base,
            _dir: dir,
            _stdout: stdout,
            token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then the exit status (failing if it takes more than 25 s).
    fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(25),
                "did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pressroom(config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pressroom"));
    cmd.arg("--config").arg(config).env("RUST_LOG", "info");
    // Only this test's configuration: nothing from the environment running the tests.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PRESSROOM_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// The checkout's demo `[app]` section, everything else in `data_dir`, a fast-polling worker.
fn config_toml(data_dir: &Path) -> String {
    let app: toml::Table = toml::from_str(&testkit::demo_app_settings()).expect("demo [app]");
    let mut config: toml::Table = toml::from_str(&format!(
        // No periodic staging sweep: the queue holds only what a test puts in it.
        "data_dir = {:?}\n[worker]\npoll_ms = 100\nlease_secs = 10\nsweep_every_secs = 0\nreconcile_every_secs = 0\npoll_shipments_every_secs = 0\n",
        data_dir.display().to_string()
    ))
    .expect("TOML");
    config.insert("app".into(), toml::Value::Table(app));
    toml::to_string(&config).expect("serializes")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_answers_and_stops_on_sigterm() {
    let mut serve = Role::start(&["serve", "--listen", "127.0.0.1:0"], "listening on");
    let http = client();

    let resp = http.get(serve.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "ok");
    let ready: Value = http
        .get(serve.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready, json!({"database": "ok", "files": "ok"}));

    // The API wants a caller.
    let resp = http.get(serve.url("/api/v1/orders")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // With the token, it answers in its documented shape.
    let resp = http
        .post(serve.url("/api/v1/orders"))
        .bearer_auth(&serve.token)
        .body("this is not an order")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "woo_json", "{body}");
    let list: Value = http
        .get(serve.url("/api/v1/orders"))
        .bearer_auth(&serve.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!({"orders": []}));

    let exit = serve.terminate();
    assert!(exit.success(), "a clean exit on SIGTERM, got {exit:?}");
    assert!(
        http.get(serve.url("/healthz")).send().await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_serves_its_metrics_with_metrics_listen() {
    let mut worker = Role::start(&["worker", "--metrics-listen", "127.0.0.1:0"], "metrics on");
    let http = client();
    let resp = http.get(worker.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("pressroom_queue_gauges_available 1"),
        "queue gauges from the shared database:\n{text}"
    );
    assert!(
        text.contains("pressroom_jobs{state=\"queued\"} 0"),
        "{text}"
    );
    let exit = worker.terminate();
    assert!(exit.success(), "a clean exit on SIGTERM, got {exit:?}");
}

/// A password with an unencoded '@' and a `?password=` parameter are hidden whole, in
/// `pressroom config` and in serve's startup error.
#[test]
fn database_passwords_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pressroom.toml");
    std::fs::write(&config, config_toml(dir.path())).unwrap();
    let url = "postgres://nobody-here:p@ss@127.0.0.1:5432/test?sslmode=disable&password=sekrit";
    let secrets = ["p@ss", "ss@127", "sekrit"];

    let out = pressroom(&config)
        .arg("config")
        .env("PRESSROOM_DATABASE__URL", url)
        .output()
        .unwrap();
    assert!(out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(
            "postgres://nobody-here:********@127.0.0.1:5432/test?sslmode=disable&password=********"
        ),
        "{shown}"
    );
    for s in secrets {
        assert!(!shown.contains(s), "{s} leaked:\n{shown}");
    }

    // The role does not exist: serve fails at once, naming the database without its secrets.
    let out = pressroom(&config)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PRESSROOM_DATABASE__URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("database postgres://nobody-here:********@127.0.0.1:5432/test?"),
        "{stderr}"
    );
    for s in secrets {
        assert!(!stderr.contains(s), "{s} leaked:\n{stderr}");
    }
}
