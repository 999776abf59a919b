//! The render pipeline: resolve the layer stack for the values, prepare every layer in parallel
//! (decode, fit, resample, mask, shape), then composite bottom to top.
//!
//! One renderer, any scale: print files render at scale 1 (the print area's pixels), previews
//! and mockups at a lower scale of the same layout, so what the merchant sees is what prints.

use crate::composite::{self, Target};
use crate::digest::sha256_hex;
use crate::image_io::{self, Decoded, Pixels};
use crate::preflight::{Preflight, Severity};
use crate::text::{self, LaidText, TextJob};
use crate::{RENDERER_VERSION, RenderError, Renderer, svg};
use fast_image_resize as fr;
use rayon::prelude::*;
use resvg::tiny_skia;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use template::{
    ColorSpec, FieldIssueKind, FieldKind, Fit, LayerKind, Manifest, Mask, Placement, Rect, Rgba,
    Values, check_values,
};

/// A loaded template: its manifest, parsed SVGs and raw asset bytes.
pub struct Template {
    dir: PathBuf,
    manifest: Manifest,
    manifest_sha256: String,
    /// Relative file -> bytes, for every asset the manifest names.
    files: BTreeMap<String, Arc<Vec<u8>>>,
    /// Relative file -> parsed SVG.
    svgs: BTreeMap<String, Arc<usvg::Tree>>,
    /// Relative file -> SHA-256, computed once, off the critical path.
    hashes: OnceLock<BTreeMap<String, String>>,
}

impl Template {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest_sha256(&self) -> &str {
        &self.manifest_sha256
    }

    /// SHA-256 of every asset file.
    pub fn asset_hashes(&self) -> &BTreeMap<String, String> {
        self.hashes.get_or_init(|| {
            self.files
                .par_iter()
                .map(|(k, v)| (k.clone(), sha256_hex(v)))
                .collect()
        })
    }

    fn asset_err(&self, file: &str, reason: impl Into<String>) -> RenderError {
        RenderError::Asset {
            template: self.manifest.id.clone(),
            file: file.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn load(r: &Renderer, dir: &Path) -> Result<Template, RenderError> {
        let manifest_path = dir.join("template.toml");
        let display = manifest_path.display().to_string();
        let text = std::fs::read(&manifest_path).map_err(|e| {
            RenderError::Manifest(template::ManifestError {
                file: display.clone(),
                location: String::new(),
                message: e.to_string(),
            })
        })?;
        let text = String::from_utf8(text).map_err(|e| {
            RenderError::Manifest(template::ManifestError {
                file: display.clone(),
                location: format!("byte {}", e.utf8_error().valid_up_to()),
                message: "the manifest is not valid UTF-8".to_string(),
            })
        })?;
        let manifest = Manifest::parse(&text, &display)?;
        let mut t = Template {
            dir: dir.to_path_buf(),
            manifest_sha256: sha256_hex(text.as_bytes()),
            manifest,
            files: BTreeMap::new(),
            svgs: BTreeMap::new(),
            hashes: OnceLock::new(),
        };
        for l in &t.manifest.layers {
            if let LayerKind::Text(slot) = &l.kind
                && !r.fonts.has_family(&slot.font)
            {
                return Err(RenderError::Manifest(template::ManifestError {
                    file: display.clone(),
                    location: format!("layer `{}`.font", l.id),
                    message: format!(
                        "font family `{}` is not in the font folder {}",
                        slot.font,
                        r.fonts.dir().display()
                    ),
                }));
            }
        }
        let root = dir
            .canonicalize()
            .map_err(|e| t.asset_err(".", e.to_string()))?;
        let files: Vec<String> = t
            .manifest
            .asset_files()
            .into_iter()
            .map(str::to_string)
            .collect();
        for file in files {
            let path = dir.join(&file);
            let canonical = path
                .canonicalize()
                .map_err(|e| t.asset_err(&file, e.to_string()))?;
            if !canonical.starts_with(&root) {
                return Err(t.asset_err(&file, "points outside the template folder"));
            }
            let len = std::fs::metadata(&canonical)
                .map_err(|e| t.asset_err(&file, e.to_string()))?
                .len();
            let is_svg = file.to_ascii_lowercase().ends_with(".svg");
            let limit = if is_svg {
                r.limits.max_svg_bytes
            } else {
                r.limits.max_bytes
            };
            if len > limit {
                return Err(t.asset_err(&file, format!("{len} bytes; the limit is {limit}")));
            }
            let bytes = std::fs::read(&canonical).map_err(|e| t.asset_err(&file, e.to_string()))?;
            if is_svg {
                let tree = svg::parse(&bytes, dir, &r.fonts, &r.limits)
                    .map_err(|e| t.asset_err(&file, e))?;
                t.svgs.insert(file.clone(), Arc::new(tree));
            } else {
                image_io::probe(&bytes, &r.limits).map_err(|e| t.asset_err(&file, e))?;
            }
            t.files.insert(file, Arc::new(bytes));
        }
        // Slots placed by SVG element id: check the ids exist now, not at the first order.
        for l in &t.manifest.layers {
            if let Placement::SvgElement { layer, element } = &l.placement {
                let tree = t
                    .svg_of_layer(layer)
                    .ok_or_else(|| t.asset_err(layer, "not an SVG layer"))?;
                if svg::element_box(tree, element).is_none() {
                    let file = svg_file(&t.manifest, layer).unwrap_or_default();
                    return Err(t.asset_err(
                        &file,
                        format!(
                            "has no element with id `{element}` (used by layer `{}`)",
                            l.id
                        ),
                    ));
                }
            }
        }
        Ok(t)
    }

    fn svg_of_layer(&self, layer_id: &str) -> Option<&usvg::Tree> {
        svg_file(&self.manifest, layer_id)
            .and_then(|f| self.svgs.get(&f))
            .map(|t| t.as_ref())
    }

    /// A layer's box in print pixels (scale 1).
    fn layer_rect(&self, l: &template::Layer) -> Rect {
        let pa = &self.manifest.print_area;
        let (cw, ch) = pa.canvas_px();
        match &l.placement {
            Placement::Canvas => Rect::new(0.0, 0.0, cw as f64, ch as f64),
            Placement::Box(b) => Rect::new(pa.px(b.x), pa.px(b.y), pa.px(b.w), pa.px(b.h)),
            Placement::SvgElement { layer, element } => {
                let svg_layer = self.manifest.layer(layer).expect("checked at load");
                let outer = self.layer_rect(svg_layer);
                let tree = self.svg_of_layer(layer).expect("checked at load");
                let (ex, ey, ew, eh) = svg::element_box(tree, element).expect("checked at load");
                let size = tree.size();
                let sx = outer.w / size.width() as f64;
                let sy = outer.h / size.height() as f64;
                Rect::new(outer.x + ex * sx, outer.y + ey * sy, ew * sx, eh * sy)
            }
        }
    }
}

fn svg_file(m: &Manifest, layer_id: &str) -> Option<String> {
    match &m.layer(layer_id)?.kind {
        LayerKind::Svg { file } => Some(file.clone()),
        _ => None,
    }
}

/// What goes into a render besides the template.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// Field id -> value. For photo fields, the value is the photo's reference (a file name or
    /// object key) and its bytes are in `photos`.
    pub values: Values,
    /// Photo field id -> image bytes.
    pub photos: BTreeMap<String, Arc<Vec<u8>>>,
}

/// The output scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// The print area at its DPI.
    Print,
    /// The same layout scaled to this width in pixels.
    Width(u32),
    /// The same layout at this DPI (tests render at a low DPI).
    Dpi(f64),
}

