//! The manifest model and its parser.
//!
//! Parsing happens in two steps: TOML into a flat, permissive "raw" shape (so that every key is
//! known and a typo is an error with a line number), then into the typed model, where every rule
//! that spans keys is checked and reported with its key path (`layers[2].mask`).

use crate::{ManifestError, Rgba};
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

/// Units of length used in a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Inches.
    In,
    /// Millimetres.
    Mm,
    /// Print pixels at the print area's DPI.
    Px,
}

/// The printed area: trim size plus bleed on every side, at a DPI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrintArea {
    /// Trim width in `unit`.
    pub width: f64,
    /// Trim height in `unit`.
    pub height: f64,
    pub unit: Unit,
    pub dpi: u32,
    /// Extra area on every side that is cut off, in `unit`. Layer boxes are measured from the
    /// top-left corner of the bleed, i.e. of the whole canvas.
    pub bleed: f64,
    /// Distance inside the trim line that important content should keep, in `unit`.
    pub safe_margin: f64,
    /// Colour under every layer; transparent when absent.
    pub background: Option<Rgba>,
}

impl PrintArea {
    /// Print pixels per manifest unit.
    pub fn px_per_unit(&self) -> f64 {
        match self.unit {
            Unit::In => self.dpi as f64,
            Unit::Mm => self.dpi as f64 / 25.4,
            Unit::Px => 1.0,
        }
    }

    /// Converts a length in manifest units to print pixels.
    pub fn px(&self, v: f64) -> f64 {
        v * self.px_per_unit()
    }

    /// The whole canvas (trim plus bleed) in print pixels, rounded.
    pub fn canvas_px(&self) -> (u32, u32) {
        let w = self.px(self.width + 2.0 * self.bleed).round();
        let h = self.px(self.height + 2.0 * self.bleed).round();
        (w as u32, h as u32)
    }

    /// The trim rectangle in print pixels.
    pub fn trim_px(&self) -> Rect {
        let b = self.px(self.bleed);
        Rect::new(b, b, self.px(self.width), self.px(self.height))
    }

    /// The safe rectangle in print pixels.
    pub fn safe_px(&self) -> Rect {
        self.trim_px().inset(self.px(self.safe_margin))
    }
}

/// An axis-aligned rectangle (x, y, width, height).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub const fn new(x: f64, y: f64, w: f64, h: f64) -> Self {
        Rect { x, y, w, h }
    }
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
    pub fn inset(&self, d: f64) -> Rect {
        Rect::new(
            self.x + d,
            self.y + d,
            (self.w - 2.0 * d).max(0.0),
            (self.h - 2.0 * d).max(0.0),
        )
    }
    pub fn scale(&self, s: f64) -> Rect {
        Rect::new(self.x * s, self.y * s, self.w * s, self.h * s)
    }
    /// True when `other` lies entirely inside `self` (with a small tolerance for rounding).
    pub fn contains(&self, other: &Rect) -> bool {
        const EPS: f64 = 0.5;
        other.x >= self.x - EPS
            && other.y >= self.y - EPS
            && other.right() <= self.right() + EPS
            && other.bottom() <= self.bottom() + EPS
    }
    /// The smallest rectangle holding both.
    pub fn union(&self, o: &Rect) -> Rect {
        let x = self.x.min(o.x);
        let y = self.y.min(o.y);
        Rect::new(
            x,
            y,
            self.right().max(o.right()) - x,
            self.bottom().max(o.bottom()) - y,
        )
    }
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
    /// Parses and checks a manifest. `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Manifest, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let location = e
                .span()
                .map(|span| {
                    let (line, col) = line_col(text, span.start);
                    format!("line {line}, column {col}")
                })
                .unwrap_or_default();
            ManifestError {
                file: file.to_string(),
                location,
                message: e.message().trim().to_string(),
            }
        })?;
        raw.into_manifest()
            .map_err(|(location, message)| ManifestError {
                file: file.to_string(),
                location,
                message,
            })
    }

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

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

