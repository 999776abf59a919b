//! SVG artwork is designer input from tools we do not control: it must reach no file outside
//! its template folder and nothing on the network, must not take the process down when the SVG
//! engine fails on it, and must be refused by name when it does not parse.

use crate::common::{TempTemplate, is_red, never, px, renderer, solid_png};
use renderer::{Input, RenderError, Rendered, Scale, Severity};
use std::net::TcpListener;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A 200 x 100 px canvas with one SVG layer covering it.
const TEMPLATE: &str = r#"
id = "svg"
[print_area]
width = 200
height = 100
unit = "px"

[[layers]]
id = "art"
kind = "svg"
file = "art.svg"
"#;

/// An SVG with a control image that must draw (red, inside the template, at x 0..50) and a
/// hostile one that must not (at x 100..150).
fn svg_with(href: &str) -> String {
    let href = href.replace('&', "&amp;").replace('"', "&quot;");
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="200" height="100" viewBox="0 0 200 100">
  <image href="inside.png" x="0" y="0" width="50" height="50"/>
  <image href="{href}" x="100" y="0" width="50" height="50"/>
  <image xlink:href="{href}" x="100" y="50" width="50" height="50"/>
</svg>"#
    )
}

/// A template whose art.svg points `href` at a green "secret" PNG beside the template folder.
fn template_reaching_for(href_for: impl Fn(&TempTemplate) -> String) -> (TempTemplate, String) {
    let t = TempTemplate::new(TEMPLATE);
    std::fs::write(t.outside().join("secret.png"), solid_png(8, 8, [0, 255, 0])).expect("secret");
    t.write("inside.png", &solid_png(8, 8, [255, 0, 0]));
    let href = href_for(&t);
    t.write("art.svg", svg_with(&href).as_bytes());
    (t, href)
}

fn render(t: &TempTemplate) -> Rendered {
    let r = renderer();
    let tpl = r
        .load_template(&t.dir())
        .unwrap_or_else(|e| panic!("template loads: {e}"));
    r.render(&tpl, &Input::default(), Scale::Print, &never)
        .unwrap_or_else(|e| panic!("renders: {e}"))
}

/// The control image drew; nothing drew where the hostile images would be.
fn assert_only_control_drawn(out: &Rendered, href: &str) {
    assert!(
        is_red(&px(out, 25, 25)),
        "{href}: the control image inside the template draws"
    );
    for (x, y) in [(125, 25), (125, 75), (101, 1), (149, 99)] {
        assert_eq!(
            px(out, x, y),
            [0, 0, 0, 0],
            "{href}: nothing drawn at ({x}, {y})"
        );
    }
    let green = out
        .canvas
        .data()
        .chunks_exact(4)
        .filter(|p| p[1] > 0 && p[0] == 0)
        .count();
    assert_eq!(green, 0, "{href}: the secret's green reached the canvas");
}

/// The refused image is a preflight warning naming the SVG, the layer and the href (both the
/// `href` and the `xlink:href` element), not a silent omission; the control image is not named.
fn assert_refusal_reported(out: &Rendered, href: &str) {
    let found: Vec<_> = out.preflight.with_code("svg_image_refused").collect();
    assert_eq!(found.len(), 2, "{href}: {found:?}");
    for f in found {
        assert_eq!(f.severity, Severity::Warning, "{href}");
        assert_eq!(f.layer.as_deref(), Some("art"), "{href}");
        assert!(
            f.message.contains("art.svg") && !f.message.contains("inside.png"),
            "{href}: {}",
            f.message
        );
        assert_eq!(f.details["href"], href, "{href}: {}", f.message);
    }
}

