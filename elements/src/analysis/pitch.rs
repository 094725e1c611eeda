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
    /// Median F0 of the voiced frames, octave errors folded back ([`folded_f0`]).
    pub fn median(&self) -> Option<f32> {
        folded_median(self.frames.iter().filter_map(|f| *f).collect())
    }

    /// Fraction of frames that are voiced.
    pub fn voiced_fraction(&self) -> f32 {
        if self.frames.is_empty() {
            return 0.0;
        }
        self.frames.iter().filter(|f| f.is_some()).count() as f32 / self.frames.len() as f32
    }
}

/// How far from half or double the median an octave error may land, in octaves (3 semitones).
const OCTAVE_SLACK: f32 = 0.25;

/// `f0` sorted, with YIN's octave errors moved back by an octave. On breathy or creaky frames
/// YIN now and then takes two periods for one (half the F0) or half of one: a short take with
/// many such frames read 93 Hz for a voice whose median is 107-110 Hz. A value within
/// [`OCTAVE_SLACK`] of half or double the median is doubled or halved, and the median taken
/// again, twice (the errors pull the first median too). Values between octaves are left as
/// they are, and an error can only be fixed while most frames are right.
pub fn folded_f0(mut f0: Vec<f32>) -> Vec<f32> {
    for _ in 0..2 {
        if f0.is_empty() {
            break;
        }
        f0.sort_by(f32::total_cmp);
        let median = f0[f0.len() / 2];
        for f in &mut f0 {
            let octaves = (*f / median).log2();
            if (octaves + 1.0).abs() <= OCTAVE_SLACK {
                *f *= 2.0;
            } else if (octaves - 1.0).abs() <= OCTAVE_SLACK {
                *f /= 2.0;
            }
        }
    }
    f0.sort_by(f32::total_cmp);
    f0
}

/// The median of `f0` with its octave errors folded back ([`folded_f0`]); `None` when empty.
pub fn folded_median(f0: Vec<f32>) -> Option<f32> {
    let f0 = folded_f0(f0);
    (!f0.is_empty()).then(|| f0[f0.len() / 2])
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
    fn octave_errors_are_folded_back_while_they_are_few() {
        // 60 frames around 108 Hz, 45 at half of it, 5 in between.
        let right = (0..60).map(|i| 104.0 + (i % 9) as f32);
        let halved = (0..45).map(|i| (104.0 + (i % 9) as f32) / 2.0);
        let f0: Vec<f32> = right.chain(halved).chain([80.0, 82.0, 84.0, 86.0, 88.0]).collect();
        let mut plain = f0.clone();
        plain.sort_by(f32::total_cmp);
        assert!(plain[plain.len() / 2] < 106.0, "the plain median is pulled down: {}", plain[plain.len() / 2]);
        let folded = folded_f0(f0.clone());
        let median = folded[folded.len() / 2];
        assert!((106.0..=109.0).contains(&median), "folded median {median}");
        assert_eq!(folded.iter().filter(|f| (80.0..=88.0).contains(*f)).count(), 5, "in-between values stay");
        // Doubled frames come back down alike.
        let doubled: Vec<f32> =
            (0..40).map(|i| 200.0 + (i % 7) as f32).chain((0..25).map(|i| 404.0 + i as f32)).collect();
        let folded = folded_f0(doubled);
        assert!(folded.iter().all(|f| (200.0..=216.0).contains(f)), "{folded:?}");
        // A majority of errors cannot be told from a lower voice.
        let most: Vec<f32> = (0..30).map(|_| 110.0).chain((0..70).map(|_| 55.0)).collect();
        assert_eq!(folded_f0(most)[50], 55.0);
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
