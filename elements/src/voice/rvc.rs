// SPDX-License-Identifier: MPL-2.0
//! The RVC v2 path of the neural converter slot: a community voice with RVC v2's signature
//! (`reenact models import FILE --as voice`), fed the way RVC feeds it by the two models it
//! was trained with: the content model (ContentVec 768, `--as voice-content`) and the pitch
//! model (RMVPE, `--as voice-pitch`). No GStreamer here.
//!
//! Streaming: each [`BLOCK`] of the 16 kHz mono input, the three models see the last
//! [`WINDOW`] samples. The content features (50 frames a second) are repeated to the 10 ms
//! frames the voice works in; RMVPE's salience gives F0 per 10 ms frame (the local weighted
//! average around the peak, unvoiced under 0.03) and its coarse mel-scale bin; the voice
//! makes its own rate's samples for every frame. Each run's output stops one frame short of
//! the window's end, and that last frame is kept to be crossfaded (raised cosine) into the
//! next run's: consecutive runs see different windows, so their outputs do not join sample
//! for sample. As RVC's own real-time client does (SOLA), the join is searched for over one
//! more frame back: the start whose waveform best continues the kept frame (correlation over
//! the candidate's energy), so a voice whose phase depends on where its window starts is not
//! crossfaded against itself out of phase. The result is resampled straight to the stream's
//! rate when a block is a whole number of its samples (so a 40 or 48 kHz voice keeps its top
//! octave), else to 16 kHz, and queued. The block, the crossfade's frame, half the search (the join's mean shift), the
//! queue's head room and the frames a content model leaves short at the window's end are the
//! latency, reported as the element's.

use std::collections::VecDeque;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use reenact_models::{Catalog, CatalogEntry, OnnxSession, SessionOptions, TensorInput};

use super::neural::NeuralError;
use crate::analysis::mel::{periodic_hann, MelFilterbank};
use crate::lipsync::audio::Resampler;

/// Input samples per model run: 100 ms at 16 kHz.
pub(crate) const BLOCK: usize = 1600;
/// Input samples the models see per run: the block and 400 ms before it.
const WINDOW: usize = 8000;
/// Samples per 10 ms frame at 16 kHz: the pitch model's hop and the voice's frame.
const FRAME: usize = 160;
/// How many frames back the join with the previous run is searched: one holds a whole
/// period of any voice over 100 Hz.
const SEARCH_FRAMES: usize = 1;
/// Content features per frame.
const CONTENT_DIM: usize = 768;
/// RMVPE's front end: 1024-point window and FFT, 128 bands from 30 Hz to 8 kHz.
const PITCH_FFT: usize = 1024;
const PITCH_BANDS: usize = 128;
const PITCH_FMIN: f64 = 30.0;
const PITCH_FMAX: f64 = 8000.0;
/// RMVPE's frames are padded to a multiple of this.
const PITCH_FRAME_MULTIPLE: usize = 32;
/// Salience bins of 20 cents from [`CENTS_OFFSET`].
const PITCH_BINS: usize = 360;
const CENTS_OFFSET: f32 = 1_997.379_4;
/// Peak salience under which a frame is unvoiced.
const VOICING_THRESHOLD: f32 = 0.03;
/// Channels of the voice's noise input.
const NOISE_DIM: usize = 192;
/// 16 kHz samples (or as long at the output rate) queued ahead of the resampled voice: more
/// than the resampler holds back.
const HEAD_ROOM: usize = 64;
/// The rate the content and pitch models take.
const MODEL_RATE: u32 = super::neural::RATE;
/// The coarse pitch's range: mel-scale bins 1..255 between these frequencies.
const COARSE_HZ: (f32, f32) = (50.0, 1100.0);

