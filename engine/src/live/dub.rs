// SPDX-License-Identifier: MPL-2.0
//! Live dubbing: the performer's speech heard by whisper, translated, spoken by a voice of
//! the dub's language and played a declared delay after it was said, with the picture held
//! back by the same delay so that sound and picture stay together.
//!
//! ```text
//! performer's sound ! queue ! 16 kHz mono ! reenactcaptions(final lines) ! appsink
//!   -> speaker thread: translate (or whisper's own into English) -> text-to-speech -> schedule
//! audiotestsrc(silence, live) [fill from the schedule] ! the show's voices ! outputs
//! picture: source ! queue(holds `delay`, running time + `delay`) ! the chain
//! ```
//!
//! A line said at running time `s` is played from `s + delay`, fitted to the time it took
//! to say: spoken up to [`crate::dub::MAX_PACE`] times faster, as a dubbed scene fits its cue
//! ([`crate::dub`]); one still longer runs on into the pause after it, never cut, and the next
//! line waits for it. The show's sound starts with the first held picture. The delay has to cover the
//! longest utterance ([`MAX_UTTERANCE_MS`]), the pause that ends it, whisper's and the
//! voice's time; a line that comes later than its place is played as soon as it is ready,
//! after the line before it, and counted as late.
//!
//! Translation: into English, whisper translates as it transcribes (no model to install);
//! between other languages, the catalog's translation model for the pair, or else Apertium's
//! rule-based translation ([`crate::translation`]), which must be there when the show starts.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gst::prelude::*;
use serde::Serialize;

use super::graph::{add_chain, leaky_time_queue};
use crate::blocks::caps_filter;
use crate::dub::{Voice, RATE};
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make, plugin};
use crate::languages::{canonical_tag, primary};
use crate::subtitles::Cue;
use crate::translation::{self, Translator};
use reenact_models::ModelUse;

/// Longest utterance whisper is given before it is cut at its weakest point: with the pause
/// that ends it and whisper's time, it sets the least delay a dub can keep.
const MAX_UTTERANCE_MS: u32 = 5_000;
/// Pause that ends an utterance: long enough for a breath inside a sentence.
const MIN_SILENCE_MS: u32 = 400;
/// The delay a dub declares when none is asked for.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(8);
/// The least delay a dub accepts: an utterance, its pause and whisper's time on top.
pub const MIN_DELAY: Duration = Duration::from_secs(6);
/// The most: the picture is held raw for this long.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// Samples per buffer of the dub's sound (10 ms at [`RATE`]).
const BLOCK: i32 = 480;
/// Lines kept for the readout.
const KEPT: usize = 4;

/// A live dub asked for: the language the show is dubbed into and its delay.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveDub {
    /// BCP 47 tag of the language the audience hears.
    pub language: String,
    /// How long after the performer speaks the dub plays, the picture with it.
    pub delay: Duration,
}

impl LiveDub {
    /// A dub into `language` after [`DEFAULT_DELAY`].
    pub fn new(language: impl Into<String>) -> Self {
        LiveDub { language: language.into(), delay: DEFAULT_DELAY }
    }
}

/// One dubbed line, for the readout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DubbedLine {
    /// What the performer said, as whisper heard it (in English when whisper translated).
    pub heard: String,
    /// What the voice said.
    pub spoken: String,
    /// Running time the performer said it at, and where the dub plays it, seconds.
    pub said_s: f64,
    pub played_s: f64,
    /// How fast it was spoken against the voice's own pace, and how long it lasts, seconds.
    pub pace: f64,
    pub speech_s: f64,
}

/// Figures of a show's dub.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DubStats {
    pub language: String,
    pub delay_s: f64,
    /// How the lines become the dub's language: `whisper` (into English) or a model's name.
    pub translation: String,
    /// The voice: `piper:NAME@VERSION` or `espeak-ng:VOICE`.
    pub speech: String,
    /// Lines spoken, lines played later than their place, lines that could not be spoken.
    pub lines: u64,
    pub late: u64,
    pub failed: u64,
    /// The least time a line was ready before its place, seconds (negative: late).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub least_margin_s: Option<f64>,
    /// The newest lines, oldest first.
    pub recent: Vec<DubbedLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// How the performer's words become the dub's language.
enum Translation {
    /// The words are already in it: whisper translated them into English, or the performer
    /// speaks the dub's language.
    Heard,
    Model(Box<Translator>),
}

