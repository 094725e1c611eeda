// SPDX-License-Identifier: MPL-2.0
//! Audiences larger than one server should serve: `reenact live` publishes once by RTMP
//! to an existing media server (nginx's RTMP module, as a venue or a CDN edge would run
//! it), and every viewer pulls from that server. Three viewers must each receive the
//! show's H.264 picture at its full rate, and its sound.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::shared;

const RTMP_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";
const VIEWERS: usize = 3;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed (if still running) with the test.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nginx in the foreground with one RTMP application, `live`, on `port`.
fn media_server(dir: &Path, port: u16) -> Process {
    assert!(Path::new(RTMP_MODULE).exists(), "{RTMP_MODULE} missing (scripts/setup.sh installs libnginx-mod-rtmp)");
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "load_module {RTMP_MODULE};\n\
             daemon off;\nmaster_process off;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             rtmp {{ server {{ listen 127.0.0.1:{port}; application live {{ live on; record off; }} }} }}\n",
            dir = dir.display()
        ),
    )
    .unwrap();
    let nginx = Command::new("nginx")
        .args(["-p", &dir.display().to_string(), "-e", &dir.join("error.log").display().to_string(), "-c"])
        .arg(&conf)
        .stdin(Stdio::null())
        .spawn()
        .expect("nginx (scripts/setup.sh installs it)");
    let nginx = Process(nginx);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return nginx;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nginx did not listen on {port}: {}", std::fs::read_to_string(dir.join("error.log")).unwrap_or_default());
}

/// What one viewer pulled from `url` in `seconds`: per stream, codec, size and frames read.
fn watch(url: &str, seconds: u32) -> Child {
    Command::new("ffprobe")
        .args(["-v", "error", "-rw_timeout", "15000000", "-count_frames", "-read_intervals"])
        .arg(format!("%+{seconds}"))
        .args(["-show_entries", "stream=codec_type,codec_name,width,height,nb_read_frames", "-of", "json", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffprobe (scripts/setup.sh installs ffmpeg)")
}

#[test]
fn a_show_published_by_rtmp_reaches_every_viewer_of_a_media_server() {
    let dir = tempfile::tempdir().unwrap();
    let rtmp_port = free_port();
    let _nginx = media_server(dir.path(), rtmp_port);
    let url = format!("rtmp://127.0.0.1:{rtmp_port}/live/show");

    let listen = format!("127.0.0.1:{}", free_port());
    let mut show = Command::new(env!("CARGO_BIN_EXE_reenact"))
        .args(["live", "--source", "test", "--listen", &listen, "--output", &url])
        .env("RUST_LOG", "error")
        .env("REENACT_MODELS", shared("models"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("reenact live");
    let mut stdin = show.stdin.take().unwrap();
    let mut lines = BufReader::new(show.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first line").unwrap();
    assert!(first.starts_with("Live preview: "), "{first}");
    let show = Process(show);
    // Let the publisher connect and the first keyframe reach the server.
    std::thread::sleep(Duration::from_secs(2));

    let seconds = 4;
    let viewers: Vec<Child> = (0..VIEWERS).map(|_| watch(&url, seconds)).collect();
    for (i, viewer) in viewers.into_iter().enumerate() {
        let out = viewer.wait_with_output().unwrap();
        assert!(out.status.success(), "viewer {i}: {}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let streams = report["streams"].as_array().unwrap_or_else(|| panic!("viewer {i}: {report}"));
        let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap_or_else(|| panic!("{report}"));
        let audio = streams.iter().find(|s| s["codec_type"] == "audio").unwrap_or_else(|| panic!("{report}"));
        assert_eq!(
            (video["codec_name"].as_str(), video["width"].as_u64(), video["height"].as_u64()),
            (Some("h264"), Some(1280), Some(720))
        );
        assert_eq!(audio["codec_name"], "aac", "{report}");
        let frames: u64 = video["nb_read_frames"].as_str().and_then(|n| n.parse().ok()).unwrap_or(0);
        // 30 fps for `seconds`, less the wait for the first keyframe.
        assert!(frames >= 25 * u64::from(seconds) - 30, "viewer {i} saw {frames} frames in {seconds} s: {report}");
    }

    writeln!(stdin, "quit").unwrap();
    drop(show);
}
