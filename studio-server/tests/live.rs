// SPDX-License-Identifier: MPL-2.0
//! Live sessions: the API's answers to good and bad requests, and real
//! headless Chromium viewers receiving the WebRTC preview from one encoder.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::TestApp;
use gst::prelude::*;
use http_body_util::BodyExt;
use reenact_engine::live::{LiveOptions, LiveSource, Stream};
use reenact_engine::PresetLibrary;
use reenact_server::http::live::{router, LiveState};
use reenact_server::live::{LiveHub, SessionSummary};
use serde_json::{json, Value};
use tower::ServiceExt;

fn use_shared_models() {
    if std::env::var_os("REENACT_MODELS").is_none() {
        std::env::set_var("REENACT_MODELS", Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"));
    }
}

const AV1_ONLY: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 45\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\na=rtpmap:45 AV1/90000\r\n";

/// POSTs `body` as `content_type` to `uri`.
async fn post_raw(app: &TestApp, uri: &str, content_type: &str, body: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("content-type", content_type)
        .body(Body::from(body.to_owned()))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn frames_encoded(summary: &Value) -> u64 {
    summary["pipeline"]["frames_encoded"].as_u64().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_api_refuses_bad_requests_and_the_show_goes_on() {
    use_shared_models();
    let app = TestApp::sqlite().await;
    let (owner, _) = app.sign_up("host@example.com").await;
    let (other, _) = app.sign_up("guest@example.com").await;

    let (status, _) = app.call(Method::POST, "/api/live", None, Some(json!({"source": "test"}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) =
        app.call(Method::POST, "/api/live", Some(&owner), Some(json!({"source": "file:/etc/passwd"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().unwrap().contains("source"), "{body}");
    let (status, body) =
        app.call(Method::POST, "/api/live", Some(&owner), Some(json!({"source": "test", "preset": "nope"}))).await;
    assert!(status == StatusCode::BAD_REQUEST && body["detail"].as_str().unwrap().contains("preset"), "{body}");

    let (status, body) =
        app.call(Method::POST, "/api/live", Some(&other), Some(json!({"source": "test", "project_id": "nope"}))).await;
    assert!(status == StatusCode::BAD_REQUEST && body["detail"].as_str().unwrap().contains("project_id"), "{body}");

    let (_, project) = app.call(Method::POST, "/api/projects", Some(&owner), Some(json!({"name": "museum"}))).await;
    let project = project["id"].as_str().unwrap().to_owned();
    let request = json!({"source": "test", "project_id": project});
    let (status, body) = app.call(Method::POST, "/api/live", Some(&owner), Some(request)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let (_, listed) = app.call(Method::GET, &format!("/api/live?project_id={project}"), Some(&owner), None).await;
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    let (_, listed) = app.call(Method::GET, "/api/live", Some(&other), None).await;
    assert_eq!(listed, json!([]), "another user sees none of them");
    let whep = format!("/api/live/{id}/whep");

    let (status, text) = post_raw(&app, &whep, "application/sdp", "this is not SDP").await;
    assert!(status == StatusCode::BAD_REQUEST && text.contains("not valid SDP"), "{status} {text}");
    let (status, text) = post_raw(&app, &whep, "application/sdp", AV1_ONLY).await;
    assert!(status == StatusCode::UNSUPPORTED_MEDIA_TYPE && text.contains("AV1"), "{status} {text}");
    let (status, text) = post_raw(&app, &whep, "text/plain", AV1_ONLY).await;
    assert!(status == StatusCode::UNSUPPORTED_MEDIA_TYPE && text.contains("application/sdp"), "{status} {text}");
    let (status, _) = post_raw(&app, "/api/live/0123456789abcdef/whep", "application/sdp", AV1_ONLY).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, before) = app.call(Method::GET, &format!("/api/live/{id}"), None, None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, after) = app.call(Method::GET, &format!("/api/live/{id}"), None, None).await;
    assert!(frames_encoded(&after) >= frames_encoded(&before) + 30, "the show goes on: {before} -> {after}");

    let uri = format!("/api/live/{id}");
    let (status, body) = app.call(Method::PATCH, &uri, Some(&owner), Some(json!({"elements": {"matte": true}}))).await;
    assert!(status == StatusCode::OK && body["pipeline"]["elements"]["matte"] == true, "{body}");
    let (status, body) =
        app.call(Method::PATCH, &uri, Some(&owner), Some(json!({"elements": {"lipstick": true}}))).await;
    assert!(
        status == StatusCode::BAD_REQUEST && body["detail"].as_str().unwrap().contains("elements.lipstick"),
        "{body}"
    );
    let (status, _) = app.call(Method::DELETE, &uri, Some(&other), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only the owner stops a show");
    let (status, _) = app.call(Method::DELETE, &uri, Some(&owner), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.call(Method::GET, &uri, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_show_started_over_http_goes_out_by_srt() {
    use_shared_models();
    let app = TestApp::sqlite().await;
    let (owner, _) = app.sign_up("host@example.com").await;
    let refused = [
        (json!(["record:/tmp/show.mp4"]), "outputs[0]: record: and v4l2: are for `reenact live`"),
        (json!(["srt://host"]), "outputs[0]: output `srt://host`: an SRT URL needs a port"),
        (json!(["rtmp://a/b", "udp://x:1"]), "outputs[1]: output `udp://x:1`: expected rtmp://"),
        (json!(["rtmp://a/1", "rtmp://a/2", "rtmp://a/3", "rtmp://a/4", "rtmp://a/5"]), "outputs: at most 4"),
    ];
    for (outputs, reason) in refused {
        let (status, body) = app
            .call(Method::POST, "/api/live", Some(&owner), Some(json!({"source": "test", "outputs": outputs})))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["detail"].as_str().unwrap().starts_with(reason), "{body}");
    }

    // A receiver listening for the show, as a streaming service's SRT ingest would.
    gst::init().unwrap();
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let receiver = gst::parse::launch(&format!(
        "srtsrc uri=srt://127.0.0.1:{port}?mode=listener ! tsdemux ! h264parse ! appsink name=sink sync=false"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = receiver.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    receiver.set_state(gst::State::Playing).unwrap();
    let request = json!({"source": "test", "outputs": [format!("srt://127.0.0.1:{port}")]});
    let (status, body) = app.call(Method::POST, "/api/live", Some(&owner), Some(request)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let frames = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut frames = 0;
        while frames < 30 && Instant::now() < deadline {
            if sink.try_pull_sample(gst::ClockTime::from_mseconds(200)).is_some() {
                frames += 1;
            }
        }
        frames
    })
    .await
    .unwrap();
    let (_, summary) = app.call(Method::GET, &format!("/api/live/{id}"), None, None).await;
    receiver.set_state(gst::State::Null).unwrap();
    assert!(frames >= 30, "{frames} H.264 frames reached the receiver: {summary}");
    assert_eq!(summary["pipeline"]["outputs"][0]["state"], "running", "{summary}");
    let (status, _) = app.call(Method::DELETE, &format!("/api/live/{id}"), Some(&owner), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// A headless Chromium showing one page, killed with the test.
struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn open(url: &str) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new("chromium")
            .args(common::CHROMIUM_FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium (scripts/setup.sh installs it)");
        Browser { child, _profile: profile }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls the session until `done` holds or `timeout` passes; returns the last summary.
async fn wait_for(
    hub: &LiveHub,
    id: &str,
    timeout: Duration,
    done: impl Fn(&SessionSummary) -> bool,
) -> SessionSummary {
    let deadline = Instant::now() + timeout;
    loop {
        let summary = hub.get(id).unwrap().summary();
        if done(&summary) || Instant::now() > deadline {
            return summary;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn viewer_frames(summary: &SessionSummary) -> Vec<(String, u64)> {
    summary.viewers.iter().map(|v| (v.id.clone(), v.report.as_ref().map_or(0, |r| r.frames))).collect()
}

/// A 640x360 test-pattern session served on a loopback port, as `reenact live` serves it.
async fn serve_test_session() -> (Arc<LiveHub>, String, std::net::SocketAddr) {
    use_shared_models();
    let presets = Arc::new(PresetLibrary::builtin().unwrap());
    let mut preset = presets.get("live-720p").unwrap().clone();
    preset.video.width = Some(640);
    preset.video.height = Some(360);
    let hub = Arc::new(LiveHub::default());
    let options = LiveOptions::new(LiveSource::Test, preset);
    let session = hub.start(options, None, None).await.expect("live session");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router::<()>(LiveState { hub: Arc::clone(&hub), presets, keys: None, db: None });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (hub, session.id.clone(), addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vp8_only_browser_gets_vp8_from_an_encoder_that_runs_only_while_it_watches() {
    let (hub, id, addr) = serve_test_session().await;
    let browser = Browser::open(&format!("http://{addr}/live/{id}?codec=vp8"));
    let watching = |s: &SessionSummary| {
        s.viewers.len() == 1 && s.viewers[0].report.as_ref().is_some_and(|r| r.frames >= 60 && r.timecode_frames >= 30)
    };
    let summary = wait_for(&hub, &id, Duration::from_secs(90), watching).await;
    assert!(watching(&summary), "the VP8 viewer sees frames: {summary:#?}");
    let viewer = &summary.viewers[0];
    assert_eq!(viewer.codec, Stream::Vp8);
    assert_eq!(viewer.report.as_ref().unwrap().video_codec, "video/VP8", "{viewer:?}");
    assert_eq!(summary.pipeline.as_ref().unwrap().encoders, vec![Stream::H264, Stream::Opus, Stream::Vp8]);
    drop(browser);
    let summary = wait_for(&hub, &id, Duration::from_secs(30), |s| s.viewers.is_empty()).await;
    assert_eq!(summary.pipeline.unwrap().encoders, vec![Stream::H264, Stream::Opus], "VP8 stops with its last viewer");
    hub.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_browsers_watch_one_encoder_and_one_crashing_leaves_the_others() {
    let (hub, id, addr) = serve_test_session().await;
    let url = format!("http://{addr}/live/{id}");
    let mut browsers: Vec<Option<Browser>> = (0..3).map(|_| Some(Browser::open(&url))).collect();
    let watching = |s: &SessionSummary| {
        s.viewers.len() == 3
            && s.viewers.iter().all(|v| v.report.as_ref().is_some_and(|r| r.frames >= 60 && r.timecode_frames >= 30))
    };
    let summary = wait_for(&hub, &id, Duration::from_secs(90), watching).await;
    assert!(watching(&summary), "three viewers see frames: {summary:#?}");
    for viewer in &summary.viewers {
        let report = viewer.report.as_ref().unwrap();
        assert_eq!((report.width, report.height), (640, 360), "{viewer:?}");
        assert!(report.audio_tracks >= 1, "an audio track arrives: {viewer:?}");
        assert!(viewer.latency_samples > 0 && viewer.latency_p95_ms < 1000.0, "timecode readable: {viewer:?}");
    }
    let pipeline = summary.pipeline.as_ref().unwrap();
    assert_eq!(pipeline.encoders, vec![Stream::H264, Stream::Opus], "one video encode for every viewer");
    assert!(pipeline.fps_encoded >= 20.0 && pipeline.fps_encoded <= 31.0, "{pipeline:?}");

    // One page dies without a goodbye: no DELETE, no ICE close.
    let mut crashed = browsers[0].take().unwrap();
    let _ = crashed.child.kill();
    let before = viewer_frames(&hub.get(&id).unwrap().summary());
    let summary = wait_for(&hub, &id, Duration::from_secs(30), |s| s.viewers.len() == 2).await;
    assert_eq!(summary.viewers.len(), 2, "the silent viewer is dropped: {summary:#?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = viewer_frames(&hub.get(&id).unwrap().summary());
    for (id, frames) in &after {
        let then = before.iter().find(|(i, _)| i == id).map_or(0, |(_, f)| *f);
        assert!(*frames >= then + 100, "viewer {id} kept playing: {then} -> {frames} frames");
    }
    drop(browsers);
    hub.stop_all().await;
}
