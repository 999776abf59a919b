//! Decoding images that may be hostile: the format named from its signature, the size checked
//! from the header before any pixel is decoded.
//!
//! Accepted: JPEG, PNG, WebP (lossy, lossless, with alpha) and GIF (the first frame). Anything
//! else is refused with an error naming what it is (an iPhone's HEIC, a PDF, an SVG...), so the
//! merchant knows what to ask the customer for.

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

/// The image formats accepted for customer photos (and template images).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageKind {
    Jpeg,
    Png,
    WebP,
    Gif,
}

impl ImageKind {
    /// The file extension for stored images of this kind: `jpg`, `png`, `webp` or `gif`.
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::WebP => "webp",
            ImageKind::Gif => "gif",
        }
    }

    /// The format's usual name, for messages: `JPEG`, `PNG`, `WebP` or `GIF`.
    pub fn name(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "JPEG",
            ImageKind::Png => "PNG",
            ImageKind::WebP => "WebP",
            ImageKind::Gif => "GIF",
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            ImageKind::Jpeg => ImageFormat::Jpeg,
            ImageKind::Png => ImageFormat::Png,
            ImageKind::WebP => ImageFormat::WebP,
            ImageKind::Gif => ImageFormat::Gif,
        }
    }
}

/// A format recognised by its signature that is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForeignFormat {
    /// HEIC: HEVC in an ISO-BMFF `ftyp` box; what iPhones save by default.
    Heic,
    /// HEIF with no HEVC brand (the `mif1` / `msf1` container alone).
    Heif,
    Avif,
    JpegXl,
    Pdf,
    Svg,
    /// TIFF, and the camera RAW formats built on it (DNG, CR2, NEF...).
    Tiff,
    Bmp,
    Psd,
    /// A web page: usually a photo link that answers with a login or error page.
    Html,
}

impl ForeignFormat {
    /// What the file is, as the subject of "... are not accepted".
    pub fn described(self) -> &'static str {
        match self {
            ForeignFormat::Heic => "HEIC images (iPhone photos)",
            ForeignFormat::Heif => "HEIF images",
            ForeignFormat::Avif => "AVIF images",
            ForeignFormat::JpegXl => "JPEG XL images",
            ForeignFormat::Pdf => "PDF documents",
            ForeignFormat::Svg => "SVG drawings",
            ForeignFormat::Tiff => "TIFF images (and camera RAW files)",
            ForeignFormat::Bmp => "BMP images",
            ForeignFormat::Psd => "Photoshop (PSD) files",
            ForeignFormat::Html => "web pages (HTML)",
        }
    }
}

/// A file that is not one of the accepted image formats, naming what it is by its signature.
/// The message is for the merchant, who asks the customer for another file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsupportedImage {
    #[error("{}; ask the customer for a JPEG, PNG, WebP or GIF", self.reason())]
    Format(ForeignFormat),
    #[error("{}; ask the customer for a JPEG, PNG, WebP or GIF", self.reason())]
    Empty,
    /// No known signature; `first_bytes` holds up to the first 8 bytes.
    #[error("{}; ask the customer for a JPEG, PNG, WebP or GIF", self.reason())]
    Unrecognised { first_bytes: Vec<u8> },
}

impl UnsupportedImage {
    /// What is wrong, without the advice (which differs for template images).
    pub fn reason(&self) -> String {
        match self {
            UnsupportedImage::Format(f) => format!("{} are not accepted", f.described()),
            UnsupportedImage::Empty => "the file is empty (0 bytes)".to_string(),
            UnsupportedImage::Unrecognised { first_bytes } => {
                let hex: Vec<String> = first_bytes.iter().map(|b| format!("{b:02x}")).collect();
                format!("not an image we recognise (first bytes: {})", hex.join(" "))
            }
        }
    }
}

