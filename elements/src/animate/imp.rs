// SPDX-License-Identifier: MPL-2.0
/**
 * SECTION:element-reenactanimate
 *
 * Portrait animation: the character's portrait (`character`, a character file made by
 * `reenact character create`) moves as the performer's face moves, with LivePortrait's
 * modules. It needs the `GstReenactFaceMeta` that `reenactfacetrack` attaches upstream; the
 * performer's face is cropped from our tracker's landmarks, not by InsightFace's detector.
 *
 * Models: LivePortrait's ONNX modules imported with `reenact models import FILE --as
 * portrait-animation` (`appearance_feature_extractor.onnx`, `motion_extractor.onnx`,
 * `warping_spade.onnx`, `stitching.onnx`). Unset `*-model` properties take the catalog's first
 * module of each kind (`model-dir` is searched first). At start the portrait's face crop
 * (256 px, turned upright by the eye-to-mouth line, 2.3 times the face, as LivePortrait crops
 * its source) gives the appearance feature volume and the portrait's own pose, expression and
 * keypoints. Each frame the performer's crop (2.2 times the face) goes through the motion
 * module; with `relative` (default) the portrait takes on the performer's change in pose,
 * expression, scale and position since the reference face: the first one seen after start, a
 * flush, or a second without a face (the element switched off, the performer out of view), so
 * the performer's own resting pose is the portrait's; the stitching module (`stitching`, default
 * on) corrects the keypoints so the face stays joined to the shoulders; the warping module
 * renders the animated crop at 512 px.
 *
 * Output: the whole portrait, fitted into the frame (centred, aspect kept, black bars), with
 * the animated crop pasted over it through a square feathered over 6 % of its side. Frames
 * without a face keep the last picture; before the first face the portrait is at rest.
 *
 * Caps: packed 8-bit RGB-family video (`RGBA`, `BGRA`, `RGBx`, `BGRx`, `RGB`, `BGR`), any size
 * and rate, processed in place (the output has the input's size).
 *
 * Latency: none added; the element holds no frames. The modules run on the streaming thread;
 * LivePortrait's warping module is made for a GPU (`execution-provider` tells where the
 * modules run).
 *
 * ```bash
 * gst-launch-1.0 v4l2src ! videoconvert ! reenactfacetrack ! reenactanimate character=lincoln.character.json ! videoconvert ! autovideosink
 * ```
 *
 * Since: 0.1.0
 */
use std::path::Path;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;

use super::animator::{Animator, ModelNames, OUTPUT_SIZE};
use super::crop::{compose, fit, square_mask};
use crate::algorithm::LastRun;
use crate::character::{Character, RgbaImage};
use crate::facemeta::{Face, FaceMeta, LANDMARK_COUNT};
use crate::faceswap::mask::{FrameMut, Mask};
use crate::faceswap::neural::{paste_crop, Similarity};
use crate::frame::{PackedLayout, PACKED_RGB_FORMATS as FORMATS};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("reenactanimate", gst::DebugColorFlags::empty(), Some("Reenact portrait animation"))
});

const DEFAULT_RELATIVE: bool = true;
const DEFAULT_STITCHING: bool = true;
const DEFAULT_TRACK_ID: u32 = 0;
const DEFAULT_THREADS: u32 = 1;
const MAX_THREADS: u32 = 64;
/// The pasted crop's feathered edge, as a share of its side.
const FEATHER: f32 = 0.06;
/// A face after this long without one (the element switched off, the performer out of view)
/// becomes the new reference: whoever comes back may not sit as before.
const REFERENCE_TIMEOUT: gst::ClockTime = gst::ClockTime::SECOND;

#[derive(Debug, Clone)]
struct Settings {
    character: Option<String>,
    model_dir: Option<String>,
    models: ModelNames,
    relative: bool,
    track_id: u32,
    threads: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            character: None,
            model_dir: None,
            models: ModelNames { stitch: DEFAULT_STITCHING, ..ModelNames::default() },
            relative: DEFAULT_RELATIVE,
            track_id: DEFAULT_TRACK_ID,
            threads: DEFAULT_THREADS,
        }
    }
}

/// Where the picture goes in frames of one size.
#[derive(Debug)]
struct Layout {
    /// Bytes per pixel and R, G, B offsets.
    pixels: (usize, [usize; 3]),
    width: usize,
    height: usize,
    /// The fitted portrait, RGB per frame pixel, black around it.
    background: Vec<[u8; 3]>,
    /// Frame pixels to animated crop pixels.
    to_crop: Similarity,
    /// Where the animated crop is pasted.
    mask: Mask,
}

