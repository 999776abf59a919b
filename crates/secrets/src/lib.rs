//! Secrets at rest: a store's consumer key and secret and its webhook secret are sealed with
//! ChaCha20-Poly1305 (ring's AEAD) under one 32-byte key from configuration, with a random
//! nonce per seal and the secret's context (its store and field) as associated data, so a
//! sealed value copied into another store's row or field does not open.
//!
//! A sealed value is text: `v1.` + base64url(nonce ‖ ciphertext ‖ tag). [`Secret`] holds an
//! opened value and never shows it in `Debug` or `Display`.
#![forbid(unsafe_code)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

const PREFIX: &str = "v1.";
const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SecretsError {
    /// The configured key is not 32 bytes of standard base64.
    #[error("the secrets key must be 32 bytes in base64 (e.g. from `pressroom secrets-key`): {0}")]
    BadKey(String),
    /// Not a value this crate sealed (wrong prefix, not base64, too short).
    #[error("{context}: not a sealed secret ({why})")]
    Malformed { context: String, why: String },
    /// The tag did not verify: another key sealed it, or it was sealed for another context,
    /// or it was altered.
    #[error(
        "{context}: the secret does not open with the configured secrets key (sealed with another key, or altered)"
    )]
    WrongKey { context: String },
    #[error("the system random number generator failed")]
    Random,
}

/// The key secrets are sealed with.
pub struct SecretKey {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// The key from its configured form: 32 bytes in standard base64.
    pub fn from_base64(text: &str) -> Result<SecretKey, SecretsError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| SecretsError::BadKey(e.to_string()))?;
        if bytes.len() != KEY_LEN {
            return Err(SecretsError::BadKey(format!(
                "it decodes to {} bytes",
                bytes.len()
            )));
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
            .map_err(|_| SecretsError::BadKey("rejected by the cipher".into()))?;
        Ok(SecretKey {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }

    /// A new random key in its configured form.
    pub fn generate() -> Result<String, SecretsError> {
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SecretsError::Random)?;
        Ok(STANDARD.encode(bytes))
    }

    /// Seal `plaintext` for `context` (e.g. `store/main/consumer_secret`).
    pub fn seal(&self, context: &str, plaintext: &str) -> Result<String, SecretsError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| SecretsError::Random)?;
        let mut data = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| SecretsError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Open a value sealed for `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Secret, SecretsError> {
        let malformed = |why: &str| SecretsError::Malformed {
            context: context.to_owned(),
            why: why.to_owned(),
        };
        let body = sealed
            .strip_prefix(PREFIX)
            .ok_or_else(|| malformed("no v1. prefix"))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| malformed("not base64"))?;
        if bytes.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            return Err(malformed("too short"));
        }
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| malformed("nonce"))?;
        let mut data = data.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
            .map_err(|_| SecretsError::WrongKey {
                context: context.to_owned(),
            })?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| malformed("not UTF-8"))?;
        Ok(Secret(text))
    }
}

/// An opened secret. `Debug` and `Display` never show it; [`Secret::expose`] does, for the one
/// place that sends it (an `Authorization` header, an HMAC key).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A hint a merchant can match against their store's settings: the last four
    /// characters, e.g. `…c1f2`; empty stays empty.
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() <= 8 {
            return if chars.is_empty() {
                String::new()
            } else {
                "…".into()
            };
        }
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("…{tail}")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_base64(&SecretKey::generate().unwrap()).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_context() {
        let k = key();
        let sealed = k.seal("store/main/consumer_secret", "cs_abc123").unwrap();
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("cs_abc123"));
        let opened = k.open("store/main/consumer_secret", &sealed).unwrap();
        assert_eq!(opened.expose(), "cs_abc123");
    }

    #[test]
    fn two_seals_of_one_secret_differ() {
        let k = key();
        assert_ne!(k.seal("c", "same").unwrap(), k.seal("c", "same").unwrap());
    }

    #[test]
    fn another_key_another_context_or_an_altered_value_does_not_open() {
        let k = key();
        let sealed = k.seal("store/a/consumer_secret", "cs_abc").unwrap();
        assert_eq!(
            key().open("store/a/consumer_secret", &sealed),
            Err(SecretsError::WrongKey {
                context: "store/a/consumer_secret".into()
            })
        );
        assert!(matches!(
            k.open("store/b/consumer_secret", &sealed),
            Err(SecretsError::WrongKey { .. })
        ));
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert!(matches!(
            k.open(
                "store/a/consumer_secret",
                &String::from_utf8(altered).unwrap()
            ),
            Err(SecretsError::WrongKey { .. } | SecretsError::Malformed { .. })
        ));
        assert!(matches!(
            k.open("c", "cs_plain"),
            Err(SecretsError::Malformed { .. })
        ));
        assert!(matches!(
            k.open("c", "v1.AAAA"),
            Err(SecretsError::Malformed { .. })
        ));
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(matches!(
            SecretKey::from_base64("not base64!"),
            Err(SecretsError::BadKey(_))
        ));
        assert!(matches!(
            SecretKey::from_base64(&STANDARD.encode([1u8; 16])),
            Err(SecretsError::BadKey(_))
        ));
        assert!(SecretKey::from_base64(&STANDARD.encode([1u8; 32])).is_ok());
    }

    #[test]
    fn secrets_never_show_in_debug_or_display() {
        let s = Secret::new("cs_topsecret_value");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.hint(), "…alue");
        assert_eq!(Secret::new("short").hint(), "…");
        assert_eq!(Secret::new("").hint(), "");
        assert_eq!(format!("{:?}", key()), "SecretKey(…)");
    }
}
