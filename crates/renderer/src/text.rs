//! Text slots: shaping (cosmic-text: kerning, ligatures, bidi, Indic conjuncts, per-script
//! fallback, colour emoji), shrink-to-fit, alignment, text on an arc, and glyph rasterization
//! (swash). Produces glyph images placed in canvas pixels plus the facts preflight needs.

use crate::fonts::FontLibrary;
use cosmic_text::{
    Attrs, Buffer, Family, FontSystem, LayoutGlyph, Metrics, Shaping, Style, Weight, Wrap, fontdb,
};
use resvg::tiny_skia;
use std::collections::BTreeSet;
use swash::scale::{Render, ScaleContext, Source, StrikeWith, image::Content};
use swash::zeno::{Format, Vector};
use template::{Align, ArcSide, Rect, Rgba, TextSlot, VAlign};

/// What a glyph image holds.
pub enum GlyphPixels {
    /// Coverage, painted in the slot's colour.
    Coverage(Vec<u8>),
    /// Premultiplied RGBA (colour emoji, or any glyph already rotated onto an arc).
    Rgba(Vec<u8>),
}

/// A rasterized glyph at its place on the canvas.
pub struct PlacedGlyph {
    pub x: i64,
    pub y: i64,
    pub w: u32,
    pub h: u32,
    pub pixels: GlyphPixels,
}

/// A laid-out, rasterized text slot.
pub struct LaidText {
    pub glyphs: Vec<PlacedGlyph>,
    pub color: Rgba,
    /// Union of the glyph images, in canvas pixels.
    pub ink: Option<Rect>,
    /// The font size used, in pixels at this render's scale.
    pub size_px: f64,
    /// Still too large for the box at the size used.
    pub overflows: bool,
    /// Characters that no font has, in order of first appearance.
    pub missing: Vec<char>,
    pub fonts_used: BTreeSet<fontdb::ID>,
}

/// The slot's request in canvas pixels at this render's scale.
pub struct TextJob<'a> {
    pub text: &'a str,
    pub slot: &'a TextSlot,
    pub rect: Rect,
    /// Canvas pixels per point.
    pub px_per_pt: f64,
    /// Canvas pixels per manifest unit (for the arc radius).
    pub px_per_unit: f64,
    pub color: Rgba,
}

struct Line {
    glyphs: Vec<LayoutGlyph>,
    /// Leftmost pen position and rightmost advance end.
    min_x: f32,
    max_x: f32,
}

struct Shaped {
    lines: Vec<Line>,
    size: f32,
    line_height: f32,
    /// Ascent and descent of the slot's own font, as fractions of the em.
    ascent: f32,
    descent: f32,
}

impl Shaped {
    fn width(&self) -> f32 {
        self.lines
            .iter()
            .map(|l| l.max_x - l.min_x)
            .fold(0.0, f32::max)
    }
    fn height(&self) -> f32 {
        (self.lines.len().max(1) - 1) as f32 * self.line_height + self.size
    }
}

fn attrs(slot: &TextSlot) -> Attrs<'_> {
    Attrs::new()
        .family(Family::Name(&slot.font))
        .weight(Weight(slot.weight))
        .style(if slot.italic {
            Style::Italic
        } else {
            Style::Normal
        })
}

fn shape(
    fs: &mut FontSystem,
    text: &str,
    slot: &TextSlot,
    size: f32,
    wrap_width: Option<f32>,
) -> Shaped {
    let line_height = size * slot.line_spacing as f32;
    let mut buffer = Buffer::new(fs, Metrics::new(size, line_height));
    buffer.set_wrap(if wrap_width.is_some() {
        Wrap::WordOrGlyph
    } else {
        Wrap::None
    });
    buffer.set_size(wrap_width, None);
    let base = attrs(slot);
    let emoji = base.clone().family(Family::Name(EMOJI_FAMILY));
    let spans = emoji_spans(text).into_iter().map(|(s, is_emoji)| {
        (
            s,
            if is_emoji {
                emoji.clone()
            } else {
                base.clone()
            },
        )
    });
    buffer.set_rich_text(spans, &base, Shaping::Advanced, None);
    buffer.shape_until_scroll(fs, false);
    let lines = buffer
        .layout_runs()
        .map(|run| {
            let min_x = run.glyphs.iter().map(|g| g.x).fold(f32::INFINITY, f32::min);
            let max_x = run
                .glyphs
                .iter()
                .map(|g| g.x + g.w)
                .fold(f32::NEG_INFINITY, f32::max);
            Line {
                glyphs: run.glyphs.to_vec(),
                min_x: if min_x.is_finite() { min_x } else { 0.0 },
                max_x: if max_x.is_finite() { max_x } else { 0.0 },
            }
        })
        .collect();
    let (ascent, descent) = font_metrics(fs, slot);
    Shaped {
        lines,
        size,
        line_height,
        ascent,
        descent,
    }
}

