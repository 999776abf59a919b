//! A template loaded from its folder: the manifest parsed and checked, the fonts it names found,
//! every asset read and probed against the limits, SVGs parsed in the sandbox, and `box_from`
//! element ids resolved, so that a template that loaded renders without surprises.

use crate::{RenderError, Renderer, digest::sha256_hex, image_io, svg};
use rayon::prelude::*;
use std::{collections::BTreeMap, path::Path, path::PathBuf, sync::Arc, sync::OnceLock};
use template::{LayerKind, Manifest, Placement, Rect};

/// A loaded template: its manifest, parsed SVGs and raw asset bytes.
pub struct Template {
    pub(crate) dir: PathBuf,
    pub(crate) manifest: Manifest,
    pub(crate) manifest_sha256: String,
    /// Relative file -> bytes, for every asset the manifest names.
    pub(crate) files: BTreeMap<String, Arc<Vec<u8>>>,
    /// Relative file -> parsed SVG.
    pub(crate) svgs: BTreeMap<String, Arc<usvg::Tree>>,
    /// SVG file -> `(href, why)` for each `<image>` the sandbox refused (a preflight warning).
    pub(crate) svg_refused: BTreeMap<String, Vec<(String, String)>>,
    /// Relative file -> SHA-256, computed once, off the critical path.
    hashes: OnceLock<BTreeMap<String, String>>,
}

impl Template {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest_sha256(&self) -> &str {
        &self.manifest_sha256
    }

    /// SHA-256 of every asset file.
    pub fn asset_hashes(&self) -> &BTreeMap<String, String> {
        self.hashes.get_or_init(|| {
            self.files
                .par_iter()
                .map(|(k, v)| (k.clone(), sha256_hex(v)))
                .collect()
        })
    }

