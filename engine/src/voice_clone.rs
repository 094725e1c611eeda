// SPDX-License-Identifier: MPL-2.0
//! Offline voice cloning: a script spoken by the Piper voice of the model catalog, then
//! converted towards a character's voice by the same `reenactvoice` element the live and
//! offline graphs use, written as a WAV file.
//!
//! Graph: `appsrc` (Piper's F32LE mono at its own rate) `! audioresample ! capsfilter` (the
//! output rate) `! reenactvoice ! audioconvert ! capsfilter (S16LE) ! wavenc ! filesink`
//! (`OUT.part`, renamed to `OUT` when complete). `reenactvoice` delays its content by its
//! fixed latency and pushes the tail at EOS; a probe on its source pad cuts that latency from
//! the start, so the file is exactly as long as the speech and not delayed.
//!
//! The shift is measured, not tracked: the whole Piper output is known before conversion, so
//! its median F0 and formants (16 kHz, the same analysis as the character's profile) give the
//! shift towards the profile at once, with the request's pitch and formant trims on top, and
//! `reenactvoice` runs with `auto=false`. (Live, the element tracks the performer as it goes.)
//! When the speech has too little voiced sound to measure, the element's own tracking is used.
//!
//! When the speaker-embedding model is installed and the character has an embedding, the
//! report gives the cosine similarity of the result to the character, and of the raw Piper
//! speech, so the caller sees whether conversion moved it closer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstreenact::analysis::pitch::{f0_track, PitchParams};
use gstreenact::analysis::{lpc, speaker};
use gstreenact::character::{decode_audio_mono, Character, VoiceProfile};
use gstreenact::tts::{self, PiperVoice, TtsError};
use reenact_models::{Catalog, ModelUse, OnnxError};
use serde::Serialize;

use crate::blocks::part_path;
use crate::error::{EngineError, Result};
use crate::factories::{self as f, make};
use crate::media;
use crate::metadata::DISCLOSURE;
use crate::render::run::{play, Position, Watch};
use crate::render::{CancelToken, Progress};

/// Output rates `reenactvoice` accepts, Hz.
pub const RATES: (u32, u32) = (16_000, 48_000);

/// Gain applied to Piper's peak-normalised speech before conversion, so the converter's
/// output cannot reach 16-bit full scale (measured: the conversion leaves the peak at 0.55 to
/// 0.85 of its input's).
const HEADROOM: f32 = 0.9;

/// Samples per `appsrc` buffer.
const CHUNK: usize = 4096;

/// Voiced 10 ms frames needed to measure a voice (as `reenactvoice` needs before it trusts
/// its tracking); short lines have less than the half second a character profile needs.
const MIN_VOICED_FRAMES: usize = 10;

/// What to say, as whom, and where to write it.
#[derive(Debug, Clone)]
pub struct VoiceCloneRequest {
    /// The script. Sentences end at `.` `!` `?` or a blank line.
    pub text: String,
    /// The character file whose voice profile is the target.
    pub character_file: PathBuf,
    /// The WAV file to write (its folder is created).
    pub out: PathBuf,
    /// Semitones added to the shift towards the character (0: the character's pitch).
    pub pitch_semitones: f64,
    /// Ratio multiplied with the formant shift towards the character (1: the character's).
    pub formant_shift: f64,
    /// Sample rate of the WAV file, within [`RATES`].
    pub sample_rate: u32,
    /// Conversion with no progress for this long fails instead of hanging.
    pub stall_timeout: Duration,
}

impl VoiceCloneRequest {
    /// A request with no trims, at Piper's own rate (22,050 Hz).
    pub fn new(text: impl Into<String>, character_file: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        Self {
            text: text.into(),
            character_file: character_file.into(),
            out: out.into(),
            pitch_semitones: 0.0,
            formant_shift: 1.0,
            sample_rate: 22_050,
            stall_timeout: Duration::from_secs(60),
        }
    }
}

/// The step a voice clone is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VoiceCloneStage {
    /// Piper speaks the sentences.
    Synthesising,
    /// The GStreamer graph converts and writes.
    Converting,
    /// The result is measured against the character.
    Measuring,
}