/// The colour emoji family: emoji clusters are shaped with it directly, because the generic
/// fallback would take a text-style glyph (a black heart for U+2764 U+FE0F) from a symbol font.
const EMOJI_FAMILY: &str = "Noto Color Emoji";

/// Splits text into runs of (text, is emoji), by grapheme cluster.
fn emoji_spans(text: &str) -> Vec<(&str, bool)> {
    use unicode_segmentation::UnicodeSegmentation;
    let is_emoji = |g: &str| {
        let mut chars = g.chars();
        let first = chars.next().map_or(0, |c| c as u32);
        let pictographic = matches!(first, 0x1F000..=0x1FAFF);
        let requested = g.contains('\u{FE0F}') || (g.contains('\u{200D}') && first >= 0x2000);
        pictographic
            || (requested && matches!(first, 0x2000..=0x3300 | 0x1F000..=0x1FAFF))
            || (first <= 0x39 && g.contains('\u{20E3}')) // keycaps: 1️⃣
    };
    let mut spans: Vec<(&str, bool)> = Vec::new();
    let mut start = 0;
    let mut current: Option<bool> = None;
    for (i, g) in text.grapheme_indices(true) {
        let e = is_emoji(g);
        if current.is_some_and(|c| c != e) {
            spans.push((&text[start..i], current.unwrap_or(false)));
            start = i;
        }
        current = Some(e);
    }
    if start < text.len() {
        spans.push((&text[start..], current.unwrap_or(false)));
    }
    spans
}

/// Ascent and descent of the slot's font as fractions of the em (for vertical centring that
/// matches what designers see in other tools: the middle of ascender and descender).
fn font_metrics(fs: &mut FontSystem, slot: &TextSlot) -> (f32, f32) {
    let query = fontdb::Query {
        families: &[Family::Name(&slot.font)],
        weight: Weight(slot.weight),
        style: if slot.italic {
            Style::Italic
        } else {
            Style::Normal
        },
        stretch: fontdb::Stretch::Normal,
    };
    let Some(id) = fs.db().query(&query) else {
        return (0.8, 0.2);
    };
    let Some(font) = fs.get_font(id, Weight(slot.weight)) else {
        return (0.8, 0.2);
    };
    let m = font.as_swash().metrics(&[]);
    let upem = m.units_per_em.max(1) as f32;
    (m.ascent / upem, m.descent.abs() / upem)
}

/// Shapes at the slot's size, shrinking towards its minimum until it fits the box.
fn shape_to_fit(fs: &mut FontSystem, job: &TextJob) -> (Shaped, bool) {
    let slot = job.slot;
    let size = (slot.size_pt * job.px_per_pt) as f32;
    let min = (slot.min_size_pt * job.px_per_pt) as f32;
    let (bw, bh) = (job.rect.w as f32, job.rect.h as f32);
    let wrap = slot.wrap.then_some(bw);
    let fits = |s: &Shaped| s.width() <= bw + 0.5 && s.height() <= bh + 0.5;
    let mut shaped = shape(fs, job.text, slot, size, wrap);
    if fits(&shaped) || !slot.shrink_to_fit || min >= size {
        let ok = fits(&shaped);
        return (shaped, !ok);
    }
    // Width and height scale with the size, so one proportional step lands close; a few small
    // steps absorb rounding and re-wrapping.
    let ratio = (bw / shaped.width().max(1e-3)).min(bh / shaped.height().max(1e-3));
    let mut s = (size * ratio * 0.999).clamp(min, size);
    for _ in 0..40 {
        shaped = shape(fs, job.text, slot, s, wrap);
        if fits(&shaped) || s <= min {
            break;
        }
        s = (s * 0.97).max(min);
    }
    let ok = fits(&shaped);
    (shaped, !ok)
}

