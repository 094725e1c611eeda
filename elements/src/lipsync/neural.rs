// SPDX-License-Identifier: MPL-2.0
//! The ONNX lip-sync slot, with the signature of Wav2Lip:
//!
//! - input *face* [1, 6, 96, 96]: the face box Wav2Lip was trained on, stretched to 96 x 96
//!   whatever its shape (see [`Crop`]), channels 0..3 the crop with its lower half (rows
//!   48..96) zeroed, channels 3..6 the same crop whole as the reference; BGR order as Wav2Lip
//!   (trained on OpenCV frames), values 0..1, NCHW;
//! - input *mel* [1, 1, 80, 16]: the mel window of [`super::mel`] whose 16 frames are centred
//!   from 80 ms before to 107.5 ms after the video frame (Wav2Lip's training alignment);
//! - output [1, 3, 96, 96]: the repainted face crop, BGR 0..1, pasted back through the mouth
//!   region's feathered mask (the same ellipse as the classical warp).
//!
//! The inputs are told apart by their shapes, so any names do (Wav2Lip exports call them
//! `audio_sequences` / `face_sequences`, `mel` / `face`, ...). The manifest is checked for this
//! signature before the session opens (an error names the model and the input), and the
//! session against the manifest. No GStreamer here.

use std::path::PathBuf;

use reenact_models::{Catalog, OnnxError, OnnxSession, SessionOptions, TensorInput, TensorSpec};

use super::image::{copy_rect, FrameMut, Picture};
use super::mel;
use super::warp::Region;
use crate::character::mesh;

/// Side of the model's square face crop.
pub(super) const CROP: usize = 96;

/// How far above the brows the box starts, as a fraction of brows-to-chin: a face
/// detector's box (S3FD's, which cut Wav2Lip's training faces) starts on the lower forehead,
/// not at the mesh's top near the hairline.
const ABOVE_BROWS: f32 = 0.1;

/// Room below the chin, as a fraction of the box's height: Wav2Lip's inference pads the
/// detector's box by 10 pixels at the bottom (`--pads 0 10 0 0`) so that the chin is inside,
/// on faces about 250 pixels tall.
const BELOW_CHIN: f32 = 0.04;

const FACE_SHAPE: [i64; 4] = [1, 6, CROP as i64, CROP as i64];
const MEL_SHAPE: [i64; 4] = [1, 1, mel::BANDS as i64, mel::FRAMES as i64];
const OUTPUT_SHAPE: [i64; 4] = [1, 3, CROP as i64, CROP as i64];

/// The signature, for error messages.
const SIGNATURE: &str =
    "two float32 inputs, face crop [1, 6, 96, 96] and mel window [1, 1, 80, 16], and one float32 output [1, 3, 96, 96]";