#[test]
fn image_hrefs_outside_the_template_are_not_drawn() {
    type HrefFor = Box<dyn Fn(&TempTemplate) -> String>;
    let hrefs: Vec<HrefFor> = vec![
        Box::new(|_| "../secret.png".to_string()),
        Box::new(|_| "sub/../../secret.png".to_string()),
        Box::new(|t| t.outside().join("secret.png").display().to_string()),
        Box::new(|t| format!("file://{}", t.outside().join("secret.png").display())),
        Box::new(|_| "/etc/passwd".to_string()),
        Box::new(|_| "file:///etc/passwd".to_string()),
        Box::new(|_| "\\\\server\\share\\secret.png".to_string()),
    ];
    for href_for in hrefs {
        let (t, href) = template_reaching_for(href_for);
        std::fs::create_dir(t.dir().join("sub")).expect("sub");
        let out = render(&t);
        assert_only_control_drawn(&out, &href);
        assert_refusal_reported(&out, &href);
    }
}

#[cfg(unix)]
#[test]
fn a_symlink_out_of_the_template_is_not_followed() {
    let (t, href) = template_reaching_for(|_| "link.png".to_string());
    std::os::unix::fs::symlink(t.outside().join("secret.png"), t.dir().join("link.png"))
        .expect("symlink");
    let out = render(&t);
    assert_only_control_drawn(&out, &href);
    assert_refusal_reported(&out, &href);
}

#[test]
fn network_hrefs_are_never_fetched() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    for href in [
        format!("http://127.0.0.1:{port}/x.png"),
        format!("https://127.0.0.1:{port}/x.png"),
        format!("//127.0.0.1:{port}/x.png"),
    ] {
        let (t, href) = template_reaching_for(|_| href.clone());
        let out = render(&t);
        assert_only_control_drawn(&out, &href);
        assert_refusal_reported(&out, &href);
    }
    // Any connection attempt made while parsing or drawing would be waiting in the backlog now.
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(e) => panic!("accept: {e}"),
        Ok((_, peer)) => panic!("the renderer connected to the network (from {peer})"),
    }
}

#[test]
fn an_emoji_tspan_does_not_take_the_process_down() {
    // resvg's own text engine has panicked on emoji in a tspan; the renderer must contain it.
    for family in ["Noto Sans", "Noto Color Emoji", "DejaVu Sans"] {
        let t = TempTemplate::new(TEMPLATE);
        let svg = format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100" viewBox="0 0 200 100">
  <rect x="0" y="0" width="10" height="10" fill="#FF0000"/>
  <text x="20" y="60" font-family="{family}" font-size="40">Hi <tspan fill="blue">&#x1F600;</tspan><tspan>&#x1F44D;&#x1F3FD; x</tspan></text>
</svg>"##
        );
        t.write("art.svg", svg.as_bytes());
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let r = renderer();
            let tpl = r.load_template(&t.dir())?;
            r.render(&tpl, &Input::default(), Scale::Print, &never)
        }));
        match outcome {
            Err(_) => panic!("{family}: a panic escaped the renderer"),
            Ok(Ok(out)) => {
                assert_eq!((out.canvas.width(), out.canvas.height()), (200, 100));
                assert!(
                    is_red(&px(&out, 5, 5)),
                    "{family}: the rest of the artwork still draws"
                );
            }
            Ok(Err(e)) => assert!(
                e.to_string().contains("art.svg"),
                "{family}: the error names the file: {e}"
            ),
        }
    }
}

#[test]
fn a_malformed_svg_is_refused_by_name() {
    for (svg, why) in [
        (
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><rect></svg>",
            "unclosed tag",
        ),
        ("this is not XML at all", "not XML"),
        ("", "empty"),
        (
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"0\" height=\"0\"></svg>",
            "zero size",
        ),
        ("<html><body>not svg</body></html>", "not SVG"),
    ] {
        let t = TempTemplate::new(TEMPLATE);
        t.write("art.svg", svg.as_bytes());
        let outcome = catch_unwind(AssertUnwindSafe(|| t.load()));
        let err = match outcome {
            Err(_) => panic!("{why}: panicked"),
            Ok(Ok(_)) => panic!("{why}: loaded"),
            Ok(Err(e)) => e,
        };
        assert!(matches!(err, RenderError::Asset { .. }), "{why}: {err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("art.svg") && msg.contains("invalid SVG"),
            "{why}: {msg}"
        );
        assert!(msg.starts_with("template svg: art.svg: "), "{why}: {msg}");
    }
}

