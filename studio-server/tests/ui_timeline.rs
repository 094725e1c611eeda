// SPDX-License-Identifier: MPL-2.0
//! The project page's visual timeline in a real headless Chromium (Debian's chromedriver),
//! driven with WebDriver pointer and key actions: a clip dragged and trimmed, a split at the
//! playhead, undo, a block moved with the keyboard, and a scene dragged past the timeline's
//! end refused with the server's reason while its lane stays as it was. Each step is checked
//! in the project's JSON on the server. The clip's waveform (from its overview job) is drawn
//! in its block, for the trimmed part only. The preview player: Space plays and pauses the
//! project through the render's graph, the playhead follows it, and a paused seek shows its
//! picture. Screenshots land in `target/ui-screenshots/`.

#[path = "common/browser.rs"]
mod browser;
mod common;
#[path = "common/forms.rs"]
mod forms;

use std::time::{Duration, Instant};

use axum::http::Method;
use browser::Browser;
use common::TestApp;
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::Locator;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";

/// The shared browser, with the timeline's own waits and pointer gestures.
struct Timeline(Browser);

impl std::ops::Deref for Timeline {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.0
    }
}

impl Timeline {
    /// Waits up to 10 s until `expr` is truthy in the page.
    async fn wait(&self, what: &str, expr: &str) -> Value {
        self.0.wait(what, expr, Duration::from_secs(10)).await
    }

    /// The element `css`, scrolled to the middle of the window: pointer actions do not scroll.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let element = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap();
        let arg = serde_json::to_value(&element).unwrap();
        self.client.execute("arguments[0].scrollIntoView({ block: 'center' });", vec![arg]).await.unwrap();
        element
    }

    /// Presses on `css` at `x` pixels right of its centre, moves `dx` pixels in steps, releases.
    async fn drag(&self, css: &str, x: f64, dx: f64) {
        let element = self.find(css).await;
        let step = Some(Duration::from_millis(40));
        let actions = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement { element, duration: None, x, y: 0.0 })
            .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
            .then(PointerAction::MoveBy { duration: step, x: dx / 2.0, y: 0.0 })
            .then(PointerAction::MoveBy { duration: step, x: dx / 2.0, y: 0.0 })
            .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
        self.client.perform_actions(actions).await.unwrap();
        self.client.release_actions().await.unwrap();
    }

    /// Clicks `css` at `x` pixels right of its centre.
    async fn click_at(&self, css: &str, x: f64) {
        let element = self.find(css).await;
        let actions = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement { element, duration: None, x, y: 0.0 })
            .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
            .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
        self.client.perform_actions(actions).await.unwrap();
        self.client.release_actions().await.unwrap();
    }
}

/// The project's timeline on the server, and its version.
async fn server_timeline(app: &TestApp, token: &str, id: &str) -> (Value, i64) {
    let (_, project) = app.call(Method::GET, &format!("/api/projects/{id}"), Some(token), None).await;
    (project["timeline"].clone(), project["version"].as_i64().unwrap_or(-1))
}

