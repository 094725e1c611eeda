// SPDX-License-Identifier: MPL-2.0
/**
 * SECTION:element-reenactfaceswap
 *
 * Replaces each tracked face with the face of a character (`character`, a character file made
 * by `reenact character create`). It needs the `GstReenactFaceMeta` that `reenactfacetrack`
 * attaches upstream: frames without it, or without faces, pass through untouched, and
 * `track-id` limits the swap to one tracked face.
 *
 * Classical path (`algorithm` = `classical:delaunay/2+poisson+skin` with the default `blend`
 * and `skin-mask`, `classical:delaunay/1` for the 0.1.0 swap of `blend=feather
 * skin-mask=false`): the portrait's 468
 * landmarks, plus a ring of points outside the face outline, are triangulated once
 * (Delaunay); each frame every triangle is mapped onto the performer's matching landmarks
 * and the portrait is warped piece by piece (affine per triangle), so the performer's head
 * motion and expressions drive the character's face. Its colours are moved in L*a*b* from
 * the character's skin statistics toward the performer's skin measured in the frame
 * (Reinhard transfer, `colour-transfer` is the strength), with the measurement smoothed over
 * time so the colour does not flicker.
 *
 * Neural path (`model` set: `onnx:<name>@<version>`): a swap model from the model catalog
 * (`model-dir` is searched first) with input `target` [1, 3, 128, 128] (the performer's face
 * aligned to the ArcFace template, RGB 0..1 NCHW), optional input `source` [1, 512] (the
 * character's identity embedding from `identity-model`, run once on the portrait) and output
 * `output` [1, 3, 128, 128], pasted back through the inverse alignment. A model whose
 * signature differs, or one that takes `source` while no `identity-model` is set, fails at
 * start with an error naming the model and the difference. Models imported with
 * `reenact models import` (inswapper_128 with an InsightFace ArcFace) are fed as they were
 * trained: the ArcFace input in [-1, 1] ((x - 127.5) / 127.5) and the embedding projected
 * through the swapper's own `emap` matrix and normalised again. `execution-provider` tells
 * where the model runs (CPU, CUDA, TensorRT).
 *
 * Enhancer (`enhancer` set, either path): a 512 px face restoration model (GFPGAN 1.4,
 * GPEN-BFR-512 or CodeFormer, as `reenact models import --as face-enhance` recognises them)
 * runs on the swapped face aligned to the FFHQ 512 template and is pasted back through the
 * same mask, blended by `enhance-strength`; CodeFormer's fidelity input takes
 * `enhance-fidelity`. `algorithm` then reads `<swap>+onnx:<enhancer>@<version>`.
 *
 * Both paths blend through the same mask: the convex hull of the performer's face outline,
 * feathered inwards by `feather`, so no pixel outside the hull changes; `keep-eyes` and
 * `keep-mouth` cut feathered holes where the performer's own eyes and mouth opening show
 * (on the classical path the eyes are also kept when the portrait's own eyes are closed).
 * The mask follows the (already smoothed) landmarks and nothing else, so it is as steady as
 * the tracking.
 *
 * On the classical path, `skin-mask` (default on) multiplies the mask by a skin weight of the
 * portrait worked out once at start: 0 outside its face outline, 1 over the central face
 * (brows, eyes, nose, mouth), and elsewhere (forehead, temples, jaw) how close the colour is
 * to the skin of the portrait's cheeks. A fringe, hair over the temples or background inside
 * the outline is therefore not pasted; the performer's own pixels stay there. The character
 * file holds no segmentation and the selfie matte cannot tell hair from skin, so the test is
 * by colour. `occlusion-mask` (default off, both paths) applies the same colour test to the
 * performer's frame: inside their face outline, what is not the colour of their skin
 * (measured on their cheeks) is in front of the face and stays, so a gloved hand, a cup or a
 * strand of hair is not painted over. Over the brows, eyes, lips and nose, whose colours are
 * not skin, a colour counts as in front when that feature has not shown it in the earlier
 * frames (each feature's colours are learned from the first 8 frames of a track on, only
 * where judged uncovered), so a microphone over the lips stays too. Elsewhere on the face,
 * skin that passes the colour test is also compared with what its patch of the face (a
 * grid that moves with the eyes) showed in earlier frames, so a bare hand laid on a cheek
 * stays. What covers the face from a track's first frames is learned as the face, and
 * swapped.
 * `blend` chooses how the face meets the performer's skin: `poisson` (default,
 * gradient-domain) takes the performer's skin colours along the feathered edge band as the
 * boundary condition and spreads the difference smoothly over the face (the membrane of
 * Poisson cloning, interpolated by pull-push over an image pyramid rather than solved
 * iteratively), then fades the character's texture in by the feathered mask, so colour and
 * shading agree at the seam; `multiband` mixes a Laplacian pyramid band by band; `feather`
 * is the plain feathered alpha of 0.1.0 (`blend=feather skin-mask=false` is the 0.1.0 swap).
 *
 * Caps: packed 8-bit RGB-family video (`RGBA`, `BGRA`, `RGBx`, `BGRx`, `RGB`, `BGR`), any size
 * and rate, processed in place.
 *
 * Latency: none added; the element holds no frames, so it answers the LATENCY query with
 * upstream's values. The classical swap with `blend=feather` costs about 1.5 ms per 720p frame
 * for a face 130 px wide and 4 ms for a 260 px close-up, on one CPU thread; the default
 * gradient-domain blend about 1.5 times that (`examples/faceswap_bench.rs`, bench/RESULTS.md);
 * a neural model costs what the model costs, on the streaming thread.
 *
 * ```bash
 * gst-launch-1.0 filesrc location=presenter.mp4 ! decodebin ! videoconvert ! reenactfacetrack ! reenactfaceswap character=lincoln.character.json ! videoconvert ! autovideosink
 * ```
 *
 * Since: 0.1.0
 */
