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

/// Registers `reenactcaptions`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "reenactcaptions", gst::Rank::NONE, ReenactCaptions::static_type())
}
