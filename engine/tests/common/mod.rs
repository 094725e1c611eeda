// SPDX-License-Identifier: MPL-2.0
//! Helpers shared by the engine's integration tests: shared media paths,
//! rendering with defaults, and decoding outputs back for measurement.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use gst::prelude::*;
use reenact_engine::{CancelToken, PresetLibrary, Project, RenderReport, RenderRequest};

/// A file under `../shared/media`.
pub fn media(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/media").join(rel);
    assert!(path.exists(), "shared test media missing: {}", path.display());
    path
}

pub fn presets(names: &[&str]) -> Vec<reenact_engine::Preset> {
    let lib = PresetLibrary::builtin().expect("built-in presets");
    names.iter().map(|n| lib.get(n).expect("known preset").clone()).collect()
}

/// Renders a whole media file to `names` in `out`.
pub fn render_file(file: &Path, names: &[&str], out: &Path) -> RenderReport {
    render_project(Project::from_media(file), file, names, out)
}

/// Renders `project` (read from `file`) to the presets `names` in `out`.
pub fn render_project(project: Project, file: &Path, names: &[&str], out: &Path) -> RenderReport {
    let request = RenderRequest::new(project, file.to_path_buf(), presets(names), out.to_path_buf());
    reenact_engine::render(&request, &CancelToken::new(), &mut |_| {}).expect("render succeeds")
}

/// The first `seconds` of `file` as a one-clip project.
pub fn opening(file: &Path, seconds: f64) -> Project {
    let mut project = Project::from_media(file);
    project.tracks[0].clips[0].out_s = Some(seconds);
    project
}

/// Mean luma of each decoded frame, with its timestamp in seconds.
pub fn frame_lumas(path: &Path) -> Vec<(f64, f64)> {
    frames(path, 32, 32)
        .into_iter()
        .map(|(t, px)| (t, px.iter().map(|&p| p as f64).sum::<f64>() / px.len() as f64))
        .collect()
}

/// Every frame as a `w` x `h` grey picture, with its timestamp in seconds.
pub fn frames(path: &Path, w: i32, h: i32) -> Vec<(f64, Vec<u8>)> {
    let caps = format!("video/x-raw,format=GRAY8,width={w},height={h},pixel-aspect-ratio=1/1");
    let desc = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvertscale add-borders=false ! {caps} ! appsink name=sink sync=false",
        path.display()
    );
    pull_all(&desc, |sample| {
        let buffer = sample.buffer()?;
        let t = running_time(sample, buffer)?;
        let map = buffer.map_readable().ok()?;
        // GRAY8 rows are padded to 4 bytes.
        let stride = ((w + 3) / 4 * 4) as usize;
        let mut px = Vec::with_capacity((w * h) as usize);
        for row in 0..h as usize {
            px.extend_from_slice(&map[row * stride..row * stride + w as usize]);
        }
        Some((t, px))
    })
}

/// The first audio stream decoded to mono f32, and its sample rate. Sample
/// `i` plays at `i / rate` seconds: the samples are placed at their running
/// time (after the container's edit list), silence filling what starts late.
pub fn audio_mono(path: &Path) -> (u32, Vec<f32>) {
    const RATE: u32 = 48_000;
    let desc = format!(
        "filesrc location=\"{}\" ! decodebin ! audioconvert ! audioresample ! audio/x-raw,format=F32LE,channels=1,rate={RATE} ! appsink name=sink sync=false",
        path.display()
    );
    let chunks = pull_all(&desc, |sample| {
        let buffer = sample.buffer()?;
        let t = running_time(sample, buffer)?;
        let map = buffer.map_readable().ok()?;
        Some((t, map.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect::<Vec<f32>>()))
    });
    let mut out: Vec<f32> = Vec::new();
    for (t, chunk) in chunks {
        // Decoders are continuous after their first buffer; only a late start leaves a gap.
        let at = (t * f64::from(RATE)).round() as usize;
        if out.is_empty() && at > 0 {
            out.resize(at, 0.0);
        }
        out.extend(chunk);
    }
    (RATE, out)
}

