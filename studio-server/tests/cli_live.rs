// SPDX-License-Identifier: MPL-2.0
//! `reenact live` from the outside: it prints the preview URL, serves the page and the
//! session's figures, takes switches on stdin, stops on `quit` with its recording in
//! place; bad sources and outputs get one clear error and a non-zero exit.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{http, http_get, shared};

fn reenact(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reenact"));
    command
        .args(args)
        .env("RUST_LOG", "error")
        .env("REENACT_MODELS", shared("models"))
        .env_remove("REENACT_TURN_SECRET");
    command
}

fn run(args: &[&str]) -> Output {
    reenact(args).stdin(Stdio::null()).output().expect("run reenact")
}

#[test]
fn a_show_prints_its_url_takes_switches_and_stops_with_its_recording() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("show.mp4");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = reenact(&["live", "--source", "test", "--listen", &addr])
        .args(["--output", &format!("record:{}", record.display())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("reenact live");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first line").unwrap();
    let url = first.strip_prefix("Live preview: ").expect("the preview URL first").to_owned();
    let (url, token) = url.split_once("#token=").expect("the token in the URL fragment");
    let id = url.rsplit('/').next().unwrap().to_owned();
    assert!(url.starts_with(&format!("http://{addr}/live/")) && token.len() >= 32, "{url}");
    let figures = |token: Option<&str>| {
        let (status, body) = http(&addr, "GET", &format!("/api/live/{id}"), token, "text/plain", b"");
        (status, serde_json::from_slice::<serde_json::Value>(&body).unwrap())
    };

    let page = http_get(&addr, &format!("/live/{id}"));
    assert!(page.contains("/assets/whep.js"), "the preview page: {page}");
    std::thread::sleep(Duration::from_secs(2));
    let (status, refused) = figures(None);
    assert_eq!(status, 401, "the API needs the run's token: {refused}");
    let (_, figures_now) = figures(Some(token));
    assert!(figures_now["pipeline"]["frames_encoded"].as_u64().unwrap() > 20, "{figures_now}");

    writeln!(stdin, "on matte").unwrap();
    writeln!(stdin, "on lipstick").unwrap();
    let replies: Vec<String> = lines.by_ref().map_while(Result::ok).skip(3).take(2).collect();
    assert_eq!(replies[0], "matte on");
    assert!(replies[1].contains("unknown element `lipstick`"), "{replies:?}");
    let (_, figures) = figures(Some(token));
    assert_eq!(figures["pipeline"]["elements"]["matte"], true, "{figures}");

    writeln!(stdin, "quit").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "reenact live did not stop on quit");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    let length = reenact_engine::probe(&record).expect("the recording is in place").duration_s;
    assert!(length >= 2.0, "recorded {length:.2} s");
}

#[test]
fn bad_sources_and_outputs_fail_with_one_clear_error() {
    let out = run(&["live", "--source", "webcam"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("webcam") && stderr.contains("camera:/dev/videoN"), "{stderr}");
    let out = run(&["live", "--source", "camera:/dev/video99", "--listen", "127.0.0.1:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("/dev/video99"), "{stderr}");
    let out = run(&["live", "--output", "record:show.avi", "--listen", "127.0.0.1:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("record:PATH.mp4"), "{stderr}");
    let out = run(&["live", "--preset", "master", "--listen", "127.0.0.1:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("not a live preset"), "{stderr}");
    let out = run(&["live", "--udp-ports", "6000-5000", "--listen", "127.0.0.1:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("6000-5000"), "{stderr}");
    let out = run(&["live", "--ice-servers", "turn:127.0.0.1:3478", "--listen", "127.0.0.1:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("turn-secret"), "{stderr}");
}

#[test]
fn a_browser_show_prints_its_publish_page_and_serves_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = reenact(&["live", "--source", "browser", "--listen", &addr, "--duration", "30"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("reenact live");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let preview = lines.next().expect("a first line").unwrap();
    let publish = lines.next().expect("a second line").unwrap();
    let (_, token) = preview.split_once("#token=").expect("the preview URL first");
    let url = publish.strip_prefix("Publish from: ").expect("the publish URL second").to_owned();
    let id = preview.split_once("#").unwrap().0.rsplit('/').next().unwrap().to_owned();
    assert_eq!(url, format!("http://{addr}/live/{id}/publish#token={token}"));

    let page = http_get(&addr, &format!("/live/{id}/publish"));
    assert!(page.contains("/assets/publish.js"), "the publish page: {page}");
    let (status, _) = http(&addr, "GET", "/live/0123456789abcdef0123456789abcdef/publish", None, "text/plain", b"");
    assert_eq!(status, 404, "no page for a show that is not running");
    let (status, script) = http(&addr, "GET", "/assets/publish.js", None, "text/plain", b"");
    assert!(status == 200 && String::from_utf8_lossy(&script).contains("captureStream"), "{status}");
    let _ = child.kill();
    let _ = child.wait();
}
