// SPDX-License-Identifier: MPL-2.0
//! Test helpers: a real server state on a fresh SQLite file, and JSON requests.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use reenact_engine::PresetLibrary;
use reenact_server::{app, db, AppState, JwtKeys};
use serde_json::Value;
use tower::ServiceExt;

/// An application on its own SQLite database (kept alive by the temp dir).
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = db::connect(&db::sqlite_url(dir.path())).await.unwrap();
        let state = AppState {
            presets: Arc::new(PresetLibrary::builtin().unwrap()),
            db,
            keys: Arc::new(JwtKeys::new(b"test-secret-test-secret-test-secret!")),
        };
        TestApp { router: app(state.clone()), state, _dir: dir }
    }

    /// Sends a request with an optional JSON body and bearer token.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let response = self.router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    /// Registers and signs in `email`; returns (access, refresh) tokens.
    pub async fn sign_up(&self, email: &str) -> (String, String) {
        let creds = serde_json::json!({ "email": email, "password": "correct horse battery" });
        let (status, body) = self.call(Method::POST, "/api/auth/register", None, Some(creds.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = self.call(Method::POST, "/api/auth/login", None, Some(creds)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (body["access_token"].as_str().unwrap().into(), body["refresh_token"].as_str().unwrap().into())
    }
}

/// Asserts an error response: status and a `detail` containing `text`.
#[track_caller]
pub fn expect_error(got: (StatusCode, Value), status: StatusCode, text: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    let detail = got.1["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(text), "detail `{detail}` lacks `{text}`");
}