/// The format of image bytes, from their signature alone (nothing is decoded).
pub fn sniff(bytes: &[u8]) -> Result<ImageKind, UnsupportedImage> {
    let foreign = |f| Err(UnsupportedImage::Format(f));
    if bytes.is_empty() {
        return Err(UnsupportedImage::Empty);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(ImageKind::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(ImageKind::Png);
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return Ok(ImageKind::Gif);
    }
    if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        return Ok(ImageKind::WebP);
    }
    if let Some(f) = iso_bmff_image(bytes) {
        return foreign(f);
    }
    if bytes.starts_with(&[0xFF, 0x0A]) || bytes.starts_with(b"\0\0\0\x0CJXL \r\n\x87\n") {
        return foreign(ForeignFormat::JpegXl);
    }
    if bytes.starts_with(b"%PDF-") {
        return foreign(ForeignFormat::Pdf);
    }
    if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        return foreign(ForeignFormat::Tiff);
    }
    if is_bmp(bytes) {
        return foreign(ForeignFormat::Bmp);
    }
    if bytes.starts_with(b"8BPS") {
        return foreign(ForeignFormat::Psd);
    }
    if let Some(f) = markup(bytes) {
        return foreign(f);
    }
    Err(UnsupportedImage::Unrecognised {
        first_bytes: bytes[..bytes.len().min(8)].to_vec(),
    })
}

/// HEIC, HEIF or AVIF from an ISO-BMFF `ftyp` box: its major brand, else its compatible brands
/// (a `mif1` major brand often lists `heic` or `avif` after it). Other brands (MP4, QuickTime
/// video) are not images: None.
fn iso_bmff_image(bytes: &[u8]) -> Option<ForeignFormat> {
    if bytes.len() < 12 || &bytes[4..8] != b"ftyp" {
        return None;
    }
    let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    // The major brand, then (after the 4-byte minor version) the compatible brands.
    let end = size.clamp(12, 256).min(bytes.len());
    let major = &bytes[8..12];
    let compatible = bytes.get(16..end).unwrap_or_default().chunks_exact(4);
    let brand = |b: &[u8]| -> Option<ForeignFormat> {
        match b {
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"hevm" | b"hevs" => {
                Some(ForeignFormat::Heic)
            }
            b"avif" | b"avis" => Some(ForeignFormat::Avif),
            _ => None,
        }
    };
    brand(major)
        .or_else(|| compatible.clone().find_map(brand))
        .or_else(|| {
            std::iter::once(major)
                .chain(compatible)
                .any(|b| b == b"mif1" || b == b"msf1")
                .then_some(ForeignFormat::Heif)
        })
}

/// A BMP file header: `BM`, then a DIB header of one of the known sizes (so a text starting
/// with "BM" is not taken for one).
fn is_bmp(bytes: &[u8]) -> bool {
    bytes.len() >= 18
        && bytes.starts_with(b"BM")
        && matches!(
            u32::from_le_bytes([bytes[14], bytes[15], bytes[16], bytes[17]]),
            12 | 16 | 40 | 52 | 56 | 64 | 108 | 124
        )
}

/// SVG or HTML, after an optional UTF-8 byte-order mark and whitespace: `<svg`, or an XML
/// declaration, doctype or comment followed by `<svg` within the first 4 KB.
fn markup(bytes: &[u8]) -> Option<ForeignFormat> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &text[start..text.len().min(start + 4096)];
    let lower = head.to_ascii_lowercase();
    let has = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
    if lower.starts_with(b"<svg") {
        return Some(ForeignFormat::Svg);
    }
    if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
        return Some(ForeignFormat::Html);
    }
    if lower.starts_with(b"<?xml") || lower.starts_with(b"<!") {
        if has(b"<svg") {
            return Some(ForeignFormat::Svg);
        }
        if has(b"<html") {
            return Some(ForeignFormat::Html);
        }
    }
    None
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

/// Why a file was refused from its header.
enum Refusal {
    /// Not an accepted format; the advice depends on who supplies the file.
    Format(UnsupportedImage),
    /// Over a limit, truncated or unreadable.
    Other(String),
}