// ---------------------------------------------------------------------------------------------
// The raw TOML shape.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    id: String,
    name: Option<String>,
    version: Option<toml::Value>,
    print_area: RawPrintArea,
    #[serde(default)]
    fields: Vec<RawField>,
    #[serde(default)]
    layers: Vec<RawLayer>,
    mockup: Option<RawMockup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrintArea {
    width: f64,
    height: f64,
    unit: Unit,
    dpi: Option<u32>,
    #[serde(default)]
    bleed: f64,
    #[serde(default)]
    safe_margin: f64,
    background: Option<Rgba>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    id: String,
    label: Option<String>,
    kind: FieldKind,
    #[serde(default)]
    required: bool,
    max_length: Option<usize>,
    #[serde(default)]
    allowed: Vec<String>,
    default: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum RawKind {
    Raster,
    Svg,
    Fill,
    Photo,
    Text,
}

enum RawColor {
    Fixed(Rgba),
    ByField {
        field: String,
        map: BTreeMap<String, Rgba>,
        default: Option<Rgba>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColorByField {
    field: String,
    map: BTreeMap<String, Rgba>,
    default: Option<Rgba>,
}

/// A colour or a by-field map, with errors that name the bad colour (serde's untagged enums
/// only say that nothing matched).
impl<'de> Deserialize<'de> for RawColor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => s.parse().map(RawColor::Fixed).map_err(D::Error::custom),
            toml::Value::Table(t) => RawColorByField::deserialize(toml::Value::Table(t))
                .map(|c| RawColor::ByField {
                    field: c.field,
                    map: c.map,
                    default: c.default,
                })
                .map_err(|e| D::Error::custom(e.message())),
            other => Err(D::Error::custom(format!(
                "a colour is \"#RRGGBB\" or {{ field = \"..\", map = {{ value = \"#RRGGBB\" }} }}, not a {}",
                other.type_str()
            ))),
        }
    }
}

impl From<RawColor> for ColorSpec {
    fn from(c: RawColor) -> Self {
        match c {
            RawColor::Fixed(c) => ColorSpec::Fixed(c),
            RawColor::ByField {
                field,
                map,
                default,
            } => ColorSpec::ByField {
                field,
                map,
                default,
            },
        }
    }
}

