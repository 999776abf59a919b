//! The four fulfillment providers on one server at 127.0.0.1, each at its real paths, so one
//! simulator serves a test and every adapter's `base_url` is [`ProviderSim::base_url`]:
//!
//! | provider | auth | routes |
//! |---|---|---|
//! | Printful v2 | `Authorization: Bearer` | `POST /v2/orders`, `POST /v2/orders/{id}/confirmation`, `GET /v2/orders/{id or @external_id}`, `GET /v2/orders/{id}/shipments`, `DELETE /v2/orders/{id}` |
//! | CustomCat | `api_key` in body / query | `POST /api/v1/order/{external_id}`, `GET /api/v1/order/status/{external_id}` |
//! | ShineOn | `Authorization: Bearer` | `POST /v1/orders`, `GET /v1/orders?source_ids=`, `GET /v1/orders/{id}`, `POST /v1/orders/{id}/cancel` |
//! | Gelato | `X-API-KEY` | `POST /v4/orders`, `POST /v4/orders:search`, `GET /v4/orders/{id}`, `POST /v4/orders/{id}:cancel` |
//!
//! It keeps a ledger of every order it accepted, keyed by provider and our external id, with
//! duplicates kept visible ([`ProviderSim::count`]): with
//! [`ProviderSimOptions::refuse_duplicates`] (the default) a second create for an id answers
//! as the provider is taken to (Printful 409, CustomCat a 200 whose `MSG` says it exists,
//! ShineOn 422, Gelato 409); without it a second create makes a second order, like a provider
//! that does not deduplicate, so a test sees whether the adapter itself sends twice.
//!
//! Faults are scripted per provider and operation, for the n-th matching request, the next
//! n, or always ([`Fault`], [`When`]): accepted then 500, accepted then no answer at all,
//! the provider's own refusal with a reason, 429 with `Retry-After`, any status. A latency
//! slows every answer and the most requests seen in flight at once is kept
//! ([`ProviderSim::max_in_flight`]). Parcels are added with [`ProviderSim::ship`]; lookups
//! answer from the ledger and [`ProviderSim::webhook_body`] / [`ProviderSim::send_webhook`]
//! make the providers' webhook payloads (Printful signed, the others for a URL with a token).
//!
//! Payload shapes follow `fixtures/{printful,customcat,shineon,gelato}`. Where the fixtures
//! are silent (duplicate answers, CustomCat's not-found, ShineOn's non-shipment news) the
//! simulator does what the adapters assume, and says so here.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};

/// The providers the simulator speaks. `as_str` is `connectors::ProviderKind::as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SimProvider {
    Printful,
    CustomCat,
    ShineOn,
    Gelato,
}

impl SimProvider {
    pub const ALL: [SimProvider; 4] = [
        SimProvider::Printful,
        SimProvider::CustomCat,
        SimProvider::ShineOn,
        SimProvider::Gelato,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            SimProvider::Printful => "printful",
            SimProvider::CustomCat => "custom_cat",
            SimProvider::ShineOn => "shine_on",
            SimProvider::Gelato => "gelato",
        }
    }
}

/// What a request does, for scripting faults and reading the request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimOp {
    Create,
    /// Printful's confirmation of a draft.
    Confirm,
    /// Finding an order by our id (or the provider's).
    Lookup,
    /// The read after a lookup: Printful's shipments, Gelato's full order.
    Detail,
    Cancel,
}

/// Keys and behaviour.
#[derive(Debug, Clone)]
pub struct ProviderSimOptions {
    pub printful_token: String,
    pub customcat_api_key: String,
    pub shineon_token: String,
    pub gelato_api_key: String,
    /// Printful's webhook `secret_key`, hex, as Printful hands it out.
    pub printful_webhook_secret: String,
    /// The token the other providers' webhook URLs carry.
    pub webhook_token: String,
    /// A second create for an external id that exists is refused (see the module docs).
    pub refuse_duplicates: bool,
    /// Every answer waits this long.
    pub latency: Duration,
}

impl Default for ProviderSimOptions {
    fn default() -> Self {
        ProviderSimOptions {
            printful_token: "pf-token".into(),
            customcat_api_key: "cc-key".into(),
            shineon_token: "so-token".into(),
            gelato_api_key: "gl-key".into(),
            printful_webhook_secret: "8f1c3a9d2b7e4f60a1c5d9e3b7f2a6c0".into(),
            webhook_token: "hook-token".into(),
            refuse_duplicates: true,
            latency: Duration::ZERO,
        }
    }
}

/// A scripted misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Process the request (a create stores the order), then answer 500.
    AcceptThen500,
    /// Process the request, then never answer: the client times out.
    AcceptThenHang,
    /// The provider's own refusal with this reason (Printful 400, CustomCat a 200 whose
    /// `MSG` is the reason, ShineOn 422, Gelato 400). Nothing is stored.
    Reject(String),
    /// 429 with `Retry-After: secs`. Nothing is stored.
    RateLimit(u64),
    /// This status with a plain body. Nothing is stored.
    Status(u16),
}

/// Which matching requests a fault hits (counted from when the fault was added).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// The n-th matching request (1-based).
    Nth(usize),
    /// The next n matching requests.
    Next(usize),
}

/// One parcel at a provider.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimParcel {
    /// The provider's shipment id (set by [`ProviderSim::ship`] when empty).
    pub id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: String,
    /// `(line item id, quantity)`: our ids, as the adapters sent them.
    pub items: Vec<(i64, u32)>,
}

impl SimParcel {
    pub fn new(carrier: &str, tracking_number: &str, items: &[(i64, u32)]) -> SimParcel {
        SimParcel {
            id: String::new(),
            carrier: carrier.into(),
            tracking_number: tracking_number.into(),
            tracking_url: format!("https://track.example/{tracking_number}"),
            items: items.to_vec(),
        }
    }
}

/// One order line as the provider stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimItem {
    /// The provider's own item id.
    pub id: String,
    /// Our line item id (the provider's external item id), as sent.
    pub line_item_id: String,
    pub product: String,
    pub quantity: u32,
    pub file_url: String,
}

