// SPDX-License-Identifier: MPL-2.0
//! Live captions: a branch off the sound tee into `reenactcaptions` with partial results,
//! opened by a valve while the captions switch is on. The texts are kept for the show's
//! readout, the newest last, each partial replaced by what follows it in the same utterance.
//!
//! Why a branch and not an element in the sound's path: the preview's sound must never wait
//! for whisper, and a closed valve costs nothing, so the switch needs no restart.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use gst::prelude::*;
use serde::Serialize;

use super::graph::{add_chain, leaky_time_queue};
use crate::blocks::caps_filter;
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make, plugin};

const CAPTIONS: &str = "reenactcaptions";
/// The models `reenactcaptions` loads by default (English).
pub(crate) const MODELS: [&str; 2] = ["whisper_tiny_en_q8_0", "silero_vad_v5"];
/// What it loads for any other language, or `auto` (the multilingual speech model).
const MULTILINGUAL_MODELS: [&str; 2] = ["whisper_base_q8_0", "silero_vad_v5"];

/// The models the captions branch loads for speech in `language`.
pub(crate) fn models(language: &str) -> &'static [&'static str] {
    if language == "en" {
        &MODELS
    } else {
        &MULTILINGUAL_MODELS
    }
}
/// Lines kept for the readout.
const KEPT: usize = 4;

/// One caption of the show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaptionLine {
    pub text: String,
    /// `false` while whisper may still revise it (a partial result).
    #[serde(rename = "final")]
    pub is_final: bool,
    /// Where it was spoken, in seconds of the show's running time.
    pub start_s: f64,
    pub end_s: f64,
}

/// The captions branch of a running show.
#[derive(Debug)]
pub(crate) struct Captions {
    valve: gst::Element,
    lines: Arc<Mutex<VecDeque<CaptionLine>>>,
    element: gst::Element,
}

/// Why a show has no captions branch: the speech models for `language` are not installed.
pub(crate) fn unavailable(language: &str) -> Option<String> {
    let catalog = match reenact_models::Catalog::load() {
        Ok(catalog) => catalog,
        Err(e) => return Some(format!("model catalog: {e}")),
    };
    models(language).iter().find_map(|name| catalog.get(name).err().map(|e| e.to_string()))
}

impl Captions {
    /// Adds the branch to `pipeline`, fed by `audio_tee`, closed until [`Captions::set_on`],
    /// for speech in `language` (a whisper code, or `auto` to detect it).
    pub(crate) fn add(pipeline: &gst::Pipeline, audio_tee: &gst::Element, language: &str) -> Result<Self> {
        let valve = make(f::VALVE)?;
        valve.set_property("drop", true);
        let queue = leaky_time_queue(std::time::Duration::from_secs(2))?;
        let mono = caps_filter(gst::Caps::builder("audio/x-raw").field("channels", 1i32).build())?;
        let captions = plugin(CAPTIONS)?;
        captions.set_property("partial-results", true);
        captions.set_property("language", language);
        let sound_sink = make(f::FAKESINK)?;
        sound_sink.set_property("sync", false);
        sound_sink.set_property("async", false);
        let elements = [valve.clone(), queue, make(f::AUDIOCONVERT)?, make(f::AUDIORESAMPLE)?, mono, captions.clone()];
        add_chain(pipeline, &elements, "captions")?;
        pipeline.add(&sound_sink).map_err(|_| EngineError::Request("cannot add the captions sink".into()))?;
        captions
            .link_pads(Some("src"), &sound_sink, None)
            .map_err(|_| EngineError::Request("captions sound".into()))?;
        audio_tee.link(&valve).map_err(|_| EngineError::Request("cannot link the captions branch".into()))?;

        let text_queue = make(f::QUEUE)?;
        let text_sink = gst_app::AppSink::builder().sync(false).async_(false).build();
        pipeline
            .add_many([&text_queue, text_sink.upcast_ref()])
            .map_err(|_| EngineError::Request("cannot add the captions text sink".into()))?;
        captions
            .link_pads(Some("text_src"), &text_queue, None)
            .and_then(|()| text_queue.link(&text_sink))
            .map_err(|_| EngineError::Request("cannot link the captions text".into()))?;
        let lines: Arc<Mutex<VecDeque<CaptionLine>>> = Arc::default();
        let kept = lines.clone();
        text_sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let Some(line) = sample.buffer().and_then(line_of) {
                        keep(&mut kept.lock().unwrap_or_else(PoisonError::into_inner), line);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        Ok(Captions { valve, lines, element: captions })
    }

    /// The language whisper last heard (its code), once it has transcribed something.
    pub(crate) fn heard(&self) -> Option<String> {
        let stats = self.element.property::<gst::Structure>("stats");
        stats.get::<String>("language").ok().filter(|l| !l.is_empty())
    }

    /// Opens or closes the branch; closed, whisper gets no sound and the lines are cleared.
    pub(crate) fn set_on(&self, on: bool) {
        self.valve.set_property("drop", !on);
        if !on {
            self.lines.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }

    /// The kept lines, oldest first.
    pub(crate) fn recent(&self) -> Vec<CaptionLine> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect()
    }
}

/// A text buffer as a line; `None` for an empty one.
fn line_of(buffer: &gst::BufferRef) -> Option<CaptionLine> {
    let map = buffer.map_readable().ok()?;
    let text = String::from_utf8_lossy(&map).trim().to_owned();
    if text.is_empty() {
        return None;
    }
    let start = buffer.pts().map(|t| t.nseconds() as f64 / 1e9).unwrap_or(0.0);
    let end = start + buffer.duration().map(|d| d.nseconds() as f64 / 1e9).unwrap_or(0.0);
    Some(CaptionLine {
        text,
        is_final: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
        start_s: start,
        end_s: end,
    })
}

/// Adds `line`, replacing the partial it revises (the newest, when it is a partial).
fn keep(lines: &mut VecDeque<CaptionLine>, line: CaptionLine) {
    if lines.back().is_some_and(|last| !last.is_final) {
        lines.pop_back();
    }
    lines.push_back(line);
    while lines.len() > KEPT {
        lines.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, is_final: bool) -> CaptionLine {
        CaptionLine { text: text.into(), is_final, start_s: 0.0, end_s: 1.0 }
    }

    #[test]
    fn partials_are_replaced_and_only_the_newest_lines_kept() {
        let mut lines = VecDeque::new();
        keep(&mut lines, line("hello and", false));
        keep(&mut lines, line("hello and welcome", false));
        keep(&mut lines, line("Hello and welcome to the studio.", true));
        assert_eq!(lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["Hello and welcome to the studio."]);
        for i in 0..6 {
            keep(&mut lines, line(&format!("line {i}"), true));
        }
        assert_eq!(lines.len(), KEPT);
        assert_eq!(lines.back().unwrap().text, "line 5");
    }
}
