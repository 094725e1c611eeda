// SPDX-License-Identifier: MPL-2.0
//! The portrait-animation slot: LivePortrait's four modules, as `reenact models import --as
//! portrait-animation` recognises them, fed the way LivePortrait feeds them.
//!
//! Once, on the character's portrait: its face crop (256 px, RGB 0..1 NCHW unless the manifest
//! states another range or order) gives the appearance feature volume ([1, 32, 16, 64, 64])
//! and the portrait's own motion (pose, expression, scale, translation, canonical keypoints).
//! Each frame, on the performer's face crop found from our tracker's landmarks (not
//! InsightFace's detector): the motion model's answer becomes driving keypoints relative to the
//! performer's first crop ([`drive`]), the stitching module corrects them, and the warping
//! module (warping network and SPADE generator) renders the animated portrait crop, 512 px.
//! No GStreamer here.

use std::path::PathBuf;

use reenact_models::{
    Catalog, CatalogEntry, ExecutionProvider, ModelError, OnnxError, OnnxSession, SessionOptions, TensorInput,
    PORTRAIT_ANIMATION_MODULES,
};

use super::crop::{CropBox, SOURCE_CROP};
use super::motion::{drive, stitch, stitching_input, Keypoints, Motion, KEYPOINTS, OUTPUTS, STITCH_IN, STITCH_OUT};
use crate::character::RgbaImage;
use crate::faceswap::mask::FrameMut;
use crate::faceswap::neural::{aligned_input, check_spec, PixelContract, Similarity};

/// Side of the crops the appearance and motion modules take.
pub(super) const INPUT_SIZE: usize = 256;
/// Side of the animated crop the warping module renders.
pub(super) const OUTPUT_SIZE: usize = 512;
/// The appearance feature volume.
const FEATURE_SHAPE: [i64; 5] = [1, 32, 16, 64, 64];
const IMAGE_SHAPE: [i64; 4] = [1, 3, INPUT_SIZE as i64, INPUT_SIZE as i64];
const KEYPOINT_SHAPE: [i64; 3] = [1, KEYPOINTS as i64, 3];

/// One of the four modules: how the catalog names it and what it must look like.
#[derive(Debug, Clone, Copy)]
pub(super) struct Role {
    /// What the user calls it.
    pub(super) name: &'static str,
    /// The signature `reenact models import` gives it.
    signature: &'static str,
    /// Its catalog task.
    task: &'static str,
    /// The file LivePortrait's ONNX exports call it.
    file: &'static str,
    /// Its inputs and outputs, for errors.
    expected: &'static str,
}

pub(super) const APPEARANCE: Role = Role {
    name: "appearance",
    signature: PORTRAIT_ANIMATION_MODULES[0].0,
    task: PORTRAIT_ANIMATION_MODULES[0].1,
    file: PORTRAIT_ANIMATION_MODULES[0].2,
    expected: "one input [1, 3, 256, 256] and one output [1, 32, 16, 64, 64]",
};
pub(super) const MOTION: Role = Role {
    name: "motion",
    signature: PORTRAIT_ANIMATION_MODULES[1].0,
    task: PORTRAIT_ANIMATION_MODULES[1].1,
    file: PORTRAIT_ANIMATION_MODULES[1].2,
    expected: "one input [1, 3, 256, 256] and seven outputs: pitch, yaw, roll [1, 66], t [1, 3], exp [1, 63], \
               scale [1, 1], kp [1, 63]",
};
pub(super) const WARPING: Role = Role {
    name: "warping",
    signature: PORTRAIT_ANIMATION_MODULES[2].0,
    task: PORTRAIT_ANIMATION_MODULES[2].1,
    file: PORTRAIT_ANIMATION_MODULES[2].2,
    expected: "inputs feature_3d [1, 32, 16, 64, 64], kp_source and kp_driving [1, 21, 3], one output \
               [1, 3, 512, 512]",
};
pub(super) const STITCHING: Role = Role {
    name: "stitching",
    signature: PORTRAIT_ANIMATION_MODULES[3].0,
    task: PORTRAIT_ANIMATION_MODULES[3].1,
    file: PORTRAIT_ANIMATION_MODULES[3].2,
    expected: "one input [1, 126] and one output [1, 65]",
};

