// SPDX-License-Identifier: MPL-2.0
//! Dubbed scenes. A scene with `"dub": "es"` is spoken in Spanish: its lines are the cues of
//! the project's `es` subtitles that fall inside it (written, or corrected after a
//! translation, in the subtitle editor), each spoken by a text-to-speech voice of that
//! language and placed at its cue's start. The render plays that speech instead of the
//! scene's own sound (see [`DubTrack::fill`]); the scene's character's `reenactvoice` then
//! moves it to the character's voice and a lip-sync moves the tracked face's mouth to it,
//! as it would the performer's own speech.
//!
//! Voices: English is spoken by the installed Piper voice; every other language by
//! espeak-ng's own synthesiser (formant synthesis, for any language it has), run as a separate
//! program as it is for Piper's phonemes. A line is spoken at the voice's own pace first; one
//! longer than its cue is spoken again faster (Piper's length scale, espeak-ng's words per
//! minute: the pitch stays), by [`MAX_PACE`] at most; one still too long is cut at the cue's
//! end with a short fade, and the report says by how much.

use std::collections::BTreeMap;
use std::path::Path;

use gstreenact::tts::{self, Espeak, PiperVoice, TtsError, ESPEAK_PROGRAM};
use reenact_models::{Catalog, ModelUse, OnnxError};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::languages::{canonical_tag, primary};
use crate::project::Project;
use crate::render::CancelToken;
use crate::subtitles::{self, Cue};

/// Sample rate of the dubbed speech: the render's sound.
pub(crate) const RATE: u32 = 48_000;

/// Fastest a line is spoken to fit its cue, against the voice's own pace.
pub const MAX_PACE: f64 = 1.4;

/// espeak-ng's pace for a dub, words per minute: slower than its own 175, which the voice
/// conversion after it blurs (whisper base heard four converted Spanish lines with a word
/// error rate of 0.44 at 175, 0.24 at 150).
const ESPEAK_WPM: f64 = 150.0;

/// Fade at a line cut at its cue's end, seconds.
const FADE_S: f64 = 0.03;

/// Peak level of the spoken lines: the voice conversion after them needs headroom.
const LEVEL: f32 = 0.5;

/// Anything quieter than this at a line's ends is the voice's own lead-in or tail.
const SILENCE: f32 = 0.01;

/// One line of a dubbed scene, as spoken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DubbedLine {
    /// Timeline seconds of its cue, within the scene.
    pub start_s: f64,
    pub end_s: f64,
    /// Seconds the speech lasts as placed.
    pub speech_s: f64,
    /// How fast it was spoken (1: the voice's own pace).
    pub pace: f64,
    /// Seconds cut from its end because it did not fit its cue even at [`MAX_PACE`].
    pub cut_s: f64,
}

/// What a dubbed scene spoke, for the render's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DubUse {
    /// The language (canonical BCP 47 tag).
    pub language: String,
    /// The voice: `piper:NAME@VERSION` or `espeak-ng:VOICE`.
    pub speech: String,
    pub lines: Vec<DubbedLine>,
}

/// One dubbed scene's speech.
#[derive(Debug, Clone)]
struct DubbedScene {
    /// Timeline samples `[start, end)` at [`RATE`] whose sound the dub replaces.
    start: u64,
    end: u64,
    /// Each line's first timeline sample and its samples (mono); silence between them.
    lines: Vec<(u64, Vec<f32>)>,
    report: DubUse,
}

/// The dubbed speech of a whole timeline.
#[derive(Debug, Clone, Default)]
pub(crate) struct DubTrack {
    scenes: Vec<DubbedScene>,
    /// The models the voices ran (Piper's, for English).
    pub(crate) models: Vec<ModelUse>,
}

impl DubTrack {
    pub(crate) fn is_empty(&self) -> bool {
        self.scenes.is_empty()
    }

    /// What the dubbed scene starting at `start_s` spoke.
    pub(crate) fn report_at(&self, start_s: f64) -> Option<&DubUse> {
        let at = seconds_to_sample(start_s);
        self.scenes.iter().find(|s| s.start == at).map(|s| &s.report)
    }

    /// The dubbed scenes that timeline samples `[first, first + frames)` reach into.
    fn scenes_within(&self, first: u64, frames: u64) -> impl Iterator<Item = &DubbedScene> {
        self.scenes.iter().filter(move |s| s.start < first + frames && first < s.end)
    }

    /// Whether timeline samples `[first, first + frames)` reach into a dubbed scene.
    pub(crate) fn reaches(&self, first: u64, frames: u64) -> bool {
        self.scenes_within(first, frames).next().is_some()
    }

