// SPDX-License-Identifier: MPL-2.0
//! `reenactanimate`: the character's portrait, animated by the performer's face. Reads the
//! [`FaceMeta`](crate::facemeta::FaceMeta) that `reenactfacetrack` attaches; runs LivePortrait's
//! modules (appearance, motion, warping + SPADE generator, stitching) as imported with
//! `reenact models import --as portrait-animation`, and shows the animated portrait in place of
//! the camera picture.

use gst::glib;
use gst::prelude::*;

mod animator;
mod crop;
mod imp;
mod motion;

glib::wrapper! {
    /// The portrait animation element.
    pub struct ReenactAnimate(ObjectSubclass<imp::ReenactAnimate>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `reenactanimate`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "reenactanimate", gst::Rank::NONE, ReenactAnimate::static_type())
}