/// Why the lip-sync model cannot be opened or run.
#[derive(Debug, thiserror::Error)]
pub(super) enum NeuralError {
    /// The model is unknown, missing, corrupt, or differs from its manifest.
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    /// The manifest's signature is not the one the element feeds.
    #[error("lip-sync model `{name}` (manifest {}): {problem}; reenactlipsync needs {SIGNATURE}", manifest.display())]
    Signature {
        /// Catalog name.
        name: String,
        /// The manifest declaring it.
        manifest: PathBuf,
        /// The first difference.
        problem: String,
    },
    /// The model's output cannot be used.
    #[error("lip-sync model `{name}`: {message}")]
    Output {
        /// Catalog name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// What an input of the model is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Face,
    Mel,
}

fn fits(shape: &[i64], want: &[i64]) -> bool {
    shape.len() == want.len() && shape.iter().zip(want).all(|(&s, &w)| s < 0 || s == w)
}

/// What feeds each declared input, in manifest order, or the first thing wrong.
fn slots(inputs: &[TensorSpec], outputs: &[TensorSpec]) -> Result<Vec<Slot>, String> {
    if inputs.len() != 2 {
        return Err(format!("{} inputs declared, expected two (face crop and mel window)", inputs.len()));
    }
    let mut slots = Vec::with_capacity(2);
    for spec in inputs {
        if spec.dtype != "float32" {
            return Err(format!("input `{}` is {}, not float32", spec.name, spec.dtype));
        }
        let Some(shape) = &spec.shape else {
            return Err(format!("the manifest declares no shape for input `{}`", spec.name));
        };
        if fits(shape, &FACE_SHAPE) {
            slots.push(Slot::Face);
        } else if fits(shape, &MEL_SHAPE) {
            slots.push(Slot::Mel);
        } else {
            return Err(format!(
                "input `{}` has shape {shape:?}, expected {FACE_SHAPE:?} (face crop) or {MEL_SHAPE:?} (mel window)",
                spec.name
            ));
        }
    }
    if slots[0] == slots[1] {
        let what = if slots[0] == Slot::Face { "face crop" } else { "mel window" };
        return Err(format!("both inputs (`{}`, `{}`) take the {what}", inputs[0].name, inputs[1].name));
    }
    match outputs {
        [spec] if spec.dtype != "float32" => Err(format!("output `{}` is {}, not float32", spec.name, spec.dtype)),
        [spec] => match &spec.shape {
            Some(shape) if fits(shape, &OUTPUT_SHAPE) => Ok(slots),
            Some(shape) => Err(format!("output `{}` has shape {shape:?}, expected {OUTPUT_SHAPE:?}", spec.name)),
            None => Err(format!("the manifest declares no shape for output `{}`", spec.name)),
        },
        _ => Err(format!("{} outputs declared, expected one", outputs.len())),
    }
}

/// The face box as Wav2Lip crops it: cheek to cheek across (the mesh's extent), from just
/// above the brows to just below the chin, and not made square: the model sees every face
/// stretched to 96 x 96 as it was trained (`cv2.resize` of the detector's box), and its
/// output is stretched back over the same box.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Crop {
    x0: f32,
    y0: f32,
    w: f32,
    h: f32,
}

impl Crop {
    fn of(landmarks: &[[f32; 3]]) -> Option<Self> {
        let face = crate::facemeta::FaceBox::around(landmarks.iter().map(|p| (p[0], p[1])))?;
        let brows = [&mesh::RIGHT_BROW[..], &mesh::LEFT_BROW]
            .concat()
            .into_iter()
            .filter_map(|i| landmarks.get(i))
            .map(|p| p[1])
            .fold(f32::INFINITY, f32::min);
        // Without the brows (a partial landmark set) the mesh's own top stands in.
        let brows = if brows.is_finite() { brows.max(face.y) } else { face.y };
        let chin = face.y + face.h;
        let top = (brows - ABOVE_BROWS * (chin - brows)).max(face.y);
        let h = (chin - top) / (1.0 - BELOW_CHIN);
        let crop = Self { x0: face.x, y0: top, w: face.w, h };
        (crop.w.is_finite() && crop.h.is_finite() && crop.w >= 8.0 && crop.h >= 8.0).then_some(crop)
    }

    /// Crop pixel centre (`u`, `v`) as a frame point.
    fn to_frame(self, u: usize, v: usize) -> (f32, f32) {
        let (sx, sy) = (self.w / CROP as f32, self.h / CROP as f32);
        (self.x0 + (u as f32 + 0.5) * sx, self.y0 + (v as f32 + 0.5) * sy)
    }

    /// Frame point (`x`, `y`) in crop pixels (centres at whole numbers).
    fn to_crop(self, x: f32, y: f32) -> (f32, f32) {
        ((x - self.x0) * CROP as f32 / self.w - 0.5, (y - self.y0) * CROP as f32 / self.h - 0.5)
    }
}

/// An open lip-sync model.
#[derive(Debug)]
pub(super) struct NeuralLipSync {
    session: OnnxSession,
    /// What feeds each input, manifest order.
    slots: Vec<Slot>,
    /// The face input, reused.
    face: Vec<f32>,
    /// Copy of the frame around the face when painting in place.
    scratch: Vec<u8>,
    /// Model outputs, reused.
    outputs: Vec<Vec<f32>>,
    /// `onnx:<name>@<version>`.
    algorithm: String,
}

