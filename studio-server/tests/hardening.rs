// SPDX-License-Identifier: MPL-2.0
//! What an attacker probing the server found, held: every refusal is `{error, detail}` with
//! the status it means; stored media is served as what discovery found (never as the
//! uploader's name says) with `nosniff`; a timeline is checked field by field before it is
//! stored; the readiness probe does not write to the storage on every call; the security
//! headers are on every answer; the data directory is private; `--demo` stays on loopback.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use common::{shared, TestApp};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Sends a raw request; status, headers and the body as text.
async fn raw(app: &TestApp, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app.router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

/// Asserts the API's error shape: `status`, a JSON body with `error` and a `detail` containing `text`.
#[track_caller]
fn api_error(got: (StatusCode, HeaderMap, String), status: StatusCode, text: &str, what: &str) {
    let (got_status, headers, body) = got;
    assert_eq!(got_status, status, "{what}: {body}");
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("application/json"), "{what}: content type `{content_type}`: {body}");
    let value: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: not JSON: {body}"));
    assert!(value["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}: {body}");
    let detail = value["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(text), "{what}: detail `{detail}` lacks `{text}`");
}

fn request(method: Method, uri: &str, token: Option<&str>, content_type: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    if let Some(content_type) = content_type {
        req = req.header("content-type", content_type);
    }
    req.body(Body::from(body)).unwrap()
}

async fn new_project(app: &TestApp, token: &str) -> String {
    let (status, project) =
        app.call(Method::POST, "/api/projects", Some(token), Some(json!({ "name": "Probe" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    project["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_refusal_is_json_with_the_status_it_means() {
    let app = TestApp::sqlite().await;
    let (token, _) = app.sign_up("probe@museum.org").await;
    let project = new_project(&app, &token).await;
    let t = Some(token.as_str());
    let clips = format!("/api/projects/{project}/clips");

    let form_without_boundary = request(Method::POST, &clips, t, Some("multipart/form-data"), b"--x\r\n".to_vec());
    api_error(raw(&app, form_without_boundary).await, StatusCode::BAD_REQUEST, "form:", "multipart without boundary");
    let garbled =
        request(Method::POST, &clips, t, Some("multipart/form-data; boundary=b"), b"garbage, not parts".to_vec());
    api_error(raw(&app, garbled).await, StatusCode::BAD_REQUEST, "file", "garbled multipart");
    let not_a_form = request(Method::POST, &clips, t, Some("text/plain"), b"hello".to_vec());
    api_error(
        raw(&app, not_a_form).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "multipart/form-data",
        "text/plain upload",
    );

    let bad_query = request(Method::GET, "/api/account/audit?limit=lots", t, None, Vec::new());
    api_error(raw(&app, bad_query).await, StatusCode::BAD_REQUEST, "query", "bad query");
    let doubled = request(Method::GET, "/api/jobs?state=queued&state=dead", t, None, Vec::new());
    api_error(raw(&app, doubled).await, StatusCode::BAD_REQUEST, "query", "repeated query field");

    let undecodable = request(Method::GET, "/api/projects/%FF", t, None, Vec::new());
    api_error(raw(&app, undecodable).await, StatusCode::BAD_REQUEST, "path", "%FF in a path");

    let huge = vec![b' '; 3 << 20];
    let live = request(Method::POST, "/api/live", t, Some("application/json"), huge.clone());
    api_error(raw(&app, live).await, StatusCode::PAYLOAD_TOO_LARGE, "", "oversize /api/live body");
    let json_too_large = request(Method::POST, "/api/projects", t, Some("application/json"), huge);
    api_error(raw(&app, json_too_large).await, StatusCode::PAYLOAD_TOO_LARGE, "", "oversize JSON body");
    let plain_json = request(Method::POST, "/api/projects", t, Some("text/plain"), br#"{"name":"x"}"#.to_vec());
    api_error(
        raw(&app, plain_json).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "application/json",
        "JSON as text/plain",
    );
    let broken_json = request(Method::POST, "/api/projects", t, Some("application/json"), b"{\"name\":".to_vec());
    api_error(raw(&app, broken_json).await, StatusCode::BAD_REQUEST, "JSON", "broken JSON");

    let nowhere = request(Method::GET, "/api/nothing-here", None, None, Vec::new());
    api_error(raw(&app, nowhere).await, StatusCode::NOT_FOUND, "not found", "unknown route");
    let outside_api = request(Method::GET, "/nothing-here", None, None, Vec::new());
    api_error(raw(&app, outside_api).await, StatusCode::NOT_FOUND, "not found", "unknown page");
    let wrong_method = request(Method::DELETE, "/api/presets", None, None, Vec::new());
    let got = raw(&app, wrong_method).await;
    assert_eq!(got.1.get("allow").and_then(|v| v.to_str().ok()), Some("GET,HEAD"), "405 keeps Allow");
    api_error(got, StatusCode::METHOD_NOT_ALLOWED, "DELETE", "wrong method");
    let whep_patch = request(Method::PATCH, "/api/live/abc/whep/def", None, None, Vec::new());
    api_error(raw(&app, whep_patch).await, StatusCode::NOT_FOUND, "", "trickle ICE for no session");
}

#[tokio::test]
async fn an_mp4_named_html_is_served_as_video_with_nosniff() {
    let app = TestApp::sqlite().await;
    let (token, _) = app.sign_up("ada@museum.org").await;
    let project = new_project(&app, &token).await;
    let mp4 = std::fs::read(shared("media/grid/grid_swwp2s.mp4")).unwrap();
    let (status, clip) = app.upload(&project, "page.html", &mp4, &token).await;
    assert_eq!(status, StatusCode::CREATED, "{clip}");
    let uri = format!("/api/clips/{}/media", clip["id"].as_str().unwrap());
    let (status, headers, body) = app.get_raw(&uri, &token, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, mp4);
    assert_eq!(headers["content-type"], "video/mp4", "typed by discovery ({}), not by the name", clip["container"]);
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers.get("content-disposition").is_none(), "media to be played is not an attachment");
    let (status, headers, _) = app.get_raw(&uri, &token, &[("range", "bytes=0-99")]).await;
    assert_eq!((status, &headers["content-type"]), (StatusCode::PARTIAL_CONTENT, &"video/mp4".parse().unwrap()));
    let (status, headers, _) = app.get_raw(&uri, &token, &[("range", "bytes=999999999-")]).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"), "{headers:?}");
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::sqlite().await;
    for (uri, frame) in [
        ("/", Some("DENY")),
        ("/api/presets", Some("DENY")),
        ("/api/nothing-here", Some("DENY")),
        ("/login", Some("DENY")),
        ("/live/0123456789abcdef", Some("SAMEORIGIN")),
        ("/kiosk/lobby", None),
    ] {
        let (_, headers, _) = raw(&app, request(Method::GET, uri, None, None, Vec::new())).await;
        assert_eq!(headers["x-content-type-options"], "nosniff", "{uri}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{uri}");
        assert_eq!(headers["cross-origin-resource-policy"], "same-origin", "{uri}");
        assert_eq!(headers.get("x-frame-options").map(|v| v.to_str().unwrap()), frame, "{uri}");
        let ancestors = headers.get("content-security-policy").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(ancestors.is_some(), frame.is_some(), "{uri}: {ancestors:?}");
    }
}

#[tokio::test]
async fn bad_timelines_are_refused_by_field_and_not_stored() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = new_project(&app, &token).await;
        let mp4 = std::fs::read(shared("media/grid/grid_swwp2s.mp4")).unwrap();
        let (status, clip) = app.upload(&project, "take.mp4", &mp4, &token).await;
        assert_eq!(status, StatusCode::CREATED, "{clip}");
        let (source, length) = (clip["id"].as_str().unwrap(), clip["duration_s"].as_f64().unwrap());
        let uri = format!("/api/projects/{project}");
        let good = json!({ "tracks": [{ "clips": [{ "source": source, "in": 0.5, "out": length }] }], "scenes": [] });
        let (status, saved) = app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "timeline": good }))).await;
        assert_eq!(status, StatusCode::OK, "{saved}");

        let with = |second: Value| json!({ "tracks": [{ "clips": [{ "source": source }, second] }] });
        let cases = [
            (with(json!({ "source": source, "in": -5 })), "timeline.tracks[0].clips[1].in"),
            (with(json!({ "source": "8d0d7b0c-1111-4222-8333-944444444444" })), "timeline.tracks[0].clips[1].source"),
            (with(json!({ "source": source, "position": 1e300 })), "timeline.tracks[0].clips[1].position"),
            (with(json!({ "source": source, "in": 2, "out": 1 })), "timeline.tracks[0].clips[1].out"),
            (with(json!({ "source": source, "in": 1, "out": 1 })), "timeline.tracks[0].clips[1].out"),
            (with(json!({ "source": source, "out": length + 5.0 })), "timeline.tracks[0].clips[1].out"),
            (with(json!({ "source": source, "in": length + 1.0 })), "timeline.tracks[0].clips[1].in"),
            (with(json!({ "source": source, "in": "NaN" })), "timeline.tracks[0].clips[1].in"),
            (with(json!({ "source": source, "speed": 2 })), "timeline.tracks[0].clips[1]"),
            (json!({ "tracks": [], "scenes": [{ "start": 0, "end": 1e300, "character": "x" }] }), "timeline.scenes[0]"),
            (json!({ "tracks": [], "notes": "<script>" }), "timeline.notes: unknown field"),
        ];
        for (timeline, field) in cases {
            let got = app.call(Method::PATCH, &uri, Some(&token), Some(json!({ "timeline": timeline.clone() }))).await;
            assert_eq!(got.0, StatusCode::BAD_REQUEST, "{timeline}: {}", got.1);
            let detail = got.1["detail"].as_str().unwrap_or_default();
            assert!(detail.starts_with(field), "{timeline}: `{detail}` does not name `{field}`");
        }
        let (_, stored) = app.call(Method::GET, &uri, Some(&token), None).await;
        assert_eq!(stored["timeline"], good, "nothing refused was stored");

        // A new project has no clips yet, so its timeline may name none.
        let create = json!({ "name": "Ahead", "timeline": { "tracks": [{ "clips": [{ "source": source }] }] } });
        let (status, body) = app.call(Method::POST, "/api/projects", Some(&token), Some(create)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (_, list) = app.call(Method::GET, "/api/projects", Some(&token), None).await;
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    }
}

#[tokio::test]
async fn readiness_trusts_a_storage_probe_for_its_window() {
    let app = TestApp::sqlite().await;
    assert_eq!(app.call(Method::GET, "/readyz", None, None).await, (StatusCode::OK, "ready".into()));
    // Nothing can be written to the storage now; within the window no probe writes, so the
    // answer stays the one the probe gave.
    let tmp = app.state.storage.temp_path().parent().unwrap().to_path_buf();
    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::write(&tmp, b"in the way").unwrap();
    let calls: Vec<_> = (0..20).map(|_| app.call(Method::GET, "/readyz", None, None)).collect();
    for answer in futures_util::future::join_all(calls).await {
        assert_eq!(answer, (StatusCode::OK, "ready".into()), "a cached probe");
    }
    assert!(app.state.storage.probe().await.is_err(), "the storage itself refuses files");
    std::fs::remove_file(&tmp).unwrap();
    std::fs::create_dir(&tmp).unwrap();

    // A fresh storage whose first probe fails is probed again at the next call.
    let fresh = TestApp::sqlite().await;
    let tmp = fresh.state.storage.temp_path().parent().unwrap().to_path_buf();
    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::write(&tmp, b"in the way").unwrap();
    assert_eq!(fresh.call(Method::GET, "/readyz", None, None).await.0, StatusCode::SERVICE_UNAVAILABLE);
    std::fs::remove_file(&tmp).unwrap();
    std::fs::create_dir(&tmp).unwrap();
    assert_eq!(fresh.call(Method::GET, "/readyz", None, None).await, (StatusCode::OK, "ready".into()));
}

#[cfg(unix)]
#[test]
fn the_data_directory_and_its_secrets_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = data.join("jwt-secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef0123456789abcdef").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();

    let (mut child, addr) = serve(&data, &[]);
    let ready = common::http_get(&addr, "/readyz");
    let logs = stop(&mut child);
    assert!(ready.ends_with("ready"), "{ready}: {logs}");
    assert_eq!(mode(&data), 0o700, "{logs}");
    assert_eq!(mode(&secret), 0o600, "{logs}");
    assert_eq!(mode(&data.join("reenact.db")), 0o600, "{logs}");
    for journal in ["reenact.db-wal", "reenact.db-shm", "reenact.db-journal"] {
        if data.join(journal).exists() {
            assert_eq!(mode(&data.join(journal)), 0o600, "{journal}");
        }
    }
    assert!(logs.contains("permissions tightened") && logs.contains("jwt-secret"), "a log line says so: {logs}");

    // A fresh directory is made private from the start, the key never readable by others.
    let fresh = base.path().join("fresh");
    let (mut child, addr) = serve(&fresh, &[]);
    common::http_get(&addr, "/healthz");
    let logs = stop(&mut child);
    assert_eq!((mode(&fresh), mode(&fresh.join("jwt-secret"))), (0o700, 0o600), "{logs}");
    assert_eq!(mode(&fresh.join("reenact.db")), 0o600);
    assert!(!logs.contains("permissions tightened"), "nothing to tighten: {logs}");
}

#[test]
fn demo_refuses_a_public_address() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_reenact"))
        .args(["serve", "--demo", "--listen", "0.0.0.0:0", "--data"])
        .arg(data.path())
        .env_remove("REENACT_LISTEN")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--demo") && stderr.contains("loopback") && stderr.contains("--demo-on-public-address"),
        "{stderr}"
    );
    assert!(!data.path().join("reenact.db").exists(), "refused before anything was made");
}

/// Starts `reenact serve` on a loopback port with `data`; the child and its address.
fn serve(data: &std::path::Path, extra: &[&str]) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_reenact"))
        .args(["serve", "--log", "info", "--workers", "0", "--listen", &addr, "--data"])
        .arg(data)
        .args(extra)
        .env_remove("DATABASE_URL")
        .env_remove("REENACT_JWT_SECRET")
        .env_remove("REENACT_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("reenact serve");
    let first = BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    assert!(first.contains(&addr), "{first}");
    (child, addr)
}

/// Stops the server with SIGTERM; its log.
fn stop(child: &mut std::process::Child) -> String {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "reenact serve ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    logs
}
