//! Every photo format customers send decodes at the right size, the right way up, in the right
//! colours, and renders into a photo slot.
//!
//! The "card" fixtures are 240 x 320 (portrait) with a pure red block in the top-left quarter
//! and white in the top-right quarter (see fixtures/photos/make.py). Rotated files store the
//! pixels turned and carry an EXIF Orientation that turns them back.

use crate::common::{
    TempTemplate, is_red, is_white, one_pixel_gif, photo, px, render_at_30dpi, renderer,
};
use renderer::{Decoded, Input, Limits, Pixels, decode_image};
use std::sync::Arc;

/// Straight-ish RGBA of a decoded pixel (RGB gets alpha 255; RGBA stays premultiplied).
fn at(d: &Decoded, x: u32, y: u32) -> [u8; 4] {
    let i = (y * d.width + x) as usize;
    match &d.pixels {
        Pixels::Rgb8(v) => [v[i * 3], v[i * 3 + 1], v[i * 3 + 2], 255],
        Pixels::Rgba8(v) => [v[i * 4], v[i * 4 + 1], v[i * 4 + 2], v[i * 4 + 3]],
    }
}

/// The mean colour of a 20 x 20 patch centred on (x, y): robust to JPEG ringing.
fn patch(d: &Decoded, x: u32, y: u32) -> [u8; 4] {
    let mut sum = [0u32; 4];
    for yy in y - 10..y + 10 {
        for xx in x - 10..x + 10 {
            let p = at(d, xx, yy);
            for c in 0..4 {
                sum[c] += p[c] as u32;
            }
        }
    }
    sum.map(|s| (s / 400) as u8)
}

fn decode(name: &str) -> Decoded {
    decode_image(&photo(name), &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn check_buffer(name: &str, d: &Decoded) {
    let (n, len) = match &d.pixels {
        Pixels::Rgb8(v) => (3, v.len()),
        Pixels::Rgba8(v) => (4, v.len()),
    };
    assert_eq!(
        len,
        d.width as usize * d.height as usize * n,
        "{name}: buffer length"
    );
}

/// Opaque cards: red block top-left, white top-right, portrait 240 x 320 after orientation.
const OPAQUE_CARDS: &[&str] = &[
    "baseline.jpg",
    "progressive.jpg",
    "cmyk.jpg",
    "orientation-3.jpg",
    "orientation-6.jpg",
    "orientation-8.jpg",
    "rgb8.png",
    "palette.png",
    "lossy.webp",
    "lossless.webp",
    // Its first frame; the second is solid blue.
    "animated.gif",
];

#[test]
fn opaque_formats_decode_upright_with_red_top_left() {
    for name in OPAQUE_CARDS {
        let d = decode(name);
        check_buffer(name, &d);
        assert_eq!(
            (d.width, d.height),
            (240, 320),
            "{name}: size after EXIF orientation"
        );
        assert!(
            matches!(d.pixels, Pixels::Rgb8(_)),
            "{name}: an opaque image stays RGB"
        );
        let tl = patch(&d, 60, 80);
        let tr = patch(&d, 180, 80);
        assert!(is_red(&tl), "{name}: top-left should be red, is {tl:?}");
        assert!(
            is_white(&tr),
            "{name}: top-right should be white, is {tr:?}"
        );
        // The bottom half is the photo, not red and not the white card.
        let bl = patch(&d, 60, 240);
        assert!(
            !is_red(&bl) && !is_white(&bl),
            "{name}: bottom-left should be the photo, is {bl:?}"
        );
    }
}

#[test]
fn rotated_jpegs_store_their_pixels_turned() {
    // Guards the fixtures themselves: without the EXIF tag the red block is elsewhere, so the
    // test above really checks that the decoder honours the tag.
    for (name, w, h) in [
        ("orientation-3.jpg", 240, 320),
        ("orientation-6.jpg", 320, 240),
        ("orientation-8.jpg", 320, 240),
    ] {
        let bytes = photo(name);
        let img = image::load_from_memory(&bytes)
            .expect("decodes")
            .into_rgb8();
        assert_eq!(img.dimensions(), (w, h), "{name}: stored size");
        assert!(
            !is_red(&img.get_pixel(20, 20).0),
            "{name}: stored top-left is not the red block"
        );
    }
}

#[test]
fn cmyk_jpeg_is_not_inverted() {
    let d = decode("cmyk.jpg");
    let white = patch(&d, 180, 80);
    let red = patch(&d, 60, 80);
    // An inverted Adobe CMYK decode turns white into black and red into cyan.
    assert!(
        white.iter().take(3).all(|&c| c > 225),
        "white stays white, got {white:?}"
    );
    assert!(
        red[0] > 200 && red[1] < 60 && red[2] < 60,
        "red stays red, got {red:?}"
    );
}

#[test]
fn gray_png_decodes_to_equal_channels() {
    let d = decode("gray.png");
    check_buffer("gray.png", &d);
    assert_eq!((d.width, d.height), (240, 320));
    let Pixels::Rgb8(v) = &d.pixels else {
        panic!("gray decodes to RGB")
    };
    assert!(
        v.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]),
        "every pixel is gray"
    );
    // Red has luma 0.299 * 255 = 76; white stays 255.
    let tl = at(&d, 60, 80);
    assert!((70..=82).contains(&tl[0]), "red block luma, got {tl:?}");
    assert_eq!(at(&d, 180, 80), [255, 255, 255, 255]);
}

