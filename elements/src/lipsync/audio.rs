// SPDX-License-Identifier: MPL-2.0
//! The audio input laid on the running-time axis: interleaved S16LE or F32LE samples of any
//! rate and channel count, mixed down to mono and resampled to 16 kHz (rubato's sinc
//! resampler, aligned to the input's time), appended to a stream whose sample `n` sits at
//! `origin + n / 16000 s`. Timestamp jumps within [`MAX_GAP_NS`] are filled with silence,
//! anything else restarts the stream. No GStreamer here.

use std::collections::VecDeque;

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::Resampler as _;

/// Rate of the analysed stream.
pub(crate) const RATE: u32 = 16_000;

/// Timestamp differences up to this are jitter, not a gap or an overlap.
const JITTER_NS: u64 = 20_000_000;

/// A forward jump up to this is filled with silence; a longer one restarts the stream.
pub(super) const MAX_GAP_NS: u64 = 5_000_000_000;

/// Zero crossings of the resampling kernel on each side, at the lower of the two rates.
const KERNEL_ZEROS: u64 = 10;

/// Kernel cutoff as a fraction of the lower Nyquist frequency: 7 kHz keeps 70 % of its level.
/// Rubato's own choice for this length would be near 0.75 (7 kHz at 28 %).
const CUTOFF: f32 = 0.92;

/// Input chunks per second: each resampler call takes 1.3 ms of input, so the stream lags
/// its input by the kernel's look-ahead and at most one chunk (0.7-1.7 ms measured).
const CHUNKS_PER_SECOND: u64 = 750;

const NS_PER_SECOND: u64 = 1_000_000_000;

/// Sample encoding of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SampleFormat {
    /// Signed 16-bit little-endian.
    S16,
    /// 32-bit float little-endian.
    F32,
}

/// What the audio pad negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InputFormat {
    /// Sample encoding.
    pub(crate) format: SampleFormat,
    /// Samples per second per channel.
    pub(crate) rate: u32,
    /// Interleaved channels.
    pub(crate) channels: usize,
}

impl InputFormat {
    pub(crate) fn bytes_per_frame(&self) -> usize {
        self.channels
            * match self.format {
                SampleFormat::S16 => 2,
                SampleFormat::F32 => 4,
            }
    }

