//! The bodies of the fuzz targets, in one place so that the stable test suite runs exactly the
//! same code: `crates/renderer/tests/hostile/fuzz_smoke.rs` includes this file with `#[path]`
//! and feeds it the seed fixtures and deterministic mutations of them.
//!
//! Each body returns `Err(message)` for input the code under test refused, and panics when an
//! invariant is broken (that is what the fuzzer hunts for): a panic inside the code under test,
//! an empty error message, or a result that contradicts itself.

use renderer::{Limits, Pixels, decode_image};
use template::{LayerKind, Manifest, TextPiece, check_values};

/// Small limits: the fuzzer should explore parsers, not spend its time decoding large images.
pub const IMAGE_LIMITS: Limits = Limits {
    max_pixels: 1 << 20,
    max_bytes: 1 << 20,
    max_svg_bytes: 1 << 20,
    max_text_chars: 1000,
};

/// The name manifests are parsed under; every error must carry it.
pub const MANIFEST_FILE: &str = "fuzz/template.toml";

/// Arbitrary bytes, as UTF-8 text (invalid sequences replaced), parsed as a manifest.
pub fn manifest(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    match Manifest::parse(&text, MANIFEST_FILE) {
        Err(e) => {
            assert!(
                !e.message.trim().is_empty(),
                "empty manifest error message at `{}`",
                e.location
            );
            assert_eq!(e.file, MANIFEST_FILE);
            let shown = e.to_string();
            assert!(
                shown.starts_with(MANIFEST_FILE),
                "the error names the file: {shown}"
            );
            Err(shown)
        }
        Ok(m) => {
            // What a parsed manifest promises: every field a layer reads is declared, sizes are
            // positive, the canvas is 1 to 400 megapixels.
            let declared = |f: &str| m.fields.iter().any(|d| d.id == f);
            for l in &m.layers {
                match &l.kind {
                    LayerKind::Photo(p) => assert!(
                        declared(&p.field),
                        "layer {} reads undeclared {}",
                        l.id,
                        p.field
                    ),
                    LayerKind::Text(t) => {
                        for piece in &t.content {
                            if let TextPiece::Field(f) = piece {
                                assert!(declared(f), "layer {} reads undeclared {f}", l.id);
                            }
                        }
                        assert!(
                            t.size_pt > 0.0 && t.min_size_pt > 0.0 && t.min_size_pt <= t.size_pt
                        );
                    }
                    _ => {}
                }
            }
            let (w, h) = m.print_area.canvas_px();
            assert!(
                w >= 1 && h >= 1 && w as u64 * h as u64 <= 400_000_000,
                "canvas {w} x {h}"
            );
            // Checking an empty set of values must not panic either.
            let _ = check_values(&m, &Default::default());
            Ok(())
        }
    }
}

/// Arbitrary bytes decoded as a customer photo under [`IMAGE_LIMITS`]; returns the size.
pub fn image(data: &[u8]) -> Result<(u32, u32), String> {
    match decode_image(data, &IMAGE_LIMITS) {
        Err(e) => {
            assert!(!e.trim().is_empty(), "empty image error message");
            Err(e)
        }
        Ok(d) => {
            let px = d.width as u64 * d.height as u64;
            assert!(
                (1..=IMAGE_LIMITS.max_pixels).contains(&px),
                "decoded {} x {} past the limit",
                d.width,
                d.height
            );
            match &d.pixels {
                Pixels::Rgb8(v) => assert_eq!(v.len() as u64, px * 3, "RGB buffer length"),
                Pixels::Rgba8(v) => {
                    assert_eq!(v.len() as u64, px * 4, "RGBA buffer length");
                    let bad = v
                        .chunks_exact(4)
                        .position(|p| p[0] > p[3] || p[1] > p[3] || p[2] > p[3]);
                    assert!(bad.is_none(), "pixel {bad:?} is not premultiplied");
                }
            }
            Ok((d.width, d.height))
        }
    }
}
