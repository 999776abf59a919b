//! Files the renderer must refuse, with a reason a merchant can act on, without panicking; and
//! over-limit files refused from their header, before a single pixel is decoded.

use crate::common::{
    TempTemplate, largest_allocation_during, one_pixel_gif, photo, render_at_30dpi, renderer,
    renderer_with, solid_png,
};
use renderer::{Input, Limits, RenderError, decode_image};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Decodes under `catch_unwind`, so a panic fails the test with the file's name.
fn refuse(name: &str, bytes: &[u8], limits: &Limits) -> String {
    let result = catch_unwind(AssertUnwindSafe(|| decode_image(bytes, limits)));
    match result {
        Err(_) => panic!("{name}: decode_image panicked"),
        Ok(Ok(d)) => panic!(
            "{name}: decoded as {} x {} instead of being refused",
            d.width, d.height
        ),
        Ok(Err(e)) => e,
    }
}

fn assert_mentions(name: &str, msg: &str, needles: &[&str]) {
    for n in needles {
        assert!(
            msg.contains(n),
            "{name}: error `{msg}` should mention `{n}`"
        );
    }
}

#[test]
fn hostile_files_are_refused_with_a_reason() {
    let cases: &[(&str, &[&str])] = &[
        ("truncated.png", &["corrupt or truncated", "PNG"]),
        (
            "truncated.webp",
            &["corrupt or truncated WebP", "4444 bytes", "says 8888"],
        ),
        ("empty.jpg", &["the file is empty"]),
        (
            "random.jpg",
            &["not an image we recognise (first bytes: ", ASK_CUSTOMER],
        ),
        // "This is " in hex.
        (
            "text.png",
            &["not an image we recognise (first bytes: 54 68 69 73 20 69 73 20)"],
        ),
        (
            "bomb.png",
            &["30000 x 30000", "900.0 MP", "limit is 100.0 MP"],
        ),
        (
            "huge.jpg",
            &["65000 x 65000", "4225.0 MP", "limit is 100.0 MP"],
        ),
        (
            "huge.gif",
            &["50000 x 50000", "2500.0 MP", "limit is 100.0 MP"],
        ),
    ];
    for (name, needles) in cases {
        let msg = refuse(name, &photo(name), &Limits::default());
        assert_mentions(name, &msg, needles);
        assert!(!msg.contains('\n'), "{name}: one line, got `{msg}`");
    }
}

/// The advice every refused format ends with, for the merchant.
const ASK_CUSTOMER: &str = "ask the customer for a JPEG, PNG, WebP or GIF";

#[test]
fn formats_that_are_not_accepted_are_named() {
    let cases = [
        (
            "iphone.heic",
            "HEIC images (iPhone photos) are not accepted",
        ),
        ("photo.avif", "AVIF images are not accepted"),
        ("order.pdf", "PDF documents are not accepted"),
        ("drawing.svg", "SVG drawings are not accepted"),
        (
            "tiny.tif",
            "TIFF images (and camera RAW files) are not accepted",
        ),
        ("tiny.bmp", "BMP images are not accepted"),
    ];
    for (name, named) in cases {
        let msg = refuse(name, &photo(name), &Limits::default());
        assert_eq!(msg, format!("{named}; {ASK_CUSTOMER}"), "{name}");
    }
}

#[test]
fn truncated_jpeg_is_refused_not_padded() {
    // The first half of baseline.jpg: the decoder fills the missing rows with grey and returns
    // a whole image, so a half-uploaded customer photo would print half grey.
    let msg = refuse("truncated.jpg", &photo("truncated.jpg"), &Limits::default());
    assert_mentions("truncated.jpg", &msg, &["truncated", "JPEG"]);
}

#[test]
fn oversized_headers_are_refused_before_decoding() {
    // bomb.png is a real, complete 900-megapixel PNG: decoding it would allocate ~900 MB and take
    // seconds. huge.jpg has a 65000 x 65000 header over a 240 x 320 body: decoding it would fail
    // as corrupt, so an error about megapixels shows the header check came first. huge.gif is a
    // 64 x 48 GIF whose screen claims 50000 x 50000: decoding it would allocate 10 GB.
    for name in ["bomb.png", "huge.jpg", "huge.gif"] {
        let bytes = photo(name);
        let started = Instant::now();
        let msg = refuse(name, &bytes, &Limits::default());
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "{name}: took {took:?}, so it was decoded"
        );
        assert!(
            msg.contains("MP") && !msg.contains("corrupt"),
            "{name}: {msg}"
        );
    }
}

#[test]
fn a_gif_frame_larger_than_its_screen_is_refused_without_allocating_it() {
    // The header check sees a 1 x 1 screen; the frame inside claims 60000 x 60000 (14 GB as
    // RGBA). The decoder's allocation limit, sized from the screen, refuses it.
    let gif = one_pixel_gif((1, 1), (0, 0), (60000, 60000));
    let (msg, largest) =
        largest_allocation_during(|| refuse("big frame", &gif, &Limits::default()));
    assert!(
        largest < 64 << 20,
        "largest allocation {largest} bytes for a 1 x 1 GIF"
    );
    assert_mentions(
        "big frame",
        &msg,
        &["corrupt GIF", "more memory than a 1 x 1 image"],
    );
}

