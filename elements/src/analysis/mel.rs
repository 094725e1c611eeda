// SPDX-License-Identifier: MPL-2.0
//! Slaney's mel scale and the Slaney-normalised triangular filterbank (librosa's
//! `filters.mel` with `htk=False, norm="slaney"`), shared by every front end that feeds a
//! model mel frames: the lip-sync window, the voice converter and the speaker embedding.
//! Each caller keeps its own window, FFT size, magnitude or power and log; only the bands
//! live here, so a fix to the scale reaches all three.

/// Below this frequency the scale is linear.
const MIN_LOG_HZ: f64 = 1000.0;
/// Hz per mel in the linear part.
const F_SP: f64 = 200.0 / 3.0;
/// The mel value at [`MIN_LOG_HZ`].
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Slaney's mel scale (librosa `hz_to_mel`, `htk=False`): linear to 1 kHz, logarithmic above.
pub fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

/// The inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        mel * F_SP
    }
}

/// One band: the first FFT bin it covers and the weights from there on (zeros trimmed, so
/// applying a bank costs the bands' widths, not bands x bins).
#[derive(Debug, Clone, PartialEq)]
pub struct MelBand {
    /// First FFT bin with a non-zero weight.
    pub start: usize,
    /// Weights of bins `start..start + weights.len()`.
    pub weights: Vec<f32>,
}

/// The periodic Hann window of `len` samples (torch's and librosa's default), which every
/// mel front end here applies before its FFT.
pub fn periodic_hann(len: usize) -> Vec<f32> {
    (0..len).map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / len as f64).cos()) as f32).collect()
}

/// A mel scale: Hz to mel and back.
type MelScale = (fn(f64) -> f64, fn(f64) -> f64);

/// A bank of triangular bands over the bins of a real FFT.
#[derive(Debug, Clone, PartialEq)]
pub struct MelFilterbank {
    bands: Vec<MelBand>,
    bins: usize,
}

impl MelFilterbank {
    /// librosa's `filters.mel(sr=rate, n_fft, n_mels=bands, fmin, fmax)`: band edges evenly
    /// spaced on the Slaney scale, each triangle scaled to unit area in Hz.
    pub fn slaney(rate: u32, n_fft: usize, bands: usize, f_min: f64, f_max: f64) -> Self {
        Self::on_scale(rate, n_fft, bands, (f_min, f_max), (hz_to_mel, mel_to_hz))
    }

    /// The same bands with edges evenly spaced on the HTK mel scale (librosa's `htk=True`,
    /// still Slaney-normalised), as RMVPE's front end has them.
    pub fn htk(rate: u32, n_fft: usize, bands: usize, f_min: f64, f_max: f64) -> Self {
        let to_mel = |hz: f64| 2595.0 * (1.0 + hz / 700.0).log10();
        let to_hz = |mel: f64| 700.0 * (10f64.powf(mel / 2595.0) - 1.0);
        Self::on_scale(rate, n_fft, bands, (f_min, f_max), (to_mel, to_hz))
    }

    fn on_scale(rate: u32, n_fft: usize, bands: usize, (f_min, f_max): (f64, f64), (to_mel, to_hz): MelScale) -> Self {
        let bins = n_fft / 2 + 1;
        let (lo, hi) = (to_mel(f_min), to_mel(f_max));
        let edges: Vec<f64> = (0..bands + 2).map(|i| to_hz(lo + (hi - lo) * i as f64 / (bands + 1) as f64)).collect();
        let bin_hz = f64::from(rate) / n_fft as f64;
        let bands = edges
            .windows(3)
            .map(|edge| {
                let (left, centre, right) = (edge[0], edge[1], edge[2]);
                let norm = 2.0 / (right - left);
                let weight = |k: usize| {
                    let f = k as f64 * bin_hz;
                    (((f - left) / (centre - left)).min((right - f) / (right - centre)).max(0.0) * norm) as f32
                };
                let start = (0..bins).find(|&k| weight(k) > 0.0).unwrap_or(0);
                let weights: Vec<f32> = (start..bins).map(weight).take_while(|&w| w > 0.0).collect();
                MelBand { start, weights }
            })
            .collect();
        Self { bands, bins }
    }

    /// The bands, lowest first.
    pub fn bands(&self) -> &[MelBand] {
        &self.bands
    }

    /// Number of bands.
    pub fn len(&self) -> usize {
        self.bands.len()
    }

