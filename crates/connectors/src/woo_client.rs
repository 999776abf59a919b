//! An HTTP client for a WooCommerce store's REST API v3 (`/wp-json/wc/v3`).
//!
//! It moves bytes, not orders: order bodies come back raw ([`RawOrder::body`], `Bytes`) so the
//! caller parses them with [`crate::woocommerce::parse_order`] and may store them verbatim. One
//! malformed element of a list page is handed back like the others, so the caller can report
//! and skip it instead of failing the page.
//!
//! Retries: 429, 408, 5xx and transport errors are retried with exponential backoff (honouring
//! `Retry-After` in seconds), for idempotent calls only (GET, and the status `PUT`, which sets an
//! absolute value). The POSTs (notes, webhooks, tracking) create something each time they are
//! processed, so they are retried only when the store certainly did not process them: a 429
//! answer, or a connection that could not be opened. Other 4xx are never retried.
//!
//! The consumer secret never appears in an error, a log line or `Debug` output.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;

/// How the consumer key and secret travel to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// HTTP Basic auth (`Authorization` header), WooCommerce's normal way over HTTPS.
    #[default]
    Header,
    /// `consumer_key`/`consumer_secret` in the query string: WooCommerce's documented fallback
    /// for servers that do not pass the `Authorization` header to PHP.
    QueryString,
}

/// Where the store is and the REST API key it gave us (WooCommerce > Settings > Advanced >
/// REST API).
#[derive(Clone, PartialEq, Eq)]
pub struct WooCredentials {
    /// The store's base URL, e.g. `https://shop.example/` (a WordPress in a sub-folder keeps
    /// its folder: `https://example.com/shop/`).
    pub url: String,
    pub consumer_key: String,
    pub consumer_secret: String,
    pub auth: AuthMode,
}

impl fmt::Debug for WooCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key: String = self.consumer_key.chars().take(7).collect();
        f.debug_struct("WooCredentials")
            .field("url", &self.url)
            .field("consumer_key", &format!("{key}…"))
            .field("consumer_secret", &"[redacted]")
            .field("auth", &self.auth)
            .finish()
    }
}

/// How often and how patiently a failed call is repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1 is made).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based), before jitter: the store's
    /// `Retry-After` if it sent one, else `base_delay * 2^(attempt-1)`; at most `max_delay`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let wait = retry_after.unwrap_or_else(|| {
            let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
            self.base_delay.saturating_mul(factor)
        });
        wait.min(self.max_delay)
    }
}

/// Filters of a list of orders. Dates are UTC and exclusive, as WooCommerce applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQuery {
    /// Created after.
    pub after: Option<DateTime<Utc>>,
    /// Created before.
    pub before: Option<DateTime<Utc>>,
    /// Modified after (the reconcile poll).
    pub modified_after: Option<DateTime<Utc>>,
    /// Only these ids (empty: all).
    pub include: Vec<i64>,
    /// 1..=100 (clamped); default 100.
    pub per_page: u32,
    /// Default [`OrderBy::Id`]: ascending ids keep pages stable while orders change.
    pub orderby: OrderBy,
}

impl Default for OrderQuery {
    fn default() -> Self {
        OrderQuery {
            after: None,
            before: None,
            modified_after: None,
            include: vec![],
            per_page: 100,
            orderby: OrderBy::Id,
        }
    }
}

/// The sort key of a list of orders (always ascending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderBy {
    #[default]
    Id,
    Date,
    Modified,
}

impl OrderBy {
    fn as_str(self) -> &'static str {
        match self {
            OrderBy::Id => "id",
            OrderBy::Date => "date",
            OrderBy::Modified => "modified",
        }
    }
}

/// One page of `GET /orders`.
#[derive(Debug, Clone)]
pub struct OrdersPage {
    pub orders: Vec<RawOrder>,
    /// `X-WP-Total`: orders matching the query, all pages.
    pub total: u64,
    /// `X-WP-TotalPages`.
    pub total_pages: u32,
}

