// SPDX-License-Identifier: MPL-2.0
//! The live graph: source, the element chain in low-latency form, and the
//! encoders every viewer and output share.
//!
//! ```text
//! video: source ! queue(leaky, 1) ! convert/scale/rate ! RGBA ! facetrack ! faceswap..
//!        ! lipsync.video_sink  lipsync ! matte ! I420 [timecode] ! tee
//!        tee ! queue(leaky) ! x264enc ! h264parse ! tee ! appsink(h264)
//!        tee ! valve ! queue(leaky) ! vp8enc ! appsink(vp8)
//! audio: source ! queue(leaky) ! F32 ! voice.. ! tee ! queue ! opusenc ! appsink(opus)
//!                                                tee ! queue(leaky) ! lipsync.audio_sink
//! ```
//!
//! Every element of the chain is built at start and switched by its
//! passthrough flag (video), mix (voice) or `active` (lip-sync), so toggles and
//! character changes apply at the next frame without a restart. The lip-sync
//! reports its look-ahead as latency only while active. The VP8 encoder only runs once a
//! viewer that cannot take H.264 asks for it.

use std::sync::Arc;

use gst::prelude::*;
use gst_base::prelude::BaseTransformExt;
use gst_video::prelude::VideoFrameExt;

use super::meter::{Counter, StageMeter};
use super::timecode;
use crate::blocks::{caps_filter, compensate_voice_delay, x264_encoder};
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};
use crate::preset::{Mode, Preset};
use crate::show::{Built, Part, Show};

/// The chain's switchable elements.
#[derive(Debug)]
pub(crate) struct Chain {
    pub(crate) track: gst::Element,
    /// Mouths moved to the speech of the show (after the voice), on the tracked faces.
    pub(crate) lips: gst::Element,
    pub(crate) matte: gst::Element,
    /// One face swap and (when the character has a voice) one converter per character.
    pub(crate) swaps: Vec<gst::Element>,
    pub(crate) voices: Vec<Option<gst::Element>>,
    pub(crate) names: Vec<String>,
}

/// The video half up to its raw tee, and its meters.
#[derive(Debug)]
pub(crate) struct VideoHalf {
    pub(crate) chain: Chain,
    pub(crate) tee: gst::Element,
    pub(crate) stages: Vec<Arc<StageMeter>>,
    /// Frames offered by the source, and frames out of the chain.
    pub(crate) captured: Arc<Counter>,
    pub(crate) processed: Arc<Counter>,
}

/// Picture size and rate of a live preset (1280x720 at 30 when it says none).
pub(crate) fn geometry(preset: &Preset) -> (i32, i32, i32) {
    let w = preset.video.width.unwrap_or(1280) as i32;
    let h = preset.video.height.unwrap_or(720) as i32;
    let fps = preset.video.fps.unwrap_or(30).max(1) as i32;
    (w, h, fps)
}

/// Frames between keyframes: the preset's interval at its rate.
fn keyframe_distance(preset: &Preset) -> u32 {
    let fps = geometry(preset).2;
    ((f64::from(fps) * preset.video.keyframe_interval_s).round() as u32).max(1)
}

fn err(what: &str) -> EngineError {
    EngineError::Request(format!("cannot build the live graph: {what}"))
}

fn leaky_queue(buffers: u32) -> Result<gst::Element> {
    let queue = make(f::QUEUE)?;
    queue.set_property("max-size-buffers", buffers);
    queue.set_property("max-size-bytes", 0u32);
    queue.set_property("max-size-time", 0u64);
    queue.set_property_from_str("leaky", "downstream");
    Ok(queue)
}

/// 200 ms of sound, the oldest dropped when a slow consumer falls behind.
fn leaky_sound_queue() -> Result<gst::Element> {
    leaky_time_queue(std::time::Duration::from_millis(200))
}

/// A queue holding up to `held` of whatever comes, the oldest dropped past it.
pub(crate) fn leaky_time_queue(held: std::time::Duration) -> Result<gst::Element> {
    let queue = make(f::QUEUE)?;
    queue.set_property("max-size-time", held.as_nanos() as u64);
    queue.set_property("max-size-buffers", 0u32);
    queue.set_property("max-size-bytes", 0u32);
    queue.set_property_from_str("leaky", "downstream");
    Ok(queue)
}

