// SPDX-License-Identifier: MPL-2.0
//! The authorization matrix: every operation of `/api/openapi.json` is called as an
//! anonymous client, as another signed-in user and as the owner of the resources it names,
//! and each answer is compared with the table below. The test fails when the document has
//! an operation the table lacks (a new route needs its row) or the table names one the
//! document no longer has, and when an operation the document says needs a token answers
//! an anonymous client with anything but 401.
//!
//! The rules the table encodes: anonymous -> 401 on every route that is not public;
//! another user -> 404 on the owner's resources (not 403: existence is not confirmed) and
//! none of the owner's ids in any answer; the owner -> 2xx, or the 4xx the note gives for a
//! request that cannot succeed in this setting.

mod common;
#[path = "common/forms.rs"]
mod forms;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;
use forms::{astronaut, media, project, roomy, use_shared_models, voice};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Other,
    Owner,
}

/// One operation: its expected answers `[anonymous, other user, owner]` and, where the
/// owner does not get a 2xx, why.
struct Row {
    method: &'static str,
    path: &'static str,
    expect: [u16; 3],
    note: &'static str,
}

const fn row(method: &'static str, path: &'static str, expect: [u16; 3], note: &'static str) -> Row {
    Row { method, path, expect, note }
}

/// No live show is started here (a GStreamer graph per run costs CI too much): the live rows
/// name a session id that does not exist, so a signed-in caller gets 404 wherever the route
/// is reached at all.
const NO_SESSION: &str = "no live session is started in this matrix: the id does not exist";

/// No preview is started here either (tests/preview.rs starts them): the project's clip is not
/// on its timeline, so there is nothing to play.
const NO_PREVIEW_CLIPS: &str = "the project's timeline has no clips: nothing to preview";
const NO_PREVIEW: &str = "no preview is started in this matrix: the id does not exist";

