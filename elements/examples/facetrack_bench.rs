// SPDX-License-Identifier: MPL-2.0
//! ms per 720p frame for `reenactfacetrack` on one CPU thread (`threads=1`), on the synthetic
//! presenter clip: frames are decoded first, then only the element is timed.
//!
//! `cargo run -p gst-plugin-reenact --example facetrack_bench -- [FRAMES]` (bench/facetrack.sh).

// The same set-up as the element tests: plugin, shared models, decoded frames.
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use gst_check::Harness;
use gstreenact::facemeta::FaceMeta;

fn main() {
    let frames: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200);
    common::init();
    let (caps, buffers) = common::decode(&common::presenter_file(), "RGBx", frames);

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
