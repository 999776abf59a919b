//! SVG artwork and masks, parsed so that they can reach nothing outside their template folder.
//!
//! usvg resolves `<image href>` to any local path by default; we replace the resolver so that
//! only files inside the template folder (and `data:` URLs) load, and nothing from a network.
//! usvg has panicked on some text input, so parsing and drawing run under `catch_unwind`.

use crate::fonts::FontLibrary;
use crate::image_io::Limits;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use usvg::ImageKind;

/// Parses SVG bytes from a template folder.
pub fn parse(
    bytes: &[u8],
    template_dir: &Path,
    fonts: &FontLibrary,
    limits: &Limits,
) -> Result<usvg::Tree, String> {
    if bytes.len() as u64 > limits.max_svg_bytes {
        return Err(format!(
            "the SVG is {} bytes; the limit is {}",
            bytes.len(),
            limits.max_svg_bytes
        ));
    }
    let root: PathBuf = template_dir
        .canonicalize()
        .map_err(|e| format!("template folder: {e}"))?;
    let limits = *limits;
    let resolver_root = root.clone();
    let options = usvg::Options {
        resources_dir: Some(root),
        fontdb: fonts.svg_db(),
        font_family: "Noto Sans".to_string(),
        image_href_resolver: usvg::ImageHrefResolver {
            // Inline images obey the same size limits as any other image.
            resolve_data: Box::new(
                move |_mime: &str, data: Arc<Vec<u8>>, _opts: &usvg::Options| {
                    match crate::image_io::probe(&data, &limits).ok()?.0 {
                        image::ImageFormat::Png => Some(ImageKind::PNG(data)),
                        image::ImageFormat::Jpeg => Some(ImageKind::JPEG(data)),
                        _ => None,
                    }
                },
            ),
            resolve_string: Box::new(move |href: &str, _opts: &usvg::Options| {
                resolve_local_image(&resolver_root, href, &limits)
            }),
        },
        ..usvg::Options::default()
    };
    let result = catch_unwind(AssertUnwindSafe(|| usvg::Tree::from_data(bytes, &options)));
    match result {
        Ok(Ok(tree)) => Ok(tree),
        Ok(Err(e)) => Err(format!("invalid SVG: {e}")),
        Err(_) => Err("the SVG could not be parsed (the SVG engine failed on it)".to_string()),
    }
}

/// Only a relative path that stays inside the template folder, to a PNG or JPEG within limits.
fn resolve_local_image(root: &Path, href: &str, limits: &Limits) -> Option<ImageKind> {
    if href.contains("://") || href.starts_with('/') || href.starts_with('\\') || href.contains(':')
    {
        return None;
    }
    let path = root.join(href).canonicalize().ok()?;
    if !path.starts_with(root) {
        return None;
    }
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > limits.max_bytes {
        return None;
    }
    let data = std::fs::read(&path).ok()?;
    match crate::image_io::probe(&data, limits).ok()?.0 {
        image::ImageFormat::Png => Some(ImageKind::PNG(Arc::new(data))),
        image::ImageFormat::Jpeg => Some(ImageKind::JPEG(Arc::new(data))),
        _ => None,
    }
}

/// Draws a tree over a pixmap with the given transform, turning an engine panic into an error.
pub fn draw(
    tree: &usvg::Tree,
    transform: tiny_skia::Transform,
    pixmap: &mut tiny_skia::PixmapMut,
) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| resvg::render(tree, transform, pixmap)))
        .map_err(|_| "the SVG engine failed while drawing".to_string())
}

/// The transform that stretches the tree's size onto a pixel rectangle.
pub fn fit_transform(tree: &usvg::Tree, x: f64, y: f64, w: f64, h: f64) -> tiny_skia::Transform {
    let size = tree.size();
    tiny_skia::Transform::from_row(
        (w / size.width() as f64) as f32,
        0.0,
        0.0,
        (h / size.height() as f64) as f32,
        x as f32,
        y as f32,
    )
}

/// The bounding box of element `id`, in the tree's own units.
pub fn element_box(tree: &usvg::Tree, id: &str) -> Option<(f64, f64, f64, f64)> {
    let r = tree.node_by_id(id)?.abs_bounding_box();
    Some((
        r.x() as f64,
        r.y() as f64,
        r.width() as f64,
        r.height() as f64,
    ))
}

use resvg::tiny_skia;
