// SPDX-License-Identifier: MPL-2.0
//! Project timelines, cancellation, overlays and sidecars.

mod common;

use std::path::Path;

use common::*;
use reenact_engine::preset::{CaptionMode, Position, Watermark};
use reenact_engine::subtitles::{self, Format};
use reenact_engine::{probe, CancelToken, EngineError, Project, RenderRequest};

fn project(json: &str) -> Project {
    Project::parse(Path::new("test.json"), json).unwrap()
}

/// Mean absolute difference of two grey pictures.
fn distance(a: &[u8], b: &[u8]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum::<f64>() / a.len() as f64
}

/// The frame of `frames` nearest to `t`.
fn at(frames: &[(f64, Vec<u8>)], t: f64) -> &[u8] {
    &frames.iter().min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs())).unwrap().1
}

#[test]
fn two_trimmed_clips_play_in_order() {
    let tears = media("openmovie/tears_of_steel_10s_640x360.mp4");
    let astro = media("synthetic/presenter_astronaut_1280x720_25fps.mp4");
    let json = format!(
        r#"{{"title":"Order test","sources":[{{"id":"tears","path":"{}"}},{{"id":"astro","path":"{}"}}],
        "tracks":[{{"clips":[{{"source":"tears","in":2.0,"out":4.0}},{{"source":"astro","in":1.0,"out":3.5}}]}}]}}"#,
        tears.display(),
        astro.display()
    );
    let out = tempfile::tempdir().unwrap();
    let request =
        RenderRequest::new(project(&json), "test.json".into(), presets(&["master"]), out.path().to_path_buf());
    let report = reenact_engine::render(&request, &CancelToken::new(), &mut |_| {}).unwrap();
    let file = &report.outputs[0].file;
    let info = probe(file).unwrap();
    assert!((info.duration_s - 4.5).abs() <= 1.0 / 24.0 + 1e-3, "duration {}", info.duration_s);
    assert_eq!(info.video.as_ref().map(|v| (v.width, v.height)), Some((640, 360)), "canvas of the first clip");

    // Pictures: second 1 of the output is second 3 of Tears of Steel,
    // second 3 is second 2 of the presenter clip.
    let output = frames(file, 16, 9);
    let tears_frames = frames(&tears, 16, 9);
    let astro_frames = frames(&astro, 16, 9);
    let (o1, o3) = (at(&output, 1.0), at(&output, 3.0));
    assert!(distance(o1, at(&tears_frames, 3.0)) < distance(o1, at(&astro_frames, 2.0)));
    assert!(distance(o3, at(&astro_frames, 2.0)) < distance(o3, at(&tears_frames, 3.0)));
    // The second clip is scaled twice (to the canvas, then to 16x9), so it
    // matches less tightly than the first.
    assert!(distance(o1, at(&tears_frames, 3.0)) < 5.0, "first clip matches its source");
    assert!(distance(o3, at(&astro_frames, 2.0)) < 20.0, "second clip matches its source");

    // Sound: Tears of Steel has none, the presenter speaks from 0.31 s on.
    let (rate, samples) = audio_mono(file);
    assert!(rms(rate, &samples, 0.0, 1.9) < 1e-3, "first clip is silent");
    assert!(rms(rate, &samples, 2.1, 4.4) > 0.01, "second clip has speech");
}

#[test]
fn overlapping_clips_on_one_track_are_rejected() {
    let grid = media("grid/grid_swwp2s.mp4");
    let json = format!(
        r#"{{"sources":[{{"id":"g","path":"{}"}}],"tracks":[{{"clips":[{{"source":"g","in":0,"out":2}},{{"source":"g","position":1.0}}]}}]}}"#,
        grid.display()
    );
    let out = tempfile::tempdir().unwrap();
    let request =
        RenderRequest::new(project(&json), "test.json".into(), presets(&["master"]), out.path().to_path_buf());
    let err = reenact_engine::render(&request, &CancelToken::new(), &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("tracks[0].clips[1].position: 1 overlaps the previous clip"), "{err}");
    assert!(files_in(out.path()).is_empty());
}

#[test]
fn cancelled_render_keeps_the_previous_render_and_leaves_no_part() {
    let source = media("synthetic/presenter_astronaut_1280x720_25fps.mp4");
    let out = tempfile::tempdir().unwrap();
    let first = render_file(&source, &["master"], out.path());
    let before = std::fs::read(&first.outputs[0].file).unwrap();
    let listing = files_in(out.path());

    let request = RenderRequest::new(
        Project::from_media(&source),
        source.clone(),
        presets(&["master", "landscape-1080p"]),
        out.path().to_path_buf(),
    );
    let cancel = CancelToken::new();
    let mut seen = Vec::new();
    let result = reenact_engine::render(&request, &cancel, &mut |p| {
        seen.push(p.fraction);
        if p.position_s > 1.0 {
            cancel.cancel();
        }
    });
    assert!(matches!(result, Err(EngineError::Cancelled)), "{result:?}");
    assert!(seen.iter().any(|f| *f > 0.0 && *f < 1.0), "progress was reported: {seen:?}");
    assert_eq!(files_in(out.path()), listing, "no new or partial files");
    assert_eq!(std::fs::read(&first.outputs[0].file).unwrap(), before, "previous render intact");
}