/// Where in `voiced` (0..=`search`) the next run best continues `tail`, the previous run's
/// kept frame: the start whose samples correlate most with it, over their own energy (RVC's
/// offset search). After silence, or on a tie, `search`: the frames' own alignment.
fn join_offset(tail: &[f32], voiced: &[f32], search: usize) -> usize {
    let heard: f32 = tail.iter().map(|v| v * v).sum();
    if heard < 1e-6 || voiced.len() < search + tail.len() {
        return search;
    }
    let mut best = (search, f32::NEG_INFINITY);
    for start in (0..=search).rev() {
        let candidate = &voiced[start..start + tail.len()];
        let (dot, energy) = tail.iter().zip(candidate).fold((0.0, 0.0), |(d, e), (a, b)| (d + a * b, e + b * b));
        let score = dot / (energy + 1e-6f32).sqrt();
        if score > best.1 {
            best = (start, score);
        }
    }
    best.0
}

/// Whether `entry` is an RVC v2 voice: recognised as one on import, or declaring its six inputs.
pub(crate) fn is_rvc(entry: &CatalogEntry) -> bool {
    let model = &entry.model;
    model.signature.as_deref() == Some("rvc_v2")
        || (model.inputs.len() == 6 && model.inputs[0].shape.as_deref() == Some(&[1, -1, CONTENT_DIM as i64]))
}

/// RMVPE's log-mel frames of a window: centred (reflect-padded by half the FFT), periodic
/// Hann, magnitude, HTK-scale bands, `ln(max(x, 1e-5))`.
struct PitchFrontEnd {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    filters: MelFilterbank,
    input: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    magnitude: Vec<f32>,
    band: Vec<f32>,
}

impl PitchFrontEnd {
    fn new() -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(PITCH_FFT);
        let window = periodic_hann(PITCH_FFT);
        PitchFrontEnd {
            input: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            magnitude: vec![0.0; PITCH_FFT / 2 + 1],
            band: vec![0.0; PITCH_BANDS],
            filters: MelFilterbank::htk(16_000, PITCH_FFT, PITCH_BANDS, PITCH_FMIN, PITCH_FMAX),
            window,
            fft,
        }
    }

    /// The frames of `samples`, band-major (`[128, padded]`), and how many are real (the rest
    /// mirror the last ones up to a multiple of [`PITCH_FRAME_MULTIPLE`]).
    fn frames(&mut self, samples: &[f32]) -> (Vec<f32>, usize, usize) {
        let frames = samples.len() / FRAME + 1;
        let padded = frames.div_ceil(PITCH_FRAME_MULTIPLE) * PITCH_FRAME_MULTIPLE;
        let half = PITCH_FFT / 2;
        let reflect = |i: isize| -> f32 {
            let n = samples.len() as isize;
            let j = if i < 0 {
                -i
            } else if i >= n {
                2 * (n - 1) - i
            } else {
                i
            };
            samples[j.clamp(0, n - 1) as usize]
        };
        let mut out = vec![0.0; PITCH_BANDS * padded];
        for f in 0..frames {
            let start = (f * FRAME) as isize - half as isize;
            for (k, (x, w)) in self.input.iter_mut().zip(&self.window).enumerate() {
                *x = reflect(start + k as isize) * w;
            }
            if self.fft.process(&mut self.input, &mut self.spectrum).is_err() {
                self.spectrum.fill(Complex::new(0.0, 0.0));
            }
            for (m, c) in self.magnitude.iter_mut().zip(&self.spectrum) {
                *m = c.norm();
            }
            self.filters.apply(&self.magnitude, &mut self.band);
            for (b, v) in self.band.iter().enumerate() {
                out[b * padded + f] = v.max(1e-5).ln();
            }
        }
        // Past the real frames RMVPE's caller mirrors the frames themselves.
        for band in out.chunks_exact_mut(padded) {
            for f in frames..padded {
                band[f] = band[(2 * (frames - 1)).saturating_sub(f)];
            }
        }
        (out, frames, padded)
    }
}