/// Why the animator cannot be opened or run.
#[derive(Debug, thiserror::Error)]
pub(super) enum AnimateError {
    /// A model is unknown, missing, corrupt, or differs from its manifest.
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    /// No model of a role is in the catalog and none was named.
    #[error(
        "no LivePortrait {} module in the model catalog (searched: {searched}); import LivePortrait's \
         {} with `reenact models import FILE --as portrait-animation`, or name one with {}-model",
        role.name, role.file, role.name
    )]
    Missing {
        /// The module.
        role: &'static Role,
        /// The directories whose manifests were read.
        searched: String,
    },
    /// The manifest's signature is not the one the slot feeds.
    #[error(
        "{} model `{name}` (manifest {}): {problem}; reenactanimate needs {}",
        role.name, manifest.display(), role.expected
    )]
    Signature {
        /// The module.
        role: &'static Role,
        /// Catalog name.
        name: String,
        /// The manifest declaring it.
        manifest: PathBuf,
        /// The first difference.
        problem: String,
    },
    /// The portrait has no usable face.
    #[error("the character portrait: {0}")]
    Portrait(String),
    /// A model's output cannot be used.
    #[error("{} model `{name}`: {message}", role.name)]
    Output {
        /// The module.
        role: &'static Role,
        /// Catalog name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// The models to use: catalog names, or `None` for the catalog's first of each role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ModelNames {
    pub(super) appearance: Option<String>,
    pub(super) motion: Option<String>,
    pub(super) warping: Option<String>,
    pub(super) stitching: Option<String>,
    /// Whether the stitching module runs.
    pub(super) stitch: bool,
}

/// The catalog entry for `role`: the one named, or the first recognised as that module.
fn resolve<'a>(
    catalog: &'a Catalog,
    role: &'static Role,
    name: Option<&str>,
) -> Result<&'a CatalogEntry, AnimateError> {
    match name {
        Some(name) => catalog.entry(name).ok_or_else(|| {
            let unknown = ModelError::Unknown {
                name: name.to_owned(),
                searched: catalog.searched_dirs().to_vec(),
                absent: catalog.absent_dirs().to_vec(),
            };
            OnnxError::from(unknown).into()
        }),
        None => catalog.first_of(role.signature, role.task).ok_or_else(|| AnimateError::Missing {
            role,
            searched: catalog.searched_dirs().iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
        }),
    }
}

/// Checks `entry`'s inputs and outputs against `inputs` and `outputs` (shapes, in order
/// unless named), and returns each wanted input's position in the manifest.
fn check(
    entry: &CatalogEntry,
    role: &'static Role,
    inputs: &[(&str, &[i64])],
    outputs: &[&[i64]],
) -> Result<Vec<usize>, AnimateError> {
    let fail = |problem: String| AnimateError::Signature {
        role,
        name: entry.model.name.clone(),
        manifest: entry.manifest.clone(),
        problem,
    };
    let model = &entry.model;
    if model.inputs.len() != inputs.len() || model.outputs.len() != outputs.len() {
        return Err(fail(format!("{} inputs and {} outputs", model.inputs.len(), model.outputs.len())));
    }
    let mut order = Vec::with_capacity(inputs.len());
    for (i, (name, shape)) in inputs.iter().enumerate() {
        // Named inputs are found by name (exports differ in their order), the others by place.
        let at = if name.is_empty() { Some(i) } else { model.inputs.iter().position(|s| s.name == *name) };
        let at = at.ok_or_else(|| fail(format!("no input named `{name}`")))?;
        check_spec(&model.inputs[at], shape).map_err(fail)?;
        order.push(at);
    }
    for (spec, shape) in model.outputs.iter().zip(outputs) {
        check_spec(spec, shape).map_err(fail)?;
    }
    Ok(order)
}

