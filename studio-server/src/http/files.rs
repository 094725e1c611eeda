// SPDX-License-Identifier: MPL-2.0
//! Stored files as HTTP answers: ranges and conditional requests through tower-http's
//! `ServeFile`, with a content type the server chose. A stored name may carry the
//! extension an uploader gave (`take.html`), so neither the name nor the uploader's
//! declared type ever decides the type: the route passes one from the allow-list below
//! (by what discovery found, or by the server's own file names), anything else is
//! `application/octet-stream`. What is not a picture, sound or video to be played in the
//! page is sent as an attachment; `nosniff` (set on every response) keeps browsers from
//! guessing otherwise.

use std::path::PathBuf;

use axum::extract::Request;
use axum::http::header::{HeaderValue, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::error::ApiError;

/// The type of anything not on the allow-list.
const OPAQUE: &str = "application/octet-stream";

/// The content type of a file the server named `name`, by its extension: media, pictures
/// and caption formats, else `application/octet-stream`.
pub(super) fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).as_deref() {
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        Some("srt") => "application/x-subrip",
        Some("vtt") => "text/vtt; charset=utf-8",
        Some("wav") => "audio/wav",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        Some("bmp") => "image/bmp",
        Some("tif" | "tiff") => "image/tiff",
        Some("json") => "application/json",
        _ => OPAQUE,
    }
}

/// The content type of a clip by the container discovery found in it (GStreamer's
/// description of the container caps), never by its name.
pub(super) fn media_type(container: &str) -> &'static str {
    match container {
        // QuickTime and MP4 are one file format (ISO base media); browsers play both as MP4.
        "ISO MP4/M4A" | "Quicktime" => "video/mp4",
        "3GP" => "video/3gpp",
        "WebM" => "video/webm",
        "Matroska" => "video/x-matroska",
        "AVI" => "video/x-msvideo",
        "Ogg" => "video/ogg",
        "MPEG-2 Transport Stream" => "video/mp2t",
        _ => OPAQUE,
    }
}

/// Whether a browser may show a file of `content_type` in the page (as a picture, sound or
/// video); everything else is downloaded.
fn playable(content_type: &str) -> bool {
    ["video/", "audio/", "image/"].iter().any(|kind| content_type.starts_with(kind))
}

/// Answers `request` with the file at `path` as `content_type` (from [`content_type`] or
/// [`media_type`]; `None` for `application/octet-stream`).
pub(super) async fn serve(
    path: PathBuf,
    request: Request,
    content_type: Option<&'static str>,
) -> Result<Response, ApiError> {
    let content_type = content_type.unwrap_or(OPAQUE);
    let mut response =
        ServeFile::new(path).oneshot(request).await.map_err(|e| ApiError::Internal(e.to_string()))?.into_response();
    // A refusal (416 for a range past the end) keeps its own headers and gets the API's
    // error body; only the file itself is typed.
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if !playable(content_type) {
            headers.insert(CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
        }
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
        assert_eq!(content_type("page.html"), "application/octet-stream");
        assert_eq!(content_type("drawing.svg"), "application/octet-stream");
    }

    #[test]
    fn clips_are_typed_by_their_container() {
        assert_eq!(media_type("ISO MP4/M4A"), "video/mp4");
        assert_eq!(media_type("Quicktime"), "video/mp4");
        assert_eq!(media_type("Matroska"), "video/x-matroska");
        assert_eq!(media_type("HTML"), "application/octet-stream");
        assert!(playable(media_type("WebM")));
        assert!(!playable(content_type("captions.srt")) && !playable(OPAQUE));
    }
}
