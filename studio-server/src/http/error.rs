// SPDX-License-Identifier: MPL-2.0
//! The one error type of the API: each variant is a status and a JSON body
//! `{ "error": .., "detail": .. }`; internal causes are logged, not shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("sign in first: {0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// 409: a library entry that projects still use; the body also lists them (`projects`).
    #[error("{detail}")]
    InUse { detail: String, projects: Vec<crate::library::ProjectUse> },
    /// 412: the request's `If-Match` names a version that is no longer current.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// 429 with a `Retry-After` header: come back in `retry_after_s` seconds.
    #[error("{detail}")]
    RetryLater { detail: String, retry_after_s: u64 },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMedia(String),
    /// 422: well-formed, but about something else than the resource (RFC 9725's answer to an
    /// ICE fragment of another session).
    #[error("{0}")]
    Unprocessable(String),
    /// A service the request needs (storage, database) is down; the cause is logged.
    #[error("the service is unavailable for a moment, try again")]
    Unavailable(String),
    #[error("something went wrong")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::InUse { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::TooManyRequests(_) | ApiError::RetryLater { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::InUse { .. } => "in_use",
            ApiError::PreconditionFailed(_) => "precondition_failed",
            ApiError::TooManyRequests(_) | ApiError::RetryLater { .. } => "too_many_requests",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMedia(_) => "unsupported_media",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return ApiError::Conflict("already exists".into());
            }
        }
        ApiError::Internal(err.to_string())
    }
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(err: crate::storage::StorageError) -> Self {
        use crate::storage::StorageError;
        match err {
            StorageError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => ApiError::NotFound,
            StorageError::Object { source: object_store::Error::NotFound { .. }, .. } => ApiError::NotFound,
            StorageError::Object { .. } => ApiError::Unavailable(err.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// What every failed request answers (the OpenAPI document's default response).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable kind, e.g. `bad_request`, `not_found`, `payload_too_large`.
    pub error: String,
    /// The cause in plain words, naming the field at fault where there is one.
    pub detail: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) | ApiError::Unavailable(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let body = ErrorBody { error: self.code().to_string(), detail: self.to_string() };
        let mut response = match &self {
            ApiError::InUse { projects, .. } => {
                let mut value = serde_json::to_value(&body).unwrap_or_default();
                value["projects"] = serde_json::to_value(projects).unwrap_or_default();
                (self.status(), Json(value)).into_response()
            }
            _ => (self.status(), Json(body)).into_response(),
        };
        if let ApiError::RetryLater { retry_after_s, .. } = self {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after_s.into());
        }
        response
    }
}

/// JSON body whose rejections use [`ApiError`]'s shape (see `extract.rs`: 415 without a JSON
/// content type, 413 over the body limit, 400 otherwise).
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl<T: serde::Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}
