//! Fitting an image to a box (cover, contain, stretch) with Lanczos3, resampling only the part of
//! the box that lies on the canvas.

use crate::{image_io::Decoded, image_io::Pixels};
use fast_image_resize as fr;
use template::Fit;

/// Where a fitted image sits inside its box.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placed {
    pub(crate) x: i64,
    pub(crate) y: i64,
    pub(crate) w: u32,
    pub(crate) h: u32,
}

/// Resamples an image fitted to a `w` x `h` box with Lanczos3, producing only the visible
/// part `vis` of the box. Returns the pixels and where they sit in the box, or None when the
/// image does not reach the visible part. `as_rgba` asks for premultiplied RGBA even from an
/// opaque source; otherwise opaque sources stay RGB.
pub(crate) fn fit_image(
    d: &Decoded,
    fit: Fit,
    (w, h): (u32, u32),
    vis: Placed,
    as_rgba: bool,
) -> Result<Option<(Vec<u8>, Placed)>, String> {
    let (iw, ih) = (d.width as f64, d.height as f64);
    let (bw, bh) = (w as f64, h as f64);
    // The source rectangle and the box rectangle it maps onto.
    let (crop, (ox, oy, ow, oh)) = match fit {
        Fit::Stretch => ((0.0, 0.0, iw, ih), (0i64, 0i64, w, h)),
        Fit::Cover => {
            let s = (bw / iw).max(bh / ih);
            let (cw, ch) = (bw / s, bh / s);
            (((iw - cw) / 2.0, (ih - ch) / 2.0, cw, ch), (0, 0, w, h))
        }
        Fit::Contain => {
            let s = (bw / iw).min(bh / ih);
            let ow = (iw * s).round().clamp(1.0, bw) as u32;
            let oh = (ih * s).round().clamp(1.0, bh) as u32;
            (
                (0.0, 0.0, iw, ih),
                (((w - ow) / 2) as i64, ((h - oh) / 2) as i64, ow, oh),
            )
        }
    };
    // Intersect the mapped rectangle with the visible part.
    let x0 = ox.max(vis.x);
    let y0 = oy.max(vis.y);
    let x1 = (ox + ow as i64).min(vis.x + vis.w as i64);
    let y1 = (oy + oh as i64).min(vis.y + vis.h as i64);
    if x1 <= x0 || y1 <= y0 {
        return Ok(None);
    }
    let (sx, sy) = (crop.2 / ow as f64, crop.3 / oh as f64);
    // Clamped to the image: float rounding must not push the crop a hair past its edge.
    let sub_x = (crop.0 + (x0 - ox) as f64 * sx).clamp(0.0, iw);
    let sub_y = (crop.1 + (y0 - oy) as f64 * sy).clamp(0.0, ih);
    let sub = (
        sub_x,
        sub_y,
        ((x1 - x0) as f64 * sx).min(iw - sub_x),
        ((y1 - y0) as f64 * sy).min(ih - sub_y),
    );
    let (out_w, out_h) = ((x1 - x0) as u32, (y1 - y0) as u32);
    let (src, pt): (std::borrow::Cow<[u8]>, fr::PixelType) = match (&d.pixels, as_rgba) {
        (Pixels::Rgb8(v), false) => (v.as_slice().into(), fr::PixelType::U8x3),
        (Pixels::Rgb8(v), true) => {
            let mut out = Vec::with_capacity(v.len() / 3 * 4);
            for p in v.chunks_exact(3) {
                out.extend_from_slice(&[p[0], p[1], p[2], 255]);
            }
            (out.into(), fr::PixelType::U8x4)
        }
        (Pixels::Rgba8(v), _) => (v.as_slice().into(), fr::PixelType::U8x4),
    };
    let src_img =
        fr::images::ImageRef::new(d.width, d.height, &src, pt).map_err(|e| e.to_string())?;
    let mut dst = fr::images::Image::new(out_w, out_h, pt);
    let opts = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3))
        .crop(sub.0, sub.1, sub.2, sub.3)
        .use_alpha(false); // already premultiplied: resample channels independently
    fr::Resizer::new()
        .resize(&src_img, &mut dst, &opts)
        .map_err(|e| e.to_string())?;
    let mut pixels = dst.into_vec();
    if pt == fr::PixelType::U8x4 {
        // Lanczos rings: next to a sharp alpha edge a premultiplied colour can come out above
        // its alpha, which is no colour at all and overflows compositing. Clamp it back.
        for p in pixels.chunks_exact_mut(4) {
            let a = p[3];
            p[0] = p[0].min(a);
            p[1] = p[1].min(a);
            p[2] = p[2].min(a);
        }
    }
    Ok(Some((
        pixels,
        Placed {
            x: x0,
            y: y0,
            w: out_w,
            h: out_h,
        },
    )))
}