    pub(crate) fn asset_err(&self, file: &str, reason: impl Into<String>) -> RenderError {
        RenderError::Asset {
            template: self.manifest.id.clone(),
            file: file.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn load(r: &Renderer, dir: &Path) -> Result<Template, RenderError> {
        let manifest_path = dir.join("template.toml");
        let display = manifest_path.display().to_string();
        let text = std::fs::read(&manifest_path).map_err(|e| {
            RenderError::Manifest(template::ManifestError {
                file: display.clone(),
                location: String::new(),
                message: e.to_string(),
            })
        })?;
        let text = String::from_utf8(text).map_err(|e| {
            RenderError::Manifest(template::ManifestError {
                file: display.clone(),
                location: format!("byte {}", e.utf8_error().valid_up_to()),
                message: "the manifest is not valid UTF-8".to_string(),
            })
        })?;
        let manifest = Manifest::parse(&text, &display)?;
        let mut t = Template {
            dir: dir.to_path_buf(),
            manifest_sha256: sha256_hex(text.as_bytes()),
            manifest,
            files: BTreeMap::new(),
            svgs: BTreeMap::new(),
            svg_refused: BTreeMap::new(),
            hashes: OnceLock::new(),
        };
        for l in &t.manifest.layers {
            if let LayerKind::Text(slot) = &l.kind {
                check_font(r, slot).map_err(|(key, message)| {
                    RenderError::Manifest(template::ManifestError {
                        file: display.clone(),
                        location: format!("layer `{}`.{key}", l.id),
                        message,
                    })
                })?;
            }
        }
        let root = dir
            .canonicalize()
            .map_err(|e| t.asset_err(".", e.to_string()))?;
        let files: Vec<String> = t
            .manifest
            .asset_files()
            .into_iter()
            .map(str::to_string)
            .collect();
        for file in files {
            let path = dir.join(&file);
            let canonical = path
                .canonicalize()
                .map_err(|e| t.asset_err(&file, e.to_string()))?;
            if !canonical.starts_with(&root) {
                return Err(t.asset_err(&file, "points outside the template folder"));
            }
            let len = std::fs::metadata(&canonical)
                .map_err(|e| t.asset_err(&file, e.to_string()))?
                .len();
            let is_svg = file.to_ascii_lowercase().ends_with(".svg");
            let limit = if is_svg {
                r.limits.max_svg_bytes
            } else {
                r.limits.max_bytes
            };
            if len > limit {
                return Err(t.asset_err(&file, format!("{len} bytes; the limit is {limit}")));
            }
            let bytes = std::fs::read(&canonical).map_err(|e| t.asset_err(&file, e.to_string()))?;
            if is_svg {
                let (tree, images) = svg::parse(&bytes, dir, &r.fonts, &r.limits)
                    .map_err(|e| t.asset_err(&file, e))?;
                t.svgs.insert(file.clone(), Arc::new(tree));
                // Images the SVG draws are assets like any other: hashed into the record.
                t.files.extend(images.loaded);
                if !images.refused.is_empty() {
                    t.svg_refused.insert(file.clone(), images.refused);
                }
            } else {
                image_io::probe(&bytes, &r.limits).map_err(|e| t.asset_err(&file, e))?;
            }
            t.files.insert(file, Arc::new(bytes));
        }
        // Slots placed by SVG element id: check the ids exist now, not at the first order.
        for l in &t.manifest.layers {
            if let Placement::SvgElement { layer, element } = &l.placement {
                let tree = t
                    .svg_of_layer(layer)
                    .ok_or_else(|| t.asset_err(layer, "not an SVG layer"))?;
                if svg::element_box(tree, element).is_none() {
                    let file = svg_file(&t.manifest, layer).unwrap_or_default();
                    let why = t
                        .files
                        .get(&file)
                        .map_or_else(String::new, |bytes| svg::why_no_box(bytes, element));
                    return Err(t.asset_err(
                        &file,
                        format!(
                            "has no element with id `{element}` to place layer `{}` by{why}",
                            l.id
                        ),
                    ));
                }
            }
        }
        Ok(t)
    }

    pub(crate) fn svg_of_layer(&self, layer_id: &str) -> Option<&usvg::Tree> {
        svg_file(&self.manifest, layer_id)
            .and_then(|f| self.svgs.get(&f))
            .map(|t| t.as_ref())
    }

    /// A layer's box in print pixels (scale 1).
    pub(crate) fn layer_rect(&self, l: &template::Layer) -> Rect {
        let pa = &self.manifest.print_area;
        let (cw, ch) = pa.canvas_px();
        match &l.placement {
            Placement::Canvas => Rect::new(0.0, 0.0, cw as f64, ch as f64),
            Placement::Box(b) => Rect::new(pa.px(b.x), pa.px(b.y), pa.px(b.w), pa.px(b.h)),
            Placement::SvgElement { layer, element } => {
                let svg_layer = self.manifest.layer(layer).expect("checked at load");
                let outer = self.layer_rect(svg_layer);
                let tree = self.svg_of_layer(layer).expect("checked at load");
                let (ex, ey, ew, eh) = svg::element_box(tree, element).expect("checked at load");
                let size = tree.size();
                let sx = outer.w / size.width() as f64;
                let sy = outer.h / size.height() as f64;
                Rect::new(outer.x + ex * sx, outer.y + ey * sy, ew * sx, eh * sy)
            }
        }
    }
}

/// The slot's font family must be in the font folder, with an italic face when the slot asks
/// for italic (otherwise it would print upright with no word). Fails with the key and why.
fn check_font(r: &Renderer, slot: &template::TextSlot) -> Result<(), (&'static str, String)> {
    if !r.fonts.has_family(&slot.font) {
        return Err((
            "font",
            format!(
                "font family `{}` is not in the font folder {}; the families there are: {}",
                slot.font,
                r.fonts.dir().display(),
                r.fonts.families().join(", ")
            ),
        ));
    }
    if slot.italic && !r.fonts.has_italic(&slot.font) {
        let with: Vec<String> = r
            .fonts
            .families()
            .into_iter()
            .filter(|f| r.fonts.has_italic(f))
            .collect();
        return Err((
            "italic",
            format!(
                "font family `{}` has no italic face in the font folder, so the text would print \
                 upright; drop `italic` or use a family with one ({})",
                slot.font,
                if with.is_empty() {
                    "none has".to_string()
                } else {
                    with.join(", ")
                }
            ),
        ));
    }
    Ok(())
}

fn svg_file(m: &Manifest, layer_id: &str) -> Option<String> {
    match &m.layer(layer_id)?.kind {
        LayerKind::Svg { file } => Some(file.clone()),
        _ => None,
    }
}
