// SPDX-License-Identifier: MPL-2.0
//! The job queue and workers: idempotency, retries with backoff, dead
//! letters, timeouts, cancellation, lost workers, and a real clip_edit job.

mod common;
#[path = "common/forms.rs"]
mod forms;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{expect_error, TestApp};
use forms::{media, roomy};
use reenact_engine::subtitles::Format;
use reenact_server::jobs::{queue, Handler, JobContext, JobRow, NewJob, Worker};
use serde_json::json;

/// A handler that fails its first `failures` runs, then succeeds; or waits
/// for cancellation when `block` is set.
struct Scripted {
    failures: usize,
    runs: AtomicUsize,
    block: bool,
}

impl Scripted {
    fn new(failures: usize, block: bool) -> Arc<Self> {
        Arc::new(Scripted { failures, runs: AtomicUsize::new(0), block })
    }
}

impl Handler for Scripted {
    fn run(&self, _job: &JobRow, ctx: &JobContext) -> Result<serde_json::Value, String> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst);
        ctx.progress(50.0, "working");
        if self.block {
            while !ctx.cancel_token().is_cancelled() {
                std::thread::sleep(Duration::from_millis(10));
            }
            return Err("stopped".into());
        }
        if run < self.failures {
            Err(format!("failure {}", run + 1))
        } else {
            Ok(json!({ "runs": run + 1 }))
        }
    }
}

async fn owner(app: &TestApp) -> String {
    app.sign_up("ada@museum.org").await;
    let (id,): (String,) = sqlx::query_as("SELECT id FROM users").fetch_one(&app.state.db).await.unwrap();
    id
}

fn new_job(owner: &str, key: Option<&str>, max_attempts: i64) -> NewJob {
    NewJob {
        owner_id: owner.into(),
        project_id: None,
        kind: "clip_edit".into(),
        params: json!({}),
        priority: 0,
        max_attempts,
        idempotency_key: key.map(str::to_string),
    }
}

fn worker(app: &TestApp, name: &str, handler: Arc<dyn Handler>, timeout: Option<Duration>) -> Worker {
    let mut w = Worker::new(app.state.db.clone(), name).handle("clip_edit", handler, timeout);
    w.lease = Duration::from_millis(300);
    // Generous times: CI machines stall for a few hundred milliseconds.
    w.backoff_base = Duration::from_millis(1000);
    w
}

async fn job(app: &TestApp, owner: &str, id: &str) -> JobRow {
    queue::get(&app.state.db, owner, id).await.unwrap().unwrap()
}

