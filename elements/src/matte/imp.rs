// SPDX-License-Identifier: MPL-2.0
/**
 * SECTION:element-reenactmatte
 *
 * Separates the person from the background with MediaPipe selfie segmentation (`model`). The
 * whole frame is stretched to the model's low input size (256x144 or 256x256), the person
 * probability is smoothed over time (`smoothing`), recomputed every `mask-interval` frames and
 * reused in between, and upsampled bilinearly to the frame through an edge ramp
 * (`edge-feather`). `mode` then picks the output: `blur` blurs the background (`blur-strength`,
 * a box blur run on a reduced copy of the frame), `replace` puts `background-image` (decoded
 * once at start and scaled to the frame) or `background-color` behind the person, and `alpha`
 * writes the mask into the fourth byte (use an RGBA-family format).
 *
 * Caps: packed 8-bit 4-byte RGB-family video (`RGBx`, `BGRx`, `xRGB`, `xBGR`, `RGBA`, `BGRA`,
 * `ARGB`, `ABGR`), any size and rate, processed in place.
 *
 * Latency: none added; the element holds no frames, so it answers the LATENCY query with
 * upstream's values. Its processing time (model plus compositing, a few ms per 720p frame on
 * one CPU thread) counts against the pipeline's frame budget.
 *
 * Models come from the model catalog (`selfie_segmentation_landscape` or
 * `selfie_segmentation`); ONNX Runtime is the one `scripts/setup.sh` installs.
 *
 * ```bash
 * gst-launch-1.0 filesrc location=presenter.mp4 ! decodebin ! videoconvert ! reenactmatte mode=replace background-color=0xff00b140 ! videoconvert ! autovideosink
 * ```
 *
 * Since: 0.1.0
 */
use std::path::Path;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::VideoFormat;

use super::compose::{argb, blend, colour_row, opacity_lut, write_alpha_row, Under};
use super::inference::Segmenter;
use super::mask::{edge_lut, smooth, to_u8, Frame, MaskScaler, Ramp};
use super::pixels::{Rgb, Upsampler};
use super::{ReenactMatteMode, ReenactMatteModel};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("reenactmatte", gst::DebugColorFlags::empty(), Some("Reenact background matting"))
});

static ONNX_CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("reenactonnx", gst::DebugColorFlags::empty(), Some("Reenact ONNX inference"))
});

const DEFAULT_MODE: ReenactMatteMode = ReenactMatteMode::Blur;
const DEFAULT_MODEL: ReenactMatteModel = ReenactMatteModel::Landscape;
const DEFAULT_BLUR_STRENGTH: u32 = 24;
const MAX_BLUR_STRENGTH: u32 = 256;
const DEFAULT_BACKGROUND_COLOR: u32 = 0xff00_b140;
const DEFAULT_MASK_INTERVAL: u32 = 1;
const MAX_MASK_INTERVAL: u32 = 1000;
const DEFAULT_SMOOTHING: f64 = 0.5;
const MAX_SMOOTHING: f64 = 0.99;
const DEFAULT_EDGE_FEATHER: f64 = 0.15;
const MAX_EDGE_FEATHER: f64 = 0.5;
const DEFAULT_THREADS: u32 = 1;
const MAX_THREADS: u32 = 64;

/// Formats accepted, with the byte offsets of R, G, B and of the fourth (alpha or padding) byte.
const FORMATS: [(VideoFormat, [usize; 3], usize); 8] = [
    (VideoFormat::Rgbx, [0, 1, 2], 3),
    (VideoFormat::Bgrx, [2, 1, 0], 3),
    (VideoFormat::Xrgb, [1, 2, 3], 0),
    (VideoFormat::Xbgr, [3, 2, 1], 0),
    (VideoFormat::Rgba, [0, 1, 2], 3),
    (VideoFormat::Bgra, [2, 1, 0], 3),
    (VideoFormat::Argb, [1, 2, 3], 0),
    (VideoFormat::Abgr, [3, 2, 1], 0),
];

#[derive(Debug, Clone)]
struct Settings {
    mode: ReenactMatteMode,
    model: ReenactMatteModel,
    blur_strength: u32,
    background_color: u32,
    background_image: Option<String>,
    mask_interval: u32,
    smoothing: f64,
    edge_feather: f64,
    threads: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: DEFAULT_MODE,
            model: DEFAULT_MODEL,
            blur_strength: DEFAULT_BLUR_STRENGTH,
            background_color: DEFAULT_BACKGROUND_COLOR,
            background_image: None,
            mask_interval: DEFAULT_MASK_INTERVAL,
            smoothing: DEFAULT_SMOOTHING,
            edge_feather: DEFAULT_EDGE_FEATHER,
            threads: DEFAULT_THREADS,
        }
    }
}

