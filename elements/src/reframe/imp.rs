// SPDX-License-Identifier: MPL-2.0
/**
 * SECTION:element-reenactreframe
 *
 * Crops each frame to `aspect` (9:16, 1:1 or 16:9; the largest even-sized rectangle of that
 * aspect inside the frame) around the main face of the `GstReenactFaceMeta` that
 * `reenactfacetrack` attaches upstream: the face with the lowest track id, so the camera does
 * not switch between faces whose sizes change. The crop centre follows a smoothed path: the
 * target moves only when the face leaves a dead zone (`dead-zone`), the centre glides to it
 * (`smoothing` time constant) no faster than `max-speed`, and after `lost-frames` frames
 * without a face it glides back to the centre of the frame. The output is a new buffer of the
 * crop size; its face meta is moved into the crop's coordinates.
 *
 * Caps: packed 8-bit RGB-family video (`RGBx`, `BGRx`, `xRGB`, `xBGR`, `RGBA`, `BGRA`, `ARGB`,
 * `ABGR`, `RGB`, `BGR`); the output has the same format and rate, the crop's size.
 *
 * Latency: none added; the element holds no frames, so it answers the LATENCY query with
 * upstream's values.
 *
 * ```bash
 * gst-launch-1.0 filesrc location=presenter.mp4 ! decodebin ! videoconvert ! reenactfacetrack ! reenactreframe aspect=9:16 ! videoconvert ! autovideosink
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

use super::camera::{Camera, CameraParams};
use super::crop::{copy_crop, crop_origin, crop_size};
use super::ReenactReframeAspect;
use crate::facemeta::{Face, FaceMeta};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("reenactreframe", gst::DebugColorFlags::empty(), Some("Reenact face-following crop"))
});

const DEFAULT_ASPECT: ReenactReframeAspect = ReenactReframeAspect::Portrait;
const DEFAULT_DEAD_ZONE: f64 = 0.1;
const MAX_DEAD_ZONE: f64 = 0.5;
const DEFAULT_MAX_SPEED: f64 = 0.5;
const MIN_MAX_SPEED: f64 = 0.01;
const MAX_MAX_SPEED: f64 = 10.0;
const DEFAULT_SMOOTHING: f64 = 0.3;
const MAX_SMOOTHING: f64 = 10.0;
const DEFAULT_LOST_FRAMES: u32 = 25;
const MAX_LOST_FRAMES: u32 = 100_000;

/// Formats accepted, with bytes per pixel.
const FORMATS: [(VideoFormat, usize); 10] = [
    (VideoFormat::Rgbx, 4),
    (VideoFormat::Bgrx, 4),
    (VideoFormat::Xrgb, 4),
    (VideoFormat::Xbgr, 4),
    (VideoFormat::Rgba, 4),
    (VideoFormat::Bgra, 4),
    (VideoFormat::Argb, 4),
    (VideoFormat::Abgr, 4),
    (VideoFormat::Rgb, 3),
    (VideoFormat::Bgr, 3),
];

#[derive(Debug, Clone, Copy)]
struct Settings {
    aspect: ReenactReframeAspect,
    dead_zone: f64,
    max_speed: f64,
    smoothing: f64,
    lost_frames: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            aspect: DEFAULT_ASPECT,
            dead_zone: DEFAULT_DEAD_ZONE,
            max_speed: DEFAULT_MAX_SPEED,
            smoothing: DEFAULT_SMOOTHING,
            lost_frames: DEFAULT_LOST_FRAMES,
        }
    }
}

#[derive(Debug)]
struct State {
    /// Negotiated input and output formats.
    in_info: gst_video::VideoInfo,
    out_info: gst_video::VideoInfo,
    /// Bytes per pixel of the format.
    pixel_stride: usize,
    /// The camera path.
    camera: Camera,
    /// PTS of the previous buffer, for the time step.
    last_pts: Option<gst::ClockTime>,
}

#[derive(Debug, Default)]
pub struct ReenactReframe {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

impl ReenactReframe {
    fn settings(&self) -> Settings {
        *self.settings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn state(&self) -> MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `face` moved by (-`dx`, -`dy`): its coordinates in the crop.
fn shifted(face: &Face, dx: f32, dy: f32) -> Face {
    let mut face = face.clone();
    face.bbox.x -= dx;
    face.bbox.y -= dy;
    for p in &mut face.landmarks {
        p[0] -= dx;
        p[1] -= dy;
    }
    for k in &mut face.keypoints {
        *k = (k.0 - dx, k.1 - dy);
    }
    face
}

#[glib::object_subclass]
impl ObjectSubclass for ReenactReframe {
    const NAME: &'static str = "GstReenactReframe";
    type Type = super::ReenactReframe;
    type ParentType = gst_base::BaseTransform;
}

impl ObjectImpl for ReenactReframe {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecEnum::builder_with_default("aspect", DEFAULT_ASPECT)
                    .nick("Aspect")
                    .blurb("Aspect ratio of the crop (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("dead-zone")
                    .nick("Dead zone")
                    .blurb("Half width of the zone, as a fraction 0..0.5 of the crop size, in which face movements do not move the camera")
                    .minimum(0.0)
                    .maximum(MAX_DEAD_ZONE)
                    .default_value(DEFAULT_DEAD_ZONE)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("max-speed")
                    .nick("Max speed")
                    .blurb("Fastest pan, in frame widths per second (0.01..10)")
                    .minimum(MIN_MAX_SPEED)
                    .maximum(MAX_MAX_SPEED)
                    .default_value(DEFAULT_MAX_SPEED)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecDouble::builder("smoothing")
                    .nick("Smoothing")
                    .blurb("Time constant of the camera glide in seconds, 0 (direct, still speed bounded)..10")
                    .minimum(0.0)
                    .maximum(MAX_SMOOTHING)
                    .default_value(DEFAULT_SMOOTHING)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("lost-frames")
                    .nick("Lost frames")
                    .blurb("Frames without a face before the camera glides back to the centre")
                    .minimum(1)
                    .maximum(MAX_LOST_FRAMES)
                    .default_value(DEFAULT_LOST_FRAMES)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        match pspec.name() {
            "aspect" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "aspect: {:?} -> {new:?}", settings.aspect);
                settings.aspect = new;
            }
            "dead-zone" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "dead-zone: {} -> {new}", settings.dead_zone);
                settings.dead_zone = new;
            }
            "max-speed" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "max-speed: {} -> {new}", settings.max_speed);
                settings.max_speed = new;
            }
            "smoothing" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "smoothing: {} -> {new}", settings.smoothing);
                settings.smoothing = new;
            }
            "lost-frames" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "lost-frames: {} -> {new}", settings.lost_frames);
                settings.lost_frames = new;
            }
            _ => unimplemented!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let settings = self.settings();
        match pspec.name() {
            "aspect" => settings.aspect.to_value(),
            "dead-zone" => settings.dead_zone.to_value(),
            "max-speed" => settings.max_speed.to_value(),
            "smoothing" => settings.smoothing.to_value(),
            "lost-frames" => settings.lost_frames.to_value(),
            _ => unimplemented!(),
        }
    }
}

impl GstObjectImpl for ReenactReframe {}

impl ElementImpl for ReenactReframe {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Reenact face-following crop",
                "Filter/Effect/Video",
                "Crops to a target aspect ratio around the main face with a smooth, speed-bounded camera path",
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

impl BaseTransformImpl for ReenactReframe {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state() = None;
        gst::debug!(CAT, imp = self, "stopped");
        Ok(())
    }

    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let ratio = self.settings().aspect.ratio();
        let mut out = caps.clone();
        for s in out.make_mut().iter_mut() {
            let size = (s.get::<i32>("width").ok(), s.get::<i32>("height").ok());
            match (direction, size) {
                (gst::PadDirection::Sink, (Some(w), Some(h))) if w > 0 && h > 0 => {
                    let (cw, ch) = crop_size(w as u32, h as u32, ratio);
                    s.set("width", cw as i32);
                    s.set("height", ch as i32);
                }
                _ => {
                    // Any input size can give this output (or the input is not fixed yet).
                    s.set("width", gst::IntRange::new(1, i32::MAX));
                    s.set("height", gst::IntRange::new(1, i32::MAX));
                }
            }
        }
        gst::debug!(CAT, imp = self, "transformed {caps} ({direction:?}) into {out}");
        Some(match filter {
            Some(filter) => filter.intersect_with_mode(&out, gst::CapsIntersectMode::First),
            None => out,
        })
    }

    fn unit_size(&self, caps: &gst::Caps) -> Option<usize> {
        gst_video::VideoInfo::from_caps(caps).ok().map(|info| info.size())
    }

    fn set_caps(&self, incaps: &gst::Caps, outcaps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let in_info = gst_video::VideoInfo::from_caps(incaps)
            .map_err(|_| gst::loggable_error!(CAT, "cannot parse caps {incaps}"))?;
        let out_info = gst_video::VideoInfo::from_caps(outcaps)
            .map_err(|_| gst::loggable_error!(CAT, "cannot parse caps {outcaps}"))?;
        let pixel_stride = FORMATS
            .iter()
            .find(|f| f.0 == in_info.format())
            .map(|f| f.1)
            .ok_or_else(|| gst::loggable_error!(CAT, "unsupported format {:?}", in_info.format()))?;
        if out_info.format() != in_info.format()
            || out_info.width() > in_info.width()
            || out_info.height() > in_info.height()
        {
            return Err(gst::loggable_error!(CAT, "output {outcaps} is not a crop of {incaps}"));
        }
        gst::debug!(CAT, imp = self, "configured for {incaps} -> {outcaps}");
        *self.state() = Some(State { in_info, out_info, pixel_stride, camera: Camera::default(), last_pts: None });
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        if let gst::EventView::FlushStop(_) = event.view() {
            if let Some(state) = self.state().as_mut() {
                state.camera.reset();
                state.last_pts = None;
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
                // No frame held: our latency is zero, upstream's values pass unchanged.
                let (live, min, max) = upstream.result();
                gst::debug!(CAT, imp = self, "latency: live {live}, min {min}, max {}", max.display());
                q.set(live, min, max);
                return true;
            }
        }
        BaseTransformImplExt::parent_query(self, direction, query)
    }

    fn transform_meta<'a>(
        &self,
        outbuf: &mut gst::BufferRef,
        meta: gst::MetaRef<'a, gst::Meta>,
        inbuf: &'a gst::BufferRef,
    ) -> bool {
        // The face meta is re-attached in the crop's coordinates by `transform`.
        if meta.api() == <FaceMeta as gst::meta::MetaAPI>::meta_api() {
            return false;
        }
        self.parent_transform_meta(outbuf, meta, inbuf)
    }

    fn transform(&self, inbuf: &gst::Buffer, outbuf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings();
        let mut guard = self.state();
        let Some(state) = guard.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no caps before the first buffer"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        let (width, height) = (state.in_info.width(), state.in_info.height());
        let crop = (state.out_info.width(), state.out_info.height());

        let faces = inbuf.meta::<FaceMeta>();
        let main = faces.as_ref().and_then(|meta| {
            let face = meta.faces().iter().min_by_key(|f| f.track_id)?;
            let sx = if meta.width() > 0 { width as f32 / meta.width() as f32 } else { 1.0 };
            let sy = if meta.height() > 0 { height as f32 / meta.height() as f32 } else { 1.0 };
            let (cx, cy) = face.bbox.centre();
            Some((cx * sx, cy * sy))
        });
        let dt = match (inbuf.pts(), state.last_pts) {
            (Some(now), Some(last)) if now > last => (now - last).nseconds() as f32 / 1e9,
            _ => {
                let fps = state.in_info.fps();
                if fps.numer() > 0 && fps.denom() > 0 {
                    fps.denom() as f32 / fps.numer() as f32
                } else {
                    0.04
                }
            }
        };
        state.last_pts = inbuf.pts().or(state.last_pts);
        let params = CameraParams {
            dead_zone: settings.dead_zone as f32,
            max_speed: settings.max_speed as f32,
            smoothing: settings.smoothing as f32,
            lost_frames: settings.lost_frames,
        };
        let centre =
            state.camera.update(main, (width as f32, height as f32), (crop.0 as f32, crop.1 as f32), dt, &params);
        let origin = crop_origin(centre, crop, (width, height));
        gst::log!(CAT, imp = self, "face {main:?}: crop {crop:?} at {origin:?} for {}", inbuf.pts().display());

        {
            let src =
                gst_video::VideoFrameRef::from_buffer_ref_readable(inbuf.as_ref(), &state.in_info).map_err(|_| {
                    gst::element_imp_error!(self, gst::StreamError::Failed, ["cannot map the input buffer"]);
                    gst::FlowError::Error
                })?;
            let mut dst =
                gst_video::VideoFrameRef::from_buffer_ref_writable(&mut *outbuf, &state.out_info).map_err(|_| {
                    gst::element_imp_error!(self, gst::StreamError::Failed, ["cannot map the output buffer"]);
                    gst::FlowError::Error
                })?;
            let src_stride = usize::try_from(src.plane_stride()[0]).unwrap_or(0);
            let dst_stride = usize::try_from(dst.plane_stride()[0]).unwrap_or(0);
            let src_data = src.plane_data(0).map_err(|_| gst::FlowError::Error)?;
            let dst_data = dst.plane_data_mut(0).map_err(|_| gst::FlowError::Error)?;
            let px = state.pixel_stride;
            let (o, c) = ((origin.0 as usize, origin.1 as usize), (crop.0 as usize, crop.1 as usize));
            let fits = src_stride >= width as usize * px
                && dst_stride >= c.0 * px
                && src_data.len() >= (o.1 + c.1 - 1) * src_stride + (o.0 + c.0) * px
                && dst_data.len() >= (c.1 - 1) * dst_stride + c.0 * px;
            if !fits {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["frame is smaller than its caps say"]);
                return Err(gst::FlowError::Error);
            }
            copy_crop(src_data, src_stride, dst_data, dst_stride, o, c, px);
        }
        drop(guard);

        if let Some(meta) = faces {
            let (dx, dy) = (origin.0 as f32, origin.1 as f32);
            let moved = meta.faces().iter().map(|f| shifted(f, dx, dy)).collect();
            FaceMeta::add(outbuf, crop.0, crop.1, moved);
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
