// SPDX-License-Identifier: MPL-2.0
//! Set-up shared by the element tests: plugin registration with the shared
//! models, and decoded frames of the shared media.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::Once;

use gst::prelude::*;

/// `../shared` beside the checkout.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// The synthetic presenter clip (astronaut portrait at x = 280..1000 on dark grey).
pub fn presenter_file() -> PathBuf {
    shared().join("media/synthetic/presenter_astronaut_1280x720_25fps.mp4")
}

/// Initialises GStreamer and registers the plugin once per test binary.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // The catalog looks beside the working directory; tests run in elements/.
        if std::env::var_os("REENACT_MODELS").is_none() {
            std::env::set_var("REENACT_MODELS", shared().join("models"));
        }
        gst::init().expect("gst init");
        gstreenact::plugin_register_static().expect("register plugin");
    });
}

/// The first `count` frames of `file` as `format` buffers (with PTS and duration) and their caps.
pub fn decode(file: &Path, format: &str, count: usize) -> (gst::Caps, Vec<gst::Buffer>) {
    pull_frames(&format!("videoconvert ! video/x-raw,format={format}"), file, count)
}

/// The first `count` frames of `file` letterboxed into 1280x720 RGBx.
pub fn decode_720p(file: &Path, count: usize) -> (gst::Caps, Vec<gst::Buffer>) {
    let convert = "videoconvert ! videoscale add-borders=true ! \
                   video/x-raw,format=RGBx,width=1280,height=720,pixel-aspect-ratio=1/1";
    pull_frames(convert, file, count)
}

/// The first `count` frames of `file` as `format` buffers carrying `reenactfacetrack`'s face meta.
pub fn tracked(file: &Path, format: &str, count: usize) -> (gst::Caps, Vec<gst::Buffer>) {
    track(decode(file, format, count))
}

/// The first `count` frames of `file` letterboxed into 1280x720 RGBx, carrying
/// `reenactfacetrack`'s face meta.
pub fn tracked_720p(file: &Path, count: usize) -> (gst::Caps, Vec<gst::Buffer>) {
    track(decode_720p(file, count))
}

/// `frames` through `reenactfacetrack`.
fn track((caps, frames): (gst::Caps, Vec<gst::Buffer>)) -> (gst::Caps, Vec<gst::Buffer>) {
    let mut h = gst_check::Harness::new_parse("reenactfacetrack");
    h.set_caps(caps.clone(), caps.clone());
    let out = frames.into_iter().map(|f| h.push_and_pull(f).expect("tracked frame")).collect();
    (caps, out)
}

/// Width and height of raw video caps.
pub fn frame_size(caps: &gst::Caps) -> (usize, usize) {
    let s = caps.structure(0).expect("structure");
    (s.get::<i32>("width").expect("width") as usize, s.get::<i32>("height").expect("height") as usize)
}

/// The first `count` frames of `file` decoded and passed through `convert` (a launch-line fragment).
fn pull_frames(convert: &str, file: &Path, count: usize) -> (gst::Caps, Vec<gst::Buffer>) {
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! decodebin ! {convert} ! appsink name=sink sync=false",
        file.display()
    ))
    .expect("decode pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = pipeline.by_name("sink").expect("sink").downcast::<gst_app::AppSink>().expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("playing");
    let mut caps = None;
    let mut buffers = Vec::new();
    while buffers.len() < count {
        let Ok(sample) = sink.pull_sample() else { break };
        caps.get_or_insert_with(|| sample.caps().expect("caps").to_owned());
        buffers.push(sample.buffer_owned().expect("buffer"));
    }
    pipeline.set_state(gst::State::Null).expect("null");
    (caps.expect("at least one frame"), buffers)
}