use std::collections::HashMap;
use std::path::Path;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;

use super::blend::{MultiBand, Region};
use super::colour::{skin_stats, LabToRgb, LabTransfer, SkinFilter};
use super::enhance::FaceEnhancer;
use super::looks::FeatureLooks;
use super::mask::{cut_hole, hull_mask, FrameMut, Mask};
use super::neural::NeuralSwapper;
use super::skin::{eyes_closed, hold_occluders};
use super::triangulation::convex_hull;
use super::warp::{mesh_points, PortraitMesh};
use super::ReenactFaceSwapBlend;
use crate::algorithm::LastRun;
use crate::character::mesh::{self, FACE_OVAL, LEFT_EYE, LIPS_INNER, RIGHT_EYE};
use crate::character::{Character, ColourStats};
use crate::facemeta::{Face, FaceMeta, LANDMARK_COUNT};
use crate::frame::{PackedLayout, PACKED_RGB_FORMATS as FORMATS};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("reenactfaceswap", gst::DebugColorFlags::empty(), Some("Reenact face swap"))
});

static ONNX_CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("reenactonnx", gst::DebugColorFlags::empty(), Some("Reenact ONNX inference"))
});

/// `algorithm` of the classical path.
/// The classical swap as its defaults run it (see [`classical_algorithm`]).
const CLASSICAL_ALGORITHM: &str = "classical:delaunay/2+poisson+skin";

const DEFAULT_KEEP_EYES: bool = false;
const DEFAULT_KEEP_MOUTH: bool = true;
const DEFAULT_FEATHER: f64 = 0.08;
const DEFAULT_BLEND: ReenactFaceSwapBlend = ReenactFaceSwapBlend::Poisson;
const DEFAULT_SKIN_MASK: bool = true;
const DEFAULT_OCCLUSION_MASK: bool = false;
const MAX_FEATHER: f64 = 256.0;
// Mostly the scene's lighting (the performer's neck and ears frame the face), a little of the
// character's own complexion.
const DEFAULT_COLOUR_TRANSFER: f64 = 0.8;
const DEFAULT_TRACK_ID: u32 = 0;
const DEFAULT_THREADS: u32 = 1;
// Mostly the restored face, a little of the swap's own texture so the skin does not look waxy.
const DEFAULT_ENHANCE_STRENGTH: f64 = 0.8;
// CodeFormer's own default balance of restoration and faithfulness.
const DEFAULT_ENHANCE_FIDELITY: f64 = 0.5;
const MAX_THREADS: u32 = 64;

/// Share of the smoothed skin statistics kept per frame: a time constant of about 7 frames
/// (0.3 s at 25 fps), long enough to hide per-frame noise, short enough to follow a light change.
const SKIN_SMOOTHING: f32 = 0.85;

/// A track's skin statistics are forgotten after this many frames without it.
const SKIN_FORGET_FRAMES: u64 = 50;

