//! Configuration: built-in defaults, then a TOML file (`--config`, `$PRESSROOM_CONFIG`, or
//! `pressroom.toml` if present), then environment variables `PRESSROOM_<SECTION>__<KEY>`
//! (e.g. `PRESSROOM_DATABASE__URL`, `PRESSROOM_FILES__BUCKET`). The embedded default needs no
//! configuration at all: an SQLite file and a files folder under `data_dir`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the embedded database and the local files live.
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub files: FilesSection,
    pub server: ServerConfig,
    pub worker: WorkerConfig,
    pub log: LogConfig,
    pub secrets: SecretsConfig,
    /// Rendering, templates, fetching images and the line-item mapping.
    pub app: app::AppSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite:<path>` or `postgres://user:password@host/db`; empty: `<data_dir>/pressroom.db`.
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesSection {
    /// "local" (default) or "s3".
    pub kind: String,
    /// Local folder; empty: `<data_dir>/files`.
    pub root: PathBuf,
    pub s3: storage::files::S3Config,
    /// How providers get print-file URLs: "server" (signed by this server, default),
    /// "public" (a public-read bucket or CDN at `public_base_url`) or "presigned" (S3).
    pub urls: String,
    pub public_base_url: String,
    /// Secret for server-signed URLs; empty: derived at first start and kept in data_dir.
    pub url_secret: String,
    pub url_ttl_days: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    /// The address outsiders (providers, browsers) reach this server at.
    pub public_url: String,
    /// Run a worker inside `pressroom serve`.
    pub embedded_worker: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Empty: `<hostname>-<pid>`.
    pub id: String,
    /// Renders at once; 0: min(cores, available memory / 350 MB).
    pub concurrency: usize,
    pub lease_secs: u64,
    pub poll_ms: u64,
    pub grace_secs: u64,
    /// Serve `/metrics` and `/healthz` of `pressroom worker` on this address (empty: none).
    pub metrics_listen: String,
    /// How often one worker of the farm sweeps stale staging files from the local folder
    /// (0: never; workers still sweep once when they start).
    pub sweep_every_secs: u64,
    /// How often one worker of the farm polls every connected store for orders changed
    /// since the last poll (what webhooks missed); 0: never.
    pub reconcile_every_secs: u64,
    /// Seconds between polls of the providers for shipments of submitted orders (0: off).
    pub poll_shipments_every_secs: u64,
}

/// The key store credentials are sealed with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// 32 bytes in base64 (`pressroom secrets-key` makes one). Every process of a farm needs
    /// the same key. Empty: made once and kept in `<data_dir>/secrets.key`, which suits one
    /// machine.
    pub key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// "text" or "json".
    pub format: String,
    /// A tracing filter, e.g. "info" or "app=debug,info" (`RUST_LOG` wins when set).
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("pressroom-data"),
            database: DatabaseConfig::default(),
            files: FilesSection::default(),
            server: ServerConfig::default(),
            worker: WorkerConfig::default(),
            log: LogConfig::default(),
            secrets: SecretsConfig::default(),
            app: app::AppSettings {
                templates_dir: PathBuf::from("templates"),
                ..Default::default()
            },
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: String::new(),
            max_connections: 8,
        }
    }
}

