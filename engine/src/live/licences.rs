// SPDX-License-Identifier: MPL-2.0
//! Which models each live element runs, so that a show marked commercial can be refused
//! before it uses a model whose licence does not allow it.

use gst::prelude::*;
use gstreenact::facetrack::ReenactFaceTrackDetector;
use gstreenact::matte::ReenactMatteModel;

use super::LiveElement;
use crate::error::Result;
use crate::factories::plugin;

/// The face tracker's landmark model (it runs with whichever detector is set).
const FACE_MESH_MODEL: &str = "face_landmarks";

/// Catalog names of the models `element` runs, read from a fresh element's defaults as the
/// live graph builds it, captions for speech in `caption_language`. The voice converter's and
/// face swap's own models belong to the characters and are checked with them.
pub fn element_models(element: LiveElement, caption_language: &str) -> Result<Vec<&'static str>> {
    crate::media::init()?;
    Ok(match element {
        LiveElement::Facetrack | LiveElement::Faceswap | LiveElement::Lipsync => {
            let track = plugin("reenactfacetrack")?;
            vec![track.property::<ReenactFaceTrackDetector>("detector").model_name(), FACE_MESH_MODEL]
        }
        LiveElement::Matte => vec![plugin("reenactmatte")?.property::<ReenactMatteModel>("model").model_name()],
        LiveElement::Captions => super::captions::models(caption_language).to_vec(),
        LiveElement::Voice => Vec::new(),
    })
}

impl super::Elements {
    /// Adds the elements on in `other`.
    pub fn merge(&mut self, other: Self) {
        self.facetrack |= other.facetrack;
        self.faceswap |= other.faceswap;
        self.voice |= other.voice;
        self.matte |= other.matte;
        self.lipsync |= other.lipsync;
        self.captions |= other.captions;
    }

    /// The elements switched on.
    pub fn on(&self) -> Vec<LiveElement> {
        [
            (self.facetrack, LiveElement::Facetrack),
            (self.faceswap, LiveElement::Faceswap),
            (self.voice, LiveElement::Voice),
            (self.matte, LiveElement::Matte),
            (self.lipsync, LiveElement::Lipsync),
            (self.captions, LiveElement::Captions),
        ]
        .into_iter()
        .filter_map(|(on, element)| on.then_some(element))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_element_names_its_models() {
        let track = element_models(LiveElement::Faceswap, "en").unwrap();
        assert!(track.contains(&FACE_MESH_MODEL) && track.len() == 2, "{track:?}");
        assert_eq!(element_models(LiveElement::Matte, "en").unwrap(), ["selfie_segmentation_landscape"]);
        assert!(element_models(LiveElement::Voice, "en").unwrap().is_empty());
        assert!(element_models(LiveElement::Captions, "en").unwrap().contains(&"whisper_tiny_en_q8_0"));
        assert!(element_models(LiveElement::Captions, "de").unwrap().contains(&"whisper_base_q8_0"));
        let on = super::super::Elements::parse_list("matte,captions").unwrap().on();
        assert_eq!(on, [LiveElement::Matte, LiveElement::Captions]);
    }
}
