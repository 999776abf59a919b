//! Print-file encoders for Pressroom: turn the renderer's finished canvas into a PNG or JPEG a
//! printer reads correctly, as fast as possible on a few cores.
//!
//! # Input and invariants
//! * Every entry point takes the canvas as **premultiplied RGBA8**, row-major, 4 bytes per
//!   pixel, no row padding (tiny-skia `Pixmap` layout). `len == width * height * 4` and a
//!   non-zero size are checked: a bad buffer is an [`EncodeError::BadDimensions`] saying what is
//!   wrong. No input panics; write failures are [`EncodeError::Io`].
//! * Output is deterministic: strip boundaries depend only on the image size, so the same input
//!   gives byte-identical files at any rayon thread count.
//! * Work runs on the current rayon pool; at most `2 * threads + 2` strips are in flight, so
//!   memory beyond the input and the written output stays at a few MB (measured <= 15 MB).
//!
//! # PNG ([`write_png`])
//! RGBA8 with straight alpha (exact rounded unpremultiply, see [`unpremultiply_row`]), chunks
//! `IHDR`, `sRGB` (perceptual), `pHYs` (dpi as pixels per metre, rounded: 300 -> 11811; omitted
//! when `dpi == 0`), `IDAT`..., `IEND`. Rows get libpng's (and Pillow's) adaptive filter: the
//! one of None/Sub/Up/Average/Paeth with the least sum of absolute signed bytes (AVX2 when
//! available). The image is cut into horizontal strips that are unpremultiplied, filtered and
//! raw-deflated in parallel, each ending with a sync flush (the last with the final block), and
//! written in order as the `IDAT`s of one zlib stream whose Adler-32 is combined from the
//! strips'. Filtering sees the whole image (a strip's first row is filtered against the previous
//! strip's last row); only deflate restarts per strip.
//!
//! * [`PngCompression::Fast`]: this crate's own deflate coder (`fastdeflate.rs`): literals and
//!   runs of zero bytes, one dynamic Huffman block per 256 KiB strip. Chosen over the two
//!   suggested candidates because it is both faster and smaller (figures below): zlib-rs level 1
//!   is its static-Huffman "quick" strategy (37 % larger than Pillow's level 1), and fdeflate
//!   is one sequential stream with a fixed code (9.8 % larger, at the 1.10 limit).
//! * `Default`: zlib-rs level 6, 1 MiB strips. `Best`: zlib-rs level 9 (no faster, barely smaller).
//!
//! # JPEG ([`write_jpeg`])
//! Flattened onto `background` ([`flatten_onto`]'s formula), baseline YCbCr via jpeg-encoder at
//! the given quality, 4:4:4 or 4:2:0 (box-averaged chroma), standard Huffman tables, and a JFIF
//! `APP0` with density unit = dots per inch, `x = y = dpi`. Strips of 128 rows (whole MCU rows)
//! are flattened and encoded in parallel, each as one restart interval, and joined with `RSTn`
//! markers into a single scan.
//!
//! # Measured
//! Workload canvas (`/work/shared/perf/WORKLOAD.md`, 4500 x 5400, Pillow's `print.png` loaded and
//! premultiplied), in-process encode, 2 cores, release build, median of 5, quiet machine:
//! `cargo run --release -p encoder --example measure -- /tmp/wl/print.png /tmp fast,fd,z1,z2,z6,jpeg`.
//!
//! | output | method | encode | size | Pillow 13 (same canvas) |
//! |---|---|---|---|---|
//! | PNG Fast | own coder, parallel | 0.15 s | 30.97 MB | level 1: 30.00 MB (ratio 1.032) |
//! | (rejected) | zlib-rs level 1, parallel | 0.39 s | 41.16 MB | ratio 1.372 |
//! | (rejected) | fdeflate, one stream | 0.19 s | 32.94 MB | ratio 1.098 |
//! | (rejected) | zlib-rs level 2, parallel | 0.51 s | 28.76 MB | ratio 0.959 |
//! | PNG Default | zlib-rs level 6, parallel | 1.15 s | 27.34 MB | level 6: 27.98 MB (ratio 0.977) |
//! | PNG Best | zlib-rs level 9, parallel | 3.5 s | 27.29 MB | |
//! | JPEG q92 4:4:4 | jpeg-encoder, parallel strips | 0.25-0.3 s | 5.34 MB | 5.34 MB, same PSNR (45.4 dB) |

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
    /// zlib-level-1 class: this crate's literal + zero-run coder with per-strip Huffman codes.
    Fast,
    /// zlib level 6 (zlib-rs).
    #[default]
    Default,
    /// zlib level 9 (zlib-rs).
    Best,
}

impl PngCompression {
    /// Every effort, fastest first.
    pub const ALL: [PngCompression; 3] = [
        PngCompression::Fast,
        PngCompression::Default,
        PngCompression::Best,
    ];

    /// The name configuration and the command line use: `fast`, `default` or `best`.
    pub fn name(self) -> &'static str {
        match self {
            PngCompression::Fast => "fast",
            PngCompression::Default => "default",
            PngCompression::Best => "best",
        }
    }
}

impl std::fmt::Display for PngCompression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`PngCompression`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown PNG compression `{0}`: use fast, default or best")]
pub struct UnknownPngCompression(pub String);

impl std::str::FromStr for PngCompression {
    type Err = UnknownPngCompression;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PngCompression::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownPngCompression(s.to_string()))
    }
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
        PngOptions {
            compression: PngCompression::Default,
            dpi: 300,
        }
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
    pub const PRINT: JpegOptions = JpegOptions {
        quality: 92,
        dpi: 300,
        background: [255, 255, 255],
        subsampling: Subsampling::S444,
    };
    /// Preview: q85, 4:2:0, 300 DPI, white.
    pub const PREVIEW: JpegOptions = JpegOptions {
        quality: 85,
        dpi: 300,
        background: [255, 255, 255],
        subsampling: Subsampling::S420,
    };
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
    BadDimensions {
        width: u32,
        height: u32,
        buffer_len: usize,
        reason: String,
    },
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
    let bad = |reason: String| {
        Err(EncodeError::BadDimensions {
            width,
            height,
            buffer_len,
            reason,
        })
    };
    if width == 0 || height == 0 {
        return bad("width and height must be at least 1".into());
    }
    if width > max_side || height > max_side {
        return bad(format!(
            "{format} allows at most {max_side} pixels per side"
        ));
    }
    let expected = (width as usize)
        .checked_mul(height as usize)
        .and_then(|n| n.checked_mul(4));
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
    png::write_png(
        out,
        width,
        height,
        premultiplied_rgba,
        opts,
        opts.compression.method(),
    )
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
