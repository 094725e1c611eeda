// SPDX-License-Identifier: MPL-2.0
//! Characters applied to scene ranges of a render: the face and voice change
//! inside the scene only, speech stays in sync, and the metadata says which
//! algorithm each scene used.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::*;
use gstreenact::character::{create, CreateOptions};
use reenact_engine::live::Stream;
use reenact_engine::{CancelToken, PreviewRequest, PreviewRunner, Project, RenderReport, RenderRequest};
use reenact_models::Catalog;

/// Speaker on camera, 3 s (GRID corpus).
const TAKE: &str = "grid/grid_bbaf2n.mp4";
/// The scene the character plays, in seconds.
const SCENE: (f64, f64) = (1.0, 2.4);

fn shared_models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/models")
}

/// The astronaut portrait with Kennedy's voice, created once per test binary.
fn character() -> &'static Path {
    static FILE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &FILE
        .get_or_init(|| {
            // The catalog looks beside the working directory; tests run in engine/.
            if std::env::var_os("REENACT_MODELS").is_none() {
                std::env::set_var("REENACT_MODELS", shared_models());
            }
            // The engine's set-up before any plugin loads: GES's first set-up must not run
            // beside a plugin loading on another test's thread.
            reenact_engine::media::init().expect("GStreamer and our elements");
            let dir = tempfile::tempdir().expect("tempdir");
            let catalog = Catalog::from_dirs([shared_models()]).expect("shared manifests");
            let options = CreateOptions {
                name: "Kennedy".into(),
                portrait: media("astronaut.png"),
                voice_sample: Some(media("jfk.wav")),
            };
            let path = dir.path().join("kennedy.character.json");
            create(&options, &catalog).expect("character").save(&path).expect("save");
            (dir, path)
        })
        .1
}

fn project(scenes: &str, characters: &str) -> Project {
    let json = format!(
        r#"{{"title": "take", "sources": [{{"id": "a", "path": "{}"}}], "tracks": [{{"clips": [{{"source": "a"}}]}}],
            "scenes": {scenes}, "characters": {characters}}}"#,
        media(TAKE).display()
    );
    Project::parse(Path::new("take.json"), &json).expect("project")
}

fn render(project: Project, out: &Path) -> Result<RenderReport, reenact_engine::EngineError> {
    let request = RenderRequest::new(project, PathBuf::from("take.json"), presets(&["master"]), out.to_path_buf());
    reenact_engine::render(&request, &CancelToken::new(), &mut |_| {})
}

/// Mean absolute difference of two grey pictures.
fn distance(a: &[u8], b: &[u8]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs()).sum::<f64>() / a.len() as f64
}

/// Smallest and largest frame distance between two renders over `[from, to)`.
fn change(a: &[(f64, Vec<u8>)], b: &[(f64, Vec<u8>)], from: f64, to: f64) -> (f64, f64) {
    a.iter()
        .zip(b)
        .filter(|((t, _), _)| (from..to).contains(t))
        .map(|((_, x), (_, y))| distance(x, y))
        .fold((f64::MAX, 0.0), |(lo, hi), d| (lo.min(d), hi.max(d)))
}