/// The position of each of the motion model's outputs (pitch, yaw, roll, t, exp, scale, kp):
/// by name when the export kept LivePortrait's names, else in the order it declares them.
fn motion_order(entry: &CatalogEntry) -> [usize; 7] {
    let by_name = OUTPUTS.map(|(name, _)| entry.model.outputs.iter().position(|s| s.name == name));
    if by_name.iter().all(Option::is_some) {
        by_name.map(|p| p.unwrap_or_default())
    } else {
        std::array::from_fn(|i| i)
    }
}

/// The appearance feature volume of a portrait crop.
fn appearance_features(appearance: &mut OnnxSession, input: &[f32]) -> Result<Vec<f32>, AnimateError> {
    let mut out = vec![Vec::new()];
    appearance.run_f32(&[TensorInput::F32 { shape: &IMAGE_SHAPE, data: input }], &mut out)?;
    let want: i64 = FEATURE_SHAPE.iter().product();
    if out[0].len() as i64 != want {
        let name = appearance.entry().model.name.clone();
        let message = format!("{} values, expected {want}", out[0].len());
        return Err(AnimateError::Output { role: &APPEARANCE, name, message });
    }
    Ok(std::mem::take(&mut out[0]))
}

/// The motion model's reading of a face crop.
fn run_motion(
    motion: &mut OnnxSession,
    order: [usize; 7],
    input: &[f32],
    out: &mut [Vec<f32>],
) -> Result<Motion, AnimateError> {
    motion.run_f32(&[TensorInput::F32 { shape: &IMAGE_SHAPE, data: input }], out)?;
    let outputs = order.map(|i| out[i].as_slice());
    Motion::from_outputs(&outputs).map_err(|message| AnimateError::Output {
        role: &MOTION,
        name: motion.entry().model.name.clone(),
        message,
    })
}

/// The four modules with the character's appearance and motion, ready to be driven.
#[derive(Debug)]
pub(super) struct Animator {
    motion: OnnxSession,
    warping: OnnxSession,
    stitching: Option<OnnxSession>,
    /// Manifest positions of the motion model's outputs, in [`OUTPUTS`] order.
    motion_order: [usize; 7],
    /// Manifest positions of feature_3d, kp_source and kp_driving.
    warp_order: [usize; 3],
    /// Pixel contracts of the motion model's input and the warping model's output.
    motion_pixels: PixelContract,
    output_pixels: PixelContract,
    /// The portrait's appearance feature volume.
    feature: Vec<f32>,
    /// The portrait's motion and its keypoints.
    source: Motion,
    source_keypoints: Keypoints,
    /// The performer's first crop since start or the last flush.
    reference: Option<Motion>,
    /// Whether motion is taken relative to `reference`.
    relative: bool,
    /// Map from portrait pixels to the animated crop's.
    portrait_to_crop: Similarity,
    input: Vec<f32>,
    motion_out: Vec<Vec<f32>>,
    stitch_out: Vec<Vec<f32>>,
    warp_out: Vec<Vec<f32>>,
    /// `liveportrait:onnx:<appearance>@<v>+<motion>@<v>+<warping>@<v>[+<stitching>@<v>]`.
    algorithm: String,
}

