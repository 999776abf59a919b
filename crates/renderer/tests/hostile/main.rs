//! Hostile input: what customers, designers and the internet can send the renderer, and what it
//! must do with it (decode it right, refuse it with a reason, or ignore it safely; never panic,
//! never read outside the template, never touch the network).
//!
//! - `photos`: every accepted photo format decodes at the right size and the right way up;
//! - `refused`: truncated, corrupt, foreign and oversized files are refused with a reason,
//!   oversized ones from their header alone;
//! - `values`: field values that are too long, missing, not allowed or not UTF-8;
//! - `svg`: SVG artwork that reaches for files outside its template or for the network, that
//!   trips the SVG text engine, or that does not parse;
//! - `template_loading`: template folders whose manifest, fonts, files or SVG ids are wrong
//!   (the manifest's own rules are specified in `crates/template/tests/manifest`);
//! - `stop`: the caller's time bound ends a render at every checkpoint;
//! - `fuzz_smoke`: the `fuzz/` targets' bodies over the seeds and deterministic mutations of them.
//!
//! Fixtures live in `fixtures/photos` (see its README.md and make.py).

mod common;
mod fuzz_smoke;
mod photos;
mod refused;
mod stop;
mod svg;
mod template_loading;
mod values;
