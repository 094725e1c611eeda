// SPDX-License-Identifier: MPL-2.0
//! "Use my camera" in a real headless Chromium: its fake camera and
//! microphone play files made from `../shared/media`, the presenter starts a
//! browser show from the studio page, picks 360p and goes on air over WHIP;
//! the server receives pictures at that size and sound, and the page's
//! processed preview (WHEP) plays. Everything on loopback; a screenshot lands
//! in `target/ui-screenshots/`.

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::time::{Duration, Instant};

use browser::{presenter_devices, Browser};
use common::TestApp;
use serde_json::json;
use tokio::net::TcpListener;

const PASSWORD: &str = "correct horse battery";

/// The preview's `<video>` inside the page's preview frame (same origin).
const PREVIEW: &str = "document.getElementById('preview')?.contentDocument?.getElementById('preview')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presenter_goes_live_from_their_own_browsers_camera() {
    let started = Instant::now();
    if std::env::var_os("REENACT_MODELS").is_none() {
        std::env::set_var("REENACT_MODELS", common::shared("models"));
    }
    let media = tempfile::tempdir().unwrap();
    let (video, audio) = presenter_devices(media.path());

    let app = TestApp::sqlite().await;
    let mut state = app.state.clone();
    state.presets = common::presets_with_live_small(30);
    let router = reenact_server::app(state);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
    });
    let url = |path: &str| format!("http://{addr}{path}");

    let b = Browser::with_devices(&video, &audio).await;
    b.client.goto(&url("/signup")).await.unwrap();
    b.live("#auth-form").await;
    b.fill("#email", "presenter@laptop.example").await;
    b.fill("#password", PASSWORD).await;
    b.click("#auth-form button[type=submit]").await;
    b.wait("projects", "location.pathname === '/projects'", Duration::from_secs(15)).await;

    // "Use my camera" picks the browser source; the show starts on its attract picture.
    b.client.goto(&url("/studio")).await.unwrap();
    b.live("#start-live").await;
    b.wait(
        "live presets",
        "document.querySelector('#live-preset option[value=\"live-360p\"]') !== null",
        Duration::from_secs(10),
    )
    .await;
    b.click("#use-camera").await;
    b.wait("the browser source", "document.getElementById('source').value === 'browser'", Duration::from_secs(5)).await;
    b.client
        .execute("const s = document.getElementById('live-preset'); s.value = 'live-360p'; s.dispatchEvent(new Event('change'));", vec![])
        .await
        .unwrap();
    b.click("#start-live button[type=submit]").await;
    b.wait("the show page", "location.pathname.startsWith('/studio/')", Duration::from_secs(30)).await;
    let session = b.eval("location.pathname.split('/').pop()").await.as_str().unwrap().to_owned();
    b.live("#camera-panel").await;

    // 360p, then on air: the self-view shows the camera at that size.
    b.client
        .execute("const s = document.getElementById('camera-resolution'); s.value = '640x360';", vec![])
        .await
        .unwrap();
    b.click("#camera-start").await;
    b.wait(
        "on air",
        "document.getElementById('camera-status').textContent.startsWith('On air')",
        Duration::from_secs(20),
    )
    .await;
    let self_view = b
        .wait(
            "the self-view",
            "(v => v.videoWidth ? [v.videoWidth, v.videoHeight] : null)(document.getElementById('self-view'))",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(self_view, json!([640, 360]), "the camera gives the chosen size");
    let cameras = b.eval("document.querySelectorAll('#camera-device option').length").await;
    assert!(cameras.as_u64().unwrap_or(0) >= 1, "the camera picker lists the fake camera");
    let mics = b.eval("document.querySelectorAll('#mic-device option').length").await;
    assert!(mics.as_u64().unwrap_or(0) >= 1, "the microphone picker lists the fake microphone");

    // The server: the publisher on air, its pictures at 640x360, its sound heard.
    let show = app.state.live.get(&session).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let publisher = loop {
        let publisher = show.summary().pipeline.and_then(|p| p.publisher).expect("a browser show's publisher figures");
        // The browser's encoder may start smaller while its bandwidth estimate ramps up.
        let chosen = (publisher.width, publisher.height) == (640, 360);
        if publisher.on_air && chosen && publisher.frames > 30 && publisher.sound_peak > 0.01 {
            break publisher;
        }
        assert!(Instant::now() < deadline, "the publisher on air with pictures and sound: {publisher:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(show.publisher_state().is_some(), "the show names its publisher");

    // The processed preview plays over WHEP beside the self-view.
    b.wait("the preview playing", &format!("({PREVIEW})?.videoWidth > 0"), Duration::from_secs(20)).await;
    let before = b.eval(&format!("({PREVIEW}).currentTime")).await.as_f64().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = b.eval(&format!("({PREVIEW}).currentTime")).await.as_f64().unwrap();
    assert!(after > before + 0.5, "the preview's time advances: {before} -> {after}");
    b.wait(
        "the presenter readout",
        "document.getElementById('publisher-state')?.dataset.onAir === 'true'",
        Duration::from_secs(5),
    )
    .await;
    b.shot("30-live-my-camera").await;

    // Stopping the camera hands the show back to its attract picture.
    b.click("#camera-stop").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while show.summary().pipeline.and_then(|p| p.publisher).is_some_and(|p| p.on_air) {
        assert!(Instant::now() < deadline, "the publisher leaves when the camera stops");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(show.publisher_state().is_none());
    let _ = b.client.clone().close().await;
    app.state.live.stop_all().await;
    eprintln!(
        "camera flow took {:.1} s; publisher {}x{}, {} frames, sound peak {:.2}",
        started.elapsed().as_secs_f64(),
        publisher.width,
        publisher.height,
        publisher.frames,
        publisher.sound_peak
    );
}
