// SPDX-License-Identifier: MPL-2.0
//! `reenactlipsync` on real and generated media: the astronaut portrait talking to LibriVox
//! speech (mouth follows the speech energy, closed in silence), the EBU R37 offset between
//! mouth and sound measured on tone bursts at 25 and 30 fps, a GRID talking face through
//! `reenactfacetrack` (nothing changes outside the mouth region), the ONNX path with generated
//! Wav2Lip-signature models (pasted output, the mel window reaches the model, signature
//! errors), bad character files, and the element's contract (latency, caps, properties, EOS
//! with audio longer than the video).

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{frame_size, init};

use gst::glib;
use gst::prelude::*;
use gstreenact::character::mesh::LIPS_OUTER;
use gstreenact::character::{create, decode_audio_mono, Character, CreateOptions};
use gstreenact::facemeta::FaceMeta;
use reenact_models::graph::{Attr, Graph};
use reenact_models::Catalog;

fn media(name: &str) -> PathBuf {
    common::shared().join("media").join(name)
}

/// The astronaut character, made once per test run.
fn astronaut() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        init();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lipsync");
        std::fs::create_dir_all(&dir).expect("character dir");
        let catalog = Catalog::from_dirs([common::shared().join("models")]).expect("shared manifests");
        let options = CreateOptions { name: "Astronaut".into(), portrait: media("astronaut.png"), voice_sample: None };
        let character = create(&options, &catalog).expect("character");
        let path = dir.join("astronaut.character.json");
        character.save(&path).expect("save character");
        path
    })
}

/// `count` black RGBA frames at `fps` sharing one memory, and their caps.
fn blank_frames(width: usize, height: usize, fps: u64, count: usize) -> (gst::Caps, Vec<gst::Buffer>) {
    let caps = format!("video/x-raw,format=RGBA,width={width},height={height},framerate={fps}/1")
        .parse::<gst::Caps>()
        .expect("caps");
    let black = gst::Buffer::from_slice(vec![0u8; width * height * 4]);
    let frames = (0..count as u64)
        .map(|i| {
            let mut frame = black.copy();
            let f = frame.get_mut().expect("writable");
            f.set_pts(gst::ClockTime::SECOND.mul_div_floor(i, fps));
            f.set_duration(gst::ClockTime::SECOND.mul_div_floor(i + 1, fps).unwrap() - f.pts().unwrap());
            frame
        })
        .collect();
    (caps, frames)
}

