//! The manifest model: what a parsed, checked `template.toml` says (fields, layers bottom to top,
//! the mockup). Every value here has passed the checks in `parse` and `layers`.

use crate::{PrintArea, Rect, Rgba};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A parsed, checked template manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    /// The designer's version label; the renderer also records the manifest's hash.
    pub version: String,
    pub print_area: PrintArea,
    pub fields: Vec<Field>,
    /// Bottom to top.
    pub layers: Vec<Layer>,
    pub mockup: Option<Mockup>,
}

/// What kind of value a personalization field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    Text,
    Photo,
    Choice,
}

/// A personalization field the customer (or merchant) fills in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    pub id: String,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
    /// Maximum length in user-perceived characters (grapheme clusters).
    pub max_length: Option<usize>,
    /// For choices: the values allowed. Empty means any value.
    pub allowed: Vec<String>,
    pub default: Option<String>,
}

/// How an image fills its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Fill the box, cropping the centre of the image to the box's aspect ratio.
    #[default]
    Cover,
    /// Fit the whole image inside the box, centred; the rest stays transparent.
    Contain,
    /// Stretch to the box, ignoring the aspect ratio (artwork made for the box).
    Stretch,
}

/// The shape a photo is clipped to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Mask {
    /// The ellipse inscribed in the box (a circle for a square box).
    Circle,
    /// A rounded rectangle; radius in manifest units.
    Rounded { radius: f64 },
    /// The alpha of an SVG file of the template, stretched to the box.
    Svg { file: String },
}

/// A colour that may depend on a choice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ColorSpec {
    Fixed(Rgba),
    ByField {
        field: String,
        map: BTreeMap<String, Rgba>,
        default: Option<Rgba>,
    },
}

impl ColorSpec {
    /// The colour for the given field values, if any applies.
    pub fn resolve(&self, values: &crate::Values) -> Option<Rgba> {
        match self {
            ColorSpec::Fixed(c) => Some(*c),
            ColorSpec::ByField {
                field,
                map,
                default,
            } => values
                .get(field)
                .and_then(|v| map.get(v))
                .copied()
                .or(*default),
        }
    }
}

/// When a layer is shown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Condition {
    Equals { field: String, value: String },
    In { field: String, values: Vec<String> },
    Filled { field: String },
}

impl Condition {
    pub fn field(&self) -> &str {
        match self {
            Condition::Equals { field, .. }
            | Condition::In { field, .. }
            | Condition::Filled { field } => field,
        }
    }

    pub fn holds(&self, values: &crate::Values) -> bool {
        let v = values.get(self.field()).map(String::as_str);
        match self {
            Condition::Equals { value, .. } => v == Some(value.as_str()),
            Condition::In { values, .. } => v.is_some_and(|v| values.iter().any(|x| x == v)),
            Condition::Filled { .. } => v.is_some_and(|v| !v.trim().is_empty()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    Left,
    #[default]
    Center,
    Right,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VAlign {
    Top,
    #[default]
    Middle,
    Bottom,
}

/// A letter-case transform applied to text before shaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CaseTransform {
    #[default]
    None,
    Upper,
    Lower,
    /// First letter of every word upper case, the rest unchanged.
    Title,
}

impl CaseTransform {
    pub fn apply(self, s: &str) -> String {
        match self {
            CaseTransform::None => s.to_string(),
            CaseTransform::Upper => s.to_uppercase(),
            CaseTransform::Lower => s.to_lowercase(),
            CaseTransform::Title => {
                let mut out = String::with_capacity(s.len());
                let mut at_word_start = true;
                for c in s.chars() {
                    if at_word_start && c.is_alphabetic() {
                        out.extend(c.to_uppercase());
                    } else {
                        out.push(c);
                    }
                    at_word_start = c.is_whitespace() || c == '-';
                }
                out
            }
        }
    }
}

/// Which side of a circle text runs along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ArcSide {
    /// Text along the top of a circle, bulging upwards (a rainbow).
    #[default]
    Top,
    /// Text along the bottom of a circle, bulging downwards (a smile).
    Bottom,
}

/// Text on an arc.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Curve {
    /// Radius of the baseline circle in manifest units.
    pub radius: f64,
    pub side: ArcSide,
}

/// One piece of a text slot's content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum TextPiece {
    Literal(String),
    Field(String),
}