pub(crate) fn add_chain(pipeline: &gst::Pipeline, elements: &[gst::Element], what: &str) -> Result<()> {
    pipeline.add_many(elements).map_err(|_| err(what))?;
    gst::Element::link_many(elements).map_err(|_| err(&format!("{what} do not link")))
}

/// Builds the video half from `input` to the encoders: `show`'s picture
/// chain (see [`crate::show`]) between the capture's leaky queue and the tee.
pub(crate) fn add_video(
    pipeline: &gst::Pipeline,
    input: &gst::Element,
    preset: &Preset,
    show: &Show,
    timecode: bool,
) -> Result<VideoHalf> {
    let (w, h, fps) = geometry(preset);
    let capture = leaky_queue(1)?;
    let raw = gst::Caps::builder("video/x-raw").field("width", w).field("height", h);
    let rate = make(f::VIDEORATE)?;
    rate.set_property("drop-only", true);
    let mut chain = vec![
        capture.clone(),
        make(f::VIDEOCONVERT)?,
        make("videoscale").map_err(|_| EngineError::MissingElement("videoscale"))?,
        rate,
        // Drop-only: a faster source is brought down to the preset's rate, a slower one stays as it is.
        caps_filter(
            raw.field("framerate", gst::FractionRange::new(gst::Fraction::new(0, 1), gst::Fraction::new(fps, 1)))
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build(),
        )?,
        make(f::VIDEOCONVERT)?,
        caps_filter(gst::Caps::builder("video/x-raw").field("format", "RGBA").build())?,
    ];
    let built = show.video_plan()?.make()?;
    let chain_elements = live_chain(show, &built)?;
    let Chain { track, lips, matte, swaps, .. } = &chain_elements;
    // Off until the runner turns it on: no look-ahead latency meanwhile.
    lips.set_property("active", false);
    chain.extend(built.all());
    let i420 = caps_filter(gst::Caps::builder("video/x-raw").field("format", "I420").build())?;
    let tee = make(f::TEE)?;
    tee.set_property("allow-not-linked", true);
    chain.extend([make(f::VIDEOCONVERT)?, i420.clone(), tee.clone()]);
    add_chain(pipeline, &chain, "video elements")?;
    input.link(&capture).map_err(|_| EngineError::Request("cannot link the live source".into()))?;

    let stages =
        built.elements.iter().map(|(part, element)| StageMeter::attach(&stage_name(show, *part), element)).collect();
    let captured = Counter::attach(&capture.static_pad("sink").expect("queue sink"));
    let processed = Counter::attach(&tee.static_pad("sink").expect("tee sink"));
    if timecode {
        burn_timecode(&i420.static_pad("src").expect("capsfilter src"));
    }
    for element in [track, matte].into_iter().chain(swaps) {
        set_passthrough(element, true);
    }
    Ok(VideoHalf { chain: chain_elements, tee, stages, captured, processed })
}

/// The switchable elements of a live show's chain.
fn live_chain(show: &Show, built: &Built) -> Result<Chain> {
    let part = |p: Part| built.get(p).cloned().ok_or_else(|| err("the show lacks a switchable element"));
    Ok(Chain {
        track: part(Part::Track)?,
        lips: part(Part::Lips(0))?,
        matte: part(Part::Matte)?,
        swaps: (0..show.characters.len()).map(|i| part(Part::Swap(i))).collect::<Result<_>>()?,
        voices: Vec::new(),
        names: show.characters.iter().map(|c| c.name.clone()).collect(),
    })
}

/// The name of `part`'s figures in the live statistics.
fn stage_name(show: &Show, part: Part) -> String {
    match part {
        Part::Track => "facetrack".into(),
        Part::Swap(i) => format!("faceswap:{}", show.characters[i].name),
        Part::Lips(_) => "lipsync".into(),
        Part::Matte => "matte".into(),
        Part::Voice(i) => format!("voice:{}", show.characters[i].name),
    }
}

