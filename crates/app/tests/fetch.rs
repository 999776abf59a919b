//! Customer photo downloads cannot reach inside the operator's network: loopback, private,
//! link-local (cloud metadata), CGNAT and other special addresses are refused whatever form the
//! URL takes, after DNS resolution and on every redirect hop, with one message that tells
//! nothing about the target. `app.fetch.allow_hosts` lets chosen hosts through.
//!
//! What was fetched is a photo by its signature (JPEG, PNG, WebP or GIF); anything else is
//! refused naming what it is (HEIC, PDF, SVG...), so the merchant knows what to ask for.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use app::AppError;
use app::fetch::{
    AddressPolicy, FetchSettings, ForeignFormat, ImageKind, UnsupportedImage, fetch_image,
    http_client, is_public, sniff_image,
};
use testkit::StubResponse;
use tokio::io::AsyncWriteExt;

const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0 a tiny jpeg";

/// A server on 127.0.0.1: `/photo.jpg` is a JPEG, `/to?<url>` redirects to `<url>`, anything
/// else is a 404. Returns its port and the number of connections it accepted.
async fn photo_server() -> (u16, Arc<AtomicUsize>) {
    let stub = testkit::HttpStub::start(|path| {
        if path == "/photo.jpg" {
            StubResponse::ok(JPEG.to_vec())
        } else if let Some(target) = path.strip_prefix("/to?") {
            StubResponse::redirect(target)
        } else {
            StubResponse::not_found()
        }
    })
    .await
    .unwrap();
    (stub.port, stub.hits)
}

fn settings(allow: &[&str]) -> FetchSettings {
    FetchSettings {
        timeout_secs: 10,
        allow_hosts: allow.iter().map(|s| s.to_string()).collect(),
        ..FetchSettings::default()
    }
}

async fn fetch(settings: &FetchSettings, url: &str) -> Result<bytes::Bytes, AppError> {
    let http = http_client(settings).unwrap();
    fetch_image(&http, settings, false, None, url).await
}

fn message(e: AppError) -> String {
    match e {
        AppError::ClientImage { message, .. } => message,
        other => panic!("a client image error, got {other:?}"),
    }
}

#[tokio::test]
async fn internal_addresses_are_refused_in_every_spelling_without_a_connection() {
    let (port, hits) = photo_server().await;
    let s = settings(&[]);
    for url in [
        format!("http://127.0.0.1:{port}/photo.jpg"),
        format!("http://localhost:{port}/photo.jpg"),
        format!("http://LOCALHOST:{port}/photo.jpg"),
        format!("http://127.1:{port}/photo.jpg"),
        format!("http://2130706433:{port}/photo.jpg"),
        format!("http://0x7f000001:{port}/photo.jpg"),
        format!("http://0.0.0.0:{port}/photo.jpg"),
        format!("http://[::1]:{port}/photo.jpg"),
        format!("http://[::ffff:127.0.0.1]:{port}/photo.jpg"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[fd00:ec2::254]/latest/meta-data/".to_string(),
        "http://100.100.100.200/latest/meta-data/".to_string(),
        "http://10.0.0.1/photo.jpg".to_string(),
        "http://192.168.1.1/photo.jpg".to_string(),
        "http://172.16.0.1/photo.jpg".to_string(),
        "https://224.0.0.1/photo.jpg".to_string(),
        "http://255.255.255.255/photo.jpg".to_string(),
    ] {
        let e = fetch(&s, &url).await.expect_err(&url);
        assert_eq!(
            message(e),
            "could not fetch the photo: address not allowed",
            "{url}"
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no request reached the server"
    );
}

#[tokio::test]
async fn an_open_and_a_closed_port_fail_alike() {
    // With the loopback allowed, a closed port and a port that is not HTTP both give the same
    // generic failure: nothing about what answered.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let not_http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let not_http_port = not_http.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = not_http.accept().await {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        }
    });
    let s = settings(&["127.0.0.0/8"]);
    for port in [closed, not_http_port] {
        let url = format!("http://127.0.0.1:{port}/photo.jpg");
        let e = fetch(&s, &url).await.expect_err(&url);
        assert_eq!(message(e), "could not fetch the photo", "{url}");
    }
}

