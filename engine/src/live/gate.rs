// SPDX-License-Identifier: MPL-2.0
//! The camera gate of a visitor-consent show: while it is closed, every frame
//! leaving the chain is a black picture and every sound silence, so encoders,
//! viewers, recordings and network outputs get nothing of the camera or the
//! microphone. The gate sits on the sink pads of the raw tees, after the chain:
//! the face tracker still sees the camera (in memory only), which is how the
//! show tells that a visitor is there or has left.
//!
//! The face tracker's presence is read from the face meta it attaches to each
//! buffer, on its own source pad (later transforms drop the meta).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_video::prelude::VideoFrameExt;
use gstreenact::facemeta::FaceMeta;

/// Black in 8-bit limited-range YUV: luma 16, both chroma planes at their middle.
const BLACK_LUMA: u8 = 16;
const NEUTRAL_CHROMA: u8 = 128;

/// Whether the camera reaches the show's outputs, and when a face was last seen.
#[derive(Debug)]
pub(crate) struct CameraGate {
    open: AtomicBool,
    /// Milliseconds after `epoch` of the last frame with a face, plus one (0: never).
    face_seen: AtomicU64,
    /// Frames blanked while closed (a check that the gate works, in the figures).
    blanked: AtomicU64,
    epoch: Instant,
}

impl CameraGate {
    pub(crate) fn new(open: bool) -> Arc<Self> {
        Arc::new(CameraGate {
            open: AtomicBool::new(open),
            face_seen: AtomicU64::new(0),
            blanked: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    pub(crate) fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::SeqCst)
    }

    pub(crate) fn blanked(&self) -> u64 {
        self.blanked.load(Ordering::Relaxed)
    }

    /// How long ago the tracker last saw a face; `None` if it never did.
    pub(crate) fn face_seen_ago(&self) -> Option<Duration> {
        match self.face_seen.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(self.epoch.elapsed().saturating_sub(Duration::from_millis(ms - 1))),
        }
    }

    /// Blanks the raw pictures entering `video_tee` and silences the sound entering
    /// `audio_tee` while the gate is closed.
    pub(crate) fn attach(self: &Arc<Self>, video_tee: &gst::Element, audio_tee: &gst::Element) {
        let gate = Arc::clone(self);
        let video = video_tee.static_pad("sink").expect("tee sink");
        video.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            if gate.is_open() {
                return gst::PadProbeReturn::Ok;
            }
            let Some(gst::PadProbeData::Buffer(buffer)) = &mut info.data else { return gst::PadProbeReturn::Ok };
            let info = pad.current_caps().and_then(|caps| gst_video::VideoInfo::from_caps(&caps).ok());
            // A picture that cannot be blanked is not let through.
            let Some(info) = info else { return gst::PadProbeReturn::Drop };
            if !blank_picture(buffer.make_mut(), &info) {
                return gst::PadProbeReturn::Drop;
            }
            gate.blanked.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        });
        let gate = Arc::clone(self);
        let audio = audio_tee.static_pad("sink").expect("tee sink");
        audio.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if gate.is_open() {
                return gst::PadProbeReturn::Ok;
            }
            let Some(gst::PadProbeData::Buffer(buffer)) = &mut info.data else { return gst::PadProbeReturn::Ok };
            // Zero bytes are silence in the float and signed formats the chain carries.
            match buffer.make_mut().map_writable() {
                Ok(mut map) => {
                    map.as_mut_slice().fill(0);
                    gst::PadProbeReturn::Ok
                }
                Err(_) => gst::PadProbeReturn::Drop,
            }
        });
    }

    /// Notes every frame out of `tracker` that carries a face.
    pub(crate) fn watch_faces(self: &Arc<Self>, tracker: &gst::Element) {
        let gate = Arc::clone(self);
        let pad = tracker.static_pad("src").expect("facetrack src");
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(gst::PadProbeData::Buffer(buffer)) = &info.data {
                if buffer.meta::<FaceMeta>().is_some_and(|meta| !meta.faces().is_empty()) {
                    let ms = u64::try_from(gate.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
                    gate.face_seen.store(ms + 1, Ordering::Relaxed);
                }
            }
            gst::PadProbeReturn::Ok
        });
    }
}

/// Overwrites a raw YUV picture with black; false for formats it does not know.
fn blank_picture(buffer: &mut gst::BufferRef, info: &gst_video::VideoInfo) -> bool {
    if !info.format_info().is_yuv() {
        return false;
    }
    let Ok(mut frame) = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, info) else { return false };
    for plane in 0..frame.n_planes() {
        let value = if plane == 0 { BLACK_LUMA } else { NEUTRAL_CHROMA };
        match frame.plane_data_mut(plane) {
            Ok(data) => data.fill(value),
            Err(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_gate_blanks_pictures_and_silences_sound() {
        gst::init().unwrap();
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 64, 48).build().unwrap();
        let mut buffer = gst::Buffer::from_mut_slice(vec![200u8; info.size()]);
        assert!(blank_picture(buffer.get_mut().unwrap(), &info));
        let map = buffer.map_readable().unwrap();
        let luma = info.offset()[1];
        assert!(map[..luma].iter().all(|&b| b == BLACK_LUMA));
        assert!(map[luma..].iter().all(|&b| b == NEUTRAL_CHROMA));
        let rgb = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgba, 8, 8).build().unwrap();
        let mut other = gst::Buffer::from_mut_slice(vec![200u8; rgb.size()]);
        assert!(!blank_picture(other.get_mut().unwrap(), &rgb), "unknown formats are dropped, not passed");

        let gate = CameraGate::new(false);
        assert!(!gate.is_open() && gate.face_seen_ago().is_none());
        gate.set_open(true);
        assert!(gate.is_open());
    }
}
