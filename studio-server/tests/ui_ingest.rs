// SPDX-License-Identifier: MPL-2.0
//! Going live from the presenter's own browser, watched from another: two headless
//! Chromiums on loopback, the presenter's with a fake camera and microphone playing the
//! still presenter clip, publishing over WHIP from the studio page; the viewer's playing
//! the show over WHEP.
//!
//! - The viewer gets pictures at the size the presenter chose and hears the sound; with a
//!   character's face swap on, the face region of what it sees differs from the published
//!   picture while the rest does not.
//! - The same with both browsers allowed relayed routes only, through coturn on loopback.
//! - The presenter's browser killed mid-show: the viewer keeps playing the attract picture,
//!   the show counts the gap, and a new browser of the presenter's goes on air again.
//!
//! Screenshots land in `target/ui-screenshots/`.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/forms.rs"]
mod forms;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use browser::{presenter_devices, Browser};
use common::TestApp;
use reenact_server::live::network::LiveNetwork;
use reenact_server::live::{LiveHub, LivePolicy};
use serde_json::{json, Value};

const EMAIL: &str = "presenter@laptop.example";
const PASSWORD: &str = "correct horse battery";

/// The still portrait's face in a 640x360 picture of the presenter clip, and a margin
/// around it that the swap's blended edge may reach.
const FACE: [u32; 4] = [255, 45, 345, 135];
const NEAR_FACE: [u32; 4] = [215, 5, 385, 185];

/// The studio on loopback with the small preset and `network`; the presenter signed up, a
/// project with a character whose face is a GRID speaker's, and a browser show of that
/// project waiting for its publisher.
struct Studio {
    app: TestApp,
    base: String,
    token: String,
    session: String,
    media: tempfile::TempDir,
}

