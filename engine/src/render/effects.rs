// SPDX-License-Identifier: MPL-2.0
//! The whole-picture effects of a render, run once before the tees in the show's chain (see
//! [`crate::show`]): the background matte (`reenactmatte`) and the face tracking that
//! face-following crops (`reenactreframe`, one per branch that needs it) read.
//!
//! Why the tracker runs before the tees rather than in each branch: every face-following
//! output reads the same faces, and tracking is the costly part; the per-branch crop is a
//! copy. It is the same tracker the characters' face swaps read: one per render. When a
//! branch follows the face the tees carry RGBA (the reframe element's format); otherwise the
//! chain converts back to I420 so plain branches cost what they did.

use gst::prelude::*;
use gstreenact::matte::ReenactMatteModel;
use gstreenact::reframe::ReenactReframeAspect;
use reenact_models::{Catalog, ModelUse};

use super::plan::Plan;
use crate::error::{EngineError, Result};
use crate::factories::{self as f, plugin};
use crate::preset::{Background, CropPolicy, Preset};
use crate::show::{self, Built, Matte, Part, Show};

const FACETRACK: &str = f::REENACTFACETRACK;
const MATTE: &str = f::REENACTMATTE;
/// The face tracker's models, recorded in the metadata when it runs.
pub(crate) const TRACK_MODELS: [&str; 2] = ["blazeface_back_256", "face_landmarks"];

/// Which effects a render runs before its tees.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    background: Option<Background>,
    track_faces: bool,
    matte: Option<gst::Element>,
}

impl Effects {
    /// The effects `background` and the crops of `show`'s outputs need on `plan`'s picture.
    pub(crate) fn resolve(plan: &Plan, background: Option<&Background>, show: &Show) -> Result<Self> {
        let mut track_faces = false;
        for framing in show::framings(&show.outputs) {
            track_faces |= face_crop(plan, &framing.preset)?.is_some();
        }
        Ok(Effects { background: background.cloned(), track_faces, matte: None })
    }

    /// The effects' part of the show: faces tracked for the crops, the matte.
    pub(crate) fn describe(&self, show: &mut Show) {
        show.track_faces = self.track_faces;
        show.matte = self.background.clone().map(|background| Matte { background: Some(background) });
    }

    /// Keeps the matte the builder made, for the metadata.
    pub(crate) fn ran(&mut self, built: &Built) {
        self.matte = built.get(Part::Matte).cloned();
    }

    /// The models the effects ran, as far as the catalog knows them.
    pub(crate) fn models(&self) -> Vec<ModelUse> {
        let mut names: Vec<(&str, &str)> = Vec::new();
        if self.track_faces {
            names.extend(TRACK_MODELS.iter().map(|m| (*m, FACETRACK)));
        }
        if let Some(matte) = &self.matte {
            names.push((matte.property::<ReenactMatteModel>("model").model_name(), MATTE));
        }
        if names.is_empty() {
            return Vec::new();
        }
        let Ok(catalog) = Catalog::load() else { return Vec::new() };
        names
            .into_iter()
            .filter_map(|(name, element)| {
                let entry = catalog.entry(name)?;
                Some(ModelUse {
                    name: entry.model.name.clone(),
                    version: entry.model.version.clone(),
                    element: element.into(),
                })
            })
            .collect()
    }
}

/// The `reenactreframe` aspect for `preset` on `plan`'s picture when its crop follows the
/// face; `None` when it does not or when the picture already has the output's aspect.
pub(crate) fn face_crop(plan: &Plan, preset: &Preset) -> Result<Option<ReenactReframeAspect>> {
    if preset.crop != CropPolicy::Face {
        return Ok(None);
    }
    let (out_w, out_h) = preset.output_size(plan.width, plan.height);
    let same = |(a, b): (u32, u32), (c, d): (u32, u32)| {
        (a as u64 * d as u64).abs_diff(b as u64 * c as u64) * 100 <= a as u64 * d as u64
    };
    if same((out_w, out_h), (plan.width, plan.height)) {
        return Ok(None);
    }
    let aspects = [ReenactReframeAspect::Portrait, ReenactReframeAspect::Square, ReenactReframeAspect::Landscape];
    match aspects.into_iter().find(|a| same(a.ratio(), (out_w, out_h))) {
        Some(aspect) => Ok(Some(aspect)),
        None => Err(EngineError::Request(format!(
            "preset `{}`: crop = \"face\" follows the face into 9:16, 1:1 or 16:9 outputs, not {out_w}x{out_h}",
            preset.name
        ))),
    }
}

/// The branch element that crops around the face.
pub(crate) fn reframe(aspect: ReenactReframeAspect) -> Result<gst::Element> {
    let element = plugin(f::REENACTREFRAME)?;
    element.set_property("aspect", aspect);
    Ok(element)
}
