// SPDX-License-Identifier: MPL-2.0
//! The mouth pose from speech, every 10 ms of the 16 kHz stream (hop `j` is centred on sample
//! `j * 160`, Hann window of 20 ms, 512-point FFT):
//!
//! - **opening**: the voice-band (250..3500 Hz) level in dB against the running speech peak
//!   (fast attack, falls 10 dB/s, never below -40 dBFS): 0 at 30 dB under the peak or below
//!   -60 dBFS, 1 at the peak, linear in between. Vowels open the mouth, consonants a little,
//!   fricatives (mostly above 3.5 kHz) and silence not at all, and the measure does not
//!   depend on the recording level;
//! - **width**: the share of the voice-band energy above 1 kHz (a high second formant, /i/,
//!   spreads the lips; a low one, /u/ /o/, rounds them), -1 (rounded) .. 1 (spread), scaled
//!   down at small openings so a closed mouth has width 0.
//!
//! Both are smoothed: the opening with a fast attack and a slower release (time constants
//! from the element's `smoothing`), the width with the release one. A pose under 0.01 snaps
//! to exactly closed, so silence leaves the picture untouched. No GStreamer here.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::audio::{AudioTimeline, RATE};
use crate::analysis::mel::periodic_hann;

/// Samples per hop (10 ms).
pub(super) const HOP: usize = 160;

/// Analysis window (20 ms).
pub(super) const WINDOW: usize = 320;

const FFT: usize = 512;

/// The voice band and the split between its low (F1) and high (F2) parts, Hz.
const VOICE_BAND_HZ: (f32, f32) = (250.0, 3500.0);
const SPLIT_HZ: f32 = 1000.0;

/// Opening range below the running peak, dB.
const RANGE_DB: f32 = 30.0;

/// Below this level (dBFS) the mouth is closed whatever the peak.
const GATE_DB: f32 = -60.0;

/// The running peak: start, lowest value, fall per hop (dB).
const PEAK_START_DB: f32 = -20.0;
const PEAK_FLOOR_DB: f32 = -40.0;
const PEAK_FALL_DB: f32 = 0.1;

/// Share of the voice-band energy above [`SPLIT_HZ`] that means a neutral width.
const NEUTRAL_BALANCE: f32 = 0.35;

/// Poses under this snap to closed.
const CLOSED: f32 = 0.01;

/// Duration of one hop in ms.
pub(super) const HOP_MS: f64 = HOP as f64 * 1000.0 / RATE as f64;

/// The mouth pose: `open` 0 (closed) .. 1 (speech peak), `width` -1 (rounded) .. 1 (spread).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Mouth {
    /// Opening.
    pub(super) open: f32,
    /// Spread of the corners.
    pub(super) width: f32,
}

impl Mouth {
    /// Whether the pose leaves the picture as it is.
    pub(super) fn is_closed(&self) -> bool {
        self.open == 0.0 && self.width == 0.0
    }

    fn lerp(a: Self, b: Self, t: f32) -> Self {
        Self { open: a.open + (b.open - a.open) * t, width: a.width + (b.width - a.width) * t }
    }
}

/// One-pole smoothing coefficients per hop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Smoothing {
    attack: f32,
    release: f32,
}

impl Smoothing {
    /// Attack time constant as a share of the release one.
    pub(super) const ATTACK_SHARE: f64 = 0.25;

    /// Longest attack time constant, ms.
    pub(super) const MAX_ATTACK_MS: f64 = 15.0;

    /// The attack time constant (ms) for a release of `release_ms`.
    pub(super) fn attack_ms(release_ms: f64) -> f64 {
        (release_ms * Self::ATTACK_SHARE).min(Self::MAX_ATTACK_MS)
    }

    /// Release time constant `release_ms` (0 = none), attack from [`Self::attack_ms`].
    pub(super) fn from_release_ms(release_ms: f64) -> Self {
        let coefficient = |tau: f64| if tau <= 0.0 { 1.0 } else { (1.0 - (-HOP_MS / tau).exp()) as f32 };
        Self { attack: coefficient(Self::attack_ms(release_ms)), release: coefficient(release_ms) }
    }
}

/// Per-hop analysis and smoothing of the speech stream.
pub(super) struct SpeechFeatures {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    frame: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// One-sided FFT energy of a full-scale sine, for dBFS.
    full_scale: f32,
    /// FFT bins: voice band start, split, voice band end (exclusive).
    bins: (usize, usize, usize),
    /// Timeline generation the hops belong to.
    generation: u64,
    /// Index of the next hop to analyse.
    next_hop: u64,
    /// Smoothed poses of hops `first_hop..next_hop`.
    hops: VecDeque<Mouth>,
    first_hop: u64,
    /// Running speech peak, dBFS.
    peak_db: f32,
    /// The smoothed pose after the last hop.
    state: Mouth,
}

