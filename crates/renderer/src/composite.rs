//! Compositing onto a premultiplied RGBA8 canvas (tiny-skia's layout): "source over" for whole
//! images, RGB photos under a mask, glyph coverage in a colour, and recolouring.
//!
//! Every output pixel depends only on the pixels at the same place, so splitting rows across
//! threads never changes a result: the same inputs give the same bytes at any thread count.

use rayon::prelude::*;
use template::Rgba;

/// x / 255 rounded to nearest, exact for x in 0..=255*255.
#[inline(always)]
pub fn div255(x: u32) -> u8 {
    let t = x + 128;
    ((t + (t >> 8)) >> 8) as u8
}

/// A destination: the canvas bytes and its size.
pub struct Target<'a> {
    pub data: &'a mut [u8],
    pub width: u32,
    pub height: u32,
}

/// The part of a `sw` x `sh` source placed at (x, y) that falls on the target:
/// (source x0, source y0, target x0, target y0, width, height).
fn clip(
    t: &Target,
    sw: u32,
    sh: u32,
    x: i64,
    y: i64,
) -> Option<(usize, usize, usize, usize, usize, usize)> {
    let x0 = x.max(0);
    let y0 = y.max(0);
    let x1 = (x + sw as i64).min(t.width as i64);
    let y1 = (y + sh as i64).min(t.height as i64);
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    Some((
        (x0 - x) as usize,
        (y0 - y) as usize,
        x0 as usize,
        y0 as usize,
        (x1 - x0) as usize,
        (y1 - y0) as usize,
    ))
}

/// Rows worth splitting across threads: below this many pixels, one thread is faster.
const PAR_MIN_PIXELS: usize = 1 << 16;

fn for_rows<F>(t: &mut Target, ty: usize, h: usize, w: usize, f: F)
where
    F: Fn(usize, &mut [u8]) + Sync + Send,
{
    let stride = t.width as usize * 4;
    let rows = &mut t.data[ty * stride..(ty + h) * stride];
    if w * h >= PAR_MIN_PIXELS {
        rows.par_chunks_mut(stride)
            .enumerate()
            .for_each(|(i, row)| f(i, row));
    } else {
        rows.chunks_mut(stride)
            .enumerate()
            .for_each(|(i, row)| f(i, row));
    }
}

/// Premultiplied RGBA source over the target at (x, y), scaled by `opacity` (255 = as is).
pub fn over_rgba(t: &mut Target, src: &[u8], sw: u32, sh: u32, x: i64, y: i64, opacity: u8) {
    let Some((sx, sy, tx, ty, w, h)) = clip(t, sw, sh, x, y) else {
        return;
    };
    let sstride = sw as usize * 4;
    for_rows(t, ty, h, w, |i, row| {
        let s = &src[(sy + i) * sstride + sx * 4..][..w * 4];
        let d = &mut row[tx * 4..(tx + w) * 4];
        over_row(d, s, opacity);
    });
}

/// One row of premultiplied "source over".
#[inline]
pub fn over_row(d: &mut [u8], s: &[u8], opacity: u8) {
    for (dp, sp) in d.chunks_exact_mut(4).zip(s.chunks_exact(4)) {
        let (r, g, b, a) = if opacity == 255 {
            (sp[0], sp[1], sp[2], sp[3])
        } else {
            let o = opacity as u32;
            (
                div255(sp[0] as u32 * o),
                div255(sp[1] as u32 * o),
                div255(sp[2] as u32 * o),
                div255(sp[3] as u32 * o),
            )
        };
        match a {
            0 => {}
            255 => dp.copy_from_slice(&[r, g, b, 255]),
            _ => {
                let ia = 255 - a as u32;
                dp[0] = r + div255(dp[0] as u32 * ia);
                dp[1] = g + div255(dp[1] as u32 * ia);
                dp[2] = b + div255(dp[2] as u32 * ia);
                dp[3] = a + div255(dp[3] as u32 * ia);
            }
        }
    }
}

/// Opaque RGB source, cut by an optional coverage mask (same size as the source), over the target.
#[allow(clippy::too_many_arguments)] // a compositing primitive: source, size, mask, place, opacity
pub fn over_rgb_masked(
    t: &mut Target,
    src: &[u8],
    sw: u32,
    sh: u32,
    mask: Option<&[u8]>,
    x: i64,
    y: i64,
    opacity: u8,
) {
    let Some((sx, sy, tx, ty, w, h)) = clip(t, sw, sh, x, y) else {
        return;
    };
    let sstride = sw as usize * 3;
    for_rows(t, ty, h, w, |i, row| {
        let s = &src[(sy + i) * sstride + sx * 3..][..w * 3];
        let m = mask.map(|m| &m[(sy + i) * sw as usize + sx..][..w]);
        let d = &mut row[tx * 4..(tx + w) * 4];
        for (k, (dp, sp)) in d.chunks_exact_mut(4).zip(s.chunks_exact(3)).enumerate() {
            let cov = m.map_or(255, |m| m[k]) as u32;
            let a = if opacity == 255 {
                cov
            } else {
                div255(cov * opacity as u32) as u32
            };
            match a {
                0 => {}
                255 => dp.copy_from_slice(&[sp[0], sp[1], sp[2], 255]),
                _ => {
                    let ia = 255 - a;
                    dp[0] = div255(sp[0] as u32 * a) + div255(dp[0] as u32 * ia);
                    dp[1] = div255(sp[1] as u32 * a) + div255(dp[1] as u32 * ia);
                    dp[2] = div255(sp[2] as u32 * a) + div255(dp[2] as u32 * ia);
                    dp[3] = a as u8 + div255(dp[3] as u32 * ia);
                }
            }
        }
    });
}

