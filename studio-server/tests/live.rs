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
use common::{whep_offer_sdp, TestApp};
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
    let request = json!({"source": "test", "caption_language": "klingon"});
    let (status, body) = app.call(Method::POST, "/api/live", Some(&owner), Some(request)).await;
    assert!(
        status == StatusCode::BAD_REQUEST && body["detail"].as_str().unwrap().contains("caption_language"),
        "{body}"
    );

    for (dub, named) in [
        (json!({"language": "not a language!"}), "dub.language"),
        (json!({"language": "en", "delay_s": 2}), "dub.delay_s"),
        (json!({"language": "en", "delay_s": -1}), "dub.delay_s"),
        (json!({"language": "en", "speed": 2}), "unknown field"),
        // English speech into German needs the en -> de model, which is not installed (and
        // Apertium has no German).
        (json!({"language": "de"}), "translation_en_de"),
    ] {
        let request = json!({"source": "test", "dub": dub});
        let (status, body) = app.call(Method::POST, "/api/live", Some(&owner), Some(request)).await;
        assert!(status == StatusCode::BAD_REQUEST && body["detail"].as_str().unwrap().contains(named), "{dub}: {body}");
    }
    // Commercial work: the English voice's manifest does not clear it for that.
    let request = json!({"source": "test", "commercial": true, "caption_language": "de", "dub": {"language": "en"}});
    let (status, body) = app.call(Method::POST, "/api/live", Some(&owner), Some(request)).await;
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(status == StatusCode::FORBIDDEN && detail.starts_with("dub: model `"), "{body}");
    // German speech dubbed into English: whisper translates, so nothing is missing.
    let request = json!({"source": "test", "caption_language": "de", "dub": {"language": "en", "delay_s": 10}});
    let (status, body) = app.call(Method::POST, "/api/live", Some(&owner), Some(request)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let dubbed = format!("/api/live/{}", body["id"].as_str().unwrap());
    let (_, summary) = app.call(Method::GET, &dubbed, Some(&owner), None).await;
    let dub = &summary["pipeline"]["dub"];
    assert!(dub["language"] == "en" && dub["delay_s"] == 10.0 && dub["translation"] == "whisper", "{summary}");
    assert_eq!(summary["pipeline"]["captions_language"], "en", "captions read what the audience hears: {summary}");
    let (status, _) = app.call(Method::DELETE, &dubbed, Some(&owner), None).await;
    assert!(status.is_success(), "{status}");

    let (status, body) =
        app.call(Method::POST, "/api/live", Some(&other), Some(json!({"source": "test", "project_id": "nope"}))).await;
    assert!(status == StatusCode::BAD_REQUEST && body["detail"].as_str().unwrap().contains("project_id"), "{body}");

    let (_, project) = app.call(Method::POST, "/api/projects", Some(&owner), Some(json!({"name": "museum"}))).await;
    let project = project["id"].as_str().unwrap().to_owned();
    let request = json!({"source": "test", "project_id": project, "caption_language": "de", "occlusion_mask": true});
    let (status, body) = app.call(Method::POST, "/api/live", Some(&owner), Some(request)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let (_, summary) = app.call(Method::GET, &format!("/api/live/{id}"), Some(&owner), None).await;
    assert_eq!(summary["pipeline"]["captions_language"], "de", "{summary}");
    assert_eq!(summary["pipeline"]["occlusion_mask"], true, "{summary}");
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

    // The presenter's publish page: for a running show only, its script beside it.
    let (status, page) = app.call(Method::GET, &format!("/live/{id}/publish"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("/assets/publish.js"), "{page}");
    let (status, _) = app.call(Method::GET, "/live/0123456789abcdef/publish", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, script) = app.call(Method::GET, "/assets/publish.js", None, None).await;
    assert!(status == StatusCode::OK && script.as_str().unwrap().contains("startPublisher"), "{status}");

    let (_, before) = app.call(Method::GET, &format!("/api/live/{id}"), Some(&owner), None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, after) = app.call(Method::GET, &format!("/api/live/{id}"), Some(&owner), None).await;
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
    let (status, _) = app.call(Method::GET, &uri, Some(&owner), None).await;
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
    let (_, summary) = app.call(Method::GET, &format!("/api/live/{id}"), Some(&owner), None).await;
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
    // 30 fps with a little jitter (a frame late in one window is two in the next): one encode.
    // An encode per viewer would read about 90.
    assert!(pipeline.fps_encoded >= 20.0 && pipeline.fps_encoded <= 36.0, "{pipeline:?}");

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

/// Log lines of the whole test binary, kept for the redaction test to read.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per test binary");
        logs
    })
    .clone()
}