#[tokio::test]
async fn same_idempotency_key_gives_the_same_job() {
    for app in TestApp::all().await {
        let owner = owner(&app).await;
        let (a, created_a) = queue::enqueue(&app.state.db, &new_job(&owner, Some("k1"), 3)).await.unwrap();
        let (b, created_b) = queue::enqueue(&app.state.db, &new_job(&owner, Some("k1"), 3)).await.unwrap();
        let (c, _) = queue::enqueue(&app.state.db, &new_job(&owner, None, 3)).await.unwrap();
        assert!(created_a && !created_b);
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(queue::list(&app.state.db, &owner, None).await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn failed_job_is_retried_after_backoff_then_succeeds() {
    for app in TestApp::all().await {
        let owner = owner(&app).await;
        let (queued, _) = queue::enqueue(&app.state.db, &new_job(&owner, None, 3)).await.unwrap();
        let handler = Scripted::new(1, false);
        let w = worker(&app, "w1", handler.clone(), None);
        assert_eq!(w.run_once().await.unwrap().as_deref(), Some(queued.id.as_str()));
        let after_fail = job(&app, &owner, &queued.id).await;
        assert_eq!(after_fail.state, "queued");
        assert_eq!(after_fail.error.as_deref(), Some("failure 1"));
        assert!(after_fail.run_after >= after_fail.updated_at + 900, "backoff applied");
        assert_eq!(w.run_once().await.unwrap(), None, "not due during the backoff");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(w.run_once().await.unwrap().is_some());
        let done = job(&app, &owner, &queued.id).await;
        assert_eq!((done.state.as_str(), done.attempts), ("succeeded", 2));
        assert_eq!(done.result.as_deref(), Some(r#"{"runs":2}"#));
        assert_eq!(handler.runs.load(Ordering::SeqCst), 2);
    }
}

#[tokio::test]
async fn job_that_keeps_failing_ends_dead_with_its_error() {
    for app in TestApp::all().await {
        let owner = owner(&app).await;
        let (queued, _) = queue::enqueue(&app.state.db, &new_job(&owner, None, 2)).await.unwrap();
        let w = worker(&app, "w1", Scripted::new(usize::MAX, false), None);
        w.run_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        w.run_once().await.unwrap();
        let dead = job(&app, &owner, &queued.id).await;
        assert_eq!((dead.state.as_str(), dead.attempts), ("dead", 2));
        assert_eq!(dead.error.as_deref(), Some("failure 2"));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(w.run_once().await.unwrap(), None, "dead jobs are not picked up again");
    }
}

#[tokio::test]
async fn job_over_its_time_limit_is_stopped_and_counted_as_failed() {
    for app in TestApp::all().await {
        let owner = owner(&app).await;
        let (queued, _) = queue::enqueue(&app.state.db, &new_job(&owner, None, 1)).await.unwrap();
        let w = worker(&app, "w1", Scripted::new(0, true), Some(Duration::from_millis(300)));
        w.run_once().await.unwrap();
        let timed_out = job(&app, &owner, &queued.id).await;
        assert_eq!(timed_out.state, "dead");
        assert_eq!(timed_out.error.as_deref(), Some("timed out after 0 s"));
    }
}

#[tokio::test]
async fn cancel_stops_queued_and_running_jobs() {
    for app in TestApp::all().await {
        let owner = owner(&app).await;
        let (queued, _) = queue::enqueue(&app.state.db, &new_job(&owner, None, 3)).await.unwrap();
        let now = queue::cancel(&app.state.db, &owner, &queued.id).await.unwrap().unwrap();
        assert_eq!(now.state, "cancelled");

        let (running, _) = queue::enqueue(&app.state.db, &new_job(&owner, None, 3)).await.unwrap();
        let w = worker(&app, "w1", Scripted::new(0, true), None);
        let db = app.state.db.clone();
        let (o, id) = (owner.clone(), running.id.clone());
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            queue::cancel(&db, &o, &id).await.unwrap();
        });
        w.run_once().await.unwrap();
        canceller.await.unwrap();
        let stopped = job(&app, &owner, &running.id).await;
        assert_eq!(stopped.state, "cancelled");
        assert_eq!(stopped.progress, 50.0, "progress was reported while running");
    }
}

#[tokio::test]
async fn a_job_whose_worker_died_is_finished_by_another() {
    for app in TestApp::all().await {
        let owner = owner(&app).await;
        let (queued, _) = queue::enqueue(&app.state.db, &new_job(&owner, None, 3)).await.unwrap();
        // Worker A claims it and dies: no heartbeat, no result.
        let claimed = queue::claim(&app.state.db, "dead-worker", &["clip_edit"], 1000).await.unwrap().unwrap();
        assert_eq!(claimed.id, queued.id);
        let b = worker(&app, "w2", Scripted::new(0, false), None);
        assert_eq!(b.run_once().await.unwrap(), None, "lease still valid");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(b.run_once().await.unwrap().is_some());
        let done = job(&app, &owner, &queued.id).await;
        assert_eq!((done.state.as_str(), done.attempts, done.worker.as_deref()), ("succeeded", 2, Some("w2")));
        // The dead worker coming back cannot overwrite the result.
        assert!(!queue::succeed(&app.state.db, &queued.id, "dead-worker", &json!({})).await.unwrap());
    }
}

#[tokio::test]
async fn clip_edit_job_over_http_cuts_a_new_clip() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let (_, project) = app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "Cut" }))).await;
        let project = project["id"].as_str().unwrap().to_string();
        let (_, clip) = app.upload(&project, "take.mp4", &media("grid/grid_swwp2s.mp4"), &token).await;
        let body = json!({
            "type": "clip_edit", "project_id": project, "idempotency_key": "cut-1",
            "params": { "clip_id": clip["id"], "in": 0.5, "out": 2.0 }
        });
        let (status, job) = app.call(Method::POST, "/api/jobs", Some(&token), Some(body.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{job}");
        let (status, again) = app.call(Method::POST, "/api/jobs", Some(&token), Some(body)).await;
        assert_eq!((status, &again["id"]), (StatusCode::OK, &job["id"]), "same key, same job");

        let handlers_worker =
            reenact_server::jobs::handlers::worker(app.state.db.clone(), app.state.storage.clone(), "w".into());
        assert!(handlers_worker.run_once().await.unwrap().is_some());
        let uri = format!("/api/jobs/{}", job["id"].as_str().unwrap());
        let (_, done) = app.call(Method::GET, &uri, Some(&token), None).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        assert_eq!(done["progress"], 100.0);
        let new_clip = done["result"]["clip_id"].as_str().unwrap();
        let (_, clips) = app.call(Method::GET, &format!("/api/projects/{project}/clips"), Some(&token), None).await;
        let cut = clips.as_array().unwrap().iter().find(|c| c["id"] == new_clip).unwrap();
        assert!((cut["duration_s"].as_f64().unwrap() - 1.5).abs() < 0.1, "{cut}");
        assert!(app.stored_files().iter().any(|f| f.contains(&format!("/clips/{new_clip}.mp4"))));

        let (_, listed) = app.call(Method::GET, "/api/jobs?state=succeeded", Some(&token), None).await;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        assert_eq!(app.call(Method::GET, &uri, Some(&eve), None).await.0, StatusCode::NOT_FOUND);
        let cancel = format!("{uri}/cancel");
        assert_eq!(app.call(Method::POST, &cancel, Some(&eve), None).await.0, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn bad_job_requests_are_refused_with_a_reason() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        expect_error(
            app.call(Method::POST, "/api/jobs", Some(&token), Some(json!({ "type": "teleport" }))).await,
            StatusCode::BAD_REQUEST,
            "type: `teleport` is not one of",
        );
        expect_error(
            app.call(Method::POST, "/api/jobs", Some(&token), Some(json!({ "type": "lip_sync", "params": {} }))).await,
            StatusCode::BAD_REQUEST,
            "params: missing field `clip_id`",
        );
        expect_error(
            app.call(
                Method::POST,
                "/api/jobs",
                Some(&token),
                Some(json!({ "type": "clip_edit", "params": { "clip_id": "x", "in": 0, "out": 1 } })),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "params.clip_id: not a UUID",
        );
        expect_error(
            app.call(Method::GET, "/api/jobs?state=exploded", Some(&token), None).await,
            StatusCode::BAD_REQUEST,
            "state: `exploded`",
        );
    }
}

#[tokio::test]
async fn render_of_a_two_clip_timeline_stores_every_preset() {
    for app in TestApp::all().await {
        // Room for two presets' outputs (1.2 MB), which are charged to the quota.
        let app = roomy(app, 10_000_000);
        let (token, _) = app.sign_up("ada@museum.org").await;
        let (_, project) = app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "Tour" }))).await;
        let project = project["id"].as_str().unwrap().to_string();
        let (_, a) = app.upload(&project, "a.mp4", &media("grid/grid_swwp2s.mp4"), &token).await;
        let (_, b) = app.upload(&project, "b.mp4", &media("grid/grid_bbaf2n.mp4"), &token).await;
        let timeline = json!({ "tracks": [{ "clips": [
            { "source": a["id"], "in": 0.5, "out": 2.0 },
            { "source": b["id"], "in": 1.0, "out": 2.5 }
        ] }] });
        let (status, _) = app
            .call(
                Method::PATCH,
                &format!("/api/projects/{project}"),
                Some(&token),
                Some(json!({ "timeline": timeline })),
            )
            .await;
        assert_eq!(status, StatusCode::OK);

        expect_error(
            app.call(
                Method::POST,
                &format!("/api/projects/{project}/renders"),
                Some(&token),
                Some(json!({ "presets": ["master", "imax"] })),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "presets[1]: unknown preset `imax`",
        );
        let (status, render) = app
            .call(
                Method::POST,
                &format!("/api/projects/{project}/renders"),
                Some(&token),
                Some(json!({ "presets": ["master", "square-1080p"], "watermark_text": "Reenactment" })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{render}");
        assert_eq!(render["job"]["state"], "queued");
        let w = reenact_server::jobs::handlers::worker(app.state.db.clone(), app.state.storage.clone(), "w".into());
        assert!(w.run_once().await.unwrap().is_some());

        let uri = format!("/api/renders/{}", render["id"].as_str().unwrap());
        let (_, done) = app.call(Method::GET, &uri, Some(&token), None).await;
        assert_eq!(done["job"]["state"], "succeeded", "{done}");
        let outputs = done["outputs"].as_array().unwrap();
        assert_eq!(outputs.len(), 2);
        for out in outputs {
            assert!((out["duration_s"].as_f64().unwrap() - 3.0).abs() < 0.1, "{out}");
            assert!(out["disclosure"].as_str().unwrap().contains("synthetic media"));
        }
        assert_eq!((outputs[1]["width"].as_u64(), outputs[1]["height"].as_u64()), (Some(1080), Some(1080)));
        let stored = app.stored_files();
        assert!(stored.iter().any(|f| f.contains("/renders/") && f.ends_with("-square-1080p.mp4")), "{stored:?}");
        assert!(stored.iter().any(|f| f.contains("/metadata/") && f.ends_with("-master.json")), "{stored:?}");
        assert!(stored.iter().any(|f| f.contains("/thumbnails/")), "{stored:?}");

        let (status, _, bytes) = app.get_raw(&format!("{uri}/files/master"), &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &bytes).unwrap();
        let info = reenact_engine::probe(file.path()).unwrap();
        assert_eq!(info.video.as_ref().map(|v| (v.width, v.height)), Some((360, 288)));
        assert_eq!(info.title.as_deref(), Some("Tour"));

        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        assert_eq!(app.call(Method::GET, &uri, Some(&eve), None).await.0, StatusCode::NOT_FOUND);
        assert_eq!(app.get_raw(&format!("{uri}/files/master"), &eve, &[]).await.0, StatusCode::NOT_FOUND);
        assert_eq!(app.get_raw(&format!("{uri}/files/vertical-1080p"), &token, &[]).await.0, StatusCode::NOT_FOUND);
    }
}

/// The astronaut portrait with Kennedy's voice, as the character file's JSON document.
fn kennedy_json() -> serde_json::Value {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    let catalog = reenact_models::Catalog::from_dirs([shared.join("models")]).unwrap();
    let options = gstreenact::character::CreateOptions {
        name: "Kennedy".into(),
        portrait: shared.join("media/astronaut.png"),
        voice_sample: Some(shared.join("media/jfk.wav")),
    };
    let character = gstreenact::character::create(&options, &catalog).expect("character");
    serde_json::to_value(&character).unwrap()
}

#[tokio::test]
async fn voice_clone_job_stores_a_wav_in_the_project_audio() {
    // The worker's catalog looks beside the working directory; tests run in studio-server/.
    std::env::set_var("REENACT_MODELS", PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"));
    let character = kennedy_json();
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let (_, project) =
            app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "Speech" }))).await;
        let project = project["id"].as_str().unwrap().to_string();
        let job = |params: serde_json::Value, project: Option<&str>| json!({ "type": "voice_clone", "project_id": project, "params": params });
        let good = json!({ "character": character, "text": "We choose to go to the moon.", "pitch_semitones": 1.0 });
        expect_error(
            app.call(Method::POST, "/api/jobs", Some(&token), Some(job(good.clone(), None))).await,
            StatusCode::BAD_REQUEST,
            "project_id: a voice_clone job",
        );
        expect_error(
            app.call(
                Method::POST,
                "/api/jobs",
                Some(&token),
                Some(job(json!({ "character": character, "text": " " }), Some(&project))),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "params.text: empty",
        );
        let mut voiceless = character.clone();
        voiceless.as_object_mut().unwrap().remove("voice");
        expect_error(
            app.call(
                Method::POST,
                "/api/jobs",
                Some(&token),
                Some(job(json!({ "character": voiceless, "text": "Hello." }), Some(&project))),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "no voice profile",
        );

        let (status, queued) = app.call(Method::POST, "/api/jobs", Some(&token), Some(job(good, Some(&project)))).await;
        assert_eq!(status, StatusCode::CREATED, "{queued}");
        let w = reenact_server::jobs::handlers::worker(app.state.db.clone(), app.state.storage.clone(), "w".into());
        assert!(w.run_once().await.unwrap().is_some());
        let uri = format!("/api/jobs/{}", queued["id"].as_str().unwrap());
        let (_, done) = app.call(Method::GET, &uri, Some(&token), None).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        let result = &done["result"];
        let key = result["file"].as_str().unwrap();
        assert!(key.contains(&format!("/projects/{project}/audio/")) && key.ends_with(".wav"), "{result}");
        assert!(app.stored_files().iter().any(|f| f == key), "{:?}", app.stored_files());
        let duration = result["duration_s"].as_f64().unwrap();
        assert!((1.0..5.0).contains(&duration), "{result}");
        assert!(result["similarity"].as_f64().is_some(), "{result}");
        assert!(result["f0"]["converted_hz"].as_f64().is_some(), "{result}");

        let (status, headers, wav) = app.get_raw(&format!("{uri}/files/voice.wav"), &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "audio/wav");
        assert_eq!(&wav[..4], b"RIFF");
    }
}

