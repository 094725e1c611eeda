// SPDX-License-Identifier: MPL-2.0
//! Media uploads: accepted only after discovery, stored by id, served with
//! ranges, never visible to another user.

mod common;

use std::path::PathBuf;

use axum::http::{Method, StatusCode};
use common::{expect_error, TestApp, UPLOAD_LIMIT};
use serde_json::json;

fn media(rel: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/media").join(rel)).unwrap()
}

async fn project(app: &TestApp, token: &str) -> String {
    let (status, p) = app.call(Method::POST, "/api/projects", Some(token), Some(json!({ "name": "Clips" }))).await;
    assert_eq!(status, StatusCode::CREATED);
    p["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn upload_is_discovered_stored_by_id_and_served_with_ranges() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token).await;
        let bytes = media("grid/grid_swwp2s.mp4");
        let (status, clip) = app.upload(&project, "../../take one.mp4", &bytes, &token).await;
        assert_eq!(status, StatusCode::CREATED, "{clip}");
        assert_eq!(clip["name"], "take one.mp4");
        assert_eq!((clip["width"].as_i64(), clip["height"].as_i64()), (Some(360), Some(288)));
        assert!((clip["duration_s"].as_f64().unwrap() - 3.0).abs() < 0.05, "{clip}");
        assert_eq!(clip["bytes"].as_i64(), Some(bytes.len() as i64));
        assert!(clip["audio_codec"].is_string());

        let id = clip["id"].as_str().unwrap();
        let stored = app.stored_files();
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert!(stored[0].ends_with(&format!("/projects/{project}/source/{id}.mp4")), "{stored:?}");
        assert!(!stored[0].contains("take"), "user-supplied names never reach paths");

        let (_, list) = app.call(Method::GET, &format!("/api/projects/{project}/clips"), Some(&token), None).await;
        assert_eq!(list.as_array().unwrap().len(), 1);

        let uri = format!("/api/clips/{id}/media");
        let (status, _, whole) = app.get_raw(&uri, &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(whole, bytes);
        let (status, headers, part) = app.get_raw(&uri, &token, &[("range", "bytes=100-199")]).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(part, &bytes[100..200]);
        assert_eq!(headers["content-range"], format!("bytes 100-199/{}", bytes.len()).as_str());

        // A thumbnail, made once and stored by id beside the project's other thumbnails.
        let thumb = format!("/api/clips/{id}/thumbnail");
        let (status, headers, jpeg) = app.get_raw(&thumb, &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "image/jpeg");
        assert_eq!(&jpeg[..3], &[0xff, 0xd8, 0xff], "a JPEG");
        assert_eq!(jpeg_size(&jpeg), (360, 288));
        let stored = app.stored_files();
        assert!(
            stored.iter().any(|f| f.ends_with(&format!("/projects/{project}/thumbnails/clip-{id}.jpg"))),
            "{stored:?}"
        );
        assert_eq!(app.get_raw(&thumb, &token, &[]).await.2, jpeg, "served again from storage");
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        assert_eq!(app.get_raw(&thumb, &eve, &[]).await.0, StatusCode::NOT_FOUND);
    }
}

/// Width and height from a JPEG's first start-of-frame marker.
fn jpeg_size(jpeg: &[u8]) -> (u16, u16) {
    let mut i = 2;
    while i + 9 < jpeg.len() {
        let (marker, len) = (jpeg[i + 1], u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize);
        if (0xc0..=0xc2).contains(&marker) {
            let h = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]);
            let w = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]);
            return (w, h);
        }
        i += 2 + len;
    }
    panic!("no start-of-frame marker");
}

#[tokio::test]
async fn bad_uploads_get_a_reason_and_store_nothing() {
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token).await;
        expect_error(
            app.upload(&project, "notes.mp4", b"these are notes, not a video", &token).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file: not a media file",
        );
        expect_error(
            app.upload(&project, "empty.mp4", b"", &token).await,
            StatusCode::BAD_REQUEST,
            "file: the upload is empty",
        );
        expect_error(
            app.upload(&project, "voice.wav", &media("jfk.wav")[..150_000], &token).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file: no video stream",
        );
        let grid = media("grid/grid_bbaf2n.mp4");
        expect_error(
            app.upload(&project, "cut.mp4", &grid[..grid.len() / 2], &token).await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file: truncated or damaged",
        );
        let big = media("synthetic/presenter_astronaut_1280x720_25fps.mp4");
        assert!(big.len() > UPLOAD_LIMIT);
        let (status, _) = app.upload(&project, "big.mp4", &big, &token).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(app.stored_files(), Vec::<String>::new(), "no file kept, not even in tmp/");
        let (_, list) = app.call(Method::GET, &format!("/api/projects/{project}/clips"), Some(&token), None).await;
        assert_eq!(list, json!([]));
    }
}