/// One order in the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOrder {
    pub provider: SimProvider,
    pub external_id: String,
    /// The provider's id.
    pub id: String,
    /// The provider's status word (`draft`, `pending`, `in queue`, `on_hold`, `created`, ...).
    pub status: String,
    /// The create request's body.
    pub request: Value,
    pub items: Vec<SimItem>,
    pub shipments: Vec<SimParcel>,
    /// Printful deleted it: lookups no longer find it.
    pub deleted: bool,
}

/// One request the simulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSimRequest {
    pub provider: Option<SimProvider>,
    pub op: Option<SimOp>,
    pub method: String,
    pub path: String,
    pub query: String,
    /// Header names lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status answered (0: none, the request hung).
    pub status: u16,
}

impl ProviderSimRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// News a webhook carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEvent {
    /// Parcel `i` (index into the order's shipments) left.
    Shipped(usize),
    /// Gelato's `order_item_tracking_code_updated` for parcel `i` (others: as `Shipped`).
    TrackingCode(usize),
    Delivered(usize),
    Returned(usize),
    Failed(String),
    Cancelled,
    OnHold(String),
    /// An event that does not concern shipments (Printful `order_updated`, ...).
    Updated,
}

/// `x-pf-webhook-signature`: hex HMAC-SHA256 of the body under the hex-decoded secret.
pub fn printful_signature(secret_hex: &str, body: &[u8]) -> String {
    let secret = hex_decode(secret_hex).unwrap_or_else(|| secret_hex.as_bytes().to_vec());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
    ring::hmac::sign(&key, body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

struct Rule {
    provider: Option<SimProvider>,
    op: Option<SimOp>,
    when: When,
    fault: Fault,
    seen: usize,
    fired: usize,
}

struct SimState {
    opts: ProviderSimOptions,
    orders: Vec<SimOrder>,
    requests: Vec<ProviderSimRequest>,
    rules: Vec<Rule>,
    next_id: u64,
}

struct Shared {
    state: Mutex<SimState>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running simulator; stops when dropped.
pub struct ProviderSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

impl Drop for ProviderSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ProviderSim {
    /// Bind 127.0.0.1 on a free port and serve until dropped.
    pub async fn start(opts: ProviderSimOptions) -> ProviderSim {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(SimState {
                opts,
                orders: vec![],
                requests: vec![],
                rules: vec![],
                next_id: 0,
            }),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ProviderSim {
            shared,
            addr,
            server,
            http: reqwest::Client::new(),
        }
    }

    /// `http://127.0.0.1:PORT`: every provider's base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn options(&self) -> ProviderSimOptions {
        self.shared.lock().opts.clone()
    }

    /// The API key the simulator expects from `provider`.
    pub fn api_key(&self, provider: SimProvider) -> String {
        let s = self.shared.lock();
        match provider {
            SimProvider::Printful => s.opts.printful_token.clone(),
            SimProvider::CustomCat => s.opts.customcat_api_key.clone(),
            SimProvider::ShineOn => s.opts.shineon_token.clone(),
            SimProvider::Gelato => s.opts.gelato_api_key.clone(),
        }
    }

    /// The secret an adapter checks this provider's webhooks with (Printful's hex signing
    /// secret, else the URL token).
    pub fn webhook_secret(&self, provider: SimProvider) -> String {
        let s = self.shared.lock();
        match provider {
            SimProvider::Printful => s.opts.printful_webhook_secret.clone(),
            _ => s.opts.webhook_token.clone(),
        }
    }

    /// Every order in the ledger, in the order they were created (duplicates included).
    pub fn orders(&self) -> Vec<SimOrder> {
        self.shared.lock().orders.clone()
    }

    /// The (first) order for this provider and external id.
    pub fn order(&self, provider: SimProvider, external_id: &str) -> Option<SimOrder> {
        self.shared
            .lock()
            .orders
            .iter()
            .find(|o| o.provider == provider && o.external_id == external_id)
            .cloned()
    }

    /// How many orders the provider holds under this external id (deleted ones included).
    pub fn count(&self, provider: SimProvider, external_id: &str) -> usize {
        self.shared
            .lock()
            .orders
            .iter()
            .filter(|o| o.provider == provider && o.external_id == external_id)
            .count()
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<ProviderSimRequest> {
        self.shared.lock().requests.clone()
    }

    /// Requests to this provider's operation.
    pub fn requests_to(&self, provider: SimProvider, op: SimOp) -> Vec<ProviderSimRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.provider == Some(provider) && r.op == Some(op))
            .collect()
    }

    /// Script `fault` for `provider`'s `op` requests (`None`: any) per `when`.
    pub fn fault(
        &self,
        provider: Option<SimProvider>,
        op: Option<SimOp>,
        when: When,
        fault: Fault,
    ) {
        self.shared.lock().rules.push(Rule {
            provider,
            op,
            when,
            fault,
            seen: 0,
            fired: 0,
        });
    }

    /// The next create for `provider` stores the order, then answers 500.
    pub fn accept_then_500(&self, provider: SimProvider) {
        self.fault(
            Some(provider),
            Some(SimOp::Create),
            When::Next(1),
            Fault::AcceptThen500,
        );
    }

    /// The next create for `provider` stores the order, then never answers.
    pub fn accept_then_hang(&self, provider: SimProvider) {
        self.fault(
            Some(provider),
            Some(SimOp::Create),
            When::Next(1),
            Fault::AcceptThenHang,
        );
    }

    /// The next create for `provider` is refused with `reason`.
    pub fn reject(&self, provider: SimProvider, reason: &str) {
        self.fault(
            Some(provider),
            Some(SimOp::Create),
            When::Next(1),
            Fault::Reject(reason.into()),
        );
    }

    /// The next request to `provider` answers 429 with `Retry-After`.
    pub fn rate_limit(&self, provider: SimProvider, retry_after_secs: u64) {
        self.fault(
            Some(provider),
            None,
            When::Next(1),
            Fault::RateLimit(retry_after_secs),
        );
    }

    pub fn clear_faults(&self) {
        self.shared.lock().rules.clear();
    }

    /// Every answer waits `latency` from now on.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().opts.latency = latency;
    }

    /// The most requests seen in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn reset_max_in_flight(&self) {
        self.shared.max_in_flight.store(
            self.shared.in_flight.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
    }

    /// Set the provider's status word of an order (as the provider's staff or process would).
    pub fn set_status(&self, provider: SimProvider, external_id: &str, status: &str) {
        let mut s = self.shared.lock();
        let order = s
            .find_mut(provider, external_id)
            .unwrap_or_else(|| panic!("set_status: no {provider:?} order {external_id}"));
        order.status = status.into();
    }

    /// Parcels leave for an order: they show in lookups, and the order's status becomes the
    /// provider's shipped word. Returns the parcels as stored (with ids).
    pub fn ship(
        &self,
        provider: SimProvider,
        external_id: &str,
        parcels: Vec<SimParcel>,
    ) -> Vec<SimParcel> {
        let mut s = self.shared.lock();
        let mut ids = vec![];
        for _ in &parcels {
            ids.push(s.new_id());
        }
        let order = s
            .find_mut(provider, external_id)
            .unwrap_or_else(|| panic!("ship: no {provider:?} order {external_id}"));
        let mut stored = vec![];
        for (mut parcel, n) in parcels.into_iter().zip(ids) {
            if parcel.id.is_empty() {
                parcel.id = n.to_string();
            }
            stored.push(parcel.clone());
            order.shipments.push(parcel);
        }
        let shipped: u32 = order
            .shipments
            .iter()
            .flat_map(|p| &p.items)
            .map(|(_, q)| q)
            .sum();
        let ordered: u32 = order.items.iter().map(|i| i.quantity).sum();
        let all = shipped >= ordered || order.shipments.iter().any(|p| p.items.is_empty());
        order.status = match provider {
            SimProvider::Printful if all => "fulfilled",
            SimProvider::Printful => "partial",
            SimProvider::CustomCat => "Shipped",
            SimProvider::ShineOn => "shipped",
            SimProvider::Gelato => "shipped",
        }
        .into();
        stored
    }

    /// The provider's webhook body about this order (see [`SimEvent`]). Panics if there is
    /// no such order or parcel.
    pub fn webhook_body(
        &self,
        provider: SimProvider,
        event: &SimEvent,
        external_id: &str,
    ) -> Vec<u8> {
        let s = self.shared.lock();
        let order = s
            .orders
            .iter()
            .find(|o| o.provider == provider && o.external_id == external_id)
            .unwrap_or_else(|| panic!("webhook_body: no {provider:?} order {external_id}"));
        let parcel =
            |i: usize| {
                order.shipments.get(i).cloned().unwrap_or_else(|| {
                    panic!("webhook_body: order {external_id} has no parcel {i}")
                })
            };
        let body = match provider {
            SimProvider::Printful => printful_webhook(order, event, &parcel),
            SimProvider::CustomCat => customcat_webhook(order, event, &parcel, &s.opts),
            SimProvider::ShineOn => shineon_webhook(order, event, &parcel),
            SimProvider::Gelato => gelato_webhook(order, event, &parcel),
        };
        serde_json::to_vec(&body).expect("JSON serializes")
    }

    /// The headers the provider sends with `body` (Printful's signature among them).
    pub fn webhook_headers(&self, provider: SimProvider, body: &[u8]) -> Vec<(String, String)> {
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        if provider == SimProvider::Printful {
            let secret = self.shared.lock().opts.printful_webhook_secret.clone();
            headers.push((
                "x-pf-webhook-signature".into(),
                printful_signature(&secret, body),
            ));
        }
        headers
    }

    /// Deliver the provider's webhook about this order to `url` (which, for the providers
    /// that do not sign, carries the token the receiver checks). Send it again, or events in
    /// any order, to test repeats and out-of-order delivery.
    pub async fn send_webhook(
        &self,
        url: &str,
        provider: SimProvider,
        event: &SimEvent,
        external_id: &str,
    ) -> reqwest::StatusCode {
        let body = self.webhook_body(provider, event, external_id);
        let headers = self.webhook_headers(provider, &body);
        self.send_raw_webhook(url, headers, body).await
    }

    /// POST `body` with exactly `headers` (for bad signatures). Panics if `url` cannot be
    /// reached.
    pub async fn send_raw_webhook(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> reqwest::StatusCode {
        let mut request = self.http.post(url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(r) => r.status(),
            Err(e) => panic!("webhook delivery to {url} failed: {e}"),
        }
    }
}

/// An answer.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![],
            body,
        }
    }
}

