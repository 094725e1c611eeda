// SPDX-License-Identifier: MPL-2.0
//! ms per 720p frame for `reenactfacetrack` on one CPU thread (`threads=1`), on the synthetic
//! presenter clip: frames are decoded first, then only the element is timed.
//!
//! `cargo run -p gst-plugin-reenact --example facetrack_bench -- [FRAMES]` (bench/facetrack.sh).

use std::path::{Path, PathBuf};
use std::time::Instant;

use gst::prelude::*;
use gst_check::Harness;
use gstreenact::facemeta::FaceMeta;

fn main() {
    let frames: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200);
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if std::env::var_os("REENACT_MODELS").is_none() {
        std::env::set_var("REENACT_MODELS", shared.join("models"));
    }
    gst::init().expect("gst init");
    gstreenact::plugin_register_static().expect("register plugin");
    let clip: PathBuf = shared.join("media/synthetic/presenter_astronaut_1280x720_25fps.mp4");

    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! video/x-raw,format=RGBx ! appsink name=sink sync=false",
        clip.display()
    ))
    .expect("decode pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline.by_name("sink").expect("sink").downcast::<gst_app::AppSink>().expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let mut caps = None;
    let mut buffers = Vec::new();
    while buffers.len() < frames {
        let Ok(sample) = sink.pull_sample() else { break };
        caps.get_or_insert_with(|| sample.caps().expect("caps").to_owned());
        buffers.push(sample.buffer_owned().expect("buffer"));
    }
    pipeline.set_state(gst::State::Null).expect("null");
    let caps = caps.expect("decoded frames");

    let mut h = Harness::new_parse("reenactfacetrack threads=1");
    h.set_caps(caps.clone(), caps);
    // Warm-up: session start and first allocations are not part of the per-frame cost.
    h.push_and_pull(buffers[0].copy()).expect("warm-up");
    let mut times = Vec::with_capacity(buffers.len());
    let mut with_face = 0;
    for buffer in &buffers {
        let input = buffer.copy();
        let start = Instant::now();
        let out = h.push_and_pull(input).expect("frame");
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        with_face += usize::from(out.meta::<FaceMeta>().is_some_and(|m| !m.faces().is_empty()));
    }
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let p95 = times[times.len() * 95 / 100];
    println!(
        "facetrack 1280x720 RGBx, {} frames, {with_face} with a face: mean {mean:.2} ms, median {median:.2} ms, p95 {p95:.2} ms per frame (1 thread)",
        times.len()
    );
}
