// SPDX-License-Identifier: MPL-2.0
//! `reenactfacetrack`: face detection, 468-point landmarks, smoothing and stable track ids,
//! attached to each buffer as a [`FaceMeta`](crate::facemeta::FaceMeta).

use gst::glib;
use gst::prelude::*;

mod blazeface;
mod draw;
mod image;
mod imp;
mod inference;
mod one_euro;
mod roi;
mod tracker;

/// Which BlazeFace model finds new faces.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstReenactFaceTrackDetector")]
pub enum ReenactFaceTrackDetector {
    /// Short-range model, 128x128 input: faces filling a good part of the frame (selfie
    /// distance); misses a presenter's face that spans a tenth of a 720p frame.
    #[enum_value(name = "BlazeFace front 128x128: near faces", nick = "front-128")]
    Front128 = 0,
    /// Back-camera model, 256x256 input: smaller or farther faces (the default); about 6x
    /// slower than front-128, but it runs only every `detect-interval` frames.
    #[enum_value(name = "BlazeFace back 256x256: small or far faces", nick = "back-256")]
    Back256 = 1,
}

impl ReenactFaceTrackDetector {
    /// Catalog name of the model.
    pub fn model_name(self) -> &'static str {
        match self {
            Self::Front128 => "blazeface_front_128",
            Self::Back256 => "blazeface_back_256",
        }
    }
}

glib::wrapper! {
    /// The face tracker element.
    pub struct ReenactFaceTrack(ObjectSubclass<imp::ReenactFaceTrack>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `reenactfacetrack`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    ReenactFaceTrackDetector::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "reenactfacetrack", gst::Rank::NONE, ReenactFaceTrack::static_type())
}