/// What a request is: provider, operation, and the id in its path.
struct Route {
    provider: SimProvider,
    op: SimOp,
    id: String,
}

fn route(method: &str, path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let r = |provider, op, id: &str| {
        Some(Route {
            provider,
            op,
            id: percent_decode(id),
        })
    };
    use SimOp::*;
    use SimProvider::*;
    match (method, segments.as_slice()) {
        ("POST", ["v2", "orders"]) => r(Printful, Create, ""),
        ("POST", ["v2", "orders", id, "confirmation"]) => r(Printful, Confirm, id),
        ("GET", ["v2", "orders", id]) => r(Printful, Lookup, id),
        ("GET", ["v2", "orders", id, "shipments"]) => r(Printful, Detail, id),
        ("DELETE", ["v2", "orders", id]) => r(Printful, Cancel, id),
        ("POST", ["api", "v1", "order", id]) => r(CustomCat, Create, id),
        ("GET", ["api", "v1", "order", "status", id]) => r(CustomCat, Lookup, id),
        ("POST", ["v1", "orders"]) => r(ShineOn, Create, ""),
        ("GET", ["v1", "orders"]) => r(ShineOn, Lookup, ""),
        ("GET", ["v1", "orders", id]) => r(ShineOn, Detail, id),
        ("POST", ["v1", "orders", id, "cancel"]) => r(ShineOn, Cancel, id),
        ("POST", ["v4", "orders"]) => r(Gelato, Create, ""),
        ("POST", ["v4", "orders:search"]) => r(Gelato, Lookup, ""),
        ("GET", ["v4", "orders", id]) => r(Gelato, Detail, id),
        ("POST", ["v4", "orders", id]) if id.ends_with(":cancel") => {
            r(Gelato, Cancel, id.trim_end_matches(":cancel"))
        }
        _ => None,
    }
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let _guard = InFlight(&shared);

    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let method = parts.method.to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_string(),
            )
        })
        .collect();

    let latency = shared.lock().opts.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let (reply, hang) = {
        let mut s = shared.lock();
        let route = route(&method, &path);
        let (reply, hang) = match &route {
            None => (
                Reply::json(404, json!({ "error": format!("no route {method} {path}") })),
                false,
            ),
            Some(route) => s.answer(route, &query, &headers, &body),
        };
        s.requests.push(ProviderSimRequest {
            provider: route.as_ref().map(|r| r.provider),
            op: route.as_ref().map(|r| r.op),
            method,
            path,
            query,
            headers,
            body,
            status: if hang { 0 } else { reply.status },
        });
        (reply, hang)
    };
    if hang {
        // The client gives up first; the server keeps the request open.
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut response = Response::builder()
        .status(reply.status)
        .header("Content-Type", "application/json");
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    response
        .body(Body::from(
            serde_json::to_vec(&reply.body).unwrap_or_default(),
        ))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

impl SimState {
    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        100_000 + self.next_id
    }

    fn find_mut(&mut self, provider: SimProvider, external_id: &str) -> Option<&mut SimOrder> {
        self.orders
            .iter_mut()
            .find(|o| o.provider == provider && o.external_id == external_id)
    }

    /// The live order a path id names: the provider's id, or `@external_id` for Printful.
    fn by_id(&self, provider: SimProvider, id: &str) -> Option<usize> {
        self.orders.iter().position(|o| {
            o.provider == provider
                && !o.deleted
                && (o.id == id
                    || (provider == SimProvider::Printful
                        && id.strip_prefix('@') == Some(o.external_id.as_str())))
        })
    }

    fn authorized(
        &self,
        route: &Route,
        query: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> bool {
        let bearer = header(headers, "authorization").and_then(|a| a.strip_prefix("Bearer "));
        match route.provider {
            SimProvider::Printful => bearer == Some(self.opts.printful_token.as_str()),
            SimProvider::ShineOn => bearer == Some(self.opts.shineon_token.as_str()),
            SimProvider::Gelato => {
                header(headers, "x-api-key") == Some(self.opts.gelato_api_key.as_str())
            }
            SimProvider::CustomCat => {
                let key = if route.op == SimOp::Lookup {
                    query_param(query, "api_key")
                } else {
                    serde_json::from_slice::<Value>(body)
                        .ok()
                        .map(|b| text(&b["api_key"]))
                };
                key.as_deref() == Some(self.opts.customcat_api_key.as_str())
            }
        }
    }

    /// The answer, and whether to hang instead of sending it.
    fn answer(
        &mut self,
        route: &Route,
        query: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (Reply, bool) {
        if !self.authorized(route, query, headers, body) {
            return (unauthorized(route.provider), false);
        }
        let mut fault = None;
        for rule in &mut self.rules {
            if rule.provider.is_some_and(|p| p != route.provider)
                || rule.op.is_some_and(|o| o != route.op)
            {
                continue;
            }
            rule.seen += 1;
            let fire = match rule.when {
                When::Always => true,
                When::Nth(n) => rule.seen == n,
                When::Next(n) => rule.fired < n,
            };
            if fire && fault.is_none() {
                rule.fired += 1;
                fault = Some(rule.fault.clone());
            }
        }
        match fault {
            Some(Fault::Reject(reason)) => (rejection(route.provider, &reason), false),
            Some(Fault::RateLimit(secs)) => {
                let mut reply = Reply::json(
                    429,
                    json!({ "code": 429, "result": "Too Many Requests", "error": { "message": "Too many requests" }, "message": "Too many requests" }),
                );
                reply.headers.push(("Retry-After".into(), secs.to_string()));
                (reply, false)
            }
            Some(Fault::Status(status)) => (
                Reply::json(status, json!({ "message": format!("simulated {status}") })),
                false,
            ),
            Some(Fault::AcceptThen500) => {
                let _ = self.process(route, query, body);
                (
                    Reply::json(
                        500,
                        json!({ "code": 500, "message": "Internal Server Error" }),
                    ),
                    false,
                )
            }
            Some(Fault::AcceptThenHang) => (self.process(route, query, body), true),
            None => (self.process(route, query, body), false),
        }
    }

    fn process(&mut self, route: &Route, query: &str, body: &[u8]) -> Reply {
        let Ok(request) = (if body.is_empty() {
            Ok(Value::Null)
        } else {
            serde_json::from_slice::<Value>(body)
        }) else {
            return rejection(route.provider, "The request body is not valid JSON");
        };
        match (route.provider, route.op) {
            (SimProvider::Printful, SimOp::Create) => self.printful_create(request),
            (SimProvider::Printful, SimOp::Confirm) => {
                match self.by_id(SimProvider::Printful, &route.id) {
                    Some(i) if self.orders[i].status == "draft" => {
                        self.orders[i].status = "pending".into();
                        Reply::json(200, json!({ "data": printful_order(&self.orders[i]) }))
                    }
                    Some(_) => printful_error(409, "Only draft orders can be confirmed"),
                    None => printful_error(404, "Order not found"),
                }
            }
            (SimProvider::Printful, SimOp::Lookup) => {
                match self.by_id(SimProvider::Printful, &route.id) {
                    Some(i) => Reply::json(200, json!({ "data": printful_order(&self.orders[i]) })),
                    None => printful_error(404, "Order not found"),
                }
            }
            (SimProvider::Printful, SimOp::Detail) => {
                match self.by_id(SimProvider::Printful, &route.id) {
                    Some(i) => {
                        let o = &self.orders[i];
                        let list: Vec<Value> = o
                            .shipments
                            .iter()
                            .map(|p| printful_shipment(o, p, "shipped"))
                            .collect();
                        Reply::json(
                            200,
                            json!({ "data": list, "paging": { "total": o.shipments.len(), "offset": 0, "limit": 20 } }),
                        )
                    }
                    None => printful_error(404, "Order not found"),
                }
            }
            (SimProvider::Printful, SimOp::Cancel) => {
                match self.by_id(SimProvider::Printful, &route.id) {
                    Some(i)
                        if ["draft", "failed", "canceled"]
                            .contains(&self.orders[i].status.as_str()) =>
                    {
                        self.orders[i].deleted = true;
                        Reply::json(204, Value::Null)
                    }
                    Some(_) => printful_error(
                        409,
                        "This order can not be deleted because it is being fulfilled",
                    ),
                    None => printful_error(404, "Order not found"),
                }
            }
            (SimProvider::CustomCat, SimOp::Create) => self.customcat_create(&route.id, request),
            (SimProvider::CustomCat, SimOp::Lookup) => match self
                .orders
                .iter()
                .find(|o| o.provider == SimProvider::CustomCat && o.external_id == route.id)
            {
                Some(o) => Reply::json(200, customcat_status(o)),
                None => Reply::json(404, json!({ "MSG": "Order not found" })),
            },
            (SimProvider::ShineOn, SimOp::Create) => self.shineon_create(request),
            (SimProvider::ShineOn, SimOp::Lookup) => {
                let wanted: Vec<String> = query_param(query, "source_ids")
                    .unwrap_or_default()
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .collect();
                let list: Vec<Value> = self
                    .orders
                    .iter()
                    .filter(|o| {
                        o.provider == SimProvider::ShineOn && wanted.contains(&o.external_id)
                    })
                    .map(shineon_order)
                    .collect();
                Reply::json(200, json!({ "orders": list }))
            }
            (SimProvider::ShineOn, SimOp::Detail) => {
                match self.by_id(SimProvider::ShineOn, &route.id) {
                    Some(i) => Reply::json(200, json!({ "order": shineon_order(&self.orders[i]) })),
                    None => Reply::json(404, json!({ "error": "Order not found" })),
                }
            }
            (SimProvider::ShineOn, SimOp::Cancel) => match self
                .by_id(SimProvider::ShineOn, &route.id)
            {
                Some(i)
                    if ["on_hold", "awaiting_payment"]
                        .contains(&self.orders[i].status.as_str()) =>
                {
                    self.orders[i].status = "cancelled".into();
                    Reply::json(202, Value::Null)
                }
                Some(_) => Reply::json(422, json!({ "error": "Order can no longer be cancelled" })),
                None => Reply::json(404, json!({ "error": "Order not found" })),
            },
            (SimProvider::Gelato, SimOp::Create) => self.gelato_create(request),
            (SimProvider::Gelato, SimOp::Lookup) => {
                let wanted: Vec<String> = request["orderReferenceIds"]
                    .as_array()
                    .map(|a| a.iter().map(text).collect())
                    .unwrap_or_default();
                let list: Vec<Value> = self
                    .orders
                    .iter()
                    .filter(|o| o.provider == SimProvider::Gelato && wanted.contains(&o.external_id))
                    .map(|o| json!({ "id": o.id, "orderReferenceId": o.external_id, "fulfillmentStatus": o.status, "orderType": if o.status == "draft" { "draft" } else { "order" } }))
                    .collect();
                Reply::json(200, json!({ "orders": list }))
            }
            (SimProvider::Gelato, SimOp::Detail) => {
                match self.by_id(SimProvider::Gelato, &route.id) {
                    Some(i) => Reply::json(200, gelato_order(&self.orders[i])),
                    None => Reply::json(
                        404,
                        json!({ "code": "not_found", "message": "Order not found" }),
                    ),
                }
            }
            (SimProvider::Gelato, SimOp::Cancel) => {
                match self.by_id(SimProvider::Gelato, &route.id) {
                    Some(i)
                        if ["created", "draft", "passed"]
                            .contains(&self.orders[i].status.as_str()) =>
                    {
                        self.orders[i].status = "canceled".into();
                        Reply::json(200, json!({}))
                    }
                    Some(i) => Reply::json(
                        409,
                        json!({ "code": "conflict", "message": format!("Order in status {} can not be canceled", self.orders[i].status) }),
                    ),
                    None => Reply::json(
                        404,
                        json!({ "code": "not_found", "message": "Order not found" }),
                    ),
                }
            }
            (provider, op) => rejection(provider, &format!("{op:?} is not supported")),
        }
    }

    fn exists(&self, provider: SimProvider, external_id: &str) -> bool {
        self.orders
            .iter()
            .any(|o| o.provider == provider && o.external_id == external_id && !o.deleted)
    }

    fn store(
        &mut self,
        provider: SimProvider,
        external_id: String,
        status: &str,
        request: Value,
        items: Vec<(String, String, u32, String)>,
    ) -> usize {
        let id = match provider {
            SimProvider::CustomCat => format!("cc-{}", self.new_id()),
            SimProvider::Gelato => format!("a6a1f9ce-2bdd-4a9e-9f8d-{:012}", self.new_id()),
            _ => self.new_id().to_string(),
        };
        let mut stored = vec![];
        for (line_item_id, product, quantity, file_url) in items {
            stored.push(SimItem {
                id: self.new_id().to_string(),
                line_item_id,
                product,
                quantity,
                file_url,
            });
        }
        self.orders.push(SimOrder {
            provider,
            external_id,
            id,
            status: status.into(),
            request,
            items: stored,
            shipments: vec![],
            deleted: false,
        });
        self.orders.len() - 1
    }

    fn printful_create(&mut self, request: Value) -> Reply {
        let external_id = text(&request["external_id"]);
        if request["recipient"]["address1"]
            .as_str()
            .unwrap_or("")
            .is_empty()
        {
            return printful_error(400, "Recipient: address1 is required");
        }
        if self.opts.refuse_duplicates
            && !external_id.is_empty()
            && self.exists(SimProvider::Printful, &external_id)
        {
            return printful_error(
                409,
                &format!("Order with external ID {external_id} already exists"),
            );
        }
        let items = request["order_items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|i| {
                (
                    text(&i["external_id"]),
                    text(&i["catalog_variant_id"]),
                    i["quantity"].as_u64().unwrap_or(0) as u32,
                    text(&i["placements"][0]["layers"][0]["url"]),
                )
            })
            .collect();
        let i = self.store(SimProvider::Printful, external_id, "draft", request, items);
        Reply::json(200, json!({ "data": printful_order(&self.orders[i]) }))
    }

    fn customcat_create(&mut self, external_id: &str, request: Value) -> Reply {
        if self.opts.refuse_duplicates && self.exists(SimProvider::CustomCat, external_id) {
            return Reply::json(
                200,
                json!({ "MSG": format!("Order {external_id} already exists") }),
            );
        }
        let items = request["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(k, i)| {
                (
                    (k + 1).to_string(),
                    text(&i["catalog_sku"]),
                    i["quantity"].as_u64().unwrap_or(0) as u32,
                    text(&i["design_url"]),
                )
            })
            .collect();
        let i = self.store(
            SimProvider::CustomCat,
            external_id.into(),
            "in queue",
            request,
            items,
        );
        let o = &self.orders[i];
        Reply::json(
            200,
            json!({ "MSG": "Order added successfully", "ORDER_ID": o.external_id, "CUSTOMCAT_ORDER_ID": o.id }),
        )
    }

    fn shineon_create(&mut self, request: Value) -> Reply {
        let order = &request["order"];
        let external_id = text(&order["source_id"]);
        if external_id.is_empty() || text(&order["shipment_notification_url"]).is_empty() {
            return Reply::json(
                422,
                json!({ "error": "source_id and shipment_notification_url are required" }),
            );
        }
        if self.opts.refuse_duplicates && self.exists(SimProvider::ShineOn, &external_id) {
            return Reply::json(
                422,
                json!({ "error": "The source_id has already been taken." }),
            );
        }
        let status = if order["ready"].as_u64() == Some(0) {
            "on_hold"
        } else {
            "awaiting_payment"
        };
        let items = order["line_items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|i| {
                (
                    text(&i["store_line_item_id"]),
                    text(&i["sku"]),
                    i["quantity"].as_u64().unwrap_or(0) as u32,
                    text(&i["properties"]["print_url"]),
                )
            })
            .collect();
        let i = self.store(
            SimProvider::ShineOn,
            external_id,
            status,
            request.clone(),
            items,
        );
        Reply::json(201, json!({ "order": shineon_order(&self.orders[i]) }))
    }

    fn gelato_create(&mut self, request: Value) -> Reply {
        let external_id = text(&request["orderReferenceId"]);
        if external_id.is_empty() {
            return Reply::json(
                400,
                json!({ "code": "invalid_argument", "message": "orderReferenceId is required" }),
            );
        }
        if self.opts.refuse_duplicates && self.exists(SimProvider::Gelato, &external_id) {
            return Reply::json(
                409,
                json!({ "code": "already_exists", "message": format!("Order with orderReferenceId {external_id} already exists") }),
            );
        }
        let status = if request["orderType"] == "draft" {
            "draft"
        } else {
            "created"
        };
        let items = request["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|i| {
                (
                    text(&i["itemReferenceId"]),
                    text(&i["productUid"]),
                    i["quantity"].as_u64().unwrap_or(0) as u32,
                    text(&i["files"][0]["url"]),
                )
            })
            .collect();
        let i = self.store(SimProvider::Gelato, external_id, status, request, items);
        Reply::json(201, gelato_order(&self.orders[i]))
    }
}