impl Default for FilesSection {
    fn default() -> Self {
        FilesSection {
            kind: "local".into(),
            root: PathBuf::new(),
            s3: storage::files::S3Config::default(),
            urls: "server".into(),
            public_base_url: String::new(),
            url_secret: String::new(),
            url_ttl_days: 90,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            embedded_worker: true,
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            id: String::new(),
            concurrency: 0,
            lease_secs: 30,
            poll_ms: 2000,
            grace_secs: 30,
            metrics_listen: String::new(),
            sweep_every_secs: 3600,
            reconcile_every_secs: 300,
            poll_shipments_every_secs: 3600,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

const SECTIONS: [&str; 8] = [
    "data_dir", "database", "files", "server", "worker", "log", "app", "secrets",
];

const HIDDEN: &str = "********";

impl Config {
    /// Defaults ← file ← environment.
    pub fn load(file: Option<&Path>) -> Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("PRESSROOM_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("pressroom.toml")).filter(|p| p.is_file()));
        if let Some(f) = &file {
            if !f.is_file() {
                anyhow::bail!("configuration file {} does not exist", f.display());
            }
            figment = figment.merge(Toml::file(f));
        }
        // Only keys of known sections: other PRESSROOM_* variables (PRESSROOM_FONTS, test
        // switches) are not configuration.
        figment = figment.merge(Env::prefixed("PRESSROOM_").split("__").filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            SECTIONS.iter().any(|s| {
                key.strip_prefix(s).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with('.') || rest.starts_with("__")
                })
            })
        }));
        let mut config: Config = figment.extract().map_err(|e| {
            anyhow::anyhow!(
                "configuration{}: {e}",
                file.as_ref()
                    .map(|f| format!(" ({})", f.display()))
                    .unwrap_or_default()
            )
        })?;
        if let Ok(fonts) = std::env::var("PRESSROOM_FONTS") {
            config.app.fonts_dir = PathBuf::from(fonts);
        }
        Ok(config)
    }

    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite:{}", self.data_dir.join("pressroom.db").display())
        } else {
            self.database.url.clone()
        }
    }

    pub fn files_config(&self) -> Result<storage::FilesConfig> {
        match self.files.kind.as_str() {
            "local" => Ok(storage::FilesConfig::Local {
                root: if self.files.root.as_os_str().is_empty() {
                    self.data_dir.join("files")
                } else {
                    self.files.root.clone()
                },
            }),
            "s3" => Ok(storage::FilesConfig::S3(self.files.s3.clone())),
            other => anyhow::bail!("files.kind = {other:?}: expected \"local\" or \"s3\""),
        }
    }

    pub fn url_mode(&self) -> Result<storage::UrlMode> {
        match self.files.urls.as_str() {
            "server" => Ok(storage::UrlMode::Server {
                base_url: self.server.public_url.clone(),
                secret: self.url_secret()?,
                ttl_days: self.files.url_ttl_days,
            }),
            "public" => {
                if self.files.public_base_url.is_empty() {
                    anyhow::bail!("files.urls = \"public\" needs files.public_base_url");
                }
                Ok(storage::UrlMode::Public {
                    base_url: self.files.public_base_url.clone(),
                })
            }
            "presigned" => Ok(storage::UrlMode::Presigned {
                ttl_days: self.files.url_ttl_days.min(7),
            }),
            other => anyhow::bail!(
                "files.urls = {other:?}: expected \"server\", \"public\" or \"presigned\""
            ),
        }
    }

    /// The URL-signing secret: configured, or made once and kept in the data folder.
    fn url_secret(&self) -> Result<String> {
        if !self.files.url_secret.is_empty() {
            return Ok(self.files.url_secret.clone());
        }
        read_or_create(&self.data_dir, "url-secret", || {
            let mut bytes = [0u8; 32];
            getrandom(&mut bytes)?;
            Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
        })
    }

    /// The key store credentials are sealed with: configured, or made once and kept in the
    /// data folder (readable by its owner only).
    pub fn secret_key(&self) -> Result<secrets::SecretKey> {
        if !self.secrets.key.is_empty() {
            return Ok(secrets::SecretKey::from_base64(&self.secrets.key)?);
        }
        let key = read_or_create(&self.data_dir, "secrets.key", || {
            Ok(secrets::SecretKey::generate()?)
        })?;
        secrets::SecretKey::from_base64(&key).with_context(|| {
            format!(
                "the secrets key in {}",
                self.data_dir.join("secrets.key").display()
            )
        })
    }

    /// The effective configuration as TOML, with passwords and secrets replaced by stars.
    pub fn to_redacted_toml(&self) -> Result<String> {
        let mut c = self.clone();
        c.database.url = redact_url_password(&c.database_url());
        c.files.s3.endpoint = redact_url_password(&c.files.s3.endpoint);
        c.files.public_base_url = redact_url_password(&c.files.public_base_url);
        c.server.public_url = redact_url_password(&c.server.public_url);
        if !c.files.s3.secret_access_key.is_empty() {
            c.files.s3.secret_access_key = HIDDEN.into();
        }
        if !c.files.url_secret.is_empty() {
            c.files.url_secret = HIDDEN.into();
        }
        if !c.secrets.key.is_empty() {
            c.secrets.key = HIDDEN.into();
        }
        Ok(toml::to_string_pretty(&c)?)
    }
}