    /// Whether the bank has no bands.
    pub fn is_empty(&self) -> bool {
        self.bands.is_empty()
    }

    /// FFT bins the bank expects (`n_fft / 2 + 1`).
    pub fn bins(&self) -> usize {
        self.bins
    }

    /// Weighted sums of `spectrum` (magnitude or power, [`Self::bins`] long) into `out`, one
    /// value per band.
    pub fn apply(&self, spectrum: &[f32], out: &mut [f32]) {
        for (o, band) in out.iter_mut().zip(&self.bands) {
            *o = band.weights.iter().zip(&spectrum[band.start..]).map(|(w, s)| w * s).sum();
        }
    }

    /// The centre frequency of band `index` in Hz.
    pub fn centre_hz(&self, index: usize, f_min: f64, f_max: f64) -> f64 {
        let (lo, hi) = (hz_to_mel(f_min), hz_to_mel(f_max));
        mel_to_hz(lo + (hi - lo) * (index + 1) as f64 / (self.bands.len() + 1) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_matches_librosa() {
        // librosa.hz_to_mel: 55 Hz -> 0.825, 1000 Hz -> 15, 7600 Hz -> 44.4996, 8000 Hz -> 45.2452.
        assert!((hz_to_mel(55.0) - 0.825).abs() < 1e-9);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(7600.0) - 44.499_575).abs() < 1e-4, "{}", hz_to_mel(7600.0));
        assert!((hz_to_mel(8000.0) - 45.245_2).abs() < 1e-3, "{}", hz_to_mel(8000.0));
        for hz in [0.0, 300.0, 999.0, 1000.0, 3000.0, 7999.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9, "{hz}");
        }
    }

    #[test]
    fn bands_have_unit_area_and_rise_in_frequency() {
        let bank = MelFilterbank::slaney(16_000, 800, 80, 55.0, 7600.0);
        assert_eq!(bank.len(), 80);
        assert_eq!(bank.bins(), 401);
        let bin_hz = 16_000.0 / 800.0;
        // Narrow low bands fall between bins; from band 10 on each triangle spans several.
        for band in &bank.bands()[10..] {
            let area: f32 = band.weights.iter().sum::<f32>() * bin_hz;
            assert!((area - 1.0).abs() < 0.15, "{area}");
        }
        assert!(bank.bands().windows(2).all(|b| b[0].start <= b[1].start));
        assert!(bank.bands().iter().all(|b| b.start + b.weights.len() <= bank.bins()));
    }

    #[test]
    fn a_single_bin_lights_the_bands_around_it() {
        let bank = MelFilterbank::slaney(16_000, 512, 40, 0.0, 8000.0);
        let mut spectrum = vec![0.0f32; bank.bins()];
        let bin = (1000.0 / (16_000.0 / 512.0)) as usize;
        spectrum[bin] = 1.0;
        let mut out = vec![0.0; bank.len()];
        bank.apply(&spectrum, &mut out);
        let loudest = (0..out.len()).max_by(|&a, &b| out[a].total_cmp(&out[b])).expect("bands");
        let centre = bank.centre_hz(loudest, 0.0, 8000.0);
        assert!((centre - 1000.0).abs() < 120.0, "loudest band centred at {centre} Hz");
        let lit = out.iter().filter(|&&v| v > 0.0).count();
        assert!((1..=2).contains(&lit), "a bin sits in at most two overlapping triangles, not {lit}");
    }

    #[test]
    fn htk_bands_peak_at_their_htk_centres() {
        let bank = MelFilterbank::htk(16_000, 1024, 128, 30.0, 8000.0);
        let mel = |hz: f64| 2595.0 * (1.0 + hz / 700.0).log10();
        let (lo, hi) = (mel(30.0), mel(8000.0));
        for index in [10, 40, 100] {
            let centre = 700.0 * (10f64.powf((lo + (hi - lo) * (index + 1) as f64 / 129.0) / 2595.0) - 1.0);
            let band = &bank.bands()[index];
            let peak = band.weights.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap();
            let peak_hz = (band.start + peak) as f64 * 16_000.0 / 1024.0;
            assert!((peak_hz - centre).abs() <= 16_000.0 / 1024.0, "band {index}: peak {peak_hz} Hz, centre {centre}");
        }
        assert_ne!(bank.bands()[40], MelFilterbank::slaney(16_000, 1024, 128, 30.0, 8000.0).bands()[40]);
    }
}
