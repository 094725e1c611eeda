// SPDX-License-Identifier: MPL-2.0
//! The router of `reenact live`: the live routes behind a guard, since any web page
//! the operator opens can send requests to a port on loopback.
//!
//! - `Host` must be one of the names the preview is served under (`127.0.0.1:PORT`,
//!   `localhost:PORT`, `[::1]:PORT`, the listen address, names the operator allows):
//!   a rebinding DNS name pointed at 127.0.0.1 is refused with 421.
//! - A request with an `Origin` must come from that same origin (403): a page elsewhere
//!   cannot drive the show even with a "simple" request that skips the CORS preflight.
//! - `/api/` takes the per-run token printed on the console (`Authorization: Bearer`; the
//!   preview page reads it from its URL fragment), 401 without it. Bodies must be JSON
//!   (415 otherwise; the handlers check it).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use subtle::ConstantTimeEq;

use super::LiveState;
use crate::http::error::ApiError;

/// Who may reach a `reenact live` server: the token and the allowed `Host` values.
#[derive(Debug)]
pub struct LocalAccess {
    token: String,
    hosts: Vec<String>,
}

impl LocalAccess {
    /// A fresh random token; hosts for `listen` (its port on every loopback name, the
    /// address itself) plus `extra` names (`name` or `name:port`).
    pub fn new(listen: SocketAddr, extra: &[String]) -> Self {
        let port = listen.port();
        let mut hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
        if !listen.ip().is_unspecified() {
            hosts.push(listen.to_string());
        }
        for name in extra {
            let name = name.to_ascii_lowercase();
            let with_port = if name.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
                name
            } else {
                format!("{name}:{port}")
            };
            hosts.push(with_port);
        }
        let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        LocalAccess { token, hosts }
    }

    /// The per-run token, to print for the operator.
    pub fn token(&self) -> &str {
        &self.token
    }

    fn host_allowed(&self, host: &str) -> bool {
        self.hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(host))
    }

    fn token_matches(&self, header: Option<&str>) -> bool {
        let given = header.and_then(|h| h.strip_prefix("Bearer ")).unwrap_or_default();
        bool::from(given.as_bytes().ct_eq(self.token.as_bytes()))
    }
}

/// The live routes of `state` behind the guard of `access`.
pub fn router(state: LiveState, access: LocalAccess) -> Router {
    super::router(state).layer(axum::middleware::from_fn_with_state(Arc::new(access), guard))
}

async fn guard(State(access): State<Arc<LocalAccess>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !access.host_allowed(host) {
        let detail = format!("this preview server answers to 127.0.0.1, localhost and [::1] only, not `{host}`");
        let body = serde_json::json!({ "error": "misdirected", "detail": detail });
        return (StatusCode::MISDIRECTED_REQUEST, Json(body)).into_response();
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let same = origin.to_str().ok().is_some_and(|o| o.eq_ignore_ascii_case(&format!("http://{host}")));
        if !same {
            return ApiError::Forbidden("requests from other sites are refused".into()).into_response();
        }
    }
    if request.uri().path().starts_with("/api/") {
        let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        if !access.token_matches(authorization) {
            return ApiError::Unauthorized("send the token `reenact live` printed as Authorization: Bearer TOKEN")
                .into_response();
        }
    }
    next.run(request).await
}