/// What went into a render and what came out: enough to reproduce it and to prove it.
#[derive(Debug, Clone, Serialize)]
pub struct RenderRecord {
    pub renderer_version: &'static str,
    pub template_id: String,
    pub template_version: String,
    pub manifest_sha256: String,
    /// Template file -> SHA-256.
    pub assets: BTreeMap<String, String>,
    /// Font file -> SHA-256, for the fonts the text used.
    pub fonts: BTreeMap<String, String>,
    /// Photo field -> SHA-256 of the photo bytes.
    pub photos: BTreeMap<String, String>,
    /// The values rendered (after defaults).
    pub fields: Values,
    pub width: u32,
    pub height: u32,
    pub dpi: f64,
    /// Output name ("print", "preview", "mockup") -> what was written.
    pub outputs: BTreeMap<String, crate::OutputInfo>,
}

/// A finished canvas with its report and record.
pub struct Rendered {
    pub canvas: tiny_skia::Pixmap,
    pub preflight: Preflight,
    pub record: RenderRecord,
}

/// A layer ready to composite.
enum Prepared {
    Skip,
    /// Premultiplied RGBA at (x, y).
    Image {
        rgba: Arc<Vec<u8>>,
        w: u32,
        h: u32,
        x: i64,
        y: i64,
        opacity: u8,
    },
    /// Opaque RGB under an optional coverage mask at (x, y).
    Photo {
        rgb: Arc<Vec<u8>>,
        mask: Option<Vec<u8>>,
        w: u32,
        h: u32,
        x: i64,
        y: i64,
        opacity: u8,
    },
    Svg {
        tree: Arc<usvg::Tree>,
        /// The file, for errors.
        file: String,
        rect: Rect,
        opacity: u8,
    },
    Fill {
        color: Rgba,
        rect: Rect,
        radius: f64,
    },
    Text(Box<LaidText>),
    /// Decoded straight onto the canvas during preparation (the bottom layer, cold).
    Streamed,
}

