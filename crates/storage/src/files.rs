//! Object storage for print files, previews, mockups, reports and customer photos: a local
//! folder by default, any S3-compatible bucket by configuration.
//!
//! Keys are built only from ids and content hashes (`orders/42/items/316/<sha256>.png`), never
//! from customer file names. A key names its content, so writing a key twice writes the same
//! bytes: a worker that lost its job can at worst re-write identical bytes, never replace a
//! file. Objects appear under their final key whole or not at all (local: staged file + rename;
//! S3: one PUT, which the server only exposes once complete).
//!
//! The local folder stages every write as `<key>#<n>` beside its key (object_store's
//! `LocalFileSystem`) and renames it into place. A process killed mid-write leaves its staging
//! file behind for good, so workers sweep stale ones ([`Files::sweep_staging`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use serde::{Deserialize, Serialize};

use crate::error::StorageError;

/// Where files live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FilesConfig {
    /// A folder on this machine (created if missing).
    Local { root: PathBuf },
    /// An S3-compatible bucket.
    S3(S3Config),
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct S3Config {
    /// `https://s3.eu-central-1.amazonaws.com`, `http://127.0.0.1:9000`, … (empty: AWS default).
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key` (MinIO, s3s, …).
    pub path_style: bool,
    /// Allow a plain-HTTP endpoint (a server on the same machine or private network).
    pub allow_http: bool,
    /// Give up on a request after this many retries.
    pub max_retries: usize,
    /// …or after this long in total.
    pub retry_timeout_secs: u64,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            endpoint: String::new(),
            bucket: String::new(),
            region: "us-east-1".into(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            path_style: true,
            allow_http: false,
            max_retries: 3,
            retry_timeout_secs: 60,
        }
    }
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"********")
            .field("path_style", &self.path_style)
            .finish()
    }
}

/// How a provider (an outside service) gets a URL for a print file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UrlMode {
    /// Through this server's `/files/<key>?expires=…&signature=…`, signed with a secret
    /// (works with any storage; the server must be reachable by the provider).
    Server {
        base_url: String,
        secret: String,
        ttl_days: u32,
    },
    /// A public-read bucket or CDN: `<base_url>/<key>`, valid forever.
    Public { base_url: String },
    /// An S3 presigned GET URL (SigV4 allows at most 7 days).
    Presigned { ttl_days: u32 },
}

/// A stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: String,
    pub sha256: String,
    pub size: u64,
}

/// How old a staging file must be before a sweep removes it: far longer than any upload takes
/// (a live write keeps touching its staging file), short enough that a crashed worker's files
/// do not pile up for long.
pub const STAGING_GRACE: Duration = Duration::from_secs(3600);

/// The object store plus what is needed to hand out URLs.
#[derive(Clone)]
pub struct Files {
    store: Arc<dyn ObjectStore>,
    signer: Option<Arc<dyn Signer>>,
    url_mode: Option<UrlMode>,
    describe: String,
    /// The folder of a local store (where staging files can be left behind).
    local_root: Option<PathBuf>,
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe)
    }
}

impl Files {
    pub fn open(config: &FilesConfig, url_mode: Option<UrlMode>) -> Result<Files, StorageError> {
        match config {
            FilesConfig::Local { root } => {
                std::fs::create_dir_all(root).map_err(|e| {
                    StorageError::ObjectConfig(format!("cannot create {}: {e}", root.display()))
                })?;
                let store = LocalFileSystem::new_with_prefix(root)?;
                if matches!(url_mode, Some(UrlMode::Presigned { .. })) {
                    return Err(StorageError::ObjectConfig(
                        "presigned URLs need S3 storage; use url mode \"server\" or \"public\" with a local folder".into(),
                    ));
                }
                Ok(Files {
                    store: Arc::new(store),
                    signer: None,
                    url_mode,
                    describe: format!("local folder {}", root.display()),
                    local_root: Some(root.clone()),
                })
            }
            FilesConfig::S3(s3) => {
                if s3.bucket.is_empty() {
                    return Err(StorageError::ObjectConfig(
                        "S3 storage needs a bucket".into(),
                    ));
                }
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_allow_http(s3.allow_http)
                    .with_virtual_hosted_style_request(!s3.path_style)
                    .with_retry(RetryConfig {
                        max_retries: s3.max_retries,
                        retry_timeout: Duration::from_secs(s3.retry_timeout_secs),
                        ..RetryConfig::default()
                    });
                if !s3.endpoint.is_empty() {
                    builder = builder.with_endpoint(&s3.endpoint);
                }
                if !s3.access_key_id.is_empty() {
                    builder = builder
                        .with_access_key_id(&s3.access_key_id)
                        .with_secret_access_key(&s3.secret_access_key);
                }
                let store = Arc::new(builder.build()?);
                Ok(Files {
                    store: store.clone(),
                    signer: Some(store),
                    url_mode,
                    describe: format!("S3 bucket {} at {}", s3.bucket, s3.endpoint),
                    local_root: None,
                })
            }
        }
    }

    /// Wrap any object store (tests inject faults this way).
    pub fn from_store(store: Arc<dyn ObjectStore>, url_mode: Option<UrlMode>) -> Files {
        Files {
            describe: format!("{store}"),
            store,
            signer: None,
            url_mode,
            local_root: None,
        }
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Store `bytes` under `<prefix>/<sha256>.<ext>`. Storing the same content again is a
    /// no-op; the key is returned either way.
    pub async fn put_content(
        &self,
        prefix: &str,
        ext: &str,
        bytes: Bytes,
    ) -> Result<StoredObject, StorageError> {
        let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, &bytes));
        self.put_hashed(prefix, ext, sha256, bytes).await
    }

    /// [`Files::put_content`] for bytes whose SHA-256 (lowercase hex) the caller already
    /// computed while writing them (the renderer hashes every output it encodes), so a 30 MB
    /// print file is not hashed twice.
    pub async fn put_hashed(
        &self,
        prefix: &str,
        ext: &str,
        sha256: String,
        bytes: Bytes,
    ) -> Result<StoredObject, StorageError> {
        let key = format!("{}/{sha256}.{ext}", prefix.trim_end_matches('/'));
        let path =
            ObjectPath::parse(&key).map_err(|e| StorageError::ObjectConfig(e.to_string()))?;
        let size = bytes.len() as u64;
        match self.store.head(&path).await {
            Ok(meta) if meta.size == size => {}
            _ => {
                // Same key means same bytes, so a plain PUT is safe even if two workers race;
                // servers without conditional PUT support work too.
                self.store.put(&path, PutPayload::from_bytes(bytes)).await?;
            }
        }
        Ok(StoredObject { key, sha256, size })
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        let path = parse_key(key)?;
        Ok(self.store.get(&path).await?.bytes().await?)
    }

    /// A streaming read, for downloads through the server.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<
        (
            u64,
            futures::stream::BoxStream<'static, object_store::Result<Bytes>>,
        ),
        StorageError,
    > {
        let path = parse_key(key)?;
        let result = self.store.get(&path).await?;
        let size = result.meta.size;
        Ok((size, result.into_stream()))
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        let path = parse_key(key)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Every key under `prefix` (tests and the operator).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        use futures::TryStreamExt;
        let prefix = ObjectPath::from(prefix);
        let metas: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        let mut keys: Vec<String> = metas.into_iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        Ok(keys)
    }

    /// A round trip, for `/readyz`.
    pub async fn check(&self) -> Result<(), StorageError> {
        match self.store.head(&ObjectPath::from("readyz-probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the staging files (`<key>#<n>`) of writes that never finished — a worker
    /// killed mid-upload — once they were last modified `older_than` before `now`, and returns
    /// their paths relative to the folder, sorted. Objects and fresh staging files (a write
    /// in progress) stay. A no-op on S3, which never shows an unfinished upload as an object,
    /// and on a store given to [`Files::from_store`].
    pub async fn sweep_staging(
        &self,
        older_than: Duration,
        now: SystemTime,
    ) -> Result<Vec<String>, StorageError> {
        let Some(root) = self.local_root.clone() else {
            return Ok(Vec::new());
        };
        let cutoff = now
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        tokio::task::spawn_blocking(move || sweep_staging_files(&root, cutoff))
            .await
            .map_err(|e| local_error(std::io::Error::other(e)))?
            .map_err(local_error)
    }

    /// A URL an outside service (a fulfillment provider) can fetch the object from.
    pub async fn provider_url(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StorageError> {
        let path = parse_key(key)?;
        match &self.url_mode {
            None => Err(StorageError::ObjectConfig(
                "no URL mode configured for handing files to providers (files.urls)".into(),
            )),
            Some(UrlMode::Public { base_url }) => {
                Ok(format!("{}/{key}", base_url.trim_end_matches('/')))
            }
            Some(UrlMode::Presigned { ttl_days }) => {
                let signer = self.signer.as_ref().ok_or_else(|| {
                    StorageError::ObjectConfig("presigned URLs need S3 storage".into())
                })?;
                let ttl = Duration::from_secs(u64::from((*ttl_days).clamp(1, 7)) * 86_400);
                Ok(signer
                    .signed_url(object_store::signer::Method::GET, &path, ttl)
                    .await?
                    .to_string())
            }
            Some(UrlMode::Server {
                base_url,
                secret,
                ttl_days,
            }) => {
                let expires = now.timestamp() + i64::from(*ttl_days) * 86_400;
                let signature = sign_server_url(secret, key, expires);
                Ok(format!(
                    "{}/files/{key}?expires={expires}&signature={signature}",
                    base_url.trim_end_matches('/')
                ))
            }
        }
    }

    /// Check a `/files/<key>?expires&signature` request made with [`UrlMode::Server`].
    pub fn verify_server_url(
        &self,
        key: &str,
        expires: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(UrlMode::Server { secret, .. }) = &self.url_mode else {
            return false;
        };
        if expires < now.timestamp() {
            return false;
        }
        let Ok(given) = hex::decode(signature) else {
            return false;
        };
        let key_ = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        ring::hmac::verify(&key_, signed_message(key, expires).as_bytes(), &given).is_ok()
    }
}

/// `<name>#<digits>`: the name object_store's local folder stages a write under (a key never
/// contains `#`: keys are ids and hashes).
fn is_staging_name(name: &str) -> bool {
    match name.rsplit_once('#') {
        Some((base, n)) => {
            !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Walks `root` (not following symbolic links) and removes staging files last modified at or
/// before `cutoff`.
fn sweep_staging_files(root: &Path, cutoff: SystemTime) -> std::io::Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // A folder removed meanwhile (or the root not made yet) holds nothing to sweep.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                dirs.push(path);
                continue;
            }
            if !kind.is_file() || !entry.file_name().to_str().is_some_and(is_staging_name) {
                continue;
            }
            let modified = match entry.metadata().and_then(|m| m.modified()) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if modified > cutoff {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                // Renamed into place or removed by someone else meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
            let relative = path.strip_prefix(root).unwrap_or(&path);
            tracing::info!(file = %relative.display(), "removed a stale staging file");
            removed.push(relative.to_string_lossy().into_owned());
        }
    }
    removed.sort();
    Ok(removed)
}

fn local_error(e: std::io::Error) -> StorageError {
    StorageError::Object(object_store::Error::Generic {
        store: "LocalFileSystem",
        source: Box::new(e),
    })
}

fn signed_message(key: &str, expires: i64) -> String {
    format!("GET\n{key}\n{expires}")
}

fn sign_server_url(secret: &str, key: &str, expires: i64) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    hex::encode(ring::hmac::sign(&k, signed_message(key, expires).as_bytes()).as_ref())
}

fn parse_key(key: &str) -> Result<ObjectPath, StorageError> {
    // Keys are ours (ids and hashes); refuse anything else rather than resolve it.
    let ok = !key.is_empty()
        && key.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if !ok {
        return Err(StorageError::NotFound {
            what: "file",
            id: key.to_string(),
        });
    }
    ObjectPath::parse(key).map_err(|e| StorageError::ObjectConfig(e.to_string()))
}