/// The expected answers, in the order the calls are made (deletions last, children first).
const TABLE: &[Row] = &[
    // Public.
    row("GET", "/healthz", [200, 200, 200], ""),
    row("GET", "/readyz", [200, 200, 200], ""),
    row("GET", "/api/presets", [200, 200, 200], ""),
    row("POST", "/api/auth/register", [201, 201, 201], "each call registers a fresh address"),
    row("POST", "/api/auth/login", [200, 200, 200], "each call signs a throwaway account in"),
    row("POST", "/api/auth/refresh", [200, 200, 200], "each call refreshes a throwaway session"),
    row("POST", "/api/auth/logout", [204, 204, 204], "each call ends a throwaway session"),
    // The caller's own collections: another user sees only their own.
    row("GET", "/api/account", [401, 200, 200], ""),
    row("GET", "/api/account/audit", [401, 200, 200], ""),
    row("GET", "/api/projects", [401, 200, 200], ""),
    row("POST", "/api/projects", [401, 201, 201], ""),
    row("GET", "/api/jobs", [401, 200, 200], ""),
    row("GET", "/api/events", [401, 200, 200], "an event stream: only its status is read"),
    row("GET", "/api/models", [401, 200, 200], ""),
    row("GET", "/api/characters", [401, 200, 200], "the caller's own characters across projects"),
    row("GET", "/api/voices", [401, 200, 200], "the caller's own voices across projects"),
    row("POST", "/api/admin/models", [401, 403, 403], "no administrator is named here: tests/admin_models.rs has one"),
    // The owner's resources.
    row("GET", "/api/projects/{project_id}", [401, 404, 200], ""),
    row("PATCH", "/api/projects/{project_id}", [401, 404, 200], "a rename with the commercial setting"),
    row("GET", "/api/projects/{project_id}/revisions", [401, 404, 200], ""),
    row("POST", "/api/projects/{project_id}/undo", [401, 404, 200], "undoes the rename of the row above"),
    row("POST", "/api/projects/{project_id}/redo", [401, 404, 200], "redoes the undo of the row above"),
    row("GET", "/api/projects/{project_id}/clips", [401, 404, 200], ""),
    row("POST", "/api/projects/{project_id}/clips", [401, 404, 201], ""),
    row("GET", "/api/clips/{clip_id}/media", [401, 404, 200], ""),
    row("GET", "/api/clips/{clip_id}/thumbnail", [401, 404, 200], ""),
    row(
        "GET",
        "/api/clips/{clip_id}/waveform",
        [401, 404, 202],
        "the clip's overview job is queued: no worker runs here",
    ),
    row("POST", "/api/projects/{project_id}/imports", [401, 404, 202], "queued only: no worker runs here"),
    row("GET", "/api/projects/{project_id}/characters", [401, 404, 200], ""),
    row("POST", "/api/projects/{project_id}/characters", [401, 404, 201], ""),
    row("GET", "/api/characters/{character_id}", [401, 404, 200], ""),
    row("PATCH", "/api/characters/{character_id}", [401, 404, 200], ""),
    row("GET", "/api/characters/{character_id}/portrait", [401, 404, 200], ""),
    row("GET", "/api/characters/{character_id}/landmarks.svg", [401, 404, 200], ""),
    row("GET", "/api/characters/{character_id}/file", [401, 404, 200], ""),
    row("GET", "/api/projects/{project_id}/voices", [401, 404, 200], ""),
    row("POST", "/api/projects/{project_id}/voices", [401, 404, 201], ""),
    row("GET", "/api/voices/{voice_id}", [401, 404, 200], ""),
    row("PATCH", "/api/voices/{voice_id}", [401, 404, 200], ""),
    row("GET", "/api/voices/{voice_id}/sample", [401, 404, 200], ""),
    row("GET", "/api/projects/{project_id}/cast", [401, 404, 200], ""),
    row("PUT", "/api/projects/{project_id}/cast/{character_id}", [401, 404, 204], ""),
    row("GET", "/api/projects/{project_id}/scenes", [401, 404, 200], ""),
    row("POST", "/api/projects/{project_id}/scenes", [401, 404, 201], ""),
    row("POST", "/api/projects/{project_id}/preview", [401, 404, 400], NO_PREVIEW_CLIPS),
    row("GET", "/api/projects/{project_id}/preview/{preview_id}", [401, 404, 404], NO_PREVIEW),
    row("PATCH", "/api/projects/{project_id}/preview/{preview_id}", [401, 404, 404], NO_PREVIEW),
    row("POST", "/api/projects/{project_id}/preview/{preview_id}/whep", [401, 404, 404], NO_PREVIEW),
    row("PATCH", "/api/projects/{project_id}/preview/{preview_id}/whep/{viewer}", [401, 404, 404], NO_PREVIEW),
    row("DELETE", "/api/projects/{project_id}/preview/{preview_id}/whep/{viewer}", [401, 404, 404], NO_PREVIEW),
    row("DELETE", "/api/projects/{project_id}/preview/{preview_id}", [401, 404, 404], NO_PREVIEW),
    row("PUT", "/api/projects/{project_id}/subtitles/{lang}", [401, 404, 200], ""),
    row("GET", "/api/projects/{project_id}/subtitles", [401, 404, 200], ""),
    row("GET", "/api/projects/{project_id}/subtitles/{lang}", [401, 404, 200], ""),
    row("GET", "/api/projects/{project_id}/subtitles/{lang}/export", [401, 404, 200], ""),
    row(
        "POST",
        "/api/projects/{project_id}/subtitles/{lang}/translate",
        [401, 404, 400],
        "the project has no `en` track to translate from: refused, naming `from`",
    ),
    row("POST", "/api/projects/{project_id}/renders", [401, 404, 201], ""),
    row("GET", "/api/renders/{render_id}", [401, 404, 200], ""),
    row(
        "GET",
        "/api/renders/{render_id}/files/{preset}",
        [401, 404, 404],
        "the render is queued, not done: no file yet",
    ),
    row(
        "GET",
        "/api/renders/{render_id}/manifests/{preset}",
        [401, 404, 404],
        "the render is queued, not done: no credential yet",
    ),
    row("POST", "/api/jobs", [401, 404, 201], "a clip_edit job in the owner's project"),
    row("GET", "/api/jobs/{job_id}", [401, 404, 200], ""),
    row("GET", "/api/jobs/{job_id}/files/{name}", [401, 404, 404], "the job is queued, not done: no file yet"),
    row("POST", "/api/jobs/{job_id}/cancel", [401, 404, 200], ""),
    // Live: owner-only control and statistics; viewers' WHEP by capability.
    row("GET", "/api/live", [401, 200, 200], ""),
    row("POST", "/api/live", [401, 400, 400], "the request names an unknown source: no show is started here"),
    row("GET", "/api/live/{session}", [401, 404, 404], NO_SESSION),
    row("PATCH", "/api/live/{session}", [401, 404, 404], NO_SESSION),
    row("DELETE", "/api/live/{session}", [401, 404, 404], NO_SESSION),
    row("POST", "/api/live/{session}/whep", [404, 404, 404], NO_SESSION),
    row("DELETE", "/api/live/{session}/whep/{viewer}", [404, 404, 404], NO_SESSION),
    row("PATCH", "/api/live/{session}/whep/{viewer}", [404, 404, 404], NO_SESSION),
    row("POST", "/api/live/{session}/whep/{viewer}/stats", [404, 404, 404], NO_SESSION),
    row("POST", "/api/live/{session}/whip", [401, 404, 404], NO_SESSION),
    row("DELETE", "/api/live/{session}/whip/{publisher}", [401, 404, 404], NO_SESSION),
    row("PATCH", "/api/live/{session}/whip/{publisher}", [401, 404, 404], NO_SESSION),
    row("POST", "/api/live/{session}/kiosk/leave", [404, 404, 404], NO_SESSION),
    row("GET", "/api/live/{session}/consent", [404, 404, 404], NO_SESSION),
    row("POST", "/api/live/{session}/consent", [404, 404, 404], NO_SESSION),
    row("GET", "/api/live/{session}/manifest", [404, 404, 404], NO_SESSION),
    row("GET", "/api/live/{session}/ice-servers", [401, 404, 404], NO_SESSION),
    // Deletions, children before parents, the account last.
    row("DELETE", "/api/renders/{render_id}", [401, 404, 409], "the render's job is still queued"),
    row("DELETE", "/api/clips/{clip_id}", [401, 404, 204], ""),
    row("DELETE", "/api/scenes/{scene_id}", [401, 404, 204], ""),
    row("DELETE", "/api/projects/{project_id}/subtitles/{lang}", [401, 404, 204], ""),
    row("DELETE", "/api/projects/{project_id}/cast/{character_id}", [401, 404, 204], ""),
    row("DELETE", "/api/voices/{voice_id}", [401, 404, 409], "the character still has the voice: refused while in use"),
    row(
        "DELETE",
        "/api/characters/{character_id}",
        [401, 404, 409],
        "the scene added above still plays it: refused while in use",
    ),
    row("DELETE", "/api/projects/{project_id}", [401, 404, 204], ""),
    row("DELETE", "/api/account", [401, 204, 204], "each user deletes their own account"),
];