/// Beep minus flash (s) for each flash of the shared A/V-sync clip in the
/// output `path`: a flash is a frame of mean luma above 200, a beep the start
/// of a burst above 0.3. Panics unless there are `events` of each.
pub fn av_offsets(path: &Path, events: usize) -> Vec<f64> {
    let flashes: Vec<f64> = frame_lumas(path).into_iter().filter(|(_, l)| *l > 200.0).map(|(t, _)| t).collect();
    let (rate, samples) = audio_mono(path);
    let beeps = onsets(rate, &samples, 0.3, 0.5);
    assert_eq!(flashes.len(), events, "{}: flashes at {flashes:?}", path.display());
    assert_eq!(beeps.len(), events, "{}: beeps at {beeps:?}", path.display());
    flashes.iter().zip(&beeps).map(|(f, b)| b - f).collect()
}

/// Beep minus flash (s) for each flash as ffmpeg plays `path`, edit lists
/// honoured: the figure a player gives, from a decoder that is not ours.
/// `None` when ffmpeg is not installed.
pub fn ffmpeg_av_offsets(path: &Path, events: usize) -> Option<Vec<f64>> {
    use std::process::Command;
    let ffmpeg = |args: &[&str]| {
        let out = Command::new("ffmpeg").args(["-nostdin", "-hide_banner", "-i"]).arg(path).args(args).output().ok()?;
        assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        Some(out)
    };
    // showinfo logs each decoded frame's time and mean level.
    let video = ffmpeg(&["-map", "0:v:0", "-vf", "scale=32:32,format=gray,showinfo", "-f", "null", "-"])?;
    let log = String::from_utf8_lossy(&video.stderr);
    let field = |line: &str, key: &str| -> Option<f64> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.trim_start_matches('[').split([' ', ']']).next()?.parse().ok()
    };
    let flashes: Vec<f64> = log
        .lines()
        .filter_map(|l| Some((field(l, "pts_time:")?, field(l, "mean:")?)))
        .filter(|(_, mean)| *mean > 200.0)
        .map(|(t, _)| t)
        .collect();
    // Raw samples carry no time: `first_pts=0` pads the sound with silence from the time the
    // video's frame times count from, so sample n plays at n / 48000 as a player plays it,
    // whatever the decoder dropped first (AAC priming by the edit list, Opus pre-skip).
    let resample = "aresample=48000:async=1:first_pts=0";
    let audio = ffmpeg(&["-v", "error", "-map", "0:a:0", "-ac", "1", "-af", resample, "-f", "f32le", "-"])?;
    let samples: Vec<f32> =
        audio.stdout.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let beeps: Vec<f64> = onsets(48_000, &samples, 0.3, 0.5);
    assert_eq!(flashes.len(), events, "ffmpeg, {}: flashes at {flashes:?}", path.display());
    assert_eq!(beeps.len(), events, "ffmpeg, {}: beeps at {beeps:?}", path.display());
    Some(flashes.iter().zip(&beeps).map(|(f, b)| b - f).collect())
}

/// The median of `values` (which must not be empty).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Running time of `buffer` in seconds: the timestamp after the container's
/// edit list (segment) is applied, i.e. what a player shows.
fn running_time(sample: &gst::Sample, buffer: &gst::BufferRef) -> Option<f64> {
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?.clone();
    Some(segment.to_running_time(buffer.pts()?)?.nseconds() as f64 / 1e9)
}

