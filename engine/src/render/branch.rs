// SPDX-License-Identifier: MPL-2.0
//! One output branch per preset, fed from the shared tees: frame rate,
//! crop/scale, overlays, encoders, muxer, file.

use std::path::Path;
use std::sync::{Arc, Mutex};

use gst::prelude::*;

use super::plan::Plan;
use super::thumbnail::Capture;
use crate::blocks::{caps_filter, shared_audio_encode, x264_encoder};
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make, REENACTSCALE};
use crate::preset::{AudioCodec, AudioSettings, Container, CropPolicy, Position, Preset, VideoEncoder, Watermark};
use crate::subtitles::{self, Cue};

/// What a branch draws over the picture besides the preset itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overlays {
    /// Cues to burn in.
    pub captions: Option<Arc<Vec<Cue>>>,
    pub watermark: Option<Watermark>,
}

/// Tags written into the container.
#[derive(Debug, Clone)]
pub(crate) struct Tags {
    pub title: String,
    pub author: String,
    pub comment: String,
    pub encoder: String,
}

/// The shared tees every branch starts from.
#[derive(Debug)]
pub(crate) struct Tees {
    pub video: gst::Element,
    /// Raw audio.
    pub audio: gst::Element,
    /// Encoded audio, one tee per audio setting the branches asked for so far.
    encoded: Vec<(AudioSettings, gst::Element)>,
}

impl Tees {
    pub(crate) fn new(video: gst::Element, audio: gst::Element) -> Self {
        Tees { video, audio, encoded: Vec::new() }
    }

    /// The tee of `preset`'s encoded audio. Outputs with the same audio settings share one
    /// encoder: three AAC encoders cost 2.5 % of a three-preset render's CPU.
    fn encoded_audio(&mut self, pipeline: &gst::Pipeline, preset: &Preset) -> Result<gst::Element> {
        if let Some((_, tee)) = self.encoded.iter().find(|(audio, _)| *audio == preset.audio) {
            return Ok(tee.clone());
        }
        let caps = gst::Caps::builder("audio/x-raw")
            .field("rate", preset.audio.sample_rate as i32)
            .field("channels", preset.audio.channels as i32)
            .build();
        let link_err = || EngineError::Request(format!("preset `{}`: cannot link the audio encoder", preset.name));
        let tee =
            shared_audio_encode(pipeline, &self.audio, audio_queue()?, Some(caps), audio_encoder(preset)?, link_err)?;
        self.encoded.push((preset.audio.clone(), tee.clone()));
        Ok(tee)
    }
}

/// One output: its preset, what it draws and tags, and the file it writes.
#[derive(Debug)]
pub(crate) struct Spec<'a> {
    pub preset: &'a Preset,
    /// The face-following crop's aspect, when the preset's crop follows the face.
    pub face_crop: Option<gstreenact::reframe::ReenactReframeAspect>,
    pub overlays: Overlays,
    pub tags: &'a Tags,
    pub part: &'a Path,
    /// Running times (s) at which thumbnail frames are kept.
    pub thumbnail_times: Vec<f64>,
    /// Threads of this branch's video encoder (see [`encoder_threads`]).
    pub encoder_threads: u32,
}

/// Threads for each of `branches` x264 encoders running side by side: the 1.5
/// per core x264 takes for itself, shared out among them. Each encoder left to
/// its default would take that many, and on two cores three 1080p encoders of
/// three threads each spend time trading frames between threads (about 3 %
/// more CPU than one thread each, in 18 % more memory).
pub(crate) fn encoder_threads(branches: usize) -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 3).div_ceil(2 * branches.max(1)).max(1) as u32
}