struct LayerOutcome {
    prepared: Prepared,
    preflight: Preflight,
    fonts: BTreeSet<cosmic_text::fontdb::ID>,
    photo: Option<(String, String)>,
}

impl LayerOutcome {
    fn just(prepared: Prepared) -> Self {
        LayerOutcome {
            prepared,
            preflight: Preflight::default(),
            fonts: BTreeSet::new(),
            photo: None,
        }
    }
}

fn opacity_u8(o: f32) -> u8 {
    (o.clamp(0.0, 1.0) * 255.0).round() as u8
}

fn px_rect(r: &Rect) -> (i64, i64, u32, u32) {
    let x0 = r.x.round();
    let y0 = r.y.round();
    let w = (r.right().round() - x0).max(1.0);
    let h = (r.bottom().round() - y0).max(1.0);
    (x0 as i64, y0 as i64, w as u32, h as u32)
}

impl Renderer {
    /// Renders a template with the given input at a scale. `should_stop` is polled between
    /// stages; when it returns true the render ends with [`RenderError::Stopped`].
    pub fn render(
        &self,
        t: &Template,
        input: &Input,
        scale: Scale,
        should_stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<Rendered, RenderError> {
        let m = &t.manifest;
        let pa = &m.print_area;
        let (cw, ch) = pa.canvas_px();
        let s = match scale {
            Scale::Print => 1.0,
            Scale::Width(w) => w as f64 / cw as f64,
            Scale::Dpi(d) => d / pa.dpi as f64,
        };
        if !(s.is_finite() && s > 0.0 && s <= 4.0) {
            return Err(RenderError::Size(format!("scale {s} is outside (0, 4]")));
        }
        let (w, h) = (
            ((cw as f64) * s).round().max(1.0) as u32,
            ((ch as f64) * s).round().max(1.0) as u32,
        );
        if w as u64 * h as u64 > 400_000_000 {
            return Err(RenderError::Size(format!(
                "{w} x {h} is over 400 megapixels"
            )));
        }

        let (values, issues) = check_values(m, &input.values);
        let mut preflight = Preflight::default();
        for i in &issues {
            let label = m
                .field(&i.field)
                .map_or(i.field.as_str(), |f| f.label.as_str());
            let (sev, code, msg, details) = match &i.kind {
                FieldIssueKind::RequiredMissing => (
                    Severity::Error,
                    "required_missing",
                    format!("{label} is required but empty"),
                    json!(null),
                ),
                FieldIssueKind::TooLong { length, max_length } => (
                    Severity::Error,
                    "too_long",
                    format!("{label} has {length} characters; at most {max_length} fit the design"),
                    json!({ "length": length, "max_length": max_length }),
                ),
                FieldIssueKind::NotAllowed { value, allowed } => (
                    Severity::Error,
                    "not_allowed",
                    format!("{label}: `{value}` is not one of {}", allowed.join(", ")),
                    json!({ "value": value, "allowed": allowed }),
                ),
                FieldIssueKind::UnknownField => (
                    Severity::Warning,
                    "unknown_field",
                    format!(
                        "`{}` is not a field of this template and was ignored",
                        i.field
                    ),
                    json!(null),
                ),
            };
            preflight.push(sev, code, None, Some(&i.field), msg, details);
        }
        for (k, v) in &values {
            let chars = v.chars().count();
            if m.field(k).is_some_and(|f| f.kind != FieldKind::Photo)
                && chars > self.limits.max_text_chars
            {
                return Err(RenderError::Value {
                    field: k.clone(),
                    reason: format!(
                        "{chars} characters; the renderer accepts at most {}",
                        self.limits.max_text_chars
                    ),
                });
            }
        }
        if should_stop() {
            return Err(RenderError::Stopped);
        }

        let mut canvas =
            tiny_skia::Pixmap::new(w, h).ok_or_else(|| RenderError::Size(format!("{w} x {h}")))?;
        if let Some(bg) = pa.background {
            composite::fill(canvas.data_mut(), bg);
        }

        let layers: Vec<&template::Layer> = m
            .layers
            .iter()
            .filter(|l| l.show_when.as_ref().is_none_or(|c| c.holds(&values)))
            .collect();
        let stream_first = pa.background.is_none()
            && layers
                .first()
                .is_some_and(|l| self.can_stream(t, l, s, w, h));

        let ctx = PrepareCtx {
            r: self,
            t,
            values: &values,
            input,
            s,
            canvas: (w, h),
            should_stop,
        };
        let start = usize::from(stream_first);
        let (streamed, (outcomes, _hashes)) = rayon::join(
            || {
                if stream_first {
                    self.stream_png(t, layers[0], canvas.data_mut()).map(Some)
                } else {
                    Ok(None)
                }
            },
            || {
                rayon::join(
                    || {
                        layers[start..]
                            .par_iter()
                            .map(|l| ctx.prepare(l))
                            .collect::<Vec<_>>()
                    },
                    || t.asset_hashes(),
                )
            },
        );
        streamed?;
        if should_stop() {
            return Err(RenderError::Stopped);
        }

        let mut fonts_used = BTreeSet::new();
        let mut photos = BTreeMap::new();
        let mut prepared = Vec::with_capacity(layers.len());
        if stream_first {
            prepared.push(Prepared::Streamed);
        }
        for o in outcomes {
            let o = o?;
            preflight.findings.extend(o.preflight.findings);
            fonts_used.extend(o.fonts);
            if let Some((field, hash)) = o.photo {
                photos.insert(field, hash);
            }
            prepared.push(o.prepared);
        }

        for p in &prepared {
            draw(&mut canvas, p, &m.id)?;
        }
        if should_stop() {
            return Err(RenderError::Stopped);
        }

        let record = RenderRecord {
            renderer_version: RENDERER_VERSION,
            template_id: m.id.clone(),
            template_version: m.version.clone(),
            manifest_sha256: t.manifest_sha256.clone(),
            assets: t.asset_hashes().clone(),
            fonts: self.fonts.hash_faces(fonts_used),
            photos,
            fields: values,
            width: w,
            height: h,
            dpi: pa.dpi as f64 * s,
            outputs: BTreeMap::new(),
        };
        Ok(Rendered {
            canvas,
            preflight,
            record,
        })
    }

    /// The bottom layer can be decoded row by row straight onto a fresh canvas when it is a
    /// non-interlaced PNG at exactly the canvas size, untouched, and nothing is cached.
    fn can_stream(&self, t: &Template, l: &template::Layer, s: f64, w: u32, h: u32) -> bool {
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

    fn stream_png(
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

    /// A template image decoded at its own size (cached when the renderer caches).
    fn decoded_asset(&self, t: &Template, file: &str) -> Result<Arc<Decoded>, RenderError> {
        let key = (t.dir.display().to_string(), file.to_string());
        if let Some(c) = &self.cache
            && let Some(d) = c
                .decoded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
        {
            return Ok(d.clone());
        }
        let bytes = t
            .files
            .get(file)
            .ok_or_else(|| t.asset_err(file, "not loaded"))?;
        let d = Arc::new(image_io::decode(bytes, &self.limits).map_err(|e| t.asset_err(file, e))?);
        if let Some(c) = &self.cache {
            c.decoded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, d.clone());
        }
        Ok(d)
    }

    /// The visible part of a template image fitted to a `w` x `h` box, as premultiplied RGBA
    /// (cached when caching). None when nothing of it is visible.
    fn fitted_asset(
        &self,
        t: &Template,
        file: &str,
        fit: Fit,
        (w, h): (u32, u32),
        vis: Placed,
    ) -> Result<Option<crate::Fitted>, RenderError> {
        let key = (
            t.dir.display().to_string(),
            format!("{file}|{fit:?}|{vis:?}"),
            w,
            h,
        );
        if let Some(c) = &self.cache
            && let Some(v) = c.images.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
        {
            return Ok(Some(v.clone()));
        }
        let d = self.decoded_asset(t, file)?;
        let Some((rgba, placed)) =
            fit_image(&d, fit, (w, h), vis, true).map_err(|e| t.asset_err(file, e))?
        else {
            return Ok(None);
        };
        let fitted = (Arc::new(rgba), placed);
        if let Some(c) = &self.cache {
            c.images
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, fitted.clone());
        }
        Ok(Some(fitted))
    }
}

impl Renderer {
    /// A customer photo decoded (cached by content hash when the renderer caches).
    fn decoded_photo(&self, hash: &str, bytes: &[u8]) -> Result<Arc<Decoded>, String> {
        if let Some(c) = &self.cache
            && let Some(d) = c.photos.lock().unwrap_or_else(|e| e.into_inner()).get(hash)
        {
            return Ok(d.clone());
        }
        let d = Arc::new(image_io::decode(bytes, &self.limits)?);
        if let Some(c) = &self.cache {
            let mut photos = c.photos.lock().unwrap_or_else(|e| e.into_inner());
            // A decoded 12 MP photo is 36 MB: keep only the last few.
            if photos.len() >= crate::PHOTO_CACHE_ENTRIES {
                photos.clear();
            }
            photos.insert(hash.to_string(), d.clone());
        }
        Ok(d)
    }