/// POSTs a WHEP offer; the status and the viewer's `Location`.
async fn whep(app: &TestApp, id: &str, token: Option<&str>, sdp: &str) -> (StatusCode, Option<String>) {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/live/{id}/whep"))
        .header("content-type", "application/sdp");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app.router.clone().oneshot(request.body(Body::from(sdp.to_owned())).unwrap()).await.unwrap();
    let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
    (response.status(), location)
}

/// A show is its owner's: figures and control for the owner only, viewers get WHEP and their
/// own resource, one address cannot take every seat, stream keys reach neither the
/// figures nor the logs, and the kiosk's PIN is checked by the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_show_is_its_owners_and_its_secrets_stay_out_of_answers_and_logs() {
    use_shared_models();
    let logs = capture_logs();
    let app = TestApp::sqlite().await;
    let (owner, _) = app.sign_up("host@example.com").await;
    let (other, _) = app.sign_up("guest@example.com").await;

    let (status, body) =
        app.call(Method::POST, "/api/live", Some(&owner), Some(json!({"source": "camera:/dev/video0"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "forbidden", "{body}");

    // Nothing listens on the port: the output fails, the show goes on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let secret_output = format!("rtmp://127.0.0.1:{port}/live/SECRETKEY123");
    let request = json!({"source": "test", "outputs": [secret_output], "kiosk_pin": "2468"});
    let (status, body) = app.call(Method::POST, "/api/live", Some(&owner), Some(request)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/live/{id}");

    let (status, _) = app.call(Method::GET, &uri, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "figures need a sign-in");
    let (status, _) = app.call(Method::GET, &uri, Some(&other), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another user is not told the show exists");
    let deadline = Instant::now() + Duration::from_secs(20);
    let summary = loop {
        let (status, summary) = app.call(Method::GET, &uri, Some(&owner), None).await;
        assert_eq!(status, StatusCode::OK);
        if summary["pipeline"]["outputs"][0]["state"] == "failed" || Instant::now() > deadline {
            break summary;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(summary["pipeline"]["outputs"][0]["target"], format!("rtmp://127.0.0.1:{port}"), "{summary}");
    assert_eq!(summary["pipeline"]["outputs"][0]["state"], "failed", "{summary}");
    assert!(!summary.to_string().contains("SECRETKEY123"), "{summary}");

    // Viewers: seats are taken atomically; one address holds 4, the owner still gets in.
    let (_client, sdp) = whep_offer_sdp().await;
    let offers = (0..8).map(|_| whep(&app, &id, None, &sdp));
    let answers = futures_util::future::join_all(offers).await;
    let created: Vec<String> =
        answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, l)| l.clone().unwrap()).collect();
    assert_eq!(created.len(), reenact_server::live::VIEWERS_PER_ADDRESS, "{answers:?}");
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::CREATED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{answers:?}"
    );
    let (status, owners) = whep(&app, &id, Some(&owner), &sdp).await;
    assert_eq!(status, StatusCode::CREATED, "the owner always finds a seat");

    // A viewer's resource takes its secret (or the owner): a bare or wrong one is unknown.
    let mine = created[0].clone();
    let (viewer, secret) = mine.rsplit('/').next().unwrap().split_once('.').unwrap();
    let bare = format!("/api/live/{id}/whep/{viewer}");
    for guess in [bare.clone(), format!("{bare}.{}", "0".repeat(secret.len()))] {
        let (status, _) = app.call(Method::DELETE, &guess, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{guess}");
        let (status, _) = app.call(Method::DELETE, &guess, Some(&other), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{guess}");
    }
    let (status, _) = app.call(Method::POST, &format!("{mine}/stats"), None, Some(json!({"frames": 3}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.call(Method::DELETE, &mine, None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "the viewer leaves with its own resource");
    let second = created[1].rsplit('/').next().unwrap().split_once('.').unwrap().0.to_owned();
    let (status, _) = app.call(Method::DELETE, &format!("/api/live/{id}/whep/{second}"), Some(&owner), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "the owner ends any viewer");
    assert!(owners.is_some());

    // The kiosk: found by its id, left with the PIN the server checks, guesses spaced out.
    let (status, _) = app.call(Method::GET, &format!("/kiosk/{id}"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.call(Method::GET, "/kiosk/hall-a", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let leave = format!("/api/live/{id}/kiosk/leave");
    let (status, _) = post_raw(&app, &leave, "text/plain", r#"{"pin":"2468"}"#).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = app.call(Method::POST, &leave, None, Some(json!({"pin": "2468"}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.call(Method::POST, &leave, None, Some(json!({"pin": "1111"}))).await.0);
    }
    assert_eq!(statuses[..3], [StatusCode::FORBIDDEN; 3], "{statuses:?}");
    assert_eq!(statuses[3..], [StatusCode::TOO_MANY_REQUESTS; 2], "{statuses:?}");

    let (status, _) = app.call(Method::DELETE, &uri, Some(&owner), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logs.contains("live output failed"), "the failure is logged: {logs}");
    assert!(!logs.contains("SECRETKEY123"), "a stream key reached the logs: {logs}");
    assert!(!logs.contains(&id), "a session's full id (its capability) reached the logs");
}

/// Real networks: the owner's pages get the STUN and TURN servers with a TURN credential
/// made from the shared secret (never the secret), others get nothing, and the server's
/// answer to a viewer offers the public address on ports of the configured range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_servers_carry_fresh_turn_credentials_for_the_owner_only() {
    use reenact_server::live::network::{turn_credential, LiveNetwork};
    use reenact_server::live::LivePolicy;
    use_shared_models();
    let mut app = TestApp::sqlite().await;
    let network = LiveNetwork {
        ice_servers: vec!["stun:127.0.0.1:3478".into(), "turn:127.0.0.1:3478?transport=udp".into()],
        turn_secret: Some("TURNSECRET-do-not-leak".into()),
        public_ips: vec!["203.0.113.7".parse().unwrap()],
        udp_ports: Some(42000..=42019),
        relay_only: false,
        publisher_jitter: None,
    };
    let policy = LivePolicy { network: Arc::new(network), ..LivePolicy::default() };
    app.state.live = Arc::new(LiveHub::new(policy));
    app.router = reenact_server::app(app.state.clone());
    let (owner, _) = app.sign_up("host@example.com").await;
    let (other, _) = app.sign_up("guest@example.com").await;
    let owner_id = app.call(Method::GET, "/api/account", Some(&owner), None).await.1["id"].as_str().unwrap().to_owned();
    let (status, body) = app.call(Method::POST, "/api/live", Some(&owner), Some(json!({"source": "test"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/live/{id}/ice-servers");

    assert_eq!(app.call(Method::GET, &uri, None, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.call(Method::GET, &uri, Some(&other), None).await.0, StatusCode::NOT_FOUND);
    let (status, body) = app.call(Method::GET, &uri, Some(&owner), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.to_string().contains("TURNSECRET"), "{body}");
    assert_eq!(body["ice_transport_policy"], "all", "{body}");
    let servers = body["ice_servers"].as_array().unwrap();
    assert_eq!(servers[0], json!({"urls": ["stun:127.0.0.1:3478"]}), "{body}");
    assert_eq!(servers[1]["urls"], json!(["turn:127.0.0.1:3478?transport=udp"]), "{body}");
    let username = servers[1]["username"].as_str().unwrap();
    let expires_at = body["expires_at"].as_u64().unwrap();
    assert_eq!(username, format!("{expires_at}:{owner_id}"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!((now + 3500..=now + 3600).contains(&expires_at), "an hour from now: {expires_at} vs {now}");
    let expires = std::time::UNIX_EPOCH + Duration::from_secs(expires_at);
    let expected = turn_credential("TURNSECRET-do-not-leak", &owner_id, expires).1;
    assert_eq!(servers[1]["credential"], expected.as_str());

    // A viewer's answer: the public address beside the private ones, every port in the range.
    let (_client, sdp) = whep_offer_sdp().await;
    let (status, answer) = post_raw(&app, &format!("/api/live/{id}/whep"), "application/sdp", &sdp).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let candidates: Vec<&str> = answer.lines().filter(|l| l.starts_with("a=candidate:")).collect();
    assert!(candidates.iter().any(|c| c.contains(" 203.0.113.7 ") && c.contains("typ srflx")), "{answer}");
    for candidate in &candidates {
        let port: u16 = candidate.split(' ').nth(5).unwrap().parse().unwrap();
        assert!((42000..=42019).contains(&port), "{candidate}");
    }
    app.state.live.stop_all().await;
}

/// Parallel starts by one user: exactly the allowed number of shows start; a stopped show
/// gives its place back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_runs_at_most_the_allowed_number_of_shows() {
    use_shared_models();
    let app = TestApp::sqlite().await;
    let (user, _) = app.sign_up("busy@example.com").await;
    let starts = (0..12).map(|_| app.call(Method::POST, "/api/live", Some(&user), Some(json!({"source": "test"}))));
    let answers = futures_util::future::join_all(starts).await;
    let started: Vec<&Value> = answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, b)| b).collect();
    let limit = reenact_server::live::DEFAULT_SHOWS_PER_USER;
    assert_eq!(started.len(), limit, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert!(body["detail"].as_str().unwrap().contains("at most 2 live shows"), "{body}");
    }
    let first = started[0]["id"].as_str().unwrap().to_owned();
    let (status, _) = app.call(Method::DELETE, &format!("/api/live/{first}"), Some(&user), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.call(Method::POST, "/api/live", Some(&user), Some(json!({"source": "test"}))).await;
    assert_eq!(status, StatusCode::CREATED, "a stopped show gives its place back: {body}");
    app.state.live.stop_all().await;
}

/// Installation kiosks answer to their kept random token, never to their name.
#[tokio::test]
async fn an_installation_kiosk_answers_to_its_token_not_its_name() {
    let app = TestApp::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("installations.toml");
    std::fs::write(&file, "[[installation]]\nname = \"hall-a\"\nsource = \"test\"\nkiosk_pin = \"2468\"\n").unwrap();
    let read = || reenact_server::installations::read(&file, &app.state.presets).unwrap();
    let mut installations = read();
    reenact_server::installations::assign_tokens(&app.state.db, &mut installations).await.unwrap();
    let token = installations[0].token.clone();
    assert_eq!(token.len(), 64, "{token}");
    let mut again = read();
    reenact_server::installations::assign_tokens(&app.state.db, &mut again).await.unwrap();
    assert_eq!(again[0].token, token, "the token is kept");
    app.state.live.expect_kiosk(&token);
    let (status, _) = app.call(Method::GET, "/kiosk/hall-a", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, page) = app.call(Method::GET, &format!("/kiosk/{token}"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains("/assets/whep.js"));
}

/// `reenact live`'s guard: the run's token, JSON bodies, same origin, a known `Host`.
#[tokio::test]
async fn the_local_live_api_refuses_other_pages_and_hosts() {
    use reenact_server::http::live::local::{self, LocalAccess};
    let access = LocalAccess::new("127.0.0.1:8090".parse().unwrap(), &["studio.local".to_owned()]);
    let token = access.token().to_owned();
    let state = LiveState {
        hub: Arc::new(LiveHub::default()),
        presets: Arc::new(PresetLibrary::builtin().unwrap()),
        keys: None,
        db: None,
    };
    let app = local::router(state, access);
    let send = |host: &str, origin: Option<&str>, token: Option<&str>, content_type: &str| {
        let mut request = Request::builder().method(Method::POST).uri("/api/live").header("host", host);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.header("content-type", content_type).body(Body::from(r#"{"source":"nope"}"#)).unwrap();
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    let json = "application/json";
    let cases = [
        (send("127.0.0.1:8090", None, None, json).await, StatusCode::UNAUTHORIZED),
        (send("127.0.0.1:8090", None, Some("wrong"), json).await, StatusCode::UNAUTHORIZED),
        (send("127.0.0.1:8090", None, Some(&token), "text/plain").await, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (send("127.0.0.1:8090", Some("http://evil.example"), Some(&token), json).await, StatusCode::FORBIDDEN),
        (send("127.0.0.1:8090", Some("null"), Some(&token), json).await, StatusCode::FORBIDDEN),
        (send("evil.example:8090", None, Some(&token), json).await, StatusCode::MISDIRECTED_REQUEST),
        (send("127.0.0.1:9999", None, Some(&token), json).await, StatusCode::MISDIRECTED_REQUEST),
        // Past the guard, the handler answers: a bad source, not a refusal.
        (send("localhost:8090", Some("http://localhost:8090"), Some(&token), json).await, StatusCode::BAD_REQUEST),
        (send("studio.local:8090", None, Some(&token), json).await, StatusCode::BAD_REQUEST),
    ];
    for (i, ((status, body), expected)) in cases.into_iter().enumerate() {
        assert_eq!(status, expected, "case {i}: {body}");
        assert!(body["error"].is_string() && body["detail"].is_string(), "case {i}: {body}");
    }
}
