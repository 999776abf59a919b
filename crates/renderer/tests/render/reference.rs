//! Every fixture template, rendered at a low test DPI, matches its reference image within a
//! tolerance. On a mismatch the actual image and a diff image are written to
//! `target/reference-diffs/`. `PRESSROOM_BLESS=1` rewrites the references instead. A WebP photo
//! renders like the same photo as PNG.

use crate::common::*;
use renderer::Scale;
use std::path::PathBuf;

/// A pixel "differs" when a channel is off by more than this (premultiplied 0..255).
const CHANNEL_TOLERANCE: u8 = 10;
/// The share of differing pixels a match may have.
const MAX_DIFFERING: f64 = 0.003;

fn reference_path(name: &str) -> PathBuf {
    root()
        .join("fixtures/reference")
        .join(format!("{name}.png"))
}

fn write_png(path: &std::path::Path, pm: &resvg::tiny_skia::Pixmap) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = std::fs::File::create(path).unwrap();
    encoder::write_png(
        std::io::BufWriter::new(f),
        pm.width(),
        pm.height(),
        pm.data(),
        &encoder::PngOptions {
            compression: encoder::PngCompression::Best,
            dpi: 72,
        },
    )
    .unwrap();
}

/// Reads a PNG as premultiplied RGBA.
fn read_png(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(
        info.color_type,
        png::ColorType::Rgba,
        "references are RGBA8"
    );
    buf.truncate(info.buffer_size());
    for p in buf.chunks_exact_mut(4) {
        let a = p[3] as u32;
        for c in &mut p[..3] {
            *c = ((*c as u32 * a + 127) / 255) as u8;
        }
    }
    (info.width, info.height, buf)
}

fn check(name: &str, dpi: f64) {
    let (_, _, out) = render_fixture(name, Scale::Dpi(dpi));
    let path = reference_path(name);
    if std::env::var_os("PRESSROOM_BLESS").is_some() {
        write_png(&path, &out.canvas);
        eprintln!("wrote reference {}", path.display());
        return;
    }
    assert!(
        path.exists(),
        "{name}: no reference at {}; run with PRESSROOM_BLESS=1 to create it",
        path.display()
    );
    let (w, h, expected) = read_png(&path);
    // Round trip the actual image through the same PNG encoding as the reference.
    let diffs = root().join("target/reference-diffs");
    let actual_path = diffs.join(format!("{name}.actual.png"));
    write_png(&actual_path, &out.canvas);
    let (aw, ah, actual) = read_png(&actual_path);
    assert_eq!((aw, ah), (w, h), "{name}: size differs from the reference");
    let mut differing = 0usize;
    let mut diff = resvg::tiny_skia::Pixmap::new(w, h).unwrap();
    for (i, (a, e)) in actual
        .chunks_exact(4)
        .zip(expected.chunks_exact(4))
        .enumerate()
    {
        let d = a.iter().zip(e).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
        if d > CHANNEL_TOLERANCE {
            differing += 1;
            diff.data_mut()[i * 4..i * 4 + 4].copy_from_slice(&[255, 0, 0, 255]);
        } else {
            let g = e[3] / 4;
            diff.data_mut()[i * 4..i * 4 + 4].copy_from_slice(&[g, g, g, g]);
        }
    }
    let share = differing as f64 / (w as f64 * h as f64);
    if share > MAX_DIFFERING {
        write_png(&diffs.join(format!("{name}.diff.png")), &diff);
        panic!(
            "{name}: {:.2}% of pixels differ from {} (limit {:.2}%); see {}/{name}.{{actual,diff}}.png, \
             or set PRESSROOM_BLESS=1 to accept the new rendering",
            share * 100.0,
            path.display(),
            MAX_DIFFERING * 100.0,
            diffs.display()
        );
    }
    let _ = std::fs::remove_file(actual_path);
}

#[test]
fn workload_matches_reference() {
    check("workload", 30.0);
}

#[test]
fn pet_portrait_matches_reference() {
    check("pet-portrait", 60.0);
}

#[test]
fn multilingual_names_match_reference() {
    check("multilingual-names", 40.0);
}

#[test]
fn svg_slots_match_reference() {
    check("svg-slots", 40.0);
}

/// The share of pixels of `a` that differ from `b` by more than the channel tolerance.
fn differing_share(a: &resvg::tiny_skia::Pixmap, b: &resvg::tiny_skia::Pixmap) -> f64 {
    assert_eq!((a.width(), a.height()), (b.width(), b.height()), "sizes");
    let differing = a
        .data()
        .chunks_exact(4)
        .zip(b.data().chunks_exact(4))
        .filter(|(p, q)| {
            p.iter()
                .zip(*q)
                .any(|(x, y)| x.abs_diff(*y) > CHANNEL_TOLERANCE)
        })
        .count();
    differing as f64 / (a.width() as f64 * a.height() as f64)
}

#[test]
fn a_webp_photo_renders_like_the_same_photo_as_png() {
    // lossless.webp is rgb8.png saved losslessly: the pet portrait must come out the same from
    // either, and not like the fixture's own photo (so the photo was drawn at all).
    let r = renderer();
    let t = r.load_template(&fixture("pet-portrait")).unwrap();
    let render_with = |photo: &str| {
        let mut input = fixture_input(&r, &t, "pet-portrait");
        let bytes = std::fs::read(root().join("fixtures/photos").join(photo)).unwrap();
        input
            .photos
            .insert("photo".into(), std::sync::Arc::new(bytes));
        r.render(&t, &input, Scale::Dpi(60.0), &never)
            .unwrap_or_else(|e| panic!("{photo}: {e}"))
    };
    let png = render_with("rgb8.png");
    let webp = render_with("lossless.webp");
    let share = differing_share(&webp.canvas, &png.canvas);
    assert!(
        share <= MAX_DIFFERING,
        "{:.2}% of pixels differ between the WebP and the PNG photo",
        share * 100.0
    );
    // The same with transparency (alpha.webp is alpha.png): resampling a photo with a sharp
    // alpha edge into a round mask once overflowed compositing (colour above alpha).
    let alpha_png = render_with("alpha.png");
    let alpha_webp = render_with("alpha.webp");
    assert!(differing_share(&alpha_webp.canvas, &alpha_png.canvas) <= MAX_DIFFERING);
    let (_, _, own) = render_fixture("pet-portrait", Scale::Dpi(60.0));
    assert!(
        differing_share(&webp.canvas, &own.canvas) > 0.01,
        "the WebP photo was not drawn"
    );
    assert_eq!(webp.record.photos.len(), 1, "the WebP photo is recorded");
}
