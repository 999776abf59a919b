//! SVG artwork and masks, parsed so that they can reach nothing outside their template folder.
//!
//! usvg resolves `<image href>` to any local path by default; we replace the resolver so that
//! only files inside the template folder (and `data:` URLs) load, and nothing from a network.
//! usvg has panicked on some text input, so parsing and drawing run under `catch_unwind`.

use crate::fonts::FontLibrary;
use crate::image_io::Limits;
use resvg::tiny_skia;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use usvg::ImageKind;

/// What an SVG's `<image>` elements reached for while it was parsed.
#[derive(Debug, Default)]
pub struct SvgImages {
    /// Files inside the template folder that the SVG draws: path relative to the folder -> bytes
    /// (hashed into the render record with the other assets).
    pub loaded: BTreeMap<String, Arc<Vec<u8>>>,
    /// `(href, why)` for every image the sandbox refused to load; the SVG draws without them.
    pub refused: Vec<(String, String)>,
}

/// Parses SVG bytes from a template folder; also returns what its images reached for.
pub fn parse(
    bytes: &[u8],
    template_dir: &Path,
    fonts: &FontLibrary,
    limits: &Limits,
) -> Result<(usvg::Tree, SvgImages), String> {
    if bytes.len() as u64 > limits.max_svg_bytes {
        return Err(format!(
            "the SVG is {} bytes; the limit is {}",
            bytes.len(),
            limits.max_svg_bytes
        ));
    }
    // A byte-order mark (Windows editors write one) is not part of the XML.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let root: PathBuf = template_dir
        .canonicalize()
        .map_err(|e| format!("template folder: {e}"))?;
    let limits = *limits;
    let resolver_root = root.clone();
    let images = Arc::new(Mutex::new(SvgImages::default()));
    let (data_images, file_images) = (images.clone(), images.clone());
    let options = usvg::Options {
        resources_dir: Some(root),
        fontdb: fonts.svg_db(),
        font_family: "Noto Sans".to_string(),
        image_href_resolver: usvg::ImageHrefResolver {
            // Inline images obey the same size limits as any other image.
            resolve_data: Box::new(
                move |mime: &str, data: Arc<Vec<u8>>, _opts: &usvg::Options| {
                    let kind = match crate::image_io::probe(&data, &limits) {
                        Ok((image::ImageFormat::Png, ..)) => Ok(ImageKind::PNG(data)),
                        Ok((image::ImageFormat::Jpeg, ..)) => Ok(ImageKind::JPEG(data)),
                        Ok(_) => Err("not a PNG or JPEG".to_string()),
                        Err(e) => Err(e),
                    };
                    kind.map_err(|why| {
                        lock(&data_images)
                            .refused
                            .push((format!("data:{mime} URL"), why))
                    })
                    .ok()
                },
            ),
            resolve_string: Box::new(move |href: &str, _opts: &usvg::Options| {
                match resolve_local_image(&resolver_root, href, &limits) {
                    Ok((rel, kind, data)) => {
                        lock(&file_images).loaded.insert(rel, data);
                        Some(kind)
                    }
                    Err(why) => {
                        lock(&file_images).refused.push((href.to_string(), why));
                        None
                    }
                }
            }),
        },
        ..usvg::Options::default()
    };
    let result = catch_unwind(AssertUnwindSafe(|| usvg::Tree::from_data(bytes, &options)));
    drop(options); // releases the resolvers' handles on `images`
    let images = Arc::try_unwrap(images)
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .unwrap_or_else(|shared| std::mem::take(&mut *lock(&shared)));
    match result {
        Ok(Ok(tree)) => Ok((tree, images)),
        Ok(Err(e)) => Err(format!("invalid SVG: {e}")),
        Err(_) => Err("the SVG could not be parsed (the SVG engine failed on it)".to_string()),
    }
}

fn lock(m: &Mutex<SvgImages>) -> std::sync::MutexGuard<'_, SvgImages> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Only a relative path that stays inside the template folder, to a PNG or JPEG within limits.
/// Returns the path relative to the folder, the image and its bytes, or why it was refused.
fn resolve_local_image(
    root: &Path,
    href: &str,
    limits: &Limits,
) -> Result<(String, ImageKind, Arc<Vec<u8>>), String> {
    let lower = href.to_ascii_lowercase();
    if !lower.starts_with("file:") && (href.contains("://") || href.starts_with("//")) {
        return Err("a network address: SVG artwork reaches nothing on a network".to_string());
    }
    if href.starts_with('/') || href.starts_with('\\') || href.contains(':') {
        return Err(
            "an absolute path: link images relative to the template folder (Inkscape \
                    writes absolute links unless told otherwise) or embed them"
                .to_string(),
        );
    }
    let path = root
        .join(href)
        .canonicalize()
        .map_err(|e| format!("not found in the template folder ({e})"))?;
    let rel = path
        .strip_prefix(root)
        .map_err(|_| "outside the template folder".to_string())?
        .to_string_lossy()
        .replace('\\', "/");
    let meta = std::fs::metadata(&path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a file".to_string());
    }
    if meta.len() > limits.max_bytes {
        return Err(format!(
            "{} bytes; the limit is {}",
            meta.len(),
            limits.max_bytes
        ));
    }
    let data = Arc::new(std::fs::read(&path).map_err(|e| e.to_string())?);
    match crate::image_io::probe(&data, limits)?.0 {
        image::ImageFormat::Png => Ok((rel, ImageKind::PNG(data.clone()), data)),
        image::ImageFormat::Jpeg => Ok((rel, ImageKind::JPEG(data.clone()), data)),
        _ => Err("not a PNG or JPEG".to_string()),
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

/// Why element `id` has no box in the parsed tree, read from the SVG's XML (the parsed tree keeps
/// only what is drawn): it is not there at all, it is inside `<defs>` or another container that
/// is never drawn in place, or it draws nothing. Starts with "; " when there is more to say.
pub fn why_no_box(bytes: &[u8], id: &str) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Ok(text) = std::str::from_utf8(bytes) else {
        return String::new();
    };
    let Ok(doc) = roxmltree::Document::parse(text) else {
        return String::new();
    };
    let Some(node) = doc.descendants().find(|n| n.attribute("id") == Some(id)) else {
        return String::new();
    };
    let tag = node.tag_name().name();
    const NOT_DRAWN: [&str; 8] = [
        "defs",
        "symbol",
        "clipPath",
        "mask",
        "pattern",
        "marker",
        "linearGradient",
        "radialGradient",
    ];
    if let Some(holder) = node
        .ancestors()
        .skip(1)
        .find(|a| NOT_DRAWN.contains(&a.tag_name().name()))
    {
        return format!(
            "; the <{tag}> with that id is inside <{}>, which is a definition and is never \
             drawn in place, so it has no position on the page: move it out of <{}> (or give \
             the <use> that draws it an id and name that)",
            holder.tag_name().name(),
            holder.tag_name().name()
        );
    }
    if NOT_DRAWN.contains(&tag) {
        return format!(
            "; the element with that id is a <{tag}>, which is a definition and has no position \
             on the page"
        );
    }
    format!(
        "; the <{tag}> with that id draws nothing (it is hidden, empty or has no size), so it \
         has no box"
    )
}