/// Mono `samples` at `rate` as interleaved `format` (S16LE or F32LE) buffers of 20 ms with
/// `channels` equal channels, timestamped from 0, and their caps.
fn audio_buffers(samples: &[f32], rate: u32, format: &str, channels: usize) -> (gst::Caps, Vec<gst::Buffer>) {
    let caps = format!("audio/x-raw,format={format},layout=interleaved,rate={rate},channels={channels}")
        .parse::<gst::Caps>()
        .expect("caps");
    let chunk = rate as usize / 50;
    let buffers = samples
        .chunks(chunk)
        .enumerate()
        .map(|(i, part)| {
            let mut bytes = Vec::with_capacity(part.len() * channels * 4);
            for &v in part {
                for _ in 0..channels {
                    match format {
                        "S16LE" => bytes.extend_from_slice(&((v.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes()),
                        _ => bytes.extend_from_slice(&v.to_le_bytes()),
                    }
                }
            }
            let mut buffer = gst::Buffer::from_mut_slice(bytes);
            let b = buffer.get_mut().expect("writable");
            let start = (i * chunk) as u64;
            b.set_pts(gst::ClockTime::SECOND.mul_div_floor(start, u64::from(rate)));
            b.set_duration(gst::ClockTime::SECOND.mul_div_floor(part.len() as u64, u64::from(rate)));
            buffer
        })
        .collect();
    (caps, buffers)
}

/// The pipeline of `description`, with its `appsrc`s `v` and `a` given `video` and `audio`
/// caps, and its `appsink` `out`.
fn with_appsrcs(
    description: &str,
    video: &gst::Caps,
    audio: &gst::Caps,
) -> (gst::Pipeline, gst_app::AppSrc, gst_app::AppSrc, gst_app::AppSink) {
    let pipeline = gst::parse::launch(description).expect("pipeline").downcast::<gst::Pipeline>().expect("pipeline");
    let src = |name: &str, caps: &gst::Caps| {
        let src = pipeline.by_name(name).expect("appsrc").downcast::<gst_app::AppSrc>().expect("appsrc");
        src.set_caps(Some(caps));
        src
    };
    let (vsrc, asrc) = (src("v", video), src("a", audio));
    let sink = pipeline.by_name("out").expect("sink").downcast::<gst_app::AppSink>().expect("appsink");
    (pipeline, vsrc, asrc, sink)
}

/// Runs `video` and `audio` (caps, buffers) through `reenactlipsync <props>` with `appsrc`s and
/// returns `each(output)` for every output buffer, in order.
fn run<T>(
    video: (&gst::Caps, &[gst::Buffer]),
    audio: (&gst::Caps, &[gst::Buffer]),
    props: &str,
    mut each: impl FnMut(&gst::Buffer) -> T,
) -> Vec<T> {
    init();
    let description = format!(
        "reenactlipsync name=ls {props} ! appsink name=out sync=false \
         appsrc name=v format=time ! ls.video_sink appsrc name=a format=time ! ls.audio_sink"
    );
    let (pipeline, vsrc, asrc, sink) = with_appsrcs(&description, video.0, audio.0);
    pipeline.set_state(gst::State::Playing).expect("playing");
    for b in video.1 {
        vsrc.push_buffer(b.clone()).expect("push video");
    }
    vsrc.end_of_stream().expect("video eos");
    for b in audio.1 {
        asrc.push_buffer(b.clone()).expect("push audio");
    }
    asrc.end_of_stream().expect("audio eos");
    let mut out = Vec::new();
    loop {
        match sink.try_pull_sample(gst::ClockTime::from_seconds(60)) {
            Some(sample) => out.push(each(&sample.buffer_owned().expect("buffer"))),
            None if sink.is_eos() => break,
            None => {
                let bus = pipeline.bus().expect("bus");
                let err = bus.pop_filtered(&[gst::MessageType::Error]);
                pipeline.set_state(gst::State::Null).expect("null");
                panic!("no output and no EOS: {err:?}");
            }
        }
    }
    pipeline.set_state(gst::State::Null).expect("null");
    out
}

/// The astronaut portrait's landmarks as the element places them in a `width` x `height`
/// frame (scaled to fit, centred).
fn portrait_landmarks(width: usize, height: usize) -> Vec<[f32; 3]> {
    let character = Character::load(astronaut()).expect("character");
    let p = &character.portrait;
    let scale = (width as f32 / p.width as f32).min(height as f32 / p.height as f32);
    let (ox, oy) = ((width as f32 - p.width as f32 * scale) / 2.0, (height as f32 - p.height as f32 * scale) / 2.0);
    p.landmarks.iter().map(|l| [l[0] * scale + ox, l[1] * scale + oy, l[2] * scale]).collect()
}

/// The documented mouth region: ellipse centred 0.10 face heights below the corners' midpoint,
/// semi-axes 1.0 mouth width along the corner line and 0.32 face heights across it. Returns the
/// normalised radius of the pixel centre (x + 0.5, y + 0.5): under 1 inside.
fn region_radius(landmarks: &[[f32; 3]], x: usize, y: usize) -> f32 {
    let (a, b) = (landmarks[61], landmarks[291]);
    let (top, chin) = (landmarks[10], landmarks[152]);
    let m = (b[0] - a[0]).hypot(b[1] - a[1]);
    let h = (chin[0] - top[0]).hypot(chin[1] - top[1]);
    let u = ((b[0] - a[0]) / m, (b[1] - a[1]) / m);
    let mut v = (-u.1, u.0);
    let c = ((a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0);
    if (chin[0] - c.0) * v.0 + (chin[1] - c.1) * v.1 < 0.0 {
        v = (-v.0, -v.1);
    }
    let (dx, dy) = (x as f32 + 0.5 - c.0, y as f32 + 0.5 - c.1);
    let (lu, lv) = (dx * u.0 + dy * u.1, dx * v.0 + dy * v.1);
    ((lu / m).powi(2) + ((lv - 0.10 * h) / (0.32 * h)).powi(2)).sqrt()
}

/// Pixels of the mouth: the box around the outer lips, extended down by the largest opening.
fn mouth_box(landmarks: &[[f32; 3]]) -> (usize, usize, usize, usize) {
    let xs = LIPS_OUTER.iter().map(|&i| landmarks[i][0]);
    let ys = LIPS_OUTER.iter().map(|&i| landmarks[i][1]);
    let (x0, x1) = xs.fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (y0, y1) = ys.fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let h = (landmarks[152][1] - landmarks[10][1]).abs();
    (x0 as usize, y0 as usize, x1.ceil() as usize, (y1 + 0.12 * h).ceil() as usize)
}

/// Mean absolute difference of the RGB bytes of two RGBA frames over `rect`.
fn rect_diff(a: &[u8], b: &[u8], width: usize, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> f64 {
    let mut sum = 0u64;
    for y in y0..y1 {
        for x in x0..x1 {
            let i = (y * width + x) * 4;
            sum += (0..3).map(|c| u64::from(a[i + c].abs_diff(b[i + c]))).sum::<u64>();
        }
    }
    sum as f64 / (3 * (x1 - x0) * (y1 - y0)).max(1) as f64
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt().max(1e-12)
}

/// RMS level (dBFS, floored at -80) of `samples` at `rate` over `[t0, t1)` seconds.
fn level_db(samples: &[f32], rate: u32, t0: f64, t1: f64) -> f64 {
    let (a, b) = ((t0 * f64::from(rate)) as usize, ((t1 * f64::from(rate)) as usize).min(samples.len()));
    if a >= b {
        return -80.0;
    }
    let ms = samples[a..b].iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / (b - a) as f64;
    (10.0 * (ms + 1e-12).log10()).max(-80.0)
}

#[test]
fn a_portrait_talks_with_the_speech_and_rests_in_silence() {
    init();
    let rate = 16_000;
    let speech = decode_audio_mono(&media("speech/librivox_0880.wav"), rate).expect("speech");
    // One second of silence, the 3 s sentence, 1.2 s of silence.
    let mut audio = vec![0.0f32; rate as usize];
    audio.extend_from_slice(&speech);
    audio.extend(std::iter::repeat_n(0.0, rate as usize * 6 / 5));
    let seconds = audio.len() as f64 / f64::from(rate);
    let (width, height) = (640, 360);
    let (vcaps, frames) = blank_frames(width, height, 25, (seconds * 25.0) as usize);
    let (acaps, abufs) = audio_buffers(&audio, rate, "S16LE", 1);
    let landmarks = portrait_landmarks(width, height);
    let rect = mouth_box(&landmarks);
    let mut first: Option<Vec<u8>> = None;
    let out =
        run((&vcaps, &frames), (&acaps, &abufs), &format!("mode=portrait character={}", astronaut().display()), |b| {
            let map = b.map_readable().expect("map");
            let reference = first.get_or_insert_with(|| map.to_vec());
            (b.pts().expect("pts"), rect_diff(&map, reference, width, rect))
        });
    assert_eq!(out.len(), frames.len(), "one output frame per input frame");
    for ((pts, _), frame) in out.iter().zip(&frames) {
        assert_eq!(Some(*pts), frame.pts(), "timestamps kept");
    }

    // Frame 0 (silence) is the portrait, scaled into the frame by the test itself.
    let character = Character::load(astronaut()).expect("character");
    let image = character.portrait_image().expect("portrait");
    let first = first.expect("first frame");
    let scale = (width as f32 / image.width as f32).min(height as f32 / image.height as f32);
    let ox = (width as f32 - image.width as f32 * scale) / 2.0;
    let (mut sum, mut count) = (0u64, 0u64);
    for y in rect.1..rect.3 {
        for x in rect.0..rect.2 {
            let (sx, sy) = (((x as f32 + 0.5 - ox) / scale) as usize, ((y as f32 + 0.5) / scale) as usize);
            let (i, j) = ((y * width + x) * 4, (sy * image.width as usize + sx) * 4);
            sum += (0..3).map(|c| u64::from(first[i + c].abs_diff(image.data[j + c]))).sum::<u64>();
            count += 3;
        }
    }
    let portrait_diff = sum as f64 / count as f64;
    assert!(portrait_diff < 6.0, "closed mouth differs from the portrait by {portrait_diff:.2} levels");

    // Closed in silence: every frame well inside the leading and trailing silence is frame 0.
    let speech_end = 1.0 + speech.len() as f64 / f64::from(rate);
    for (pts, diff) in &out {
        let t = pts.seconds_f64();
        if t < 0.9 || t > speech_end + 0.4 {
            assert_eq!(*diff, 0.0, "mouth not closed at {t:.2} s");
        }
    }
    // Open with the speech: the mouth change follows the speech level frame by frame.
    let (mut change, mut level) = (Vec::new(), Vec::new());
    for (pts, diff) in &out {
        let t = pts.seconds_f64();
        change.push(*diff);
        level.push(level_db(&audio, rate, t, t + 0.04).max(-60.0));
    }
    let r = pearson(&change, &level);
    let open_frames = out.iter().filter(|(_, d)| *d > 2.0).count();
    eprintln!("portrait: correlation of mouth change with speech level {r:.3}, {open_frames} open frames, portrait diff {portrait_diff:.2}");
    assert!(r > 0.6, "mouth change vs speech level: r = {r:.3}");
    assert!(open_frames > 25, "{open_frames} frames with an open mouth");
}

/// Tone bursts (a 180 Hz voice-like harmonic series) of 300 ms starting at 0.5 + 1.0137 k s, at
/// `rate` Hz; returns the samples and the burst onsets (s).
fn bursts(rate: u32, seconds: f64) -> (Vec<f32>, Vec<f64>) {
    let onsets: Vec<f64> = (0..).map(|k| 0.5 + 1.0137 * k as f64).take_while(|&t| t + 0.5 < seconds).collect();
    let samples = (0..(seconds * f64::from(rate)) as usize)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            if !onsets.iter().any(|&o| t >= o && t < o + 0.3) {
                return 0.0;
            }
            (1..=12).map(|h| (2.0 * std::f64::consts::PI * 180.0 * h as f64 * t).sin() * 0.25 / h as f64).sum::<f64>()
                as f32
        })
        .collect();
    (samples, onsets)
}

/// The offset (ms) between the mouth opening in `frames` ((pts, duration, openness)) and the
/// sound energy of `samples`, by cross-correlation at 1 ms resolution: positive when the
/// picture comes after the sound.
fn av_offset_ms(frames: &[(gst::ClockTime, gst::ClockTime, f64)], samples: &[f32], rate: u32) -> f64 {
    let ms = (samples.len() as u64 * 1000 / u64::from(rate)) as usize;
    let per_ms = rate as usize / 1000;
    let energy: Vec<f64> = (0..ms)
        .map(|i| samples[i * per_ms..(i + 1) * per_ms].iter().map(|v| f64::from(*v).powi(2)).sum::<f64>())
        .collect();
    let mut video = vec![0.0f64; ms];
    for &(pts, duration, open) in frames {
        let (a, b) = (pts.mseconds() as usize, ((pts + duration).mseconds() as usize).min(ms));
        video[a.min(ms)..b].iter_mut().for_each(|v| *v = open);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (me, mv) = (mean(&energy), mean(&video));
    let corr = |lag: i64| -> f64 {
        (0..ms as i64)
            .filter_map(|t| {
                let u = t + lag;
                (u >= 0 && (u as usize) < ms).then(|| (energy[t as usize] - me) * (video[u as usize] - mv))
            })
            .sum()
    };
    let lags: Vec<(i64, f64)> = (-250..=250).map(|lag| (lag, corr(lag))).collect();
    let (best, _) = lags.iter().copied().fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
    // Centre of the plateau: a 40 ms frame correlates equally over a range of lags.
    let peak = lags.iter().map(|l| l.1).fold(f64::MIN, f64::max);
    let near: Vec<i64> = lags.iter().filter(|l| l.1 >= peak * 0.999).map(|l| l.0).collect();
    let centre = near.iter().sum::<i64>() as f64 / near.len() as f64;
    eprintln!("best lag {best} ms, plateau {:?}..{:?}", near.first(), near.last());
    centre
}

fn ebu_r37_offset(fps: u64) -> f64 {
    let rate = 48_000;
    let seconds = 11.0;
    let (audio, onsets) = bursts(rate, seconds);
    let (width, height) = (320, 240);
    let (vcaps, frames) = blank_frames(width, height, fps, (seconds * fps as f64) as usize);
    let (acaps, abufs) = audio_buffers(&audio, rate, "F32LE", 2);
    let rect = mouth_box(&portrait_landmarks(width, height));
    let mut first: Option<Vec<u8>> = None;
    let out =
        run((&vcaps, &frames), (&acaps, &abufs), &format!("mode=portrait character={}", astronaut().display()), |b| {
            let map = b.map_readable().expect("map");
            let reference = first.get_or_insert_with(|| map.to_vec());
            (b.pts().expect("pts"), b.duration().expect("duration"), rect_diff(&map, reference, width, rect))
        });
    assert_eq!(out.len(), frames.len());
    assert!(out.iter().filter(|f| f.2 > 1.0).count() as f64 > onsets.len() as f64 * 0.3 * fps as f64 * 0.8);
    av_offset_ms(&out, &audio, rate)
}

#[test]
fn mouth_and_sound_stay_within_ebu_r37() {
    init();
    for fps in [25, 30] {
        let offset = ebu_r37_offset(fps);
        eprintln!("EBU R37 at {fps} fps: picture {offset:+.1} ms after the sound");
        // EBU R37: sound at most 40 ms before the picture (+), at most 60 ms after it (-).
        assert!((-60.0..=40.0).contains(&offset), "{fps} fps: offset {offset:+.1} ms");
    }
}

/// The first `count` frames of `file` as RGBA buffers carrying `reenactfacetrack`'s face meta.
fn tracked(file: &Path, count: usize) -> (gst::Caps, Vec<gst::Buffer>) {
    common::tracked(file, "RGBA", count)
}

type Stream = (gst::Caps, Vec<gst::Buffer>);

/// GRID `bbaf2n`: its 75 tracked frames and its own audio (44.1 kHz, S16LE stereo).
fn grid() -> &'static (Stream, Stream) {
    static GRID: OnceLock<(Stream, Stream)> = OnceLock::new();
    GRID.get_or_init(|| {
        init();
        let file = media("grid/grid_bbaf2n.mp4");
        let video = tracked(&file, 75);
        let samples = decode_audio_mono(&file, 44_100).expect("grid audio");
        let audio = audio_buffers(&samples, 44_100, "S16LE", 2);
        (video, audio)
    })
}

/// Changed pixels inside and outside the mouth region of every face, over all frames.
fn changes(input: &[gst::Buffer], output: &[gst::Buffer], width: usize, height: usize) -> (usize, usize) {
    let (mut inside, mut outside) = (0, 0);
    for (a, b) in input.iter().zip(output) {
        let faces: Vec<Vec<[f32; 3]>> =
            a.meta::<FaceMeta>().map(|m| m.faces().iter().map(|f| f.landmarks.clone()).collect()).unwrap_or_default();
        let (ma, mb) = (a.map_readable().expect("map"), b.map_readable().expect("map"));
        for y in 0..height {
            for x in 0..width {
                let i = (y * width + x) * 4;
                if ma[i..i + 3] == mb[i..i + 3] {
                    continue;
                }
                if faces.iter().any(|l| region_radius(l, x, y) < 1.0) {
                    inside += 1;
                } else {
                    outside += 1;
                }
            }
        }
    }
    (inside, outside)
}

#[test]
fn a_tracked_face_talks_and_nothing_changes_outside_the_mouth_region() {
    init();
    let ((vcaps, frames), (acaps, abufs)) = grid();
    let (width, height) = frame_size(vcaps);
    for props in ["", "strength=2 smoothing=0", "track-id=1"] {
        let out = run((vcaps, frames), (acaps, abufs), props, |b| b.clone());
        assert_eq!(out.len(), frames.len());
        let (inside, outside) = changes(frames, &out, width, height);
        eprintln!("face `{props}`: {inside} pixels changed inside the mouth regions, {outside} outside");
        assert_eq!(outside, 0, "`{props}`: pixels changed outside the mouth region");
        assert!(inside > 5000, "`{props}`: only {inside} pixels changed");
        // The changes follow the speech: frames in GRID's leading silence (speech starts at 0.55 s)
        // change much less than frames in the middle of the sentence.
        let per_frame: Vec<f64> = frames
            .iter()
            .zip(&out)
            .map(|(a, b)| {
                rect_diff(
                    &a.map_readable().expect("map"),
                    &b.map_readable().expect("map"),
                    width,
                    (0, 0, width, height),
                )
            })
            .collect();
        let quiet = per_frame[..10].iter().sum::<f64>() / 10.0;
        let talking = per_frame[20..60].iter().sum::<f64>() / 40.0;
        assert!(talking > 4.0 * quiet.max(1e-3), "`{props}`: change {quiet:.4} before speech, {talking:.4} during");
    }
    // A track that does not exist: untouched.
    let out = run((vcaps, frames), (acaps, abufs), "track-id=999", |b| b.clone());
    assert_eq!(changes(frames, &out, width, height), (0, 0));
}

// ONNX path with generated models.

/// A model returning the reference half of its face input (the unmasked crop), so the paste
/// reproduces the picture through the 96 px crop.
fn install_reference(dir: &Path) {
    Graph::new()
        .input("face", &[1, 6, 96, 96])
        .input("mel", &[1, 1, 80, 16])
        .output("out", &[1, 3, 96, 96])
        .initializer("zero", &[1], &[0.0])
        .node("Split", &["face"], &["masked", "reference"], &[("axis", Attr::Int(1))])
        .node("ReduceMean", &["mel"], &["m"], &[("axes", Attr::Ints(vec![1, 2, 3])), ("keepdims", Attr::Int(1))])
        .node("Mul", &["m", "zero"], &["m0"], &[])
        .node("Add", &["reference", "m0"], &["out"], &[])
        .install(dir, "test_reference", "lip_sync")
        .expect("install reference model");
}

/// A model painting the crop grey with the level (mean(mel) + 4) / 8: black for silence
/// (the mel floor is -4), brighter with speech.
fn install_mel_grey(dir: &Path) {
    Graph::new()
        .input("audio_sequences", &[1, 1, 80, 16])
        .input("face_sequences", &[1, 6, 96, 96])
        .output("generated", &[1, 3, 96, 96])
        .initializer("zero", &[1], &[0.0])
        .initializer("four", &[1], &[4.0])
        .initializer("eighth", &[1], &[0.125])
        .node("Split", &["face_sequences"], &["masked", "reference"], &[("axis", Attr::Int(1))])
        .node("Mul", &["reference", "zero"], &["r0"], &[])
        .node(
            "ReduceMean",
            &["audio_sequences"],
            &["m"],
            &[("axes", Attr::Ints(vec![1, 2, 3])), ("keepdims", Attr::Int(1))],
        )
        .node("Add", &["m", "four"], &["m4"], &[])
        .node("Mul", &["m4", "eighth"], &["grey"], &[])
        .node("Add", &["r0", "grey"], &["generated"], &[])
        .install(dir, "test_mel_grey", "lip_sync")
        .expect("install grey model");
}

/// A model with a 128 px face input.
fn install_wrong_size(dir: &Path) {
    Graph::new()
        .input("face", &[1, 6, 128, 128])
        .input("mel", &[1, 1, 80, 16])
        .output("out", &[1, 3, 128, 128])
        .initializer("zero", &[1], &[0.0])
        .node("Split", &["face"], &["masked", "reference"], &[("axis", Attr::Int(1))])
        .node("ReduceMean", &["mel"], &["m"], &[("axes", Attr::Ints(vec![1, 2, 3])), ("keepdims", Attr::Int(1))])
        .node("Mul", &["m", "zero"], &["m0"], &[])
        .node("Add", &["reference", "m0"], &["out"], &[])
        .install(dir, "test_wrong_size", "lip_sync")
        .expect("install model");
}

#[test]
fn a_generated_model_output_is_pasted_into_the_mouth_region() {
    init();
    let dir = tempfile::tempdir().expect("model dir");
    install_reference(dir.path());
    let ((vcaps, frames), (acaps, abufs)) = grid();
    let (width, height) = frame_size(vcaps);
    let props = format!("model=test_reference model-dir={}", dir.path().display());
    let out = run((vcaps, frames), (acaps, abufs), &props, |b| b.clone());
    let (inside, outside) = changes(frames, &out, width, height);
    assert_eq!(outside, 0, "nothing pasted outside the mouth region");
    assert!(inside > 1000, "{inside} pixels pasted");
    // The reference crop comes back where it was taken: only the 96 px resampling blurs it.
    let mut worst: f64 = 0.0;
    for (a, b) in frames.iter().zip(&out) {
        let l = a.meta::<FaceMeta>().expect("meta").faces()[0].landmarks.clone();
        let rect = mouth_box(&l);
        worst = worst.max(rect_diff(&a.map_readable().expect("map"), &b.map_readable().expect("map"), width, rect));
    }
    assert!(worst < 6.0, "the pasted reference differs by {worst:.2} levels around the mouth");

    // Mel -> grey: black in silence, brighter with the bursts; the whole core of the region
    // is the model's colour.
    install_mel_grey(dir.path());
    let rate = 16_000;
    let (audio, onsets) = bursts(rate, 4.0);
    let (w, h) = (320, 240);
    let (vcaps, frames) = blank_frames(w, h, 25, 100);
    let (acaps, abufs) = audio_buffers(&audio, rate, "F32LE", 1);
    let l = portrait_landmarks(w, h);
    let (cx, cy) = (((l[61][0] + l[291][0]) / 2.0) as usize, ((l[61][1] + l[291][1]) / 2.0) as usize + 2);
    let props = format!(
        "mode=portrait character={} model=test_mel_grey model-dir={}",
        astronaut().display(),
        dir.path().display()
    );
    let greys = run((&vcaps, &frames), (&acaps, &abufs), &props, |b| {
        let map = b.map_readable().expect("map");
        let px = |x: usize, y: usize| map[(y * w + x) * 4..(y * w + x) * 4 + 3].to_vec();
        let centre = px(cx, cy);
        assert!(centre[0] == centre[1] && centre[1] == centre[2], "grey: {centre:?}");
        assert_eq!(px(cx + 3, cy + 2), centre, "uniform");
        (b.pts().expect("pts").seconds_f64(), centre[0])
    });
    let in_burst = |t: f64| onsets.iter().any(|&o| t >= o + 0.05 && t + 0.04 < o + 0.25);
    let silent = |t: f64| onsets.iter().all(|&o| t + 0.04 < o - 0.15 || t > o + 0.45);
    for &(t, g) in &greys {
        if in_burst(t) {
            assert!(g > 30, "grey {g} at {t:.2} s in a burst");
        } else if silent(t) {
            assert!(g < 3, "grey {g} at {t:.2} s in silence");
        }
    }
    let element = gst::parse::launch(&format!("reenactlipsync {props}")).expect("element");
    element.set_state(gst::State::Paused).expect("started");
    assert_eq!(element.property::<String>("algorithm"), "onnx:test_mel_grey@generated");
    element.set_state(gst::State::Null).expect("null");
}

/// Starts `reenactlipsync <props>` on test sources and returns the error it posts.
fn start_error(props: &str) -> String {
    init();
    let pipeline = gst::parse::launch(&format!(
        "reenactlipsync name=ls {props} ! fakesink \
         videotestsrc num-buffers=2 ! video/x-raw,format=RGBA,width=64,height=64 ! ls.video_sink \
         audiotestsrc num-buffers=2 ! audio/x-raw,format=S16LE,rate=16000,channels=1 ! ls.audio_sink"
    ))
    .expect("pipeline");
    let result = pipeline.set_state(gst::State::Playing);
    let bus = pipeline.bus().expect("bus");
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(20), &[gst::MessageType::Error]).expect("error");
    pipeline.set_state(gst::State::Null).expect("null");
    assert!(result.is_err(), "start fails");
    let gst::MessageView::Error(err) = msg.view() else { unreachable!() };
    format!("{} {:?}", err.error(), err.debug())
}

#[test]
fn a_model_with_the_wrong_signature_is_a_start_error_naming_model_and_input() {
    let dir = tempfile::tempdir().expect("model dir");
    install_wrong_size(dir.path());
    let text = start_error(&format!("model=test_wrong_size model-dir={}", dir.path().display()));
    assert!(
        text.contains("test_wrong_size")
            && text.contains("`face`")
            && text.contains("[1, 6, 128, 128]")
            && text.contains("[1, 6, 96, 96]"),
        "{text}"
    );
    let text = start_error(&format!("model=no_such_model model-dir={}", dir.path().display()));
    assert!(text.contains("no_such_model"), "{text}");
}

#[test]
fn bad_character_files_are_start_errors_naming_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("missing.character.json");
    let text = start_error(&format!("mode=portrait character={}", missing.display()));
    assert!(text.contains("missing.character.json"), "{text}");

    let not_json = dir.path().join("notjson.character.json");
    std::fs::write(&not_json, "this is not json").expect("write");
    let text = start_error(&format!("character={}", not_json.display()));
    assert!(text.contains("notjson.character.json") && text.contains("field"), "{text}");

    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(astronaut()).expect("read")).expect("json");
    value["portrait"]["landmarks"] = serde_json::json!([[1.0, 2.0, 3.0]]);
    let wrong = dir.path().join("wrong.character.json");
    std::fs::write(&wrong, value.to_string()).expect("write");
    let text = start_error(&format!("mode=portrait character={}", wrong.display()));
    assert!(text.contains("wrong.character.json") && text.contains("portrait.landmarks"), "{text}");

    let text = start_error("mode=portrait");
    assert!(text.contains("character property"), "{text}");
}

