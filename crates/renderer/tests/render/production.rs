//! One production path for the CLI and the render job: render, preflight decision, print file
//! and preview side by side, mockup, report, each file's SHA-256; and the one print-format type
//! that configuration and the command line name.

use crate::common::*;
use renderer::{
    EncodedFiles, PngCompression, PrintFormat, ProduceOptions, Production, Sinks, Stage, produce,
    produce_into,
};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn options(allow_preflight_errors: bool) -> ProduceOptions {
    ProduceOptions {
        format: PrintFormat::Png(PngCompression::Fast),
        preview_width: 500,
        allow_preflight_errors,
    }
}

fn pet_portrait(values: &[(&str, &str)]) -> Production<EncodedFiles> {
    let r = renderer();
    let t = r.load_template(&fixture("pet-portrait")).unwrap();
    let mut input = fixture_input(&r, &t, "pet-portrait");
    for (k, v) in values {
        input.values.insert(k.to_string(), v.to_string());
    }
    produce(&r, &t, &input, &options(false), &never).unwrap()
}

#[test]
fn a_production_holds_every_file_its_hash_and_the_report() {
    let p = pet_portrait(&[]);
    assert!(!p.blocked());
    let files = p.files.as_ref().expect("files");
    assert_eq!(&files.print.bytes[1..4], b"PNG");
    for (name, file) in [("print", &files.print), ("preview", &files.preview)]
        .into_iter()
        .chain(files.mockup.as_ref().map(|m| ("mockup", m)))
    {
        assert_eq!(
            file.info.sha256,
            sha256(&file.bytes),
            "{name}: hashed while encoding"
        );
        assert_eq!(file.info.bytes as usize, file.bytes.len(), "{name}");
        assert_eq!(p.record.outputs[name], file.info, "{name} is in the record");
    }
    assert_eq!(files.preview.info.width, 500);
    assert!(files.mockup.is_some(), "the template has a mockup");

    let report: serde_json::Value = serde_json::from_slice(&p.report).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["record"], serde_json::to_value(&p.record).unwrap());
    assert_eq!(
        report["record"]["outputs"]["print"]["sha256"],
        files.print.info.sha256
    );
}

#[test]
fn streamed_and_in_memory_productions_write_the_same_bytes() {
    let r = renderer();
    let t = r.load_template(&fixture("pet-portrait")).unwrap();
    let input = fixture_input(&r, &t, "pet-portrait");
    let in_memory = produce(&r, &t, &input, &options(false), &never).unwrap();
    let (mut print, mut preview) = (Vec::new(), Vec::new());
    let mut stages = Vec::new();
    let streamed = produce_into(
        &r,
        &t,
        &input,
        &options(false),
        &never,
        &mut |s| stages.push(s),
        || {
            Ok::<_, renderer::RenderError>(Sinks {
                print: &mut print,
                preview: Some(&mut preview),
                mockup: None::<Vec<u8>>,
            })
        },
    )
    .unwrap();
    let files = in_memory.files.unwrap();
    assert_eq!(print, files.print.bytes);
    assert_eq!(preview, files.preview.bytes);
    let written = streamed.files.unwrap();
    assert_eq!(written.mockup, None, "no mockup sink, no mockup");
    assert!(!streamed.record.outputs.contains_key("mockup"));
    assert_eq!(stages, [Stage::Render, Stage::PrintAndPreview]);
}

