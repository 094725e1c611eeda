// SPDX-License-Identifier: MPL-2.0
/**
 * SECTION:element-reenactcaptions
 *
 * Transcribes speech into timestamped text. Audio arriving on `sink` leaves unchanged on `src`
 * (same buffers, same caps); a copy is mixed down to mono and resampled to 16 kHz, Silero VAD
 * (catalog model `vad-model`) rates every 32 ms window, and the stretches of speech it finds
 * (utterances, padded by 200 ms, split at pauses of `min-silence`, cut at `max-segment`) are
 * transcribed by whisper (catalog model `model`, whisper.cpp through whisper-rs) on a worker
 * thread. Each whisper segment leaves on `text_src` as one `text/x-raw, format=utf8` buffer
 * whose PTS and duration are where it was spoken, in the input's segment. Silence gives no
 * text: GAP events keep `text_src` moving instead. With `partial-results`, the open utterance
 * is also transcribed about once a second while the worker is idle; those buffers carry the
 * `DELTA_UNIT` flag (to be replaced by the final text). Every result is also posted as an
 * element message `reenactcaptions` (`text`, `final`, `start`, `end`, `delay-ms`, the stream
 * time from the end of the words to the text, `inference-ms`, and `spoken-start`/`spoken-end`,
 * where the words were spoken: `start`/`end` unless a late live result was re-timestamped).
 * The text buffers carry the same as a `ReferenceTimestampMeta` (`timestamp/x-reenact-spoken`,
 * timestamp and duration).
 *
 * `language` must be one the model knows (or `auto`: whisper detects it per utterance) and
 * `translate` (any language into English) needs a multilingual model. When `model` is not set,
 * English without `translate` takes whisper tiny.en and anything else the multilingual whisper
 * base (`whisper_base_q8_0`); reading `model` tells which. A language the model cannot do
 * fails the change to PAUSED with an error naming the model, as does a missing or corrupt model
 * file. The language of each utterance is in its message (`language`); `stats` gives the one
 * most of the speech so far was in, weighted by whisper's confidence, so one doubtful
 * utterance does not change what a show is said to be in.
 *
 * Latency: the `latency` property (default 3 s), added to upstream's in the LATENCY query on
 * both source pads, so sinks hold the audio back until its text can be there. In a live
 * pipeline the element never waits for whisper: a result that comes later than `latency`
 * allows is re-timestamped to half the latency behind the newest audio and counted as `late`
 * in `stats`; an utterance finished while whisper is busy is merged with the next one (or
 * dropped when the merge would pass whisper's 30 s window), partial results are skipped
 * while whisper is busy. Not live (files), every utterance is transcribed and the streaming
 * thread waits for room in the queue. Whisper encodes only the job's audio plus 2.5 s (not its
 * whole 30 s window), and partials are decoded once, without temperature fallback: on tiny.en
 * with 2 threads a 2 s utterance takes about 0.15 s, so `latency` can go down to about
 * `min-silence` + 1 s.
 *
 * Threads: by default half the CPUs, at most 4. whisper.cpp's threads wait for each other by
 * spinning, so when they outnumber the cores left to them (the video chain beside it, a
 * second show, an encoder) one that is switched out stalls the others: on 2 cores two
 * transcriptions with 2 threads each took 38.8 s where one took 3.9 s, with 1 thread each
 * 6.7 s (bench/RESULTS.md, "Whisper's threads").
 *
 * Put a `queue` after each source pad: both are pushed from the sink's streaming thread.
 *
 * ```bash
 * gst-launch-1.0 filesrc location=talk.mp4 ! decodebin ! audioconvert ! reenactcaptions name=c \
 *   c.src ! queue ! fakesink  c.text_src ! queue ! fdsink fd=1
 * ```
 *
 * Since: 0.1.0
 */
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use super::segmenter::{Segmenter, SegmenterConfig};
use super::vad::Vad;
use super::worker::{self, Job, Outcome, Rejected, Transcriber, TranscriberConfig, Worker};
use crate::lipsync::audio::{InputFormat, Resampler, SampleFormat};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("reenactcaptions", gst::DebugColorFlags::empty(), Some("Reenact captions"))
});

// Default values of properties
const DEFAULT_MODEL: &str = "whisper_tiny_en_q8_0";
/// Taken instead of [`DEFAULT_MODEL`] when `model` is not set and the language is not English
/// or `translate` is on: the English-only default cannot do those.
const DEFAULT_MULTILINGUAL_MODEL: &str = "whisper_base_q8_0";
const DEFAULT_VAD_MODEL: &str = "silero_vad_v5";
const DEFAULT_LANGUAGE: &str = "en";
const DEFAULT_TRANSLATE: bool = false;
const DEFAULT_PARTIAL_RESULTS: bool = false;
const DEFAULT_LATENCY_MS: u32 = 3000;
const MIN_LATENCY_MS: u32 = 200;
const MAX_LATENCY_MS: u32 = 60_000;
const DEFAULT_VAD_THRESHOLD: f64 = 0.5;
const DEFAULT_MIN_SILENCE_MS: u32 = 400;
const DEFAULT_MAX_SEGMENT_MS: u32 = 10_000;
const DEFAULT_THREADS: u32 = 0;

/// Audio kept before and after the speech of an utterance.
const PAD_MS: u64 = 200;
/// Speech an utterance needs to be transcribed.
const MIN_SPEECH_MS: u64 = 250;
/// Time between partial results of one utterance.
const PARTIAL_INTERVAL_MS: u64 = 1000;
/// Shortest display time of a text buffer.
const MIN_TEXT_NS: u64 = 300_000_000;
/// GAP events on `text_src` advance it by at least this much.
const GAP_STEP_NS: u64 = 100_000_000;
/// Timestamp differences up to this are jitter, not a gap or an overlap.
const JITTER_NS: u64 = 20_000_000;
/// A forward jump up to this is filled with silence; longer restarts the analysis.
const MAX_FILL_NS: u64 = 5_000_000_000;