/// Format and dimensions from the signature and the header alone, checked against the limits.
fn header(bytes: &[u8], limits: &Limits) -> Result<(ImageKind, u32, u32), Refusal> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(Refusal::Other(format!(
            "the file is {} bytes; the limit is {}",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let kind = sniff(bytes).map_err(Refusal::Format)?;
    if kind == ImageKind::WebP {
        webp_is_complete(bytes).map_err(Refusal::Other)?;
    }
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(kind.format());
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| Refusal::Other(format!("unreadable {} header: {e}", kind.name())))?;
    check_pixels(w, h, limits).map_err(Refusal::Other)?;
    Ok((kind, w, h))
}

/// Format and dimensions of a template image (a raster layer, an image inside SVG artwork),
/// from the header alone. A format that is not accepted is named, with advice for the designer.
pub fn probe(bytes: &[u8], limits: &Limits) -> Result<(ImageFormat, u32, u32), String> {
    match header(bytes, limits) {
        Ok((kind, w, h)) => Ok((kind.format(), w, h)),
        Err(Refusal::Format(e)) => Err(format!(
            "{}; save it as a PNG, JPEG, WebP or GIF",
            e.reason()
        )),
        Err(Refusal::Other(e)) => Err(e),
    }
}

/// The RIFF header states the file's length: a WebP cut off mid-upload is shorter. (The decoder
/// would fail on it too, but with a message about chunks.)
fn webp_is_complete(bytes: &[u8]) -> Result<(), String> {
    let stated = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as u64 + 8;
    if (bytes.len() as u64) < stated {
        return Err(format!(
            "corrupt or truncated WebP: the file is {} bytes, its header says {stated}",
            bytes.len()
        ));
    }
    Ok(())
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

/// Decodes a customer photo (or a template image already probed): JPEG, PNG, WebP or the first
/// frame of a GIF, honouring EXIF orientation. Errors say what was wrong, in words; a format
/// that is not accepted is named, with advice to ask the customer for another.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Decoded, String> {
    let (kind, w, h) = header(bytes, limits).map_err(|r| match r {
        Refusal::Format(e) => e.to_string(),
        Refusal::Other(e) => e,
    })?;
    let name = kind.name();
    // A JPEG cut off mid-upload still decodes, padded with grey; it must not print.
    if kind == ImageKind::Jpeg && !jpeg_is_complete(bytes) {
        return Err(format!(
            "corrupt or truncated {name}: the end-of-image marker is missing"
        ));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(kind.format());
    let mut lim = image::Limits::default();
    lim.max_image_width = Some(w);
    lim.max_image_height = Some(h);
    // RGBA16 is the widest decode; leave room for one conversion copy. (A GIF frame larger than
    // its screen is reserved against this too.)
    lim.max_alloc = Some(w as u64 * h as u64 * 8 * 2 + (1 << 20));
    reader.limits(lim);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| format!("unreadable {name}: {e}"))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    // For a GIF this is the first frame, placed on its logical screen (transparent around it);
    // for an animated WebP, the first frame too.
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        // The header was within the limits but the data asks for more (a GIF frame larger
        // than its screen): refused before that memory is taken.
        image::ImageError::Limits(_) => {
            format!("corrupt {name}: decoding it needs more memory than a {w} x {h} image ({e})")
        }
        e => format!("corrupt or truncated {name}: {e}"),
    })?;
    img.apply_orientation(orientation);
    let (width, height) = (img.width(), img.height());
    let pixels = if img.color().has_alpha() {
        let mut rgba = img.into_rgba8().into_raw();
        // GIFs always decode to RGBA; most have no transparent pixel and stay RGB like any
        // other opaque photo.
        if kind == ImageKind::Gif && rgba.chunks_exact(4).all(|p| p[3] == 255) {
            Pixels::Rgb8(
                rgba.chunks_exact(4)
                    .flat_map(|p| [p[0], p[1], p[2]])
                    .collect(),
            )
        } else {
            premultiply(&mut rgba);
            Pixels::Rgba8(rgba)
        }
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
