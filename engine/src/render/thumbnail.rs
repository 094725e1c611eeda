// SPDX-License-Identifier: MPL-2.0
//! JPEG thumbnails: frames captured on their way into the encoder, so no
//! output has to be decoded again; decoding the finished file is the fallback.

use std::path::Path;
use std::sync::{Arc, Mutex};

use gst::prelude::*;

use crate::blocks::{route_decoded_pads, Stream};
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};

const WAIT: gst::ClockTime = gst::ClockTime::from_seconds(20);
/// Thumbnails are at most this wide; height follows the aspect.
pub(crate) const MAX_WIDTH: u32 = 640;

/// Frames captured at given running times from a pad.
#[derive(Debug, Clone)]
pub(crate) struct Capture {
    times: Vec<f64>,
    frames: Arc<Mutex<Vec<Option<gst::Sample>>>>,
}

impl Capture {
    /// Watches `pad` and keeps a copy of the first frame at or after each of `times` (s).
    pub(crate) fn on(pad: &gst::Pad, times: Vec<f64>) -> Self {
        let capture = Capture { frames: Arc::new(Mutex::new(vec![None; times.len()])), times };
        if capture.times.is_empty() {
            return capture;
        }
        let probe = capture.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            let Some(buffer) = info.buffer() else { return gst::PadProbeReturn::Ok };
            let Some(t) = super::branch::running_time(pad, buffer) else { return gst::PadProbeReturn::Ok };
            let half_frame = buffer.duration().map(|d| d.nseconds() as f64 / 2e9).unwrap_or(0.0);
            let mut frames = probe.frames.lock().unwrap_or_else(|p| p.into_inner());
            for (slot, at) in frames.iter_mut().zip(&probe.times) {
                if slot.is_none() && t + half_frame >= *at {
                    // A deep copy: the encoder's pool gets its buffer back at once.
                    let copy = buffer.copy_deep().ok();
                    *slot = copy
                        .map(|b| gst::Sample::builder().buffer(&b).caps_if_some(pad.current_caps().as_ref()).build());
                }
            }
            gst::PadProbeReturn::Ok
        });
        capture
    }

    /// The frame captured for `times[index]` as JPEG, at most [`MAX_WIDTH`] wide.
    pub(crate) fn jpeg(&self, index: usize, width: u32, height: u32) -> Option<Vec<u8>> {
        let sample = self.frames.lock().unwrap_or_else(|p| p.into_inner()).get(index).cloned().flatten()?;
        let (tw, th) = thumb_size(width, height);
        let caps = gst::Caps::builder("image/jpeg").field("width", tw as i32).field("height", th as i32).build();
        let jpeg = gst_video::convert_sample(&sample, &caps, WAIT).ok()?;
        let map = jpeg.buffer()?.map_readable().ok()?;
        Some(map.as_slice().to_vec())
    }
}

/// The frame at `time_s` of `path` as JPEG bytes, at most [`MAX_WIDTH`] wide.
pub(crate) fn jpeg_at(path: &Path, time_s: f64, width: u32, height: u32) -> Result<Vec<u8>> {
    let fail = |cause: String| EngineError::BadMedia {
        path: path.to_path_buf(),
        cause: format!("thumbnail at {time_s:.2} s: {cause}"),
    };
    let pipeline = gst::Pipeline::new();
    let src = make(f::FILESRC)?;
    src.set_property("location", path.to_string_lossy().as_ref());
    let decode = make(f::DECODEBIN)?;
    let convert = make(f::VIDEOCONVERT)?;
    let sink = make(f::APPSINK)?;
    sink.set_property("caps", gst::Caps::builder("video/x-raw").field("format", "RGB").build());
    pipeline.add_many([&src, &decode, &convert, &sink]).map_err(|e| fail(e.to_string()))?;
    src.link(&decode).map_err(|e| fail(e.to_string()))?;
    convert.link(&sink).map_err(|e| fail(e.to_string()))?;
    let convert_weak = convert.downgrade();
    route_decoded_pads(&decode, move |pad, stream| {
        if let (Stream::Video, Some(convert)) = (stream, convert_weak.upgrade()) {
            let _ = pad.link(&convert.static_pad("sink").expect("videoconvert sink"));
        }
    });
    let result = (|| {
        pipeline.set_state(gst::State::Paused).map_err(|e| fail(e.to_string()))?;
        wait_preroll(&pipeline).map_err(&fail)?;
        let at = gst::ClockTime::from_nseconds((time_s.max(0.0) * 1e9) as u64);
        pipeline.seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, at).map_err(|e| fail(e.to_string()))?;
        wait_preroll(&pipeline).map_err(&fail)?;
        let appsink = sink.dynamic_cast_ref::<gst_app::AppSink>().expect("appsink");
        let sample = appsink.pull_preroll().map_err(|_| fail("no frame decoded".into()))?;
        let (tw, th) = thumb_size(width, height);
        let caps = gst::Caps::builder("image/jpeg").field("width", tw as i32).field("height", th as i32).build();
        let jpeg = gst_video::convert_sample(&sample, &caps, WAIT).map_err(|e| fail(e.to_string()))?;
        let buffer = jpeg.buffer().ok_or_else(|| fail("empty JPEG".into()))?;
        let map = buffer.map_readable().map_err(|e| fail(e.to_string()))?;
        Ok(map.as_slice().to_vec())
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn thumb_size(width: u32, height: u32) -> (u32, u32) {
    if width <= MAX_WIDTH {
        return (width, height);
    }
    let h = ((height as u64 * MAX_WIDTH as u64 / width.max(1) as u64) as u32).max(2) & !1;
    (MAX_WIDTH, h)
}

fn wait_preroll(pipeline: &gst::Pipeline) -> std::result::Result<(), String> {
    let bus = pipeline.bus().expect("pipeline has a bus");
    match bus.timed_pop_filtered(WAIT, &[gst::MessageType::AsyncDone, gst::MessageType::Error]) {
        Some(msg) => match msg.view() {
            gst::MessageView::Error(err) => Err(err.error().to_string()),
            _ => Ok(()),
        },
        None => Err("timed out".into()),
    }
}
