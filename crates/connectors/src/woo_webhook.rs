//! WooCommerce webhook deliveries: the signature check and what a delivery is.
//!
//! WooCommerce signs the raw body: `X-WC-Webhook-Signature` = base64(HMAC-SHA256(body,
//! secret)) (`WC_Webhook::generate_signature()`). A ping, sent when a webhook is saved, is a
//! form body `webhook_id=N` with no signature and must be answered 200.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

/// Whether `signature` (the header's base64) is the HMAC-SHA256 of `body` under `secret`,
/// compared in constant time.
pub fn verify_signature(body: &[u8], secret: &str, signature: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Ok(tag) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, body, &tag).is_ok()
}

/// The signature WooCommerce would send for `body` (for tests and simulators).
pub fn sign(body: &[u8], secret: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    STANDARD.encode(hmac::sign(&key, body).as_ref())
}

/// The ping WooCommerce sends when a webhook is created or saved: `webhook_id=N`.
pub fn ping_webhook_id(body: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let mut id = None;
    for pair in text.split('&') {
        let (k, v) = pair.split_once('=')?;
        if k == "webhook_id" {
            id = v.parse().ok();
        } else {
            return None;
        }
    }
    id
}

/// What a delivery is about, from its `X-WC-Webhook-Topic` (`order.updated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// `order.created`, `order.updated`, `order.restored`: the body is the order.
    OrderChanged,
    /// `order.deleted`: the body is `{"id": N}` (or the order).
    OrderDeleted,
    /// Any other topic: kept, not acted on.
    Other,
}

impl Topic {
    pub fn parse(topic: &str) -> Topic {
        match topic.trim() {
            "order.created" | "order.updated" | "order.restored" => Topic::OrderChanged,
            "order.deleted" => Topic::OrderDeleted,
            _ => Topic::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_woocommerce_and_are_refused_when_altered() {
        let body = br#"{"id":727}"#;
        let sig = sign(body, "s3cret");
        assert!(verify_signature(body, "s3cret", &sig));
        assert!(!verify_signature(body, "other", &sig));
        assert!(!verify_signature(br#"{"id":728}"#, "s3cret", &sig));
        assert!(!verify_signature(body, "s3cret", "not base64 !"));
        assert!(!verify_signature(body, "", &sign(body, "")));
    }

    #[test]
    fn pings_are_a_form_body_with_only_the_webhook_id() {
        assert_eq!(ping_webhook_id(b"webhook_id=42"), Some(42));
        assert_eq!(ping_webhook_id(b"webhook_id=42\n"), Some(42));
        assert_eq!(ping_webhook_id(b"webhook_id=x"), None);
        assert_eq!(ping_webhook_id(b"webhook_id=42&x=1"), None);
        assert_eq!(ping_webhook_id(br#"{"id":1}"#), None);
    }

    #[test]
    fn topics() {
        assert_eq!(Topic::parse("order.updated"), Topic::OrderChanged);
        assert_eq!(Topic::parse("order.created"), Topic::OrderChanged);
        assert_eq!(Topic::parse("order.deleted"), Topic::OrderDeleted);
        assert_eq!(Topic::parse("product.updated"), Topic::Other);
    }
}