#[tokio::test]
async fn the_allow_list_lets_chosen_hosts_through() {
    let (port, _) = photo_server().await;
    for allow in ["127.0.0.1", "127.0.0.0/8", "localhost"] {
        let s = settings(&[allow]);
        let host = if allow == "localhost" {
            "localhost"
        } else {
            "127.0.0.1"
        };
        let got = fetch(&s, &format!("http://{host}:{port}/photo.jpg"))
            .await
            .unwrap_or_else(|e| panic!("allowed by {allow}: {e}"));
        assert_eq!(&got[..], JPEG);
    }
    // A dead link on an allowed host names the HTTP status (the host's plain answer).
    let s = settings(&["127.0.0.1"]);
    let e = fetch(&s, &format!("http://127.0.0.1:{port}/missing.jpg"))
        .await
        .unwrap_err();
    assert_eq!(message(e), "could not fetch the photo: HTTP 404");
}

#[tokio::test]
async fn every_redirect_hop_is_checked() {
    let (port, hits) = photo_server().await;
    // Only 127.0.0.1 is allowed: a hop to another loopback address, to cloud metadata or to
    // another scheme is refused.
    let s = settings(&["127.0.0.1"]);
    for target in [
        format!("http://127.0.0.2:{port}/photo.jpg"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        let url = format!("http://127.0.0.1:{port}/to?{target}");
        let e = fetch(&s, &url).await.expect_err(&url);
        assert_eq!(
            message(e),
            "could not fetch the photo: address not allowed",
            "{target}"
        );
    }
    // A hop to another scheme is never followed: the redirect itself is the (failed) answer.
    let url = format!("http://127.0.0.1:{port}/to?file:///etc/passwd");
    let e = fetch(&s, &url).await.expect_err(&url);
    assert_eq!(message(e), "could not fetch the photo: HTTP 302");

    // A hop to an allowed address is followed.
    let before = hits.load(Ordering::SeqCst);
    let got = fetch(
        &s,
        &format!("http://127.0.0.1:{port}/to?http://127.0.0.1:{port}/photo.jpg"),
    )
    .await
    .unwrap();
    assert_eq!(&got[..], JPEG);
    assert_eq!(hits.load(Ordering::SeqCst), before + 2);
}

#[tokio::test]
async fn only_http_and_https() {
    let s = settings(&[]);
    for url in [
        "ftp://example.com/a.jpg",
        "file:///etc/passwd",
        "gopher://x/",
    ] {
        let e = fetch(&s, url).await.expect_err(url);
        assert!(message(e).contains("only http and https"), "{url}");
    }
}

#[test]
fn public_and_special_addresses() {
    let public = [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "2606:4700::1111",
        "2a00:1450::1",
    ];
    let special = [
        "0.0.0.0",
        "10.1.2.3",
        "100.64.0.1",
        "100.127.255.254",
        "127.0.0.1",
        "127.255.0.1",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.168.0.1",
        "198.18.0.1",
        "198.51.100.1",
        "203.0.113.9",
        "224.0.0.251",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
        "fc00::1",
        "fd00:ec2::254",
        "fe80::1",
        "ff02::1",
        "2001:db8::1",
        "100::1",
    ];
    for ip in public {
        assert!(is_public(ip.parse::<IpAddr>().unwrap()), "{ip} is public");
    }
    for ip in special {
        assert!(
            !is_public(ip.parse::<IpAddr>().unwrap()),
            "{ip} is not public"
        );
    }
    assert!(
        is_public("100.63.255.255".parse::<IpAddr>().unwrap()),
        "just below CGNAT"
    );
}

#[test]
fn allow_list_entries_are_checked() {
    let p =
        AddressPolicy::new(&["10.0.0.0/8".into(), "::1".into(), "photos.internal".into()]).unwrap();
    assert!(p.allows_ip("10.9.8.7".parse().unwrap()));
    assert!(p.allows_ip("::1".parse().unwrap()));
    assert!(!p.allows_ip("127.0.0.1".parse().unwrap()));
    assert!(p.allows_name("Photos.Internal."));
    let e = AddressPolicy::new(&["http://x/".into()]).unwrap_err();
    assert!(e.contains("\"http://x/\""), "{e}");
}

/// What `sniff_image` must say about a file: its kind, or the start of its refusal.
enum Sniffed {
    Kind(ImageKind),
    Refused(&'static str),
}

#[test]
fn every_photo_fixture_is_sniffed_by_its_signature() {
    use Sniffed::*;
    let dir = testkit::repo_root().join("fixtures/photos");
    let expected: &[(&str, Sniffed)] = &[
        ("alpha.png", Kind(ImageKind::Png)),
        ("alpha.webp", Kind(ImageKind::WebP)),
        ("animated.gif", Kind(ImageKind::Gif)),
        ("baseline.jpg", Kind(ImageKind::Jpeg)),
        // Signatures only: an over-limit or truncated file is the decoder's to refuse.
        ("bomb.png", Kind(ImageKind::Png)),
        ("cmyk.jpg", Kind(ImageKind::Jpeg)),
        ("drawing.svg", Refused("SVG drawings are not accepted")),
        ("empty.jpg", Refused("the file is empty")),
        ("gray.png", Kind(ImageKind::Png)),
        ("huge.gif", Kind(ImageKind::Gif)),
        ("huge.jpg", Kind(ImageKind::Jpeg)),
        (
            "iphone.heic",
            Refused("HEIC images (iPhone photos) are not accepted"),
        ),
        ("lossless.webp", Kind(ImageKind::WebP)),
        ("lossy-alpha.webp", Kind(ImageKind::WebP)),
        ("lossy.webp", Kind(ImageKind::WebP)),
        ("order.pdf", Refused("PDF documents are not accepted")),
        ("orientation-3.jpg", Kind(ImageKind::Jpeg)),
        ("orientation-6.jpg", Kind(ImageKind::Jpeg)),
        ("orientation-8.jpg", Kind(ImageKind::Jpeg)),
        ("palette.png", Kind(ImageKind::Png)),
        ("photo.avif", Refused("AVIF images are not accepted")),
        ("photo.gif", Kind(ImageKind::Gif)),
        ("progressive.jpg", Kind(ImageKind::Jpeg)),
        (
            "random.jpg",
            Refused("not an image we recognise (first bytes: "),
        ),
        ("rgb8.png", Kind(ImageKind::Png)),
        ("rgba16.png", Kind(ImageKind::Png)),
        (
            "text.png",
            Refused("not an image we recognise (first bytes: 54 68 69 73 20 69 73 20)"),
        ),
        ("tiny.bmp", Refused("BMP images are not accepted")),
        (
            "tiny.tif",
            Refused("TIFF images (and camera RAW files) are not accepted"),
        ),
        ("truncated.jpg", Kind(ImageKind::Jpeg)),
        ("truncated.png", Kind(ImageKind::Png)),
        ("truncated.webp", Kind(ImageKind::WebP)),
    ];
    // Every fixture is in the table, so a new one is classified here too.
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".md") && !n.ends_with(".py"))
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    assert_eq!(on_disk, listed, "fixtures/photos and this table differ");

    for (name, want) in expected {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        match (sniff_image(&bytes), want) {
            (Ok(kind), Kind(k)) => assert_eq!(kind, *k, "{name}"),
            (Err(e), Refused(start)) => {
                let msg = e.to_string();
                assert!(msg.starts_with(start), "{name}: {msg}");
                assert!(
                    msg.ends_with("; ask the customer for a JPEG, PNG, WebP or GIF"),
                    "{name}: {msg}"
                );
            }
            (got, _) => panic!("{name}: got {got:?}"),
        }
    }
}

