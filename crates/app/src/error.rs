//! The use cases' errors, with stable codes for the API and the retry decision for workers.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum AppError {
    #[error("invalid order: {0}")]
    InvalidOrder(#[from] connectors::woocommerce::WooError),
    #[error("line item {item}: {message}")]
    InvalidItem { item: i64, message: String },
    #[error("client image {url}: {message}")]
    ClientImage {
        url: String,
        message: String,
        /// The photo's host may answer later (unreachable, 5xx, 429, a timeout).
        retryable: bool,
    },
    #[error("{0}")]
    Rule(#[from] domain::RuleViolation),
    #[error("template {id}: {message}")]
    Template { id: String, message: String },
    #[error("render: {0}")]
    Render(#[from] renderer::RenderError),
    #[error("{0}")]
    Storage(#[from] storage::StorageError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    NotFound(String),
    #[error("job payload: {0}")]
    BadJob(String),
    #[error("the render was stopped: {0}")]
    Stopped(&'static str),
    /// A store's settings or an action on a store that cannot be done as asked.
    #[error("{0}")]
    Store(String),
    #[error("{0}")]
    Secrets(#[from] secrets::SecretsError),
    /// A call to a store's API failed (after the client's own retries).
    #[error("{}", .0.merchant_message())]
    StoreApi(#[from] connectors::woo_client::WooClientError),
    /// A submission that cannot be claimed: already submitted, or not ready (with why).
    #[error("{0}")]
    Submit(#[from] domain::SubmitRefusal),
    /// A provider account's settings, or an action on an order, that cannot be done as asked.
    #[error("{0}")]
    Invalid(String),
    /// A call to a provider's API failed.
    #[error("{0}")]
    ProviderApi(#[from] connectors::provider::ProviderError),
    /// An action that needs an explicit `confirm` (hold, cancel) came without it.
    #[error("{0}")]
    NeedsConfirmation(String),
    /// A provider webhook whose signature or URL token does not check (nothing was kept).
    #[error("the webhook's signature or token does not check")]
    BadSignature,
    /// An outbound webhook registration that cannot be done as asked.
    #[error("{0}")]
    Webhook(String),
    /// An attempt to deliver an outbound webhook failed (it is tried again).
    #[error("webhook delivery: {0}")]
    WebhookDelivery(String),
    /// An edit of a personalization, or a photo upload, that cannot be done as asked.
    #[error("{0}")]
    Edit(#[from] crate::edit::EditError),
    /// Who may do what: a failed or throttled login, a missing session, a refused action.
    #[error("{0}")]
    Auth(#[from] crate::auth::AuthError),
}

impl AppError {
    /// A stable code for API clients and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::InvalidOrder(e) => e.code(),
            AppError::InvalidItem { .. } => "invalid_item",
            AppError::ClientImage { .. } => "client_image",
            AppError::Rule(r) => r.code(),
            AppError::Template { .. } => "template",
            AppError::Render(e) if e.is_input_error() => "render_input",
            AppError::Render(_) => "render",
            AppError::Storage(e) => e.code(),
            AppError::Config(_) => "config",
            AppError::NotFound(_) => "not_found",
            AppError::BadJob(_) => "bad_job",
            AppError::Stopped(_) => "stopped",
            AppError::Store(_) => "store",
            AppError::Secrets(_) => "secrets",
            AppError::StoreApi(e) => e.code(),
            AppError::Submit(e) => e.code(),
            AppError::Invalid(_) => "invalid",
            AppError::ProviderApi(e) => e.code(),
            AppError::NeedsConfirmation(_) => "confirmation_required",
            AppError::BadSignature => "bad_signature",
            AppError::Webhook(_) => "webhook",
            AppError::WebhookDelivery(_) => "webhook_delivery",
            AppError::Edit(e) => e.code(),
            AppError::Auth(e) => e.code(),
        }
    }

    /// The HTTP status an API handler answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            AppError::InvalidOrder(_)
            | AppError::InvalidItem { .. }
            | AppError::ClientImage { .. }
            | AppError::Template { .. }
            | AppError::Store(_)
            | AppError::Invalid(_)
            | AppError::NeedsConfirmation(_)
            | AppError::Webhook(_) => 422,
            AppError::Rule(_) | AppError::Submit(_) => 409,
            AppError::Storage(storage::StorageError::DuplicateOrder { .. })
            | AppError::Storage(storage::StorageError::Conflict { .. }) => 409,
            AppError::Storage(storage::StorageError::NotFound { .. }) | AppError::NotFound(_) => {
                404
            }
            AppError::Render(e) if e.is_input_error() => 422,
            AppError::StoreApi(_) | AppError::ProviderApi(_) => 502,
            AppError::BadSignature => 401,
            AppError::Edit(e) => e.http_status(),
            AppError::Auth(e) => e.http_status(),
            AppError::Storage(e) if e.is_retryable() => 503,
            _ => 500,
        }
    }

    /// For a job: would running it again help?
    pub fn is_retryable(&self) -> bool {
        match self {
            AppError::Storage(e) => e.is_retryable(),
            AppError::Render(e) => e.is_retryable(),
            AppError::Stopped(_) => true,
            AppError::StoreApi(e) => e.is_retryable(),
            AppError::ProviderApi(e) => matches!(
                e,
                connectors::provider::ProviderError::NotSent { .. }
                    | connectors::provider::ProviderError::Unknown { .. }
            ),
            AppError::ClientImage { retryable, .. } => *retryable,
            AppError::WebhookDelivery(_) => true,
            _ => false,
        }
    }
}
