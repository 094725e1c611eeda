// SPDX-License-Identifier: MPL-2.0
//! The ONNX swapper slot. The conventional signature (inswapper-style):
//!
//! - input `target` [1, 3, 128, 128]: the performer's face aligned by the similarity transform
//!   that best maps its five points (eye centres, nose tip, mouth corners) onto the ArcFace
//!   template, placed in 128 px as insightface's `estimate_norm` does (template + 8 px in x);
//!   RGB, 0..1, NCHW;
//! - input `source` [1, 512] (optional): the character's identity embedding, L2-normalised;
//! - output `output` [1, 3, 128, 128]: the swapped face, RGB 0..1 NCHW, pasted back through the
//!   inverse transform with the face mask.
//!
//! The embedding comes from an identity model ([1, 3, 112, 112] portrait aligned to the
//! ArcFace template, RGB 0..1 NCHW -> [1, 512]) run once on the character portrait.
//!
//! Models imported with `reenact models import` carry the contract they were trained with in
//! their manifest, and it is followed: an input's `range` ([-1, 1] for InsightFace's ArcFace:
//! (x - 127.5) / 127.5) and `color` (`BGR` swaps channels), and the swapper's `source`
//! `projection = "emap:<initializer>"` (inswapper_128): the normalised embedding is multiplied
//! by the model's own `emap` matrix, read from the file, and normalised again, as InsightFace
//! does. There is
//! no fallback: a swap model that takes `source` without an identity model set is an error at
//! start, because no made-up vector would mean anything to a trained swapper. Coordinates
//! here follow OpenCV (pixel centres at integers). No GStreamer here.

use std::path::PathBuf;

use reenact_models::{
    read_initializer_f32, Catalog, ExecutionProvider, OnnxError, OnnxSession, SessionOptions, SignatureError,
    TensorInput, TensorSpec,
};

use crate::character::mesh::{LEFT_EYE, MOUTH_CORNERS, RIGHT_EYE};
use crate::character::RgbaImage;
use crate::facemeta::LANDMARK_COUNT;

use super::mask::{FrameMut, Mask};

/// Side of the swap model's square input and output.
pub(super) const SWAP_SIZE: usize = 128;

/// Side of the identity model's input.
pub(super) const IDENTITY_SIZE: usize = 112;

/// Length of the identity embedding.
pub(super) const EMBEDDING_LEN: usize = 512;

/// The ArcFace alignment template in a 112 px crop (image-left eye, image-right eye, nose tip,
/// image-left and image-right mouth corners).
const ARCFACE_112: [(f32, f32); 5] =
    [(38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366), (41.5493, 92.3655), (70.7299, 92.2041)];

/// Mesh landmark of the nose tip.
const NOSE_TIP: usize = 1;

