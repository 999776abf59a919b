//! WooCommerce REST API v3 orders (`GET /wp-json/wc/v3/orders/<id>`, list pages, and the body
//! of `order.*` webhooks, which has the same shape).
//!
//! Parsing is lenient about what WooCommerce adds or leaves out across versions (unknown fields
//! are ignored, missing or `null` optional fields default) and strict about what Pressroom
//! relies on (ids, quantities, money). Money is exact: WooCommerce sends it as strings, except
//! line item `price`, a JSON number, which is read from its shortest decimal text and never
//! used as a float.

use chrono::{DateTime, NaiveDateTime, Utc};
use domain::{
    Address, Attribute, Customer, Decimal, ItemMapping, LineItem, Note, Order, OrderFacts,
    OrderTypeRule, ShippingLine, StoreSettings, StoreStatus, SubmitStatus, Totals,
    decide_order_type,
};
use std::str::FromStr;

/// Why a WooCommerce payload could not be read. Both variants name the field.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum WooError {
    /// Not JSON, truncated, or a field of the wrong JSON type. `path` is where, e.g.
    /// `line_items[1].quantity` (`.` for the document itself).
    #[error("{}", fmt_field(.path, .message))]
    Json { path: String, message: String },
    /// Well-formed JSON with a value Pressroom cannot accept (a negative quantity, money that is
    /// not a decimal, a missing id).
    #[error("{}", fmt_field(.field, .message))]
    Invalid { field: String, message: String },
}

fn fmt_field(field: &str, message: &str) -> String {
    if field.is_empty() || field == "." {
        message.to_owned()
    } else {
        format!("{field}: {message}")
    }
}

impl WooError {
    /// Stable code for logs and APIs: "woo_json" or "woo_invalid".
    pub fn code(&self) -> &'static str {
        match self {
            WooError::Json { .. } => "woo_json",
            WooError::Invalid { .. } => "woo_invalid",
        }
    }

    /// The field the error is about.
    pub fn field(&self) -> &str {
        match self {
            WooError::Json { path, .. } => path,
            WooError::Invalid { field, .. } => field,
        }
    }

    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        WooError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Prefix the field with the position in a list (`[3].line_items[0].id`).
    fn at_index(self, i: usize) -> Self {
        match self {
            WooError::Json { path, message } => WooError::Json {
                path: format!("[{i}].{path}"),
                message,
            },
            WooError::Invalid { field, message } => WooError::Invalid {
                field: format!("[{i}].{field}"),
                message,
            },
        }
    }
}

/// Parse a WooCommerce REST v3 order (GET /wp-json/wc/v3/orders/<id> shape) into a domain order.
pub fn parse_order(body: &[u8], mapping: &ItemMapping) -> Result<Order, WooError> {
    let json::Object(wc) = from_slice(body)?;
    to_domain(wc, mapping, &OrderTypeRule::defaults())
}

/// Parse an order of a connected store: its mapping and its order-type rules.
pub fn parse_store_order(body: &[u8], settings: &StoreSettings) -> Result<Order, WooError> {
    let json::Object(wc) = from_slice(body)?;
    to_domain(wc, &settings.mapping, &settings.order_types)
}

/// The store's order id of an order body, read leniently (for naming a body that does not
/// parse as a whole, and for `order.deleted` deliveries, whose body is only `{"id": N}`).
pub fn order_id_of(body: &[u8]) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: i64,
    }
    serde_json::from_slice::<Id>(body).ok().map(|i| i.id)
}

/// Parse a page of `GET /wp-json/wc/v3/orders` (a JSON array of orders). Errors name the
/// element, e.g. `[1].line_items[0].quantity`.
pub fn parse_orders(body: &[u8], mapping: &ItemMapping) -> Result<Vec<Order>, WooError> {
    let list: Vec<json::Object<json::Order>> = from_slice(body)?;
    list.into_iter()
        .enumerate()
        .map(|(i, json::Object(wc))| {
            to_domain(wc, mapping, &OrderTypeRule::defaults()).map_err(|e| e.at_index(i))
        })
        .collect()
}

fn from_slice<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WooError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| WooError::Json {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })?;
    // Trailing garbage after the document means the body is not what we think it is.
    de.end().map_err(|e| WooError::Json {
        path: ".".into(),
        message: e.to_string(),
    })?;
    Ok(value)
}