#[test]
fn latency_is_reported_on_top_of_upstream_while_active() {
    init();
    let dir = tempfile::tempdir().expect("model dir");
    install_reference(dir.path());
    let model = format!("model=test_reference model-dir={}", dir.path().display());
    for (props, ours_ms) in [("", 50), (model.as_str(), 140)] {
        let pipeline = gst::parse::launch(&format!(
            "reenactlipsync name=ls mode=portrait character={} {props} ! fakesink sync=true \
             videotestsrc is-live=true ! video/x-raw,format=RGBA,width=160,height=120,framerate=25/1 ! ls.video_sink \
             audiotestsrc is-live=true samplesperbuffer=480 ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! ls.audio_sink",
            astronaut().display()
        ))
        .expect("pipeline");
        pipeline.set_state(gst::State::Playing).expect("playing");
        let bus = pipeline.bus().expect("bus");
        bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(10),
            &[gst::MessageType::AsyncDone, gst::MessageType::Error],
        )
        .expect("prerolled");
        let ls = pipeline.downcast_ref::<gst::Bin>().expect("bin").by_name("ls").expect("element");
        let mut q = gst::query::Latency::new();
        assert!(ls.static_pad("src").expect("src").query(&mut q), "latency answered");
        let (live, min, _max) = q.result();
        let mut upstream = gst::query::Latency::new();
        assert!(ls.static_pad("video_sink").expect("video pad").peer_query(&mut upstream));
        let mut audio_up = gst::query::Latency::new();
        assert!(ls.static_pad("audio_sink").expect("audio pad").peer_query(&mut audio_up));
        let upstream_min = upstream.result().1.max(audio_up.result().1);
        assert!(live, "live kept");
        assert_eq!(min, upstream_min + gst::ClockTime::from_mseconds(ours_ms), "`{props}`: upstream {upstream_min}");

        // Switched off while playing: no latency of its own, announced on the bus; and back.
        let reported = |active: bool| {
            while bus.pop_filtered(&[gst::MessageType::Latency]).is_some() {}
            ls.set_property("active", active);
            bus.timed_pop_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Latency])
                .expect("a LATENCY message on the switch");
            let mut q = gst::query::Latency::new();
            assert!(ls.static_pad("src").expect("src").query(&mut q));
            q.result().1
        };
        assert_eq!(reported(false), upstream_min, "`{props}` off");
        assert_eq!(reported(true), min, "`{props}` on again");
        pipeline.set_state(gst::State::Null).expect("null");
    }
}

