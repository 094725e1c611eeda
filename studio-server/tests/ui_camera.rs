// SPDX-License-Identifier: MPL-2.0
//! "Use my camera" in a real headless Chromium: its fake camera and
//! microphone play files made from `../shared/media`, the presenter starts a
//! browser show from the studio page, picks 360p and goes on air over WHIP;
//! the server receives pictures at that size and sound, and the page's
//! processed preview (WHEP) plays. Everything on loopback; a screenshot lands
//! in `target/ui-screenshots/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestApp;
use fantoccini::{Client, ClientBuilder, Locator};
use reenact_engine::PresetLibrary;
use serde_json::{json, Value};
use tokio::net::TcpListener;

const PASSWORD: &str = "correct horse battery";

/// A small live preset, so the show encodes 640x360 rather than 720p.
const LIVE_SMALL: &str = r#"
name = "live-360p"
description = "live 640x360 for tests"
mode = "live"
container = "mp4"
crop = "center"
captions = "off"
[video]
width = 640
height = 360
fps = 30
encoder = "x264"
bitrate_kbps = 800
speed_preset = "ultrafast"
keyframe_interval_s = 1.0
[audio]
codec = "aac"
bitrate_kbps = 96
sample_rate = 48000
channels = 2
"#;

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The fake camera and microphone: the presenter clip as raw 1280x720 video (Chromium
/// scales it to what the page asks for) and its speech as a WAV, 3 s, looped by Chromium.
fn fake_devices(dir: &Path) -> (PathBuf, PathBuf) {
    let clip = common::shared("media/synthetic/presenter_astronaut_1280x720_25fps.mp4");
    let (video, audio) = (dir.join("camera.y4m"), dir.join("microphone.wav"));
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(&clip)
        .args(["-t", "3", "-an", "-vf", "fps=25", "-pix_fmt", "yuv420p"])
        .arg(&video)
        // Speech starts at 0.31 s: from 1 s on there is always something to hear.
        .args(["-ss", "1", "-t", "3", "-vn", "-ar", "48000", "-ac", "1", "-c:a", "pcm_s16le"])
        .arg(&audio)
        .status()
        .expect("ffmpeg");
    assert!(status.success(), "ffmpeg made the fake devices' files");
    (video, audio)
}

/// chromedriver and a Chromium whose camera and microphone are the files.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn open(video: &Path, audio: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (scripts/setup.sh installs chromium-driver)");
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = common::CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.extend([
            "--window-size=1366,1000".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            // Devices that play files, and a permission prompt that always says yes.
            "--use-fake-device-for-media-stream".to_owned(),
            "--use-fake-ui-for-media-stream".to_owned(),
            format!("--use-file-for-fake-video-capture={}", video.display()),
            format!("--use-file-for-fake-audio-capture={}", audio.display()),
        ]);
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), json!({ "binary": "/usr/bin/chromium", "args": args }));
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                // chromedriver needs a moment before it listens.
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(200)).await,
                Err(err) => panic!("no WebDriver session: {err}"),
            }
        };
        Browser { client, driver, _profile: profile }
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }

    async fn eval(&self, expr: &str) -> Value {
        self.client.execute(&format!("return ({expr});"), vec![]).await.unwrap_or(Value::Null)
    }

    /// Waits until `expr` is truthy; its value. On timeout: a screenshot and the page's text.
    async fn wait(&self, what: &str, expr: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.eval(expr).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                self.shot(&format!("failed-{}", what.replace(' ', "-"))).await;
                let body = self.eval("document.body && document.body.innerText").await;
                panic!("timed out waiting for {what} ({expr}); page text: {body}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        let element = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap();
        element.click().await.unwrap();
    }

    async fn live(&self, css: &str) {
        self.wait(
            &format!("page with {css}"),
            &format!("document.querySelector({css:?}) !== null"),
            Duration::from_secs(15),
        )
        .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The preview's `<video>` inside the page's preview frame (same origin).
const PREVIEW: &str = "document.getElementById('preview')?.contentDocument?.getElementById('preview')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presenter_goes_live_from_their_own_browsers_camera() {
    let started = Instant::now();
    if std::env::var_os("REENACT_MODELS").is_none() {
        std::env::set_var("REENACT_MODELS", common::shared("models"));
    }
    let media = tempfile::tempdir().unwrap();
    let (video, audio) = fake_devices(media.path());

    let app = TestApp::sqlite().await;
    let presets = tempfile::tempdir().unwrap();
    std::fs::write(presets.path().join("live-360p.toml"), LIVE_SMALL).unwrap();
    let mut library = PresetLibrary::builtin().unwrap();
    library.add_dir(presets.path()).unwrap();
    let mut state = app.state.clone();
    state.presets = Arc::new(library);
    let router = reenact_server::app(state);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
    });
    let url = |path: &str| format!("http://{addr}{path}");

    let b = Browser::open(&video, &audio).await;
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