/// Builds the branch for `spec` and links it to the tees; returns the
/// thumbnail frames it will capture.
pub(crate) fn add(pipeline: &gst::Pipeline, tees: &mut Tees, plan: &Plan, spec: &Spec<'_>) -> Result<Capture> {
    let Spec { preset, overlays, tags, part, .. } = spec;
    let (mut video, fps) = picture(plan, preset, spec.face_crop, overlays)?;
    let encoder = video_encoder(preset, fps, spec.encoder_threads)?;
    let capture =
        Capture::on(&encoder.static_pad("sink").expect("video encoders have a sink pad"), spec.thumbnail_times.clone());
    video.push(encoder);

    let audio_tee = tees.encoded_audio(pipeline, preset)?;
    let audio_queue = audio_queue()?;
    let mux = match preset.container {
        Container::Mp4 => {
            let mux = make(f::MP4MUX)?;
            mux.set_property("faststart", true);
            mux
        }
        Container::Webm => make(f::WEBMMUX)?,
    };
    set_tags(&mux, tags);
    let sink = make(f::FILESINK)?;
    sink.set_property("location", part.to_string_lossy().as_ref());
    // Encoders hold different numbers of frames before their first output;
    // sinks that waited to preroll would block each other through the tee.
    sink.set_property("async", false);

    let link_err = |what: &str| EngineError::Request(format!("preset `{}`: cannot link {what}", preset.name));
    pipeline.add_many(video.iter().chain([&audio_queue, &mux, &sink])).map_err(|_| link_err("elements"))?;
    gst::Element::link_many(&video).map_err(|_| link_err("video chain"))?;
    video.last().expect("encoder").link(&mux).map_err(|_| link_err("video to muxer"))?;
    // By template: a queue's caps do not tell the muxer which kind of pad to give.
    audio_queue.link_pads(None, &mux, Some("audio_%u")).map_err(|_| link_err("audio to muxer"))?;
    mux.link(&sink).map_err(|_| link_err("muxer to file"))?;
    tees.video.link(&video[0]).map_err(|_| link_err("video tee"))?;
    audio_tee.link(&audio_queue).map_err(|_| link_err("audio tee"))?;
    Ok(capture)
}

/// The picture of one output, from the video tee to its encoder: a queue, the
/// face-following crop, frame rate, crop and scale to `preset`'s size, then
/// the overlays. Written once for the file outputs and the preview (which
/// differs only in the size its preset asks for). Returns the elements,
/// unlinked, and the frame rate.
pub(crate) fn picture(
    plan: &Plan,
    preset: &Preset,
    face_crop: Option<gstreenact::reframe::ReenactReframeAspect>,
    overlays: &Overlays,
) -> Result<(Vec<gst::Element>, gst::Fraction)> {
    let (out_w, out_h) = preset.output_size(plan.width, plan.height);
    let fps = match preset.video.fps {
        Some(n) => gst::Fraction::new(n as i32, preset.video.fps_denominator as i32),
        None => plan.fps,
    };

    let mut video = vec![video_queue()?];
    // Before the frame rate changes: the face meta is on the tracker's buffers.
    if let Some(aspect) = face_crop {
        video.push(super::effects::reframe(aspect)?);
    }
    video
        .extend([make(f::VIDEORATE)?, caps_filter(gst::Caps::builder("video/x-raw").field("framerate", fps).build())?]);
    if preset.crop == CropPolicy::Center {
        video.push(crop(plan.width, plan.height, out_w, out_h)?);
    }
    video.extend(scaler(preset.crop)?);
    video.push(caps_filter(
        gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", out_w as i32)
            .field("height", out_h as i32)
            .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
            .build(),
    )?);
    if let Some(cues) = &overlays.captions {
        video.push(caption_overlay(cues.clone())?);
    }
    if let Some(mark) = &overlays.watermark {
        video.push(watermark(mark, out_w, out_h)?);
    }
    Ok((video, fps))
}

