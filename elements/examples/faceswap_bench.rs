// SPDX-License-Identifier: MPL-2.0
//! ms per 720p frame for `reenactfaceswap` (classical path) on one CPU thread. The face meta is
//! computed first by `reenactfacetrack`; then only the swap element is timed, on two clips:
//! the synthetic presenter (a face about 130 px wide) and a GRID close-up scaled into a 720p
//! frame (a face about 250 px wide). The astronaut character is made once from the shared photo.
//!
//! Each clip runs "before" (`blend=feather skin-mask=false`, the 0.1.0 swap) and "after" (the
//! defaults: skin mask, multi-band blend) on the same frames, and prints for each, beside the
//! source: seam energy (mean squared gradient of output - source within 6 px of the hull
//! edge), flicker (mean abs frame-to-frame change inside the face, and its ratio to the
//! source's), and ΔE (CIE76, Lab mean of the output against the source's in the skin band
//! 2-12 px inside the hull below the eyes). A strip source | before | after of the middle
//! frame's face is saved as `target/bench/faceswap_<clip>.png`.
//!
//! `cargo run --release -p gst-plugin-reenact --example faceswap_bench -- [FRAMES]`
//!
//! With properties after the frame count (`-- 11 occlusion-mask=true`, or `-- 11 ""` for the
//! defaults), only the GRID close-up runs, once with those: one case for a profiler such as
//! `valgrind --tool=callgrind`, followed by a digest of the output frames (equal digests: equal
//! pixels).

// The same set-up as the element tests: plugin, shared models, decoded frames.
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/swap_metrics.rs"]
mod swap_metrics;

use std::path::{Path, PathBuf};
use std::time::Instant;

use gst_check::Harness;
use gstreenact::character::{create, encode_png, CreateOptions, RgbaImage};
use gstreenact::facemeta::FaceMeta;

/// `frames` with `reenactfacetrack`'s face meta attached.
fn tracked(caps: &gst::Caps, frames: Vec<gst::Buffer>) -> Vec<gst::Buffer> {
    let mut h = Harness::new_parse("reenactfacetrack threads=1");
    h.set_caps(caps.clone(), caps.clone());
    frames.into_iter().map(|f| h.push_and_pull(f).expect("tracked frame")).collect()
}

/// Per-frame times in ms of `frames` through the element(s) `desc` (only push and pull timed),
/// and the output frames.
fn time_frames(desc: &str, caps: &gst::Caps, frames: &[gst::Buffer]) -> (Vec<f64>, Vec<gst::Buffer>) {
    let mut h = Harness::new_parse(desc);
    h.set_src_caps(caps.clone());
    // Warm-up: start-up and first allocations are not part of the per-frame cost.
    h.push_and_pull(frames[0].copy_deep().expect("frame copy")).expect("warm-up");
    let mut times = Vec::with_capacity(frames.len());
    let mut out = Vec::with_capacity(frames.len());
    for frame in frames {
        // A frame of its own, as an element gets it in a pipeline: `copy()` would share the
        // memory, and the swap, writing in place, would copy the whole frame inside the timing.
        let input = frame.copy_deep().expect("frame copy");
        let start = Instant::now();
        let output = h.push_and_pull(input).expect("frame");
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        out.push(output);
    }
    (times, out)
}

/// A digest of the frames' bytes (64-bit FNV-1a): two builds that print the same one wrote the
/// same pixels, which is how a change meant only to make the swap cheaper is checked.
fn digest(frames: &[gst::Buffer]) -> u64 {
    frames.iter().fold(0xcbf2_9ce4_8422_2325, |hash, frame| {
        let data = frame.map_readable().expect("map");
        data.iter().fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    })
}

/// The swap against its peer, one 720p RGBx -> I420 conversion on one thread (what any
/// pipeline spends per frame just to reach an encoder), on the same frames in the same run.
fn bench(label: &str, caps: &gst::Caps, frames: &[gst::Buffer], character: &Path, props: &str) -> Vec<gst::Buffer> {
    let faces: Vec<f64> = frames
        .iter()
        .filter_map(|f| f.meta::<FaceMeta>().and_then(|m| m.faces().first().map(|face| f64::from(face.bbox.w))))
        .collect();
    let (peer, _) = time_frames("videoconvert n-threads=1 ! capsfilter caps=video/x-raw,format=I420", caps, frames);
    let (mut times, out) =
        time_frames(&format!("reenactfaceswap character={} {props}", character.display()), caps, frames);
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
    out
}

/// The landmarks of the first face of each frame, `None` where there is none.
fn landmarks(frames: &[gst::Buffer]) -> Vec<Option<Vec<[f32; 3]>>> {
    frames
        .iter()
        .map(|f| f.meta::<FaceMeta>().and_then(|m| m.faces().first().map(|face| face.landmarks.clone())))
        .collect()
}