/// Why the swapper cannot be opened or run.
#[derive(Debug, thiserror::Error)]
pub(super) enum NeuralError {
    /// The model is unknown, missing, corrupt, or differs from its manifest.
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    /// The manifest's signature is not the one the element feeds.
    #[error(
        "{role} model `{name}` (manifest {}): {problem}; reenactfaceswap needs {expected}",
        manifest.display()
    )]
    Signature {
        /// `swap` or `identity`.
        role: &'static str,
        /// Catalog name.
        name: String,
        /// The manifest declaring it.
        manifest: PathBuf,
        /// The first difference.
        problem: String,
        /// The signature wanted.
        expected: &'static str,
    },
    /// The swap model takes an embedding and none can be computed.
    #[error(
        "swap model `{name}` takes an identity embedding (input `source` [1, 512]) but no \
         identity-model is set; set identity-model to an embedding model ([1, 3, 112, 112] -> [1, 512])"
    )]
    NeedsIdentity {
        /// Catalog name of the swap model.
        name: String,
    },
    /// The identity model's output cannot be used.
    #[error("identity model `{name}`: {message}")]
    Identity {
        /// Catalog name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The portrait cannot be aligned.
    #[error("the character portrait: {0}")]
    Portrait(String),
    /// The swap model's `emap` projection cannot be read.
    #[error("swap model `{name}`: the emap projection: {source}")]
    Projection {
        /// Catalog name.
        name: String,
        /// Why.
        #[source]
        source: SignatureError,
    },
    /// The swap model's output cannot be used.
    #[error("swap model `{name}`: {message}")]
    Output {
        /// Catalog name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

const SWAP_SIGNATURE: &str =
    "inputs `target` [1, 3, 128, 128] and optionally `source` [1, 512], one output `output` [1, 3, 128, 128], float32";
const IDENTITY_SIGNATURE: &str = "one input [1, 3, 112, 112] and one output [1, 512], float32";

/// A 2-D similarity transform: (x, y) -> (a x - b y + tx, b x + a y + ty).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Similarity {
    a: f32,
    b: f32,
    tx: f32,
    ty: f32,
}

impl Similarity {
    /// Least-squares similarity mapping `src` onto `dst` (Umeyama, no reflection); `None` when
    /// the source points coincide.
    pub(crate) fn estimate(src: &[(f32, f32)], dst: &[(f32, f32)]) -> Option<Self> {
        let n = src.len().min(dst.len());
        if n < 2 {
            return None;
        }
        let mean = |pts: &[(f32, f32)]| {
            let (sx, sy) = pts[..n].iter().fold((0.0f64, 0.0f64), |a, p| (a.0 + f64::from(p.0), a.1 + f64::from(p.1)));
            (sx / n as f64, sy / n as f64)
        };
        let (ps, qs) = (mean(src), mean(dst));
        let (mut norm, mut dot, mut cross) = (0.0f64, 0.0f64, 0.0f64);
        for (p, q) in src[..n].iter().zip(&dst[..n]) {
            let (px, py) = (f64::from(p.0) - ps.0, f64::from(p.1) - ps.1);
            let (qx, qy) = (f64::from(q.0) - qs.0, f64::from(q.1) - qs.1);
            norm += px * px + py * py;
            dot += px * qx + py * qy;
            cross += px * qy - py * qx;
        }
        if norm.is_nan() || norm <= 1e-9 {
            return None;
        }
        let (a, b) = (dot / norm, cross / norm);
        let tx = qs.0 - (a * ps.0 - b * ps.1);
        let ty = qs.1 - (b * ps.0 + a * ps.1);
        let t = Self { a: a as f32, b: b as f32, tx: tx as f32, ty: ty as f32 };
        [t.a, t.b, t.tx, t.ty].iter().all(|v| v.is_finite()).then_some(t)
    }

    /// Maps one point.
    #[inline]
    pub(crate) fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        (self.a * x - self.b * y + self.tx, self.b * x + self.a * y + self.ty)
    }

    /// The inverse transform; `None` for a zero scale.
    pub(crate) fn inverse(&self) -> Option<Self> {
        let s = self.a * self.a + self.b * self.b;
        if s.is_nan() || s <= 1e-12 {
            return None;
        }
        let (a, b) = (self.a / s, -self.b / s);
        Some(Self { a, b, tx: -(a * self.tx - b * self.ty), ty: -(b * self.tx + a * self.ty) })
    }
}

/// The five alignment points of a face from its mesh landmarks, OpenCV pixel convention.
pub(super) fn five_points(landmarks: &[[f32; 3]]) -> Option<[(f32, f32); 5]> {
    if landmarks.len() != LANDMARK_COUNT {
        return None;
    }
    let centre = |ids: &[usize]| {
        let (sx, sy) = ids.iter().fold((0.0, 0.0), |a, &i| (a.0 + landmarks[i][0], a.1 + landmarks[i][1]));
        (sx / ids.len() as f32 - 0.5, sy / ids.len() as f32 - 0.5)
    };
    let at = |i: usize| (landmarks[i][0] - 0.5, landmarks[i][1] - 0.5);
    Some([centre(&RIGHT_EYE), centre(&LEFT_EYE), at(NOSE_TIP), at(MOUTH_CORNERS[0]), at(MOUTH_CORNERS[1])])
}

/// The ArcFace template for a `size` crop: scaled for multiples of 112, else shifted as
/// insightface's `estimate_norm` does (128 -> + 8 px in x).
pub(super) fn template(size: usize) -> [(f32, f32); 5] {
    let (ratio, dx) = if size.is_multiple_of(112) {
        (size as f32 / 112.0, 0.0)
    } else {
        let ratio = size as f32 / 128.0;
        (ratio, 8.0 * ratio)
    };
    ARCFACE_112.map(|(x, y)| (x * ratio + dx, y * ratio))
}