/// The shared H.264 encode: `tee` in, a tee of byte-stream access units and
/// the preview's appsink out, plus the encoder's meter and counter.
pub(crate) fn add_h264(
    pipeline: &gst::Pipeline,
    tee: &gst::Element,
    preset: &Preset,
) -> Result<(gst::Element, gst_app::AppSink, Arc<StageMeter>, Arc<Counter>)> {
    let enc = x264_encoder(&preset.video, Mode::Live, keyframe_distance(preset), None)?;
    let profile = caps_filter(gst::Caps::builder("video/x-h264").field("profile", "constrained-baseline").build())?;
    let parse = make(f::H264PARSE)?;
    parse.set_property("config-interval", -1i32);
    let au = caps_filter(
        gst::Caps::builder("video/x-h264").field("stream-format", "byte-stream").field("alignment", "au").build(),
    )?;
    let out_tee = make(f::TEE)?;
    out_tee.set_property("allow-not-linked", true);
    let sink = encoded_sink()?;
    let elements = [leaky_queue(2)?, enc.clone(), profile, parse, au, out_tee.clone(), make(f::QUEUE)?, sink.clone()];
    add_chain(pipeline, &elements, "H.264 encoder")?;
    tee.link(&elements[0]).map_err(|_| err("H.264 branch"))?;
    let meter = StageMeter::attach_encoder("encode:h264", &enc);
    let counter = Counter::attach(&enc.static_pad("src").expect("encoder src"));
    Ok((out_tee, sink.downcast().expect("appsink"), meter, counter))
}

/// The VP8 encode for viewers without H.264, closed by a valve until one comes.
pub(crate) fn add_vp8(
    pipeline: &gst::Pipeline,
    tee: &gst::Element,
    preset: &Preset,
) -> Result<(gst::Element, gst_app::AppSink)> {
    let valve = make(f::VALVE)?;
    valve.set_property("drop", true);
    let enc = make(f::VP8ENC)?;
    enc.set_property("deadline", 1i64);
    enc.set_property("cpu-used", 8i32);
    enc.set_property_from_str("end-usage", "cbr");
    enc.set_property("target-bitrate", (preset.video.bitrate_kbps.unwrap_or(2500) * 1000) as i32);
    enc.set_property("keyframe-max-dist", keyframe_distance(preset) as i32);
    enc.set_property("lag-in-frames", 0i32);
    enc.set_property("threads", 2i32);
    let sink = encoded_sink()?;
    let elements = [valve.clone(), leaky_queue(2)?, enc, sink.clone()];
    add_chain(pipeline, &elements, "VP8 encoder")?;
    tee.link(&valve).map_err(|_| err("VP8 branch"))?;
    Ok((valve, sink.downcast().expect("appsink")))
}

/// Builds the audio half from `input`: `show`'s voices, a tee for the
/// outputs and the Opus encode of the preview.
pub(crate) fn add_audio(
    pipeline: &gst::Pipeline,
    input: &gst::Element,
    preset: &Preset,
    show: &Show,
) -> Result<(Vec<Option<gst::Element>>, gst::Element, gst_app::AppSink)> {
    let queue = leaky_sound_queue()?;
    let f32 = gst::Caps::builder("audio/x-raw")
        .field("format", "F32LE")
        .field("rate", 48_000i32)
        .field("channels", preset.audio.channels.clamp(1, 2) as i32)
        .build();
    let mut chain = vec![queue.clone(), make(f::AUDIOCONVERT)?, make(f::AUDIORESAMPLE)?, caps_filter(f32)?];
    let built = show.audio_plan().make()?;
    let voices = (0..show.characters.len()).map(|i| built.get(Part::Voice(i)).cloned()).collect();
    chain.extend(built.all());
    let last_voice = chain.len() - 1;
    let tee = make(f::TEE)?;
    tee.set_property("allow-not-linked", true);
    chain.extend([make(f::AUDIOCONVERT)?, tee.clone()]);
    add_chain(pipeline, &chain, "audio elements")?;
    compensate_voice_delay(&chain[last_voice], built.elements.iter().map(|(_, v)| v));
    let sink = add_opus(pipeline, &tee, preset)?;
    input.link(&queue).map_err(|_| EngineError::Request("cannot link the live sound".into()))?;
    Ok((voices, tee, sink))
}