/// In a live pipeline whose pictures come with a 2 s latency and whose sound stops after its
/// first 10 ms: off, every frame passes as it comes; on, a frame waits for its sound until its
/// deadline (its running time plus the latency). The pipeline runs on a test clock set 10 s in
/// and never moved, so a frame that waits for its deadline never comes.
#[test]
fn off_in_a_live_graph_frames_do_not_wait_for_the_sound() {
    init();
    let (video_caps, frames) = blank_frames(160, 120, 25, 4);
    let (audio_caps, sound) = audio_buffers(&[0.0; 480], 48_000, "S16LE", 1);
    for active in [false, true] {
        let description = format!(
            "reenactlipsync name=ls mode=portrait character={} active={active} ! appsink name=out sync=false async=false \
             appsrc name=v is-live=true format=time min-latency=2000000000 max-latency=4000000000 ! ls.video_sink \
             appsrc name=a is-live=true format=time min-latency=0 max-latency=4000000000 ! ls.audio_sink",
            astronaut().display()
        );
        let (pipeline, vsrc, asrc, sink) = with_appsrcs(&description, &video_caps, &audio_caps);
        let clock = gst_check::TestClock::new();
        pipeline.use_clock(Some(&clock));
        pipeline.set_state(gst::State::Playing).expect("playing");
        let (changed, ..) = pipeline.state(gst::ClockTime::from_seconds(5));
        changed.expect("playing");
        let now = gst::ClockTime::from_seconds(10);
        clock.set_time(now + pipeline.base_time().expect("base time"));
        let at_now = |buffer: &gst::Buffer| {
            let mut buffer = buffer.copy();
            let b = buffer.get_mut().expect("writable");
            b.set_pts(b.pts().expect("pts") + now);
            buffer
        };
        asrc.push_buffer(at_now(&sound[0])).expect("push audio");
        for f in &frames {
            vsrc.push_buffer(at_now(f)).expect("push video");
        }
        // The next frame, releasing the element's waits on the clock that are due by now, as a
        // running clock would; none if it waits for a later time.
        let next_frame = || {
            (0..100).find_map(|_| {
                clock.process_next_clock_id();
                sink.try_pull_sample(gst::ClockTime::from_mseconds(20))
            })
        };
        if active {
            assert!(next_frame().is_none(), "on: a frame came before its deadline without its sound");
        } else {
            for i in 0..frames.len() {
                assert!(next_frame().is_some(), "off: frame {i} held back (the sound stopped)");
            }
        }
        pipeline.set_state(gst::State::Null).expect("null");
    }
}