/// The elements that bring the cropped picture to the output's size and format.
fn scaler(crop: CropPolicy) -> Result<Vec<gst::Element>> {
    if crop == CropPolicy::Fit {
        // Letterboxing is videoconvertscale's (`add-borders`).
        let scale = make(f::VIDEOCONVERTSCALE)?;
        scale.set_property("add-borders", true);
        scale.set_property("n-threads", 2u32);
        scale.set_property_from_str("method", "catrom");
        scale.set_property_from_str("chroma-resampler", "cubic");
        return Ok(vec![scale]);
    }
    // Bicubic rather than bilinear: the 9:16 crop is upscaled 1.8x, where bilinear visibly
    // softens (SSIM 0.9967 against 0.9986). `reenactscale` is swscale's bicubic in 37 % of
    // videoconvertscale's time; the converter before it changes formats other than I420
    // (after the effects' RGB) and passes I420 through.
    Ok(vec![make(f::VIDEOCONVERT)?, f::plugin(REENACTSCALE)?])
}

/// Video queues hold up to 24 frames (and at most 100 MB): enough slack for the
/// encoders of the branches to run side by side instead of waiting on the
/// slowest one through the tee (2 % faster than 8 frames on three 1080p
/// branches), without keeping seconds of raw frames in memory.
fn video_queue() -> Result<gst::Element> {
    let q = make(f::QUEUE)?;
    q.set_property("max-size-buffers", 24u32);
    q.set_property("max-size-bytes", 100u32 << 20);
    q.set_property("max-size-time", 0u64);
    Ok(q)
}

/// Audio queues must cover the video encoder's delay (x264 lookahead holds
/// up to a few seconds of frames before the muxer sees the first one), or
/// the muxer waits for video while the audio side blocks the decoder.
fn audio_queue() -> Result<gst::Element> {
    let q = make(f::QUEUE)?;
    q.set_property("max-size-buffers", 0u32);
    q.set_property("max-size-bytes", 0u32);
    q.set_property("max-size-time", 10 * gst::ClockTime::SECOND.nseconds());
    Ok(q)
}

/// Centre crop of a `src_w` x `src_h` picture to the aspect of `out_w` x `out_h`.
pub(crate) fn center_crop(src_w: u32, src_h: u32, out_w: u32, out_h: u32) -> (u32, u32, u32, u32) {
    let (sw, sh, ow, oh) = (src_w as u64, src_h as u64, out_w as u64, out_h as u64);
    if sw * oh > ow * sh {
        let keep = ((sh * ow + oh / 2) / oh).min(sw) & !1;
        let cut = sw - keep;
        let left = (cut / 2) & !1;
        (left as u32, (cut - left) as u32, 0, 0)
    } else {
        let keep = ((sw * oh + ow / 2) / ow).min(sh) & !1;
        let cut = sh - keep;
        let top = (cut / 2) & !1;
        (0, 0, top as u32, (cut - top) as u32)
    }
}

fn crop(src_w: u32, src_h: u32, out_w: u32, out_h: u32) -> Result<gst::Element> {
    let (left, right, top, bottom) = center_crop(src_w, src_h, out_w, out_h);
    let e = make(f::VIDEOCROP)?;
    e.set_property("left", left as i32);
    e.set_property("right", right as i32);
    e.set_property("top", top as i32);
    e.set_property("bottom", bottom as i32);
    Ok(e)
}

/// Burned-in captions: the overlay's text follows the cue at each frame's
/// timeline time, set just before the frame enters the overlay.
fn caption_overlay(cues: Arc<Vec<Cue>>) -> Result<gst::Element> {
    let overlay = make(f::TEXTOVERLAY)?;
    overlay.set_property("font-desc", "Sans Bold 16");
    overlay.set_property_from_str("valignment", "bottom");
    overlay.set_property_from_str("halignment", "center");
    overlay.set_property("shaded-background", true);
    overlay.set_property("wait-text", false);
    overlay.set_property("text", "");
    let shown = Mutex::new(None::<usize>);
    let weak = overlay.downgrade();
    let pad = overlay.static_pad("video_sink").expect("textoverlay has video_sink");
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(t) = info.buffer().and_then(|b| timeline_time(pad, b)) else {
            return gst::PadProbeReturn::Ok;
        };
        let cue = subtitles::cue_at(&cues, t);
        let index = cue.map(|c| c as *const Cue as usize);
        let mut shown = shown.lock().unwrap_or_else(|p| p.into_inner());
        if *shown != index {
            *shown = index;
            if let Some(overlay) = weak.upgrade() {
                overlay.set_property("text", cue.map(|c| c.text.as_str()).unwrap_or(""));
            }
        }
        gst::PadProbeReturn::Ok
    });
    Ok(overlay)
}

