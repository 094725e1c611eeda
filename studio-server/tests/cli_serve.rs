// SPDX-License-Identifier: MPL-2.0
//! `reenact serve` as a service manager runs it: settings from a config file,
//! ready when it says so, SIGTERM stops it cleanly with exit code 0; a bad
//! config file is refused with the file and key named.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::http_get;

#[test]
fn sigterm_stops_the_server_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let config = data.path().join("reenact.toml");
    let settings = format!("listen = \"{addr}\"\ndata = \"{}\"\nlog_format = \"json\"\n", data.path().display());
    std::fs::write(&config, settings).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_reenact"))
        .args(["serve", "--log", "info", "--config"])
        .arg(&config)
        .env_remove("DATABASE_URL")
        .env_remove("REENACT_LISTEN")
        .env_remove("REENACT_DATA")
        .env_remove("REENACT_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("reenact serve");
    let first = BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    assert!(first.contains(&addr), "{first}");
    assert!(http_get(&addr, "/readyz").ends_with("ready"), "ready once it says where it runs");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "reenact serve ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    let logs: Vec<String> = BufReader::new(child.stderr.take().unwrap()).lines().map_while(Result::ok).collect();
    assert!(exit.success(), "{exit}: {logs:?}");
    assert!(logs.iter().any(|l| l == "Reenact Studio stopped."), "{logs:?}");
    let json: Vec<&String> = logs.iter().filter(|l| l.starts_with('{')).collect();
    assert!(!json.is_empty(), "--log-format json writes JSON lines: {logs:?}");
    for line in json {
        let parsed: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        assert!(parsed["level"].is_string() && parsed["fields"].is_object(), "{line}");
    }
}

#[test]
fn a_bad_config_file_is_refused_by_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("reenact.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nworkerz = 2\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_reenact")).arg("serve").arg("--config").arg(&config).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("reenact.toml: workerz: unknown setting") && stderr.contains("workers"), "{stderr}");
}