/// F0 in Hz of one frame's salience: the weighted average of the cents of the nine bins
/// around the peak; 0 (unvoiced) when the peak is under [`VOICING_THRESHOLD`].
fn decode_f0(salience: &[f32]) -> f32 {
    let (peak, &max) = salience.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap_or((0, &0.0));
    if max <= VOICING_THRESHOLD {
        return 0.0;
    }
    let (from, to) = (peak.saturating_sub(4), (peak + 5).min(salience.len()));
    let (mut sum, mut weight) = (0.0f32, 0.0f32);
    for (bin, &s) in salience.iter().enumerate().take(to).skip(from) {
        sum += s * (20.0 * bin as f32 + CENTS_OFFSET);
        weight += s;
    }
    10.0 * 2f32.powf(sum / weight / 1200.0)
}

/// RVC's coarse pitch: F0's mel value mapped to bins 1..255 over [`COARSE_HZ`], 1 when unvoiced.
fn coarse(f0: f32) -> i64 {
    let mel = |hz: f32| 1127.0 * (1.0 + hz / 700.0).ln();
    let (lo, hi) = (mel(COARSE_HZ.0), mel(COARSE_HZ.1));
    if f0 <= 0.0 {
        return 1;
    }
    let bin = (mel(f0) - lo) * 254.0 / (hi - lo) + 1.0;
    bin.round().clamp(1.0, 255.0) as i64
}

/// Standard normal noise for the voice's `rnd` input: xorshift64* through Box-Muller, seeded
/// so that a render is the same every time.
#[derive(Debug)]
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        (bits as f32 + 0.5) / (1u64 << 24) as f32
    }

    fn fill(&mut self, out: &mut [f32]) {
        for pair in out.chunks_mut(2) {
            let (u, v) = (self.uniform(), self.uniform());
            let r = (-2.0 * u.ln()).sqrt();
            let angle = 2.0 * std::f32::consts::PI * v;
            pair[0] = r * angle.cos();
            if let Some(second) = pair.get_mut(1) {
                *second = r * angle.sin();
            }
        }
    }
}

/// One opened RVC voice with its content and pitch models, and its rolling context.
pub(crate) struct RvcConverter {
    voice: OnnxSession,
    content: OnnxSession,
    pitch: OnnxSession,
    /// The voice's output rate.
    rate: u32,
    speaker: i64,
    /// The content model's output is `[1, 768, T]` (else `[1, T, 768]`), its input `[1, 1, N]` (else `[1, N]`).
    content_channels_first: bool,
    content_input_rank: usize,
    front: PitchFrontEnd,
    noise: Noise,
    /// The last [`WINDOW`] input samples.
    recent: Vec<f32>,
    resampler: Resampler,
    /// The rate the converted samples leave at: the stream's, or 16 kHz.
    out_rate: u32,
    /// Converted samples waiting to leave, at `out_rate`.
    queue: VecDeque<f32>,
    /// Frames the voice made for a window, found by a first run on silence.
    frames: usize,
    outputs: [Vec<Vec<f32>>; 3],
    resampled: Vec<f32>,
    /// The last frame of the previous run's output, at the voice's rate, faded into the next.
    tail: Vec<f32>,
}

impl std::fmt::Debug for RvcConverter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RvcConverter")
            .field("voice", &self.voice.entry().model.name)
            .field("content", &self.content.entry().model.name)
            .field("pitch", &self.pitch.entry().model.name)
            .field("rate", &self.rate)
            .field("speaker", &self.speaker)
            .finish_non_exhaustive()
    }
}

