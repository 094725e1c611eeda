// SPDX-License-Identifier: MPL-2.0
//! `reenactmatte`: MediaPipe selfie segmentation as a soft person mask, used to blur or replace
//! the background, or written into the alpha channel.

use gst::glib;
use gst::prelude::*;

mod compose;
mod imp;
mod inference;
mod mask;
mod pixels;

/// What the element does with the mask.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstReenactMatteMode")]
pub enum ReenactMatteMode {
    /// Blur the background (`blur-strength`), keep the person sharp.
    #[enum_value(name = "Blur the background", nick = "blur")]
    Blur = 0,
    /// Replace the background by `background-image`, or `background-color` when no image is set.
    #[enum_value(name = "Replace the background by a colour or an image", nick = "replace")]
    Replace = 1,
    /// Leave the colours alone and write the mask into the alpha byte (use an RGBA-family format).
    #[enum_value(name = "Write the mask into the alpha channel", nick = "alpha")]
    Alpha = 2,
}

/// Which selfie segmentation model computes the mask.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstReenactMatteModel")]
pub enum ReenactMatteModel {
    /// 256x144 input, for landscape frames (the default; about half the cost of `general`).
    #[enum_value(name = "Selfie segmentation landscape 256x144", nick = "landscape")]
    Landscape = 0,
    /// 256x256 input, for square or portrait frames.
    #[enum_value(name = "Selfie segmentation general 256x256", nick = "general")]
    General = 1,
}

impl ReenactMatteModel {
    /// Catalog name of the model.
    pub fn model_name(self) -> &'static str {
        match self {
            Self::Landscape => "selfie_segmentation_landscape",
            Self::General => "selfie_segmentation",
        }
    }
}

glib::wrapper! {
    /// The background matting element.
    pub struct ReenactMatte(ObjectSubclass<imp::ReenactMatte>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `reenactmatte`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    ReenactMatteMode::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    ReenactMatteModel::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "reenactmatte", gst::Rank::NONE, ReenactMatte::static_type())
}
