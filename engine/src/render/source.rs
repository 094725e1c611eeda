// SPDX-License-Identifier: MPL-2.0
//! The decoding end of the graph: one file decoded directly, or a timeline of
//! clips through GStreamer Editing Services (`gessrc`).

use ges::prelude::*;

use super::plan::Plan;
use crate::blocks::{route_decoded_pads, Stream};
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};
use crate::media::file_uri;

/// Rate and layout every source's sound is brought to before the outputs.
pub(crate) const AUDIO_RATE: i32 = 48_000;
pub(crate) const AUDIO_CHANNELS: i32 = 2;

/// Name given to the decoding element, used to recognise its errors.
pub(crate) const SOURCE_NAME: &str = "reenact-source";

/// Adds the decoding elements to `pipeline`; decoded video is linked to
/// `video_sink`, decoded audio (or generated silence) to `audio_sink`.
pub(crate) fn add(pipeline: &gst::Pipeline, plan: &Plan, video_sink: &gst::Pad, audio_sink: &gst::Pad) -> Result<()> {
    let source = match &plan.direct {
        Some(info) => {
            let decode = make(f::URIDECODEBIN)?;
            decode.set_property("uri", file_uri(&info.path)?);
            decode
        }
        None => timeline_source(plan)?,
    };
    source.set_property("name", SOURCE_NAME);
    if let Some(bin) = source.downcast_ref::<gst::Bin>() {
        bin.connect_deep_element_added(|_, _, element| tune_decoder(element));
    }
    pipeline.add(&source).map_err(|_| EngineError::MissingElement(f::URIDECODEBIN))?;

    let needs_silence = plan.direct.as_ref().is_some_and(|info| info.audio.is_none());
    if needs_silence {
        add_silence(pipeline, plan.duration_s, audio_sink)?;
    }
    let video_sink = video_sink.clone();
    let audio_sink = audio_sink.clone();
    let pipeline_weak = pipeline.downgrade();
    route_decoded_pads(&source, move |pad, stream| {
        let Some(pipeline) = pipeline_weak.upgrade() else { return };
        let target = match stream {
            Stream::Video if !video_sink.is_linked() => Some(&video_sink),
            Stream::Audio if !needs_silence && !audio_sink.is_linked() => Some(&audio_sink),
            _ => None,
        };
        match target {
            Some(sink) => {
                if let Err(err) = pad.link(sink) {
                    tracing::error!(?err, pad = %pad.name(), "cannot link decoded stream");
                }
            }
            None => discard(&pipeline, pad),
        }
    });
    Ok(())
}

/// libav video decoders decode straight into GStreamer buffers by default,
/// but a frame libav still holds as a reference is not writable when the
/// decoder stamps it, so it is copied into freshly allocated memory (a fifth
/// of a render's page faults on 1080p H.264). Without direct rendering the one
/// copy goes into a recycled pool buffer instead.
fn tune_decoder(element: &gst::Element) {
    let is_libav_video = element.factory().is_some_and(|f| {
        f.name().starts_with("avdec_") && f.metadata(gst::ELEMENT_METADATA_KLASS).is_some_and(|k| k.contains("Video"))
    });
    if is_libav_video && element.has_property("direct-rendering") {
        element.set_property("direct-rendering", false);
    }
}

/// Extra streams (a second audio track, subtitles) are drained so they
/// neither block the decoder nor stop it with not-linked.
fn discard(pipeline: &gst::Pipeline, pad: &gst::Pad) {
    let Ok(sink) = gst::ElementFactory::make("fakesink").property("sync", false).property("async", false).build()
    else {
        return;
    };
    if pipeline.add(&sink).is_ok() {
        let _ = sink.sync_state_with_parent();
        if let Some(sinkpad) = sink.static_pad("sink") {
            let _ = pad.link(&sinkpad);
        }
    }
}

/// Silence as long as the timeline, for sources without a sound track, so
/// every output still carries audio.
fn add_silence(pipeline: &gst::Pipeline, duration_s: f64, audio_sink: &gst::Pad) -> Result<()> {
    const BLOCK: i32 = 480;
    let blocks = (duration_s * AUDIO_RATE as f64 / BLOCK as f64).round().max(1.0) as i32;
    let src = make(f::AUDIOTESTSRC)?;
    src.set_property_from_str("wave", "silence");
    src.set_property("samplesperbuffer", BLOCK);
    src.set_property("num-buffers", blocks);
    let caps = make(f::CAPSFILTER)?;
    caps.set_property(
        "caps",
        gst::Caps::builder("audio/x-raw").field("rate", AUDIO_RATE).field("channels", AUDIO_CHANNELS).build(),
    );
    pipeline.add_many([&src, &caps]).map_err(|_| EngineError::MissingElement(f::AUDIOTESTSRC))?;
    src.link(&caps).map_err(|_| EngineError::MissingElement(f::AUDIOTESTSRC))?;
    caps.static_pad("src")
        .expect("capsfilter has a src pad")
        .link(audio_sink)
        .map_err(|e| EngineError::Request(format!("cannot link generated silence: {e:?}")))?;
    Ok(())
}

/// A GES timeline with one layer per project track, wrapped in `gessrc`.
fn timeline_source(plan: &Plan) -> Result<gst::Element> {
    let timeline = ges::Timeline::new_audio_video();
    for track in timeline.tracks() {
        let caps = if track.track_type().contains(ges::TrackType::VIDEO) {
            gst::Caps::builder("video/x-raw")
                .field("width", plan.width as i32)
                .field("height", plan.height as i32)
                .field("framerate", plan.fps)
                .build()
        } else {
            gst::Caps::builder("audio/x-raw").field("rate", AUDIO_RATE).field("channels", AUDIO_CHANNELS).build()
        };
        track.set_restriction_caps(&caps);
    }
    let tracks = plan.clips.iter().map(|c| c.track).max().unwrap_or(0) + 1;
    // GES draws lower layer priorities on top; project track 0 is the bottom.
    let layers: Vec<ges::Layer> = (0..tracks).map(|_| timeline.append_layer()).collect();
    for clip in &plan.clips {
        let uri = file_uri(&clip.path)?;
        let asset = ges::UriClipAsset::request_sync(&uri).map_err(|e| EngineError::BadMedia {
            path: clip.path.clone(),
            cause: format!("cannot be used as a clip: {e}"),
        })?;
        let layer = &layers[tracks - 1 - clip.track];
        layer
            .add_asset(
                &asset,
                seconds(clip.start_s),
                seconds(clip.in_s),
                seconds(clip.duration_s),
                ges::TrackType::UNKNOWN,
            )
            .map_err(|e| EngineError::BadMedia {
                path: clip.path.clone(),
                cause: format!("cannot be placed on the timeline: {e}"),
            })?;
    }
    timeline.commit_sync();
    gst::ElementFactory::make(f::GESSRC)
        .property("timeline", &timeline)
        .build()
        .map_err(|_| EngineError::MissingElement(f::GESSRC))
}

/// Seconds as a clock time, rounded to the nanosecond.
pub(crate) fn seconds(s: f64) -> gst::ClockTime {
    gst::ClockTime::from_nseconds((s.max(0.0) * 1e9).round() as u64)
}