fn unauthorized(provider: SimProvider) -> Reply {
    match provider {
        SimProvider::Printful => printful_error(401, "Malformed or invalid OAuth token"),
        SimProvider::CustomCat => Reply::json(401, json!({ "MSG": "Invalid API key" })),
        SimProvider::ShineOn => Reply::json(401, json!({ "error": "Unauthenticated." })),
        SimProvider::Gelato => Reply::json(
            401,
            json!({ "code": "unauthenticated", "message": "Invalid API key" }),
        ),
    }
}

/// The provider's refusal of an order, with `reason` verbatim.
fn rejection(provider: SimProvider, reason: &str) -> Reply {
    match provider {
        SimProvider::Printful => printful_error(400, reason),
        // CustomCat answers 200 and says what went wrong in MSG.
        SimProvider::CustomCat => Reply::json(200, json!({ "MSG": reason })),
        SimProvider::ShineOn => Reply::json(422, json!({ "error": reason })),
        SimProvider::Gelato => Reply::json(
            400,
            json!({ "code": "invalid_argument", "message": reason }),
        ),
    }
}

fn printful_error(status: u16, message: &str) -> Reply {
    let reason = match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        404 => "NotFound",
        409 => "Conflict",
        _ => "Error",
    };
    Reply::json(
        status,
        json!({ "code": status, "result": message, "error": { "reason": reason, "message": message } }),
    )
}