/// The secret kept in `dir/name`, made by `make` the first time. Processes starting together
/// agree on one value: each writes its candidate to a file of its own (readable by the owner
/// only) and links it into place without replacing; whoever comes second reads the winner's.
fn read_or_create(dir: &Path, name: &str, make: impl FnOnce() -> Result<String>) -> Result<String> {
    let path = dir.join(name);
    if let Ok(s) = std::fs::read_to_string(&path) {
        return Ok(s.trim().to_string());
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("create data folder {}", dir.display()))?;
    let value = make()?;
    let candidate = dir.join(format!(".{name}.{}", std::process::id()));
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&candidate)
            .with_context(|| format!("write {}", candidate.display()))?;
        f.write_all(value.as_bytes())?;
        f.sync_all()?;
    }
    let linked = std::fs::hard_link(&candidate, &path);
    let _ = std::fs::remove_file(&candidate);
    match linked {
        Ok(()) => Ok(value),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let s = std::fs::read_to_string(&path)
                .with_context(|| format!("read {}", path.display()))?;
            Ok(s.trim().to_string())
        }
        Err(e) => Err(e).with_context(|| format!("write {}", path.display())),
    }
}

fn getrandom(buf: &mut [u8]) -> Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .context("read /dev/urandom")
}

/// A URL fit for printing: the password of its userinfo and the values of password-like query
/// parameters (`password`, `sslpassword`, `secret`, `token`, `…key`) are replaced by stars.
/// `postgres://user:p@ss@host/db?password=x` → `postgres://user:********@host/db?password=********`:
/// the userinfo ends at the LAST `@` before the path, so a password holding an unencoded `@`
/// is hidden whole.
pub fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_query(url);
    };
    // The query and fragment hold no userinfo; the authority ends at the first '/' after
    // the last '@' before the query.
    let (before_query, query) = match rest.find(['?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority_and_path = match before_query.rfind('@') {
        Some(at) => {
            let (userinfo, host) = (&before_query[..at], &before_query[at..]);
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:{HIDDEN}{host}"),
                None => before_query.to_string(),
            }
        }
        None => before_query.to_string(),
    };
    format!("{scheme}://{authority_and_path}{}", redact_query(query))
}

/// `?a=1&password=x#f` → `?a=1&password=********#f` (anything before the first `?` is kept).
fn redact_query(s: &str) -> String {
    let Some(q) = s.find('?') else {
        return s.to_string();
    };
    let (head, tail) = s.split_at(q + 1);
    let (query, fragment) = match tail.find('#') {
        Some(i) => tail.split_at(i),
        None => (tail, ""),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if is_secret_param(k) && !v.is_empty() => format!("{k}={HIDDEN}"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{head}{}{fragment}", params.join("&"))
}

fn is_secret_param(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("pass")
        || k.contains("secret")
        || k.contains("token")
        || k == "pwd"
        || k.ends_with("key")
        || k.contains("signature")
        || k.contains("credential")
}

#[cfg(test)]
mod tests {
    use super::redact_url_password as r;

    #[test]
    fn passwords_in_urls_are_hidden() {
        let cases = [
            ("postgres://u:pw@host/db", "postgres://u:********@host/db"),
            // An unencoded '@' in the password: cut at the last '@'.
            (
                "postgres://farm:p@ss@db.internal:5432/pressroom",
                "postgres://farm:********@db.internal:5432/pressroom",
            ),
            (
                "postgres://farm@db/pressroom?sslmode=require&password=hunter2",
                "postgres://farm@db/pressroom?sslmode=require&password=********",
            ),
            (
                "postgres://u:a@b:c@h/d?PassWord=x@y&sslpassword=z&application_name=pressroom",
                "postgres://u:********@h/d?PassWord=********&sslpassword=********&application_name=pressroom",
            ),
            ("postgres://u@h/d", "postgres://u@h/d"),
            ("sqlite:data/pressroom.db", "sqlite:data/pressroom.db"),
            ("sqlite:x.db?password=1", "sqlite:x.db?password=********"),
            (
                "http://h/files?token=abc#top",
                "http://h/files?token=********#top",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(r(url), shown, "{url}");
        }
    }
}
