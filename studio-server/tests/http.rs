// SPDX-License-Identifier: MPL-2.0
//! Public routes: landing page, health, readiness and presets.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;

/// Tests that point `REENACT_MODELS` somewhere take turns.
static MODELS_ENV: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn health_and_readiness() {
    let _models = MODELS_ENV.lock().await;
    for app in TestApp::all().await {
        assert_eq!(app.call(Method::GET, "/healthz", None, None).await, (StatusCode::OK, "ok".into()));
        assert_eq!(app.call(Method::GET, "/readyz", None, None).await, (StatusCode::OK, "ready".into()));
    }
}

#[tokio::test]
async fn not_ready_when_the_storage_takes_no_file() {
    let _models = MODELS_ENV.lock().await;
    let app = TestApp::sqlite().await;
    // A file where the storage's temporary directory should be: nothing can be written under it.
    let tmp = app.state.storage.temp_path().parent().unwrap().to_path_buf();
    std::fs::remove_dir_all(&tmp).ok();
    std::fs::write(&tmp, b"in the way").unwrap();
    let (status, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    std::fs::remove_file(&tmp).unwrap();
    std::fs::create_dir(&tmp).unwrap();
    assert_eq!(app.call(Method::GET, "/readyz", None, None).await, (StatusCode::OK, "ready".into()));
}

#[tokio::test]
async fn not_ready_while_a_model_file_is_corrupt_and_the_model_is_named() {
    let _models = MODELS_ENV.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let model = reenact_models::graph::Graph::new()
        .input("x", &[1])
        .output("y", &[1])
        .node("Identity", &["x"], &["y"], &[])
        .install(dir.path(), "probe-net", "test")
        .unwrap();
    std::env::set_var("REENACT_MODELS", dir.path());
    let app = TestApp::sqlite().await;
    assert_eq!(app.call(Method::GET, "/readyz", None, None).await, (StatusCode::OK, "ready".into()));
    let good = std::fs::read(&model).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0xff;
    std::fs::write(&model, &bad).unwrap();
    let (status, body) = app.call(Method::GET, "/readyz", None, None).await;
    std::fs::write(&model, &good).unwrap();
    let ready_again = app.call(Method::GET, "/readyz", None, None).await;
    std::env::remove_var("REENACT_MODELS");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let cause = body.as_str().unwrap_or_default();
    assert!(cause.contains("probe-net") && cause.contains("probe-net.onnx"), "names the model and file: {cause}");
    assert_eq!(ready_again, (StatusCode::OK, "ready".into()));
}

#[tokio::test]
async fn presets_are_listed_as_json() {
    for app in TestApp::all().await {
        let (status, presets) = app.call(Method::GET, "/api/presets", None, None).await;
        assert_eq!(status, StatusCode::OK);
        let vertical = presets.as_array().unwrap().iter().find(|p| p["name"] == "vertical-1080p").unwrap();
        assert_eq!(vertical["video"]["width"], 1080);
        assert_eq!(vertical["video"]["height"], 1920);
    }
}

#[tokio::test]
async fn landing_page_names_the_product_and_presets() {
    for app in TestApp::all().await {
        let (status, body) = app.call(Method::GET, "/", None, None).await;
        assert_eq!(status, StatusCode::OK);
        let body = body.as_str().unwrap();
        assert!(body.contains("Reenact Studio") && body.contains("square-1080p"));
    }
}

#[tokio::test]
async fn unknown_route_is_404() {
    for app in TestApp::all().await {
        assert_eq!(app.call(Method::GET, "/api/nothing-here", None, None).await.0, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn demo_seed_gives_a_renderable_project_once() {
    for app in TestApp::all().await {
        let media = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/media");
        let said = reenact_server::demo::seed(&app.state, &media).await.unwrap();
        assert!(said.contains("2 clips"), "{said}");
        let again = reenact_server::demo::seed(&app.state, &media).await.unwrap();
        assert!(again.contains("already exists"), "{again}");
        let creds =
            serde_json::json!({ "email": reenact_server::demo::EMAIL, "password": reenact_server::demo::PASSWORD });
        let (_, tokens) = app.call(Method::POST, "/api/auth/login", None, Some(creds)).await;
        let token = tokens["access_token"].as_str().unwrap();
        let (_, projects) = app.call(Method::GET, "/api/projects", Some(token), None).await;
        let project = &projects[0];
        assert_eq!(project["timeline"]["tracks"][0]["clips"].as_array().unwrap().len(), 2);
        let (_, clips) = app
            .call(Method::GET, &format!("/api/projects/{}/clips", project["id"].as_str().unwrap()), Some(token), None)
            .await;
        assert_eq!(clips.as_array().unwrap().len(), 2);
    }
}

/// The routes the API promises its clients, as (method, path).
const PROMISED: &[(&str, &str)] = &[
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/account"),
    ("delete", "/api/account"),
    ("get", "/api/projects"),
    ("post", "/api/projects"),
    ("get", "/api/projects/{project_id}"),
    ("patch", "/api/projects/{project_id}"),
    ("get", "/api/projects/{project_id}/revisions"),
    ("post", "/api/projects/{project_id}/undo"),
    ("post", "/api/projects/{project_id}/redo"),
    ("delete", "/api/projects/{project_id}"),
    ("get", "/api/projects/{project_id}/clips"),
    ("post", "/api/projects/{project_id}/clips"),
    ("get", "/api/clips/{clip_id}/media"),
    ("get", "/api/clips/{clip_id}/waveform"),
    ("delete", "/api/clips/{clip_id}"),
    ("post", "/api/projects/{project_id}/imports"),
    ("get", "/api/projects/{project_id}/characters"),
    ("post", "/api/projects/{project_id}/characters"),
    ("get", "/api/projects/{project_id}/voices"),
    ("post", "/api/projects/{project_id}/voices"),
    ("get", "/api/projects/{project_id}/scenes"),
    ("post", "/api/projects/{project_id}/scenes"),
    ("get", "/api/account/audit"),
    ("get", "/api/jobs"),
    ("post", "/api/jobs"),
    ("get", "/api/jobs/{job_id}"),
    ("post", "/api/jobs/{job_id}/cancel"),
    ("get", "/api/jobs/{job_id}/files/{name}"),
    ("post", "/api/projects/{project_id}/renders"),
    ("get", "/api/renders/{render_id}"),
    ("delete", "/api/renders/{render_id}"),
    ("get", "/api/renders/{render_id}/files/{preset}"),
    ("get", "/api/renders/{render_id}/manifests/{preset}"),
    ("get", "/api/events"),
    ("get", "/api/presets"),
    ("post", "/api/live"),
    ("post", "/api/live/{session}/whep"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/api/projects/{project_id}/subtitles"),
    ("get", "/api/projects/{project_id}/subtitles/{lang}"),
    ("put", "/api/projects/{project_id}/subtitles/{lang}"),
    ("delete", "/api/projects/{project_id}/subtitles/{lang}"),
    ("get", "/api/projects/{project_id}/subtitles/{lang}/export"),
    ("post", "/api/projects/{project_id}/subtitles/{lang}/translate"),
];

/// Every operation the document names is served at its path and method: one that needs a
/// token answers 401 without it, an open one answers from its handler (never the router's
/// bare 404 or 405). Every promised route is named, and every `$ref` resolves.
#[tokio::test]
async fn the_openapi_document_describes_the_routes_served() {
    let app = TestApp::sqlite().await;
    let (status, doc) = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in PROMISED {
        assert!(paths.get(*path).and_then(|item| item.get(*method)).is_some(), "{method} {path} is not documented");
    }
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(verb) = Method::from_bytes(method.to_uppercase().as_bytes()) else { continue };
            operations += 1;
            assert!(operation["responses"]["default"].is_object(), "{method} {path}: no default (error) response");
            let open =
                operation["security"].as_array().is_some_and(|s| s.iter().all(|r| r.as_object().unwrap().is_empty()));
            let uri = concrete(path);
            let (status, body) = app.call(verb.clone(), &uri, None, None).await;
            if open {
                let from_handler = status.is_success() || body.get("error").is_some();
                assert!(from_handler, "{method} {uri}: {status} {body} (not answered by its handler)");
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {uri} is documented as open: {body}");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}: {body}");
            }
        }
    }
    assert!(operations >= PROMISED.len(), "{operations} operations");
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let target = reference.split('"').next().unwrap();
        let pointer = target.strip_prefix('#').expect("local reference");
        assert!(doc.pointer(pointer).is_some(), "dangling reference {target}");
    }
}

/// The path with each `{parameter}` replaced by a fresh UUID.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|part| if part.starts_with('{') { uuid::Uuid::new_v4().to_string() } else { part.to_string() })
        .collect::<Vec<_>>()
        .join("/")
}
