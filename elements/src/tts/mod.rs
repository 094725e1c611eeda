// SPDX-License-Identifier: MPL-2.0
//! Text to speech with a Piper voice (VITS, ONNX) of the model catalog, the way piper-tts 1.8
//! does it: the text is cut into sentences ([`text::sentences`]), each sentence is phonemized
//! to IPA by the `espeak-ng` program ([`Espeak`], a subprocess: espeak-ng is GPL and never
//! linked), its codepoints are mapped through the voice's `phoneme_id_map` to
//! `^ _ (id _)* $`, and the model runs once per sentence with the `inference` scales of the
//! voice's `.onnx.json`. Each sentence is peak-normalised, and sentences are joined with
//! [`SENTENCE_PAUSE_SECONDS`] of silence. No GStreamer here.
//!
//! Model signature (manifest entry `piper_en_US_joe_medium`): `input` int64 `[1, n]`,
//! `input_lengths` int64 `[1]` = n, `scales` float32 `[3]` = noise_scale, length_scale,
//! noise_w; `output` float32 `[1, 1, 1, samples]` at the config's `audio.sample_rate`. The
//! output is stochastic (noise scales), so durations vary by a few percent between runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use reenact_models::{Catalog, OnnxError, OnnxSession, SessionOptions, TensorInput};
use serde::Deserialize;

mod espeak;
pub mod text;

pub use espeak::{Espeak, PROGRAM as ESPEAK_PROGRAM};
pub use text::{sentences, Clause, Sentence};

/// Catalog name of the default voice.
pub const MODEL: &str = "piper_en_US_joe_medium";

/// Silence between two sentences, seconds.
pub const SENTENCE_PAUSE_SECONDS: f32 = 0.2;

/// Beginning, padding and end symbols of the phoneme id sequence.
const BOS: char = '^';
const PAD: char = '_';
const EOS: char = '$';