#[test]
fn an_svg_over_the_size_limit_is_refused_unparsed() {
    let t = TempTemplate::new(TEMPLATE);
    let mut svg =
        String::from(r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">"#);
    while svg.len() < 4096 {
        svg.push_str(r#"<rect width="1" height="1"/>"#);
    }
    svg.push_str("</svg>");
    t.write("art.svg", svg.as_bytes());
    let r = crate::common::renderer_with(renderer::Limits {
        max_svg_bytes: 1024,
        ..Default::default()
    });
    let msg = r
        .load_template(&t.dir())
        .err()
        .expect("refused")
        .to_string();
    assert!(
        msg.contains("art.svg") && msg.contains("the limit is 1024"),
        "{msg}"
    );
}

/// Standard base64, for `data:` URLs.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[test]
fn an_image_bomb_inside_the_template_is_not_decoded_by_the_svg() {
    // The same 900-megapixel PNG the photo path refuses from its header, reached through an SVG
    // `<image>` as a file inside the template.
    let bomb = crate::common::photo("bomb.png");
    let (t, href) = template_reaching_for(|_| "bomb.png".to_string());
    t.write("bomb.png", &bomb);
    let started = std::time::Instant::now();
    let out = render(&t);
    let took = started.elapsed();
    assert_only_control_drawn(&out, &href);
    assert!(
        took < std::time::Duration::from_millis(1500),
        "took {took:?}: the bomb was decoded"
    );
}

#[test]
fn svg_data_url_images_obey_the_pixel_limit() {
    // A 240 x 320 PNG against a 10,000-pixel limit, once as a template file (refused, like
    // photos) and once inline as a data: URL, which must be refused the same way. (The real
    // 900 MP bomb as a data URL takes ~30 s and ~4 GB to draw when it is not refused.)
    let limits = renderer::Limits {
        max_pixels: 10_000,
        ..Default::default()
    };
    let r = crate::common::renderer_with(limits);
    let card = crate::common::photo("rgb8.png");
    for (what, href) in [
        ("file", "card.png".to_string()),
        (
            "data URL",
            format!("data:image/png;base64,{}", base64(&card)),
        ),
    ] {
        let (t, _) = template_reaching_for(|_| href.clone());
        t.write("card.png", &card);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let tpl = r.load_template(&t.dir())?;
            r.render(&tpl, &Input::default(), Scale::Print, &never)
        }));
        match outcome {
            Err(_) => panic!("{what}: panicked"),
            Ok(Ok(out)) => assert_only_control_drawn(&out, what),
            Ok(Err(e)) => assert!(e.to_string().contains("art.svg"), "{what}: {e}"),
        }
    }
}

#[test]
fn images_drawn_inside_an_svg_are_hashed_into_the_render_record() {
    let (t, _) = template_reaching_for(|_| "../secret.png".to_string());
    let out = render(&t);
    let inside = solid_png(8, 8, [255, 0, 0]);
    assert_eq!(
        out.record.assets.get("inside.png"),
        Some(&renderer::sha256_hex(&inside)),
        "assets: {:?}",
        out.record.assets
    );
    assert!(out.record.assets.contains_key("art.svg"));
    assert!(
        !out.record.assets.keys().any(|k| k.contains("secret")),
        "a refused image is no asset: {:?}",
        out.record.assets
    );

    // Changing only the linked image changes the record.
    t.write("inside.png", &solid_png(8, 8, [254, 0, 0]));
    let again = render(&t);
    assert_ne!(
        out.record.assets.get("inside.png"),
        again.record.assets.get("inside.png")
    );
}

#[test]
fn an_absolute_link_as_inkscape_writes_it_is_named_with_the_fix() {
    let (t, href) = template_reaching_for(|t| t.dir().join("inside.png").display().to_string());
    let out = render(&t);
    let f = out
        .preflight
        .with_code("svg_image_refused")
        .next()
        .unwrap_or_else(|| panic!("{href}: no warning"));
    assert!(
        f.message.contains(&href)
            && f.message.contains("absolute path")
            && f.message.contains("relative"),
        "{}",
        f.message
    );
}
