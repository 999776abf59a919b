//! Who is asking, and what they may see: users (admins see everything, merchants their own
//! stores), passwords hashed with Argon2id, login sessions with their CSRF token, API tokens,
//! and the login throttle (per account and per address, kept in the database so every process
//! of a farm counts the same failures).
//!
//! Session and API tokens are 256 random bits; only their SHA-256 is stored.

use std::net::IpAddr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use ring::rand::SecureRandom as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use storage::{OrderRow, UserRow};

use crate::{App, AppError};

/// What a user is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees and changes everything, manages users and providers.
    Admin,
    /// Sees the orders, files and settings of their own stores.
    Merchant,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "merchant" => Some(Role::Merchant),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Merchant => "merchant",
        }
    }
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    /// The stores a merchant owns (empty for an admin, who sees all).
    pub stores: Vec<String>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether this user may see a store and everything under it.
    pub fn sees_store(&self, store_id: &str) -> bool {
        self.is_admin() || self.stores.iter().any(|s| s == store_id)
    }

    /// The stores a listing is limited to: `None` for an admin (all).
    pub fn store_scope(&self) -> Option<Vec<String>> {
        (!self.is_admin()).then(|| self.stores.clone())
    }

    /// Refuse anything but an admin.
    pub fn require_admin(&self) -> Result<(), AuthError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AuthError::Forbidden("only an admin may do this".into()))
        }
    }

    fn from_row(row: UserRow) -> Result<User, AppError> {
        let role = Role::parse(&row.role).ok_or_else(|| {
            AppError::Storage(storage::StorageError::Corrupt {
                what: "user",
                id: row.id.to_string(),
                message: format!("unknown role {:?}", row.role),
            })
        })?;
        Ok(User {
            id: row.id,
            username: row.username,
            role,
            stores: row.stores,
        })
    }
}

/// A live session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub user: User,
    /// The token every form and state-changing request of this session must carry.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// A session just started: the cookie value (shown once, never stored) and the session.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub token: String,
    pub session: Session,
}

/// How sessions last and how hard logins are throttled (`[app.auth]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// How long a session lasts after login.
    pub session_hours: u32,
    /// Failed logins of one account within the window before it is refused for a while.
    pub max_failures_per_account: u32,
    /// Failed logins from one address within the window.
    pub max_failures_per_address: u32,
    pub window_secs: u32,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            session_hours: 12,
            max_failures_per_account: 5,
            max_failures_per_address: 20,
            window_secs: 15 * 60,
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// One message for a wrong name or a wrong password: which one is nobody's business.
    #[error("the username or password is not right")]
    LoginFailed,
    #[error("too many failed logins; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("sign in first: a session cookie or an `Authorization: Bearer` token is needed")]
    Unauthenticated,
    #[error("the CSRF token is missing or wrong; reload the page and try again")]
    BadCsrf,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::LoginFailed => "login_failed",
            AuthError::Throttled { .. } => "throttled",
            AuthError::Unauthenticated => "unauthenticated",
            AuthError::BadCsrf => "bad_csrf",
            AuthError::Forbidden(_) => "forbidden",
            AuthError::Invalid(_) => "invalid_user",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            AuthError::LoginFailed | AuthError::Unauthenticated => 401,
            AuthError::Throttled { .. } => 429,
            AuthError::BadCsrf | AuthError::Forbidden(_) => 403,
            AuthError::Invalid(_) => 422,
        }
    }
}

/// 256 random bits, URL-safe base64 (a cookie, a token, a CSRF value).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random source works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored for a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// Constant-time comparison (CSRF tokens): both are hashed first, so neither the time nor the
/// lengths tell how much of a guess was right.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (x, y) = (
        sha2::Sha256::digest(a.as_bytes()),
        sha2::Sha256::digest(b.as_bytes()),
    );
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// API tokens carry a prefix so a leaked one is recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "prt_";