    /// Replaces the frames of interleaved `samples` (`channels` per frame, the first at
    /// timeline sample `first`) that fall in a dubbed scene with the dub, the same on every
    /// channel; the others are left as they are.
    pub(crate) fn fill(&self, first: u64, samples: &mut [f32], channels: usize) {
        let frames = (samples.len() / channels.max(1)) as u64;
        for scene in self.scenes_within(first, frames) {
            let from = scene.start.max(first);
            let to = scene.end.min(first + frames);
            for n in from..to {
                let value = scene.sample(n);
                let at = (n - first) as usize * channels;
                samples[at..at + channels].fill(value);
            }
        }
    }
}

impl DubbedScene {
    /// The dub at timeline sample `n`.
    fn sample(&self, n: u64) -> f32 {
        let i = self.lines.partition_point(|(start, _)| *start <= n);
        let Some((start, line)) = i.checked_sub(1).map(|i| &self.lines[i]) else { return 0.0 };
        line.get((n - start) as usize).copied().unwrap_or(0.0)
    }
}

fn seconds_to_sample(s: f64) -> u64 {
    (s.max(0.0) * f64::from(RATE)).round() as u64
}

/// Speaks the lines of every dubbed scene of `project` (`project_file` names it in errors).
/// Fails with [`EngineError::Cancelled`] when `cancel` is set between lines.
/// `pitch_of` gives the median F0 of a character's voice, which espeak-ng's voice is brought
/// near so that the character's voice conversion has little to move.
pub(crate) fn prepare(
    project: &Project,
    project_file: &Path,
    pitch_of: &dyn Fn(&str) -> Option<f32>,
    cancel: &CancelToken,
) -> Result<DubTrack> {
    let mut track = DubTrack::default();
    let mut cues: BTreeMap<String, Vec<Cue>> = BTreeMap::new();
    let mut voices: BTreeMap<String, Voice> = BTreeMap::new();
    for (i, scene) in project.scenes.iter().enumerate() {
        let Some(dub) = &scene.dub else { continue };
        let field = format!("scenes[{i}].dub");
        let invalid = |cause: String| EngineError::invalid(project_file, field.clone(), cause);
        let language = canonical_tag(dub).map_err(|e| invalid(e.to_string()))?;
        if !cues.contains_key(&language) {
            let file =
                project.subtitles_in(&language).ok_or_else(|| invalid(format!("no subtitles in `{language}`")))?;
            cues.insert(language.clone(), subtitles::read(file)?);
        }
        let lines = lines_within(&cues[&language], scene.start, scene.end);
        if lines.is_empty() {
            return Err(invalid(format!(
                "the `{language}` subtitles have no line between {:.2} s and {:.2} s to speak",
                scene.start, scene.end
            )));
        }
        let pitch = pitch_of(&scene.character);
        let key = format!("{language} {pitch:?}");
        if !voices.contains_key(&key) {
            voices.insert(key.clone(), Voice::open(&language, pitch).map_err(|e| invalid(e.to_string()))?);
        }
        let voice = voices.get_mut(&key).expect("opened above");
        let mut scene_lines = Vec::with_capacity(lines.len());
        let mut reports = Vec::with_capacity(lines.len());
        for line in &lines {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let (samples, report) = voice.fit(line).map_err(|e| invalid(e.to_string()))?;
            scene_lines.push((seconds_to_sample(line.start_s), samples));
            reports.push(report);
        }
        tracing::info!(scene = i, %language, lines = reports.len(), cut = reports.iter().filter(|r| r.cut_s > 0.0).count(), "dubbed");
        track.scenes.push(DubbedScene {
            start: seconds_to_sample(scene.start),
            end: seconds_to_sample(scene.end),
            lines: scene_lines,
            report: DubUse { language, speech: voice.name(), lines: reports },
        });
    }
    track.models = voices.values().filter_map(Voice::model).collect();
    Ok(track)
}

/// The cues that overlap `[start, end)`, clipped to it, their text as one line of words.
fn lines_within(cues: &[Cue], start: f64, end: f64) -> Vec<Cue> {
    cues.iter()
        .filter(|c| c.end_s > start && c.start_s < end)
        .map(|c| Cue { start_s: c.start_s.max(start), end_s: c.end_s.min(end), text: spoken_text(&c.text) })
        .filter(|c| !c.text.is_empty() && c.end_s > c.start_s)
        .collect()
}