impl NeuralLipSync {
    /// Opens model `name` of `catalog` after checking its manifest signature.
    pub(super) fn open(catalog: &Catalog, name: &str, threads: usize) -> Result<Self, NeuralError> {
        let slots = match catalog.entry(name) {
            Some(entry) => slots(&entry.model.inputs, &entry.model.outputs).map_err(|problem| {
                NeuralError::Signature { name: name.to_owned(), manifest: entry.manifest.clone(), problem }
            })?,
            // Unknown: opening says so, naming the places searched.
            None => Vec::new(),
        };
        let options = SessionOptions { intra_threads: threads.max(1), ..SessionOptions::default() };
        let session = OnnxSession::open(catalog, name, options)?;
        let model = &session.entry().model;
        let algorithm = format!("onnx:{}@{}", model.name, model.version);
        Ok(Self { session, slots, face: Vec::new(), scratch: Vec::new(), outputs: vec![Vec::new()], algorithm })
    }

    /// `onnx:<name>@<version>`.
    pub(super) fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// Repaints the mouth of the face with `landmarks` in `frame` from `mel_window` (80 x 16,
    /// band-major), reading the unmodified picture from `source`, or from a copy of the frame
    /// when `None`. Returns the pixels written.
    pub(super) fn apply(
        &mut self,
        frame: &mut FrameMut<'_>,
        source: Option<Picture<'_>>,
        landmarks: &[[f32; 3]],
        mel_window: &[f32],
    ) -> Result<usize, NeuralError> {
        let (Some(region), Some(crop)) = (Region::of(landmarks), Crop::of(landmarks)) else { return Ok(0) };
        let Some(bounds) = region.bounds(frame.width, frame.height) else { return Ok(0) };
        let source = match source {
            Some(picture) => picture,
            None => {
                let clamp = |v: f32, max: usize| (v.max(0.0) as usize).min(max);
                let rect = (
                    clamp(crop.x0.floor(), frame.width),
                    clamp(crop.y0.floor(), frame.height),
                    clamp((crop.x0 + crop.w).ceil(), frame.width),
                    clamp((crop.y0 + crop.h).ceil(), frame.height),
                );
                copy_rect(frame, rect, &mut self.scratch)
            }
        };
        let plane = CROP * CROP;
        self.face.clear();
        self.face.resize(6 * plane, 0.0);
        for v in 0..CROP {
            for u in 0..CROP {
                let (x, y) = crop.to_frame(u, v);
                let rgb = source.sample(x, y);
                for (c, value) in [rgb[2], rgb[1], rgb[0]].into_iter().enumerate() {
                    let value = value / 255.0;
                    self.face[(3 + c) * plane + v * CROP + u] = value;
                    if v < CROP / 2 {
                        self.face[c * plane + v * CROP + u] = value;
                    }
                }
            }
        }
        let inputs: Vec<TensorInput<'_>> = self
            .slots
            .iter()
            .map(|slot| match slot {
                Slot::Face => TensorInput::F32 { shape: &FACE_SHAPE, data: &self.face },
                Slot::Mel => TensorInput::F32 { shape: &MEL_SHAPE, data: mel_window },
            })
            .collect();
        self.session.run_f32(&inputs, &mut self.outputs)?;
        let out = &self.outputs[0];
        if out.len() != 3 * plane {
            return Err(NeuralError::Output {
                name: self.session.entry().model.name.clone(),
                message: format!("the output has {} values, expected {}", out.len(), 3 * plane),
            });
        }
        let (x0, y0, x1, y1) = bounds;
        let max = (CROP - 1) as f32;
        let mut written = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let (lu, lv) = region.local(px, py);
                let m = region.mask(lu, lv);
                let (u, v) = crop.to_crop(px, py);
                if m <= 0.0 || !(u >= -0.5 && v >= -0.5 && u <= max + 0.5 && v <= max + 0.5) {
                    continue;
                }
                let (u, v) = (u.clamp(0.0, max), v.clamp(0.0, max));
                let (u0, v0) = (u as usize, v as usize);
                let (u1, v1) = ((u0 + 1).min(CROP - 1), (v0 + 1).min(CROP - 1));
                let (au, av) = (u - u0 as f32, v - v0 as f32);
                let mut model = [0.0f32; 3];
                for (c, value) in model.iter_mut().enumerate() {
                    // Output channels are BGR.
                    let p = &out[(2 - c) * plane..][..plane];
                    let top = p[v0 * CROP + u0] + (p[v0 * CROP + u1] - p[v0 * CROP + u0]) * au;
                    let bottom = p[v1 * CROP + u0] + (p[v1 * CROP + u1] - p[v1 * CROP + u0]) * au;
                    // NaN becomes 0.
                    *value = (top + (bottom - top) * av).clamp(0.0, 1.0) * 255.0;
                }
                let here = frame.get(x, y).map(f32::from);
                frame.set(x, y, std::array::from_fn(|c| here[c] + (model[c] - here[c]) * m));
                written += 1;
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, shape: &[i64]) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            shape: Some(shape.to_vec()),
            dtype: "float32".into(),
            extra: Default::default(),
        }
    }

    #[test]
    fn inputs_are_told_apart_by_shape() {
        let out = [spec("out", &[1, 3, 96, 96])];
        assert_eq!(
            slots(&[spec("audio_sequences", &[-1, 1, 80, 16]), spec("face_sequences", &[-1, 6, 96, 96])], &out),
            Ok(vec![Slot::Mel, Slot::Face])
        );
        let err = slots(&[spec("mel", &[1, 1, 80, 16]), spec("face", &[1, 6, 128, 128])], &out).expect_err("size");
        assert!(err.contains("`face`") && err.contains("[1, 6, 128, 128]") && err.contains("[1, 6, 96, 96]"), "{err}");
        let err = slots(&[spec("mel", &[1, 1, 80, 16])], &out).expect_err("count");
        assert!(err.contains("1 inputs"), "{err}");
        let err = slots(&[spec("a", &[1, 1, 80, 16]), spec("b", &[1, 1, 80, 16])], &out).expect_err("twice");
        assert!(err.contains("mel window"), "{err}");
        let err = slots(&[spec("mel", &[1, 1, 80, 16]), spec("face", &[1, 6, 96, 96])], &[spec("o", &[1, 3, 64, 64])])
            .expect_err("output");
        assert!(err.contains("`o`") && err.contains("[1, 3, 96, 96]"), "{err}");
    }

    /// A mesh whose points span a 100 x 200 box at (10, 20), brows at y = 70.
    fn face() -> Vec<[f32; 3]> {
        let mut l = vec![[60.0, 120.0, 0.0]; 468];
        l[0] = [10.0, 20.0, 0.0];
        l[1] = [110.0, 220.0, 0.0];
        for i in mesh::RIGHT_BROW.into_iter().chain(mesh::LEFT_BROW) {
            l[i] = [60.0, 70.0, 0.0];
        }
        l
    }

    #[test]
    fn the_crop_is_the_face_box_from_above_the_brows_to_below_the_chin() {
        let crop = Crop::of(&face()).expect("crop");
        // Brows to chin is 150: the box starts 15 above the brows and leaves 4 % below the chin.
        let h = (220.0 - 55.0) / 0.96;
        assert_eq!(crop, Crop { x0: 10.0, y0: 55.0, w: 100.0, h });
        // Not square: each axis is stretched on its own, and the two mappings undo each other.
        let (x, y) = crop.to_frame(0, 95);
        assert!((x - (10.0 + 0.5 * 100.0 / 96.0)).abs() < 1e-4 && (y - (55.0 + 95.5 * h / 96.0)).abs() < 1e-3);
        let (u, v) = crop.to_crop(x, y);
        assert!(u.abs() < 1e-3 && (v - 95.0).abs() < 1e-3, "({u}, {v})");
        // The chin row sits 4 % of the crop above its bottom edge.
        let (_, chin) = crop.to_crop(60.0, 220.0);
        assert!((chin - (96.0 * 0.96 - 0.5)).abs() < 1e-3, "{chin}");
    }

    #[test]
    fn without_brows_the_crop_starts_at_the_mesh_top() {
        let crop = Crop::of(&face()[..2]).expect("crop");
        assert_eq!(crop.y0, 20.0);
        let tiny = [[0.0, 0.0, 0.0], [4.0, 4.0, 0.0]];
        assert_eq!(Crop::of(&tiny), None, "too small to crop");
    }
}