/// Lays out and rasterizes one text slot.
pub fn render(fonts: &FontLibrary, job: &TextJob) -> LaidText {
    let mut fs = fonts.system();
    let (shaped, overflows) = shape_to_fit(&mut fs, job);
    let mut missing = Vec::new();
    let mut fonts_used = BTreeSet::new();
    for line in &shaped.lines {
        for g in &line.glyphs {
            if g.glyph_id == 0 {
                for c in job.text.get(g.start..g.end).unwrap_or("").chars() {
                    if !c.is_whitespace() && !c.is_control() && !missing.contains(&c) {
                        missing.push(c);
                    }
                }
            } else {
                fonts_used.insert(g.font_id);
            }
        }
    }

    let r = &job.rect;
    let block_h = shaped.height() as f64;
    let top = match job.slot.valign {
        VAlign::Top => r.y,
        VAlign::Middle => r.y + (r.h - block_h) / 2.0,
        VAlign::Bottom => r.bottom() - block_h,
    };
    let em = shaped.size as f64;
    // The line's ascender-to-descender box is centred on its em slot.
    let baseline_in_slot = em / 2.0 + (shaped.ascent - shaped.descent) as f64 / 2.0 * em;

    let mut ctx = ScaleContext::new();
    let mut glyphs = Vec::new();
    match job.slot.curve {
        None => {
            for (i, line) in shaped.lines.iter().enumerate() {
                let lw = (line.max_x - line.min_x) as f64;
                let left = match job.slot.align {
                    Align::Left => r.x,
                    Align::Center => r.x + (r.w - lw) / 2.0,
                    Align::Right => r.right() - lw,
                } - line.min_x as f64;
                let baseline = top + i as f64 * shaped.line_height as f64 + baseline_in_slot;
                for g in &line.glyphs {
                    if let Some(pg) = raster_glyph(&mut fs, &mut ctx, g, left, baseline) {
                        glyphs.push(pg);
                    }
                }
            }
        }
        Some(curve) => {
            let radius = curve.radius * job.px_per_unit;
            if let Some(line) = shaped.lines.first() {
                let lw = (line.max_x - line.min_x) as f64;
                let apex = top + baseline_in_slot;
                let cx = r.x + r.w / 2.0;
                for g in &line.glyphs {
                    // Distance along the arc from the apex to the glyph's middle.
                    let s = (g.x - line.min_x) as f64 + g.w as f64 / 2.0 - lw / 2.0;
                    let theta = s / radius;
                    let (px, py, angle) = match curve.side {
                        ArcSide::Top => (
                            cx + radius * theta.sin(),
                            apex + radius - radius * theta.cos(),
                            theta,
                        ),
                        ArcSide::Bottom => (
                            cx + radius * theta.sin(),
                            apex - radius + radius * theta.cos(),
                            -theta,
                        ),
                    };
                    if let Some(pg) =
                        raster_glyph_rotated(&mut fs, &mut ctx, g, px, py, angle, job.color)
                    {
                        glyphs.push(pg);
                    }
                }
            }
        }
    }
    let ink = glyphs
        .iter()
        .map(|g| Rect::new(g.x as f64, g.y as f64, g.w as f64, g.h as f64))
        .reduce(|a, b| a.union(&b));
    LaidText {
        glyphs,
        color: job.color,
        ink,
        size_px: shaped.size as f64,
        overflows,
        missing,
        fonts_used,
    }
}

fn swash_image(
    fs: &mut FontSystem,
    ctx: &mut ScaleContext,
    g: &LayoutGlyph,
    offset: Vector,
) -> Option<swash::scale::image::Image> {
    let font = fs.get_font(g.font_id, g.font_weight)?;
    let mut scaler = ctx
        .builder(font.as_swash())
        .size(g.font_size)
        .hint(false)
        .build();
    Render::new(&[
        Source::ColorOutline(0),
        Source::ColorBitmap(StrikeWith::BestFit),
        Source::Outline,
    ])
    .format(Format::Alpha)
    .offset(offset)
    .render(&mut scaler, g.glyph_id)
}

/// Straight-alpha RGBA from swash into premultiplied.
fn premultiplied(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    crate::image_io::premultiply(&mut v);
    v
}

fn raster_glyph(
    fs: &mut FontSystem,
    ctx: &mut ScaleContext,
    g: &LayoutGlyph,
    left: f64,
    baseline: f64,
) -> Option<PlacedGlyph> {
    if g.glyph_id == 0 {
        return None;
    }
    let x = left + g.x as f64 + (g.x_offset * g.font_size) as f64;
    let y = baseline - (g.y_offset * g.font_size) as f64 + g.y as f64;
    let (ix, iy) = (x.floor(), y.floor());
    let img = swash_image(fs, ctx, g, Vector::new((x - ix) as f32, (y - iy) as f32))?;
    let p = img.placement;
    if p.width == 0 || p.height == 0 {
        return None;
    }
    let pixels = match img.content {
        Content::Mask => GlyphPixels::Coverage(img.data),
        Content::Color => GlyphPixels::Rgba(premultiplied(&img.data)),
        Content::SubpixelMask => return None,
    };
    Some(PlacedGlyph {
        x: ix as i64 + p.left as i64,
        y: iy as i64 - p.top as i64,
        w: p.width,
        h: p.height,
        pixels,
    })
}