fn printful_order(o: &SimOrder) -> Value {
    let items: Vec<Value> = o
        .items
        .iter()
        .map(|i| {
            json!({
                "id": i.id.parse::<i64>().unwrap_or(0),
                "external_id": i.line_item_id,
                "type": "order_item",
                "source": "catalog",
                "catalog_variant_id": i.product.parse::<i64>().unwrap_or(0),
                "quantity": i.quantity,
                "name": "",
                "price": "10.50",
                "retail_price": null,
                "currency": "EUR",
                "retail_currency": "USD",
            })
        })
        .collect();
    let id: i64 = o.id.parse().unwrap_or(0);
    json!({
        "id": id,
        "external_id": o.external_id,
        "store_id": 11229252,
        "shipping": o.request["shipping"],
        "status": o.status,
        "created_at": "2023-10-18T12:35:07Z",
        "updated_at": "2023-10-18T12:35:07Z",
        "recipient": o.request["recipient"],
        "order_items": items,
        "customization": null,
        "_links": {
            "self": { "href": format!("/v2/orders/{id}") },
            "order_confirmation": { "href": format!("/v2/orders/{id}/confirmation") },
            "shipments": { "href": format!("/v2/orders/{id}/shipments") },
        },
    })
}

fn printful_shipment(o: &SimOrder, p: &SimParcel, status: &str) -> Value {
    let items: Vec<Value> = p
        .items
        .iter()
        .map(|(line, q)| {
            let item_id = o
                .items
                .iter()
                .find(|i| i.line_item_id == line.to_string())
                .map(|i| i.id.parse::<i64>().unwrap_or(0))
                .unwrap_or(0);
            json!({ "id": item_id + 1, "order_item_id": item_id, "quantity": q, "name": "" })
        })
        .collect();
    json!({
        "id": p.id.parse::<i64>().unwrap_or(0),
        "order_id": o.id.parse::<i64>().unwrap_or(0),
        "carrier": p.carrier,
        "service": "Standard",
        "shipment_status": status,
        "status": status,
        "shipped_at": "2023-04-05T06:07:08Z",
        "ship_date": "2023-04-05",
        "delivery_status": null,
        "tracking_url": p.tracking_url,
        "tracking_number": p.tracking_number,
        "reshipment": false,
        "shipment_items": items,
    })
}