/// Runs a `gst-launch`-style description to EOS, mapping every appsink sample.
fn pull_all<T>(desc: &str, mut map: impl FnMut(&gst::Sample) -> Option<T>) -> Vec<T> {
    // The engine's set-up, not GStreamer's alone: its first run must not overlap a plugin load.
    reenact_engine::media::init().unwrap();
    let pipeline = gst::parse::launch(desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        if let Some(v) = map(&sample) {
            out.push(v);
        }
    }
    let bus = pipeline.bus().unwrap();
    let error = bus.pop_filtered(&[gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null).unwrap();
    if let Some(msg) = error {
        panic!("decoding {desc} failed: {msg:?}");
    }
    out
}

/// Start times (s) of loud bursts: the first sample above `threshold` after
/// at least `gap_s` without one.
pub fn onsets(rate: u32, samples: &[f32], threshold: f32, gap_s: f64) -> Vec<f64> {
    let gap = (gap_s * rate as f64) as usize;
    let mut last: Option<usize> = None;
    let mut out = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        if s.abs() > threshold {
            if last.is_none_or(|l| i - l > gap) {
                out.push(i as f64 / rate as f64);
            }
            last = Some(i);
        }
    }
    out
}

/// Root-mean-square level of `samples[from..to]` seconds.
pub fn rms(rate: u32, samples: &[f32], from_s: f64, to_s: f64) -> f64 {
    let a = ((from_s * rate as f64) as usize).min(samples.len());
    let b = ((to_s * rate as f64) as usize).min(samples.len());
    let slice = &samples[a..b];
    (slice.iter().map(|s| (*s as f64).powi(2)).sum::<f64>() / slice.len().max(1) as f64).sqrt()
}

/// Width and height of a JPEG after decoding it.
pub fn jpeg_size(path: &Path) -> (i32, i32) {
    let desc = format!("filesrc location=\"{}\" ! jpegdec ! appsink name=sink sync=false", path.display());
    let sizes = pull_all(&desc, |sample| {
        let s = sample.caps()?.structure(0)?.to_owned();
        Some((s.get::<i32>("width").ok()?, s.get::<i32>("height").ok()?))
    });
    *sizes.first().expect("JPEG decodes to a frame")
}

/// Files left in `dir` (names), sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Every frame of an H.264 byte stream (Annex B access units, as the preview's
/// WebRTC viewers get them) as a `w` x `h` grey picture, in order.
pub fn h264_frames(path: &Path, w: i32, h: i32) -> Vec<Vec<u8>> {
    let caps = format!("video/x-raw,format=GRAY8,width={w},height={h},pixel-aspect-ratio=1/1");
    let desc = format!(
        "filesrc location=\"{}\" ! h264parse ! avdec_h264 ! videoconvertscale add-borders=false ! {caps} ! appsink name=sink sync=false",
        path.display()
    );
    pull_all(&desc, |sample| {
        let map = sample.buffer()?.map_readable().ok()?;
        let stride = ((w + 3) / 4 * 4) as usize;
        Some((0..h as usize).flat_map(|row| map[row * stride..row * stride + w as usize].to_vec()).collect())
    })
}

/// Structural similarity of two `w`-wide grey pictures: the mean SSIM of 8x8
/// windows every 4 pixels (the usual constants for 8-bit pictures).
pub fn ssim(a: &[u8], b: &[u8], w: usize) -> f64 {
    let h = a.len() / w;
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let (mut sum, mut windows) = (0.0, 0usize);
    for y in (0..h.saturating_sub(7)).step_by(4) {
        for x in (0..w.saturating_sub(7)).step_by(4) {
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for j in y..y + 8 {
                for i in x..x + 8 {
                    let (p, q) = (f64::from(a[j * w + i]), f64::from(b[j * w + i]));
                    sa += p;
                    sb += q;
                    saa += p * p;
                    sbb += q * q;
                    sab += p * q;
                }
            }
            let n = 64.0;
            let (ma, mb) = (sa / n, sb / n);
            let (va, vb, cov) = (saa / n - ma * ma, sbb / n - mb * mb, sab / n - ma * mb);
            sum += ((2.0 * ma * mb + c1) * (2.0 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            windows += 1;
        }
    }
    sum / windows.max(1) as f64
}