#[test]
fn image_kinds_have_their_extensions() {
    for (kind, ext) in [
        (ImageKind::Jpeg, "jpg"),
        (ImageKind::Png, "png"),
        (ImageKind::WebP, "webp"),
        (ImageKind::Gif, "gif"),
    ] {
        assert_eq!(kind.extension(), ext);
    }
}

#[test]
fn foreign_signatures_are_named_in_their_variants() {
    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let mut b = ((16 + 4 * compatible.len()) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(major);
        b.extend_from_slice(&[0; 4]);
        for c in compatible {
            b.extend_from_slice(*c);
        }
        b
    }
    let format = |bytes: &[u8]| match sniff_image(bytes) {
        Err(UnsupportedImage::Format(f)) => Some(f),
        _ => None,
    };
    let cases: Vec<(&str, Vec<u8>, Option<ForeignFormat>)> =
        vec![
        ("heic brand", ftyp(b"heic", &[b"mif1"]), Some(ForeignFormat::Heic)),
        ("heix brand", ftyp(b"heix", &[]), Some(ForeignFormat::Heic)),
        (
            "mif1 listing heic",
            ftyp(b"mif1", &[b"mif1", b"heic"]),
            Some(ForeignFormat::Heic),
        ),
        (
            "mif1 listing avif",
            ftyp(b"mif1", &[b"avif"]),
            Some(ForeignFormat::Avif),
        ),
        ("plain HEIF", ftyp(b"mif1", &[b"mif1"]), Some(ForeignFormat::Heif)),
        ("AVIF sequence", ftyp(b"avis", &[]), Some(ForeignFormat::Avif)),
        // An MP4 video is an ISO-BMFF file too, but no image format.
        ("mp4 video", ftyp(b"isom", &[b"mp42"]), None),
        ("big-endian TIFF", b"MM\0*\0\0\0\x08".to_vec(), Some(ForeignFormat::Tiff)),
        ("little-endian TIFF", b"II*\0\x08\0\0\0".to_vec(), Some(ForeignFormat::Tiff)),
        (
            "bare <svg>",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            Some(ForeignFormat::Svg),
        ),
        (
            "svg after whitespace",
            b"\n  \t<svg/>".to_vec(),
            Some(ForeignFormat::Svg),
        ),
        (
            "svg after a doctype",
            b"<?xml version='1.0'?>\n<!DOCTYPE svg PUBLIC '-//W3C//DTD SVG 1.1//EN' 'x'>\n<svg/>"
                .to_vec(),
            Some(ForeignFormat::Svg),
        ),
        (
            "an XML file that is not SVG",
            b"<?xml version='1.0'?><note/>".to_vec(),
            None,
        ),
        (
            "a login page",
            b"<!DOCTYPE html><html><body>Sign in</body></html>".to_vec(),
            Some(ForeignFormat::Html),
        ),
        ("PDF", b"%PDF-1.7\n".to_vec(), Some(ForeignFormat::Pdf)),
        ("Photoshop", b"8BPS\0\x01".to_vec(), Some(ForeignFormat::Psd)),
        (
            "JPEG XL codestream",
            b"\xFF\x0A\xFA\x7F".to_vec(),
            Some(ForeignFormat::JpegXl),
        ),
        // "BM" alone is not a BMP: a text may start with it.
        ("text starting BM", b"BMW owners' club photo list".to_vec(), None),
    ];
    for (name, bytes, want) in cases {
        assert_eq!(format(&bytes), want, "{name}");
        if want.is_none() {
            let e = sniff_image(&bytes).expect_err(name);
            assert!(
                matches!(e, UnsupportedImage::Unrecognised { .. }),
                "{name}: {e:?}"
            );
        }
    }
    // Only the first 8 bytes are shown.
    let e = sniff_image(b"0123456789").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("not an image we recognise (first bytes: 30 31 32 33 34 35 36 37)"),
        "{e}"
    );
}