impl Studio {
    async fn start(network: LiveNetwork) -> Self {
        forms::use_shared_models();
        let mut app = TestApp::sqlite().await;
        // 25 fps: the fake camera's own rate.
        app.state.presets = common::presets_with_live_small(25);
        app.state.live = Arc::new(LiveHub::new(LivePolicy { network: Arc::new(network), ..LivePolicy::default() }));
        app.router = reenact_server::app(app.state.clone());
        let base = format!("http://{}", app.serve().await);
        let (token, _) = app.sign_up(EMAIL).await;

        let media = tempfile::tempdir().unwrap();
        let portrait = grid_portrait(media.path());
        let project = forms::project(&app, &token, "Laptop show").await;
        let (status, character) = forms::post_form(
            &app,
            &format!("/api/projects/{project}/characters"),
            &token,
            &[("name", "Speaker"), ("rights_basis", "consent"), ("rights_granted_by", "the speaker")],
            Some(("portrait", "speaker.png", &std::fs::read(&portrait).unwrap())),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{character}");
        let start = json!({ "source": "browser", "preset": "live-360p", "project_id": project });
        let (status, show) = app.call(Method::POST, "/api/live", Some(&token), Some(start)).await;
        assert_eq!(status, StatusCode::CREATED, "{show}");
        let session = show["id"].as_str().unwrap().to_owned();
        Studio { app, base, token, session, media }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn summary(&self) -> Value {
        let (status, body) =
            self.app.call(Method::GET, &format!("/api/live/{}", self.session), Some(&self.token), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The presenter's browser: signed in, on the show's page, on air at 640x360.
    async fn presenter(&self) -> Browser {
        let (video, audio) = presenter_devices(self.media.path());
        let b = Browser::with_devices(&video, &audio).await;
        b.sign_in(&self.base, EMAIL, PASSWORD).await;
        b.goto(&self.url(&format!("/studio/{}", self.session))).await;
        b.live("#camera-panel").await;
        b.client.execute("document.getElementById('camera-resolution').value = '640x360';", vec![]).await.unwrap();
        b.click("#camera-start").await;
        b.wait(
            "on air",
            "document.getElementById('camera-status').textContent.startsWith('On air')",
            Duration::from_secs(30),
        )
        .await;
        b
    }

    /// Waits until the publisher's pictures arrive at 640x360 with sound.
    async fn publisher_on_air(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let publisher = self.summary().await["pipeline"]["publisher"].clone();
            let chosen = publisher["width"] == 640 && publisher["height"] == 360;
            if publisher["on_air"] == true && chosen && publisher["sound_peak"].as_f64().unwrap_or(0.0) > 0.01 {
                return publisher;
            }
            assert!(Instant::now() < deadline, "the publisher on air at 640x360 with sound: {publisher}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits until `count` viewers' pages report playing pictures, at least one of them
    /// (an unmuted page: the browser measures only the sound it plays) hearing sound.
    async fn viewers_playing(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let summary = self.summary().await;
            let reports: Vec<Value> = summary["viewers"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| v["report"].as_object().map(|r| Value::Object(r.clone())))
                .collect();
            let playing = |r: &Value| r["frames"].as_u64().unwrap_or(0) > 25;
            let heard = |r: &Value| r["audio_level"].as_f64().unwrap_or(0.0) > 0.001;
            if reports.len() >= count && reports.iter().all(playing) && reports.iter().any(heard) {
                return reports;
            }
            assert!(Instant::now() < deadline, "{count} viewers playing with sound: {}", summary["viewers"]);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// A GRID speaker's face as a portrait: someone else than the presenter clip's astronaut.
fn grid_portrait(dir: &Path) -> PathBuf {
    let png = dir.join("speaker.png");
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-ss", "1", "-i"])
        .arg(common::shared("media/grid/grid_bbaf2n.mp4"))
        .args(["-frames:v", "1"])
        .arg(&png)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    png
}

/// The published picture (the presenter clip's still frame) at 640x360, as a data URL.
fn published_picture(dir: &Path) -> String {
    let png = dir.join("published.png");
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-ss", "1", "-i"])
        .arg(common::shared("media/synthetic/presenter_astronaut_1280x720_25fps.mp4"))
        .args(["-frames:v", "1", "-vf", "scale=640:360"])
        .arg(&png)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    use base64::Engine as _;
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(std::fs::read(png).unwrap()))
}

/// Mean absolute luma difference between the viewer's current frame and `reference`
/// inside [`FACE`] and outside [`NEAR_FACE`]: `[face, rest]`.
async fn difference(viewer: &Browser, video: &str, reference: &str) -> (f64, f64) {
    let script = format!(
        r#"(async () => {{
  const v = {video};
  const img = new Image(); img.src = {reference:?}; await img.decode();
  const grab = (source) => {{
    const c = document.createElement('canvas'); c.width = 640; c.height = 360;
    const g = c.getContext('2d'); g.drawImage(source, 0, 0, 640, 360);
    return g.getImageData(0, 0, 640, 360).data;
  }};
  const a = grab(v), b = grab(img);
  const [fx0, fy0, fx1, fy1] = {FACE:?}, [nx0, ny0, nx1, ny1] = {NEAR_FACE:?};
  let face = 0, faceN = 0, rest = 0, restN = 0;
  for (let y = 0; y < 360; y++) for (let x = 0; x < 640; x++) {{
    const p = (y * 640 + x) * 4;
    const d = Math.abs((0.299 * a[p] + 0.587 * a[p + 1] + 0.114 * a[p + 2]) - (0.299 * b[p] + 0.587 * b[p + 1] + 0.114 * b[p + 2]));
    if (x >= fx0 && x < fx1 && y >= fy0 && y < fy1) {{ face += d; faceN++; }}
    else if (x < nx0 || x >= nx1 || y < ny0 || y >= ny1) {{ rest += d; restN++; }}
  }}
  return [face / faceN, rest / restN];
}})()"#
    );
    let value = viewer.eval_async(&script).await;
    let pair = value.as_array().unwrap_or_else(|| panic!("no frame comparison: {value}"));
    (pair[0].as_f64().unwrap(), pair[1].as_f64().unwrap())
}

/// The viewer page's `<video>`.
const VIEWER: &str = "document.getElementById('preview')";

/// Waits until `video` plays 640x360 pictures; unmutes it (as a viewer clicks to hear).
async fn viewer_plays(viewer: &Browser, video: &str) {
    viewer
        .wait(
            "the viewer's pictures at 640x360",
            &format!("(v => v && v.videoWidth === 640 && v.videoHeight === 360)({video})"),
            Duration::from_secs(30),
        )
        .await;
    let before = viewer.eval(&format!("({video}).currentTime")).await.as_f64().unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let after = viewer.eval(&format!("({video}).currentTime")).await.as_f64().unwrap();
    assert!(after > before + 0.5, "the viewer's time advances: {before} -> {after}");
    viewer.eval(&format!("(v => {{ v.muted = false; v.play(); return true; }})({video})")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_browser_watches_the_presenter_with_the_characters_face() {
    let studio = Studio::start(LiveNetwork::default()).await;
    let presenter = studio.presenter().await;
    studio.publisher_on_air().await;

    let viewer = Browser::open().await;
    viewer.goto(&studio.url(&format!("/live/{}", studio.session))).await;
    viewer_plays(&viewer, VIEWER).await;
    // Two pages watch: the presenter's own preview and the second browser.
    let reports = studio.viewers_playing(2).await;
    for report in &reports {
        assert_eq!((report["width"].as_u64(), report["height"].as_u64()), (Some(640), Some(360)), "{report}");
    }

    // Without a character, what the viewer sees is what the camera published.
    let published = published_picture(studio.media.path());
    let (plain, rest) = difference(&viewer, VIEWER, &published).await;
    eprintln!("no swap: face region {plain:.1} levels off the published picture, rest {rest:.1}");
    assert!(plain < 6.0 && rest < 6.0, "the viewer sees the published picture: face {plain:.1}, rest {rest:.1}");

    let switch = json!({ "character": "Speaker", "elements": { "faceswap": true } });
    let (status, body) = studio
        .app
        .call(Method::PATCH, &format!("/api/live/{}", studio.session), Some(&studio.token), Some(switch))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let (face, rest) = loop {
        let (face, rest) = difference(&viewer, VIEWER, &published).await;
        if face > 12.0 || Instant::now() > deadline {
            break (face, rest);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    viewer.shot("31-viewer-swapped-face").await;
    eprintln!("swap on: face region {face:.1} levels off the published picture, rest {rest:.1}");
    // Measured: 2.4 levels without the swap, 21.4 with it; the rest 2.3 both times.
    assert!(face > 12.0 && face > 4.0 * plain, "the character's face replaces the presenter's: {face:.1} levels off");
    assert!(rest < 6.0, "outside the face the picture stays the published one: {rest:.1} levels off");
    drop(presenter);
    studio.app.state.live.stop_all().await;
}

/// coturn on loopback with a shared secret (as `use-auth-secret` deployments run it),
/// relaying to loopback peers; its log tells whether anything was relayed.
struct Relay {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Relay {
    fn start(secret: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.path().join("turn.log");
        let child = Command::new("turnserver")
            // -v: one log line per allocation, which the test counts.
            .args(["-v", "-n", "--no-cli", "--no-tls", "--no-dtls", "--simple-log", "--allow-loopback-peers"])
            .args(["--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", "--realm=reenact.test"])
            .arg(format!("--listening-port={port}"))
            .args(["--min-port=49400", "--max-port=49600", "--use-auth-secret"])
            .arg(format!("--static-auth-secret={secret}"))
            .arg(format!("--userdb={}", dir.path().join("turndb").display()))
            .arg(format!("--pidfile={}", dir.path().join("turn.pid").display()))
            .arg(format!("--log-file={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnserver (scripts/setup.sh installs coturn)");
        Relay { child, port, log, _dir: dir }
    }

    /// Relay allocations the server logged so far.
    fn allocations(&self) -> usize {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter(|line| line.contains("ALLOCATE") && line.contains("success")).count()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_show_flows_through_a_turn_relay_only() {
    let secret = "loopback-relay-secret";
    let relay = Relay::start(secret);
    let network = LiveNetwork {
        ice_servers: vec![format!("turn:127.0.0.1:{}?transport=udp", relay.port)],
        turn_secret: Some(secret.to_owned()),
        relay_only: true,
        ..LiveNetwork::default()
    };
    network.check().unwrap();
    let studio = Studio::start(network).await;
    let presenter = studio.presenter().await;
    studio.publisher_on_air().await;
    let route = presenter
        .wait(
            "the presenter's route",
            "document.getElementById('camera-status').dataset.route",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(route, "relay", "the presenter publishes through the relay");

    // The second browser is the presenter's producer, signed in to the same studio: its
    // preview asks for the owner's relay credentials too.
    let producer = Browser::open().await;
    producer.sign_in(&studio.base, EMAIL, PASSWORD).await;
    producer.goto(&studio.url(&format!("/studio/{}", studio.session))).await;
    let preview = "document.getElementById('preview')?.contentDocument?.getElementById('preview')";
    viewer_plays(&producer, preview).await;
    let reports = studio.viewers_playing(2).await;
    for report in &reports {
        assert_eq!(report["route"], "relay", "every viewer is relayed: {report}");
    }
    producer.shot("32-relay-only-viewer").await;
    let allocations = relay.allocations();
    eprintln!("relay: {allocations} allocations; viewers {reports:?}");
    assert!(allocations >= 3, "the relay allocated for the publisher and both viewers: {allocations}");

    // Both pages change networks (the browser's `online` event): each restarts ICE on its
    // own resource through the relay, with no new publisher or viewer and no reload.
    let before = studio.summary().await;
    let viewer_ids: Vec<Value> = before["viewers"].as_array().unwrap().iter().map(|v| v["id"].clone()).collect();
    presenter.eval("dispatchEvent(new Event('online')) || true").await;
    producer.eval(&format!("({preview}).ownerDocument.defaultView.dispatchEvent(new Event('online')) || true")).await;
    let restarted = "document.getElementById('camera-status').dataset.iceRestarts === '1' && \
        document.getElementById('camera-status').textContent.startsWith('On air')";
    presenter.wait("the presenter's ICE restart", restarted, Duration::from_secs(20)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let summary = studio.summary().await;
        let mended = summary["viewers"].as_array().unwrap().iter().any(|v| v["report"]["ice_restarts"] == 1);
        if mended || Instant::now() > deadline {
            break summary;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let ids: Vec<Value> = after["viewers"].as_array().unwrap().iter().map(|v| v["id"].clone()).collect();
    assert_eq!(ids, viewer_ids, "the same viewers, restarted in place: {}", after["viewers"]);
    assert!(
        after["viewers"].to_string().contains("\"ice_restarts\":1"),
        "the preview restarted ICE: {}",
        after["viewers"]
    );
    let publisher = &after["pipeline"]["publisher"];
    assert_eq!(publisher["publishers"], before["pipeline"]["publisher"]["publishers"], "no new publisher: {publisher}");
    let frames = |s: &Value| s["pipeline"]["publisher"]["frames"].as_u64().unwrap_or(0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = studio.summary().await;
    assert!(frames(&later) > frames(&after) + 20, "the publisher's pictures keep coming after the restart");
    viewer_plays(&producer, preview).await;
    eprintln!("ICE restarts: relay allocations {} after, {allocations} before", relay.allocations());
    drop(presenter);
    studio.app.state.live.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_presenter_browser_leaves_viewers_playing_and_comes_back() {
    let studio = Studio::start(LiveNetwork::default()).await;
    let mut presenter = studio.presenter().await;
    studio.publisher_on_air().await;
    let viewer = Browser::open().await;
    viewer.goto(&studio.url(&format!("/live/{}", studio.session))).await;
    viewer_plays(&viewer, VIEWER).await;

    // The laptop dies: no page unload, no WHIP DELETE. The server notices within seconds.
    presenter.kill();
    let killed = Instant::now();
    loop {
        let publisher = studio.summary().await["pipeline"]["publisher"].clone();
        if publisher["on_air"] == false {
            break;
        }
        assert!(killed.elapsed() < Duration::from_secs(15), "the vanished publisher is noticed: {publisher}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let noticed = killed.elapsed();
    // Meanwhile the viewer keeps playing (the attract picture), on the same connection.
    let before = viewer.eval(&format!("({VIEWER}).currentTime")).await.as_f64().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = viewer.eval(&format!("({VIEWER}).currentTime")).await.as_f64().unwrap();
    assert!(after > before + 1.0, "the viewer plays on while the presenter is gone: {before} -> {after}");

    // The presenter opens the show again from a new browser: on air again, the gap counted.
    let presenter = studio.presenter().await;
    let publisher = studio.publisher_on_air().await;
    assert!(publisher["publishers"].as_u64().unwrap() >= 2, "{publisher}");
    assert!(publisher["gaps"].as_u64().unwrap() >= 1, "the show counts the gap: {publisher}");
    assert!(publisher["gap_s"].as_f64().unwrap() >= 2.0, "the gap's length is counted: {publisher}");
    let viewers = studio.summary().await["viewers"].as_array().unwrap().len();
    assert!(viewers >= 2, "the viewer stayed connected through the gap");
    let after_return = viewer.eval(&format!("({VIEWER}).currentTime")).await.as_f64().unwrap();
    assert!(after_return > after, "the viewer still plays");
    eprintln!("publisher vanished, noticed in {:.1} s; back on air: {publisher}", noticed.as_secs_f64());
    drop(presenter);
    studio.app.state.live.stop_all().await;
}
