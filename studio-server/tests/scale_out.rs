// SPDX-License-Identifier: MPL-2.0
//! The scale-out topology as processes: PostgreSQL (from scripts/with-postgres.sh), an
//! S3 server (moto, from scripts/with-s3.sh), one `reenact serve --workers 0` and three
//! `reenact worker`s, each with a data directory of its own, so they share nothing but the
//! database and the bucket.
//!
//! - Thirty renders are submitted over HTTP; one worker is killed with SIGKILL in the
//!   middle of a job. Every render must end succeeded, its outputs stored once in the
//!   bucket with their metadata, nothing half-written.
//! - The object store goes away while a render runs: the job fails cleanly, nothing is
//!   published, and it succeeds once the store is back.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{http, shared};
use serde_json::{json, Value};

const RENDERS: usize = 30;
const WORKERS: usize = 3;
/// Seconds a dead worker's job stays claimed before another takes it.
const LEASE_S: &str = "3";

/// A child process killed (if still running) with the test.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `reenact args…` on `database`, with `data` as its own directory and files in `bucket`.
fn spawn(args: &[&str], database: &str, data: &Path, bucket: &Bucket) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_reenact"))
        .args(args)
        .env("DATABASE_URL", database)
        .env("REENACT_DATA", data)
        .envs(bucket.env())
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
fn fresh_database(test: &str) -> String {
    let admin = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL (scripts/with-postgres.sh sets it)");
    let name = format!("{test}_{}", std::process::id());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&admin).await.expect("PostgreSQL");
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&pool).await;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.unwrap();
    });
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

/// A fresh bucket on the test S3 server, reached at `endpoint` (which may be a proxy).
struct Bucket {
    server: String,
    endpoint: String,
    name: String,
}

impl Bucket {
    fn new(test: &str) -> Self {
        let endpoint = std::env::var("TEST_S3_ENDPOINT").expect("TEST_S3_ENDPOINT (scripts/with-s3.sh sets it)");
        let server = endpoint.strip_prefix("http://").expect("an http:// endpoint").to_owned();
        let name = format!("{}-{}", test.replace('_', "-"), std::process::id());
        let (status, body) = http(&server, "PUT", &format!("/{name}"), None, "text/plain", b"");
        assert_eq!(status, 200, "creating bucket {name}: {}", String::from_utf8_lossy(&body));
        Bucket { endpoint: format!("http://{server}"), server, name }
    }

    /// The same bucket reached through another address (a proxy).
    fn via(&self, addr: &str) -> Bucket {
        Bucket { server: self.server.clone(), endpoint: format!("http://{addr}"), name: self.name.clone() }
    }

    /// The variables that point `reenact` at this bucket.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("REENACT_STORAGE", format!("s3://{}/studio", self.name)),
            ("REENACT_STORAGE_RETRY_S", "1".into()),
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// Every key in the bucket, read from the server itself (never through a proxy).
    fn keys(&self) -> Vec<String> {
        let (status, body) = http(&self.server, "GET", &format!("/{}?list-type=2", self.name), None, "text/plain", b"");
        let xml = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "{xml}");
        assert!(!xml.contains("<IsTruncated>true"), "more than one page of keys");
        xml.split("<Key>").skip(1).map(|k| k.split("</Key>").next().unwrap().to_owned()).collect()
    }
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
    let database = fresh_database("scale");
    let bucket = Bucket::new("scale");
    let data = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let _server = spawn(
        &["serve", "--listen", &addr, "--workers", "0", "--max-active-jobs", "100"],
        &database,
        &data.path().join("server"),
        &bucket,
    );
    wait_ready(&addr);
    let (token, project) = project_with_clip(&addr);

    let mut renders = Vec::new();
    for i in 0..RENDERS {
        let body = json!({"presets": ["master"], "watermark_text": format!("take {i}")});
        let (status, render) = call(&addr, "POST", &format!("/api/projects/{project}/renders"), Some(&token), body);
        assert_eq!(status, 201, "{render}");
        renders.push(render["id"].as_str().unwrap().to_owned());
    }

    let w1_metrics = free_addr();
    let mut workers: Vec<Option<Process>> = (0..WORKERS)
        .map(|i| {
            let name = format!("w{i}");
            let mut args = vec!["worker", "--name", &name, "--lease-s", LEASE_S];
            if i == 1 {
                args.extend(["--metrics-listen", &w1_metrics]);
            }
            Some(spawn(&args, &database, &data.path().join(&name), &bucket))
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
    let stored = bucket.keys();
    let count = |area: &str, suffix: &str| stored.iter().filter(|f| f.contains(area) && f.ends_with(suffix)).count();
    assert_eq!(count("/renders/", "-master.mp4"), RENDERS, "one stored object per render: {stored:?}");
    assert_eq!(count("/metadata/", "-master.json"), RENDERS, "its metadata beside it");
    assert!(stored.iter().all(|k| k.starts_with("studio/users/")), "everything under the prefix: {stored:?}");
    // The download route serves objects that the server itself never wrote.
    let (status, bytes) =
        http(&addr, "GET", &format!("/api/renders/{}/files/master", renders[0]), Some(&token), "", b"");
    assert_eq!(status, 200);
    assert!(bytes.len() > 10_000);
    // A worker process reports what it ran.
    let metrics = common::http_get(&w1_metrics, "/metrics");
    let value = |name: &str| -> f64 {
        let line = metrics.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in {metrics}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(value("reenact_job_duration_seconds_count{kind=\"render\",outcome=\"succeeded\"}") >= 1.0);
    assert!(value("reenact_render_speed_ratio_count") >= 1.0);
    drop(workers);
}

fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("127.0.0.1:{port}")
}

fn wait_ready(addr: &str) {
    wait_until("the server", Duration::from_secs(60), || {
        std::net::TcpStream::connect(addr).is_ok() && http(addr, "GET", "/readyz", None, "text/plain", b"").0 == 200
    });
}

/// Signs up and makes a project whose timeline is one uploaded GRID clip: (token, project).
fn project_with_clip(addr: &str) -> (String, String) {
    let login = json!({"email": "agency@example.com", "password": "correct horse battery"});
    assert_eq!(call(addr, "POST", "/api/auth/register", None, login.clone()).0, 201);
    let (_, tokens) = call(addr, "POST", "/api/auth/login", None, login);
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let (_, project) = call(addr, "POST", "/api/projects", Some(&token), json!({"name": "Campaign"}));
    let project = project["id"].as_str().unwrap().to_owned();
    let clip = std::fs::read(shared("media/grid/grid_swwp2s.mp4")).unwrap();
    let mut form = b"--cut\r\nContent-Disposition: form-data; name=\"file\"; filename=\"take.mp4\"\r\n\
Content-Type: video/mp4\r\n\r\n"
        .to_vec();
    form.extend_from_slice(&clip);
    form.extend_from_slice(b"\r\n--cut--\r\n");
    let path = format!("/api/projects/{project}/clips");
    let (status, uploaded) = http(addr, "POST", &path, Some(&token), "multipart/form-data; boundary=cut", &form);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&uploaded));
    let clip_id = serde_json::from_slice::<Value>(&uploaded).unwrap()["id"].as_str().unwrap().to_owned();
    let timeline = json!({"tracks": [{"clips": [{"source": clip_id}]}]});
    let (status, _) =
        call(addr, "PATCH", &format!("/api/projects/{project}"), Some(&token), json!({"timeline": timeline}));
    assert_eq!(status, 200);
    (token, project)
}

