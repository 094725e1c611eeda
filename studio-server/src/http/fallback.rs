// SPDX-License-Identifier: MPL-2.0
//! What answers when no handler does, so that every refusal has the API's error shape
//! `{"error", "detail"}`: the router's 404 and 405 fallbacks, and a last net under `/api/`
//! for the answers the framework writes itself (a body over the limit while it is read, a
//! 405 of a route merged in later) as plain text or with no body at all.

use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::{ApiError, ErrorBody};
use super::extract::rejected;

/// Longest framework error text kept as the detail; a longer body is not an error message.
const DETAIL_LIMIT: usize = 2048;

/// No route has this path.
pub(super) async fn not_found() -> ApiError {
    ApiError::NotFound
}

/// The path exists, the method does not (the `Allow` header, which axum adds, lists those that do).
pub(super) async fn method_not_allowed(method: Method) -> Response {
    let detail = format!("{method} is not allowed here; the Allow header lists the methods that are");
    body(StatusCode::METHOD_NOT_ALLOWED, detail)
}

/// Rewrites an error answer under `/api/` that is not JSON into the API's error shape,
/// keeping its status and headers (`Allow`, `Retry-After`, `Content-Range`).
pub(super) async fn json_errors(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    if !api || !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (mut parts, plain) = response.into_parts();
    let text = axum::body::to_bytes(plain, DETAIL_LIMIT).await.ok().map(|b| String::from_utf8_lossy(&b).into_owned());
    let detail = text
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase());
    let json = match status {
        StatusCode::BAD_REQUEST
        | StatusCode::PAYLOAD_TOO_LARGE
        | StatusCode::UNSUPPORTED_MEDIA_TYPE
        | StatusCode::INTERNAL_SERVER_ERROR => rejected(status, detail).into_response(),
        StatusCode::NOT_FOUND => ApiError::NotFound.into_response(),
        StatusCode::CONFLICT => ApiError::Conflict(detail).into_response(),
        StatusCode::TOO_MANY_REQUESTS => ApiError::TooManyRequests(detail).into_response(),
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(detail).into_response(),
        _ => body(status, detail),
    };
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove(CONTENT_TYPE);
    let (json_parts, json_body) = json.into_parts();
    parts.headers.extend(json_parts.headers);
    Response::from_parts(parts, json_body)
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"))
}

/// An error answer with a status [`ApiError`] has no variant for; the code is the status's
/// reason in snake case (`method_not_allowed`, `request_timeout`).
fn body(status: StatusCode, detail: String) -> Response {
    let error = status.canonical_reason().unwrap_or("error").to_lowercase().replace([' ', '-'], "_");
    let mut response = Json(ErrorBody { error, detail }).into_response();
    *response.status_mut() = status;
    response
}