const NS_PER_SAMPLE: u64 = 1_000_000_000 / worker::RATE as u64;

fn ms_to_samples(ms: u64) -> usize {
    (ms * u64::from(worker::RATE) / 1000) as usize
}

#[derive(Debug, Clone)]
struct Settings {
    model: String,
    /// Whether `model` was set: else it follows the language.
    model_set: bool,
    vad_model: String,
    model_dir: Option<String>,
    language: String,
    translate: bool,
    partial_results: bool,
    latency_ms: u32,
    vad_threshold: f64,
    min_silence_ms: u32,
    max_segment_ms: u32,
    threads: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: DEFAULT_MODEL.into(),
            model_set: false,
            vad_model: DEFAULT_VAD_MODEL.into(),
            model_dir: None,
            language: DEFAULT_LANGUAGE.into(),
            translate: DEFAULT_TRANSLATE,
            partial_results: DEFAULT_PARTIAL_RESULTS,
            latency_ms: DEFAULT_LATENCY_MS,
            vad_threshold: DEFAULT_VAD_THRESHOLD,
            min_silence_ms: DEFAULT_MIN_SILENCE_MS,
            max_segment_ms: DEFAULT_MAX_SEGMENT_MS,
            threads: DEFAULT_THREADS,
        }
    }
}

impl Settings {
    /// The whisper model to load: the one set, else the default that can do the language.
    fn whisper_model(&self) -> &str {
        if !self.model_set && (self.language != "en" || self.translate) {
            DEFAULT_MULTILINGUAL_MODEL
        } else {
            &self.model
        }
    }

    fn segmenter(&self) -> SegmenterConfig {
        SegmenterConfig {
            threshold: self.vad_threshold as f32,
            min_silence: ms_to_samples(u64::from(self.min_silence_ms)),
            min_speech: ms_to_samples(MIN_SPEECH_MS),
            max_segment: ms_to_samples(u64::from(self.max_segment_ms)).min(worker::MAX_SAMPLES),
            pad: ms_to_samples(PAD_MS),
        }
    }

    fn latency_ns(&self) -> u64 {
        u64::from(self.latency_ms) * 1_000_000
    }
}

/// Counters behind the `stats` property.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    utterances: u64,
    partials: u64,
    partials_skipped: u64,
    merged: u64,
    dropped: u64,
    late: u64,
    errors: u64,
    audio_ns: u64,
    inference_ns: u64,
    /// The language set, or under `language=auto` the one most of the speech was in.
    language: Option<&'static str>,
}

impl Stats {
    fn to_structure(self) -> gst::Structure {
        let audio_s = self.audio_ns as f64 / 1e9;
        let inference_s = self.inference_ns as f64 / 1e9;
        gst::Structure::builder("reenactcaptions-stats")
            .field("utterances", self.utterances)
            .field("partials", self.partials)
            .field("partials-skipped", self.partials_skipped)
            .field("merged", self.merged)
            .field("dropped", self.dropped)
            .field("late", self.late)
            .field("errors", self.errors)
            .field("audio-seconds", audio_s)
            .field("inference-seconds", inference_s)
            .field("realtime-factor", if audio_s > 0.0 { inference_s / audio_s } else { 0.0 })
            .field("language", self.language.unwrap_or(""))
            .build()
    }
}

/// Where `text_src` stands, in stream time (ns).
#[derive(Debug, Default)]
struct TextPosition {
    /// PTS of the last text buffer: the next one starts no earlier.
    last_start: u64,
    /// End of the last text buffer.
    last_end: u64,
    /// End of the last GAP event.
    gap_end: u64,
}

/// A text buffer to push, with its message.
#[derive(Debug)]
struct TextOut {
    pts: u64,
    duration: u64,
    text: String,
    is_final: bool,
    /// Stream time from the end of the words to the result.
    delay_ns: u64,
    inference_ms: u64,
    /// Where the words were spoken, before a late result is re-timestamped.
    spoken: (u64, u64),
    /// The language whisper heard (or was told).
    language: Option<&'static str>,
}

/// Text buffers to push and the GAP (start, duration in ns) that follows them.
type Output = (Vec<TextOut>, Option<(u64, u64)>);

/// Everything that exists between READY and PAUSED.
#[derive(Debug)]
struct State {
    /// Whisper on its thread.
    worker: Worker,
    /// Silero VAD session and recurrent state.
    vad: Vad,
    /// Utterance cutter over the 16 kHz mono copy.
    segmenter: Segmenter,
    /// Negotiated input and its converter to 16 kHz mono.
    input: Option<(InputFormat, Resampler)>,
    /// PTS (ns) of segmenter sample 0.
    origin_ns: Option<u64>,
    /// PTS (ns) where the next input is expected: the end of the audio seen so far.
    expected_ns: Option<u64>,
    /// Flush count: results of older jobs are dropped.
    generation: u64,
    /// Live only: a final utterance waiting for the worker, later ones merged into it.
    pending: Option<Job>,
    /// Segmenter sample where the last partial job ended.
    last_partial: u64,
    /// `(generation, start ns)` of jobs in flight, oldest first (the worker is FIFO).
    in_flight: VecDeque<(u64, u64)>,
    /// Position of `text_src`.
    text: TextPosition,
    /// Downmix and resampler output, reused.
    mono: Vec<f32>,
    resampled: Vec<f32>,
}

pub struct ReenactCaptions {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    textpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    stats: Mutex<Stats>,
    /// Whether upstream is live: 0 unknown, 1 no, 2 yes.
    live: AtomicU8,
    flow_combiner: Mutex<gst_base::UniqueFlowCombiner>,
}