fn argon2() -> Argon2<'static> {
    // OWASP's first Argon2id choice: 19 MiB, 2 passes, 1 lane.
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid Argon2 parameters"),
    )
}

/// Hash a password as an Argon2id PHC string.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2 hashes any password")
        .to_string()
}

fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to check unknown names against, so a wrong name takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("no such user"))
}

fn check_username(name: &str) -> Result<(), AuthError> {
    let ok = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AuthError::Invalid(format!(
            "username {name:?}: use 1 to 64 letters, digits and . _ - @"
        )))
    }
}

fn check_password(password: &str) -> Result<(), AuthError> {
    if password.chars().count() < 8 {
        return Err(AuthError::Invalid(
            "the password needs at least 8 characters".into(),
        ));
    }
    if password.len() > 1024 {
        return Err(AuthError::Invalid(
            "the password is longer than 1024 bytes".into(),
        ));
    }
    Ok(())
}

fn account_key(username: &str) -> String {
    format!("user:{}", username.to_lowercase())
}

fn address_key(addr: IpAddr) -> String {
    format!("addr:{addr}")
}

impl App {
    /// Add a user. A merchant's stores must exist.
    pub async fn add_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
        stores: &[String],
    ) -> Result<User, AppError> {
        check_username(username)?;
        check_password(password)?;
        for store in stores {
            if self.db.store(store).await?.is_none() {
                return Err(AuthError::Invalid(format!("store {store:?} does not exist")).into());
            }
        }
        let stores = if role == Role::Admin { &[][..] } else { stores };
        let password = password.to_string();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| AppError::Config(format!("password hashing stopped: {e}")))?;
        let id = self
            .db
            .create_user(username, &hash, role.as_str(), stores, self.now())
            .await
            .map_err(|e| match e {
                storage::StorageError::Conflict { .. } => AppError::Auth(AuthError::Invalid(
                    format!("the username {username:?} is taken"),
                )),
                e => e.into(),
            })?;
        Ok(User {
            id,
            username: username.to_string(),
            role,
            stores: stores.to_vec(),
        })
    }

    pub async fn users(&self) -> Result<Vec<User>, AppError> {
        self.db
            .users()
            .await?
            .into_iter()
            .map(User::from_row)
            .collect()
    }

    pub async fn user_named(&self, username: &str) -> Result<User, AppError> {
        match self.db.user_by_name(username).await? {
            Some(row) => User::from_row(row),
            None => Err(AppError::NotFound(format!("user {username:?}"))),
        }
    }

    /// Set a new password; the user's sessions end.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<(), AppError> {
        check_password(password)?;
        let user = self.user_named(username).await?;
        let password = password.to_string();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| AppError::Config(format!("password hashing stopped: {e}")))?;
        Ok(self.db.set_password(user.id, &hash, self.now()).await?)
    }

    pub async fn set_user_stores(&self, username: &str, stores: &[String]) -> Result<(), AppError> {
        let user = self.user_named(username).await?;
        for store in stores {
            if self.db.store(store).await?.is_none() {
                return Err(AuthError::Invalid(format!("store {store:?} does not exist")).into());
            }
        }
        Ok(self.db.set_user_stores(user.id, stores).await?)
    }

    pub async fn remove_user(&self, username: &str) -> Result<(), AppError> {
        let user = self.user_named(username).await?;
        self.db.delete_user(user.id).await?;
        Ok(())
    }

    /// Check a name and password and start a session. Failures count against the account and
    /// the address; past either limit the login is refused, right password or not, until the
    /// window has passed.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        addr: Option<IpAddr>,
    ) -> Result<NewSession, AppError> {
        let now = self.now();
        let s = &self.settings.auth;
        let window = Duration::seconds(i64::from(s.window_secs));
        let since = now - window;
        let mut keys = vec![(account_key(username), s.max_failures_per_account)];
        if let Some(addr) = addr {
            keys.push((address_key(addr), s.max_failures_per_address));
        }
        for (key, limit) in &keys {
            let (failures, oldest) = self.db.login_failures(key, since).await?;
            if failures >= i64::from(*limit) {
                let free_at = oldest.unwrap_or(now) + window;
                let retry_after_secs = (free_at - now).num_seconds().max(1) as u64;
                return Err(AuthError::Throttled { retry_after_secs }.into());
            }
        }
        let row = self.db.user_by_name(username).await?;
        let hash = row
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_string());
        let pw = password.to_string();
        let good = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
            .await
            .map_err(|e| AppError::Config(format!("password check stopped: {e}")))?;
        let Some(row) = row.filter(|_| good) else {
            let keys: Vec<String> = keys.into_iter().map(|(k, _)| k).collect();
            self.db.record_login_failure(&keys, now, since).await?;
            return Err(AuthError::LoginFailed.into());
        };
        self.db.clear_login_failures(&account_key(username)).await?;
        let user = User::from_row(row)?;
        let token = random_token();
        let csrf = random_token();
        let expires_at = now + Duration::hours(i64::from(s.session_hours));
        self.db
            .create_session(&token_hash(&token), user.id, &csrf, now, expires_at)
            .await?;
        Ok(NewSession {
            token,
            session: Session {
                user,
                csrf,
                expires_at,
            },
        })
    }

    /// The live session behind a cookie value.
    pub async fn session(&self, token: &str) -> Result<Option<Session>, AppError> {
        let Some(row) = self.db.session(&token_hash(token), self.now()).await? else {
            return Ok(None);
        };
        Ok(Some(Session {
            user: User::from_row(row.user)?,
            csrf: row.csrf,
            expires_at: row.expires_at,
        }))
    }

    pub async fn logout(&self, token: &str) -> Result<(), AppError> {
        Ok(self.db.delete_session(&token_hash(token)).await?)
    }

    /// Make an API token for a user; the value is returned once and never stored.
    pub async fn create_token(&self, username: &str, name: &str) -> Result<String, AppError> {
        let user = self.user_named(username).await?;
        let token = format!("{TOKEN_PREFIX}{}", random_token());
        self.db
            .create_token(user.id, name, &token_hash(&token), self.now())
            .await?;
        Ok(token)
    }

    /// The user an API token belongs to.
    pub async fn user_for_token(&self, token: &str) -> Result<Option<User>, AppError> {
        match self
            .db
            .user_for_token(&token_hash(token), self.now())
            .await?
        {
            Some(row) => Ok(Some(User::from_row(row)?)),
            None => Ok(None),
        }
    }

    /// An order this user may see; another merchant's order is "not found", exactly like one
    /// that does not exist.
    pub async fn order_for(&self, user: &User, id: i64) -> Result<OrderRow, AppError> {
        let row = self.db.get_order(id).await?;
        if user.sees_store(&row.store_id) {
            Ok(row)
        } else {
            Err(storage::StorageError::NotFound {
                what: "order",
                id: id.to_string(),
            }
            .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let hash = hash_password("correct horse");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsE", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let a = random_token();
        assert_ne!(a, random_token());
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &a[1..]));
        assert!(!same_secret("", &a));
    }

    #[test]
    fn merchants_see_their_stores_and_admins_all() {
        let merchant = User {
            id: 1,
            username: "m".into(),
            role: Role::Merchant,
            stores: vec!["shop-a".into()],
        };
        assert!(merchant.sees_store("shop-a"));
        assert!(!merchant.sees_store("shop-b"));
        assert_eq!(merchant.store_scope(), Some(vec!["shop-a".to_string()]));
        assert!(merchant.require_admin().is_err());
        let admin = User {
            role: Role::Admin,
            stores: vec![],
            ..merchant
        };
        assert!(admin.sees_store("shop-b"));
        assert_eq!(admin.store_scope(), None);
    }

    #[test]
    fn usernames_and_passwords_are_checked() {
        assert!(check_username("anna@example.com").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("a b").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
    }
}
