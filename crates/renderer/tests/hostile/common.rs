//! Helpers shared by the hostile-input tests: fixture paths, one font library per process,
//! temporary template folders, and pixel probes.

use renderer::{FontLibrary, Input, Limits, RenderError, Rendered, Renderer, Scale, Template};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tempfile::TempDir;

/// The workspace root (this crate is `crates/renderer`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn photos_dir() -> PathBuf {
    root().join("fixtures/photos")
}

/// The bytes of a file in `fixtures/photos`.
pub fn photo(name: &str) -> Vec<u8> {
    let path = photos_dir().join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run fixtures/photos/make.py)", path.display()))
}

/// The project's font folder, loaded once for the whole test binary.
pub fn fonts() -> Arc<FontLibrary> {
    static FONTS: OnceLock<Arc<FontLibrary>> = OnceLock::new();
    FONTS
        .get_or_init(|| Arc::new(FontLibrary::load(&root().join("fonts")).expect("fonts/ loads")))
        .clone()
}

pub fn renderer() -> Renderer {
    Renderer::new(fonts(), Limits::default())
}

pub fn renderer_with(limits: Limits) -> Renderer {
    Renderer::new(fonts(), limits)
}

/// A `should_stop` that never stops.
pub fn never() -> bool {
    false
}

/// A template folder in a temporary directory. The folder is `<tmp>/tpl`, so tests can put
/// "secret" files beside it in `<tmp>` that the template must not reach.
pub struct TempTemplate {
    pub tmp: TempDir,
}

impl TempTemplate {
    pub fn new(manifest: &str) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(tmp.path().join("tpl")).expect("template dir");
        let t = TempTemplate { tmp };
        t.write("template.toml", manifest.as_bytes());
        t
    }

    /// The template folder.
    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("tpl")
    }

    /// The folder holding the template folder (outside the template).
    pub fn outside(&self) -> PathBuf {
        self.tmp.path().to_path_buf()
    }

    /// Writes a file inside the template folder.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> &Self {
        std::fs::write(self.dir().join(rel), bytes).expect("write template file");
        self
    }

    pub fn load(&self) -> Result<Template, RenderError> {
        renderer().load_template(&self.dir())
    }
}

/// Renders at a low DPI with no stop.
pub fn render_at_30dpi(r: &Renderer, t: &Template, input: &Input) -> Result<Rendered, RenderError> {
    r.render(t, input, Scale::Dpi(30.0), &never)
}

/// Premultiplied RGBA of one canvas pixel.
pub fn px(r: &Rendered, x: u32, y: u32) -> [u8; 4] {
    let c = &r.canvas;
    assert!(
        x < c.width() && y < c.height(),
        "({x}, {y}) is outside the {} x {} canvas",
        c.width(),
        c.height()
    );
    let i = (y as usize * c.width() as usize + x as usize) * 4;
    let d = c.data();
    [d[i], d[i + 1], d[i + 2], d[i + 3]]
}

/// True for a clearly red colour (channels 0..=255, straight or premultiplied opaque).
pub fn is_red(p: &[u8]) -> bool {
    p[0] > 200 && p[1] < 60 && p[2] < 60
}

/// True for a near-white colour.
pub fn is_white(p: &[u8]) -> bool {
    p[0] > 225 && p[1] > 225 && p[2] > 225
}

/// A one-colour opaque PNG (for template assets and SVG image targets).
pub fn solid_png(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().expect("png header");
        let data: Vec<u8> = (0..w * h).flat_map(|_| rgb).collect();
        wr.write_image_data(&data).expect("png data");
    }
    out
}

/// The system allocator, remembering the largest single allocation: a render's memory is
/// dominated by its largest buffer, so this bounds it without an OS-specific probe.
struct LargestAlloc;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged; only records sizes.
unsafe impl GlobalAlloc for LargestAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LargestAlloc = LargestAlloc;

/// Runs `f` and returns the largest single allocation made meanwhile, by any thread (tests
/// running in parallel allocate at most a few MB at a time, so use thresholds well above that).
pub fn largest_allocation_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    LARGEST.store(0, Ordering::SeqCst);
    let out = f();
    (out, LARGEST.load(Ordering::SeqCst))
}

/// A hand-made GIF: a `screen` of the given size and one frame at `at` claiming `size`, whose
/// image data is a single red pixel (palette: 0 blue, 1 red). A 1 x 1 frame is complete; a
/// larger one is short of data (for frames that must be refused before decoding).
pub fn one_pixel_gif(screen: (u16, u16), at: (u16, u16), size: (u16, u16)) -> Vec<u8> {
    let le = |v: u16| v.to_le_bytes();
    let mut g = b"GIF89a".to_vec();
    g.extend(le(screen.0));
    g.extend(le(screen.1));
    // A 2-entry global palette, no background colour, square pixels.
    g.extend([0x80, 0, 0]);
    g.extend([0, 0, 255, 255, 0, 0]);
    g.push(0x2C);
    for v in [at.0, at.1, size.0, size.1] {
        g.extend(le(v));
    }
    g.push(0);
    // LZW, minimum code size 2: clear (4), index 1, end (5) in 3-bit codes.
    g.extend([0x02, 0x02, 0x4C, 0x01, 0x00]);
    g.push(0x3B);
    g
}