#[derive(Debug)]
struct State {
    /// The segmentation session, opened in `start`.
    segmenter: Segmenter,
    /// `background-image` as decoded in `start`, at its own size.
    image: Option<Rgb>,
    /// `image` scaled to the negotiated frame size, in its byte layout.
    scaled_image: Option<Vec<u8>>,
    /// Negotiated video format; `None` until `set_caps`.
    info: Option<gst_video::VideoInfo>,
    /// R, G, B offsets and the fourth byte's offset of the negotiated format.
    layout: ([usize; 3], usize),
    /// Frames processed, for `mask-interval`.
    frames: u64,
    /// Time-smoothed person probability at model size; empty until the first mask.
    mask: Vec<f32>,
    /// `mask` as bytes.
    mask_u8: Vec<u8>,
    /// Mask upsampler for the negotiated size.
    scaler: Option<MaskScaler>,
    /// Edge ramp table and the `edge-feather` it was built for.
    lut: ([u8; 256], f64),
    /// One frame row of alpha.
    alpha_row: Vec<u8>,
    /// Reduced frame copy blurred for `blur` mode, its scratch and upsampler.
    small: Rgb,
    scratch: Vec<u8>,
    upsampler: Option<Upsampler>,
}

#[derive(Debug, Default)]
pub struct ReenactMatte {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

impl ReenactMatte {
    fn settings(&self) -> Settings {
        self.settings.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn state(&self) -> MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The numbered pixel rows of a mapped frame, without the stride's padding.
fn frame_rows(data: &mut [u8], stride: usize, width: usize, height: usize) -> impl Iterator<Item = (usize, &mut [u8])> {
    data.chunks_mut(stride).take(height).map(move |row| &mut row[..width * 4]).enumerate()
}

/// Decodes the first frame of the image (or video) file at `path` as RGB.
fn decode_image(path: &str) -> Result<Rgb, String> {
    if !Path::new(path).is_file() {
        return Err("no such file".into());
    }
    let pipeline = gst::parse::launch(
        "filesrc name=src ! decodebin ! videoconvert ! videoscale ! video/x-raw,format=RGBx ! appsink name=sink sync=false max-buffers=1",
    )
    .map_err(|err| format!("cannot build the decoder: {err}"))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "the decoder is not a pipeline".to_owned())?;
    let src = pipeline.by_name("src").ok_or("no filesrc")?;
    src.set_property("location", path);
    let sink = pipeline
        .by_name("sink")
        .and_then(|s| s.downcast::<gst_app::AppSink>().ok())
        .ok_or("no appsink in the decoder")?;
    let bus_error = |pipeline: &gst::Pipeline| {
        pipeline
            .bus()
            .and_then(|bus| bus.pop_filtered(&[gst::MessageType::Error]))
            .and_then(|msg| match msg.view() {
                gst::MessageView::Error(err) => Some(err.error().to_string()),
                _ => None,
            })
            .unwrap_or_else(|| "no video frame decoded".into())
    };
    let result = match pipeline.set_state(gst::State::Playing) {
        Err(_) => Err(bus_error(&pipeline)),
        Ok(_) => match sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
            None => Err(bus_error(&pipeline)),
            Some(sample) => rgb_from_sample(&sample),
        },
    };
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn rgb_from_sample(sample: &gst::Sample) -> Result<Rgb, String> {
    let caps = sample.caps().ok_or("decoded frame without caps")?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|_| format!("unexpected caps {caps}"))?;
    let buffer = sample.buffer().ok_or("decoded sample without buffer")?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
        .map_err(|_| "cannot map the decoded frame".to_owned())?;
    let stride = usize::try_from(frame.plane_stride()[0]).unwrap_or(0);
    let data = frame.plane_data(0).map_err(|_| "cannot read the decoded frame".to_owned())?;
    let (width, height) = (info.width() as usize, info.height() as usize);
    if width == 0 || height == 0 || stride < width * 4 || data.len() < (height - 1) * stride + width * 4 {
        return Err("decoded frame is smaller than its caps say".into());
    }
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for px in data[y * stride..][..width * 4].chunks_exact(4) {
            rgb.extend_from_slice(&px[..3]);
        }
    }
    Ok(Rgb { width, height, data: rgb })
}

