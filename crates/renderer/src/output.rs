//! Encoded outputs of a render: the print file (PNG or JPEG with a 300-DPI tag), the preview
//! (the canvas scaled down) and the mockup (the canvas placed on the product photo). Each
//! output's size and SHA-256 go into the render record.

use crate::composite::div255;
use crate::digest::Sha256;
use crate::{RenderError, Renderer, image_io};
use crate::{Rendered, Template};
use encoder::{JpegOptions, PngCompression, PngOptions, Subsampling};
use fast_image_resize as fr;
use resvg::tiny_skia;
use serde::Serialize;
use std::io::Write;
use template::Blend;

/// The print file's encoding: the one format type of the configuration (`app.print_format`),
/// the render job and `pressroom render`.
///
/// By name (configuration, [`std::str::FromStr`], serde): `png_fast`, `png_default`,
/// `png_best` or `jpeg`. A name carries no JPEG quality: `jpeg` reads as
/// [`PrintFormat::DEFAULT_JPEG_QUALITY`] and the quality comes from its own setting
/// (`app.jpeg_quality`, `--jpeg-quality`) through [`PrintFormat::with_jpeg_quality`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrintFormat {
    /// RGBA with alpha, pHYs and sRGB.
    Png(PngCompression),
    /// Flattened on white, 4:4:4, JFIF density; quality 1..=100 (clamped).
    Jpeg { quality: u8 },
}

impl Default for PrintFormat {
    /// `png_fast`: the quickest print file (the largest, still within 1.05 x Pillow's level 1).
    fn default() -> Self {
        PrintFormat::Png(PngCompression::Fast)
    }
}

/// A name that is not a [`PrintFormat`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown print format `{0}`: use png_fast, png_default, png_best or jpeg")]
pub struct UnknownPrintFormat(pub String);

impl PrintFormat {
    /// The quality `jpeg` means when no quality is given.
    pub const DEFAULT_JPEG_QUALITY: u8 = 92;

    /// The name in configuration: `png_fast`, `png_default`, `png_best` or `jpeg`.
    pub fn name(&self) -> &'static str {
        match self {
            PrintFormat::Png(PngCompression::Fast) => "png_fast",
            PrintFormat::Png(PngCompression::Default) => "png_default",
            PrintFormat::Png(PngCompression::Best) => "png_best",
            PrintFormat::Jpeg { .. } => "jpeg",
        }
    }

    /// The file extension of this format's files (`png` or `jpg`).
    pub fn extension(&self) -> &'static str {
        match self {
            PrintFormat::Png(_) => "png",
            PrintFormat::Jpeg { .. } => "jpg",
        }
    }

    /// This format with the given JPEG quality (a PNG format is unchanged).
    pub fn with_jpeg_quality(self, quality: u8) -> PrintFormat {
        match self {
            PrintFormat::Jpeg { .. } => PrintFormat::Jpeg { quality },
            png => png,
        }
    }

    /// The format a file name's extension asks for (`png`, `jpg` or `jpeg`, any case), with
    /// the given PNG compression or JPEG quality; None for any other extension.
    pub fn for_extension(ext: &str, png: PngCompression, jpeg_quality: u8) -> Option<PrintFormat> {
        match ext.to_ascii_lowercase().as_str() {
            "png" => Some(PrintFormat::Png(png)),
            "jpg" | "jpeg" => Some(PrintFormat::Jpeg {
                quality: jpeg_quality,
            }),
            _ => None,
        }
    }
}

impl std::fmt::Display for PrintFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for PrintFormat {
    type Err = UnknownPrintFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "jpeg" {
            return Ok(PrintFormat::Jpeg {
                quality: PrintFormat::DEFAULT_JPEG_QUALITY,
            });
        }
        s.strip_prefix("png_")
            .and_then(|c| c.parse().ok())
            .map(PrintFormat::Png)
            .ok_or_else(|| UnknownPrintFormat(s.to_string()))
    }
}