/// A coverage mask (glyph, shape) painted in a colour over the target.
pub fn over_coverage(t: &mut Target, cov: &[u8], cw: u32, ch: u32, x: i64, y: i64, color: Rgba) {
    let Some((sx, sy, tx, ty, w, h)) = clip(t, cw, ch, x, y) else {
        return;
    };
    let (cr, cg, cb, ca) = (
        color.r as u32,
        color.g as u32,
        color.b as u32,
        color.a as u32,
    );
    for_rows(t, ty, h, w, |i, row| {
        let m = &cov[(sy + i) * cw as usize + sx..][..w];
        let d = &mut row[tx * 4..(tx + w) * 4];
        for (dp, &c) in d.chunks_exact_mut(4).zip(m) {
            let a = div255(c as u32 * ca) as u32;
            if a == 0 {
                continue;
            }
            let ia = 255 - a;
            dp[0] = div255(cr * a) + div255(dp[0] as u32 * ia);
            dp[1] = div255(cg * a) + div255(dp[1] as u32 * ia);
            dp[2] = div255(cb * a) + div255(dp[2] as u32 * ia);
            dp[3] = a as u8 + div255(dp[3] as u32 * ia);
        }
    });
}

/// Multiplies premultiplied RGBA by a coverage mask of the same size, in place.
pub fn apply_mask(rgba: &mut [u8], mask: &[u8]) {
    rgba.par_chunks_mut(4 * 4096)
        .zip(mask.par_chunks(4096))
        .for_each(|(px, m)| {
            for (p, &c) in px.chunks_exact_mut(4).zip(m) {
                if c != 255 {
                    let c = c as u32;
                    for v in p.iter_mut() {
                        *v = div255(*v as u32 * c);
                    }
                }
            }
        });
}

/// Replaces every pixel's colour with `color`, keeping its coverage (premultiplied, in place).
pub fn recolor(rgba: &mut [u8], color: Rgba) {
    let (r, g, b, ca) = (
        color.r as u32,
        color.g as u32,
        color.b as u32,
        color.a as u32,
    );
    rgba.par_chunks_mut(4 * 4096).for_each(|px| {
        for p in px.chunks_exact_mut(4) {
            let a = div255(p[3] as u32 * ca) as u32;
            p.copy_from_slice(&[div255(r * a), div255(g * a), div255(b * a), a as u8]);
        }
    });
}

/// Fills a premultiplied buffer with one colour.
pub fn fill(rgba: &mut [u8], color: Rgba) {
    let a = color.a as u32;
    let px = [
        div255(color.r as u32 * a),
        div255(color.g as u32 * a),
        div255(color.b as u32 * a),
        color.a,
    ];
    rgba.par_chunks_mut(4 * 4096).for_each(|c| {
        for p in c.chunks_exact_mut(4) {
            p.copy_from_slice(&px);
        }
    });
}

/// A rounded rectangle path (tiny-skia has none built in).
pub(crate) fn rounded_rect(
    r: resvg::tiny_skia::Rect,
    radius: f32,
) -> Option<resvg::tiny_skia::Path> {
    let rad = radius.min(r.width() / 2.0).min(r.height() / 2.0).max(0.0);
    if rad <= 0.0 {
        return Some(resvg::tiny_skia::PathBuilder::from_rect(r));
    }
    // Cubic approximation of a quarter circle.
    let k = rad * 0.552_284_8;
    let (l, t, rt, b) = (r.left(), r.top(), r.right(), r.bottom());
    let mut pb = resvg::tiny_skia::PathBuilder::new();
    pb.move_to(l + rad, t);
    pb.line_to(rt - rad, t);
    pb.cubic_to(rt - rad + k, t, rt, t + rad - k, rt, t + rad);
    pb.line_to(rt, b - rad);
    pb.cubic_to(rt, b - rad + k, rt - rad + k, b, rt - rad, b);
    pb.line_to(l + rad, b);
    pb.cubic_to(l + rad - k, b, l, b - rad + k, l, b - rad);
    pb.line_to(l, t + rad);
    pb.cubic_to(l, t + rad - k, l + rad - k, t, l + rad, t);
    pb.close();
    pb.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div255_is_exact_rounding() {
        for x in 0..=255u32 * 255 {
            assert_eq!(
                div255(x) as u32,
                (x as f64 / 255.0).round() as u32,
                "x = {x}"
            );
        }
    }

    #[test]
    fn source_over_follows_porter_duff() {
        // Half-transparent red over opaque blue.
        let mut d = [0u8, 0, 255, 255];
        over_row(&mut d, &[128, 0, 0, 128], 255);
        assert_eq!(d, [128, 0, 127, 255]);
        // Transparent source leaves the target; opaque replaces it.
        let mut d = [1u8, 2, 3, 4];
        over_row(&mut d, &[0, 0, 0, 0], 255);
        assert_eq!(d, [1, 2, 3, 4]);
        over_row(&mut d, &[9, 8, 7, 255], 255);
        assert_eq!(d, [9, 8, 7, 255]);
    }

    #[test]
    fn placement_is_clipped_to_the_target() {
        let mut data = vec![0u8; 4 * 4 * 4];
        let mut t = Target {
            data: &mut data,
            width: 4,
            height: 4,
        };
        let src = vec![255u8; 3 * 3 * 4];
        over_rgba(&mut t, &src, 3, 3, -1, 2, 255);
        over_rgba(&mut t, &src, 3, 3, 10, 10, 255); // entirely outside: nothing
        let opaque: Vec<(usize, usize)> = (0..16)
            .filter(|i| data[i * 4 + 3] == 255)
            .map(|i| (i % 4, i / 4))
            .collect();
        assert_eq!(opaque, vec![(0, 2), (1, 2), (0, 3), (1, 3)]);
    }
}