#[derive(Debug, Clone)]
struct Settings {
    character: Option<String>,
    model: Option<String>,
    model_dir: Option<String>,
    identity_model: Option<String>,
    keep_eyes: bool,
    keep_mouth: bool,
    feather: f64,
    blend: ReenactFaceSwapBlend,
    skin_mask: bool,
    occlusion_mask: bool,
    colour_transfer: f64,
    track_id: u32,
    threads: u32,
    enhancer: Option<String>,
    enhance_strength: f64,
    enhance_fidelity: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            character: None,
            model: None,
            model_dir: None,
            identity_model: None,
            keep_eyes: DEFAULT_KEEP_EYES,
            keep_mouth: DEFAULT_KEEP_MOUTH,
            feather: DEFAULT_FEATHER,
            blend: DEFAULT_BLEND,
            skin_mask: DEFAULT_SKIN_MASK,
            occlusion_mask: DEFAULT_OCCLUSION_MASK,
            colour_transfer: DEFAULT_COLOUR_TRANSFER,
            track_id: DEFAULT_TRACK_ID,
            threads: DEFAULT_THREADS,
            enhancer: None,
            enhance_strength: DEFAULT_ENHANCE_STRENGTH,
            enhance_fidelity: DEFAULT_ENHANCE_FIDELITY,
        }
    }
}

/// The classical swap's name for render metadata: `classical:delaunay/1` is the 0.1.0 swap
/// (feathered, no skin mask); later ones name their blend and whether the skin mask is on, as
/// each gives another picture from the same input.
fn classical_algorithm(blend: ReenactFaceSwapBlend, skin_mask: bool) -> String {
    let blend = match blend {
        ReenactFaceSwapBlend::Feather if !skin_mask => return "classical:delaunay/1".into(),
        ReenactFaceSwapBlend::Feather => "feather",
        ReenactFaceSwapBlend::MultiBand => "multiband",
        ReenactFaceSwapBlend::Poisson => "poisson",
    };
    format!("classical:delaunay/2+{blend}{}", if skin_mask { "+skin" } else { "" })
}

impl Settings {
    /// `algorithm` as far as the settings tell (the model version is known once started).
    fn algorithm(&self) -> String {
        let swap = match &self.model {
            Some(model) => format!("onnx:{model}"),
            None => classical_algorithm(self.blend, self.skin_mask),
        };
        algorithm_with(swap, self.occlusion_mask, self.enhancer.as_ref().map(|e| format!("onnx:{e}")))
    }
}

/// The `algorithm` string: the swap's own name (`swap`), then what else changes the picture,
/// the occlusion mask and the face enhancer (its name, with its version once started).
fn algorithm_with(swap: String, occlusion_mask: bool, enhancer: Option<String>) -> String {
    let swap = if occlusion_mask { format!("{swap}+occlusion") } else { swap };
    match enhancer {
        Some(enhancer) => format!("{swap}+{enhancer}"),
        None => swap,
    }
}

#[derive(Debug)]
struct State {
    /// The character portrait in L*a*b* with its triangulated mesh.
    portrait: PortraitMesh,
    /// The character's skin statistics, from the character file.
    character_skin: ColourStats,
    /// The portrait's eyes are closed: the performer's are kept on the classical path.
    portrait_eyes_closed: bool,
    /// The swap model when `model` is set.
    neural: Option<NeuralSwapper>,
    /// The restoration model when `enhancer` is set.
    enhancer: Option<FaceEnhancer>,
    /// What `algorithm` reports.
    algorithm: String,
    /// Negotiated video format; `None` until `set_caps`.
    info: Option<gst_video::VideoInfo>,
    /// Bytes per pixel and R, G, B offsets of the negotiated format.
    layout: (usize, [usize; 3]),
    /// Frames processed.
    frames: u64,
    /// The performer's smoothed skin statistics per track id; reset on flush.
    skin: HashMap<u32, SkinFilter>,
    /// What each track's brows, eyes, lips and nose have looked like (the occlusion mask's);
    /// reset with `skin`.
    looks: HashMap<u32, FeatureLooks>,
    /// L*a*b* -> sRGB tables.
    to_rgb: LabToRgb,
    /// The current face's mask, reused.
    mask: Mask,
    /// A copy of `mask` for the enhancer, reused.
    enhance_mask: Mask,
    /// The warped face before the multi-band blend, reused.
    region: Region,
    /// The mask's weights before the holes were cut (the gradient-domain blend's seam band).
    hull_alpha: Vec<u8>,
    /// The multi-band blend's pyramid, reused.
    multiband: MultiBand,
    /// The current face's mesh points in the frame, reused.
    points: Vec<(f32, f32)>,
}

