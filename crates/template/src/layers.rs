//! One `[[layers]]` entry checked and turned into a [`Layer`]: the keys that apply to its kind,
//! its placement, one function per kind, its condition, recolouring and opacity.

use crate::checks::{Fail, check_asset_path, fail, non_negative, parse_text_template, positive};
use crate::raw::{RawColor, RawKind, RawLayer, RawMask};
use crate::{
    ColorSpec, Condition, Curve, Field, FieldKind, Fit, Layer, LayerKind, Mask, PhotoSlot,
    Placement, PrintArea, Rect, Rgba, TextPiece, TextSlot,
};

/// What a layer's checks need from the rest of the manifest.
pub(crate) struct LayerContext<'a> {
    /// Every declared field.
    pub(crate) fields: &'a [Field],
    /// The layers below this one (a `box_from` may only name one of them).
    pub(crate) earlier: &'a [Layer],
    pub(crate) print_area: &'a PrintArea,
}

impl LayerContext<'_> {
    /// The kind of a declared field; `loc` names the key that refers to it.
    pub(crate) fn field_kind(&self, loc: &str, id: &str) -> Result<FieldKind, Fail> {
        self.field(loc, id).map(|f| f.kind)
    }

    fn field(&self, loc: &str, id: &str) -> Result<&Field, Fail> {
        self.fields.iter().find(|f| f.id == id).ok_or_else(|| {
            (
                loc.to_string(),
                format!("field `{id}` is not declared in [[fields]]"),
            )
        })
    }

    /// A layer's `color` or `recolor` (`key`), checked. A map that follows a choice must give a
    /// colour for every allowed value or a `default`: otherwise the missing choices would print
    /// in the artwork's own colour (or black), with no word.
    fn color(&self, loc: &str, layer: &str, key: &str, c: RawColor) -> Result<ColorSpec, Fail> {
        let loc = format!("{loc}.{key}");
        if let RawColor::ByField {
            field,
            map,
            default,
            ..
        } = &c
        {
            let f = self.field(&format!("{loc}.field"), field)?;
            if map.is_empty() {
                return fail(
                    format!("{loc}.map"),
                    "needs at least one value -> colour pair",
                );
            }
            let missing: Vec<String> = f
                .allowed
                .iter()
                .filter(|v| !map.contains_key(*v))
                .map(|v| format!("`{v}`"))
                .collect();
            if default.is_none() && !missing.is_empty() {
                return fail(
                    format!("{loc}.map"),
                    format!(
                        "layer `{layer}`: `{key}` has no colour for {} of field `{field}` and no `default`; \
                         add {} to the map or give a `default`",
                        missing.join(", "),
                        if missing.len() == 1 { "it" } else { "them" },
                    ),
                );
            }
        }
        Ok(c.into())
    }
}

impl RawKind {
    fn name(self) -> &'static str {
        match self {
            RawKind::Raster => "raster",
            RawKind::Svg => "svg",
            RawKind::Fill => "fill",
            RawKind::Photo => "photo",
            RawKind::Text => "text",
        }
    }
}

