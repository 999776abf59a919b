//! The database-backed commands as a user runs them: `config`, `migrate`, `order add / show /
//! render`, and `worker`'s graceful shutdown on SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A data folder and a configuration like the checkout's pressroom.toml, pointing into it.
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(testkit::repo_root().join("pressroom.toml")).unwrap();
    let text = text
        .replace(
            "data_dir = \"pressroom-data\"",
            &format!("data_dir = {:?}", dir.path().display().to_string()),
        )
        .replace(
            "\"fixtures/templates\"",
            &format!(
                "{:?}",
                testkit::repo_root()
                    .join("fixtures/templates")
                    .display()
                    .to_string()
            ),
        )
        .replace(
            "fonts_dir = \"fonts\"",
            &format!(
                "fonts_dir = {:?}",
                testkit::repo_root().join("fonts").display().to_string()
            ),
        );
    let config = dir.path().join("pressroom.toml");
    std::fs::write(
        &config,
        text + "\n[worker]\npoll_ms = 100\nlease_secs = 5\ngrace_secs = 20\n",
    )
    .unwrap();
    (dir, config)
}

fn pressroom(config: &Path, args: &[&str]) -> Command {
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
    c
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn config_prints_the_effective_configuration_with_secrets_hidden() {
    let (_dir, config) = setup();
    let out = run(pressroom(&config, &["config"])
        .env(
            "PRESSROOM_DATABASE__URL",
            "postgres://farm:hunter2@db.internal/pressroom",
        )
        .env("PRESSROOM_FILES__KIND", "s3")
        .env("PRESSROOM_FILES__S3__BUCKET", "prints")
        .env("PRESSROOM_FILES__S3__SECRET_ACCESS_KEY", "wJalrXUtnFEMI")
        .env("PRESSROOM_FILES__URL_SECRET", "sign-me")
        .env(
            "PRESSROOM_SECRETS__KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    for secret in [
        "hunter2",
        "wJalrXUtnFEMI",
        "sign-me",
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked:\n{shown}");
    }
    assert!(
        shown.contains("postgres://farm:********@db.internal/pressroom"),
        "{shown}"
    );
    assert!(
        shown.contains("bucket = \"prints\""),
        "environment overrides the file:\n{shown}"
    );
    assert!(
        shown.contains("template = \"name-tag\""),
        "the file's mapping is there:\n{shown}"
    );
}

#[test]
fn a_bad_configuration_is_refused_with_the_key_named() {
    let (dir, _) = setup();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[worker]\nconcurency = 4\n").unwrap();
    let out = run(&mut pressroom(&bad, &["config"]));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("concurency") && err.contains("bad.toml"),
        "{err}"
    );
    let missing = run(&mut pressroom(&dir.path().join("nope.toml"), &["config"]));
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("does not exist"));
}

#[test]
fn migrate_creates_the_embedded_database_and_is_idempotent() {
    let (dir, config) = setup();
    for _ in 0..2 {
        let out = run(&mut pressroom(&config, &["migrate"]));
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("up to date"));
    }
    assert!(dir.path().join("pressroom.db").is_file());
}

#[test]
fn order_add_renders_and_order_render_makes_a_new_version() {
    let (dir, config) = setup();
    let order = testkit::repo_root().join("fixtures/orders/name-tag.json");
    let out = run(pressroom(&config, &["order", "add", "--wait"]).arg(&order));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let print = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("print"))
        .map(|p| PathBuf::from(p.trim()))
        .expect("the print file's place is printed");
    assert!(print.starts_with(dir.path()) && print.is_file(), "{stdout}");
    assert!(std::fs::read(&print).unwrap().starts_with(b"\x89PNG"));

    // Again: nothing changes, the existing renders are shown, and it says how to re-render.
    let again = run(pressroom(&config, &["order", "add", "--wait"]).arg(&order));
    assert!(again.status.success(), "{}", text(&again.stderr));
    let said = text(&again.stderr);
    assert!(
        said.contains("already imported as order 1") && said.contains("order render 1"),
        "{said}"
    );
    assert!(
        text(&again.stdout).contains("version 1"),
        "{}",
        text(&again.stdout)
    );

    let rerender = run(&mut pressroom(&config, &["order", "render", "1", "--wait"]));
    assert!(rerender.status.success(), "{}", text(&rerender.stderr));
    assert!(
        text(&rerender.stdout).contains("version 2"),
        "{}",
        text(&rerender.stdout)
    );

    let show = run(&mut pressroom(&config, &["order", "show", "1"]));
    let view: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let versions: Vec<_> = view["renders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);
    assert_eq!(view["order"]["status"]["raw"], "processing");
    let kinds: Vec<_> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "rendered").count(),
        2,
        "{kinds:?}"
    );
}

#[test]
fn a_broken_order_file_stores_nothing() {
    let (dir, config) = setup();
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        r#"{"id": 5, "line_items": [{"id": 1, "quantity": "two"}]}"#,
    )
    .unwrap();
    let out = run(pressroom(&config, &["order", "add"]).arg(&broken));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("broken.json") && err.contains("line_items[0].quantity"),
        "{err}"
    );
    let show = run(&mut pressroom(&config, &["order", "show", "1"]));
    assert!(!show.status.success(), "no order was stored");
    assert!(
        text(&show.stderr).contains("not found"),
        "{}",
        text(&show.stderr)
    );
}

