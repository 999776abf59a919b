//! The render pipeline: resolve the layer stack for the values, prepare every layer in parallel
//! (decode, fit, resample, mask, shape), then composite bottom to top.
//!
//! One renderer, any scale: print files render at scale 1 (the print area's pixels), previews
//! and mockups at a lower scale of the same layout, so what the merchant sees is what prints.

use crate::{
    Input, RENDERER_VERSION, RenderError, RenderRecord, Rendered, Renderer, Scale, Template,
    composite, draw::draw, preflight::Preflight, preflight::Severity, prepare::PrepareCtx,
    prepare::Prepared,
};
use rayon::prelude::*;
use resvg::tiny_skia;
use serde_json::json;
use std::{collections::BTreeMap, collections::BTreeSet};
use template::{FieldIssueKind, FieldKind, check_values};

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
        refused_svg_images(t, &layers, &mut preflight);
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
}

/// Images an SVG layer (or an SVG photo mask) reached for that the sandbox refused: the SVG
/// draws without them, so the designer must hear of it (Inkscape links images by absolute path).
fn refused_svg_images(t: &Template, layers: &[&template::Layer], preflight: &mut Preflight) {
    for l in layers {
        let file = match &l.kind {
            template::LayerKind::Svg { file } => file,
            template::LayerKind::Photo(template::PhotoSlot {
                mask: Some(template::Mask::Svg { file }),
                ..
            }) => file,
            _ => continue,
        };
        for (href, why) in t.svg_refused.get(file).into_iter().flatten() {
            preflight.push(
                Severity::Warning,
                "svg_image_refused",
                Some(&l.id),
                None,
                format!("{file}: the image `{href}` was left out: {why}"),
                json!({ "file": file, "href": href, "reason": why }),
            );
        }
    }
}