impl RvcConverter {
    /// Opens the voice `entry` of `catalog` with the catalog's content and pitch models, as
    /// speaker `speaker`, and runs it once on silence.
    pub(crate) fn open(catalog: &Catalog, entry: &CatalogEntry, speaker: u32) -> Result<Self, NeuralError> {
        entry.check_speaker(speaker).map_err(NeuralError::NoSuchSpeaker)?;
        let name = entry.model.name.clone();
        let rate = entry
            .model
            .outputs
            .first()
            .and_then(|o| o.extra.get("sample_rate"))
            .and_then(|v| v.as_integer())
            .and_then(|r| u32::try_from(r).ok())
            .filter(|r| (8000..=96_000).contains(r))
            .ok_or_else(|| NeuralError::NoSampleRate {
                name: name.clone(),
                manifest: entry.manifest.display().to_string(),
            })?;
        let missing = |what, flag| NeuralError::MissingCompanion { voice: name.clone(), what, flag };
        let content =
            catalog.first_of("contentvec_768", "voice_content").ok_or_else(|| missing("content", "voice-content"))?;
        let pitch = catalog.first_of("rmvpe", "voice_pitch").ok_or_else(|| missing("pitch", "voice-pitch"))?;
        let content_out = content.model.outputs.first().and_then(|o| o.shape.clone()).unwrap_or_default();
        let content_in = content.model.inputs.first().and_then(|i| i.shape.as_ref()).map_or(2, Vec::len);
        let open = |n: &str| OnnxSession::open(catalog, n, SessionOptions::default());
        let outputs = [
            vec![Vec::new(); entry.model.outputs.len()],
            vec![Vec::new(); content.model.outputs.len()],
            vec![Vec::new(); pitch.model.outputs.len()],
        ];
        let mut converter = RvcConverter {
            voice: open(&name)?,
            content: open(&content.model.name)?,
            pitch: open(&pitch.model.name)?,
            rate,
            speaker: i64::from(speaker),
            content_channels_first: content_out.get(1) == Some(&(CONTENT_DIM as i64)),
            content_input_rank: content_in,
            front: PitchFrontEnd::new(),
            noise: Noise(0x9E37_79B9_7F4A_7C15),
            recent: vec![0.0; WINDOW],
            resampler: Resampler::new(rate),
            out_rate: MODEL_RATE,
            queue: VecDeque::new(),
            frames: WINDOW / FRAME,
            outputs,
            resampled: Vec::new(),
            tail: vec![0.0; rate as usize / 100],
        };
        converter.frames = converter.convert()?.1;
        converter.reset();
        Ok(converter)
    }

    /// `onnx:<voice>@<version>+<content>+<pitch> on <EP>`.
    pub(crate) fn algorithm(&self) -> String {
        let model = |s: &OnnxSession| format!("{}@{}", s.entry().model.name, s.entry().model.version);
        format!(
            "onnx:{}+{}+{} on {:?}",
            model(&self.voice),
            model(&self.content),
            model(&self.pitch),
            self.voice.provider()
        )
    }

    /// Input samples from a block's arrival to its converted sound leaving: the block, the
    /// crossfade's frame, half the join's search (it takes sound from up to a frame earlier),
    /// the queue's head room and what the content model leaves short at the window's end.
    pub(crate) fn latency(&self) -> usize {
        BLOCK + FRAME + SEARCH_FRAMES * FRAME / 2 + HEAD_ROOM + (WINDOW / FRAME - self.frames) * FRAME
    }

    /// Makes the converted samples leave at `rate` (the stream's) when a block is a whole
    /// number of its samples, else at 16 kHz; forgets the input. Returns the rate chosen.
    pub(crate) fn set_output_rate(&mut self, rate: u32) -> u32 {
        let whole = (BLOCK * rate as usize).is_multiple_of(MODEL_RATE as usize);
        self.out_rate = if whole && rate > 0 { rate } else { MODEL_RATE };
        self.reset();
        self.out_rate
    }

    /// The rate the converted samples leave at.
    pub(crate) fn output_rate(&self) -> u32 {
        self.out_rate
    }

    /// Forgets the input: silence before the next block.
    pub(crate) fn reset(&mut self) {
        self.recent.fill(0.0);
        self.tail.fill(0.0);
        self.resampler = Resampler::between(self.rate, self.out_rate);
        self.queue.clear();
        let room = HEAD_ROOM * self.out_rate as usize / MODEL_RATE as usize;
        self.queue.extend(std::iter::repeat_n(0.0, room));
    }