/// A text slot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextSlot {
    /// Literal text and field references, e.g. `Est. {year}`.
    pub content: Vec<TextPiece>,
    pub font: String,
    pub weight: u16,
    pub italic: bool,
    /// Font size in points (1/72 inch).
    pub size_pt: f64,
    /// Shrink-to-fit stops here; below it the text is reported as overflowing.
    pub min_size_pt: f64,
    pub shrink_to_fit: bool,
    pub color: ColorSpec,
    pub align: Align,
    pub valign: VAlign,
    pub case: CaseTransform,
    pub curve: Option<Curve>,
    /// Line height as a multiple of the font size.
    pub line_spacing: f64,
    /// Wrap words onto more lines when a line is wider than the box.
    pub wrap: bool,
}

impl TextSlot {
    /// The text for the given values (before the case transform).
    pub fn text(&self, values: &crate::Values) -> String {
        self.content
            .iter()
            .map(|p| match p {
                TextPiece::Literal(s) => s.as_str(),
                TextPiece::Field(f) => values.get(f).map(String::as_str).unwrap_or(""),
            })
            .collect()
    }

    /// The fields this slot reads.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.content.iter().filter_map(|p| match p {
            TextPiece::Field(f) => Some(f.as_str()),
            TextPiece::Literal(_) => None,
        })
    }
}

/// A photo slot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoSlot {
    pub field: String,
    pub fit: Fit,
    pub mask: Option<Mask>,
    /// Below this effective DPI the photo is a preflight error.
    pub min_dpi: f64,
    /// Below this effective DPI the photo is a preflight warning.
    pub warn_dpi: f64,
}

/// What a layer draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum LayerKind {
    /// A PNG or JPEG file of the template.
    Raster {
        file: String,
        fit: Fit,
    },
    /// An SVG file of the template.
    Svg {
        file: String,
    },
    /// A solid colour, optionally with rounded corners (radius in manifest units).
    Fill {
        color: ColorSpec,
        radius: f64,
    },
    Photo(PhotoSlot),
    Text(TextSlot),
}

/// Where a layer's box comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Placement {
    /// The whole canvas (trim plus bleed).
    Canvas,
    /// A rectangle in manifest units from the canvas's top-left corner.
    Box(Rect),
    /// The bounding box of element `element` in SVG layer `layer`.
    SvgElement { layer: String, element: String },
}

/// One layer of the stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Layer {
    /// Unique within the template; generated as `layer<N>` when the manifest gives none.
    pub id: String,
    pub kind: LayerKind,
    pub placement: Placement,
    pub show_when: Option<Condition>,
    /// Replace the colour of every pixel of the layer, keeping its alpha (one-colour artwork).
    pub recolor: Option<ColorSpec>,
    pub opacity: f32,
}

/// How blended the design is onto the product photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Blend {
    #[default]
    Normal,
    /// Darkens like ink on fabric: the photo's shading shows through.
    Multiply,
}

/// The product photo a mockup is made on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mockup {
    pub photo: String,
    /// Where the canvas lands, in the photo's pixels.
    pub area: Rect,
    pub blend: Blend,
    pub opacity: f32,
}

impl Manifest {
    pub fn field(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }

    pub fn layer(&self, id: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.id == id)
    }

    /// Every file of the template the manifest refers to (relative paths), without repeats.
    pub fn asset_files(&self) -> Vec<&str> {
        let mut files = BTreeSet::new();
        for l in &self.layers {
            match &l.kind {
                LayerKind::Raster { file, .. } | LayerKind::Svg { file } => {
                    files.insert(file.as_str());
                }
                LayerKind::Photo(PhotoSlot {
                    mask: Some(Mask::Svg { file }),
                    ..
                }) => {
                    files.insert(file.as_str());
                }
                _ => {}
            }
        }
        if let Some(m) = &self.mockup {
            files.insert(m.photo.as_str());
        }
        files.into_iter().collect()
    }
}
