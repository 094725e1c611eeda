// SPDX-License-Identifier: MPL-2.0
//! Linear prediction: autocorrelation method with Levinson-Durbin, the all-pole spectral
//! envelope it implies, and formants as the envelope's first peaks.

use super::pitch::PitchTrack;

/// Pre-emphasis coefficient: flattens the -6 dB/octave glottal tilt so the envelope shows
/// the vocal tract, not the source.
pub const PRE_EMPHASIS: f32 = 0.97;

/// Lowest frequency taken as a formant, Hz (below it sits the voice's own fundamental).
const MIN_FORMANT_HZ: f32 = 150.0;

/// Usual LPC order for speech at `rate`: two poles per kHz plus two.
pub fn order_for(rate: u32) -> usize {
    (rate as usize / 1000 + 2).clamp(8, 40)
}

/// LPC coefficients `a[1..=order]` of `x` (so that `x[n] ~ -sum a[k] x[n-k]`), with `a[0] = 1`;
/// `None` for a silent frame.
pub fn lpc(x: &[f32], order: usize) -> Option<Vec<f64>> {
    let r: Vec<f64> = (0..=order)
        .map(|lag| x.iter().zip(&x[lag.min(x.len())..]).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum())
        .collect();
    if r[0] <= 1e-12 {
        return None;
    }
    let mut a = vec![0.0f64; order + 1];
    a[0] = 1.0;
    // A little lag-window noise floor keeps the recursion stable on clean synthetic tones.
    let mut err = r[0] * (1.0 + 1e-9);
    for i in 1..=order {
        let acc: f64 = (1..i).map(|j| a[j] * r[i - j]).sum::<f64>() + r[i];
        let k = -acc / err;
        let prev = a.clone();
        for j in 1..i {
            a[j] = prev[j] + k * prev[i - j];
        }
        a[i] = k;
        err *= 1.0 - k * k;
        if err <= 0.0 {
            return None;
        }
    }
    Some(a)
}

/// `|1 / A(e^jw)|` at `bins` frequencies evenly spaced from 0 to Nyquist (inclusive).
pub fn envelope(a: &[f64], bins: usize) -> Vec<f32> {
    (0..bins)
        .map(|i| {
            let w = std::f64::consts::PI * i as f64 / (bins - 1).max(1) as f64;
            let (mut re, mut im) = (0.0, 0.0);
            for (k, &c) in a.iter().enumerate() {
                re += c * (w * k as f64).cos();
                im -= c * (w * k as f64).sin();
            }
            (1.0 / (re * re + im * im).sqrt().max(1e-12)) as f32
        })
        .collect()
}

/// The first three formant frequencies of one frame, Hz; `None` when fewer peaks show.
pub fn frame_formants(frame: &[f32], rate: u32) -> Option<[f32; 3]> {
    let n = frame.len();
    let windowed: Vec<f32> = (0..n)
        .map(|i| {
            let prev = if i > 0 { frame[i - 1] } else { 0.0 };
            let hamming = 0.54 - 0.46 * (2.0 * std::f32::consts::PI * i as f32 / (n - 1).max(1) as f32).cos();
            (frame[i] - PRE_EMPHASIS * prev) * hamming
        })
        .collect();
    let a = lpc(&windowed, order_for(rate))?;
    let bins = 512;
    let env = envelope(&a, bins);
    let hz_per_bin = rate as f32 / 2.0 / (bins - 1) as f32;
    let mut peaks = (1..bins - 1).filter(|&i| env[i] > env[i - 1] && env[i] >= env[i + 1]).filter_map(|i| {
        // Parabolic interpolation on the log envelope.
        let (l, c, r) = (env[i - 1].ln(), env[i].ln(), env[i + 1].ln());
        let denom = l - 2.0 * c + r;
        let shift = if denom.abs() > 1e-9 { 0.5 * (l - r) / denom } else { 0.0 };
        let hz = (i as f32 + shift) * hz_per_bin;
        (hz >= MIN_FORMANT_HZ).then_some(hz)
    });
    Some([peaks.next()?, peaks.next()?, peaks.next()?])
}

/// Median F1..F3 over the voiced frames of `track` (25 ms analysis windows at each frame's
/// centre); falls back to neutral-tract values (500, 1500, 2500 Hz) if none is measurable.
pub fn median_formants(samples: &[f32], rate: u32, track: &PitchTrack) -> [f32; 3] {
    let len = (rate as usize * 25 / 1000).max(16);
    let mut found: [Vec<f32>; 3] = Default::default();
    for (i, f0) in track.frames.iter().enumerate() {
        if f0.is_none() {
            continue;
        }
        let centre = i * track.hop + track.frame / 2;
        let Some(start) = centre.checked_sub(len / 2) else { continue };
        let Some(frame) = samples.get(start..start + len) else { continue };
        if let Some(f) = frame_formants(frame, rate) {
            for k in 0..3 {
                found[k].push(f[k]);
            }
        }
    }
    let neutral = [500.0, 1500.0, 2500.0];
    let mut out = neutral;
    for k in 0..3 {
        if !found[k].is_empty() {
            found[k].sort_by(f32::total_cmp);
            out[k] = found[k][found[k].len() / 2];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An impulse train at `f0` through three resonators at `formants` (a crude vowel).
    pub(crate) fn vowel(f0: f32, formants: [f32; 3], rate: u32, seconds: f32) -> Vec<f32> {
        let n = (rate as f32 * seconds) as usize;
        let period = rate as f32 / f0;
        let mut x: Vec<f32> = (0..n).map(|i| if (i as f32 % period) < 1.0 { 1.0 } else { 0.0 }).collect();
        for f in formants {
            let bw = 80.0f32;
            let r = (-std::f32::consts::PI * bw / rate as f32).exp();
            let theta = 2.0 * std::f32::consts::PI * f / rate as f32;
            let (a1, a2) = (-2.0 * r * theta.cos(), r * r);
            let (mut y1, mut y2) = (0.0f32, 0.0f32);
            for v in &mut x {
                let y = *v - a1 * y1 - a2 * y2;
                y2 = y1;
                y1 = y;
                *v = y;
            }
        }
        let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        x.iter().map(|v| v / peak * 0.5).collect()
    }

    #[test]
    fn formants_of_a_synthetic_vowel() {
        let target = [700.0, 1200.0, 2600.0];
        let x = vowel(120.0, target, 16000, 0.6);
        let track = super::super::pitch::f0_track(&x, 16000, &Default::default());
        let found = median_formants(&x, 16000, &track);
        for k in 0..3 {
            assert!((found[k] - target[k]).abs() < target[k] * 0.08, "F{}: {found:?}", k + 1);
        }
    }
}