    /// Converts one [`BLOCK`] of mono 16 kHz samples into `out` (a block's duration at the
    /// output rate: [`BLOCK`] samples at 16 kHz, 4800 at 48 kHz).
    pub(crate) fn process(&mut self, block: &[f32], out: &mut [f32]) -> Result<(), NeuralError> {
        self.recent.copy_within(BLOCK.., 0);
        self.recent[WINDOW - BLOCK..].copy_from_slice(&block[..BLOCK]);
        let (voiced, _) = self.convert()?;
        let cross = self.tail.len();
        let spoken_len = BLOCK / FRAME * cross + cross;
        let search = voiced.len().saturating_sub(spoken_len).min(SEARCH_FRAMES * cross);
        let start = join_offset(&self.tail, &voiced, search);
        let mut spoken = voiced[start..].to_vec();
        spoken.truncate(spoken_len);
        let tail = spoken.split_off(spoken.len().saturating_sub(cross));
        for (i, (v, old)) in spoken.iter_mut().zip(&self.tail).enumerate() {
            let w = 0.5 - 0.5 * (std::f32::consts::PI * (i as f32 + 0.5) / cross as f32).cos();
            *v = old * (1.0 - w) + *v * w;
        }
        self.tail = tail;
        self.resampled.clear();
        self.resampler.process(&spoken, &mut self.resampled);
        self.queue.extend(self.resampled.iter().map(|v| if v.is_finite() { *v } else { 0.0 }));
        for o in out.iter_mut() {
            *o = self.queue.pop_front().unwrap_or(0.0);
        }
        Ok(())
    }

    /// The voice's samples for the window's last [`BLOCK`] of frames and those before them that
    /// the crossfade and the join's search need, and the frames it made.
    fn convert(&mut self) -> Result<(Vec<f32>, usize), NeuralError> {
        let features = self.content_features()?;
        let f0 = self.pitch_track()?;
        let frames = (2 * features.len() / CONTENT_DIM).min(WINDOW / FRAME).min(f0.len());
        let mut phone = Vec::with_capacity(frames * CONTENT_DIM);
        for i in 0..frames {
            phone.extend_from_slice(&features[(i / 2) * CONTENT_DIM..(i / 2 + 1) * CONTENT_DIM]);
        }
        let pitchf = &f0[..frames];
        let pitch: Vec<i64> = pitchf.iter().map(|&f| coarse(f)).collect();
        let mut noise = vec![0.0; NOISE_DIM * frames];
        self.noise.fill(&mut noise);
        let t = frames as i64;
        self.voice.run_f32(
            &[
                TensorInput::F32 { shape: &[1, t, CONTENT_DIM as i64], data: &phone },
                TensorInput::I64 { shape: &[1], data: &[t] },
                TensorInput::I64 { shape: &[1, t], data: &pitch },
                TensorInput::F32 { shape: &[1, t], data: pitchf },
                TensorInput::I64 { shape: &[1], data: &[self.speaker] },
                TensorInput::F32 { shape: &[1, NOISE_DIM as i64, t], data: &noise },
            ],
            &mut self.outputs[0],
        )?;
        let hop = self.rate as usize / 100;
        let audio = &self.outputs[0][0];
        if audio.len() != frames * hop {
            return Err(NeuralError::Output {
                name: self.voice.entry().model.name.clone(),
                got: audio.len(),
                frames,
                expected: frames * hop,
            });
        }
        let keep = (BLOCK / FRAME + 1 + SEARCH_FRAMES).min(frames) * hop;
        Ok((audio[audio.len() - keep..].to_vec(), frames))
    }