    /// A photo fitted to a box (cached by content hash, fit and size when caching).
    fn fitted_photo(
        &self,
        hash: &str,
        d: &Decoded,
        fit: Fit,
        (w, h): (u32, u32),
        vis: Placed,
        as_rgba: bool,
    ) -> Result<Option<crate::Fitted>, String> {
        let key = (
            format!("photo:{hash}:{as_rgba}"),
            format!("{fit:?}|{vis:?}"),
            w,
            h,
        );
        let cached = self.cache.as_ref().and_then(|c| {
            c.fitted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .cloned()
        });
        if let Some(hit) = cached {
            return Ok(Some(hit));
        }
        let Some((v, placed)) = fit_image(d, fit, (w, h), vis, as_rgba)? else {
            return Ok(None);
        };
        let v = Arc::new(v);
        if let Some(c) = &self.cache {
            let mut fitted = c.fitted.lock().unwrap_or_else(|e| e.into_inner());
            if fitted.len() >= crate::FITTED_CACHE_ENTRIES {
                fitted.clear();
            }
            fitted.insert(key, (v.clone(), placed));
        }
        Ok(Some((v, placed)))
    }
}

struct PrepareCtx<'a> {
    r: &'a Renderer,
    t: &'a Template,
    values: &'a Values,
    input: &'a Input,
    s: f64,
    /// Canvas size in pixels at this scale.
    canvas: (u32, u32),
    should_stop: &'a (dyn Fn() -> bool + Sync),
}