/// How a model wants pixel values: 0..255 mapped linearly onto `range`, in RGB or BGR order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PixelContract {
    /// Value of a 0 byte.
    lo: f32,
    /// Value of a 255 byte.
    hi: f32,
    /// Planes in B, G, R order.
    bgr: bool,
}

impl Default for PixelContract {
    /// RGB 0..1, the slot's convention for models that state nothing.
    fn default() -> Self {
        Self { lo: 0.0, hi: 1.0, bgr: false }
    }
}

impl PixelContract {
    /// The contract a manifest tensor states with `range` and `color`.
    pub(crate) fn of(spec: &TensorSpec) -> Self {
        let mut contract = Self::default();
        if let Some([lo, hi]) = spec.extra.get("range").and_then(|v| v.as_array()).map(Vec::as_slice) {
            if let (Some(lo), Some(hi)) = (lo.as_float(), hi.as_float()) {
                (contract.lo, contract.hi) = (lo as f32, hi as f32);
            }
        }
        contract.bgr = spec.extra.get("color").and_then(|v| v.as_str()) == Some("BGR");
        contract
    }

    #[inline]
    fn encode(&self, byte: f32) -> f32 {
        self.lo + (self.hi - self.lo) * byte / 255.0
    }

    /// The byte value of `v` (clamped to 0..255).
    #[inline]
    fn decode(&self, v: f32) -> f32 {
        ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0) * 255.0
    }

    /// The plane holding RGB channel `c`.
    #[inline]
    fn plane(&self, c: usize) -> usize {
        if self.bgr {
            2 - c
        } else {
            c
        }
    }
}

/// Fills `out` (3 x size x size, NCHW, as `contract` says) with the crop whose pixel (u, v) is
/// the picture at `to_picture(u, v)`, bilinear, black outside. `get` reads picture pixels.
pub(crate) fn aligned_input(
    (width, height): (usize, usize),
    get: impl Fn(usize, usize) -> [u8; 3],
    to_picture: &Similarity,
    (size, contract): (usize, PixelContract),
    out: &mut Vec<f32>,
) {
    out.clear();
    out.resize(3 * size * size, contract.encode(0.0));
    let plane = size * size;
    for v in 0..size {
        for u in 0..size {
            let (x, y) = to_picture.apply(u as f32, v as f32);
            if !(x > -1.0 && y > -1.0 && x < width as f32 && y < height as f32) {
                continue;
            }
            let (x0, y0) = (x.floor(), y.floor());
            let (ax, ay) = (x - x0, y - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            let px = |x: isize, y: isize| {
                if x < 0 || y < 0 || x >= width as isize || y >= height as isize {
                    [0.0; 3]
                } else {
                    get(x as usize, y as usize).map(f32::from)
                }
            };
            let (p00, p10, p01, p11) = (px(x0, y0), px(x0 + 1, y0), px(x0, y0 + 1), px(x0 + 1, y0 + 1));
            for c in 0..3 {
                let top = p00[c] + (p10[c] - p00[c]) * ax;
                let bottom = p01[c] + (p11[c] - p01[c]) * ax;
                out[contract.plane(c) * plane + v * size + u] = contract.encode(top + (bottom - top) * ay);
            }
        }
    }
}

/// Compares a manifest tensor with the one wanted; `Err` says how it differs.
pub(crate) fn check_spec(spec: &TensorSpec, want: &[i64]) -> Result<(), String> {
    if spec.dtype != "float32" {
        return Err(format!("`{}` is {}, not float32", spec.name, spec.dtype));
    }
    let Some(shape) = &spec.shape else {
        return Err(format!("the manifest declares no shape for `{}`", spec.name));
    };
    let fits = shape.len() == want.len() && shape.iter().zip(want).all(|(&s, &w)| s < 0 || s == w);
    if !fits {
        return Err(format!("`{}` has shape {shape:?}, expected {want:?}", spec.name));
    }
    Ok(())
}

/// Where each swap model input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Target,
    Source,
}

