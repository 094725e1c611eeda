// SPDX-License-Identifier: MPL-2.0
//! The browser studio in a real headless Chromium, driven over WebDriver
//! (Debian's chromedriver) against a server on a loopback port: the
//! presenter's path from sign-up to a downloaded render, the server's reasons
//! beside the fields, the live studio's preview and the kiosk coming back
//! after its server went away. Screenshots of every page land in
//! `target/ui-screenshots/`.

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use browser::Browser;
use common::TestApp;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// One browser at a time: two Chromiums and a live encoder at once are
/// more than a 2-core CI machine keeps up with.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const PASSWORD: &str = "correct horse battery";

/// The WebDriver key code of Enter.
const ENTER: char = '\u{E007}';

fn media(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/media").join(name)
}

/// The studio's server: the test app on a loopback port, with a job worker.
struct Studio {
    app: TestApp,
    router: axum::Router,
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<()>>,
}

impl Studio {
    async fn start() -> Self {
        if std::env::var_os("REENACT_MODELS").is_none() {
            std::env::set_var("REENACT_MODELS", Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"));
        }
        let app = TestApp::sqlite().await;
        let mut state = app.state.clone();
        state.presets = common::presets_with_live_small(30);
        // The shared portrait (424 kB) is over the test apps' limit, which is set for clips.
        state.upload_limit = state.upload_limit.max(1_000_000);
        // Renders are charged to the quota too.
        state.quota_bytes = state.quota_bytes.max(20_000_000);
        let router = reenact_server::app(state.clone());
        let worker = reenact_server::jobs::handlers::worker(state.db.clone(), state.storage.clone(), "ui".into());
        tokio::spawn(worker.run(std::future::pending()));
        let overviews =
            reenact_server::jobs::handlers::overview_worker(state.db.clone(), state.storage.clone(), "ui-o".into());
        tokio::spawn(overviews.run(std::future::pending()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut studio = Studio { app, router, addr, stop: None, serving: None };
        studio.serve(listener);
        studio
    }

    fn serve(&mut self, listener: TcpListener) {
        let (stop, stopped) = oneshot::channel::<()>();
        let router = self.router.clone();
        self.stop = Some(stop);
        self.serving = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        }));
    }

    /// Takes the HTTP side down (as a restart does) ...
    async fn go_away(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(serving) = self.serving.take() {
            if tokio::time::timeout(Duration::from_secs(5), serving).await.is_err() {
                eprintln!("the server kept connections open past 5 s");
            }
        }
    }