impl VoiceCloneStage {
    /// Lowercase name, for progress lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Synthesising => "synthesising",
            Self::Converting => "converting",
            Self::Measuring => "measuring",
        }
    }
}

/// Where a voice clone stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoiceCloneProgress {
    /// The current step.
    pub stage: VoiceCloneStage,
    /// 0.0 .. 1.0 of the whole job.
    pub fraction: f64,
}

/// Median F0 of the speech before and after conversion, and the character's, Hz.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PitchReport {
    /// Piper's speech; `None` when too little of it is voiced to measure.
    pub raw_hz: Option<f32>,
    /// The written file.
    pub converted_hz: Option<f32>,
    /// The character's voice profile.
    pub character_hz: f32,
}

/// What a voice clone made.
#[derive(Debug, Clone, Serialize)]
pub struct VoiceCloneReport {
    /// The WAV file.
    pub file: PathBuf,
    /// The character's display name.
    pub character: String,
    /// Seconds of audio written.
    pub duration_s: f64,
    /// Sample rate of the file, Hz.
    pub sample_rate: u32,
    /// Sentences spoken.
    pub sentences: usize,
    /// Seconds the whole job took.
    pub wall_s: f64,
    /// Seconds Piper took (phonemizing and inference).
    pub synthesis_s: f64,
    /// `synthesis_s` per second of speech.
    pub synthesis_rtf: f64,
    /// How the audio was made: `piper:<voice>@<version> + <conversion algorithm>`.
    pub algorithm: String,
    /// The pitch shift applied, semitones (measured shift plus the trim).
    pub pitch_semitones: f64,
    /// The formant ratio applied.
    pub formant_shift: f64,
    /// Median F0 before and after, and the target.
    pub f0: PitchReport,
    /// Cosine similarity of the result's speaker embedding to the character's; `None` without
    /// the embedding model or a character embedding made by it.
    pub similarity: Option<f32>,
    /// The same for Piper's speech before conversion.
    pub similarity_raw: Option<f32>,
    /// Models that made the file.
    pub models: Vec<ModelUse>,
    /// The synthetic-media statement, also written in the file's comment tag.
    pub disclosure: String,
}

