// SPDX-License-Identifier: MPL-2.0
//! `reenact render` from the outside: bad inputs give one clear error, a
//! non-zero exit and no output; a good input gives every file it promises.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn media(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/media").join(rel)
}

fn reenact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reenact")).args(args).env("RUST_LOG", "error").output().expect("run reenact")
}

/// Runs a render of `input` into a fresh directory and expects it to fail
/// with `expected` in its message and nothing written.
#[track_caller]
fn expect_failure(input: &Path, presets: &str, expected: &str) {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("renders");
    let result =
        reenact(&["render", input.to_str().unwrap(), "--preset", presets, "--out", out_dir.to_str().unwrap(), "-q"]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success(), "expected failure, got success: {stderr}");
    assert!(stderr.contains(expected), "stderr lacks `{expected}`:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let left: Vec<_> =
        std::fs::read_dir(&out_dir).map(|rd| rd.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "output left behind: {left:?}");
}

#[test]
fn missing_file() {
    expect_failure(Path::new("/nonexistent/take.mp4"), "master", "/nonexistent/take.mp4: file not found");
}

#[test]
fn file_that_is_not_media() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("notes.mp4");
    std::fs::write(&fake, "these are my notes, not a video\n".repeat(50)).unwrap();
    expect_failure(&fake, "master", "notes.mp4: not a media file");
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    expect_failure(&empty, "master", "empty.mp4: file is empty (0 bytes)");
}

#[test]
fn truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.mp4");
    let bytes = std::fs::read(media("synthetic/presenter_astronaut_1280x720_25fps.mp4")).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    expect_failure(&cut, "master,landscape-1080p", "cut.mp4: decoding stopped at");
}

#[test]
fn file_without_video() {
    expect_failure(&media("jfk.wav"), "master", "jfk.wav: no video stream");
}

#[test]
fn unknown_preset() {
    expect_failure(&media("grid/grid_swwp2s.mp4"), "master,cinema-4k", "unknown preset `cinema-4k`");
}

#[test]
fn project_with_unknown_field() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("p.json");
    let json = format!(
        r#"{{"title":"x","sources":[{{"id":"a","path":"{}"}}],"tracks":[{{"clips":[{{"source":"a","in":0,"outpoint":2}}]}}]}}"#,
        media("grid/grid_swwp2s.mp4").display()
    );
    std::fs::write(&project, json).unwrap();
    expect_failure(&project, "master", "p.json: tracks[0].clips[0].outpoint: unknown field `outpoint`");
}

#[test]
fn project_with_out_point_past_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("p.json");
    let json = format!(
        r#"{{"sources":[{{"id":"a","path":"{}"}}],"tracks":[{{"clips":[{{"source":"a","in":1,"out":50}}]}}]}}"#,
        media("grid/grid_swwp2s.mp4").display()
    );
    std::fs::write(&project, json).unwrap();
    expect_failure(&project, "master", "p.json: tracks[0].clips[0].out: 50 is past the end of");
}

#[test]
fn project_with_out_before_in() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("p.json");
    std::fs::write(
        &project,
        r#"{"sources":[{"id":"a","path":"a.mp4"}],"tracks":[{"clips":[{"source":"a","in":2,"out":1}]}]}"#,
    )
    .unwrap();
    expect_failure(&project, "master", "p.json: tracks[0].clips[0].out: 1 must be greater than in (2)");
}

#[test]
fn bad_subtitle_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let srt = dir.path().join("bad.srt");
    std::fs::write(&srt, "1\n00:00:01,000 -> 00:00:02,000\nhello\n").unwrap();
    let out = dir.path().join("out");
    let result = reenact(&[
        "render",
        media("grid/grid_swwp2s.mp4").to_str().unwrap(),
        "-p",
        "master",
        "--subtitles",
        srt.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success());
    assert!(stderr.contains("bad.srt: line 1: cue has no `start --> end` line"), "{stderr}");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
}

#[test]
fn good_render_prints_each_output_and_writes_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let result = reenact(&[
        "render",
        media("grid/grid_swwp2s.mp4").to_str().unwrap(),
        "--preset",
        "master",
        "--preset",
        "square-1080p",
        "--out",
        dir.path().to_str().unwrap(),
        "--json",
        "-q",
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let report: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    let outputs = report.as_array().unwrap();
    assert_eq!(outputs.len(), 2);
    for o in outputs {
        let file = dir.path().join(o["file"].as_str().unwrap());
        assert!(file.exists(), "{}", file.display());
        assert!(o["disclosure"].as_str().unwrap().contains("synthetic media"));
    }
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "grid_swwp2s-master-thumb1.jpg",
            "grid_swwp2s-master.json",
            "grid_swwp2s-master.mp4",
            "grid_swwp2s-square-1080p-thumb1.jpg",
            "grid_swwp2s-square-1080p-thumb2.jpg",
            "grid_swwp2s-square-1080p.json",
            "grid_swwp2s-square-1080p.mp4",
        ]
    );
}

#[test]
fn presets_command_lists_the_delivery_formats() {
    let result = reenact(&["presets"]);
    assert!(result.status.success());
    let text = String::from_utf8_lossy(&result.stdout);
    for name in ["landscape-1080p", "vertical-1080p", "square-1080p", "master", "live-720p"] {
        assert!(text.contains(name), "{text}");
    }
}
