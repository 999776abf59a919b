//! One `[[layers]]` entry checked and turned into a [`Layer`]: its placement, its kind's keys,
//! its condition, recolouring and opacity.

use crate::checks::{Fail, check_asset_path, fail, non_negative, parse_text_template, positive};
use crate::raw::{RawColor, RawKind, RawLayer, RawMask};
use crate::{
    Condition, Curve, FieldKind, Fit, Layer, LayerKind, Mask, PhotoSlot, Placement, PrintArea,
    Rect, Rgba, TextPiece, TextSlot,
};

impl RawLayer {
    pub(crate) fn into_layer(
        self,
        loc: &str,
        id: String,
        field_kind: &dyn Fn(&str, &str) -> Result<FieldKind, Fail>,
        check_color: &dyn Fn(&str, &RawColor) -> Result<(), Fail>,
        earlier: &[Layer],
        pa: &PrintArea,
    ) -> Result<Layer, Fail> {
        let kind_name = match self.kind {
            RawKind::Raster => "raster",
            RawKind::Svg => "svg",
            RawKind::Fill => "fill",
            RawKind::Photo => "photo",
            RawKind::Text => "text",
        };
        // Keys that only make sense for some kinds: reject them elsewhere rather than ignore them.
        let only = |key: &str, present: bool, kinds: &[RawKind]| -> Result<(), Fail> {
            if present && !kinds.contains(&self.kind) {
                return fail(
                    format!("{loc}.{key}"),
                    format!("`{key}` does not apply to a {kind_name} layer"),
                );
            }
            Ok(())
        };
        use RawKind::*;
        only("file", self.file.is_some(), &[Raster, Svg])?;
        only("fit", self.fit.is_some(), &[Raster, Photo])?;
        only("field", self.field.is_some(), &[Photo, Text])?;
        only("text", self.text.is_some(), &[Text])?;
        only("mask", self.mask.is_some(), &[Photo])?;
        only("min_dpi", self.min_dpi.is_some(), &[Photo])?;
        only("warn_dpi", self.warn_dpi.is_some(), &[Photo])?;
        for (key, present) in [
            ("font", self.font.is_some()),
            ("weight", self.weight.is_some()),
            ("italic", self.italic.is_some()),
            ("size", self.size.is_some()),
            ("min_size", self.min_size.is_some()),
            ("shrink_to_fit", self.shrink_to_fit.is_some()),
            ("align", self.align.is_some()),
            ("valign", self.valign.is_some()),
            ("case", self.case.is_some()),
            ("curve", self.curve.is_some()),
            ("line_spacing", self.line_spacing.is_some()),
            ("wrap", self.wrap.is_some()),
        ] {
            only(key, present, &[Text])?;
        }
        only("color", self.color.is_some(), &[Text, Fill])?;
        only("radius", self.radius.is_some(), &[Fill])?;

        let placement = match (self.rect, &self.box_from) {
            (Some(_), Some(_)) => return fail(loc, "give either `box` or `box_from`, not both"),
            (Some([x, y, w, h]), None) => {
                positive(&format!("{loc}.box (width)"), w)?;
                positive(&format!("{loc}.box (height)"), h)?;
                if !x.is_finite() || !y.is_finite() {
                    return fail(format!("{loc}.box"), "x and y must be numbers");
                }
                // A unit slip (pixels under `unit = "mm"`) makes a box many canvases wide.
                let (cw, ch) = (pa.width + 2.0 * pa.bleed, pa.height + 2.0 * pa.bleed);
                if w > 4.0 * cw || h > 4.0 * ch {
                    return fail(
                        format!("{loc}.box"),
                        format!(
                            "{w} x {h} is more than 4 times the canvas ({cw} x {ch}); is the unit right?"
                        ),
                    );
                }
                if x >= cw || y >= ch || x + w <= 0.0 || y + h <= 0.0 {
                    return fail(
                        format!("{loc}.box"),
                        format!(
                            "[{x}, {y}, {w}, {h}] lies entirely outside the canvas ({cw} x {ch})"
                        ),
                    );
                }
                Placement::Box(Rect::new(x, y, w, h))
            }
            (None, Some(from)) => {
                let Some((layer, element)) = from.split_once('#') else {
                    return fail(
                        format!("{loc}.box_from"),
                        format!("`{from}` must be `svg_layer_id#element_id`"),
                    );
                };
                match earlier.iter().find(|l| l.id == layer) {
                    Some(Layer {
                        kind: LayerKind::Svg { .. },
                        ..
                    }) => {}
                    Some(_) => {
                        return fail(
                            format!("{loc}.box_from"),
                            format!("layer `{layer}` is not an SVG layer"),
                        );
                    }
                    None => {
                        return fail(
                            format!("{loc}.box_from"),
                            format!("no SVG layer `{layer}` is declared before this layer"),
                        );
                    }
                }
                if element.is_empty() {
                    return fail(
                        format!("{loc}.box_from"),
                        "the element id after `#` is empty",
                    );
                }
                Placement::SvgElement {
                    layer: layer.to_string(),
                    element: element.to_string(),
                }
            }
            (None, None) => match self.kind {
                Photo | Text => {
                    return fail(
                        loc,
                        format!("a {kind_name} layer needs a `box` or a `box_from`"),
                    );
                }
                _ => Placement::Canvas,
            },
        };

        let need_file = |file: Option<String>| -> Result<String, Fail> {
            let file = file.ok_or_else(|| {
                (
                    loc.to_string(),
                    format!("a {kind_name} layer needs a `file`"),
                )
            })?;
            check_asset_path(&format!("{loc}.file"), &file)?;
            Ok(file)
        };

        let kind = match self.kind {
            Raster => LayerKind::Raster {
                file: need_file(self.file)?,
                fit: self.fit.unwrap_or(Fit::Stretch),
            },
            Svg => LayerKind::Svg {
                file: need_file(self.file)?,
            },
            Fill => {
                let color = self
                    .color
                    .ok_or_else(|| (loc.to_string(), "a fill layer needs a `color`".to_string()))?;
                check_color(&format!("{loc}.color"), &color)?;
                LayerKind::Fill {
                    color: color.into(),
                    radius: non_negative(&format!("{loc}.radius"), self.radius.unwrap_or(0.0))?,
                }
            }
            Photo => {
                let field = self.field.ok_or_else(|| {
                    (loc.to_string(), "a photo layer needs a `field`".to_string())
                })?;
                if field_kind(&format!("{loc}.field"), &field)? != FieldKind::Photo {
                    return fail(
                        format!("{loc}.field"),
                        format!("field `{field}` is not a photo field"),
                    );
                }
                let mask = match self.mask {
                    None => None,
                    Some(RawMask::Named(n)) if n == "circle" => Some(Mask::Circle),
                    Some(RawMask::Named(n)) => {
                        return fail(
                            format!("{loc}.mask"),
                            format!(
                                "unknown mask `{n}`; use \"circle\", {{ rounded = R }} or {{ svg = \"file.svg\" }}"
                            ),
                        );
                    }
                    Some(RawMask::Rounded { rounded }) => Some(Mask::Rounded {
                        radius: non_negative(&format!("{loc}.mask.rounded"), rounded)?,
                    }),
                    Some(RawMask::Svg { svg }) => {
                        check_asset_path(&format!("{loc}.mask.svg"), &svg)?;
                        Some(Mask::Svg { file: svg })
                    }
                };
                let min_dpi = positive(&format!("{loc}.min_dpi"), self.min_dpi.unwrap_or(150.0))?;
                let warn_dpi = positive(
                    &format!("{loc}.warn_dpi"),
                    self.warn_dpi.unwrap_or(min_dpi.max(200.0)),
                )?;
                if warn_dpi < min_dpi {
                    return fail(format!("{loc}.warn_dpi"), "must not be below min_dpi");
                }
                LayerKind::Photo(PhotoSlot {
                    field,
                    fit: self.fit.unwrap_or(Fit::Cover),
                    mask,
                    min_dpi,
                    warn_dpi,
                })
            }
            Text => {
                let content = match (self.field, self.text) {
                    (Some(_), Some(_)) => {
                        return fail(loc, "give either `field` or `text`, not both");
                    }
                    (Some(f), None) => vec![TextPiece::Field(f)],
                    (None, Some(t)) => parse_text_template(&format!("{loc}.text"), &t)?,
                    (None, None) => return fail(loc, "a text layer needs a `field` or a `text`"),
                };
                for p in &content {
                    if let TextPiece::Field(f) = p
                        && field_kind(&format!("{loc}.field"), f)? == FieldKind::Photo
                    {
                        return fail(
                            format!("{loc}.field"),
                            format!("field `{f}` is a photo field, not text"),
                        );
                    }
                }
                let size_pt = positive(&format!("{loc}.size"), self.size.unwrap_or(24.0))?;
                if size_pt > 1000.0 {
                    return fail(
                        format!("{loc}.size"),
                        format!("{size_pt} pt is over the limit of 1000 pt"),
                    );
                }
                let min_size_pt =
                    positive(&format!("{loc}.min_size"), self.min_size.unwrap_or(size_pt))?;
                if min_size_pt > size_pt {
                    return fail(format!("{loc}.min_size"), "must not be larger than size");
                }
                let color = self.color.unwrap_or(RawColor::Fixed(Rgba::BLACK));
                check_color(&format!("{loc}.color"), &color)?;
                let curve = match self.curve {
                    None => None,
                    Some(c) => Some(Curve {
                        radius: positive(&format!("{loc}.curve.radius"), c.radius)?,
                        side: c.side,
                    }),
                };
                let weight = self.weight.unwrap_or(400);
                if !(1..=1000).contains(&weight) {
                    return fail(
                        format!("{loc}.weight"),
                        "must be 1..=1000 (400 regular, 700 bold)",
                    );
                }
                let line_spacing = positive(
                    &format!("{loc}.line_spacing"),
                    self.line_spacing.unwrap_or(1.2),
                )?;
                let wrap = self.wrap.unwrap_or(false);
                if wrap && curve.is_some() {
                    return fail(
                        loc,
                        "curved text is one line: `wrap` and `curve` do not go together",
                    );
                }
                LayerKind::Text(TextSlot {
                    content,
                    font: self.font.unwrap_or_else(|| "Noto Sans".to_string()),
                    weight,
                    italic: self.italic.unwrap_or(false),
                    size_pt,
                    min_size_pt,
                    shrink_to_fit: self.shrink_to_fit.unwrap_or(true),
                    color: color.into(),
                    align: self.align.unwrap_or_default(),
                    valign: self.valign.unwrap_or_default(),
                    case: self.case.unwrap_or_default(),
                    curve,
                    line_spacing,
                    wrap,
                })
            }
        };

        let show_when = match self.show_when {
            None => None,
            Some(c) => {
                let cloc = format!("{loc}.show_when");
                field_kind(&format!("{cloc}.field"), &c.field)?;
                match (c.equals, c.one_of, c.filled) {
                    (Some(value), None, None) => Some(Condition::Equals {
                        field: c.field,
                        value,
                    }),
                    (None, Some(values), None) => Some(Condition::In {
                        field: c.field,
                        values,
                    }),
                    (None, None, Some(true)) => Some(Condition::Filled { field: c.field }),
                    _ => {
                        return fail(
                            cloc,
                            "give exactly one of `equals = \"v\"`, `in = [..]` or `filled = true`",
                        );
                    }
                }
            }
        };
        if let Some(r) = &self.recolor {
            only("recolor", true, &[Raster, Svg])?;
            check_color(&format!("{loc}.recolor"), r)?;
        }
        let opacity = self.opacity.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&opacity) {
            return fail(format!("{loc}.opacity"), "must be between 0 and 1");
        }
        Ok(Layer {
            id,
            kind,
            placement,
            show_when,
            recolor: self.recolor.map(Into::into),
            opacity,
        })
    }
}