impl Layout {
    fn new(portrait: &RgbaImage, to_crop: &Similarity, info: &gst_video::VideoInfo) -> Option<Self> {
        let pixels = FORMATS.iter().find(|f| f.0 == info.format()).map(|f| (f.1, f.2))?;
        let (width, height) = (info.width() as usize, info.height() as usize);
        let (pw, ph) = (portrait.width as usize, portrait.height as usize);
        let to_portrait = fit((pw, ph), (width, height))?;
        let mut background = vec![[0u8; 3]; width * height];
        for (i, px) in background.iter_mut().enumerate() {
            let (x, y) = to_portrait.apply((i % width) as f32, (i / width) as f32);
            if x > -0.5 && y > -0.5 && x < pw as f32 - 0.5 && y < ph as f32 - 0.5 {
                let (x, y) = (x.clamp(0.0, pw as f32 - 1.0), y.clamp(0.0, ph as f32 - 1.0));
                *px = sample(portrait, x, y);
            }
        }
        let to_crop = compose(&to_portrait, to_crop)?;
        let mask = square_mask(&to_crop, OUTPUT_SIZE, FEATHER * OUTPUT_SIZE as f32, (width, height));
        Some(Self { pixels, width, height, background, to_crop, mask })
    }

    /// Writes the fitted portrait over every pixel of `frame`.
    fn fill(&self, frame: &mut FrameMut<'_>) {
        let (ps, rgb) = self.pixels;
        for (y, row) in self.background.chunks_exact(self.width).enumerate() {
            let line = &mut frame.data[y * frame.stride..][..self.width * ps];
            for (px, colour) in line.chunks_exact_mut(ps).zip(row) {
                for (&offset, &value) in rgb.iter().zip(colour) {
                    px[offset] = value;
                }
            }
        }
    }
}

/// The portrait's colour at (`x`, `y`), bilinear; the point lies inside the picture.
fn sample(image: &RgbaImage, x: f32, y: f32) -> [u8; 3] {
    let (w, h) = (image.width as usize, image.height as usize);
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (ax, ay) = (x - x0 as f32, y - y0 as f32);
    let at = |x: usize, y: usize, c: usize| f32::from(image.data[(y * w + x) * 4 + c]);
    std::array::from_fn(|c| {
        let v = crate::frame::bilinear(at(x0, y0, c), at(x1, y0, c), at(x0, y1, c), at(x1, y1, c), ax, ay);
        (v + 0.5) as u8
    })
}

#[derive(Debug)]
struct State {
    animator: Animator,
    portrait: RgbaImage,
    info: Option<gst_video::VideoInfo>,
    layout: Option<Layout>,
    /// Frames shown and frames whose face drove the portrait.
    frames: u64,
    driven: u64,
    /// Timestamp of the last frame whose face drove the portrait.
    last_driven: Option<gst::ClockTime>,
}

#[derive(Debug, Default)]
pub struct ReenactAnimate {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    last_run: LastRun,
}

