// SPDX-License-Identifier: MPL-2.0
//! The preview player: a project's timeline (with a scene played by a character) started
//! at a point, watched by a real WebRTC client over the preview's WHEP, paused and moved
//! by `PATCH`, stopped by `DELETE`, replaced by the owner's next preview and stopped by
//! itself once nobody watches. What it shows against the render is tested in the
//! engine (`engine/tests/cast.rs`). The benchmark (`--ignored`) measures start and seek.

mod common;
#[path = "common/forms.rs"]
mod forms;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{expect_error, whep_offer_sdp, TestApp};
use forms::{astronaut, media, project, roomy, use_shared_models};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;

/// The owner's project: the GRID take on the timeline, a character playing 1.0-2.4 s.
async fn scene_project(app: &TestApp, token: &str) -> String {
    let project = project(app, token, "Preview").await;
    let (status, clip) = app.upload(&project, "take.mp4", &media("grid/grid_bbaf2n.mp4"), token).await;
    assert_eq!(status, StatusCode::CREATED, "{clip}");
    let timeline = json!({ "timeline": { "tracks": [{ "clips": [{ "source": clip["id"] }] }] } });
    let (status, body) =
        app.call(Method::PATCH, &format!("/api/projects/{project}"), Some(token), Some(timeline)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let character = astronaut(app, token, &project).await;
    let scene = json!({ "start": 1.0, "end": 2.4, "character_id": character["id"] });
    let uri = format!("/api/projects/{project}/scenes");
    let (status, body) = app.call(Method::POST, &uri, Some(token), Some(scene)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    project
}

/// What a WHEP client received: the arrival of each first packet of a video frame, and
/// of each keyframe's.
#[derive(Default)]
struct Arrivals {
    frames: Mutex<Vec<Instant>>,
    keyframes: Mutex<Vec<Instant>>,
    packets: AtomicU64,
}

/// Whether an H.264 RTP payload starts a keyframe: an IDR or parameter set, alone,
/// first in a STAP-A, or the start of a fragmented IDR.
fn starts_keyframe(payload: &[u8]) -> bool {
    let key = |nal: u8| matches!(nal & 0x1f, 5 | 7);
    match payload.first().map(|b| b & 0x1f) {
        Some(24) => payload.get(3).is_some_and(|b| key(*b)),
        Some(28) => payload.get(1).is_some_and(|b| b & 0x80 != 0 && b & 0x1f == 5),
        Some(nal) => key(nal),
        None => false,
    }
}

/// Connects a receive-only WebRTC client to the preview's WHEP URL; records its video.
async fn watch(app: &TestApp, whep_url: &str, token: &str) -> (RTCPeerConnection, Arc<Arrivals>) {
    let (pc, offer) = whep_offer_sdp().await;
    let arrivals = Arc::new(Arrivals::default());
    let seen = Arc::clone(&arrivals);
    pc.on_track(Box::new(move |track, _, _| {
        let seen = Arc::clone(&seen);
        Box::pin(async move {
            if track.kind() != webrtc::rtp_transceiver::rtp_codec::RTPCodecType::Video {
                return;
            }
            let mut frame_start = true;
            while let Ok((packet, _)) = track.read_rtp().await {
                seen.packets.fetch_add(1, Ordering::Relaxed);
                if frame_start {
                    seen.frames.lock().unwrap().push(Instant::now());
                    if starts_keyframe(&packet.payload) {
                        seen.keyframes.lock().unwrap().push(Instant::now());
                    }
                }
                // The marker bit ends a frame: the next packet starts one.
                frame_start = packet.header.marker;
            }
        })
    }));
    let request = Request::builder()
        .method(Method::POST)
        .uri(whep_url)
        .header("content-type", "application/sdp")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(offer))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers().get("location").unwrap().to_str().unwrap().to_owned();
    assert!(location.starts_with(whep_url), "{location}");
    let answer = response.into_body().collect().await.unwrap().to_bytes();
    let answer = RTCSessionDescription::answer(String::from_utf8(answer.to_vec()).unwrap()).unwrap();
    pc.set_remote_description(answer).await.unwrap();
    (pc, arrivals)
}

/// Waits until `list` has an entry after `since`; when it arrived.
async fn first_after(list: &Mutex<Vec<Instant>>, since: Instant, what: &str) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(at) = list.lock().unwrap().iter().find(|t| **t > since) {
            return *at;
        }
        assert!(Instant::now() < deadline, "no {what} in 30 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn start(app: &TestApp, project: &str, token: &str, at: f64) -> Value {
    let uri = format!("/api/projects/{project}/preview");
    let (status, preview) = app.call(Method::POST, &uri, Some(token), Some(json!({ "at": at }))).await;
    assert_eq!(status, StatusCode::CREATED, "{preview}");
    preview
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_plays_over_whep_pauses_seeks_and_stops() {
    use_shared_models();
    let app = roomy(TestApp::sqlite().await, 50_000_000);
    let (token, _) = app.sign_up("editor@museum.org").await;
    let (other, _) = app.sign_up("other@museum.org").await;
    let project = scene_project(&app, &token).await;
    let uri = format!("/api/projects/{project}/preview");

    // Bad points are refused, naming `at`; another user's project is not found.
    let at = |v: Value| Some(json!({ "at": v }));
    expect_error(app.call(Method::POST, &uri, Some(&token), at(json!(-1))).await, StatusCode::BAD_REQUEST, "at:");
    expect_error(
        app.call(Method::POST, &uri, Some(&token), at(json!(60.0))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "at: 60 is outside the timeline",
    );
    assert_eq!(app.call(Method::POST, &uri, Some(&other), at(json!(0.5))).await.0, StatusCode::NOT_FOUND);

    let asked = Instant::now();
    let preview = start(&app, &project, &token, 0.5).await;
    let id = preview["id"].as_str().unwrap().to_owned();
    assert_eq!((preview["width"].as_u64(), preview["height"].as_u64()), (Some(360), Some(288)), "{preview}");
    assert!((preview["duration"].as_f64().unwrap() - 3.0).abs() < 0.1, "{preview}");
    let whep_url = preview["whep_url"].as_str().unwrap().to_owned();
    let (pc, arrivals) = watch(&app, &whep_url, &token).await;
    let first = first_after(&arrivals.frames, asked, "video frame").await;
    eprintln!("preview start: first WHEP frame {:.3} s after the request", (first - asked).as_secs_f64());
    let me = format!("{uri}/{id}");

    // Another user can neither see nor drive nor watch it.
    assert_eq!(app.call(Method::GET, &me, Some(&other), None).await.0, StatusCode::NOT_FOUND);
    let pause = Some(json!({ "playing": false }));
    assert_eq!(app.call(Method::PATCH, &me, Some(&other), pause.clone()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::DELETE, &me, Some(&other), None).await.0, StatusCode::NOT_FOUND);

    // Seek into the scene: a fresh keyframe follows, the position is there.
    let asked = Instant::now();
    let (status, moved) = app.call(Method::PATCH, &me, Some(&token), at(json!(1.5))).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let key = first_after(&arrivals.keyframes, asked, "keyframe after the seek").await;
    eprintln!("seek: keyframe over WHEP {:.3} s after the request", (key - asked).as_secs_f64());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, now) = app.call(Method::GET, &me, Some(&token), None).await;
    let position = now["position"].as_f64().unwrap();
    assert!((1.5..2.5).contains(&position), "after a seek to 1.5 s: {now}");
    assert_eq!(now["playing"], true);
    assert_eq!(now["viewers"], 1);
    expect_error(
        app.call(Method::PATCH, &me, Some(&token), at(json!(9.0))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "at:",
    );
    expect_error(app.call(Method::PATCH, &me, Some(&token), Some(json!({}))).await, StatusCode::BAD_REQUEST, "playing");

    // Paused: no more frames, the position stays.
    let (status, paused) = app.call(Method::PATCH, &me, Some(&token), pause).await;
    assert_eq!((status, &paused["playing"]), (StatusCode::OK, &json!(false)), "{paused}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (held, since) = (arrivals.frames.lock().unwrap().len(), Instant::now());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(arrivals.frames.lock().unwrap().len() <= held + 1, "frames kept coming while paused");
    let (_, still) = app.call(Method::GET, &me, Some(&token), None).await;
    assert!((still["position"].as_f64().unwrap() - paused["position"].as_f64().unwrap()).abs() < 0.1, "{still}");
    let (status, _) = app.call(Method::PATCH, &me, Some(&token), Some(json!({ "playing": true }))).await;
    assert_eq!(status, StatusCode::OK);
    first_after(&arrivals.frames, since, "frame after playing again").await;

    assert_eq!(app.call(Method::DELETE, &me, Some(&token), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.call(Method::GET, &me, Some(&token), None).await.0, StatusCode::NOT_FOUND);
    let _ = pc.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_preview_replaces_the_old_and_an_unwatched_one_stops() {
    use_shared_models();
    let app = roomy(TestApp::sqlite().await, 50_000_000);
    let (token, _) = app.sign_up("editor@museum.org").await;
    let project = scene_project(&app, &token).await;
    let uri = format!("/api/projects/{project}/preview");
    let first = start(&app, &project, &token, 0.0).await;
    let second = start(&app, &project, &token, 1.0).await;
    let (first, second) =
        (format!("{uri}/{}", first["id"].as_str().unwrap()), format!("{uri}/{}", second["id"].as_str().unwrap()));
    assert_eq!(
        app.call(Method::GET, &first, Some(&token), None).await.0,
        StatusCode::NOT_FOUND,
        "one preview per user"
    );
    assert_eq!(app.call(Method::GET, &second, Some(&token), None).await.0, StatusCode::OK);
    // Nobody connects: the page is gone.
    tokio::time::sleep(reenact_server::live::preview::IDLE + Duration::from_secs(2)).await;
    assert_eq!(app.call(Method::GET, &second, Some(&token), None).await.0, StatusCode::NOT_FOUND, "idle preview kept");
}

/// p95 of `samples` (seconds).
fn p95(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() as f64 * 0.95).ceil() as usize).clamp(1, samples.len()) - 1]
}

/// The benchmark of bench/RESULTS.md: 10 starts (request to the first video frame over
/// WHEP, the WebRTC connection included) and 10 seeks (request to the first keyframe after
/// it). `cargo test --workspace --locked --test preview -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run by hand"]
async fn bench_preview_start_and_seek() {
    use_shared_models();
    let app = roomy(TestApp::sqlite().await, 50_000_000);
    let (token, _) = app.sign_up("editor@museum.org").await;
    let project = scene_project(&app, &token).await;
    let (mut starts, mut seeks) = (Vec::new(), Vec::new());
    for run in 0..10 {
        let asked = Instant::now();
        let preview = start(&app, &project, &token, 0.2 * run as f64).await;
        let (pc, arrivals) = watch(&app, preview["whep_url"].as_str().unwrap(), &token).await;
        let first = first_after(&arrivals.frames, asked, "video frame").await;
        starts.push((first - asked).as_secs_f64());
        let me = format!("/api/projects/{project}/preview/{}", preview["id"].as_str().unwrap());
        tokio::time::sleep(Duration::from_millis(300)).await;
        let asked = Instant::now();
        let at = Some(json!({ "at": 2.5 - 0.2 * run as f64 }));
        assert_eq!(app.call(Method::PATCH, &me, Some(&token), at).await.0, StatusCode::OK);
        let key = first_after(&arrivals.keyframes, asked, "keyframe after the seek").await;
        seeks.push((key - asked).as_secs_f64());
        let _ = pc.close().await;
    }
    eprintln!("start s: {starts:.3?}\nseek s: {seeks:.3?}");
    eprintln!("preview start p95 {:.3} s, seek p95 {:.3} s", p95(&mut starts), p95(&mut seeks));
}
