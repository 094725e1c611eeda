// SPDX-License-Identifier: MPL-2.0
//! Spectral-envelope warping on the LPC residual, in the time domain: each block, the LPC
//! polynomial `A` of the last 20 ms is fitted; the input goes through the inverse filter `A(z)`
//! (an analysis lattice), which leaves the residual (the excitation, harmonics and all), and
//! the residual through an all-pole synthesis lattice `1 / A_w(z)` whose envelope is `A`'s
//! warped along frequency, `|A_w(e^jw)|^-2 ~ |A(e^jw*warp)|^-2` (fitted by Levinson-Durbin on the
//! inverse transform of the warped power envelope). The formants move by `1 / warp`, the
//! fine structure stays. Reflection coefficients glide linearly across each block, so the
//! filters change without clicks and stay stable; with `warp = 1` both lattices carry the same
//! coefficients and the output is the input. No delay. No GStreamer here.
//!
//! Both envelopes are smoothed along frequency, the more the further the pitch was raised:
//! the shifted signal's harmonics (and the output's) lie `F0 * ratio` apart, and for a low
//! voice raised an octave or more (170-260 Hz apart) a warped envelope with detail finer than
//! that spacing puts narrow peaks between the output's harmonics, where they ring, and piles
//! the energy onto whichever harmonic a peak happens to hit. At 16 and 22.05 kHz that left a
//! third to a half of the voiced frames of Piper's 85 Hz voice raised 12-19 semitones without a
//! period YIN could find, or with one an octave or a fifth high; the frames lost were mostly
//! the low-pitched ones, so the median F0 of the result read up to two semitones high.

use crate::analysis::lpc::{lpc, order_for};

/// Bandwidth the LPC poles are widened by, Hz: a numerical safety margin only; wider poles
/// would whiten less and leave the old formants standing beside the moved ones.
const POLE_BANDWIDTH_HZ: f64 = 15.0;

/// LPC analysis window, seconds, ending with the block: long enough that the envelope of a low
/// voice does not follow its individual harmonics.
const ANALYSIS_SECONDS: f64 = 0.02;

/// Largest reflection coefficient magnitude allowed in the lattices.
const MAX_REFLECTION: f64 = 0.995;

/// Gaussian lag window of the fitted autocorrelations: the standard deviation, Hz, of the
/// Gaussian the power envelopes are smoothed with along frequency, as a function of the pitch
/// ratio `r`: `SLOPE * r - OFFSET`, clamped to `MIN..=MAX` (50 Hz unshifted, 200 Hz an octave
/// up, 300 Hz from +17 semitones; 15 Hz, a numerical regularisation only, from 4.6 semitones
/// down). Measured on Piper and LibriVox speech at 16 and 22.05 kHz: an octave up needs
/// about 200 Hz before the output keeps its period, and more than 50 Hz unshifted blurs the
/// formants that `formant-shift` moves.
const LAG_WINDOW_SLOPE_HZ: f64 = 150.0;
const LAG_WINDOW_OFFSET_HZ: f64 = 100.0;
const LAG_WINDOW_MIN_HZ: f64 = 15.0;
const LAG_WINDOW_MAX_HZ: f64 = 300.0;

/// White-noise floor of the fitted autocorrelations.
const NOISE_FLOOR: f64 = 1e-5;

/// Highest LPC order: the formants lie below 5 kHz; more poles at 48 kHz only make the
/// gliding synthesis filter harder to keep well-behaved.
const MAX_ORDER: usize = 28;

/// Frequencies the envelope is sampled at for warping (0 to Nyquist).
const GRID: usize = 256;

/// Limits of the level correction of the warped filter.
const MIN_LEVEL: f64 = 0.25;
const MAX_LEVEL: f64 = 4.0;

/// Reflection coefficients (`k[1..=order]`, `k[0]` unused) and prediction error of the
/// autocorrelation `r`, by Levinson-Durbin; `None` when `r` is not positive definite.
fn reflections(r: &[f64], order: usize) -> Option<(Vec<f64>, f64)> {
    if r[0] <= 1e-12 {
        return None;
    }
    let mut a = vec![0.0f64; order + 1];
    let mut k = vec![0.0f64; order + 1];
    a[0] = 1.0;
    let mut err = r[0] * (1.0 + 1e-9);
    for i in 1..=order {
        let acc: f64 = (1..i).map(|j| a[j] * r[i - j]).sum::<f64>() + r[i];
        let ki = (-acc / err).clamp(-MAX_REFLECTION, MAX_REFLECTION);
        let prev = a.clone();
        for j in 1..i {
            a[j] = prev[j] + ki * prev[i - j];
        }
        a[i] = ki;
        k[i] = ki;
        err *= 1.0 - ki * ki;
        if err <= 0.0 {
            return None;
        }
    }
    Some((k, err))
}

