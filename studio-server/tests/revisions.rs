// SPDX-License-Identifier: MPL-2.0
//! Project revisions: every edit is checked by the engine and stored as a revision; undo and
//! redo move between them (at least 50 steps back); `If-Match` refuses stale edits.

mod common;
#[path = "common/forms.rs"]
mod forms;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{expect_error, TestApp};
use forms::{media, project};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// A JSON request with an `If-Match` header; status, ETag and body.
async fn send(
    app: &TestApp,
    method: Method,
    uri: &str,
    token: &str,
    if_match: &str,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("if-match", if_match);
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = app.router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let etag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, etag, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn edits_are_checked_undone_redone_and_guarded_by_version() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let id = project(&app, &token, "Cut").await;
        let (status, clip) = app.upload(&id, "take.mp4", &media("grid/grid_swwp2s.mp4"), &token).await;
        assert_eq!(status, StatusCode::CREATED, "{clip}");
        let clip = clip["id"].as_str().unwrap().to_string();
        let uri = format!("/api/projects/{id}");
        let timeline = |pos: f64, out: f64| json!({ "tracks": [{ "clips": [{ "source": clip, "in": 0.5, "out": out, "position": pos }] }], "scenes": [] });

        let (status, etag, first) =
            send(&app, Method::PATCH, &uri, &token, "\"0\"", Some(json!({ "timeline": timeline(1.0, 1.5) }))).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!((etag.as_str(), first["version"].as_i64(), first["revision"].as_i64()), ("\"1\"", Some(1), Some(1)));

        // A bad edit names the field and changes nothing.
        let (status, _, refused) =
            send(&app, Method::PATCH, &uri, &token, "\"1\"", Some(json!({ "timeline": timeline(1.0, 99.0) }))).await;
        expect_error(
            (status, refused),
            StatusCode::BAD_REQUEST,
            "timeline.tracks[0].clips[0].out: 99 is past the source's end",
        );
        let late = json!({ "tracks": first["timeline"]["tracks"], "scenes": [{ "start": 1.0, "end": 9.0, "character": "lincoln" }] });
        let (status, _, refused) =
            send(&app, Method::PATCH, &uri, &token, "\"1\"", Some(json!({ "timeline": late }))).await;
        expect_error(
            (status, refused),
            StatusCode::BAD_REQUEST,
            "timeline.scenes[0].end: 9 is past the timeline's end (2 s)",
        );
        let (_, shown) = app.call(Method::GET, &uri, Some(&token), None).await;
        assert_eq!((shown["timeline"].clone(), shown["version"].as_i64()), (timeline(1.0, 1.5), Some(1)));

        // An edit made on a version that is no longer current is refused.
        let (status, _, second) =
            send(&app, Method::PATCH, &uri, &token, "\"1\"", Some(json!({ "timeline": timeline(2.0, 1.2) }))).await;
        assert_eq!(status, StatusCode::OK, "{second}");
        let (status, _, stale) =
            send(&app, Method::PATCH, &uri, &token, "\"1\"", Some(json!({ "name": "Lost" }))).await;
        expect_error((status, stale), StatusCode::PRECONDITION_FAILED, "the project is at version 2, not 1");

        let (status, _, undone) = send(&app, Method::POST, &format!("{uri}/undo"), &token, "\"2\"", None).await;
        assert_eq!(status, StatusCode::OK, "{undone}");
        assert_eq!((undone["timeline"].clone(), undone["revision"].as_i64()), (timeline(1.0, 1.5), Some(1)));
        let (_, _, redone) = send(&app, Method::POST, &format!("{uri}/redo"), &token, "\"3\"", None).await;
        assert_eq!(redone["timeline"], timeline(2.0, 1.2));
        let (_, list) = app.call(Method::GET, &format!("{uri}/revisions"), Some(&token), None).await;
        assert_eq!(
            (list["current"].as_i64(), list["can_undo"].as_bool(), list["can_redo"].as_bool()),
            (Some(2), Some(true), Some(false))
        );

        // A new edit after an undo drops what redo would have restored.
        send(&app, Method::POST, &format!("{uri}/undo"), &token, "*", None).await;
        send(&app, Method::PATCH, &uri, &token, "*", Some(json!({ "name": "Branch" }))).await;
        let (status, _, none) = send(&app, Method::POST, &format!("{uri}/redo"), &token, "*", None).await;
        expect_error((status, none), StatusCode::CONFLICT, "nothing to redo");

        // Fifty-five edits, then fifty undos: each lands on the revision before.
        for i in 0..55 {
            let (status, _, body) =
                send(&app, Method::PATCH, &uri, &token, "*", Some(json!({ "name": format!("Take {i}") }))).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        for i in (4..54).rev() {
            let (status, _, body) = send(&app, Method::POST, &format!("{uri}/undo"), &token, "*", None).await;
            assert_eq!((status, body["name"].as_str()), (StatusCode::OK, Some(format!("Take {i}").as_str())), "{body}");
        }

        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        for path in ["undo", "redo"] {
            let (status, _, _) = send(&app, Method::POST, &format!("{uri}/{path}"), &eve, "*", None).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
    }
}