impl fmt::Debug for SpeechFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpeechFeatures")
            .field("next_hop", &self.next_hop)
            .field("hops", &self.hops.len())
            .field("peak_db", &self.peak_db)
            .field("state", &self.state)
            .finish()
    }
}

impl Default for SpeechFeatures {
    fn default() -> Self {
        Self::new()
    }
}

impl SpeechFeatures {
    /// A fresh analyser.
    pub(super) fn new() -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FFT);
        let window = periodic_hann(WINDOW);
        let sum_sq: f32 = window.iter().map(|w| w * w).sum();
        let bin = |hz: f32| (hz * FFT as f32 / RATE as f32).round() as usize;
        Self {
            frame: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            window,
            // Parseval over the one-sided spectrum: N/2 * mean square (1/2) * sum of w^2.
            full_scale: FFT as f32 / 2.0 * 0.5 * sum_sq,
            bins: (bin(VOICE_BAND_HZ.0), bin(SPLIT_HZ), bin(VOICE_BAND_HZ.1)),
            generation: 0,
            next_hop: 0,
            hops: VecDeque::new(),
            first_hop: 0,
            peak_db: PEAK_START_DB,
            state: Mouth::default(),
        }
    }

    /// Forgets everything (flush, or the stream restarted).
    pub(super) fn reset(&mut self, generation: u64) {
        self.generation = generation;
        self.next_hop = 0;
        self.hops.clear();
        self.first_hop = 0;
        self.peak_db = PEAK_START_DB;
        self.state = Mouth::default();
    }

    /// First sample the next hop needs (what the timeline must keep).
    pub(super) fn needed_from(&self) -> i64 {
        (self.next_hop * HOP as u64) as i64 - (WINDOW / 2) as i64
    }

    /// The target pose of the hop centred on sample `centre`, updating the running peak.
    fn analyse(&mut self, timeline: &AudioTimeline, centre: i64) -> Mouth {
        let start = centre - (WINDOW / 2) as i64;
        for (n, (x, w)) in self.frame.iter_mut().zip(&self.window).enumerate() {
            *x = timeline.sample(start + n as i64) * w;
        }
        self.frame[WINDOW..].fill(0.0);
        if self.fft.process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch).is_err() {
            return Mouth::default();
        }
        let (lo, split, hi) = self.bins;
        let energy = |range: std::ops::Range<usize>| self.spectrum[range].iter().map(|c| c.norm_sqr()).sum::<f32>();
        let (low, high) = (energy(lo..split), energy(split..hi));
        let level = 10.0 * ((low + high) / self.full_scale + 1e-12).log10();
        self.peak_db = level.max(self.peak_db - PEAK_FALL_DB).clamp(PEAK_FLOOR_DB, 0.0);
        if level < GATE_DB {
            return Mouth::default();
        }
        let open = ((level - (self.peak_db - RANGE_DB)) / RANGE_DB).clamp(0.0, 1.0);
        let balance = high / (low + high + 1e-20);
        let spread = ((balance - NEUTRAL_BALANCE) / NEUTRAL_BALANCE).clamp(-1.0, 1.0);
        Mouth { open, width: spread * (2.0 * open).min(1.0) }
    }

    /// Analyses every hop `timeline` completes.
    pub(super) fn update(&mut self, timeline: &AudioTimeline, smoothing: Smoothing) {
        if timeline.generation() != self.generation {
            self.reset(timeline.generation());
        }
        while self.next_hop * HOP as u64 + (WINDOW / 2) as u64 <= timeline.end() {
            let target = self.analyse(timeline, (self.next_hop * HOP as u64) as i64);
            let s = &mut self.state;
            let k = if target.open > s.open { smoothing.attack } else { smoothing.release };
            s.open += (target.open - s.open) * k;
            s.width += (target.width - s.width) * smoothing.release;
            if target.open == 0.0 && s.open < CLOSED {
                s.open = 0.0;
            }
            if target.width == 0.0 && s.width.abs() < CLOSED {
                s.width = 0.0;
            }
            self.hops.push_back(*s);
            self.next_hop += 1;
        }
    }

    /// The smoothed pose at sample position `pos` (fractional; hops interpolated): closed
    /// before the stream, the newest hop's beyond the analysed part.
    pub(super) fn at(&self, pos: f64) -> Mouth {
        if pos < 0.0 || self.hops.is_empty() {
            return Mouth::default();
        }
        let p = pos / HOP as f64;
        let j = p.floor() as u64;
        if j < self.first_hop {
            return self.hops.front().copied().unwrap_or_default();
        }
        let i = (j - self.first_hop) as usize;
        match (self.hops.get(i), self.hops.get(i + 1)) {
            (Some(&a), Some(&b)) => Mouth::lerp(a, b, (p - j as f64) as f32),
            _ => self.hops.back().copied().unwrap_or_default(),
        }
    }

    /// Drops hops before sample position `pos`.
    pub(super) fn trim_before(&mut self, pos: f64) {
        if pos <= 0.0 {
            return;
        }
        let keep_from = (pos / HOP as f64).floor() as u64;
        while self.first_hop < keep_from && self.hops.len() > 1 {
            self.hops.pop_front();
            self.first_hop += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::audio::{InputFormat, SampleFormat};
    use super::*;

    /// A timeline holding `samples` (16 kHz mono) from running time 0.
    fn timeline(samples: &[f32]) -> AudioTimeline {
        let mut t = AudioTimeline::default();
        t.set_format(InputFormat { format: SampleFormat::F32, rate: RATE, channels: 1 });
        let bytes: Vec<u8> = samples.iter().flat_map(|v| v.to_le_bytes()).collect();
        t.push(Some(0), &bytes);
        t
    }

    fn tone(hz: f32, amplitude: f32, seconds: f32) -> Vec<f32> {
        (0..(seconds * RATE as f32) as usize)
            .map(|n| amplitude * (2.0 * std::f32::consts::PI * hz * n as f32 / RATE as f32).sin())
            .collect()
    }

    #[test]
    fn silence_is_closed_and_a_vowel_opens() {
        let mut audio = vec![0.0; RATE as usize / 2];
        audio.extend(tone(500.0, 0.3, 0.5));
        audio.extend(vec![0.0; RATE as usize / 2]);
        let t = timeline(&audio);
        let mut f = SpeechFeatures::new();
        f.update(&t, Smoothing::from_release_ms(60.0));
        assert_eq!(f.at(0.25 * RATE as f64), Mouth::default());
        let open = f.at(0.8 * RATE as f64);
        assert!(open.open > 0.9, "{open:?}");
        assert!(open.width < -0.5, "a 500 Hz tone is all low band: rounded, {open:?}");
        // 300 ms after the end, well past five release time constants: closed exactly.
        assert!(f.at(1.3 * RATE as f64).is_closed(), "{:?}", f.at(1.3 * RATE as f64));
    }

    #[test]
    fn opening_does_not_depend_on_the_level() {
        let mut f = SpeechFeatures::new();
        let loud = timeline(&tone(700.0, 0.5, 2.0));
        f.update(&loud, Smoothing::from_release_ms(60.0));
        let a = f.at(1.9 * RATE as f64).open;
        // 28 dB quieter: the running peak comes down to it within about a second.
        let mut g = SpeechFeatures::new();
        let quiet = timeline(&tone(700.0, 0.02, 2.0));
        g.update(&quiet, Smoothing::from_release_ms(60.0));
        let b = g.at(1.9 * RATE as f64).open;
        assert!(a > 0.9 && b > 0.9, "{a} {b}");
    }

    #[test]
    fn high_formants_spread_the_lips() {
        let mut audio = tone(300.0, 0.2, 0.6);
        for (x, h) in audio.iter_mut().zip(tone(2300.0, 0.3, 0.6)) {
            *x += h;
        }
        let mut f = SpeechFeatures::new();
        f.update(&timeline(&audio), Smoothing::from_release_ms(60.0));
        let pose = f.at(0.5 * RATE as f64);
        assert!(pose.open > 0.8 && pose.width > 0.3, "{pose:?}");
    }

    #[test]
    fn attack_is_faster_than_release() {
        let mut audio = tone(600.0, 0.3, 0.3);
        audio.extend(vec![0.0; RATE as usize / 5]);
        let mut silence_first = vec![0.0; RATE as usize / 5];
        silence_first.extend(tone(600.0, 0.3, 0.3));
        let s = Smoothing::from_release_ms(80.0);
        let mut f = SpeechFeatures::new();
        f.update(&timeline(&silence_first), s);
        // 20 ms after the onset most of the way open...
        let rise = f.at(0.22 * RATE as f64).open;
        let mut g = SpeechFeatures::new();
        g.update(&timeline(&audio), s);
        // ...20 ms after the end still mostly open.
        let fall = g.at(0.32 * RATE as f64).open;
        assert!(rise > 0.6 && fall > 0.6, "rise {rise} fall {fall}");
    }
}
