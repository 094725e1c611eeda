// SPDX-License-Identifier: MPL-2.0
//! ms per 720p frame for `reenactlipsync` (classical path) on one CPU thread, against a peer run
//! in the same command: the same frames through `videoconvert n-threads=1` (RGBx -> BGRx), in
//! the same `appsrc ! element ! fakesink` set-up. Three cases: the synthetic presenter (a face
//! about 130 px wide, face meta from `reenactfacetrack`), a GRID close-up scaled into a 720p
//! frame (a face about 250 px wide), and mode portrait (the astronaut portrait scaled to 720
//! px high, mouth about 110 px wide). The audio is a voice-like harmonic tone whose level
//! swings at 4 Hz, so the mouth is open, by varying amounts, in every frame: the worst case,
//! since a closed mouth costs nothing. Frames are queued before the clock starts, each a
//! private copy so the element writes in place. The cost of a frame is the CPU time the
//! streaming thread spent from one output buffer to the next at the element's src pad, read
//! from `/proc/thread-self/schedstat` in a pad probe (so other load on the machine does not
//! count) and averaged over the run after the first frames; the median wall-clock interval
//! between output buffers is printed beside it.
//!
//! `cargo run --release -p gst-plugin-reenact --example lipsync_bench -- [FRAMES]`

// The same set-up as the element tests: plugin, shared models, decoded frames.
#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gst::prelude::*;
use gst_check::Harness;
use gstreenact::character::{create, CreateOptions};
use gstreenact::facemeta::FaceMeta;

/// `frames` with `reenactfacetrack`'s face meta attached.
fn tracked(caps: &gst::Caps, frames: Vec<gst::Buffer>) -> Vec<gst::Buffer> {
    let mut h = Harness::new_parse("reenactfacetrack threads=1");
    h.set_caps(caps.clone(), caps.clone());
    frames.into_iter().map(|f| h.push_and_pull(f).expect("tracked frame")).collect()
}

/// `seconds` of a 180 Hz harmonic tone swinging 14 dB at 4 Hz, F32LE mono 48 kHz in 10 ms
/// buffers, and its caps.
fn speech_like(seconds: f64) -> (gst::Caps, Vec<gst::Buffer>) {
    let rate = 48_000usize;
    let samples: Vec<f32> = (0..(seconds * rate as f64) as usize)
        .map(|n| {
            let t = n as f64 / rate as f64;
            let level = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 4.0 * t).sin();
            let tone: f64 =
                (1..=12).map(|h| (2.0 * std::f64::consts::PI * 180.0 * h as f64 * t).sin() / h as f64).sum();
            (0.2 * level * tone) as f32
        })
        .collect();
    let buffers = samples
        .chunks(rate / 100)
        .enumerate()
        .map(|(i, part)| {
            let mut buffer =
                gst::Buffer::from_mut_slice(part.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
            let b = buffer.get_mut().expect("writable");
            b.set_pts(gst::ClockTime::from_mseconds(10 * i as u64));
            b.set_duration(gst::ClockTime::from_mseconds(10));
            buffer
        })
        .collect();
    let caps = "audio/x-raw,format=F32LE,layout=interleaved,rate=48000,channels=1".parse().expect("caps");
    (caps, buffers)
}

/// CPU time (ms) this thread has used.
fn thread_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|ns| ns.parse::<f64>().ok()))
        .map_or(f64::NAN, |ns| ns / 1e6)
}

