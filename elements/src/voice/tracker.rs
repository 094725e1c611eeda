// SPDX-License-Identifier: MPL-2.0
//! The performer's voice, measured on the element's own input while it plays: every 20 ms the
//! newest frame (decimated to about 16 kHz) goes through YIN; voiced frames add their F0 and
//! their LPC formants to running windows of the last few seconds whose medians drive the
//! character-derived shift. No GStreamer here.

use std::collections::VecDeque;

use crate::analysis::lpc::frame_formants;
use crate::analysis::pitch::{f0_track, folded_median, PitchParams};
use crate::character::VoiceProfile;

/// Seconds between analyses.
const INTERVAL_SECONDS: f32 = 0.02;

/// Seconds of voiced frames the medians cover.
const MEMORY_SECONDS: f32 = 5.0;

/// Frames quieter than this RMS are not analysed (about -50 dBFS).
const SILENCE_RMS: f32 = 0.003;

/// Voiced frames needed before the performer's median is trusted.
pub(crate) const MIN_VOICED: usize = 10;

/// Formants of a neutral vocal tract, Hz: the reference before the performer is measured.
pub(crate) const NEUTRAL_FORMANTS: [f32; 3] = [500.0, 1500.0, 2500.0];

/// Running F0 and formant medians of the input.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    /// Input samples averaged into one analysis sample.
    factor: usize,
    /// Analysis rate, Hz.
    rate: u32,
    params: PitchParams,
    /// Decimated input, newest last, `frame` long at most.
    recent: VecDeque<f32>,
    frame: usize,
    /// Partial sum of the sample being decimated and how many went in.
    pending: (f32, usize),
    /// Analysis samples since the last analysis.
    since: usize,
    interval: usize,
    memory: usize,
    f0: VecDeque<f32>,
    formants: VecDeque<[f32; 3]>,
}

impl Tracker {
    pub(crate) fn new(rate: u32) -> Self {
        let factor = (rate / 16_000).max(1) as usize;
        let analysis_rate = rate / factor as u32;
        let params = PitchParams::default();
        let max_lag = (analysis_rate as f32 / params.min_hz).ceil() as usize;
        // Room for YIN (two periods of the lowest F0) and a 25 ms formant window.
        let frame = (2 * max_lag).max(analysis_rate as usize / 40);
        Self {
            factor,
            rate: analysis_rate,
            params,
            recent: VecDeque::with_capacity(frame + 1),
            frame,
            pending: (0.0, 0),
            since: 0,
            interval: (INTERVAL_SECONDS * analysis_rate as f32) as usize,
            memory: (MEMORY_SECONDS / INTERVAL_SECONDS) as usize,
            f0: VecDeque::new(),
            formants: VecDeque::new(),
        }
    }

    /// Feeds mono input.
    pub(crate) fn push(&mut self, samples: &[f32]) {
        for &v in samples {
            self.pending.0 += v;
            self.pending.1 += 1;
            if self.pending.1 < self.factor {
                continue;
            }
            let sample = self.pending.0 / self.factor as f32;
            self.pending = (0.0, 0);
            if self.recent.len() == self.frame {
                self.recent.pop_front();
            }
            self.recent.push_back(sample);
            self.since += 1;
            if self.since >= self.interval && self.recent.len() == self.frame {
                self.since = 0;
                self.analyse();
            }
        }
    }

    fn analyse(&mut self) {
        let frame: Vec<f32> = self.recent.iter().copied().collect();
        let rms = (frame.iter().map(|v| v * v).sum::<f32>() / frame.len() as f32).sqrt();
        if rms < SILENCE_RMS {
            return;
        }
        let yin_len = 2 * (self.rate as f32 / self.params.min_hz).ceil() as usize;
        let track = f0_track(&frame[frame.len() - yin_len.min(frame.len())..], self.rate, &self.params);
        let Some(f0) = track.frames.first().copied().flatten() else { return };
        push_limited(&mut self.f0, f0, self.memory);
        let window = (self.rate as usize * 25 / 1000).min(frame.len());
        if let Some(formants) = frame_formants(&frame[frame.len() - window..], self.rate) {
            push_limited(&mut self.formants, formants, self.memory);
        }
    }

    /// Median F0 of the remembered voiced frames, once there are enough, octave errors folded
    /// back.
    pub(crate) fn median_f0(&self) -> Option<f32> {
        if self.f0.len() < MIN_VOICED {
            return None;
        }
        folded_median(self.f0.iter().copied().collect())
    }

    /// Median F1..F3, once enough voiced frames were measured.
    pub(crate) fn median_formants(&self) -> Option<[f32; 3]> {
        (self.formants.len() >= MIN_VOICED).then(|| [0, 1, 2].map(|k| median(self.formants.iter().map(|f| f[k]))))
    }

    /// The shift towards `profile`: semitones from the performer's median F0 to the profile's
    /// (0 until the performer is measured), and the formant ratio as the geometric mean of the
    /// profile's F1..F3 over the performer's (over a neutral tract until measured).
    pub(crate) fn targets(&self, profile: &VoiceProfile) -> (f64, f64) {
        let semitones = self.median_f0().map_or(0.0, |f0| f64::from(profile.semitones_from(f0)));
        let reference = self.median_formants().unwrap_or(NEUTRAL_FORMANTS);
        let log_ratio: f64 =
            profile.formants_hz.iter().zip(&reference).map(|(p, r)| (f64::from(*p) / f64::from(*r)).ln()).sum::<f64>()
                / 3.0;
        (semitones, log_ratio.exp())
    }
}

fn push_limited<T>(queue: &mut VecDeque<T>, value: T, limit: usize) {
    if queue.len() == limit {
        queue.pop_front();
    }
    queue.push_back(value);
}

fn median(values: impl Iterator<Item = f32>) -> f32 {
    let mut v: Vec<f32> = values.collect();
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f32, rate: u32, seconds: f32) -> Vec<f32> {
        (0..(rate as f32 * seconds) as usize)
            .map(|i| {
                let t = i as f32 / rate as f32;
                (1..6).map(|k| (2.0 * std::f32::consts::PI * hz * k as f32 * t).sin() / k as f32).sum::<f32>() * 0.3
            })
            .collect()
    }

    #[test]
    fn tracks_the_median_f0_at_any_rate() {
        for rate in [16_000, 22_050, 48_000] {
            let mut tracker = Tracker::new(rate);
            assert_eq!(tracker.median_f0(), None);
            tracker.push(&tone(150.0, rate, 1.0));
            let f0 = tracker.median_f0().expect("voiced");
            assert!((f0 - 150.0).abs() < 2.0, "{rate}: {f0}");
        }
    }

    #[test]
    fn silence_leaves_the_targets_neutral_in_pitch() {
        let mut tracker = Tracker::new(16_000);
        tracker.push(&[0.0; 16_000]);
        let profile = VoiceProfile {
            median_f0_hz: 200.0,
            f0_range_hz: [150.0, 250.0],
            formants_hz: NEUTRAL_FORMANTS.map(|f| f * 1.2),
            voiced_seconds: 3.0,
            embedding: None,
            rights: None,
        };
        let (semitones, formant) = tracker.targets(&profile);
        assert_eq!(semitones, 0.0);
        assert!((formant - 1.2).abs() < 1e-6, "{formant}");
    }
}