/// The dub of a running show.
#[derive(Debug)]
pub(crate) struct Dub {
    stats: Arc<Mutex<DubStats>>,
    /// The dub's language as whisper names it, for captions of what the audience hears.
    whisper_code: String,
    models: Vec<ModelUse>,
    /// Running time of the first held picture, ns (`u64::MAX` until one is out): the dub's
    /// sound starts there.
    picture_start: Arc<AtomicU64>,
}

/// Spoken lines waiting to be played: each line's first sample (running time at [`RATE`])
/// and its samples, in order.
type Schedule = Arc<Mutex<VecDeque<(u64, Vec<f32>)>>>;

/// What the speaker thread is given for each utterance.
struct Heard {
    text: String,
    start_s: f64,
    end_s: f64,
}

impl Dub {
    /// Checks what `dub` needs (a voice of its language, the translation) for speech in
    /// `speech_language` (a whisper code or `auto`) and adds its branches to `pipeline`: the
    /// recognizer fed by `performer` (the source's sound), and the dub's sound, returned
    /// to be played in the performer's place.
    pub(crate) fn add(
        pipeline: &gst::Pipeline,
        performer: &gst::Element,
        speech_language: &str,
        dub: &LiveDub,
    ) -> Result<(Self, gst::Element)> {
        let refuse = |cause: String| EngineError::Request(format!("dub: {cause}"));
        let language = canonical_tag(&dub.language).map_err(|e| refuse(e.to_string()))?;
        delay_from_secs(dub.delay.as_secs_f64()).map_err(refuse)?;
        let target = primary(&language).to_owned();
        let (whisper_translates, translate_from) = route(speech_language, &target);
        if translate_from.as_deref() == Some("auto") {
            return Err(refuse(format!(
                "a dub into `{language}` needs the performer's language set (not auto) to choose its translation; \
                 only a dub into English takes speech in any language"
            )));
        }
        let (heard_tx, heard_rx) = mpsc::channel();
        let schedule: Schedule = Arc::default();
        let stats = Arc::new(Mutex::new(DubStats {
            language: language.clone(),
            delay_s: dub.delay.as_secs_f64(),
            // Named once the speaker has opened it.
            translation: if whisper_translates { "whisper".into() } else { "none".into() },
            speech: String::new(),
            lines: 0,
            late: 0,
            failed: 0,
            least_margin_s: None,
            recent: Vec::new(),
            last_error: None,
        }));
        // The translator and the voice hold native state that stays on the thread that made it.
        let (opened_tx, opened_rx) = mpsc::channel();
        let speaker = {
            let (pipeline, language, target, schedule, stats) =
                (pipeline.downgrade(), language.clone(), target.clone(), schedule.clone(), stats.clone());
            let delay = dub.delay;
            move || {
                let opened = open_speech(translate_from.as_deref(), &target, &language);
                let (translation, voice) = match opened {
                    Ok(opened) => opened,
                    Err(cause) => {
                        let _ = opened_tx.send(Err(cause));
                        return;
                    }
                };
                let mut models = voice.model().into_iter().collect::<Vec<_>>();
                let mut translated_by = None;
                if let Translation::Model(translator) = &translation {
                    models.push(ModelUse {
                        name: translator.model().into(),
                        version: translator.version().into(),
                        element: "dub".into(),
                    });
                    translated_by = Some(translator.model().to_owned());
                }
                let _ = opened_tx.send(Ok((voice.name(), translated_by, models)));
                Speaker { pipeline, translation, voice, delay, schedule, stats }.run(heard_rx);
            }
        };
        std::thread::Builder::new()
            .name("reenact-dub".into())
            .spawn(speaker)
            .map_err(|e| EngineError::Request(format!("dub: cannot start its speaker: {e}")))?;
        let (speech, translated_by, opened_models) =
            opened_rx.recv().map_err(|_| refuse("its speaker stopped while opening".into()))?.map_err(refuse)?;
        let mut models: Vec<ModelUse> =
            recognizer_models(speech_language, whisper_translates).iter().map(|name| dub_model(name)).collect();
        models.extend(opened_models);
        {
            let mut stats = stats.lock().unwrap_or_else(PoisonError::into_inner);
            stats.speech = speech;
            if let Some(name) = translated_by {
                stats.translation = name;
            }
        }
        add_recognizer(pipeline, performer, speech_language, whisper_translates, heard_tx)?;
        let picture_start = Arc::new(AtomicU64::new(u64::MAX));
        let sound = add_sound(pipeline, schedule, picture_start.clone())?;
        tracing::info!(%language, delay_s = dub.delay.as_secs_f64(), "live dub on");
        Ok((Dub { stats, whisper_code: target, models, picture_start }, sound))
    }