/// A TCP proxy in front of the S3 server that can be cut: while down it drops every
/// connection, open or new, as a store that has stopped would.
struct Proxy {
    addr: String,
    up: Arc<AtomicBool>,
    open: Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Proxy {
    fn start(target: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = Proxy {
            addr: listener.local_addr().unwrap().to_string(),
            up: Arc::new(AtomicBool::new(true)),
            open: Default::default(),
        };
        let (up, open, target) = (proxy.up.clone(), proxy.open.clone(), target.to_owned());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::net::TcpStream::connect(&target) else { continue };
                if !up.load(Ordering::SeqCst) {
                    continue;
                }
                open.lock().unwrap().extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        proxy
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            for stream in self.open.lock().unwrap().drain(..) {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

#[test]
fn a_render_fails_cleanly_while_the_object_store_is_down_and_succeeds_when_it_returns() {
    let database = fresh_database("faults");
    let bucket = Bucket::new("faults");
    let proxy = Proxy::start(&bucket.server);
    let data = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let _server =
        spawn(&["serve", "--listen", &addr, "--workers", "1"], &database, data.path(), &bucket.via(&proxy.addr));
    wait_ready(&addr);
    let (token, project) = project_with_clip(&addr);

    // Three 1080p outputs keep the job running long enough to pull the plug in the middle.
    let body = json!({"presets": ["master", "vertical-1080p", "square-1080p"]});
    let (status, render) = call(&addr, "POST", &format!("/api/projects/{project}/renders"), Some(&token), body);
    assert_eq!(status, 201, "{render}");
    let render = render["id"].as_str().unwrap().to_owned();
    let job = || call(&addr, "GET", "/api/jobs", Some(&token), Value::Null).1[0].clone();
    wait_until("the render to start", Duration::from_secs(60), || job()["state"] == "running");
    proxy.set_up(false);

    wait_until("the first attempt to fail", Duration::from_secs(120), || {
        job()["attempts"].as_i64() == Some(1) && job()["state"] != "running"
    });
    // The failed upload makes the next readiness check probe again, within the probe's cache.
    assert_eq!(http(&addr, "GET", "/readyz", None, "text/plain", b"").0, 503, "not ready without storage");
    let failed = job();
    assert!(failed["error"].as_str().unwrap_or_default().contains("object store"), "{failed}");
    assert_ne!(failed["state"], "dead", "a storage fault is retried: {failed}");
    let (_, shown) = call(&addr, "GET", &format!("/api/renders/{render}"), Some(&token), Value::Null);
    assert!(shown["outputs"].as_array().is_none_or(|o| o.is_empty()), "nothing published: {shown}");
    assert!(!bucket.keys().iter().any(|k| k.contains("/renders/")), "no render object: {:?}", bucket.keys());

    proxy.set_up(true);
    wait_until("the retry to succeed", Duration::from_secs(300), || job()["state"] == "succeeded");
    assert!(job()["attempts"].as_i64().unwrap() >= 2);
    let (_, shown) = call(&addr, "GET", &format!("/api/renders/{render}"), Some(&token), Value::Null);
    assert_eq!(shown["outputs"].as_array().map(Vec::len), Some(3), "{shown}");
    let keys = bucket.keys();
    assert_eq!(keys.iter().filter(|k| k.contains("/renders/") && k.ends_with(".mp4")).count(), 3, "{keys:?}");
    assert_eq!(keys.iter().filter(|k| k.contains("/metadata/") && k.ends_with(".json")).count(), 3, "{keys:?}");
    assert_eq!(http(&addr, "GET", "/readyz", None, "text/plain", b"").0, 200);
    let leftovers: Vec<_> = std::fs::read_dir(data.path().join("storage/tmp")).unwrap().flatten().collect();
    assert!(leftovers.is_empty(), "work files cleaned up: {leftovers:?}");
}
