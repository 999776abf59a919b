//! Pressroom templates: the manifest a designer writes (`template.toml`), parsed and checked.
//!
//! A template is a folder: this manifest plus its assets (SVG artwork, PNG/JPEG layers, a mockup
//! photo). The manifest declares the print area (physical size, DPI, bleed, safe margin), an
//! ordered layer stack, the personalization fields and per-slot rules. This crate is pure: it
//! reads no files (the caller hands it the manifest text) and knows nothing of pixels.
//!
//! Invariants:
//! - a [`Manifest`] that parsed is internally consistent: every field a layer names is declared,
//!   every `box_from` names an SVG layer declared before it, every colour parses, sizes are positive;
//! - every error names the file, the line or key, and what is wrong.
#![forbid(unsafe_code)]

mod checks;
mod color;
mod geometry;
mod layers;
mod model;
mod parse;
mod raw;
mod values;

pub use color::Rgba;
pub use geometry::*;
pub use model::*;
pub use values::{FieldIssue, FieldIssueKind, Values, check_values};

use std::fmt;

/// A manifest could not be used. The message names the file, the line or key, and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ManifestError {
    /// The manifest file as the caller named it.
    pub file: String,
    /// Where in the file: `line 12, column 5` or a key path like `layers[2].mask`.
    pub location: String,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.location, self.message)
        }
    }
}
