// SPDX-License-Identifier: MPL-2.0
//! `reenactfaceswap`: the performer's face becomes the character's. Reads the
//! [`FaceMeta`](crate::facemeta::FaceMeta) that `reenactfacetrack` attaches; warps the character
//! portrait onto the performer's landmarks (or runs an ONNX swap model), matches its colours to
//! the scene, and blends it in through a feathered face mask; a face restoration model can
//! follow the swap.

use gst::glib;
use gst::prelude::*;

mod colour;
mod enhance;
mod imp;
mod mask;
mod neural;
mod triangulation;
mod warp;

glib::wrapper! {
    /// The face swap element.
    pub struct ReenactFaceSwap(ObjectSubclass<imp::ReenactFaceSwap>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `reenactfaceswap`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "reenactfaceswap", gst::Rank::NONE, ReenactFaceSwap::static_type())
}
