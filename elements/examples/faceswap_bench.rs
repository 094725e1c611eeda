// SPDX-License-Identifier: MPL-2.0
//! ms per 720p frame for `reenactfaceswap` (classical path) on one CPU thread. The face meta is
//! computed first by `reenactfacetrack`; then only the swap element is timed, on two clips:
//! the synthetic presenter (a face about 130 px wide) and a GRID close-up scaled into a 720p
//! frame (a face about 250 px wide). The astronaut character is made once from the shared photo.
//!
//! `cargo run --release -p gst-plugin-reenact --example faceswap_bench -- [FRAMES]`

// The same set-up as the element tests: plugin, shared models, decoded frames.
#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use gst_check::Harness;
use gstreenact::character::{create, CreateOptions};
use gstreenact::facemeta::FaceMeta;

/// `frames` with `reenactfacetrack`'s face meta attached.
fn tracked(caps: &gst::Caps, frames: Vec<gst::Buffer>) -> Vec<gst::Buffer> {
    let mut h = Harness::new_parse("reenactfacetrack threads=1");
    h.set_caps(caps.clone(), caps.clone());
    frames.into_iter().map(|f| h.push_and_pull(f).expect("tracked frame")).collect()
}

/// Per-frame times in ms of `frames` through the element(s) `desc` (only push and pull timed).
fn time_frames(desc: &str, caps: &gst::Caps, frames: &[gst::Buffer]) -> Vec<f64> {
    let mut h = Harness::new_parse(desc);
    h.set_src_caps(caps.clone());
    // Warm-up: start-up and first allocations are not part of the per-frame cost.
    h.push_and_pull(frames[0].copy()).expect("warm-up");
    let mut times = Vec::with_capacity(frames.len());
    for frame in frames {
        // A private copy, so an in-place element does not copy the frame inside the timing.
        let input = frame.copy();
        let start = Instant::now();
        h.push_and_pull(input).expect("frame");
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times
}

/// The swap against its peer, one 720p RGBx -> I420 conversion on one thread (what any
/// pipeline spends per frame just to reach an encoder), on the same frames in the same run.
fn bench(label: &str, caps: &gst::Caps, frames: &[gst::Buffer], character: &Path, props: &str) {
    let faces: Vec<f64> = frames
        .iter()
        .filter_map(|f| f.meta::<FaceMeta>().and_then(|m| m.faces().first().map(|face| f64::from(face.bbox.w))))
        .collect();
    let peer = time_frames("videoconvert n-threads=1 ! capsfilter caps=video/x-raw,format=I420", caps, frames);
    let mut times = time_frames(&format!("reenactfaceswap character={} {props}", character.display()), caps, frames);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let peer_mean = peer.iter().sum::<f64>() / peer.len() as f64;
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let p95 = times[times.len() * 95 / 100];
    println!(
        "faceswap {label} 1280x720 RGBx {props:?}: {} frames, {} with a face ({:.0} px wide): mean {mean:.2} ms, median {median:.2} ms, p95 {p95:.2} ms per frame (1 thread); peer videoconvert to I420 {peer_mean:.2} ms, ratio {:.2}",
        times.len(),
        faces.len(),
        faces.iter().sum::<f64>() / faces.len().max(1) as f64,
        mean / peer_mean
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
    let path: PathBuf = std::env::temp_dir().join(format!("faceswap-bench-{}.character.json", std::process::id()));
    character.save(&path).expect("save character");

    let (caps, frames) = common::decode(&common::presenter_file(), "RGBx", count);
    let frames = tracked(&caps, frames);
    bench("presenter", &caps, &frames, &path, "");

    let (caps, frames) = common::decode_720p(&common::shared().join("media/grid/grid_bbaf2n.mp4"), count);
    let frames = tracked(&caps, frames);
    bench("grid close-up", &caps, &frames, &path, "");
    bench("grid close-up", &caps, &frames, &path, "keep-eyes=true colour-transfer=1");
    let _ = std::fs::remove_file(path);
}