#[test]
fn subtitles_and_watermark_are_burned_in_at_their_times() {
    let source = media("grid/grid_swwp2s.mp4");
    let dir = tempfile::tempdir().unwrap();
    let srt = dir.path().join("lines.srt");
    std::fs::write(&srt, "1\n00:00:01,000 --> 00:00:02,000\nSET WHITE WITH P TWO SOON\n").unwrap();
    let plain_dir = dir.path().join("plain");
    let plain = render_file(&source, &["master"], &plain_dir);

    let marked_dir = dir.path().join("marked");
    let mut request =
        RenderRequest::new(Project::from_media(&source), source.clone(), presets(&["master"]), marked_dir.clone());
    request.subtitles = Some(srt);
    request.watermark =
        Some(Watermark { text: None, image: Some(media("astronaut.png")), position: Position::TopLeft, opacity: 1.0 });
    let marked = reenact_engine::render(&request, &CancelToken::new(), &mut |_| {}).unwrap();
    assert_eq!(marked.outputs[0].metadata.captions.as_deref(), Some("burn-in"));

    // 36x36 grey pictures of the 360x288 frames: rows 27.. hold the caption
    // band, the top-left 5x5 block the watermark.
    let a = frames(&plain.outputs[0].file, 36, 36);
    let b = frames(&marked.outputs[0].file, 36, 36);
    let region = |px: &[u8], rows: std::ops::Range<usize>, cols: std::ops::Range<usize>| -> Vec<u8> {
        rows.flat_map(|r| cols.clone().map(move |c| (r, c))).map(|(r, c)| px[r * 36 + c]).collect()
    };
    let caption = |px: &[u8]| region(px, 27..36, 4..32);
    let corner = |px: &[u8]| region(px, 1..6, 1..6);
    assert!(distance(&caption(at(&a, 0.5)), &caption(at(&b, 0.5))) < 3.0, "no caption before its cue");
    assert!(distance(&caption(at(&a, 1.5)), &caption(at(&b, 1.5))) > 10.0, "caption during its cue");
    assert!(distance(&caption(at(&a, 2.5)), &caption(at(&b, 2.5))) < 3.0, "no caption after its cue");
    assert!(distance(&corner(at(&a, 0.5)), &corner(at(&b, 0.5))) > 10.0, "watermark drawn");
}

#[test]
fn sidecar_subtitles_are_written_beside_the_output() {
    let source = media("grid/grid_swwp2s.mp4");
    let dir = tempfile::tempdir().unwrap();
    let vtt = dir.path().join("lines.vtt");
    std::fs::write(&vtt, "WEBVTT\n\n00:00.500 --> 00:01.500\nSet white\n\n00:01.500 --> 00:02.200\nwith P two soon\n")
        .unwrap();
    let out = dir.path().join("out");
    let mut request =
        RenderRequest::new(Project::from_media(&source), source.clone(), presets(&["master"]), out.clone());
    request.subtitles = Some(vtt.clone());
    request.captions = Some(CaptionMode::Sidecar);
    let report = reenact_engine::render(&request, &CancelToken::new(), &mut |_| {}).unwrap();
    let sidecars = &report.outputs[0].sidecars;
    assert_eq!(sidecars.len(), 2);
    let expected = subtitles::read(&vtt).unwrap();
    for file in sidecars {
        let cues = subtitles::read(file).unwrap();
        assert_eq!(cues, expected, "{}", file.display());
        assert!(cues.windows(2).all(|w| w[0].end_s <= w[1].start_s), "monotonic");
    }
    assert_eq!(Format::from_path(&sidecars[0]), Some(Format::Srt));
}

#[test]
fn complete_files_pass_the_tail_check_and_cut_files_do_not() {
    let source = media("synthetic/presenter_astronaut_1280x720_25fps.mp4");
    assert!(reenact_engine::media::probe_complete(&source).is_ok());
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.mp4");
    let bytes = std::fs::read(&source).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = reenact_engine::media::probe_complete(&cut).unwrap_err().to_string();
    assert!(err.contains("cut.mp4: truncated or damaged: no picture can be decoded at"), "{err}");
}
