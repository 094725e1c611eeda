// SPDX-License-Identifier: MPL-2.0
//! The neural converter slot. Two kinds of model fit it: our own signature (see the module
//! doc of `voice`), with the log-mel front end that feeds it and the block-wise runner here
//! (each 10 ms block adds one mel frame; the model sees the last [`CONTEXT_FRAMES`] frames and
//! the newest frame's [`HOP`] output samples become the next output block), and a community
//! RVC v2 voice with its content and pitch models (`rvc.rs`). No GStreamer here.

use std::collections::VecDeque;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use reenact_models::{Catalog, CatalogEntry, OnnxError, OnnxSession, SessionOptions, TensorInput};

use super::rvc::{self, RvcConverter};
use crate::analysis::mel::{periodic_hann, MelFilterbank};

/// The model's sample rate.
pub(crate) const RATE: u32 = 16_000;

/// Samples per mel frame and per output frame.
pub(crate) const HOP: usize = 160;

/// Analysis window (and FFT) length.
pub(crate) const WINDOW: usize = 400;

/// Mel bands.
pub(crate) const MEL_BANDS: usize = 80;

/// Speaker embedding length.
pub(crate) const SPEAKER_DIM: usize = 256;

/// Mel frames given to the model per call.
pub(crate) const CONTEXT_FRAMES: usize = 16;

/// Floor of the mel power before the log10.
const MEL_FLOOR: f32 = 1e-10;

/// The newest frame's window ends with the block; its [`HOP`] output samples stand for the input
/// around the window's centre (`WINDOW / 2` before the block end, ± `HOP / 2`), so the
/// converter's output lags its input by this many samples.
pub(crate) const INDEX_DELAY: usize = WINDOW / 2 - HOP / 2;

/// Why the neural converter cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NeuralError {
    #[error("model `{name}` is not in the model catalog (searched {searched})")]
    Unknown { name: String, searched: String },
    #[error("model `{name}` ({manifest}) does not have the signature reenactvoice needs: {problem}; expected inputs `mel` [1, 80, -1] float32 and `speaker` [1, 256] float32, output `waveform` [1, -1] float32")]
    Signature { name: String, manifest: String, problem: String },
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    #[error("model `{name}` returned {got} samples for {frames} frames, expected {expected}")]
    Output { name: String, got: usize, frames: usize, expected: usize },
    #[error("the speaker embedding has {got} values, the model takes {SPEAKER_DIM}")]
    Speaker { got: usize },
    #[error("the RVC voice `{voice}` needs a {what} model beside it: import one with `reenact models import FILE --as {flag}`")]
    MissingCompanion { voice: String, what: &'static str, flag: &'static str },
    #[error("the RVC voice `{name}` ({manifest}) does not state its output sample rate: import it again with --sample-rate 40000 or 48000, as it was trained")]
    NoSampleRate { name: String, manifest: String },
    #[error("speaker: {0}")]
    NoSuchSpeaker(String),
}

/// A tensor as the element expects it: name and shape (`-1` dynamic).
type Expected = (&'static str, &'static [i64]);

/// The expected manifest signature: (name, shape) of the inputs, then of the output.
const INPUTS: [Expected; 2] = [("mel", &[1, MEL_BANDS as i64, -1]), ("speaker", &[1, SPEAKER_DIM as i64])];
const OUTPUT: Expected = ("waveform", &[1, -1]);

/// Checks that the manifest entry declares the converter signature; names the first difference.
pub(crate) fn check_manifest(entry: &CatalogEntry) -> Result<(), NeuralError> {
    let fail = |problem: String| NeuralError::Signature {
        name: entry.model.name.clone(),
        manifest: entry.manifest.display().to_string(),
        problem,
    };
    let model = &entry.model;
    let sides: [(&str, &[reenact_models::TensorSpec], &[Expected]); 2] =
        [("input", &model.inputs, &INPUTS), ("output", &model.outputs, &[OUTPUT])];
    for (kind, specs, expected) in sides {
        if specs.len() != expected.len() {
            return Err(fail(format!("the manifest declares {} {kind}s, not {}", specs.len(), expected.len())));
        }
        for (index, (spec, (name, shape))) in specs.iter().zip(expected).enumerate() {
            if spec.name != *name {
                return Err(fail(format!("{kind} #{index} is `{}`, not `{name}`", spec.name)));
            }
            if spec.dtype != "float32" {
                return Err(fail(format!("{kind} `{name}` is {}, not float32", spec.dtype)));
            }
            let declared = spec.shape.as_deref().unwrap_or(&[]);
            let fits = declared.len() == shape.len()
                && declared.iter().zip(shape.iter()).all(|(&d, &e)| d == e || (e < 0 && d < 0));
            if !fits {
                return Err(fail(format!("{kind} `{name}` has shape {declared:?}, not {shape:?}")));
            }
        }
    }
    Ok(())
}

