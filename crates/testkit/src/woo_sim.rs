//! A WooCommerce store on 127.0.0.1 speaking REST API v3 the way a real one does: strict
//! authentication, WordPress error bodies, paging headers, exclusive date filters, and
//! `date_modified` bumped by every change. Tests drive it like a merchant (edit an order in
//! wp-admin), like the network (fail the next requests, go down) and like WooCommerce itself
//! (send signed webhooks), and read back every request it received.
//!
//! Behaviour worth knowing:
//! - Orders are JSON values stored by id. A status change (API or merchant) adds WooCommerce's
//!   system note "Order status changed from X to Y." and `completed` sets `date_completed`.
//! - `PUT /orders/<id>` replaces the top-level fields it is given (WooCommerce merges line items
//!   by id; tests here only change top-level fields). A PUT that changes nothing leaves
//!   `date_modified` as it was.
//! - Webhook deliveries are signed with the secret of the webhook registered for that delivery
//!   URL (the most recent one), else with [`WooSimOptions::webhook_secret`].
//! - Times come from [`WooSim::set_clock`] if set, else the system clock, to the second.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};

/// The store's keys and installed extensions.
#[derive(Debug, Clone)]
pub struct WooSimOptions {
    pub consumer_key: String,
    pub consumer_secret: String,
    /// Signs webhook deliveries to URLs with no registered webhook.
    pub webhook_secret: String,
    /// The Shipment Tracking extension is active (namespace and route).
    pub shipment_tracking: bool,
    /// The key has Read permission only: writes answer 401 as WooCommerce does.
    pub read_only: bool,
    /// Order statuses registered by plugins, accepted besides WooCommerce's own.
    pub extra_statuses: Vec<String>,
}

impl Default for WooSimOptions {
    fn default() -> Self {
        WooSimOptions {
            consumer_key: "ck_test".into(),
            consumer_secret: "cs_test".into(),
            webhook_secret: "test-webhook-secret".into(),
            shipment_tracking: true,
            read_only: false,
            extra_statuses: vec![],
        }
    }
}

/// One request the simulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRequest {
    pub method: String,
    /// e.g. `/wp-json/wc/v3/orders/727`.
    pub path: String,
    /// The raw query string (without `?`), empty if none.
    pub query: String,
    pub body: Vec<u8>,
    /// The status the simulator answered.
    pub status: u16,
}

impl SimRequest {
    /// The last value of query parameter `name`, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .last()
    }

    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// The order every seeded order copies: order 727 of the WooCommerce docs with personalization
/// meta on line item 316 (SKU `Bar3`: `Name`, `Photo`, `_personalization_id`).
pub fn order_template() -> Value {
    let mut order: Value = serde_json::from_str(include_str!(
        "../fixtures/woocommerce/wc_v3_order_personalized_SYNTH.json"
    ))
    .expect("the order template fixture is JSON");
    if let Some(o) = order.as_object_mut() {
        o.remove("_note");
    }
    order
}

/// `X-WC-Webhook-Signature` of a delivery: base64(HMAC-SHA256(raw body, secret)).
pub fn webhook_signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    BASE64.encode(ring::hmac::sign(&key, body).as_ref())
}

/// A running simulated store; stops when dropped.
pub struct WooSim {
    state: Arc<Mutex<SimState>>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

impl Drop for WooSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct Webhook {
    json: Value,
    secret: String,
    failures: u32,
}

struct Fault {
    remaining: usize,
    status: u16,
    retry_after: Option<u64>,
}

struct SimState {
    opts: WooSimOptions,
    base_url: String,
    orders: BTreeMap<i64, Value>,
    notes: BTreeMap<i64, Vec<Value>>,
    trackings: BTreeMap<i64, Vec<Value>>,
    webhooks: Vec<Webhook>,
    requests: Vec<SimRequest>,
    fault: Option<Fault>,
    down: bool,
    clock: Option<DateTime<Utc>>,
    next_id: i64,
    deliveries: u64,
}

/// WooCommerce's own order statuses (without the `wc-` prefix) and their names in notes.
const STATUSES: [(&str, &str); 8] = [
    ("pending", "Pending payment"),
    ("processing", "Processing"),
    ("on-hold", "On hold"),
    ("completed", "Completed"),
    ("cancelled", "Cancelled"),
    ("refunded", "Refunded"),
    ("failed", "Failed"),
    ("checkout-draft", "Draft"),
];

/// WooCommerce disables a webhook after more consecutive failed deliveries than this.
const MAX_DELIVERY_FAILURES: u32 = 5;

fn fmt_date(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn parse_date(s: &str) -> Option<NaiveDateTime> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.naive_utc());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok()
}