    pub(crate) fn whisper_code(&self) -> String {
        self.whisper_code.clone()
    }

    /// The models the dub runs: recognition, translation and the voice's.
    pub(crate) fn models(&self) -> Vec<ModelUse> {
        self.models.clone()
    }

    pub(crate) fn stats(&self) -> DubStats {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// How speech in `speech_language` reaches `target` (a primary subtag): whether whisper
/// translates it into English itself, and otherwise the language a model translates from
/// (none: the words are already in `target`).
fn route(speech_language: &str, target: &str) -> (bool, Option<String>) {
    let whisper_translates = target == "en" && speech_language != "en";
    let from = (!whisper_translates && speech_language != target).then(|| speech_language.to_owned());
    (whisper_translates, from)
}

/// `seconds` as a dub's delay, or why it cannot be one.
pub fn delay_from_secs(seconds: f64) -> std::result::Result<Duration, String> {
    Duration::try_from_secs_f64(seconds).ok().filter(|d| (MIN_DELAY..=MAX_DELAY).contains(d)).ok_or_else(|| {
        format!(
            "a delay of {seconds:.1} s is outside {}..{} s (an utterance, its pause and whisper's time must fit in it)",
            MIN_DELAY.as_secs(),
            MAX_DELAY.as_secs()
        )
    })
}

/// The models whisper's recognizer loads for speech in `speech_language`: the multilingual
/// ones whenever it translates.
fn recognizer_models(speech_language: &str, whisper_translates: bool) -> &'static [&'static str] {
    super::captions::models(if whisper_translates { "auto" } else { speech_language })
}

/// The models a dub of speech in `speech_language` runs, for a licence check before the show
/// starts: whisper's, the pair's translation (its imported model, or Apertium's modes, which
/// are no catalog model), and Piper's for English (espeak-ng's voices are no model).
pub fn planned_models(speech_language: &str, dub: &LiveDub) -> Vec<String> {
    let Ok(language) = canonical_tag(&dub.language) else { return Vec::new() };
    let target = primary(&language);
    let (whisper_translates, from) = route(speech_language, target);
    let mut names: Vec<String> =
        recognizer_models(speech_language, whisper_translates).iter().map(|n| (*n).to_owned()).collect();
    if let Some(from) = from {
        let catalog = reenact_models::Catalog::load().ok();
        names.push(translation::planned(catalog.as_ref(), &from, target));
    }
    if target == "en" {
        names.push(gstreenact::tts::MODEL.to_owned());
    }
    names
}

/// The translation from `from` (none: the words are already in `target`) and the voice of
/// `language`, or why either cannot be had.
fn open_speech(from: Option<&str>, target: &str, language: &str) -> std::result::Result<(Translation, Voice), String> {
    let translation = match from {
        None => Translation::Heard,
        Some(from) => Translation::Model(Box::new(Translator::open(from, target).map_err(|e| e.to_string())?)),
    };
    let voice = Voice::open(language, None).map_err(|e| e.to_string())?;
    Ok((translation, voice))
}

fn dub_model(name: &str) -> ModelUse {
    ModelUse { name: name.into(), version: String::new(), element: "dub".into() }
}

/// Holds the picture from `input` back by `delay`: the pictures are stamped `delay` later
/// and wait for that time on the clock in a sync'd `identity`, queued meanwhile, so the sinks
/// play them `delay` late, with the dub, whose sound starts at the first of them. Returns the
/// element to link the chain to.
pub(crate) fn hold_picture(
    pipeline: &gst::Pipeline,
    input: &gst::Element,
    delay: Duration,
    dub: &Dub,
) -> Result<gst::Element> {
    let picture_start = dub.picture_start.clone();
    let held = delay.as_nanos() as u64;
    // A stalled chain must not hold the source back: the oldest pictures go.
    let queue = leaky_time_queue(delay + Duration::from_secs(1))?;
    let wait = make(f::IDENTITY)?;
    wait.set_property("sync", true);
    add_chain(pipeline, &[queue.clone(), wait.clone()], "the picture's delay")?;
    input.link(&queue).map_err(|_| EngineError::Request("dub: cannot link the picture's delay".into()))?;
    // When the show stops, the pictures still held are after the end of its sound: they go.
    let ending = Arc::new(AtomicBool::new(false));
    let ended = ending.clone();
    queue.static_pad("sink").expect("queue sink").add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if info.event().is_some_and(|e| e.type_() == gst::EventType::Eos) {
            ended.store(true, Ordering::SeqCst);
        }
        gst::PadProbeReturn::Ok
    });
    // Restamped rather than given a pad offset: with an offset, a recording's pictures ran a
    // whole delay past its sound.
    queue.static_pad("src").expect("queue src").add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if ending.load(Ordering::SeqCst) {
            return gst::PadProbeReturn::Drop;
        }
        if let Some(buffer) = info.buffer_mut() {
            let buffer = buffer.make_mut();
            let later = |t: Option<gst::ClockTime>| t.map(|t| t + gst::ClockTime::from_nseconds(held));
            let (pts, dts) = (later(buffer.pts()), later(buffer.dts()));
            if let Some(pts) = pts {
                let _ = picture_start.compare_exchange(u64::MAX, pts.nseconds(), Ordering::SeqCst, Ordering::SeqCst);
            }
            buffer.set_pts(pts);
            buffer.set_dts(dts);
        }
        gst::PadProbeReturn::Ok
    });
    Ok(wait)
}

