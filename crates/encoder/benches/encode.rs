//! `cargo bench -p encoder`: PNG Fast/Default and JPEG q92 4:4:4 of a synthetic 4500 x 5400
//! premultiplied canvas (gradient, noisy photo disc, flat banner, transparent surround).
use std::hint::black_box;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use encoder::{JpegOptions, PngCompression, PngOptions, write_jpeg, write_png};

const W: u32 = 4500;
const H: u32 = 5400;

fn canvas() -> Vec<u8> {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut v = Vec::with_capacity((W * H * 4) as usize);
    for y in 0..H {
        for x in 0..W {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let noise = (seed >> 59) as u8; // 0..31
            let (dx, dy) = (x as i64 - 2250, y as i64 - 2200);
            let d2 = dx * dx + dy * dy;
            let straight: [u8; 4] = if d2 < 1500 * 1500 {
                // photo-like: smooth colour field plus sensor noise
                [
                    (x / 18) as u8 ^ noise,
                    (y / 22) as u8 + noise,
                    ((x + y) / 40) as u8 + noise,
                    255,
                ]
            } else if (3950..5050).contains(&y) && (300..4200).contains(&x) {
                [27, 42, 73, 255] // banner
            } else if d2 < 1720 * 1720 {
                // soft ring
                let a = (255 * (1720 * 1720 - d2) / (1720 * 1720 - 1500 * 1500)) as u8;
                [200, 120, 40, a]
            } else {
                [0, 0, 0, 0]
            };
            let a = straight[3] as u32;
            let m = |c: u8| ((c as u32 * a + 127) / 255) as u8;
            v.extend_from_slice(&[m(straight[0]), m(straight[1]), m(straight[2]), straight[3]]);
        }
    }
    v
}

fn bench(c: &mut Criterion) {
    let img = canvas();
    let mut out = Vec::with_capacity(64 << 20);
    let mut g = c.benchmark_group("encode_4500x5400");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(std::time::Duration::from_secs(1));
    for (name, compression) in [
        ("png_fast", PngCompression::Fast),
        ("png_default", PngCompression::Default),
    ] {
        let opts = PngOptions {
            compression,
            dpi: 300,
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                write_png(&mut out, W, H, black_box(&img), &opts).unwrap();
                out.len()
            })
        });
    }
    g.bench_function("jpeg_q92_444", |b| {
        b.iter(|| {
            out.clear();
            write_jpeg(&mut out, W, H, black_box(&img), &JpegOptions::PRINT).unwrap();
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