impl WooSim {
    /// Bind 127.0.0.1 on a free port and serve until dropped.
    pub async fn start(opts: WooSimOptions) -> WooSim {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(SimState {
            opts,
            base_url: format!("http://{addr}/"),
            orders: BTreeMap::new(),
            notes: BTreeMap::new(),
            trackings: BTreeMap::new(),
            webhooks: vec![],
            requests: vec![],
            fault: None,
            down: false,
            clock: None,
            next_id: 1000,
            deliveries: 0,
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WooSim {
            state,
            addr,
            server,
            http: reqwest::Client::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The store's base URL, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From now on the store's clock reads `now` (dates it writes).
    pub fn set_clock(&self, now: DateTime<Utc>) {
        self.lock().clock = Some(now);
    }

    /// The store's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().now()
    }

    /// Store `order` as it is, under its `"id"` (replacing any order with that id).
    pub fn insert_order(&self, order: Value) {
        let id = order["id"]
            .as_i64()
            .expect("insert_order: the order has an integer \"id\"");
        self.lock().orders.insert(id, order);
    }

    /// Store any JSON (a broken order, a non-object) at position `id` of the orders list.
    pub fn insert_raw_order(&self, id: i64, value: Value) {
        self.lock().orders.insert(id, value);
    }

    /// Remove an order (as trashing and emptying the trash does).
    pub fn delete_order(&self, id: i64) -> Option<Value> {
        self.lock().orders.remove(&id)
    }

    /// `n` orders copied from `template` with ids `first_id..`: `number` is the id, created,
    /// modified and paid at `start + i * step` (UTC, the store's local time too), and line
    /// ids (line items, then shipping, tax, fee and coupon lines) `id * 100 + k + 1`.
    pub fn seed_orders(
        &self,
        n: usize,
        template: &Value,
        first_id: i64,
        start: DateTime<Utc>,
        step: chrono::Duration,
    ) {
        let mut state = self.lock();
        let base = state.base_url.clone();
        for i in 0..n {
            let id = first_id + i as i64;
            let at = fmt_date(start + step * i as i32);
            let mut order = template.clone();
            let Some(o) = order.as_object_mut() else {
                panic!("seed_orders: the template is not a JSON object");
            };
            o.remove("_note");
            o.insert("id".into(), id.into());
            o.insert("number".into(), id.to_string().into());
            o.insert("order_key".into(), format!("wc_order_sim{id}").into());
            for key in [
                "date_created",
                "date_created_gmt",
                "date_modified",
                "date_modified_gmt",
            ] {
                o.insert(key.into(), at.clone().into());
            }
            for key in ["date_paid", "date_paid_gmt"] {
                if o.get(key).is_some_and(|v| !v.is_null()) {
                    o.insert(key.into(), at.clone().into());
                }
            }
            let mut k = 0;
            for list in [
                "line_items",
                "shipping_lines",
                "tax_lines",
                "fee_lines",
                "coupon_lines",
            ] {
                if let Some(Value::Array(lines)) = o.get_mut(list) {
                    for line in lines {
                        k += 1;
                        line["id"] = (id * 100 + k).into();
                    }
                }
            }
            o.insert("_links".into(), order_links(&base, id));
            state.orders.insert(id, order);
        }
    }

    /// A status change made in wp-admin: the status note, `date_modified` = `now` (nothing if
    /// the order already has that status).
    pub fn merchant_set_status(&self, id: i64, status: &str, now: DateTime<Utc>) {
        let mut state = self.lock();
        if state.set_status(id, status, now) {
            state.touch(id, now);
        }
    }

    /// Any edit made in wp-admin; `date_modified` = `now` afterwards.
    pub fn merchant_edit(&self, id: i64, f: impl FnOnce(&mut Value), now: DateTime<Utc>) {
        let mut state = self.lock();
        let order = state
            .orders
            .get_mut(&id)
            .unwrap_or_else(|| panic!("merchant_edit: no order {id}"));
        f(order);
        state.touch(id, now);
    }

    pub fn order(&self, id: i64) -> Option<Value> {
        self.lock().orders.get(&id).cloned()
    }

    /// Every order id, ascending.
    pub fn order_ids(&self) -> Vec<i64> {
        self.lock().orders.keys().copied().collect()
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<SimRequest> {
        self.lock().requests.clone()
    }

    /// Requests with this method whose path ends with `path_suffix`.
    pub fn requests_to(&self, method: &str, path_suffix: &str) -> Vec<SimRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(path_suffix))
            .collect()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// The next `n` requests to `/wp-json/` answer `status` (with `Retry-After` if given)
    /// without being processed.
    pub fn fail_next(&self, n: usize, status: u16, retry_after: Option<u64>) {
        self.lock().fault = Some(Fault {
            remaining: n,
            status,
            retry_after,
        });
    }

    /// While down, every request to `/wp-json/` answers 503 with a proxy's HTML page.
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// The order's notes, oldest first (system notes of status changes included).
    pub fn notes(&self, id: i64) -> Vec<Value> {
        self.lock().notes.get(&id).cloned().unwrap_or_default()
    }

    /// Shipment trackings added to the order through the extension's route.
    pub fn trackings(&self, id: i64) -> Vec<Value> {
        self.lock().trackings.get(&id).cloned().unwrap_or_default()
    }

    /// Registered webhooks as the API shows them, plus their `"secret"`.
    pub fn webhooks(&self) -> Vec<Value> {
        self.lock()
            .webhooks
            .iter()
            .map(|w| {
                let mut v = w.json.clone();
                v["secret"] = w.secret.clone().into();
                v
            })
            .collect()
    }

    /// Signature of `body` with [`WooSimOptions::webhook_secret`].
    pub fn signature(&self, body: &[u8]) -> String {
        webhook_signature(&self.lock().opts.webhook_secret, body)
    }

    /// Deliver a webhook as WooCommerce does: the order's current JSON (`{"id": N}` for
    /// `order.deleted`), signed, with the `X-WC-Webhook-*` headers. A registered webhook for
    /// `target` counts failed deliveries and is disabled after 5 in a row, like WooCommerce's.
    /// Panics if the order does not exist or `target` cannot be reached.
    pub async fn send_webhook(
        &self,
        target: &str,
        topic: &str,
        order_id: i64,
    ) -> reqwest::StatusCode {
        let (body, headers, webhook_index) = {
            let mut state = self.lock();
            let body = if topic.ends_with(".deleted") {
                serde_json::to_vec(&json!({ "id": order_id }))
            } else {
                let order = state
                    .orders
                    .get(&order_id)
                    .unwrap_or_else(|| panic!("send_webhook: no order {order_id}"));
                serde_json::to_vec(order)
            }
            .expect("JSON serializes");
            let index = state.webhook_for(target, topic);
            let (webhook_id, secret) = match index {
                Some(i) => (
                    state.webhooks[i].json["id"].as_i64().unwrap_or(0),
                    state.webhooks[i].secret.clone(),
                ),
                None => (1, state.opts.webhook_secret.clone()),
            };
            state.deliveries += 1;
            let delivery = webhook_signature("delivery", &state.deliveries.to_be_bytes());
            let (resource, event) = topic.split_once('.').unwrap_or((topic, ""));
            let headers = vec![
                ("Content-Type".to_string(), "application/json".to_string()),
                (
                    "User-Agent".into(),
                    "WooCommerce/9.0.0 Hookshot (WordPress/6.5)".into(),
                ),
                ("X-WC-Webhook-Source".into(), state.base_url.clone()),
                ("X-WC-Webhook-Topic".into(), topic.into()),
                ("X-WC-Webhook-Resource".into(), resource.into()),
                ("X-WC-Webhook-Event".into(), event.into()),
                (
                    "X-WC-Webhook-Signature".into(),
                    webhook_signature(&secret, &body),
                ),
                ("X-WC-Webhook-ID".into(), webhook_id.to_string()),
                ("X-WC-Webhook-Delivery-ID".into(), hex_of(&delivery)),
            ];
            (body, headers, index)
        };
        let status = self.send_raw_webhook(target, headers, body).await;
        if let Some(i) = webhook_index {
            let mut state = self.lock();
            if let Some(w) = state.webhooks.get_mut(i) {
                if status.is_success() {
                    w.failures = 0;
                } else {
                    w.failures += 1;
                    if w.failures > MAX_DELIVERY_FAILURES {
                        w.json["status"] = "disabled".into();
                    }
                }
            }
        }
        status
    }

    /// POST `body` with exactly `headers` (for bad or missing signatures).
    pub async fn send_raw_webhook(
        &self,
        target: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> reqwest::StatusCode {
        let mut request = self.http.post(target).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => response.status(),
            Err(e) => panic!("webhook delivery to {target} failed: {e}"),
        }
    }

    /// The ping WooCommerce sends when a webhook is saved: form body `webhook_id=N`, unsigned.
    pub async fn send_ping(&self, target: &str, webhook_id: i64) -> reqwest::StatusCode {
        let headers = vec![
            (
                "Content-Type".to_string(),
                "application/x-www-form-urlencoded".to_string(),
            ),
            (
                "User-Agent".into(),
                "WooCommerce/9.0.0 Hookshot (WordPress/6.5)".into(),
            ),
        ];
        self.send_raw_webhook(
            target,
            headers,
            format!("webhook_id={webhook_id}").into_bytes(),
        )
        .await
    }
}

fn hex_of(text: &str) -> String {
    BASE64
        .decode(text)
        .unwrap_or_default()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn order_links(base: &str, id: i64) -> Value {
    json!({
        "self": [{ "href": format!("{base}wp-json/wc/v3/orders/{id}") }],
        "collection": [{ "href": format!("{base}wp-json/wc/v3/orders") }],
    })
}

/// An answer: status, extra headers, JSON or other body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    content_type: &'static str,
}

impl Reply {
    fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: serde_json::to_vec(value).unwrap_or_default(),
            content_type: "application/json; charset=UTF-8",
        }
    }

    /// WordPress's REST error body.
    fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(
            status,
            &json!({ "code": code, "message": message, "data": { "status": status } }),
        )
    }

