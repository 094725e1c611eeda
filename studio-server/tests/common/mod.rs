// SPDX-License-Identifier: MPL-2.0
//! Test helpers: a real server state on a fresh SQLite file, and JSON requests.
#![allow(dead_code, unreachable_pub)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use reenact_engine::PresetLibrary;
use reenact_server::{app, db, AppState, JwtKeys};
use serde_json::Value;
use tower::ServiceExt;

/// A small live preset, `live-360p`, so a browser test encodes 640x360 rather than 720p,
/// at `fps` frames a second.
pub fn live_small(fps: u32) -> String {
    format!(
        r#"
name = "live-360p"
description = "live 640x360 for tests"
mode = "live"
container = "mp4"
crop = "center"
captions = "off"
[video]
width = 640
height = 360
fps = {fps}
encoder = "x264"
bitrate_kbps = 800
speed_preset = "ultrafast"
keyframe_interval_s = 1.0
[audio]
codec = "aac"
bitrate_kbps = 96
sample_rate = 48000
channels = 2
"#
    )
}

/// The built-in presets and [`live_small`] at `fps`.
pub fn presets_with_live_small(fps: u32) -> Arc<PresetLibrary> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("live-360p.toml"), live_small(fps)).unwrap();
    let mut library = PresetLibrary::builtin().unwrap();
    library.add_dir(dir.path()).unwrap();
    Arc::new(library)
}

/// A file of `../shared` (test media and models beside the checkout).
pub fn shared(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared").join(rel)
}

/// Upload limit of test apps: above the shared GRID clips, below the presenter clip.
pub const UPLOAD_LIMIT: usize = 200_000;