/// The Opus encode of the sound teed off `tee`, for WebRTC viewers.
pub(crate) fn add_opus(pipeline: &gst::Pipeline, tee: &gst::Element, preset: &Preset) -> Result<gst_app::AppSink> {
    let opus = make(f::OPUSENC)?;
    opus.set_property_from_str("frame-size", &super::OPUS_FRAME.as_millis().to_string());
    opus.set_property("bitrate", (preset.audio.bitrate_kbps.clamp(16, 256) * 1000) as i32);
    let sink = encoded_sink()?;
    let elements = [make(f::QUEUE)?, make(f::AUDIOCONVERT)?, opus, sink.clone()];
    add_chain(pipeline, &elements, "Opus encoder")?;
    tee.link(&elements[0]).map_err(|_| err("Opus branch"))?;
    Ok(sink.downcast().expect("appsink"))
}

/// Feeds the show's sound (after the voices) to the lip-sync, through a leaky
/// queue: a slow lip-sync never holds the sound of the stream back.
pub(crate) fn feed_lipsync(pipeline: &gst::Pipeline, audio_tee: &gst::Element, lips: &gst::Element) -> Result<()> {
    let queue = leaky_sound_queue()?;
    let elements = [queue.clone(), make(f::AUDIOCONVERT)?];
    add_chain(pipeline, &elements, "lip-sync sound")?;
    audio_tee.link(&queue).map_err(|_| err("lip-sync sound branch"))?;
    elements[1].link_pads(None, lips, Some("audio_sink")).map_err(|_| err("the lip-sync does not take the sound"))
}

/// An appsink paced by the clock, so sound and picture leave together: the
/// pipeline's latency (the largest a path reports, including the video
/// sinks' render delay, see [`set_processing_allowance`]) delays both alike.
fn encoded_sink() -> Result<gst::Element> {
    let sink = make(f::APPSINK)?;
    sink.set_property("sync", true);
    // The VP8 sink gets nothing until a viewer opens its valve: no sink may hold the start back.
    sink.set_property("async", false);
    // The chain's time is declared as render delay; no hidden 20 ms on top.
    sink.set_property("processing-deadline", 0u64);
    sink.set_property("max-buffers", 8u32);
    sink.set_property("drop", true);
    sink.set_property("enable-last-sample", false);
    Ok(sink)
}

/// Time the chain's elements may take on a frame, declared as the video
/// sinks' render delay: one frame period while any element works, none when
/// all are off. GStreamer adds it to the graph's latency (a LATENCY message
/// makes the runner redistribute it), so the sound waits for the slower picture.
pub(crate) fn set_processing_allowance(sinks: &[&gst_app::AppSink], preset: &Preset, busy: bool) {
    let (_, _, fps) = geometry(preset);
    let delay = if busy { gst::ClockTime::SECOND.nseconds() / fps as u64 } else { 0 };
    for sink in sinks {
        if sink.property::<u64>("render-delay") != delay {
            sink.set_property("render-delay", delay);
        }
    }
}

/// Switches a video element on or off without touching the graph.
pub(crate) fn set_passthrough(element: &gst::Element, passthrough: bool) {
    if let Some(transform) = element.downcast_ref::<gst_base::BaseTransform>() {
        transform.set_passthrough(passthrough);
    }
}