/// Timeline time of `buffer` on `pad` in seconds: its stream time, which a
/// seek (the preview's) moves with it, where the running time starts again
/// at 0. Without a seek both are the same.
pub(crate) fn timeline_time(pad: &gst::Pad, buffer: &gst::BufferRef) -> Option<f64> {
    let pts = buffer.pts()?;
    let segment = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = segment.segment().downcast_ref::<gst::ClockTime>()?.clone();
    let t = segment.to_stream_time(pts)?;
    Some(t.nseconds() as f64 / 1e9)
}

/// Running time of `buffer` on `pad` in seconds.
pub(crate) fn running_time(pad: &gst::Pad, buffer: &gst::BufferRef) -> Option<f64> {
    let pts = buffer.pts()?;
    let segment = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = segment.segment().downcast_ref::<gst::ClockTime>()?.clone();
    let rt = segment.to_running_time(pts)?;
    Some(rt.nseconds() as f64 / 1e9)
}

fn watermark(mark: &Watermark, out_w: u32, out_h: u32) -> Result<gst::Element> {
    let margin = (out_h as f64 * 0.03).round() as i32;
    if let Some(image) = &mark.image {
        let (iw, ih) = crate::media::image_size(image)?;
        let w = (out_w as f64 * 0.15).round().max(1.0) as i32;
        let h = ((w as f64 * ih as f64 / iw.max(1) as f64).round() as i32).max(1);
        let (x, y) = place(mark.position, out_w as i32, out_h as i32, w, h, margin);
        let e = make(f::IMAGEOVERLAY)?;
        e.set_property("location", image.to_string_lossy().as_ref());
        e.set_property("overlay-width", w);
        e.set_property("overlay-height", h);
        e.set_property("offset-x", x);
        e.set_property("offset-y", y);
        e.set_property("alpha", mark.opacity);
        return Ok(e);
    }
    let e = make(f::TEXTOVERLAY)?;
    e.set_property("text", mark.text.as_deref().unwrap_or(""));
    e.set_property("font-desc", "Sans Bold 8");
    e.set_property("shaded-background", false);
    e.set_property("draw-shadow", true);
    let (h, v) = match mark.position {
        Position::TopLeft => ("left", "top"),
        Position::TopRight => ("right", "top"),
        Position::BottomLeft => ("left", "bottom"),
        Position::BottomRight => ("right", "bottom"),
        Position::Center => ("center", "center"),
    };
    e.set_property_from_str("halignment", h);
    e.set_property_from_str("valignment", v);
    e.set_property("xpad", margin);
    e.set_property("ypad", margin);
    let alpha = (mark.opacity * 255.0).round() as u32;
    e.set_property("color", (alpha << 24) | 0x00ff_ffff);
    Ok(e)
}

fn place(pos: Position, out_w: i32, out_h: i32, w: i32, h: i32, m: i32) -> (i32, i32) {
    match pos {
        Position::TopLeft => (m, m),
        Position::TopRight => (out_w - w - m, m),
        Position::BottomLeft => (m, out_h - h - m),
        Position::BottomRight => (out_w - w - m, out_h - h - m),
        Position::Center => ((out_w - w) / 2, (out_h - h) / 2),
    }
}

