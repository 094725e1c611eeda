// SPDX-License-Identifier: MPL-2.0
//! The presenter's browser as the live source (WHIP): a show started with
//! source `browser` runs on its attract picture; a real WebRTC publisher
//! (webrtc-rs, VP8 made by GStreamer's encoder) takes over; bad offers get
//! 400/415, other users 404, a second publisher 409; the publisher leaving
//! puts the attract picture back and counts the gap; it may come back.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::TestApp;
use gst::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;
use webrtc::api::media_engine::{MediaEngine, MIME_TYPE_VP8};
use webrtc::api::APIBuilder;
use webrtc::media::Sample;
use webrtc::peer_connection::offer_answer_options::RTCOfferOptions;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtp_transceiver::rtp_codec::RTCRtpCodecCapability;
use webrtc::track::track_local::track_local_static_sample::TrackLocalStaticSample;
use webrtc::track::track_local::TrackLocal;

const VP9_ONLY: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 98\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:98 VP9/90000\r\n";

/// POSTs a WHIP offer; the status, `Location` and body.
async fn whip(app: &TestApp, id: &str, token: &str, sdp: &str) -> (StatusCode, Option<String>, String) {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/live/{id}/whip"))
        .header("content-type", "application/sdp")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(sdp.to_owned()))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, location, String::from_utf8_lossy(&bytes).into_owned())
}

/// A publishing peer connection with a VP8 track, and its offer.
async fn publisher() -> (RTCPeerConnection, Arc<TrackLocalStaticSample>, String) {
    let mut media = MediaEngine::default();
    media.register_default_codecs().unwrap();
    let api = APIBuilder::new().with_media_engine(media).build();
    let pc = api.new_peer_connection(Default::default()).await.unwrap();
    let capability =
        RTCRtpCodecCapability { mime_type: MIME_TYPE_VP8.to_owned(), clock_rate: 90_000, ..Default::default() };
    let track = Arc::new(TrackLocalStaticSample::new(capability, "video".into(), "presenter".into()));
    pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal + Send + Sync>).await.unwrap();
    let offer = pc.create_offer(None).await.unwrap();
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(offer).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(3), gathered.recv()).await;
    let sdp = pc.local_description().await.unwrap().sdp;
    (pc, track, sdp)
}

/// VP8 frames of a moving test pattern, 320x240 at 30 fps, made by GStreamer's encoder.
fn vp8_frames(count: usize) -> Vec<(Vec<u8>, bool)> {
    gst::init().unwrap();
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers={count} pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 \
         ! vp8enc deadline=1 keyframe-max-dist=30 ! appsink name=out sync=false"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline.by_name("out").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut frames = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let buffer = sample.buffer().unwrap();
        let key = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
        frames.push((buffer.map_readable().unwrap().to_vec(), key));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    frames
}

/// Sends the frames in a loop at 30 fps until the task is aborted.
fn send_loop(track: Arc<TrackLocalStaticSample>, frames: Arc<Vec<(Vec<u8>, bool)>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        for (data, _) in frames.iter().cycle() {
            tick.tick().await;
            let sample =
                Sample { data: data.clone().into(), duration: Duration::from_millis(33), ..Default::default() };
            let _ = track.write_sample(&sample).await;
        }
    })
}

async fn summary(app: &TestApp, id: &str, token: &str) -> Value {
    app.call(Method::GET, &format!("/api/live/{id}"), Some(token), None).await.1
}