/// `performer` ! queue ! 16 kHz mono ! reenactcaptions, its final lines sent to `heard`.
fn add_recognizer(
    pipeline: &gst::Pipeline,
    performer: &gst::Element,
    language: &str,
    translate: bool,
    heard: mpsc::Sender<Heard>,
) -> Result<()> {
    // Whisper falls behind now and then; the speech waits for it rather than being lost.
    let queue = leaky_time_queue(Duration::from_secs(20))?;
    let mono = caps_filter(gst::Caps::builder("audio/x-raw").field("channels", 1i32).build())?;
    let whisper = plugin("reenactcaptions")?;
    whisper.set_property("language", language);
    whisper.set_property("translate", translate);
    whisper.set_property("partial-results", false);
    whisper.set_property("max-segment", MAX_UTTERANCE_MS);
    whisper.set_property("min-silence", MIN_SILENCE_MS);
    let sound_sink = make(f::FAKESINK)?;
    sound_sink.set_property("sync", false);
    sound_sink.set_property("async", false);
    let elements = [queue.clone(), make(f::AUDIOCONVERT)?, make(f::AUDIORESAMPLE)?, mono, whisper.clone()];
    add_chain(pipeline, &elements, "dub recognizer")?;
    let text_queue = make(f::QUEUE)?;
    let text_sink = gst_app::AppSink::builder().sync(false).async_(false).build();
    pipeline
        .add_many([&sound_sink, &text_queue, text_sink.upcast_ref()])
        .map_err(|_| EngineError::Request("dub: cannot add the recognizer's sinks".into()))?;
    let linked = whisper
        .link_pads(Some("src"), &sound_sink, None)
        .and_then(|()| whisper.link_pads(Some("text_src"), &text_queue, None))
        .and_then(|()| text_queue.link(&text_sink))
        .and_then(|()| performer.link(&queue));
    linked.map_err(|_| EngineError::Request("dub: cannot link the recognizer".into()))?;
    let heard = Mutex::new(heard);
    text_sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(line) = sample.buffer().and_then(heard_of) {
                    // The speaker is gone only while the show stops.
                    let _ = heard.lock().unwrap_or_else(PoisonError::into_inner).send(line);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok(())
}

/// A final text buffer as an utterance, where it was spoken (a late result's own timestamp is
/// where it could still be shown); `None` for an empty one or whisper's own markers
/// (`[Music]`, `(laughs)`), which no voice should read out.
fn heard_of(buffer: &gst::BufferRef) -> Option<Heard> {
    let map = buffer.map_readable().ok()?;
    let text = spoken_words(&String::from_utf8_lossy(&map));
    let (start, duration) =
        gstreenact::captions::spoken(buffer).or_else(|| Some((buffer.pts()?, buffer.duration()?)))?;
    let start_s = start.nseconds() as f64 / 1e9;
    let end_s = start_s + duration.nseconds() as f64 / 1e9;
    (!text.is_empty() && end_s > start_s).then_some(Heard { text, start_s, end_s })
}

/// `text` without the parts in brackets or parentheses, its words on one line.
fn spoken_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A live silence at [`RATE`], mono, each buffer filled from `schedule` where a line falls,
/// starting with the held-back picture (`picture_start`): nothing plays without a picture,
/// and a recording starts both tracks together.
fn add_sound(pipeline: &gst::Pipeline, schedule: Schedule, picture_start: Arc<AtomicU64>) -> Result<gst::Element> {
    let silence = make(f::AUDIOTESTSRC)?;
    silence.set_property("is-live", true);
    silence.set_property_from_str("wave", "silence");
    silence.set_property("samplesperbuffer", BLOCK);
    let caps = caps_filter(
        gst::Caps::builder("audio/x-raw")
            .field("format", "F32LE")
            .field("rate", RATE as i32)
            .field("channels", 1i32)
            .field("layout", "interleaved")
            .build(),
    )?;
    add_chain(pipeline, &[silence, caps.clone()], "dub sound")?;
    caps.static_pad("src").expect("capsfilter src").add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() else { return gst::PadProbeReturn::Ok };
        let Some(pts) = buffer.pts() else { return gst::PadProbeReturn::Ok };
        if pts.nseconds() < picture_start.load(Ordering::SeqCst) {
            return gst::PadProbeReturn::Drop;
        }
        let first = to_sample(pts.nseconds() as f64 / 1e9);
        let mut lines = schedule.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.front().is_none_or(|(start, _)| *start >= first + (buffer.size() / 4) as u64) {
            return gst::PadProbeReturn::Ok;
        }
        let buffer = buffer.make_mut();
        // audiotestsrc marks its silence as a gap, which the elements after it skip as silence.
        buffer.unset_flags(gst::BufferFlags::GAP);
        if let Ok(mut map) = buffer.map_writable() {
            // The source made silence: the block starts from zeros.
            let mut block = vec![0.0f32; map.len() / 4];
            fill(&mut lines, first, &mut block);
            for (out, v) in map.chunks_exact_mut(4).zip(&block) {
                out.copy_from_slice(&v.to_le_bytes());
            }
        }
        gst::PadProbeReturn::Ok
    });
    Ok(caps)
}

