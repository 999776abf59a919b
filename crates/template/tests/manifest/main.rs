//! The manifest's specification, runnable without the renderer:
//!
//! - `broken`: broken manifests, as designers write them, each error naming the file, the place
//!   and the problem;
//! - `colour_maps`: colours that follow a choice cover every allowed value or have a default;
//! - `encoding`: a byte-order mark is not part of the manifest.

mod broken;
mod colour_maps;
mod encoding;
