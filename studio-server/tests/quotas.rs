// SPDX-License-Identifier: MPL-2.0
//! Limits under parallel requests: the storage quota (uploads and job outputs alike), the
//! active-job limit, and the queue's fairness between users. Each runs on SQLite and, with
//! `TEST_DATABASE_URL`, on PostgreSQL.

mod common;
#[path = "common/forms.rs"]
mod forms;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::{expect_error, TestApp};
use forms::media;
use reenact_server::jobs::{queue, NewJob};
use serde_json::{json, Value};

/// Bytes of every file stored for anyone (the tests have one user storing).
fn stored_bytes(app: &TestApp) -> u64 {
    let root = app.state.storage.describe();
    app.stored_files()
        .iter()
        .filter(|f| f.starts_with("users/"))
        .map(|f| std::fs::metadata(std::path::Path::new(&root).join(f)).unwrap().len())
        .sum()
}

async fn account_bytes(app: &TestApp, token: &str) -> u64 {
    let (status, account) = app.call(Method::GET, "/api/account", Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{account}");
    account["storage_bytes"].as_u64().unwrap()
}

async fn project(app: &TestApp, token: &str, name: &str) -> String {
    let (status, project) = app.call(Method::POST, "/api/projects", Some(token), Some(json!({ "name": name }))).await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    project["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_uploads_never_store_more_than_the_quota() {
    let clip = media("grid/grid_swwp2s.mp4");
    for app in TestApp::all().await {
        // The test apps' quota is 1 MB; sixteen clips of ~150 KB ask for 2.4 MB at once.
        let quota = app.state.quota_bytes;
        let app = Arc::new(app);
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token, "Crowded").await;
        let uploads: Vec<_> = (0..16)
            .map(|i| {
                let (app, token, project, clip) = (app.clone(), token.clone(), project.clone(), clip.clone());
                tokio::spawn(async move { app.upload(&project, &format!("take-{i}.mp4"), &clip, &token).await })
            })
            .collect();
        let mut accepted = 0;
        for upload in uploads {
            let (status, body) = upload.await.unwrap();
            match status {
                StatusCode::CREATED => accepted += 1,
                _ => expect_error((status, body), StatusCode::PAYLOAD_TOO_LARGE, "storage quota of 1 MB"),
            }
        }
        let fit = quota / clip.len() as u64;
        assert_eq!(accepted, fit, "{}: as many as fit, no more", app.backend());
        let stored = stored_bytes(&app);
        assert!(stored <= quota, "{}: {stored} bytes stored over a quota of {quota}", app.backend());
        assert_eq!(account_bytes(&app, &token).await, stored, "the counter matches the storage");

        // A counter that was never set (an account from before it existed) starts from the storage.
        sqlx::query("UPDATE users SET bytes_used = NULL").execute(&app.state.db).await.unwrap();
        assert_eq!(account_bytes(&app, &token).await, stored);
        // Deleting the project gives every byte back.
        let uri = format!("/api/projects/{project}");
        assert_eq!(app.call(Method::DELETE, &uri, Some(&token), None).await.0, StatusCode::NO_CONTENT);
        assert_eq!(account_bytes(&app, &token).await, 0);
        let project = self::project(&app, &token, "Again").await;
        assert_eq!(app.upload(&project, "take.mp4", &clip, &token).await.0, StatusCode::CREATED);
        assert_eq!(account_bytes(&app, &token).await, clip.len() as u64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_job_requests_never_pass_the_active_job_limit() {
    for mut app in TestApp::all().await {
        app.state.max_active_jobs = 3;
        app.router = reenact_server::app(app.state.clone());
        let app = Arc::new(app);
        let (token, _) = app.sign_up("ada@museum.org").await;
        let clip = uuid_like();
        let requests: Vec<_> = (0..30)
            .map(|_| {
                let (app, token) = (app.clone(), token.clone());
                let body = json!({ "type": "clip_edit", "params": { "clip_id": clip, "in": 0, "out": 1 } });
                tokio::spawn(async move { app.call(Method::POST, "/api/jobs", Some(&token), Some(body)).await })
            })
            .collect();
        let mut created = 0;
        for request in requests {
            let (status, body) = request.await.unwrap();
            match status {
                StatusCode::CREATED => created += 1,
                _ => expect_error((status, body), StatusCode::TOO_MANY_REQUESTS, "at most 3 queued or running jobs"),
            }
        }
        let (_, jobs) = app.call(Method::GET, "/api/jobs", Some(&token), None).await;
        assert_eq!((created, jobs.as_array().unwrap().len()), (3, 3), "{}", app.backend());
    }
}

/// A fixed id that looks like one (the job is never run).
fn uuid_like() -> String {
    "6f1c2a3e-0000-4000-8000-000000000001".into()
}

#[tokio::test]
async fn users_take_turns_and_priority_orders_only_their_own_jobs() {
    for app in TestApp::all().await {
        app.sign_up("a@museum.org").await;
        app.sign_up("b@museum.org").await;
        let id = |email: &'static str| {
            let db = app.state.db.clone();
            async move {
                let (id,): (String,) =
                    sqlx::query_as("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(&db).await.unwrap();
                id
            }
        };
        let (a, b) = (id("a@museum.org").await, id("b@museum.org").await);
        let job = |owner: &str, priority: i64| NewJob {
            owner_id: owner.into(),
            project_id: None,
            kind: "clip_edit".into(),
            params: json!({}),
            priority,
            max_attempts: 1,
            idempotency_key: None,
        };
        let db = &app.state.db;
        let (a_low, _) = queue::enqueue(db, &job(&a, -50)).await.unwrap();
        for _ in 0..10 {
            queue::enqueue(db, &job(&a, 100)).await.unwrap();
        }
        // B comes later (clocks count milliseconds).
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let (b_only, _) = queue::enqueue(db, &job(&b, 0)).await.unwrap();

        let first = queue::claim(db, "w", &["clip_edit"], 60_000).await.unwrap().unwrap();
        assert_eq!((first.owner_id.as_str(), first.priority), (a.as_str(), 100), "{}", app.backend());
        // A's job is done before the next claim: B is still next, having waited longer.
        assert!(queue::succeed(db, &first.id, "w", &json!({})).await.unwrap());
        let second = queue::claim(db, "w", &["clip_edit"], 60_000).await.unwrap().unwrap();
        assert_eq!(second.id, b_only.id, "{}: B's job within the first two claims", app.backend());

        let mut rest = Vec::new();
        while let Some(job) = queue::claim(db, "w", &["clip_edit"], 60_000).await.unwrap() {
            rest.push(job);
        }
        assert_eq!(rest.len(), 10);
        assert!(rest[..9].iter().all(|j| j.priority == 100), "A's own priority orders A's jobs");
        assert_eq!(rest[9].id, a_low.id);
    }
}

/// Runs the next job with the studio's handlers; answers it as it ended.
async fn run_job(app: &TestApp, token: &str, job: &Value) -> Value {
    let worker = reenact_server::jobs::handlers::worker(app.state.db.clone(), app.state.storage.clone(), "w".into());
    assert!(worker.run_once().await.unwrap().is_some());
    let uri = format!("/api/jobs/{}", job["id"].as_str().unwrap());
    app.call(Method::GET, &uri, Some(token), None).await.1
}

/// The app with `quota` bytes per user.
fn with_quota(mut app: TestApp, quota: u64) -> TestApp {
    app.state.quota_bytes = quota;
    app.router = reenact_server::app(app.state.clone());
    app
}

#[tokio::test]
async fn job_outputs_are_charged_and_a_render_over_the_quota_stores_nothing() {
    for app in TestApp::all().await {
        let mut app = with_quota(app, 5_000_000);
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token, "Cut").await;
        let (_, clip) = app.upload(&project, "take.mp4", &media("grid/grid_swwp2s.mp4"), &token).await;
        let uploaded = account_bytes(&app, &token).await;

        // A cut is a new clip, and its bytes count.
        let cut = json!({ "type": "clip_edit", "project_id": project, "params": { "clip_id": clip["id"], "in": 0, "out": 1 } });
        let (status, job) = app.call(Method::POST, "/api/jobs", Some(&token), Some(cut)).await;
        assert_eq!(status, StatusCode::CREATED, "{job}");
        let done = run_job(&app, &token, &job).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        let cut_bytes = account_bytes(&app, &token).await - uploaded;
        assert!(cut_bytes > 10_000, "the cut is charged: {cut_bytes} bytes");
        assert_eq!(account_bytes(&app, &token).await, stored_bytes(&app));

        let timeline =
            json!({ "timeline": { "tracks": [{ "clips": [{ "source": clip["id"], "in": 0, "out": 1 }] }] } });
        let uri = format!("/api/projects/{project}");
        assert_eq!(app.call(Method::PATCH, &uri, Some(&token), Some(timeline)).await.0, StatusCode::OK);
        let renders = format!("{uri}/renders");
        let body = json!({ "presets": ["master"] });
        let (_, first) = app.call(Method::POST, &renders, Some(&token), Some(body.clone())).await;
        let first_done = run_job(&app, &token, &first["job"]).await;
        assert_eq!(first_done["state"], "succeeded", "{first_done}");
        let before = app.stored_files();
        let used = account_bytes(&app, &token).await;
        assert_eq!(used, stored_bytes(&app), "render outputs are charged");

        // Room for a few bytes more, not for another render.
        app = with_quota(app, used + 1_000);
        let (status, second) = app.call(Method::POST, &renders, Some(&token), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{second}");
        let failed = run_job(&app, &token, &second["job"]).await;
        assert_eq!(failed["state"], "dead", "not retried: another try would not fit either: {failed}");
        let error = failed["error"].as_str().unwrap_or_default();
        assert!(error.contains("storing the outputs: storage quota of"), "{failed}");
        assert_eq!(app.stored_files(), before, "nothing of the failed render is stored");
        assert_eq!(account_bytes(&app, &token).await, used);
        // The render before it is whole.
        let file = format!("/api/renders/{}/files/master", first["id"].as_str().unwrap());
        let (status, _, bytes) = app.get_raw(&file, &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(bytes.len() as u64, first_done["result"]["outputs"][0]["bytes"].as_u64().unwrap());

        // Deleting the render and the cut gives their bytes back; only the upload is left.
        let render_uri = format!("/api/renders/{}", first["id"].as_str().unwrap());
        assert_eq!(app.call(Method::DELETE, &render_uri, Some(&token), None).await.0, StatusCode::NO_CONTENT);
        let cut_uri = format!("/api/clips/{}", done["result"]["clip_id"].as_str().unwrap());
        assert_eq!(app.call(Method::DELETE, &cut_uri, Some(&token), None).await.0, StatusCode::NO_CONTENT);
        assert_eq!(app.call(Method::DELETE, &cut_uri, Some(&token), None).await.0, StatusCode::NOT_FOUND);
        assert_eq!((account_bytes(&app, &token).await, stored_bytes(&app)), (uploaded, uploaded));
        assert!(app.stored_files().iter().all(|f| !f.contains("/renders/")), "{:?}", app.stored_files());
    }
}