fn to_sample(seconds: f64) -> u64 {
    (seconds.max(0.0) * f64::from(RATE)).round() as u64
}

/// Writes the parts of `lines` that fall in `samples` (the first at running-time sample
/// `first`) over them, and forgets the lines played to their end.
fn fill(lines: &mut VecDeque<(u64, Vec<f32>)>, first: u64, samples: &mut [f32]) {
    let end = first + samples.len() as u64;
    for (start, line) in lines.iter() {
        if *start >= end {
            break;
        }
        let from = (*start).max(first);
        let to = (start + line.len() as u64).min(end);
        for at in from..to {
            samples[(at - first) as usize] = line[(at - start) as usize];
        }
    }
    while lines.front().is_some_and(|(start, line)| start + line.len() as u64 <= end) {
        lines.pop_front();
    }
}

/// Turns heard utterances into scheduled speech, one at a time, in the order they were said.
struct Speaker {
    pipeline: gst::glib::WeakRef<gst::Pipeline>,
    translation: Translation,
    voice: Voice,
    delay: Duration,
    schedule: Schedule,
    stats: Arc<Mutex<DubStats>>,
}

impl Speaker {
    fn run(mut self, heard: mpsc::Receiver<Heard>) {
        for line in heard {
            if let Err(cause) = self.speak(&line) {
                tracing::warn!(%cause, text = %line.text, "a dub line could not be spoken");
                let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
                stats.failed += 1;
                stats.last_error = Some(cause);
            }
            if self.pipeline.upgrade().is_none() {
                break;
            }
        }
    }

    fn speak(&mut self, heard: &Heard) -> std::result::Result<(), String> {
        let text = match &mut self.translation {
            Translation::Heard => heard.text.clone(),
            Translation::Model(translator) => translator.translate(&heard.text).map_err(|e| e.to_string())?,
        };
        let cue = Cue { start_s: heard.start_s, end_s: heard.end_s, text: text.clone() };
        let (samples, fitted) = self.voice.fit_within(&cue, false).map_err(|e| e.to_string())?;
        let place = to_sample(heard.start_s + self.delay.as_secs_f64());
        let now = self.running_time_s().map(to_sample);
        let (start, margin) =
            schedule_line(&mut self.schedule.lock().unwrap_or_else(PoisonError::into_inner), place, now, samples);
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        stats.lines += 1;
        if start > place {
            stats.late += 1;
        }
        if let Some(margin) = margin {
            stats.least_margin_s = Some(stats.least_margin_s.map_or(margin, |m: f64| m.min(margin)));
        }
        stats.recent.push(DubbedLine {
            heard: heard.text.clone(),
            spoken: text,
            said_s: heard.start_s,
            played_s: start as f64 / f64::from(RATE),
            pace: fitted.pace,
            speech_s: fitted.speech_s,
        });
        if stats.recent.len() > KEPT {
            stats.recent.remove(0);
        }
        Ok(())
    }