impl Serialize for PrintFormat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for PrintFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// One written output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputInfo {
    pub format: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub sha256: String,
}

/// Counts and hashes what passes through.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn hashed<W: Write>(
    out: W,
    format: &'static str,
    width: u32,
    height: u32,
    f: impl FnOnce(&mut Hashing<W>) -> Result<(), RenderError>,
) -> Result<OutputInfo, RenderError> {
    let mut h = Hashing {
        inner: out,
        hasher: Sha256::default(),
        bytes: 0,
    };
    f(&mut h)?;
    h.flush()?;
    Ok(OutputInfo {
        format,
        width,
        height,
        bytes: h.bytes,
        sha256: h.hasher.finish_hex(),
    })
}

/// Scales a premultiplied canvas to `w` x `h` with Lanczos3.
pub(crate) fn downscale(
    src: &tiny_skia::Pixmap,
    w: u32,
    h: u32,
) -> Result<tiny_skia::Pixmap, RenderError> {
    let size_err = || RenderError::Size(format!("{w} x {h}"));
    let img = fr::images::ImageRef::new(src.width(), src.height(), src.data(), fr::PixelType::U8x4)
        .map_err(|e| RenderError::Size(e.to_string()))?;
    let mut dst = fr::images::Image::new(w, h, fr::PixelType::U8x4);
    let opts = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3))
        .use_alpha(false);
    fr::Resizer::new()
        .resize(&img, &mut dst, &opts)
        .map_err(|e| RenderError::Size(e.to_string()))?;
    let mut data = dst.into_vec();
    // Lanczos overshoots; premultiplied colour must never exceed its alpha.
    for p in data.chunks_exact_mut(4) {
        let a = p[3];
        p[0] = p[0].min(a);
        p[1] = p[1].min(a);
        p[2] = p[2].min(a);
    }
    tiny_skia::Pixmap::from_vec(
        data,
        tiny_skia::IntSize::from_wh(w, h).ok_or_else(size_err)?,
    )
    .ok_or_else(size_err)
}

impl Rendered {
    /// Adds a written output to the render record.
    pub fn record_output(&mut self, name: &str, info: OutputInfo) {
        self.record.outputs.insert(name.to_string(), info);
    }

    /// Writes the print file. (Record it with [`Rendered::record_output`] as "print".)
    pub fn write_print<W: Write>(
        &self,
        format: PrintFormat,
        out: W,
    ) -> Result<OutputInfo, RenderError> {
        let (w, h) = (self.canvas.width(), self.canvas.height());
        let dpi = self.record.dpi.round().max(1.0);
        let data = self.canvas.data();
        let info = match format {
            PrintFormat::Png(compression) => hashed(out, "png", w, h, |o| {
                encoder::write_png(
                    o,
                    w,
                    h,
                    data,
                    &PngOptions {
                        compression,
                        dpi: dpi as u32,
                    },
                )?;
                Ok(())
            })?,
            PrintFormat::Jpeg { quality } => hashed(out, "jpeg", w, h, |o| {
                let opts = JpegOptions {
                    quality: quality.clamp(1, 100),
                    dpi: dpi.min(65535.0) as u16,
                    background: [255, 255, 255],
                    subsampling: Subsampling::S444,
                };
                encoder::write_jpeg(o, w, h, data, &opts)?;
                Ok(())
            })?,
        };
        Ok(info)
    }

    /// The canvas scaled to `width` (the same layout, smaller).
    pub fn preview(&self, width: u32) -> Result<tiny_skia::Pixmap, RenderError> {
        let (cw, ch) = (self.canvas.width(), self.canvas.height());
        let width = width.clamp(1, cw);
        let height = ((ch as f64) * width as f64 / cw as f64).round().max(1.0) as u32;
        if width == cw {
            return Ok(self.canvas.clone());
        }
        downscale(&self.canvas, width, height)
    }

