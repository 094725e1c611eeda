// SPDX-License-Identifier: MPL-2.0
//! `reenactcaptions`: speech to timestamped text. Audio passes through untouched on `src`;
//! a mono 16 kHz copy is cut into utterances by Silero VAD (`vad.rs`, `segmenter.rs`) and
//! transcribed by whisper (whisper-rs) on a worker thread (`worker.rs`); the text leaves on
//! `text_src` as `text/x-raw, format=utf8` buffers timestamped where the words were spoken.

use gst::glib;
use gst::prelude::*;

mod imp;
mod segmenter;
mod vad;
mod worker;

glib::wrapper! {
    /// The captions element.
    pub struct ReenactCaptions(ObjectSubclass<imp::ReenactCaptions>) @extends gst::Element, gst::Object;
}

/// Caps name of the [`gst::ReferenceTimestampMeta`] on each text buffer that says where its
/// words were spoken (timestamp and duration, in the input's segment): a live result that
/// came late is shown later than that, at its PTS.
pub const SPOKEN_REFERENCE: &str = "timestamp/x-reenact-spoken";

/// Where the words of a text buffer of `reenactcaptions` were spoken: start and duration.
pub fn spoken(buffer: &gst::BufferRef) -> Option<(gst::ClockTime, gst::ClockTime)> {
    buffer
        .iter_meta::<gst::ReferenceTimestampMeta>()
        .find(|meta| meta.reference().structure(0).is_some_and(|s| s.name() == SPOKEN_REFERENCE))
        .map(|meta| (meta.timestamp(), meta.duration().unwrap_or(gst::ClockTime::ZERO)))
}

/// Registers `reenactcaptions`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "reenactcaptions", gst::Rank::NONE, ReenactCaptions::static_type())
}
