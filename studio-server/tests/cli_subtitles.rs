// SPDX-License-Identifier: MPL-2.0
//! `reenact subtitles mux`: an MP4 gets one soft subtitle track per language that ffprobe
//! lists as `mov_text` with its ISO 639-2 code, the picture and sound kept as they were, and
//! the cues read back from the file (ffmpeg extracts each track as SRT) equal the ones given;
//! bad input is refused naming the flag and leaves no output.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::shared;
use reenact_engine::subtitles;
use serde_json::Value;

fn reenact(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reenact")).args(args).env("RUST_LOG", "error").output().expect("run reenact")
}

fn ffprobe_streams(path: &Path) -> Vec<Value> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    doc["streams"].as_array().expect("streams").clone()
}

/// The cues of subtitle stream `index` of `path`, extracted by ffmpeg as SRT.
fn extract(path: &Path, index: usize, dir: &Path) -> Vec<subtitles::Cue> {
    let out = dir.join(format!("track{index}.srt"));
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(path)
        .args(["-map", &format!("0:s:{index}")])
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    subtitles::read(&out).expect("extracted SRT parses")
}

/// The text of a cue without the `<font ...>` markup ffmpeg writes for the tx3g style box.
fn without_markup(text: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn mp4_gets_language_tagged_soft_subtitles() {
    let dir = tempfile::tempdir().unwrap();
    let es = dir.path().join("talk.es.srt");
    let de = dir.path().join("talk.de.vtt");
    std::fs::write(&es, "1\n00:00:00,200 --> 00:00:01,200\nBienvenidos.\n\n2\n00:00:01,500 --> 00:00:02,800\nEsta sala es\nde 1850.\n\n").unwrap();
    std::fs::write(
        &de,
        "WEBVTT\n\n00:00.200 --> 00:01.200\nWillkommen.\n\n00:01.500 --> 00:02.800\nDieser Saal ist von 1850.\n",
    )
    .unwrap();
    let input = shared("media/grid/grid_swwp2s.mp4");
    let out = dir.path().join("talk.mp4");
    let result = reenact(&[
        "subtitles",
        "mux",
        input.to_str().unwrap(),
        "--track",
        &format!("es={}", es.display()),
        "--track",
        &format!("de={}", de.display()),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    assert!(!dir.path().join("talk.mp4.part").exists());

    let before = ffprobe_streams(&input);
    let after = ffprobe_streams(&out);
    let of_type = |streams: &[Value], kind: &str| -> Vec<Value> {
        streams.iter().filter(|s| s["codec_type"] == kind).cloned().collect()
    };
    for kind in ["video", "audio"] {
        let (a, b) = (of_type(&before, kind), of_type(&after, kind));
        assert_eq!(a.len(), b.len(), "{kind} streams");
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(a["codec_name"], b["codec_name"], "{kind} re-encoded?");
            let frames = |s: &Value| s["nb_frames"].as_str().and_then(|n| n.parse::<i64>().ok()).unwrap();
            let seconds = |s: &Value| s["duration"].as_str().and_then(|n| n.parse::<f64>().ok()).unwrap();
            // AAC's priming frame, which the input's edit list hides, is not carried over.
            let slack = if kind == "audio" { 1 } else { 0 };
            assert!((frames(a) - frames(b)).abs() <= slack, "{kind} frames: {a} vs {b}");
            assert!((seconds(a) - seconds(b)).abs() < 0.01, "{kind} duration: {a} vs {b}");
        }
    }
    let subs = of_type(&after, "subtitle");
    assert_eq!(subs.len(), 2, "{after:?}");
    let langs: Vec<&str> = subs.iter().map(|s| s["tags"]["language"].as_str().unwrap_or("")).collect();
    assert_eq!(langs, ["spa", "deu"]);
    assert!(subs.iter().all(|s| s["codec_name"] == "mov_text"), "{subs:?}");

    for (index, file) in [(0, &es), (1, &de)] {
        let given = subtitles::read(file).unwrap();
        let got = extract(&out, index, dir.path());
        let got: Vec<_> = got.into_iter().filter(|c| !c.text.trim().is_empty()).collect();
        assert_eq!(got.len(), given.len(), "{got:?}");
        for (g, w) in got.iter().zip(&given) {
            assert_eq!(without_markup(&g.text), w.text);
            assert!((g.start_s - w.start_s).abs() < 0.02 && (g.end_s - w.end_s).abs() < 0.02, "{g:?} vs {w:?}");
        }
    }
}

#[test]
fn bad_tracks_are_refused_by_flag() {
    let dir = tempfile::tempdir().unwrap();
    let input = shared("media/grid/grid_swwp2s.mp4");
    let srt = dir.path().join("a.srt");
    std::fs::write(&srt, "1\n00:00:00,000 --> 00:00:01,000\nHi\n\n").unwrap();
    let out = dir.path().join("out.mp4");
    for (track, expected) in [
        (format!("xx={}", srt.display()), "not a BCP 47 language tag"),
        (srt.display().to_string(), "expected LANG=FILE"),
        ("es=/nonexistent.srt".to_string(), "nonexistent.srt"),
    ] {
        let result =
            reenact(&["subtitles", "mux", input.to_str().unwrap(), "--track", &track, "--out", out.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(!result.status.success(), "{track}");
        assert!(stderr.contains(expected), "{track}: {stderr}");
        assert!(!out.exists());
    }
    let wrong = dir.path().join("out.webm");
    let result = reenact(&[
        "subtitles",
        "mux",
        input.to_str().unwrap(),
        "--track",
        &format!("es={}", srt.display()),
        "--out",
        wrong.to_str().unwrap(),
    ]);
    assert!(!result.status.success());
    assert!(String::from_utf8_lossy(&result.stderr).contains("must have the input's container"));
}

/// WebM: the tracks are UTF-8 text (`S_TEXT/UTF8`, ffprobe's `subrip`; GStreamer 1.22's
/// muxer has no WebVTT codec id) with ISO 639-2/B codes, picture and sound untouched.
#[test]
fn webm_gets_language_tagged_text_tracks() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.webm");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi", "-i", "sine"])
        .args(["-t", "2", "-c:v", "libvpx-vp9", "-c:a", "libopus"])
        .arg(&input)
        .status()
        .expect("ffmpeg runs");
    assert!(made.success());
    let srt = dir.path().join("a.srt");
    std::fs::write(&srt, "1\n00:00:00,500 --> 00:00:01,500\nHallo\n\n").unwrap();
    let out = dir.path().join("out.webm");
    let result = reenact(&[
        "subtitles",
        "mux",
        input.to_str().unwrap(),
        "--track",
        &format!("de={}", srt.display()),
        "--track",
        &format!("fr-CA={}", srt.display()),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let streams = ffprobe_streams(&out);
    let kinds: Vec<(&str, &str, &str)> = streams
        .iter()
        .map(|s| {
            (
                s["codec_type"].as_str().unwrap(),
                s["codec_name"].as_str().unwrap(),
                s["tags"]["language"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    for expected in
        [("subtitle", "subrip", "ger"), ("subtitle", "subrip", "fre"), ("video", "vp9", "-"), ("audio", "opus", "-")]
    {
        assert!(kinds.contains(&expected), "{expected:?} not in {kinds:?}");
    }
    let cues = extract(&out, 0, dir.path());
    assert_eq!(cues.iter().map(|c| without_markup(&c.text)).collect::<Vec<_>>(), ["Hallo"]);
}
