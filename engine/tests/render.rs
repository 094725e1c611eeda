// SPDX-License-Identifier: MPL-2.0
//! Offline renders of the shared media through every delivery preset.

mod common;

use std::path::Path;

use common::*;
use reenact_engine::metadata::DISCLOSURE;
use reenact_engine::{probe, RenderReport};

const OFFLINE: &[&str] = &["landscape-1080p", "vertical-1080p", "square-1080p", "master", "web-720p-webm"];

/// Checks every output of `report` against its preset and the source.
fn check_outputs(source: &Path, report: &RenderReport) {
    check_outputs_of(source, None, report);
}

/// As `check_outputs`, for a timeline of the first `seconds` of `source` (all of it if `None`).
fn check_outputs_of(source: &Path, seconds: Option<f64>, report: &RenderReport) {
    let src = probe(source).unwrap();
    let duration_s = seconds.unwrap_or(src.duration_s);
    let src_video = src.video.as_ref().unwrap();
    for out in &report.outputs {
        let preset = &out.metadata.preset;
        let info = probe(&out.file).unwrap();
        let video = info.video.as_ref().unwrap_or_else(|| panic!("{}: no video", out.file.display()));
        let (w, h) = preset.output_size(src_video.width, src_video.height);
        assert_eq!((video.width, video.height), (w, h), "{}: size", out.preset);
        let fps = preset.video.fps.map(|n| (n as i32, preset.video.fps_denominator as i32));
        assert_eq!(
            (video.fps_num, video.fps_den),
            fps.unwrap_or((src_video.fps_num, src_video.fps_den)),
            "{}",
            out.preset
        );
        let frame = video.fps_den as f64 / video.fps_num as f64;
        assert!(
            (info.duration_s - duration_s).abs() <= frame + 1e-3,
            "{}: duration {} vs timeline {duration_s}",
            out.preset,
            info.duration_s,
        );
        let audio = info.audio.as_ref().unwrap_or_else(|| panic!("{}: no audio track", out.preset));
        assert_eq!(audio.sample_rate, 48_000, "{}", out.preset);
        assert_eq!(info.title.as_deref(), Some(src.path.file_stem().unwrap().to_str().unwrap()), "{}", out.preset);
        assert_eq!(info.comment.as_deref(), Some(DISCLOSURE), "{}: disclosure tag", out.preset);
        assert_eq!(out.metadata.disclosure, DISCLOSURE);
        assert_eq!(out.thumbnails.len(), preset.thumbnails.len(), "{}", out.preset);
        for thumb in &out.thumbnails {
            let (tw, th) = jpeg_size(thumb);
            assert!(tw > 0 && tw <= 640 && th > 0, "{}: thumbnail {tw}x{th}", thumb.display());
        }
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out.metadata_file).unwrap()).unwrap();
        assert_eq!(json["preset"]["name"], preset.name.as_str());
        assert_eq!(json["output"]["video"]["width"], w);
        assert!(json["engine"]["version"].is_string());
        assert!(json["models"].is_array());
    }
    let dir = report.outputs[0].file.parent().unwrap();
    assert!(files_in(dir).iter().all(|f| !f.ends_with(".part")), "stray .part in {:?}", files_in(dir));
}

fn render_all(rel: &str) {
    let source = media(rel);
    let out = tempfile::tempdir().unwrap();
    let report = render_file(&source, OFFLINE, out.path());
    assert_eq!(report.outputs.len(), OFFLINE.len());
    check_outputs(&source, &report);
}

#[test]
fn every_preset_on_grid_mp4() {
    render_all("grid/grid_swwp2s.mp4");
}

#[test]
fn every_preset_on_presenter_clip() {
    render_all("synthetic/presenter_astronaut_1280x720_25fps.mp4");
}

/// The film's first 4 s: every preset encodes it (upscaled to 1080p for three), and all of
/// it took 107 s of the suite's time on 2 cores.
#[test]
fn source_without_audio_gets_a_silent_track() {
    const SECONDS: f64 = 4.0;
    let source = media("openmovie/tears_of_steel_10s_640x360.mp4");
    assert!(probe(&source).unwrap().audio.is_none(), "the clip is expected to have no audio");
    let out = tempfile::tempdir().unwrap();
    let report = render_project(opening(&source, SECONDS), &source, OFFLINE, out.path());
    check_outputs_of(&source, Some(SECONDS), &report);
    for output in &report.outputs {
        let (rate, samples) = audio_mono(&output.file);
        let covered = samples.len() as f64 / rate as f64;
        assert!(covered > SECONDS - 0.1, "{}: silent track covers {covered} s of the clip", output.preset);
        assert!(rms(rate, &samples, 0.0, SECONDS) < 1e-3, "{}: track is silent", output.preset);
    }
}

/// Every preset's output plays each beep of the shared A/V-sync clip within
/// 5 ms of its flash, as the source does (+0.1 ms): the AAC encoder's priming
/// is skipped by the edit list, Opus's by its pre-skip.
#[test]
fn every_output_keeps_flash_and_beep_within_5_ms() {
    let source = media("synthetic/avsync_testsrc2_1920x1080_30fps_20s.mp4");
    let out = tempfile::tempdir().unwrap();
    let report = render_file(&source, OFFLINE, out.path());
    check_outputs(&source, &report);
    for output in &report.outputs {
        let offsets = av_offsets(&output.file, 20);
        let worst = offsets.iter().map(|o| o.abs()).fold(0.0, f64::max);
        let mid = median(&offsets);
        eprintln!("{}: A/V offset median {:+.1} ms, worst {:.1} ms", output.preset, mid * 1e3, worst * 1e3);
        assert!(mid.abs() <= 0.005, "{}: median beep - flash {:+.1} ms", output.preset, mid * 1e3);
        assert!(worst <= 0.005, "{}: offsets {offsets:?}", output.preset);
        if let Some(offsets) = ffmpeg_av_offsets(&output.file, 20) {
            let mid = median(&offsets);
            eprintln!("{}: as ffmpeg plays it, median {:+.1} ms", output.preset, mid * 1e3);
            assert!(offsets.iter().all(|o| o.abs() <= 0.005), "{}: ffmpeg offsets {offsets:?}", output.preset);
        }
    }
}
