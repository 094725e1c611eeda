// SPDX-License-Identifier: MPL-2.0
//! The whole conversion of interleaved samples with one fixed delay: input is cut into blocks,
//! each block goes through the wet path (per channel: [`PitchShifter`] then [`EnvelopeWarp`];
//! or the neural converter on the mono downmix), the dry input goes through a delay line of the
//! same length, and `mix` crossfades the two sample-aligned. One output sample leaves for each
//! input sample, so buffers keep their size and timestamps. No GStreamer here.

use std::collections::VecDeque;

use super::envelope::EnvelopeWarp;
use super::neural::{self, NeuralConverter, NeuralError};
use super::shifter::PitchShifter;
use super::tracker::Tracker;
use crate::character::VoiceProfile;
use crate::lipsync::audio::Resampler;

/// Classical block (and STFT hop), seconds.
pub(crate) const BLOCK_SECONDS: f64 = 0.004;

/// Mean delay of the grain pitch shifter, seconds.
pub(crate) const SHIFTER_SECONDS: f64 = 0.016;

/// Name and revision of the classical algorithm, as the `algorithm` property reports it.
pub(crate) const CLASSICAL_ALGORITHM: &str = "classical:wsola-lpc/1";

/// Pitch limits, semitones.
pub(crate) const MAX_SEMITONES: f64 = 24.0;

/// Formant ratio limits.
pub(crate) const FORMANT_LIMITS: (f64, f64) = (0.5, 2.0);

/// Time constant of the character-derived shift as the performer's medians move, seconds.
const AUTO_SMOOTHING_SECONDS: f64 = 0.3;

/// What the wet path should do for the next samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Controls {
    /// Pitch shift, semitones; added to the character-derived shift when `auto`.
    pub(crate) semitones: f64,
    /// Formant ratio; multiplied with the character-derived ratio when `auto`.
    pub(crate) formant: f64,
    /// Share of the wet signal, 0 (dry) ..1 (wet).
    pub(crate) mix: f64,
    /// Whether the voice profile (when there is one) drives the shift.
    pub(crate) auto: bool,
}

/// One channel of the classical path.
#[derive(Debug)]
struct Chain {
    shifter: PitchShifter,
    warp: EnvelopeWarp,
}

#[derive(Debug)]
enum Wet {
    Classical(Vec<Chain>),
    /// The converter itself is lent to each call (it outlives renegotiation).
    Neural(Box<Bridge>),
}

/// 16 kHz samples the model's input starts with when the stream is at another rate, and as
/// many (at the stream's rate) its converted output starts with: room for what the two
/// resamplers hold back, so that every block finds a whole block of each waiting.
const BRIDGE_ROOM_16K: usize = 64;

/// The neural path at the stream's rate: the downmix resampled to the model's 16 kHz, cut
/// into the converter's blocks, and its output resampled back (both passthrough at 16 kHz),
/// unless the converter gives it at the stream's rate already (an RVC voice).
#[derive(Debug)]
struct Bridge {
    rate: u32,
    /// Samples per converter call at 16 kHz.
    model_block: usize,
    down: Resampler,
    up: Resampler,
    /// 16 kHz input not yet a whole converter block.
    model_in: Vec<f32>,
    /// Converted samples at the stream's rate, waiting to leave.
    wet: VecDeque<f32>,
    scratch: Vec<f32>,
    converted: Vec<f32>,
}

impl Bridge {
    /// Fresh resamplers, and the room of zeros each queue starts with.
    fn new(rate: u32, model_block: usize) -> Self {
        let (room_in, room_out) = Self::room(rate);
        Bridge {
            rate,
            model_block,
            down: Resampler::between(rate, neural::RATE),
            up: Resampler::between(neural::RATE, rate),
            model_in: vec![0.0; room_in],
            wet: std::iter::repeat_n(0.0, room_out).collect(),
            scratch: Vec::new(),
            converted: vec![0.0; model_block],
        }
    }

    /// The room at 16 kHz, and at the stream's rate (none at 16 kHz: nothing to hold back).
    fn room(rate: u32) -> (usize, usize) {
        if rate == neural::RATE {
            (0, 0)
        } else {
            (BRIDGE_ROOM_16K, BRIDGE_ROOM_16K * rate as usize / neural::RATE as usize)
        }
    }