/// Speaks `request.text` with the Piper voice, converts it towards the character and writes the
/// WAV; fails with [`EngineError::Cancelled`] when `cancel` is set. Nothing is left at
/// `request.out` unless it is complete.
pub fn voice_clone(
    request: &VoiceCloneRequest,
    cancel: &CancelToken,
    on_progress: &mut dyn FnMut(VoiceCloneProgress),
) -> Result<VoiceCloneReport> {
    let started = Instant::now();
    // Cheap checks first: the text, the character, the request, the graph's elements.
    let sentences = tts::sentences(&request.text);
    if sentences.is_empty() {
        return Err(TtsError::EmptyText.into());
    }
    let character = Character::load(&request.character_file)?;
    let profile = character.voice.clone().ok_or_else(|| {
        EngineError::invalid(
            &request.character_file,
            "voice",
            "the character has no voice profile: create it with a voice sample (--voice-sample)",
        )
    })?;
    let (lo, hi) = RATES;
    if !(lo..=hi).contains(&request.sample_rate) {
        return Err(EngineError::Request(format!(
            "sample rate {} Hz: the voice conversion runs at {lo}..{hi} Hz",
            request.sample_rate
        )));
    }
    if !(request.pitch_semitones.is_finite() && request.formant_shift.is_finite() && request.formant_shift > 0.0) {
        return Err(EngineError::Request("pitch and formant trims must be finite, the formant ratio positive".into()));
    }
    media::init()?;
    f::require(&[
        f::APPSRC,
        f::AUDIORESAMPLE,
        f::CAPSFILTER,
        f::REENACTVOICE,
        f::AUDIOCONVERT,
        f::WAVENC,
        f::FILESINK,
        f::APPSINK,
    ])?;
    let catalog = Catalog::load().map_err(|e| TtsError::from(OnnxError::from(e)))?;

    // Piper, sentence by sentence.
    let mut voice = PiperVoice::open(&catalog)?;
    let rate = voice.sample_rate();
    let synth_started = Instant::now();
    let mut chunks = Vec::with_capacity(sentences.len());
    for (i, sentence) in sentences.iter().enumerate() {
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        chunks.extend(voice.speak(sentence)?);
        on_progress(VoiceCloneProgress {
            stage: VoiceCloneStage::Synthesising,
            fraction: 0.5 * (i + 1) as f64 / sentences.len() as f64,
        });
    }
    if chunks.is_empty() {
        return Err(voice.unphonemizable(&request.text).into());
    }
    let mut raw = tts::join(&chunks, rate);
    let synthesis_s = synth_started.elapsed().as_secs_f64();
    let speech_s = raw.len() as f64 / f64::from(rate);
    let (name, version) = voice.model();
    let tts_algorithm = format!("piper:{name}@{version}");
    let mut models = vec![ModelUse { name: name.to_owned(), version: version.to_owned(), element: "tts".into() }];
    drop(voice);
    for v in &mut raw {
        *v *= HEADROOM;
    }

    // The shift towards the character, measured on the whole speech.
    let raw16 = resample_mono(&raw, rate, speaker::RATE)?;
    let raw_voice = measure_voice(&raw16, speaker::RATE);
    let shift = Shift::towards(&profile, raw_voice.as_ref(), request);
    tracing::info!(
        raw_f0 = raw_voice.as_ref().map(|v| v.median_f0_hz),
        target_f0 = profile.median_f0_hz,
        semitones = shift.semitones,
        formant = shift.formant,
        measured = !shift.auto,
        "voice clone shift"
    );

    // Conversion to the file.
    let part = part_path(&request.out);
    if let Some(dir) = request.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    }
    let raw = Arc::new(raw);
    let converted = convert(&raw, rate, request, &shift, &part, cancel, on_progress);
    let algorithm = match converted {
        Ok(algorithm) => algorithm,
        Err(err) => {
            let _ = std::fs::remove_file(&part);
            return Err(err);
        }
    };

    // Measurements of the written file.
    on_progress(VoiceCloneProgress { stage: VoiceCloneStage::Measuring, fraction: 0.9 });
    let measured = measure(&part, &raw16, &profile, &catalog);
    let measured = match measured {
        Ok(m) => m,
        Err(err) => {
            let _ = std::fs::remove_file(&part);
            return Err(err);
        }
    };
    std::fs::rename(&part, &request.out).map_err(|e| {
        let _ = std::fs::remove_file(&part);
        EngineError::io(&request.out, e)
    })?;
    models.extend(measured.embedding_model);
    on_progress(VoiceCloneProgress { stage: VoiceCloneStage::Measuring, fraction: 1.0 });
    Ok(VoiceCloneReport {
        file: request.out.clone(),
        character: character.name,
        duration_s: measured.duration_s,
        sample_rate: request.sample_rate,
        sentences: sentences.len(),
        wall_s: started.elapsed().as_secs_f64(),
        synthesis_s,
        synthesis_rtf: if speech_s > 0.0 { synthesis_s / speech_s } else { 0.0 },
        algorithm: format!("{tts_algorithm} + {algorithm}"),
        pitch_semitones: shift.semitones,
        formant_shift: shift.formant,
        f0: PitchReport {
            raw_hz: raw_voice.map(|v| v.median_f0_hz),
            converted_hz: measured.converted_f0,
            character_hz: profile.median_f0_hz,
        },
        similarity: measured.similarity,
        similarity_raw: measured.similarity_raw,
        models,
        disclosure: DISCLOSURE.into(),
    })
}

/// `reenactvoice` settings for one clone.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shift {
    /// Let the element track the input (only when the speech could not be measured).
    auto: bool,
    semitones: f64,
    formant: f64,
}