/// Seam energy, flicker and ΔE of `out` against the source `frames` (see the file's doc).
fn quality(label: &str, caps: &gst::Caps, frames: &[gst::Buffer], outputs: &[(&str, &[gst::Buffer])]) {
    let (width, height) = frame_size(caps);
    let marks = landmarks(frames);
    let maps: Vec<gst::buffer::MappedBuffer<gst::buffer::Readable>> =
        frames.iter().map(|f| f.clone().into_mapped_buffer_readable().expect("map")).collect();
    let measure = |name: &str, out: &[gst::Buffer]| {
        let out: Vec<gst::buffer::MappedBuffer<gst::buffer::Readable>> =
            out.iter().map(|f| f.clone().into_mapped_buffer_readable().expect("map")).collect();
        let (mut seam, mut seam_n, mut delta, mut delta_n) = (0.0, 0, 0.0, 0);
        let (mut flicker, mut source_flicker, mut pairs) = (0.0, 0.0, 0);
        for i in 0..frames.len() {
            let Some(lm) = &marks[i] else { continue };
            let hull = swap_metrics::hull(lm);
            let edge = swap_metrics::band(&hull, -6.0, 6.0, width, height);
            seam += swap_metrics::seam_energy(&out[i], &maps[i], width, height, &edge);
            seam_n += 1;
            let skin = swap_metrics::skin_seam(lm, 2.0, 12.0, width, height);
            if !skin.is_empty() {
                let (a, b) =
                    (swap_metrics::lab_mean(&out[i], width, &skin), swap_metrics::lab_mean(&maps[i], width, &skin));
                delta += swap_metrics::delta_e(a, b);
                delta_n += 1;
            }
            if i > 0 && marks[i - 1].is_some() {
                let inside = swap_metrics::band(&hull, 2.0, f32::INFINITY, width, height);
                flicker += swap_metrics::mean_abs_diff(&out[i], &out[i - 1], width, &inside);
                source_flicker += swap_metrics::mean_abs_diff(&maps[i], &maps[i - 1], width, &inside);
                pairs += 1;
            }
        }
        let (flicker, source_flicker) = (flicker / pairs.max(1) as f64, source_flicker / pairs.max(1) as f64);
        println!(
            "faceswap {label} quality {name}: seam energy {:.2}, flicker {flicker:.2} levels (source {source_flicker:.2}, ratio {:.2}), seam skin ΔE {:.2} ({seam_n} frames)",
            seam / seam_n.max(1) as f64,
            flicker / source_flicker.max(1e-9),
            delta / delta_n.max(1) as f64,
        );
    };
    for (name, out) in outputs {
        measure(name, out);
    }
}

fn frame_size(caps: &gst::Caps) -> (usize, usize) {
    let s = caps.structure(0).expect("structure");
    (s.get::<i32>("width").expect("width") as usize, s.get::<i32>("height").expect("height") as usize)
}

/// Saves the face of the middle frame with a face as source | before | after, side by side.
fn strip(label: &str, caps: &gst::Caps, frames: &[gst::Buffer], before: &[gst::Buffer], after: &[gst::Buffer]) {
    let (width, height) = frame_size(caps);
    let marks = landmarks(frames);
    let with_face: Vec<usize> = (0..frames.len()).filter(|&i| marks[i].is_some()).collect();
    let Some(&i) = with_face.get(with_face.len() / 2) else { return };
    let hull = swap_metrics::hull(marks[i].as_ref().expect("face"));
    let (min_x, max_x) = hull.iter().fold((f32::MAX, f32::MIN), |m, p| (m.0.min(p.0), m.1.max(p.0)));
    let (min_y, max_y) = hull.iter().fold((f32::MAX, f32::MIN), |m, p| (m.0.min(p.1), m.1.max(p.1)));
    let margin = 0.25 * (max_x - min_x).max(max_y - min_y);
    let clamp = |v: f32, n: usize| (v.max(0.0) as usize).min(n);
    let (x0, x1) = (clamp(min_x - margin, width), clamp(max_x + margin, width));
    let (y0, y1) = (clamp(min_y - margin, height), clamp(max_y + margin, height));
    let (cw, ch) = (x1 - x0, y1 - y0);
    let mut data = Vec::with_capacity(cw * 3 * ch * 4);
    let panels = [&frames[i], &before[i], &after[i]].map(|b| b.map_readable().expect("map").to_vec());
    for y in y0..y1 {
        for panel in &panels {
            for x in x0..x1 {
                let j = (y * width + x) * 4;
                data.extend_from_slice(&[panel[j], panel[j + 1], panel[j + 2], 255]);
            }
        }
    }
    let image = RgbaImage { width: (cw * 3) as u32, height: ch as u32, data };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let path = dir.join(format!("faceswap_{}.png", label.replace(' ', "_")));
    std::fs::write(&path, encode_png(&image).expect("png")).expect("write strip");
    println!("faceswap {label}: strip source | before | after of frame {i} in {}", path.display());
}

/// Times and measures "before" and "after" on one clip, and saves its strip.
fn compare(label: &str, caps: &gst::Caps, frames: &[gst::Buffer], character: &Path) {
    let before = bench(label, caps, frames, character, BEFORE);
    let after = bench(label, caps, frames, character, "");
    quality(label, caps, frames, &[("before", &before), ("after", &after)]);
    strip(label, caps, frames, &before, &after);
}

/// The swap as it was in 0.1.0: hull mask, feathered alpha, the whole portrait pasted.
const BEFORE: &str = "blend=feather skin-mask=false";

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

    if let Some(props) = std::env::args().nth(2) {
        let (caps, frames) = common::decode_720p(&common::shared().join("media/grid/grid_bbaf2n.mp4"), count);
        let out = bench("grid close-up", &caps, &tracked(&caps, frames), &path, &props);
        println!("outputs: digest {:016x}", digest(&out));
        let _ = std::fs::remove_file(path);
        return;
    }
    let (caps, frames) = common::decode(&common::presenter_file(), "RGBx", count);
    let frames = tracked(&caps, frames);
    compare("presenter", &caps, &frames, &path);

    let (caps, frames) = common::decode_720p(&common::shared().join("media/grid/grid_bbaf2n.mp4"), count);
    let frames = tracked(&caps, frames);
    compare("grid close-up", &caps, &frames, &path);
    bench("grid close-up", &caps, &frames, &path, "keep-eyes=true colour-transfer=1");
    bench("grid close-up", &caps, &frames, &path, "");
    bench("grid close-up", &caps, &frames, &path, "occlusion-mask=true");
    let _ = std::fs::remove_file(path);
}