/// Mean CPU time and median wall-clock interval (ms) per buffer leaving element `el` of
/// `description` (appsrc `v` with `frames`, appsrc `a` with `audio` when present), all queued
/// first.
fn time_run(
    description: &str,
    video: (&gst::Caps, &[gst::Buffer]),
    audio: Option<(&gst::Caps, &[gst::Buffer])>,
) -> (f64, f64) {
    let pipeline = gst::parse::launch(description).expect("pipeline").downcast::<gst::Pipeline>().expect("pipeline");
    let appsrc = |name: &str, caps: &gst::Caps, buffers: &[gst::Buffer], deep: bool| {
        let src = pipeline.by_name(name).expect("appsrc").downcast::<gst_app::AppSrc>().expect("appsrc");
        src.set_caps(Some(caps));
        src.set_format(gst::Format::Time);
        src.set_max_bytes(0);
        for b in buffers {
            // A private copy per frame, so writing in place copies nothing.
            src.push_buffer(if deep { b.copy_deep().expect("copy") } else { b.clone() }).expect("push");
        }
        src.end_of_stream().expect("eos");
    };
    let times = Arc::new(Mutex::new(Vec::with_capacity(video.1.len())));
    let t = times.clone();
    let el = pipeline.by_name("el").expect("timed element");
    el.static_pad("src").expect("src").add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        t.lock().expect("times").push((thread_cpu_ms(), Instant::now()));
        gst::PadProbeReturn::Ok
    });
    appsrc("v", video.0, video.1, true);
    if let Some((caps, buffers)) = audio {
        appsrc("a", caps, buffers, false);
    }
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().expect("bus");
    let msg = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(600), &[gst::MessageType::Eos, gst::MessageType::Error])
        .expect("end");
    pipeline.set_state(gst::State::Null).expect("null");
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    let times = times.lock().expect("times");
    assert_eq!(times.len(), video.1.len(), "every frame out");
    // The first frames include start-up; keep the steady state.
    let steady = &times[3.min(times.len() - 1)..];
    // schedstat advances at scheduler ticks: only a long span gives a precise figure.
    let cpu = (steady[steady.len() - 1].0 - steady[0].0) / (steady.len() - 1).max(1) as f64;
    let mut intervals: Vec<f64> =
        steady.windows(2).map(|w| w[1].1.duration_since(w[0].1).as_secs_f64() * 1000.0).collect();
    intervals.sort_by(f64::total_cmp);
    (cpu, intervals.get(intervals.len() / 2).copied().unwrap_or(0.0))
}

fn bench(label: &str, caps: &gst::Caps, frames: &[gst::Buffer], props: &str) {
    let seconds = frames.len() as f64 / 25.0 + 1.0;
    let (acaps, audio) = speech_like(seconds);
    let face = frames
        .iter()
        .filter_map(|f| f.meta::<FaceMeta>().and_then(|m| m.faces().first().map(|f| f64::from(f.bbox.w))))
        .collect::<Vec<_>>();
    let face = if face.is_empty() {
        String::new()
    } else {
        format!(", face {:.0} px wide", face.iter().sum::<f64>() / face.len() as f64)
    };
    let (ours, ours_wall) = time_run(
        &format!(
            "reenactlipsync name=el {props} ! fakesink sync=false \
             appsrc name=v ! el.video_sink appsrc name=a ! el.audio_sink"
        ),
        (caps, frames),
        Some((&acaps, &audio)),
    );
    let (peer, peer_wall) = time_run(
        "appsrc name=v ! videoconvert name=el n-threads=1 ! video/x-raw,format=BGRx ! fakesink sync=false",
        (caps, frames),
        None,
    );
    println!(
        "lipsync {label} 1280x720 RGBx {props:?}{face}: {} frames, {ours:.2} ms CPU per frame on 1 thread \
         (wall median {ours_wall:.2} ms); peer videoconvert RGBx->BGRx n-threads=1: {peer:.2} ms CPU \
         (wall median {peer_wall:.2} ms); ratio {:.2}",
        frames.len(),
        ours / peer.max(1e-9)
    );
}

fn main() {
    let count: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(100);
    common::init();
    let catalog = reenact_models::Catalog::from_dirs([common::shared().join("models")]).expect("shared manifests");
    let options = CreateOptions {
        name: "Astronaut".into(),
        portrait: common::shared().join("media/astronaut.png"),
        voice_sample: None,
    };
    let character = create(&options, &catalog).expect("character");
    let path: PathBuf = std::env::temp_dir().join(format!("lipsync-bench-{}.character.json", std::process::id()));
    character.save(&path).expect("save character");

    let (caps, frames) = common::decode(&common::presenter_file(), "RGBx", count);
    let frames = tracked(&caps, frames);
    bench("presenter (face mode)", &caps, &frames, "");

    let (caps, frames) = common::decode_720p(&common::shared().join("media/grid/grid_bbaf2n.mp4"), count.min(75));
    let frames = tracked(&caps, frames);
    bench("grid close-up (face mode)", &caps, &frames, "");

    let blank: Vec<gst::Buffer> = frames
        .iter()
        .map(|f| {
            let mut b = gst::Buffer::with_size(f.size()).expect("buffer");
            let m = b.get_mut().expect("writable");
            m.set_pts(f.pts());
            m.set_duration(f.duration());
            b
        })
        .collect();
    bench("astronaut portrait", &caps, &blank, &format!("mode=portrait character={}", path.display()));
    let _ = std::fs::remove_file(path);
}
