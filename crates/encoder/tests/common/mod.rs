//! Deterministic synthetic canvases (no files): gradients, noise, alpha regions.
#![allow(dead_code)]

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }
}

/// Alpha policy for [`straight_canvas`].
#[derive(Clone, Copy, PartialEq)]
pub enum Alpha {
    /// Only 0 and 255 (round trip through premultiplication is exact).
    Binary,
    /// Also soft edges with every alpha value.
    Soft,
}

/// A straight-alpha RGBA canvas: gradient background, a noisy "photo" block, a flat banner,
/// fully transparent areas, and (for `Soft`) partial-alpha ramps.
pub fn straight_canvas(w: u32, h: u32, alpha: Alpha, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    let mut v = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32 / w.max(2) as f32, y as f32 / h.max(2) as f32);
            let mut px = [
                (fx * 255.0) as u8,
                (fy * 255.0) as u8,
                ((fx + fy) * 127.0) as u8,
                255,
            ];
            // noisy photo block
            if fx > 0.2 && fx < 0.6 && fy > 0.1 && fy < 0.5 {
                for c in &mut px[..3] {
                    *c = c.wrapping_add(rng.byte() % 32);
                }
            }
            // flat banner
            if fy > 0.7 && fy < 0.85 {
                px = [27, 42, 73, 255];
            }
            // transparent regions: left band and a hole
            let d2 = (fx - 0.75) * (fx - 0.75) + (fy - 0.3) * (fy - 0.3);
            if fx < 0.1 || d2 < 0.01 {
                px[3] = 0;
            }
            if alpha == Alpha::Soft {
                if fy > 0.5 && fy < 0.7 {
                    px[3] = ((x * 7 + y * 3) % 256) as u8;
                } else if (0.1..0.15).contains(&fx) {
                    px[3] = rng.byte();
                }
            }
            if px[3] == 0 {
                px = [0; 4];
            }
            v.extend_from_slice(&px);
        }
    }
    v
}

/// Straight -> premultiplied, rounded (what a renderer produces).
pub fn premultiply(straight: &[u8]) -> Vec<u8> {
    straight
        .chunks_exact(4)
        .flat_map(|p| {
            let a = p[3] as u32;
            let m = |c: u8| ((c as u32 * a + 127) / 255) as u8;
            [m(p[0]), m(p[1]), m(p[2]), p[3]]
        })
        .collect()
}

/// Splits a PNG into (type, data) chunks, checking the signature and every CRC.
pub fn png_chunks(png: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let mut pos = 8;
    let mut out = Vec::new();
    while pos < png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = png[pos + 4..pos + 8].try_into().unwrap();
        let data = &png[pos + 8..pos + 8 + len];
        let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
        let mut h = crc32fast::Hasher::new();
        h.update(&kind);
        h.update(data);
        assert_eq!(
            h.finalize(),
            crc,
            "CRC of {}",
            String::from_utf8_lossy(&kind)
        );
        out.push((kind, data.to_vec()));
        pos += 12 + len;
    }
    assert_eq!(pos, png.len());
    out
}

/// Decodes with the `png` crate: (width, height, RGBA8 pixels).
pub fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = dec.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!(info.color_type, png::ColorType::Rgba);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}
