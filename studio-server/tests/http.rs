// SPDX-License-Identifier: MPL-2.0
//! The HTTP surface that exists today: landing page, health and presets.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use reenact_engine::PresetLibrary;
use reenact_server::{app, AppState};
use tower::ServiceExt;

fn state() -> AppState {
    AppState { presets: Arc::new(PresetLibrary::builtin().unwrap()) }
}

async fn get(uri: &str) -> (StatusCode, String) {
    let response = app(state()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn healthz_answers_ok() {
    assert_eq!(get("/healthz").await, (StatusCode::OK, "ok".to_string()));
}

#[tokio::test]
async fn presets_are_listed_as_json() {
    let (status, body) = get("/api/presets").await;
    assert_eq!(status, StatusCode::OK);
    let presets: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = presets.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"vertical-1080p"), "{names:?}");
    let vertical = presets.as_array().unwrap().iter().find(|p| p["name"] == "vertical-1080p").unwrap();
    assert_eq!(vertical["video"]["width"], 1080);
    assert_eq!(vertical["video"]["height"], 1920);
}

#[tokio::test]
async fn landing_page_names_the_product_and_presets() {
    let (status, body) = get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Reenact Studio"));
    assert!(body.contains("square-1080p"));
}

#[tokio::test]
async fn unknown_route_is_404() {
    assert_eq!(get("/api/nothing-here").await.0, StatusCode::NOT_FOUND);
}