/// `subtitle_generate`: the clip's speech as SRT and WebVTT in the project's storage, served
/// by the job's files route (not to anyone else); a clip without sound fails with a reason
/// that names the clip, and bad parameters are refused before any job exists.
#[tokio::test]
async fn subtitle_generate_job_writes_srt_and_vtt_of_a_clips_speech() {
    std::env::set_var("REENACT_MODELS", PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"));
    for app in TestApp::all().await {
        let app = roomy(app, 5_000_000);
        let (token, _) = app.sign_up("ada@museum.org").await;
        let (_, project) = app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "Talk" }))).await;
        let project = project["id"].as_str().unwrap().to_string();
        let (_, talk) =
            app.upload(&project, "talk.mp4", &media("synthetic/presenter_astronaut_1280x720_25fps.mp4"), &token).await;
        let (_, silent) =
            app.upload(&project, "silent.mp4", &media("openmovie/tears_of_steel_10s_640x360.mp4"), &token).await;
        let job =
            |params: serde_json::Value| json!({ "type": "subtitle_generate", "project_id": project, "params": params });
        expect_error(
            app.call(
                Method::POST,
                "/api/jobs",
                Some(&token),
                Some(job(json!({ "clip_id": talk["id"], "language": "English" }))),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "params.language: `English` is not a speech language",
        );
        expect_error(
            app.call(Method::POST, "/api/jobs", Some(&token), Some(job(json!({ "clip_id": "../x" })))).await,
            StatusCode::BAD_REQUEST,
            "params.clip_id: not a UUID",
        );

        let w = reenact_server::jobs::handlers::worker(app.state.db.clone(), app.state.storage.clone(), "w".into());
        let (status, queued) =
            app.call(Method::POST, "/api/jobs", Some(&token), Some(job(json!({ "clip_id": talk["id"] })))).await;
        assert_eq!(status, StatusCode::CREATED, "{queued}");
        assert!(w.run_once().await.unwrap().is_some());
        let uri = format!("/api/jobs/{}", queued["id"].as_str().unwrap());
        let (_, done) = app.call(Method::GET, &uri, Some(&token), None).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        assert!(done["result"]["cues"].as_u64().unwrap() > 0, "{done}");
        assert!(done["result"]["models"].as_array().is_some_and(|m| !m.is_empty()), "{done}");

        let (status, headers, srt) = app.get_raw(&format!("{uri}/files/captions.srt"), &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "application/x-subrip");
        let srt = String::from_utf8(srt).unwrap();
        let cues = reenact_engine::subtitles::parse(std::path::Path::new("captions.srt"), &srt, Format::Srt).unwrap();
        let said = cues.iter().map(|c| c.text.to_lowercase()).collect::<Vec<_>>().join(" ");
        for word in ["welcome", "synthetic", "watching"] {
            assert!(said.contains(word), "`{word}` missing from {said}");
        }
        assert!(cues.iter().all(|c| c.start_s >= 0.0 && c.end_s <= 10.05), "{cues:?}");
        let (status, _, vtt) = app.get_raw(&format!("{uri}/files/captions.vtt"), &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(vtt.starts_with(b"WEBVTT"));
        assert_eq!(app.get_raw(&format!("{uri}/files/voice.wav"), &token, &[]).await.0, StatusCode::NOT_FOUND);
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        assert_eq!(app.get_raw(&format!("{uri}/files/captions.srt"), &eve, &[]).await.0, StatusCode::NOT_FOUND);

        let (_, queued) =
            app.call(Method::POST, "/api/jobs", Some(&token), Some(job(json!({ "clip_id": silent["id"] })))).await;
        assert!(w.run_once().await.unwrap().is_some());
        let (_, failed) =
            app.call(Method::GET, &format!("/api/jobs/{}", queued["id"].as_str().unwrap()), Some(&token), None).await;
        let error = failed["error"].as_str().unwrap_or_default();
        assert!(error.contains("silent.mp4") && error.contains("no audio stream"), "{failed}");
    }
}

