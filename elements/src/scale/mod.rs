// SPDX-License-Identifier: MPL-2.0
//! `reenactscale`: resizes planar 8-bit YUV with a cubic, for the delivery branches of a
//! render (the 9:16 crop of a 16:9 source is upscaled 1.8 times; 720p outputs of a 1080p
//! source are downscaled).

use gst::glib;
use gst::prelude::*;

mod imp;
mod resample;
mod shrink;

/// The cubic kernel (B = 0) the scaler resamples with.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstReenactScaleMethod")]
pub enum ReenactScaleMethod {
    /// C = 0.6, swscale's bicubic: renders match ffmpeg's. The default.
    #[enum_value(name = "Bicubic (C = 0.6), as swscale", nick = "bicubic")]
    Bicubic = 0,
    /// C = 0.5, Catmull-Rom, as `videoconvertscale method=catrom`: a little softer.
    #[enum_value(name = "Catmull-Rom (C = 0.5)", nick = "catrom")]
    CatmullRom = 1,
}

glib::wrapper! {
    /// The scaler element.
    pub struct ReenactScale(ObjectSubclass<imp::ReenactScale>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `reenactscale`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "reenactscale", gst::Rank::NONE, ReenactScale::static_type())
}
