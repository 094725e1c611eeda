// SPDX-License-Identifier: MPL-2.0
//! Helpers for the routes that take a multipart form (characters, voices): the shared test
//! media and models, an app with room for them, and the form itself. Included with
//! `#[path = "common/forms.rs"] mod forms;` beside `mod common;`.
#![allow(dead_code, unreachable_pub)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::common::TestApp;

pub use crate::common::shared;

pub fn media(rel: &str) -> Vec<u8> {
    std::fs::read(shared("media").join(rel)).unwrap()
}

/// Points the model catalog at the shared models (it otherwise looks beside the working
/// directory, which is studio-server/ in tests). Every caller sets the same value.
pub fn use_shared_models() {
    std::env::set_var("REENACT_MODELS", shared("models"));
}

/// A user model directory of the test process's own: `XDG_DATA_HOME` in a temporary directory
/// (kept while the returned guard lives), so that models a test imports never reach the
/// machine's own, with the shared models beside it. ONNX Runtime is loaded first, from where
/// the setup installed it, before the process's directories change. Returns the guard and
/// the directory (`XDG_DATA_HOME/reenact/models`, created).
pub fn private_user_models() -> (tempfile::TempDir, std::path::PathBuf) {
    reenact_models::init_runtime().expect("ONNX Runtime");
    let data = tempfile::tempdir().unwrap();
    let user_models = data.path().join("reenact/models");
    std::fs::create_dir_all(&user_models).unwrap();
    std::env::set_var("XDG_DATA_HOME", data.path());
    use_shared_models();
    (data, user_models)
}

/// Imports `graph` into `dir` as a user imports a file: as `name` in `slot`, licence `test`,
/// cleared for commercial use or not, a voice's output rate 40 kHz.
pub fn import_standin(
    dir: &std::path::Path,
    name: &str,
    graph: &reenact_models::graph::Graph,
    slot: reenact_models::Slot,
    commercial_use: bool,
) {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join(format!("{name}.onnx"));
    std::fs::write(&file, graph.to_model()).unwrap();
    let request = reenact_models::ImportRequest {
        file,
        slot,
        license: "test".into(),
        commercial_use: Some(commercial_use),
        name: None,
        sample_rate: Some(40_000),
        vocab: None,
    };
    reenact_models::import_model(dir, &request).unwrap_or_else(|err| panic!("{name}: {err}"));
}

/// `app` with an upload limit that takes the shared portrait (424 KB) and a quota of `quota` bytes.
pub fn roomy(mut app: TestApp, quota: u64) -> TestApp {
    app.state.upload_limit = 1_000_000;
    app.state.quota_bytes = quota;
    app.router = reenact_server::app(app.state.clone());
    app
}

/// POSTs a multipart form: text fields, then one file field `(name, file name, bytes)`.
pub async fn post_form(
    app: &TestApp,
    uri: &str,
    token: &str,
    texts: &[(&str, &str)],
    file: Option<(&str, &str, &[u8])>,
) -> (StatusCode, Value) {
    let boundary = "reenact-test-boundary";
    let mut body = Vec::new();
    for (name, value) in texts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some((name, file_name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let req = Request::post(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap();
    let response = app.router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A character made from the shared astronaut portrait in `project`.
pub async fn astronaut(app: &TestApp, token: &str, project: &str) -> Value {
    let uri = format!("/api/projects/{project}/characters");
    let portrait = media("astronaut.png");
    let (status, character) = post_form(
        app,
        &uri,
        token,
        &[("name", "Eileen Collins"), ("rights_basis", "public-domain"), ("rights_granted_by", "NASA")],
        Some(("portrait", "astronaut.png", &portrait)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{character}");
    character
}

/// A voice made from a shared speech sample in `project`, used with the reader's consent.
pub async fn voice(app: &TestApp, token: &str, project: &str, sample: &str) -> Value {
    voice_with(app, token, project, sample, &[("rights_basis", "consent")]).await
}

/// A voice made from a shared speech sample in `project` with the rights fields `rights`.
pub async fn voice_with(app: &TestApp, token: &str, project: &str, sample: &str, rights: &[(&str, &str)]) -> Value {
    let uri = format!("/api/projects/{project}/voices");
    let bytes = media(sample);
    let texts = [&[("name", "Reader")][..], rights].concat();
    let (status, voice) = post_form(app, &uri, token, &texts, Some(("sample", "take.wav", &bytes))).await;
    assert_eq!(status, StatusCode::CREATED, "{voice}");
    voice
}

/// A new project of the user; its id.
pub async fn project(app: &TestApp, token: &str, name: &str) -> String {
    let (status, project) = app
        .call(axum::http::Method::POST, "/api/projects", Some(token), Some(serde_json::json!({ "name": name })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    project["id"].as_str().unwrap().to_string()
}