    /// ... and brings it back on the same address.
    async fn come_back(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// The shared browser, with what the studio's pages need besides.
struct Page(Browser);

impl std::ops::Deref for Page {
    type Target = Browser;
    fn deref(&self) -> &Browser {
        &self.0
    }
}

impl Page {
    async fn open() -> Self {
        Page(Browser::open().await)
    }

    /// The studio's session cookie as the browser holds it: value, Secure, HttpOnly.
    async fn session_cookie(&self) -> (String, Option<bool>, Option<bool>) {
        let cookies = self.client.get_all_cookies().await.unwrap();
        let cookie = cookies.iter().find(|c| c.name() == "__Host-reenact_studio").expect("the session cookie");
        (cookie.value().to_string(), cookie.secure(), cookie.http_only())
    }

    /// Waits until a kiosk page plays and has shown more than 20 frames past `frames`.
    async fn wait_playing(&self, what: &str, frames: u64, timeout: Duration) {
        let expr = format!(
            "document.body.classList.contains('playing') && Number(document.body.dataset.frames) > {}",
            frames + 20
        );
        self.wait(what, &expr, timeout).await;
    }
}

/// What the API itself answers to an upload of `bytes` (another user, another project).
async fn api_upload_reason(app: &TestApp, bytes: &[u8]) -> (u16, Value) {
    let (token, _) = app.sign_up("probe@example.com").await;
    let (_, project) =
        app.call(axum::http::Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "probe" }))).await;
    let (status, body) = app.upload(project["id"].as_str().unwrap(), "notes.mp4", bytes, &token).await;
    (status.as_u16(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presenter_signs_up_uploads_renders_and_downloads() {
    let _one = BROWSER.lock().await;
    let started = Instant::now();
    let studio = Studio::start().await;
    let b = Page::open().await;

    // The landing page leads into the studio; the studio asks for an account.
    b.goto(&studio.url("/")).await;
    b.shot("00-landing").await;
    b.click("a[href='/projects']").await;
    b.wait("redirect to sign-in", "location.pathname === '/login'", Duration::from_secs(10)).await;
    b.live("#auth-form").await;
    b.shot("01-sign-in").await;
    b.click("a[href='/signup']").await;
    b.live("#auth-form").await;
    // Chromium keeps the `__Host-`, Secure cookie over http on 127.0.0.1 (a secure context).
    let (before, secure, http_only) = b.session_cookie().await;
    assert_eq!((secure, http_only), (Some(true), Some(true)));

    // A short password: the server's reason shows beside the password field.
    b.fill("#email", "ada@museum.org").await;
    b.fill("#password", "short").await;
    b.click("#auth-form button[type=submit]").await;
    let reason = b
        .wait("password reason", "document.getElementById('password-error').textContent", Duration::from_secs(10))
        .await;
    assert_eq!(reason, "must be at least 8 characters");
    b.shot("02-sign-up-error").await;
    b.fill("#password", PASSWORD).await;
    b.click("#auth-form button[type=submit]").await;
    b.wait("projects after sign-up", "location.pathname === '/projects'", Duration::from_secs(15)).await;
    b.live("#no-projects").await;
    // Signing in brought a new session id; the one from before signs nobody in.
    let (after, _, _) = b.session_cookie().await;
    assert_ne!(after, before, "the session id changes at sign-in");
    assert_eq!(status_with_cookie(studio.addr, "/projects", &before).await, 303);
    b.shot("03-projects-empty").await;

    // An empty name is refused with the server's reason next to the field.
    b.click("#new-project button[type=submit]").await;
    let reason = b
        .wait("name reason", "document.querySelector('#new-project .field-error').textContent", Duration::from_secs(10))
        .await;
    assert_eq!(reason, "must not be empty");
    b.shot("04-project-name-error").await;
    b.fill("#project-name", "Gettysburg").await;
    b.click("#new-project button[type=submit]").await;
    b.wait(
        "the project in the list",
        "document.querySelector('#project-list a.title')?.textContent === 'Gettysburg'",
        Duration::from_secs(10),
    )
    .await;

    // Rename it, keyboard-style: the button, the field, Enter.
    b.click("#project-list button").await;
    b.fill("#project-list input[name=name]", &format!("Gettysburg Address{ENTER}")).await;
    b.wait(
        "the renamed project",
        "document.querySelector('#project-list a.title')?.textContent === 'Gettysburg Address'",
        Duration::from_secs(10),
    )
    .await;
    b.shot("05-projects").await;
    b.click("#project-list a.title").await;
    b.live("#upload-form").await;
    b.wait("empty media", "document.getElementById('no-media') !== null", Duration::from_secs(10)).await;

    // A text file is not media: the server's reason appears beside the file field.
    let notes = tempfile::Builder::new().suffix(".mp4").tempfile().unwrap();
    std::fs::write(notes.path(), "these are my notes, not a video\n".repeat(20)).unwrap();
    b.attach("#upload-file", notes.path()).await;
    b.click("#upload-form button[type=submit]").await;
    let reason =
        b.wait("file reason", "document.getElementById('file-error').textContent", Duration::from_secs(20)).await;
    let reason = reason.as_str().unwrap().to_owned();
    assert!(!reason.starts_with("the server answered"), "the server's own reason is shown: {reason}");
    let (status, api_answer) = api_upload_reason(&studio.app, &std::fs::read(notes.path()).unwrap()).await;
    assert_eq!(status, 415, "{api_answer}");
    assert_eq!(format!("file: {reason}"), api_answer["detail"].as_str().unwrap(), "the page shows the API's reason");
    b.shot("06-upload-wrong-type").await;

    // Over the upload limit (this server takes 1 MB): the reason is beside the field too.
    b.attach("#upload-file", &media("synthetic/avsync_testsrc2_1920x1080_30fps_20s.mp4")).await;
    b.click("#upload-form button[type=submit]").await;
    let reason = b
        .wait(
            "size reason",
            "(t => t.includes('larger') ? t : null)(document.getElementById('file-error').textContent)",
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(reason, "larger than the upload limit of 1 MB", "the field's reason, without the field name");
    b.shot("06b-upload-too-large").await;

    // A real clip uploads (progress bar) and is listed with its facts.
    b.attach("#upload-file", &media("grid/grid_swwp2s.mp4")).await;
    b.click("#upload-form button[type=submit]").await;
    b.wait(
        "the clip in the media list",
        "document.querySelector('#media-list td a')?.textContent === 'grid_swwp2s.mp4'",
        Duration::from_secs(30),
    )
    .await;
    let error = b.eval("document.getElementById('file-error').textContent").await;
    assert_eq!(error, "", "the old error is gone after a good upload");
    let facts = b.eval("document.querySelector('#media-list tbody tr').innerText").await;
    assert!(facts.as_str().unwrap().contains("360×288"), "{facts}");
    let thumb = b
        .wait(
            "the clip's thumbnail",
            "(i => i && i.complete && i.naturalWidth)(document.querySelector('#media-list img.thumb'))",
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(thumb, 360, "the thumbnail is the clip's picture at its own width");

    // The render plays the timeline: the clip goes onto it.
    b.wait("an empty timeline", "document.getElementById('empty-timeline') !== null", Duration::from_secs(10)).await;
    b.click("#media-list button.add-to-timeline").await;
    let entry = b
        .wait(
            "the clip on the timeline",
            "document.querySelector('#timeline li')?.textContent",
            Duration::from_secs(10),
        )
        .await;
    assert!(entry.as_str().unwrap().contains("grid_swwp2s.mp4 · 0.0–3.0 s"), "{entry}");

    // Trims: the out handle dragged to 2 s (its value set and released), then the in point typed.
    let release = |id: &str, value: &str| {
        format!("const e = document.getElementById('{id}'); e.value = '{value}'; e.dispatchEvent(new Event('change', {{ bubbles: true }}));")
    };
    b.client.execute(&release("trim-out-0", "2"), vec![]).await.unwrap();
    b.wait(
        "the out point trimmed",
        "document.querySelector('#timeline .entry-text')?.textContent.endsWith('0.0–2.0 s')",
        Duration::from_secs(10),
    )
    .await;
    b.client.execute(&release("in-0", "0.5"), vec![]).await.unwrap();
    b.wait(
        "the in point trimmed",
        "document.querySelector('#timeline .entry-text')?.textContent.endsWith('0.5–2.0 s')",
        Duration::from_secs(10),
    )
    .await;
    b.shot("06c-timeline-trimmed").await;

    // Render with no preset: the reason is beside the presets.
    b.click("#render-form button[type=submit]").await;
    let reason = b
        .wait(
            "presets reason",
            "document.querySelector('#render-form #presets-error').textContent",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(reason, "name at least one preset");
    b.click("#render-form input[value=master]").await;
    b.fill("#watermark", "Reenactment").await;
    let choose =
        "document.getElementById('captions').value = 'sidecar'; document.getElementById('background').value = 'blur';";
    b.client.execute(choose, vec![]).await.unwrap();
    b.click("#render-form button[type=submit]").await;
    b.wait("a render card", "document.querySelector('#render-list .render') !== null", Duration::from_secs(10)).await;
    b.shot("07-project-rendering").await;
    b.wait(
        "the render to finish",
        "document.querySelector('#render-list .render')?.dataset.state === 'succeeded' && document.querySelector('a.download') !== null",
        Duration::from_secs(60),
    )
    .await;
    let facts = b.eval("document.querySelector('#render-list .output').innerText").await;
    assert!(facts.as_str().unwrap().contains(" · 1.5 s"), "the render plays the trimmed 0.5–2.0 s: {facts}");
    let disclosure = b.eval("document.querySelector('.disclosure-note').textContent").await;
    assert!(disclosure.as_str().unwrap().contains("synthetic media"), "{disclosure}");
    b.wait("the player to load", "document.querySelector('.render video').readyState >= 1", Duration::from_secs(15))
        .await;
    b.client.execute("document.querySelector('.render video').scrollIntoView()", vec![]).await.unwrap();
    b.shot("08-project-rendered").await;

    // The download link serves the MP4 (through the studio's token proxy).
    let got = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(document.querySelector('a.download').href)
               .then(r => r.arrayBuffer().then(b => done([r.status, b.byteLength, String.fromCharCode(...new Uint8Array(b.slice(4, 8)))])))
               .catch(e => done([0, 0, String(e)]));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(got[0], 200, "{got}");
    assert!(got[1].as_u64().unwrap() > 1000, "{got}");
    assert_eq!(got[2], "ftyp", "an MP4 file: {got}");
    // The captions asked for are offered beside the video.
    let got = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(document.querySelector('a.sidecar[download$=\".srt\"]').href)
               .then(r => r.text().then(t => done([r.status, t])))
               .catch(e => done([0, String(e)]));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(got[0], 200, "{got}");
    assert!(got[1].as_str().unwrap().contains(" --> "), "an SRT file: {got}");

    // Jobs: the render, finished, with its attempts.
    b.click("nav a[href='/jobs']").await;
    b.live("#job-list").await;
    let row = b.eval("document.querySelector('#job-list tbody tr').innerText").await;
    let row = row.as_str().unwrap();
    assert!(row.contains("Render") && row.contains("Finished") && row.contains("1 of 3"), "{row}");
    b.shot("09-jobs").await;

    // Account: storage against the quota.
    b.click("nav a[href='/account']").await;
    b.live("#delete-account").await;
    b.wait(
        "storage figure",
        "document.querySelector('.progress span')?.textContent.includes('used')",
        Duration::from_secs(10),
    )
    .await;
    b.shot("10-account").await;

    // Signing out ends the session: the studio asks for an account again.
    b.click("#sign-out").await;
    b.wait("signed out", "location.pathname === '/login'", Duration::from_secs(10)).await;
    b.goto(&studio.url("/projects")).await;
    b.wait("projects need an account", "location.pathname === '/login'", Duration::from_secs(10)).await;
    let _ = b.client.clone().close().await;
    eprintln!("studio flow took {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_studio_previews_and_the_kiosk_comes_back_after_a_restart() {
    let _one = BROWSER.lock().await;
    let started = Instant::now();
    let mut studio = Studio::start().await;
    let b = Page::open().await;

    b.goto(&studio.url("/signup")).await;
    b.live("#auth-form").await;
    b.fill("#email", "guide@museum.org").await;
    b.fill("#password", PASSWORD).await;
    b.click("#auth-form button[type=submit]").await;
    b.wait("projects", "location.pathname === '/projects'", Duration::from_secs(15)).await;

    // A bad source is refused beside the field; the test pattern goes live.
    b.goto(&studio.url("/studio")).await;
    b.live("#start-live").await;
    b.wait(
        "live presets",
        "document.querySelector('#live-preset option[value=\"live-360p\"]') !== null",
        Duration::from_secs(10),
    )
    .await;
    b.fill("#source", "microphone").await;
    b.click("#start-live button[type=submit]").await;
    let reason =
        b.wait("source reason", "document.getElementById('source-error').textContent", Duration::from_secs(10)).await;
    assert!(!reason.as_str().unwrap().is_empty());
    b.shot("11-live-start-error").await;
    b.fill("#source", "test").await;
    // A dub that cannot be had (English into German needs that pair's model: Apertium has no
    // German) is refused beside its fields, with the reason.
    let pick_dub = |code: &str| {
        format!("const d = document.getElementById('dub-language'); d.value = '{code}'; d.dispatchEvent(new Event('change'));")
    };
    b.client.execute(&pick_dub("de"), vec![]).await.unwrap();
    b.click("#start-live button[type=submit]").await;
    let reason = b
        .wait(
            "dub reason",
            "(document.getElementById('dub-error').textContent.includes('translation_en_de')) && document.getElementById('dub-error').textContent",
            Duration::from_secs(20),
        )
        .await;
    eprintln!("dub refused: {reason}");
    b.client.execute(&pick_dub(""), vec![]).await.unwrap();
    b.fill("#kiosk-pin", "2468").await;
    b.client
        .execute("const s = document.getElementById('live-preset'); s.value = 'live-360p'; s.dispatchEvent(new Event('change'));", vec![])
        .await
        .unwrap();
    b.click("#start-live button[type=submit]").await;
    b.wait("the show page", "location.pathname.startsWith('/studio/')", Duration::from_secs(30)).await;
    b.live("#readout").await;
    let frames = b
        .wait(
            "preview frames",
            "Number(document.getElementById('viewer-frames')?.dataset.frames) >= 30 && document.getElementById('viewer-frames').dataset.frames",
            Duration::from_secs(60),
        )
        .await;
    eprintln!("preview frames reported: {frames}");
    let latency = b.eval("document.getElementById('latency').textContent").await;
    assert!(latency.as_str().unwrap().contains("p50"), "{latency}");

    // An element switches without a restart and the readout says so.
    b.click("#element-matte").await;
    b.wait("matte on", "document.getElementById('element-matte').checked", Duration::from_secs(10)).await;
    let session = b.eval("location.pathname.split('/').pop()").await.as_str().unwrap().to_owned();
    let hub_matte = studio.app.state.live.get(&session).unwrap().summary().pipeline.map(|p| p.elements.matte);
    assert_eq!(hub_matte, Some(true), "the switch reached the graph");
    b.click("#element-captions").await;
    b.wait("captions on", "document.getElementById('element-captions').checked", Duration::from_secs(10)).await;
    let hub_captions = studio.app.state.live.get(&session).unwrap().summary().pipeline.map(|p| p.elements.captions);
    assert_eq!(hub_captions, Some(true), "captions switched on without a restart");
    b.click("#element-lipsync").await;
    b.wait("lip-sync on", "document.getElementById('element-lipsync').checked", Duration::from_secs(10)).await;
    let hub_lips = studio.app.state.live.get(&session).unwrap().summary().pipeline.map(|p| p.elements.lipsync);
    assert_eq!(hub_lips, Some(true), "lip-sync switched on without a restart");
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.shot("12-live-studio").await;

    // The kiosk: full screen, no controls, picture within seconds; the page never holds the PIN.
    b.goto(&studio.url(&format!("/kiosk/{session}"))).await;
    b.wait_playing("kiosk picture", 0, Duration::from_secs(45)).await;
    assert_eq!(b.eval("localStorage.length").await, 0, "nothing kept in the browser");
    assert_eq!(
        b.eval("document.querySelectorAll('button:not(dialog button), input:not(dialog input)').length").await,
        0
    );
    b.shot("13-kiosk").await;

    // The server goes away: HTTP down, every viewer dropped. The kiosk
    // falls back to its attract loop ...
    studio.go_away().await;
    let show = studio.app.state.live.get(&session).unwrap();
    for viewer in show.summary().viewers {
        let _ = show.remove_viewer(&viewer.id).await;
    }
    b.wait("attract loop", "!document.body.classList.contains('playing')", Duration::from_secs(30)).await;
    // Past the cross-fade, for a screenshot of the loop itself.
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.shot("14-kiosk-attract").await;
    let before = b.eval("Number(document.body.dataset.frames)").await.as_u64().unwrap_or(0);

    // ... and plays again by itself once the server is back.
    studio.come_back().await;
    b.wait_playing("kiosk reconnected", before, Duration::from_secs(45)).await;
    b.shot("15-kiosk-back").await;

    // Staff leave with the PIN; a wrong one is refused.
    b.client.execute("dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }))", vec![]).await.unwrap();
    b.wait("PIN dialog", "document.getElementById('leave').open", Duration::from_secs(5)).await;
    b.fill("#pin", &format!("1111{ENTER}")).await;
    b.wait("wrong PIN", "document.getElementById('pin-error').textContent === 'Wrong PIN.'", Duration::from_secs(5))
        .await;
    b.shot("16-kiosk-pin").await;
    b.fill("#pin", &format!("2468{ENTER}")).await;
    b.wait("left the kiosk", "location.pathname === '/studio'", Duration::from_secs(10)).await;

    let _ = b.client.clone().close().await;
    studio.app.state.live.stop_all().await;
    eprintln!("live flow took {:.1} s", started.elapsed().as_secs_f64());
}

/// A web site on loopback to import from: `/take.mp4` is a GRID clip, anything else 404.
async fn media_site() -> String {
    use axum::http::header::CONTENT_TYPE;
    let take = std::fs::read(media("grid/grid_swwp2s.mp4")).unwrap();
    let site = axum::Router::new()
        .route("/take.mp4", axum::routing::get(move || async move { ([(CONTENT_TYPE, "video/mp4")], take) }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presenter_casts_characters_voices_scenes_and_imports_from_a_url() {
    let _one = BROWSER.lock().await;
    let started = Instant::now();
    let studio = Studio::start().await;
    let site = media_site().await;
    let b = Page::open().await;

    b.goto(&studio.url("/signup")).await;
    b.live("#auth-form").await;
    b.fill("#email", "cast@museum.org").await;
    b.fill("#password", PASSWORD).await;
    b.click("#auth-form button[type=submit]").await;
    b.wait("projects", "location.pathname === '/projects'", Duration::from_secs(15)).await;
    b.live("#new-project").await;
    b.fill("#project-name", "Apollo").await;
    b.click("#new-project button[type=submit]").await;
    b.wait("the project", "document.querySelector('#project-list a.title') !== null", Duration::from_secs(10)).await;
    b.click("#project-list a.title").await;
    b.live("#character-form").await;
    b.wait("no characters", "document.getElementById('no-characters') !== null", Duration::from_secs(10)).await;

    // A character from a portrait: its picture loads through the proxy, its face is measured.
    b.fill("#character-name", "Eileen Collins").await;
    b.eval("document.getElementById('character-rights-basis').value = 'public-domain'").await;
    b.fill("#character-rights-granted-by", "NASA").await;
    b.attach("#character-file", &media("astronaut.png")).await;
    b.click("#character-form button[type=submit]").await;
    b.wait(
        "the portrait to load",
        "document.querySelector('#character-list img.portrait')?.complete && document.querySelector('#character-list img.portrait').naturalWidth > 0",
        Duration::from_secs(90),
    )
    .await;
    let card = b.eval("document.querySelector('#character-list .character').innerText").await;
    let card = card.as_str().unwrap();
    assert!(card.contains("Eileen Collins") && card.contains("468 landmarks"), "{card}");

    // Text is not a portrait: the server's reason beside the portrait field.
    let notes = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    std::fs::write(notes.path(), "these are my notes, not a picture\n".repeat(20)).unwrap();
    b.fill("#character-name", "Notes").await;
    b.eval("document.getElementById('character-rights-basis').value = 'consent'").await;
    b.attach("#character-file", notes.path()).await;
    b.click("#character-form button[type=submit]").await;
    let reason = b
        .wait("portrait reason", "document.getElementById('portrait-error').textContent", Duration::from_secs(20))
        .await;
    assert!(reason.as_str().unwrap().starts_with("not a picture"), "{reason}");
    b.shot("17-character-error").await;

    // A voice from a speech sample, with its pitch.
    b.fill("#voice-name", "Narrator").await;
    b.eval("document.getElementById('voice-rights-basis').value = 'consent'").await;
    b.attach("#voice-file", &media("speech/librivox_0880.wav")).await;
    b.click("#voice-form button[type=submit]").await;
    let f0 = b
        .wait("the voice's F0", "document.querySelector('#voice-list td.f0')?.textContent", Duration::from_secs(60))
        .await;
    let hz: f64 = f0.as_str().unwrap().trim_end_matches(" Hz").parse().unwrap();
    assert!((60.0..400.0).contains(&hz), "{f0}");

    // The voice goes to the character and stays there.
    b.wait(
        "the voice to choose",
        "document.querySelector('#character-list select.voice-select').options.length === 2",
        Duration::from_secs(10),
    )
    .await;
    b.client
        .execute(
            "const s = document.querySelector('#character-list select.voice-select'); s.selectedIndex = 1; s.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.client.refresh().await.unwrap();
    b.live("#character-list").await;
    b.wait(
        "the attached voice",
        "document.querySelector('#character-list select.voice-select')?.selectedOptions[0]?.text === 'Narrator'",
        Duration::from_secs(10),
    )
    .await;

    // Animating the portrait needs LivePortrait's modules, which this server lacks: the
    // server's reason shows and the face stays swapped.
    b.client
        .execute(
            "const s = document.querySelector('#character-list select.face-select'); s.value = 'animate'; s.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![],
        )
        .await
        .unwrap();
    let refused = b
        .wait(
            "the face's refusal",
            "document.querySelector('#characters-heading ~ .form-error')?.textContent",
            Duration::from_secs(10),
        )
        .await;
    assert!(refused.as_str().unwrap().contains("LivePortrait"), "{refused}");
    b.client.refresh().await.unwrap();
    b.live("#character-list").await;
    let face = b.eval("document.querySelector('#character-list select.face-select').value").await;
    assert_eq!(face.as_str(), Some("swap"), "{face}");

    // A scene: an end before its start is refused beside the end field.
    let choose = "const s = document.getElementById('scene-character'); s.selectedIndex = 1; s.dispatchEvent(new Event('change', { bubbles: true }));";
    b.fill("#scene-start", "2").await;
    b.fill("#scene-end", "1").await;
    b.client.execute(choose, vec![]).await.unwrap();
    b.click("#scene-form button[type=submit]").await;
    let reason =
        b.wait("end reason", "document.getElementById('end-error').textContent", Duration::from_secs(10)).await;
    assert_eq!(reason, "must be a number of seconds after start");
    b.fill("#scene-end", "2.5").await;
    b.click("#scene-voice-over").await;
    let dub = "const s = document.getElementById('scene-dub'); s.value = 'es'; s.dispatchEvent(new Event('change', { bubbles: true }));";
    b.client.execute(dub, vec![]).await.unwrap();
    b.click("#scene-form button[type=submit]").await;
    let scene =
        b.wait("the scene", "document.querySelector('#scene-list li')?.textContent", Duration::from_secs(10)).await;
    assert!(scene.as_str().unwrap().contains("2.0–2.5 s · Eileen Collins · voice-over · dubbed in Español"), "{scene}");
    b.client.execute("document.getElementById('characters-heading').scrollIntoView()", vec![]).await.unwrap();
    b.shot("18-cast").await;

    // Imports: an address that is not http is refused beside the field; one
    // that is not there fails with the job's reason; a real one lands in the media.
    b.fill("#import-url", "ftp://example.org/take.mp4").await;
    b.click("#import-form button[type=submit]").await;
    let reason =
        b.wait("url reason", "document.getElementById('url-error').textContent", Duration::from_secs(10)).await;
    assert!(reason.as_str().unwrap().contains("http"), "{reason}");
    b.fill("#import-url", &format!("{site}/missing.mp4")).await;
    b.click("#import-form button[type=submit]").await;
    b.wait(
        "the failed import",
        "document.getElementById('import-job')?.dataset.state === 'dead' && document.getElementById('url-error').textContent",
        Duration::from_secs(60),
    )
    .await;
    let why = b.eval("document.getElementById('url-error').textContent").await;
    assert!(!why.as_str().unwrap().contains("only http"), "the job's reason, not the old one: {why}");
    b.shot("19-import-failed").await;
    b.fill("#import-url", &format!("{site}/take.mp4")).await;
    b.click("#import-form button[type=submit]").await;
    b.wait(
        "the imported clip in the media list",
        "document.querySelector('#media-list td a')?.textContent === 'take.mp4'",
        Duration::from_secs(90),
    )
    .await;
    assert_eq!(b.eval("document.getElementById('url-error').textContent").await, "");
    b.client.execute("document.getElementById('media-heading').scrollIntoView()", vec![]).await.unwrap();
    b.shot("20-imported").await;

    let _ = b.client.clone().close().await;
    eprintln!("cast flow took {:.1} s", started.elapsed().as_secs_f64());
}

/// `reenact serve` as its own process, killed with the test.
struct ServeProcess(Child);

impl ServeProcess {
    /// Starts the server on `addr` with the installations of `dir/installations.toml`, the
    /// presets of `dir/presets`, and its data in `dir/data`; returns once it answers.
    async fn start(dir: &Path, addr: std::net::SocketAddr) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_reenact"))
            .args(["serve", "--workers", "0", "--listen", &addr.to_string()])
            .arg("--data")
            .arg(dir.join("data"))
            .arg("--installations")
            .arg(dir.join("installations.toml"))
            .env("REENACT_PRESETS", dir.join("presets"))
            .env("REENACT_MODELS", Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("reenact serve");
        let process = ServeProcess(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(Instant::now() < deadline, "reenact serve did not listen on {addr}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        process
    }

    /// The kiosk URL the server printed for installation `name`.
    fn installation_url(&mut self, name: &str) -> String {
        use std::io::BufRead;
        let stdout = self.0.stdout.as_mut().expect("piped stdout");
        let prefix = format!("Installation {name}: ");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let line = lines.find(|l| l.as_ref().is_ok_and(|l| l.starts_with(&prefix))).expect("the installation line");
        line.unwrap()[prefix.len()..].to_owned()
    }

    /// Stops it the way a service manager does (SIGTERM) and waits for the exit.
    fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.0.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "reenact serve ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_kiosk_comes_back_after_the_server_process_restarts() {
    let _one = BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("presets")).unwrap();
    std::fs::write(dir.path().join("presets/live-360p.toml"), common::live_small(30)).unwrap();
    let installations = "[[installation]]\nname = \"hall-a\"\nsource = \"test\"\npreset = \"live-360p\"\n";
    std::fs::write(dir.path().join("installations.toml"), installations).unwrap();
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut server = ServeProcess::start(dir.path(), addr).await;
    let kiosk = server.installation_url("hall-a");
    assert!(kiosk.starts_with(&format!("http://{addr}/kiosk/")) && kiosk.len() > 60, "a random token: {kiosk}");
    assert_eq!(raw_status(addr, "GET", "/kiosk/hall-a").await, 404, "the name alone opens nothing");
    let b = Page::open().await;
    b.goto(&kiosk).await;
    b.wait_playing("installation picture", 0, Duration::from_secs(60)).await;
    b.shot("21-installation").await;

    // A real restart: the process ends, its shows with it; the screen falls back to its loop.
    server.stop();
    b.wait("attract loop", "!document.body.classList.contains('playing')", Duration::from_secs(30)).await;
    let before = b.eval("Number(document.body.dataset.frames)").await.as_u64().unwrap_or(0);

    // The new process starts the installation under the same name; the kiosk finds it alone.
    let mut server = ServeProcess::start(dir.path(), addr).await;
    assert_eq!(server.installation_url("hall-a"), kiosk, "the token is kept across restarts");
    b.wait_playing("installation reconnected", before, Duration::from_secs(60)).await;
    b.shot("22-installation-back").await;
    // Nobody signs in to an installation, and nobody can stop it over the API either.
    let id = kiosk.rsplit('/').next().unwrap();
    let stopped = raw_status(addr, "DELETE", &format!("/api/live/{id}")).await;
    assert_eq!(stopped, 401, "stopping needs an account");
    let _ = b.client.clone().close().await;
}

/// The status of `GET path` with the studio cookie `sid`.
async fn status_with_cookie(addr: std::net::SocketAddr, path: &str, sid: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: __Host-reenact_studio={sid}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The status of a bare `method` request to `path` on `addr`.
async fn raw_status(addr: std::net::SocketAddr, method: &str, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The subtitle editor: a cue typed in, saved, still there after a reload; split, merge
/// and shift work on the page; the server's reason for an overlap is shown; the export
/// link serves the edited cues as SRT.
#[tokio::test]
async fn a_subtitle_track_is_edited_saved_and_reloaded() {
    let _one = BROWSER.lock().await;
    let studio = Studio::start().await;
    let b = Page::open().await;
    b.goto(&studio.url("/signup")).await;
    b.live("#auth-form").await;
    b.fill("#email", "subtitler@museum.org").await;
    b.fill("#password", PASSWORD).await;
    b.click("#auth-form button[type=submit]").await;
    b.wait("projects after sign-up", "location.pathname === '/projects'", Duration::from_secs(15)).await;
    b.live("#new-project").await;
    b.fill("#project-name", "Harbour tour").await;
    b.click("#new-project button[type=submit]").await;
    b.wait("the project", "document.querySelector('#project-list a.title') !== null", Duration::from_secs(10)).await;
    b.click("#project-list a.title").await;
    b.live("#subtitles-link").await;

    // A setting of the project: stored by the server, still on after a reload.
    b.live("#project-occlusion").await;
    let on = "document.querySelector('#project-occlusion').checked === true";
    assert_eq!(b.eval(on).await, Value::Bool(false), "off by default");
    b.click("#project-occlusion").await;
    let page = b.eval("location.href").await.as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        b.goto(&page).await;
        b.live("#project-occlusion").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if b.eval(on).await == Value::Bool(true) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the occlusion setting was not kept");
    }
    b.click("#subtitles-link").await;
    b.wait("the editor", "location.pathname.endsWith('/subtitles')", Duration::from_secs(10)).await;
    b.live("#add-cue").await;

    // Two cues typed in, the first split and merged back, all shifted by 0.5 s.
    b.click("#add-cue").await;
    b.live("#cue-list li .cue-text").await;
    b.fill("#cue-list li:nth-child(1) .cue-text", "Welcome to the harbour museum").await;
    b.click("#add-cue").await;
    b.live("#cue-list li:nth-child(2) .cue-text").await;
    b.fill("#cue-list li:nth-child(2) .cue-text", "The boats came in 1850").await;
    b.click("#cue-list li:nth-child(1) .split").await;
    b.wait("three cues after split", "document.querySelectorAll('#cue-list li').length === 3", Duration::from_secs(10))
        .await;
    let texts = "Array.from(document.querySelectorAll('#cue-list .cue-text')).map(t => t.value).join('|')";
    assert_eq!(b.eval(texts).await, "Welcome to the|harbour museum|The boats came in 1850");
    b.click("#cue-list li:nth-child(1) .merge").await;
    b.wait("two cues after merge", "document.querySelectorAll('#cue-list li').length === 2", Duration::from_secs(10))
        .await;
    b.fill("#shift-by", "0.5").await;
    b.click("#shift-all").await;
    b.wait("shifted", "document.querySelector('#cue-list li .cue-start').value === '0.5'", Duration::from_secs(10))
        .await;
    b.click("#save-track").await;
    b.wait("saved", "document.getElementById('saved') !== null", Duration::from_secs(10)).await;
    b.shot("40-subtitles-saved").await;

    // A reload shows the saved track.
    let here = b.eval("location.href").await;
    b.goto(here.as_str().unwrap()).await;
    b.live("#cue-list li .cue-text").await;
    assert_eq!(b.eval(texts).await, "Welcome to the harbour museum|The boats came in 1850");
    assert_eq!(b.eval("document.querySelector('#cue-list li:nth-child(2) .cue-start').value").await, "2.5");

    // An overlap is refused by the server, which names the cue.
    b.fill("#cue-list li:nth-child(2) .cue-start", "1.0").await;
    b.eval("document.querySelector('#cue-list li:nth-child(2) .cue-start').dispatchEvent(new Event('change', {bubbles: true}))").await;
    b.click("#save-track").await;
    let reason = b
        .wait("overlap reason", "document.querySelector('.form-error')?.textContent || ''", Duration::from_secs(10))
        .await;
    assert!(reason.as_str().unwrap().contains("cues[1].start"), "{reason}");

    // The export link serves what was saved.
    let srt = b.eval("fetch(document.getElementById('export-srt').href).then(r => r.text())").await;
    let srt = srt.as_str().unwrap();
    assert!(srt.contains("00:00:00,500 --> 00:00:02,500") && srt.contains("Welcome to the harbour museum"), "{srt}");
}

/// A kiosk in visitor mode: the consent screen in the installation's languages, no frame in
/// the video element (and none sent) before the visitor accepts, the picture after, and the
/// consent screen again once the visitor has left (no face: the visit ends after 5 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_kiosk_shows_nothing_before_consent_and_asks_again_after_the_visitor_left() {
    let _one = BROWSER.lock().await;
    let started = Instant::now();
    let studio = Studio::start().await;
    let (owner, _) = studio.app.sign_up("curator@museum.org").await;
    let request = json!({
        "source": "test", "preset": "live-360p",
        "visitor_consent": {"languages": ["de", "en"], "keeps": "nothing", "reset_after_s": 5},
    });
    // Through the studio's own router, which has the small live preset.
    let addr = studio.addr.to_string();
    let (status, show) = tokio::task::spawn_blocking(move || {
        common::http(&addr, "POST", "/api/live", Some(&owner), "application/json", request.to_string().as_bytes())
    })
    .await
    .unwrap();
    let show: Value = serde_json::from_slice(&show).unwrap();
    assert_eq!(status, 201, "{show}");
    let session = show["id"].as_str().unwrap().to_owned();
    let sent = || studio.app.state.live.get(&session).unwrap().summary().video_frames_sent;

    let b = Page::open().await;
    b.goto(&studio.url(show["kiosk_url"].as_str().unwrap())).await;
    let asking = "document.body.dataset.consent === 'asking' && document.getElementById('consent').open";
    b.wait("consent screen", asking, Duration::from_secs(15)).await;
    assert_eq!(b.eval("document.getElementById('consent-title').textContent").await, "Bevor es losgeht");
    b.click("#consent-languages button[lang=en]").await;
    let title = b.eval("document.getElementById('consent-title').textContent").await;
    assert_eq!(title, "Before we begin");
    let keeps = b.eval("document.getElementById('consent-keeps').textContent").await;
    assert!(keeps.as_str().unwrap().starts_with("Nothing is recorded"), "{keeps}");

    // The viewer is connected, yet nothing comes: no frame in the video element, none sent.
    b.wait("viewer connected", "document.body.dataset.state === 'connected'", Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let frames = b.eval("[Number(document.body.dataset.frames), document.getElementById('screen').videoWidth]").await;
    assert_eq!(frames, json!([0, 0]), "no picture before consent");
    assert_eq!(sent(), 0, "the server sent no frame before consent");
    b.shot("30-kiosk-consent").await;

    // The visitor accepts: the picture plays.
    b.click("#consent-accept").await;
    b.wait_playing("visitor on air", 0, Duration::from_secs(20)).await;
    assert_eq!(b.eval("document.getElementById('consent').open").await, false);
    assert!(sent() > 0);
    b.shot("31-kiosk-visitor").await;

    // The visitor leaves (the test pattern has no face): the consent screen comes back by itself.
    b.wait("consent screen again", asking, Duration::from_secs(15)).await;
    let camera = studio.app.state.live.get(&session).unwrap().summary().pipeline.map(|p| p.camera_open);
    assert_eq!(camera, Some(false), "the camera is closed again");
    assert_eq!(b.eval("document.documentElement.lang").await, "de", "a new visit starts in the first language");
    b.shot("32-kiosk-consent-again").await;

    let _ = b.client.clone().close().await;
    studio.app.state.live.stop_all().await;
    let took = started.elapsed();
    eprintln!("visitor kiosk flow took {:.1} s", took.as_secs_f64());
    assert!(took < Duration::from_secs(60), "{took:?}");
}

/// What a kiosk page shows of its consent state, for a failure message.
const KIOSK_STATE: &str = "({consent: document.body.dataset.consent, frames: document.body.dataset.frames, \
    state: document.body.dataset.state, dialog: document.getElementById('consent').open, \
    problem: document.getElementById('consent-problem').textContent, log: window.consentLog})";

/// Notes each consent request the page makes and what came back (with the time since the
/// note began), in `window.consentLog`.
const LOG_CONSENT_REQUESTS: &str = "(() => { const t0 = performance.now(); window.consentLog = []; \
    const real = window.fetch; window.fetch = (url, init) => { const what = `${init?.method ?? 'GET'} ${url}`; \
    if (!String(url).includes('/consent')) return real(url, init); \
    const at = () => Math.round(performance.now() - t0); window.consentLog.push(`${at()} ${what}`); \
    return real(url, init).then(async (r) => { const body = await r.clone().text(); \
    window.consentLog.push(`${at()} ${what} -> ${r.status} ${body.slice(0, 60)}`); return r; }, \
    (e) => { window.consentLog.push(`${at()} ${what} failed ${e}`); throw e; }); }; return true; })()";

/// A clip of `face_s` seconds of the presenter (a face) followed by `empty_s` seconds of an
/// empty dark frame, 640x360 at 25 fps with silent sound, written into `dir`.
fn face_then_empty(dir: &Path, face_s: u32, empty_s: u32) -> PathBuf {
    let out = dir.join("visit.mp4");
    let presenter = media("synthetic/presenter_astronaut_1280x720_25fps.mp4");
    let graph = format!(
        "[0:v]scale=640:360,fps=25,trim=duration={face_s},setpts=PTS-STARTPTS[f];\
         color=c=0x202020:s=640x360:r=25:d={empty_s}[e];[f][e]concat=n=2:v=1:a=0[v]"
    );
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-stream_loop", "-1", "-i"])
        .arg(&presenter)
        .args(["-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-filter_complex", &graph])
        .args(["-map", "[v]", "-map", "1:a", "-t", &(face_s + empty_s).to_string()])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"])
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg could not make the visit clip");
    out
}

/// A visitor stays while their face is in view and the kiosk asks again once they leave:
/// the camera shows the presenter for 20 s, then nobody. With the face tracker on, the visit
/// outlives `reset_after_s` (5 s) while the face is there and ends 5 s after it has gone;
/// without the face it would end 5 s after accepting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_kiosk_stays_while_the_face_is_there_and_asks_again_after_it_left() {
    use reenact_engine::live::{LiveOptions, LiveSource};
    use reenact_server::live::consent::{new_key, VisitorConsent, VisitorGate};
    const FACE_S: u32 = 20;
    const RESET_S: u32 = 5;
    let _one = BROWSER.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = face_then_empty(dir.path(), FACE_S, 30);
    let studio = Studio::start().await;
    // A `file:` camera, as an installation may have; the studio's API takes cameras only.
    let presets = common::presets_with_live_small(25);
    let mut options = LiveOptions::new(LiveSource::File(clip), presets.get("live-360p").unwrap().clone());
    options.elements.facetrack = true;
    let settings: VisitorConsent =
        serde_json::from_value(json!({"languages": ["en"], "reset_after_s": RESET_S})).unwrap();
    let key = new_key();
    let gate = VisitorGate::new(settings, false, key.clone());
    let session = studio.app.state.live.start_with(options, None, None, Some(gate)).await.unwrap();
    let show_started = Instant::now();
    let id = session.id.clone();

    let b = Page::open().await;
    b.goto(&studio.url(&format!("/kiosk/{id}#consent={key}"))).await;
    let asking = "document.body.dataset.consent === 'asking' && document.getElementById('consent').open";
    b.wait("consent screen", asking, Duration::from_secs(15)).await;
    b.wait("viewer connected", "document.body.dataset.state === 'connected'", Duration::from_secs(20)).await;
    b.eval(LOG_CONSENT_REQUESTS).await;
    b.click("#consent-accept").await;
    let accepted = Instant::now();
    let playing = "document.body.classList.contains('playing') && Number(document.body.dataset.frames) > 20";
    if let Err(text) = b.try_wait("visitor on air", playing, Duration::from_secs(20)).await {
        // Say which side lost the visit: the page, the server's gate, or the tracker.
        let page = b.eval(KIOSK_STATE).await;
        let gate = serde_json::to_value(session.consent_view()).unwrap();
        let seen = session.with_runner(|r| r.face_seen_ago());
        let sent = session.summary().video_frames_sent;
        panic!("no picture 20 s after accepting: page {page}, server {gate}, face seen {seen:?} ago, {sent} frames sent; page text: {text}");
    }
    let face = studio.app.state.live.get(&id).unwrap().summary();
    assert!(accepted.duration_since(show_started) < Duration::from_secs(u64::from(FACE_S) - 4), "accepted too late");
    b.shot("33-kiosk-visitor-face").await;

    // Past the reset time after accepting, the face is still there: the visit goes on.
    let open_check = accepted + Duration::from_secs(u64::from(RESET_S) + 2);
    tokio::time::sleep_until(open_check.into()).await;
    assert_eq!(b.eval("document.getElementById('consent').open").await, false, "the visit ended with the face there");
    assert!(session.summary().video_frames_sent > face.video_frames_sent, "the picture kept going");

    // The face leaves at 20 s into the clip; the consent screen returns 5 s after that.
    b.wait("consent screen after the visitor left", asking, Duration::from_secs(u64::from(FACE_S) + 20)).await;
    let returned = show_started.elapsed();
    eprintln!(
        "visit accepted {:.1} s into the show, consent asked again at {:.1} s",
        accepted.duration_since(show_started).as_secs_f64(),
        returned.as_secs_f64()
    );
    let earliest = Duration::from_secs(u64::from(FACE_S + RESET_S) - 2);
    assert!(returned >= earliest, "asked again {returned:?} into the show, before the face had left for 5 s");
    let camera = session.summary().pipeline.map(|p| p.camera_open);
    assert_eq!(camera, Some(false), "the camera is closed again");
    b.shot("34-kiosk-visitor-left").await;

    let _ = b.client.clone().close().await;
    studio.app.state.live.stop_all().await;
}