#[test]
fn audio_caps_of_any_rate_are_accepted() {
    init();
    let element = gst::ElementFactory::make("reenactlipsync").build().expect("element");
    let audio = element.static_pad("audio_sink").expect("audio pad");
    let accepts = |s: &str| audio.query_accept_caps(&s.parse::<gst::Caps>().expect("caps"));
    for format in ["S16LE", "F32LE"] {
        for rate in [8000, 16000, 22050, 44100, 48000, 96000] {
            for channels in [1, 2] {
                assert!(accepts(&format!(
                    "audio/x-raw,format={format},layout=interleaved,rate={rate},channels={channels}"
                )));
            }
        }
    }
    assert!(!accepts("audio/x-raw,format=S32LE,layout=interleaved,rate=48000,channels=1"));
    assert!(!accepts("audio/x-raw,format=F32LE,layout=interleaved,rate=48000,channels=6"));
    let templates: Vec<String> = element.pad_template_list().iter().map(|t| t.name_template().to_string()).collect();
    assert_eq!(templates.len(), 3, "{templates:?}");
    assert!(element.static_pad("video_sink").is_some() && element.static_pad("src").is_some());
}

#[test]
fn audio_longer_than_the_video_is_drained_through_a_tee() {
    init();
    let pipeline = gst::parse::launch(&format!(
        "reenactlipsync name=ls mode=portrait character={} ! fakesink \
         videotestsrc num-buffers=10 ! video/x-raw,format=RGBA,width=160,height=120,framerate=25/1 ! queue ! ls.video_sink \
         audiotestsrc num-buffers=100 samplesperbuffer=480 ! audio/x-raw,format=S16LE,rate=48000,channels=1 ! tee name=t \
         t. ! queue ! ls.audio_sink t. ! queue ! fakesink name=audio_out signal-handoffs=true",
        astronaut().display()
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let counted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = counted.clone();
    pipeline.by_name("audio_out").expect("sink").connect("handoff", false, move |_| {
        c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        None
    });
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().expect("bus");
    let msg = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(20), &[gst::MessageType::Eos, gst::MessageType::Error])
        .expect("EOS");
    pipeline.set_state(gst::State::Null).expect("null");
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    assert_eq!(counted.load(std::sync::atomic::Ordering::SeqCst), 100, "all the audio reached its own sink");
}

#[test]
fn every_property_default_is_inside_its_range() {
    init();
    let element = gst::ElementFactory::make("reenactlipsync").build().expect("element");
    let mut checked = 0;
    for pspec in element.list_properties() {
        if pspec.owner_type() != element.type_() {
            continue;
        }
        let name = pspec.name();
        if let Some(p) = pspec.downcast_ref::<glib::ParamSpecInt>() {
            assert!((p.minimum()..=p.maximum()).contains(&p.default_value()), "{name}");
        } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecUInt>() {
            assert!((p.minimum()..=p.maximum()).contains(&p.default_value()), "{name}");
        } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecDouble>() {
            assert!((p.minimum()..=p.maximum()).contains(&p.default_value()), "{name}");
        } else {
            assert!(
                pspec.downcast_ref::<glib::ParamSpecEnum>().is_some()
                    || pspec.downcast_ref::<glib::ParamSpecString>().is_some()
                    || pspec.downcast_ref::<glib::ParamSpecBoolean>().is_some(),
                "{name}: unexpected type"
            );
        }
        assert_eq!(
            element.property_value(name).serialize().ok(),
            pspec.default_value().serialize().ok(),
            "{name} starts at its default"
        );
        checked += 1;
    }
    assert_eq!(checked, 9);
    assert_eq!(element.property::<String>("algorithm"), "classical:mouth-warp/1");
    assert!(!element.find_property("algorithm").expect("algorithm").flags().contains(glib::ParamFlags::WRITABLE));
    element.set_property("model", "some_lipsync");
    assert_eq!(element.property::<String>("algorithm"), "onnx:some_lipsync");
    element.set_property_from_str("mode", "portrait");
    assert_eq!(element.property_value("mode").serialize().ok().as_deref(), Some("portrait"));
}
