mod common;

use common::{Alpha, premultiply, straight_canvas};
use encoder::{EncodeError, JpegOptions, Subsampling, flatten_onto, write_jpeg};

fn encode(w: u32, h: u32, premul: &[u8], opts: &JpegOptions) -> Vec<u8> {
    let mut out = Vec::new();
    write_jpeg(&mut out, w, h, premul, opts).expect("encode");
    out
}

fn decode(jpeg: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut dec = zune_jpeg::JpegDecoder::new(std::io::Cursor::new(jpeg));
    let pixels = dec.decode().expect("decodes");
    let info = dec.info().expect("info");
    (info.width as u32, info.height as u32, pixels)
}

/// (mean, max) absolute difference per channel.
fn diff(a: &[u8], b: &[u8]) -> (f64, u8) {
    assert_eq!(a.len(), b.len());
    let mut sum = 0u64;
    let mut max = 0u8;
    for (x, y) in a.iter().zip(b) {
        let d = x.abs_diff(*y);
        sum += d as u64;
        max = max.max(d);
    }
    (sum as f64 / a.len() as f64, max)
}

#[test]
fn jfif_density_is_300_dpi() {
    let premul = premultiply(&straight_canvas(40, 30, Alpha::Soft, 1));
    for opts in [JpegOptions::PRINT, JpegOptions::PREVIEW] {
        let j = encode(40, 30, &premul, &opts);
        assert_eq!(&j[..4], &[0xFF, 0xD8, 0xFF, 0xE0], "SOI then APP0");
        assert_eq!(u16::from_be_bytes([j[4], j[5]]), 16);
        assert_eq!(&j[6..11], b"JFIF\0");
        assert_eq!(j[13], 1, "density unit: dots per inch");
        assert_eq!(u16::from_be_bytes([j[14], j[15]]), 300);
        assert_eq!(u16::from_be_bytes([j[16], j[17]]), 300);
        assert_eq!(&j[j.len() - 2..], &[0xFF, 0xD9]);
    }
    let j = encode(
        40,
        30,
        &premul,
        &JpegOptions {
            dpi: 600,
            ..JpegOptions::PRINT
        },
    );
    assert_eq!(
        (
            u16::from_be_bytes([j[14], j[15]]),
            u16::from_be_bytes([j[16], j[17]])
        ),
        (600, 600)
    );
}

/// Walks the markers: returns (SOF0 height, width, component sampling bytes, number of RSTn).
fn markers(j: &[u8]) -> (u16, u16, Vec<u8>, usize) {
    let mut pos = 2;
    let mut sof = None;
    loop {
        assert_eq!(j[pos], 0xFF);
        let m = j[pos + 1];
        let len = u16::from_be_bytes([j[pos + 2], j[pos + 3]]) as usize;
        assert!(
            !matches!(m, 0xC1..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF),
            "baseline only"
        );
        if m == 0xC0 {
            let s = &j[pos + 4..pos + 2 + len];
            let comps = (0..s[5] as usize).map(|c| s[6 + 3 * c + 1]).collect();
            sof = Some((
                u16::from_be_bytes([s[1], s[2]]),
                u16::from_be_bytes([s[3], s[4]]),
                comps,
            ));
        }
        pos += 2 + len;
        if m == 0xDA {
            break;
        }
    }
    let scan = &j[pos..j.len() - 2];
    let rst = scan
        .windows(2)
        .filter(|w| w[0] == 0xFF && (0xD0..=0xD7).contains(&w[1]))
        .count();
    assert!(
        scan.windows(2)
            .all(|w| w[0] != 0xFF || w[1] == 0 || (0xD0..=0xD7).contains(&w[1]))
    );
    let (h, w, comps) = sof.expect("SOF0");
    (h, w, comps, rst)
}