fn printful_webhook(o: &SimOrder, event: &SimEvent, parcel: &dyn Fn(usize) -> SimParcel) -> Value {
    let order = json!({
        "id": o.id.parse::<i64>().unwrap_or(0),
        "external_id": o.external_id,
        "status": o.status,
        "store_id": 11229252,
        "dashboard_url": format!("https://www.printful.test/dashboard?order_id={}", o.id),
        "created_at": "2023-04-05T06:07:08Z",
        "updated_at": "2023-04-05T06:07:08Z",
    });
    let (kind, data) = match event {
        SimEvent::Shipped(i) | SimEvent::TrackingCode(i) => (
            "shipment_sent",
            json!({ "shipment": printful_shipment(o, &parcel(*i), "shipped"), "order": order }),
        ),
        SimEvent::Delivered(i) => (
            "shipment_delivered",
            json!({ "shipment": printful_shipment(o, &parcel(*i), "delivered"), "order": order }),
        ),
        SimEvent::Returned(i) => (
            "shipment_returned",
            json!({ "reason": "Returned to sender", "shipment": printful_shipment(o, &parcel(*i), "returned"), "order": order }),
        ),
        SimEvent::Failed(reason) => ("order_failed", json!({ "reason": reason, "order": order })),
        SimEvent::Cancelled => (
            "order_canceled",
            json!({ "reason": "Canceled by the customer", "order": order }),
        ),
        SimEvent::OnHold(reason) => (
            "order_put_hold",
            json!({ "reason": reason, "order": order }),
        ),
        SimEvent::Updated => ("order_updated", json!({ "order": order })),
    };
    json!({ "type": kind, "occurred_at": "2023-04-05T06:07:08Z", "retries": 0, "store_id": 11229252, "data": data })
}

