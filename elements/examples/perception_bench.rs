// SPDX-License-Identifier: MPL-2.0
//! ms per 720p frame for `reenactmatte` (default blur mode, `threads=1`) and `reenactreframe`
//! (9:16 around the face meta of `reenactfacetrack`, which runs outside the timed loop) on the
//! synthetic presenter clip: frames are decoded first, then only the element is timed.
//!
//! `cargo run -p gst-plugin-reenact --example perception_bench -- [matte|reframe] [FRAMES] [PROPERTIES]`
//! (bench/perception.sh).

// The same set-up as the element tests: plugin, shared models, decoded frames.
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use gst_check::Harness;

fn main() {
    let element = std::env::args().nth(1).unwrap_or_else(|| "matte".into());
    let frames: usize = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(200);
    let extra = std::env::args().nth(3).unwrap_or_default();
    common::init();
    let (caps, mut buffers) = common::decode(&common::presenter_file(), "RGBx", frames);

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
        // A frame of its own, as an element gets it in a pipeline: a shared one would be copied
        // inside the timed push (copy-on-write), which is the harness's cost, not the element's.
        let input = buffer.copy_deep().expect("frame copy");
        let start = Instant::now();
        let output = h.push_and_pull(input).expect("frame");
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        // Freed after the clock: releasing the frame is the pipeline's cost, not the element's.
        drop(output);
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