impl RawLayer {
    /// Checks the layer at `loc` (`layers[3]`) with its final `id` and builds it.
    pub(crate) fn into_layer(
        self,
        loc: &str,
        id: String,
        cx: &LayerContext,
    ) -> Result<Layer, Fail> {
        self.check_keys_apply(loc)?;
        let placement = self.placement(loc, cx)?;
        let kind = match self.kind {
            RawKind::Raster => self.raster(loc)?,
            RawKind::Svg => self.svg(loc)?,
            RawKind::Fill => self.fill(loc, &id, cx)?,
            RawKind::Photo => self.photo(loc, cx)?,
            RawKind::Text => self.text(loc, &id, cx)?,
        };
        let show_when = self.show_when(loc, cx)?;
        let recolor = match self.recolor.clone() {
            None => None,
            Some(r) => Some(cx.color(loc, &id, "recolor", r)?),
        };
        let opacity = self.opacity.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&opacity) {
            return fail(format!("{loc}.opacity"), "must be between 0 and 1");
        }
        Ok(Layer {
            id,
            kind,
            placement,
            show_when,
            recolor,
            opacity,
        })
    }

    /// Keys that only make sense for some kinds are refused elsewhere rather than ignored.
    fn check_keys_apply(&self, loc: &str) -> Result<(), Fail> {
        use RawKind::*;
        let only = |key: &str, present: bool, kinds: &[RawKind]| -> Result<(), Fail> {
            if present && !kinds.contains(&self.kind) {
                return fail(
                    format!("{loc}.{key}"),
                    format!("`{key}` does not apply to a {} layer", self.kind.name()),
                );
            }
            Ok(())
        };
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
        only("recolor", self.recolor.is_some(), &[Raster, Svg])?;
        Ok(())
    }

    /// `box`, `box_from` or (for artwork) the whole canvas.
    fn placement(&self, loc: &str, cx: &LayerContext) -> Result<Placement, Fail> {
        match (self.rect, &self.box_from) {
            (Some(_), Some(_)) => fail(loc, "give either `box` or `box_from`, not both"),
            (Some(rect), None) => box_placement(loc, rect, cx.print_area),
            (None, Some(from)) => box_from_placement(loc, from, cx.earlier),
            (None, None) => match self.kind {
                RawKind::Photo | RawKind::Text => fail(
                    loc,
                    format!("a {} layer needs a `box` or a `box_from`", self.kind.name()),
                ),
                _ => Ok(Placement::Canvas),
            },
        }
    }

    fn need_file(&self, loc: &str) -> Result<String, Fail> {
        let file = self.file.clone().ok_or_else(|| {
            (
                loc.to_string(),
                format!("a {} layer needs a `file`", self.kind.name()),
            )
        })?;
        check_asset_path(&format!("{loc}.file"), &file)?;
        Ok(file)
    }

    fn raster(&self, loc: &str) -> Result<LayerKind, Fail> {
        Ok(LayerKind::Raster {
            file: self.need_file(loc)?,
            fit: self.fit.unwrap_or(Fit::Stretch),
        })
    }

    fn svg(&self, loc: &str) -> Result<LayerKind, Fail> {
        Ok(LayerKind::Svg {
            file: self.need_file(loc)?,
        })
    }

    fn fill(&self, loc: &str, id: &str, cx: &LayerContext) -> Result<LayerKind, Fail> {
        let color = self
            .color
            .clone()
            .ok_or_else(|| (loc.to_string(), "a fill layer needs a `color`".to_string()))?;
        Ok(LayerKind::Fill {
            color: cx.color(loc, id, "color", color)?,
            radius: non_negative(&format!("{loc}.radius"), self.radius.unwrap_or(0.0))?,
        })
    }

    fn photo(&self, loc: &str, cx: &LayerContext) -> Result<LayerKind, Fail> {
        let field = self
            .field
            .clone()
            .ok_or_else(|| (loc.to_string(), "a photo layer needs a `field`".to_string()))?;
        if cx.field_kind(&format!("{loc}.field"), &field)? != FieldKind::Photo {
            return fail(
                format!("{loc}.field"),
                format!("field `{field}` is not a photo field"),
            );
        }
        let mask = match &self.mask {
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
                radius: non_negative(&format!("{loc}.mask.rounded"), *rounded)?,
            }),
            Some(RawMask::Svg { svg }) => {
                check_asset_path(&format!("{loc}.mask.svg"), svg)?;
                Some(Mask::Svg { file: svg.clone() })
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
        Ok(LayerKind::Photo(PhotoSlot {
            field,
            fit: self.fit.unwrap_or(Fit::Cover),
            mask,
            min_dpi,
            warn_dpi,
        }))
    }

    fn text(&self, loc: &str, id: &str, cx: &LayerContext) -> Result<LayerKind, Fail> {
        let content = match (&self.field, &self.text) {
            (Some(_), Some(_)) => return fail(loc, "give either `field` or `text`, not both"),
            (Some(f), None) => vec![TextPiece::Field(f.clone())],
            (None, Some(t)) => parse_text_template(&format!("{loc}.text"), t)?,
            (None, None) => return fail(loc, "a text layer needs a `field` or a `text`"),
        };
        for p in &content {
            if let TextPiece::Field(f) = p
                && cx.field_kind(&format!("{loc}.field"), f)? == FieldKind::Photo
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
        let min_size_pt = positive(&format!("{loc}.min_size"), self.min_size.unwrap_or(size_pt))?;
        if min_size_pt > size_pt {
            return fail(format!("{loc}.min_size"), "must not be larger than size");
        }
        let color = self.color.clone().unwrap_or(RawColor::Fixed(Rgba::BLACK));
        let curve = match &self.curve {
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
        Ok(LayerKind::Text(TextSlot {
            content,
            font: self.font.clone().unwrap_or_else(|| "Noto Sans".to_string()),
            weight,
            italic: self.italic.unwrap_or(false),
            size_pt,
            min_size_pt,
            shrink_to_fit: self.shrink_to_fit.unwrap_or(true),
            color: cx.color(loc, id, "color", color)?,
            align: self.align.unwrap_or_default(),
            valign: self.valign.unwrap_or_default(),
            case: self.case.unwrap_or_default(),
            curve,
            line_spacing,
            wrap,
        }))
    }

    fn show_when(&self, loc: &str, cx: &LayerContext) -> Result<Option<Condition>, Fail> {
        let Some(c) = &self.show_when else {
            return Ok(None);
        };
        let cloc = format!("{loc}.show_when");
        cx.field_kind(&format!("{cloc}.field"), &c.field)?;
        let field = c.field.clone();
        match (&c.equals, &c.one_of, c.filled) {
            (Some(value), None, None) => Ok(Some(Condition::Equals {
                field,
                value: value.clone(),
            })),
            (None, Some(values), None) => Ok(Some(Condition::In {
                field,
                values: values.clone(),
            })),
            (None, None, Some(true)) => Ok(Some(Condition::Filled { field })),
            _ => fail(
                cloc,
                "give exactly one of `equals = \"v\"`, `in = [..]` or `filled = true`",
            ),
        }
    }
}

/// `box = [x, y, w, h]` in manifest units, refused when it cannot be meant.
fn box_placement(loc: &str, [x, y, w, h]: [f64; 4], pa: &PrintArea) -> Result<Placement, Fail> {
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
            format!("{w} x {h} is more than 4 times the canvas ({cw} x {ch}); is the unit right?"),
        );
    }
    if x >= cw || y >= ch || x + w <= 0.0 || y + h <= 0.0 {
        return fail(
            format!("{loc}.box"),
            format!("[{x}, {y}, {w}, {h}] lies entirely outside the canvas ({cw} x {ch})"),
        );
    }
    Ok(Placement::Box(Rect::new(x, y, w, h)))
}

/// `box_from = "svg_layer#element"`: the layer must be an SVG layer declared earlier (the
/// element itself is found when the renderer loads the SVG).
fn box_from_placement(loc: &str, from: &str, earlier: &[Layer]) -> Result<Placement, Fail> {
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
    Ok(Placement::SvgElement {
        layer: layer.to_string(),
        element: element.to_string(),
    })
}
