// SPDX-License-Identifier: MPL-2.0
//! `reenactscale`: resizes planar 8-bit YUV with a Catmull-Rom cubic, for the delivery
//! branches of a render (the 9:16 crop of a 16:9 source is upscaled 1.8 times).

use gst::glib;
use gst::prelude::*;

mod imp;
mod resample;

glib::wrapper! {
    /// The scaler element.
    pub struct ReenactScale(ObjectSubclass<imp::ReenactScale>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `reenactscale`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "reenactscale", gst::Rank::NONE, ReenactScale::static_type())
}
