// SPDX-License-Identifier: MPL-2.0
//! The mel window a Wav2Lip-style model takes, computed as Wav2Lip's `audio.melspectrogram`
//! does on 16 kHz audio: pre-emphasis 0.97, STFT with an 800-sample periodic Hann window, 800
//! points, hop 200 (80 frames per second, frame `k` centred on sample `200 k`, zeros outside
//! the stream), magnitude, 80 Slaney mel bands over 55..7600 Hz (Slaney area normalisation,
//! as librosa), `20 log10(max(1e-5, mel)) - 20` dB, then normalised symmetrically to -4..4
//! over -100..0 dB. A window is 16 frames (200 ms), stored band-major as the model's
//! [1, 1, 80, 16] input. No GStreamer here.

use std::fmt;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::audio::{AudioTimeline, RATE};
use crate::analysis::mel::{periodic_hann, MelFilterbank};

/// Mel bands.
pub(super) const BANDS: usize = 80;

/// Frames per window.
pub(super) const FRAMES: usize = 16;

/// Samples per frame hop (12.5 ms).
pub(super) const HOP: usize = 200;

/// STFT window and FFT length (50 ms).
pub(super) const N_FFT: usize = 800;

const PRE_EMPHASIS: f32 = 0.97;
const F_MIN: f64 = 55.0;
const F_MAX: f64 = 7600.0;
const MIN_LEVEL_DB: f32 = -100.0;
const REF_LEVEL_DB: f32 = 20.0;
const MAX_ABS: f32 = 4.0;

/// librosa's `filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)`.
fn mel_bank() -> MelFilterbank {
    MelFilterbank::slaney(RATE, N_FFT, BANDS, F_MIN, F_MAX)
}

/// Computes mel windows from the 16 kHz stream.
pub(super) struct MelWindow {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    bank: MelFilterbank,
    mel: Vec<f32>,
    frame: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    magnitude: Vec<f32>,
}

impl fmt::Debug for MelWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MelWindow").field("bands", &self.bank.len()).finish()
    }
}

impl Default for MelWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl MelWindow {
    /// The window's tables.
    pub(super) fn new() -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        Self {
            frame: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            // Periodic Hann, as scipy's get_window("hann", 800, fftbins=True).
            window: periodic_hann(N_FFT),
            bank: mel_bank(),
            mel: vec![0.0; BANDS],
            magnitude: vec![0.0; N_FFT / 2 + 1],
        }
    }

    /// Fills `out` (80 x 16, band-major) with frames `first..first + 16`.
    pub(super) fn compute(&mut self, timeline: &AudioTimeline, first: i64, out: &mut Vec<f32>) {
        out.clear();
        out.resize(BANDS * FRAMES, -MAX_ABS);
        for f in 0..FRAMES {
            let start = (first + f as i64) * HOP as i64 - (N_FFT / 2) as i64;
            for (n, (x, w)) in self.frame.iter_mut().zip(&self.window).enumerate() {
                let i = start + n as i64;
                *x = (timeline.sample(i) - PRE_EMPHASIS * timeline.sample(i - 1)) * w;
            }
            if self.fft.process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch).is_err() {
                continue;
            }
            for (m, c) in self.magnitude.iter_mut().zip(&self.spectrum) {
                *m = c.norm();
            }
            self.bank.apply(&self.magnitude, &mut self.mel);
            for (b, &mel) in self.mel.iter().enumerate() {
                let db = 20.0 * mel.max(1e-5).log10() - REF_LEVEL_DB;
                let norm = 2.0 * MAX_ABS * (db - MIN_LEVEL_DB) / -MIN_LEVEL_DB - MAX_ABS;
                out[b * FRAMES + f] = norm.clamp(-MAX_ABS, MAX_ABS);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::audio::{InputFormat, SampleFormat};
    use super::*;

    #[test]
    fn silence_is_the_floor_and_a_tone_lights_its_band() {
        let mut t = AudioTimeline::default();
        t.set_format(InputFormat { format: SampleFormat::F32, rate: RATE, channels: 1 });
        let mut audio = vec![0.0f32; RATE as usize / 2];
        audio.extend(
            (0..RATE as usize / 2).map(|n| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 16000.0).sin()),
        );
        let bytes: Vec<u8> = audio.iter().flat_map(|v| v.to_le_bytes()).collect();
        t.push(Some(0), &bytes);
        let mut mel = MelWindow::new();
        let mut out = Vec::new();
        mel.compute(&t, 5, &mut out);
        assert!(out.iter().all(|&v| v == -MAX_ABS), "silence at the floor");
        // Frames 50..66 lie in the tone (0.625..0.825 s).
        mel.compute(&t, 50, &mut out);
        let band = (0..BANDS).max_by(|&a, &b| out[a * FRAMES].total_cmp(&out[b * FRAMES])).expect("bands");
        let centre = mel_bank().centre_hz(band, F_MIN, F_MAX);
        assert!((centre - 1000.0).abs() < 60.0, "loudest band at {centre} Hz");
        assert!(out[band * FRAMES] > 1.5, "{}", out[band * FRAMES]);
    }
}