fn customcat_status(o: &SimOrder) -> Value {
    let shipments: Vec<Value> = o
        .shipments
        .iter()
        .map(|p| json!({ "TRACKING_ID": p.tracking_number, "METHOD": "Economy", "VENDOR": p.carrier }))
        .collect();
    let r = &o.request;
    json!({
        "ORDER_ID": o.external_id,
        "CUSTOMCAT_ORDER_ID": o.id,
        "ORDER_DATE": "2026-05-19 10:00:00",
        "ORDER_STATUS": o.status,
        "CUSTOMER_NAME": format!("{} {}", text(&r["shipping_first_name"]), text(&r["shipping_last_name"])),
        "CUSTOMER_ADDRESS1": r["shipping_address1"],
        "CUSTOMER_CITY": r["shipping_city"],
        "CUSTOMER_STATE": r["shipping_state"],
        "CUSTOMER_COUNTRY": r["shipping_country"],
        "CUSTOMER_ZIP": r["shipping_zip"],
        "ORDER_TOTAL": "18.46",
        "SHIPMENTS": shipments,
        "LINE_ITEMS": o.items.iter().map(|i| json!({ "STATUS": if o.shipments.is_empty() { "In Production" } else { "Shipped" }, "PRODUCT_NAME": i.product })).collect::<Vec<_>>(),
    })
}

fn customcat_webhook(
    o: &SimOrder,
    event: &SimEvent,
    parcel: &dyn Fn(usize) -> SimParcel,
    opts: &ProviderSimOptions,
) -> Value {
    let mut body = json!({
        "api_key": opts.customcat_api_key,
        "order_id": o.external_id,
        "customcat_order_id": o.id,
    });
    match event {
        SimEvent::Shipped(i)
        | SimEvent::TrackingCode(i)
        | SimEvent::Delivered(i)
        | SimEvent::Returned(i) => {
            let p = parcel(*i);
            body["tracker_number"] = p.tracking_number.into();
            body["tracking_url"] = p.tracking_url.into();
        }
        SimEvent::OnHold(reason) | SimEvent::Failed(reason) => {
            body["topic"] = "design-rejected".into();
            body["reason"] = reason.clone().into();
        }
        SimEvent::Cancelled => body["topic"] = "order-cancelled".into(),
        SimEvent::Updated => body["topic"] = "order-updated".into(),
    }
    body
}

fn shineon_order(o: &SimOrder) -> Value {
    let lines: Vec<Value> = o
        .items
        .iter()
        .enumerate()
        .map(|(k, i)| {
            let mut line = json!({
                "id": k + 1,
                "store_line_item_id": i.line_item_id,
                "sku": i.product,
                "quantity": i.quantity,
                "properties": { "print_url": i.file_url },
            });
            if let Some(p) = o.shipments.iter().find(|p| {
                p.items.iter().any(|(l, _)| l.to_string() == i.line_item_id) || p.items.is_empty()
            }) {
                line["tracking_company"] = p.carrier.clone().into();
                line["tracking_number"] = p.tracking_number.clone().into();
            }
            line
        })
        .collect();
    let order = &o.request["order"];
    json!({
        "id": o.id.parse::<i64>().unwrap_or(0),
        "source_id": o.external_id,
        "store_order_id": o.external_id,
        "status": o.status,
        "on_hold_reason": if o.status == "on_hold" { Value::from("Order created with ready: 0") } else { Value::Null },
        "shipment_notification_url": order["shipment_notification_url"],
        "shipping_method": order["shipping_method"],
        "email": order["email"],
        "note": null,
        "test": false,
        "line_items": lines,
        "shipping_address": order["shipping_address"],
        "created_at": "2026-05-19T10:00:00Z",
        "updated_at": "2026-05-19T10:00:00Z",
    })
}