fn to_domain(
    wc: json::Order,
    mapping: &ItemMapping,
    order_types: &[OrderTypeRule],
) -> Result<Order, WooError> {
    let store_order_id = match wc.id {
        Some(id) if id > 0 => id,
        Some(id) => {
            return Err(WooError::invalid(
                "id",
                format!("must be positive, got {id}"),
            ));
        }
        None => return Err(WooError::invalid("id", "missing")),
    };
    let number = if wc.number.trim().is_empty() {
        store_order_id.to_string()
    } else {
        wc.number
    };

    let created_at = date("date_created", &wc.date_created_gmt, &wc.date_created)?;
    let paid_at = date("date_paid", &wc.date_paid_gmt, &wc.date_paid)?;
    let modified_at = date("date_modified", &wc.date_modified_gmt, &wc.date_modified)?;

    let billing = address(wc.billing);
    let shipping = address(wc.shipping);
    let customer = customer(&billing, &shipping);

    let mut items = Vec::with_capacity(wc.line_items.len());
    let mut subtotal = Decimal::ZERO;
    for (i, li) in wc.line_items.into_iter().enumerate() {
        let field = |name: &str| format!("line_items[{i}].{name}");
        subtotal += money(&field("subtotal"), &li.subtotal)?;
        items.push(line_item(li, mapping, field)?);
    }

    let shipping_lines = wc
        .shipping_lines
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            Ok(ShippingLine {
                total: money(&format!("shipping_lines[{i}].total"), &s.total)?,
                method_id: s.method_id,
                method_title: s.method_title,
            })
        })
        .collect::<Result<Vec<_>, WooError>>()?;

    let totals = Totals {
        total: money("total", &wc.total)?,
        subtotal,
        shipping_total: money("shipping_total", &wc.shipping_total)?,
        tax_total: money("total_tax", &wc.total_tax)?,
        discount_total: money("discount_total", &wc.discount_total)?,
    };

    let meta_keys: Vec<String> = wc.meta_data.iter().map(|m| m.key.clone()).collect();
    let order_type = decide_order_type(
        order_types,
        &OrderFacts {
            created_via: &wc.created_via,
            payment_method: &wc.payment_method,
            payment_method_title: &wc.payment_method_title,
            meta_keys: &meta_keys,
            has_template: items.iter().any(|i| i.personalization.is_some()),
        },
    );

    let mut notes = Vec::new();
    if !wc.customer_note.trim().is_empty() {
        notes.push(Note {
            at: created_at.unwrap_or(DateTime::UNIX_EPOCH),
            id: 0,
            author: "customer".into(),
            text: wc.customer_note,
            customer_visible: true,
            edited_at: None,
        });
    }

    Ok(Order {
        store_order_id,
        number,
        status: StoreStatus::new(wc.status),
        created_at,
        paid_at,
        modified_at,
        customer,
        billing,
        shipping,
        payment_method: wc.payment_method,
        payment_method_title: wc.payment_method_title,
        currency: wc.currency,
        totals,
        shipping_lines,
        items,
        order_type,
        submit_status: SubmitStatus::Blank,
        countdown: domain::Countdown::none(),
        notes,
        flags: Default::default(),
        shipments: Vec::new(),
        submission_attempts: 0,
        preflight_overrides: Default::default(),
        submission_blocked: None,
        test: false,
        last_note_id: 0,
    })
}

fn line_item(
    li: json::LineItem,
    mapping: &ItemMapping,
    field: impl Fn(&str) -> String,
) -> Result<LineItem, WooError> {
    let id = match li.id {
        Some(id) if id > 0 => id,
        Some(id) => {
            return Err(WooError::invalid(
                field("id"),
                format!("must be positive, got {id}"),
            ));
        }
        None => return Err(WooError::invalid(field("id"), "missing")),
    };
    let quantity = u32::try_from(li.quantity).map_err(|_| {
        let why = if li.quantity < 0 {
            "must not be negative"
        } else {
            "too large"
        };
        WooError::invalid(field("quantity"), format!("{why}, got {}", li.quantity))
    })?;

    // Keys starting with '_' are WooCommerce's and plugins' hidden bookkeeping.
    let attributes = li
        .meta_data
        .iter()
        .filter(|m| !m.key.starts_with('_'))
        .map(|m| Attribute {
            key: m.key.clone(),
            value: meta_text(&m.value),
        })
        .collect();

    // A mapping may name the plugin's key or the label the store shows: offer both.
    let meta = li.meta_data.iter().flat_map(|m| {
        let value = meta_text(&m.value);
        let label = (!m.display_key.trim().is_empty() && m.display_key != m.key)
            .then(|| (m.display_key.as_str(), value.clone()));
        std::iter::once((m.key.as_str(), value)).chain(label)
    });
    let personalization = mapping.personalize(&li.sku, li.product_id, li.variation_id, meta);

    Ok(LineItem {
        id,
        price: money(&field("price"), &li.price)?,
        total: money(&field("total"), &li.total)?,
        sku: li.sku,
        product_id: li.product_id,
        variation_id: li.variation_id,
        name: li.name,
        quantity,
        attributes,
        personalization,
    })
}

