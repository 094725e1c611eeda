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
