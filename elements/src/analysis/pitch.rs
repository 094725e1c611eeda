// SPDX-License-Identifier: MPL-2.0
//! Fundamental frequency by YIN (de Cheveigné and Kawahara, 2002): cumulative-mean-normalised
//! difference function, absolute threshold, parabolic refinement. Frames that are quiet or
//! have no clear period are unvoiced.

/// Analysis settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PitchParams {
    /// Lowest F0 searched, Hz.
    pub min_hz: f32,
    /// Highest F0 searched, Hz.
    pub max_hz: f32,
    /// YIN threshold on the normalised difference (lower is stricter).
    pub threshold: f32,
    /// Frames quieter than this many dB under the loudest frame are unvoiced.
    pub silence_db: f32,
    /// Hop between frames, seconds.
    pub hop_seconds: f32,
}

impl Default for PitchParams {
    fn default() -> Self {
        Self { min_hz: 60.0, max_hz: 500.0, threshold: 0.15, silence_db: 35.0, hop_seconds: 0.01 }
    }
}

/// F0 per frame.
#[derive(Debug, Clone, PartialEq)]
pub struct PitchTrack {
    /// Samples between frame starts.
    pub hop: usize,
    /// Samples per frame.
    pub frame: usize,
    /// F0 of each frame in Hz; `None` when unvoiced.
    pub frames: Vec<Option<f32>>,
}

impl PitchTrack {
    /// Median F0 of the voiced frames.
    pub fn median(&self) -> Option<f32> {
        let mut f0: Vec<f32> = self.frames.iter().filter_map(|f| *f).collect();
        if f0.is_empty() {
            return None;
        }
        f0.sort_by(f32::total_cmp);
        Some(f0[f0.len() / 2])
    }

    /// Fraction of frames that are voiced.
    pub fn voiced_fraction(&self) -> f32 {
        if self.frames.is_empty() {
            return 0.0;
        }
        self.frames.iter().filter(|f| f.is_some()).count() as f32 / self.frames.len() as f32
    }
}

/// The F0 track of `samples` at `rate` Hz.
pub fn f0_track(samples: &[f32], rate: u32, params: &PitchParams) -> PitchTrack {
    let rate_f = rate as f32;
    let max_lag = (rate_f / params.min_hz).ceil() as usize;
    let min_lag = ((rate_f / params.max_hz).floor() as usize).max(2);
    // Two periods of the lowest pitch fit in a frame.
    let frame = 2 * max_lag;
    let hop = ((params.hop_seconds * rate_f).round() as usize).max(1);
    if samples.len() < frame {
        return PitchTrack { hop, frame, frames: Vec::new() };
    }
    let starts: Vec<usize> = (0..=samples.len() - frame).step_by(hop).collect();
    let energies: Vec<f32> =
        starts.iter().map(|&s| samples[s..s + frame].iter().map(|v| v * v).sum::<f32>() / frame as f32).collect();
    let loudest = energies.iter().copied().fold(0.0f32, f32::max);
    let floor = loudest * 10f32.powf(-params.silence_db / 10.0);
    let mut diff = vec![0.0f32; max_lag + 1];
    let frames = starts
        .iter()
        .zip(&energies)
        .map(|(&start, &energy)| {
            if energy <= floor || energy <= 1e-10 {
                return None;
            }
            yin(&samples[start..start + frame], min_lag, max_lag, params.threshold, &mut diff).map(|lag| rate_f / lag)
        })
        .collect();
    PitchTrack { hop, frame, frames }
}

/// The period of `x` in samples (fractional), or `None` when no lag clears the threshold.
fn yin(x: &[f32], min_lag: usize, max_lag: usize, threshold: f32, diff: &mut [f32]) -> Option<f32> {
    let window = x.len() - max_lag;
    diff[0] = 1.0;
    let mut running = 0.0f32;
    for lag in 1..=max_lag {
        let d: f32 = x[..window].iter().zip(&x[lag..lag + window]).map(|(a, b)| (a - b) * (a - b)).sum();
        running += d;
        diff[lag] = if running > 0.0 { d * lag as f32 / running } else { 1.0 };
    }
    let mut lag = min_lag;
    while lag < max_lag {
        if diff[lag] < threshold {
            // Walk down to the local minimum of this dip.
            while lag + 1 < max_lag && diff[lag + 1] < diff[lag] {
                lag += 1;
            }
            let (a, b, c) = (diff[lag - 1], diff[lag], diff[lag + 1]);
            let denom = a - 2.0 * b + c;
            let shift = if denom.abs() > 1e-12 { 0.5 * (a - c) / denom } else { 0.0 };
            return Some(lag as f32 + shift.clamp(-1.0, 1.0));
        }
        lag += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f32, rate: u32, seconds: f32) -> Vec<f32> {
        // A sawtooth-like sum of harmonics, closer to a voice than a sine.
        (0..(rate as f32 * seconds) as usize)
            .map(|i| {
                let t = i as f32 / rate as f32;
                (1..6).map(|k| (2.0 * std::f32::consts::PI * hz * k as f32 * t).sin() / k as f32).sum::<f32>() * 0.3
            })
            .collect()
    }

    #[test]
    fn finds_the_pitch_of_harmonic_tones() {
        for hz in [90.0, 140.5, 220.0, 330.0] {
            let track = f0_track(&tone(hz, 16000, 0.5), 16000, &PitchParams::default());
            let median = track.median().expect("voiced");
            assert!((median - hz).abs() < hz * 0.005, "{hz} -> {median}");
            assert!(track.voiced_fraction() > 0.95);
        }
    }

    #[test]
    fn silence_and_noise_are_unvoiced() {
        let mut seed = 1u32;
        let noise: Vec<f32> = (0..8000)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 8) as f32 / (1 << 24) as f32 - 0.5
            })
            .collect();
        let track = f0_track(&noise, 16000, &PitchParams::default());
        assert!(track.voiced_fraction() < 0.1, "{}", track.voiced_fraction());
        assert_eq!(f0_track(&[0.0; 8000], 16000, &PitchParams::default()).median(), None);
    }
}