/// An open swap model with the character's embedding.
#[derive(Debug)]
pub(super) struct NeuralSwapper {
    session: OnnxSession,
    /// What feeds each input, in manifest order.
    slots: Vec<Slot>,
    /// The character's L2-normalised identity embedding, when the model takes one.
    embedding: Vec<f32>,
    /// Aligned performer face, reused.
    input: Vec<f32>,
    /// Model outputs, reused.
    outputs: Vec<Vec<f32>>,
    /// `onnx:<name>@<version>`.
    algorithm: String,
    /// Pixel contracts of `target` and `output`.
    target: PixelContract,
    output: PixelContract,
}

impl NeuralSwapper {
    /// Opens swap model `model` of `catalog`, checks its signature, and when it takes an
    /// embedding computes the character's with `identity` on the portrait.
    pub(super) fn open(
        catalog: &Catalog,
        model: &str,
        identity: Option<&str>,
        portrait: (&RgbaImage, &[[f32; 3]]),
        threads: usize,
    ) -> Result<Self, NeuralError> {
        let (target, output) = catalog
            .entry(model)
            .map(|entry| {
                let target = entry.model.inputs.iter().find(|s| s.name == "target").map(PixelContract::of);
                let output = entry.model.outputs.first().map(PixelContract::of);
                (target.unwrap_or_default(), output.unwrap_or_default())
            })
            .unwrap_or_default();
        let slots = match catalog.entry(model) {
            Some(entry) => {
                swap_slots(&entry.model.inputs, &entry.model.outputs).map_err(|problem| NeuralError::Signature {
                    role: "swap",
                    name: model.to_owned(),
                    manifest: entry.manifest.clone(),
                    problem,
                    expected: SWAP_SIGNATURE,
                })?
            }
            None => Vec::new(),
        };
        let options = SessionOptions { intra_threads: threads.max(1), ..SessionOptions::default() };
        // Opening checks the checksum and that the model file matches its manifest.
        let session = OnnxSession::open(catalog, model, options)?;
        let algorithm = format!("onnx:{}@{}", session.entry().model.name, session.entry().model.version);
        let embedding = if slots.contains(&Slot::Source) {
            let identity = identity.ok_or_else(|| NeuralError::NeedsIdentity { name: model.to_owned() })?;
            let embedding = identity_embedding(catalog, identity, portrait, options)?;
            project(&session, embedding)?
        } else {
            Vec::new()
        };
        Ok(Self { session, slots, embedding, input: Vec::new(), outputs: vec![Vec::new()], algorithm, target, output })
    }

    /// The execution provider the swap model runs on.
    pub(super) fn provider(&self) -> ExecutionProvider {
        self.session.provider()
    }

    /// `onnx:<name>@<version>`, for render metadata.
    pub(super) fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// Swaps the face with `landmarks` (frame pixels) in `frame`, blended by `mask`. Returns
    /// the number of pixels written (0 when the face cannot be aligned).
    pub(super) fn swap(
        &mut self,
        frame: &mut FrameMut<'_>,
        landmarks: &[[f32; 3]],
        mask: &Mask,
    ) -> Result<usize, NeuralError> {
        let Some(points) = five_points(landmarks) else { return Ok(0) };
        let Some(to_crop) = Similarity::estimate(&points, &template(SWAP_SIZE)) else { return Ok(0) };
        let Some(to_frame) = to_crop.inverse() else { return Ok(0) };
        let size = (frame.width, frame.height);
        aligned_input(size, |x, y| frame.get(x, y), &to_frame, (SWAP_SIZE, self.target), &mut self.input);
        let target_shape = [1, 3, SWAP_SIZE as i64, SWAP_SIZE as i64];
        let source_shape = [1, EMBEDDING_LEN as i64];
        let inputs: Vec<TensorInput<'_>> = self
            .slots
            .iter()
            .map(|slot| match slot {
                Slot::Target => TensorInput::F32 { shape: &target_shape, data: &self.input },
                Slot::Source => TensorInput::F32 { shape: &source_shape, data: &self.embedding },
            })
            .collect();
        self.session.run_f32(&inputs, &mut self.outputs)?;
        let out = &self.outputs[0];
        let plane = SWAP_SIZE * SWAP_SIZE;
        if out.len() != 3 * plane {
            return Err(NeuralError::Output {
                name: self.session.entry().model.name.clone(),
                message: format!("output has {} values, expected {}", out.len(), 3 * plane),
            });
        }
        Ok(paste_crop(frame, (out, SWAP_SIZE, self.output), &to_crop, mask, 1.0))
    }
}

