// SPDX-License-Identifier: MPL-2.0
//! Security headers on every response, for a browser that also has a hostile page open:
//! no type sniffing (a stored file is only ever what its `Content-Type` says), no
//! `Referer` carrying ids or preview links to other sites, no embedding of the studio's
//! pages in another site's frame (clickjacking), and stored media not readable by other
//! origins' `<img>`/`<video>` tags.
//!
//! Framing is decided by path: the live preview (`/live/{id}`) is framed by the studio's own
//! pages, and kiosk pages (`/kiosk/{name}`) may be shown in a signage player's frame.

use axum::extract::Request;
use axum::http::header::{
    HeaderName, HeaderValue, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

const CROSS_ORIGIN_RESOURCE_POLICY: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// `router` with the security headers on every response, its fallbacks' included.
pub(super) fn secure(router: Router) -> Router {
    router
        .layer(axum::middleware::from_fn(frame_policy))
        .layer(SetResponseHeaderLayer::overriding(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(
            CROSS_ORIGIN_RESOURCE_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
}

/// Who may frame a page at `path`: `None` for anyone (kiosk pages), else the header values.
fn framing(path: &str) -> Option<(&'static str, &'static str)> {
    if path.starts_with("/kiosk/") {
        None
    } else if path.starts_with("/live/") {
        Some(("SAMEORIGIN", "frame-ancestors 'self'"))
    } else {
        Some(("DENY", "frame-ancestors 'none'"))
    }
}

async fn frame_policy(request: Request, next: Next) -> Response {
    let framing = framing(request.uri().path());
    let mut response = next.run(request).await;
    if let Some((frame_options, policy)) = framing {
        let headers = response.headers_mut();
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static(frame_options));
        // A page's own policy (none today) would name its ancestors itself.
        if !headers.contains_key(CONTENT_SECURITY_POLICY) {
            headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kiosk_pages_may_be_framed_elsewhere() {
        assert_eq!(framing("/kiosk/lobby-3f9a"), None);
        assert_eq!(framing("/live/abc").map(|f| f.0), Some("SAMEORIGIN"));
        assert_eq!(framing("/projects").map(|f| f.0), Some("DENY"));
        assert_eq!(framing("/api/projects").map(|f| f.1), Some("frame-ancestors 'none'"));
    }
}