    /// The pipeline's running time now, seconds.
    fn running_time_s(&self) -> Option<f64> {
        let pipeline = self.pipeline.upgrade()?;
        let now = pipeline.clock()?.time();
        let base = pipeline.base_time()?;
        Some(now.checked_sub(base)?.nseconds() as f64 / 1e9)
    }
}

/// Queues `samples` at `place`, or as soon after it as the clock (`now`) and the line before
/// allow; returns where it starts and how long before its place it was ready, seconds.
fn schedule_line(
    lines: &mut VecDeque<(u64, Vec<f32>)>,
    place: u64,
    now: Option<u64>,
    samples: Vec<f32>,
) -> (u64, Option<f64>) {
    let after_last = lines.back().map_or(0, |(start, line)| start + line.len() as u64);
    // Two blocks' room: the buffer being filled now is already on its way.
    let soonest = now.map_or(0, |n| n + 2 * BLOCK as u64);
    let start = place.max(after_last).max(soonest);
    let margin = now.map(|n| (place as f64 - n as f64) / f64::from(RATE));
    lines.push_back((start, samples));
    (start, margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_written_where_they_fall_and_forgotten_once_played() {
        let mut lines: VecDeque<(u64, Vec<f32>)> = VecDeque::from([(4, vec![1.0; 4]), (10, vec![2.0; 4])]);
        let mut block = vec![0.0f32; 6];
        fill(&mut lines, 0, &mut block);
        assert_eq!(block, [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        assert_eq!(lines.len(), 2, "the first line is not played to its end yet");
        let mut block = vec![0.0f32; 6];
        fill(&mut lines, 6, &mut block);
        assert_eq!(block, [1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
        assert_eq!(lines.len(), 1, "the first line is done");
        let mut block = vec![0.0f32; 6];
        fill(&mut lines, 12, &mut block);
        assert_eq!(block, [2.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
        assert!(lines.is_empty());
    }

    #[test]
    fn a_line_plays_at_its_place_or_as_soon_after_as_it_can() {
        let rate = u64::from(RATE);
        let mut lines = VecDeque::new();
        let (start, margin) = schedule_line(&mut lines, 10 * rate, Some(4 * rate), vec![0.5; rate as usize]);
        assert_eq!((start, margin), (10 * rate, Some(6.0)), "in time: at its place");
        let (start, _) = schedule_line(&mut lines, 10 * rate + 100, Some(4 * rate), vec![0.5; 10]);
        assert_eq!(start, 11 * rate, "after the line before it, never over it");
        let (start, margin) = schedule_line(&mut lines, 12 * rate, Some(13 * rate), vec![0.5; 10]);
        assert_eq!((start, margin), (13 * rate + 2 * BLOCK as u64, Some(-1.0)), "late: as soon as the clock allows");
    }

    #[test]
    fn a_dub_is_translated_by_whisper_into_english_and_by_a_model_otherwise() {
        assert_eq!(route("es", "en"), (true, None));
        assert_eq!(route("auto", "en"), (true, None));
        assert_eq!(route("en", "en"), (false, None), "re-voiced, nothing to translate");
        assert_eq!(route("en", "es"), (false, Some("en".into())));
        assert_eq!(route("de", "de"), (false, None));
        let into = |language: &str| LiveDub::new(language);
        let english = planned_models("es", &into("en"));
        assert!(english.contains(&gstreenact::tts::MODEL.to_owned()) && english.len() == 3, "{english:?}");
        let spanish = planned_models("en", &into("es-419"));
        assert!(spanish.contains(&"apertium:eng-spa".to_owned()), "Apertium's, none imported: {spanish:?}");
        let german = planned_models("en", &into("de"));
        assert!(german.contains(&"translation_en_de".to_owned()), "{german:?}");
        assert!(planned_models("en", &into("not a tag!")).is_empty());
    }

    #[test]
    fn whispers_markers_are_not_read_out() {
        assert_eq!(spoken_words(" [Music] Welcome to  the museum. (applause)"), "Welcome to the museum.");
        assert_eq!(spoken_words("[BLANK_AUDIO]"), "");
    }
}
