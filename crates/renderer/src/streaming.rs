//! The cold bottom layer: a PNG at exactly the canvas size is decoded row by row straight onto
//! the canvas, on one core, while the other layers are prepared.

use crate::{RenderError, Renderer, Template, composite, image_io, prepare::px_rect};
use template::LayerKind;

impl Renderer {
    /// The bottom layer can be decoded row by row straight onto a fresh canvas when it is a
    /// non-interlaced PNG at exactly the canvas size, untouched, and nothing is cached.
    pub(crate) fn can_stream(
        &self,
        t: &Template,
        l: &template::Layer,
        s: f64,
        w: u32,
        h: u32,
    ) -> bool {
        if self.cache.is_some() || l.recolor.is_some() || l.opacity < 1.0 {
            return false;
        }
        let LayerKind::Raster { file, .. } = &l.kind else {
            return false;
        };
        let Some(bytes) = t.files.get(file) else {
            return false;
        };
        let (x, y, rw, rh) = px_rect(&t.layer_rect(l).scale(s));
        if (x, y, rw, rh) != (0, 0, w, h) {
            return false;
        }
        let mut dec = png::Decoder::new(std::io::Cursor::new(bytes.as_slice()));
        dec.set_transformations(png::Transformations::normalize_to_color8());
        match dec.read_info() {
            Ok(reader) => {
                let info = reader.info();
                info.width == w && info.height == h && !info.interlaced
            }
            Err(_) => false,
        }
    }

    pub(crate) fn stream_png(
        &self,
        t: &Template,
        l: &template::Layer,
        canvas: &mut [u8],
    ) -> Result<(), RenderError> {
        let LayerKind::Raster { file, .. } = &l.kind else {
            unreachable!("checked by can_stream")
        };
        let bytes = &t.files[file];
        let err =
            |e: png::DecodingError| t.asset_err(file, format!("corrupt or truncated PNG: {e}"));
        let mut dec = png::Decoder::new_with_limits(
            std::io::Cursor::new(bytes.as_slice()),
            png::Limits { bytes: 1 << 28 },
        );
        dec.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = dec.read_info().map_err(err)?;
        let width = reader.info().width as usize;
        let (color, _) = reader.output_color_type();
        let mut rows = canvas.chunks_exact_mut(width * 4);
        while let Some(row) = reader.next_row().map_err(err)? {
            let Some(dst) = rows.next() else { break };
            let src = row.data();
            match color {
                png::ColorType::Rgba => {
                    dst.copy_from_slice(&src[..width * 4]);
                    image_io::premultiply_row(dst);
                }
                png::ColorType::Rgb => {
                    for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(3)) {
                        d.copy_from_slice(&[s[0], s[1], s[2], 255]);
                    }
                }
                png::ColorType::GrayscaleAlpha => {
                    for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(2)) {
                        let v = composite::div255(s[0] as u32 * s[1] as u32);
                        d.copy_from_slice(&[v, v, v, s[1]]);
                    }
                }
                png::ColorType::Grayscale => {
                    for (d, &v) in dst.chunks_exact_mut(4).zip(src) {
                        d.copy_from_slice(&[v, v, v, 255]);
                    }
                }
                png::ColorType::Indexed => {
                    return Err(t.asset_err(file, "unexpected palette output"));
                }
            }
        }
        Ok(())
    }
}