impl std::fmt::Debug for ReenactCaptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReenactCaptions").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl ReenactCaptions {
    fn settings(&self) -> Settings {
        self.settings.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn state(&self) -> MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stats(&self) -> MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads the models and starts the worker (READY -> PAUSED).
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings();
        let dir = settings.model_dir.as_deref().map(Path::new);
        let catalog = reenact_models::Catalog::load_including(dir)
            .map_err(|err| gst::error_msg!(gst::LibraryError::Settings, ["model catalog: {err}"]))?;
        let path = catalog
            .get(settings.whisper_model())
            .map_err(|err| gst::error_msg!(gst::ResourceError::NotFound, ["model property: {err}"]))?;
        let threads = match settings.threads {
            0 => worker::default_threads(std::thread::available_parallelism().map_or(1, |n| n.get())),
            n => n as usize,
        };
        let config = TranscriberConfig { language: settings.language.clone(), translate: settings.translate, threads };
        let transcriber = Transcriber::open(&path, settings.whisper_model(), config)
            .map_err(|err| gst::error_msg!(gst::LibraryError::Settings, ["{err}"]))?;
        let vad = Vad::open(&catalog, &settings.vad_model)
            .map_err(|err| gst::error_msg!(gst::LibraryError::Init, ["vad-model property: {err}"]))?;
        let worker = Worker::spawn(transcriber).map_err(|err| gst::error_msg!(gst::LibraryError::Init, ["{err}"]))?;
        gst::info!(
            CAT,
            imp = self,
            "started: {} ({}) with {threads} threads, VAD {}",
            settings.whisper_model(),
            path.display(),
            vad.describe()
        );
        *self.state() = Some(State {
            worker,
            vad,
            segmenter: Segmenter::default(),
            input: None,
            origin_ns: None,
            expected_ns: None,
            generation: 0,
            pending: None,
            last_partial: 0,
            in_flight: VecDeque::new(),
            text: TextPosition::default(),
            mono: Vec::new(),
            resampled: Vec::new(),
        });
        *self.stats() = Stats::default();
        self.live.store(0, Ordering::Relaxed);
        Ok(())
    }

    fn stop(&self) {
        // Dropping the worker joins its thread after the job in hand.
        let state = self.state().take();
        drop(state);
        self.flow_combiner.lock().unwrap_or_else(PoisonError::into_inner).reset();
        gst::debug!(CAT, imp = self, "stopped");
    }

    /// Whether upstream is live, asked once per stream.
    fn upstream_live(&self) -> bool {
        match self.live.load(Ordering::Relaxed) {
            1 => false,
            2 => true,
            _ => {
                let mut query = gst::query::Latency::new();
                let live = self.sinkpad.peer_query(&mut query) && query.result().0;
                self.live.store(if live { 2 } else { 1 }, Ordering::Relaxed);
                gst::debug!(CAT, imp = self, "upstream is {}live", if live { "" } else { "not " });
                live
            }
        }
    }

    fn sink_chain(&self, _pad: &gst::Pad, buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings();
        let live = self.upstream_live();
        let (texts, gap) = {
            let mut guard = self.state();
            let Some(state) = guard.as_mut() else {
                gst::element_imp_error!(self, gst::CoreError::Negotiation, ["not started"]);
                return Err(gst::FlowError::NotNegotiated);
            };
            let Some((format, _)) = state.input.as_ref() else {
                gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no caps before the first buffer"]);
                return Err(gst::FlowError::NotNegotiated);
            };
            let format = *format;
            let map = buffer.map_readable().map_err(|_| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["cannot read the input buffer"]);
                gst::FlowError::Error
            })?;
            if map.len() % format.bytes_per_frame() != 0 {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    ["buffer of {} bytes is not whole frames", map.len()]
                );
                return Err(gst::FlowError::Error);
            }
            let mut mono = std::mem::take(&mut state.mono);
            mono.clear();
            format.downmix(&map, &mut mono);
            drop(map);
            let pts = buffer.pts().map(gst::ClockTime::nseconds);
            let result = self.analyse(state, &settings, live, pts, &mono, format.rate);
            state.mono = mono;
            result?
        };
        let audio = self.srcpad.push(buffer);
        let text = self.push_text(texts, gap);
        let mut combiner = self.flow_combiner.lock().unwrap_or_else(PoisonError::into_inner);
        // Only the combined result matters; the first update just records the audio flow.
        let _ = combiner.update_pad_flow(&self.srcpad, audio);
        combiner.update_pad_flow(&self.textpad, text)
    }

    /// Feeds `mono` (input rate) starting at `pts`, runs VAD, dispatches jobs, collects results.
    fn analyse(
        &self,
        state: &mut State,
        settings: &Settings,
        live: bool,
        pts: Option<u64>,
        mono: &[f32],
        rate: u32,
    ) -> Result<Output, gst::FlowError> {
        let config = settings.segmenter();
        let mut jobs = Vec::new();
        self.place(state, &config, pts, rate, &mut jobs);
        if let Some((_, resampler)) = state.input.as_mut() {
            state.resampled.clear();
            resampler.process(mono, &mut state.resampled);
            state.segmenter.push(&state.resampled);
        }
        let duration = mono.len() as u64 * 1_000_000_000 / u64::from(rate.max(1));
        state.expected_ns = state.expected_ns.or(pts).map(|t| t + duration);
        let State { segmenter, vad, .. } = state;
        let utterances = segmenter.advance(&config, |window| vad.probability(window)).map_err(|err| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ["voice activity detection failed: {err}"]);
            gst::FlowError::Error
        })?;
        let origin = state.origin_ns.unwrap_or(0);
        for u in utterances {
            jobs.push(Job {
                generation: state.generation,
                start_ns: origin + u.start * NS_PER_SAMPLE,
                samples: u.samples,
                is_final: true,
            });
        }
        for job in jobs {
            self.dispatch(state, job, live)?;
        }
        if live {
            self.retry_pending(state)?;
        }
        if settings.partial_results {
            self.maybe_partial(state);
        }
        let outcomes = state.worker.try_recv();
        let texts = self.collect(state, settings, live, outcomes);
        let gap = self.gap_to(state, settings, live);
        Ok((texts, gap))
    }

    /// Keeps the segmenter's sample clock on the buffer timestamps: a small forward jump is
    /// filled with silence, anything else closes the open utterance and restarts the analysis.
    fn place(&self, state: &mut State, config: &SegmenterConfig, pts: Option<u64>, rate: u32, jobs: &mut Vec<Job>) {
        let Some(pts) = pts else {
            if state.origin_ns.is_none() {
                self.restart(state, config, 0, jobs);
            }
            return;
        };
        match state.expected_ns {
            Some(expected) if pts > expected + JITTER_NS && pts - expected <= MAX_FILL_NS => {
                let frames = ((pts - expected) as u128 * u128::from(rate) / 1_000_000_000) as usize;
                gst::debug!(CAT, imp = self, "filling a {} ms hole with silence", (pts - expected) / 1_000_000);
                let silence = vec![0.0f32; frames];
                if let Some((_, resampler)) = state.input.as_mut() {
                    state.resampled.clear();
                    resampler.process(&silence, &mut state.resampled);
                    state.segmenter.push(&state.resampled);
                }
                state.expected_ns = Some(pts);
            }
            Some(expected) if pts + JITTER_NS < expected || pts > expected + JITTER_NS => {
                gst::debug!(CAT, imp = self, "discontinuity at {pts} ns (expected {expected} ns): restarting");
                self.restart(state, config, pts, jobs);
            }
            Some(_) => {}
            None => self.restart(state, config, pts, jobs),
        }
    }

    /// Closes the open utterance and starts the analysis over at `at_ns`.
    fn restart(&self, state: &mut State, config: &SegmenterConfig, at_ns: u64, jobs: &mut Vec<Job>) {
        if let Some(u) = state.segmenter.finish(config) {
            let origin = state.origin_ns.unwrap_or(0);
            jobs.push(Job {
                generation: state.generation,
                start_ns: origin + u.start * NS_PER_SAMPLE,
                samples: u.samples,
                is_final: true,
            });
        }
        state.segmenter.reset();
        state.vad.reset();
        if let Some((format, resampler)) = state.input.as_mut() {
            *resampler = Resampler::new(format.rate);
        }
        state.origin_ns = Some(at_ns);
        state.expected_ns = Some(at_ns);
        state.last_partial = 0;
    }

    /// Hands a final job to the worker: waiting for room when not live, else queued behind
    /// (merged with) the pending one.
    fn dispatch(&self, state: &mut State, job: Job, live: bool) -> Result<(), gst::FlowError> {
        self.stats().utterances += 1;
        if !live {
            let entry = (job.generation, job.start_ns);
            return match state.worker.send(job) {
                Ok(()) => {
                    state.in_flight.push_back(entry);
                    Ok(())
                }
                Err(err) => {
                    gst::element_imp_error!(self, gst::StreamError::Failed, ["{err}"]);
                    Err(gst::FlowError::Error)
                }
            };
        }
        let job = match state.pending.take() {
            Some(pending) => self.merge(pending, job),
            None => job,
        };
        state.pending = Some(job);
        self.retry_pending(state)
    }

    /// Sends the pending job if the worker has room.
    fn retry_pending(&self, state: &mut State) -> Result<(), gst::FlowError> {
        let Some(job) = state.pending.take() else { return Ok(()) };
        let entry = (job.generation, job.start_ns);
        match state.worker.try_send(job) {
            Ok(()) => {
                state.in_flight.push_back(entry);
                Ok(())
            }
            Err(Rejected::Busy(job)) => {
                state.pending = Some(job);
                Ok(())
            }
            Err(Rejected::Gone) => {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["the transcription thread stopped"]);
                Err(gst::FlowError::Error)
            }
        }
    }

    /// One job for two utterances: the silence between them is put back as zeros, so the
    /// timestamps whisper gives stay on the stream's clock. Past whisper's window the older
    /// one is dropped.
    fn merge(&self, mut first: Job, second: Job) -> Job {
        let first_end = first.start_ns + first.samples.len() as u64 * NS_PER_SAMPLE;
        let hole = (second.start_ns.saturating_sub(first_end) / NS_PER_SAMPLE) as usize;
        if first.samples.len() + hole + second.samples.len() > worker::MAX_SAMPLES {
            gst::debug!(CAT, imp = self, "whisper is behind: dropping the utterance at {} ns", first.start_ns);
            self.stats().dropped += 1;
            return second;
        }
        gst::debug!(
            CAT,
            imp = self,
            "whisper is busy: merging the utterances at {} and {} ns",
            first.start_ns,
            second.start_ns
        );
        self.stats().merged += 1;
        first.samples.resize(first.samples.len() + hole, 0.0);
        first.samples.extend_from_slice(&second.samples);
        first
    }

    /// Transcribes the open utterance if whisper is idle and a second has passed.
    fn maybe_partial(&self, state: &mut State) {
        let Some((start, end)) = state.segmenter.open_span() else { return };
        let since = start.max(state.last_partial);
        if end.saturating_sub(since) < ms_to_samples(PARTIAL_INTERVAL_MS) as u64 {
            return;
        }
        if state.worker.in_flight() > 0 || state.pending.is_some() {
            self.stats().partials_skipped += 1;
            state.last_partial = end;
            return;
        }
        let origin = state.origin_ns.unwrap_or(0);
        let job = Job {
            generation: state.generation,
            start_ns: origin + start * NS_PER_SAMPLE,
            samples: state.segmenter.samples(start, end),
            is_final: false,
        };
        let entry = (job.generation, job.start_ns);
        if state.worker.try_send(job).is_ok() {
            state.in_flight.push_back(entry);
            self.stats().partials += 1;
        }
        state.last_partial = end;
    }

    /// Turns worker answers into text buffers on `text_src`'s timeline.
    fn collect(&self, state: &mut State, settings: &Settings, live: bool, outcomes: Vec<Outcome>) -> Vec<TextOut> {
        let now = state.expected_ns.unwrap_or(0);
        let mut texts = Vec::new();
        for outcome in outcomes {
            state.in_flight.pop_front();
            if outcome.generation != state.generation {
                continue;
            }
            let took_ns = outcome.took.as_nanos() as u64;
            {
                let mut stats = self.stats();
                if outcome.is_final {
                    stats.audio_ns += outcome.len as u64 * NS_PER_SAMPLE;
                    stats.inference_ns += took_ns;
                }
            }
            if live && took_ns > settings.latency_ns() / 2 {
                gst::warning!(
                    CAT,
                    imp = self,
                    "whisper took {} ms, more than half the configured latency of {} ms: raise latency",
                    took_ns / 1_000_000,
                    settings.latency_ms
                );
            }
            let pieces = match outcome.pieces {
                Ok(pieces) => {
                    if outcome.is_final && outcome.heard.is_some() {
                        self.stats().language = outcome.heard;
                    }
                    pieces
                }
                Err(err) => {
                    self.stats().errors += 1;
                    gst::element_imp_warning!(self, gst::StreamError::Decode, ["utterance not transcribed: {err}"]);
                    continue;
                }
            };
            let pieces: Vec<(u64, u64, String)> = if outcome.is_final {
                pieces
                    .into_iter()
                    .map(|p| {
                        (outcome.start_ns + p.start * NS_PER_SAMPLE, outcome.start_ns + p.end * NS_PER_SAMPLE, p.text)
                    })
                    .collect()
            } else {
                let text = pieces.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join(" ");
                if text.is_empty() {
                    Vec::new()
                } else {
                    vec![(outcome.start_ns, outcome.start_ns + outcome.len as u64 * NS_PER_SAMPLE, text)]
                }
            };
            for (start, end, text) in pieces {
                let spoken = (start, end);
                let mut pts = start.max(state.text.last_start).max(state.text.gap_end);
                if live {
                    let floor = now.saturating_sub(settings.latency_ns() / 2);
                    if pts < floor {
                        pts = floor;
                        self.stats().late += 1;
                        gst::debug!(CAT, imp = self, "late result for {start} ns moved to {pts} ns");
                    }
                }
                let end = end.max(pts + MIN_TEXT_NS);
                state.text.last_start = pts;
                state.text.last_end = state.text.last_end.max(end);
                texts.push(TextOut {
                    pts,
                    duration: end - pts,
                    text,
                    is_final: outcome.is_final,
                    delay_ns: now.saturating_sub(spoken.1.min(now)),
                    inference_ms: took_ns / 1_000_000,
                    spoken,
                    language: outcome.language,
                });
            }
        }
        texts
    }

    /// The GAP to push on `text_src`, if it can move: up to where no text can come any more
    /// (not live: the earliest utterance not transcribed yet; live: half the latency behind).
    fn gap_to(&self, state: &mut State, settings: &Settings, live: bool) -> Option<(u64, u64)> {
        let now = state.expected_ns?;
        let target = if live {
            now.saturating_sub(settings.latency_ns() / 2)
        } else {
            let origin = state.origin_ns.unwrap_or(0);
            let mut target = now.min(origin + state.segmenter.earliest_pending(&settings.segmenter()) * NS_PER_SAMPLE);
            let generation = state.generation;
            if let Some((_, start)) = state.in_flight.iter().find(|(g, _)| *g == generation) {
                target = target.min(*start);
            }
            if let Some(job) = &state.pending {
                target = target.min(job.start_ns);
            }
            target
        };
        let from = state.text.gap_end.max(state.text.last_end);
        if target < from + GAP_STEP_NS {
            return None;
        }
        state.text.gap_end = target;
        Some((from, target - from))
    }

    /// Pushes text buffers and a GAP on `text_src`, posting one message per text.
    fn push_text(&self, texts: Vec<TextOut>, gap: Option<(u64, u64)>) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut result = Ok(gst::FlowSuccess::Ok);
        for text in texts {
            gst::debug!(
                CAT,
                imp = self,
                "{} text at {} ns for {} ms: {:?}",
                if text.is_final { "final" } else { "partial" },
                text.pts,
                text.duration / 1_000_000,
                text.text
            );
            let message = gst::Structure::builder("reenactcaptions")
                .field("text", text.text.as_str())
                .field("final", text.is_final)
                .field("start", gst::ClockTime::from_nseconds(text.pts))
                .field("end", gst::ClockTime::from_nseconds(text.pts + text.duration))
                .field("delay-ms", text.delay_ns / 1_000_000)
                .field("inference-ms", text.inference_ms)
                .field("spoken-start", gst::ClockTime::from_nseconds(text.spoken.0))
                .field("spoken-end", gst::ClockTime::from_nseconds(text.spoken.1))
                .field("language", text.language.unwrap_or(""))
                .build();
            let _ = self.obj().post_message(gst::message::Element::builder(message).src(&*self.obj()).build());
            let mut buffer = gst::Buffer::from_mut_slice(text.text.into_bytes());
            {
                let buffer = buffer.get_mut().expect("new buffer is writable");
                buffer.set_pts(gst::ClockTime::from_nseconds(text.pts));
                buffer.set_duration(gst::ClockTime::from_nseconds(text.duration));
                let (from, to) = text.spoken;
                gst::ReferenceTimestampMeta::add(
                    buffer,
                    &gst::Caps::new_empty_simple(super::SPOKEN_REFERENCE),
                    gst::ClockTime::from_nseconds(from),
                    Some(gst::ClockTime::from_nseconds(to.saturating_sub(from))),
                );
                if !text.is_final {
                    buffer.set_flags(gst::BufferFlags::DELTA_UNIT);
                }
            }
            result = self.textpad.push(buffer);
            if result.is_err() && result != Err(gst::FlowError::NotLinked) {
                return result;
            }
        }
        if let Some((start, duration)) = gap {
            let event = gst::event::Gap::builder(gst::ClockTime::from_nseconds(start))
                .duration(gst::ClockTime::from_nseconds(duration))
                .build();
            let _ = self.textpad.push_event(event);
        }
        result
    }

    /// Transcribes what is left and waits for it (EOS).
    fn drain(&self) -> Vec<TextOut> {
        let settings = self.settings();
        let config = settings.segmenter();
        let mut guard = self.state();
        let Some(state) = guard.as_mut() else { return Vec::new() };
        let mut jobs: Vec<Job> = state.pending.take().into_iter().collect();
        if let Some(u) = state.segmenter.finish(&config) {
            let origin = state.origin_ns.unwrap_or(0);
            self.stats().utterances += 1;
            jobs.push(Job {
                generation: state.generation,
                start_ns: origin + u.start * NS_PER_SAMPLE,
                samples: u.samples,
                is_final: true,
            });
        }
        for job in jobs {
            let entry = (job.generation, job.start_ns);
            match state.worker.send(job) {
                Ok(()) => state.in_flight.push_back(entry),
                Err(err) => gst::warning!(CAT, imp = self, "cannot transcribe the last utterance: {err}"),
            }
        }
        let outcomes = state.worker.wait_all();
        // At EOS nothing is late: keep the spoken timestamps.
        self.collect(state, &settings, false, outcomes)
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        gst::log!(CAT, obj = pad, "event {event:?}");
        match event.view() {
            gst::EventView::StreamStart(_) => {
                self.live.store(0, Ordering::Relaxed);
                let stream_id = self.textpad.create_stream_id(&*self.obj(), Some("text"));
                let text_start = gst::event::StreamStart::builder(&stream_id).build();
                let caps = gst::event::Caps::new(&text_caps());
                let _ = self.textpad.push_event(text_start);
                let _ = self.textpad.push_event(caps);
                self.srcpad.push_event(event)
            }
            gst::EventView::Caps(c) => {
                let format = match input_format(c.caps()) {
                    Ok(format) => format,
                    Err(err) => {
                        gst::error!(CAT, imp = self, "{err}");
                        return false;
                    }
                };
                if let Some(state) = self.state().as_mut() {
                    let settings = self.settings();
                    let same = state.input.as_ref().is_some_and(|(f, _)| *f == format);
                    if !same {
                        let mut jobs = Vec::new();
                        if state.input.is_some() {
                            // New rate or layout: the sample clock starts over where the audio is.
                            let at = state.expected_ns.unwrap_or(0);
                            self.restart(state, &settings.segmenter(), at, &mut jobs);
                        }
                        state.input = Some((format, Resampler::new(format.rate)));
                        for job in jobs {
                            if self.dispatch(state, job, false).is_err() {
                                return false;
                            }
                        }
                    }
                    gst::debug!(CAT, imp = self, "input {format:?}");
                }
                self.srcpad.push_event(event)
            }
            gst::EventView::Segment(s) => {
                if s.segment().format() != gst::Format::Time {
                    gst::element_imp_error!(self, gst::StreamError::Format, ["only TIME segments are supported"]);
                    return false;
                }
                let start = s.segment().downcast_ref::<gst::ClockTime>().and_then(|s| s.start()).unwrap_or_default();
                let _ = self.textpad.push_event(event.clone());
                // Text sinks preroll on this, before there is any text: without it a full audio
                // queue downstream would wait for them while they wait for speech to end.
                let _ = self.textpad.push_event(gst::event::Gap::builder(start).duration(gst::ClockTime::ZERO).build());
                self.srcpad.push_event(event)
            }
            gst::EventView::Gap(g) => {
                let (start, duration) = g.get();
                if let Some(duration) = duration {
                    self.analyse_gap(start.nseconds(), duration.nseconds());
                }
                self.srcpad.push_event(event)
            }
            gst::EventView::FlushStart(_) => {
                let _ = self.textpad.push_event(event.clone());
                self.srcpad.push_event(event)
            }
            gst::EventView::FlushStop(_) => {
                if let Some(state) = self.state().as_mut() {
                    state.generation += 1;
                    state.segmenter.reset();
                    state.vad.reset();
                    if let Some((format, resampler)) = state.input.as_mut() {
                        *resampler = Resampler::new(format.rate);
                    }
                    state.origin_ns = None;
                    state.expected_ns = None;
                    state.pending = None;
                    state.last_partial = 0;
                    state.text = TextPosition::default();
                }
                self.flow_combiner.lock().unwrap_or_else(PoisonError::into_inner).reset();
                let _ = self.textpad.push_event(event.clone());
                self.srcpad.push_event(event)
            }
            gst::EventView::Eos(_) => {
                let texts = self.drain();
                let _ = self.push_text(texts, None);
                let _ = self.textpad.push_event(event.clone());
                self.srcpad.push_event(event)
            }
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

    /// A GAP on the input is silence for the analysis.
    fn analyse_gap(&self, start: u64, duration: u64) {
        let settings = self.settings();
        let live = self.upstream_live();
        let result = {
            let mut guard = self.state();
            let Some(state) = guard.as_mut() else { return };
            let Some((format, _)) = state.input.as_ref() else { return };
            let rate = format.rate;
            if duration > MAX_FILL_NS {
                let mut jobs = Vec::new();
                self.restart(state, &settings.segmenter(), start + duration, &mut jobs);
                for job in jobs {
                    if self.dispatch(state, job, live).is_err() {
                        return;
                    }
                }
                return;
            }
            let frames = (u128::from(duration) * u128::from(rate) / 1_000_000_000) as usize;
            let silence = vec![0.0f32; frames];
            self.analyse(state, &settings, live, Some(start), &silence, rate)
        };
        if let Ok((texts, gap)) = result {
            let _ = self.push_text(texts, gap);
        }
    }

    fn src_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        if pad == &self.textpad {
            // The audio branch carries seeks and QoS upstream; twice would flush twice.
            return match event.type_() {
                gst::EventType::Seek | gst::EventType::Qos => true,
                _ => self.sinkpad.push_event(event),
            };
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    fn src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Latency(q) => {
                let mut upstream = gst::query::Latency::new();
                if !self.sinkpad.peer_query(&mut upstream) {
                    return false;
                }
                let (live, min, max) = upstream.result();
                let ours = gst::ClockTime::from_nseconds(self.settings().latency_ns());
                self.live.store(if live { 2 } else { 1 }, Ordering::Relaxed);
                gst::debug!(
                    CAT,
                    obj = pad,
                    "latency: ours {ours}, upstream live {live}, min {min}, max {}",
                    max.display()
                );
                q.set(live, min + ours, max.opt_add(ours));
                true
            }
            gst::QueryViewMut::Position(_) | gst::QueryViewMut::Duration(_) | gst::QueryViewMut::Seeking(_)
                if pad == &self.textpad =>
            {
                self.sinkpad.peer_query(query)
            }
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    fn internal_links(&self, pad: &gst::Pad) -> gst::Iterator<gst::Pad> {
        let other = if pad == &self.sinkpad {
            Some(self.srcpad.clone())
        } else if pad == &self.srcpad {
            Some(self.sinkpad.clone())
        } else {
            None
        };
        gst::Iterator::from_vec(other.into_iter().collect())
    }
}

fn text_caps() -> gst::Caps {
    gst::Caps::builder("text/x-raw").field("format", "utf8").build()
}

fn input_format(caps: &gst::CapsRef) -> Result<InputFormat, String> {
    let info = gst_audio::AudioInfo::from_caps(caps).map_err(|_| format!("unusable audio caps {caps}"))?;
    let format = match info.format() {
        gst_audio::AudioFormat::S16le => SampleFormat::S16,
        gst_audio::AudioFormat::F32le => SampleFormat::F32,
        other => return Err(format!("sample format {other:?} is not S16LE or F32LE")),
    };
    if info.layout() != gst_audio::AudioLayout::Interleaved || info.rate() == 0 || info.channels() == 0 {
        return Err(format!("unusable audio caps {caps}"));
    }
    Ok(InputFormat { format, rate: info.rate(), channels: info.channels() as usize })
}

#[glib::object_subclass]
impl ObjectSubclass for ReenactCaptions {
    const NAME: &'static str = "GstReenactCaptions";
    type Type = super::ReenactCaptions;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").expect("sink template");
        let sinkpad = gst::Pad::builder_from_template(&templ)
            .chain_function(|pad, parent, buffer| {
                ReenactCaptions::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |this| this.sink_chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                ReenactCaptions::catch_panic_pad_function(parent, || false, |this| this.sink_event(pad, event))
            })
            .iterate_internal_links_function(|pad, parent| {
                ReenactCaptions::catch_panic_pad_function(
                    parent,
                    || gst::Iterator::from_vec(Vec::new()),
                    |this| this.internal_links(pad),
                )
            })
            .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
            .build();
        let templ = klass.pad_template("src").expect("src template");
        let srcpad = gst::Pad::builder_from_template(&templ)
            .event_function(|pad, parent, event| {
                ReenactCaptions::catch_panic_pad_function(parent, || false, |this| this.src_event(pad, event))
            })
            .query_function(|pad, parent, query| {
                ReenactCaptions::catch_panic_pad_function(parent, || false, |this| this.src_query(pad, query))
            })
            .iterate_internal_links_function(|pad, parent| {
                ReenactCaptions::catch_panic_pad_function(
                    parent,
                    || gst::Iterator::from_vec(Vec::new()),
                    |this| this.internal_links(pad),
                )
            })
            .flags(gst::PadFlags::PROXY_CAPS)
            .build();
        let templ = klass.pad_template("text_src").expect("text_src template");
        let textpad = gst::Pad::builder_from_template(&templ)
            .event_function(|pad, parent, event| {
                ReenactCaptions::catch_panic_pad_function(parent, || false, |this| this.src_event(pad, event))
            })
            .query_function(|pad, parent, query| {
                ReenactCaptions::catch_panic_pad_function(parent, || false, |this| this.src_query(pad, query))
            })
            .iterate_internal_links_function(|pad, parent| {
                ReenactCaptions::catch_panic_pad_function(
                    parent,
                    || gst::Iterator::from_vec(Vec::new()),
                    |this| this.internal_links(pad),
                )
            })
            .build();
        let mut combiner = gst_base::UniqueFlowCombiner::new();
        combiner.add_pad(&srcpad);
        combiner.add_pad(&textpad);
        Self {
            sinkpad,
            srcpad,
            textpad,
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(None),
            stats: Mutex::new(Stats::default()),
            live: AtomicU8::new(0),
            flow_combiner: Mutex::new(combiner),
        }
    }
}

impl ObjectImpl for ReenactCaptions {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb("Catalog name of the whisper.cpp (ggml) model; unset, tiny.en for English and the multilingual base otherwise (can't be changed in PLAYING or PAUSED state)")
                    .default_value(Some(DEFAULT_MODEL))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("vad-model")
                    .nick("VAD model")
                    .blurb("Catalog name of the Silero VAD (ONNX) model (can't be changed in PLAYING or PAUSED state)")
                    .default_value(Some(DEFAULT_VAD_MODEL))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("model-dir")
                    .nick("Model directory")
                    .blurb("Directory searched first for model manifests (can't be changed in PLAYING or PAUSED state)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("language")
                    .nick("Language")
                    .blurb("Spoken language as a whisper code (en, de, ...) or auto; English-only models take en only (can't be changed in PLAYING or PAUSED state)")
                    .default_value(Some(DEFAULT_LANGUAGE))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("translate")
                    .nick("Translate")
                    .blurb("Translate the speech into English (multilingual models only) (can't be changed in PLAYING or PAUSED state)")
                    .default_value(DEFAULT_TRANSLATE)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("partial-results")
                    .nick("Partial results")
                    .blurb("Also transcribe the utterance in progress about once a second while whisper is idle; those text buffers carry the DELTA_UNIT flag")
                    .default_value(DEFAULT_PARTIAL_RESULTS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("latency")
                    .nick("Latency")
                    .blurb("Time text may trail the audio, in milliseconds, 200..60000, added to the LATENCY answer (can't be changed in PLAYING or PAUSED state)")
                    .minimum(MIN_LATENCY_MS)
                    .maximum(MAX_LATENCY_MS)
                    .default_value(DEFAULT_LATENCY_MS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("vad-threshold")
                    .nick("VAD threshold")
                    .blurb("Speech probability, 0.05..0.95, at which an utterance starts; it ends below this minus 0.15")
                    .minimum(0.05)
                    .maximum(0.95)
                    .default_value(DEFAULT_VAD_THRESHOLD)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("min-silence")
                    .nick("Minimum silence")
                    .blurb("Pause that ends an utterance, in milliseconds, 64..5000")
                    .minimum(64)
                    .maximum(5000)
                    .default_value(DEFAULT_MIN_SILENCE_MS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("max-segment")
                    .nick("Maximum segment")
                    .blurb("Longest utterance before it is cut at its weakest point, in milliseconds, 2000..28000")
                    .minimum(2000)
                    .maximum(28_000)
                    .default_value(DEFAULT_MAX_SEGMENT_MS)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb("Threads whisper uses, 0..64; 0 = half the CPUs, at most 4 (can't be changed in PLAYING or PAUSED state)")
                    .minimum(0)
                    .maximum(64)
                    .default_value(DEFAULT_THREADS)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
                    .nick("Statistics")
                    .blurb("utterances, partials, partials-skipped, merged, dropped, late, errors, audio-seconds, inference-seconds, realtime-factor")
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        let text = |value: &glib::Value, default: &str| -> String {
            let new: Option<String> = value.get().expect("type checked upstream");
            new.filter(|s| !s.is_empty()).unwrap_or_else(|| default.to_owned())
        };
        match pspec.name() {
            "model" => {
                let new = text(value, DEFAULT_MODEL);
                gst::info!(CAT, imp = self, "model: {} -> {new}", settings.model);
                settings.model = new;
                settings.model_set = true;
            }
            "vad-model" => {
                let new = text(value, DEFAULT_VAD_MODEL);
                gst::info!(CAT, imp = self, "vad-model: {} -> {new}", settings.vad_model);
                settings.vad_model = new;
            }
            "model-dir" => {
                let new: Option<String> = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "model-dir: {:?} -> {new:?}", settings.model_dir);
                settings.model_dir = new.filter(|dir| !dir.is_empty());
            }
            "language" => {
                let new = text(value, DEFAULT_LANGUAGE);
                gst::info!(CAT, imp = self, "language: {} -> {new}", settings.language);
                settings.language = new;
            }
            "translate" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "translate: {} -> {new}", settings.translate);
                settings.translate = new;
            }
            "partial-results" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "partial-results: {} -> {new}", settings.partial_results);
                settings.partial_results = new;
            }
            "latency" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "latency: {} -> {new}", settings.latency_ms);
                let changed = settings.latency_ms != new;
                settings.latency_ms = new;
                drop(settings);
                if changed {
                    let _ = self.obj().post_message(gst::message::Latency::builder().src(&*self.obj()).build());
                }
            }
            "vad-threshold" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "vad-threshold: {} -> {new}", settings.vad_threshold);
                settings.vad_threshold = new;
            }
            "min-silence" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "min-silence: {} -> {new}", settings.min_silence_ms);
                settings.min_silence_ms = new;
            }
            "max-segment" => {
                let new = value.get().expect("type checked upstream");
                gst::info!(CAT, imp = self, "max-segment: {} -> {new}", settings.max_segment_ms);
                settings.max_segment_ms = new;
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
        if pspec.name() == "stats" {
            return self.stats().to_structure().to_value();
        }
        let settings = self.settings();
        match pspec.name() {
            "model" => settings.whisper_model().to_value(),
            "vad-model" => settings.vad_model.to_value(),
            "model-dir" => settings.model_dir.to_value(),
            "language" => settings.language.to_value(),
            "translate" => settings.translate.to_value(),
            "partial-results" => settings.partial_results.to_value(),
            "latency" => settings.latency_ms.to_value(),
            "vad-threshold" => settings.vad_threshold.to_value(),
            "min-silence" => settings.min_silence_ms.to_value(),
            "max-segment" => settings.max_segment_ms.to_value(),
            "threads" => settings.threads.to_value(),
            _ => unimplemented!(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).expect("add sink pad");
        obj.add_pad(&self.srcpad).expect("add src pad");
        obj.add_pad(&self.textpad).expect("add text_src pad");
    }
}

impl GstObjectImpl for ReenactCaptions {}

impl ElementImpl for ReenactCaptions {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static ELEMENT_METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Reenact captions",
                "Audio/Text/Filter",
                "Transcribes speech (Silero VAD + whisper) into timestamped text, passing the audio through",
                "Reenact Studio developers",
            )
        });
        Some(&*ELEMENT_METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let audio = gst_audio::AudioCapsBuilder::new_interleaved()
                .format_list([gst_audio::AudioFormat::S16le, gst_audio::AudioFormat::F32le])
                .channels_range(1..=8)
                .build();
            vec![
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &audio)
                    .expect("sink template"),
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &audio)
                    .expect("src template"),
                gst::PadTemplate::new("text_src", gst::PadDirection::Src, gst::PadPresence::Always, &text_caps())
                    .expect("text_src template"),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }

    fn change_state(&self, transition: gst::StateChange) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::ReadyToPaused {
            self.start().map_err(|err| {
                self.post_error_message(err);
                gst::StateChangeError
            })?;
        }
        let success = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            self.stop();
        }
        Ok(success)
    }
}
