// SPDX-License-Identifier: MPL-2.0
//! `reenactfaceswap`: the performer's face becomes the character's. Reads the
//! [`FaceMeta`](crate::facemeta::FaceMeta) that `reenactfacetrack` attaches; warps the character
//! portrait onto the performer's landmarks (or runs an ONNX swap model), matches its colours to
//! the scene, keeps the portrait's hair and background out through a skin mask, and blends it
//! in across the seam band by band (multi-band) or through a feathered face mask; a face
//! restoration model can follow the swap.

use gst::glib;
use gst::prelude::*;

mod blend;
mod colour;
mod enhance;
mod imp;
mod looks;
pub(crate) mod mask;
pub(crate) mod neural;
mod patches;
mod planes;
mod skin;
mod triangulation;
mod warp;

/// How the classical swap blends the warped face into the frame.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstReenactFaceSwapBlend")]
pub enum ReenactFaceSwapBlend {
    /// Every frequency mixed by the feathered mask over the same `feather` band (the blend of
    /// 0.1.0): a brightness or tint difference at the hull edge shows as a band.
    #[enum_value(name = "Feathered alpha over the face mask", nick = "feather")]
    Feather = 0,
    /// Laplacian-pyramid blend: fine detail meets at the mask edge, coarse shading differences
    /// fade over a wider band (cut off at the hull edge).
    #[enum_value(name = "Multi-band (Laplacian pyramid) blend", nick = "multiband")]
    MultiBand = 1,
    /// Gradient-domain blend (the default): the performer's skin colour along the seam is the
    /// boundary condition and the difference is spread smoothly over the face (the membrane
    /// of Poisson cloning, interpolated by pull-push), then the character's texture fades in
    /// by the feathered mask: face and frame agree in colour at the hull edge.
    #[enum_value(name = "Gradient-domain (Poisson membrane) blend", nick = "poisson")]
    Poisson = 2,
}

glib::wrapper! {
    /// The face swap element.
    pub struct ReenactFaceSwap(ObjectSubclass<imp::ReenactFaceSwap>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `reenactfaceswap`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    ReenactFaceSwapBlend::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "reenactfaceswap", gst::Rank::NONE, ReenactFaceSwap::static_type())
}
