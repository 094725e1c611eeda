// SPDX-License-Identifier: MPL-2.0
//! Corrupted media: two shared clips (MP4 and MPEG-PS), cut short and bit-flipped at many
//! offsets from fixed seeds, through `reenact probe`, the upload intake and `reenact render`.
//! Every run must end within its bound and either succeed or fail with one `error:` line
//! that names the file, never a panic, an abort or a signal.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

/// Short clips in two containers (3 s each).
const CLIPS: &[&str] = &["grid/grid_swwp2s.mp4", "grid/grid_swwp2s.mpg"];
/// Discovery gives up after 20 s; a probe still running after this counts as a hang.
const PROBE_BOUND: Duration = Duration::from_secs(40);
/// The renders run with `--stall-timeout 3`; one still running after this counts as a hang.
const RENDER_BOUND: Duration = Duration::from_secs(60);
const INTAKE_BOUND: Duration = Duration::from_secs(60);

/// xorshift64*: the same corpus on every run and machine.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One damaged copy of a clip.
struct Damaged {
    /// File name: the clip, how it was damaged and where.
    name: String,
    bytes: Vec<u8>,
}

/// `cuts` truncated copies (the first bytes, then spread over the file) and `flips`
/// copies with 1..=8 bits flipped (half in the first 4 KiB, where the headers are).
fn corpus(clip: &str, cuts: usize, flips: usize, seed: u64) -> Vec<Damaged> {
    let bytes = std::fs::read(common::shared("media").join(clip)).unwrap();
    let stem = Path::new(clip).file_stem().unwrap().to_string_lossy().into_owned();
    let ext = Path::new(clip).extension().unwrap().to_string_lossy().into_owned();
    let mut out = Vec::new();
    let head = [1usize, 7, 16, 40, 100, 700];
    for i in 0..cuts {
        let at = if i < head.len() { head[i] } else { bytes.len() * (i - head.len() + 1) / (cuts - head.len() + 1) };
        out.push(Damaged { name: format!("{stem}-cut{at}.{ext}"), bytes: bytes[..at].to_vec() });
    }
    let mut rng = Seeded(seed);
    for i in 0..flips {
        let mut copy = bytes.clone();
        let span = if i % 2 == 0 { 4096.min(copy.len()) } else { copy.len() };
        let mut first = usize::MAX;
        for _ in 0..=rng.below(8) {
            let at = rng.below(span);
            first = first.min(at);
            copy[at] ^= 1 << rng.below(8);
        }
        out.push(Damaged { name: format!("{stem}-flip{i}-at{first}.{ext}"), bytes: copy });
    }
    out
}

/// How one run of the command ended.
struct Ended {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `command` with its output in files, killing it past `bound` (then `Err`).
fn run_bounded(mut command: Command, bound: Duration, dir: &Path) -> Result<Ended, String> {
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    command
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let started = Instant::now();
    let mut child = command.spawn().expect("start reenact");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {bound:?}: killed"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    Ok(Ended { status, stdout: read(&out), stderr: read(&err), took: started.elapsed() })
}

/// Why a finished run breaks the rules, if it does: killed by a signal, a panic, or a
/// failure without exactly one `error:` line naming `file`.
fn fault(ended: &Ended, file: &str) -> Option<String> {
    let Some(code) = ended.status.code() else {
        return Some(format!("ended by a signal ({:?}): {}", ended.status, ended.stderr));
    };
    if ended.stderr.contains("panicked") || ended.stderr.contains("RUST_BACKTRACE") {
        return Some(format!("panicked: {}", ended.stderr));
    }
    if code == 0 {
        return None;
    }
    let errors: Vec<&str> = ended.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    match errors.as_slice() {
        [line] if line.contains(file) => None,
        _ => Some(format!("exit {code} without one `error:` line naming {file}: {}", ended.stderr)),
    }
}

/// The `error:` line of a failed run.
fn error_line(ended: &Ended) -> &str {
    ended.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default()
}

/// Counts of one target, printed at the end.
#[derive(Default)]
struct Tally {
    tried: usize,
    ok: usize,
    refused: usize,
    faults: Vec<String>,
    /// Each refusal's reason (what follows the file name), with how often it came.
    reasons: BTreeMap<String, usize>,
    /// The longest run and its input.
    slowest: (Duration, String),
}

impl Tally {
    /// Counts a refusal whose message names `file`.
    fn refused(&mut self, message: &str, file: &str) {
        self.refused += 1;
        let reason = message.split_once(file).map_or(message, |(_, rest)| rest);
        *self.reasons.entry(reason.trim_start_matches([':', ' ']).to_string()).or_default() += 1;
    }