/// A glyph whose baseline middle sits at (px, py), turned by `angle` radians (clockwise).
fn raster_glyph_rotated(
    fs: &mut FontSystem,
    ctx: &mut ScaleContext,
    g: &LayoutGlyph,
    px: f64,
    py: f64,
    angle: f64,
    color: Rgba,
) -> Option<PlacedGlyph> {
    if g.glyph_id == 0 {
        return None;
    }
    let img = swash_image(fs, ctx, g, Vector::new(0.0, 0.0))?;
    let p = img.placement;
    if p.width == 0 || p.height == 0 {
        return None;
    }
    // The unrotated glyph as a premultiplied pixmap.
    let src_rgba = match img.content {
        Content::Mask => {
            let mut v = Vec::with_capacity(img.data.len() * 4);
            for &c in &img.data {
                let a = crate::composite::div255(c as u32 * color.a as u32) as u32;
                v.extend_from_slice(&[
                    crate::composite::div255(color.r as u32 * a),
                    crate::composite::div255(color.g as u32 * a),
                    crate::composite::div255(color.b as u32 * a),
                    a as u8,
                ]);
            }
            v
        }
        Content::Color => premultiplied(&img.data),
        Content::SubpixelMask => return None,
    };
    let src =
        tiny_skia::Pixmap::from_vec(src_rgba, tiny_skia::IntSize::from_wh(p.width, p.height)?)?;
    // In glyph-image coordinates the pen origin is at (-left, top); the baseline middle is
    // half an advance to its right.
    let ox = -(p.left as f64) + g.w as f64 / 2.0;
    let oy = p.top as f64;
    let (sin, cos) = angle.sin_cos();
    // Bounding box of the rotated image around (px, py).
    let corners = [
        (0.0, 0.0),
        (p.width as f64, 0.0),
        (0.0, p.height as f64),
        (p.width as f64, p.height as f64),
    ];
    let mut minx = f64::INFINITY;
    let mut miny = f64::INFINITY;
    let mut maxx = f64::NEG_INFINITY;
    let mut maxy = f64::NEG_INFINITY;
    for (cx, cy) in corners {
        let (dx, dy) = (cx - ox, cy - oy);
        let (rx, ry) = (px + dx * cos - dy * sin, py + dx * sin + dy * cos);
        minx = minx.min(rx);
        miny = miny.min(ry);
        maxx = maxx.max(rx);
        maxy = maxy.max(ry);
    }
    let (x0, y0) = (minx.floor() - 1.0, miny.floor() - 1.0);
    let w = (maxx.ceil() + 1.0 - x0) as u32;
    let h = (maxy.ceil() + 1.0 - y0) as u32;
    let mut dst = tiny_skia::Pixmap::new(w, h)?;
    let t = tiny_skia::Transform::from_translate((px - x0) as f32, (py - y0) as f32)
        .pre_rotate(angle.to_degrees() as f32)
        .pre_translate(-ox as f32, -oy as f32);
    let paint = tiny_skia::PixmapPaint {
        quality: tiny_skia::FilterQuality::Bicubic,
        ..Default::default()
    };
    dst.draw_pixmap(0, 0, src.as_ref(), &paint, t, None);
    Some(PlacedGlyph {
        x: x0 as i64,
        y: y0 as i64,
        w,
        h,
        pixels: GlyphPixels::Rgba(dst.take()),
    })
}

/// Paints a laid-out text onto the canvas.
pub fn draw(t: &mut crate::composite::Target, text: &LaidText) {
    for g in &text.glyphs {
        match &g.pixels {
            GlyphPixels::Coverage(c) => {
                crate::composite::over_coverage(t, c, g.w, g.h, g.x, g.y, text.color)
            }
            GlyphPixels::Rgba(p) => crate::composite::over_rgba(t, p, g.w, g.h, g.x, g.y, 255),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::emoji_spans;

    #[test]
    fn emoji_clusters_are_split_from_text() {
        assert_eq!(
            emoji_spans("Love ❤️ you"),
            vec![("Love ", false), ("❤️", true), (" you", false)]
        );
        assert_eq!(emoji_spans("👨‍👩‍👧‍👦🐶"), vec![("👨‍👩‍👧‍👦🐶", true)]);
        assert_eq!(
            emoji_spans("No emoji: ❤ © 1"),
            vec![("No emoji: ❤ © 1", false)]
        );
        assert_eq!(emoji_spans(""), vec![]);
    }
}