/// An application on its own SQLite database (kept alive by the temp dir).
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// The app on SQLite, then on PostgreSQL when `TEST_DATABASE_URL` names a
    /// server (scripts/with-postgres.sh starts one; scripts/test.sh uses it).
    pub async fn all() -> Vec<Self> {
        let mut apps = vec![Self::sqlite().await];
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) => apps.push(Self::postgres(&url).await),
            Err(_) => eprintln!("TEST_DATABASE_URL not set: PostgreSQL variant skipped"),
        }
        apps
    }

    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::with_db(db::connect(&db::sqlite_url(dir.path())).await.unwrap(), dir)
    }

    /// A fresh database of its own on the server at `admin_url`.
    pub async fn postgres(admin_url: &str) -> Self {
        sqlx::any::install_default_drivers();
        let name = format!("t_{}", uuid_like());
        let admin = sqlx::AnyPool::connect(admin_url).await.expect("PostgreSQL at TEST_DATABASE_URL");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
        admin.close().await;
        let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
        let db = db::connect(&format!("{base}/{name}")).await.unwrap();
        Self::with_db(db, tempfile::tempdir().unwrap())
    }

    fn with_db(db: sqlx::AnyPool, dir: tempfile::TempDir) -> Self {
        let state = AppState {
            presets: Arc::new(PresetLibrary::builtin().unwrap()),
            db,
            keys: Arc::new(JwtKeys::new(b"test-secret-test-secret-test-secret!")),
            login_limiter: Default::default(),
            storage: Arc::new(reenact_server::storage::Storage::new(dir.path().join("storage")).unwrap()),
            upload_limit: UPLOAD_LIMIT,
            quota_bytes: 1_000_000,
            // The import tests serve their media on loopback.
            imports_allow_private: true,
            max_active_jobs: 20,
            live: Default::default(),
            cookies: Default::default(),
            models: Default::default(),
        };
        TestApp { router: app(state.clone()), state, _dir: dir }
    }

    /// Which database this app runs on, for assertion messages.
    pub fn backend(&self) -> &'static str {
        match self.state.db.connect_options().database_url.scheme() {
            "postgres" | "postgresql" => "postgres",
            _ => "sqlite",
        }
    }

    /// Sends a request with an optional JSON body and bearer token.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let response = self.router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    /// Uploads `bytes` as the `file` field of a multipart form.
    pub async fn upload(&self, project: &str, name: &str, bytes: &[u8], token: &str) -> (StatusCode, Value) {
        let boundary = "reenact-test-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = Request::post(format!("/api/projects/{project}/clips"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap();
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// GET with a token and extra headers; returns status, headers and raw body.
    pub async fn get_raw(
        &self,
        uri: &str,
        token: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut req = Request::get(uri).header("authorization", format!("Bearer {token}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let response = self.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
    }

    /// Files under the storage root, as relative paths.
    pub fn stored_files(&self) -> Vec<String> {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    out.push(path.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        let root = self._dir.path().join("storage");
        let mut out = Vec::new();
        walk(&root, &root, &mut out);
        out.sort();
        out
    }

    /// Serves the app on 127.0.0.1 with the socket peer recorded, as `reenact serve` does
    /// (sign-in limits and viewer seats count per client address).
    pub async fn serve(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let service = self.router.clone().into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
        addr
    }

    /// Registers and signs in `email`; returns (access, refresh) tokens.
    pub async fn sign_up(&self, email: &str) -> (String, String) {
        let creds = serde_json::json!({ "email": email, "password": "correct horse battery" });
        let (status, body) = self.call(Method::POST, "/api/auth/register", None, Some(creds.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = self.call(Method::POST, "/api/auth/login", None, Some(creds)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (body["access_token"].as_str().unwrap().into(), body["refresh_token"].as_str().unwrap().into())
    }
}

/// Asserts an error response: status and a `detail` containing `text`.
#[track_caller]
pub fn expect_error(got: (StatusCode, Value), status: StatusCode, text: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    let detail = got.1["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(text), "detail `{detail}` lacks `{text}`");
}

/// A unique lowercase name part.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}_{}_{}", std::process::id(), nanos, N.fetch_add(1, Ordering::Relaxed))
}

/// One HTTP/1.0 request to a server process on loopback (the close-delimited
/// answer needs no client library): status and body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("server");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let status = String::from_utf8_lossy(&response[9..12]).parse().unwrap();
    (status, response[split + 4..].to_vec())
}

/// `GET path` from a server process on loopback: the body as text.
pub fn http_get(addr: &str, path: &str) -> String {
    String::from_utf8_lossy(&http(addr, "GET", path, None, "text/plain", b"").1).into_owned()
}

/// Headless Chromium as it runs here: no sandbox (root), no network chatter the closed
/// network would refuse, autoplay without a click, and WebRTC host candidates as
/// addresses rather than mDNS names (everything is on one machine). Add a fresh
/// `--user-data-dir` per browser.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
];

/// A WHEP offer as a receive-only browser makes it (webrtc-rs: H.264, VP8 and Opus offered).
pub async fn whep_offer_sdp() -> (webrtc::peer_connection::RTCPeerConnection, String) {
    use webrtc::rtp_transceiver::rtp_codec::RTPCodecType;
    use webrtc::rtp_transceiver::rtp_transceiver_direction::RTCRtpTransceiverDirection;
    use webrtc::rtp_transceiver::RTCRtpTransceiverInit;
    let mut media = webrtc::api::media_engine::MediaEngine::default();
    media.register_default_codecs().unwrap();
    let api = webrtc::api::APIBuilder::new().with_media_engine(media).build();
    let pc = api.new_peer_connection(Default::default()).await.unwrap();
    for kind in [RTPCodecType::Video, RTPCodecType::Audio] {
        let init = RTCRtpTransceiverInit { direction: RTCRtpTransceiverDirection::Recvonly, send_encodings: vec![] };
        pc.add_transceiver_from_kind(kind, Some(init)).await.unwrap();
    }
    let offer = pc.create_offer(None).await.unwrap();
    pc.set_local_description(offer).await.unwrap();
    let sdp = pc.local_description().await.unwrap().sdp;
    (pc, sdp)
}

/// The ONNX Runtime library of the real user (the fresh home has none installed).
pub fn onnx_runtime() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        return Some(PathBuf::from(path));
    }
    let root = reenact_models::runtime_install_root()?;
    find_file(&root, &|name| name.starts_with("libonnxruntime.so"))
}

/// The first file under `dir`, depth first, whose name `wanted` accepts.
pub fn find_file(dir: &Path, wanted: &dyn Fn(&str) -> bool) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, wanted) {
                return Some(found);
            }
        } else if path.file_name().and_then(OsStr::to_str).is_some_and(wanted) {
            return Some(path);
        }
    }
    None
}

/// A fresh home: data, cache and a working directory with no `../shared` beside it.
pub struct Home {
    root: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        let root = tempfile::tempdir().expect("temp home");
        for dir in ["home", "data", "cache", "work/cwd"] {
            std::fs::create_dir_all(root.path().join(dir)).expect("home dirs");
        }
        Self { root }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// Where `reenact models install` writes without `--dir`.
    pub fn models(&self) -> PathBuf {
        self.path("data/reenact/models")
    }

    /// `reenact ARGS` in this home, run from its working directory.
    pub fn reenact<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command(args).output().expect("run reenact")
    }

    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(env!("CARGO_BIN_EXE_reenact"));
        command
            .args(args)
            .current_dir(self.path("work/cwd"))
            .env("HOME", self.path("home"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("RUST_LOG", "error")
            .env_remove("REENACT_MODELS")
            .env_remove("REENACT_MODEL_CACHE");
        if let Some(runtime) = onnx_runtime() {
            command.env("ORT_DYLIB_PATH", runtime);
        }
        command
    }
}