    /// Feeds one block of the downmix; `out` (as long) gets as many converted samples.
    fn process(
        &mut self,
        mono: &[f32],
        out: &mut [f32],
        mut converter: Option<&mut NeuralConverter>,
    ) -> Result<(), NeuralError> {
        self.scratch.clear();
        self.down.process(mono, &mut self.scratch);
        self.model_in.extend_from_slice(&self.scratch);
        let mut used = 0;
        // A converter that already speaks at the stream's rate skips the way back up.
        let native = self.rate != neural::RATE && converter.as_deref().is_some_and(|c| c.output_rate() == self.rate);
        let converted =
            if native { self.model_block * self.rate as usize / neural::RATE as usize } else { self.model_block };
        self.converted.resize(converted, 0.0);
        while self.model_in.len() - used >= self.model_block {
            let block = &self.model_in[used..used + self.model_block];
            match converter.as_deref_mut() {
                Some(converter) => converter.process(block, &mut self.converted)?,
                None => self.converted.fill(0.0),
            }
            used += self.model_block;
            if native {
                self.wet.extend(self.converted.iter());
            } else {
                self.scratch.clear();
                self.up.process(&self.converted, &mut self.scratch);
                self.wet.extend(self.scratch.iter());
            }
        }
        self.model_in.drain(..used);
        for o in out.iter_mut() {
            *o = self.wet.pop_front().unwrap_or(0.0);
        }
        Ok(())
    }
}

/// Converter state for one negotiated format.
#[derive(Debug)]
pub(crate) struct Processor {
    rate: u32,
    channels: usize,
    /// Frames per block.
    block: usize,
    /// Total delay in frames.
    latency: usize,
    wet: Wet,
    /// Interleaved input not yet a whole block.
    pending: Vec<f32>,
    /// Interleaved wet output waiting to leave.
    ready: VecDeque<f32>,
    /// Interleaved dry delay line, `latency` frames.
    dry: VecDeque<f32>,
    /// The performer's measurements and the profile they are compared with.
    tracker: Option<(Tracker, VoiceProfile)>,
    /// Smoothed character-derived semitones and log formant ratio.
    auto: Option<(f64, f64)>,
    /// Mix reached at the end of the last call; NaN before the first.
    mix: f64,
    /// Scratch: one block of mono, of one channel, and of one channel's two stages.
    mono: Vec<f32>,
    channel: Vec<f32>,
    shifted: Vec<f32>,
    converted: Vec<f32>,
}

impl Processor {
    /// The classical path for `rate` Hz and `channels` (each processed on its own, with the
    /// same shift); `profile` drives the shift when `Controls::auto` is set.
    pub(crate) fn classical(rate: u32, channels: usize, profile: Option<VoiceProfile>) -> Self {
        let block = ((f64::from(rate) * BLOCK_SECONDS).round() as usize).max(1);
        let centre = (f64::from(rate) * SHIFTER_SECONDS).round() as usize;
        let chains: Vec<Chain> = (0..channels)
            .map(|_| Chain { shifter: PitchShifter::new(rate, centre), warp: EnvelopeWarp::new(rate) })
            .collect();
        // The ready queue starts one block full (so any buffer size can be answered at once),
        // the shifter adds its mean delay, the warp none.
        let latency = block + centre;
        Self::with(rate, channels, block, latency, Wet::Classical(chains), profile)
    }

    /// The neural path (mono downmix, result on every channel) at `rate`, for a converter of
    /// `model_block`s of 16 kHz samples delayed by `model_latency` (16 kHz samples, its block
    /// included). Other rates are bridged to the model's by resampling both ways; a rate at
    /// which a converter block is not a whole number of samples is refused.
    pub(crate) fn neural(rate: u32, channels: usize, model_block: usize, model_latency: usize) -> Option<Self> {
        let scaled = model_block * rate as usize;
        if !scaled.is_multiple_of(neural::RATE as usize) {
            return None;
        }
        let block = scaled / neural::RATE as usize;
        let (room_in, room_out) = Bridge::room(rate);
        // The converter's own delay past its block, and the bridge's room, at the stream's rate.
        let inner = (model_latency - model_block + room_in) as f64 * f64::from(rate) / f64::from(neural::RATE);
        let latency = block + inner.round() as usize + room_out;
        let bridge = Box::new(Bridge::new(rate, model_block));
        Some(Self::with(rate, channels, block, latency, Wet::Neural(bridge), None))
    }