#[tokio::test]
async fn metrics_count_jobs_by_state_their_run_times_and_requests_by_route() {
    let app = TestApp::sqlite().await;
    let owner = owner(&app).await;
    let (done, _) = queue::enqueue(&app.state.db, &new_job(&owner, None, 3)).await.unwrap();
    worker(&app, "metrics", Scripted::new(0, false), None).run_once().await.unwrap();
    queue::enqueue(&app.state.db, &new_job(&owner, Some("second"), 3)).await.unwrap();
    let (token, _) = app.sign_up("grace@museum.org").await;
    app.call(Method::GET, &format!("/api/jobs/{}", done.id), Some(&token), None).await;

    let (status, text) = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().expect("the text format").to_owned();
    let value = |line: &str| -> f64 {
        let found = text.lines().find(|l| l.starts_with(line)).unwrap_or_else(|| panic!("no `{line}` in:\n{text}"));
        found.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value("reenact_jobs{state=\"queued\"}"), 1.0);
    assert_eq!(value("reenact_jobs{state=\"succeeded\"}"), 1.0);
    assert_eq!(value("reenact_jobs{state=\"dead\"}"), 0.0);
    assert!(value("reenact_job_duration_seconds_count{kind=\"clip_edit\",outcome=\"succeeded\"}") >= 1.0);
    // By route pattern, never by id; another user's job is a 404.
    assert!(value("reenact_http_requests_total{method=\"GET\",route=\"/api/jobs/{job_id}\",status=\"404\"}") >= 1.0);
    assert!(!text.contains(&done.id), "ids stay out of the labels");
    assert_eq!(value("reenact_live_sessions"), 0.0);
}