enum RawMask {
    Named(String),
    Rounded { rounded: f64 },
    Svg { svg: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaskTable {
    rounded: Option<f64>,
    svg: Option<String>,
}

impl<'de> Deserialize<'de> for RawMask {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let shape = "a mask is \"circle\", { rounded = R } or { svg = \"file.svg\" }";
        match toml::Value::deserialize(d)? {
            toml::Value::String(s) => Ok(RawMask::Named(s)),
            toml::Value::Table(t) => match RawMaskTable::deserialize(toml::Value::Table(t)) {
                Ok(RawMaskTable {
                    rounded: Some(r),
                    svg: None,
                }) => Ok(RawMask::Rounded { rounded: r }),
                Ok(RawMaskTable {
                    rounded: None,
                    svg: Some(s),
                }) => Ok(RawMask::Svg { svg: s }),
                Ok(_) => Err(D::Error::custom(shape)),
                Err(e) => Err(D::Error::custom(format!("{}; {shape}", e.message()))),
            },
            other => Err(D::Error::custom(format!(
                "{shape}, not a {}",
                other.type_str()
            ))),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCurve {
    radius: f64,
    #[serde(default)]
    side: ArcSide,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    field: String,
    equals: Option<String>,
    #[serde(rename = "in")]
    one_of: Option<Vec<String>>,
    filled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    id: Option<String>,
    kind: RawKind,
    file: Option<String>,
    #[serde(rename = "box")]
    rect: Option<[f64; 4]>,
    box_from: Option<String>,
    fit: Option<Fit>,
    field: Option<String>,
    text: Option<String>,
    mask: Option<RawMask>,
    min_dpi: Option<f64>,
    warn_dpi: Option<f64>,
    font: Option<String>,
    weight: Option<u16>,
    italic: Option<bool>,
    size: Option<f64>,
    min_size: Option<f64>,
    shrink_to_fit: Option<bool>,
    color: Option<RawColor>,
    align: Option<Align>,
    valign: Option<VAlign>,
    case: Option<CaseTransform>,
    curve: Option<RawCurve>,
    line_spacing: Option<f64>,
    wrap: Option<bool>,
    radius: Option<f64>,
    show_when: Option<RawCondition>,
    recolor: Option<RawColor>,
    opacity: Option<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMockup {
    photo: String,
    #[serde(rename = "box")]
    rect: [f64; 4],
    #[serde(default)]
    blend: Blend,
    opacity: Option<f32>,
}

type Fail = (String, String);

fn fail<T>(location: impl Into<String>, message: impl Into<String>) -> Result<T, Fail> {
    Err((location.into(), message.into()))
}

/// A relative path inside the template folder: no absolute paths, no `..`, no URLs.
fn check_asset_path(loc: &str, path: &str) -> Result<(), Fail> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.starts_with('\\')
        || path.contains(':')
        || path.split(['/', '\\']).any(|part| part == "..");
    if bad {
        return fail(
            loc,
            format!("`{path}` must be a relative path inside the template folder"),
        );
    }
    Ok(())
}

fn positive(loc: &str, v: f64) -> Result<f64, Fail> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        fail(loc, format!("must be a positive number, got {v}"))
    }
}

fn non_negative(loc: &str, v: f64) -> Result<f64, Fail> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        fail(loc, format!("must be zero or more, got {v}"))
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Parses `Est. {year}` into pieces; `{{` and `}}` are literal braces.
fn parse_text_template(loc: &str, s: &str) -> Result<Vec<TextPiece>, Fail> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                lit.push('}');
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                if !is_identifier(&name) {
                    return fail(
                        loc,
                        format!(
                            "`{{{name}}}` is not a field reference (write `{{field_id}}`, or `{{{{` for a brace)"
                        ),
                    );
                }
                if !lit.is_empty() {
                    pieces.push(TextPiece::Literal(std::mem::take(&mut lit)));
                }
                pieces.push(TextPiece::Field(name));
            }
            '}' => return fail(loc, "a lone `}` (write `}}` for a brace)"),
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        pieces.push(TextPiece::Literal(lit));
    }
    Ok(pieces)
}