    fn with(rate: u32, channels: usize, block: usize, latency: usize, wet: Wet, profile: Option<VoiceProfile>) -> Self {
        let channels = channels.max(1);
        let mut processor = Self {
            rate,
            channels,
            block,
            latency,
            wet,
            pending: Vec::with_capacity(2 * block * channels),
            ready: VecDeque::new(),
            dry: VecDeque::new(),
            tracker: profile.map(|p| (Tracker::new(rate), p)),
            auto: None,
            mix: f64::NAN,
            mono: vec![0.0; block],
            channel: vec![0.0; block],
            shifted: vec![0.0; block],
            converted: vec![0.0; block],
        };
        processor.clear();
        processor
    }

    /// Total delay of the output against the input, frames.
    pub(crate) fn latency(&self) -> usize {
        self.latency
    }

    /// Interleaved channels.
    pub(crate) fn channels(&self) -> usize {
        self.channels
    }

    /// Sample rate this processor was built for.
    pub(crate) fn rate(&self) -> u32 {
        self.rate
    }

    /// Empties the queues and delay lines (after a flush); the performer's medians are kept.
    pub(crate) fn reset(&mut self) {
        if let Wet::Classical(chains) = &mut self.wet {
            let centre = chains.first().map_or(0, |c| c.shifter.latency());
            for chain in chains.iter_mut() {
                *chain = Chain { shifter: PitchShifter::new(self.rate, centre), warp: EnvelopeWarp::new(self.rate) };
            }
        }
        self.clear();
    }

    fn clear(&mut self) {
        if let Wet::Neural(bridge) = &mut self.wet {
            **bridge = Bridge::new(bridge.rate, bridge.model_block);
        }
        self.pending.clear();
        self.ready.clear();
        self.ready.extend(std::iter::repeat_n(0.0, self.block * self.channels));
        self.dry.clear();
        self.dry.extend(std::iter::repeat_n(0.0, self.latency * self.channels));
    }

    /// Converts interleaved `input` into `output` (same length): `output` is the input delayed
    /// by [`Self::latency`] frames, wet and dry mixed by `controls.mix` (ramped from the
    /// previous call's value over this call).
    pub(crate) fn process(
        &mut self,
        input: &[f32],
        output: &mut [f32],
        controls: Controls,
        mut converter: Option<&mut NeuralConverter>,
    ) -> Result<(), NeuralError> {
        let ch = self.channels;
        self.pending.extend_from_slice(input);
        let block_len = self.block * ch;
        let mut start = 0;
        while self.pending.len() - start >= block_len {
            let block: Vec<f32> = self.pending[start..start + block_len].to_vec();
            self.process_block(&block, controls, converter.as_deref_mut())?;
            start += block_len;
        }
        self.pending.drain(..start);

        let frames = input.len() / ch;
        let target = controls.mix.clamp(0.0, 1.0);
        let from = if self.mix.is_nan() { target } else { self.mix };
        for (f, (inp, out)) in input.chunks_exact(ch).zip(output.chunks_exact_mut(ch)).enumerate() {
            let m = from + (target - from) * (f + 1) as f64 / frames as f64;
            let m = m as f32;
            for (x, y) in inp.iter().zip(out.iter_mut()) {
                self.dry.push_back(*x);
                let dry = self.dry.pop_front().unwrap_or(0.0);
                let wet = self.ready.pop_front().unwrap_or(0.0);
                *y = if m == 0.0 { dry } else { dry * (1.0 - m) + wet * m };
            }
        }
        self.mix = target;
        Ok(())
    }