impl PrepareCtx<'_> {
    fn prepare(&self, l: &template::Layer) -> Result<LayerOutcome, RenderError> {
        if (self.should_stop)() {
            return Err(RenderError::Stopped);
        }
        let t = self.t;
        let pa = &t.manifest.print_area;
        let print_rect = t.layer_rect(l);
        let rect = print_rect.scale(self.s);
        let opacity = opacity_u8(l.opacity);
        let recolor = l.recolor.as_ref().and_then(|c| c.resolve(self.values));
        match &l.kind {
            LayerKind::Raster { file, fit } => {
                let (x, y, w, h) = px_rect(&rect);
                let Some(vis) = self.visible(x, y, w, h) else {
                    return Ok(LayerOutcome::just(Prepared::Skip));
                };
                let Some((rgba, placed)) = self.r.fitted_asset(t, file, *fit, (w, h), vis)? else {
                    return Ok(LayerOutcome::just(Prepared::Skip));
                };
                let rgba = match recolor {
                    Some(c) => {
                        let mut v = rgba.as_ref().clone();
                        composite::recolor(&mut v, c);
                        Arc::new(v)
                    }
                    None => rgba,
                };
                Ok(LayerOutcome::just(Prepared::Image {
                    rgba,
                    w: placed.w,
                    h: placed.h,
                    x: x + placed.x,
                    y: y + placed.y,
                    opacity,
                }))
            }
            LayerKind::Svg { file } => {
                let tree = t
                    .svgs
                    .get(file)
                    .cloned()
                    .ok_or_else(|| t.asset_err(file, "not loaded"))?;
                if recolor.is_none() {
                    return Ok(LayerOutcome::just(Prepared::Svg {
                        tree,
                        file: file.clone(),
                        rect,
                        opacity,
                    }));
                }
                let (x, y, w, h) = px_rect(&rect);
                let mut pm = tiny_skia::Pixmap::new(w, h)
                    .ok_or_else(|| RenderError::Size(format!("{w} x {h}")))?;
                let tr = svg::fit_transform(&tree, 0.0, 0.0, w as f64, h as f64);
                svg::draw(&tree, tr, &mut pm.as_mut()).map_err(|e| t.asset_err(file, e))?;
                let mut v = pm.take();
                composite::recolor(&mut v, recolor.expect("checked"));
                Ok(LayerOutcome::just(Prepared::Image {
                    rgba: Arc::new(v),
                    w,
                    h,
                    x,
                    y,
                    opacity,
                }))
            }
            LayerKind::Fill { color, radius } => match color.resolve(self.values) {
                Some(c) => Ok(LayerOutcome::just(Prepared::Fill {
                    color: c,
                    rect,
                    radius: pa.px(*radius) * self.s,
                })),
                None => Ok(LayerOutcome::just(Prepared::Skip)),
            },
            LayerKind::Photo(slot) => self.prepare_photo(l, slot, &print_rect, &rect, opacity),
            LayerKind::Text(slot) => {
                let raw = slot.text(self.values);
                let content = slot.case.apply(&raw);
                if content.trim().is_empty() {
                    return Ok(LayerOutcome::just(Prepared::Skip));
                }
                let color = color_of(&slot.color, self.values);
                let laid = text::render(
                    &self.r.fonts,
                    &TextJob {
                        text: &content,
                        slot,
                        rect,
                        px_per_pt: pa.dpi as f64 / 72.0 * self.s,
                        px_per_unit: pa.px_per_unit() * self.s,
                        color,
                    },
                );
                let mut pf = Preflight::default();
                let field = slot.fields().next();
                let nominal = slot.size_pt * pa.dpi as f64 / 72.0 * self.s;
                let used_pt = laid.size_px / (pa.dpi as f64 / 72.0 * self.s);
                if laid.overflows {
                    pf.push(
                        Severity::Error,
                        "text_overflow",
                        Some(&l.id),
                        field,
                        format!("\"{content}\" does not fit its box even at the minimum size of {:.1} pt", slot.min_size_pt),
                        json!({ "text": content, "size_pt": used_pt, "min_size_pt": slot.min_size_pt }),
                    );
                } else if laid.size_px < nominal * 0.999 {
                    pf.push(
                        Severity::Warning,
                        "text_shrunk",
                        Some(&l.id),
                        field,
                        format!("\"{content}\" was shrunk from {:.1} pt to {:.1} pt to fit", slot.size_pt, used_pt),
                        json!({ "text": content, "size_pt": used_pt, "nominal_size_pt": slot.size_pt }),
                    );
                }
                if !laid.missing.is_empty() {
                    let chars: String = laid.missing.iter().collect();
                    let codes: Vec<String> = laid
                        .missing
                        .iter()
                        .map(|c| format!("U+{:04X}", *c as u32))
                        .collect();
                    pf.push(
                        Severity::Error,
                        "missing_glyphs",
                        Some(&l.id),
                        field,
                        format!(
                            "no font has {} ({}); they would print as boxes",
                            chars,
                            codes.join(" ")
                        ),
                        json!({ "characters": chars, "codepoints": codes }),
                    );
                }
                if let Some(ink) = laid.ink {
                    self.check_area(&mut pf, l, field, &ink.scale(1.0 / self.s), true);
                }
                let fonts = laid.fonts_used.clone();
                Ok(LayerOutcome {
                    prepared: Prepared::Text(Box::new(laid)),
                    preflight: pf,
                    fonts,
                    photo: None,
                })
            }
        }
    }

    /// Content in the bleed is cut off; content outside the safe area may be.
    fn check_area(
        &self,
        pf: &mut Preflight,
        l: &template::Layer,
        field: Option<&str>,
        ink: &Rect,
        is_text: bool,
    ) {
        let pa = &self.t.manifest.print_area;
        let trim = pa.trim_px();
        let safe = pa.safe_px();
        let what = if is_text { "text" } else { "photo" };
        if pa.bleed > 0.0 && !trim.contains(ink) {
            let (sev, code) = if is_text {
                (Severity::Error, "text_in_bleed")
            } else {
                (Severity::Warning, "photo_in_bleed")
            };
            pf.push(
                sev,
                code,
                Some(&l.id),
                field,
                format!("the {what} reaches into the bleed and will be cut off"),
                json!(null),
            );
        } else if pa.safe_margin > 0.0 && !safe.contains(ink) {
            pf.push(
                Severity::Warning,
                "outside_safe_area",
                Some(&l.id),
                field,
                format!("the {what} reaches outside the safe area and may be trimmed"),
                json!(null),
            );
        }
    }

    fn prepare_photo(
        &self,
        l: &template::Layer,
        slot: &template::PhotoSlot,
        print_rect: &Rect,
        rect: &Rect,
        opacity: u8,
    ) -> Result<LayerOutcome, RenderError> {
        let field = slot.field.as_str();
        let Some(bytes) = self.input.photos.get(field) else {
            if self.values.contains_key(field) {
                return Err(RenderError::Photo {
                    field: field.to_string(),
                    reason: "the photo's bytes were not provided".to_string(),
                });
            }
            return Ok(LayerOutcome::just(Prepared::Skip)); // empty; required_missing reports it
        };
        let photo_err = |reason: String| RenderError::Photo {
            field: field.to_string(),
            reason,
        };
        let hash = sha256_hex(bytes);
        let decoded = self.r.decoded_photo(&hash, bytes).map_err(photo_err)?;
        let pa = &self.t.manifest.print_area;
        let mut pf = Preflight::default();

        // Effective DPI: source pixels per printed inch, at print scale whatever this render's scale.
        let (iw, ih) = (decoded.width as f64, decoded.height as f64);
        let box_in_w = print_rect.w / pa.dpi as f64;
        let box_in_h = print_rect.h / pa.dpi as f64;
        let eff = match slot.fit {
            Fit::Cover => (iw / box_in_w).min(ih / box_in_h),
            Fit::Contain => (iw / box_in_w).max(ih / box_in_h),
            Fit::Stretch => (iw / box_in_w).min(ih / box_in_h),
        };
        let details = json!({ "effective_dpi": eff.round(), "min_dpi": slot.min_dpi, "warn_dpi": slot.warn_dpi,
                               "photo_px": [decoded.width, decoded.height], "printed_in": [box_in_w, box_in_h] });
        if eff < slot.min_dpi {
            pf.push(
                Severity::Error,
                "photo_low_dpi",
                Some(&l.id),
                Some(field),
                format!("the photo prints at {eff:.0} DPI, below the minimum of {:.0}: it would look blurry", slot.min_dpi),
                details,
            );
        } else if eff < slot.warn_dpi {
            pf.push(
                Severity::Warning,
                "photo_soft",
                Some(&l.id),
                Some(field),
                format!(
                    "the photo prints at {eff:.0} DPI; {:.0} or more looks sharp",
                    slot.warn_dpi
                ),
                details,
            );
        }
        self.check_area(&mut pf, l, Some(field), print_rect, false);

        // Only the part of the box on the canvas is resampled and masked: a box far larger
        // than the canvas costs no more than the canvas.
        let (x, y, w, h) = px_rect(rect);
        let skip = |pf| {
            Ok(LayerOutcome {
                prepared: Prepared::Skip,
                preflight: pf,
                fonts: BTreeSet::new(),
                photo: None,
            })
        };
        let Some(vis) = self.visible(x, y, w, h) else {
            return skip(pf);
        };
        let mask = match &slot.mask {
            None => None,
            Some(m) => Some(self.mask(m, (w, h), vis)?),
        };
        let (vx, vy) = (x + vis.x, y + vis.y);
        let prepared = match (&decoded.pixels, slot.fit) {
            (Pixels::Rgb8(_), Fit::Cover | Fit::Stretch) => {
                let Some((rgb, _)) = self
                    .r
                    .fitted_photo(&hash, &decoded, slot.fit, (w, h), vis, false)
                    .map_err(photo_err)?
                else {
                    return skip(pf);
                };
                Prepared::Photo {
                    rgb,
                    mask,
                    w: vis.w,
                    h: vis.h,
                    x: vx,
                    y: vy,
                    opacity,
                }
            }
            _ => {
                // Transparent photos and contain-fit: a premultiplied image the size of the
                // visible box.
                let Some((fitted, placed)) = self
                    .r
                    .fitted_photo(&hash, &decoded, slot.fit, (w, h), vis, true)
                    .map_err(photo_err)?
                else {
                    return skip(pf);
                };
                let mut boxed = vec![0u8; vis.w as usize * vis.h as usize * 4];
                {
                    let mut bt = Target {
                        data: &mut boxed,
                        width: vis.w,
                        height: vis.h,
                    };
                    composite::over_rgba(
                        &mut bt,
                        &fitted,
                        placed.w,
                        placed.h,
                        placed.x - vis.x,
                        placed.y - vis.y,
                        255,
                    );
                }
                if let Some(m) = &mask {
                    composite::apply_mask(&mut boxed, m);
                }
                Prepared::Image {
                    rgba: Arc::new(boxed),
                    w: vis.w,
                    h: vis.h,
                    x: vx,
                    y: vy,
                    opacity,
                }
            }
        };
        Ok(LayerOutcome {
            prepared,
            preflight: pf,
            fonts: BTreeSet::new(),
            photo: Some((field.to_string(), hash)),
        })
    }

    /// The part of a `w` x `h` box at (x, y) that lies on the canvas, relative to the box.
    fn visible(&self, x: i64, y: i64, w: u32, h: u32) -> Option<Placed> {
        let (cw, ch) = self.canvas;
        let x0 = x.max(0);
        let y0 = y.max(0);
        let x1 = (x + w as i64).min(cw as i64);
        let y1 = (y + h as i64).min(ch as i64);
        (x1 > x0 && y1 > y0).then(|| Placed {
            x: x0 - x,
            y: y0 - y,
            w: (x1 - x0) as u32,
            h: (y1 - y0) as u32,
        })
    }

    /// The visible part `vis` of a coverage mask for a `w` x `h` box.
    fn mask(&self, m: &Mask, (w, h): (u32, u32), vis: Placed) -> Result<Vec<u8>, RenderError> {
        let size_err = || RenderError::Size(format!("mask {w} x {h}"));
        let shift = tiny_skia::Transform::from_translate(-vis.x as f32, -vis.y as f32);
        match m {
            Mask::Circle | Mask::Rounded { .. } => {
                let mut mask = tiny_skia::Mask::new(vis.w, vis.h).ok_or_else(size_err)?;
                let r = tiny_skia::Rect::from_xywh(0.0, 0.0, w as f32, h as f32)
                    .ok_or_else(size_err)?;
                let path = match m {
                    Mask::Circle => tiny_skia::PathBuilder::from_oval(r),
                    Mask::Rounded { radius } => {
                        rounded_rect(r, (self.t.manifest.print_area.px(*radius) * self.s) as f32)
                    }
                    Mask::Svg { .. } => unreachable!(),
                }
                .ok_or_else(size_err)?;
                mask.fill_path(&path, tiny_skia::FillRule::Winding, true, shift);
                Ok(mask.data().to_vec())
            }
            Mask::Svg { file } => {
                let tree = self
                    .t
                    .svgs
                    .get(file)
                    .ok_or_else(|| self.t.asset_err(file, "not loaded"))?;
                let mut pm = tiny_skia::Pixmap::new(vis.w, vis.h).ok_or_else(size_err)?;
                let tr =
                    svg::fit_transform(tree, -(vis.x as f64), -(vis.y as f64), w as f64, h as f64);
                svg::draw(tree, tr, &mut pm.as_mut()).map_err(|e| self.t.asset_err(file, e))?;
                Ok(pm.data().chunks_exact(4).map(|p| p[3]).collect())
            }
        }
    }
}

