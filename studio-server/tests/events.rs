// SPDX-License-Identifier: MPL-2.0
//! `GET /api/events`: job changes as server-sent events, only the user's own.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::TestApp;
use http_body_util::BodyExt;
use reenact_server::jobs::{queue, NewJob};
use serde_json::json;
use tower::ServiceExt;

/// Reads the event stream of `token` for `for_ms` and returns the text.
async fn read_events(app: &TestApp, token: &str, for_ms: u64) -> (StatusCode, String) {
    let req =
        Request::get("/api/events").header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
    let response = app.router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let mut body = response.into_body();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(for_ms);
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, body.frame()).await {
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    (status, text)
}

/// Queues a one-attempt `clip_edit` job for `owner` straight into the queue.
async fn queue_clip_edit(app: &TestApp, owner: &str) -> queue::JobRow {
    let job = NewJob {
        owner_id: owner.to_owned(),
        project_id: None,
        kind: "clip_edit".into(),
        params: json!({}),
        priority: 0,
        max_attempts: 1,
        idempotency_key: None,
    };
    queue::enqueue(&app.state.db, &job).await.unwrap().0
}

#[tokio::test]
async fn job_changes_reach_their_owner_only() {
    for app in TestApp::all().await {
        let (ada, _) = app.sign_up("ada@museum.org").await;
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        let (ada_id,): (String,) = sqlx::query_as("SELECT id FROM users WHERE email = 'ada@museum.org'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        let row = queue_clip_edit(&app, &ada_id).await;
        let (status, text) = read_events(&app, &ada, 1500).await;
        assert_eq!(status, StatusCode::OK);
        assert!(text.contains("event: job"), "{text}");
        assert!(text.contains(&row.id) && text.contains("\"state\":\"queued\""), "{text}");
        let (_, other) = read_events(&app, &eve, 1200).await;
        assert!(!other.contains(&row.id), "{other}");
        assert_eq!(app.call(Method::GET, "/api/events", None, None).await.0, StatusCode::UNAUTHORIZED);
        // A token in the URL (which lands in logs) is not taken.
        let (status, _) = app.call(Method::GET, &format!("/api/events?access_token={ada}"), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn changes_after_the_stream_opened_arrive_and_streams_per_user_are_capped() {
    for app in TestApp::all().await {
        let (ada, _) = app.sign_up("ada@museum.org").await;
        let (ada_id,): (String,) = sqlx::query_as("SELECT id FROM users WHERE email = 'ada@museum.org'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        let open = || {
            let req = Request::get("/api/events").header("authorization", format!("Bearer {ada}"));
            app.router.clone().oneshot(req.body(Body::empty()).unwrap())
        };
        let mut streams = Vec::new();
        for _ in 0..reenact_server::http::events::MAX_STREAMS_PER_USER {
            let response = open().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            streams.push(response.into_body());
        }
        let refused = open().await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{}", app.backend());
        // A job queued after the streams opened reaches each of them through the one watcher.
        let row = queue_clip_edit(&app, &ada_id).await;
        for body in &mut streams[..2] {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            let mut text = String::new();
            while !text.contains(&row.id) {
                match tokio::time::timeout_at(deadline, body.frame()).await {
                    Ok(Some(Ok(frame))) => {
                        text.push_str(&String::from_utf8_lossy(&frame.into_data().unwrap_or_default()))
                    }
                    other => panic!("{}: no event for the new job: {other:?} {text}", app.backend()),
                }
            }
        }
        // Closing one gives its place back.
        streams.pop();
        assert_eq!(open().await.unwrap().status(), StatusCode::OK);
    }
}
