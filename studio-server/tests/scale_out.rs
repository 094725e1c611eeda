// SPDX-License-Identifier: MPL-2.0
//! The scale-out topology as processes: PostgreSQL (from scripts/with-postgres.sh), one
//! `reenact serve --workers 0` and three `reenact worker`s sharing its data directory.
//! Thirty renders are submitted over HTTP; one worker is killed with SIGKILL in the middle
//! of a job. Every render must end succeeded, its outputs stored once, nothing half-written.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http;
use serde_json::{json, Value};

const RENDERS: usize = 30;
const WORKERS: usize = 3;
/// Seconds a dead worker's job stays claimed before another takes it.
const LEASE_S: &str = "3";

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared").join(rel)
}

/// A child process killed (if still running) with the test.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], database: &str, data: &Path) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_reenact"))
        .args(args)
        .env("DATABASE_URL", database)
        .env("REENACT_DATA", data)
        .env("REENACT_MODELS", shared("models"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("reenact");
    Process(child)
}

fn call(addr: &str, method: &str, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let (status, bytes) = http(addr, method, path, token, "application/json", body.to_string().as_bytes());
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A fresh database on the test PostgreSQL server.
fn fresh_database() -> String {
    let admin = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL (scripts/with-postgres.sh sets it)");
    let name = format!("scale_{}", std::process::id());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&admin).await.expect("PostgreSQL");
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&pool).await;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.unwrap();
    });
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn thirty_renders_on_three_workers_survive_a_killed_worker() {
    let database = fresh_database();
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let _server = spawn(&["serve", "--listen", &addr, "--workers", "0"], &database, data.path());
    wait_until("the server", Duration::from_secs(60), || {
        std::net::TcpStream::connect(&addr).is_ok() && http(&addr, "GET", "/readyz", None, "text/plain", b"").0 == 200
    });

    let login = json!({"email": "agency@example.com", "password": "correct horse battery"});
    assert_eq!(call(&addr, "POST", "/api/auth/register", None, login.clone()).0, 201);
    let (_, tokens) = call(&addr, "POST", "/api/auth/login", None, login);
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let (_, project) = call(&addr, "POST", "/api/projects", Some(&token), json!({"name": "Campaign"}));
    let project = project["id"].as_str().unwrap().to_owned();
    let clip = std::fs::read(shared("media/grid/grid_swwp2s.mp4")).unwrap();
    let mut form = b"--cut\r\nContent-Disposition: form-data; name=\"file\"; filename=\"take.mp4\"\r\n\
Content-Type: video/mp4\r\n\r\n"
        .to_vec();
    form.extend_from_slice(&clip);
    form.extend_from_slice(b"\r\n--cut--\r\n");
    let path = format!("/api/projects/{project}/clips");
    let (status, uploaded) = http(&addr, "POST", &path, Some(&token), "multipart/form-data; boundary=cut", &form);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&uploaded));
    let clip_id = serde_json::from_slice::<Value>(&uploaded).unwrap()["id"].as_str().unwrap().to_owned();
    let timeline = json!({"tracks": [{"clips": [{"source": clip_id}]}]});
    let (status, _) =
        call(&addr, "PATCH", &format!("/api/projects/{project}"), Some(&token), json!({"timeline": timeline}));
    assert_eq!(status, 200);

    let mut renders = Vec::new();
    for i in 0..RENDERS {
        let body = json!({"presets": ["master"], "watermark_text": format!("take {i}")});
        let (status, render) = call(&addr, "POST", &format!("/api/projects/{project}/renders"), Some(&token), body);
        assert_eq!(status, 201, "{render}");
        renders.push(render["id"].as_str().unwrap().to_owned());
    }

    let mut workers: Vec<Option<Process>> = (0..WORKERS)
        .map(|i| {
            let name = format!("w{i}");
            Some(spawn(&["worker", "--name", &name, "--lease-s", LEASE_S], &database, data.path()))
        })
        .collect();
    // Kill the first worker while it holds a job.
    let running_on_w0 = || {
        let (_, jobs) = call(&addr, "GET", "/api/jobs?state=running", Some(&token), Value::Null);
        jobs.as_array().is_some_and(|jobs| jobs.iter().any(|j| j["worker"] == "w0"))
    };
    wait_until("w0 to run a job", Duration::from_secs(120), running_on_w0);
    let mut victim = workers[0].take().unwrap();
    victim.0.kill().unwrap();
    let _ = victim.0.wait();

    let all_done = || {
        let (_, jobs) = call(&addr, "GET", "/api/jobs", Some(&token), Value::Null);
        jobs.as_array().is_some_and(|j| j.len() == RENDERS && j.iter().all(|j| j["state"] == "succeeded"))
    };
    wait_until("every render to succeed", Duration::from_secs(600), all_done);

    let (_, jobs) = call(&addr, "GET", "/api/jobs", Some(&token), Value::Null);
    let retried = jobs.as_array().unwrap().iter().filter(|j| j["attempts"].as_i64().unwrap() > 1).count();
    assert!(retried >= 1, "the killed worker's job was run again: {jobs}");
    for id in &renders {
        let (_, render) = call(&addr, "GET", &format!("/api/renders/{id}"), Some(&token), Value::Null);
        let outputs = render["outputs"].as_array().unwrap_or_else(|| panic!("outputs of {id}: {render}"));
        assert_eq!(outputs.len(), 1, "{render}");
        assert!(outputs[0]["bytes"].as_u64().unwrap_or(0) > 10_000, "{render}");
        assert!((outputs[0]["duration_s"].as_f64().unwrap() - 3.0).abs() < 0.1, "{render}");
    }
    let mut stored = Vec::new();
    let mut dirs = vec![data.path().join("storage")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                dirs.push(entry.path());
            } else {
                stored.push(entry.path().to_string_lossy().into_owned());
            }
        }
    }
    let count = |area: &str, suffix: &str| stored.iter().filter(|f| f.contains(area) && f.ends_with(suffix)).count();
    assert_eq!(count("/renders/", "-master.mp4"), RENDERS, "one stored file per render");
    assert_eq!(count("/metadata/", "-master.json"), RENDERS, "its metadata beside it");
    assert!(!stored.iter().any(|f| f.ends_with(".part") && !f.contains("/tmp/")), "nothing half-written is published");
    drop(workers);
}