/// The lag (in samples, within ±`max_lag`) that best aligns `b` to `a` over
/// `[from, to)` samples, and the normalised correlation there.
fn best_lag(a: &[f32], b: &[f32], from: usize, to: usize, max_lag: isize) -> (isize, f64) {
    let mut best = (0, f64::MIN);
    for lag in -max_lag..=max_lag {
        let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
        let shifted = &b[(from as isize + lag) as usize..(to as isize + lag) as usize];
        for (&x, &y) in a[from..to].iter().zip(shifted) {
            let (x, y) = (f64::from(x), f64::from(y));
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        let r = ab / (aa * bb).sqrt().max(1e-12);
        if r > best.1 {
            best = (lag, r);
        }
    }
    best
}

#[test]
fn a_scene_changes_face_and_voice_inside_its_range_only() {
    let scenes = format!(r#"[{{"start": {}, "end": {}, "character": "kennedy"}}]"#, SCENE.0, SCENE.1);
    let characters = format!(r#"{{"kennedy": "{}"}}"#, character().display());
    let (plain_dir, cast_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plain = render(project("[]", "{}"), plain_dir.path()).expect("plain render");
    let cast = render(project(&scenes, &characters), cast_dir.path()).expect("cast render");
    let (plain, cast) = (&plain.outputs[0], &cast.outputs[0]);

    // Video: frames outside the scene are the plain render's; inside, the face is the portrait's.
    let (a, b) = (frames(&plain.file, 160, 128), frames(&cast.file, 160, 128));
    assert_eq!(a.len(), b.len());
    // Outside, only the encoder's own noise differs (the frames enter it unchanged).
    let outside = change(&a, &b, 0.0, SCENE.0 - 0.02).1.max(change(&a, &b, SCENE.1 + 0.02, 10.0).1);
    let inside = change(&a, &b, SCENE.0 + 0.02, SCENE.1 - 0.02).0;
    eprintln!("frame change: outside the scene at most {outside:.2}, inside at least {inside:.2} levels");
    assert!(outside < 1.0, "outside the scene the picture changed by {outside:.2} levels");
    assert!(inside > 2.5, "inside the scene the face barely changed: {inside:.2} levels");

    // Audio: same samples, same timing before the scene; a different voice inside it.
    let ((rate, x), (_, y)) = (audio_mono(&plain.file), audio_mono(&cast.file));
    let at = |s: f64| (s * f64::from(rate)) as usize;
    let (lag, before) = best_lag(&x, &y, at(0.2), at(SCENE.0 - 0.1), at(0.01) as isize);
    let (_, during) = best_lag(&x, &y, at(SCENE.0 + 0.1), at(SCENE.1 - 0.1), at(0.01) as isize);
    eprintln!("audio before the scene: lag {lag} samples, correlation {before:.3}; during: {during:.3}");
    assert!(lag.abs() <= at(0.001) as isize, "speech moved by {lag} samples against the picture");
    assert!(before > 0.95, "audio before the scene differs: correlation {before:.3}");
    assert!(during < 0.8, "the voice was not converted in the scene: correlation {during:.3}");

    // Metadata: which character and algorithms played the scene, and the tracker's models.
    let meta = &cast.metadata;
    assert_eq!(meta.scenes.len(), 1);
    let scene = &meta.scenes[0];
    assert_eq!((scene.start, scene.end, scene.character.as_str()), (SCENE.0, SCENE.1, "kennedy"));
    assert!(scene.face.starts_with("classical:"), "{scene:?}");
    assert!(scene.voice.as_deref().is_some_and(|v| v.starts_with("classical:")), "{scene:?}");
    assert!(meta.models.iter().any(|m| m.name == "face_landmarks"), "{:?}", meta.models);
    assert!(plain.metadata.scenes.is_empty() && plain.metadata.models.is_empty());
}

/// The project's `occlusion_mask` reaches the scene's face swap: its algorithm says so.
#[test]
fn the_projects_occlusion_mask_reaches_the_face_swap() {
    let scenes = format!(r#"[{{"start": {}, "end": {}, "character": "kennedy"}}]"#, SCENE.0, SCENE.1);
    let characters = format!(r#"{{"kennedy": "{}"}}"#, character().display());
    let mut held = project(&scenes, &characters);
    held.occlusion_mask = true;
    let dir = tempfile::tempdir().unwrap();
    let report = render(held, dir.path()).expect("render");
    let face = &report.outputs[0].metadata.scenes[0].face;
    assert_eq!(face, "classical:delaunay/2+poisson+skin+occlusion");
}

#[test]
fn a_voice_over_scene_shows_the_talking_portrait() {
    let scenes =
        format!(r#"[{{"start": {}, "end": {}, "character": "kennedy", "voice_over": true}}]"#, SCENE.0, SCENE.1);
    let characters = format!(r#"{{"kennedy": "{}"}}"#, character().display());
    let (plain_dir, cast_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plain = render(project("[]", "{}"), plain_dir.path()).expect("plain render");
    let cast = render(project(&scenes, &characters), cast_dir.path()).expect("voice-over render");
    let (plain, cast) = (&plain.outputs[0], &cast.outputs[0]);
    assert!((cast.metadata.duration_s - plain.metadata.duration_s).abs() < 0.05, "same length");

    let (a, b) = (frames(&plain.file, 160, 128), frames(&cast.file, 160, 128));
    assert_eq!(a.len(), b.len());
    let outside = change(&a, &b, 0.0, SCENE.0 - 0.02).1.max(change(&a, &b, SCENE.1 + 0.02, 10.0).1);
    let inside = change(&a, &b, SCENE.0 + 0.02, SCENE.1 - 0.02).0;
    // The portrait replaces the picture; its mouth moves with the speech.
    let portrait: Vec<_> = b.iter().filter(|(t, _)| *t > SCENE.0 + 0.02 && *t < SCENE.1 - 0.02).collect();
    let moving = portrait.windows(2).map(|w| distance(&w[0].1, &w[1].1)).fold(0.0, f64::max);
    eprintln!("voice-over: outside {outside:.2}, inside at least {inside:.2} levels, mouth motion up to {moving:.3}");
    assert!(outside < 1.0, "outside the scene the picture changed by {outside:.2} levels");
    assert!(inside > 10.0, "the portrait did not replace the picture: {inside:.2} levels");
    // A still portrait through the encoder changes far less than 0.3 between frames.
    assert!(moving > 0.3, "the portrait's mouth never moved ({moving:.3} levels between frames)");

    let scene = &cast.metadata.scenes[0];
    assert!(scene.lips.as_deref().is_some_and(|l| l.starts_with("classical:")), "{scene:?}");
}

#[test]
fn a_missing_or_broken_character_fails_before_rendering() {
    let out = tempfile::tempdir().unwrap();
    let scenes = r#"[{"start": 0, "end": 1, "character": "nobody"}]"#;
    let err = render(project(scenes, "{}"), &out.path().join("r")).unwrap_err().to_string();
    assert!(err.contains("scenes[0].character") && err.contains("no character `nobody`"), "{err}");

    let broken = out.path().join("broken.character.json");
    std::fs::write(&broken, r#"{"format": 1}"#).unwrap();
    let characters = format!(r#"{{"nobody": "{}"}}"#, broken.display());
    let err = render(project(scenes, &characters), &out.path().join("r")).unwrap_err().to_string();
    assert!(err.contains("scenes[0].character") && err.contains("broken.character.json"), "{err}");
    assert!(!out.path().join("r").exists(), "nothing is written for a bad project");
}

/// Spanish lines for the take, as the subtitle editor would save them: one that fits its cue,
/// one far too long for it.
const SPANISH_LINES: &str = "1\n00:00:00,400 --> 00:00:01,300\nHola a todos.\n\n\
    2\n00:00:01,700 --> 00:00:02,700\n<i>Bienvenidos al museo de la ciudad, donde la historia vive cada día.</i>\n";

fn dubbed(dub: &str, dir: &Path) -> Project {
    let lines = dir.join("take.es.srt");
    std::fs::write(&lines, SPANISH_LINES).unwrap();
    let json = format!(
        r#"{{"title": "take", "sources": [{{"id": "a", "path": "{}"}}], "tracks": [{{"clips": [{{"source": "a"}}]}}],
            "scenes": [{{"start": 0.2, "end": 2.9, "character": "kennedy"{dub}}}],
            "characters": {{"kennedy": "{}"}}, "subtitles": {{"es": "{}"}}}}"#,
        media(TAKE).display(),
        character().display(),
        lines.display()
    );
    Project::parse(Path::new("take.json"), &json).expect("project")
}

#[test]
fn a_dubbed_scene_speaks_its_lines_in_the_character_voice_with_the_lips_following() {
    let dir = tempfile::tempdir().unwrap();
    let (cast_dir, dub_dir) = (dir.path().join("cast"), dir.path().join("dub"));
    let cast = render(dubbed("", dir.path()), &cast_dir).expect("render without the dub");
    let dub = render(dubbed(r#", "dub": "es""#, dir.path()), &dub_dir).expect("dubbed render");
    let (cast, dub) = (&cast.outputs[0], &dub.outputs[0]);

    // What was spoken: both lines, the second one at the fastest pace and still cut.
    let scene = &dub.metadata.scenes[0];
    let spoken = scene.dub.as_ref().expect("the scene's dub in the metadata");
    eprintln!("dub: {spoken:?}");
    // Kennedy's voice (251 Hz) is nearest espeak-ng's `+f3` variant raised to pitch 70.
    assert_eq!((spoken.language.as_str(), spoken.speech.as_str()), ("es", "espeak-ng:es+f3 pitch 70"));
    let [first, second] = &spoken.lines[..] else { panic!("two lines: {spoken:?}") };
    assert!((first.start_s, first.end_s) == (0.4, 1.3) && first.cut_s == 0.0, "{first:?}");
    assert!(first.speech_s > 0.3 && first.speech_s <= 0.9 + 1e-6, "{first:?}");
    assert!(second.pace == reenact_engine::dub::MAX_PACE && second.cut_s > 0.5, "{second:?}");
    assert!((second.speech_s - 1.0).abs() < 0.001, "cut at its cue's end: {second:?}");
    assert!(scene.lips.as_deref().is_some_and(|l| l.starts_with("classical:")), "{scene:?}");
    assert!(cast.metadata.scenes[0].dub.is_none() && cast.metadata.scenes[0].lips.is_none());

    // Sound: the lines where their cues are, silence between them where the speaker talked.
    let ((rate, x), (_, y)) = (audio_mono(&cast.file), audio_mono(&dub.file));
    let level = |samples: &[f32], from: f64, to: f64| rms(rate, samples, from, to);
    let (speaker, gap) = (level(&x, 1.35, 1.65), level(&y, 1.35, 1.65));
    let (line1, line2) = (level(&y, 0.45, 0.45 + first.speech_s - 0.1), level(&y, 1.75, 2.65));
    eprintln!("rms: speaker {speaker:.4}, dub gap {gap:.5}, lines {line1:.4} {line2:.4}");
    assert!(speaker > 0.01, "the take has speech between the cues: {speaker:.4}");
    assert!(gap < speaker / 20.0, "the speaker is still heard between the dubbed lines: {gap:.5}");
    assert!(line1 > 0.01 && line2 > 0.01, "the lines are not heard: {line1:.4} {line2:.4}");

    // Picture: the same face swap, the mouth moved to the dub inside the scene only.
    let (a, b) = (frames(&cast.file, 160, 128), frames(&dub.file, 160, 128));
    assert_eq!(a.len(), b.len());
    let outside = change(&a, &b, 0.0, 0.18).1;
    let inside = change(&a, &b, 0.45, 2.6).1;
    eprintln!("lips: frame change outside the scene at most {outside:.3}, inside up to {inside:.3} levels");
    assert!(outside < 0.5, "outside the scene the picture changed by {outside:.3} levels");
    assert!(inside > 0.3, "the mouth did not follow the dub: {inside:.3} levels");
}

#[test]
fn a_dub_without_lines_or_in_an_unknown_language_is_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let project = |scene: &str, subtitles: &str| {
        let json = format!(
            r#"{{"sources": [{{"id": "a", "path": "{}"}}], "tracks": [{{"clips": [{{"source": "a"}}]}}],
                "scenes": [{scene}], "characters": {{"kennedy": "{}"}}, "subtitles": {subtitles}}}"#,
            media(TAKE).display(),
            character().display()
        );
        Project::parse(Path::new("take.json"), &json)
    };
    let err = project(r#"{"start": 0, "end": 1, "character": "kennedy", "dub": "xx"}"#, "{}").unwrap_err();
    assert!(err.to_string().starts_with("take.json: scenes[0].dub: "), "{err}");
    let err = project(r#"{"start": 0, "end": 1, "character": "kennedy", "dub": "de"}"#, r#"{"es": "a.srt"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("scenes[0].dub") && err.contains("no subtitles in `de`"), "{err}");
    let err = project(r#"{"start": 0, "end": 1, "character": "kennedy"}"#, r#"{"spanish": "a.srt"}"#).unwrap_err();
    assert!(err.to_string().contains("subtitles.spanish"), "{err}");

    // Lines that all fall outside the scene: refused before anything is written.
    let lines = dir.path().join("late.es.srt");
    std::fs::write(&lines, "1\n00:00:05,000 --> 00:00:06,000\nDemasiado tarde.\n").unwrap();
    let scene = r#"{"start": 0, "end": 1, "character": "kennedy", "dub": "es"}"#;
    let project = project(scene, &format!(r#"{{"es": "{}"}}"#, lines.display())).expect("a valid project");
    let out = dir.path().join("out");
    let err = render(project, &out).unwrap_err().to_string();
    assert!(err.contains("scenes[0].dub") && err.contains("no line between 0.00 s and 1.00 s"), "{err}");
    assert!(!out.exists(), "nothing is written for a dub with nothing to say");
}

/// A character's voice over the whole of the shared A/V-sync clip (its first
/// 8 s: flash and beep on each second) keeps each beep on its flash: the voice
/// converter's output is stamped for exactly the delay it adds.
#[test]
fn a_character_voice_keeps_the_beeps_on_the_flashes() {
    const SECONDS: f64 = 8.0;
    let json = format!(
        r#"{{"title": "avsync", "sources": [{{"id": "a", "path": "{}"}}],
            "tracks": [{{"clips": [{{"source": "a", "out": {SECONDS}}}]}}],
            "scenes": [{{"start": 0, "end": {SECONDS}, "character": "kennedy"}}],
            "characters": {{"kennedy": "{}"}}}}"#,
        media("synthetic/avsync_testsrc2_1920x1080_30fps_20s.mp4").display(),
        character().display()
    );
    let project = Project::parse(Path::new("avsync.json"), &json).expect("project");
    let out = tempfile::tempdir().unwrap();
    let request =
        RenderRequest::new(project, PathBuf::from("avsync.json"), presets(&["landscape-1080p"]), out.path().into());
    let report = reenact_engine::render(&request, &CancelToken::new(), &mut |_| {}).expect("character render");
    let output = &report.outputs[0];
    let scene = &output.metadata.scenes[0];
    assert!(scene.voice.as_deref().is_some_and(|v| v.starts_with("classical:")), "the voice is converted: {scene:?}");

    let offsets = av_offsets(&output.file, SECONDS as usize);
    let worst = offsets.iter().map(|o| o.abs()).fold(0.0, f64::max);
    let mid = median(&offsets);
    eprintln!("character voice: A/V offset median {:+.1} ms, worst {:.1} ms: {offsets:?}", mid * 1e3, worst * 1e3);
    assert!(mid.abs() <= 0.005, "median beep - flash {:+.1} ms", mid * 1e3);
    assert!(worst <= 0.010, "offsets {offsets:?}");
    if let Some(offsets) = ffmpeg_av_offsets(&output.file, SECONDS as usize) {
        eprintln!("character voice, as ffmpeg plays it: median {:+.1} ms", median(&offsets) * 1e3);
        assert!(median(&offsets).abs() <= 0.005 && offsets.iter().all(|o| o.abs() <= 0.010), "ffmpeg: {offsets:?}");
    }
}

/// Encoded H.264 frames of a preview, marked with the seek they followed.
#[derive(Default)]
struct Received {
    /// (seek count when it arrived, keyframe, access unit)
    frames: Vec<(usize, bool, Vec<u8>)>,
}

/// The first frames of the preview after its `seek`-th placement, from its first
/// keyframe, decoded to `w` x `h` grey (the frames a WebRTC viewer gets).
fn decoded_after(received: &Mutex<Received>, seek: usize, dir: &Path, w: i32, h: i32) -> Vec<Vec<u8>> {
    let received = received.lock().unwrap();
    let units: Vec<u8> = received
        .frames
        .iter()
        .filter(|(s, _, _)| *s == seek)
        .skip_while(|(_, key, _)| !key)
        .flat_map(|(_, _, au)| au.iter().copied())
        .collect();
    assert!(!units.is_empty(), "no keyframe after placement {seek}");
    let file = dir.join(format!("after-{seek}.h264"));
    std::fs::write(&file, units).unwrap();
    h264_frames(&file, w, h)
}

/// Waits until `count` frames arrived after placement `seek`.
fn wait_for(received: &Mutex<Received>, seek: usize, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.lock().unwrap().frames.iter().filter(|(s, _, _)| *s == seek).count() < count {
        assert!(Instant::now() < deadline, "fewer than {count} preview frames after placement {seek} in 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The render's frame nearest `t` seconds.
fn frame_at(frames: &[(f64, Vec<u8>)], t: f64) -> &[u8] {
    &frames.iter().min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs())).expect("frames").1
}

#[test]
fn the_preview_shows_what_the_render_writes_after_a_seek() {
    let scenes = format!(r#"[{{"start": {}, "end": {}, "character": "kennedy"}}]"#, SCENE.0, SCENE.1);
    let characters = format!(r#"{{"kennedy": "{}"}}"#, character().display());
    let dir = tempfile::tempdir().unwrap();
    let rendered = render(project(&scenes, &characters), &dir.path().join("render")).expect("cast render");
    let render_frames = frames(&rendered.outputs[0].file, 160, 128);
    let source_frames = frames(&media(TAKE), 160, 128);

    let render = RenderRequest::new(
        project(&scenes, &characters),
        PathBuf::from("take.json"),
        presets(&["master"]),
        dir.path().join("unused"),
    );
    let request = PreviewRequest { render, at_s: 0.2, max_width: 640, max_height: 360 };
    let started = Instant::now();
    let preview = PreviewRunner::start(&request).expect("preview starts");
    let seeks = Arc::new(AtomicUsize::new(0));
    let received = Arc::new(Mutex::new(Received::default()));
    let (seen, into) = (Arc::clone(&seeks), Arc::clone(&received));
    preview.encoded().subscribe(Stream::H264, move |frame| {
        let seek = seen.load(Ordering::SeqCst);
        into.lock().unwrap().frames.push((seek, frame.keyframe, frame.data.clone()));
    });
    wait_for(&received, 0, 5);
    eprintln!("preview: first 5 frames {:.2} s after the start", started.elapsed().as_secs_f64());

    // Inside the scene, then outside it: each seek's first picture is the render's at that time.
    let (inside, outside) = (SCENE.0 + 0.5, 0.4);
    let mut shown = Vec::new();
    for (n, t) in [(1, inside), (2, outside)] {
        let asked = Instant::now();
        preview.seek(t).expect("seek");
        seeks.store(n, Ordering::SeqCst);
        wait_for(&received, n, 8);
        eprintln!("seek to {t} s: 8 frames after {:.2} s", asked.elapsed().as_secs_f64());
        let position = preview.position_s();
        assert!((t..t + 1.5).contains(&position), "after a seek to {t} s the position is {position:.2} s");
        let decoded = decoded_after(&received, n, dir.path(), 160, 128);
        let similarity = ssim(&decoded[0], frame_at(&render_frames, t), 160);
        // A frame 0.6 s away is less like it: the picture is the one at `t`, not any frame.
        let elsewhere = ssim(&decoded[0], frame_at(&render_frames, t + 0.6), 160);
        eprintln!("seek to {t} s: SSIM against the render's frame {similarity:.3}, 0.6 s later {elsewhere:.3}");
        assert!(similarity >= 0.9, "after a seek to {t} s the preview shows another picture (SSIM {similarity:.3})");
        assert!(similarity > elsewhere, "the preview's frame after a seek to {t} s is not the render's at {t} s");
        shown.push(decoded[0].clone());
    }
    assert!(preview.playing());
    preview.set_playing(false).expect("pause");
    assert!(!preview.playing());

    // Paused, a seek still shows its picture: the one frame the graph prerolls with.
    let paused_at = SCENE.0 + 0.2;
    // The picture that pausing itself prerolls comes first; frames from here on are the seek's.
    std::thread::sleep(Duration::from_millis(500));
    seeks.store(3, Ordering::SeqCst);
    preview.seek(paused_at).expect("seek while paused");
    wait_for(&received, 3, 1);
    std::thread::sleep(Duration::from_millis(500));
    let held = received.lock().unwrap().frames.iter().filter(|(s, _, _)| *s == 3).count();
    assert!(held <= 2, "a paused preview went on sending pictures ({held} frames)");
    let decoded = decoded_after(&received, 3, dir.path(), 160, 128);
    let similarity = ssim(&decoded[0], frame_at(&render_frames, paused_at), 160);
    eprintln!("paused seek to {paused_at} s: {held} frame(s), SSIM against the render's frame {similarity:.3}");
    assert!(similarity >= 0.9, "a paused seek to {paused_at} s shows another picture (SSIM {similarity:.3})");
    assert!(!preview.playing());

    // The character's face inside the scene, the performer's outside it.
    let inside_change = distance(&shown[0], frame_at(&source_frames, inside));
    let outside_change = distance(&shown[1], frame_at(&source_frames, outside));
    eprintln!("preview against the source: inside the scene {inside_change:.2}, outside {outside_change:.2} levels");
    assert!(inside_change > 2.5 && inside_change > 2.0 * outside_change, "the scene's face is not in the preview");
    // Past the end is refused, naming `at`.
    let err = preview.seek(100.0).unwrap_err().to_string();
    assert!(err.contains("at") && err.contains("outside the timeline"), "{err}");
}