/// Polls the show's publisher figures until `check` holds.
async fn wait_publisher(app: &TestApp, id: &str, token: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = summary(app, id, token).await;
        if check(&body["pipeline"]["publisher"]) {
            return body;
        }
        assert!(Instant::now() < deadline, "{what}: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_publishes_over_whip_leaves_and_comes_back_while_the_show_goes_on() {
    // The show's elements load their models from the shared catalog, as in tests/live.rs.
    std::env::set_var("REENACT_MODELS", common::shared("models"));
    let app = TestApp::sqlite().await;
    let (owner, _) = app.sign_up("presenter@example.com").await;
    let (other, _) = app.sign_up("stranger@example.com").await;
    let request = json!({"source": "browser"});
    let (status, body) = app.call(Method::POST, "/api/live", Some(&owner), Some(request)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, body) = app.call(Method::POST, "/api/live", Some(&owner), Some(json!({"source": "test"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let test_show = body["id"].as_str().unwrap().to_owned();

    // The attract picture is on air and encoded before anyone publishes.
    let body = wait_publisher(&app, &id, &owner, "attract picture", |_| true).await;
    assert_eq!(body["pipeline"]["source"], "browser", "{body}");
    assert_eq!(body["pipeline"]["publisher"]["on_air"], false, "{body}");

    let (status, _, body) = whip(&app, &id, &owner, "not sdp").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, body) = whip(&app, &id, &owner, VP9_ONLY).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(body.contains("VP9"), "{body}");
    let (_pc0, _track0, offer) = publisher().await;
    let (status, _, _) = whip(&app, &id, &other, &offer).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "someone else's show is not found");
    let (status, _, body) = whip(&app, &test_show, &owner, &offer).await;
    assert_eq!(status, StatusCode::CONFLICT, "a test-pattern show takes no publisher: {body}");

    let frames = Arc::new(vp8_frames(60));
    assert!(frames.first().is_some_and(|(_, key)| *key));
    let (pc, track, offer) = publisher().await;
    let (status, location, answer) = whip(&app, &id, &owner, &offer).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let location = location.expect("Location");
    pc.set_remote_description(RTCSessionDescription::answer(answer).unwrap()).await.unwrap();
    let sending = send_loop(track, Arc::clone(&frames));
    let body = wait_publisher(&app, &id, &owner, "the publisher on air", |p| p["on_air"] == true).await;
    assert_eq!(body["pipeline"]["publisher"]["publishers"], 1, "{body}");

    // A second publisher is refused while the first one is connected.
    let (_pc2, _track2, offer2) = publisher().await;
    let (status, _, body) = whip(&app, &id, &owner, &offer2).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let encoded_before = body_frames(&summary(&app, &id, &owner).await);
    let (status, _) = app.call(Method::DELETE, &location, Some(&other), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call(Method::DELETE, &location, Some(&owner), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    sending.abort();
    let _ = pc.close().await;
    let body = wait_publisher(&app, &id, &owner, "the gap counted", |p| p["on_air"] == false && p["gaps"] == 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let encoded_after = body_frames(&summary(&app, &id, &owner).await);
    assert!(encoded_after > encoded_before + 10, "the show goes on without its publisher: {body}");

    // The presenter comes back to the same show.
    let (pc, track, offer) = publisher().await;
    let (status, _, answer) = whip(&app, &id, &owner, &offer).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    pc.set_remote_description(RTCSessionDescription::answer(answer).unwrap()).await.unwrap();
    let sending = send_loop(track, frames);
    let body = wait_publisher(&app, &id, &owner, "back on air", |p| p["on_air"] == true).await;
    assert_eq!(body["pipeline"]["publisher"]["publishers"], 2, "{body}");
    assert!(body["pipeline"]["publisher"]["gap_s"].as_f64().unwrap() > 0.5, "{body}");

    // A publisher that vanishes without a DELETE is noticed within seconds.
    sending.abort();
    let _ = pc.close().await;
    wait_publisher(&app, &id, &owner, "vanished publisher", |p| p["on_air"] == false && p["gaps"] == 2).await;
    for show in [&id, &test_show] {
        let (status, _) = app.call(Method::DELETE, &format!("/api/live/{show}"), Some(&owner), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
}

fn body_frames(summary: &Value) -> u64 {
    summary["pipeline"]["frames_encoded"].as_u64().unwrap_or_default()
}

/// PATCHes a trickle ICE fragment; the status, headers and body.
async fn patch(
    app: &TestApp,
    location: &str,
    token: &str,
    content_type: &str,
    if_match: Option<&str>,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder()
        .method(Method::PATCH)
        .uri(location)
        .header("content-type", content_type)
        .header("authorization", format!("Bearer {token}"));
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    let response = app.router.clone().oneshot(request.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = http_body_util::BodyExt::collect(body).await.unwrap().to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

/// The ICE lines of a description as a trickle fragment: credentials, then per media section
/// its `m=` and `a=mid` lines with its candidates.
fn fragment_of(sdp: &str) -> String {
    let mut out = String::new();
    let first = |name: &str| sdp.lines().find(|l| l.starts_with(name)).map(str::to_owned).unwrap();
    out.push_str(&format!("{}\r\n{}\r\n", first("a=ice-ufrag:"), first("a=ice-pwd:")));
    for line in sdp.lines() {
        if line.starts_with("m=") || line.starts_with("a=mid:") || line.starts_with("a=candidate:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out
}

/// `sdp` with the ICE credentials and candidates of `fragment` in place of its own: how a
/// WHIP client turns a restart's answer fragment into the remote description.
fn with_fragment(sdp: &str, fragment: &str) -> String {
    let take = |name: &str| fragment.lines().find(|l| l.starts_with(name)).unwrap().to_owned();
    let candidates: Vec<&str> = fragment.lines().filter(|l| l.starts_with("a=candidate:")).collect();
    let mut out = String::new();
    for line in sdp.lines() {
        if line.starts_with("a=candidate:") || line == "a=end-of-candidates" {
            continue;
        }
        if line.starts_with("a=ice-ufrag:") {
            out.push_str(&take("a=ice-ufrag:"));
        } else if line.starts_with("a=ice-pwd:") {
            out.push_str(&take("a=ice-pwd:"));
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
        if line.starts_with("a=mid:") {
            for candidate in &candidates {
                out.push_str(candidate);
                out.push_str("\r\n");
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickle_ice_and_an_ice_restart_over_patch_keep_the_publisher_on_air() {
    std::env::set_var("REENACT_MODELS", common::shared("models"));
    let app = TestApp::sqlite().await;
    let (owner, _) = app.sign_up("presenter@example.com").await;
    let (other, _) = app.sign_up("stranger@example.com").await;
    let (status, body) = app.call(Method::POST, "/api/live", Some(&owner), Some(json!({"source": "browser"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();

    let (pc, track, offer) = publisher().await;
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/live/{id}/whip"))
        .header("content-type", "application/sdp")
        .header("authorization", format!("Bearer {owner}"))
        .body(Body::from(offer.clone()))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let header = |name: &str| response.headers().get(name).unwrap().to_str().unwrap().to_owned();
    let (location, etag) = (header("location"), header("etag"));
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    let answer = String::from_utf8(bytes.to_vec()).unwrap();
    pc.set_remote_description(RTCSessionDescription::answer(answer.clone()).unwrap()).await.unwrap();
    let sending = send_loop(track, Arc::new(vp8_frames(60)));
    wait_publisher(&app, &id, &owner, "the publisher on air", |p| p["on_air"] == true).await;

    // A candidate found late, in the current ICE session: added, 204.
    let ufrag = offer.lines().find(|l| l.starts_with("a=ice-ufrag:")).unwrap();
    let late = format!("{ufrag}\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n");
    const FRAG: &str = "application/trickle-ice-sdpfrag";
    let (status, _, body) = patch(&app, &location, &owner, FRAG, Some(&etag), &late).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, body) = patch(&app, &location, &owner, "application/sdp", None, &late).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(body.contains("trickle-ice-sdpfrag"), "{body}");
    let (status, _, _) = patch(&app, &location, &other, FRAG, None, &late).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "someone else's publisher is not found");
    let (status, _, body) = patch(&app, &format!("/api/live/{id}/whip/nobody"), &owner, FRAG, None, &late).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _, body) = patch(&app, &location, &owner, FRAG, Some("\"other-7\""), &late).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let (status, _, body) = patch(&app, &location, &owner, FRAG, None, "a=ice-ufrag:someone-else\r\n").await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a fragment of another ICE session without its password: {body}"
    );

    // The publisher restarts ICE (new credentials): 200 with the server's new ones, a new ETag,
    // and the picture stays on air over the restarted session.
    let restart = pc.create_offer(Some(RTCOfferOptions { ice_restart: true, ..Default::default() })).await.unwrap();
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(restart).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(3), gathered.recv()).await;
    let restarted = pc.local_description().await.unwrap().sdp;
    assert_ne!(fragment_of(&restarted).lines().next(), Some(ufrag), "new credentials");
    let (status, headers, fragment) = patch(&app, &location, &owner, FRAG, Some(&etag), &fragment_of(&restarted)).await;
    assert_eq!(status, StatusCode::OK, "{fragment}");
    assert_eq!(headers.get("content-type").unwrap(), FRAG);
    let new_etag = headers.get("etag").unwrap().to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let old_ufrag = answer.lines().find(|l| l.starts_with("a=ice-ufrag:")).unwrap();
    assert!(fragment.contains("a=ice-ufrag:") && !fragment.contains(old_ufrag), "{fragment}");
    assert!(fragment.contains("a=candidate:"), "{fragment}");
    pc.set_remote_description(RTCSessionDescription::answer(with_fragment(&answer, &fragment)).unwrap()).await.unwrap();
    let (status, _, body) = patch(&app, &location, &owner, FRAG, Some(&etag), &late).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "the old ICE session's tag: {body}");

    let before = summary(&app, &id, &owner).await["pipeline"]["publisher"]["rtp_packets"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let body = summary(&app, &id, &owner).await;
    let publisher = &body["pipeline"]["publisher"];
    assert!(publisher["rtp_packets"].as_u64().unwrap() > before + 30, "packets flow after the restart: {body}");
    assert_eq!(publisher["on_air"], true, "{body}");
    assert_eq!(publisher["gaps"], 0, "the restart cost no gap: {body}");
    assert_eq!(pc.connection_state().to_string(), "connected");

    sending.abort();
    let _ = pc.close().await;
    let (status, _) = app.call(Method::DELETE, &format!("/api/live/{id}"), Some(&owner), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
