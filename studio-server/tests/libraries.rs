// SPDX-License-Identifier: MPL-2.0
//! The character and voice libraries: `GET /api/characters` and `GET /api/voices` list the
//! signed-in user's characters and voices across all their projects, and nobody else's.

mod common;
#[path = "common/forms.rs"]
mod forms;

use axum::http::{Method, StatusCode};
use common::TestApp;
use forms::{astronaut, project, roomy, use_shared_models, voice};
use serde_json::Value;

/// The `(id, project_id)` of each entry of a library answer.
fn entries(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    (i["id"].as_str().unwrap_or_default().into(), i["project_id"].as_str().unwrap_or_default().into())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn libraries_list_the_owners_characters_and_voices_across_projects() {
    use_shared_models();
    for app in TestApp::all().await {
        let app = roomy(app, 50_000_000);
        let (token, _) = app.sign_up("curator@museum.org").await;
        let a = project(&app, &token, "Gettysburg").await;
        let b = project(&app, &token, "Apollo").await;
        let character = astronaut(&app, &token, &a).await["id"].as_str().unwrap().to_string();
        let sample = voice(&app, &token, &b, "speech/librivox_0880.wav").await["id"].as_str().unwrap().to_string();

        let (status, list) = app.call(Method::GET, "/api/characters", Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(entries(&list), vec![(character, a)], "{}", app.backend());
        let (status, list) = app.call(Method::GET, "/api/voices", Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(entries(&list), vec![(sample, b)], "{}", app.backend());

        // Another user's libraries are their own: empty here. Without a token: 401.
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        for path in ["/api/characters", "/api/voices"] {
            let (status, list) = app.call(Method::GET, path, Some(&eve), None).await;
            assert_eq!((status, list), (StatusCode::OK, serde_json::json!([])), "{path}");
            let (status, body) = app.call(Method::GET, path, None, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
            assert!(body["error"].is_string() && body["detail"].is_string(), "{body}");
        }
    }
}