/// Why speech could not be synthesised.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    /// The espeak-ng program is not installed.
    #[error(
        "`{}` not found: the Piper voice needs espeak-ng to turn text into phonemes. Install it \
         (`sudo apt-get install espeak-ng` on Debian/Ubuntu, `brew install espeak-ng` on macOS, or run \
         scripts/setup.sh); Reenact runs it as a separate program",
        program.display()
    )]
    EspeakMissing {
        /// The program that was looked for.
        program: PathBuf,
    },
    /// espeak-ng ran but failed.
    #[error("espeak-ng failed: {message}")]
    Espeak {
        /// What went wrong, with its own message.
        message: String,
    },
    /// The voice model is unknown, missing, corrupt, or failed to run.
    #[error(transparent)]
    Model(#[from] OnnxError),
    /// The voice's `.onnx.json` is missing or unusable.
    #[error("Piper voice `{name}`: config {}: {message}", path.display())]
    Config {
        /// The model name.
        name: String,
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The text has no words.
    #[error("the text is empty: give at least one word to say")]
    EmptyText,
    /// espeak-ng found no phonemes the voice knows in any sentence.
    #[error("nothing in the text can be spoken by Piper voice `{name}` (espeak-ng gave no phonemes it knows): \"{excerpt}\"")]
    Unphonemizable {
        /// The model name.
        name: String,
        /// The start of the text.
        excerpt: String,
    },
}

/// The parts of a Piper `.onnx.json` this module reads.
#[derive(Debug, Clone, Deserialize)]
struct VoiceConfig {
    audio: AudioConfig,
    espeak: EspeakConfig,
    inference: InferenceConfig,
    #[serde(default)]
    phoneme_type: Option<String>,
    #[serde(default)]
    num_speakers: u32,
    phoneme_id_map: HashMap<String, Vec<i64>>,
}

#[derive(Debug, Clone, Deserialize)]
struct AudioConfig {
    sample_rate: u32,
}

#[derive(Debug, Clone, Deserialize)]
struct EspeakConfig {
    voice: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct InferenceConfig {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

/// A Piper voice ready to speak: the model session, its phoneme map and the phonemizer.
#[derive(Debug)]
pub struct PiperVoice {
    session: OnnxSession,
    rate: u32,
    scales: [f32; 3],
    /// The voice's own length scale (its config's), which [`PiperVoice::set_pace`] divides.
    length_scale: f32,
    ids: HashMap<char, Vec<i64>>,
    espeak: Espeak,
}

impl PiperVoice {
    /// Opens the default voice ([`MODEL`]) of `catalog`, phonemizing with `espeak-ng` on `PATH`.
    pub fn open(catalog: &Catalog) -> Result<Self, TtsError> {
        Self::open_with(catalog, MODEL, Path::new(ESPEAK_PROGRAM))
    }

    /// Opens voice `name` of `catalog`, phonemizing with the espeak-ng at `espeak`. The
    /// phonemizer is checked first, then the model and its config.
    pub fn open_with(catalog: &Catalog, name: &str, espeak: &Path) -> Result<Self, TtsError> {
        Espeak::new(espeak, "").check()?;
        let session = OnnxSession::open(
            catalog,
            name,
            SessionOptions {
                intra_threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
                ..SessionOptions::default()
            },
        )?;
        let entry = session.entry();
        let config_err =
            |path: &Path, message: String| TtsError::Config { name: name.to_owned(), path: path.to_owned(), message };
        let path = entry.config_path.clone().ok_or_else(|| {
            config_err(&entry.manifest, "the manifest entry names no `config` (the voice's .onnx.json)".into())
        })?;
        let text = std::fs::read_to_string(&path).map_err(|err| config_err(&path, err.to_string()))?;
        let config: VoiceConfig = serde_json::from_str(&text).map_err(|err| config_err(&path, err.to_string()))?;
        if let Some(kind) = config.phoneme_type.as_deref().filter(|k| *k != "espeak") {
            return Err(config_err(&path, format!("phoneme_type `{kind}` is not supported, only `espeak`")));
        }
        if config.num_speakers > 1 {
            return Err(config_err(
                &path,
                format!("{} speakers: only single-speaker voices are supported", config.num_speakers),
            ));
        }
        if config.audio.sample_rate == 0 {
            return Err(config_err(&path, "audio.sample_rate is 0".into()));
        }
        let ids: HashMap<char, Vec<i64>> = config
            .phoneme_id_map
            .iter()
            .filter_map(|(key, ids)| {
                let mut chars = key.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if !ids.is_empty() => Some((c, ids.clone())),
                    _ => None,
                }
            })
            .collect();
        if let Some(missing) = [BOS, PAD, EOS].into_iter().find(|c| !ids.contains_key(c)) {
            return Err(config_err(&path, format!("phoneme_id_map has no `{missing}`")));
        }
        let InferenceConfig { noise_scale, length_scale, noise_w } = config.inference;
        Ok(Self {
            rate: config.audio.sample_rate,
            scales: [noise_scale, length_scale, noise_w],
            length_scale,
            ids,
            espeak: Espeak::new(espeak, config.espeak.voice),
            session,
        })
    }

    /// Manifest name and version of the voice.
    pub fn model(&self) -> (&str, &str) {
        let model = &self.session.entry().model;
        (&model.name, &model.version)
    }

    /// Speaks `pace` times as fast as the voice's own pace from now on (1: its own; Piper's
    /// length scale is divided by it, so the pitch stays).
    pub fn set_pace(&mut self, pace: f32) {
        self.scales[1] = self.length_scale / pace.max(0.1);
    }

    /// Sample rate of the audio the voice makes, Hz.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// The phonemizer, with the voice's espeak-ng voice.
    pub fn espeak(&self) -> &Espeak {
        &self.espeak
    }

    /// The model input for `phonemes`: `^ _`, each known codepoint's id(s) followed by `_`,
    /// then `$`. Codepoints the map lacks are skipped, as piper-tts does. The second value
    /// counts the phonemes that were kept.
    pub fn phoneme_ids(&self, phonemes: &str) -> (Vec<i64>, usize) {
        let id = |c: char| self.ids[&c].as_slice();
        let mut out = Vec::with_capacity(2 * phonemes.len() + 3);
        out.extend_from_slice(id(BOS));
        out.extend_from_slice(id(PAD));
        let mut kept = 0;
        for c in phonemes.chars() {
            if let Some(ids) = self.ids.get(&c) {
                out.extend_from_slice(ids);
                out.extend_from_slice(id(PAD));
                kept += 1;
            }
        }
        out.extend_from_slice(id(EOS));
        (out, kept)
    }

    /// Speaks one sentence, peak-normalised; `None` when espeak-ng gave no phoneme the voice
    /// knows (a sentence of symbols only).
    pub fn speak(&mut self, sentence: &Sentence) -> Result<Option<Vec<f32>>, TtsError> {
        let phonemes = self.espeak.phonemize(sentence)?;
        let (ids, kept) = self.phoneme_ids(&phonemes);
        if kept == 0 {
            return Ok(None);
        }
        let n = ids.len() as i64;
        let inputs = [
            TensorInput::I64 { shape: &[1, n], data: &ids },
            TensorInput::I64 { shape: &[1], data: &[n] },
            TensorInput::F32 { shape: &[3], data: &self.scales },
        ];
        let mut outputs = vec![Vec::new()];
        self.session.run_f32(&inputs, &mut outputs)?;
        let mut audio = outputs.pop().unwrap_or_default();
        normalise_peak(&mut audio);
        Ok(Some(audio))
    }

    /// Speaks all of `text`: each sentence normalised, joined by [`SENTENCE_PAUSE_SECONDS`].
    pub fn synthesize(&mut self, text: &str) -> Result<Vec<f32>, TtsError> {
        let sentences = sentences(text);
        if sentences.is_empty() {
            return Err(TtsError::EmptyText);
        }
        let mut chunks = Vec::with_capacity(sentences.len());
        for sentence in &sentences {
            chunks.extend(self.speak(sentence)?);
        }
        if chunks.is_empty() {
            return Err(self.unphonemizable(text));
        }
        Ok(join(&chunks, self.rate))
    }

    /// The error for `text` when no sentence of it could be spoken.
    pub fn unphonemizable(&self, text: &str) -> TtsError {
        let mut excerpt: String = text.trim().chars().take(60).collect();
        if text.trim().chars().count() > 60 {
            excerpt.push('…');
        }
        TtsError::Unphonemizable { name: self.model().0.to_owned(), excerpt }
    }
}

/// Scales `audio` so its largest magnitude is 1 (silence stays silence).
pub fn normalise_peak(audio: &mut [f32]) {
    let peak = audio.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak < 1e-8 {
        audio.fill(0.0);
        return;
    }
    for v in audio.iter_mut() {
        *v = (*v / peak).clamp(-1.0, 1.0);
    }
}

/// Sentences one after another with [`SENTENCE_PAUSE_SECONDS`] of silence between them.
pub fn join(chunks: &[Vec<f32>], rate: u32) -> Vec<f32> {
    let pause = (SENTENCE_PAUSE_SECONDS * rate as f32).round() as usize;
    let total = chunks.iter().map(Vec::len).sum::<usize>() + pause * chunks.len().saturating_sub(1);
    let mut out = Vec::with_capacity(total);
    for (i, chunk) in chunks.iter().enumerate() {
        if i > 0 {
            out.resize(out.len() + pause, 0.0);
        }
        out.extend_from_slice(chunk);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_joined_with_a_pause() {
        let joined = join(&[vec![0.5; 10], vec![-0.5; 5]], 100);
        assert_eq!(joined.len(), 10 + 20 + 5);
        assert!(joined[10..30].iter().all(|&v| v == 0.0));
        assert!(join(&[], 100).is_empty());
    }

    #[test]
    fn peak_normalisation_keeps_silence() {
        let mut a = vec![0.1, -0.4, 0.2];
        normalise_peak(&mut a);
        assert_eq!(a, vec![0.25, -1.0, 0.5]);
        let mut s = vec![0.0; 4];
        normalise_peak(&mut s);
        assert_eq!(s, vec![0.0; 4]);
    }

    #[test]
    fn a_missing_program_says_how_to_install_it() {
        let err = Espeak::new("/nonexistent/espeak-ng", "en-us").check().expect_err("no such program");
        let text = err.to_string();
        assert!(matches!(err, TtsError::EspeakMissing { .. }), "{text}");
        assert!(text.contains("apt-get install espeak-ng") && text.contains("/nonexistent/espeak-ng"), "{text}");
    }
}