    /// Writes a preview JPEG (flattened on white, q85) of the given width.
    pub fn write_preview<W: Write>(&self, width: u32, out: W) -> Result<OutputInfo, RenderError> {
        let pv = self.preview(width)?;
        write_jpeg_pixmap(&pv, 85, Subsampling::S420, out)
    }

    /// Writes the mockup (JPEG q88). None when the template has none.
    pub fn write_mockup<W: Write>(
        &self,
        r: &Renderer,
        t: &Template,
        out: W,
    ) -> Result<Option<OutputInfo>, RenderError> {
        let Some(pm) = self.mockup(r, t)? else {
            return Ok(None);
        };
        write_jpeg_pixmap(&pm, 88, Subsampling::S420, out).map(Some)
    }

    /// The design on the product photo, at the photo's size.
    pub fn mockup(
        &self,
        r: &Renderer,
        t: &Template,
    ) -> Result<Option<tiny_skia::Pixmap>, RenderError> {
        let Some(m) = &t.manifest().mockup else {
            return Ok(None);
        };
        let err = |reason: String| RenderError::Asset {
            template: t.manifest().id.clone(),
            file: m.photo.clone(),
            reason,
        };
        let bytes = std::fs::read(t.dir().join(&m.photo)).map_err(|e| err(e.to_string()))?;
        let photo = image_io::decode(&bytes, r.limits()).map_err(err)?;
        let (pw, ph) = (photo.width, photo.height);
        let mut base = match photo.pixels {
            image_io::Pixels::Rgb8(v) => {
                let mut out = Vec::with_capacity(v.len() / 3 * 4);
                for p in v.chunks_exact(3) {
                    out.extend_from_slice(&[p[0], p[1], p[2], 255]);
                }
                out
            }
            image_io::Pixels::Rgba8(v) => v,
        };
        let x0 = m.area.x.round() as i64;
        let y0 = m.area.y.round() as i64;
        let aw = (m.area.w.round() as u32).max(1);
        let ah = (m.area.h.round() as u32).max(1);
        let design = downscale(&self.canvas, aw, ah)?;
        let o = (m.opacity.clamp(0.0, 1.0) * 255.0).round() as u32;
        for dy in 0..ah as i64 {
            let y = y0 + dy;
            if y < 0 || y >= ph as i64 {
                continue;
            }
            for dx in 0..aw as i64 {
                let x = x0 + dx;
                if x < 0 || x >= pw as i64 {
                    continue;
                }
                let si = ((dy as usize) * aw as usize + dx as usize) * 4;
                let s = &design.data()[si..si + 4];
                let a = div255(s[3] as u32 * o) as u32;
                if a == 0 {
                    continue;
                }
                let di = ((y as usize) * pw as usize + x as usize) * 4;
                let d = &mut base[di..di + 4];
                for c in 0..3 {
                    let sc = div255(s[c] as u32 * o) as u32;
                    let dc = d[c] as u32;
                    d[c] = match m.blend {
                        // Premultiplied "over".
                        Blend::Normal => (sc + div255(dc * (255 - a)) as u32).min(255) as u8,
                        // Ink on fabric: the photo's shading shows through the design.
                        Blend::Multiply => div255(dc * (255 - a + sc).min(255)),
                    };
                }
            }
        }
        let pm = tiny_skia::Pixmap::from_vec(
            base,
            tiny_skia::IntSize::from_wh(pw, ph).ok_or_else(|| err("empty photo".into()))?,
        )
        .ok_or_else(|| err("empty photo".into()))?;
        Ok(Some(pm))
    }
}

fn write_jpeg_pixmap<W: Write>(
    pm: &tiny_skia::Pixmap,
    quality: u8,
    subsampling: Subsampling,
    out: W,
) -> Result<OutputInfo, RenderError> {
    let (w, h) = (pm.width(), pm.height());
    hashed(out, "jpeg", w, h, |o| {
        let opts = JpegOptions {
            quality,
            dpi: 72,
            background: [255, 255, 255],
            subsampling,
        };
        encoder::write_jpeg(o, w, h, pm.data(), &opts)?;
        Ok(())
    })
}
