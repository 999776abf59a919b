//! Preparing one layer to composite: template images fitted, SVGs recoloured, photos decoded,
//! fitted and masked, text shaped; each with its preflight findings.

use crate::{
    Input, RenderError, Renderer, Template, composite, composite::Target, digest::sha256_hex,
    image_fit::Placed, image_io::Pixels, preflight::Preflight, preflight::Severity, svg, text,
    text::LaidText, text::TextJob,
};
use resvg::tiny_skia;
use serde_json::json;
use std::{collections::BTreeSet, sync::Arc};
use template::{ColorSpec, Fit, LayerKind, Mask, Rect, Rgba, Values};

/// A layer ready to composite.
pub(crate) enum Prepared {
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

pub(crate) struct LayerOutcome {
    pub(crate) prepared: Prepared,
    pub(crate) preflight: Preflight,
    pub(crate) fonts: BTreeSet<cosmic_text::fontdb::ID>,
    pub(crate) photo: Option<(String, String)>,
}

impl LayerOutcome {
    pub(crate) fn just(prepared: Prepared) -> Self {
        LayerOutcome {
            prepared,
            preflight: Preflight::default(),
            fonts: BTreeSet::new(),
            photo: None,
        }
    }
}

pub(crate) fn opacity_u8(o: f32) -> u8 {
    (o.clamp(0.0, 1.0) * 255.0).round() as u8
}

pub(crate) fn px_rect(r: &Rect) -> (i64, i64, u32, u32) {
    let x0 = r.x.round();
    let y0 = r.y.round();
    let w = (r.right().round() - x0).max(1.0);
    let h = (r.bottom().round() - y0).max(1.0);
    (x0 as i64, y0 as i64, w as u32, h as u32)
}

pub(crate) struct PrepareCtx<'a> {
    pub(crate) r: &'a Renderer,
    pub(crate) t: &'a Template,
    pub(crate) values: &'a Values,
    pub(crate) input: &'a Input,
    pub(crate) s: f64,
    /// Canvas size in pixels at this scale.
    pub(crate) canvas: (u32, u32),
    pub(crate) should_stop: &'a (dyn Fn() -> bool + Sync),
}

impl PrepareCtx<'_> {
    pub(crate) fn prepare(&self, l: &template::Layer) -> Result<LayerOutcome, RenderError> {
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
                    Mask::Rounded { radius } => composite::rounded_rect(
                        r,
                        (self.t.manifest.print_area.px(*radius) * self.s) as f32,
                    ),
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
