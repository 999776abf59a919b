//! Per-pixel conversions from premultiplied RGBA8.

/// `UNPREMUL[a][c] = min(255, round(c * 255 / a))` for `a >= 1`; row 0 is all zeros.
static UNPREMUL: [[u8; 256]; 256] = build_unpremul();

const fn build_unpremul() -> [[u8; 256]; 256] {
    let mut t = [[0u8; 256]; 256];
    let mut a = 1;
    while a < 256 {
        let mut c = 0;
        while c < 256 {
            let v = (c * 255 + a / 2) / a;
            t[a][c] = if v > 255 { 255 } else { v as u8 };
            c += 1;
        }
        a += 1;
    }
    t
}

const ALPHA_MASK: u128 = 0xFF00_0000_FF00_0000_FF00_0000_FF00_0000;

#[inline(always)]
fn unpremultiply_px(s: &[u8], d: &mut [u8]) {
    let a = s[3];
    match a {
        255 => d.copy_from_slice(&s[..4]),
        0 => d.fill(0),
        _ => {
            let t = &UNPREMUL[a as usize];
            d[0] = t[s[0] as usize];
            d[1] = t[s[1] as usize];
            d[2] = t[s[2] as usize];
            d[3] = a;
        }
    }
}

/// Converts premultiplied RGBA8 pixels to straight RGBA8.
///
/// Each colour channel becomes `c * 255 / a` rounded to nearest (clamped to 255 if the input is
/// not valid premultiplied data, i.e. `c > a`); alpha is copied; `a == 0` gives `(0, 0, 0, 0)`.
/// Processes `min(src.len(), dst.len()) / 4` whole pixels and leaves the rest of `dst` untouched.
pub fn unpremultiply_row(src: &[u8], dst: &mut [u8]) {
    let n = src.len().min(dst.len()) / 4 * 4;
    let (src, dst) = (&src[..n], &mut dst[..n]);
    let mut s16 = src.chunks_exact(16);
    let mut d16 = dst.chunks_exact_mut(16);
    for (s, d) in (&mut s16).zip(&mut d16) {
        let v = u128::from_le_bytes(s.try_into().expect("16-byte chunk"));
        let alpha = v & ALPHA_MASK;
        if alpha == ALPHA_MASK {
            d.copy_from_slice(s);
        } else if alpha == 0 {
            d.fill(0);
        } else {
            for (sp, dp) in s.chunks_exact(4).zip(d.chunks_exact_mut(4)) {
                unpremultiply_px(sp, dp);
            }
        }
    }
    for (sp, dp) in s16
        .remainder()
        .chunks_exact(4)
        .zip(d16.into_remainder().chunks_exact_mut(4))
    {
        unpremultiply_px(sp, dp);
    }
}

/// Per-alpha additive terms `round((255 - a) * bg / 255)` for the three channels.
pub(crate) struct Flattener {
    add: [[u8; 256]; 3],
}

impl Flattener {
    pub(crate) fn new(background: [u8; 3]) -> Self {
        let mut add = [[0u8; 256]; 3];
        for (ch, table) in add.iter_mut().enumerate() {
            for (a, v) in table.iter_mut().enumerate() {
                let x = (255 - a as u32) * background[ch] as u32;
                *v = ((x + 127) / 255) as u8;
            }
        }
        Flattener { add }
    }

    /// Flattens whole pixels: `src` RGBA (premultiplied) to `dst` RGB, `min(src/4, dst/3)` pixels.
    pub(crate) fn row(&self, src: &[u8], dst: &mut [u8]) {
        let [ar, ag, ab] = &self.add;
        for (s, d) in src.chunks_exact(4).zip(dst.chunks_exact_mut(3)) {
            let a = s[3] as usize;
            d[0] = s[0].saturating_add(ar[a]);
            d[1] = s[1].saturating_add(ag[a]);
            d[2] = s[2].saturating_add(ab[a]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpremul_table_matches_formula() {
        for a in 1..=255u32 {
            for c in 0..=255u32 {
                let exact = ((c * 255) as f64 / a as f64).round().min(255.0) as u8;
                assert_eq!(UNPREMUL[a as usize][c as usize], exact, "a={a} c={c}");
            }
        }
    }

    #[test]
    fn unpremultiply_paths() {
        // 5 pixels: exercises the 16-byte fast path (opaque, transparent, mixed) and remainder.
        let src = [
            10, 20, 30, 255, 1, 2, 3, 255, 4, 5, 6, 255, 7, 8, 9, 255, // all opaque
            9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, // all transparent (garbage colour)
            64, 32, 0, 128, 200, 100, 50, 255, 0, 0, 0, 0, 255, 3, 1,
            2, // mixed (255 > 2: clamp)
            50, 25, 0, 100, // remainder
        ];
        let mut dst = [7u8; 52];
        unpremultiply_row(&src, &mut dst);
        assert_eq!(&dst[..16], &src[..16]);
        assert_eq!(&dst[16..32], &[0; 16]);
        assert_eq!(&dst[32..36], &[128, 64, 0, 128]);
        assert_eq!(&dst[36..40], &[200, 100, 50, 255]);
        assert_eq!(&dst[40..44], &[0, 0, 0, 0]);
        assert_eq!(&dst[44..48], &[255, 255, 128, 2]);
        assert_eq!(&dst[48..52], &[128, 64, 0, 100]);
        // Mismatched lengths: only whole pixels of the shorter one.
        let mut short = [1u8; 6];
        unpremultiply_row(&src, &mut short);
        assert_eq!(short, [10, 20, 30, 255, 1, 1]);
    }

    #[test]
    fn flatten_formula() {
        let f = Flattener::new([255, 128, 0]);
        let src = [0, 0, 0, 0, 10, 20, 30, 255, 50, 60, 70, 128, 200, 0, 0, 100];
        let mut dst = [0u8; 12];
        f.row(&src, &mut dst);
        assert_eq!(&dst[..3], &[255, 128, 0]);
        assert_eq!(&dst[3..6], &[10, 20, 30]);
        // 127 * 255 / 255 = 127; 127 * 128 / 255 = 63.75 -> 64
        assert_eq!(&dst[6..9], &[50 + 127, 60 + 64, 70]);
        // invalid premultiplied (200 > 100) saturates
        assert_eq!(&dst[9..12], &[255, 78, 0]); // 155 * 128 / 255 = 77.8
    }
}
