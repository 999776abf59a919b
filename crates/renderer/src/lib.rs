//! The Pressroom renderer: a template, personalization values and photos in; a canvas, a
//! preflight report and a render record out; print files, previews and mockups encoded from it.
//!
//! One renderer makes the print file, the preview and the mockup, so what the merchant previews
//! is what prints: a preview is the same layout at a lower scale.
//!
//! Architecture invariants:
//! - no I/O but reading the template folder and the font folder; no clock (a render is bounded
//!   by the caller's `should_stop` callback and by the size limits), no network, no database;
//! - fonts come only from the [`FontLibrary`] folder; SVGs reach no file outside their template;
//! - images are checked against [`Limits`] from their header before any pixel is decoded;
//! - bad input is an error that names what was wrong, never a panic;
//! - the same inputs give the same pixels at any thread count.
#![forbid(unsafe_code)]

mod asset_cache;
mod composite;
mod digest;
pub use digest::sha256_hex;
mod draw;
mod fonts;
mod image_fit;
mod image_io;
mod output;
mod pipeline;
mod preflight;
mod prepare;
mod produce;
mod render_record;
mod streaming;
mod svg;
mod template_loading;
mod text;
/// The PNG effort a [`PrintFormat::Png`] carries.
pub use encoder::PngCompression;
pub use fonts::FontLibrary;
pub use image_io::{
    Decoded, ForeignFormat, ImageKind, Limits, Pixels, UnsupportedImage, decode as decode_image,
    sniff as sniff_image,
};
pub use output::{OutputInfo, PrintFormat, UnknownPrintFormat};
pub use preflight::{Finding, Preflight, Severity};
pub use produce::{
    Encoded, EncodedFiles, ProduceOptions, Production, Sinks, Stage, Written, produce, produce_into,
};
pub use render_record::{Input, RenderRecord, Rendered, Scale};
pub use template_loading::Template;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The renderer's version, recorded with every render.
pub const RENDERER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why a render could not be made.
///
/// Each message is complete on its own and no variant reports its inner error as a `source`,
/// so a caller that prints the chain (`{:#}` in anyhow) shows every message once.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The template's manifest is invalid.
    #[error("{0}")]
    Manifest(template::ManifestError),
    /// A template file is missing, unreadable or invalid.
    #[error("template {template}: {file}: {reason}")]
    Asset {
        template: String,
        file: String,
        reason: String,
    },
    /// A customer photo is missing, too large, corrupt or of an unsupported kind.
    #[error("photo for field `{field}`: {reason}")]
    Photo { field: String, reason: String },
    /// A value cannot be rendered at all (e.g. text far beyond any sensible length).
    #[error("field `{field}`: {reason}")]
    Value { field: String, reason: String },
    /// The font folder could not be used.
    #[error("fonts: {0}")]
    Fonts(String),
    /// The caller's time bound ran out.
    #[error("the render was stopped: it ran past its time bound")]
    Stopped,
    /// The requested output size is unusable.
    #[error("output size: {0}")]
    Size(String),
    #[error("encoding: {0}")]
    Encode(encoder::EncodeError),
    #[error("writing output: {0}")]
    Io(std::io::Error),
}

// By hand rather than `#[from]`, which would also make the inner error the `source` and print
// its message twice in a chain ("error: A: A").
impl From<template::ManifestError> for RenderError {
    fn from(e: template::ManifestError) -> Self {
        RenderError::Manifest(e)
    }
}

impl From<encoder::EncodeError> for RenderError {
    fn from(e: encoder::EncodeError) -> Self {
        RenderError::Encode(e)
    }
}

impl From<std::io::Error> for RenderError {
    fn from(e: std::io::Error) -> Self {
        RenderError::Io(e)
    }
}

impl RenderError {
    /// True when the input (template, values, photos) is at fault, so retrying cannot help.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            RenderError::Manifest(_)
                | RenderError::Asset { .. }
                | RenderError::Photo { .. }
                | RenderError::Value { .. }
                | RenderError::Size(_)
        )
    }

    /// True when trying again later may succeed (I/O hiccup, time bound under load).
    pub fn is_retryable(&self) -> bool {
        matches!(self, RenderError::Io(_) | RenderError::Stopped)
    }
}

/// How many decoded customer photos a caching renderer keeps (about 36 MB each at 12 MP).
const PHOTO_CACHE_ENTRIES: usize = 4;
/// How many fitted photos (one per slot size) a caching renderer keeps.
const FITTED_CACHE_ENTRIES: usize = 32;

/// (template dir or photo hash, file or fit, width, height).
type SizedKey = (String, String, u32, u32);
/// Fitted pixels and where they sit in their box.
type Fitted = (Arc<Vec<u8>>, image_fit::Placed);

/// Decoded assets kept between renders (the warm worker and the editor's live preview).
#[derive(Default)]
struct AssetCache {
    /// (template dir, file and fit and visible part, width, height) -> premultiplied RGBA.
    images: Mutex<HashMap<SizedKey, Fitted>>,
    /// (template dir, file) -> decoded image at its own size.
    decoded: Mutex<HashMap<(String, String), Arc<Decoded>>>,
    /// Photo content hash -> decoded photo.
    photos: Mutex<HashMap<String, Arc<Decoded>>>,
    /// (photo hash, fit, width, height) -> fitted pixels and their place in the box.
    fitted: Mutex<HashMap<SizedKey, Fitted>>,
}

/// Renders templates. Cheap to share across threads (`&Renderer` is `Sync`).
pub struct Renderer {
    fonts: Arc<FontLibrary>,
    limits: Limits,
    cache: Option<AssetCache>,
}

impl Renderer {
    /// A renderer that decodes template assets for every render (one render per process).
    pub fn new(fonts: Arc<FontLibrary>, limits: Limits) -> Self {
        Renderer {
            fonts,
            limits,
            cache: None,
        }
    }

    /// A renderer that keeps decoded template assets between renders.
    pub fn with_asset_cache(mut self) -> Self {
        self.cache = Some(AssetCache::default());
        self
    }

    pub fn fonts(&self) -> &FontLibrary {
        &self.fonts
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Forgets cached decoded assets (e.g. after a template changed on disk).
    pub fn clear_cache(&self) {
        if let Some(c) = &self.cache {
            c.images.lock().unwrap_or_else(|e| e.into_inner()).clear();
            c.decoded.lock().unwrap_or_else(|e| e.into_inner()).clear();
            c.photos.lock().unwrap_or_else(|e| e.into_inner()).clear();
            c.fitted.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// Reads and checks a template folder: manifest, fonts it names, SVGs, raster headers.
    pub fn load_template(&self, dir: &Path) -> Result<Template, RenderError> {
        Template::load(self, dir)
    }
}
