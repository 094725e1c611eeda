// SPDX-License-Identifier: MPL-2.0
//! Subtitles from the speech of a media file, by the same `reenactcaptions` element the live
//! graph uses.
//!
//! Graph: `filesrc ! decodebin` (any other stream goes to a `fakesink`) `! audioconvert !
//! reenactcaptions`, its audio `src` into a
//! `fakesink` and its `text_src` into an `appsink` collecting the text buffers, which become
//! [`Cue`]s on the file's stream time. Long results are split into cues of at most two lines
//! of [`LINE_CHARS`], their time shared out by length. The file is checked first, so a
//! missing file or one without audio gets an error naming it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use gst::prelude::*;
use reenact_models::ModelUse;
use serde::Serialize;

use crate::blocks::{route_decoded_pads, Stream};
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};
use crate::media;
use crate::render::run::{play, Position, Watch};
use crate::render::{CancelToken, Progress};
use crate::subtitles::{self, Cue, Format};

/// Characters per subtitle line (the usual broadcast limit).
pub const LINE_CHARS: usize = 42;

/// Lines per cue.
const CUE_LINES: usize = 2;

/// What to transcribe and how.
#[derive(Debug, Clone)]
pub struct TranscribeRequest {
    /// A media file with an audio stream.
    pub media: PathBuf,
    /// Spoken language (whisper code, or `auto` to detect it); English takes whisper tiny.en,
    /// any other language (or `translate`) the multilingual whisper base.
    pub language: String,
    /// Translate into English (multilingual models only).
    pub translate: bool,
    /// Fail when the graph makes no progress for this long.
    pub stall_timeout: Duration,
}

impl TranscribeRequest {
    /// English, no translation, 60 s stall timeout.
    pub fn new(media: impl Into<PathBuf>) -> Self {
        Self { media: media.into(), language: "en".into(), translate: false, stall_timeout: Duration::from_secs(60) }
    }
}

/// Where a transcription stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TranscribeProgress {
    /// 0.0 .. 1.0 of the audio analysed.
    pub fraction: f64,
    pub position_s: f64,
    pub duration_s: f64,
}

/// The result of a transcription.
#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    /// Cues in time order, on the file's timeline.
    #[serde(skip)]
    pub cues: Vec<Cue>,
    /// Length of the media.
    pub duration_s: f64,
    /// Wall time of the whole run.
    pub wall_s: f64,
    /// Utterances whisper transcribed.
    pub utterances: u64,
    /// Whisper's time over the speech it was given.
    pub realtime_factor: f64,
    /// The models that made the text.
    pub models: Vec<ModelUse>,
    /// The language whisper heard: the one asked for, or the one detected under `auto`
    /// (that of the last utterance); empty when nothing was transcribed.
    pub language: String,
    /// Whether the text was translated into English.
    pub translated: bool,
}