/// One element of a list page, as the store sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOrder {
    /// `None` when the element is not an object or its `id` is not an integer.
    pub id: Option<i64>,
    pub date_modified_gmt: Option<String>,
    /// The element's JSON text, byte for byte.
    pub body: Bytes,
}

/// The store's REST API index (`GET /wp-json/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreIndex {
    pub name: String,
    pub namespaces: Vec<String>,
}

impl StoreIndex {
    pub fn has_wc_v3(&self) -> bool {
        self.namespaces.iter().any(|n| n == "wc/v3")
    }

    /// The Shipment Tracking extension is installed and active.
    pub fn has_shipment_tracking(&self) -> bool {
        self.namespaces
            .iter()
            .any(|n| n == "wc-shipment-tracking/v3")
    }
}

/// A webhook registered on the store.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WebhookInfo {
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub topic: String,
    /// `active`, `paused` or `disabled` (WooCommerce disables one after repeated failures).
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub delivery_url: String,
}

/// A shipment for the Shipment Tracking extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    pub provider: TrackingProvider,
    pub tracking_number: String,
    /// Sent as `YYYY-MM-DD`.
    pub date_shipped: chrono::NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackingProvider {
    /// A provider the extension knows by name (`tracking_provider`, e.g. "USPS").
    Known(String),
    /// Any other carrier with its tracking link.
    Custom { name: String, link: String },
}

/// Why a call to the store failed.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum WooClientError {
    /// 401/403: the key or secret is wrong, revoked or lacks permission. `message` is
    /// WooCommerce's own, with its code.
    #[error("the store refused the credentials ({status}): {message}")]
    Unauthorized { status: u16, message: String },
    /// 404 for a thing that should exist, e.g. `order 727`.
    #[error("not found: {what}")]
    NotFound { what: String },
    /// Any other non-success answer.
    #[error("the store answered {status}: {message}")]
    Http {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// No answer: connection refused, DNS, TLS, timeout, connection cut.
    #[error("could not reach {url}: {message}")]
    Transport { url: String, message: String },
    /// A success answer that is not what the API documents.
    #[error("unexpected answer from the store: {message}")]
    InvalidResponse { message: String },
    #[error("invalid store URL: {message}")]
    InvalidUrl { message: String },
    /// The site answers but has no WooCommerce REST API v3.
    #[error("{url} is not a WooCommerce store: {message}")]
    NotWooCommerce { url: String, message: String },
}

impl WooClientError {
    /// Worth trying again later: 408, 429, 5xx and transport errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            WooClientError::Http { status, .. } => retryable_status(*status),
            WooClientError::Transport { .. } => true,
            _ => false,
        }
    }

    /// Stable code for logs and APIs.
    pub fn code(&self) -> &'static str {
        match self {
            WooClientError::Unauthorized { .. } => "woo_unauthorized",
            WooClientError::NotFound { .. } => "woo_not_found",
            WooClientError::Http { .. } => "woo_http",
            WooClientError::Transport { .. } => "woo_transport",
            WooClientError::InvalidResponse { .. } => "woo_invalid_response",
            WooClientError::InvalidUrl { .. } => "woo_invalid_url",
            WooClientError::NotWooCommerce { .. } => "woo_not_woocommerce",
        }
    }

    /// What happened and what to do, in words a shop owner understands.
    pub fn merchant_message(&self) -> String {
        match self {
            WooClientError::Unauthorized { status, message } => format!(
                "The store rejected the consumer key and secret ({status}): {message}. Check the \
                 key in WooCommerce > Settings > Advanced > REST API exists and has Read/Write \
                 permission."
            ),
            WooClientError::NotFound { what } => format!("The store has no {what}."),
            WooClientError::Http {
                status, message, ..
            } if *status == 429 => format!(
                "The store is limiting how often we may call it (429): {message}. We will try \
                 again later."
            ),
            WooClientError::Http {
                status, message, ..
            } if *status >= 500 => format!(
                "The store had an error or is unavailable ({status}): {message}. We will try \
                 again later."
            ),
            WooClientError::Http {
                status, message, ..
            } => format!("The store refused the request ({status}): {message}"),
            WooClientError::Transport { url, message } => {
                format!("Could not reach {url}: {message}")
            }
            WooClientError::InvalidResponse { message } => {
                format!("The store sent an answer we could not read: {message}")
            }
            WooClientError::InvalidUrl { message } => {
                format!("The store address is not valid: {message}")
            }
            WooClientError::NotWooCommerce { url, message } => format!(
                "{url} does not look like a WooCommerce store: {message}. Check the address and \
                 that WooCommerce is active."
            ),
        }
    }
}

fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

/// A client for one store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct WooClient {
    http: reqwest::Client,
    creds: WooCredentials,
    /// The base URL with its path ending in `/`, no query, no fragment.
    base: Url,
    retry: RetryPolicy,
    timeout: Duration,
}

/// Sent with every request: some WordPress security plugins block requests without one.
const USER_AGENT: &str = concat!("Pressroom/", env!("CARGO_PKG_VERSION"));

/// Per request (each attempt), unless [`WooClient::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most list pages [`WooClient::webhooks`] follows.
const MAX_WEBHOOK_PAGES: u32 = 20;

/// Whether a failed call may be sent again (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Idempotence {
    Idempotent,
    /// Only when the store certainly did not process it.
    CreatesSomething,
}

impl WooClient {
    /// Checks the URL: http or https, a host, no user info, query or fragment.
    pub fn new(
        http: reqwest::Client,
        creds: WooCredentials,
        retry: RetryPolicy,
    ) -> Result<WooClient, WooClientError> {
        let invalid = |message: String| WooClientError::InvalidUrl { message };
        let mut base = Url::parse(creds.url.trim())
            .map_err(|e| invalid(format!("{:?}: {e}", creds.url.trim())))?;
        if base.scheme() != "http" && base.scheme() != "https" {
            return Err(invalid(format!(
                "{base} must start with https:// (or http://), not {}:",
                base.scheme()
            )));
        }
        if base.host_str().is_none_or(str::is_empty) {
            return Err(invalid(format!("{base} has no host name")));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(invalid(
                "the address must not contain a user name or password".into(),
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid(format!(
                "{} must be the store's address alone, without ? or #",
                base.origin().ascii_serialization()
            )));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(WooClient {
            http,
            creds,
            base,
            retry,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The limit of each attempt, from sending to the last body byte.
    pub fn with_timeout(mut self, timeout: Duration) -> WooClient {
        self.timeout = timeout;
        self
    }

    /// The store's base URL as the client uses it (ends in `/`).
    pub fn store_url(&self) -> &str {
        self.base.as_str()
    }

    /// `GET /wc/v3/orders`: one page (1-based), ascending, dates in UTC.
    pub async fn orders_page(
        &self,
        q: &OrderQuery,
        page: u32,
    ) -> Result<OrdersPage, WooClientError> {
        let fmt = |d: &DateTime<Utc>| d.format("%Y-%m-%dT%H:%M:%S").to_string();
        let mut params: Vec<(&str, String)> = vec![
            ("page", page.max(1).to_string()),
            ("per_page", q.per_page.clamp(1, 100).to_string()),
        ];
        if let Some(d) = &q.after {
            params.push(("after", fmt(d)));
        }
        if let Some(d) = &q.before {
            params.push(("before", fmt(d)));
        }
        if let Some(d) = &q.modified_after {
            params.push(("modified_after", fmt(d)));
        }
        if !q.include.is_empty() {
            let ids: Vec<String> = q.include.iter().map(i64::to_string).collect();
            params.push(("include", ids.join(",")));
        }
        params.push(("orderby", q.orderby.as_str().into()));
        params.push(("order", "asc".into()));
        params.push(("dates_are_gmt", "true".into()));

        let url = self.wc_url("orders", &params);
        let (headers, body) = self
            .send(
                Method::GET,
                url,
                None,
                Idempotence::Idempotent,
                "orders list",
            )
            .await?;
        let total = header_number(&headers, "x-wp-total")?;
        let total_pages = header_number(&headers, "x-wp-totalpages")?;
        let total_pages = u32::try_from(total_pages)
            .map_err(|_| invalid_response(format!("X-WP-TotalPages is {total_pages}")))?;
        let orders = split_array(&body)
            .map_err(|e| invalid_response(format!("the orders list {e}")))?
            .into_iter()
            .map(raw_order)
            .collect();
        Ok(OrdersPage {
            orders,
            total,
            total_pages,
        })
    }

    /// `GET /wc/v3/orders/<id>`: the order's JSON.
    pub async fn order(&self, id: i64) -> Result<Bytes, WooClientError> {
        let url = self.wc_url(&format!("orders/{id}"), &[]);
        let what = format!("order {id}");
        let (_, body) = self
            .send(Method::GET, url, None, Idempotence::Idempotent, &what)
            .await?;
        json_object(body, &what)
    }

    /// `PUT /wc/v3/orders/<id>` with `{"status": ..}`: the updated order's JSON.
    pub async fn update_status(&self, id: i64, status: &str) -> Result<Bytes, WooClientError> {
        let url = self.wc_url(&format!("orders/{id}"), &[]);
        let body = serde_json::json!({ "status": status });
        let what = format!("order {id}");
        let (_, body) = self
            .send(Method::PUT, url, Some(body), Idempotence::Idempotent, &what)
            .await?;
        json_object(body, &what)
    }

    /// `POST /wc/v3/orders/<id>/notes`: the new note's id. A customer note is emailed to the
    /// customer by WooCommerce.
    pub async fn add_note(
        &self,
        id: i64,
        note: &str,
        customer_note: bool,
    ) -> Result<i64, WooClientError> {
        let url = self.wc_url(&format!("orders/{id}/notes"), &[]);
        let body = serde_json::json!({ "note": note, "customer_note": customer_note });
        let (_, body) = self
            .send(
                Method::POST,
                url,
                Some(body),
                Idempotence::CreatesSomething,
                &format!("order {id}"),
            )
            .await?;
        created_id(&body, "order note")
    }

    /// `GET /wp-json/`: the site's name and REST namespaces. `NotWooCommerce` if the answer is
    /// not a WordPress index or has no `wc/v3`.
    pub async fn index(&self) -> Result<StoreIndex, WooClientError> {
        let url = self.url("wp-json/", &[]);
        let not_woo = |message: String| WooClientError::NotWooCommerce {
            url: self.base.to_string(),
            message,
        };
        let body = match self
            .send(
                Method::GET,
                url,
                None,
                Idempotence::Idempotent,
                "REST API index",
            )
            .await
        {
            Ok((_, body)) => body,
            Err(WooClientError::NotFound { .. }) => {
                return Err(not_woo("it has no REST API index at /wp-json/".into()));
            }
            Err(e) => return Err(e),
        };
        #[derive(Deserialize)]
        struct Index {
            #[serde(default)]
            name: String,
            #[serde(default)]
            namespaces: Vec<String>,
        }
        let index: Index = serde_json::from_slice(&body).map_err(|_| {
            not_woo(format!(
                "its REST API index (/wp-json/) is not JSON: {}",
                snippet(&body)
            ))
        })?;
        let index = StoreIndex {
            name: index.name,
            namespaces: index.namespaces,
        };
        if !index.has_wc_v3() {
            return Err(not_woo("the REST API index has no wc/v3".into()));
        }
        Ok(index)
    }

    /// `POST /wc/v3/webhooks` (status active): the new webhook's id. WooCommerce signs its
    /// deliveries with `secret`.
    pub async fn create_webhook(
        &self,
        name: &str,
        topic: &str,
        delivery_url: &str,
        secret: &str,
    ) -> Result<i64, WooClientError> {
        let url = self.wc_url("webhooks", &[]);
        let body = serde_json::json!({
            "name": name,
            "topic": topic,
            "delivery_url": delivery_url,
            "secret": secret,
            "status": "active",
        });
        let (_, body) = self
            .send(
                Method::POST,
                url,
                Some(body),
                Idempotence::CreatesSomething,
                "webhooks route",
            )
            .await?;
        created_id(&body, "webhook")
    }

    /// `GET /wc/v3/webhooks`, every page.
    pub async fn webhooks(&self) -> Result<Vec<WebhookInfo>, WooClientError> {
        let mut all = vec![];
        for page in 1..=MAX_WEBHOOK_PAGES {
            let params = [("page", page.to_string()), ("per_page", "100".to_string())];
            let url = self.wc_url("webhooks", &params);
            let (headers, body) = self
                .send(
                    Method::GET,
                    url,
                    None,
                    Idempotence::Idempotent,
                    "webhooks route",
                )
                .await?;
            let list: Vec<WebhookInfo> = serde_json::from_slice(&body).map_err(|e| {
                invalid_response(format!("the webhooks list: {e}: {}", snippet(&body)))
            })?;
            let pages = header_number(&headers, "x-wp-totalpages").unwrap_or(1);
            let done = list.is_empty() || u64::from(page) >= pages;
            all.extend(list);
            if done {
                break;
            }
        }
        Ok(all)
    }

    /// `POST /wp-json/wc-shipment-tracking/v3/orders/<id>/shipment-trackings` (the Shipment
    /// Tracking extension, see [`StoreIndex::has_shipment_tracking`]): the new tracking id.
    pub async fn add_tracking(&self, id: i64, t: &Tracking) -> Result<String, WooClientError> {
        let url = self.url(
            &format!("wp-json/wc-shipment-tracking/v3/orders/{id}/shipment-trackings"),
            &[],
        );
        let mut body = serde_json::json!({
            "tracking_number": t.tracking_number,
            "date_shipped": t.date_shipped.format("%Y-%m-%d").to_string(),
        });
        match &t.provider {
            TrackingProvider::Known(name) => body["tracking_provider"] = name.as_str().into(),
            TrackingProvider::Custom { name, link } => {
                body["custom_tracking_provider"] = name.as_str().into();
                body["custom_tracking_link"] = link.as_str().into();
            }
        }
        let (_, body) = self
            .send(
                Method::POST,
                url,
                Some(body),
                Idempotence::CreatesSomething,
                &format!("order {id} or Shipment Tracking route"),
            )
            .await?;
        #[derive(Deserialize)]
        struct Created {
            tracking_id: serde_json::Value,
        }
        let created: Created = serde_json::from_slice(&body).map_err(|e| {
            invalid_response(format!("the created tracking: {e}: {}", snippet(&body)))
        })?;
        match created.tracking_id {
            serde_json::Value::String(s) if !s.is_empty() => Ok(s),
            serde_json::Value::Number(n) => Ok(n.to_string()),
            other => Err(invalid_response(format!(
                "the created tracking has tracking_id {other}"
            ))),
        }
    }

    fn wc_url(&self, route: &str, params: &[(&str, String)]) -> Url {
        self.url(&format!("wp-json/wc/v3/{route}"), params)
    }

    fn url(&self, path: &str, params: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        let full = format!("{}{path}", self.base.path());
        url.set_path(&full);
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in params {
                pairs.append_pair(k, v);
            }
            if self.creds.auth == AuthMode::QueryString {
                pairs.append_pair("consumer_key", &self.creds.consumer_key);
                pairs.append_pair("consumer_secret", &self.creds.consumer_secret);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        url
    }

    /// One call with retries; a 2xx answer's headers and body, else the error. `what` names
    /// the thing a 404 means is missing.
    async fn send(
        &self,
        method: Method,
        url: Url,
        json: Option<serde_json::Value>,
        idempotence: Idempotence,
        what: &str,
    ) -> Result<(HeaderMap, Bytes), WooClientError> {
        let attempts = self.retry.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (error, may_retry) = match self.attempt(&method, &url, json.as_ref()).await {
                Ok((status, headers, body)) if status.is_success() => return Ok((headers, body)),
                Ok((status, headers, body)) => {
                    let error = self.status_error(status, &headers, &body, &url, what);
                    let may_retry = match idempotence {
                        Idempotence::Idempotent => error.is_retryable(),
                        Idempotence::CreatesSomething => status.as_u16() == 429,
                    };
                    (error, may_retry)
                }
                Err((error, connect_failed)) => {
                    let may_retry = idempotence == Idempotence::Idempotent || connect_failed;
                    (error, may_retry)
                }
            };
            if !may_retry || attempt >= attempts {
                return Err(error);
            }
            let retry_after = match &error {
                WooClientError::Http { retry_after, .. } => *retry_after,
                _ => None,
            };
            let mut wait = self.retry.delay(attempt, retry_after);
            if retry_after.is_none() {
                // Up to a quarter more, so clients failed together do not retry together.
                wait = (wait + jitter(wait / 4)).min(self.retry.max_delay);
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: the answer, or a transport error and whether it failed before the
    /// request could be sent (connecting).
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        json: Option<&serde_json::Value>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), (WooClientError, bool)> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header(reqwest::header::USER_AGENT, USER_AGENT)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.timeout);
        if self.creds.auth == AuthMode::Header {
            request =
                request.basic_auth(&self.creds.consumer_key, Some(&self.creds.consumer_secret));
        }
        if let Some(json) = json {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json.to_string());
        }
        let response = request.send().await.map_err(|e| {
            let connect = e.is_connect();
            (self.transport_error(e), connect)
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| (self.transport_error(e), false))?;
        Ok((status, headers, body))
    }

    fn transport_error(&self, e: reqwest::Error) -> WooClientError {
        let message = if e.is_timeout() {
            format!("no answer within {} s", self.timeout.as_secs_f64())
        } else {
            describe_transport(&e.without_url())
        };
        WooClientError::Transport {
            url: self.base.to_string(),
            message: self.redact(message),
        }
    }

    fn status_error(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        url: &Url,
        what: &str,
    ) -> WooClientError {
        let wp = serde_json::from_slice::<WpError>(body).ok();
        let message = match &wp {
            Some(WpError {
                code: Some(code),
                message: Some(m),
            }) => format!("{} ({code})", m.trim()),
            Some(WpError {
                message: Some(m), ..
            }) => m.trim().to_string(),
            _ if body.iter().all(u8::is_ascii_whitespace) => status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string(),
            _ => snippet(body),
        };
        let message = self.redact(message);
        let code = status.as_u16();
        match code {
            401 | 403 => WooClientError::Unauthorized {
                status: code,
                message,
            },
            404 => {
                let no_route = wp
                    .and_then(|w| w.code)
                    .is_some_and(|c| c == "rest_no_route");
                if no_route && url.path().contains("/wp-json/wc/v3/") {
                    WooClientError::NotWooCommerce {
                        url: self.base.to_string(),
                        message: "it has no route for the WooCommerce REST API v3".into(),
                    }
                } else {
                    WooClientError::NotFound { what: what.into() }
                }
            }
            _ => WooClientError::Http {
                status: code,
                message,
                retry_after: retry_after(headers),
            },
        }
    }

    fn redact(&self, text: String) -> String {
        let secret = &self.creds.consumer_secret;
        if secret.is_empty() {
            text
        } else {
            text.replace(secret.as_str(), "[redacted]")
        }
    }
}

/// WordPress's REST error body: `{"code","message","data":{"status"}}`.
#[derive(Deserialize)]
struct WpError {
    code: Option<String>,
    message: Option<String>,
}

fn invalid_response(message: String) -> WooClientError {
    WooClientError::InvalidResponse { message }
}

/// The start of a body that is not what was expected, for an error message.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "an empty body".into();
    }
    let cut: String = text.chars().take(120).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

fn header_number(headers: &HeaderMap, name: &str) -> Result<u64, WooClientError> {
    let value = headers
        .get(name)
        .ok_or_else(|| invalid_response(format!("the answer has no {name} header")))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| invalid_response(format!("the {name} header is {value:?}")))
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    // Seconds only; an HTTP date falls back to the backoff.
    let secs: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

fn jitter(max: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    max.mul_f64(f64::from(nanos % 1000) / 1000.0)
}

/// The innermost cause of a transport failure, in words ("connection refused").
fn describe_transport(e: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut last = e.to_string();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => return "connection reset".into(),
                std::io::ErrorKind::TimedOut => return "timed out".into(),
                _ => {}
            }
        }
        last = s.to_string();
        source = s.source();
    }
    last
}

/// A 2xx body that must be one JSON object (an order): an HTML page from a security plugin or
/// a cache is refused here rather than in the parser.
fn json_object(body: Bytes, what: &str) -> Result<Bytes, WooClientError> {
    let is_object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok();
    if is_object {
        Ok(body)
    } else {
        Err(invalid_response(format!(
            "{what} is not a JSON object: {}",
            snippet(&body)
        )))
    }
}

fn created_id(body: &[u8], what: &str) -> Result<i64, WooClientError> {
    #[derive(Deserialize)]
    struct Created {
        id: i64,
    }
    serde_json::from_slice::<Created>(body)
        .map(|c| c.id)
        .map_err(|e| invalid_response(format!("the created {what}: {e}: {}", snippet(body))))
}

fn raw_order(body: Bytes) -> RawOrder {
    #[derive(Deserialize)]
    struct Head {
        id: Option<serde_json::Value>,
        date_modified_gmt: Option<serde_json::Value>,
    }
    // serde reads a struct from an array too: only an object is an order.
    let head = (body.first() == Some(&b'{'))
        .then(|| serde_json::from_slice::<Head>(&body).ok())
        .flatten();
    let (id, date_modified_gmt) = match head {
        Some(h) => (
            h.id.and_then(|v| v.as_i64()),
            h.date_modified_gmt
                .and_then(|v| v.as_str().map(str::to_owned)),
        ),
        None => (None, None),
    };
    RawOrder {
        id,
        date_modified_gmt,
        body,
    }
}

/// The elements of a JSON array, each as its exact bytes. Errors say what the body is instead.
fn split_array(body: &Bytes) -> Result<Vec<Bytes>, String> {
    // Validate first, so the scan below only has to find the top-level commas.
    if serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(body).is_err() {
        return Err(format!("is not a JSON array: {}", snippet(body)));
    }
    let mut elements = vec![];
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut start = None;
    for (i, &b) in body.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            b']' | b'}' => {
                if depth == 1 {
                    if let Some(s) = start.take() {
                        elements.push(trimmed(body, s, i));
                    }
                    depth = 0;
                    continue;
                }
                depth = depth.saturating_sub(1);
            }
            b',' if depth == 1 => {
                if let Some(s) = start.take() {
                    elements.push(trimmed(body, s, i));
                }
                continue;
            }
            _ => {}
        }
        if depth >= 1 && start.is_none() && !b.is_ascii_whitespace() {
            start = Some(i);
        }
    }
    Ok(elements)
}

