// SPDX-License-Identifier: MPL-2.0
//! The face enhancer that can follow the swap: a 512 px face restoration model (GFPGAN 1.4,
//! GPEN-BFR-512, or CodeFormer with its fidelity weight) run on the swapped face aligned to
//! the FFHQ 512 template, as those models were trained, and pasted back through the same mask
//! as the swap, blended by a strength. Swap models work at 128 px, so on a face larger than
//! that the swap alone looks soft; restoring it is what Deep-Live-Cam and FaceFusion users
//! turn on. No GStreamer here.

use reenact_models::{Catalog, ExecutionProvider, OnnxSession, SessionOptions, TensorInput, TensorSpec};

use super::mask::{FrameMut, Mask};
use super::neural::{aligned_input, check_spec, five_points, paste_crop, NeuralError, PixelContract, Similarity};

/// Side of the restoration models' square crop.
pub(super) const ENHANCE_SIZE: usize = 512;

/// The FFHQ alignment used to train the 512 px restorers (eyes, nose tip, mouth corners), as
/// fractions of the crop side.
const FFHQ_512: [(f32, f32); 5] = [
    (0.376_916_75, 0.468_646_65),
    (0.622_857, 0.469_128_14),
    (0.501_238_6, 0.613_319_04),
    (0.393_088_22, 0.725_411),
    (0.611_502_05, 0.724_904_65),
];

const ENHANCE_SIGNATURE: &str = "one image input [1, 3, 512, 512] (and for CodeFormer a float32 fidelity weight [1]), \
     one output [1, 3, 512, 512], float32";

/// What feeds each input of the restoration model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    Picture,
    Fidelity,
}

/// An open face restoration model.
#[derive(Debug)]
pub(super) struct FaceEnhancer {
    session: OnnxSession,
    feeds: Vec<Feed>,
    input: PixelContract,
    output: PixelContract,
    /// The aligned face, reused.
    crop: Vec<f32>,
    outputs: Vec<Vec<f32>>,
    algorithm: String,
}

impl FaceEnhancer {
    /// Opens restoration model `model` of `catalog` after checking its signature.
    pub(super) fn open(catalog: &Catalog, model: &str, threads: usize) -> Result<Self, NeuralError> {
        let entry = catalog.entry(model);
        let (feeds, input, output) = match entry {
            Some(entry) => {
                signature(&entry.model.inputs, &entry.model.outputs).map_err(|problem| NeuralError::Signature {
                    role: "enhancer",
                    name: model.to_owned(),
                    manifest: entry.manifest.clone(),
                    problem,
                    expected: ENHANCE_SIGNATURE,
                })?
            }
            None => (vec![Feed::Picture], PixelContract::default(), PixelContract::default()),
        };
        let options = SessionOptions { intra_threads: threads.max(1), ..SessionOptions::default() };
        let session = OnnxSession::open(catalog, model, options)?;
        let algorithm = format!("onnx:{}@{}", session.entry().model.name, session.entry().model.version);
        Ok(Self { session, feeds, input, output, crop: Vec::new(), outputs: vec![Vec::new()], algorithm })
    }

    /// `onnx:<name>@<version>`.
    pub(super) fn algorithm(&self) -> &str {
        &self.algorithm
    }

    pub(super) fn provider(&self) -> ExecutionProvider {
        self.session.provider()
    }

    /// Restores the face with `landmarks` in `frame` (already swapped) inside `mask`, blended
    /// by `strength` (0 = the swap as it is, 1 = the restored face). `fidelity` feeds
    /// CodeFormer's weight. Returns the pixels written.
    pub(super) fn enhance(
        &mut self,
        frame: &mut FrameMut<'_>,
        landmarks: &[[f32; 3]],
        mask: &Mask,
        (strength, fidelity): (f32, f32),
    ) -> Result<usize, NeuralError> {
        if strength <= 0.0 {
            return Ok(0);
        }
        let Some(points) = five_points(landmarks) else { return Ok(0) };
        let template = FFHQ_512.map(|(x, y)| (x * ENHANCE_SIZE as f32, y * ENHANCE_SIZE as f32));
        let Some(to_crop) = Similarity::estimate(&points, &template) else { return Ok(0) };
        let Some(to_frame) = to_crop.inverse() else { return Ok(0) };
        let size = (frame.width, frame.height);
        aligned_input(size, |x, y| frame.get(x, y), &to_frame, (ENHANCE_SIZE, self.input), &mut self.crop);
        let picture_shape = [1, 3, ENHANCE_SIZE as i64, ENHANCE_SIZE as i64];
        let weight = [fidelity];
        let inputs: Vec<TensorInput<'_>> = self
            .feeds
            .iter()
            .map(|feed| match feed {
                Feed::Picture => TensorInput::F32 { shape: &picture_shape, data: &self.crop },
                Feed::Fidelity => TensorInput::F32 { shape: &[1], data: &weight },
            })
            .collect();
        self.session.run_f32(&inputs, &mut self.outputs)?;
        let out = &self.outputs[0];
        if out.len() != 3 * ENHANCE_SIZE * ENHANCE_SIZE {
            return Err(NeuralError::Output {
                name: self.session.entry().model.name.clone(),
                message: format!(
                    "enhancer output has {} values, expected {}",
                    out.len(),
                    3 * ENHANCE_SIZE * ENHANCE_SIZE
                ),
            });
        }
        Ok(paste_crop(frame, (out, ENHANCE_SIZE, self.output), &to_crop, mask, strength.min(1.0)))
    }
}