    /// Appends the mono downmix (channel mean) of the whole frames in `data` to `out`.
    pub(crate) fn downmix(&self, data: &[u8], out: &mut Vec<f32>) {
        let bpf = self.bytes_per_frame();
        let scale = 1.0 / self.channels as f32;
        for frame in data.chunks_exact(bpf) {
            let sum: f32 = match self.format {
                SampleFormat::S16 => {
                    frame.chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).sum()
                }
                SampleFormat::F32 => frame
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .map(|v| if v.is_finite() { v } else { 0.0 })
                    .sum(),
            };
            out.push(sum * scale);
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Streaming band-limited resampler to [`RATE`] (or any rate, [`Resampler::between`];
/// rubato's asynchronous sinc resampler, fed 1.3 ms chunks): output sample `n` is the input
/// at `n * in_rate / out_rate`, so the two streams share their time origin exactly.
///
/// The kernel delays the output by half its length in input samples, less the
/// one output sample by which rubato's first output is already in (found by the phase test
/// below: at every rate the stream was one output sample late without it). That is a whole
/// number of output samples only for some rates, so the input starts with as many zeros as
/// make it whole (at most 440, at 44.1 kHz), and that many output samples are dropped.
pub(crate) struct Resampler {
    /// `None` at 16 kHz: the input passes through.
    inner: Option<rubato::Async<f32>>,
    /// Input not yet handed to the resampler.
    pending: Vec<f32>,
    /// Output samples still to drop: the kernel's delay.
    skip: usize,
    /// One call's output, reused.
    chunk_out: Vec<f32>,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler").field("pending", &self.pending.len()).field("skip", &self.skip).finish()
    }
}

impl Resampler {
    /// A resampler from `in_rate` to [`RATE`].
    pub(crate) fn new(in_rate: u32) -> Self {
        Self::between(in_rate, RATE)
    }

    /// A resampler from `in_rate` to `out_rate`, aligned the same way.
    pub(crate) fn between(in_rate: u32, out_rate: u32) -> Self {
        let (in_rate, out) = (u64::from(in_rate.max(1)), u64::from(out_rate.max(1)));
        let passthrough = Resampler { inner: None, pending: Vec::new(), skip: 0, chunk_out: Vec::new() };
        if in_rate == out {
            return passthrough;
        }
        // Taps in input samples, a multiple of 8 as rubato wants.
        let taps = (2 * KERNEL_ZEROS * in_rate).div_ceil(in_rate.min(out)).div_ceil(8) * 8;
        let mut params = rubato::SincInterpolationParameters::new(taps as usize, rubato::WindowFunction::Blackman);
        params.f_cutoff = Some(CUTOFF);
        let ratio = out as f64 / in_rate as f64;
        let chunk = (in_rate / CHUNKS_PER_SECOND).max(8) as usize;
        let inner = rubato::Async::<f32>::new_sinc(ratio, 1.0, &params, chunk, 1, rubato::FixedAsync::Input)
            .expect("fixed, valid parameters");
        // Input samples per whole number of output samples.
        let period = in_rate / gcd(in_rate, out);
        let half = taps / 2;
        let pad = (period - half % period) % period;
        let skip = ((half + pad) * out / in_rate - 1) as usize;
        Resampler { inner: Some(inner), pending: vec![0.0; pad as usize], skip, ..passthrough }
    }

    /// Feeds `input` and appends every output sample it completes to `out`.
    pub(crate) fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        let Some(inner) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            return;
        };
        self.pending.extend_from_slice(input);
        let mut used = 0;
        loop {
            let need = inner.input_frames_next();
            if self.pending.len() - used < need {
                break;
            }
            let chunk = &self.pending[used..used + need];
            self.chunk_out.resize(inner.output_frames_max(), 0.0);
            let frames = self.chunk_out.len();
            let from = InterleavedSlice::new(chunk, 1, need).expect("one channel of `need` frames");
            let mut to = InterleavedSlice::new_mut(&mut self.chunk_out, 1, frames).expect("one channel");
            let (taken, made) =
                inner.process_into_buffer(&from, &mut to, None).expect("buffers of the sizes the resampler asked for");
            used += taken;
            let dropped = self.skip.min(made);
            self.skip -= dropped;
            out.extend_from_slice(&self.chunk_out[dropped..made]);
        }
        self.pending.drain(..used);
    }
}

/// The mono 16 kHz stream on the running-time axis.
#[derive(Debug, Default)]
pub(super) struct AudioTimeline {
    /// Running time (ns) of sample 0; `None` before the first buffer.
    origin: Option<u64>,
    /// Samples from index `first` on.
    samples: VecDeque<f32>,
    first: u64,
    /// The input format and its converter; `None` before caps.
    input: Option<(InputFormat, Resampler)>,
    /// Running time (ns) where the next input buffer is expected.
    next_input: Option<u64>,
    /// Restarts so far (the analysers restart with the stream).
    generation: u64,
    /// Downmixed input, reused.
    mono: Vec<f32>,
    /// Resampled output, reused.
    resampled: Vec<f32>,
}

impl AudioTimeline {
    /// Sets the input format; a different one restarts the converter (not the stream).
    pub(super) fn set_format(&mut self, format: InputFormat) {
        if self.input.as_ref().is_some_and(|(f, _)| *f == format) {
            return;
        }
        self.input = Some((format, Resampler::new(format.rate)));
    }

    /// Forgets every sample (flush); the format stays.
    pub(super) fn reset(&mut self) {
        self.origin = None;
        self.samples.clear();
        self.first = 0;
        self.next_input = None;
        self.generation += 1;
        if let Some((format, resampler)) = self.input.as_mut() {
            *resampler = Resampler::new(format.rate);
        }
    }

    /// Counts restarts, so analysers know when to start over.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// Running time (ns) of sample 0.
    pub(super) fn origin(&self) -> Option<u64> {
        self.origin
    }

    /// Index one past the last sample.
    pub(super) fn end(&self) -> u64 {
        self.first + self.samples.len() as u64
    }

    /// Running time (ns) up to which the stream is known; `None` before the first buffer.
    pub(super) fn covered_until(&self) -> Option<u64> {
        self.origin.map(|o| o + self.end() * NS_PER_SECOND / u64::from(RATE))
    }