#[derive(Debug, Default)]
pub struct ReenactFaceSwap {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    last_run: LastRun,
}

impl ReenactFaceSwap {
    fn settings(&self) -> Settings {
        self.settings.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn state(&self) -> MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Swaps one face (landmarks in frame pixels) into `frame`. Returns the pixels written.
    fn swap_face(
        &self,
        state: &mut State,
        settings: &Settings,
        frame: &mut FrameMut<'_>,
        face: &Face,
        landmarks: &[[f32; 3]],
    ) -> Result<usize, gst::FlowError> {
        let hull = convex_hull(&mesh::polygon(landmarks, &FACE_OVAL));
        let Some(bbox) = crate::facemeta::FaceBox::around(hull.iter().copied()) else { return Ok(0) };
        let size = bbox.w.max(bbox.h);
        let feather = if settings.feather < 1.0 { settings.feather as f32 * size } else { settings.feather as f32 };
        hull_mask(&hull, feather, frame.width, frame.height, &mut state.mask);
        if state.mask.is_empty() {
            return Ok(0);
        }
        if state.neural.is_none() && settings.blend == ReenactFaceSwapBlend::Poisson {
            state.hull_alpha.clone_from(&state.mask.alpha);
        }
        let hole_feather = (feather / 4.0).max(1.0);
        // A portrait with closed eyes would paste closed lids over open eyes.
        if settings.keep_eyes || (state.neural.is_none() && state.portrait_eyes_closed) {
            cut_hole(&mut state.mask, &mesh::polygon(landmarks, &RIGHT_EYE), hole_feather);
            cut_hole(&mut state.mask, &mesh::polygon(landmarks, &LEFT_EYE), hole_feather);
        }
        if settings.keep_mouth {
            cut_hole(&mut state.mask, &mesh::polygon(landmarks, &LIPS_INNER), hole_feather);
        }
        // The classical path's colour transfer and the occlusion mask read the performer's skin.
        let performer = if state.neural.is_none() || settings.occlusion_mask {
            performer_skin(state, frame, face, landmarks)
        } else {
            None
        };
        if settings.occlusion_mask {
            if let Some(skin) = &performer {
                let looks = state.looks.entry(face.track_id).or_insert_with(|| FeatureLooks::new(state.frames));
                looks.last_seen = state.frames;
                hold_occluders(&mut state.mask, frame, landmarks, skin, looks);
            }
        }
        if state.enhancer.is_some() {
            // The classical paste clears mask weights as it writes; the enhancer needs them whole.
            state.enhance_mask.clone_from(&state.mask);
        }
        let written = match state.neural.as_mut() {
            Some(neural) => neural.swap(frame, landmarks, &state.mask).map_err(|err| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["face swap model failed: {err}"]);
                gst::FlowError::Error
            })?,
            None => self.warp_face(state, settings, frame, (face, performer), landmarks),
        };
        if let Some(enhancer) = state.enhancer.as_mut() {
            let blend = (settings.enhance_strength as f32, settings.enhance_fidelity as f32);
            enhancer.enhance(frame, landmarks, &state.enhance_mask, blend).map_err(|err| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["face enhancer failed: {err}"]);
                gst::FlowError::Error
            })?;
        }
        Ok(written)
    }

    /// The classical path: the portrait's mesh warped onto the landmarks, colours matched to
    /// the performer's skin. Returns the pixels written.
    fn warp_face(
        &self,
        state: &mut State,
        settings: &Settings,
        frame: &mut FrameMut<'_>,
        (face, performer): (&Face, Option<ColourStats>),
        landmarks: &[[f32; 3]],
    ) -> usize {
        // Colour transfer from the character's skin to the performer's.
        let transfer = match performer {
            Some(performer) => LabTransfer::between(&state.character_skin, &performer, settings.colour_transfer as f32),
            None => LabTransfer::IDENTITY,
        };
        gst::trace!(CAT, imp = self, "track {}: skin {performer:?}, transfer {transfer:?}", face.track_id);
        mesh_points(landmarks, &mut state.points);
        let colours = (&transfer, &state.to_rgb);
        match settings.blend {
            ReenactFaceSwapBlend::Feather => {
                state.portrait.paste(frame, &state.points, &mut state.mask, colours, settings.skin_mask)
            }
            ReenactFaceSwapBlend::MultiBand => {
                let region = &mut state.region;
                state.portrait.paste_region(&state.points, &state.mask, None, region, colours, settings.skin_mask);
                state.multiband.blend(frame, &state.mask, &state.region)
            }
            ReenactFaceSwapBlend::Poisson => {
                let (region, hull) = (&mut state.region, Some(state.hull_alpha.as_slice()));
                state.portrait.paste_region(&state.points, &state.mask, hull, region, colours, settings.skin_mask);
                let skin = performer.unwrap_or(state.character_skin);
                state.multiband.blend_membrane(frame, &state.region, &skin)
            }
        }
    }
}

