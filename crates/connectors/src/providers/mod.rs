//! The integrated providers' adapters, one module each, and [`AnyProvider`], which the
//! coordinator holds: one type for every provider kind, dispatching to the adapter.

use crate::provider::{
    Accepted, CancelOutcome, Provider, ProviderConfig, ProviderError, ProviderEvent, ProviderKind,
    ProviderOrder, RemoteOrder, WebhookError, WebhookRequest,
};

/// An adapter for any integrated provider (Manual and Sandbox are handled by the
/// coordinator itself: they have no API).
pub enum AnyProvider {
    // Filled in by the adapters: Printful(printful::Printful), CustomCat(..), ShineOn(..),
    // Gelato(..).
}

impl AnyProvider {
    /// The adapter for `config`, sending with `http` (which carries no retries of its own).
    pub fn new(
        config: ProviderConfig,
        _http: reqwest::Client,
    ) -> Result<AnyProvider, ProviderError> {
        Err(ProviderError::Config {
            message: format!("{} has no adapter yet", config.kind.as_str()),
        })
    }
}

impl Provider for AnyProvider {
    fn kind(&self) -> ProviderKind {
        match *self {}
    }

    async fn submit(&self, _order: &ProviderOrder) -> Result<Accepted, ProviderError> {
        match *self {}
    }

    async fn lookup(&self, _external_id: &str) -> Result<Option<RemoteOrder>, ProviderError> {
        match *self {}
    }

    async fn cancel(
        &self,
        _external_id: &str,
        _provider_order_id: &str,
    ) -> Result<CancelOutcome, ProviderError> {
        match *self {}
    }

    fn webhook(&self, _request: WebhookRequest<'_>) -> Result<Vec<ProviderEvent>, WebhookError> {
        match *self {}
    }
}
