//! Form and query-string fields as an ordered list of pairs: a field may repeat
//! (`ids=1&ids=2`, several statuses), which `serde_urlencoded` cannot express.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Decoded `name=value` pairs, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn parse(s: &[u8]) -> Fields {
        Fields(form_urlencoded::parse(s).into_owned().collect())
    }

    pub fn from_query(q: Option<&str>) -> Fields {
        Fields::parse(q.unwrap_or("").as_bytes())
    }

    /// The first value of a field ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn opt(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of a field.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every value of a field, empty ones too (a table's column: one value a row).
    pub fn column(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every value of a field that is an id; others are skipped.
    pub fn ids(&self, name: &str) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| {
                v.split(',')
                    .map(str::trim)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter_map(|v| v.parse().ok())
            .collect();
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(*id));
        ids
    }

    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), "on" | "1" | "true" | "yes")
    }

    /// The pairs as a query string.
    pub fn to_query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            s.append_pair(k, v);
        }
        s.finish()
    }

    /// These pairs without `name` (and with `name=value` when given).
    pub fn with(&self, name: &str, value: Option<&str>) -> Fields {
        let mut out: Vec<(String, String)> =
            self.0.iter().filter(|(k, _)| k != name).cloned().collect();
        if let Some(v) = value {
            out.push((name.to_string(), v.to_string()));
        }
        Fields(out)
    }

    /// These pairs without the one `name=value`.
    pub fn without(&self, name: &str, value: &str) -> Fields {
        Fields(
            self.0
                .iter()
                .filter(|(k, v)| !(k == name && v == value))
                .cloned()
                .collect(),
        )
    }
}

/// An `application/x-www-form-urlencoded` body as [`Fields`].
pub struct Form(pub Fields);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response())?;
        Ok(Form(Fields::parse(&bytes)))
    }
}