impl Shift {
    /// The shift from `raw` (Piper's measured voice) to `target`, with the request's trims;
    /// the trims alone, with the element tracking, when `raw` could not be measured.
    fn towards(target: &VoiceProfile, raw: Option<&Voice>, request: &VoiceCloneRequest) -> Self {
        let Some(raw) = raw else {
            return Self { auto: true, semitones: request.pitch_semitones, formant: request.formant_shift };
        };
        let semitones = f64::from(target.semitones_from(raw.median_f0_hz)) + request.pitch_semitones;
        let log_ratio = target
            .formants_hz
            .iter()
            .zip(&raw.formants_hz)
            .map(|(t, r)| (f64::from(*t) / f64::from(*r)).ln())
            .sum::<f64>()
            / 3.0;
        Self {
            auto: false,
            semitones: semitones.clamp(-24.0, 24.0),
            formant: (log_ratio.exp() * request.formant_shift).clamp(0.5, 2.0),
        }
    }
}

/// Median F0 and formants of some speech.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Voice {
    median_f0_hz: f32,
    formants_hz: [f32; 3],
}

/// The voice of `samples` measured as a character's profile is (YIN, LPC formants of the voiced
/// frames), from [`MIN_VOICED_FRAMES`] voiced frames on; `None` below that.
fn measure_voice(samples: &[f32], rate: u32) -> Option<Voice> {
    let track = f0_track(samples, rate, &PitchParams::default());
    if track.frames.iter().flatten().count() < MIN_VOICED_FRAMES {
        return None;
    }
    Some(Voice { median_f0_hz: track.median()?, formants_hz: lpc::median_formants(samples, rate, &track) })
}

fn graph_err(what: &str) -> EngineError {
    EngineError::Request(format!("cannot build the voice clone graph: {what}"))
}

/// An `appsrc` that plays `samples` (mono F32LE at `rate`) and ends.
fn audio_source(samples: &Arc<Vec<f32>>, rate: u32) -> Result<gst_app::AppSrc> {
    let src = make(f::APPSRC)?.downcast::<gst_app::AppSrc>().map_err(|_| graph_err("appsrc"))?;
    let caps = gst::Caps::builder("audio/x-raw")
        .field("format", "F32LE")
        .field("layout", "interleaved")
        .field("rate", rate as i32)
        .field("channels", 1i32)
        .build();
    src.set_caps(Some(&caps));
    src.set_format(gst::Format::Time);
    src.set_is_live(false);
    let samples = samples.clone();
    let mut offset = 0usize;
    src.set_callbacks(
        gst_app::AppSrcCallbacks::builder()
            .need_data(move |src, _| {
                if offset >= samples.len() {
                    let _ = src.end_of_stream();
                    return;
                }
                let end = (offset + CHUNK).min(samples.len());
                let bytes: Vec<u8> = samples[offset..end].iter().flat_map(|v| v.to_le_bytes()).collect();
                let mut buffer = gst::Buffer::from_mut_slice(bytes);
                {
                    let buffer = buffer.get_mut().expect("new buffer is writable");
                    let at = |n: usize| gst::ClockTime::SECOND.mul_div_floor(n as u64, u64::from(rate));
                    let (pts, end_time) = (at(offset), at(end));
                    buffer.set_pts(pts);
                    buffer.set_duration(end_time.zip(pts).map(|(e, p)| e.saturating_sub(p)));
                    buffer.set_offset(offset as u64);
                }
                offset = end;
                let _ = src.push_buffer(buffer);
            })
            .build(),
    );
    Ok(src)
}