    /// The content model's features for the window, frames first (`T x 768`).
    fn content_features(&mut self) -> Result<Vec<f32>, NeuralError> {
        let shape: &[i64] = if self.content_input_rank == 3 { &[1, 1, WINDOW as i64] } else { &[1, WINDOW as i64] };
        self.content.run_f32(&[TensorInput::F32 { shape, data: &self.recent }], &mut self.outputs[1])?;
        let raw = &self.outputs[1][0];
        let t = raw.len() / CONTENT_DIM;
        if !self.content_channels_first {
            return Ok(raw[..t * CONTENT_DIM].to_vec());
        }
        let mut frames = vec![0.0; t * CONTENT_DIM];
        for c in 0..CONTENT_DIM {
            for i in 0..t {
                frames[i * CONTENT_DIM + c] = raw[c * t + i];
            }
        }
        Ok(frames)
    }

    /// F0 in Hz per 10 ms frame of the window (0 = unvoiced).
    fn pitch_track(&mut self) -> Result<Vec<f32>, NeuralError> {
        let (mel, frames, padded) = self.front.frames(&self.recent);
        let shape = [1, PITCH_BANDS as i64, padded as i64];
        self.pitch.run_f32(&[TensorInput::F32 { shape: &shape, data: &mel }], &mut self.outputs[2])?;
        let salience = &self.outputs[2][0];
        if salience.len() < frames * PITCH_BINS {
            return Err(NeuralError::Output {
                name: self.pitch.entry().model.name.clone(),
                got: salience.len(),
                frames,
                expected: padded * PITCH_BINS,
            });
        }
        Ok(salience.chunks_exact(PITCH_BINS).take(frames).map(decode_f0).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_join_is_found_where_the_waveform_goes_on_and_kept_in_place_after_silence() {
        let wave = |from: usize, n: usize| -> Vec<f32> {
            (from..from + n).map(|i| (2.0 * std::f32::consts::PI * 205.0 * i as f32 / 40_000.0).sin()).collect()
        };
        // The kept frame is the wave from sample 1000; the next run's samples start 1000 - 313
        // samples in, so the wave goes on at offset 313 (the search covers one 400-sample frame).
        let tail = wave(1000, 400);
        let voiced = wave(687, 1200);
        assert_eq!(join_offset(&tail, &voiced, 400), 313);
        // Louder or quieter, the same place: the score is over the candidate's energy.
        let louder: Vec<f32> = voiced.iter().map(|v| v * 3.0).collect();
        assert_eq!(join_offset(&tail, &louder, 400), 313);
        assert_eq!(join_offset(&[0.0; 400], &voiced, 400), 400, "after silence: the frames' own alignment");
    }

    #[test]
    fn f0_is_read_between_the_bins_and_unvoiced_under_the_threshold() {
        let mut salience = vec![0.0f32; PITCH_BINS];
        // 220 Hz is 3804.2 cents above 10 Hz: bin 90.35.
        salience[90] = 0.8;
        salience[91] = 0.3;
        let f0 = decode_f0(&salience);
        let expected = 10.0 * 2f32.powf((0.8 * 3797.38 + 0.3 * 3817.38) / 1.1 / 1200.0);
        assert!((f0 - expected).abs() < 0.01, "{f0} Hz, expected {expected}");
        salience.fill(0.02);
        assert_eq!(decode_f0(&salience), 0.0);
    }

    #[test]
    fn coarse_pitch_spans_1_to_255() {
        assert_eq!(coarse(0.0), 1);
        assert_eq!(coarse(50.0), 1);
        assert_eq!(coarse(1100.0), 255);
        assert_eq!(coarse(5000.0), 255);
        let mid = coarse(300.0);
        assert!((80..90).contains(&mid), "{mid}");
    }

    #[test]
    fn noise_is_standard_normal() {
        let mut noise = Noise(7);
        let mut v = vec![0.0f32; 20_000];
        noise.fill(&mut v);
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / v.len() as f32;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean}, variance {var}");
    }
}
