// SPDX-License-Identifier: MPL-2.0
/**
 * SECTION:element-reenactfacetrack
 *
 * Finds and follows faces. BlazeFace (`detector`) runs every `detect-interval` frames while
 * fewer than `max-faces` faces are tracked, and on every frame while none is; the 468-point MediaPipe face mesh runs on every frame
 * for each tracked face, inside a region built from the previous frame's landmarks. Landmarks
 * are smoothed with a One-Euro filter (`min-cutoff`, `beta`); faces keep their track id while
 * they stay in view (IoU matching). Each buffer leaves with a `GstReenactFaceMeta` listing the
 * faces (track id, confidence, box, landmarks, keypoints), empty when there is none.
 * `draw=true` also paints boxes and landmarks into the frame.
 *
 * Caps: packed 8-bit RGB-family video (`RGBx`, `BGRx`, `xRGB`, `xBGR`, `RGBA`, `BGRA`, `ARGB`,
 * `ABGR`, `RGB`, `BGR`), any size and rate, processed in place.
 *
 * Latency: none added; the element holds no frames, so it answers the LATENCY query with
 * upstream's values. Its processing time (about 3-5 ms per 720p frame on one CPU thread with
 * one face) counts against the pipeline's frame budget.
 *
 * Models come from the model catalog (`blazeface_front_128` or `blazeface_back_256`, and
 * `face_landmarks`); ONNX Runtime is the one `scripts/setup.sh` installs.
 *
 * ```bash
 * gst-launch-1.0 filesrc location=presenter.mp4 ! decodebin ! videoconvert ! reenactfacetrack draw=true ! videoconvert ! autovideosink
 * ```
 *
 * Since: 0.1.0
 */
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::VideoFormat;

use super::draw::Canvas;
use super::image::Image;
use super::inference::OnnxFaceModels;
use super::one_euro::OneEuroParams;
use super::tracker::{Tracker, TrackerParams};
use super::ReenactFaceTrackDetector;
use crate::facemeta::FaceMeta;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("reenactfacetrack", gst::DebugColorFlags::empty(), Some("Reenact face tracker"))
});

static ONNX_CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("reenactonnx", gst::DebugColorFlags::empty(), Some("Reenact ONNX inference"))
});

const DEFAULT_DETECT_INTERVAL: u32 = 5;
const MAX_DETECT_INTERVAL: u32 = 1000;
// back-256 by default: measured on the 720p presenter clip (face about 10% of the frame width),
// front-128 finds no face at the default 0.75 threshold while back-256 scores 0.95.
const DEFAULT_DETECTOR: ReenactFaceTrackDetector = ReenactFaceTrackDetector::Back256;
const DEFAULT_MAX_FACES: u32 = 1;
const MAX_MAX_FACES: u32 = 8;
const DEFAULT_MIN_DETECTION_CONFIDENCE: f64 = 0.75;
const DEFAULT_MIN_CUTOFF: f64 = 1.0;
const MIN_MIN_CUTOFF: f64 = 0.001;
const MAX_MIN_CUTOFF: f64 = 100.0;
const DEFAULT_BETA: f64 = 0.05;
const MAX_BETA: f64 = 10.0;
const DEFAULT_DRAW: bool = false;
const DEFAULT_THREADS: u32 = 1;
const MAX_THREADS: u32 = 64;

/// Formats accepted, with bytes per pixel and the byte offsets of R, G and B.
const FORMATS: [(VideoFormat, usize, [usize; 3]); 10] = [
    (VideoFormat::Rgbx, 4, [0, 1, 2]),
    (VideoFormat::Bgrx, 4, [2, 1, 0]),
    (VideoFormat::Xrgb, 4, [1, 2, 3]),
    (VideoFormat::Xbgr, 4, [3, 2, 1]),
    (VideoFormat::Rgba, 4, [0, 1, 2]),
    (VideoFormat::Bgra, 4, [2, 1, 0]),
    (VideoFormat::Argb, 4, [1, 2, 3]),
    (VideoFormat::Abgr, 4, [3, 2, 1]),
    (VideoFormat::Rgb, 3, [0, 1, 2]),
    (VideoFormat::Bgr, 3, [2, 1, 0]),
];

