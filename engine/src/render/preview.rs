// SPDX-License-Identifier: MPL-2.0
//! The preview of a project: the render's own builder ([`super::build`]) on a
//! show whose one output is a preview ([`crate::show::Output::Preview`]): an
//! output's picture from [`super::branch::picture`] at a preview size, paced by
//! the pipeline clock, and encoded for WebRTC as the live show's preview is
//! (`live/graph.rs`: H.264, VP8 on demand, Opus). Only the size and the
//! encoders differ from the render.
//!
//! ```text
//! source (from `at`) ! show chain ! video tee ! picture (preview size) ! tee ! x264 | vp8 ! appsink
//!                    ! voices     ! audio tee ! opusenc ! appsink
//! ```
//!
//! Scenes switch by timeline time (the stream time, see [`super::branch::timeline_time`]),
//! so a flushing seek keeps them on the right frames.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use gst::prelude::*;

use super::branch::{self, Overlays, Tees};
use super::plan::Plan;
use super::{effects, prepare, source, Chains, Graph, Prepared, RenderRequest};
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};
use crate::live::graph;
use crate::live::{Fanout, Stream};
use crate::preset::{Preset, PresetLibrary};
use crate::show::{Framing, Output, Show, Source};

/// How long the graph may take to open its media before the preview fails.
const OPEN_TIMEOUT: gst::ClockTime = gst::ClockTime::from_seconds(20);
/// The encoder settings of the preview (bitrate, speed, keyframe interval):
/// those of the live show's preview.
const ENCODER_PRESET: &str = "live-720p";
/// The preview's video bitrate: the live preset's rate is for 720p.
const PREVIEW_KBPS: u32 = 1200;

/// What to preview: the render it stands for, where to start, how large.
#[derive(Debug, Clone)]
pub struct PreviewRequest {
    /// The render the preview shows; its first preset is the one previewed
    /// (its crop, captions and watermark). Its `out_dir` is not used.
    pub render: RenderRequest,
    /// Where to start, in timeline seconds.
    pub at_s: f64,
    /// The preview fits in this box, with the preset's aspect.
    pub max_width: u32,
    pub max_height: u32,
}

/// A running preview. Dropping it stops it.
pub struct PreviewRunner {
    pipeline: gst::Pipeline,
    fanout: Fanout,
    duration_s: f64,
    size: (u32, u32),
    playing: AtomicBool,
    error: Arc<Mutex<Option<String>>>,
    ended: Arc<AtomicBool>,
}

impl std::fmt::Debug for PreviewRunner {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        out.debug_struct("PreviewRunner").field("size", &self.size).finish_non_exhaustive()
    }
}

/// `w` x `h` scaled down to fit in `max_w` x `max_h`, even sides (never enlarged).
pub fn fit(w: u32, h: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let scale = (f64::from(max_w) / f64::from(w.max(1))).min(f64::from(max_h) / f64::from(h.max(1))).min(1.0);
    let even = |v: f64| ((v.round() as u32) & !1).max(2);
    (even(f64::from(w) * scale), even(f64::from(h) * scale))
}

/// The preview's picture (`framing`'s, see [`branch::picture`]) off the video
/// tee and the live show's encodes of it and of the sound, at `encoder`'s
/// settings and the picture's rate, handed out by one fan-out.
pub(super) fn add_encodes(
    pipeline: &gst::Pipeline,
    tees: &Tees,
    timeline: &Plan,
    encoder: &Preset,
    framing: &Framing,
    overlays: &Overlays,
) -> Result<Fanout> {
    let face_crop = effects::face_crop(timeline, &framing.preset)?;
    let (picture, fps) = branch::picture(timeline, &framing.preset, face_crop, overlays)?;
    let mut encoder = encoder.clone();
    encoder.video.fps = Some((f64::from(fps.numer()) / f64::from(fps.denom().max(1))).round().max(1.0) as u32);
    let tee = make(f::TEE)?;
    let err = |what: &str| EngineError::Request(format!("cannot build the preview: {what}"));
    pipeline.add_many(picture.iter().chain([&tee])).map_err(|_| err("picture elements"))?;
    gst::Element::link_many(picture.iter().chain([&tee])).map_err(|_| err("picture elements do not link"))?;
    tees.video.link(&picture[0]).map_err(|_| err("video tee"))?;
    let (_, h264, _, _) = graph::add_h264(pipeline, &tee, &encoder)?;
    let (vp8_valve, vp8) = graph::add_vp8(pipeline, &tee, &encoder)?;
    let opus = graph::add_opus(pipeline, &tees.audio, &encoder)?;
    keep_encoders_in_step(&tee, [&h264, &vp8]);
    Ok(Fanout::new([(Stream::H264, h264), (Stream::Vp8, vp8), (Stream::Opus, opus)], vp8_valve))
}