/// Transcribes the speech of `request.media` into cues.
pub fn transcribe(
    request: &TranscribeRequest,
    cancel: &CancelToken,
    on_progress: &mut dyn FnMut(TranscribeProgress),
) -> Result<Transcript> {
    let began = Instant::now();
    crate::languages::check_speech_language(&request.language)
        .map_err(|err| EngineError::Request(format!("language: {err}")))?;
    let info = media::probe(&request.media)?;
    if info.audio.is_none() {
        return Err(EngineError::BadMedia {
            path: request.media.clone(),
            cause: "no audio stream: there is no speech to transcribe".into(),
        });
    }
    let duration_s = info.duration_s;
    let pipeline = gst::Pipeline::with_name("reenact-transcribe");
    let src = make(f::FILESRC)?;
    src.set_property("location", request.media.to_string_lossy().as_ref());
    let decode = make(f::DECODEBIN)?;
    let convert = make(f::AUDIOCONVERT)?;
    let captions = gst::ElementFactory::make(f::REENACTCAPTIONS)
        .name("captions")
        .property("language", request.language.as_str())
        .property("translate", request.translate)
        .build()
        .map_err(|_| EngineError::MissingElement(f::REENACTCAPTIONS))?;
    let audio_queue = make(f::QUEUE)?;
    let audio_sink = make(f::FAKESINK)?;
    audio_sink.set_property("sync", false);
    let text_queue = make(f::QUEUE)?;
    let text_sink = gst_app::AppSink::builder().sync(false).build();
    pipeline
        .add_many([&src, &decode, &convert, &captions, &audio_queue, &audio_sink, &text_queue, text_sink.upcast_ref()])
        .map_err(|_| graph_err("elements"))?;
    src.link(&decode).map_err(|_| graph_err("filesrc ! decodebin"))?;
    gst::Element::link_many([&convert, &captions]).map_err(|_| graph_err("audioconvert ! reenactcaptions"))?;
    captions
        .link_pads(Some("src"), &audio_queue, None)
        .and_then(|()| audio_queue.link(&audio_sink))
        .map_err(|_| graph_err("reenactcaptions audio"))?;
    captions
        .link_pads(Some("text_src"), &text_queue, None)
        .and_then(|()| text_queue.link(&text_sink))
        .map_err(|_| graph_err("reenactcaptions text"))?;

    let weak_pipeline = pipeline.downgrade();
    let weak_convert = convert.downgrade();
    route_decoded_pads(&decode, move |pad, stream| {
        let is_audio = stream == Stream::Audio;
        let (Some(pipeline), Some(convert)) = (weak_pipeline.upgrade(), weak_convert.upgrade()) else { return };
        let sink_pad = convert.static_pad("sink");
        if is_audio && sink_pad.as_ref().is_some_and(|p| !p.is_linked()) {
            if let Some(sink_pad) = sink_pad {
                if let Err(err) = pad.link(&sink_pad) {
                    tracing::warn!("cannot link the audio stream: {err:?}");
                }
            }
            return;
        }
        crate::blocks::drain(&pipeline, pad);
    });

    let collected: Arc<Mutex<Vec<Cue>>> = Arc::default();
    let store = collected.clone();
    text_sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(cue) = cue_of(&sample) {
                    store.lock().unwrap_or_else(PoisonError::into_inner).push(cue);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let position = Position::default();
    watch_position(&captions, &position)?;

    let watch = Watch { duration_s, position, cancel, stall_after: request.stall_timeout };
    let result = play(&pipeline, &watch, &mut |p: Progress| {
        on_progress(TranscribeProgress { fraction: p.fraction, position_s: p.position_s, duration_s })
    });
    let stats = captions.property::<gst::Structure>("stats");
    let models: Vec<String> = ["model", "vad-model"].iter().map(|p| captions.property::<String>(p)).collect();
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    let cues = split_long(&collected.lock().unwrap_or_else(PoisonError::into_inner));
    let catalog = reenact_models::Catalog::load().ok();
    let models = models
        .into_iter()
        .map(|name| ModelUse {
            version: catalog.as_ref().and_then(|c| c.entry(&name)).map(|e| e.model.version.clone()).unwrap_or_default(),
            name,
            element: f::REENACTCAPTIONS.into(),
        })
        .collect();
    Ok(Transcript {
        cues,
        duration_s,
        wall_s: began.elapsed().as_secs_f64(),
        utterances: stats.get::<u64>("utterances").unwrap_or(0),
        realtime_factor: stats.get::<f64>("realtime-factor").unwrap_or(0.0),
        models,
        language: stats.get::<String>("language").unwrap_or_default(),
        translated: request.translate,
    })
}

/// Writes `cues` as `format` to `out`, through `out.part` renamed when complete.
pub fn write_subtitles(cues: &[Cue], format: Format, out: &Path) -> Result<()> {
    crate::blocks::write_then_rename(out, subtitles::write(cues, format).as_bytes())
}

/// Records the stream time reached by the audio leaving `captions`.
fn watch_position(captions: &gst::Element, position: &Position) -> Result<()> {
    let pad = captions.static_pad("src").ok_or_else(|| graph_err("reenactcaptions has no src pad"))?;
    let position = position.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        if let Some(buffer) = info.buffer() {
            let end = buffer.pts().opt_add(buffer.duration()).or(buffer.pts());
            let segment = pad.sticky_event::<gst::event::Segment>(0);
            let stream = match (end, segment) {
                (Some(end), Some(seg)) => {
                    seg.segment().downcast_ref::<gst::ClockTime>().and_then(|s| s.to_stream_time(end)).or(Some(end))
                }
                (end, _) => end,
            };
            if let Some(t) = stream {
                position.record_ns(t.nseconds());
            }
        }
        gst::PadProbeReturn::Ok
    })
    .ok_or_else(|| graph_err("cannot watch reenactcaptions' output"))?;
    Ok(())
}

