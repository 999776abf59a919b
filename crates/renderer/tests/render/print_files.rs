//! Full-size print files: the print area's exact pixel size, and the DPI tags printers read.

use crate::common::*;
use encoder::PngCompression;
use renderer::{PrintFormat, Scale};
use sha2::{Digest, Sha256};

/// The pHYs chunk of a PNG: (x, y, unit).
fn png_phys(bytes: &[u8]) -> Option<(u32, u32, u8)> {
    let mut i = 8;
    while i + 8 <= bytes.len() {
        let n = u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
        let kind = &bytes[i + 4..i + 8];
        if kind == b"pHYs" {
            let d = &bytes[i + 8..i + 8 + n];
            return Some((
                u32::from_be_bytes(d[0..4].try_into().unwrap()),
                u32::from_be_bytes(d[4..8].try_into().unwrap()),
                d[8],
            ));
        }
        i += 12 + n;
    }
    None
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    (
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
    )
}

#[test]
fn workload_print_png_is_4500_by_5400_at_300_dpi_and_recorded() {
    let (_, _, mut out) = render_fixture("workload", Scale::Print);
    assert_eq!((out.canvas.width(), out.canvas.height()), (4500, 5400));
    let mut bytes = Vec::new();
    let info = out
        .write_print(PrintFormat::Png(PngCompression::Fast), &mut bytes)
        .unwrap();
    assert_eq!(png_size(&bytes), (4500, 5400));
    assert_eq!(bytes[25], 6, "colour type RGBA");
    assert_eq!(
        png_phys(&bytes),
        Some((11811, 11811, 1)),
        "pHYs = 300 DPI in pixels per metre"
    );
    assert!(bytes.windows(4).any(|w| w == b"sRGB"), "sRGB chunk present");
    assert_eq!(
        info.sha256,
        hex::encode(Sha256::digest(&bytes)),
        "the record's hash is the file's"
    );
    assert_eq!(info.bytes as usize, bytes.len());

    // The preview: 1000 px wide, same aspect ratio.
    let mut pv = Vec::new();
    let pinfo = out.write_preview(1000, &mut pv).unwrap();
    assert_eq!((pinfo.width, pinfo.height), (1000, 1200));
    out.record_output("print", info);
    out.record_output("preview", pinfo);
    assert_eq!(out.record.outputs.len(), 2);
    assert_eq!(out.record.template_id, "workload");
    assert!(
        out.record.fonts.contains_key("DejaVuSerif-Bold.ttf"),
        "fonts used are recorded: {:?}",
        out.record.fonts
    );
    assert_eq!(out.record.photos.len(), 1);
    assert!(out.record.assets.contains_key("template.png"));
}

#[test]
fn jpeg_print_file_carries_jfif_300_dpi_and_is_flattened() {
    let (_, _, out) = render_fixture("svg-slots", Scale::Print);
    // 8 x 10 in plus 1/8 in bleed on each side at 300 DPI.
    assert_eq!((out.canvas.width(), out.canvas.height()), (2475, 3075));
    let mut bytes = Vec::new();
    out.write_print(PrintFormat::Jpeg { quality: 92 }, &mut bytes)
        .unwrap();
    let app0 = bytes
        .windows(5)
        .position(|w| w == b"JFIF\0")
        .expect("JFIF APP0 segment");
    let d = &bytes[app0 + 5..app0 + 12];
    assert_eq!(d[2], 1, "density unit = dots per inch");
    assert_eq!(u16::from_be_bytes([d[3], d[4]]), 300);
    assert_eq!(u16::from_be_bytes([d[5], d[6]]), 300);
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (2475, 3075));
}