fn video_encoder(preset: &Preset, fps: gst::Fraction, threads: u32) -> Result<gst::Element> {
    let v = &preset.video;
    let fps_f = fps.numer() as f64 / fps.denom().max(1) as f64;
    let gop = ((fps_f * v.keyframe_interval_s).round() as u32).max(1);
    match v.encoder {
        VideoEncoder::X264 => x264_encoder(v, preset.mode, gop, Some(threads)),
        VideoEncoder::Vp9 => {
            let e = make(f::VP9ENC)?;
            match v.crf {
                Some(cq) => {
                    e.set_property_from_str("end-usage", "cq");
                    e.set_property("cq-level", cq as i32);
                    e.set_property("target-bitrate", 20_000_000i32);
                }
                None => e.set_property("target-bitrate", (v.bitrate_kbps.unwrap_or(2000) * 1000) as i32),
            }
            e.set_property("deadline", 1_000_000i64);
            e.set_property("cpu-used", vp9_cpu_used(&v.speed_preset));
            e.set_property("row-mt", true);
            e.set_property("threads", 2i32);
            e.set_property("keyframe-max-dist", gop as i32);
            Ok(e)
        }
    }
}

/// x264-style speed names mapped onto libvpx's cpu-used (0 slowest .. 8 fastest).
fn vp9_cpu_used(speed: &str) -> i32 {
    let idx = crate::preset::SPEED_PRESETS.iter().position(|s| *s == speed).unwrap_or(5) as i32;
    (8 - idx).clamp(0, 8)
}

fn audio_encoder(preset: &Preset) -> Result<gst::Element> {
    let bps = (preset.audio.bitrate_kbps * 1000) as i32;
    let e = match preset.audio.codec {
        AudioCodec::Aac => make(f::AACENC)?,
        AudioCodec::Opus => make(f::OPUSENC)?,
    };
    e.set_property("bitrate", bps);
    Ok(e)
}

fn set_tags(mux: &gst::Element, tags: &Tags) {
    let Some(setter) = mux.dynamic_cast_ref::<gst::TagSetter>() else { return };
    let mut list = gst::TagList::new();
    {
        let list = list.get_mut().expect("new tag list is writable");
        if !tags.title.is_empty() {
            list.add::<gst::tags::Title>(&tags.title.as_str(), gst::TagMergeMode::Replace);
        }
        if !tags.author.is_empty() {
            list.add::<gst::tags::Artist>(&tags.author.as_str(), gst::TagMergeMode::Replace);
        }
        list.add::<gst::tags::Comment>(&tags.comment.as_str(), gst::TagMergeMode::Replace);
        list.add::<gst::tags::Description>(&tags.comment.as_str(), gst::TagMergeMode::Replace);
        list.add::<gst::tags::Encoder>(&tags.encoder.as_str(), gst::TagMergeMode::Replace);
    }
    setter.merge_tags(&list, gst::TagMergeMode::Replace);
}

#[cfg(test)]
mod tests {
    use super::{center_crop, encoder_threads};

    #[test]
    fn encoders_share_the_threads_x264_would_take() {
        let cores = std::thread::available_parallelism().unwrap().get() as u32;
        assert_eq!(encoder_threads(1), (cores * 3).div_ceil(2));
        assert!(encoder_threads(3) <= encoder_threads(2) && encoder_threads(2) <= encoder_threads(1));
        assert!(encoder_threads(3) * 3 >= cores, "every core has work");
        assert_eq!(encoder_threads(1000), 1);
    }

    #[test]
    fn vertical_from_landscape_keeps_the_middle() {
        let (l, r, t, b) = center_crop(1920, 1080, 1080, 1920);
        assert_eq!((t, b), (0, 0));
        assert_eq!(1920 - l - r, 608);
        assert_eq!(l, 656);
    }

    #[test]
    fn same_aspect_is_not_cropped() {
        assert_eq!(center_crop(1280, 720, 1920, 1080), (0, 0, 0, 0));
    }

    #[test]
    fn square_from_portrait_cuts_top_and_bottom() {
        let (l, r, t, b) = center_crop(720, 1280, 1080, 1080);
        assert_eq!((l, r), (0, 0));
        assert_eq!(1280 - t - b, 720);
    }
}
