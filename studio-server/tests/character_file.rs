// SPDX-License-Identifier: MPL-2.0
//! `PATCH /api/characters/{id}` sets what the character file says beyond its portrait: how
//! its face plays (`face`: `swap`, or `animate` with LivePortrait's modules) and the catalog
//! voice it speaks with (`voice_model`), each checked against the model catalog, on SQLite and
//! PostgreSQL. Its own test binary: the user's model directory (`XDG_DATA_HOME`) is a
//! temporary one for the whole process, so the modules imported here never reach the
//! machine's own.

mod common;
#[path = "common/forms.rs"]
mod forms;

use axum::http::{Method, StatusCode};
use common::{expect_error, TestApp};
use forms::{astronaut, import_standin, private_user_models, project, roomy};
use reenact_models::graph::Graph;
use reenact_models::Slot;
use serde_json::json;

#[tokio::test]
async fn face_and_voice_model_are_set_only_to_what_the_catalog_can_play() {
    let (_data, user_models) = private_user_models();

    for app in TestApp::all().await {
        // Each backend starts from a catalog without the imports.
        std::fs::remove_dir_all(&user_models).unwrap();
        std::fs::create_dir_all(&user_models).unwrap();
        check(roomy(app, 50_000_000), &user_models).await;
    }
}

async fn check(app: TestApp, user_models: &std::path::Path) {
    let (token, _) = app.sign_up("curator@museum.org").await;
    let project = project(&app, &token, "Apollo").await;
    let character = astronaut(&app, &token, &project).await;
    let uri = format!("/api/characters/{}", character["id"].as_str().unwrap());
    let patch = |body: serde_json::Value| app.call(Method::PATCH, &uri, Some(&token), Some(body));

    let (status, shown) = app.call(Method::GET, &uri, Some(&token), None).await;
    assert_eq!((status, &shown["face"]), (StatusCode::OK, &json!("swap")), "{shown}");
    assert!(shown.get("voice_model").is_none(), "{shown}");
    assert_eq!(character["face"], "swap", "a new character's answer says it too: {character}");

    // Refused while the catalog lacks what they need, naming the field; nothing changes.
    expect_error(patch(json!({"face": "animate"})).await, StatusCode::UNPROCESSABLE_ENTITY, "face: `animate` needs");
    let unknown = patch(json!({"voice_model": {"name": "lincoln_v2", "speaker_id": 1}})).await;
    expect_error(unknown, StatusCode::UNPROCESSABLE_ENTITY, "voice_model.name: no voice `lincoln_v2`");
    let not_voice = patch(json!({"voice_model": {"name": "blazeface_back_256"}})).await;
    expect_error(not_voice, StatusCode::UNPROCESSABLE_ENTITY, "not a voice");
    let (status, body) = patch(json!({"face": "sideways"})).await;
    assert!(status.is_client_error() && body["detail"].as_str().unwrap_or_default().contains("face"), "{body}");
    let (_, shown) = app.call(Method::GET, &uri, Some(&token), None).await;
    assert_eq!(shown["face"], "swap", "{shown}");

    for (name, graph) in reenact_models::graph::liveportrait_standins() {
        import_standin(user_models, name, &graph, Slot::PortraitAnimation, false);
    }
    let rvc = Graph::new().rvc_v2_signature(40_000).node("Identity", &["pitchf"], &["audio"], &[]);
    import_standin(user_models, "lincoln_v2", &rvc, Slot::Voice, false);

    let (status, patched) =
        patch(json!({"face": "animate", "voice_model": {"name": "lincoln_v2", "speaker_id": 1}})).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["face"], "animate", "{patched}");
    assert_eq!(patched["voice_model"], json!({"name": "lincoln_v2", "speaker_id": 1}), "{patched}");
    // The character file the engine plays says the same.
    let (status, file) = app.call(Method::GET, &format!("{uri}/file"), Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert_eq!((&file["face"], &file["voice_model"]["name"]), (&json!("animate"), &json!("lincoln_v2")), "{file}");

    // `null` removes the voice; the face stays as it was set.
    let (status, patched) = patch(json!({"voice_model": null})).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert!(patched.get("voice_model").is_none() && patched["face"] == "animate", "{patched}");

    // Lists show it as well (the studio's cast page reads them).
    let (_, list) = app.call(Method::GET, &format!("/api/projects/{project}/characters"), Some(&token), None).await;
    assert_eq!(list[0]["face"], "animate", "{list}");

    // Someone else's character is not found, whatever the body.
    let (eve, _) = app.sign_up("eve@elsewhere.org").await;
    let (status, body) = app.call(Method::PATCH, &uri, Some(&eve), Some(json!({"face": "swap"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, shown) = app.call(Method::GET, &uri, Some(&token), None).await;
    assert_eq!(shown["face"], "animate", "{} {shown}", app.backend());
}