#[glib::object_subclass]
impl ObjectSubclass for ReenactMatte {
    const NAME: &'static str = "GstReenactMatte";
    type Type = super::ReenactMatte;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for ReenactMatte {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecEnum::builder_with_default("mode", DEFAULT_MODE)
                    .nick("Mode")
                    .blurb("What to do with the person mask: blur or replace the background, or write the mask into alpha")
                    .mutable_playing()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("model", DEFAULT_MODEL)
                    .nick("Model")
                    .blurb("Selfie segmentation model (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("blur-strength")
                    .nick("Blur strength")
                    .blurb("Background blur radius in frame pixels, 1..256 (mode=blur)")
                    .minimum(1)
                    .maximum(MAX_BLUR_STRENGTH)
                    .default_value(DEFAULT_BLUR_STRENGTH)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("background-color")
                    .nick("Background color")
                    .blurb("Replacement colour as 0xAARRGGBB, alpha is its opacity (mode=replace without background-image)")
                    .default_value(DEFAULT_BACKGROUND_COLOR)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecString::builder("background-image")
                    .nick("Background image")
                    .blurb("Image file put behind the person (mode=replace), decoded once at start and scaled to the frame (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("mask-interval")
                    .nick("Mask interval")
                    .blurb("Compute the mask every this many frames and reuse it in between, 1 = every frame")
                    .minimum(1)
                    .maximum(MAX_MASK_INTERVAL)
                    .default_value(DEFAULT_MASK_INTERVAL)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("smoothing")
                    .nick("Smoothing")
                    .blurb("Share of the previous mask kept when a new one is computed, 0 (none)..0.99")
                    .minimum(0.0)
                    .maximum(MAX_SMOOTHING)
                    .default_value(DEFAULT_SMOOTHING)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("edge-feather")
                    .nick("Edge feather")
                    .blurb("Half width of the edge ramp around probability 0.5, 0 (hard edge)..0.5 (raw mask)")
                    .minimum(0.0)
                    .maximum(MAX_EDGE_FEATHER)
                    .default_value(DEFAULT_EDGE_FEATHER)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("ONNX Runtime threads (can't be changed in PLAYING or PAUSED state)")
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
            "mode" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "mode: {:?} -> {new:?}", settings.mode);
                settings.mode = new;
            }
            "model" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "model: {:?} -> {new:?}", settings.model);
                settings.model = new;
            }
            "blur-strength" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "blur-strength: {} -> {new}", settings.blur_strength);
                settings.blur_strength = new;
            }
            "background-color" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "background-color: {:#010x} -> {new:#010x}", settings.background_color);
                settings.background_color = new;
            }
            "background-image" => {
                let new: Option<String> = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "background-image: {:?} -> {new:?}", settings.background_image);
                settings.background_image = new.filter(|path| !path.is_empty());
            }
            "mask-interval" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "mask-interval: {} -> {new}", settings.mask_interval);
                settings.mask_interval = new;
            }
            "smoothing" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "smoothing: {} -> {new}", settings.smoothing);
                settings.smoothing = new;
            }
            "edge-feather" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "edge-feather: {} -> {new}", settings.edge_feather);
                settings.edge_feather = new;
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
            "mode" => settings.mode.to_value(),
            "model" => settings.model.to_value(),
            "blur-strength" => settings.blur_strength.to_value(),
            "background-color" => settings.background_color.to_value(),
            "background-image" => settings.background_image.to_value(),
            "mask-interval" => settings.mask_interval.to_value(),
            "smoothing" => settings.smoothing.to_value(),
            "edge-feather" => settings.edge_feather.to_value(),
            "threads" => settings.threads.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for ReenactMatte {}

