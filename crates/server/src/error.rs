//! API errors: one JSON shape for every failure, stable codes, and no internals. A server
//! error's details (paths, SQL, what a bucket answered) go to the log, never into the body.

use api::{ErrorBody, codes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An API error: a status, a stable code and a message for people.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, codes::NOT_FOUND, message)
    }
}

/// Whether the error is a missing object in the file store (a deleted or never-written file).
fn is_missing_object(e: &app::AppError) -> bool {
    matches!(
        e,
        app::AppError::Storage(storage::StorageError::Object(
            object_store::Error::NotFound { .. }
        ))
    )
}

impl From<app::AppError> for ApiError {
    fn from(e: app::AppError) -> Self {
        if is_missing_object(&e) {
            // The store's message names the file's path on this server: log it, say less.
            tracing::warn!(error = %e, "a requested file is missing from the file store");
            return ApiError::not_found("no file is stored at this address");
        }
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(code = e.code(), error = %e, "request failed");
            let message = if status == StatusCode::SERVICE_UNAVAILABLE {
                "a service the server depends on is unavailable; try again later"
            } else {
                "the server could not answer; the cause is in its log"
            };
            return ApiError::new(status, e.code(), message);
        }
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<storage::StorageError> for ApiError {
    fn from(e: storage::StorageError) -> Self {
        app::AppError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(ErrorBody::new(self.code, self.message)),
        )
            .into_response()
    }
}

/// A path no route matches.
pub(crate) async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such address: {}", uri.path()))
}

/// Turns every error answer that is not already JSON (axum's rejections of a bad body, query or
/// path, a body over the limit, a wrong method) into the documented error body.
pub(crate) async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let code = match status {
        StatusCode::NOT_FOUND => codes::NOT_FOUND,
        StatusCode::METHOD_NOT_ALLOWED => codes::METHOD_NOT_ALLOWED,
        StatusCode::PAYLOAD_TOO_LARGE => codes::PAYLOAD_TOO_LARGE,
        s if s.is_client_error() => codes::BAD_REQUEST,
        _ => codes::INTERNAL,
    };
    let message = if status.is_server_error() {
        tracing::error!(%status, body = %text, "request failed");
        "the server could not answer; the cause is in its log".to_string()
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "the request body is over the limit of {} bytes",
            crate::MAX_BODY_BYTES
        )
    } else if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("the request was refused")
            .to_string()
    } else {
        text
    };
    let mut out = ApiError::new(status, code, message).into_response();
    // Keep what the rejection said about the request (e.g. `Allow` on a 405).
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    out
}