#[test]
fn limits_are_the_callers() {
    let jpeg = photo("baseline.jpg");
    let small_bytes = Limits {
        max_bytes: 1000,
        ..Limits::default()
    };
    let msg = refuse("byte limit", &jpeg, &small_bytes);
    assert_mentions(
        "byte limit",
        &msg,
        &[&format!("{} bytes", jpeg.len()), "the limit is 1000"],
    );

    // 240 x 320 = 76,800 pixels against a 50,000-pixel limit.
    let small_pixels = Limits {
        max_pixels: 50_000,
        ..Limits::default()
    };
    for name in ["baseline.jpg", "rgb8.png", "orientation-6.jpg"] {
        let msg = refuse(name, &photo(name), &small_pixels);
        assert!(msg.contains(" MP; the limit is "), "{name}: {msg}");
        assert!(
            msg.contains("240 x 320") || msg.contains("320 x 240"),
            "{name}: {msg}"
        );
    }
    // Right at the limit is fine.
    let exact = Limits {
        max_pixels: 240 * 320,
        ..Limits::default()
    };
    assert!(decode_image(&jpeg, &exact).is_ok());
}

const SLOT_TEMPLATE: &str = r#"
id = "slot"
[print_area]
width = 2
height = 2
unit = "in"

[[fields]]
id = "photo"
kind = "photo"

[[layers]]
kind = "photo"
field = "photo"
box = [0, 0, 2, 2]
"#;

#[test]
fn a_hostile_photo_fails_the_render_naming_the_field() {
    let t = TempTemplate::new(SLOT_TEMPLATE);
    let r = renderer();
    let tpl = r.load_template(&t.dir()).expect("template loads");
    for (name, needle) in [
        ("bomb.png", "MP"),
        ("truncated.png", "truncated"),
        ("random.jpg", "not an image we recognise"),
        ("truncated.webp", "corrupt or truncated WebP"),
        ("huge.gif", "MP"),
        (
            "iphone.heic",
            "HEIC images (iPhone photos) are not accepted; ask the customer for a JPEG, PNG, WebP or GIF",
        ),
    ] {
        let mut input = Input::default();
        input.values.insert("photo".into(), name.into());
        input.photos.insert("photo".into(), Arc::new(photo(name)));
        let result = catch_unwind(AssertUnwindSafe(|| render_at_30dpi(&r, &tpl, &input)));
        let err = match result {
            Err(_) => panic!("{name}: render panicked"),
            Ok(Ok(_)) => panic!("{name}: rendered"),
            Ok(Err(e)) => e,
        };
        assert!(
            matches!(&err, RenderError::Photo { field, .. } if field == "photo"),
            "{name}: {err:?}"
        );
        assert!(err.is_input_error() && !err.is_retryable(), "{name}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("photo for field `photo`: ") && msg.contains(needle),
            "{name}: {msg}"
        );
    }

    // A photo value with no bytes behind it is an error too, not an empty slot.
    let mut input = Input::default();
    input.values.insert("photo".into(), "lost.jpg".into());
    let err = render_at_30dpi(&r, &tpl, &input).err().expect("refused");
    assert!(err.to_string().contains("were not provided"), "{err}");
}

#[test]
fn a_hostile_template_asset_fails_the_load_naming_the_file() {
    // The designer is told what to save the file as (there is no customer to ask).
    for (name, needle) in [
        ("bomb.png", "MP"),
        ("huge.gif", "MP"),
        (
            "text.png",
            "not an image we recognise (first bytes: 54 68 69 73 20 69 73 20); save it as a PNG, JPEG, WebP or GIF",
        ),
        (
            "iphone.heic",
            "HEIC images (iPhone photos) are not accepted; save it as a PNG, JPEG, WebP or GIF",
        ),
        ("order.pdf", "PDF documents are not accepted"),
    ] {
        let manifest = format!(
            "id = \"art\"\n[print_area]\nwidth = 100\nheight = 100\nunit = \"px\"\n\n[[layers]]\nkind = \"raster\"\nfile = \"{name}\"\n"
        );
        let t = TempTemplate::new(&manifest);
        t.write(name, &photo(name));
        let started = Instant::now();
        let err = t.load().err().unwrap_or_else(|| panic!("{name}: loaded"));
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{name}: refused from the header"
        );
        let msg = err.to_string();
        assert!(matches!(err, RenderError::Asset { .. }), "{name}: {err:?}");
        assert!(msg.contains(name) && msg.contains(needle), "{name}: {msg}");
    }

    // An asset over the byte limit is refused from its size on disk.
    let manifest = "id = \"art\"\n[print_area]\nwidth = 100\nheight = 100\nunit = \"px\"\n\n[[layers]]\nkind = \"raster\"\nfile = \"big.png\"\n";
    let t = TempTemplate::new(manifest);
    let big = solid_png(64, 64, [1, 2, 3]);
    t.write("big.png", &big);
    let r = renderer_with(Limits {
        max_bytes: 100,
        ..Limits::default()
    });
    let msg = r
        .load_template(&t.dir())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        msg.contains("big.png") && msg.contains(&format!("{} bytes; the limit is 100", big.len())),
        "{msg}"
    );
}