fn color_of(c: &ColorSpec, values: &Values) -> Rgba {
    c.resolve(values).unwrap_or(Rgba::BLACK)
}

/// A rounded rectangle path (tiny-skia has none built in).
fn rounded_rect(r: tiny_skia::Rect, radius: f32) -> Option<tiny_skia::Path> {
    let rad = radius.min(r.width() / 2.0).min(r.height() / 2.0).max(0.0);
    if rad <= 0.0 {
        return Some(tiny_skia::PathBuilder::from_rect(r));
    }
    // Cubic approximation of a quarter circle.
    let k = rad * 0.552_284_8;
    let (l, t, rt, b) = (r.left(), r.top(), r.right(), r.bottom());
    let mut pb = tiny_skia::PathBuilder::new();
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

/// Where a fitted image sits inside its box.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placed {
    x: i64,
    y: i64,
    w: u32,
    h: u32,
}

/// Resamples an image fitted to a `w` x `h` box with Lanczos3, producing only the visible
/// part `vis` of the box. Returns the pixels and where they sit in the box, or None when the
/// image does not reach the visible part. `as_rgba` asks for premultiplied RGBA even from an
/// opaque source; otherwise opaque sources stay RGB.
fn fit_image(
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
    Ok(Some((
        dst.into_vec(),
        Placed {
            x: x0,
            y: y0,
            w: out_w,
            h: out_h,
        },
    )))
}