/// Pastes a model's output crop (`size` x `size`, NCHW, values as `contract` says) back onto
/// the frame through `to_crop` (frame pixel -> crop pixel), bilinear, blended by `mask` times
/// `strength` (0..1). Returns the pixels written.
pub(crate) fn paste_crop(
    frame: &mut FrameMut<'_>,
    (out, size, contract): (&[f32], usize, PixelContract),
    to_crop: &Similarity,
    mask: &Mask,
    strength: f32,
) -> usize {
    let plane = size * size;
    let max = (size - 1) as f32;
    let mut written = 0;
    for row in 0..mask.height {
        let y = mask.y0 + row;
        for col in 0..mask.width {
            let alpha = (f32::from(mask.alpha[row * mask.width + col]) * strength + 0.5) as u8;
            if alpha == 0 {
                continue;
            }
            let x = mask.x0 + col;
            let (u, v) = to_crop.apply(x as f32, y as f32);
            if !(u >= -0.5 && v >= -0.5 && u <= max + 0.5 && v <= max + 0.5) {
                continue;
            }
            let (u, v) = (u.clamp(0.0, max), v.clamp(0.0, max));
            let (u0, v0) = (u as usize, v as usize);
            let (u1, v1) = ((u0 + 1).min(size - 1), (v0 + 1).min(size - 1));
            let (au, av) = (u - u0 as f32, v - v0 as f32);
            let mut colour = [0u8; 3];
            for (c, value) in colour.iter_mut().enumerate() {
                let p = &out[contract.plane(c) * plane..][..plane];
                let top = p[v0 * size + u0] + (p[v0 * size + u1] - p[v0 * size + u0]) * au;
                let bottom = p[v1 * size + u0] + (p[v1 * size + u1] - p[v1 * size + u0]) * au;
                let s = top + (bottom - top) * av;
                // NaN clamps to 0 through the cast.
                *value = (contract.decode(s) + 0.5) as u8;
            }
            frame.blend(x, y, colour, alpha);
            written += 1;
        }
    }
    written
}

/// What feeds each declared input of a swap model, or how its signature is wrong.
fn swap_slots(inputs: &[TensorSpec], outputs: &[TensorSpec]) -> Result<Vec<Slot>, String> {
    let mut slots = Vec::with_capacity(inputs.len());
    for spec in inputs {
        match spec.name.as_str() {
            "target" => {
                check_spec(spec, &[1, 3, SWAP_SIZE as i64, SWAP_SIZE as i64])?;
                slots.push(Slot::Target);
            }
            "source" => {
                check_spec(spec, &[1, EMBEDDING_LEN as i64])?;
                slots.push(Slot::Source);
            }
            other => return Err(format!("unexpected input `{other}`")),
        }
    }
    if !slots.contains(&Slot::Target) {
        return Err("no input named `target`".into());
    }
    if slots.iter().filter(|&&s| s == Slot::Target).count() > 1
        || slots.iter().filter(|&&s| s == Slot::Source).count() > 1
    {
        return Err("an input is declared twice".into());
    }
    match outputs {
        [spec] if spec.name == "output" => check_spec(spec, &[1, 3, SWAP_SIZE as i64, SWAP_SIZE as i64]),
        [spec] => Err(format!("the output is named `{}`, expected `output`", spec.name)),
        _ => Err(format!("{} outputs declared, expected one", outputs.len())),
    }?;
    Ok(slots)
}

