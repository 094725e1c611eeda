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
        Some("ogg") => "audio/ogg",
        Some("flac") => "audio/flac",
        Some("mp3") => "audio/mpeg",
        Some("m4a") => "audio/mp4",
        Some("aac") => "audio/aac",
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

/// Property tests of `Range` handling: any header gets the whole file, the asked bytes
/// within the file, or 416 with the size; a satisfiable single range is always served.
#[cfg(test)]
mod properties {
    use axum::body::Body;
    use axum::http::header::{CONTENT_RANGE, RANGE};
    use axum::http::StatusCode;
    use http_body_util::BodyExt;
    use proptest::prelude::*;

    use super::*;

    /// Range-header-like text: units, numbers, separators and noise.
    fn range_like() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            prop::sample::select(&["bytes=", "bytes =", "items=", "-", ",", ", ", " ", "=", "0", "1", "-0", "+1"][..])
                .prop_map(String::from),
            (0..5000u64).prop_map(|n| n.to_string()),
            Just(u64::MAX.to_string()),
            Just("18446744073709551616".to_string()),
            "\\PC{0,4}",
        ];
        prop_oneof![
            prop::collection::vec(piece, 0..8).prop_map(|p| p.concat()),
            "\\PC{0,40}",
            (0..5000u64, prop::option::of(0..5000u64))
                .prop_map(|(a, b)| format!("bytes={a}-{}", b.map(|b| b.to_string()).unwrap_or_default())),
            (1..5000u64).prop_map(|n| format!("bytes=-{n}")),
        ]
    }

    /// Serves a file of `size` bytes for `range`: status, Content-Range and body.
    fn serve_range(size: usize, range: &str) -> (StatusCode, Option<String>, Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("media.bin");
        let content: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let request = Request::builder().uri("/clips/x/media").header(RANGE, range).body(Body::empty()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (status, content_range, body) = runtime.block_on(async {
            let response = serve(path, request, None).await.unwrap();
            let status = response.status();
            let content_range = response.headers().get(CONTENT_RANGE).map(|v| v.to_str().unwrap().to_string());
            (status, content_range, response.into_body().collect().await.unwrap().to_bytes().to_vec())
        });
        (status, content_range, body, content)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_range_gets_the_file_a_part_of_it_or_416(
            size in prop_oneof![Just(0usize), Just(1usize), 0..4096usize],
            range in range_like().prop_filter("a header value", |r| HeaderValue::from_str(r).is_ok()),
        ) {
            let (status, content_range, body, content) = serve_range(size, &range);
            match status {
                StatusCode::OK => prop_assert_eq!(body, content),
                StatusCode::PARTIAL_CONTENT => {
                    let content_range = content_range.unwrap();
                    let (span, total) = content_range.strip_prefix("bytes ").unwrap().split_once('/').unwrap();
                    let (a, b) = span.split_once('-').unwrap();
                    let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
                    prop_assert_eq!(total.parse::<usize>().unwrap(), size);
                    prop_assert!(a <= b && b < size, "{} for {} bytes", content_range, size);
                    prop_assert_eq!(&body[..], &content[a..=b]);
                }
                StatusCode::RANGE_NOT_SATISFIABLE => prop_assert_eq!(content_range, Some(format!("bytes */{size}"))),
                other => prop_assert!(false, "{other} for `{range}`"),
            }
        }

        #[test]
        fn a_range_inside_the_file_is_served_and_one_past_it_is_416(
            size in 1..4096usize,
            from in any::<prop::sample::Index>(),
            length in 1..5000usize,
        ) {
            let from = from.index(size);
            let (status, content_range, body, content) = serve_range(size, &format!("bytes={from}-{}", from + length - 1));
            let to = (from + length - 1).min(size - 1);
            prop_assert_eq!(status, StatusCode::PARTIAL_CONTENT);
            prop_assert_eq!(content_range, Some(format!("bytes {from}-{to}/{size}")));
            prop_assert_eq!(&body[..], &content[from..=to]);
            let (status, content_range, ..) = serve_range(size, &format!("bytes={}-", size + from));
            prop_assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
            prop_assert_eq!(content_range, Some(format!("bytes */{size}")));
        }
    }
}
