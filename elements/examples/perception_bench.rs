// SPDX-License-Identifier: MPL-2.0
//! ms per 720p frame for `reenactmatte` (default blur mode, `threads=1`) and `reenactreframe`
//! (9:16 around the face meta of `reenactfacetrack`, which runs outside the timed loop) on the
//! synthetic presenter clip: frames are decoded first, then only the element is timed.
//!
//! `cargo run -p gst-plugin-reenact --example perception_bench -- [matte|reframe] [FRAMES] [PROPERTIES]`
//! (bench/perception.sh).

use std::path::{Path, PathBuf};
use std::time::Instant;

use gst::prelude::*;
use gst_check::Harness;

fn main() {
    let element = std::env::args().nth(1).unwrap_or_else(|| "matte".into());
    let frames: usize = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(200);
    let extra = std::env::args().nth(3).unwrap_or_default();
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

    let (launch, setting) = match element.as_str() {
        "matte" => {
            ("reenactmatte threads=1", "defaults (mode=blur blur-strength=24, landscape model, mask every frame)")
        }
        "reframe" => {
            // The face meta comes from facetrack, run here once, outside the timed loop.
            let mut track = Harness::new_parse("reenactfacetrack threads=1");
            track.set_caps(caps.clone(), caps.clone());
            buffers = buffers.iter().map(|b| track.push_and_pull(b.copy()).expect("tracked")).collect();
            ("reenactreframe aspect=9:16", "aspect=9:16 from face metas")
        }
        other => panic!("unknown element {other}: use matte or reframe"),
    };
    let mut h = Harness::new_parse(&format!("{launch} {extra}"));
    h.set_src_caps(caps);
    // Warm-up: session start and first allocations are not part of the per-frame cost.
    h.push_and_pull(buffers[0].copy()).expect("warm-up");
    let mut times = Vec::with_capacity(buffers.len());
    for buffer in &buffers {
        let input = buffer.copy();
        let start = Instant::now();
        h.push_and_pull(input).expect("frame");
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let p95 = times[times.len() * 95 / 100];
    println!(
        "{element} 1280x720 RGBx, {} frames, {setting} {extra}: mean {mean:.2} ms, median {median:.2} ms, p95 {p95:.2} ms per frame (1 thread)",
        times.len()
    );
}
