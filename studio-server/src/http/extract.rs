// SPDX-License-Identifier: MPL-2.0
//! axum's extractors with [`ApiError`] as their rejection, so that a bad path, query, body
//! or form is answered like every other error: `{"error", "detail"}` with the status the
//! rejection means (413 for a body over the limit, 415 for the wrong content type, 400 for
//! the rest), never axum's plain-text body.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;

use super::error::ApiError;

/// Path parameters (`%FF` and other undecodable parameters are a JSON 400).
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(super) struct AppPath<T>(pub(super) T);

/// The query string.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(super) struct AppQuery<T>(pub(super) T);

/// The raw body, within the router's body limit (413 above it).
#[derive(Debug)]
pub(super) struct AppBytes(pub(super) Bytes);

impl<S: Send + Sync> FromRequest<S> for AppBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Ok(AppBytes(Bytes::from_request(request, state).await?))
    }
}

/// A `multipart/form-data` body; any other content type is a 415.
#[derive(Debug)]
pub(super) struct AppMultipart(pub(super) Multipart);

impl<S: Send + Sync> FromRequest<S> for AppMultipart {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
            return Err(ApiError::UnsupportedMedia(format!(
                "send the form as Content-Type: multipart/form-data, not `{}`",
                content_type.chars().take(100).collect::<String>()
            )));
        }
        Multipart::from_request(request, state)
            .await
            .map(AppMultipart)
            .map_err(|e| ApiError::BadRequest(format!("form: {}", e.body_text())))
    }
}

/// The [`ApiError`] of a rejection with `status`: the statuses the API names keep their
/// meaning, the rest of the client's mistakes are a 400.
pub(super) fn rejected(status: StatusCode, detail: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(detail),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMedia(detail),
        status if status.is_server_error() => ApiError::Internal(detail),
        _ => ApiError::BadRequest(detail),
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        rejected(rejection.status(), rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        rejected(rejection.status(), format!("path: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        rejected(rejection.status(), format!("query: {}", rejection.body_text()))
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        rejected(rejection.status(), format!("body: {}", rejection.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_their_meaning() {
        assert_eq!(rejected(StatusCode::PAYLOAD_TOO_LARGE, "x".into()).status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            rejected(StatusCode::UNSUPPORTED_MEDIA_TYPE, "x".into()).status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(rejected(StatusCode::UNPROCESSABLE_ENTITY, "x".into()).status(), StatusCode::BAD_REQUEST);
        assert_eq!(rejected(StatusCode::INTERNAL_SERVER_ERROR, "x".into()).status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