/// The owner's resources the rows name.
struct Fixtures {
    project: String,
    clip: String,
    character: String,
    voice: String,
    scene: String,
    job: String,
    render: String,
    session: String,
    viewer: String,
    /// Ids and the address of the owner, none of which may reach the other user.
    secrets: Vec<String>,
}

#[tokio::test]
async fn every_operation_answers_each_caller_as_the_table_says() {
    use_shared_models();
    for app in TestApp::all().await {
        let app = roomy(app, 50_000_000);
        let spec = operations(&app).await;
        check_coverage(&spec);

        let (owner, _) = app.sign_up("owner@museum.org").await;
        let (other, _) = app.sign_up("other@museum.org").await;
        let fx = fixtures(&app, &owner).await;
        let mut failures = Vec::new();
        for row in TABLE {
            let uri = fill(row.path, &fx);
            for (i, who) in [Who::Anonymous, Who::Other, Who::Owner].into_iter().enumerate() {
                let token = match who {
                    Who::Anonymous => None,
                    Who::Other => Some(other.as_str()),
                    Who::Owner => Some(owner.as_str()),
                };
                let request = build(&app, row, &uri, token, &fx).await;
                let (status, body) = send(&app, request, row.path == "/api/events").await;
                if status.as_u16() != row.expect[i] {
                    failures.push(format!(
                        "{} {} as {who:?}: {status}, expected {} ({}) {body}",
                        row.method, row.path, row.expect[i], row.note
                    ));
                }
                if status.is_client_error() && !body.is_empty() && serde_json::from_str::<Value>(&body).is_err() {
                    failures.push(format!("{} {} as {who:?}: error body is not JSON: {body}", row.method, row.path));
                }
                if who == Who::Other {
                    if let Some(leak) = fx.secrets.iter().find(|s| body.contains(s.as_str())) {
                        failures
                            .push(format!("{} {} as another user shows the owner's `{leak}`", row.method, row.path));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{} on {}:\n{}", failures.len(), app.backend(), failures.join("\n"));
    }
}

/// The `(METHOD, path)` of every operation in the served OpenAPI document, with whether it
/// needs a token.
async fn operations(app: &TestApp) -> Vec<(String, String, bool)> {
    let (status, doc) = app.call(axum::http::Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if !["get", "put", "post", "delete", "patch", "head", "options", "trace"].contains(&method.as_str()) {
                continue;
            }
            // An operation without its own `security` inherits the document's (a bearer token).
            let public = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(|o| o.is_empty())));
            ops.push((method.to_uppercase(), path.clone(), !public));
        }
    }
    ops
}

/// Every operation has a row and every row an operation; routes that need a token refuse
/// anonymous callers.
fn check_coverage(spec: &[(String, String, bool)]) {
    let table: BTreeSet<(String, String)> = TABLE.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    assert_eq!(table.len(), TABLE.len(), "a row is listed twice");
    let documented: BTreeSet<(String, String)> = spec.iter().map(|(m, p, _)| (m.clone(), p.clone())).collect();
    let missing: Vec<_> = documented.difference(&table).collect();
    assert!(missing.is_empty(), "operations without a row in the authorization table (add one): {missing:?}");
    let stale: Vec<_> = table.difference(&documented).collect();
    assert!(stale.is_empty(), "rows for operations the API no longer has: {stale:?}");
    for (method, path, needs_token) in spec {
        let row = TABLE.iter().find(|r| r.method == method && r.path == path).expect("checked above");
        if *needs_token {
            assert_eq!(row.expect[0], 401, "{method} {path} needs a token: anonymous callers get 401");
        }
    }
}

/// The owner's project with a clip, character, voice, scene, queued job and queued render.
async fn fixtures(app: &TestApp, token: &str) -> Fixtures {
    let project = project(app, token, "Matrix").await;
    let (status, clip) = app.upload(&project, "take.mp4", &media("grid/grid_swwp2s.mp4"), token).await;
    assert_eq!(status, StatusCode::CREATED, "{clip}");
    let clip = id(&clip);
    let character = id(&astronaut(app, token, &project).await);
    let voice = id(&voice(app, token, &project, "speech/librivox_0880.wav").await);
    let scene = json!({ "start": 0.0, "end": 1.0, "character_id": character });
    let (status, scene) = post(app, &format!("/api/projects/{project}/scenes"), token, scene).await;
    assert_eq!(status, StatusCode::CREATED, "{scene}");
    let (status, job) = post(app, "/api/jobs", token, clip_edit(&project, &clip)).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let (status, render) =
        post(app, &format!("/api/projects/{project}/renders"), token, json!({ "presets": ["master"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{render}");
    let (scene, job, render) = (id(&scene), id(&job), id(&render));
    let secrets = vec![
        project.clone(),
        clip.clone(),
        character.clone(),
        voice.clone(),
        scene.clone(),
        job.clone(),
        render.clone(),
        "owner@museum.org".into(),
    ];
    Fixtures {
        project,
        clip,
        character,
        voice,
        scene,
        job,
        render,
        session: uuid_simple(),
        viewer: uuid_simple(),
        secrets,
    }
}

fn clip_edit(project: &str, clip: &str) -> Value {
    json!({ "type": "clip_edit", "project_id": project, "params": { "clip_id": clip, "in": 0.0, "out": 1.0 } })
}

/// The path with the fixtures' ids in place of its parameters.
fn fill(path: &str, fx: &Fixtures) -> String {
    [
        ("{project_id}", fx.project.as_str()),
        ("{clip_id}", &fx.clip),
        ("{character_id}", &fx.character),
        ("{voice_id}", &fx.voice),
        ("{scene_id}", &fx.scene),
        ("{job_id}", &fx.job),
        ("{render_id}", &fx.render),
        ("{session}", &fx.session),
        ("{preview_id}", &fx.session),
        ("{viewer}", &fx.viewer),
        ("{publisher}", &fx.viewer),
        ("{preset}", "master"),
        ("{lang}", "es"),
        ("{name}", "output.mp4"),
    ]
    .into_iter()
    .fold(path.to_string(), |p, (param, value)| p.replace(param, value))
}

/// The request of `row` for one caller: the same for every caller but the token, except
/// where a public route needs a fresh account or session of its own.
async fn build(app: &TestApp, row: &Row, uri: &str, token: Option<&str>, fx: &Fixtures) -> Request<Body> {
    let mut req = Request::builder().method(row.method).uri(uri);
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let json = |value: Value| (Some("application/json"), Body::from(value.to_string()));
    let (content_type, body) = match (row.method, row.path) {
        ("POST", "/api/auth/register") => json(json!({ "email": fresh_email(), "password": "correct horse battery" })),
        ("POST", "/api/auth/login") => {
            let email = fresh_email();
            app.sign_up(&email).await;
            json(json!({ "email": email, "password": "correct horse battery" }))
        }
        ("POST", "/api/auth/refresh" | "/api/auth/logout") => {
            let (_, refresh) = app.sign_up(&fresh_email()).await;
            json(json!({ "refresh_token": refresh }))
        }
        ("POST", "/api/projects") => json(json!({ "name": "Theirs" })),
        ("PATCH", "/api/projects/{project_id}") => json(json!({ "name": "Renamed", "commercial": false })),
        ("POST", "/api/projects/{project_id}/clips") => form("file", "take.mp4", &media("grid/grid_swwp2s.mp4"), &[]),
        ("POST", "/api/projects/{project_id}/imports") => json(json!({ "url": "http://127.0.0.1:9/take.mp4" })),
        ("POST", "/api/projects/{project_id}/characters") => form(
            "portrait",
            "astronaut.png",
            &media("astronaut.png"),
            &[("name", "Second"), ("rights_basis", "consent")],
        ),
        ("PATCH", "/api/characters/{character_id}") => json(json!({ "voice_id": fx.voice })),
        ("PATCH", "/api/voices/{voice_id}") => json(json!({ "name": "Renamed" })),
        ("POST", "/api/projects/{project_id}/voices") => form(
            "sample",
            "take.wav",
            &media("speech/librivox_0880.wav"),
            &[("name", "Second"), ("rights_basis", "consent")],
        ),
        ("POST", "/api/projects/{project_id}/scenes") => {
            json(json!({ "start": 1.0, "end": 2.0, "character_id": fx.character }))
        }
        ("POST", "/api/projects/{project_id}/renders") => json(json!({ "presets": ["master"] })),
        ("POST", "/api/projects/{project_id}/preview") => json(json!({ "at": 0.0 })),
        ("PATCH", "/api/projects/{project_id}/preview/{preview_id}") => json(json!({ "playing": false })),
        ("POST", "/api/projects/{project_id}/preview/{preview_id}/whep") => {
            (Some("application/sdp"), Body::from("v=0\r\n"))
        }
        ("PATCH", "/api/projects/{project_id}/preview/{preview_id}/whep/{viewer}") => {
            (Some("application/trickle-ice-sdpfrag"), Body::from("a=ice-ufrag:x\r\n"))
        }
        ("PUT", "/api/projects/{project_id}/subtitles/{lang}") => {
            json(json!({ "cues": [{ "start": 0.5, "end": 1.5, "text": "Hola", "speaker": "Guía" }] }))
        }
        ("POST", "/api/projects/{project_id}/subtitles/{lang}/translate") => json(json!({ "from": "en" })),
        ("POST", "/api/jobs") => json(clip_edit(&fx.project, &fx.clip)),
        ("POST", "/api/live") => json(json!({ "source": "nowhere:at-all" })),
        ("PATCH", "/api/live/{session}") => json(json!({ "elements": {} })),
        ("POST", "/api/live/{session}/whep" | "/api/live/{session}/whip") => {
            (Some("application/sdp"), Body::from("v=0\r\n"))
        }
        ("POST", "/api/live/{session}/whep/{viewer}/stats") => json(json!({})),
        ("POST", "/api/live/{session}/kiosk/leave") => json(json!({ "pin": "1234" })),
        ("POST", "/api/admin/models") => {
            form("file", "inswapper_128.onnx", b"not a model", &[("slot", "faceswap"), ("license", "MIT")])
        }
        ("POST", "/api/live/{session}/consent") => json(json!({ "key": "0", "accept": true })),
        _ => (None, Body::empty()),
    };
    if let Some(content_type) = content_type {
        req = req.header("content-type", content_type);
    }
    req.body(body).unwrap()
}

/// A multipart form with one file and some text fields.
fn form(field: &str, file_name: &str, bytes: &[u8], texts: &[(&str, &str)]) -> (Option<&'static str>, Body) {
    let mut body = Vec::new();
    for (name, value) in texts {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    (Some(FORM_TYPE), Body::from(body))
}

const BOUNDARY: &str = "reenact-matrix-boundary";
const FORM_TYPE: &str = "multipart/form-data; boundary=reenact-matrix-boundary";

/// Sends `request`; the body as text (for a stream, nothing is read).
async fn send(app: &TestApp, request: Request<Body>, stream: bool) -> (StatusCode, String) {
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    if stream && status.is_success() {
        return (status, String::new());
    }
    let bytes = tokio::time::timeout(Duration::from_secs(30), response.into_body().collect())
        .await
        .expect("a bounded body")
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn post(app: &TestApp, uri: &str, token: &str, body: Value) -> (StatusCode, Value) {
    app.call(axum::http::Method::POST, uri, Some(token), Some(body)).await
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("no id in {value}")).to_string()
}

fn fresh_email() -> String {
    format!("visitor-{}@museum.org", uuid_simple())
}

fn uuid_simple() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
