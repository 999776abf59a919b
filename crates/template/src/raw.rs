//! The raw TOML shapes serde reads (`deny_unknown_fields`, so a typo is an error with a line
//! number), before any rule that spans keys is checked.

use crate::{Align, ArcSide, Blend, CaseTransform, ColorSpec, FieldKind, Fit, Rgba, Unit, VAlign};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawManifest {
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) version: Option<toml::Value>,
    pub(crate) print_area: RawPrintArea,
    #[serde(default)]
    pub(crate) fields: Vec<RawField>,
    #[serde(default)]
    pub(crate) layers: Vec<RawLayer>,
    pub(crate) mockup: Option<RawMockup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrintArea {
    pub(crate) width: f64,
    pub(crate) height: f64,
    pub(crate) unit: Unit,
    pub(crate) dpi: Option<u32>,
    #[serde(default)]
    pub(crate) bleed: f64,
    #[serde(default)]
    pub(crate) safe_margin: f64,
    pub(crate) background: Option<Rgba>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawField {
    pub(crate) id: String,
    pub(crate) label: Option<String>,
    pub(crate) kind: FieldKind,
    #[serde(default)]
    pub(crate) required: bool,
    pub(crate) max_length: Option<usize>,
    #[serde(default)]
    pub(crate) allowed: Vec<String>,
    pub(crate) default: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawKind {
    Raster,
    Svg,
    Fill,
    Photo,
    Text,
}

#[derive(Clone)]
pub(crate) enum RawColor {
    Fixed(Rgba),
    ByField {
        field: String,
        map: BTreeMap<String, Rgba>,
        default: Option<Rgba>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawColorByField {
    pub(crate) field: String,
    pub(crate) map: BTreeMap<String, Rgba>,
    pub(crate) default: Option<Rgba>,
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

pub(crate) enum RawMask {
    Named(String),
    Rounded { rounded: f64 },
    Svg { svg: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMaskTable {
    pub(crate) rounded: Option<f64>,
    pub(crate) svg: Option<String>,
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
pub(crate) struct RawCurve {
    pub(crate) radius: f64,
    #[serde(default)]
    pub(crate) side: ArcSide,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCondition {
    pub(crate) field: String,
    pub(crate) equals: Option<String>,
    #[serde(rename = "in")]
    pub(crate) one_of: Option<Vec<String>>,
    pub(crate) filled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLayer {
    pub(crate) id: Option<String>,
    pub(crate) kind: RawKind,
    pub(crate) file: Option<String>,
    #[serde(rename = "box")]
    pub(crate) rect: Option<[f64; 4]>,
    pub(crate) box_from: Option<String>,
    pub(crate) fit: Option<Fit>,
    pub(crate) field: Option<String>,
    pub(crate) text: Option<String>,
    pub(crate) mask: Option<RawMask>,
    pub(crate) min_dpi: Option<f64>,
    pub(crate) warn_dpi: Option<f64>,
    pub(crate) font: Option<String>,
    pub(crate) weight: Option<u16>,
    pub(crate) italic: Option<bool>,
    pub(crate) size: Option<f64>,
    pub(crate) min_size: Option<f64>,
    pub(crate) shrink_to_fit: Option<bool>,
    pub(crate) color: Option<RawColor>,
    pub(crate) align: Option<Align>,
    pub(crate) valign: Option<VAlign>,
    pub(crate) case: Option<CaseTransform>,
    pub(crate) curve: Option<RawCurve>,
    pub(crate) line_spacing: Option<f64>,
    pub(crate) wrap: Option<bool>,
    pub(crate) radius: Option<f64>,
    pub(crate) show_when: Option<RawCondition>,
    pub(crate) recolor: Option<RawColor>,
    pub(crate) opacity: Option<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMockup {
    pub(crate) photo: String,
    #[serde(rename = "box")]
    pub(crate) rect: [f64; 4],
    #[serde(default)]
    pub(crate) blend: Blend,
    pub(crate) opacity: Option<f32>,
}
