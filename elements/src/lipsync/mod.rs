// SPDX-License-Identifier: MPL-2.0
//! `reenactlipsync`: a mouth driven by speech. Mouth opening and width are measured on the
//! audio (voice-band energy against the running speech level, and the balance of its low and
//! high formant bands) every 10 ms, and the video frame at running time `t` shows the mouth
//! for the audio around `t`: the mouth landmarks of each tracked face (mode `face`, reading the
//! [`FaceMeta`](crate::facemeta::FaceMeta) of `reenactfacetrack`) or of a character portrait
//! (mode `portrait`, a talking portrait for voice-over) are moved and the mouth region warped,
//! or an ONNX lip-sync model (Wav2Lip-style signature) repaints the mouth.

use gst::glib;
use gst::prelude::*;

// The captions element reuses the 16 kHz mono resampler.
pub(crate) mod audio;
mod features;
mod image;
mod imp;
mod mel;
mod neural;
mod warp;

/// Whose mouth the element moves.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstReenactLipSyncMode")]
pub enum ReenactLipSyncMode {
    /// The faces `reenactfacetrack` found in the video (the default); frames without a face
    /// meta pass through unchanged.
    #[enum_value(name = "The tracked faces of the video", nick = "face")]
    Face = 0,
    /// The character portrait (`character`), scaled into each output frame; the video input
    /// only paces the output (its size, format and timestamps).
    #[enum_value(name = "The character portrait, animated", nick = "portrait")]
    Portrait = 1,
}

glib::wrapper! {
    /// The lip-sync element.
    pub struct ReenactLipSync(ObjectSubclass<imp::ReenactLipSync>)
        @extends gst_base::Aggregator, gst::Element, gst::Object;
}

/// Registers `reenactlipsync`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    ReenactLipSyncMode::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "reenactlipsync", gst::Rank::NONE, ReenactLipSync::static_type())
}