/// A start or seek point must be a frame of the timeline: `[0, duration)`.
fn check_at(project_file: &std::path::Path, at_s: f64, duration_s: f64) -> Result<()> {
    if (0.0..duration_s).contains(&at_s) {
        return Ok(());
    }
    Err(EngineError::invalid(project_file, "at", format!("{at_s} is outside the timeline (0 to {duration_s:.3} s)")))
}

impl PreviewRunner {
    /// Builds the graph, places it at `request.at_s` and starts it playing.
    pub fn start(request: &PreviewRequest) -> Result<Self> {
        crate::media::init()?;
        f::require(f::OFFLINE)?;
        let render = &request.render;
        let Some(previewed) = render.presets.first() else {
            return Err(EngineError::Request("no preset given: the preview shows one".into()));
        };
        let Prepared { cues, plan, mut cast, dub } = prepare(render, &super::CancelToken::default())?;
        check_at(&render.project_file, request.at_s, plan.duration_s)?;
        let mut framing = super::framing(render, cues.as_ref(), previewed);
        let (out_w, out_h) = framing.preset.output_size(plan.width, plan.height);
        let size = fit(out_w, out_h, request.max_width, request.max_height);
        // The render's preset at the preview's size: the same crop, frame rate and overlays.
        (framing.preset.video.width, framing.preset.video.height) = (Some(size.0), Some(size.1));
        let mut encoder = PresetLibrary::builtin()?.get(ENCODER_PRESET)?.clone();
        encoder.video.bitrate_kbps = Some(PREVIEW_KBPS);
        let preview = Output::Preview { encoder, framing: Some(framing) };
        let show = Show::new(Source::Timeline(plan.clone()), vec![preview]);

        let mut effects = effects::Effects::resolve(&plan, render.background.as_ref(), &show)?;
        let mut chains = Chains { cast: &mut cast, effects: &mut effects, dub: &dub };
        let position = super::run::Position::default();
        let graph = super::build("reenact-preview", show, render, cues.as_ref(), &position, &mut chains)?;
        let Graph { pipeline, preview: Some(fanout), .. } = graph else {
            return Err(EngineError::Request("cannot build the preview: no encodes were made".into()));
        };

        let runner = PreviewRunner {
            fanout,
            pipeline,
            duration_s: plan.duration_s,
            size,
            playing: AtomicBool::new(false),
            error: Arc::default(),
            ended: Arc::default(),
        };
        runner.watch_bus();
        runner.open()?;
        runner.seek(request.at_s)?;
        runner.set_playing(true)?;
        Ok(runner)
    }

    /// Brings the graph to PAUSED: its media open, its pads linked, ready to seek.
    fn open(&self) -> Result<()> {
        self.pipeline.set_state(gst::State::Paused).map_err(|_| self.failure("the preview would not open"))?;
        match self.pipeline.state(OPEN_TIMEOUT) {
            (Ok(_), gst::State::Paused, _) => Ok(()),
            _ => Err(self.failure("the preview did not open its media")),
        }
    }

    /// The first error on the bus, or `what`.
    fn failure(&self, what: &str) -> EngineError {
        let detail = self.error();
        EngineError::Request(match detail {
            Some(detail) => format!("{what}: {detail}"),
            None => what.to_owned(),
        })
    }

    /// The timeline's length in seconds.
    pub fn duration_s(&self) -> f64 {
        self.duration_s
    }

    /// The picture's size.
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// Whether the preview plays (false while paused and once the timeline has ended).
    pub fn playing(&self) -> bool {
        self.playing.load(Ordering::SeqCst) && !self.ended.load(Ordering::SeqCst)
    }

