//! Customer photo downloads cannot reach inside the operator's network: loopback, private,
//! link-local (cloud metadata), CGNAT and other special addresses are refused whatever form the
//! URL takes, after DNS resolution and on every redirect hop, with one message that tells
//! nothing about the target. `app.fetch.allow_hosts` lets chosen hosts through.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use app::AppError;
use app::fetch::{AddressPolicy, FetchSettings, fetch_image, http_client, is_public};
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