#[test]
fn alpha_pngs_8_and_16_bit_decode_premultiplied() {
    for name in ["alpha.png", "rgba16.png"] {
        let d = decode(name);
        check_buffer(name, &d);
        assert_eq!((d.width, d.height), (240, 320), "{name}");
        assert!(
            matches!(d.pixels, Pixels::Rgba8(_)),
            "{name}: transparency keeps an alpha channel"
        );
        assert_eq!(at(&d, 60, 80), [255, 0, 0, 255], "{name}: opaque red");
        // Blue at alpha 128, premultiplied: (0, 0, 128, 128).
        let b = at(&d, 180, 80);
        assert_eq!(b[3], 128, "{name}: alpha of the blue block, got {b:?}");
        assert!(
            b[0] == 0 && b[1] == 0 && (127..=128).contains(&b[2]),
            "{name}: premultiplied blue, got {b:?}"
        );
        assert_eq!(at(&d, 60, 240)[3], 255, "{name}: the photo half is opaque");
    }
}

#[test]
fn palette_png_keeps_its_colours() {
    let d = decode("palette.png");
    // A 16-colour palette: red and white are in it exactly.
    assert_eq!(at(&d, 60, 80), [255, 0, 0, 255]);
    assert_eq!(at(&d, 180, 80), [255, 255, 255, 255]);
}

const SLOT_TEMPLATE: &str = r#"
id = "slot"
[print_area]
width = 3
height = 4
unit = "in"
dpi = 300

[[fields]]
id = "photo"
kind = "photo"
required = true

[[layers]]
id = "portrait"
kind = "photo"
field = "photo"
box = [0, 0, 3, 4]
fit = "cover"
"#;

#[test]
fn every_good_format_renders_into_a_photo_slot() {
    let t = TempTemplate::new(SLOT_TEMPLATE);
    let r = renderer();
    let tpl = r.load_template(&t.dir()).expect("template loads");
    let mut all: Vec<&str> = OPAQUE_CARDS.to_vec();
    all.extend([
        "alpha.png",
        "rgba16.png",
        "gray.png",
        "alpha.webp",
        "lossy-alpha.webp",
    ]);
    for name in all {
        let bytes = photo(name);
        let mut input = Input::default();
        input.values.insert("photo".into(), name.into());
        input.photos.insert("photo".into(), Arc::new(bytes));
        let out = render_at_30dpi(&r, &tpl, &input).unwrap_or_else(|e| panic!("{name}: {e}"));
        // 3 x 4 in at 30 DPI.
        assert_eq!(
            (out.canvas.width(), out.canvas.height()),
            (90, 120),
            "{name}"
        );
        let tl = px(&out, 15, 20);
        let tr = px(&out, 75, 20);
        match name {
            "gray.png" => assert!(
                (65..=88).contains(&tl[0]) && tl[0] == tl[2],
                "{name}: gray red block {tl:?}"
            ),
            _ => assert!(
                is_red(&tl) && tl[3] == 255,
                "{name}: red block lands top-left, got {tl:?}"
            ),
        }
        match name {
            "alpha.png" | "rgba16.png" | "alpha.webp" | "lossy-alpha.webp" => {
                assert!(
                    tr[0] < 10
                        && tr[1] < 10
                        && (118..=138).contains(&tr[2])
                        && (118..=138).contains(&tr[3]),
                    "{name}: {tr:?}"
                )
            }
            _ => assert!(is_white(&tr), "{name}: white top-right, got {tr:?}"),
        }
        // 240 px over 3 in is 80 DPI, below the default minimum of 150: preflight says so.
        let low: Vec<_> = out.preflight.with_code("photo_low_dpi").collect();
        assert_eq!(low.len(), 1, "{name}: {:?}", out.preflight);
        assert_eq!(low[0].details["effective_dpi"], 80.0, "{name}");
        assert_eq!(
            out.record.photos.len(),
            1,
            "{name}: the photo's hash is recorded"
        );
    }
}