/// A final text buffer as a cue on the stream time.
fn cue_of(sample: &gst::Sample) -> Option<Cue> {
    let buffer = sample.buffer()?;
    if buffer.flags().contains(gst::BufferFlags::DELTA_UNIT) {
        return None;
    }
    let text = std::str::from_utf8(&buffer.map_readable().ok()?).ok()?.trim().to_owned();
    if text.is_empty() {
        return None;
    }
    let pts = buffer.pts()?;
    let end = pts + buffer.duration().unwrap_or(gst::ClockTime::SECOND);
    let to_stream = |t: gst::ClockTime| {
        sample.segment().and_then(|s| s.downcast_ref::<gst::ClockTime>()).and_then(|s| s.to_stream_time(t)).unwrap_or(t)
    };
    let (start_s, end_s) = (to_stream(pts).nseconds() as f64 / 1e9, to_stream(end).nseconds() as f64 / 1e9);
    (end_s > start_s).then_some(Cue { start_s, end_s, text })
}

/// Splits cues longer than two lines into several, sharing the time by length, and wraps
/// each into lines of at most [`LINE_CHARS`].
pub fn split_long(cues: &[Cue]) -> Vec<Cue> {
    let mut out = Vec::new();
    for cue in cues {
        let lines = wrap(&cue.text, LINE_CHARS);
        let total: usize = lines.iter().map(|l| l.chars().count()).sum::<usize>().max(1);
        let span = cue.end_s - cue.start_s;
        let mut at = cue.start_s;
        let mut done = 0usize;
        for group in lines.chunks(CUE_LINES) {
            done += group.iter().map(|l| l.chars().count()).sum::<usize>();
            let end = if done >= total { cue.end_s } else { cue.start_s + span * done as f64 / total as f64 };
            out.push(Cue { start_s: at, end_s: end.max(at + 0.001), text: group.join("\n") });
            at = end;
        }
    }
    // Whisper segments of neighbouring utterances may overlap by a few ms; cues must not.
    for i in 1..out.len() {
        if out[i].start_s < out[i - 1].end_s {
            out[i - 1].end_s = out[i].start_s.max(out[i - 1].start_s + 0.001);
        }
    }
    out
}

/// Greedy word wrap; a word longer than `width` gets a line of its own.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines
}

fn graph_err(what: &str) -> EngineError {
    EngineError::Pipeline { element: "transcription graph".into(), message: format!("cannot build: {what}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cues_are_split_into_two_line_cues() {
        let text =
            "and so my fellow americans ask not what your country can do for you ask what you can do for your country";
        let cues = split_long(&[Cue { start_s: 1.0, end_s: 11.0, text: text.into() }]);
        assert!(cues.len() >= 2, "{cues:?}");
        for cue in &cues {
            assert!(cue.text.lines().count() <= CUE_LINES, "{cue:?}");
            assert!(cue.text.lines().all(|l| l.chars().count() <= LINE_CHARS), "{cue:?}");
        }
        assert_eq!(cues[0].start_s, 1.0);
        assert_eq!(cues.last().unwrap().end_s, 11.0);
        for pair in cues.windows(2) {
            assert!(pair[0].end_s <= pair[1].start_s + 1e-9);
        }
        let words: Vec<&str> = cues.iter().flat_map(|c| c.text.split_whitespace()).collect();
        assert_eq!(words.join(" "), text);
    }

    #[test]
    fn overlapping_cues_are_trimmed() {
        let cues = split_long(&[
            Cue { start_s: 0.0, end_s: 2.0, text: "one".into() },
            Cue { start_s: 1.5, end_s: 3.0, text: "two".into() },
        ]);
        assert_eq!(cues[0].end_s, 1.5);
    }
}