/// The envelope warp of one channel.
pub(crate) struct EnvelopeWarp {
    order: usize,
    /// Sample rate, Hz.
    rate: f64,
    /// `gamma^k` pole-widening factors for the LPC coefficients.
    widen: Vec<f64>,
    /// The last [`ANALYSIS_SECONDS`] of input, its Hann window and its windowed copy.
    history: Vec<f32>,
    analysis_window: Vec<f32>,
    analysis: Vec<f32>,
    /// Reflection coefficients of the analysis (inverse) and synthesis lattices at the end of
    /// the last block, and the synthesis gain.
    inverse_k: Vec<f64>,
    synthesis_k: Vec<f64>,
    level: f64,
    /// Lattice delay states (backward prediction errors of the previous sample).
    inverse_state: Vec<f64>,
    synthesis_state: Vec<f64>,
    /// `cos(pi * m * g / GRID)` and `sin(..)` for lag `m` (0..=order) and grid point `g`.
    cos: Vec<Vec<f64>>,
    sin: Vec<Vec<f64>>,
    /// `|A|` on the grid.
    magnitude: Vec<f64>,
    /// Warped power envelope on the grid.
    power: Vec<f64>,
    /// Lag window of the fits (index: lag) and the pitch ratio it was computed for.
    lag_window: Vec<f64>,
    lag_ratio: f64,
}

impl std::fmt::Debug for EnvelopeWarp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeWarp").field("order", &self.order).finish()
    }
}

