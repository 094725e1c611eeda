// SPDX-License-Identifier: MPL-2.0
//! `reenactscale`: negotiation (the size downstream asks for, the input's otherwise), the
//! passthrough at equal sizes, and the picture against GStreamer's own Catmull-Rom scaler
//! on decoded frames of the presenter clip.

mod common;

use common::init;

use gst::prelude::*;
use gst_check::Harness;

/// Frames of the presenter clip (1280x720) as I420.
fn presenter(count: usize) -> (gst::Caps, Vec<gst::Buffer>) {
    common::decode(&common::presenter_file(), "I420", count)
}

/// Pushes `frames` through `launch` and returns the output frames and their caps.
fn run(launch: &str, caps: &gst::Caps, frames: &[gst::Buffer]) -> (gst::Caps, Vec<gst::Buffer>) {
    let mut h = Harness::new_parse(launch);
    h.set_src_caps(caps.clone());
    let out: Vec<gst::Buffer> =
        frames.iter().map(|f| h.push_and_pull(f.clone()).unwrap_or_else(|e| panic!("{launch}: {e:?}"))).collect();
    let caps = h.sinkpad().expect("sink pad").current_caps().expect("output caps");
    (caps, out)
}

fn size(caps: &gst::Caps) -> (i32, i32) {
    let s = caps.structure(0).expect("structure");
    (s.get("width").expect("width"), s.get("height").expect("height"))
}

/// PSNR in dB of each plane (Y, U, V) of two I420 frames of `caps`.
fn psnr(caps: &gst::Caps, a: &gst::Buffer, b: &gst::Buffer) -> [f64; 3] {
    let info = gst_video::VideoInfo::from_caps(caps).expect("video caps");
    let fa = gst_video::VideoFrameRef::from_buffer_ref_readable(a.as_ref(), &info).expect("map a");
    let fb = gst_video::VideoFrameRef::from_buffer_ref_readable(b.as_ref(), &info).expect("map b");
    std::array::from_fn(|p| {
        let (w, h) = (info.comp_width(p as u8) as usize, info.comp_height(p as u8) as usize);
        let stride = info.stride()[p] as usize;
        let (pa, pb) = (fa.plane_data(p as u32).expect("plane"), fb.plane_data(p as u32).expect("plane"));
        let mut sum = 0f64;
        for y in 0..h {
            for x in 0..w {
                let d = f64::from(pa[y * stride + x]) - f64::from(pb[y * stride + x]);
                sum += d * d;
            }
        }
        let mse = sum / (w * h) as f64;
        10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()
    })
}

/// A launch-line capsfilter for `caps`.
fn to(caps: &str) -> String {
    format!("capsfilter caps=\"{caps}\"")
}

/// GStreamer's Catmull-Rom, which is `reenactscale method=catrom`.
const REFERENCE: &str = "videoconvertscale add-borders=false method=catrom chroma-resampler=cubic dither=none";

/// Scales `count` presenter frames to `width` x `height` with `reenactscale method=catrom`
/// and with [`REFERENCE`]; every plane of every frame must agree to `min_db`.
fn assert_matches_reference(count: usize, width: i32, height: i32, min_db: f64) {
    init();
    let (caps, frames) = presenter(count);
    let target = format!("video/x-raw,format=I420,width={width},height={height}");
    let (out_caps, ours) = run(&format!("reenactscale method=catrom ! {}", to(&target)), &caps, &frames);
    let (_, theirs) =
        run(&format!("{REFERENCE} ! {}", to(&format!("{target},pixel-aspect-ratio=1/1"))), &caps, &frames);
    assert_eq!(size(&out_caps), (width, height));
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a.pts(), b.pts(), "timestamps pass through");
        let [y, u, v] = psnr(&out_caps, a, b);
        assert!(y > min_db && u > min_db && v > min_db, "PSNR against videoconvertscale: {y:.1} {u:.1} {v:.1} dB");
    }
}

#[test]
fn upscale_to_vertical_matches_gstreamers_catmull_rom() {
    assert_matches_reference(3, 1080, 1920, 50.0);
}

#[test]
fn downscale_is_near_gstreamers_catmull_rom() {
    // The two filter differently when downscaling: near, not equal.
    assert_matches_reference(2, 480, 270, 38.0);
}

/// Mean squared difference between horizontal neighbours of the luma plane: what a
/// sharper kernel raises.
fn detail(caps: &gst::Caps, frame: &gst::Buffer) -> f64 {
    let info = gst_video::VideoInfo::from_caps(caps).expect("video caps");
    let f = gst_video::VideoFrameRef::from_buffer_ref_readable(frame.as_ref(), &info).expect("map");
    let (w, h, stride) = (info.width() as usize, info.height() as usize, info.stride()[0] as usize);
    let luma = f.plane_data(0).expect("plane");
    let sum: f64 = (0..h)
        .flat_map(|y| (1..w).map(move |x| (y, x)))
        .map(|(y, x)| (f64::from(luma[y * stride + x]) - f64::from(luma[y * stride + x - 1])).powi(2))
        .sum();
    sum / (h * (w - 1)) as f64
}

/// The default (C = 0.6) is a little sharper than Catmull-Rom, upscaled (our passes) and
/// downscaled (the library's).
#[test]
fn the_default_is_sharper_than_catmull_rom() {
    init();
    let (caps, frames) = presenter(1);
    for (w, h) in [(1080, 1920), (640, 360)] {
        let target = to(&format!("video/x-raw,format=I420,width={w},height={h}"));
        let (out_caps, soft) = run(&format!("reenactscale method=catrom ! {target}"), &caps, &frames);
        let (_, sharp) = run(&format!("reenactscale ! {target}"), &caps, &frames);
        let [near, ..] = psnr(&out_caps, &soft[0], &sharp[0]);
        let (soft, sharp) = (detail(&out_caps, &soft[0]), detail(&out_caps, &sharp[0]));
        assert!(near > 40.0 && near < 80.0, "{w}x{h}: catrom against bicubic: {near:.1} dB");
        assert!(sharp > soft * 1.005, "{w}x{h}: detail {sharp:.2} (bicubic) against {soft:.2} (catrom)");
    }
}

#[test]
fn equal_sizes_pass_buffers_through() {
    init();
    let (caps, frames) = presenter(1);
    let mut h = Harness::new_parse(&format!("reenactscale ! {}", to("video/x-raw,width=1280,height=720")));
    h.set_src_caps(caps);
    let input = frames[0].clone();
    let ptr = input.map_readable().expect("map").as_ptr();
    let out = h.push_and_pull(input).expect("frame");
    assert_eq!(out.map_readable().expect("map").as_ptr(), ptr, "the same memory, not a copy");
}

#[test]
fn without_a_size_downstream_the_size_is_kept() {
    init();
    let (caps, frames) = presenter(1);
    let (out_caps, _) = run("reenactscale", &caps, &frames);
    assert_eq!(size(&out_caps), (1280, 720));
}

#[test]
fn packed_formats_are_refused() {
    init();
    let mut h = Harness::new("reenactscale");
    h.set_src_caps_str("video/x-raw,format=RGBx,width=64,height=48,framerate=25/1");
    let flow = h.push(gst::Buffer::with_size(64 * 48 * 4).expect("buffer"));
    assert_eq!(flow, Err(gst::FlowError::NotNegotiated));
}