impl ElementImpl for ReenactMatte {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Reenact background matting",
                "Filter/Effect/Video",
                "Segments the person and blurs or replaces the background, or writes the mask into alpha",
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

impl BaseTransformImpl for ReenactMatte {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings();
        let image = match &settings.background_image {
            Some(path) => Some(
                decode_image(path)
                    .map_err(|err| gst::error_msg!(gst::ResourceError::OpenRead, ["background-image {path}: {err}"]))?,
            ),
            None => None,
        };
        let catalog = reenact_models::Catalog::load()
            .map_err(|err| gst::error_msg!(gst::LibraryError::Settings, ["model catalog: {err}"]))?;
        let segmenter = Segmenter::open(&catalog, settings.model.model_name(), settings.threads as usize)
            .map_err(|err| gst::error_msg!(gst::LibraryError::Init, ["{err}"]))?;
        gst::info!(ONNX_CAT, imp = self, "model ready: {segmenter:?}");
        *self.state() = Some(State {
            segmenter,
            image,
            scaled_image: None,
            info: None,
            layout: ([0, 1, 2], 3),
            frames: 0,
            mask: Vec::new(),
            mask_u8: Vec::new(),
            scaler: None,
            lut: (edge_lut(settings.edge_feather as f32), settings.edge_feather),
            alpha_row: Vec::new(),
            small: Rgb::default(),
            scratch: Vec::new(),
            upsampler: None,
        });
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
        let (width, height) = (info.width() as usize, info.height() as usize);
        let (mw, mh) = state.segmenter.size();
        state.scaler = Some(MaskScaler::new(mw, mh, width, height));
        state.scaled_image = state.image.as_ref().map(|image| image.resized_packed(width, height, layout.0));
        state.alpha_row = vec![0; width];
        state.mask.clear();
        state.upsampler = None;
        state.frames = 0;
        state.info = Some(info);
        state.layout = layout;
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::FlushStop(_) = event.view() {
            if let Some(state) = self.state().as_mut() {
                state.mask.clear();
                state.frames = 0;
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
        let (rgb, fourth) = state.layout;
        let (width, height) = (info.width() as usize, info.height() as usize);
        let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &info).map_err(|_| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ["cannot map the buffer as {:?}", info.format()]);
            gst::FlowError::Error
        })?;
        let stride = usize::try_from(frame.plane_stride()[0]).unwrap_or(0);
        let data = frame.plane_data_mut(0).map_err(|_| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ["cannot write the frame"]);
            gst::FlowError::Error
        })?;
        let view = Frame { data: &*data, width, height, stride, rgb };
        if !view.is_valid() {
            gst::element_imp_error!(self, gst::StreamError::Failed, ["frame is smaller than its caps say"]);
            return Err(gst::FlowError::Error);
        }

        let interval = u64::from(settings.mask_interval.max(1));
        let fresh = state.mask.is_empty() || state.frames % interval == 0;
        if fresh {
            let new = state.segmenter.run(&view).map_err(|err| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["segmentation failed: {err}"]);
                gst::FlowError::Error
            })?;
            smooth(&mut state.mask, new, settings.smoothing as f32);
            to_u8(&state.mask, &mut state.mask_u8);
        } else {
            gst::trace!(CAT, imp = self, "reusing the mask of an earlier frame");
        }
        state.frames += 1;
        if state.lut.1 != settings.edge_feather {
            state.lut = (edge_lut(settings.edge_feather as f32), settings.edge_feather);
        }

        let State { scaler, mask_u8, lut, alpha_row, small, scratch, upsampler, scaled_image, .. } = state;
        let Some(scaler) = scaler.as_mut().filter(|s| s.frame_size() == (width, height)) else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["mask scaler does not fit the frame"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        if fresh || !scaler.is_prepared() {
            scaler.prepare(mask_u8);
        }
        let mut ramp = Ramp::new(lut.0);
        match settings.mode {
            ReenactMatteMode::Alpha => {
                for (y, row) in frame_rows(data, stride, width, height) {
                    scaler.row(y, &ramp, alpha_row);
                    write_alpha_row(row, fourth, alpha_row);
                }
            }
            ReenactMatteMode::Replace => {
                let colour;
                let (background, line) = match scaled_image.as_deref() {
                    Some(image) => (image, width * 4),
                    None => {
                        let (rgb_colour, opacity) = argb(settings.background_color);
                        // The colour's opacity goes into the alpha: one table from mask to weight.
                        let keep = opacity_lut(opacity);
                        ramp = Ramp::new(ramp.lut.map(|a| keep[usize::from(a)]));
                        colour = colour_row(rgb_colour, rgb, width);
                        (colour.as_slice(), 0)
                    }
                };
                for (y, row) in frame_rows(data, stride, width, height) {
                    scaler.row(y, &ramp, alpha_row);
                    blend(row, alpha_row, fourth, Under::Row(&background[y * line..][..width * 4]));
                }
            }
            ReenactMatteMode::Blur => {
                // Blur a copy reduced so the blur radius there is about 4 px: cost independent
                // of the strength, and the reduction itself is part of the blur.
                let strength = settings.blur_strength.max(1) as usize;
                let factor = (strength / 4).clamp(1, 16);
                let radius = strength.div_ceil(factor).max(1);
                Rgb::downscale(&view, factor, small);
                small.box_blur(radius, 2, scratch);
                let up = match upsampler {
                    Some(up) if up.fits(small, width, height) => up,
                    _ => upsampler.insert(Upsampler::new(small, width, height)),
                };
                up.prepare(small, rgb);
                for (y, row) in frame_rows(data, stride, width, height) {
                    scaler.row(y, &ramp, alpha_row);
                    let (top, bottom, w) = up.rows(y);
                    blend(row, alpha_row, fourth, Under::Between(top, bottom, w));
                }
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