/// The feeds and pixel contracts of a restoration model's manifest tensors, or the first
/// difference from [`ENHANCE_SIGNATURE`].
fn signature(
    inputs: &[TensorSpec],
    outputs: &[TensorSpec],
) -> Result<(Vec<Feed>, PixelContract, PixelContract), String> {
    let picture = [1, 3, ENHANCE_SIZE as i64, ENHANCE_SIZE as i64];
    let [output] = outputs else { return Err(format!("{} outputs, expected one", outputs.len())) };
    check_spec(output, &picture)?;
    let mut feeds = Vec::with_capacity(inputs.len());
    let mut contract = None;
    for spec in inputs {
        let is_weight = spec.shape.as_deref().is_some_and(|shape| shape.iter().product::<i64>().abs() <= 1);
        if is_weight {
            if spec.dtype != "float32" {
                return Err(format!("fidelity weight `{}` is {}, not float32", spec.name, spec.dtype));
            }
            feeds.push(Feed::Fidelity);
        } else {
            check_spec(spec, &picture)?;
            contract = Some(PixelContract::of(spec));
            feeds.push(Feed::Picture);
        }
    }
    let input = contract.ok_or_else(|| "no image input [1, 3, 512, 512]".to_owned())?;
    if feeds.len() > 2 || feeds.iter().filter(|f| **f == Feed::Picture).count() != 1 {
        return Err(format!("{} inputs, expected the image and at most a fidelity weight", inputs.len()));
    }
    Ok((feeds, input, PixelContract::of(output)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, shape: &[i64], dtype: &str) -> TensorSpec {
        TensorSpec { name: name.into(), shape: Some(shape.to_vec()), dtype: dtype.into(), extra: Default::default() }
    }

    #[test]
    fn restorer_signatures_are_checked() {
        let image = spec("input", &[1, 3, 512, 512], "float32");
        let out = spec("output", &[1, 3, 512, 512], "float32");
        let (feeds, _, _) = signature(std::slice::from_ref(&image), std::slice::from_ref(&out)).expect("GFPGAN");
        assert_eq!(feeds, [Feed::Picture]);
        let weight = spec("weight", &[1], "float32");
        let (feeds, _, _) = signature(&[image.clone(), weight], std::slice::from_ref(&out)).expect("CodeFormer");
        assert_eq!(feeds, [Feed::Picture, Feed::Fidelity]);
        let double = spec("weight", &[1], "float64");
        assert!(signature(&[image.clone(), double], std::slice::from_ref(&out)).unwrap_err().contains("float64"));
        let small = spec("input", &[1, 3, 256, 256], "float32");
        assert!(signature(&[small], std::slice::from_ref(&out)).unwrap_err().contains("[1, 3, 512, 512]"));
        assert!(signature(&[image], &[]).unwrap_err().contains("0 outputs"));
    }

    #[test]
    fn the_ffhq_template_keeps_the_face_upright_and_centred() {
        let [right_eye, left_eye, nose, mouth_a, mouth_b] = FFHQ_512;
        assert!(right_eye.0 < nose.0 && nose.0 < left_eye.0);
        assert!((right_eye.1 - left_eye.1).abs() < 0.01 && nose.1 > right_eye.1 && mouth_a.1 > nose.1);
        assert!(((mouth_a.0 + mouth_b.0) / 2.0 - 0.5).abs() < 0.01);
    }
}