/// The character's identity embedding: the portrait aligned to the 112 px ArcFace template,
/// run through identity model `name`, L2-normalised.
fn identity_embedding(
    catalog: &Catalog,
    name: &str,
    (image, landmarks): (&RgbaImage, &[[f32; 3]]),
    options: SessionOptions,
) -> Result<Vec<f32>, NeuralError> {
    if let Some(entry) = catalog.entry(name) {
        let check = || -> Result<(), String> {
            let [input] = entry.model.inputs.as_slice() else {
                return Err(format!("{} inputs declared, expected one", entry.model.inputs.len()));
            };
            check_spec(input, &[1, 3, IDENTITY_SIZE as i64, IDENTITY_SIZE as i64])?;
            let [output] = entry.model.outputs.as_slice() else {
                return Err(format!("{} outputs declared, expected one", entry.model.outputs.len()));
            };
            check_spec(output, &[1, EMBEDDING_LEN as i64])
        };
        check().map_err(|problem| NeuralError::Signature {
            role: "identity",
            name: name.to_owned(),
            manifest: entry.manifest.clone(),
            problem,
            expected: IDENTITY_SIGNATURE,
        })?;
    }
    let mut session = OnnxSession::open(catalog, name, options)?;
    let points = five_points(landmarks).ok_or_else(|| NeuralError::Portrait("landmarks missing".into()))?;
    let to_crop = Similarity::estimate(&points, &template(IDENTITY_SIZE))
        .ok_or_else(|| NeuralError::Portrait("the face points coincide".into()))?;
    let to_picture = to_crop.inverse().ok_or_else(|| NeuralError::Portrait("the face has no size".into()))?;
    let (w, h) = (image.width as usize, image.height as usize);
    if image.data.len() < w * h * 4 {
        return Err(NeuralError::Portrait("the picture is shorter than its size".into()));
    }
    let get = |x: usize, y: usize| {
        let i = (y * w + x) * 4;
        [image.data[i], image.data[i + 1], image.data[i + 2]]
    };
    let contract = session.entry().model.inputs.first().map(PixelContract::of).unwrap_or_default();
    let mut input = Vec::new();
    aligned_input((w, h), get, &to_picture, (IDENTITY_SIZE, contract), &mut input);
    let shape = [1, 3, IDENTITY_SIZE as i64, IDENTITY_SIZE as i64];
    let mut outputs = vec![Vec::new()];
    session.run_f32(&[TensorInput::F32 { shape: &shape, data: &input }], &mut outputs)?;
    let mut embedding = std::mem::take(&mut outputs[0]);
    let identity_err = |message: String| NeuralError::Identity { name: name.to_owned(), message };
    if embedding.len() != EMBEDDING_LEN {
        return Err(identity_err(format!("{} values out, expected {EMBEDDING_LEN}", embedding.len())));
    }
    normalise(&mut embedding).map_err(identity_err)?;
    Ok(embedding)
}

/// Scales `v` to unit length.
fn normalise(v: &mut [f32]) -> Result<(), String> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !(norm.is_finite() && norm > 1e-12) {
        return Err(format!("the embedding has norm {norm}, it cannot be normalised"));
    }
    v.iter_mut().for_each(|x| *x /= norm);
    Ok(())
}