/// Resamples mono `samples` from `from` to `to` Hz with `audioresample`.
pub(crate) fn resample_mono(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    let pipeline = gst::Pipeline::with_name("reenact-voice-resample");
    let src = audio_source(&Arc::new(samples.to_vec()), from)?;
    let resample = make(f::AUDIORESAMPLE)?;
    let caps = make(f::CAPSFILTER)?;
    caps.set_property("caps", gst::Caps::builder("audio/x-raw").field("rate", to as i32).build());
    let sink = make(f::APPSINK)?.downcast::<gst_app::AppSink>().map_err(|_| graph_err("appsink"))?;
    sink.set_sync(false);
    pipeline.add_many([src.upcast_ref(), &resample, &caps, sink.upcast_ref()]).map_err(|_| graph_err("resampler"))?;
    gst::Element::link_many([src.upcast_ref(), &resample, &caps, sink.upcast_ref()])
        .map_err(|_| graph_err("resampler links"))?;
    let result = (|| {
        pipeline.set_state(gst::State::Playing).map_err(|_| graph_err("the resampler does not start"))?;
        let mut out = Vec::with_capacity(samples.len() * to as usize / from.max(1) as usize + 1);
        // A timeout, not a blocking pull: a graph that failed never reaches EOS.
        while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(30)) {
            let Some(buffer) = sample.buffer() else { continue };
            let map = buffer.map_readable().map_err(|_| graph_err("resampled audio is not readable"))?;
            out.extend(map.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        }
        if !sink.is_eos() {
            return Err(pipeline_error(&pipeline).unwrap_or_else(|| graph_err("the resampler stopped early")));
        }
        Ok(out)
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// Runs the conversion graph into `part`; returns `reenactvoice`'s algorithm.
fn convert(
    raw: &Arc<Vec<f32>>,
    rate: u32,
    request: &VoiceCloneRequest,
    shift: &Shift,
    part: &Path,
    cancel: &CancelToken,
    on_progress: &mut dyn FnMut(VoiceCloneProgress),
) -> Result<String> {
    let out_rate = request.sample_rate;
    let pipeline = gst::Pipeline::with_name("reenact-voice-clone");
    let src = audio_source(raw, rate)?;
    let resample = make(f::AUDIORESAMPLE)?;
    let rate_caps = make(f::CAPSFILTER)?;
    rate_caps.set_property(
        "caps",
        gst::Caps::builder("audio/x-raw").field("format", "F32LE").field("rate", out_rate as i32).build(),
    );
    let voice = gst::ElementFactory::make(f::REENACTVOICE)
        .property("character", request.character_file.to_string_lossy().as_ref())
        .property("auto", shift.auto)
        .property("pitch-semitones", shift.semitones)
        .property("formant-shift", shift.formant)
        .build()
        .map_err(|_| EngineError::MissingElement(f::REENACTVOICE))?;
    let convert = make(f::AUDIOCONVERT)?;
    let s16 = make(f::CAPSFILTER)?;
    s16.set_property("caps", gst::Caps::builder("audio/x-raw").field("format", "S16LE").build());
    let wavenc = make(f::WAVENC)?;
    if let Some(setter) = wavenc.dynamic_cast_ref::<gst::TagSetter>() {
        setter.add_tag::<gst::tags::Comment>(&DISCLOSURE, gst::TagMergeMode::Replace);
    }
    let sink = make(f::FILESINK)?;
    sink.set_property("location", part.to_string_lossy().as_ref());
    let chain = [src.upcast_ref(), &resample, &rate_caps, &voice, &convert, &s16, &wavenc, &sink];
    pipeline.add_many(chain).map_err(|_| graph_err("elements"))?;
    gst::Element::link_many(chain).map_err(|_| graph_err("links"))?;

    let position = Position::default();
    trim_latency(&voice, out_rate, &position)?;
    let duration_s = raw.len() as f64 / f64::from(rate);

    let watch = Watch { duration_s, position: position.clone(), cancel, stall_after: request.stall_timeout };
    let result = play(&pipeline, &watch, &mut |p: Progress| {
        on_progress(VoiceCloneProgress { stage: VoiceCloneStage::Converting, fraction: 0.5 + 0.4 * p.fraction })
    })
    .map(|()| voice.property::<String>("algorithm"));
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// Cuts `reenactvoice`'s fixed latency from the start of its output and moves the timestamps
/// back by as much, so the written speech starts at once and ends with the drained tail;
/// records the end time of each buffer in `position` (ns).
fn trim_latency(voice: &gst::Element, rate: u32, position: &Position) -> Result<()> {
    let pad = voice.static_pad("src").ok_or_else(|| graph_err("reenactvoice has no src pad"))?;
    let element = voice.downgrade();
    let position = position.clone();
    // Frames still to cut and the latency, known once the element has negotiated.
    let state: Mutex<Option<(usize, gst::ClockTime)>> = Mutex::new(None);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        let (remaining, latency) = state.get_or_insert_with(|| {
            let ms = element.upgrade().map_or(0.0, |e| e.property::<f64>("latency-ms"));
            let frames = (ms * f64::from(rate) / 1000.0).round() as usize;
            (frames, gst::ClockTime::SECOND.mul_div_floor(frames as u64, u64::from(rate)).unwrap_or_default())
        });
        let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() else { return gst::PadProbeReturn::Ok };
        let frames = buffer.size() / 4;
        let pts = buffer.pts();
        let skip = (*remaining).min(frames);
        if skip == frames && frames > 0 {
            *remaining -= skip;
            return gst::PadProbeReturn::Drop;
        }
        if skip > 0 {
            match buffer.copy_region(gst::BufferCopyFlags::all(), skip * 4..) {
                Ok(cut) => *buffer = cut,
                Err(_) => return gst::PadProbeReturn::Ok,
            }
            *remaining = 0;
        }
        let skipped = gst::ClockTime::SECOND.mul_div_floor(skip as u64, u64::from(rate)).unwrap_or_default();
        let duration = gst::ClockTime::SECOND.mul_div_floor((frames - skip) as u64, u64::from(rate));
        let buffer = buffer.make_mut();
        // A cut copy has no timestamps: they come from the original.
        let pts = pts.map(|p| (p + skipped).saturating_sub(*latency));
        buffer.set_pts(pts);
        buffer.set_duration(duration);
        if let Some(end) = pts.zip(duration).map(|(p, d)| p + d) {
            position.record_ns(end.nseconds());
        }
        gst::PadProbeReturn::Ok
    })
    .ok_or_else(|| graph_err("cannot watch reenactvoice's output"))?;
    Ok(())
}

fn error_of(msg: &gst::Message, err: &gst::message::Error) -> EngineError {
    let element = msg.src().map(|s| s.name().to_string()).unwrap_or_else(|| "pipeline".into());
    let mut message = err.error().to_string();
    if let Some(first) = err.debug().and_then(|d| d.lines().next().map(str::to_owned)).filter(|l| !l.is_empty()) {
        message = format!("{message} ({first})");
    }
    EngineError::Pipeline { element, message }
}

/// The first error the graph posted, if any.
fn pipeline_error(pipeline: &gst::Pipeline) -> Option<EngineError> {
    let msg = pipeline.bus()?.pop_filtered(&[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(err) => Some(error_of(&msg, err)),
        _ => None,
    }
}

/// Figures of the written file.
struct Measured {
    duration_s: f64,
    converted_f0: Option<f32>,
    similarity: Option<f32>,
    similarity_raw: Option<f32>,
    embedding_model: Option<ModelUse>,
}

/// Decodes the written file, measures its F0 and, when possible, both similarities.
fn measure(file: &Path, raw16: &[f32], profile: &VoiceProfile, catalog: &Catalog) -> Result<Measured> {
    let info = media::probe(file)?;
    let converted16 = decode_audio_mono(file, speaker::RATE)?;
    let converted_f0 = measure_voice(&converted16, speaker::RATE).map(|v| v.median_f0_hz);
    let mut measured = Measured {
        duration_s: info.duration_s,
        converted_f0,
        similarity: None,
        similarity_raw: None,
        embedding_model: None,
    };
    let Some(target) = profile.embedding.as_ref() else {
        tracing::info!("the character has no speaker embedding: no similarity");
        return Ok(measured);
    };
    if target.model != speaker::MODEL {
        tracing::warn!(model = %target.model, "the character's embedding comes from another model: no similarity");
        return Ok(measured);
    }
    if catalog.entry(speaker::MODEL).is_none() {
        tracing::info!("the speaker-embedding model is not installed: no similarity");
        return Ok(measured);
    }
    let mut encoder = match speaker::SpeakerEncoder::open(catalog) {
        Ok(encoder) => encoder,
        Err(err) => {
            tracing::warn!("speaker embedding unavailable, no similarity: {err}");
            return Ok(measured);
        }
    };
    let mut similarity = |samples: &[f32]| match encoder.embed(samples) {
        Ok(vector) => Some(speaker::cosine(&vector, &target.vector)),
        Err(err) => {
            tracing::warn!("speaker embedding failed: {err}");
            None
        }
    };
    measured.similarity = similarity(&converted16);
    measured.similarity_raw = similarity(raw16);
    let (name, version) = encoder.model();
    measured.embedding_model =
        Some(ModelUse { name: name.to_owned(), version: version.to_owned(), element: "similarity".into() });
    Ok(measured)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice(f0: f32, formants: [f32; 3]) -> Voice {
        Voice { median_f0_hz: f0, formants_hz: formants }
    }

    fn profile(f0: f32, formants: [f32; 3]) -> VoiceProfile {
        VoiceProfile {
            median_f0_hz: f0,
            f0_range_hz: [f0 * 0.8, f0 * 1.2],
            formants_hz: formants,
            voiced_seconds: 3.0,
            embedding: None,
            rights: None,
        }
    }

    #[test]
    fn the_shift_goes_from_the_measured_voice_to_the_character_plus_trims() {
        let mut request = VoiceCloneRequest::new("Hi.", "c.character.json", "out.wav");
        let target = profile(220.0, [600.0, 1800.0, 3000.0]);
        let raw = voice(110.0, [500.0, 1500.0, 2500.0]);
        let shift = Shift::towards(&target, Some(&raw), &request);
        assert!(!shift.auto);
        assert!((shift.semitones - 12.0).abs() < 1e-4, "{shift:?}");
        assert!((shift.formant - 1.2).abs() < 1e-6, "{shift:?}");
        request.pitch_semitones = -2.0;
        request.formant_shift = 0.5;
        let trimmed = Shift::towards(&target, Some(&raw), &request);
        assert!((trimmed.semitones - 10.0).abs() < 1e-4 && (trimmed.formant - 0.6).abs() < 1e-6, "{trimmed:?}");
        let unmeasured = Shift::towards(&target, None, &request);
        assert_eq!(unmeasured, Shift { auto: true, semitones: -2.0, formant: 0.5 });
    }

    /// With `mix=0` the element outputs its input delayed by its latency; after the trim the
    /// output must be the input itself, sample for sample, tail included.
    #[test]
    fn the_trim_removes_exactly_the_elements_latency() {
        media::init().expect("GStreamer and our elements");
        let rate = 22_050;
        let input: Arc<Vec<f32>> =
            Arc::new((0..10_000).map(|i| (i as f32 * 0.031).sin() * 0.5 + (i as f32 * 0.0071).cos() * 0.2).collect());
        let pipeline = gst::Pipeline::new();
        let src = audio_source(&input, rate).expect("appsrc");
        let voice = gst::ElementFactory::make(f::REENACTVOICE)
            .property("auto", false)
            .property("mix", 0.0f64)
            .build()
            .expect("reenactvoice");
        let sink = make(f::APPSINK).expect("appsink").downcast::<gst_app::AppSink>().expect("an appsink");
        sink.set_sync(false);
        let chain = [src.upcast_ref(), &voice, sink.upcast_ref()];
        pipeline.add_many(chain).expect("add");
        gst::Element::link_many(chain).expect("link");
        let position = Position::default();
        trim_latency(&voice, rate, &position).expect("probe");
        pipeline.set_state(gst::State::Playing).expect("playing");
        let mut output = Vec::new();
        let mut first_pts = None;
        while let Ok(sample) = sink.pull_sample() {
            let buffer = sample.buffer().expect("buffer");
            first_pts.get_or_insert(buffer.pts());
            let map = buffer.map_readable().expect("readable");
            output.extend(map.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        }
        pipeline.set_state(gst::State::Null).expect("null");
        assert_eq!(first_pts, Some(Some(gst::ClockTime::ZERO)));
        assert_eq!(output.len(), input.len());
        assert!(output.iter().zip(input.iter()).all(|(a, b)| (a - b).abs() < 1e-6), "output is not the input");
        let end = position.seconds();
        assert!((end - input.len() as f64 / f64::from(rate)).abs() < 1e-4, "{end}");
    }

    #[test]
    fn the_part_file_sits_beside_the_output() {
        assert_eq!(part_path(Path::new("/tmp/a/speech.wav")), Path::new("/tmp/a/speech.wav.part"));
    }
}