/// ShineOn documents only the shipment notification (the order with its lines, tracked lines
/// carrying `tracking_company`/`tracking_number`); the other events are the order with its
/// status, as the adapter assumes.
fn shineon_webhook(o: &SimOrder, event: &SimEvent, parcel: &dyn Fn(usize) -> SimParcel) -> Value {
    let mut order = json!({
        "id": o.id.parse::<i64>().unwrap_or(0),
        "source_id": o.external_id,
        "store_order_id": o.external_id,
    });
    let line = |i: &SimItem, k: usize| json!({ "id": k + 1, "store_line_item_id": i.line_item_id, "sku": i.product, "quantity": i.quantity });
    match event {
        SimEvent::Shipped(n)
        | SimEvent::TrackingCode(n)
        | SimEvent::Delivered(n)
        | SimEvent::Returned(n) => {
            let p = parcel(*n);
            let lines: Vec<Value> = o
                .items
                .iter()
                .enumerate()
                .filter(|(_, i)| {
                    p.items.is_empty()
                        || p.items.iter().any(|(l, _)| l.to_string() == i.line_item_id)
                })
                .map(|(k, i)| {
                    let mut l = line(i, k);
                    l["tracking_company"] = p.carrier.clone().into();
                    l["tracking_number"] = p.tracking_number.clone().into();
                    if let Some((_, q)) = p
                        .items
                        .iter()
                        .find(|(l, _)| l.to_string() == i.line_item_id)
                    {
                        l["quantity"] = (*q).into();
                    }
                    l
                })
                .collect();
            order["line_items"] = lines.into();
        }
        other => {
            let (status, reason) = match other {
                SimEvent::Cancelled => ("cancelled", Value::Null),
                SimEvent::OnHold(r) | SimEvent::Failed(r) => ("on_hold", Value::from(r.clone())),
                _ => ("in_production", Value::Null),
            };
            order["status"] = status.into();
            order["on_hold_reason"] = reason;
            order["line_items"] = o
                .items
                .iter()
                .enumerate()
                .map(|(k, i)| line(i, k))
                .collect::<Vec<_>>()
                .into();
        }
    }
    json!({ "order": order })
}

fn gelato_order(o: &SimOrder) -> Value {
    let items: Vec<Value> = o
        .items
        .iter()
        .map(|i| {
            let fulfillments: Vec<Value> = o
                .shipments
                .iter()
                .filter(|p| p.items.is_empty() || p.items.iter().any(|(l, _)| l.to_string() == i.line_item_id))
                .map(|p| json!({ "trackingCode": p.tracking_number, "trackingUrl": p.tracking_url, "shipmentMethodName": p.carrier, "fulfillmentCountry": "US" }))
                .collect();
            json!({
                "id": i.id,
                "itemReferenceId": i.line_item_id,
                "productUid": i.product,
                "quantity": i.quantity,
                "fulfillmentStatus": o.status,
                "files": [{ "type": "default", "url": i.file_url }],
                "fulfillments": fulfillments,
            })
        })
        .collect();
    let packages: Vec<Value> = o
        .shipments
        .iter()
        .map(|p| {
            let ids: Vec<String> = o
                .items
                .iter()
                .filter(|i| p.items.is_empty() || p.items.iter().any(|(l, _)| l.to_string() == i.line_item_id))
                .map(|i| i.id.clone())
                .collect();
            json!({ "id": p.id, "orderItemIds": ids, "trackingCode": p.tracking_number, "trackingUrl": p.tracking_url })
        })
        .collect();
    json!({
        "id": o.id,
        "orderType": if o.status == "draft" { "draft" } else { "order" },
        "orderReferenceId": o.external_id,
        "customerReferenceId": o.request["customerReferenceId"],
        "fulfillmentStatus": o.status,
        "financialStatus": "draft",
        "currency": o.request["currency"],
        "items": items,
        "shipment": { "shipmentMethodName": o.shipments.first().map(|p| p.carrier.clone()).unwrap_or_default(), "packages": packages },
        "shippingAddress": o.request["shippingAddress"],
    })
}

fn gelato_webhook(o: &SimOrder, event: &SimEvent, parcel: &dyn Fn(usize) -> SimParcel) -> Value {
    let base = |status: &str, items: Vec<Value>| {
        json!({
            "id": format!("os_{}", o.id),
            "event": "order_status_updated",
            "orderId": o.id,
            "storeId": null,
            "orderReferenceId": o.external_id,
            "fulfillmentStatus": status,
            "items": items,
        })
    };
    let parcel_items = |p: &SimParcel, status: &str| -> Vec<Value> {
        o.items
            .iter()
            .filter(|i| p.items.is_empty() || p.items.iter().any(|(l, _)| l.to_string() == i.line_item_id))
            .map(|i| json!({
                "itemReferenceId": i.line_item_id,
                "fulfillmentStatus": status,
                "fulfillments": [{ "trackingCode": p.tracking_number, "trackingUrl": p.tracking_url, "shipmentMethodName": p.carrier, "fulfillmentCountry": "US" }],
            }))
            .collect()
    };
    match event {
        SimEvent::TrackingCode(n) => {
            let p = parcel(*n);
            json!({
                "event": "order_item_tracking_code_updated",
                "orderId": o.id,
                "orderReferenceId": o.external_id,
                "itemReferenceId": p.items.first().map(|(l, _)| l.to_string()),
                "trackingCode": p.tracking_number,
                "trackingUrl": p.tracking_url,
                "shipmentMethodName": p.carrier,
            })
        }
        SimEvent::Shipped(n) => base("shipped", parcel_items(&parcel(*n), "shipped")),
        SimEvent::Delivered(n) => base("delivered", parcel_items(&parcel(*n), "delivered")),
        SimEvent::Returned(n) => base("returned", parcel_items(&parcel(*n), "returned")),
        SimEvent::Failed(reason) => {
            let mut b = base("failed", vec![]);
            b["comment"] = reason.clone().into();
            b
        }
        SimEvent::Cancelled => base("canceled", vec![]),
        SimEvent::OnHold(reason) => {
            let mut b = base("on_hold", vec![]);
            b["comment"] = reason.clone().into();
            b
        }
        SimEvent::Updated => base("in_production", vec![]),
    }
}
