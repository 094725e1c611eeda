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

/// The faces of one still picture (largest first), found by the same models and tracker as the
/// element: BlazeFace back-256, then the face mesh, then one refinement pass in the region the
/// first landmarks give. Used to analyse character portraits.
pub fn faces_in_picture(
    catalog: &reenact_models::Catalog,
    picture: &crate::character::RgbaImage,
) -> Result<Vec<crate::facemeta::Face>, reenact_models::OnnxError> {
    let mut models = inference::OnnxFaceModels::open(catalog, ReenactFaceTrackDetector::Back256.model_name(), 0.5, 1)?;
    let image = image::Image {
        data: &picture.data,
        width: picture.width as usize,
        height: picture.height as usize,
        stride: picture.width as usize * 4,
        pixel_stride: 4,
        rgb: [0, 1, 2],
    };
    let params = tracker::TrackerParams {
        detect_interval: 1,
        max_faces: 4,
        // A still picture needs no smoothing; a high cutoff lets the second pass through.
        smoothing: one_euro::OneEuroParams { min_cutoff: 1000.0, beta: 0.0 },
    };
    let mut tracker = tracker::Tracker::default();
    // The first pass crops around the detector's box; the second around the first landmarks,
    // which is what the mesh model was trained on.
    tracker.process(&mut models, &image, 0.0, &params)?;
    let mut faces = tracker.process(&mut models, &image, 1.0, &params)?;
    faces.sort_by(|a, b| (b.bbox.w * b.bbox.h).total_cmp(&(a.bbox.w * a.bbox.h)));
    Ok(faces)
}

/// Registers `reenactfacetrack`.
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    ReenactFaceTrackDetector::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(Some(plugin), "reenactfacetrack", gst::Rank::NONE, ReenactFaceTrack::static_type())
}