/// A cue's text as it is said: markup (`<i>`, `{\an8}`) left out, its lines one line.
fn spoken_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut skip: Option<char> = None;
    for c in text.chars() {
        match (skip, c) {
            (None, '<') => skip = Some('>'),
            (None, '{') => skip = Some('}'),
            (Some(end), c) if c == end => skip = None,
            (Some(_), _) => {}
            (None, c) => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A text-to-speech voice of one language.
pub(crate) enum Voice {
    Piper(Box<PiperVoice>),
    /// espeak-ng with its voice (and variant) and pitch setting.
    Espeak(Espeak, u8),
}

/// espeak-ng's variant and pitch setting (0..=99) that speak nearest `target_hz` (median F0).
/// Measured on its Spanish voice (2026-12-05, median F0 as a character's voice profile
/// measures it): the default voice at 101 Hz (pitch 50) to 168 Hz (99), the `+f3` variant at
/// 209 Hz (50) and 274 Hz (80); F0 moves by a constant ratio per step. Without a target, the
/// default voice at its own pitch.
fn espeak_pitch(target_hz: Option<f32>) -> (&'static str, u8) {
    let Some(target) = target_hz.filter(|t| t.is_finite() && *t > 0.0) else { return ("", 50) };
    let (variant, at_50, per_step) = if target < 160.0 {
        ("", 101.0f32, (168.0f32 / 101.0).ln() / 49.0)
    } else {
        ("+f3", 209.0, (274.0f32 / 209.0).ln() / 30.0)
    };
    let pitch = 50.0 + (target / at_50).ln() / per_step;
    (variant, pitch.round().clamp(0.0, 99.0) as u8)
}

impl Voice {
    /// Piper for English when it is installed, espeak-ng's own voice of `language` otherwise,
    /// pitched near `pitch_hz`.
    pub(crate) fn open(language: &str, pitch_hz: Option<f32>) -> std::result::Result<Self, TtsError> {
        if primary(language) == "en" {
            let catalog = Catalog::load().map_err(|e| TtsError::from(OnnxError::from(e)))?;
            match PiperVoice::open(&catalog) {
                Ok(voice) => return Ok(Voice::Piper(Box::new(voice))),
                Err(err @ TtsError::EspeakMissing { .. }) => return Err(err),
                Err(err) => {
                    tracing::warn!(%err, "the Piper voice cannot speak the English dub; espeak-ng's voice will")
                }
            }
        }
        // espeak-ng names its voices by lowercase tags (`pt-br`, `es-419`) and takes a bare
        // language for its main voice.
        let (variant, pitch) = espeak_pitch(pitch_hz);
        let espeak = Espeak::new(ESPEAK_PROGRAM, format!("{}{variant}", language.to_ascii_lowercase()));
        espeak.check()?;
        Ok(Voice::Espeak(espeak, pitch))
    }

    /// `piper:NAME@VERSION` or `espeak-ng:VOICE`.
    pub(crate) fn name(&self) -> String {
        match self {
            Voice::Piper(voice) => {
                let (name, version) = voice.model();
                format!("piper:{name}@{version}")
            }
            Voice::Espeak(espeak, pitch) => format!("espeak-ng:{} pitch {pitch}", espeak.voice()),
        }
    }

    /// The model the voice runs, for a render's list of models.
    pub(crate) fn model(&self) -> Option<ModelUse> {
        let Voice::Piper(voice) = self else { return None };
        let (name, version) = voice.model();
        Some(ModelUse { name: name.into(), version: version.into(), element: "tts".into() })
    }

    /// `text` spoken `pace` times as fast as the voice's own pace, at [`RATE`], its silent
    /// ends trimmed and its peak at [`LEVEL`].
    fn speak(&mut self, text: &str, pace: f64) -> std::result::Result<Vec<f32>, EngineError> {
        let (mut samples, rate) = match self {
            Voice::Piper(voice) => {
                voice.set_pace(pace as f32);
                (voice.synthesize(text)?, voice.sample_rate())
            }
            Voice::Espeak(espeak, pitch) => espeak.speak(text, (ESPEAK_WPM * pace).round() as u32, *pitch)?,
        };
        let first = samples.iter().position(|v| v.abs() > SILENCE).unwrap_or(samples.len());
        let last = samples.iter().rposition(|v| v.abs() > SILENCE).map_or(first, |i| i + 1);
        samples.truncate(last);
        samples.drain(..first);
        let mut samples = if rate == RATE { samples } else { crate::voice_clone::resample_mono(&samples, rate, RATE)? };
        tts::normalise_peak(&mut samples);
        samples.iter_mut().for_each(|v| *v *= LEVEL);
        Ok(samples)
    }

    /// Speaks `line` to fit its cue: faster when it is too long, cut when even that is.
    fn fit(&mut self, line: &Cue) -> std::result::Result<(Vec<f32>, DubbedLine), EngineError> {
        self.fit_within(line, true)
    }

    /// Speaks `line` to fit its cue: faster when it is too long, and, when even that is and
    /// `cut` says so, cut at the cue's end (a live dub lets it run on into the pause instead).
    pub(crate) fn fit_within(
        &mut self,
        line: &Cue,
        cut: bool,
    ) -> std::result::Result<(Vec<f32>, DubbedLine), EngineError> {
        let slot = seconds_to_sample(line.end_s).saturating_sub(seconds_to_sample(line.start_s)) as usize;
        let mut pace = 1.0;
        let mut samples = self.speak(&line.text, pace)?;
        if samples.len() > slot {
            // A little faster than the ratio: the voice's pauses do not all shrink with it.
            pace = (samples.len() as f64 / slot.max(1) as f64 * 1.03).min(MAX_PACE);
            samples = self.speak(&line.text, pace)?;
        }
        let cut = if cut { samples.len().saturating_sub(slot) } else { 0 };
        if cut > 0 {
            samples.truncate(slot);
            let fade = ((FADE_S * f64::from(RATE)) as usize).min(samples.len());
            let len = samples.len();
            for (k, v) in samples[len - fade..].iter_mut().enumerate() {
                *v *= 1.0 - (k + 1) as f32 / fade as f32;
            }
        }
        let seconds = |n: usize| n as f64 / f64::from(RATE);
        let report = DubbedLine {
            start_s: line.start_s,
            end_s: line.end_s,
            speech_s: seconds(samples.len()),
            pace,
            cut_s: seconds(cut),
        };
        Ok((samples, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start_s: f64, end_s: f64, text: &str) -> Cue {
        Cue { start_s, end_s, text: text.into() }
    }

    #[test]
    fn a_scene_speaks_the_lines_inside_it_clipped_to_it_without_markup() {
        let cues = [
            cue(0.0, 1.0, "before"),
            cue(1.5, 3.0, "<i>Hola</i>,\nmundo"),
            cue(4.5, 6.0, "{\\an8}al final"),
            cue(6.0, 7.0, "after"),
            cue(3.0, 3.5, "<b></b>"),
        ];
        let lines = lines_within(&cues, 2.0, 5.0);
        assert_eq!(lines, vec![cue(2.0, 3.0, "Hola, mundo"), cue(4.5, 5.0, "al final")]);
    }

    #[test]
    fn espeak_is_pitched_near_the_character() {
        assert_eq!(espeak_pitch(None), ("", 50));
        assert_eq!(espeak_pitch(Some(101.0)), ("", 50));
        assert_eq!(espeak_pitch(Some(150.0)), ("", 88));
        assert_eq!(espeak_pitch(Some(168.0)), ("+f3", 26), "the variant from 160 Hz on");
        assert_eq!(espeak_pitch(Some(60.0)), ("", 0), "as low as it goes");
        assert_eq!(espeak_pitch(Some(209.0)), ("+f3", 50));
        assert_eq!(espeak_pitch(Some(250.9)), ("+f3", 70), "Kennedy's voice");
        assert_eq!(espeak_pitch(Some(600.0)), ("+f3", 99));
        assert_eq!(espeak_pitch(Some(f32::NAN)), ("", 50));
    }

    #[test]
    fn the_dub_replaces_the_scene_only_and_is_silent_between_lines() {
        let scene = DubbedScene {
            start: 10,
            end: 20,
            lines: vec![(12, vec![0.5, 0.5]), (16, vec![0.25; 10])],
            report: DubUse { language: "es".into(), speech: "espeak-ng:es".into(), lines: Vec::new() },
        };
        let track = DubTrack { scenes: vec![scene], models: Vec::new() };
        // Stereo frames 8..24, every sample 1.0 before the dub.
        let mut samples = vec![1.0f32; 32];
        track.fill(8, &mut samples, 2);
        let frames: Vec<f32> = samples
            .chunks(2)
            .map(|f| {
                assert_eq!(f[0], f[1], "both channels");
                f[0]
            })
            .collect();
        let expected = [
            1.0, 1.0, // 8, 9: before the scene
            0.0, 0.0, // 10, 11: silence before the first line
            0.5, 0.5, // 12, 13: the first line
            0.0, 0.0, // 14, 15
            0.25, 0.25, 0.25, 0.25, // 16..19: the second line, cut at the scene's end
            1.0, 1.0, 1.0, 1.0, // 20..23: after it
        ];
        assert_eq!(frames, expected);
    }
}