impl Animator {
    /// Opens the modules named by `names` (or found in `catalog`), and reads the character's
    /// appearance and motion from `portrait` and its 468 landmarks.
    pub(super) fn open(
        catalog: &Catalog,
        names: &ModelNames,
        portrait: (&RgbaImage, &[[f32; 3]]),
        relative: bool,
        threads: usize,
    ) -> Result<Self, AnimateError> {
        let appearance = resolve(catalog, &APPEARANCE, names.appearance.as_deref())?;
        let motion = resolve(catalog, &MOTION, names.motion.as_deref())?;
        let warping = resolve(catalog, &WARPING, names.warping.as_deref())?;
        let stitching =
            if names.stitch { Some(resolve(catalog, &STITCHING, names.stitching.as_deref())?) } else { None };
        check(appearance, &APPEARANCE, &[("", &IMAGE_SHAPE)], &[&FEATURE_SHAPE])?;
        // Each output is checked where it will be read from: by name, or in declared order.
        let motion_order = motion_order(motion);
        let mut shapes = [[1i64, 0]; 7];
        for (&at, (_, len)) in motion_order.iter().zip(OUTPUTS) {
            // A model with other than seven outputs is refused by the check itself.
            if let Some(shape) = shapes.get_mut(at) {
                *shape = [1, len as i64];
            }
        }
        check(motion, &MOTION, &[("", &IMAGE_SHAPE)], &shapes.each_ref().map(|s| s.as_slice()))?;
        let order = check(
            warping,
            &WARPING,
            &[("feature_3d", &FEATURE_SHAPE), ("kp_source", &KEYPOINT_SHAPE), ("kp_driving", &KEYPOINT_SHAPE)],
            &[&[1, 3, OUTPUT_SIZE as i64, OUTPUT_SIZE as i64]],
        )?;
        if let Some(stitching) = stitching {
            check(stitching, &STITCHING, &[("", &[1, STITCH_IN as i64])], &[&[1, STITCH_OUT as i64]])?;
        }
        let options = SessionOptions { intra_threads: threads.max(1), ..SessionOptions::default() };
        let open = |entry: &CatalogEntry| OnnxSession::open(catalog, &entry.model.name, options);
        let version = |entry: &CatalogEntry| format!("{}@{}", entry.model.name, entry.model.version);
        let mut modules = vec![version(appearance), version(motion), version(warping)];
        modules.extend(stitching.map(version));
        let pixels = |entry: &CatalogEntry| entry.model.inputs.first().map(PixelContract::of).unwrap_or_default();
        let motion_pixels = pixels(motion);
        let mut motion = open(motion)?;
        let mut motion_out = vec![Vec::new(); OUTPUTS.len()];

        let (image, landmarks) = portrait;
        let no_face = || AnimateError::Portrait("its landmarks give no face crop".into());
        let crop = CropBox::around(landmarks, SOURCE_CROP).ok_or_else(no_face)?;
        let to_input = crop.to_picture(INPUT_SIZE).ok_or_else(no_face)?;
        let portrait_to_crop = crop.to_picture(OUTPUT_SIZE).and_then(|s| s.inverse()).ok_or_else(no_face)?;
        let (w, h) = (image.width as usize, image.height as usize);
        let get = |x: usize, y: usize| {
            let i = (y * w + x) * 4;
            [image.data[i], image.data[i + 1], image.data[i + 2]]
        };
        let mut input = Vec::new();
        aligned_input((w, h), get, &to_input, (INPUT_SIZE, pixels(appearance)), &mut input);
        let feature = appearance_features(&mut open(appearance)?, &input)?;
        aligned_input((w, h), get, &to_input, (INPUT_SIZE, motion_pixels), &mut input);
        let source = run_motion(&mut motion, motion_order, &input, &mut motion_out)?;
        let mut animator = Self {
            motion,
            warping: open(warping)?,
            stitching: stitching.map(open).transpose()?,
            motion_order,
            warp_order: [order[0], order[1], order[2]],
            motion_pixels,
            output_pixels: warping.model.outputs.first().map(PixelContract::of).unwrap_or_default(),
            feature,
            source_keypoints: source.keypoints(),
            source,
            reference: None,
            relative,
            portrait_to_crop,
            input,
            motion_out,
            stitch_out: vec![Vec::new()],
            warp_out: vec![Vec::new()],
            algorithm: format!("liveportrait:onnx:{}", modules.join("+")),
        };
        // The rest picture: the portrait as its own driver, shown until a face is seen.
        animator.render(animator.source_keypoints)?;
        Ok(animator)
    }