/// The jobs table of the test's embedded database, read beside the running worker.
fn job_states(dir: &Path) -> Vec<(i64, storage::queue::JobState)> {
    let url = format!("sqlite:{}", dir.join("pressroom.db").display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let db = storage::Db::connect(&url, Default::default())
                .await
                .unwrap();
            let mut states = vec![];
            for kind in ["render"] {
                for job in db.jobs_of_kind(kind).await.unwrap() {
                    states.push((job.id, job.state));
                }
            }
            db.close().await;
            states
        })
}

#[test]
fn a_worker_given_sigterm_while_rendering_finishes_its_renders_and_exits() {
    use storage::queue::JobState;
    let (dir, config) = setup();
    // Queue many small renders.
    let template =
        std::fs::read_to_string(testkit::repo_root().join("fixtures/orders/name-tag.json"))
            .unwrap();
    std::fs::copy(
        testkit::repo_root().join("fixtures/orders/biscuit.jpg"),
        dir.path().join("biscuit.jpg"),
    )
    .unwrap();
    for id in 1..=40 {
        let mut v: serde_json::Value = serde_json::from_str(&template).unwrap();
        v["id"] = id.into();
        let file = dir.path().join(format!("order-{id}.json"));
        std::fs::write(&file, serde_json::to_vec(&v).unwrap()).unwrap();
        let out = run(pressroom(&config, &["order", "add"]).arg(&file));
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let mut worker = pressroom(&config, &["worker", "--concurrency", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Signal it while it holds a job, with work still queued.
    let start = Instant::now();
    let running_at_signal = loop {
        let states = job_states(dir.path());
        let running: Vec<i64> = states
            .iter()
            .filter(|(_, s)| *s == JobState::Running)
            .map(|(id, _)| *id)
            .collect();
        let queued = states.iter().any(|(_, s)| *s == JobState::Queued);
        if !running.is_empty() && queued {
            break running;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the worker never started a job: {states:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(s) = worker.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(25),
            "the worker did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "graceful exit, got {exit:?}");
    // The renders running at the signal were finished within the grace period; it claimed
    // nothing new, so work is left queued; nothing is left held.
    let states = job_states(dir.path());
    for id in &running_at_signal {
        let state = states.iter().find(|(j, _)| j == id).unwrap().1;
        assert_eq!(state, JobState::Done, "job {id} was running at the signal");
    }
    assert!(
        states.iter().any(|(_, s)| *s == JobState::Queued),
        "{states:?}"
    );
    assert!(
        !states.iter().any(|(_, s)| *s == JobState::Running),
        "{states:?}"
    );
}

#[test]
fn a_worker_refuses_unknown_job_kinds_and_names_the_known_ones() {
    let (_dir, config) = setup();
    let out = run(&mut pressroom(
        &config,
        &["worker", "--kinds", "render,nosuchkind"],
    ));
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown job kind \"nosuchkind\"")
            && err.contains("known kinds:")
            && err.contains("render")
            && err.contains("woo_webhook"),
        "{err}"
    );
}

/// `order edit` changes an item's values and photo (a local file, checked and stored like an
/// upload), renders the new version, and refuses values the template does not take.
#[test]
fn order_edit_changes_values_and_photo_and_renders_a_new_version() {
    let (_dir, config) = setup();
    let order = testkit::repo_root().join("fixtures/orders/name-tag.json");
    let out = run(pressroom(&config, &["order", "add", "--wait"]).arg(&order));
    assert!(out.status.success(), "{}", text(&out.stderr));

    let photo = testkit::repo_root().join("fixtures/photos/rgb8.png");
    let out = run(pressroom(
        &config,
        &[
            "order",
            "edit",
            "1",
            "--item",
            "501",
            "--set",
            "name=Rosa",
            "--wait",
        ],
    )
    .arg("--photo")
    .arg(format!("photo={}", photo.display())));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\"changed\": true"), "{stdout}");
    assert!(stdout.contains("version 2"), "{stdout}");

    let show = run(&mut pressroom(&config, &["order", "show", "1"]));
    let view: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let p = &view["order"]["items"][0]["personalization"];
    assert_eq!(p["values"]["name"], "Rosa");
    assert!(
        p["photos"][0]["key"].as_str().unwrap().ends_with(".png"),
        "{p}"
    );
    let edit = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "edited")
        .unwrap_or_else(|| panic!("an edited event: {view}"));
    assert_eq!(edit["actor"], "merchant:cli");
    let fields: Vec<&str> = edit["payload"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "photo"]);

    // The same again changes nothing; a value the template refuses is an error naming it.
    let same = run(&mut pressroom(
        &config,
        &["order", "edit", "1", "--item", "501", "--set", "name=Rosa"],
    ));
    assert!(same.status.success(), "{}", text(&same.stderr));
    assert!(text(&same.stderr).contains("nothing changed"));
    let long = run(&mut pressroom(
        &config,
        &[
            "order",
            "edit",
            "1",
            "--item",
            "501",
            "--set",
            "name=A name far longer than the tag",
        ],
    ));
    assert_eq!(long.status.code(), Some(2));
    let err = text(&long.stderr);
    assert!(err.contains("name") && err.contains("too_long"), "{err}");
}