#[test]
fn preflight_errors_block_the_files_before_any_sink_is_opened() {
    let r = renderer();
    let t = r.load_template(&fixture("pet-portrait")).unwrap();
    let mut input = fixture_input(&r, &t, "pet-portrait");
    input.values.remove("pet_name"); // required
    let opened = AtomicBool::new(false);
    let open = || {
        opened.store(true, Ordering::Relaxed);
        Ok::<_, renderer::RenderError>(Sinks {
            print: Vec::new(),
            preview: None::<Vec<u8>>,
            mockup: None::<Vec<u8>>,
        })
    };
    let blocked = produce_into(&r, &t, &input, &options(false), &never, &mut |_| {}, open).unwrap();
    assert!(blocked.blocked());
    assert!(!opened.load(Ordering::Relaxed), "nothing opened");
    assert_eq!(blocked.preflight.errors().count(), 1);
    let report: serde_json::Value = serde_json::from_slice(&blocked.report).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(
        report["preflight"]["findings"][0]["code"],
        "required_missing"
    );
    assert!(blocked.record.outputs.is_empty());

    // The merchant's override (and every render job) writes the files and keeps the findings.
    let allowed = produce(&r, &t, &input, &options(true), &never).unwrap();
    assert!(!allowed.blocked());
    assert_eq!(allowed.preflight.errors().count(), 1);
    let report: serde_json::Value = serde_json::from_slice(&allowed.report).unwrap();
    assert_eq!(report["ok"], false);
    assert!(allowed.record.outputs.contains_key("print"));
}

#[test]
fn a_stop_that_comes_while_encoding_gives_no_production() {
    let r = renderer();
    let t = r.load_template(&fixture("pet-portrait")).unwrap();
    let input = fixture_input(&r, &t, "pet-portrait");
    // The claim is lost once the files are being written: the finished files must not count.
    let lost = AtomicBool::new(false);
    let should_stop = || lost.load(Ordering::Relaxed);
    let result = produce_into(
        &r,
        &t,
        &input,
        &options(false),
        &should_stop,
        &mut |_| {},
        || {
            lost.store(true, Ordering::Relaxed);
            Ok::<_, renderer::RenderError>(Sinks {
                print: Vec::new(),
                preview: None::<Vec<u8>>,
                mockup: None::<Vec<u8>>,
            })
        },
    );
    assert!(
        matches!(result, Err(renderer::RenderError::Stopped)),
        "{result:?}"
    );
}

#[test]
fn print_formats_are_named_as_in_configuration() {
    let all = [
        ("png_fast", PrintFormat::Png(PngCompression::Fast)),
        ("png_default", PrintFormat::Png(PngCompression::Default)),
        ("png_best", PrintFormat::Png(PngCompression::Best)),
        ("jpeg", PrintFormat::Jpeg { quality: 92 }),
    ];
    for (name, format) in all {
        assert_eq!(name.parse::<PrintFormat>(), Ok(format));
        assert_eq!(format.to_string(), name);
        let json = serde_json::to_string(&format).unwrap();
        assert_eq!(json, format!("\"{name}\""));
        assert_eq!(serde_json::from_str::<PrintFormat>(&json).unwrap(), format);
    }
    assert_eq!(
        PrintFormat::default(),
        PrintFormat::Png(PngCompression::Fast)
    );
    let err = serde_json::from_str::<PrintFormat>("\"tiff\"").unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown print format `tiff`: use png_fast, png_default, png_best or jpeg"),
        "{err}"
    );
    assert!("png_".parse::<PrintFormat>().is_err());

    // The quality has its own setting; PNG formats ignore it.
    let jpeg: PrintFormat = "jpeg".parse().unwrap();
    assert_eq!(
        jpeg.with_jpeg_quality(80),
        PrintFormat::Jpeg { quality: 80 }
    );
    assert_eq!(
        PrintFormat::Png(PngCompression::Best).with_jpeg_quality(80),
        PrintFormat::Png(PngCompression::Best)
    );
    // A file name's extension picks the format (the command line's --out).
    assert_eq!(
        PrintFormat::for_extension("JPEG", PngCompression::Fast, 70),
        Some(PrintFormat::Jpeg { quality: 70 })
    );
    assert_eq!(
        PrintFormat::for_extension("png", PngCompression::Best, 70).map(|f| f.extension()),
        Some("png")
    );
    assert_eq!(
        PrintFormat::for_extension("tiff", PngCompression::Fast, 70),
        None
    );
}