    /// Sample `index`; zero before the stream, before what was trimmed, or past the end.
    #[inline]
    pub(super) fn sample(&self, index: i64) -> f32 {
        if index < self.first as i64 {
            return 0.0;
        }
        self.samples.get((index - self.first as i64) as usize).copied().unwrap_or(0.0)
    }

    /// Sample index of running time `rt` (fractional, negative before the origin).
    pub(super) fn position(&self, rt: u64) -> Option<f64> {
        self.origin.map(|o| (rt as f64 - o as f64) * f64::from(RATE) / NS_PER_SECOND as f64)
    }

    /// Drops samples before index `index`.
    pub(super) fn trim_before(&mut self, index: u64) {
        if index > self.first {
            let n = ((index - self.first) as usize).min(self.samples.len());
            self.samples.drain(..n);
            self.first += n as u64;
        }
    }

    /// Places the next input at running time `rt` (when known) covering `frames` input frames:
    /// fills a small gap with silence, restarts the stream after a large jump or an overlap.
    fn place(&mut self, rt: Option<u64>, format: InputFormat) {
        let Some(rt) = rt else { return };
        match (self.origin, self.next_input) {
            (Some(_), Some(expected)) => {
                if rt > expected + JITTER_NS && rt - expected <= MAX_GAP_NS {
                    let frames =
                        ((rt - expected) as u128 * u128::from(format.rate) / u128::from(NS_PER_SECOND)) as usize;
                    let silence = vec![0.0f32; frames];
                    self.convert(&silence);
                    self.next_input = Some(rt);
                } else if rt + JITTER_NS < expected || rt > expected + JITTER_NS {
                    self.restart(rt);
                }
            }
            _ => self.restart(rt),
        }
    }

    fn restart(&mut self, rt: u64) {
        self.reset();
        self.origin = Some(rt);
        self.next_input = Some(rt);
    }

    fn convert(&mut self, mono: &[f32]) {
        let Some((_, resampler)) = self.input.as_mut() else { return };
        self.resampled.clear();
        resampler.process(mono, &mut self.resampled);
        self.samples.extend(self.resampled.iter().copied());
    }

    fn advance(&mut self, rt: Option<u64>, frames: usize, rate: u32) {
        let duration = frames as u64 * NS_PER_SECOND / u64::from(rate.max(1));
        self.next_input = self.next_input.or(rt).map(|t| t + duration);
    }

    /// Appends one buffer of interleaved samples starting at running time `rt`.
    pub(super) fn push(&mut self, rt: Option<u64>, data: &[u8]) {
        let Some((format, _)) = self.input.as_ref() else { return };
        let format = *format;
        self.place(rt, format);
        if self.origin.is_none() {
            // No timestamp yet: the stream starts at zero.
            self.restart(0);
        }
        let mut mono = std::mem::take(&mut self.mono);
        mono.clear();
        format.downmix(data, &mut mono);
        self.convert(&mono);
        self.advance(rt, mono.len(), format.rate);
        self.mono = mono;
    }