/// The embedding in the swapper's own space: unchanged, or, when its `source` input names an
/// `emap:<initializer>` projection, `embedding x emap` normalised again (InsightFace's
/// inswapper: a row vector times the 512 x 512 matrix stored as the graph's `emap`).
fn project(session: &OnnxSession, embedding: Vec<f32>) -> Result<Vec<f32>, NeuralError> {
    let entry = session.entry();
    let name = &entry.model.name;
    let source = entry.model.inputs.iter().find(|s| s.name == "source");
    let Some(projection) = source.and_then(|s| s.extra.get("projection")).and_then(|v| v.as_str()) else {
        return Ok(embedding);
    };
    let output_err = |message: String| NeuralError::Output { name: name.clone(), message };
    let Some(initializer) = projection.strip_prefix("emap:") else {
        return Err(output_err(format!("unknown projection `{projection}` on input `source`")));
    };
    let (dims, emap) = read_initializer_f32(&entry.path, initializer)
        .map_err(|source| NeuralError::Projection { name: name.clone(), source })?;
    if dims != [EMBEDDING_LEN as i64, EMBEDDING_LEN as i64] {
        return Err(output_err(format!("emap `{initializer}` has dims {dims:?}, expected [512, 512]")));
    }
    let mut latent = vec![0.0f32; EMBEDDING_LEN];
    for (row, &e) in emap.chunks_exact(EMBEDDING_LEN).zip(&embedding) {
        for (l, &m) in latent.iter_mut().zip(row) {
            *l += e * m;
        }
    }
    normalise(&mut latent).map_err(output_err)?;
    Ok(latent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_recovers_a_known_transform_and_inverts() {
        let t = Similarity { a: 1.5, b: 0.4, tx: -20.0, ty: 7.0 };
        let src = [(10.0, 20.0), (50.0, 22.0), (30.0, 40.0), (15.0, 60.0), (45.0, 61.0)];
        let dst = src.map(|(x, y)| t.apply(x, y));
        let est = Similarity::estimate(&src, &dst).expect("estimate");
        for (p, q) in src.iter().zip(&dst) {
            let r = est.apply(p.0, p.1);
            assert!((r.0 - q.0).abs() < 1e-3 && (r.1 - q.1).abs() < 1e-3, "{r:?} vs {q:?}");
        }
        let inv = est.inverse().expect("inverse");
        let back = inv.apply(dst[2].0, dst[2].1);
        assert!((back.0 - 30.0).abs() < 1e-3 && (back.1 - 40.0).abs() < 1e-3, "{back:?}");
        assert_eq!(Similarity::estimate(&[(1.0, 1.0); 5], &dst), None);
    }

    #[test]
    fn templates_follow_insightface() {
        assert_eq!(template(112), ARCFACE_112);
        let t = template(128);
        assert!((t[0].0 - (38.2946 + 8.0)).abs() < 1e-4 && (t[0].1 - 51.6963).abs() < 1e-4);
        let t224 = template(224);
        assert!((t224[2].0 - 2.0 * 56.0252).abs() < 1e-3);
    }

    #[test]
    fn aligned_input_is_planar_rgb_in_unit_range() {
        let get = |x: usize, y: usize| [x as u8, y as u8, 255];
        let mut out = Vec::new();
        let identity = Similarity { a: 1.0, b: 0.0, tx: 0.0, ty: 0.0 };
        aligned_input((64, 64), get, &identity, (16, PixelContract::default()), &mut out);
        assert_eq!(out.len(), 3 * 256);
        assert!((out[5] - 5.0 / 255.0).abs() < 1e-6, "R plane codes x");
        assert!((out[256 + 3 * 16] - 3.0 / 255.0).abs() < 1e-6, "G plane codes y");
        assert!((out[512] - 1.0).abs() < 1e-6, "B plane");
        let far = Similarity { a: 1.0, b: 0.0, tx: 1000.0, ty: 0.0 };
        aligned_input((64, 64), get, &far, (16, PixelContract::default()), &mut out);
        assert!(out.iter().all(|&v| v == 0.0), "black outside the picture");
        // InsightFace's ArcFace contract: (x - 127.5) / 127.5, and a BGR model's planes swap.
        let arcface = PixelContract { lo: -1.0, hi: 1.0, bgr: true };
        aligned_input((64, 64), get, &identity, (16, arcface), &mut out);
        assert!((out[512 + 5] - (5.0 - 127.5) / 127.5).abs() < 1e-5, "R lands in the last plane");
        assert!((out[0] - 1.0).abs() < 1e-6, "B (255) in the first plane");
        aligned_input((64, 64), get, &far, (16, arcface), &mut out);
        assert!(out.iter().all(|&v| v == -1.0), "black is -1 in [-1, 1]");
    }

    #[test]
    fn swap_signatures_are_checked() {
        let spec = |name: &str, shape: &[i64]| TensorSpec {
            name: name.into(),
            shape: Some(shape.to_vec()),
            dtype: "float32".into(),
            extra: Default::default(),
        };
        let out = [spec("output", &[1, 3, 128, 128])];
        assert_eq!(
            swap_slots(&[spec("source", &[1, 512]), spec("target", &[-1, 3, 128, 128])], &out),
            Ok(vec![Slot::Source, Slot::Target])
        );
        assert_eq!(swap_slots(&[spec("target", &[1, 3, 128, 128])], &out), Ok(vec![Slot::Target]));
        let err = swap_slots(&[spec("target", &[1, 3, 256, 256])], &out).expect_err("wrong size");
        assert!(err.contains("[1, 3, 256, 256]") && err.contains("[1, 3, 128, 128]"), "{err}");
        let err = swap_slots(&[spec("image", &[1, 3, 128, 128])], &out).expect_err("wrong name");
        assert!(err.contains("`image`"), "{err}");
        let err = swap_slots(&[spec("target", &[1, 3, 128, 128])], &[spec("swapped", &[1, 3, 128, 128])])
            .expect_err("output");
        assert!(err.contains("`swapped`"), "{err}");
    }
}