#[tokio::test]
async fn a_user_may_have_so_many_jobs_queued_and_no_more() {
    let mut app = TestApp::sqlite().await;
    app.state.max_active_jobs = 2;
    app.router = reenact_server::app(app.state.clone());
    let (token, _) = app.sign_up("ada@museum.org").await;
    let (_, project) = app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "Busy" }))).await;
    let project = project["id"].as_str().unwrap().to_string();
    let (_, clip) = app.upload(&project, "take.mp4", &media("grid/grid_swwp2s.mp4"), &token).await;
    let timeline = json!({ "timeline": { "tracks": [{ "clips": [{ "source": clip["id"] }] }] } });
    app.call(Method::PATCH, &format!("/api/projects/{project}"), Some(&token), Some(timeline)).await;
    let cut = |key: &str| {
        json!({ "type": "clip_edit", "project_id": project, "idempotency_key": key,
                "params": { "clip_id": clip["id"], "in": 0, "out": 1 } })
    };
    let (status, first) = app.call(Method::POST, "/api/jobs", Some(&token), Some(cut("a"))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.call(Method::POST, "/api/jobs", Some(&token), Some(cut("b"))).await.0, StatusCode::CREATED);

    let full = "at most 2 queued or running jobs per user";
    expect_error(
        app.call(Method::POST, "/api/jobs", Some(&token), Some(cut("c"))).await,
        StatusCode::TOO_MANY_REQUESTS,
        full,
    );
    let renders = format!("/api/projects/{project}/renders");
    let render = json!({ "presets": ["master"] });
    expect_error(
        app.call(Method::POST, &renders, Some(&token), Some(render.clone())).await,
        StatusCode::TOO_MANY_REQUESTS,
        full,
    );
    let import = json!({ "url": "http://127.0.0.1:9/take.mp4" });
    let imports = format!("/api/projects/{project}/imports");
    expect_error(
        app.call(Method::POST, &imports, Some(&token), Some(import)).await,
        StatusCode::TOO_MANY_REQUESTS,
        full,
    );
    // A retry of a job already made still answers with it.
    let (status, again) = app.call(Method::POST, "/api/jobs", Some(&token), Some(cut("a"))).await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &first["id"]));
    // Another user's jobs do not count.
    let (eve, _) = app.sign_up("eve@elsewhere.org").await;
    let (_, theirs) = app.call(Method::POST, "/api/projects", Some(&eve), Some(json!({ "name": "Mine" }))).await;
    let body = json!({ "type": "clip_edit", "project_id": theirs["id"],
                       "params": { "clip_id": clip["id"], "in": 0, "out": 1 } });
    assert_eq!(app.call(Method::POST, "/api/jobs", Some(&eve), Some(body)).await.0, StatusCode::CREATED);

    // A cancelled job frees its place.
    let cancel = format!("/api/jobs/{}/cancel", first["id"].as_str().unwrap());
    assert_eq!(app.call(Method::POST, &cancel, Some(&token), None).await.0, StatusCode::OK);
    let (status, render) = app.call(Method::POST, &renders, Some(&token), Some(render)).await;
    assert_eq!(status, StatusCode::CREATED, "{render}");
}
