//! The editor's live-preview path: the standard workload template re-rendered at 1000 px wide in
//! a warm process (fonts loaded, template and photo decoded and cached), then encoded as the
//! preview JPEG. Goal: under 100 ms. `cargo bench -p renderer --bench preview`

use criterion::{Criterion, criterion_group, criterion_main};
use renderer::{FontLibrary, Input, Limits, Renderer, Scale};
use std::path::Path;
use std::sync::Arc;

fn preview(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fonts = Arc::new(FontLibrary::load(&root.join("fonts")).unwrap());
    let r = Renderer::new(fonts, Limits::default()).with_asset_cache();
    let dir = root.join("fixtures/templates/workload");
    let t = r.load_template(&dir).unwrap();
    let mut input = Input::default();
    input.values.insert("names".into(), "Sarah & James".into());
    input.values.insert("year".into(), "2026".into());
    input.values.insert("photo".into(), "photo.jpg".into());
    input.photos.insert(
        "photo".into(),
        Arc::new(std::fs::read(dir.join("photo.jpg")).unwrap()),
    );
    let never = || false;
    let mut g = c.benchmark_group("live_preview");
    g.sample_size(20);
    g.bench_function("workload_1000px_render_and_jpeg", |b| {
        b.iter(|| {
            // A merchant's edit: the names change on every keystroke.
            let out = r.render(&t, &input, Scale::Width(1000), &never).unwrap();
            let mut jpeg = Vec::with_capacity(300_000);
            out.write_preview(1000, &mut jpeg).unwrap();
            jpeg
        })
    });
    g.finish();
}

criterion_group!(benches, preview);
criterion_main!(benches);