fn trimmed(body: &Bytes, start: usize, end: usize) -> Bytes {
    let mut end = end;
    while end > start && body.get(end - 1).is_some_and(u8::is_ascii_whitespace) {
        end -= 1;
    }
    body.slice(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<String> {
        split_array(&Bytes::from(text.to_owned()))
            .unwrap()
            .iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn a_page_is_split_into_its_elements_byte_for_byte() {
        assert_eq!(split("[]"), Vec::<String>::new());
        assert_eq!(split(" [ ] "), Vec::<String>::new());
        assert_eq!(
            split(r#"[ {"a":[1,{"b":"],}"}], "p": 12.50} , 7,"x\"]," ,null,[ ]]"#),
            vec![
                r#"{"a":[1,{"b":"],}"}], "p": 12.50}"#,
                "7",
                r#""x\"],""#,
                "null",
                "[ ]"
            ]
        );
    }

    #[test]
    fn a_body_that_is_not_an_array_is_refused() {
        for body in ["{}", "<html>", "[1,", "[1] x", ""] {
            assert!(
                split_array(&Bytes::from(body)).is_err(),
                "{body:?} was accepted"
            );
        }
    }

    #[test]
    fn only_an_object_with_an_integer_id_has_an_id() {
        let order = raw_order(Bytes::from_static(
            br#"{"id": 5, "date_modified_gmt": "2024-01-02T03:04:05"}"#,
        ));
        assert_eq!(order.id, Some(5));
        assert_eq!(
            order.date_modified_gmt.as_deref(),
            Some("2024-01-02T03:04:05")
        );
        for body in [r#"[5, "x"]"#, r#"{"id": "5"}"#, "7", r#"{"id": 1.5}"#] {
            assert_eq!(raw_order(Bytes::from(body)).id, None, "{body}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_retry_after_wins() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(p.delay(1, None), Duration::from_millis(100));
        assert_eq!(p.delay(2, None), Duration::from_millis(200));
        assert_eq!(p.delay(4, None), Duration::from_millis(800));
        assert_eq!(p.delay(5, None), Duration::from_secs(1));
        assert_eq!(p.delay(60, None), Duration::from_secs(1));
        assert_eq!(
            p.delay(1, Some(Duration::from_millis(700))),
            Duration::from_millis(700)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(120))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn credentials_debug_hides_the_secret() {
        let creds = WooCredentials {
            url: "https://shop.example/".into(),
            consumer_key: "ck_0123456789abcdef".into(),
            consumer_secret: "cs_topsecret".into(),
            auth: AuthMode::Header,
        };
        let client = WooClient::new(
            reqwest::Client::new(),
            creds.clone(),
            RetryPolicy::default(),
        )
        .unwrap();
        for text in [format!("{creds:?}"), format!("{client:?}")] {
            assert!(!text.contains("cs_topsecret"), "{text}");
            assert!(!text.contains("0123456789abcdef"), "{text}");
        }
    }

    #[test]
    fn store_urls_are_checked() {
        let make = |url: &str| {
            WooClient::new(
                reqwest::Client::new(),
                WooCredentials {
                    url: url.into(),
                    consumer_key: "ck".into(),
                    consumer_secret: "cs".into(),
                    auth: AuthMode::Header,
                },
                RetryPolicy::default(),
            )
        };
        assert_eq!(
            make("https://shop.example").unwrap().store_url(),
            "https://shop.example/"
        );
        assert_eq!(
            make("https://example.com/shop").unwrap().store_url(),
            "https://example.com/shop/"
        );
        for bad in [
            "shop.example",
            "ftp://shop.example/",
            "https://user:pw@shop.example/",
            "https://shop.example/?x=1",
            "",
        ] {
            let err = make(bad).unwrap_err();
            assert_eq!(err.code(), "woo_invalid_url", "{bad}");
        }
    }

    #[test]
    fn query_string_auth_adds_key_and_secret_to_every_url() {
        let client = WooClient::new(
            reqwest::Client::new(),
            WooCredentials {
                url: "https://example.com/shop/".into(),
                consumer_key: "ck_1".into(),
                consumer_secret: "cs_2".into(),
                auth: AuthMode::QueryString,
            },
            RetryPolicy::default(),
        )
        .unwrap();
        assert_eq!(
            client.wc_url("orders/5", &[]).as_str(),
            "https://example.com/shop/wp-json/wc/v3/orders/5?consumer_key=ck_1&consumer_secret=cs_2"
        );
    }
}
