//! What goes into a render ([`Input`], [`Scale`]) and what comes out ([`Rendered`]: the canvas,
//! its preflight report and the [`RenderRecord`] that proves what was used).

use crate::preflight::Preflight;
use resvg::tiny_skia;
use serde::Serialize;
use std::{collections::BTreeMap, sync::Arc};
use template::Values;

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
