//! `pressroom render` as a merchant's script sees it: exit codes, one-line errors, and no
//! partial output files after any failure.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pet() -> PathBuf {
    root().join("fixtures/templates/pet-portrait")
}

fn pressroom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pressroom"))
        .args(["render", "--fonts"])
        .arg(root().join("fonts"))
        .args(args)
        .output()
        .expect("runs")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A data file in `dir` with the given JSON, photos copied next to it.
fn data(dir: &Path, json: &str) -> PathBuf {
    std::fs::copy(pet().join("pet.jpg"), dir.join("pet.jpg")).unwrap();
    let p = dir.join("data.json");
    std::fs::write(&p, json).unwrap();
    p
}

#[test]
fn a_good_render_writes_every_output_and_exits_zero() {
    let out = tempfile::tempdir().unwrap();
    let d = out.path().join("out");
    let o = pressroom(&[
        "--template",
        pet().to_str().unwrap(),
        "--data",
        pet().join("data.json").to_str().unwrap(),
        "--out",
        d.join("print.png").to_str().unwrap(),
        "--preview",
        d.join("preview.jpg").to_str().unwrap(),
        "--mockup",
        d.join("mockup.jpg").to_str().unwrap(),
        "--report",
        d.join("report.json").to_str().unwrap(),
        "--png-compression",
        "fast",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        files_in(&d),
        ["mockup.jpg", "preview.jpg", "print.png", "report.json"]
    );
    let mode = std::fs::metadata(d.join("print.png"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o644, "outputs are ordinary readable files");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["ok"], true);
    let outputs = &report["record"]["outputs"];
    assert_eq!(
        outputs["print"]["bytes"],
        std::fs::metadata(d.join("print.png")).unwrap().len()
    );
    assert_eq!(outputs["mockup"]["width"], 1600);
}

#[test]
fn preflight_errors_write_only_the_report_and_exit_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path(), r#"{ "photo": "pet.jpg" }"#); // pet_name is required
    let print = dir.path().join("print.png");
    let report = dir.path().join("report.json");
    let template = pet();
    let args = [
        "--template",
        template.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        print.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ];
    let o = pressroom(&args);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("Pet's name is required"), "{err}");
    assert!(!print.exists(), "no print file when preflight fails");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["ok"], false);
    assert_eq!(r["preflight"]["findings"][0]["code"], "required_missing");

    // The merchant's override writes the print file anyway.
    let mut with_override = args.to_vec();
    with_override.push("--allow-preflight-errors");
    let o = pressroom(&with_override);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(print.exists());
}

#[test]
fn bad_input_leaves_no_file_behind() {
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "corrupt photo",
            b"\xff\xd8\xff\xe0 not really a jpeg",
            "photo for field `photo`",
        ),
        ("text file as photo", b"hello", "photo for field `photo`"),
    ];
    for (what, photo, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        let data = data(dir.path(), r#"{ "pet_name": "Rex", "photo": "bad.jpg" }"#);
        std::fs::write(dir.path().join("bad.jpg"), photo).unwrap();
        let before = files_in(dir.path());
        let o = pressroom(&[
            "--template",
            pet().to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            dir.path().join("print.png").to_str().unwrap(),
            "--preview",
            dir.path().join("preview.jpg").to_str().unwrap(),
            "--report",
            dir.path().join("report.json").to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{what}");
        let err = stderr(&o);
        assert!(
            err.starts_with("error: ") && err.lines().count() == 1,
            "{what}: {err}"
        );
        assert!(err.contains(expect), "{what}: {err}");
        assert_eq!(
            files_in(dir.path()),
            before,
            "{what}: nothing written, no temporary files left"
        );
    }
}

#[test]
fn usage_errors_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path(), r#"{ "pet_name": "Rex", "photo": "pet.jpg" }"#);
    let o = pressroom(&[
        "--template",
        pet().to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.path().join("print.tiff").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("must end in .png, .jpg or .jpeg"),
        "{}",
        stderr(&o)
    );

    // A broken manifest: the error names the file and the line.
    let tpl = tempfile::tempdir().unwrap();
    std::fs::write(
        tpl.path().join("template.toml"),
        "id = \"x\"\n[print_area]\nwidth = 1\nheight = 1\nunit = \"furlong\"\n",
    )
    .unwrap();
    let o = pressroom(&[
        "--template",
        tpl.path().to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.path().join("p.png").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("template.toml") && err.contains("line 5"),
        "{err}"
    );
}

/// A one-text-field template in `dir`.
fn text_template(dir: &Path) -> PathBuf {
    let t = dir.join("tpl");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(
        t.join("template.toml"),
        "id = \"v\"\n[print_area]\nwidth = 4\nheight = 2\nunit = \"in\"\n[[fields]]\nid = \"name\"\nkind = \"text\"\n\
         [[fields]]\nid = \"note\"\nkind = \"text\"\n[[layers]]\nkind = \"text\"\nfield = \"name\"\nbox = [0, 0, 4, 2]\n",
    )
    .unwrap();
    t
}

/// Renders with raw data-file bytes; asserts that nothing is written. (exit code, stderr)
fn render_raw_data(data: &[u8]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let tpl = text_template(dir.path());
    let data_path = dir.path().join("data.json");
    std::fs::write(&data_path, data).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = pressroom(&[
        "--template",
        tpl.to_str().unwrap(),
        "--data",
        data_path.to_str().unwrap(),
        "--out",
        out.join("print.png").to_str().unwrap(),
    ]);
    assert!(
        files_in(&out).is_empty(),
        "nothing written, no partial files"
    );
    (o.status.code(), stderr(&o))
}

#[test]
fn a_data_file_that_is_not_utf8_is_refused_in_one_line() {
    // Latin-1 "José": the é is the single byte 0xE9.
    let (code, err) = render_raw_data(b"{ \"name\": \"Jos\xE9\" }");
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ")
            && err.contains("data.json")
            && err.contains("not valid UTF-8 (at byte 14)"),
        "{err}"
    );
}

#[test]
fn ten_thousand_characters_are_refused_in_one_line() {
    let data = format!(
        "{{ \"name\": \"Ann\", \"note\": \"{}\" }}",
        "a".repeat(10_000)
    );
    let (code, err) = render_raw_data(data.as_bytes());
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("field `note`: 10000 characters"), "{err}");
}

#[test]
fn a_data_file_with_a_byte_order_mark_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let tpl = text_template(dir.path());
    let data_path = dir.path().join("data.json");
    std::fs::write(&data_path, "\u{feff}{ \"name\": \"Ann\" }").unwrap();
    let print = dir.path().join("print.png");
    let o = pressroom(&[
        "--template",
        tpl.to_str().unwrap(),
        "--data",
        data_path.to_str().unwrap(),
        "--out",
        print.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(print.is_file());
}

#[test]
fn a_template_error_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let tpl = text_template(dir.path());
    std::fs::write(
        tpl.join("template.toml"),
        "id = \"v\"\n[print_area]\nwidth = 4\nheight = 2\nunit = \"in\"\n[[layers]]\nkind = \"text\"\ntext = \"x\"\nbox = [0, 0, 4, 2]\nfont = \"Comic Sans MS\"\n",
    )
    .unwrap();
    let data_path = dir.path().join("data.json");
    std::fs::write(&data_path, "{}").unwrap();
    let o = pressroom(&[
        "--template",
        tpl.to_str().unwrap(),
        "--data",
        data_path.to_str().unwrap(),
        "--out",
        dir.path().join("print.png").to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.matches("Comic Sans MS").count(), 1, "{err}");
}