    /// Appends `duration` ns of silence starting at running time `rt` (a GAP).
    pub(super) fn push_gap(&mut self, rt: Option<u64>, duration: u64) {
        let Some((format, _)) = self.input.as_ref() else { return };
        let format = *format;
        if duration > MAX_GAP_NS {
            // A long silence: the stream starts over after it (before its origin all is silent).
            if let Some(start) = rt.or(self.next_input) {
                self.restart(start + duration);
            }
            return;
        }
        self.place(rt, format);
        if self.origin.is_none() {
            self.restart(0);
        }
        let frames = (u128::from(duration) * u128::from(format.rate) / u128::from(NS_PER_SECOND)) as usize;
        let silence = vec![0.0f32; frames];
        self.convert(&silence);
        self.advance(rt, frames, format.rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, seconds: f32) -> Vec<f32> {
        (0..(rate as f32 * seconds) as usize)
            .map(|n| (2.0 * std::f32::consts::PI * hz * n as f32 / rate as f32).sin() * 0.5)
            .collect()
    }

    fn resample(rate: u32, input: &[f32], chunk: usize) -> Vec<f32> {
        let mut r = Resampler::new(rate);
        let mut out = Vec::new();
        for part in input.chunks(chunk) {
            r.process(part, &mut out);
        }
        out
    }

    #[test]
    fn resampling_keeps_time_and_level() {
        for rate in [8_000, 16_000, 22_050, 44_100, 48_000] {
            let input = sine(rate, 440.0, 1.0);
            let out = resample(rate, &input, 1234);
            // All but the kernel's look-ahead is out.
            let expected = RATE as usize;
            assert!(out.len() <= expected && out.len() + 40 >= expected, "{rate}: {} samples", out.len());
            // Same phase: output n is the sine at n / 16000 s.
            let err = out[200..out.len() - 200]
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let n = (i + 200) as f32;
                    (v - (2.0 * std::f32::consts::PI * 440.0 * n / RATE as f32).sin() * 0.5).abs()
                })
                .fold(0.0f32, f32::max);
            assert!(err < 0.01, "{rate}: error {err}");
        }
    }

    #[test]
    fn resampling_up_from_16k_keeps_time_too() {
        for rate in [24_000, 32_000, 44_100, 48_000] {
            let input = sine(RATE, 440.0, 1.0);
            let mut r = Resampler::between(RATE, rate);
            let mut out = Vec::new();
            for part in input.chunks(1600) {
                r.process(part, &mut out);
            }
            let err = out[600..out.len() - 600]
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let n = (i + 600) as f32;
                    (v - (2.0 * std::f32::consts::PI * 440.0 * n / rate as f32).sin() * 0.5).abs()
                })
                .fold(0.0f32, f32::max);
            assert!(err < 0.01, "{rate}: error {err}");
        }
    }

    #[test]
    fn resampling_removes_what_16k_cannot_hold() {
        let input = sine(48_000, 12_000.0, 0.5);
        let out = resample(48_000, &input, 480);
        let rms = (out[400..].iter().map(|v| v * v).sum::<f32>() / (out.len() - 400) as f32).sqrt();
        assert!(rms < 0.01, "12 kHz leaks through at rms {rms}");
    }

    #[test]
    fn speech_up_to_7_khz_keeps_its_level() {
        for rate in [22_050, 44_100, 48_000] {
            let out = resample(rate, &sine(rate, 7_000.0, 0.5), 480);
            let rms = (out[400..].iter().map(|v| v * v).sum::<f32>() / (out.len() - 400) as f32).sqrt();
            let level = rms / (0.5 / 2f32.sqrt());
            assert!(level > 0.6, "{rate}: 7 kHz at {level:.2} of its level");
        }
    }

    #[test]
    fn stereo_s16_is_downmixed() {
        let format = InputFormat { format: SampleFormat::S16, rate: 16_000, channels: 2 };
        let data: Vec<u8> = [16384i16, 0, -32768, -32768].iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut out = Vec::new();
        format.downmix(&data, &mut out);
        assert_eq!(out, vec![0.25, -1.0]);
    }

    #[test]
    fn gaps_are_filled_and_jumps_restart() {
        let mut t = AudioTimeline::default();
        t.set_format(InputFormat { format: SampleFormat::F32, rate: 16_000, channels: 1 });
        let ten_ms: Vec<u8> = std::iter::repeat_n(1.0f32, 160).flat_map(|v| v.to_le_bytes()).collect();
        t.push(Some(1_000_000_000), &ten_ms);
        assert_eq!(t.origin(), Some(1_000_000_000));
        assert_eq!(t.covered_until(), Some(1_010_000_000));
        // 5 ms of jitter: appended as is.
        t.push(Some(1_015_000_000), &ten_ms);
        assert_eq!(t.end(), 320);
        // A 100 ms gap: silence in between.
        t.push(Some(1_120_000_000), &ten_ms);
        assert_eq!(t.end(), 320 + 1600 + 160);
        assert_eq!(t.sample(320 + 800), 0.0);
        assert_eq!(t.sample(320 + 1600), 1.0);
        // Backwards: a new stream.
        let generation = t.generation();
        t.push(Some(500_000_000), &ten_ms);
        assert_eq!(t.origin(), Some(500_000_000));
        assert_eq!(t.end(), 160);
        assert!(t.generation() > generation);
        t.push_gap(Some(510_000_000), 20_000_000);
        assert_eq!(t.end(), 480);
        assert_eq!(t.position(520_000_000), Some(320.0));
    }
}