    fn merge(&mut self, other: Tally) {
        self.tried += other.tried;
        self.ok += other.ok;
        self.refused += other.refused;
        self.faults.extend(other.faults);
        for (reason, n) in other.reasons {
            *self.reasons.entry(reason).or_default() += n;
        }
        self.slowest = self.slowest.clone().max(other.slowest);
    }

    fn report(&self, target: &str, took: Duration) {
        println!(
            "{target}: {} inputs, {} accepted, {} refused with a clear error, {} faults ({:.1} s, slowest {:.1} s: {})",
            self.tried,
            self.ok,
            self.refused,
            self.faults.len(),
            took.as_secs_f64(),
            self.slowest.0.as_secs_f64(),
            self.slowest.1,
        );
        for (reason, n) in &self.reasons {
            println!("  {n:3} x {reason}");
        }
        assert!(self.faults.is_empty(), "{target}: {} faults:\n{}", self.faults.len(), self.faults.join("\n---\n"));
    }
}

fn reenact() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reenact"))
}

/// Every damaged copy through `reenact probe`, two at a time.
#[test]
fn probe_survives_truncated_and_bit_flipped_clips() {
    let started = Instant::now();
    let inputs: Vec<Damaged> =
        CLIPS.iter().enumerate().flat_map(|(i, clip)| corpus(clip, 14, 16, 0x9e37_79b9 + i as u64)).collect();
    let dir = tempfile::tempdir().unwrap();
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let (inputs, dir) = (&inputs, dir.path());
                scope.spawn(move || {
                    let mut tally = Tally::default();
                    for input in inputs.iter().skip(w).step_by(2) {
                        let run_dir = dir.join(format!("run{w}"));
                        std::fs::create_dir_all(&run_dir).unwrap();
                        let file = run_dir.join(&input.name);
                        std::fs::write(&file, &input.bytes).unwrap();
                        let mut command = reenact();
                        command.arg("probe").arg(&file);
                        tally.tried += 1;
                        match run_bounded(command, PROBE_BOUND, &run_dir) {
                            Err(hang) => tally.faults.push(format!("{}: {hang}", input.name)),
                            Ok(ended) => {
                                tally.slowest = tally.slowest.clone().max((ended.took, input.name.clone()));
                                match fault(&ended, &input.name) {
                                    Some(why) => tally.faults.push(format!("{} ({:?}): {why}", input.name, ended.took)),
                                    None if ended.status.success() => {
                                        assert!(ended.stdout.contains("container:"), "{}", ended.stdout);
                                        tally.ok += 1;
                                    }
                                    None => tally.refused(error_line(&ended), &input.name),
                                }
                            }
                        }
                        std::fs::remove_file(&file).unwrap();
                    }
                    tally
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut tally = Tally::default();
    for t in tallies {
        tally.merge(t);
    }
    assert_eq!(tally.tried, 60);
    tally.report("reenact probe", started.elapsed());
}

/// A preset small enough that a damaged 3 s clip renders in a moment.
const TINY_PRESET: &str = r#"name = "fuzz-tiny"
description = "160x128 for the corrupted-media test"
thumbnails = []
[video]
width = 160
height = 128
encoder = "x264"
crf = 35
speed_preset = "ultrafast"
[audio]
codec = "aac"
bitrate_kbps = 64
"#;

/// Damaged copies whose headers survive (so the graph is built) through `reenact render`
/// with a three-second stall timeout.
#[test]
fn render_survives_truncated_and_bit_flipped_clips() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let presets = dir.path().join("presets");
    std::fs::create_dir(&presets).unwrap();
    std::fs::write(presets.join("fuzz-tiny.toml"), TINY_PRESET).unwrap();
    // Per clip: cuts at a third and two thirds, a flip in the headers and one anywhere.
    let inputs: Vec<Damaged> = CLIPS
        .iter()
        .enumerate()
        .flat_map(|(i, clip)| corpus(clip, 8, 2, 0x5eed + i as u64).into_iter().skip(6))
        .collect();
    let mut tally = Tally::default();
    for input in &inputs {
        let file = dir.path().join(&input.name);
        std::fs::write(&file, &input.bytes).unwrap();
        let out = dir.path().join(format!("out-{}", input.name));
        let mut command = reenact();
        command
            .args(["render", "--preset", "fuzz-tiny", "--stall-timeout", "3", "-q", "--out"])
            .arg(&out)
            .arg(&file)
            .env("REENACT_PRESETS", &presets);
        tally.tried += 1;
        match run_bounded(command, RENDER_BOUND, dir.path()) {
            Err(hang) => tally.faults.push(format!("{}: {hang}", input.name)),
            Ok(ended) => {
                tally.slowest = tally.slowest.clone().max((ended.took, input.name.clone()));
                match fault(&ended, &input.name) {
                    Some(why) => tally.faults.push(format!("{} ({:?}): {why}", input.name, ended.took)),
                    None if ended.status.success() => tally.ok += 1,
                    None => tally.refused(error_line(&ended), &input.name),
                }
            }
        }
    }
    assert_eq!(tally.tried, 8);
    tally.report("reenact render", started.elapsed());
}

/// Damaged copies uploaded to a project: each is stored as a clip (201) or refused with
/// 415 and a reason naming the `file` field; nothing else is left in storage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_intake_survives_truncated_and_bit_flipped_clips() {
    let started = Instant::now();
    let mut app = TestApp::sqlite().await;
    // Room for the MPEG-PS clip and for every copy that is accepted.
    app.state.upload_limit = 1_000_000;
    app.state.quota_bytes = u64::MAX / 2;
    app.router = reenact_server::app(app.state.clone());
    let (token, _) = app.sign_up("fuzz@museum.org").await;
    let (status, project) =
        app.call(Method::POST, "/api/projects", Some(&token), Some(json!({ "name": "Corpus" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    let project = project["id"].as_str().unwrap().to_string();

    let inputs: Vec<Damaged> =
        CLIPS.iter().enumerate().flat_map(|(i, clip)| corpus(clip, 9, 11, 0xc0ff_ee00 + i as u64)).collect();
    let temp = std::env::temp_dir().display().to_string();
    let mut tally = Tally::default();
    for input in &inputs {
        tally.tried += 1;
        let upload = app.upload(&project, &input.name, &input.bytes, &token);
        let sent = Instant::now();
        let answer = tokio::time::timeout(INTAKE_BOUND, upload).await;
        tally.slowest = tally.slowest.clone().max((sent.elapsed(), input.name.clone()));
        match answer {
            Err(_) => tally.faults.push(format!("{}: no answer after {INTAKE_BOUND:?}", input.name)),
            Ok((StatusCode::CREATED, clip)) => {
                let sane = clip["width"].as_i64() > Some(0) && clip["duration_s"].as_f64() > Some(0.0);
                assert!(sane, "{}: {clip}", input.name);
                tally.ok += 1;
            }
            // The reason names the form field and never the server's temporary path.
            Ok((StatusCode::UNSUPPORTED_MEDIA_TYPE, body))
                if body["error"].is_string()
                    && body["detail"].as_str().is_some_and(|d| d.starts_with("file: ") && !d.contains(&temp)) =>
            {
                tally.refused(body["detail"].as_str().unwrap(), "file")
            }
            Ok((status, body)) => tally.faults.push(format!("{}: {status} {body}", input.name)),
        }
    }
    assert_eq!(tally.tried, 40);
    let stored = app.stored_files();
    assert_eq!(stored.len(), tally.ok, "only accepted clips are kept: {stored:?}");
    tally.report("upload intake", started.elapsed());
}

/// A project that places a clip past what GStreamer's clock can hold is refused by field.
#[test]
fn render_refuses_a_project_beyond_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("far.json");
    let clip: PathBuf = common::shared("media").join(CLIPS[0]);
    let text = json!({
        "sources": [{ "id": "a", "path": clip }],
        "tracks": [{ "clips": [{ "source": "a", "position": 1e300 }] }],
    });
    std::fs::write(&project, text.to_string()).unwrap();
    let mut command = reenact();
    command
        .args(["render", "--preset", "master", "--stall-timeout", "3", "-q", "--out"])
        .arg(dir.path().join("out"))
        .arg(&project);
    let ended = run_bounded(command, RENDER_BOUND, dir.path()).unwrap();
    assert_eq!(fault(&ended, "far.json"), None);
    assert!(!ended.status.success());
    assert!(ended.stderr.contains("tracks[0].clips[0].position"), "{}", ended.stderr);
}