/// Burns the capture time of each frame (its running time, mapped to the
/// wall clock) into the frame's top strip, after the chain so every element
/// (a background matte included) leaves it readable.
fn burn_timecode(pad: &gst::Pad) {
    pad.add_probe(gst::PadProbeType::BUFFER, |pad, info| {
        let (Some(caps), Some(element)) = (pad.current_caps(), pad.parent_element()) else {
            return gst::PadProbeReturn::Ok;
        };
        let (Ok(video), Some(clock), Some(base)) =
            (gst_video::VideoInfo::from_caps(&caps), element.clock(), element.base_time())
        else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() else {
            return gst::PadProbeReturn::Ok;
        };
        // A browser publisher's own capture time (read off its strip at the source) when the
        // buffer carries one: the figure then starts at the presenter's canvas, not at our
        // decoder. Otherwise the capture time from the buffer's age on the pipeline clock.
        let capture_ms = match timecode::carried_ms(buffer) {
            Some(ms) => ms,
            None => {
                let Some(pts) = buffer.pts() else { return gst::PadProbeReturn::Ok };
                let age_ms = (clock.time().nseconds() as i128 - (base + pts).nseconds() as i128) / 1_000_000;
                timecode::unix_now_ms() - age_ms as i64
            }
        };
        let code = capture_ms.rem_euclid(1 << 32) as u32;
        let Ok(mut frame) = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer.make_mut(), &video) else {
            return gst::PadProbeReturn::Ok;
        };
        let (width, height) = (video.width() as usize, video.height() as usize);
        let rows = timecode::strip_height(height);
        let stride = frame.plane_stride()[0] as usize;
        if let Ok(y) = frame.plane_data_mut(0) {
            timecode::burn_luma(y, stride, width, height, code);
        }
        for plane in 1..3 {
            let stride = frame.plane_stride()[plane as usize] as usize;
            if let Ok(data) = frame.plane_data_mut(plane) {
                timecode::neutral_chroma(data, stride, width.div_ceil(2), rows.div_ceil(2));
            }
        }
        gst::PadProbeReturn::Ok
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// appsrc ! I420 capsfilter [timecode] ! appsink: what the live graph's tail does.
    fn burn(buffers: Vec<gst::Buffer>) -> Vec<u32> {
        crate::media::init().unwrap();
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 320, 240)
            .fps(gst::Fraction::new(30, 1))
            .build()
            .unwrap();
        let pipeline = gst::Pipeline::new();
        let src = make(f::APPSRC).unwrap().downcast::<gst_app::AppSrc>().unwrap();
        src.set_caps(Some(&info.to_caps().unwrap()));
        src.set_format(gst::Format::Time);
        src.set_is_live(true);
        // Stamped with the running time at push: the age-derived clock is "now".
        src.set_do_timestamp(true);
        let i420 = caps_filter(gst::Caps::builder("video/x-raw").field("format", "I420").build()).unwrap();
        let sink = make(f::APPSINK).unwrap().downcast::<gst_app::AppSink>().unwrap();
        sink.set_property("sync", false);
        let elements = [src.clone().upcast(), i420.clone(), sink.clone().upcast()];
        add_chain(&pipeline, &elements, "test").unwrap();
        burn_timecode(&i420.static_pad("src").unwrap());
        pipeline.set_state(gst::State::Playing).unwrap();
        let codes = buffers
            .into_iter()
            .map(|buffer| {
                src.push_buffer(buffer).unwrap();
                let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(5)).expect("a frame out");
                timecode::read_frame(sample.buffer().unwrap(), &info).expect("a strip burned")
            })
            .collect();
        pipeline.set_state(gst::State::Null).unwrap();
        codes
    }

    #[test]
    fn a_carried_capture_time_is_burned_in_place_of_the_buffers_age() {
        let size = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 320, 240).build().unwrap().size();
        let a_day_ago = timecode::unix_now_ms() - 86_400_000;
        let mut carried = gst::Buffer::with_size(size).unwrap();
        timecode::carry_ms(carried.get_mut().unwrap(), a_day_ago);
        let plain = gst::Buffer::with_size(size).unwrap();
        let codes = burn(vec![carried, plain]);
        let now = timecode::unix_now_ms();
        assert_eq!(codes[0], a_day_ago as u32, "the carried time is burned");
        let age = now - timecode::rebuild_ms(codes[1], now);
        assert!((0..2_000).contains(&age), "without one the buffer's own capture time is burned: {age} ms old");
    }
}