/// A meta value as the customer typed it. Personalization plugins store HTML in values: a
/// link to an upload (`<a href="https://…/x.jpg">x.jpg</a>`: the link's target is the value),
/// markup around text (stripped), and entities (`O&#039;Brien`, `&amp;`: decoded). Numbers,
/// arrays and objects that some plugins store become compact JSON.
fn meta_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => clean_html(s),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn clean_html(s: &str) -> String {
    if !s.contains('<') && !s.contains('&') {
        return s.to_owned();
    }
    if let Some(href) = only_link_target(s) {
        return html_escape::decode_html_entities(&href).trim().to_owned();
    }
    let mut text = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    html_escape::decode_html_entities(&text).trim().to_owned()
}

/// The `href` of a value that is one link and nothing else.
fn only_link_target(s: &str) -> Option<String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    if !lower.starts_with("<a ") || !lower.ends_with("</a>") || lower.matches("<a ").count() != 1 {
        return None;
    }
    let at = lower.find("href=")? + 5;
    let rest = &t[at..];
    let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let end = rest[1..].find(quote)?;
    Some(rest[1..1 + end].to_owned())
}

/// Money from its decimal text. Missing, `null` and `""` (WooCommerce sends those for absent
/// amounts) are zero. Negative amounts are refused: WooCommerce keeps refunds in separate
/// refund records (the order's `refunds`, with negative totals there), so a negative total,
/// price or shipping amount on the order itself is a broken or forged payload.
fn money(field: &str, m: &json::Money) -> Result<Decimal, WooError> {
    let text = m.0.trim();
    if text.is_empty() {
        return Ok(Decimal::ZERO);
    }
    let amount = Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|e| WooError::invalid(field, format!("invalid amount {text:?}: {e}")))?;
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(WooError::invalid(
            field,
            format!("must not be negative (refunds are separate refund records), got {text:?}"),
        ));
    }
    Ok(amount)
}

/// Prefer the `_gmt` field (naive UTC); else the store-local one, also read as UTC since the
/// payload does not say the store's offset.
fn date(
    field: &str,
    gmt: &Option<String>,
    local: &Option<String>,
) -> Result<Option<DateTime<Utc>>, WooError> {
    let nonempty = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (name, text) = match (nonempty(gmt), nonempty(local)) {
        (Some(t), _) => (format!("{field}_gmt"), t),
        (None, Some(t)) => (field.to_owned(), t),
        (None, None) => return Ok(None),
    };
    if let Ok(dt) = DateTime::parse_from_rfc3339(&text) {
        return Ok(Some(dt.with_timezone(&Utc)));
    }
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f"))
        .map(|n| Some(n.and_utc()))
        .map_err(|e| WooError::invalid(name, format!("invalid date {text:?}: {e}")))
}

fn address(a: json::Address) -> Address {
    Address {
        first_name: a.first_name,
        last_name: a.last_name,
        company: a.company,
        address_1: a.address_1,
        address_2: a.address_2,
        city: a.city,
        state: a.state,
        postcode: a.postcode,
        country: a.country,
        email: a.email,
        phone: a.phone,
    }
}

/// Name and email from billing; the place from shipping when the order has a shipping address
/// (all three fields together, so city and country never come from different addresses).
fn customer(billing: &Address, shipping: &Address) -> Customer {
    let has_shipping = [&shipping.city, &shipping.state, &shipping.country]
        .iter()
        .any(|s| !s.trim().is_empty());
    let place = if has_shipping { shipping } else { billing };
    let name = format!("{} {}", billing.first_name.trim(), billing.last_name.trim())
        .trim()
        .to_owned();
    Customer {
        name,
        city: place.city.clone(),
        state: place.state.clone(),
        country: place.country.clone(),
        email: billing.email.clone(),
    }
}