impl RawManifest {
    fn into_manifest(self) -> Result<Manifest, Fail> {
        if !is_identifier(&self.id) {
            return fail(
                "id",
                format!("`{}` must be 1-64 letters, digits, `-` or `_`", self.id),
            );
        }
        let version = match self.version {
            None => "1".to_string(),
            Some(toml::Value::String(s)) => s,
            Some(toml::Value::Integer(i)) => i.to_string(),
            Some(toml::Value::Float(f)) => f.to_string(),
            Some(_) => return fail("version", "must be a string or a number"),
        };
        let pa = self.print_area;
        let print_area = PrintArea {
            width: positive("print_area.width", pa.width)?,
            height: positive("print_area.height", pa.height)?,
            unit: pa.unit,
            dpi: match pa.dpi {
                None => 300,
                Some(d) if (10..=2400).contains(&d) => d,
                Some(d) => return fail("print_area.dpi", format!("{d} is outside 10..=2400")),
            },
            bleed: non_negative("print_area.bleed", pa.bleed)?,
            safe_margin: non_negative("print_area.safe_margin", pa.safe_margin)?,
            background: pa.background,
        };
        let (cw, ch) = print_area.canvas_px();
        if cw == 0 || ch == 0 || (cw as u64) * (ch as u64) > 400_000_000 {
            return fail(
                "print_area",
                format!("the canvas would be {cw} x {ch} pixels; it must be 1 to 400 megapixels"),
            );
        }

        let mut fields: Vec<Field> = Vec::new();
        for (i, f) in self.fields.into_iter().enumerate() {
            let loc = format!("fields[{i}]");
            if !is_identifier(&f.id) {
                return fail(
                    format!("{loc}.id"),
                    format!("`{}` must be 1-64 letters, digits, `-` or `_`", f.id),
                );
            }
            if fields.iter().any(|g| g.id == f.id) {
                return fail(
                    format!("{loc}.id"),
                    format!("field `{}` is declared twice", f.id),
                );
            }
            if f.kind == FieldKind::Choice && f.allowed.is_empty() {
                return fail(
                    format!("{loc}.allowed"),
                    format!("choice field `{}` needs a list of allowed values", f.id),
                );
            }
            if f.max_length == Some(0) {
                return fail(format!("{loc}.max_length"), "must be at least 1");
            }
            if let Some(d) = &f.default
                && !f.allowed.is_empty()
                && !f.allowed.contains(d)
            {
                return fail(
                    format!("{loc}.default"),
                    format!("`{d}` is not one of the allowed values"),
                );
            }
            fields.push(Field {
                label: f.label.unwrap_or_else(|| f.id.clone()),
                id: f.id,
                kind: f.kind,
                required: f.required,
                max_length: f.max_length,
                allowed: f.allowed,
                default: f.default,
            });
        }
        let field_kind = |loc: &str, id: &str| -> Result<FieldKind, Fail> {
            fields
                .iter()
                .find(|f| f.id == id)
                .map(|f| f.kind)
                .ok_or_else(|| {
                    (
                        loc.to_string(),
                        format!("field `{id}` is not declared in [[fields]]"),
                    )
                })
        };
        let check_color = |loc: &str, c: &RawColor| -> Result<(), Fail> {
            if let RawColor::ByField { field, map, .. } = c {
                field_kind(&format!("{loc}.field"), field)?;
                if map.is_empty() {
                    return fail(
                        format!("{loc}.map"),
                        "needs at least one value -> colour pair",
                    );
                }
            }
            Ok(())
        };

        if self.layers.is_empty() {
            return fail("layers", "a template needs at least one [[layers]] entry");
        }
        let mut layers: Vec<Layer> = Vec::new();
        for (i, l) in self.layers.into_iter().enumerate() {
            let loc = format!("layers[{i}]");
            let id = l.id.clone().unwrap_or_else(|| format!("layer{i}"));
            if !is_identifier(&id) {
                return fail(
                    format!("{loc}.id"),
                    format!("`{id}` must be 1-64 letters, digits, `-` or `_`"),
                );
            }
            if layers.iter().any(|m| m.id == id) {
                return fail(
                    format!("{loc}.id"),
                    format!("layer id `{id}` is used twice"),
                );
            }
            let layer = l.into_layer(&loc, id, &field_kind, &check_color, &layers, &print_area)?;
            layers.push(layer);
        }

        let mockup = match self.mockup {
            None => None,
            Some(m) => {
                check_asset_path("mockup.photo", &m.photo)?;
                let [x, y, w, h] = m.rect;
                positive("mockup.box (width)", w)?;
                positive("mockup.box (height)", h)?;
                let opacity = m.opacity.unwrap_or(1.0);
                if !(0.0..=1.0).contains(&opacity) {
                    return fail("mockup.opacity", "must be between 0 and 1");
                }
                Some(Mockup {
                    photo: m.photo,
                    area: Rect::new(x, y, w, h),
                    blend: m.blend,
                    opacity,
                })
            }
        };

        Ok(Manifest {
            name: self.name.unwrap_or_else(|| self.id.clone()),
            id: self.id,
            version,
            print_area,
            fields,
            layers,
            mockup,
        })
    }
}

impl RawLayer {
    fn into_layer(
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