    /// The graph's first error, if it failed.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The timeline time of what the viewers are shown, in seconds.
    pub fn position_s(&self) -> f64 {
        if self.ended.load(Ordering::SeqCst) {
            return self.duration_s;
        }
        let position = self.pipeline.query_position::<gst::ClockTime>();
        position.map(|t| t.nseconds() as f64 / 1e9).unwrap_or(0.0).clamp(0.0, self.duration_s)
    }

    /// The preview's encoded streams, for viewers.
    pub fn encoded(&self) -> &Fanout {
        &self.fanout
    }

    /// Plays or pauses.
    pub fn set_playing(&self, playing: bool) -> Result<()> {
        let state = if playing { gst::State::Playing } else { gst::State::Paused };
        self.pipeline.set_state(state).map_err(|_| self.failure("the preview would not change state"))?;
        self.playing.store(playing, Ordering::SeqCst);
        Ok(())
    }

    /// Moves to `at_s` (timeline seconds): a flushing, frame-accurate seek, the
    /// next picture a keyframe.
    pub fn seek(&self, at_s: f64) -> Result<()> {
        check_at(std::path::Path::new("preview"), at_s, self.duration_s)?;
        let flags = gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE;
        self.pipeline.seek_simple(flags, source::seconds(at_s)).map_err(|_| self.failure("the preview cannot seek"))?;
        self.ended.store(false, Ordering::SeqCst);
        // The encoders restart after the flush; viewers must not wait a GOP for a picture.
        self.fanout.force_keyframes();
        Ok(())
    }

    /// Errors are kept for [`PreviewRunner::error`]; the end of the timeline is noted.
    fn watch_bus(&self) {
        let bus = self.pipeline.bus().expect("pipeline bus");
        let error = Arc::clone(&self.error);
        let ended = Arc::clone(&self.ended);
        bus.set_sync_handler(move |_, message| {
            match message.view() {
                gst::MessageView::Error(e) => {
                    let element = e.src().map(|s| s.path_string().to_string()).unwrap_or_default();
                    let text = format!("{}: {}", e.error(), e.debug().unwrap_or_default());
                    tracing::error!(%element, %text, "preview failed");
                    error.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(format!("{element}: {text}"));
                }
                gst::MessageView::Eos(_) => ended.store(true, Ordering::SeqCst),
                _ => {}
            }
            gst::BusSyncReply::Drop
        });
    }

    /// Stops the graph (as dropping it does), waiting for its threads.
    pub fn stop(self) {
        drop(self);
    }
}

/// The live encoders' queues are made for live sources: a leaky one before each encoder and
/// a second (of a second's worth) before each sink. A file source runs as fast as the
/// sinks let it, so the encoder would run that second ahead of the viewers, dropping
/// pictures, and a viewer's keyframe request would show a second late. Here the encoder
/// waits for the picture chain and the sink's queue holds two frames.
fn keep_encoders_in_step(tee: &gst::Element, sinks: [&gst_app::AppSink; 2]) {
    let is_queue = |e: &gst::Element| e.factory().is_some_and(|f| f.name() == f::QUEUE);
    for pad in tee.src_pads() {
        if let Some(queue) = pad.peer().and_then(|p| p.parent_element()).filter(is_queue) {
            queue.set_property_from_str("leaky", "no");
        }
    }
    for sink in sinks {
        let upstream = sink.static_pad("sink").and_then(|p| p.peer()).and_then(|p| p.parent_element());
        if let Some(queue) = upstream.filter(is_queue) {
            queue.set_property("max-size-buffers", 2u32);
            queue.set_property("max-size-bytes", 0u32);
            queue.set_property("max-size-time", 0u64);
        }
    }
}

impl Drop for PreviewRunner {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn the_preview_fits_its_box_with_even_sides() {
        assert_eq!(fit(1920, 1080, 640, 360), (640, 360));
        assert_eq!(fit(1080, 1920, 640, 360), (202, 360));
        assert_eq!(fit(360, 288, 640, 360), (360, 288), "never enlarged");
        assert_eq!(fit(1000, 1000, 641, 359), (358, 358));
    }
}
