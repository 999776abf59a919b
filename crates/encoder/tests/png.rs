mod common;

use std::io::Read;

use common::{Alpha, decode_png, png_chunks, premultiply, straight_canvas};
use encoder::{EncodeError, PngCompression, PngOptions, unpremultiply_row, write_png};

const ALL: [PngCompression; 3] = PngCompression::ALL;

fn encode(w: u32, h: u32, premul: &[u8], compression: PngCompression, dpi: u32) -> Vec<u8> {
    let mut out = Vec::new();
    write_png(&mut out, w, h, premul, &PngOptions { compression, dpi }).expect("encode");
    out
}

#[test]
fn round_trip_exact_for_binary_alpha() {
    // Sizes: single pixel, odd, and tall enough for several strips at every level
    // (strips are about 256 KiB for Fast and 1 MiB otherwise).
    for &(w, h) in &[
        (1, 1),
        (1, 7),
        (7, 1),
        (3, 5),
        (17, 9),
        (301, 203),
        (1024, 300),
    ] {
        let straight = straight_canvas(w, h, Alpha::Binary, 7);
        let premul = premultiply(&straight);
        for c in ALL {
            if w * h > 100_000 && c == PngCompression::Best {
                continue; // slow in the dev profile and covered by the smaller sizes
            }
            let png = encode(w, h, &premul, c, 300);
            let (dw, dh, pixels) = decode_png(&png);
            assert_eq!((dw, dh), (w, h));
            assert!(pixels == straight, "{w}x{h} {c:?}: pixels differ");
        }
    }
}

#[test]
fn round_trip_partial_alpha_within_rounding() {
    let (w, h) = (257, 131);
    let straight = straight_canvas(w, h, Alpha::Soft, 11);
    let premul = premultiply(&straight);
    let png = encode(w, h, &premul, PngCompression::Fast, 300);
    let (_, _, pixels) = decode_png(&png);
    // Exactly our unpremultiply, and within the premultiplication rounding of the source.
    let mut expect = vec![0; premul.len()];
    unpremultiply_row(&premul, &mut expect);
    assert!(pixels == expect);
    let mut soft = 0;
    for (d, s) in pixels.chunks_exact(4).zip(straight.chunks_exact(4)) {
        let a = s[3] as u32;
        assert_eq!(d[3], s[3]);
        if a == 0 {
            assert_eq!(d, &[0, 0, 0, 0]);
            continue;
        }
        soft += (a < 255) as u32;
        let tol = 255 / (2 * a) + 1;
        for k in 0..3 {
            let err = (d[k] as i32 - s[k] as i32).unsigned_abs();
            assert!(err <= tol, "alpha {a}: {} vs {}", d[k], s[k]);
        }
    }
    assert!(soft > 1000, "the canvas has partial alpha");
}

#[test]
fn chunks_srgb_phys_and_zlib_stream() {
    let (w, h) = (640, 480);
    let premul = premultiply(&straight_canvas(w, h, Alpha::Soft, 3));
    for c in ALL {
        let png = encode(w, h, &premul, c, 300);
        let chunks = png_chunks(&png);
        let kinds: Vec<&[u8]> = chunks.iter().map(|(k, _)| &k[..]).collect();
        assert_eq!(&kinds[..3], &[&b"IHDR"[..], b"sRGB", b"pHYs"]);
        assert_eq!(kinds.last().unwrap(), b"IEND");
        assert!(kinds[3..kinds.len() - 1].iter().all(|k| k == b"IDAT"));
        assert!(chunks.last().unwrap().1.is_empty());

        let ihdr = &chunks[0].1;
        assert_eq!(ihdr.len(), 13);
        assert_eq!(u32::from_be_bytes(ihdr[0..4].try_into().unwrap()), w);
        assert_eq!(u32::from_be_bytes(ihdr[4..8].try_into().unwrap()), h);
        assert_eq!(
            &ihdr[8..],
            &[8, 6, 0, 0, 0],
            "8-bit RGBA, deflate, adaptive filtering, no interlace"
        );

        assert_eq!(chunks[1].1, vec![0], "sRGB perceptual");
        let phys = &chunks[2].1;
        assert_eq!(phys.len(), 9);
        assert_eq!(u32::from_be_bytes(phys[0..4].try_into().unwrap()), 11811);
        assert_eq!(u32::from_be_bytes(phys[4..8].try_into().unwrap()), 11811);
        assert_eq!(phys[8], 1, "unit: metre");

        // The IDATs form one valid zlib stream (flate2 checks the header and the Adler-32).
        let idat: Vec<u8> = chunks
            .iter()
            .filter(|(k, _)| k == b"IDAT")
            .flat_map(|(_, d)| d.clone())
            .collect();
        assert_eq!(u16::from_be_bytes([idat[0], idat[1]]) % 31, 0);
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&idat[..])
            .read_to_end(&mut raw)
            .expect("zlib stream");
        assert_eq!(raw.len(), (h * (w * 4 + 1)) as usize);
        // Every row starts with a valid filter type, and the adaptive choice uses several.
        let types: std::collections::BTreeSet<u8> = raw
            .chunks_exact((w * 4 + 1) as usize)
            .map(|r| r[0])
            .collect();
        assert!(types.iter().all(|&t| t <= 4));
        assert!(types.len() >= 2, "{types:?}");
    }
}

