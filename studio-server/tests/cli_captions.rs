// SPDX-License-Identifier: MPL-2.0
//! `reenact captions` from the outside: SRT to a file (through `.part`) and WebVTT to stdout
//! that parse with the engine's reader, are monotonic and hold the spoken words; and one clear
//! error with a non-zero exit and no file for a missing file, a video without audio and a
//! language the model cannot do.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use reenact_engine::subtitles::{self, Format};

use common::shared;

fn reenact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reenact"))
        .args(args)
        .env("RUST_LOG", "error")
        .env("REENACT_MODELS", shared("models"))
        .output()
        .expect("run reenact")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Lower-case words without punctuation.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect::<String>()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn check_cues(cues: &[subtitles::Cue], duration_s: f64) {
    assert!(!cues.is_empty());
    for cue in cues {
        assert!(cue.start_s >= 0.0 && cue.end_s > cue.start_s && cue.end_s <= duration_s + 0.05, "{cue:?}");
    }
    for pair in cues.windows(2) {
        assert!(pair[0].end_s <= pair[1].start_s + 1e-6, "{pair:?}");
    }
}

#[test]
fn speech_becomes_srt_and_vtt() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("speech.srt");
    let wav = shared("media/speech/librivox_0880.wav");
    let result = reenact(&["captions", path_str(&wav), "--out", path_str(&out)]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&result.stdout).trim(), path_str(&out));
    assert!(!dir.path().join("speech.srt.part").exists());
    let cues = subtitles::read(&out).expect("SRT parses");
    check_cues(&cues, 2.99);
    let said = words(&cues.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join(" "));
    for word in ["he", "was", "not", "young", "man"] {
        assert!(said.iter().any(|w| w == word), "`{word}` missing from {said:?}");
    }

    // A talking-head video: the picture is skipped, the speech is on stdout as WebVTT.
    let video = shared("media/grid/grid_swwp2s.mp4");
    let result = reenact(&["captions", path_str(&video), "--format", "vtt", "-q"]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    let text = String::from_utf8(result.stdout).expect("utf-8");
    assert!(text.starts_with("WEBVTT"), "{text}");
    let cues = subtitles::parse(Path::new("stdout.vtt"), &text, Format::Vtt).expect("VTT parses");
    check_cues(&cues, 3.0);
}

/// Runs `reenact captions` expecting failure; returns stderr.
fn failure(args: &[&str], out: &Path) -> String {
    let result = reenact(&[&["captions"], args, &["--out", path_str(out)]].concat());
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    assert!(!result.status.success(), "{args:?} succeeded");
    assert!(!out.exists(), "{args:?} wrote {}", out.display());
    stderr
}

#[test]
fn bad_inputs_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.srt");

    let missing = dir.path().join("nope.mp4");
    let err = failure(&[path_str(&missing)], &out);
    assert!(err.contains("nope.mp4") && err.contains("file not found"), "{err}");

    let silent = shared("media/openmovie/tears_of_steel_10s_640x360.mp4");
    let err = failure(&[path_str(&silent)], &out);
    assert!(err.contains("tears_of_steel_10s_640x360.mp4") && err.contains("no audio stream"), "{err}");

    let wav = shared("media/speech/librivox_0880.wav");
    let err = failure(&[path_str(&wav), "--language", "xx"], &out);
    assert!(err.contains("--language") && err.contains("`xx`") && err.contains("not a speech language"), "{err}");
}

/// `reenact render --auto-captions`: the captions come from the speech of the timeline. The
/// project plays the presenter clip twice, so the transcript is made once and placed twice:
/// the spoken words appear in cues before 10 s and again after, the sidecars parse, and the
/// render's metadata names the speech models.
#[test]
fn render_captions_the_timelines_speech() {
    let dir = tempfile::tempdir().unwrap();
    let clip = shared("media/synthetic/presenter_astronaut_1280x720_25fps.mp4");
    let project = dir.path().join("twice.json");
    let timeline = serde_json::json!({
        "title": "twice",
        "sources": [{ "id": "presenter", "path": clip }],
        "tracks": [{ "clips": [{ "source": "presenter" }, { "source": "presenter" }] }],
    });
    std::fs::write(&project, timeline.to_string()).unwrap();
    let out = dir.path().join("out");
    let args = ["render", path_str(&project), "--preset", "master", "--out", path_str(&out)];
    let result = reenact(&[&args[..], &["--auto-captions", "--captions", "sidecar", "-q"]].concat());
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));

    let cues = subtitles::read(&out.join("twice-master.srt")).expect("SRT sidecar parses");
    check_cues(&cues, 20.0);
    let vtt = subtitles::read(&out.join("twice-master.vtt")).expect("VTT sidecar parses");
    assert_eq!(vtt, cues);
    let said = |range: std::ops::Range<f64>| {
        let text: Vec<&str> = cues.iter().filter(|c| range.contains(&c.start_s)).map(|c| c.text.as_str()).collect();
        words(&text.join(" "))
    };
    for half in [0.0..10.0, 10.0..20.0] {
        let heard = said(half.clone());
        for word in ["welcome", "synthetic", "tracking", "watching"] {
            assert!(heard.iter().any(|w| w == word), "`{word}` missing from {half:?}: {heard:?}");
        }
    }

    let metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("twice-master.json")).unwrap()).unwrap();
    assert_eq!(metadata["captions"], "sidecar");
    let models = metadata["models"].as_array().unwrap();
    assert!(models.iter().any(|m| m["element"] == "reenactcaptions"), "{models:?}");
    // Every model used is listed with the licence its manifest states.
    let licences = metadata["licences"].as_array().unwrap();
    for model in models {
        let licence = licences.iter().find(|l| l["name"] == model["name"]).expect("a licence per model");
        assert!(!licence["license"].as_str().unwrap().is_empty(), "{licence}");
        assert!(licence["commercial_label"].is_string(), "{licence}");
    }
    let whisper = licences.iter().find(|l| l["name"].as_str().unwrap().starts_with("whisper")).expect("whisper");
    assert_eq!(whisper["license"], "MIT", "{whisper}");
}