/// Log-mel frames: periodic Hann window of [`WINDOW`] samples, [`WINDOW`]-point FFT, power,
/// [`MEL_BANDS`] Slaney-normalised triangular filters on the Slaney mel scale from 0 to 8 kHz,
/// `log10(max(power, 1e-10))`.
pub(crate) struct MelFrontEnd {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    filters: MelFilterbank,
    input: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    power: Vec<f32>,
}

impl std::fmt::Debug for MelFrontEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelFrontEnd").field("bands", &self.filters.len()).finish()
    }
}

impl MelFrontEnd {
    pub(crate) fn new() -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(WINDOW);
        let bins = WINDOW / 2 + 1;
        let filters = MelFilterbank::slaney(RATE, WINDOW, MEL_BANDS, 0.0, f64::from(RATE) / 2.0);
        Self {
            window: periodic_hann(WINDOW),
            input: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            power: vec![0.0; bins],
            filters,
            fft,
        }
    }

    /// The log-mel frame of `samples` ([`WINDOW`] long) into `out` ([`MEL_BANDS`] long).
    pub(crate) fn frame(&mut self, samples: &[f32], out: &mut [f32]) {
        for ((i, s), w) in self.input.iter_mut().zip(samples).zip(&self.window) {
            *i = s * w;
        }
        if self.fft.process(&mut self.input, &mut self.spectrum).is_err() {
            out.fill(MEL_FLOOR.log10());
            return;
        }
        for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
            *p = c.norm_sqr();
        }
        self.filters.apply(&self.power, out);
        for o in out.iter_mut() {
            *o = o.max(MEL_FLOOR).log10();
        }
    }
}

/// One opened converter: our signature's or an RVC voice's.
#[derive(Debug)]
pub(crate) enum NeuralConverter {
    Mel(Box<MelConverter>),
    Rvc(Box<RvcConverter>),
}

impl NeuralConverter {
    /// Opens `name` from `catalog`: an RVC v2 voice (with the catalog's content and pitch
    /// models, as speaker `speaker_id`), or a model of our signature after checking its
    /// manifest, with `speaker`, the character's embedding (zeros when `None`).
    pub(crate) fn open(
        catalog: &Catalog,
        name: &str,
        speaker: Option<&[f32]>,
        speaker_id: u32,
    ) -> Result<Self, NeuralError> {
        let entry = catalog.entry(name).ok_or_else(|| NeuralError::Unknown {
            name: name.to_owned(),
            searched: catalog.searched_dirs().iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
        })?;
        if rvc::is_rvc(entry) {
            return Ok(Self::Rvc(Box::new(RvcConverter::open(catalog, entry, speaker_id)?)));
        }
        Ok(Self::Mel(Box::new(MelConverter::open(catalog, entry, speaker)?)))
    }

    /// What runs, for the element's `algorithm` (`onnx:<name>@<version>`...).
    pub(crate) fn algorithm(&self) -> String {
        match self {
            Self::Mel(c) => c.algorithm(),
            Self::Rvc(c) => c.algorithm(),
        }
    }

    /// Samples per call of [`Self::process`].
    pub(crate) fn block(&self) -> usize {
        match self {
            Self::Mel(_) => HOP,
            Self::Rvc(_) => rvc::BLOCK,
        }
    }

    /// Samples from a block's arrival to its converted sound leaving, the block included.
    pub(crate) fn latency(&self) -> usize {
        match self {
            Self::Mel(_) => HOP + INDEX_DELAY,
            Self::Rvc(c) => c.latency(),
        }
    }

    /// Forgets the input: silence before the next block.
    pub(crate) fn reset(&mut self) {
        match self {
            Self::Mel(c) => c.reset(),
            Self::Rvc(c) => c.reset(),
        }
    }

    /// Asks for the converted samples at `rate`, the stream's: an RVC voice resamples its own
    /// output straight to it when a block is whole there; our converter's stay at 16 kHz.
    pub(crate) fn set_output_rate(&mut self, rate: u32) {
        if let Self::Rvc(c) = self {
            c.set_output_rate(rate);
        }
    }

    /// The rate [`Self::process`]'s output is at.
    pub(crate) fn output_rate(&self) -> u32 {
        match self {
            Self::Mel(_) => RATE,
            Self::Rvc(c) => c.output_rate(),
        }
    }