#[test]
fn lossless_webps_decode_to_exactly_their_pngs_pixels() {
    // lossless.webp is rgb8.png and alpha.webp is alpha.png, saved losslessly (VP8L).
    for (webp, png) in [("lossless.webp", "rgb8.png"), ("alpha.webp", "alpha.png")] {
        let (w, p) = (decode(webp), decode(png));
        assert_eq!((w.width, w.height), (240, 320), "{webp}");
        match (&w.pixels, &p.pixels) {
            (Pixels::Rgb8(a), Pixels::Rgb8(b)) | (Pixels::Rgba8(a), Pixels::Rgba8(b)) => {
                assert!(a == b, "{webp} and {png} differ")
            }
            _ => panic!("{webp} and {png} decode to different pixel types"),
        }
    }
}

#[test]
fn lossy_webp_with_alpha_decodes_premultiplied() {
    // Lossy colour (VP8) with a lossless alpha chunk (ALPH) in an extended file (VP8X).
    let d = decode("lossy-alpha.webp");
    check_buffer("lossy-alpha.webp", &d);
    assert_eq!((d.width, d.height), (240, 320));
    assert!(matches!(d.pixels, Pixels::Rgba8(_)), "keeps its alpha");
    let red = patch(&d, 60, 80);
    assert!(is_red(&red) && red[3] == 255, "opaque red, got {red:?}");
    // Blue at alpha 128 (exact: the alpha is lossless), premultiplied.
    let b = at(&d, 180, 80);
    assert_eq!(b[3], 128, "alpha of the blue block, got {b:?}");
    assert!(b[0] < 8 && b[1] < 8 && (120..=128).contains(&b[2]), "{b:?}");
}

#[test]
fn animated_gif_has_two_frames_of_different_colours() {
    // Guards the fixture: the test cards above would pass on the second frame only if it were
    // the card, and it is solid blue.
    use image::AnimationDecoder;
    let bytes = photo("animated.gif");
    let frames = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&bytes))
        .expect("a GIF")
        .into_frames()
        .collect_frames()
        .expect("frames decode");
    assert_eq!(frames.len(), 2);
    let first = frames[0].buffer().get_pixel(20, 20).0;
    let second = frames[1].buffer().get_pixel(20, 20).0;
    assert!(is_red(&first), "first frame: red, got {first:?}");
    assert_eq!(second, [0, 0, 255, 255], "second frame: blue");
}

#[test]
fn gif_decodes_its_first_frame_only_and_opaque_stays_rgb() {
    let d = decode("animated.gif");
    assert_eq!((d.width, d.height), (240, 320));
    let Pixels::Rgb8(v) = &d.pixels else {
        panic!("a GIF with no transparent pixel decodes to RGB")
    };
    // Not one pixel of the blue second frame.
    assert!(
        !v.chunks_exact(3).any(|p| p == [0, 0, 255]),
        "the second frame leaked into the decode"
    );
    // The first frame is exactly the card's palette colours: red and white are in it.
    assert_eq!(at(&d, 20, 20), [255, 0, 0, 255]);
    assert_eq!(at(&d, 220, 20), [255, 255, 255, 255]);
    // A plain single-frame GIF decodes too.
    let small = decode("photo.gif");
    assert_eq!((small.width, small.height), (64, 48));
}

#[test]
fn a_gif_frame_smaller_than_its_screen_sits_at_its_offset_on_transparency() {
    // A 3 x 3 screen with one red pixel at (1, 1): the rest of the screen is transparent (the
    // GIF background colour is ignored, as browsers do).
    let d = decode_image(&one_pixel_gif((3, 3), (1, 1), (1, 1)), &Limits::default())
        .expect("a small complete GIF");
    assert_eq!((d.width, d.height), (3, 3));
    assert!(matches!(d.pixels, Pixels::Rgba8(_)), "transparency kept");
    assert_eq!(at(&d, 1, 1), [255, 0, 0, 255]);
    for (x, y) in [(0, 0), (2, 2), (0, 1), (1, 2)] {
        assert_eq!(at(&d, x, y), [0, 0, 0, 0], "({x}, {y})");
    }
}

#[test]
fn webp_and_gif_template_images_load_and_draw() {
    // Template raster layers go through the same checks as photos, so they may be WebP or GIF.
    for name in ["lossy.webp", "animated.gif"] {
        let manifest = format!(
            "id = \"art\"\n[print_area]\nwidth = 240\nheight = 320\nunit = \"px\"\n\n[[layers]]\nkind = \"raster\"\nfile = \"{name}\"\n"
        );
        let t = TempTemplate::new(&manifest);
        t.write(name, &photo(name));
        let r = renderer();
        let tpl = t.load().unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = r
            .render(
                &tpl,
                &Input::default(),
                renderer::Scale::Print,
                &crate::common::never,
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let tl = px(&out, 60, 80);
        assert!(is_red(&tl), "{name}: red top-left, got {tl:?}");
    }
}
