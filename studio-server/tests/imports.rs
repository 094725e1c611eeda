// SPDX-License-Identifier: MPL-2.0
//! The import egress policy against loopback sites: 127.0.0.1 stands in for the Internet,
//! 127.0.0.2 for the internal network. Nothing here is sent to any other address.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use common::{shared, TestApp};
use reenact_server::jobs::download::{fetch, ytdlp_program, Fetched, NOT_ALLOWED};
use reenact_server::jobs::egress::{Policy, Proxy};
use reenact_server::jobs::worker::JobContext;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn take() -> Vec<u8> {
    std::fs::read(shared("media/grid/grid_swwp2s.mp4")).unwrap()
}

/// A site on `ip` counting the requests it gets; `routes` gets the site's own address.
async fn site(ip: &str, routes: impl FnOnce(&str) -> axum::Router) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = routes(&address).layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                next.run(request).await
            }
        },
    ));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, hits)
}

/// The sites of these tests.
struct Sites {
    /// On 127.0.0.1: `/take.mp4`, `/moved.mp4` (a redirect to `mirror`), `/inside.mp4` (a
    /// redirect to `internal`), `/local.m3u8` (HLS, both fragments here), `/mixed.m3u8` (the
    /// second fragment on `internal`), `/feed.rss` (two videos), `/slow.mp4` (never ends).
    public: String,
    /// Another port of 127.0.0.1 with `/take.mp4`.
    mirror: String,
    /// On 127.0.0.2, serving the same files: whatever reaches it leaked.
    internal: String,
    internal_hits: Arc<AtomicUsize>,
}

async fn sites() -> Sites {
    let halves = || {
        let bytes = take();
        let half = bytes.len() / 2;
        (bytes[..half].to_vec(), bytes[half..].to_vec())
    };
    let files = |router: axum::Router| {
        let (first, second) = halves();
        router
            .route("/take.mp4", get(|| async { ([(header::CONTENT_TYPE, "video/mp4")], take()) }))
            .route("/part0", get(move || async move { first }))
            .route("/part1", get(move || async move { second }))
    };
    let (internal, internal_hits) = site("127.0.0.2", |_| files(axum::Router::new())).await;
    let (mirror, _) = site("127.0.0.1", |_| files(axum::Router::new())).await;
    let (public, _) = {
        let (internal, mirror) = (internal.clone(), mirror.clone());
        site("127.0.0.1", move |me| {
            let hls = |second: String| {
                "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n".to_string()
                    + &format!("#EXTINF:1.5,\n{me}/part0\n#EXTINF:1.5,\n{second}/part1\n#EXT-X-ENDLIST\n")
            };
            let m3u8 = |text: String| move || async move { ([(header::CONTENT_TYPE, "application/vnd.apple.mpegurl")], text) };
            let item = |name: &str| format!("<item><title>{name}</title><enclosure url=\"{me}/take.mp4?{name}\" type=\"video/mp4\" length=\"1\"/></item>");
            let feed = format!(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Two takes</title><link>{me}/</link>\
                 <description>takes</description>{}{}</channel></rss>",
                item("one"),
                item("two")
            );
            let slow = || {
                futures_util::stream::unfold((), |()| async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Some((Ok::<_, std::io::Error>(bytes::Bytes::from_static(&[0u8; 1024])), ()))
                })
            };
            let moved = format!("{mirror}/take.mp4");
            let inside = format!("{internal}/take.mp4");
            files(axum::Router::new())
                .route("/moved.mp4", get(move || async move { Redirect::temporary(&moved) }))
                .route("/inside.mp4", get(move || async move { Redirect::temporary(&inside) }))
                .route("/local.m3u8", get(m3u8(hls(me.to_string()))))
                .route("/mixed.m3u8", get(m3u8(hls(internal.clone()))))
                .route("/feed.rss", get(move || async move { ([(header::CONTENT_TYPE, "application/rss+xml")], feed) }))
                .route(
                    "/slow.mp4",
                    get(move || async move {
                        ([(header::CONTENT_TYPE, "video/mp4")], axum::body::Body::from_stream(slow())).into_response()
                    }),
                )
        })
        .await
    };
    Sites { public, mirror, internal, internal_hits }
}

/// A proxy that takes 127.0.0.1 for the Internet and refuses everything else.
async fn loopback_only() -> Proxy {
    Proxy::start(Policy::Only(vec!["127.0.0.1".parse().unwrap()])).await.unwrap()
}

/// Runs yt-dlp through `proxy` on `url` as an import does; answers the file's bytes.
async fn download(proxy: &Arc<Proxy>, program: Command, url: &str, ctx: Arc<JobContext>) -> Result<Vec<u8>, String> {
    let (proxy, url) = (proxy.clone(), url.to_string());
    tokio::task::spawn_blocking(move || {
        let work = tempfile::tempdir().unwrap();
        let fetched: Fetched = fetch(program, &url, 50_000_000, &proxy, work.path(), &ctx)?;
        Ok(std::fs::read(fetched.file).unwrap())
    })
    .await
    .unwrap()
}

