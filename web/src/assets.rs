//! The stylesheet and the script, compiled in (`include_str!`) and served from `/assets/…`
//! with a long cache; pages link them with `?v=<content hash>`, so a new build is fetched at
//! once.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::Digest as _;

pub const CSS: &str = include_str!("../assets/pressroom.css");
pub const JS: &str = include_str!("../assets/pressroom.js");

fn hash(s: &str) -> String {
    hex::encode(&sha2::Sha256::digest(s.as_bytes())[..6])
}

/// `/assets/pressroom.css?v=…`
pub fn css_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| format!("/assets/pressroom.css?v={}", hash(CSS)))
}

/// `/assets/pressroom.js?v=…`
pub fn js_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| format!("/assets/pressroom.js?v={}", hash(JS)))
}

/// `GET /assets/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "pressroom.css" => (CSS, "text/css; charset=utf-8"),
        "pressroom.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}