    /// Converts one block ([`Self::block`] mono 16 kHz samples) into `out` (as long).
    pub(crate) fn process(&mut self, block: &[f32], out: &mut [f32]) -> Result<(), NeuralError> {
        match self {
            Self::Mel(c) => c.process(block, out),
            Self::Rvc(c) => c.process(block, out),
        }
    }
}

/// A converter of our signature and its rolling context.
#[derive(Debug)]
pub(crate) struct MelConverter {
    session: OnnxSession,
    front: MelFrontEnd,
    speaker: Vec<f32>,
    /// The last [`WINDOW`] input samples.
    recent: Vec<f32>,
    /// The last [`CONTEXT_FRAMES`] mel frames, oldest first.
    frames: VecDeque<[f32; MEL_BANDS]>,
    /// Model input, band-major (`[1, 80, frames]`).
    input: Vec<f32>,
    output: Vec<Vec<f32>>,
}

impl MelConverter {
    /// Opens `entry` of `catalog` after checking its manifest; `speaker` is the character's
    /// embedding (zeros when `None`).
    fn open(catalog: &Catalog, entry: &CatalogEntry, speaker: Option<&[f32]>) -> Result<Self, NeuralError> {
        let name = entry.model.name.as_str();
        check_manifest(entry)?;
        let speaker = match speaker {
            Some(v) if v.len() != SPEAKER_DIM => return Err(NeuralError::Speaker { got: v.len() }),
            Some(v) => v.to_vec(),
            None => vec![0.0; SPEAKER_DIM],
        };
        let session = OnnxSession::open(catalog, name, SessionOptions::default())?;
        let mut converter = Self {
            session,
            front: MelFrontEnd::new(),
            speaker,
            recent: vec![0.0; WINDOW],
            frames: VecDeque::with_capacity(CONTEXT_FRAMES),
            input: Vec::with_capacity(MEL_BANDS * CONTEXT_FRAMES),
            output: vec![Vec::new()],
        };
        converter.reset();
        Ok(converter)
    }

    /// `onnx:<name>@<version>`.
    fn algorithm(&self) -> String {
        let model = &self.session.entry().model;
        format!("onnx:{}@{}", model.name, model.version)
    }

    /// Forgets the input: silence before the next block.
    fn reset(&mut self) {
        self.recent.fill(0.0);
        let mut silent = [0.0f32; MEL_BANDS];
        self.front.frame(&self.recent, &mut silent);
        self.frames.clear();
        self.frames.extend(std::iter::repeat_n(silent, CONTEXT_FRAMES));
    }

    /// Converts one block of [`HOP`] mono 16 kHz samples into `out` ([`HOP`] long).
    fn process(&mut self, block: &[f32], out: &mut [f32]) -> Result<(), NeuralError> {
        self.recent.copy_within(HOP.., 0);
        self.recent[WINDOW - HOP..].copy_from_slice(&block[..HOP]);
        let mut frame = [0.0f32; MEL_BANDS];
        self.front.frame(&self.recent, &mut frame);
        self.frames.pop_front();
        self.frames.push_back(frame);
        self.input.clear();
        for band in 0..MEL_BANDS {
            self.input.extend(self.frames.iter().map(|f| f[band]));
        }
        let mel_shape = [1, MEL_BANDS as i64, CONTEXT_FRAMES as i64];
        let speaker_shape = [1, SPEAKER_DIM as i64];
        self.session.run_f32(
            &[
                TensorInput::F32 { shape: &mel_shape, data: &self.input },
                TensorInput::F32 { shape: &speaker_shape, data: &self.speaker },
            ],
            &mut self.output,
        )?;
        let wave = &self.output[0];
        let expected = CONTEXT_FRAMES * HOP;
        if wave.len() != expected {
            return Err(NeuralError::Output {
                name: self.session.entry().model.name.clone(),
                got: wave.len(),
                frames: CONTEXT_FRAMES,
                expected,
            });
        }
        for (o, v) in out.iter_mut().zip(&wave[expected - HOP..]) {
            *o = if v.is_finite() { *v } else { 0.0 };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_of_silence_is_the_floor_and_a_tone_lights_its_band() {
        let mut front = MelFrontEnd::new();
        let mut out = [0.0f32; MEL_BANDS];
        front.frame(&[0.0; WINDOW], &mut out);
        assert!(out.iter().all(|&v| v == -10.0), "{out:?}");
        let tone: Vec<f32> =
            (0..WINDOW).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin()).collect();
        front.frame(&tone, &mut out);
        let loudest = (0..MEL_BANDS).max_by(|&a, &b| out[a].total_cmp(&out[b])).unwrap_or(0);
        let centre = front.filters.centre_hz(loudest, 0.0, 8000.0);
        assert!((centre - 1000.0).abs() < 80.0, "band {loudest} at {centre} Hz");
    }
}