    /// Drives the portrait with the performer's face in `frame` (landmarks in frame pixels);
    /// false when the landmarks give no crop and the picture is left as it was.
    pub(super) fn drive(&mut self, frame: &FrameMut<'_>, landmarks: &[[f32; 3]]) -> Result<bool, AnimateError> {
        let Some(to_frame) =
            CropBox::around(landmarks, super::crop::DRIVING_CROP).and_then(|c| c.to_picture(INPUT_SIZE))
        else {
            return Ok(false);
        };
        let size = (frame.width, frame.height);
        aligned_input(size, |x, y| frame.get(x, y), &to_frame, (INPUT_SIZE, self.motion_pixels), &mut self.input);
        let motion = run_motion(&mut self.motion, self.motion_order, &self.input, &mut self.motion_out)?;
        if self.relative && self.reference.is_none() {
            self.reference = Some(motion.clone());
        }
        let reference = if self.relative { self.reference.as_ref() } else { None };
        let keypoints = drive(&self.source, &motion, reference);
        self.render(keypoints)?;
        Ok(true)
    }

    /// Stitches `driving` (when the stitching module runs) and renders the animated crop.
    fn render(&mut self, mut driving: Keypoints) -> Result<(), AnimateError> {
        if let Some(stitching) = self.stitching.as_mut() {
            let input = stitching_input(&self.source_keypoints, &driving);
            stitching
                .run_f32(&[TensorInput::F32 { shape: &[1, STITCH_IN as i64], data: &input }], &mut self.stitch_out)?;
            let delta: &[f32; STITCH_OUT] =
                self.stitch_out[0].as_slice().try_into().map_err(|_| AnimateError::Output {
                    role: &STITCHING,
                    name: stitching.entry().model.name.clone(),
                    message: format!("{} values, expected {STITCH_OUT}", self.stitch_out[0].len()),
                })?;
            stitch(&mut driving, delta);
        }
        let source: Vec<f32> = self.source_keypoints.iter().flatten().copied().collect();
        let driving: Vec<f32> = driving.iter().flatten().copied().collect();
        let mut inputs = [TensorInput::F32 { shape: &FEATURE_SHAPE, data: &self.feature }; 3];
        inputs[self.warp_order[1]] = TensorInput::F32 { shape: &KEYPOINT_SHAPE, data: &source };
        inputs[self.warp_order[2]] = TensorInput::F32 { shape: &KEYPOINT_SHAPE, data: &driving };
        inputs[self.warp_order[0]] = TensorInput::F32 { shape: &FEATURE_SHAPE, data: &self.feature };
        self.warping.run_f32(&inputs, &mut self.warp_out)?;
        let want = 3 * OUTPUT_SIZE * OUTPUT_SIZE;
        if self.warp_out[0].len() != want || self.warp_out[0].iter().any(|v| v.is_nan()) {
            return Err(AnimateError::Output {
                role: &WARPING,
                name: self.warping.entry().model.name.clone(),
                message: format!("{} values (NaN among them?), expected {want}", self.warp_out[0].len()),
            });
        }
        Ok(())
    }

    /// Forgets the performer's reference crop: the next face becomes the neutral one.
    pub(super) fn reset(&mut self) {
        self.reference = None;
    }

    /// The animated crop (3 x 512 x 512 NCHW) and how its values read.
    pub(super) fn picture(&self) -> (&[f32], PixelContract) {
        (&self.warp_out[0], self.output_pixels)
    }

    /// The map from portrait pixels to the animated crop's.
    pub(super) fn portrait_to_crop(&self) -> &Similarity {
        &self.portrait_to_crop
    }

    /// Where the warping model, the heaviest module, runs.
    pub(super) fn provider(&self) -> ExecutionProvider {
        self.warping.provider()
    }

    /// The modules and their versions, for render metadata.
    pub(super) fn algorithm(&self) -> &str {
        &self.algorithm
    }
}
