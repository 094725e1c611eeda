// SPDX-License-Identifier: MPL-2.0
//! Media uploads: accepted only after discovery, stored by id, served with
//! ranges, never visible to another user.

mod common;

use std::path::PathBuf;

use axum::http::{Method, StatusCode};
use common::{expect_error, TestApp, UPLOAD_LIMIT};
use serde_json::json;

fn media(rel: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/media").join(rel)).unwrap()
}

async fn project(app: &TestApp, token: &str) -> String {
    let (status, p) = app.call(Method::POST, "/api/projects", Some(token), Some(json!({ "name": "Clips" }))).await;
    assert_eq!(status, StatusCode::CREATED);
    p["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn upload_is_discovered_stored_by_id_and_served_with_ranges() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token).await;
        let bytes = media("grid/grid_swwp2s.mp4");
        let (status, clip) = app.upload(&project, "../../take one.mp4", &bytes, &token).await;
        assert_eq!(status, StatusCode::CREATED, "{clip}");
        assert_eq!(clip["name"], "take one.mp4");
        assert_eq!((clip["width"].as_i64(), clip["height"].as_i64()), (Some(360), Some(288)));
        assert!((clip["duration_s"].as_f64().unwrap() - 3.0).abs() < 0.05, "{clip}");
        assert_eq!(clip["bytes"].as_i64(), Some(bytes.len() as i64));
        assert!(clip["audio_codec"].is_string());

        let id = clip["id"].as_str().unwrap();
        let stored = app.stored_files();
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert!(stored[0].ends_with(&format!("/projects/{project}/source/{id}.mp4")), "{stored:?}");
        assert!(!stored[0].contains("take"), "user-supplied names never reach paths");

        let (_, list) = app.call(Method::GET, &format!("/api/projects/{project}/clips"), Some(&token), None).await;
        assert_eq!(list.as_array().unwrap().len(), 1);

        let uri = format!("/api/clips/{id}/media");
        let (status, _, whole) = app.get_raw(&uri, &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(whole, bytes);
        let (status, headers, part) = app.get_raw(&uri, &token, &[("range", "bytes=100-199")]).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(part, &bytes[100..200]);
        assert_eq!(headers["content-range"], format!("bytes 100-199/{}", bytes.len()).as_str());
    }
}

#[tokio::test]
async fn bad_uploads_get_a_reason_and_store_nothing() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token).await;
        expect_error(
            app.upload(&project, "notes.mp4", b"these are notes, not a video", &token).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file: not a media file",
        );
        expect_error(
            app.upload(&project, "empty.mp4", b"", &token).await,
            StatusCode::BAD_REQUEST,
            "file: the upload is empty",
        );
        expect_error(
            app.upload(&project, "voice.wav", &media("jfk.wav")[..150_000], &token).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file: no video stream",
        );
        let grid = media("grid/grid_bbaf2n.mp4");
        expect_error(
            app.upload(&project, "cut.mp4", &grid[..grid.len() / 2], &token).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file: truncated or damaged",
        );
        let big = media("synthetic/presenter_astronaut_1280x720_25fps.mp4");
        assert!(big.len() > UPLOAD_LIMIT);
        let (status, _) = app.upload(&project, "big.mp4", &big, &token).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(app.stored_files(), Vec::<String>::new(), "no file kept, not even in tmp/");
        let (_, list) = app.call(Method::GET, &format!("/api/projects/{project}/clips"), Some(&token), None).await;
        assert_eq!(list, json!([]));
    }
}

#[tokio::test]
async fn clips_of_another_user_are_not_found() {
    for app in TestApp::all().await {
        let (ada, _) = app.sign_up("ada@museum.org").await;
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        let project = project(&app, &ada).await;
        let (_, clip) = app.upload(&project, "take.mp4", &media("grid/grid_swwp2s.mp4"), &ada).await;
        let id = clip["id"].as_str().unwrap();
        let (status, _, body) = app.get_raw(&format!("/api/clips/{id}/media"), &eve, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.len() < 200);
        let (status, _) = app.call(Method::GET, &format!("/api/projects/{project}/clips"), Some(&eve), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app.upload(&project, "take.mp4", &media("grid/grid_swwp2s.mp4"), &eve).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn deleting_the_account_removes_every_stored_file() {
    for app in TestApp::all().await {
        let (ada, _) = app.sign_up("ada@museum.org").await;
        let (bob, _) = app.sign_up("bob@museum.org").await;
        for token in [&ada, &bob] {
            let project = project(&app, token).await;
            let (status, _) = app.upload(&project, "take.mp4", &media("grid/grid_swwp2s.mp4"), token).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        assert_eq!(app.stored_files().len(), 2);
        let (status, _) = app.call(Method::DELETE, "/api/account", Some(&ada), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let left = app.stored_files();
        assert_eq!(left.len(), 1, "{left:?}");
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM clips").fetch_one(&app.state.db).await.unwrap();
        assert_eq!(count, 1, "only bob's clip row stays");
    }
}