#[tokio::test]
async fn clips_of_another_user_are_not_found() {
    for app in TestApp::all().await {
        let (ada, _) = app.sign_up("ada@museum.org").await;
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        let project = project(&app, &ada).await;
        let (_, clip) = app.upload(&project, "take.mp4", &media("grid/grid_swwp2s.mp4"), &ada).await;
        let id = clip["id"].as_str().unwrap();
        let (status, _, body) = app.get_raw(&format!("/api/clips/{id}/media"), &eve, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.len() < 200);
        let (status, _) = app.call(Method::GET, &format!("/api/projects/{project}/clips"), Some(&eve), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = app.upload(&project, "take.mp4", &media("grid/grid_swwp2s.mp4"), &eve).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn deleting_the_account_removes_every_stored_file() {
    for app in TestApp::all().await {
        let (ada, _) = app.sign_up("ada@museum.org").await;
        let (bob, _) = app.sign_up("bob@museum.org").await;
        for token in [&ada, &bob] {
            let project = project(&app, token).await;
            let (status, _) = app.upload(&project, "take.mp4", &media("grid/grid_swwp2s.mp4"), token).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        assert_eq!(app.stored_files().len(), 2);
        let (status, _) = app.call(Method::DELETE, "/api/account", Some(&ada), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let left = app.stored_files();
        assert_eq!(left.len(), 1, "{left:?}");
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM clips").fetch_one(&app.state.db).await.unwrap();
        assert_eq!(count, 1, "only bob's clip row stays");
    }
}

/// A web site on loopback to import from: `/take.mp4` (a GRID clip), `/big.mp4` (over the
/// test upload limit), `/stream.mp4` (endless, without a length), `/slow.mp4` (never ends, slowly),
/// `/page.html`, `/notes.mp4` (text sent as video); anything else is 404.
async fn media_site() -> String {
    use axum::body::{Body, Bytes};
    use axum::http::header::CONTENT_TYPE;
    use axum::routing::get;

    type Chunk = Result<Bytes, std::io::Error>;
    let video = || [(CONTENT_TYPE, "video/mp4")];
    let big = "synthetic/presenter_astronaut_1280x720_25fps.mp4";
    let endless = || futures_util::stream::repeat_with(|| Chunk::Ok(Bytes::from_static(&[0u8; 16 * 1024])));
    let slow = || {
        futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            Some((Chunk::Ok(Bytes::from_static(&[0u8; 1024])), ()))
        })
    };
    let site = axum::Router::new()
        .route("/take.mp4", get(move || async move { (video(), media("grid/grid_swwp2s.mp4")) }))
        .route("/big.mp4", get(move || async move { (video(), media(big)) }))
        .route("/stream.mp4", get(move || async move { (video(), Body::from_stream(endless())) }))
        .route("/slow.mp4", get(move || async move { (video(), Body::from_stream(slow())) }))
        .route("/notes.mp4", get(move || async move { (video(), "these are notes, not a video") }))
        .route("/page.html", get(|| async { axum::response::Html("<html><body><p>No video here.</p></body></html>") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });
    format!("http://{addr}")
}

/// Asks for an import of `url` and answers the queued job.
async fn import(app: &TestApp, project: &str, token: &str, url: &str) -> serde_json::Value {
    let uri = format!("/api/projects/{project}/imports");
    let (status, job) = app.call(Method::POST, &uri, Some(token), Some(json!({ "url": url }))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!((job["type"].as_str(), job["state"].as_str()), (Some("video_download"), Some("queued")), "{job}");
    job
}

/// Runs the next job with the studio's handlers and answers it as it ended.
async fn run_job(app: &TestApp, token: &str, job: &serde_json::Value) -> serde_json::Value {
    let worker = reenact_server::jobs::handlers::worker(app.state.db.clone(), app.state.storage.clone(), "w".into());
    assert!(worker.run_once().await.unwrap().is_some());
    let uri = format!("/api/jobs/{}", job["id"].as_str().unwrap());
    app.call(Method::GET, &uri, Some(token), None).await.1
}

#[tokio::test]
async fn import_from_a_url_is_downloaded_checked_and_stored_like_an_upload() {
    let site = media_site().await;
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token).await;
        let job = import(&app, &project, &token, &format!("{site}/take.mp4")).await;
        let done = run_job(&app, &token, &job).await;
        assert_eq!(done["state"], "succeeded", "{} {done}", app.backend());
        assert_eq!(done["progress"], 100.0);
        let result = &done["result"];
        assert_eq!(result["title"], "take", "{result}");
        let frame = 1.0 / 25.0;
        assert!((result["duration_s"].as_f64().unwrap() - 3.0).abs() <= frame, "{result}");

        let (_, list) = app.call(Method::GET, &format!("/api/projects/{project}/clips"), Some(&token), None).await;
        let clips = list.as_array().unwrap();
        assert_eq!(clips.len(), 1, "{list}");
        let clip = &clips[0];
        assert_eq!(clip["id"], result["clip_id"]);
        assert_eq!(clip["name"], "take.mp4");
        assert_eq!((clip["width"].as_i64(), clip["height"].as_i64()), (Some(360), Some(288)));
        assert!((clip["duration_s"].as_f64().unwrap() - 3.0).abs() <= frame, "{clip}");
        assert!(clip["audio_codec"].is_string());

        let bytes = media("grid/grid_swwp2s.mp4");
        let (status, _, served) =
            app.get_raw(&format!("/api/clips/{}/media", clip["id"].as_str().unwrap()), &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(served, bytes);
        let stored = app.stored_files();
        assert_eq!(stored.len(), 1, "only the clip, no work folder left: {stored:?}");
        assert!(stored[0].contains(&format!("/projects/{project}/source/")), "{stored:?}");

        let (_, log) = app.call(Method::GET, "/api/account/audit", Some(&token), None).await;
        let imported = log.as_array().unwrap().iter().find(|e| e["action"] == "clip.import");
        assert_eq!(imported.map(|e| &e["target_id"]), Some(&done["id"]), "{log}");
    }
}

#[tokio::test]
async fn failed_imports_say_why_and_store_nothing() {
    let site = media_site().await;
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let project = project(&app, &token).await;
        for (path, reason) in [
            ("/missing.mp4", "download failed: the address answered HTTP error 404"),
            ("/page.html", "download failed: no video found at this address"),
            ("/notes.mp4", "not a video: not a media file"),
            ("/big.mp4", "too large: larger than the upload limit of 0.2 MB"),
            // No length announced, no end: only the server's count of the bytes stops it.
            ("/stream.mp4", "too large: larger than the upload limit of 0.2 MB"),
        ] {
            let job = import(&app, &project, &token, &format!("{site}{path}")).await;
            let done = run_job(&app, &token, &job).await;
            // A failed import is not retried: the same address fails the same way again.
            assert_eq!(done["state"], "dead", "{path}: {done}");
            let error = done["error"].as_str().unwrap_or_default();
            assert!(error.contains(reason), "{path}: `{error}` lacks `{reason}`");
        }
        assert_eq!(app.stored_files(), Vec::<String>::new(), "no clip and no work folder left");
        let (_, list) = app.call(Method::GET, &format!("/api/projects/{project}/clips"), Some(&token), None).await;
        assert_eq!(list, json!([]));
    }
}

#[tokio::test]
async fn cancelling_an_import_stops_the_download() {
    let site = media_site().await;
    let app = TestApp::sqlite().await;
    let (token, _) = app.sign_up("ada@museum.org").await;
    let project = project(&app, &token).await;
    let job = import(&app, &project, &token, &format!("{site}/slow.mp4")).await;
    let worker = reenact_server::jobs::handlers::worker(app.state.db.clone(), app.state.storage.clone(), "w".into());
    let running = tokio::spawn(async move { worker.run_once().await.unwrap() });
    let uri = format!("/api/jobs/{}", job["id"].as_str().unwrap());
    for _ in 0..100 {
        if app.call(Method::GET, &uri, Some(&token), None).await.1["stage"] == "downloading" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let (status, _) = app.call(Method::POST, &format!("{uri}/cancel"), Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    // The download never ends by itself (and reaches the size limit only after 20 s).
    tokio::time::timeout(std::time::Duration::from_secs(10), running).await.expect("yt-dlp killed").unwrap();
    let (_, done) = app.call(Method::GET, &uri, Some(&token), None).await;
    assert_eq!(done["state"], "cancelled", "{done}");
    assert_eq!(app.stored_files(), Vec::<String>::new(), "the work folder is removed");
}

#[tokio::test]
async fn imports_are_refused_before_any_job() {
    for app in TestApp::all().await {
        let (ada, _) = app.sign_up("ada@museum.org").await;
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        let project = project(&app, &ada).await;
        let uri = format!("/api/projects/{project}/imports");
        for url in ["file:///etc/passwd", "ftp://example.org/take.mp4", "data:video/mp4;base64,AAAA", "take.mp4"] {
            expect_error(
                app.call(Method::POST, &uri, Some(&ada), Some(json!({ "url": url }))).await,
                StatusCode::BAD_REQUEST,
                "url: only http:// and https://",
            );
        }
        let long = format!("https://example.org/{}", "a".repeat(3000));
        expect_error(
            app.call(Method::POST, &uri, Some(&ada), Some(json!({ "url": long }))).await,
            StatusCode::BAD_REQUEST,
            "url: at most",
        );
        expect_error(app.call(Method::POST, &uri, Some(&ada), Some(json!({}))).await, StatusCode::BAD_REQUEST, "url");
        let take = json!({ "url": "https://example.org/take.mp4" });
        let (status, _) = app.call(Method::POST, &uri, Some(&eve), Some(take.clone())).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another user's project");
        expect_error(
            app.call(Method::POST, "/api/jobs", Some(&ada), Some(json!({ "type": "video_download", "params": take })))
                .await,
            StatusCode::BAD_REQUEST,
            "/imports",
        );
        let (_, jobs) = app.call(Method::GET, "/api/jobs", Some(&ada), None).await;
        assert_eq!(jobs, json!([]), "nothing was queued");

        let keyed = json!({ "url": "https://example.org/take.mp4", "idempotency_key": "take-1", "priority": 5 });
        let (status, first) = app.call(Method::POST, &uri, Some(&ada), Some(keyed.clone())).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{first}");
        assert_eq!(
            (first["priority"].as_i64(), first["params"]["url"].as_str()),
            (Some(5), Some("https://example.org/take.mp4"))
        );
        let (status, again) = app.call(Method::POST, &uri, Some(&ada), Some(keyed)).await;
        assert_eq!((status, &again["id"]), (StatusCode::OK, &first["id"]), "same key, same job");
        // By default a server keeps imports off its own network.
        let mut app = app;
        app.state.imports_allow_private = false;
        app.router = reenact_server::app(app.state.clone());
        for (url, ip) in [
            ("http://127.0.0.1:9/take.mp4", "127.0.0.1"),
            ("http://localhost/take.mp4", "127.0.0.1"),
            ("http://169.254.169.254/latest/meta-data/", "169.254"),
            ("https://10.1.2.3/take.mp4", "10.1.2.3"),
            ("http://[::1]:8080/take.mp4", "::1"),
            ("http://[::ffff:192.168.0.1]/take.mp4", "192.168"),
            ("http://[::127.0.0.1]/take.mp4", "127.0.0.1"),
            ("http://[64:ff9b::a9fe:a9fe]/latest/meta-data/", "64:ff9b"),
            ("http://[2002:7f00:1::1]/take.mp4", "2002"),
        ] {
            // One reason for all: what a name resolves to, and why, is not told.
            let (status, answer) = app.call(Method::POST, &uri, Some(&ada), Some(json!({ "url": url }))).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {answer}");
            assert_eq!(answer["detail"], format!("url: {}", reenact_server::jobs::download::NOT_ALLOWED), "{url}");
            assert!(!answer.to_string().contains(ip));
        }
        let (_, jobs) = app.call(Method::GET, "/api/jobs", Some(&ada), None).await;
        assert_eq!(jobs.as_array().map(Vec::len), Some(1), "only the keyed import was queued: {jobs}");
    }
}

/// A 2 s clip made with ffmpeg in `dir`: a test picture, and (with `tone`) one second of
/// digital silence then one second of a 440 Hz sine at -6 dBFS (amplitude 0.5), stored
/// losslessly (FLAC) so that the peaks' ground truth is exact.
fn ffmpeg_clip(dir: &std::path::Path, name: &str, tone: bool) -> Vec<u8> {
    let out = dir.join(name);
    let mut args: Vec<String> =
        ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2"]
            .map(String::from)
            .to_vec();
    if tone {
        args.extend(
            ["-f", "lavfi", "-i", "aevalsrc=0.5*sin(2*PI*440*t)*gte(t\\,1):s=48000:d=2", "-c:a", "flac"]
                .map(String::from),
        );
    }
    args.extend(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-shortest"].map(String::from));
    args.push(out.to_string_lossy().into_owned());
    let status = std::process::Command::new("ffmpeg").args(&args).status().expect("ffmpeg");
    assert!(status.success(), "ffmpeg {args:?}");
    std::fs::read(out).unwrap()
}

/// The largest and the mean peak of `waveform` between `from` and `to` seconds.
fn peaks_between(waveform: &serde_json::Value, from: f64, to: f64) -> (f64, f64) {
    let rate = waveform["peaks_per_second"].as_f64().unwrap();
    let peaks = waveform["peaks"].as_array().unwrap();
    let span = &peaks[(from * rate) as usize..(to * rate) as usize];
    let values: Vec<f64> = span.iter().map(|p| p.as_f64().unwrap()).collect();
    (values.iter().copied().fold(0.0, f64::max), values.iter().sum::<f64>() / values.len() as f64)
}

/// Every clip that comes in queues its overview job (the server's own, not in the user's job
/// list): it stores the thumbnail and the waveform beside each other. The waveform answers 202
/// while the job waits, then the peaks: silence where the clip is silent, the tone's amplitude
/// where it sounds, GRID's speech louder than its lead-in; a clip without sound gets an empty
/// waveform that says so; a clip whose job was cancelled gets its waveform made on request;
/// another user gets 404; deleting a clip deletes both files.
#[tokio::test]
async fn clip_overview_jobs_store_thumbnails_and_waveforms() {
    let dir = tempfile::tempdir().unwrap();
    let tone = ffmpeg_clip(dir.path(), "tone.mkv", true);
    let mute = ffmpeg_clip(dir.path(), "mute.mp4", false);
    for app in TestApp::all().await {
        let (token, _) = app.sign_up("ada@museum.org").await;
        let (eve, _) = app.sign_up("eve@elsewhere.org").await;
        let project = project(&app, &token).await;
        let mut ids = Vec::new();
        for (name, bytes) in [("tone.mkv", &tone), ("mute.mp4", &mute), ("take.mp4", &media("grid/grid_swwp2s.mp4"))] {
            let (status, clip) = app.upload(&project, name, bytes, &token).await;
            assert_eq!(status, StatusCode::CREATED, "{name}: {clip}");
            ids.push(clip["id"].as_str().unwrap().to_owned());
        }
        let (tone_id, mute_id, take_id) = (&ids[0], &ids[1], &ids[2]);

        // Queued, not yet run: 202 with the job and when to ask again.
        let (status, headers, body) = app.get_raw(&format!("/api/clips/{tone_id}/waveform"), &token, &[]).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(headers["retry-after"], "1");
        let job: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((job["type"].as_str(), job["state"].as_str()), (Some("clip_overview"), Some("queued")), "{job}");
        assert_eq!(job["params"]["clip_id"], tone_id.as_str());
        let (_, listed) = app.call(Method::GET, "/api/jobs", Some(&token), None).await;
        assert_eq!(listed, json!([]), "the server's own jobs are not the user's to manage");
        expect_error(
            app.call(Method::POST, "/api/jobs", Some(&token), Some(json!({ "type": "clip_overview", "params": {} })))
                .await,
            StatusCode::BAD_REQUEST,
            "type: `clip_overview` is not one of",
        );
        // The GRID take's job is cancelled: its waveform is then made on request.
        let (_, _, body) = app.get_raw(&format!("/api/clips/{take_id}/waveform"), &token, &[]).await;
        let take_job: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let cancel = format!("/api/jobs/{}/cancel", take_job["id"].as_str().unwrap());
        let (_, cancelled) = app.call(Method::POST, &cancel, Some(&token), None).await;
        assert_eq!(cancelled["state"], "cancelled", "{cancelled}");

        let worker = reenact_server::jobs::handlers::overview_worker(
            app.state.db.clone(),
            app.state.storage.clone(),
            "o".into(),
        );
        for _ in 0..2 {
            assert!(worker.run_once().await.unwrap().is_some());
        }
        assert_eq!(worker.run_once().await.unwrap(), None, "one job per clip, the cancelled one not run");
        let (_, done) =
            app.call(Method::GET, &format!("/api/jobs/{}", job["id"].as_str().unwrap()), Some(&token), None).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        let stored = app.stored_files();
        for id in [tone_id, mute_id] {
            for file in [format!("clip-{id}.jpg"), format!("clip-{id}.waveform.json")] {
                let want = format!("/projects/{project}/thumbnails/{file}");
                assert!(stored.iter().any(|f| f.ends_with(&want)), "{want} in {stored:?}");
            }
        }

        // The tone clip: 100 peaks a second over its length; silence, then the tone's 0.5.
        let (status, headers, body) = app.get_raw(&format!("/api/clips/{tone_id}/waveform"), &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "application/json");
        let wave: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((wave["has_audio"].as_bool(), wave["peaks_per_second"].as_f64()), (Some(true), Some(100.0)));
        let duration = wave["duration_s"].as_f64().unwrap();
        assert!((duration - 2.0).abs() < 0.1, "{duration}");
        let count = wave["peaks"].as_array().unwrap().len();
        assert_eq!(count, (duration * 100.0 - 1e-6).ceil() as usize, "duration × rate");
        let (silent_max, _) = peaks_between(&wave, 0.05, 0.95);
        let (tone_max, tone_mean) = peaks_between(&wave, 1.05, 1.95);
        eprintln!("tone clip: {count} peaks over {duration} s; silence max {silent_max}, tone mean {tone_mean} max {tone_max}");
        assert!(silent_max < 0.001, "digital silence: {silent_max}");
        assert!((0.49..=0.51).contains(&tone_mean) && tone_max <= 0.51, "-6 dBFS: mean {tone_mean}, max {tone_max}");

        // No sound: an empty waveform that says so.
        let (status, _, body) = app.get_raw(&format!("/api/clips/{mute_id}/waveform"), &token, &[]).await;
        assert_eq!(status, StatusCode::OK);
        let wave: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((wave["has_audio"].as_bool(), wave["peaks"].as_array().map(Vec::len)), (Some(false), Some(0)));

        // GRID swwp2s: speech from about 0.5 s to 2.2 s (README: silencedetect, align file).
        let (status, _, body) = app.get_raw(&format!("/api/clips/{take_id}/waveform"), &token, &[]).await;
        assert_eq!(status, StatusCode::OK, "made on request once the job was cancelled");
        let wave: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(wave["peaks"].as_array().unwrap().len(), 300, "{}", wave["duration_s"]);
        let (lead_max, lead_mean) = peaks_between(&wave, 0.05, 0.40);
        let (speech_max, speech_mean) = peaks_between(&wave, 0.6, 2.1);
        eprintln!("GRID take: lead-in max {lead_max} mean {lead_mean}; speech max {speech_max} mean {speech_mean}");
        assert!(lead_max < 0.05 && speech_max > 0.5, "lead-in {lead_max}, speech {speech_max}");
        assert!(speech_mean > 5.0 * lead_mean, "speech {speech_mean} vs lead-in {lead_mean}");
        let want = format!("/projects/{project}/thumbnails/clip-{take_id}.waveform.json");
        assert!(app.stored_files().iter().any(|f| f.ends_with(&want)), "kept once made");

        // The thumbnail comes from the job's file.
        let (status, headers, jpeg) = app.get_raw(&format!("/api/clips/{tone_id}/thumbnail"), &token, &[]).await;
        assert_eq!((status, &headers["content-type"]), (StatusCode::OK, &"image/jpeg".parse().unwrap()));
        assert_eq!(jpeg_size(&jpeg), (160, 120));

        // Another user: 404, with the API's error body.
        expect_error(
            app.call(Method::GET, &format!("/api/clips/{tone_id}/waveform"), Some(&eve), None).await,
            StatusCode::NOT_FOUND,
            "not found",
        );

        // Deleting the clip deletes its thumbnail and waveform too.
        let (status, _) = app.call(Method::DELETE, &format!("/api/clips/{tone_id}"), Some(&token), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let left: Vec<String> = app.stored_files().into_iter().filter(|f| f.contains(tone_id.as_str())).collect();
        assert_eq!(left, Vec::<String>::new());
    }
}