    fn process_block(
        &mut self,
        block: &[f32],
        controls: Controls,
        converter: Option<&mut NeuralConverter>,
    ) -> Result<(), NeuralError> {
        let ch = self.channels;
        for (m, frame) in self.mono.iter_mut().zip(block.chunks_exact(ch)) {
            *m = frame.iter().sum::<f32>() / ch as f32;
        }
        if let Wet::Neural(bridge) = &mut self.wet {
            bridge.process(&self.mono, &mut self.converted, converter)?;
            for &v in &self.converted {
                self.ready.extend(std::iter::repeat_n(v, ch));
            }
            return Ok(());
        }

        let (semitones, formant) = self.shift(controls);
        let ratio = 2f64.powf(semitones / 12.0);
        let warp = ratio / formant;
        let start = self.ready.len();
        self.ready.extend(std::iter::repeat_n(0.0, block.len()));
        let Wet::Classical(chains) = &mut self.wet else { return Ok(()) };
        for (c, chain) in chains.iter_mut().enumerate() {
            for (v, frame) in self.channel.iter_mut().zip(block.chunks_exact(ch)) {
                *v = frame[c];
            }
            chain.shifter.process(&self.channel, &mut self.shifted, ratio);
            chain.warp.process(&self.shifted, ratio, warp, &mut self.converted);
            for (i, v) in self.converted.iter().enumerate() {
                self.ready[start + i * ch + c] = *v;
            }
        }
        Ok(())
    }

    /// Semitones and formant ratio for the next block: the controls, plus the smoothed
    /// character-derived shift when `auto` and a profile is set; clamped to the limits.
    fn shift(&mut self, controls: Controls) -> (f64, f64) {
        let (mut semitones, mut log_formant) = (controls.semitones, controls.formant.max(1e-3).ln());
        if let (true, Some((tracker, profile))) = (controls.auto, self.tracker.as_mut()) {
            tracker.push(&self.mono);
            let (s, f) = tracker.targets(profile);
            let target = (s, f.ln());
            let k = 1.0 - (-(self.block as f64) / f64::from(self.rate) / AUTO_SMOOTHING_SECONDS).exp();
            let auto = match self.auto {
                None => target,
                Some((s0, f0)) => (s0 + k * (target.0 - s0), f0 + k * (target.1 - f0)),
            };
            self.auto = Some(auto);
            semitones += auto.0;
            log_formant += auto.1;
        }
        (semitones.clamp(-MAX_SEMITONES, MAX_SEMITONES), log_formant.exp().clamp(FORMANT_LIMITS.0, FORMANT_LIMITS.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEUTRAL: Controls = Controls { semitones: 0.0, formant: 1.0, mix: 1.0, auto: true };

    #[test]
    fn latency_is_twenty_ms_at_the_usual_rates() {
        for rate in [16_000, 32_000, 48_000] {
            assert_eq!(Processor::classical(rate, 1, None).latency(), rate as usize / 50, "{rate}");
        }
    }

    #[test]
    fn neutral_controls_delay_the_input_by_the_latency_for_any_buffer_size() {
        let x: Vec<f32> = (0..6000).map(|i| ((i as f32) * 0.05).sin() * 0.5).collect();
        let stereo: Vec<f32> = x.iter().flat_map(|v| [*v, -*v]).collect();
        let mut p = Processor::classical(16_000, 2, None);
        let l = p.latency();
        let mut y = vec![0.0; stereo.len()];
        let mut at = 0;
        for size in [1usize, 7, 80, 333, 1000].iter().cycle() {
            let n = (size * 2).min(stereo.len() - at);
            if n == 0 {
                break;
            }
            p.process(&stereo[at..at + n], &mut y[at..at + n], NEUTRAL, None).expect("classical");
            at += n;
        }
        for i in l..x.len() {
            assert!((y[2 * i] - x[i - l]).abs() < 1e-5 && (y[2 * i + 1] + x[i - l]).abs() < 1e-5, "{i}");
        }
    }

    #[test]
    fn mix_zero_is_the_delayed_input_exactly() {
        let x: Vec<f32> = (0..4000).map(|i| ((i as f32) * 0.013).sin() * 0.7).collect();
        let mut p = Processor::classical(16_000, 1, None);
        let mut y = vec![0.0; x.len()];
        let controls = Controls { semitones: 7.0, formant: 1.3, mix: 0.0, auto: true };
        p.process(&x, &mut y, controls, None).expect("classical");
        let l = p.latency();
        assert!(y[..l].iter().all(|&v| v == 0.0));
        assert_eq!(&y[l..], &x[..x.len() - l]);
    }
}