/// The whole canvas as a compositing target.
fn target(canvas: &mut tiny_skia::Pixmap) -> Target<'_> {
    let (width, height) = (canvas.width(), canvas.height());
    Target {
        data: canvas.data_mut(),
        width,
        height,
    }
}

fn draw(
    canvas: &mut tiny_skia::Pixmap,
    p: &Prepared,
    template_id: &str,
) -> Result<(), RenderError> {
    match p {
        Prepared::Skip | Prepared::Streamed => {}
        Prepared::Image {
            rgba,
            w: iw,
            h: ih,
            x,
            y,
            opacity,
        } => {
            let mut t = target(canvas);
            composite::over_rgba(&mut t, rgba, *iw, *ih, *x, *y, *opacity);
        }
        Prepared::Photo {
            rgb,
            mask,
            w: iw,
            h: ih,
            x,
            y,
            opacity,
        } => {
            let mut t = target(canvas);
            composite::over_rgb_masked(&mut t, rgb, *iw, *ih, mask.as_deref(), *x, *y, *opacity);
        }
        Prepared::Svg {
            tree,
            file,
            rect,
            opacity,
        } => {
            let err = |reason| RenderError::Asset {
                template: template_id.to_string(),
                file: file.clone(),
                reason,
            };
            let tr = svg::fit_transform(tree, rect.x, rect.y, rect.w, rect.h);
            if *opacity == 255 {
                svg::draw(tree, tr, &mut canvas.as_mut()).map_err(err)?;
            } else {
                let (x, y, lw, lh) = px_rect(rect);
                let mut pm = tiny_skia::Pixmap::new(lw, lh)
                    .ok_or_else(|| RenderError::Size(format!("{lw} x {lh}")))?;
                let tr =
                    svg::fit_transform(tree, rect.x - x as f64, rect.y - y as f64, rect.w, rect.h);
                svg::draw(tree, tr, &mut pm.as_mut()).map_err(err)?;
                let mut t = target(canvas);
                composite::over_rgba(&mut t, pm.data(), lw, lh, x, y, *opacity);
            }
        }
        Prepared::Fill {
            color,
            rect,
            radius,
        } => {
            let Some(r) = tiny_skia::Rect::from_xywh(
                rect.x as f32,
                rect.y as f32,
                rect.w as f32,
                rect.h as f32,
            ) else {
                return Ok(());
            };
            if let Some(path) = rounded_rect(r, *radius as f32) {
                let mut paint = tiny_skia::Paint::default();
                paint.set_color_rgba8(color.r, color.g, color.b, color.a);
                paint.anti_alias = true;
                canvas.fill_path(
                    &path,
                    &paint,
                    tiny_skia::FillRule::Winding,
                    tiny_skia::Transform::identity(),
                    None,
                );
            }
        }
        Prepared::Text(laid) => {
            let mut t = target(canvas);
            text::draw(&mut t, laid);
        }
    }
    Ok(())
}
