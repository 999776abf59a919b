//! Shared set-up: the project's fonts, the fixture templates and their data files.

use renderer::{FontLibrary, Input, Limits, Rendered, Renderer, Scale, Template};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fonts() -> Arc<FontLibrary> {
    static FONTS: OnceLock<Arc<FontLibrary>> = OnceLock::new();
    FONTS
        .get_or_init(|| Arc::new(FontLibrary::load(&root().join("fonts")).expect("fonts/ loads")))
        .clone()
}

pub fn renderer() -> Renderer {
    Renderer::new(fonts(), Limits::default())
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures/templates").join(name)
}

pub fn never() -> bool {
    false
}

/// The fixture's data.json as render input (photo fields read relative to it).
pub fn fixture_input(r: &Renderer, t: &Template, name: &str) -> Input {
    input_from_json(r, t, &fixture(name).join("data.json"))
}

pub fn input_from_json(_r: &Renderer, t: &Template, path: &Path) -> Input {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut input = Input::default();
    for (k, v) in json.as_object().unwrap() {
        input.values.insert(
            k.clone(),
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string()),
        );
    }
    for f in &t.manifest().fields {
        if f.kind == template::FieldKind::Photo
            && let Some(p) = input.values.get(&f.id)
        {
            let bytes = std::fs::read(path.parent().unwrap().join(p)).unwrap();
            input.photos.insert(f.id.clone(), Arc::new(bytes));
        }
    }
    input
}

/// Loads a fixture and renders its data.json at a scale.
pub fn render_fixture(name: &str, scale: Scale) -> (Renderer, Template, Rendered) {
    let r = renderer();
    let t = r
        .load_template(&fixture(name))
        .expect("fixture template loads");
    let input = fixture_input(&r, &t, name);
    let out = r
        .render(&t, &input, scale, &never)
        .expect("fixture renders");
    (r, t, out)
}

/// Writes a template folder from (file, contents) pairs into a fresh temporary directory.
pub fn temp_template(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    dir
}

/// Bounding box (x0, y0, x1, y1) of pixels whose alpha is over `min_alpha`.
pub fn ink_bbox(pm: &resvg::tiny_skia::Pixmap, min_alpha: u8) -> Option<(u32, u32, u32, u32)> {
    let (w, h) = (pm.width(), pm.height());
    let mut b: Option<(u32, u32, u32, u32)> = None;
    for y in 0..h {
        for x in 0..w {
            if pm.data()[((y * w + x) * 4 + 3) as usize] > min_alpha {
                b = Some(match b {
                    None => (x, y, x, y),
                    Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
                });
            }
        }
    }
    b
}

/// The premultiplied pixel at (x, y).
pub fn pixel(pm: &resvg::tiny_skia::Pixmap, x: u32, y: u32) -> [u8; 4] {
    let i = ((y * pm.width() + x) * 4) as usize;
    pm.data()[i..i + 4].try_into().unwrap()
}