#[test]
fn other_dpi_values() {
    let premul = premultiply(&straight_canvas(4, 4, Alpha::Binary, 1));
    let png = encode(4, 4, &premul, PngCompression::Fast, 72);
    let chunks = png_chunks(&png);
    let phys = &chunks.iter().find(|(k, _)| k == b"pHYs").unwrap().1;
    assert_eq!(u32::from_be_bytes(phys[0..4].try_into().unwrap()), 2835);
    let png = encode(4, 4, &premul, PngCompression::Fast, 0);
    assert!(
        png_chunks(&png).iter().all(|(k, _)| k != b"pHYs"),
        "dpi 0 omits pHYs"
    );
    let opts = PngOptions::default();
    assert_eq!((opts.compression, opts.dpi), (PngCompression::Default, 300));
}

#[test]
fn fully_transparent_and_fully_opaque() {
    let (w, h) = (333, 77);
    let clear = vec![0u8; (w * h * 4) as usize];
    let opaque: Vec<u8> = (0..w * h)
        .flat_map(|i| [(i % 251) as u8, 9, 200, 255])
        .collect();
    for c in ALL {
        assert!(decode_png(&encode(w, h, &clear, c, 300)).2 == clear);
        assert!(decode_png(&encode(w, h, &opaque, c, 300)).2 == opaque);
    }
    // A fully transparent canvas compresses to almost nothing.
    assert!(encode(w, h, &clear, PngCompression::Fast, 300).len() < 2000);
}

#[test]
fn invalid_input_is_an_error() {
    let buf = vec![0u8; 40];
    let mut out = Vec::new();
    let opts = PngOptions::default();
    let cases: [(u32, u32, &[u8]); 5] = [
        (3, 3, &buf),
        (0, 10, &buf[..0]),
        (10, 0, &buf[..0]),
        (u32::MAX, u32::MAX, &buf),
        (1 << 31, 1, &buf),
    ];
    for (w, h, data) in cases {
        match write_png(&mut out, w, h, data, &opts) {
            Err(EncodeError::BadDimensions {
                width,
                height,
                buffer_len,
                reason,
            }) => {
                assert_eq!((width, height, buffer_len), (w, h, data.len()));
                assert!(!reason.is_empty());
            }
            other => panic!("{w}x{h}: expected BadDimensions, got {other:?}"),
        }
    }
    assert!(out.is_empty(), "nothing written for invalid input");
    let msg = write_png(&mut out, 3, 3, &buf, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("3x3") && msg.contains("40") && msg.contains("36"),
        "{msg}"
    );
}

/// A writer that fails after `left` bytes.
struct Failing {
    left: usize,
}

impl std::io::Write for Failing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("disk full"));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_are_reported() {
    let (w, h) = (512, 300);
    let premul = premultiply(&straight_canvas(w, h, Alpha::Soft, 5));
    for c in [PngCompression::Fast, PngCompression::Default] {
        for left in [0, 10, 100, 5000] {
            let r = write_png(
                Failing { left },
                w,
                h,
                &premul,
                &PngOptions {
                    compression: c,
                    dpi: 300,
                },
            );
            assert!(matches!(r, Err(EncodeError::Io(_))), "{c:?} {left}: {r:?}");
        }
    }
}

#[test]
fn deterministic_across_thread_counts() {
    let (w, h) = (700, 450);
    let premul = premultiply(&straight_canvas(w, h, Alpha::Soft, 9));
    for c in ALL {
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| encode(w, h, &premul, c, 300))
        };
        let one = run(1);
        assert!(one == run(3), "{c:?}: 1 vs 3 threads");
        assert!(one == run(2), "{c:?}: 1 vs 2 threads");
        assert!(one == encode(w, h, &premul, c, 300), "{c:?}: global pool");
    }
}

#[test]
fn higher_effort_is_not_larger() {
    let (w, h) = (600, 400);
    let premul = premultiply(&straight_canvas(w, h, Alpha::Soft, 13));
    let sizes: Vec<usize> = ALL
        .iter()
        .map(|&c| encode(w, h, &premul, c, 300).len())
        .collect();
    // zlib-rs level 9 is not always smaller than its level 6 (medium strategy), but it is close.
    assert!(
        sizes[0] > sizes[1] && sizes[2] * 100 <= sizes[1] * 105,
        "{sizes:?}"
    );
    assert!(
        sizes[0] < premul.len() / 2,
        "Fast still compresses: {sizes:?}"
    );
}

#[test]
fn compression_names_round_trip_and_unknown_names_are_refused() {
    for c in ALL {
        assert_eq!(c.name().parse::<PngCompression>(), Ok(c));
    }
    assert_eq!("fast".parse(), Ok(PngCompression::Fast));
    let err = "fastest".parse::<PngCompression>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown PNG compression `fastest`: use fast, default or best"
    );
}
