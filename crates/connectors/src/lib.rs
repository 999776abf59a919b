//! Adapters between Pressroom and the outside world: store payloads in, provider requests out.
//!
//! Each module turns one platform's wire format into the [`domain`] model (and back). The wire
//! types stay private, so a platform's quirks never leak past its module.
#![forbid(unsafe_code)]

pub mod provider;
pub mod providers;
pub mod woo_client;
pub mod woo_webhook;
pub mod woocommerce;
