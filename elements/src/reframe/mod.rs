// SPDX-License-Identifier: MPL-2.0
//! `reenactreframe`: crops the frame to another aspect ratio around the main face of the
//! [`FaceMeta`](crate::facemeta::FaceMeta), with a smoothed, speed-bounded camera path.

use gst::glib;
use gst::prelude::*;

mod camera;
mod crop;
mod imp;

/// Aspect ratio of the output.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstReenactReframeAspect")]
pub enum ReenactReframeAspect {
    /// Portrait 9:16 (shorts, stories): the default.
    #[enum_value(name = "Portrait 9:16", nick = "9:16")]
    Portrait = 0,
    /// Square 1:1.
    #[enum_value(name = "Square 1:1", nick = "1:1")]
    Square = 1,
    /// Landscape 16:9.
    #[enum_value(name = "Landscape 16:9", nick = "16:9")]
    Landscape = 2,
}

impl ReenactReframeAspect {
    /// Width and height ratio terms.
    pub fn ratio(self) -> (u32, u32) {
        match self {
            Self::Portrait => (9, 16),
            Self::Square => (1, 1),
            Self::Landscape => (16, 9),
        }
    }
}

glib::wrapper! {
    /// The face-following crop element.
    pub struct ReenactReframe(ObjectSubclass<imp::ReenactReframe>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `reenactreframe`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    ReenactReframeAspect::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "reenactreframe", gst::Rank::NONE, ReenactReframe::static_type())
}