/// The WooCommerce wire format, only the fields Pressroom uses.
pub(crate) mod json {
    use serde::{Deserialize, Deserializer};

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub(crate) struct Order {
        pub id: Option<i64>,
        #[serde(deserialize_with = "text")]
        pub number: String,
        #[serde(deserialize_with = "text")]
        pub status: String,
        #[serde(deserialize_with = "text")]
        pub currency: String,
        #[serde(deserialize_with = "text")]
        pub created_via: String,
        pub date_created: Option<String>,
        pub date_created_gmt: Option<String>,
        pub date_modified: Option<String>,
        pub date_modified_gmt: Option<String>,
        pub date_paid: Option<String>,
        pub date_paid_gmt: Option<String>,
        pub discount_total: Money,
        pub shipping_total: Money,
        pub total: Money,
        pub total_tax: Money,
        #[serde(deserialize_with = "text")]
        pub customer_note: String,
        #[serde(deserialize_with = "or_default")]
        pub billing: Address,
        #[serde(deserialize_with = "or_default")]
        pub shipping: Address,
        #[serde(deserialize_with = "text")]
        pub payment_method: String,
        #[serde(deserialize_with = "text")]
        pub payment_method_title: String,
        #[serde(deserialize_with = "or_default")]
        pub line_items: Vec<LineItem>,
        #[serde(deserialize_with = "or_default")]
        pub shipping_lines: Vec<ShippingLine>,
        #[serde(deserialize_with = "or_default")]
        pub meta_data: Vec<Meta>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub(crate) struct Address {
        #[serde(deserialize_with = "text")]
        pub first_name: String,
        #[serde(deserialize_with = "text")]
        pub last_name: String,
        #[serde(deserialize_with = "text")]
        pub company: String,
        #[serde(deserialize_with = "text")]
        pub address_1: String,
        #[serde(deserialize_with = "text")]
        pub address_2: String,
        #[serde(deserialize_with = "text")]
        pub city: String,
        #[serde(deserialize_with = "text")]
        pub state: String,
        #[serde(deserialize_with = "text")]
        pub postcode: String,
        #[serde(deserialize_with = "text")]
        pub country: String,
        #[serde(deserialize_with = "text")]
        pub email: String,
        #[serde(deserialize_with = "text")]
        pub phone: String,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub(crate) struct LineItem {
        pub id: Option<i64>,
        #[serde(deserialize_with = "text")]
        pub name: String,
        #[serde(deserialize_with = "or_default")]
        pub product_id: i64,
        #[serde(deserialize_with = "or_default")]
        pub variation_id: i64,
        pub quantity: i64,
        pub subtotal: Money,
        pub total: Money,
        #[serde(deserialize_with = "text")]
        pub sku: String,
        pub price: Money,
        #[serde(deserialize_with = "or_default")]
        pub meta_data: Vec<Meta>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub(crate) struct Meta {
        #[serde(deserialize_with = "text")]
        pub key: String,
        pub value: serde_json::Value,
        /// The label the store shows (WooCommerce 3.x+); plugins often write a slug as `key`.
        #[serde(deserialize_with = "text")]
        pub display_key: String,
        pub display_value: serde_json::Value,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    pub(crate) struct ShippingLine {
        #[serde(deserialize_with = "text")]
        pub method_id: String,
        #[serde(deserialize_with = "text")]
        pub method_title: String,
        pub total: Money,
    }

    /// Only a JSON object: serde's derived structs also accept an array of their fields in
    /// order, which would let `[]` pass for an order with every field missing.
    pub(crate) struct Object<T>(pub T);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V<T>(std::marker::PhantomData<T>);
            impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
                type Value = T;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                    T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                }
            }
            d.deserialize_map(V(std::marker::PhantomData)).map(Object)
        }
    }

    /// An amount as the decimal text it was sent as ("29.35", or a JSON number's text);
    /// "" when absent or null. Parsed to `Decimal` later, where the error can name the field.
    #[derive(Debug, Default)]
    pub(crate) struct Money(pub String);

    impl<'de> Deserialize<'de> for Money {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(MoneyVisitor)
        }
    }

    struct MoneyVisitor;

    impl serde::de::Visitor<'_> for MoneyVisitor {
        type Value = Money;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an amount as a string or number")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Money, E> {
            Ok(Money(v.to_owned()))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Money, E> {
            Ok(Money(v.to_string()))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Money, E> {
            Ok(Money(v.to_string()))
        }
        /// serde_json has already read the number as the nearest f64; Rust prints the
        /// shortest text that reads back as that f64, which is the text sent for any price
        /// with up to 15 significant digits ("12.99", never "12.9900000000000002").
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Money, E> {
            if v.is_finite() {
                Ok(Money(v.to_string()))
            } else {
                Err(E::custom("amount is not a finite number"))
            }
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Money, E> {
            Ok(Money::default())
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Money, E> {
            Ok(Money::default())
        }
    }

    /// `null` is the default: WooCommerce and plugins send null for empty values.
    fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de> + Default,
    {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
    }

    /// A string field that may also arrive as a number (order numbers, SKUs from some
    /// plugins) or null.
    fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        d.deserialize_any(TextVisitor)
    }

    struct TextVisitor;

    impl serde::de::Visitor<'_> for TextVisitor {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
    }
}