/// Asserts that `error` says nothing of where the import was sent.
#[track_caller]
fn says_nothing_internal(error: &str, sites: &Sites) {
    for site in [&sites.public, &sites.mirror, &sites.internal] {
        let port = site.rsplit(':').next().unwrap();
        assert!(!error.contains(port), "`{error}` names a port");
    }
    for detail in ["127.0.0", "localhost", "route", "refused", "Connection", "Errno", "Forbidden", "403"] {
        assert!(!error.contains(detail), "`{error}` says `{detail}`");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_lets_through_what_its_policy_allows_and_refuses_the_rest() {
    let sites = sites().await;
    let bytes = take();
    for path in ["/take.mp4", "/moved.mp4", "/local.m3u8"] {
        let proxy = Arc::new(loopback_only().await);
        let got = download(&proxy, ytdlp_program(), &format!("{}{path}", sites.public), Default::default()).await;
        assert_eq!(got.as_deref().map(<[u8]>::len), Ok(bytes.len()), "{path}");
        assert_eq!(got.unwrap(), bytes, "{path}");
        assert!(proxy.tally().passed() >= 1, "{path}: yt-dlp went through the proxy");
        assert_eq!(proxy.tally().refused(), 0, "{path}");
    }
    // A redirect, and an HLS fragment, into the internal network: the first requests pass,
    // the one to 127.0.0.2 is refused by the proxy, and the user learns nothing of it.
    for (path, passed) in [("/inside.mp4", 1), ("/mixed.m3u8", 2)] {
        let proxy = Arc::new(loopback_only().await);
        let error = download(&proxy, ytdlp_program(), &format!("{}{path}", sites.public), Default::default())
            .await
            .unwrap_err();
        assert_eq!(error, format!("download failed: {NOT_ALLOWED}"), "{path}");
        says_nothing_internal(&error, &sites);
        assert!(proxy.tally().passed() >= passed, "{path}: the public part passed");
        assert!(proxy.tally().refused() >= 1, "{path}");
    }
    assert_eq!(sites.internal_hits.load(Ordering::SeqCst), 0, "nothing reached the internal site");
}

/// Sends `request` to the proxy and answers the status line of its reply.
async fn ask(proxy: &Proxy, request: &str) -> (String, tokio::net::TcpStream) {
    let mut stream = tokio::net::TcpStream::connect(proxy.url().trim_start_matches("http://")).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "the proxy closed: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    (head.lines().next().unwrap().to_string(), stream)
}

#[tokio::test]
async fn connect_tunnels_and_plain_requests_obey_the_policy() {
    let sites = sites().await;
    let proxy = loopback_only().await;
    let public = sites.public.trim_start_matches("http://");
    let internal = sites.internal.trim_start_matches("http://");

    let (status, mut tunnel) = ask(&proxy, &format!("CONNECT {public} HTTP/1.1\r\nHost: {public}\r\n\r\n")).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    tunnel.write_all(b"GET /part0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    tunnel.read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200 OK"), "{}", String::from_utf8_lossy(&answer[..40]));

    for (request, refused) in [
        (format!("CONNECT {internal} HTTP/1.1\r\nHost: {internal}\r\n\r\n"), true),
        (format!("GET {}/take.mp4 HTTP/1.1\r\nHost: {internal}\r\n\r\n", sites.internal), true),
        // The internal host in IPv6 clothing.
        (
            format!("CONNECT [::ffff:127.0.0.2]:{} HTTP/1.1\r\nHost: x\r\n\r\n", internal.rsplit(':').next().unwrap()),
            true,
        ),
        (format!("GET {}/part1 HTTP/1.1\r\nHost: {public}\r\nConnection: close\r\n\r\n", sites.public), false),
    ] {
        let (status, _) = ask(&proxy, &request).await;
        let expected = if refused { "HTTP/1.1 403 Forbidden" } else { "HTTP/1.1 200 OK" };
        assert_eq!(status, expected, "{request}");
    }
    assert_eq!(sites.internal_hits.load(Ordering::SeqCst), 0);
    assert_eq!(proxy.tally().refused(), 3);
}

/// Submits an import of `url` and runs it with the studio's worker; answers the ended job.
/// With `private_off`, the job runs as on a server without `imports_allow_private`, as when
/// the name resolved elsewhere when it was asked for.
async fn import(app: &TestApp, token: &str, url: &str, private_off: bool) -> serde_json::Value {
    let (_, project) = app.call(Method::POST, "/api/projects", Some(token), Some(json!({ "name": "Imports" }))).await;
    let uri = format!("/api/projects/{}/imports", project["id"].as_str().unwrap());
    let (status, job) = app.call(Method::POST, &uri, Some(token), Some(json!({ "url": url }))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    if private_off {
        let mut params = job["params"].clone();
        params["allow_private"] = json!(false);
        sqlx::query("UPDATE jobs SET params = $1 WHERE id = $2")
            .bind(params.to_string())
            .bind(job["id"].as_str().unwrap())
            .execute(&app.state.db)
            .await
            .unwrap();
    }
    let worker = reenact_server::jobs::handlers::worker(app.state.db.clone(), app.state.storage.clone(), "w".into());
    assert!(worker.run_once().await.unwrap().is_some());
    let job_uri = format!("/api/jobs/{}", job["id"].as_str().unwrap());
    app.call(Method::GET, &job_uri, Some(token), None).await.1
}

#[tokio::test]
async fn without_private_imports_internal_addresses_are_refused_and_nothing_is_stored() {
    let sites = sites().await;
    let mut app = TestApp::sqlite().await;
    let (token, _) = app.sign_up("ada@museum.org").await;
    let internal_port = sites.internal.rsplit(':').next().unwrap();
    // Refused at the door, in every spelling of a loopback address.
    app.state.imports_allow_private = false;
    app.router = reenact_server::app(app.state.clone());
    let (_, project) = app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "P" }))).await;
    let uri = format!("/api/projects/{}/imports", project["id"].as_str().unwrap());
    for url in [
        format!("{}/inside.mp4", sites.public),
        format!("{}/take.mp4", sites.internal),
        format!("http://localhost:{internal_port}/take.mp4"),
        format!("http://[::ffff:127.0.0.2]:{internal_port}/take.mp4"),
        format!("http://[::1]:{internal_port}/take.mp4"),
    ] {
        let (status, answer) = app.call(Method::POST, &uri, Some(&token), Some(json!({ "url": url }))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {answer}");
        let detail = answer["detail"].as_str().unwrap();
        assert_eq!(detail, format!("url: {NOT_ALLOWED}"));
        says_nothing_internal(detail, &sites);
    }
    let (_, jobs) = app.call(Method::GET, "/api/jobs", Some(&token), None).await;
    assert_eq!(jobs, json!([]), "nothing was queued");

    // And when the job runs.
    app.state.imports_allow_private = true;
    app.router = reenact_server::app(app.state.clone());
    for path in ["/inside.mp4", "/mixed.m3u8"] {
        let done = import(&app, &token, &format!("{}{path}", sites.public), true).await;
        assert_eq!(done["state"], "dead", "{done}");
        let error = done["error"].as_str().unwrap();
        assert_eq!(error, format!("params.url: {NOT_ALLOWED}"));
        says_nothing_internal(error, &sites);
    }
    assert_eq!(app.stored_files(), Vec::<String>::new());
    assert_eq!(sites.internal_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_playlist_of_several_videos_is_refused() {
    let sites = sites().await;
    let app = TestApp::sqlite().await;
    let (token, _) = app.sign_up("ada@museum.org").await;
    let done = import(&app, &token, &format!("{}/feed.rss", sites.public), false).await;
    assert_eq!(done["state"], "dead", "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(error.starts_with("download failed: the address is a playlist of several videos"), "{error}");
    assert_eq!(app.stored_files(), Vec::<String>::new(), "no entry was stored");
}

/// Ids of the processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let entries = std::fs::read_dir("/proc").unwrap().flatten();
    let pids = entries.map(|e| e.file_name().to_string_lossy().to_string()).filter(|n| n.parse::<u32>().is_ok());
    pids.filter(|pid| {
        let line = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&line).contains(marker)
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_ends_yt_dlp_and_every_process_it_started() {
    let sites = sites().await;
    let marker = format!("reenact-import-test-{}", std::process::id());
    // yt-dlp as configured, under a shell that first starts an ffmpeg of its own (as yt-dlp
    // does for formats it cannot fetch itself), which nothing would otherwise end.
    let real = ytdlp_program();
    let mut program = Command::new("sh");
    program
        .arg("-c")
        .arg(format!(
            "ffmpeg -nostdin -loglevel quiet -re -f lavfi -i anullsrc -t 600 -metadata comment={marker} -f null - & \
             exec \"$@\""
        ))
        .arg("sh")
        .arg(real.get_program())
        .args(real.get_args());
    for (name, value) in real.get_envs() {
        if let Some(value) = value {
            program.env(name, value);
        }
    }
    let proxy = Arc::new(loopback_only().await);
    let ctx = Arc::new(JobContext::default());
    let url = format!("{}/slow.mp4?{marker}", sites.public);
    let running = tokio::spawn({
        let (proxy, ctx) = (proxy.clone(), ctx.clone());
        async move { download(&proxy, program, &url, ctx).await }
    });
    let mut started = false;
    for _ in 0..200 {
        // yt-dlp (its URL holds the marker) and the ffmpeg are running, and the download began.
        if processes_with(&marker).len() >= 2 && proxy.tally().passed() >= 1 {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started, "yt-dlp and ffmpeg did not start: {:?}", processes_with(&marker));
    tokio::time::sleep(Duration::from_millis(500)).await;
    ctx.cancel_token().cancel();
    let ended = tokio::time::timeout(Duration::from_secs(10), running).await.expect("the download ended").unwrap();
    assert_eq!(ended, Err("cancelled".to_string()));
    let mut left = processes_with(&marker);
    for _ in 0..40 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = processes_with(&marker);
    }
    assert_eq!(left, Vec::<String>::new(), "no process of the import is left");
}