impl EnvelopeWarp {
    /// A warp for `rate` Hz; blocks of any length.
    pub(crate) fn new(rate: u32) -> Self {
        let order = order_for(rate).min(MAX_ORDER);
        let gamma = (-std::f64::consts::PI * POLE_BANDWIDTH_HZ / f64::from(rate)).exp();
        let analysed = ((ANALYSIS_SECONDS * f64::from(rate)).round() as usize).max(2 * order);
        Self {
            order,
            rate: f64::from(rate),
            widen: (0..=order).map(|k| gamma.powi(k as i32)).collect(),
            history: vec![0.0; analysed],
            analysis_window: (0..analysed)
                .map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * (n as f64 + 0.5) / analysed as f64).cos()) as f32)
                .collect(),
            analysis: vec![0.0; analysed],
            inverse_k: vec![0.0; order + 1],
            synthesis_k: vec![0.0; order + 1],
            level: 1.0,
            inverse_state: vec![0.0; order + 1],
            synthesis_state: vec![0.0; order + 1],
            cos: (0..=order)
                .map(|m| (0..=GRID).map(|g| (std::f64::consts::PI * (m * g) as f64 / GRID as f64).cos()).collect())
                .collect(),
            sin: (0..=order)
                .map(|m| (0..=GRID).map(|g| (std::f64::consts::PI * (m * g) as f64 / GRID as f64).sin()).collect())
                .collect(),
            magnitude: vec![0.0; GRID + 1],
            power: vec![0.0; GRID + 1],
            lag_window: vec![1.0; order + 1],
            lag_ratio: f64::NAN,
        }
    }

    /// Filters `block` into `out` (same length), its envelope stretched by `1 / warp`
    /// (1 = unchanged); `ratio` is the pitch ratio the block was shifted by, which sets how much
    /// the envelopes are smoothed.
    pub(crate) fn process(&mut self, block: &[f32], ratio: f64, warp: f64, out: &mut [f32]) {
        self.set_smoothing(ratio);
        let n = block.len().min(self.history.len());
        let analysed = self.history.len();
        self.history.copy_within(n.., 0);
        self.history[analysed - n..].copy_from_slice(&block[block.len() - n..]);
        let (inverse_k, synthesis_k, level) = match self.fit(warp) {
            Some(fitted) => fitted,
            // Silence: keep the filters as they are.
            None => (self.inverse_k.clone(), self.synthesis_k.clone(), self.level),
        };
        let len = block.len() as f64;
        let order = self.order;
        let mut ki = vec![0.0f64; order + 1];
        let mut ks = vec![0.0f64; order + 1];
        for (t, (x, y)) in block.iter().zip(out.iter_mut()).enumerate() {
            let lambda = (t + 1) as f64 / len;
            for i in 1..=order {
                ki[i] = self.inverse_k[i] + (inverse_k[i] - self.inverse_k[i]) * lambda;
                ks[i] = self.synthesis_k[i] + (synthesis_k[i] - self.synthesis_k[i]) * lambda;
            }
            let gain = self.level + (level - self.level) * lambda;
            // Analysis lattice: f_i = f_{i-1} + k_i b_{i-1}[n-1], b_i = k_i f_{i-1} + b_{i-1}[n-1].
            let s = &mut self.inverse_state;
            let mut f = f64::from(*x);
            let mut b_prev = f;
            for i in 1..=order {
                let b_old = s[i - 1];
                let f_new = f + ki[i] * b_old;
                let b_new = ki[i] * f + b_old;
                s[i - 1] = b_prev;
                b_prev = b_new;
                f = f_new;
            }
            s[order] = b_prev;
            // Synthesis lattice: f_{i-1} = f_i - k_i b_{i-1}[n-1], b_i = k_i f_{i-1} + b_{i-1}[n-1].
            let s = &mut self.synthesis_state;
            let mut f = f * gain;
            for i in (1..=order).rev() {
                f -= ks[i] * s[i - 1];
                s[i] = ks[i] * f + s[i - 1];
            }
            s[0] = f;
            if !f.is_finite() || f.abs() > 16.0 {
                // Cannot happen with |k| < 1 held for long; never let it ring on if it does.
                s.fill(0.0);
                f = 0.0;
            }
            *y = f as f32;
        }
        self.inverse_k = inverse_k;
        self.synthesis_k = synthesis_k;
        self.level = level;
    }

    /// The lag window for pitch ratio `ratio` (see [`LAG_WINDOW_SLOPE_HZ`]).
    fn set_smoothing(&mut self, ratio: f64) {
        if ratio == self.lag_ratio {
            return;
        }
        let hz = (LAG_WINDOW_SLOPE_HZ * ratio - LAG_WINDOW_OFFSET_HZ).clamp(LAG_WINDOW_MIN_HZ, LAG_WINDOW_MAX_HZ);
        for (m, w) in self.lag_window.iter_mut().enumerate() {
            let lag = 2.0 * std::f64::consts::PI * hz * m as f64 / self.rate;
            *w = (-0.5 * lag * lag).exp();
        }
        self.lag_ratio = ratio;
    }

    /// Reflection coefficients of the analysis and of the warped synthesis filter, and the
    /// level correction, for the current history; `None` for silence.
    fn fit(&mut self, warp: f64) -> Option<(Vec<f64>, Vec<f64>, f64)> {
        for ((a, h), w) in self.analysis.iter_mut().zip(&self.history).zip(&self.analysis_window) {
            *a = h * w;
        }
        let mut a = lpc(&self.analysis, self.order)?;
        for (c, g) in a.iter_mut().zip(&self.widen) {
            *c *= g;
        }
        // |A| on the grid, floored at 80 dB under its largest value (at most 80 dB between the
        // envelope's peaks and its deepest valley, e.g. an empty band above 8 kHz).
        for g in 0..=GRID {
            let (mut re, mut im) = (0.0, 0.0);
            for (m, c) in a.iter().enumerate() {
                re += c * self.cos[m][g];
                im -= c * self.sin[m][g];
            }
            self.magnitude[g] = (re * re + im * im).sqrt();
        }
        let floor = self.magnitude.iter().fold(0.0f64, |m, v| m.max(*v)) * 1e-4;
        for m in &mut self.magnitude {
            *m = m.max(floor).max(1e-9);
        }
        // Both filters are fitted to the same regularised envelope, unwarped and warped, so
        // they cancel exactly at warp 1 and everywhere the warp leaves the envelope alone.
        let (inverse_k, inverse_err) = self.fit_envelope(1.0)?;
        if (warp - 1.0).abs() < 1e-9 {
            return Some((inverse_k.clone(), inverse_k, 1.0));
        }
        let (synthesis_k, synthesis_err) = self.fit_envelope(warp)?;
        let level = (synthesis_err / inverse_err).sqrt().clamp(MIN_LEVEL, MAX_LEVEL);
        Some((inverse_k, synthesis_k, level))
    }

    /// The all-pole fit of the power envelope `1 / |A(w * warp)|^2` (flat past Nyquist):
    /// autocorrelation by a trapezoidal cosine transform over 0..pi, Gaussian lag window and
    /// noise floor, Levinson-Durbin.
    fn fit_envelope(&mut self, warp: f64) -> Option<(Vec<f64>, f64)> {
        for g in 0..=GRID {
            let pos = (g as f64 * warp).min(GRID as f64);
            let i = pos as usize;
            let frac = pos - i as f64;
            let m = self.magnitude[i] + (self.magnitude[(i + 1).min(GRID)] - self.magnitude[i]) * frac;
            self.power[g] = 1.0 / (m * m);
        }
        let r: Vec<f64> = (0..=self.order)
            .map(|m| {
                let inner: f64 = (1..GRID).map(|g| self.power[g] * self.cos[m][g]).sum();
                let ends = 0.5 * (self.power[0] * self.cos[m][0] + self.power[GRID] * self.cos[m][GRID]);
                let floor = if m == 0 { 1.0 + NOISE_FLOOR } else { 1.0 };
                (inner + ends) / GRID as f64 * self.lag_window[m] * floor
            })
            .collect();
        reflections(&r, self.order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warp_one_gives_back_the_input() {
        let x: Vec<f32> =
            (0..4000).map(|i| ((i as f32) * 0.07).sin() * 0.4 + ((i as f32) * 0.31).cos() * 0.1).collect();
        let mut warp = EnvelopeWarp::new(16_000);
        let mut y = vec![0.0; x.len()];
        for (inb, outb) in x.chunks(64).zip(y.chunks_mut(64)) {
            warp.process(inb, 1.0, 1.0, outb);
        }
        for i in 0..x.len() {
            assert!((y[i] - x[i]).abs() < 1e-4, "{i}: {} vs {}", y[i], x[i]);
        }
    }

    /// Noise through one resonator at `hz` (60 Hz bandwidth).
    fn resonance(hz: f32, rate: u32) -> Vec<f32> {
        let mut seed = 7u32;
        let r = (-std::f32::consts::PI * 60.0 / rate as f32).exp();
        let theta = 2.0 * std::f32::consts::PI * hz / rate as f32;
        let (mut y1, mut y2) = (0.0f32, 0.0f32);
        (0..rate)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let e = (seed >> 8) as f32 / (1 << 24) as f32 - 0.5;
                let y = e + 2.0 * r * theta.cos() * y1 - r * r * y2;
                y2 = y1;
                y1 = y;
                y * 0.05
            })
            .collect()
    }

    fn peak_hz(s: &[f32], rate: u32) -> f32 {
        let bins = 1024;
        let a = lpc(s, 4).expect("not silent");
        let env = crate::analysis::lpc::envelope(&a, bins);
        let i = (1..bins).max_by(|&p, &q| env[p].total_cmp(&env[q])).unwrap_or(0);
        i as f32 * rate as f32 / 2.0 / (bins - 1) as f32
    }

    #[test]
    fn warping_moves_a_resonance_both_ways() {
        for (rate, hop) in [(16_000, 64), (48_000, 192)] {
            let x = resonance(1000.0, rate);
            for ratio in [1.3f64, 0.8] {
                let mut warp = EnvelopeWarp::new(rate);
                let mut y = vec![0.0; x.len()];
                for (inb, outb) in x.chunks(hop).zip(y.chunks_mut(hop)) {
                    if inb.len() == hop {
                        warp.process(inb, 1.0, 1.0 / ratio, outb);
                    }
                }
                let (before, after) = (peak_hz(&x[rate as usize / 4..], rate), peak_hz(&y[rate as usize / 4..], rate));
                assert!((before - 1000.0).abs() < 50.0, "input peak {before}");
                assert!(
                    (f64::from(after / before) / ratio - 1.0).abs() < 0.06,
                    "{rate} Hz x{ratio}: peak {before} -> {after}"
                );
            }
        }
    }
}
