//! Same inputs, same pixels: every time, and at any thread count.

use crate::common::*;
use renderer::Scale;
use sha2::{Digest, Sha256};

fn canvas_hash(threads: usize, name: &str, scale: Scale) -> String {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let (_, _, out) = render_fixture(name, scale);
        hex::encode(Sha256::digest(out.canvas.data()))
    })
}

#[test]
fn pixels_do_not_depend_on_thread_count() {
    for (name, scale) in [
        ("pet-portrait", Scale::Dpi(150.0)),
        ("workload", Scale::Width(900)),
    ] {
        let one = canvas_hash(1, name, scale);
        assert_eq!(one, canvas_hash(3, name, scale), "{name}: 1 vs 3 threads");
        assert_eq!(one, canvas_hash(2, name, scale), "{name}: 1 vs 2 threads");
    }
}

#[test]
fn rendering_twice_gives_identical_bytes() {
    let a = canvas_hash(2, "multilingual-names", Scale::Dpi(50.0));
    let b = canvas_hash(2, "multilingual-names", Scale::Dpi(50.0));
    assert_eq!(a, b);
}