    fn invalid_param(param: &str, why: &str) -> Reply {
        Reply::json(
            400,
            &json!({
                "code": "rest_invalid_param",
                "message": format!("Invalid parameter(s): {param}"),
                "data": { "status": 400, "params": { param: why } },
            }),
        )
    }

    fn missing_param(param: &str) -> Reply {
        Reply::json(
            400,
            &json!({
                "code": "rest_missing_callback_param",
                "message": format!("Missing parameter(s): {param}"),
                "data": { "status": 400, "params": [param] },
            }),
        )
    }

    fn no_route() -> Reply {
        Reply::error(
            404,
            "rest_no_route",
            "No route was found matching the URL and request method.",
        )
    }

    fn invalid_order_id() -> Reply {
        Reply::error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
    }

    fn paged(mut self, total: usize, per_page: usize) -> Reply {
        let pages = total.div_ceil(per_page.max(1));
        self.headers.push(("X-WP-Total".into(), total.to_string()));
        self.headers
            .push(("X-WP-TotalPages".into(), pages.to_string()));
        self
    }
}

async fn handle(State(state): State<Arc<Mutex<SimState>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let reply = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let reply = state.answer(parts.method.as_str(), &path, &query, auth.as_deref(), &body);
        state.requests.push(SimRequest {
            method: parts.method.to_string(),
            path,
            query,
            body,
            status: reply.status,
        });
        reply
    };
    let mut response = Response::builder()
        .status(reply.status)
        .header("Content-Type", reply.content_type);
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    response
        .body(Body::from(reply.body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Query parameters in order, decoded.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: &str) -> Params {
        Params(
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A list parameter: `name=1,2` or `name[]=1&name[]=2`.
    fn list(&self, name: &str) -> Vec<String> {
        let bracketed = format!("{name}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == name || *k == bracketed)
            .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// A positive integer in `range`, or the 400 WordPress answers.
    fn int(
        &self,
        name: &str,
        default: usize,
        range: std::ops::RangeInclusive<usize>,
    ) -> Result<usize, Reply> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        match text.trim().parse::<usize>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(Reply::invalid_param(
                name,
                &format!(
                    "{name} must be between {} (inclusive) and {} (inclusive)",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    fn date(&self, name: &str) -> Result<Option<NaiveDateTime>, Reply> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => parse_date(text)
                .map(Some)
                .ok_or_else(|| Reply::invalid_param(name, "Invalid date.")),
        }
    }
}

enum Auth {
    Ok,
    Missing,
    Wrong(&'static str),
}

impl SimState {
    fn now(&self) -> DateTime<Utc> {
        let now = self.clock.unwrap_or_else(Utc::now);
        DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
    }

    fn new_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn authenticate(&self, auth: Option<&str>, params: &Params) -> Auth {
        let basic = auth
            .and_then(|a| a.strip_prefix("Basic "))
            .and_then(|b| BASE64.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.split_once(':').map(|(k, v)| (k.to_owned(), v.to_owned())));
        let query = match (params.get("consumer_key"), params.get("consumer_secret")) {
            (Some(k), Some(s)) => Some((k.to_owned(), s.to_owned())),
            _ => None,
        };
        match basic.or(query) {
            None => Auth::Missing,
            Some((key, _)) if key != self.opts.consumer_key => {
                Auth::Wrong("Consumer key is invalid.")
            }
            Some((_, secret)) if secret != self.opts.consumer_secret => {
                Auth::Wrong("Consumer secret is invalid.")
            }
            Some(_) => Auth::Ok,
        }
    }

    fn answer(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        auth: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let Some(route) = path.strip_prefix("/wp-json") else {
            return Reply {
                status: 404,
                headers: vec![],
                body: b"<!DOCTYPE html><html><body><h1>Page not found</h1></body></html>".to_vec(),
                content_type: "text/html; charset=UTF-8",
            };
        };
        if self.down {
            return Reply {
                status: 503,
                headers: vec![],
                body: b"<html><head><title>503 Service Temporarily Unavailable</title></head>\
                        <body><center><h1>503 Service Temporarily Unavailable</h1></center>\
                        </body></html>"
                    .to_vec(),
                content_type: "text/html",
            };
        }
        if let Some(fault) = self.fault.as_mut().filter(|f| f.remaining > 0) {
            fault.remaining -= 1;
            let mut reply = if fault.status == 500 {
                Reply::error(
                    500,
                    "internal_server_error",
                    "<p>There has been a critical error on this website.</p>",
                )
            } else {
                Reply {
                    status: fault.status,
                    headers: vec![],
                    body: format!("Error {}", fault.status).into_bytes(),
                    content_type: "text/plain",
                }
            };
            if let Some(secs) = fault.retry_after {
                reply.headers.push(("Retry-After".into(), secs.to_string()));
            }
            return reply;
        }

        let params = Params::parse(query);
        let route = route.trim_end_matches('/');
        let segments: Vec<&str> = route.split('/').filter(|s| !s.is_empty()).collect();
        if route.is_empty() {
            return self.index();
        }
        let is_write = method != "GET";
        if route.starts_with("/wc/") || route.starts_with("/wc-") {
            match self.authenticate(auth, &params) {
                Auth::Ok => {}
                Auth::Wrong(message) => {
                    return Reply::error(401, "woocommerce_rest_authentication_error", message);
                }
                Auth::Missing => {
                    let (code, message) = match method {
                        "GET" => (
                            "woocommerce_rest_cannot_view",
                            "Sorry, you cannot list resources.",
                        ),
                        "POST" => (
                            "woocommerce_rest_cannot_create",
                            "Sorry, you are not allowed to create resources.",
                        ),
                        _ => (
                            "woocommerce_rest_cannot_edit",
                            "Sorry, you are not allowed to edit this resource.",
                        ),
                    };
                    return Reply::error(401, code, message);
                }
            }
            if is_write && self.opts.read_only {
                return Reply::error(
                    401,
                    "woocommerce_rest_authentication_error",
                    "The API key provided does not have write permissions.",
                );
            }
        }
        let id = parse_id;
        match (method, segments.as_slice()) {
            ("GET", ["wc", "v3", "orders"]) => self.list_orders(&params),
            ("GET", ["wc", "v3", "orders", n]) => match id(n).and_then(|n| self.orders.get(&n)) {
                Some(order) => Reply::json(200, order),
                None => Reply::invalid_order_id(),
            },
            ("PUT" | "PATCH" | "POST", ["wc", "v3", "orders", n]) => match id(n) {
                Some(n) => self.update_order(n, body),
                None => Reply::no_route(),
            },
            ("GET", ["wc", "v3", "orders", n, "notes"]) => match id(n) {
                Some(n) if self.orders.contains_key(&n) => {
                    let mut notes = self.notes.get(&n).cloned().unwrap_or_default();
                    notes.reverse();
                    Reply::json(200, &Value::Array(notes))
                }
                _ => Reply::invalid_order_id(),
            },
            ("POST", ["wc", "v3", "orders", n, "notes"]) => match id(n) {
                Some(n) if self.orders.contains_key(&n) => self.create_note(n, body),
                _ => Reply::invalid_order_id(),
            },
            ("GET", ["wc", "v3", "webhooks"]) => self.list_webhooks(&params),
            ("POST", ["wc", "v3", "webhooks"]) => self.create_webhook(body),
            ("GET", ["wc", "v3", "webhooks", n]) => {
                let found = self
                    .webhooks
                    .iter()
                    .find(|w| Some(w.json["id"].as_i64().unwrap_or(0)) == id(n));
                match found {
                    Some(w) => Reply::json(200, &w.json),
                    None => Reply::error(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID."),
                }
            }
            (
                "POST" | "GET",
                [
                    "wc-shipment-tracking",
                    "v3",
                    "orders",
                    n,
                    "shipment-trackings",
                ],
            ) if self.opts.shipment_tracking => match id(n) {
                Some(n) if self.orders.contains_key(&n) => {
                    if method == "GET" {
                        Reply::json(
                            200,
                            &Value::Array(self.trackings.get(&n).cloned().unwrap_or_default()),
                        )
                    } else {
                        self.create_tracking(n, body)
                    }
                }
                _ => Reply::invalid_order_id(),
            },
            _ => Reply::no_route(),
        }
    }

    fn index(&self) -> Reply {
        let mut namespaces = vec![
            "oembed/1.0",
            "wp/v2",
            "wc/v1",
            "wc/v2",
            "wc/v3",
            "wc/store/v1",
        ];
        if self.opts.shipment_tracking {
            namespaces.push("wc-shipment-tracking/v3");
        }
        Reply::json(
            200,
            &json!({
                "name": "Pressroom Test Store",
                "description": "Just another WordPress site",
                "url": self.base_url.trim_end_matches('/'),
                "home": self.base_url.trim_end_matches('/'),
                "gmt_offset": "0",
                "timezone_string": "UTC",
                "namespaces": namespaces,
                "authentication": [],
                "routes": {},
            }),
        )
    }

    fn list_orders(&self, params: &Params) -> Reply {
        let per_page = match params.int("per_page", 10, 1..=100) {
            Ok(n) => n,
            Err(reply) => return reply,
        };
        let page = match params.int("page", 1, 1..=usize::MAX) {
            Ok(n) => n,
            Err(reply) => return reply,
        };
        let gmt = params
            .get("dates_are_gmt")
            .is_some_and(|v| v == "true" || v == "1");
        let suffix = if gmt { "_gmt" } else { "" };
        let dates =
            ["after", "before", "modified_after", "modified_before"].map(|name| params.date(name));
        let [after, before, modified_after, modified_before] = match dates {
            [Ok(a), Ok(b), Ok(c), Ok(d)] => [a, b, c, d],
            [Err(reply), ..] | [_, Err(reply), ..] | [_, _, Err(reply), _] | [.., Err(reply)] => {
                return reply;
            }
        };
        let include: Vec<i64> = params
            .list("include")
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        let statuses = params.list("status");
        let any_status = statuses.is_empty() || statuses.iter().any(|s| s == "any");
        let order_dir = params.get("order").unwrap_or("desc");
        if order_dir != "asc" && order_dir != "desc" {
            return Reply::invalid_param("order", "order is not one of asc, desc.");
        }
        let orderby = params.get("orderby").unwrap_or("date");
        if !["date", "id", "include", "title", "slug", "modified"].contains(&orderby) {
            return Reply::invalid_param(
                "orderby",
                "orderby is not one of date, id, include, title, slug, modified.",
            );
        }

        let field_date = |o: &Value, name: &str| {
            o.get(format!("{name}{suffix}"))
                .and_then(Value::as_str)
                .and_then(parse_date)
        };
        let mut selected: Vec<(i64, &Value)> = self
            .orders
            .iter()
            .filter(|(id, _)| include.is_empty() || include.contains(id))
            .filter(|(_, o)| {
                let status = o.get("status").and_then(Value::as_str).unwrap_or("");
                if any_status {
                    status != "trash"
                } else {
                    statuses.iter().any(|s| s == status)
                }
            })
            .filter(|(_, o)| {
                let created = field_date(o, "date_created");
                let modified = field_date(o, "date_modified");
                // Exclusive bounds, as WP_Date_Query applies them.
                after.is_none_or(|a| created.is_some_and(|c| c > a))
                    && before.is_none_or(|b| created.is_some_and(|c| c < b))
                    && modified_after.is_none_or(|a| modified.is_some_and(|m| m > a))
                    && modified_before.is_none_or(|b| modified.is_some_and(|m| m < b))
            })
            .map(|(id, o)| (*id, o))
            .collect();
        let key = |(id, o): &(i64, &Value)| -> (String, i64) {
            let text = |name: &str| {
                o.get(name)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            match orderby {
                "date" => (text("date_created_gmt"), *id),
                "modified" => (text("date_modified_gmt"), *id),
                "include" => (
                    format!(
                        "{:020}",
                        include.iter().position(|i| i == id).unwrap_or(usize::MAX)
                    ),
                    *id,
                ),
                _ => (String::new(), *id),
            }
        };
        selected.sort_by_key(key);
        if order_dir == "desc" && orderby != "include" {
            selected.reverse();
        }
        let total = selected.len();
        let body: Vec<Value> = selected
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .map(|(_, o)| o.clone())
            .collect();
        Reply::json(200, &Value::Array(body)).paged(total, per_page)
    }

    fn known_status(&self, status: &str) -> bool {
        STATUSES.iter().any(|(s, _)| *s == status)
            || self.opts.extra_statuses.iter().any(|s| s == status)
    }

    fn update_order(&mut self, id: i64, body: &[u8]) -> Reply {
        if !self.orders.contains_key(&id) {
            return Reply::invalid_order_id();
        }
        let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(body) else {
            return Reply::error(400, "rest_invalid_json", "Invalid JSON body passed.");
        };
        if let Some(status) = changes.get("status") {
            match status.as_str() {
                Some(s) if self.known_status(s) => {}
                _ => {
                    return Reply::invalid_param(
                        "status",
                        &format!(
                            "status is not one of {}.",
                            STATUSES.map(|(s, _)| s).join(", ")
                        ),
                    );
                }
            }
        }
        if !self.orders.get(&id).is_some_and(Value::is_object) {
            return Reply::error(
                500,
                "internal_server_error",
                "<p>There has been a critical error on this website.</p>",
            );
        }
        let now = self.now();
        let mut changed = false;
        for (key, value) in changes {
            match key.as_str() {
                "id" | "number" | "order_key" | "_links" | "date_created" | "date_created_gmt"
                | "date_modified" | "date_modified_gmt" => {}
                "status" => {
                    let status = value.as_str().unwrap_or_default().to_string();
                    changed |= self.set_status(id, &status, now);
                }
                _ => {
                    if let Some(order) = self.orders.get_mut(&id)
                        && order[key.as_str()] != value
                    {
                        order[key.as_str()] = value;
                        changed = true;
                    }
                }
            }
        }
        // An update that changes nothing leaves date_modified alone, as WooCommerce does.
        if changed {
            self.touch(id, now);
        }
        match self.orders.get(&id) {
            Some(order) => Reply::json(200, order),
            None => Reply::invalid_order_id(),
        }
    }

    /// Set the status as WooCommerce does: a system note, `date_completed` on completion.
    /// Whether it changed.
    fn set_status(&mut self, id: i64, status: &str, now: DateTime<Utc>) -> bool {
        let Some(order) = self.orders.get_mut(&id) else {
            panic!("no order {id} in the simulator");
        };
        let old = order["status"].as_str().unwrap_or("").to_string();
        if old == status {
            return false;
        }
        order["status"] = status.into();
        if status == "completed" {
            let offset = local_offset(order);
            order["date_completed_gmt"] = fmt_date(now).into();
            order["date_completed"] = fmt_date(now + offset).into();
        }
        let name = |s: &str| {
            STATUSES
                .iter()
                .find(|(slug, _)| *slug == s)
                .map(|(_, n)| n.to_string())
                .unwrap_or_else(|| s.to_string())
        };
        let text = format!(
            "Order status changed from {} to {}.",
            name(&old),
            name(status)
        );
        self.push_note(id, &text, false, now);
        true
    }

    /// `date_modified(_gmt)` = `now`, keeping the order's local offset.
    fn touch(&mut self, id: i64, now: DateTime<Utc>) {
        if let Some(order) = self.orders.get_mut(&id).filter(|o| o.is_object()) {
            let offset = local_offset(order);
            order["date_modified_gmt"] = fmt_date(now).into();
            order["date_modified"] = fmt_date(now + offset).into();
        }
    }

    fn push_note(
        &mut self,
        order_id: i64,
        text: &str,
        customer_note: bool,
        now: DateTime<Utc>,
    ) -> Value {
        let id = self.new_id();
        let base = &self.base_url;
        let note = json!({
            "id": id,
            "author": "system",
            "date_created": fmt_date(now),
            "date_created_gmt": fmt_date(now),
            "note": text,
            "customer_note": customer_note,
            "_links": {
                "self": [{ "href": format!("{base}wp-json/wc/v3/orders/{order_id}/notes/{id}") }],
                "collection": [{ "href": format!("{base}wp-json/wc/v3/orders/{order_id}/notes") }],
                "up": [{ "href": format!("{base}wp-json/wc/v3/orders/{order_id}") }],
            },
        });
        self.notes.entry(order_id).or_default().push(note.clone());
        note
    }

    fn create_note(&mut self, order_id: i64, body: &[u8]) -> Reply {
        let fields = match json_object(body) {
            Ok(f) => f,
            Err(reply) => return reply,
        };
        let Some(text) = fields
            .get("note")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return Reply::missing_param("note");
        };
        let customer_note = fields
            .get("customer_note")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let now = self.now();
        let note = self.push_note(order_id, text, customer_note, now);
        Reply::json(201, &note)
    }

    fn list_webhooks(&self, params: &Params) -> Reply {
        let per_page = match params.int("per_page", 10, 1..=100) {
            Ok(n) => n,
            Err(reply) => return reply,
        };
        let page = match params.int("page", 1, 1..=usize::MAX) {
            Ok(n) => n,
            Err(reply) => return reply,
        };
        // Newest first, as WooCommerce lists them.
        let all: Vec<Value> = self.webhooks.iter().rev().map(|w| w.json.clone()).collect();
        let total = all.len();
        let body: Vec<Value> = all
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .collect();
        Reply::json(200, &Value::Array(body)).paged(total, per_page)
    }

    fn create_webhook(&mut self, body: &[u8]) -> Reply {
        let fields = match json_object(body) {
            Ok(f) => f,
            Err(reply) => return reply,
        };
        let text = |name: &str| text_field(&fields, name);
        let (topic, delivery_url) = (text("topic"), text("delivery_url"));
        if topic.is_empty() {
            return Reply::missing_param("topic");
        }
        if delivery_url.is_empty() {
            return Reply::missing_param("delivery_url");
        }
        let (resource, event) = topic.split_once('.').unwrap_or(("", ""));
        let valid_topic = (["order", "product", "customer", "coupon"].contains(&resource)
            && ["created", "updated", "deleted", "restored"].contains(&event))
            || (resource == "action" && !event.is_empty());
        if !valid_topic {
            return Reply::error(
                400,
                "woocommerce_rest_webhook_invalid_topic",
                "Webhook topic is invalid.",
            );
        }
        if !(delivery_url.starts_with("http://") || delivery_url.starts_with("https://")) {
            return Reply::invalid_param("delivery_url", "Invalid URL.");
        }
        let status = match text("status") {
            s if s.is_empty() => "active".to_string(),
            s if ["active", "paused", "disabled"].contains(&s.as_str()) => s,
            _ => {
                return Reply::invalid_param(
                    "status",
                    "status is not one of active, paused, disabled.",
                );
            }
        };
        let id = self.new_id();
        let now = fmt_date(self.now());
        let name = match text("name") {
            n if n.is_empty() => format!("Webhook created on {now}"),
            n => n,
        };
        let hooks: Vec<&str> = match topic.as_str() {
            "order.created" => vec!["woocommerce_new_order"],
            "order.updated" => vec!["woocommerce_update_order", "woocommerce_order_refunded"],
            "order.deleted" => vec!["wp_trash_post"],
            _ => vec![],
        };
        let base = &self.base_url;
        let webhook = json!({
            "id": id,
            "name": name,
            "status": status,
            "topic": topic,
            "resource": resource,
            "event": event,
            "hooks": hooks,
            "delivery_url": delivery_url,
            "date_created": now,
            "date_created_gmt": now,
            "date_modified": now,
            "date_modified_gmt": now,
            "_links": {
                "self": [{ "href": format!("{base}wp-json/wc/v3/webhooks/{id}") }],
                "collection": [{ "href": format!("{base}wp-json/wc/v3/webhooks") }],
            },
        });
        // WooCommerce makes up a secret when none is given.
        let secret = match text("secret") {
            s if s.is_empty() => format!("generated-secret-{id}"),
            s => s,
        };
        self.webhooks.push(Webhook {
            json: webhook.clone(),
            secret,
            failures: 0,
        });
        Reply::json(201, &webhook)
    }

    /// The most recent webhook for this delivery URL, preferring one with this topic.
    fn webhook_for(&self, target: &str, topic: &str) -> Option<usize> {
        let matching = |want_topic: bool| {
            self.webhooks.iter().rposition(|w| {
                w.json["delivery_url"] == target && (!want_topic || w.json["topic"] == topic)
            })
        };
        matching(true).or_else(|| matching(false))
    }

    fn create_tracking(&mut self, order_id: i64, body: &[u8]) -> Reply {
        let fields = match json_object(body) {
            Ok(f) => f,
            Err(reply) => return reply,
        };
        let text = |name: &str| text_field(&fields, name);
        let number = text("tracking_number");
        if number.is_empty() {
            return Reply::missing_param("tracking_number");
        }
        let (provider, link) = match text("tracking_provider") {
            p if !p.is_empty() => (p, String::new()),
            _ => (
                text("custom_tracking_provider"),
                text("custom_tracking_link"),
            ),
        };
        let date_shipped = match text("date_shipped") {
            d if d.is_empty() => self.now().format("%Y-%m-%d").to_string(),
            d => d,
        };
        let n = self.new_id();
        let tracking_id = hex_of(&webhook_signature("tracking", &n.to_be_bytes()));
        let base = &self.base_url;
        let tracking = json!({
            "tracking_id": tracking_id,
            "tracking_provider": provider,
            "tracking_link": link,
            "tracking_number": number,
            "date_shipped": date_shipped,
            "_links": {
                "self": [{ "href": format!("{base}wp-json/wc-shipment-tracking/v3/orders/{order_id}/shipment-trackings/{tracking_id}") }],
                "collection": [{ "href": format!("{base}wp-json/wc-shipment-tracking/v3/orders/{order_id}/shipment-trackings") }],
                "up": [{ "href": format!("{base}wp-json/wc/v3/orders/{order_id}") }],
            },
        });
        self.trackings
            .entry(order_id)
            .or_default()
            .push(tracking.clone());
        Reply::json(201, &tracking)
    }
}

fn parse_id(s: &str) -> Option<i64> {
    s.parse().ok()
}

/// The order's local time minus UTC, read from its `date_modified` pair (zero if unreadable).
fn local_offset(order: &Value) -> chrono::Duration {
    let date = |name: &str| order.get(name).and_then(Value::as_str).and_then(parse_date);
    match (date("date_modified"), date("date_modified_gmt")) {
        (Some(local), Some(gmt)) => local - gmt,
        _ => chrono::Duration::zero(),
    }
}

/// A request body that must be a JSON object, as WooCommerce answers when it is not.
fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(Reply::error(
            400,
            "rest_invalid_json",
            "Invalid JSON body passed.",
        )),
    }
}

/// A text field of a request body ("" when absent or not text).
fn text_field(fields: &serde_json::Map<String, Value>, name: &str) -> String {
    fields
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_recorded_delivery() {
        let body = include_bytes!("../fixtures/woocommerce/webhook_order_updated_727.body.json");
        let headers: Value = serde_json::from_str(include_str!(
            "../fixtures/woocommerce/webhook_order_updated_727.headers.json"
        ))
        .unwrap();
        assert_eq!(
            webhook_signature("test-webhook-secret", body),
            headers["headers"]["X-WC-Webhook-Signature"]
        );
    }

    #[test]
    fn dates_are_read_with_or_without_a_zone() {
        let want = NaiveDateTime::parse_from_str("2024-05-01T10:00:00", "%Y-%m-%dT%H:%M:%S").ok();
        assert_eq!(parse_date("2024-05-01T10:00:00"), want);
        assert_eq!(parse_date("2024-05-01T10:00:00Z"), want);
        assert_eq!(parse_date("2024-05-01T12:00:00+02:00"), want);
        assert_eq!(parse_date("yesterday"), None);
    }

    type Received = Arc<Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>>;

    /// A webhook receiver on 127.0.0.1 that keeps what it gets and answers `status`.
    async fn receiver(status: u16) -> (String, Received) {
        let got: Received = Arc::default();
        let keep = got.clone();
        let app = axum::Router::new().fallback(move |request: Request| {
            let keep = keep.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
                keep.lock().unwrap().push((parts.headers, body));
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, got)
    }

    #[tokio::test]
    async fn deliveries_are_signed_with_the_registered_secret_and_pings_are_not() {
        let sim = WooSim::start(WooSimOptions::default()).await;
        sim.insert_order(order_template());
        let (target, got) = receiver(200).await;

        assert_eq!(sim.send_webhook(&target, "order.updated", 1001).await, 200);
        {
            let got = got.lock().unwrap();
            let (headers, body) = &got[0];
            assert_eq!(
                headers["x-wc-webhook-signature"],
                webhook_signature("test-webhook-secret", body).as_str()
            );
            assert_eq!(headers["x-wc-webhook-topic"], "order.updated");
            assert_eq!(headers["x-wc-webhook-resource"], "order");
            assert_eq!(headers["x-wc-webhook-event"], "updated");
            let order: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(order["id"], 1001);
        }

        // Once a webhook is registered for the target, its own secret signs.
        let reply = sim.lock().create_webhook(
            json!({ "name": "x", "topic": "order.deleted", "delivery_url": target, "secret": "mine" })
                .to_string()
                .as_bytes(),
        );
        assert_eq!(reply.status, 201);
        assert_eq!(sim.send_webhook(&target, "order.deleted", 1001).await, 200);
        assert_eq!(sim.send_ping(&target, 42).await, 200);
        let got = got.lock().unwrap();
        let (headers, body) = &got[1];
        assert_eq!(body.as_slice(), br#"{"id":1001}"#);
        assert_eq!(
            headers["x-wc-webhook-signature"],
            webhook_signature("mine", body).as_str()
        );
        let (headers, body) = &got[2];
        assert_eq!(body.as_slice(), b"webhook_id=42");
        assert!(headers.get("x-wc-webhook-signature").is_none());
        assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
    }

    #[tokio::test]
    async fn a_webhook_failing_more_than_five_times_in_a_row_is_disabled() {
        let sim = WooSim::start(WooSimOptions::default()).await;
        sim.insert_order(order_template());
        let (target, _) = receiver(500).await;
        let body = json!({ "topic": "order.updated", "delivery_url": target }).to_string();
        assert_eq!(sim.lock().create_webhook(body.as_bytes()).status, 201);
        for _ in 0..5 {
            assert_eq!(sim.send_webhook(&target, "order.updated", 1001).await, 500);
        }
        assert_eq!(sim.webhooks()[0]["status"], "active");
        sim.send_webhook(&target, "order.updated", 1001).await;
        assert_eq!(sim.webhooks()[0]["status"], "disabled");
    }

    async fn get(sim: &WooSim, path_and_query: &str, auth: bool) -> (u16, Option<String>, Value) {
        let mut request = reqwest::Client::new().get(format!("{}{path_and_query}", sim.url()));
        if auth {
            request = request.basic_auth("ck_test", Some("cs_test"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let total = response
            .headers()
            .get("x-wp-total")
            .map(|v| v.to_str().unwrap().to_string());
        (status, total, response.json().await.unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn the_orders_route_behaves_like_woocommerce() {
        let sim = WooSim::start(WooSimOptions::default()).await;
        let start = DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z")
            .unwrap()
            .to_utc();
        sim.seed_orders(
            15,
            &order_template(),
            1,
            start,
            chrono::Duration::minutes(1),
        );
        let ids = |v: &Value| -> Vec<i64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_i64().unwrap())
                .collect()
        };

        // Ten per page, newest first, by default.
        let (status, total, page) = get(&sim, "wp-json/wc/v3/orders", true).await;
        assert_eq!((status, total.as_deref()), (200, Some("15")));
        assert_eq!(ids(&page), (6..=15).rev().collect::<Vec<_>>());

        let (status, _, body) = get(&sim, "wp-json/wc/v3/orders?per_page=101", true).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("rest_invalid_param"))
        );

        let (status, _, body) = get(&sim, "wp-json/wc/v3/orders", false).await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], "woocommerce_rest_cannot_view");
        assert_eq!(body["message"], "Sorry, you cannot list resources.");

        let (_, _, page) = get(
            &sim,
            "wp-json/wc/v3/orders?include[]=3&include[]=12&orderby=id&order=asc",
            true,
        )
        .await;
        assert_eq!(ids(&page), vec![3, 12]);

        let (status, _, body) = get(&sim, "wp-json/wc/v3/orders/99", true).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("woocommerce_rest_shop_order_invalid_id"))
        );
        let (status, _, body) = get(&sim, "wp-json/wc/v3/nothing", true).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("rest_no_route"))
        );

        let order = sim.order(2).unwrap();
        assert_eq!(order["date_created_gmt"], "2024-05-01T00:01:00");
        assert_eq!(order["line_items"][1]["id"], 202);
        assert_eq!(order["number"], "2");
    }

    #[test]
    fn the_template_is_the_personalized_order() {
        let order = order_template();
        assert_eq!(order["id"], 1001);
        assert_eq!(order["line_items"][1]["sku"], "Bar3");
        assert!(order.get("_note").is_none());
    }
}
