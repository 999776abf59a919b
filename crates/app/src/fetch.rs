//! Fetching customers' images from the store (the URLs in line-item meta) into object storage,
//! with a byte limit and a time bound; `file:` URLs only when the operator allows them (the CLI
//! importing a local order file).

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FetchSettings {
    pub max_bytes: u64,
    pub timeout_secs: u64,
    /// Allow `file:` URLs and plain paths (relative to `base_dir`). Off for the HTTP API.
    pub allow_files: bool,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            max_bytes: 50 * 1024 * 1024,
            timeout_secs: 60,
            allow_files: false,
        }
    }
}

fn err(url: &str, message: impl Into<String>) -> AppError {
    AppError::ClientImage {
        url: url.to_string(),
        message: message.into(),
    }
}

/// Download one image. `base_dir` resolves relative file paths when files are allowed.
pub async fn fetch_image(
    http: &reqwest::Client,
    settings: &FetchSettings,
    allow_files: bool,
    base_dir: Option<&std::path::Path>,
    url: &str,
) -> Result<Bytes, AppError> {
    let parsed = url::Url::parse(url);
    match parsed {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {
            let resp = http
                .get(u)
                .send()
                .await
                .map_err(|e| err(url, format!("download failed: {e}")))?;
            if !resp.status().is_success() {
                return Err(err(url, format!("download failed: HTTP {}", resp.status())));
            }
            if let Some(len) = resp.content_length()
                && len > settings.max_bytes
            {
                return Err(err(
                    url,
                    format!("{len} bytes is over the limit of {}", settings.max_bytes),
                ));
            }
            let mut body = BytesMut::new();
            let mut stream = resp.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| err(url, format!("download failed: {e}")))?;
                if (body.len() + chunk.len()) as u64 > settings.max_bytes {
                    return Err(err(
                        url,
                        format!("over the limit of {} bytes", settings.max_bytes),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body.freeze())
        }
        _ if !allow_files => Err(err(url, "only http and https image URLs are accepted")),
        result => {
            let path = match result {
                Ok(u) if u.scheme() == "file" => u
                    .to_file_path()
                    .map_err(|_| err(url, "not a local file path"))?,
                Ok(u) => return Err(err(url, format!("unsupported URL scheme {:?}", u.scheme()))),
                Err(_) => match base_dir {
                    Some(base) => base.join(url),
                    None => std::path::PathBuf::from(url),
                },
            };
            let meta = tokio::fs::metadata(&path)
                .await
                .map_err(|e| err(url, format!("{}: {e}", path.display())))?;
            if meta.len() > settings.max_bytes {
                return Err(err(
                    url,
                    format!(
                        "{} bytes is over the limit of {}",
                        meta.len(),
                        settings.max_bytes
                    ),
                ));
            }
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| err(url, format!("{}: {e}", path.display())))?;
            Ok(Bytes::from(bytes))
        }
    }
}

/// The file extension for stored image bytes, from their signature.
pub fn image_extension(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else {
        None
    }
}
