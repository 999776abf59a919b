//! Pressroom's use cases, wiring the pure parts (`domain`, `renderer`) to the edges
//! (`storage`, `connectors`): import an order, request a render, run render jobs in a worker.
//!
//! The clock enters here as a [`Clock`] so tests can set it; the domain only ever sees `now`.
#![forbid(unsafe_code)]

pub mod auth;
pub mod edit;
pub mod error;
pub mod fetch;
pub mod housekeeping;
pub mod import;
pub mod metrics;
pub mod order_actions;
mod order_write;
pub mod outbound;
pub mod photo_job;
pub mod providers;
pub mod render_job;
pub mod render_kind;
pub mod shipments;
pub mod store_import;
pub mod store_sync;
pub mod stores;
pub mod submission;
pub mod templates;
pub mod webhooks;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use error::AppError;
pub use metrics::Metrics;
pub use render_kind::RenderKind;
pub use templates::TemplateCache;
pub use worker::{Worker, WorkerOptions, job_registry};

/// The job kind of a line-item render.
pub const RENDER_JOB: &str = "render";

/// Where "now" comes from (the system clock in production, a fixed one in tests).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// Settings of the use cases (a part of the server's configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSettings {
    /// Store id orders are filed under until stores are configured (issue 4).
    pub store_id: String,
    /// Folder holding one sub-folder per template (`<templates_dir>/<template id>/template.toml`).
    pub templates_dir: PathBuf,
    pub fonts_dir: PathBuf,
    /// `png_fast`, `png_default`, `png_best` or `jpeg` (at `jpeg_quality`).
    pub print_format: renderer::PrintFormat,
    /// The quality of `jpeg` print files, 1..=100.
    pub jpeg_quality: u8,
    pub preview_width: u32,
    /// Hours between import and automatic submission.
    pub submit_after_hours: f64,
    /// The provider account orders of the default store go to (`manual`, `sandbox`, or an
    /// account added with `pressroom provider add`).
    pub default_provider: String,
    /// Time bound of one render.
    pub render_timeout_secs: u64,
    pub fetch: fetch::FetchSettings,
    /// How calls to stores' APIs are repeated and bounded.
    pub store_api: store_sync::StoreApiSettings,
    /// How line items map to templates and fields.
    pub mapping: domain::ItemMapping,
    /// How orders are handed to providers.
    pub submission: submission::SubmissionSettings,
    /// This server's address as providers reach it (`server.public_url`): per-order
    /// shipment notification URLs are built on it.
    pub public_url: String,
    /// Sessions and the login throttle.
    pub auth: auth::AuthSettings,
}

impl AppSettings {
    /// The print files' format, with `jpeg_quality` applied to `jpeg`.
    pub fn print_file_format(&self) -> renderer::PrintFormat {
        self.print_format.with_jpeg_quality(self.jpeg_quality)
    }
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            store_id: "default".into(),
            templates_dir: PathBuf::from("templates"),
            fonts_dir: PathBuf::from("fonts"),
            print_format: renderer::PrintFormat::default(),
            jpeg_quality: renderer::PrintFormat::DEFAULT_JPEG_QUALITY,
            preview_width: 1000,
            submit_after_hours: 24.0,
            default_provider: crate::providers::MANUAL.into(),
            render_timeout_secs: 120,
            fetch: fetch::FetchSettings::default(),
            store_api: store_sync::StoreApiSettings::default(),
            mapping: domain::ItemMapping::default(),
            submission: submission::SubmissionSettings::default(),
            public_url: String::new(),
            auth: auth::AuthSettings::default(),
        }
    }
}

/// Everything the use cases need, shared by the HTTP handlers and the workers of a process.
pub struct App {
    pub db: storage::Db,
    pub files: storage::Files,
    pub renderer: Arc<renderer::Renderer>,
    pub templates: TemplateCache,
    pub settings: AppSettings,
    pub metrics: Metrics,
    pub clock: Clock,
    pub http: reqwest::Client,
    /// For stores' APIs: their addresses come from the merchant's configuration, not from
    /// customers, so they may be on the merchant's own network (no address guard).
    pub store_http: reqwest::Client,
    /// For outbound webhooks: the photo downloads' address guard, no redirects, a short time
    /// bound (`outbound.rs`).
    pub webhook_http: reqwest::Client,
    /// Seals and opens store credentials; `None` when no key is configured (stores with
    /// credentials can then not be added or used).
    pub secret_key: Option<Arc<secrets::SecretKey>>,
    /// Template versions already recorded in the `templates` table by this process.
    recorded_templates: std::sync::Mutex<std::collections::HashSet<(String, String)>>,
    /// The webhook intake's writer (started on the first delivery).
    pub(crate) intake: std::sync::OnceLock<webhooks::Intake>,
    /// Stores as webhook checks need them, for a few seconds.
    pub(crate) store_cache: stores::StoreCache,
    /// Provider request bounds, per account.
    pub(crate) providers: providers::ProviderCache,
    /// Photos the editor's live preview used lately.
    pub(crate) preview_photos: edit::PhotoCache,
}

impl App {
    /// Load the fonts and wire the parts together.
    pub fn new(
        db: storage::Db,
        files: storage::Files,
        settings: AppSettings,
        clock: Clock,
    ) -> Result<App, AppError> {
        let fonts = renderer::FontLibrary::load(&settings.fonts_dir).map_err(|e| {
            AppError::Config(format!(
                "fonts folder {}: {e}",
                settings.fonts_dir.display()
            ))
        })?;
        let renderer = Arc::new(
            renderer::Renderer::new(Arc::new(fonts), renderer::Limits::default())
                .with_asset_cache(),
        );
        let http = fetch::http_client(&settings.fetch).map_err(AppError::Config)?;
        let webhook_http = fetch::webhook_client(&settings.fetch, outbound::WEBHOOK_TIMEOUT)
            .map_err(AppError::Config)?;
        Ok(App {
            db,
            files,
            templates: TemplateCache::new(settings.templates_dir.clone()),
            renderer,
            settings,
            metrics: Metrics::new(),
            clock,
            http,
            store_http: reqwest::Client::new(),
            webhook_http,
            secret_key: None,
            recorded_templates: Default::default(),
            intake: Default::default(),
            store_cache: Default::default(),
            providers: Default::default(),
            preview_photos: Default::default(),
        })
    }

    /// Use this key for store credentials.
    pub fn with_secret_key(mut self, key: secrets::SecretKey) -> App {
        self.secret_key = Some(Arc::new(key));
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Record which template version renders use (once per version and process), so the
    /// database names every template a render was made with.
    pub(crate) async fn record_template(&self, t: &renderer::Template) -> Result<(), AppError> {
        let m = t.manifest();
        let key = (m.id.clone(), t.manifest_sha256().to_string());
        if self.recorded_templates.lock().expect("lock").contains(&key) {
            return Ok(());
        }
        let location = self.templates.dir().join(&m.id).display().to_string();
        self.db
            .upsert_template(
                &m.id,
                &m.version,
                t.manifest_sha256(),
                &location,
                self.now(),
            )
            .await?;
        self.recorded_templates.lock().expect("lock").insert(key);
        Ok(())
    }
}
