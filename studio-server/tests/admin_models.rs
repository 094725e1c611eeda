// SPDX-License-Identifier: MPL-2.0
//! Models over HTTP: every signed-in user sees the installed models with their licences;
//! only the administrators the operator names install one, whose graph is checked against
//! its slot's signatures before it lands, with its licence, in the model directory.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;
use http_body_util::BodyExt;
use reenact_models::graph::Graph;
use reenact_server::http::models::ModelAdmin;
use serde_json::Value;
use tower::ServiceExt;

const BOUNDARY: &str = "reenact-admin-boundary";

/// inswapper_128's signature: `target` and `source` in, one picture out, the `emap` projection.
fn inswapper() -> Vec<u8> {
    Graph::new()
        .input("target", &[1, 3, 128, 128])
        .input("source", &[1, 512])
        .output("output", &[1, 3, 128, 128])
        .initializer("c0", &[1], &[0.0])
        .node("Identity", &["c0"], &["output"], &[])
        .initializer("emap", &[512, 512], &vec![0.0; 512 * 512])
        .to_model()
}

/// A graph with the right tensors but no `emap`: not a model the face swap can use.
fn no_emap() -> Vec<u8> {
    Graph::new()
        .input("target", &[1, 3, 128, 128])
        .input("source", &[1, 512])
        .output("output", &[1, 3, 128, 128])
        .initializer("c0", &[1], &[0.0])
        .node("Identity", &["c0"], &["output"], &[])
        .to_model()
}

fn form(file_name: &str, bytes: &[u8], texts: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in texts {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn import(router: &axum::Router, token: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::post("/api/admin/models")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(Body::from(body))
        .unwrap();
    send(router, request).await
}

async fn list(router: &axum::Router, token: &str) -> (StatusCode, Value) {
    let request =
        Request::get("/api/models").header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
    send(router, request).await
}

#[tokio::test]
async fn administrators_install_checked_models_and_everyone_sees_their_licences() {
    let models = tempfile::tempdir().unwrap();
    // This test process's catalog reads the folder the imports go to, and nothing else of
    // the machine's.
    std::env::set_var("REENACT_MODELS", models.path());
    let app = TestApp::sqlite().await;
    let mut state = app.state.clone();
    // The emap projection alone is 1 MB.
    state.upload_limit = 8_000_000;
    state.models = Arc::new(ModelAdmin::new(vec!["Admin@Museum.org".into()], Some(models.path().to_owned())));
    let router = reenact_server::app(state);
    let (admin, _) = app.sign_up("admin@museum.org").await;
    let (user, _) = app.sign_up("presenter@museum.org").await;

    let texts = [("slot", "faceswap"), ("license", "non-commercial research"), ("commercial_use", "no")];
    let (status, body) = import(&router, &user, form("inswapper_128.onnx", &inswapper(), &texts)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("admins"), "{body}");

    // Refusals name the field or the file, never a path of the server's.
    let (status, body) = import(&router, &admin, form("swap.onnx", &no_emap(), &texts)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.starts_with("file: swap.onnx is not a model for the faceswap slot"), "{detail}");
    assert!(!detail.contains(&std::env::temp_dir().display().to_string()), "{detail}");
    let (status, body) = import(&router, &admin, form("swap.onnx", b"not onnx at all", &texts)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["detail"], "file: swap.onnx is not a readable ONNX model", "{body}");
    let (status, body) =
        import(&router, &admin, form("swap.onnx", &inswapper(), &[("slot", "faceswap"), ("license", " ")])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap().starts_with("license:"), "{body}");
    let (status, body) =
        import(&router, &admin, form("swap.onnx", &inswapper(), &[("slot", "swap"), ("license", "MIT")])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap().starts_with("slot: unknown slot `swap`"), "{body}");
    let (status, body) =
        import(&router, &admin, form("model.enes.bin", b"marian", &[("slot", "translation"), ("license", "MPL-2.0")]))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("comes with its vocabulary file"), "{body}");
    let bad_flag = [("slot", "faceswap"), ("license", "MIT"), ("commercial_use", "maybe")];
    let (status, body) = import(&router, &admin, form("swap.onnx", &inswapper(), &bad_flag)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap().starts_with("commercial_use:"), "{body}");
    assert!(!models.path().join("imported").join("swap.onnx").exists(), "a refused model is not installed");

    let (status, body) = import(&router, &admin, form("inswapper_128.onnx", &inswapper(), &texts)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["name"], "inswapper_128");
    assert_eq!(body["signature"], "inswapper_128");
    assert_eq!(body["speakers"], serde_json::Value::Null, "a swapper has no speakers");
    assert_eq!(body["commercial_use"], false);
    assert!(models.path().join("imported/inswapper_128.onnx").is_file());
    assert!(models.path().join("MANIFEST.imported.toml").is_file());

    let (status, body) = list(&router, &user).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entry = body.as_array().unwrap().iter().find(|m| m["name"] == "inswapper_128").expect("listed");
    assert_eq!(entry["license"], "non-commercial research");
    assert_eq!(entry["commercial_label"], "NON-COMMERCIAL");
    assert_eq!(entry["installed"], true);
    assert!(!body.to_string().contains(&models.path().display().to_string()), "paths stay on the server: {body}");

    // The import is in the administrator's log.
    let (status, log) = app.call(axum::http::Method::GET, "/api/account/audit", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(log.to_string().contains("model.import"), "{log}");
}