/// The performer's skin in `frame` (face `face`, `landmarks` in frame pixels), smoothed over
/// the frames of its track; the last known when too little skin shows in this one.
fn performer_skin(state: &mut State, frame: &FrameMut<'_>, face: &Face, landmarks: &[[f32; 3]]) -> Option<ColourStats> {
    let frames = state.frames;
    match (skin_stats(frame, landmarks), state.skin.get_mut(&face.track_id)) {
        (Some(stats), Some(filter)) => {
            filter.update(stats, SKIN_SMOOTHING, frames);
            Some(filter.stats)
        }
        (Some(stats), None) => {
            state.skin.insert(face.track_id, SkinFilter::new(stats, frames));
            Some(stats)
        }
        (None, filter) => filter.map(|f| f.stats),
    }
}

/// `value` as an optional string, empty meaning unset.
fn optional_string(value: &glib::Value) -> Option<String> {
    value.get::<Option<String>>().expect("type checked upstream").filter(|s| !s.is_empty())
}

#[glib::object_subclass]
impl ObjectSubclass for ReenactFaceSwap {
    const NAME: &'static str = "GstReenactFaceSwap";
    type Type = super::ReenactFaceSwap;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for ReenactFaceSwap {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("character")
                    .nick("Character")
                    .blurb("Character file (*.character.json) whose face is put on the performer, read at start (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb("Catalog name of an ONNX swap model (target [1,3,128,128] + source [1,512] -> output [1,3,128,128]); unset = classical warp (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model-dir")
                    .nick("Model directory")
                    .blurb("Directory with MANIFEST*.toml files searched before the model catalog's own (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("identity-model")
                    .nick("Identity model")
                    .blurb("Catalog name of the identity embedding model ([1,3,112,112] -> [1,512]) run once on the portrait for the swap model's source input (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("keep-eyes")
                    .nick("Keep eyes")
                    .blurb("Keep the performer's own eyes (gaze, blinks) inside the character's face")
                    .default_value(DEFAULT_KEEP_EYES)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("keep-mouth")
                    .nick("Keep mouth")
                    .blurb("Keep the performer's own mouth opening (teeth, tongue) inside the character's face")
                    .default_value(DEFAULT_KEEP_MOUTH)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("feather")
                    .nick("Feather")
                    .blurb("Width of the soft mask edge inside the face outline: below 1 a fraction of the face size, from 1 pixels, 0..256")
                    .minimum(0.0)
                    .maximum(MAX_FEATHER)
                    .default_value(DEFAULT_FEATHER)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("blend", DEFAULT_BLEND)
                    .nick("Blend")
                    .blurb("How the classical swap meets the performer's skin: poisson (gradient-domain: the face's colour is moved smoothly to the performer's skin along the seam), multiband (Laplacian pyramid) or feather (plain feathered alpha)")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("skin-mask")
                    .nick("Skin mask")
                    .blurb("Paste only the portrait's face skin and features (classical path): its hair, background and ears are left out and the performer's own pixels stay there")
                    .default_value(DEFAULT_SKIN_MASK)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("occlusion-mask")
                    .nick("Occlusion mask")
                    .blurb("Keep what is in front of the performer's face: inside the face outline, pixels not of the performer's skin colour (a gloved hand, a cup, hair) or unlike what that patch of skin showed in earlier frames (a bare hand) and, over the eyes, brows, nose and lips, colours that feature has not shown in earlier frames (a microphone) are not swapped (both paths; algorithm gains +occlusion)")
                    .default_value(DEFAULT_OCCLUSION_MASK)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("colour-transfer")
                    .nick("Colour transfer")
                    .blurb("How far the character's skin colour moves to the performer's lighting, 0 (none)..1 (same L*a*b* mean and spread; classical path)")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_COLOUR_TRANSFER)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("track-id")
                    .nick("Track id")
                    .blurb("Swap only the face with this track id, 0 = every face")
                    .default_value(DEFAULT_TRACK_ID)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("ONNX Runtime threads for the swap model (can't be changed in PLAYING or PAUSED state)")
                    .minimum(1)
                    .maximum(MAX_THREADS)
                    .default_value(DEFAULT_THREADS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("enhancer")
                    .nick("Enhancer")
                    .blurb("Catalog name of a face restoration model run after the swap ([1,3,512,512] -> [1,3,512,512]: GFPGAN, GPEN, CodeFormer); unset = none (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("enhance-strength")
                    .nick("Enhance strength")
                    .blurb("How much of the restored face replaces the swapped one, 0 (none)..1 (all)")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_ENHANCE_STRENGTH)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("enhance-fidelity")
                    .nick("Enhance fidelity")
                    .blurb("CodeFormer's fidelity weight, 0 (most restored)..1 (closest to the swap); other enhancers ignore it")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_ENHANCE_FIDELITY)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("execution-provider")
                    .nick("Execution provider")
                    .blurb("Where the swap model runs once started: CPU, CUDA or TensorRT; none on the classical path or before start")
                    .default_value(Some("none"))
                    .read_only()
                    .build(),
                glib::ParamSpecString::builder("algorithm")
                    .nick("Algorithm")
                    .blurb("What swaps the face, for render metadata: classical:delaunay/2+BLEND[+skin] (classical:delaunay/1 for blend=feather skin-mask=false) or onnx:<name>@<version> (the version once started)")
                    .default_value(Some(CLASSICAL_ALGORITHM))
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        self.last_run.forget();
        let mut settings = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        match pspec.name() {
            "character" => {
                let new = optional_string(value);
                gst::info!(CAT, imp = self, "character: {:?} -> {new:?}", settings.character);
                settings.character = new;
            }
            "model" => {
                let new = optional_string(value);
                gst::info!(CAT, imp = self, "model: {:?} -> {new:?}", settings.model);
                settings.model = new;
            }
            "model-dir" => {
                let new = optional_string(value);
                gst::info!(CAT, imp = self, "model-dir: {:?} -> {new:?}", settings.model_dir);
                settings.model_dir = new;
            }
            "identity-model" => {
                let new = optional_string(value);
                gst::info!(CAT, imp = self, "identity-model: {:?} -> {new:?}", settings.identity_model);
                settings.identity_model = new;
            }
            "keep-eyes" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "keep-eyes: {} -> {new}", settings.keep_eyes);
                settings.keep_eyes = new;
            }
            "keep-mouth" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "keep-mouth: {} -> {new}", settings.keep_mouth);
                settings.keep_mouth = new;
            }
            "feather" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "feather: {} -> {new}", settings.feather);
                settings.feather = new;
            }
            "blend" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "blend: {:?} -> {new:?}", settings.blend);
                settings.blend = new;
            }
            "skin-mask" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "skin-mask: {} -> {new}", settings.skin_mask);
                settings.skin_mask = new;
            }
            "occlusion-mask" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "occlusion-mask: {} -> {new}", settings.occlusion_mask);
                settings.occlusion_mask = new;
            }
            "colour-transfer" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "colour-transfer: {} -> {new}", settings.colour_transfer);
                settings.colour_transfer = new;
            }
            "track-id" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "track-id: {} -> {new}", settings.track_id);
                settings.track_id = new;
            }
            "threads" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "threads: {} -> {new}", settings.threads);
                settings.threads = new;
            }
            "enhancer" => {
                let new = optional_string(value);
                gst::info!(CAT, imp = self, "enhancer: {:?} -> {new:?}", settings.enhancer);
                settings.enhancer = new;
            }
            "enhance-strength" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "enhance-strength: {} -> {new}", settings.enhance_strength);
                settings.enhance_strength = new;
            }
            "enhance-fidelity" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "enhance-fidelity: {} -> {new}", settings.enhance_fidelity);
                settings.enhance_fidelity = new;
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "execution-provider" {
            let provider = self.state().as_ref().and_then(|state| {
                let swap = state.neural.as_ref().map(|n| n.provider().to_string());
                swap.or_else(|| state.enhancer.as_ref().map(|e| e.provider().to_string()))
            });
            return provider.unwrap_or_else(|| "none".into()).to_value();
        }
        if pspec.name() == "algorithm" {
            // State first, then settings: never both locks at once.
            let started = self.state().as_ref().map(|state| state.algorithm.clone());
            let ran = started.or_else(|| self.last_run.get());
            return ran.unwrap_or_else(|| self.settings().algorithm()).to_value();
        }
        let settings = self.settings();
        match pspec.name() {
            "character" => settings.character.to_value(),
            "model" => settings.model.to_value(),
            "model-dir" => settings.model_dir.to_value(),
            "identity-model" => settings.identity_model.to_value(),
            "keep-eyes" => settings.keep_eyes.to_value(),
            "keep-mouth" => settings.keep_mouth.to_value(),
            "feather" => settings.feather.to_value(),
            "blend" => settings.blend.to_value(),
            "skin-mask" => settings.skin_mask.to_value(),
            "occlusion-mask" => settings.occlusion_mask.to_value(),
            "colour-transfer" => settings.colour_transfer.to_value(),
            "track-id" => settings.track_id.to_value(),
            "threads" => settings.threads.to_value(),
            "enhancer" => settings.enhancer.to_value(),
            "enhance-strength" => settings.enhance_strength.to_value(),
            "enhance-fidelity" => settings.enhance_fidelity.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for ReenactFaceSwap {}

impl ElementImpl for ReenactFaceSwap {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Reenact face swap",
                "Filter/Effect/Video",
                "Puts a character's face on the performer's, following the tracked landmarks",
                "Reenact Studio developers",
            )
        });
        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst_video::VideoCapsBuilder::new().format_list(FORMATS.iter().map(|f| f.0)).build();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &caps)
                    .expect("valid src template"),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &caps)
                    .expect("valid sink template"),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for ReenactFaceSwap {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings();
        let Some(path) = settings.character.as_deref() else {
            return Err(gst::error_msg!(gst::ResourceError::NotFound, ["the character property must be set"]));
        };
        let character = Character::load(Path::new(path))
            .map_err(|err| gst::error_msg!(gst::ResourceError::OpenRead, ["character: {err}"]))?;
        let image = character
            .portrait_image()
            .map_err(|err| gst::error_msg!(gst::ResourceError::OpenRead, ["character file {path}: {err}"]))?;
        let portrait = PortraitMesh::new(&image, &character.portrait.landmarks, &character.portrait.skin)
            .map_err(|err| gst::error_msg!(gst::ResourceError::OpenRead, ["character file {path}: {err}"]))?;
        gst::debug!(
            CAT,
            imp = self,
            "character `{}`: {} triangles, eyes closed: {}",
            character.name,
            portrait.triangle_count(),
            eyes_closed(&character.portrait.landmarks)
        );
        let catalog = match (&settings.model, &settings.enhancer) {
            (None, None) => None,
            _ => Some(
                reenact_models::Catalog::load_including(settings.model_dir.as_deref().map(Path::new))
                    .map_err(|err| gst::error_msg!(gst::LibraryError::Settings, ["model catalog: {err}"]))?,
            ),
        };
        let neural = match (&settings.model, &catalog) {
            (Some(model), Some(catalog)) => {
                let swapper = NeuralSwapper::open(
                    catalog,
                    model,
                    settings.identity_model.as_deref(),
                    (&image, &character.portrait.landmarks),
                    settings.threads as usize,
                )
                .map_err(|err| gst::error_msg!(gst::LibraryError::Init, ["model {model}: {err}"]))?;
                gst::info!(ONNX_CAT, imp = self, "swap model ready on {}: {swapper:?}", swapper.provider());
                Some(swapper)
            }
            _ => None,
        };
        let enhancer = match (&settings.enhancer, &catalog) {
            (Some(model), Some(catalog)) => {
                let enhancer = FaceEnhancer::open(catalog, model, settings.threads as usize)
                    .map_err(|err| gst::error_msg!(gst::LibraryError::Init, ["enhancer {model}: {err}"]))?;
                gst::info!(ONNX_CAT, imp = self, "enhancer ready on {}: {enhancer:?}", enhancer.provider());
                Some(enhancer)
            }
            _ => None,
        };
        let swap = neural
            .as_ref()
            .map_or_else(|| classical_algorithm(settings.blend, settings.skin_mask), |n| n.algorithm().to_owned());
        let algorithm =
            algorithm_with(swap, settings.occlusion_mask, enhancer.as_ref().map(|e| e.algorithm().to_owned()));
        gst::info!(CAT, imp = self, "swapping in `{}` with {algorithm}", character.name);
        *self.state() = Some(State {
            portrait,
            character_skin: character.portrait.skin,
            portrait_eyes_closed: eyes_closed(&character.portrait.landmarks),
            neural,
            enhancer,
            algorithm,
            info: None,
            layout: (4, [0, 1, 2]),
            frames: 0,
            skin: HashMap::new(),
            looks: HashMap::new(),
            to_rgb: LabToRgb::default(),
            mask: Mask::default(),
            enhance_mask: Mask::default(),
            region: Region::default(),
            hull_alpha: Vec::new(),
            multiband: MultiBand::default(),
            points: Vec::new(),
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(state) = self.state().take() {
            self.last_run.set(state.algorithm);
        }
        gst::debug!(CAT, imp = self, "stopped");
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|_| gst::loggable_error!(CAT, "cannot parse caps {incaps}"))?;
        let layout = FORMATS
            .iter()
            .find(|f| f.0 == info.format())
            .map(|f| (f.1, f.2))
            .ok_or_else(|| gst::loggable_error!(CAT, "unsupported format {:?}", info.format()))?;
        let mut state = self.state();
        let state = state.as_mut().ok_or_else(|| gst::loggable_error!(CAT, "caps set before start"))?;
        gst::debug!(CAT, imp = self, "configured for {incaps} -> {outcaps}");
        state.info = Some(info);
        state.layout = layout;
        state.skin.clear();
        state.looks.clear();
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::FlushStop(_) = event.view() {
            if let Some(state) = self.state().as_mut() {
                state.skin.clear();
                state.looks.clear();
            }
        }
        self.parent_sink_event(event)
    }

    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            if direction == gst::PadDirection::Src {
                let mut upstream = gst::query::Latency::new();
                if !self.obj().sink_pad().peer_query(&mut upstream) {
                    return false;
                }
                // In place, no frame held: our latency is zero, upstream's values pass unchanged.
                let (live, min, max) = upstream.result();
                gst::debug!(CAT, imp = self, "latency: live {live}, min {min}, max {}", max.display());
                q.set(live, min, max);
                return true;
            }
        }
        BaseTransformImplExt::parent_query(self, direction, query)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings();
        // The faces to swap, copied out of the meta before the frame is mapped for writing.
        let (faces, meta_size) = match buf.meta::<FaceMeta>() {
            Some(meta) => {
                let faces: Vec<Face> = meta
                    .faces()
                    .iter()
                    .filter(|f| settings.track_id == 0 || f.track_id == settings.track_id)
                    .filter(|f| f.landmarks.len() == LANDMARK_COUNT)
                    .cloned()
                    .collect();
                (faces, (meta.width(), meta.height()))
            }
            None => {
                gst::trace!(CAT, imp = self, "no face meta at {}: passed through", buf.pts().display());
                return Ok(gst::FlowSuccess::Ok);
            }
        };
        let mut guard = self.state();
        let Some(state) = guard.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["not started"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        let Some(info) = state.info.clone() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no caps before the first buffer"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        state.frames += 1;
        let frames = state.frames;
        state.skin.retain(|_, f| f.last_seen + SKIN_FORGET_FRAMES >= frames);
        state.looks.retain(|_, l| l.last_seen + SKIN_FORGET_FRAMES >= frames);
        if faces.is_empty() {
            return Ok(gst::FlowSuccess::Ok);
        }
        let (pixel_stride, rgb) = state.layout;
        let (width, height) = (info.width() as usize, info.height() as usize);
        // Landmarks are in the pixels of the frame the meta was made on.
        let sx = if meta_size.0 > 0 { width as f32 / meta_size.0 as f32 } else { 1.0 };
        let sy = if meta_size.1 > 0 { height as f32 / meta_size.1 as f32 } else { 1.0 };

        let layout = PackedLayout { pixel_stride, rgb };
        crate::frame::write_packed(&*self.obj(), buf, &info, layout, |data, stride| {
            let mut frame = FrameMut { data, width, height, stride, pixel_stride, rgb };
            let mut landmarks = Vec::with_capacity(LANDMARK_COUNT);
            for face in &faces {
                landmarks.clear();
                landmarks.extend(face.landmarks.iter().map(|p| [p[0] * sx, p[1] * sy, p[2] * sx]));
                let written = self.swap_face(state, &settings, &mut frame, face, &landmarks)?;
                gst::log!(CAT, imp = self, "track {}: {written} pixels swapped", face.track_id);
            }
            Ok(gst::FlowSuccess::Ok)
        })
    }
}
