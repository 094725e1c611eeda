// SPDX-License-Identifier: MPL-2.0
//! A headless Chromium driven over WebDriver (Debian's chromedriver) for the browser
//! tests: open one (with fake camera and microphone files when a test publishes), evaluate
//! script, wait for a condition, fill and click, and save screenshots under
//! `target/ui-screenshots/`. Each browser has its own profile and driver, so a test may
//! run several side by side (a presenter and a viewer) and kill one of them outright.
//! Included with `#[path = "common/browser.rs"] mod browser;` beside `mod common;`.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::common::CHROMIUM_FLAGS;

/// Where screenshots go: `target/ui-screenshots/` (or under `CARGO_TARGET_DIR`).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The presenter clip as fake camera and microphone files in `dir`: raw 1280x720 video
/// (Chromium scales it to what the page asks for) and its speech as a WAV, 3 s each,
/// looped by Chromium. The clip is a still portrait, so every frame is the same picture.
pub fn presenter_devices(dir: &Path) -> (PathBuf, PathBuf) {
    let clip = crate::common::shared("media/synthetic/presenter_astronaut_1280x720_25fps.mp4");
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

/// chromedriver and a Chromium session, both gone with the value.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    /// A browser without cameras.
    pub async fn open() -> Self {
        Self::launch(&[]).await
    }

    /// A browser whose camera and microphone play `video` (.y4m) and `audio` (.wav), and
    /// whose permission prompt always says yes.
    pub async fn with_devices(video: &Path, audio: &Path) -> Self {
        Self::launch(&[
            "--use-fake-device-for-media-stream".to_owned(),
            "--use-fake-ui-for-media-stream".to_owned(),
            format!("--use-file-for-fake-video-capture={}", video.display()),
            format!("--use-file-for-fake-audio-capture={}", audio.display()),
        ])
        .await
    }

    async fn launch(extra: &[String]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (scripts/setup.sh installs chromium-driver)");
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push("--window-size=1366,1000".to_owned());
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(extra.iter().cloned());
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
        Browser { client, driver, profile }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }

    /// The value of a JavaScript expression (`null` when it throws).
    pub async fn eval(&self, expr: &str) -> Value {
        self.client.execute(&format!("return ({expr});"), vec![]).await.unwrap_or(Value::Null)
    }

    /// The value a promise-valued expression resolves to (`null` when it rejects).
    pub async fn eval_async(&self, expr: &str) -> Value {
        let script = format!(
            "const done = arguments[arguments.length - 1]; Promise.resolve({expr}).then(done, () => done(null));"
        );
        self.client.execute_async(&script, vec![]).await.unwrap_or(Value::Null)
    }

    /// Waits until `expr` is truthy; its value. On timeout: a screenshot and the page's text.
    pub async fn wait(&self, what: &str, expr: &str, timeout: Duration) -> Value {
        match self.try_wait(what, expr, timeout).await {
            Ok(value) => value,
            Err(page) => panic!("timed out waiting for {what} ({expr}); page text: {page}"),
        }
    }

    /// Waits until `expr` is truthy: its value, or on timeout the page's text (after a
    /// screenshot), for a test that has more to say about why.
    pub async fn try_wait(&self, what: &str, expr: &str, timeout: Duration) -> Result<Value, Value> {
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
                return Ok(value);
            }
            if Instant::now() > deadline {
                self.shot(&format!("failed-{}", what.replace(' ', "-"))).await;
                return Err(self.eval("document.body && document.body.innerText").await);
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        if !text.is_empty() {
            field.send_keys(text).await.unwrap();
        }
    }

    /// Chooses `file` in the file field `css`.
    pub async fn attach(&self, css: &str, file: &Path) {
        let field = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap();
        // chromedriver takes only canonical paths.
        let file = file.canonicalize().unwrap();
        field.send_keys(&file.display().to_string()).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        let element = self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap();
        element.click().await.unwrap();
    }

    /// Waits for an element matching `css` to be on the page.
    pub async fn live(&self, css: &str) {
        self.wait(
            &format!("page with {css}"),
            &format!("document.querySelector({css:?}) !== null"),
            Duration::from_secs(15),
        )
        .await;
    }

    /// Signs in on the `/login` page at `base` and waits for the projects page.
    pub async fn sign_in(&self, base: &str, email: &str, password: &str) {
        self.goto(&format!("{base}/login")).await;
        self.live("#auth-form").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("#auth-form button[type=submit]").await;
        self.wait("projects", "location.pathname === '/projects'", Duration::from_secs(15)).await;
    }

    /// The browser vanishes as a crashed laptop would: every Chromium process of this
    /// profile killed outright, no page unload, no WHIP `DELETE`.
    pub fn kill(&mut self) {
        let marker = format!("user-data-dir={}", self.profile.path().display());
        let _ = Command::new("pkill").args(["-KILL", "-f"]).arg(&marker).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    /// Chromium outlives a killed chromedriver: left running, a page playing WebRTC keeps
    /// a core busy for the rest of the test run.
    fn drop(&mut self) {
        self.kill();
    }
}
