// SPDX-License-Identifier: MPL-2.0
//! Stored files as HTTP answers: ranges and conditional requests through tower-http's
//! `ServeFile`, with the content type taken from the name the route knows. The local copy of
//! an object-store file has no extension to guess from.

use std::path::PathBuf;

use axum::extract::Request;
use axum::http::header::{HeaderValue, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::error::ApiError;

/// The content type of a file named `name`, by its extension.
pub(super) fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).as_deref() {
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        Some("srt") => "application/x-subrip",
        Some("vtt") => "text/vtt; charset=utf-8",
        Some("wav") => "audio/wav",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Answers `request` with the file at `path`; `content_type` replaces the guessed type.
pub(super) async fn serve(
    path: PathBuf,
    request: Request,
    content_type: Option<&'static str>,
) -> Result<Response, ApiError> {
    let mut response =
        ServeFile::new(path).oneshot(request).await.map_err(|e| ApiError::Internal(e.to_string()))?.into_response();
    if let Some(content_type) = content_type {
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_the_extension() {
        assert_eq!(content_type("a-master.mp4"), "video/mp4");
        assert_eq!(content_type("captions.VTT"), "text/vtt; charset=utf-8");
        assert_eq!(content_type("clip-1.jpg"), "image/jpeg");
        assert_eq!(content_type("no-extension"), "application/octet-stream");
    }
}
