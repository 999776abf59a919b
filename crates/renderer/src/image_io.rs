//! Decoding images that may be hostile: size checked from the header before any pixel is decoded.

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use std::io::Cursor;

/// Bounds on what the renderer accepts. Defaults suit customer photos on a 2-core worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Largest image, in pixels (width x height), checked from the header. Default 100 MP.
    pub max_pixels: u64,
    /// Largest image file in bytes. Default 50 MB.
    pub max_bytes: u64,
    /// Largest SVG file in bytes. Default 10 MB.
    pub max_svg_bytes: u64,
    /// Longest text, in characters, that a text slot will shape. Default 1,000.
    pub max_text_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: 100_000_000,
            max_bytes: 50_000_000,
            max_svg_bytes: 10_000_000,
            max_text_chars: 1000,
        }
    }
}

/// Decoded pixels: opaque images stay RGB (less memory, faster resampling).
#[derive(Debug, Clone)]
pub enum Pixels {
    Rgb8(Vec<u8>),
    /// Premultiplied alpha.
    Rgba8(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct Decoded {
    pub width: u32,
    pub height: u32,
    pub pixels: Pixels,
}

/// Format and dimensions from the header alone.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<(ImageFormat, u32, u32), String> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(format!(
            "the file is {} bytes; the limit is {}",
            bytes.len(),
            limits.max_bytes
        ));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let format = match reader.format() {
        Some(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        Some(f) => return Err(format!("{f:?} images are not accepted; use PNG or JPEG")),
        None => return Err("not a PNG or JPEG image".to_string()),
    };
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| format!("unreadable {format:?} header: {e}"))?;
    check_pixels(w, h, limits)?;
    Ok((format, w, h))
}

fn check_pixels(w: u32, h: u32, limits: &Limits) -> Result<(), String> {
    let px = w as u64 * h as u64;
    if px == 0 {
        return Err(format!("the image is {w} x {h} pixels"));
    }
    if px > limits.max_pixels {
        return Err(format!(
            "the image is {w} x {h} = {:.1} MP; the limit is {:.1} MP",
            px as f64 / 1e6,
            limits.max_pixels as f64 / 1e6
        ));
    }
    Ok(())
}

/// Decodes a PNG or JPEG, honouring EXIF orientation. Errors say what was wrong, in words.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Decoded, String> {
    let (format, w, h) = probe(bytes, limits)?;
    // A JPEG cut off mid-upload still decodes, padded with grey; it must not print.
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(format!(
            "corrupt or truncated {format:?}: the end-of-image marker is missing"
        ));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(format);
    let mut lim = image::Limits::default();
    lim.max_image_width = Some(w);
    lim.max_image_height = Some(h);
    // RGBA16 is the widest decode; leave room for one conversion copy.
    lim.max_alloc = Some(w as u64 * h as u64 * 8 * 2 + (1 << 20));
    reader.limits(lim);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| format!("unreadable {format:?}: {e}"))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder)
        .map_err(|e| format!("corrupt or truncated {format:?}: {e}"))?;
    img.apply_orientation(orientation);
    let (width, height) = (img.width(), img.height());
    let pixels = if img.color().has_alpha() {
        let mut rgba = img.into_rgba8().into_raw();
        premultiply(&mut rgba);
        Pixels::Rgba8(rgba)
    } else {
        Pixels::Rgb8(img.into_rgb8().into_raw())
    };
    Ok(Decoded {
        width,
        height,
        pixels,
    })
}

/// True when an end-of-image marker (FF D9) follows the first start-of-scan (FF DA).
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(sos) = bytes.windows(2).position(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    bytes[sos..].windows(2).rev().any(|w| w == [0xFF, 0xD9])
}

/// Straight to premultiplied alpha, in place (SIMD, exact rounding, parallel for large images).
pub fn premultiply(rgba: &mut [u8]) {
    use rayon::prelude::*;
    rgba.par_chunks_mut(1 << 18).for_each(premultiply_row);
}

/// Straight to premultiplied alpha for a run of pixels, on the calling thread.
pub fn premultiply_row(rgba: &mut [u8]) {
    let n = rgba.len() / 4;
    if n == 0 {
        return;
    }
    match fast_image_resize::images::Image::from_slice_u8(
        n as u32,
        1,
        &mut rgba[..n * 4],
        fast_image_resize::PixelType::U8x4,
    ) {
        Ok(mut row) => {
            // Only fails for a pixel type mismatch, which cannot happen here.
            let _ = fast_image_resize::MulDiv::default().multiply_alpha_inplace(&mut row);
        }
        Err(_) => unreachable!("a slice of whole RGBA pixels"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn premultiply_rounds_exactly() {
        let mut px: Vec<u8> = (0..=255u8).flat_map(|a| [255, 128, 1, a]).collect();
        super::premultiply(&mut px);
        for (a, p) in px.chunks_exact(4).enumerate() {
            let exp = |c: u32| ((c * a as u32) as f64 / 255.0).round() as u8;
            assert_eq!(p, [exp(255), exp(128), exp(1), a as u8], "alpha {a}");
        }
    }
}
