// SPDX-License-Identifier: MPL-2.0
//! Projects: CRUD for the owner, 401 without a token, 404 for everyone else.

mod common;

use axum::http::{Method, StatusCode};
use common::{expect_error, TestApp};
use serde_json::json;

#[tokio::test]
async fn owner_can_create_list_rename_and_delete() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let (status, created) =
            app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "  Gettysburg  " }))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["name"], "Gettysburg");
        assert_eq!(created["timeline"], json!({ "tracks": [], "scenes": [] }));
        let id = created["id"].as_str().unwrap();

        let (_, list) = app.call(Method::GET, "/api/projects", Some(&token), None).await;
        assert_eq!(list.as_array().unwrap().len(), 1);

        let timeline =
            json!({ "tracks": [{ "clips": [] }], "scenes": [{ "start": 0, "end": 3, "character": "lincoln" }] });
        let (status, updated) = app
            .call(Method::PATCH, &format!("/api/projects/{id}"), Some(&token), Some(json!({ "timeline": timeline })))
            .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["timeline"], timeline);
        assert_eq!(updated["name"], "Gettysburg");

        let (status, _) = app.call(Method::DELETE, &format!("/api/projects/{id}"), Some(&token), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.call(Method::GET, &format!("/api/projects/{id}"), Some(&token), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn another_users_project_is_not_found_on_every_route() {
    for app in TestApp::all().await {
        let (ada, _) = app.sign_up("ada@museum.org").await;
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        let (_, created) =
            app.call(Method::POST, "/api/projects", Some(&ada), Some(json!({ "name": "Private" }))).await;
        let uri = format!("/api/projects/{}", created["id"].as_str().unwrap());

        for (method, body) in
            [(Method::GET, None), (Method::PATCH, Some(json!({ "name": "Mine now" }))), (Method::DELETE, None)]
        {
            let (status, body) = app.call(method.clone(), &uri, Some(&eve), body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {body}");
            assert!(!body.to_string().contains("Private"));
        }
        let (_, list) = app.call(Method::GET, "/api/projects", Some(&eve), None).await;
        assert_eq!(list, json!([]));
        let (_, still) = app.call(Method::GET, &uri, Some(&ada), None).await;
        assert_eq!(still["name"], "Private");
    }
}

#[tokio::test]
async fn no_or_bad_token_is_401() {
    for app in TestApp::all().await {
        expect_error(app.call(Method::GET, "/api/projects", None, None).await, StatusCode::UNAUTHORIZED, "missing");
        expect_error(
            app.call(Method::GET, "/api/projects", Some("not.a.jwt"), None).await,
            StatusCode::UNAUTHORIZED,
            "invalid token",
        );

        // A well-formed token with a made-up signature.
        let forged =
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4IiwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjAsInR5cCI6ImFjY2VzcyJ9.c2lnbmF0dXJl";
        expect_error(
            app.call(Method::GET, "/api/projects", Some(forged), None).await,
            StatusCode::UNAUTHORIZED,
            "invalid token",
        );
    }
}

#[tokio::test]
async fn bad_ids_and_names_are_rejected() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        expect_error(
            app.call(Method::GET, "/api/projects/..%2F..%2Fetc%2Fpasswd", Some(&token), None).await,
            StatusCode::BAD_REQUEST,
            "is not a UUID",
        );
        expect_error(
            app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "   " }))).await,
            StatusCode::BAD_REQUEST,
            "name: must not be empty",
        );
        expect_error(
            app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "x", "timeline": [1, 2] })))
                .await,
            StatusCode::BAD_REQUEST,
            "timeline: must be a JSON object",
        );
        expect_error(
            app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "x", "owner_id": "someone" })))
                .await,
            StatusCode::BAD_REQUEST,
            "unknown field `owner_id`",
        );
    }
}