#[derive(Debug, Clone, Copy)]
struct Settings {
    detect_interval: u32,
    detector: ReenactFaceTrackDetector,
    max_faces: u32,
    min_detection_confidence: f64,
    min_cutoff: f64,
    beta: f64,
    draw: bool,
    threads: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            detect_interval: DEFAULT_DETECT_INTERVAL,
            detector: DEFAULT_DETECTOR,
            max_faces: DEFAULT_MAX_FACES,
            min_detection_confidence: DEFAULT_MIN_DETECTION_CONFIDENCE,
            min_cutoff: DEFAULT_MIN_CUTOFF,
            beta: DEFAULT_BETA,
            draw: DEFAULT_DRAW,
            threads: DEFAULT_THREADS,
        }
    }
}

#[derive(Debug)]
struct State {
    /// The two model sessions, opened in `start`.
    models: OnnxFaceModels,
    /// Faces followed so far; reset on flush.
    tracker: Tracker,
    /// Negotiated video format; `None` until `set_caps`.
    info: Option<gst_video::VideoInfo>,
    /// Bytes per pixel and R, G, B offsets of the negotiated format.
    layout: (usize, [usize; 3]),
    /// Frames processed, for stream time when buffers carry no PTS.
    frames: u64,
}

#[derive(Debug, Default)]
pub struct ReenactFaceTrack {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

impl ReenactFaceTrack {
    fn settings(&self) -> Settings {
        *self.settings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn state(&self) -> MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[glib::object_subclass]
impl ObjectSubclass for ReenactFaceTrack {
    const NAME: &'static str = "GstReenactFaceTrack";
    type Type = super::ReenactFaceTrack;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for ReenactFaceTrack {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt::builder("detect-interval")
                    .nick("Detect interval")
                    .blurb("Run the face detector every this many frames while fewer than max-faces faces are tracked, 1 = every frame (it runs on every frame while no face is tracked)")
                    .minimum(1)
                    .maximum(MAX_DETECT_INTERVAL)
                    .default_value(DEFAULT_DETECT_INTERVAL)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("detector", DEFAULT_DETECTOR)
                    .nick("Detector")
                    .blurb("BlazeFace model that finds new faces (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("max-faces")
                    .nick("Max faces")
                    .blurb("Most faces tracked at once, each costs one landmark pass per frame")
                    .minimum(1)
                    .maximum(MAX_MAX_FACES)
                    .default_value(DEFAULT_MAX_FACES)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("min-detection-confidence")
                    .nick("Min detection confidence")
                    .blurb("Detector score (0..1) a new face needs (can't be changed in PLAYING or PAUSED state)")
                    .minimum(0.0)
                    .maximum(1.0)
                    .default_value(DEFAULT_MIN_DETECTION_CONFIDENCE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("min-cutoff")
                    .nick("Min cutoff")
                    .blurb("One-Euro landmark smoothing cutoff at rest, in Hz: lower is smoother")
                    .minimum(MIN_MIN_CUTOFF)
                    .maximum(MAX_MIN_CUTOFF)
                    .default_value(DEFAULT_MIN_CUTOFF)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("beta")
                    .nick("Beta")
                    .blurb("One-Euro speed coefficient, in Hz per pixel/second: higher follows fast motion with less lag")
                    .minimum(0.0)
                    .maximum(MAX_BETA)
                    .default_value(DEFAULT_BETA)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecBoolean::builder("draw")
                    .nick("Draw")
                    .blurb("Paint face boxes, landmarks and keypoints into the frame (debugging)")
                    .default_value(DEFAULT_DRAW)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("ONNX Runtime threads per model (can't be changed in PLAYING or PAUSED state)")
                    .minimum(1)
                    .maximum(MAX_THREADS)
                    .default_value(DEFAULT_THREADS)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        match pspec.name() {
            "detect-interval" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "detect-interval: {} -> {new}", settings.detect_interval);
                settings.detect_interval = new;
            }
            "detector" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "detector: {:?} -> {new:?}", settings.detector);
                settings.detector = new;
            }
            "max-faces" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "max-faces: {} -> {new}", settings.max_faces);
                settings.max_faces = new;
            }
            "min-detection-confidence" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "min-detection-confidence: {} -> {new}", settings.min_detection_confidence);
                settings.min_detection_confidence = new;
            }
            "min-cutoff" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "min-cutoff: {} -> {new}", settings.min_cutoff);
                settings.min_cutoff = new;
            }
            "beta" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "beta: {} -> {new}", settings.beta);
                settings.beta = new;
            }
            "draw" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "draw: {} -> {new}", settings.draw);
                settings.draw = new;
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
        let settings = self.settings();
        match pspec.name() {
            "detect-interval" => settings.detect_interval.to_value(),
            "detector" => settings.detector.to_value(),
            "max-faces" => settings.max_faces.to_value(),
            "min-detection-confidence" => settings.min_detection_confidence.to_value(),
            "min-cutoff" => settings.min_cutoff.to_value(),
            "beta" => settings.beta.to_value(),
            "draw" => settings.draw.to_value(),
            "threads" => settings.threads.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for ReenactFaceTrack {}

impl ElementImpl for ReenactFaceTrack {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Reenact face tracker",
                "Filter/Analyzer/Video",
                "Detects faces, tracks 468 landmarks per face with stable ids, and attaches them as a face meta",
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

impl BaseTransformImpl for ReenactFaceTrack {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings();
        let catalog = reenact_models::Catalog::load()
            .map_err(|err| gst::error_msg!(gst::LibraryError::Settings, ["model catalog: {err}"]))?;
        let models = OnnxFaceModels::open(
            &catalog,
            settings.detector.model_name(),
            settings.min_detection_confidence as f32,
            settings.threads as usize,
        )
        .map_err(|err| gst::error_msg!(gst::LibraryError::Init, ["{err}"]))?;
        gst::info!(ONNX_CAT, imp = self, "models ready: {models:?}");
        *self.state() =
            Some(State { models, tracker: Tracker::default(), info: None, layout: (4, [0, 1, 2]), frames: 0 });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state() = None;
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
        state.tracker.reset();
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::FlushStop(_) = event.view() {
            if let Some(state) = self.state().as_mut() {
                state.tracker.reset();
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
        let mut guard = self.state();
        let Some(state) = guard.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["not started"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        let Some(info) = state.info.clone() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no caps before the first buffer"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        let params = TrackerParams {
            detect_interval: settings.detect_interval,
            max_faces: settings.max_faces as usize,
            smoothing: OneEuroParams { min_cutoff: settings.min_cutoff as f32, beta: settings.beta as f32 },
        };
        let time = match buf.pts() {
            Some(pts) => pts.nseconds() as f64 / 1e9,
            None => {
                let fps = info.fps();
                let rate =
                    if fps.numer() > 0 && fps.denom() > 0 { fps.numer() as f64 / fps.denom() as f64 } else { 25.0 };
                state.frames as f64 / rate
            }
        };
        state.frames += 1;
        let (pixel_stride, rgb) = state.layout;
        let (width, height) = (info.width() as usize, info.height() as usize);

        let faces = {
            let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(&*buf, &info).map_err(|_| {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ["cannot map the buffer as {:?}", info.format()]
                );
                gst::FlowError::Error
            })?;
            let stride = usize::try_from(frame.plane_stride()[0]).unwrap_or(0);
            let data = frame.plane_data(0).map_err(|_| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["cannot read the frame"]);
                gst::FlowError::Error
            })?;
            let image = Image { data, width, height, stride, pixel_stride, rgb };
            if !image.is_valid() {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["frame is smaller than its caps say"]);
                return Err(gst::FlowError::Error);
            }
            state.tracker.process(&mut state.models, &image, time, &params).map_err(|err| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["face tracking failed: {err}"]);
                gst::FlowError::Error
            })?
        };
        drop(guard);
        gst::log!(CAT, imp = self, "{} face(s) at {}", faces.len(), buf.pts().display());

        if settings.draw && !faces.is_empty() {
            let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(&mut *buf, &info).map_err(|_| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["cannot map the buffer for drawing"]);
                gst::FlowError::Error
            })?;
            let stride = usize::try_from(frame.plane_stride()[0]).unwrap_or(0);
            if let Ok(data) = frame.plane_data_mut(0) {
                Canvas { data, width, height, stride, pixel_stride, rgb }.draw_faces(&faces);
            }
        }
        FaceMeta::add(buf, info.width(), info.height(), faces);
        Ok(gst::FlowSuccess::Ok)
    }
}