impl ReenactAnimate {
    fn settings(&self) -> Settings {
        self.settings.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn state(&self) -> MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The face that drives the portrait: the one with `track-id`, else the largest.
    fn driver(&self, buf: &gst::BufferRef, track_id: u32) -> Option<(Face, (u32, u32))> {
        let meta = buf.meta::<FaceMeta>()?;
        let face = meta
            .faces()
            .iter()
            .filter(|f| (track_id == 0 || f.track_id == track_id) && f.landmarks.len() == LANDMARK_COUNT)
            .max_by(|a, b| (a.bbox.w * a.bbox.h).total_cmp(&(b.bbox.w * b.bbox.h)))?;
        Some((face.clone(), (meta.width(), meta.height())))
    }
}

fn optional_string(value: &glib::Value) -> Option<String> {
    value.get::<Option<String>>().expect("type checked upstream").filter(|s| !s.is_empty())
}

#[glib::object_subclass]
impl ObjectSubclass for ReenactAnimate {
    const NAME: &'static str = "GstReenactAnimate";
    type Type = super::ReenactAnimate;
    type ParentType = gst_base::BaseTransform;
}

/// A string property that can only be changed before start.
fn ready_string(name: &str, nick: &str, blurb: &str) -> glib::ParamSpec {
    glib::ParamSpecString::builder(name).nick(nick).blurb(blurb).mutable_ready().build()
}

impl ObjectImpl for ReenactAnimate {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                ready_string("character", "Character", "Character file (*.character.json) whose portrait is animated, read at start (can't be changed in PLAYING or PAUSED state)"),
                ready_string("model-dir", "Model directory", "Directory with MANIFEST*.toml files searched before the model catalog's own (can't be changed in PLAYING or PAUSED state)"),
                ready_string("appearance-model", "Appearance model", "Catalog name of LivePortrait's appearance feature extractor ([1,3,256,256] -> [1,32,16,64,64]); unset = the catalog's first (can't be changed in PLAYING or PAUSED state)"),
                ready_string("motion-model", "Motion model", "Catalog name of LivePortrait's motion extractor ([1,3,256,256] -> pitch, yaw, roll, t, exp, scale, kp); unset = the catalog's first (can't be changed in PLAYING or PAUSED state)"),
                ready_string("warping-model", "Warping model", "Catalog name of LivePortrait's warping + SPADE generator (feature_3d, kp_source, kp_driving -> [1,3,512,512]); unset = the catalog's first (can't be changed in PLAYING or PAUSED state)"),
                ready_string("stitching-model", "Stitching model", "Catalog name of LivePortrait's stitching module ([1,126] -> [1,65]); unset = the catalog's first (can't be changed in PLAYING or PAUSED state)"),
                glib::ParamSpecBoolean::builder("stitching")
                    .nick("Stitching")
                    .blurb("Run the stitching module on the driving keypoints, so the animated face stays joined to the portrait's shoulders (can't be changed in PLAYING or PAUSED state)")
                    .default_value(DEFAULT_STITCHING)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("relative")
                    .nick("Relative motion")
                    .blurb("Move the portrait by the performer's change since the first face seen (after start or a flush) rather than copying the performer's pose outright (can't be changed in PLAYING or PAUSED state)")
                    .default_value(DEFAULT_RELATIVE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("track-id")
                    .nick("Track id")
                    .blurb("Drive the portrait with the face of this track id, 0 = the largest face")
                    .default_value(DEFAULT_TRACK_ID)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("ONNX Runtime threads for each module (can't be changed in PLAYING or PAUSED state)")
                    .minimum(1)
                    .maximum(MAX_THREADS)
                    .default_value(DEFAULT_THREADS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("execution-provider")
                    .nick("Execution provider")
                    .blurb("Where the modules run once started: CPU, CUDA or TensorRT; none before start")
                    .default_value(Some("none"))
                    .read_only()
                    .build(),
                glib::ParamSpecString::builder("algorithm")
                    .nick("Algorithm")
                    .blurb("What animates the portrait, for render metadata: liveportrait:onnx:<appearance>@<version>+<motion>@<version>+<warping>@<version>[+<stitching>@<version>] once started")
                    .default_value(Some("liveportrait"))
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        self.last_run.forget();
        let mut settings = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        let models = &mut settings.models;
        let slot = match pspec.name() {
            "appearance-model" => Some(&mut models.appearance),
            "motion-model" => Some(&mut models.motion),
            "warping-model" => Some(&mut models.warping),
            "stitching-model" => Some(&mut models.stitching),
            _ => None,
        };
        if let Some(slot) = slot {
            let new = optional_string(value);
            gst::info!(CAT, imp = self, "{}: {slot:?} -> {new:?}", pspec.name());
            *slot = new;
            return;
        }
        match pspec.name() {
            "character" => {
                let new = optional_string(value);
                gst::info!(CAT, imp = self, "character: {:?} -> {new:?}", settings.character);
                settings.character = new;
            }
            "model-dir" => {
                let new = optional_string(value);
                gst::info!(CAT, imp = self, "model-dir: {:?} -> {new:?}", settings.model_dir);
                settings.model_dir = new;
            }
            "stitching" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "stitching: {} -> {new}", settings.models.stitch);
                settings.models.stitch = new;
            }
            "relative" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "relative: {} -> {new}", settings.relative);
                settings.relative = new;
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
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "execution-provider" => {
                let provider = self.state().as_ref().map(|s| s.animator.provider().to_string());
                return provider.unwrap_or_else(|| "none".into()).to_value();
            }
            "algorithm" => {
                let started = self.state().as_ref().map(|s| s.animator.algorithm().to_owned());
                let ran = started.or_else(|| self.last_run.get());
                return ran.unwrap_or_else(|| "liveportrait".into()).to_value();
            }
            _ => {}
        }
        let settings = self.settings();
        match pspec.name() {
            "character" => settings.character.to_value(),
            "model-dir" => settings.model_dir.to_value(),
            "appearance-model" => settings.models.appearance.to_value(),
            "motion-model" => settings.models.motion.to_value(),
            "warping-model" => settings.models.warping.to_value(),
            "stitching-model" => settings.models.stitching.to_value(),
            "stitching" => settings.models.stitch.to_value(),
            "relative" => settings.relative.to_value(),
            "track-id" => settings.track_id.to_value(),
            "threads" => settings.threads.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for ReenactAnimate {}

impl ElementImpl for ReenactAnimate {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Reenact portrait animation",
                "Filter/Effect/Video",
                "Animates a character's portrait with the performer's head and face motion (LivePortrait)",
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

impl BaseTransformImpl for ReenactAnimate {
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
        let portrait = character
            .portrait_image()
            .map_err(|err| gst::error_msg!(gst::ResourceError::OpenRead, ["character file {path}: {err}"]))?;
        let catalog = reenact_models::Catalog::load_including(settings.model_dir.as_deref().map(Path::new))
            .map_err(|err| gst::error_msg!(gst::LibraryError::Settings, ["model catalog: {err}"]))?;
        let animator = Animator::open(
            &catalog,
            &settings.models,
            (&portrait, &character.portrait.landmarks),
            settings.relative,
            settings.threads as usize,
        )
        .map_err(|err| gst::error_msg!(gst::LibraryError::Init, ["portrait animation for {path}: {err}"]))?;
        gst::info!(
            CAT,
            imp = self,
            "animating `{}` with {} on {}",
            character.name,
            animator.algorithm(),
            animator.provider()
        );
        *self.state() =
            Some(State { animator, portrait, info: None, layout: None, frames: 0, driven: 0, last_driven: None });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(state) = self.state().take() {
            gst::debug!(CAT, imp = self, "stopped after {} frames, {} driven by a face", state.frames, state.driven);
            self.last_run.set(state.animator.algorithm().to_owned());
        }
        Ok(())
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|_| gst::loggable_error!(CAT, "cannot parse caps {incaps}"))?;
        let mut state = self.state();
        let state = state.as_mut().ok_or_else(|| gst::loggable_error!(CAT, "caps set before start"))?;
        let layout = Layout::new(&state.portrait, state.animator.portrait_to_crop(), &info)
            .ok_or_else(|| gst::loggable_error!(CAT, "cannot place the portrait in {incaps}"))?;
        gst::debug!(CAT, imp = self, "configured for {incaps} -> {outcaps}");
        state.info = Some(info);
        state.layout = Some(layout);
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::FlushStop(_) = event.view() {
            if let Some(state) = self.state().as_mut() {
                state.animator.reset();
                state.last_driven = None;
            }
        }
        self.parent_sink_event(event)
    }

    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let track_id = self.settings().track_id;
        let driver = self.driver(buf, track_id);
        let pts = buf.pts();
        let mut guard = self.state();
        let Some(state) = guard.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["not started"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        let (Some(info), Some(layout)) = (state.info.clone(), state.layout.as_ref()) else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no caps before the first buffer"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        let (pixel_stride, rgb) = layout.pixels;
        crate::frame::write_packed(&*self.obj(), buf, &info, PackedLayout { pixel_stride, rgb }, |data, stride| {
            let mut frame = FrameMut { data, width: layout.width, height: layout.height, stride, pixel_stride, rgb };
            state.frames += 1;
            if let Some((face, (mw, mh))) = driver {
                // Landmarks are in the pixels of the frame the meta was made on.
                let sx = if mw > 0 { layout.width as f32 / mw as f32 } else { 1.0 };
                let sy = if mh > 0 { layout.height as f32 / mh as f32 } else { 1.0 };
                let landmarks: Vec<[f32; 3]> =
                    face.landmarks.iter().map(|p| [p[0] * sx, p[1] * sy, p[2] * sx]).collect();
                if let (Some(now), Some(last)) = (pts, state.last_driven) {
                    if now.saturating_sub(last) > REFERENCE_TIMEOUT || now < last {
                        gst::debug!(
                            CAT,
                            imp = self,
                            "a face again after {}: it becomes the reference",
                            now.saturating_sub(last)
                        );
                        state.animator.reset();
                    }
                }
                let driven = state.animator.drive(&frame, &landmarks).map_err(|err| {
                    gst::element_imp_error!(self, gst::StreamError::Failed, ["portrait animation failed: {err}"]);
                    gst::FlowError::Error
                })?;
                state.driven += u64::from(driven);
                if driven {
                    state.last_driven = pts.or(state.last_driven);
                }
            }
            layout.fill(&mut frame);
            let written = paste_crop(
                &mut frame,
                (state.animator.picture().0, OUTPUT_SIZE, state.animator.picture().1),
                &layout.to_crop,
                &layout.mask,
                1.0,
            );
            gst::log!(CAT, imp = self, "frame {}: {written} pixels of the animated crop", state.frames);
            Ok(gst::FlowSuccess::Ok)
        })
    }
}