/// Waits until the server's timeline passes `check`; returns it.
async fn server_until(app: &TestApp, token: &str, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (timeline, _) = server_timeline(app, token, id).await;
        if check(&timeline) {
            return timeline;
        }
        assert!(Instant::now() < deadline, "the server's timeline never showed {what}: {timeline}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn near(value: &Value, want: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - want).abs() < 0.02)
}

/// A project "Gettysburg" with the GRID take on its timeline (0 to 3 s at 0 s, its overview
/// job run) and `scenes`; its owner's token and the project's id.
async fn project_with_take(app: &TestApp, email: &str, scenes: Value) -> (String, String) {
    let (token, _) = app.sign_up(email).await;
    let id = forms::project(app, &token, "Gettysburg").await;
    let (status, clip) = app.upload(&id, "take.mp4", &forms::media("grid/grid_swwp2s.mp4"), &token).await;
    assert_eq!(status.as_u16(), 201, "{clip}");
    let clip = clip["id"].as_str().unwrap().to_string();
    // The upload queued the clip's overview (thumbnail and waveform); run it.
    let overviews =
        reenact_server::jobs::handlers::overview_worker(app.state.db.clone(), app.state.storage.clone(), "o".into());
    assert!(overviews.run_once().await.unwrap().is_some(), "the clip's overview job");
    let first = json!({
        "tracks": [{ "clips": [{ "source": clip, "in": 0.0, "out": 3.0, "position": 0.0 }] }],
        "scenes": scenes,
    });
    let (status, body) =
        app.call(Method::PATCH, &format!("/api/projects/{id}"), Some(&token), Some(json!({ "timeline": first }))).await;
    assert_eq!(status.as_u16(), 200, "{body}");
    (token, id)
}

/// `email` signed in, on project `id`'s page with its timeline drawn.
async fn open_timeline(addr: std::net::SocketAddr, email: &str, id: &str) -> Timeline {
    let b = Timeline(Browser::open().await);
    b.client.goto(&format!("http://{addr}/login")).await.unwrap();
    b.find("#email").await.send_keys(email).await.unwrap();
    b.find("#password").await.send_keys(PASSWORD).await.unwrap();
    b.find("#auth-form button[type=submit]").await.click().await.unwrap();
    b.wait("the projects", "location.pathname === '/projects'").await;
    b.client.goto(&format!("http://{addr}/projects/{id}")).await.unwrap();
    b.wait("the clip block", "document.querySelector('#tl .tl-clip') !== null").await;
    b
}

/// Clicks the ruler at `t` seconds: the playhead (and a running preview) moves there.
async fn click_ruler(b: &Timeline, t: f64) {
    let pps = b.eval("Number(document.getElementById('tl').dataset.pps)").await.as_f64().unwrap();
    let ruler_width = b.eval("document.querySelector('#tl .tl-ruler').getBoundingClientRect().width").await;
    b.click_at("#tl .tl-ruler", t * pps - ruler_width.as_f64().unwrap() / 2.0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clips_and_scenes_are_edited_on_the_timeline() {
    let started = Instant::now();
    let app = TestApp::sqlite().await;
    let addr = app.serve().await;
    let scene = json!([{ "start": 0.5, "end": 2.0, "character": "lincoln", "voice_over": true }]);
    let (token, id) = project_with_take(&app, "editor@museum.org", scene).await;
    let b = open_timeline(addr, "editor@museum.org", &id).await;
    b.wait("the scene block", "document.querySelector('#tl .tl-scene .tl-vo') !== null").await;
    let pps = b.eval("Number(document.getElementById('tl').dataset.pps)").await.as_f64().unwrap();
    // The clip's sound drawn in its block, over the whole clip (0 to 3 s of the source).
    let wave = "(w => w && w.querySelector('path').getAttribute('d').length > 100 ? \
                [w.dataset.from, w.dataset.to].join('-') : '')(document.querySelector('#tl .tl-clip svg.tl-wave'))";
    assert_eq!(b.wait("the clip's waveform", wave).await, "0-3");
    b.shot("timeline-00-opened").await;

    // Dragged one second later.
    b.drag("#tl .tl-clip", 0.0, pps).await;
    server_until(&app, &token, &id, "position 1", |t| near(&t["tracks"][0]["clips"][0]["position"], 1.0)).await;
    b.wait("the block redrawn at 1 s", "document.querySelector('#tl .tl-clip').dataset.start === '1'").await;

    // The end trimmed back half a second, then the start trimmed forward half a second.
    // Held mid-trim, the waveform keeps its scale and the block cuts it off.
    let widths = "[document.querySelector('#tl .tl-clip svg.tl-wave').getBoundingClientRect().width, \
                   document.querySelector('#tl .tl-clip').getBoundingClientRect().width]";
    let before = b.eval(widths).await;
    let element = b.find("#tl .tl-clip .tl-edge-out").await;
    let press = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement { element, duration: None, x: 0.0, y: 0.0 })
        .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
        .then(PointerAction::MoveBy { duration: Some(Duration::from_millis(40)), x: -pps / 2.0, y: 0.0 });
    b.client.perform_actions(press).await.unwrap();
    let during = b.eval(widths).await;
    let release = MouseActions::new("mouse".into()).then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
    b.client.perform_actions(release).await.unwrap();
    b.client.release_actions().await.unwrap();
    let (wave_before, block_during, wave_during) =
        (before[0].as_f64().unwrap(), during[1].as_f64().unwrap(), during[0].as_f64().unwrap());
    assert!((wave_during - wave_before).abs() < 1.0, "the waveform stretched: {before} -> {during}");
    assert!(block_during < wave_before - pps / 4.0, "the block did not shrink: {before} -> {during}");
    server_until(&app, &token, &id, "out 2.5", |t| near(&t["tracks"][0]["clips"][0]["out"], 2.5)).await;
    // Once kept, the waveform of the new range fills the block again.
    b.wait(
        "the waveform unpinned",
        "(w => w && !w.getAttribute('style') && w.dataset.to === '2.5')(document.querySelector('#tl .tl-clip svg.tl-wave'))",
    )
    .await;
    b.wait("the block redrawn 2.5 s long", "document.querySelector('#tl .tl-clip').dataset.length === '2.5'").await;
    b.drag("#tl .tl-clip .tl-edge-in", 0.0, pps / 2.0).await;
    let trimmed = server_until(&app, &token, &id, "in 0.5", |t| near(&t["tracks"][0]["clips"][0]["in"], 0.5)).await;
    let c = &trimmed["tracks"][0]["clips"][0];
    assert!(near(&c["position"], 1.5) && near(&c["out"], 2.5), "{trimmed}");
    b.wait("the block redrawn at 1.5 s", "document.querySelector('#tl .tl-clip').dataset.start === '1.5'").await;
    assert_eq!(b.wait("the waveform of the trimmed part", wave).await, "0.5-2.5");
    b.shot("timeline-01-moved-and-trimmed").await;

    // The playhead at 2 s (a click on the ruler), then S on the selected clip.
    click_ruler(&b, 2.0).await;
    let at = b
        .wait(
            "the playhead at 2 s",
            "(t => Math.abs(parseFloat(t) - 2) < 0.05 ? t : '')(document.getElementById('tl-time').textContent)",
        )
        .await;
    let at: f64 = at.as_str().unwrap().trim_end_matches(" s").parse().unwrap();
    b.find("#tl .tl-clip").await.send_keys("s").await.unwrap();
    let split = server_until(&app, &token, &id, "two clips", |t| {
        t["tracks"][0]["clips"].as_array().is_some_and(|c| c.len() == 2)
    })
    .await;
    let (a, z) = (&split["tracks"][0]["clips"][0], &split["tracks"][0]["clips"][1]);
    assert!(near(&a["in"], 0.5) && near(&a["position"], 1.5) && near(&z["out"], 2.5), "{split}");
    assert!(near(&z["position"], at) && a["out"] == z["in"], "cut at the playhead ({at} s): {split}");
    b.wait("two blocks", "document.querySelectorAll('#tl .tl-clip').length === 2").await;
    b.shot("timeline-02-split").await;

    // Undo (the button) brings back the timeline from before the split, exactly.
    b.find("#tl-undo").await.click().await.unwrap();
    server_until(&app, &token, &id, "the undone split", |t| *t == trimmed).await;
    b.wait("one block again", "document.querySelectorAll('#tl .tl-clip').length === 1").await;

    // The keyboard: an arrow moves the focused block a tenth of a second, Ctrl+Z undoes it.
    b.find("#tl .tl-clip").await.send_keys("\u{E014}").await.unwrap();
    server_until(&app, &token, &id, "position 1.6", |t| near(&t["tracks"][0]["clips"][0]["position"], 1.6)).await;
    b.wait("the block redrawn at 1.6 s", "document.querySelector('#tl .tl-clip').dataset.start === '1.6'").await;
    b.find("#tl .tl-clip").await.send_keys("\u{E009}z\u{E000}").await.unwrap();
    server_until(&app, &token, &id, "the undone arrow", |t| *t == trimmed).await;

    // A scene dragged past the end (3.5 s) is refused with the reason; the lane is unchanged.
    let (before, version) = server_timeline(&app, &token, &id).await;
    b.wait("the block redrawn at 1.5 s", "document.querySelector('#tl .tl-clip').dataset.start === '1.5'").await;
    let scene_left = "document.querySelector('#tl .tl-scene').getBoundingClientRect().left";
    let left = b.eval(scene_left).await;
    b.drag("#tl .tl-scene", 0.0, 3.0 * pps).await;
    let reason = b.wait("the reason", "document.getElementById('tl-message').textContent").await;
    let reason = reason.as_str().unwrap();
    assert!(reason.contains("end: 5 is past the timeline's end (3.5 s)"), "{reason}");
    assert!(reason.contains("scene 1"), "the field is named: {reason}");
    let field = b.eval("document.getElementById('tl-message').dataset.field").await;
    assert_eq!(field, "scenes[0].end");
    assert_eq!(b.eval(scene_left).await, left, "the scene is back where the server has it");
    assert_eq!(server_timeline(&app, &token, &id).await, (before, version), "nothing changed on the server");
    b.shot("timeline-03-scene-refused").await;

    let _ = b.client.clone().close().await;
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}

/// Frames the page's preview video has shown so far.
const SHOWN: &str =
    "(v => v ? v.getVideoPlaybackQuality().totalVideoFrames : 0)(document.getElementById('tl-preview'))";
/// The playhead's time as the page shows it.
const PLAYHEAD: &str = "parseFloat(document.getElementById('tl-time').textContent)";

/// Space plays the project through the preview player from the playhead and the playhead
/// follows it; Space again pauses it (no more pictures, the playhead stays); a click on the
/// ruler while paused shows the picture there at once; the Play button plays on from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_plays_pauses_and_seeks_the_preview() {
    let app = TestApp::sqlite().await;
    let addr = app.serve().await;
    let (_, id) = project_with_take(&app, "player@museum.org", json!([])).await;
    let b = open_timeline(addr, "player@museum.org", &id).await;
    let number = |v: Value| v.as_f64().unwrap_or(f64::NAN);

    b.find("body").await.send_keys(" ").await.unwrap();
    b.wait("the preview's pictures", &format!("{SHOWN} >= 10")).await;
    b.wait("the playhead following the preview", &format!("{PLAYHEAD} >= 0.5")).await;
    b.shot("timeline-10-playing").await;

    b.find("body").await.send_keys(" ").await.unwrap();
    // Paused: give the last pictures in flight a moment, then nothing more comes.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (frames, at) = (number(b.eval(SHOWN).await), number(b.eval(PLAYHEAD).await));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (frames_later, at_later) = (number(b.eval(SHOWN).await), number(b.eval(PLAYHEAD).await));
    eprintln!("paused at {at:.2} s after {frames} frames; 1.5 s later {at_later:.2} s, {frames_later} frames");
    assert!(at < 2.5, "the preview played on to {at} s before the pause");
    assert_eq!((frames_later, at_later), (frames, at), "a paused preview kept playing");

    // Paused, a click on the ruler at 2.5 s: the playhead moves and the picture there comes.
    click_ruler(&b, 2.5).await;
    b.wait("the playhead at 2.5 s", &format!("Math.abs({PLAYHEAD} - 2.5) < 0.05")).await;
    b.wait("the picture at 2.5 s while paused", &format!("{SHOWN} > {frames}")).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let still = number(b.eval(SHOWN).await);
    assert!(still <= frames + 2.0, "a paused seek showed one picture, not {} more", still - frames);
    b.shot("timeline-11-paused-seek").await;

    b.find("#tl-editor [data-tl=play]").await.click().await.unwrap();
    b.wait("playing on from 2.5 s", &format!("{PLAYHEAD} >= 2.8")).await;
    b.wait("pictures again", &format!("{SHOWN} >= {still} + 5")).await;
    let _ = b.client.clone().close().await;
}