#[test]
fn decodes_close_to_flattened_input() {
    for &(w, h) in &[(1, 1), (17, 9), (33, 130), (301, 203), (640, 300)] {
        let premul = premultiply(&straight_canvas(w, h, Alpha::Soft, 21));
        // Tolerances ~15 % above what libjpeg (Pillow) gives on the same flattened pixels; the
        // tiny sizes are nearly all edges and noise, and 4:2:0 smears saturated chroma there.
        let small = w * h < 10_000;
        let print = (JpegOptions::PRINT, if small { 5.0 } else { 2.2 }, 42);
        let preview = (JpegOptions::PREVIEW, if small { 24.0 } else { 5.2 }, 185);
        for (opts, mean_tol, max_tol) in [print, preview] {
            let bg = [250, 240, 10];
            let opts = JpegOptions {
                background: bg,
                ..opts
            };
            let j = encode(w, h, &premul, &opts);
            let (dw, dh, pixels) = decode(&j);
            assert_eq!((dw, dh), (w, h));
            let flat = flatten_onto(&premul, bg);
            let (mean, max) = diff(&pixels, &flat);
            assert!(
                mean <= mean_tol && max <= max_tol,
                "{w}x{h} q{}: mean {mean:.2} max {max}",
                opts.quality
            );

            let (sh, sw, comps, rst) = markers(&j);
            assert_eq!((sw as u32, sh as u32), (w, h));
            let want = if opts.subsampling == Subsampling::S444 {
                [0x11, 0x11, 0x11]
            } else {
                [0x22, 0x11, 0x11]
            };
            assert_eq!(comps, want);
            // One restart interval per 128-row strip.
            assert_eq!(rst, (h as usize).div_ceil(128) - 1);
        }
    }
}

#[test]
fn flat_colours_survive() {
    // Opaque flat areas and fully transparent areas (-> background) come out nearly exact.
    let (w, h) = (64, 300);
    let mut premul = Vec::new();
    for y in 0..h {
        for _ in 0..w {
            premul.extend_from_slice(if y < 150 {
                &[27, 42, 73, 255]
            } else {
                &[0, 0, 0, 0]
            });
        }
    }
    let (_, _, px) = decode(&encode(w, h, &premul, &JpegOptions::PRINT));
    for (i, p) in px.chunks_exact(3).enumerate() {
        let y = i / w as usize;
        if (144..152).contains(&y) {
            continue; // the 8x8 blocks holding the edge ring a little
        }
        let want: [u8; 3] = if i / w as usize >= 150 {
            [255, 255, 255]
        } else {
            [27, 42, 73]
        };
        for k in 0..3 {
            assert!(p[k].abs_diff(want[k]) <= 3, "pixel {i}: {p:?} vs {want:?}");
        }
    }
}

#[test]
fn deterministic_across_thread_counts() {
    let (w, h) = (500, 700);
    let premul = premultiply(&straight_canvas(w, h, Alpha::Soft, 4));
    for opts in [JpegOptions::PRINT, JpegOptions::PREVIEW] {
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| encode(w, h, &premul, &opts))
        };
        let one = run(1);
        assert!(one == run(3));
        assert!(one == encode(w, h, &premul, &opts));
    }
}

#[test]
fn invalid_input_is_an_error() {
    let buf = vec![0u8; 4 * 70_000];
    let mut out = Vec::new();
    for (w, h, data) in [
        (3u32, 3u32, &buf[..40]),
        (0, 5, &buf[..0]),
        (70_000, 1, &buf[..]),
        (1, 70_000, &buf[..]),
    ] {
        let r = write_jpeg(&mut out, w, h, data, &JpegOptions::PRINT);
        assert!(
            matches!(r, Err(EncodeError::BadDimensions { .. })),
            "{w}x{h}: {r:?}"
        );
    }
    assert!(out.is_empty());
    let msg = write_jpeg(&mut out, 70_000, 1, &buf, &JpegOptions::PRINT)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("65535"), "{msg}");
    // Quality outside 1..=100 is clamped, not an error.
    let premul = premultiply(&straight_canvas(8, 8, Alpha::Binary, 2));
    for q in [0, 255] {
        let j = encode(
            8,
            8,
            &premul,
            &JpegOptions {
                quality: q,
                ..JpegOptions::PRINT
            },
        );
        assert_eq!(decode(&j).0, 8);
    }
}

#[test]
fn flatten_onto_formula() {
    let premul = [0, 0, 0, 0, 10, 20, 30, 255, 64, 32, 16, 128, 1, 2];
    let out = flatten_onto(&premul, [255, 255, 255]);
    assert_eq!(out.len(), 9, "whole pixels only");
    assert_eq!(&out[..6], &[255, 255, 255, 10, 20, 30]);
    // 127 * 255 / 255 = 127
    assert_eq!(&out[6..], &[64 + 127, 32 + 127, 16 + 127]);
    // Large input (parallel chunks) equals the per-pixel formula.
    let premul = premultiply(&straight_canvas(700, 300, Alpha::Soft, 8));
    let bg = [12, 200, 99];
    let out = flatten_onto(&premul, bg);
    for (p, o) in premul.chunks_exact(4).zip(out.chunks_exact(3)) {
        for k in 0..3 {
            let want = p[k] as f64 + ((255 - p[3] as u32) * bg[k] as u32) as f64 / 255.0;
            assert_eq!(o[k], want.round().min(255.0) as u8);
        }
    }
}
