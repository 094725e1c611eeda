// SPDX-License-Identifier: MPL-2.0
//! Pitch shift in the time domain with a fixed mean delay: two Hann-windowed grains read the
//! input history at `ratio` samples per output sample (band-limited windowed-sinc
//! interpolation, cut-off lowered to `1 / ratio` when reading faster, so nothing aliases); a
//! new grain starts every half grain, its start searched within ±`tolerance` of the nominal
//! position for the best waveform match with the grain it overlaps (WSOLA), so the crossfade
//! joins two signals in phase instead of cancelling. Each grain's read delay moves linearly
//! around `centre` and stays inside `[margin, 2 * centre - margin]`, so the mean delay of the
//! output is `centre` samples whatever the ratio. Resampling moves formants with the pitch;
//! `super::envelope` puts them back (or elsewhere). No GStreamer here.

/// Zero crossings of the interpolation kernel on each side at cut-off 1.
const SINC_ZEROS: usize = 8;

/// Table entries per zero crossing.
const SINC_PHASES: usize = 256;

/// Highest ratio the shifter is built for (+24 semitones).
pub(crate) const MAX_RATIO: f64 = 4.0;

/// Longest grain, seconds.
const MAX_GRAIN_SECONDS: f64 = 0.025;

/// WSOLA search half-width, seconds: covers half a period down to 83 Hz, so a splice point in
/// phase with the overlapped grain exists for every voice but the lowest creak.
const TOLERANCE_SECONDS: f64 = 0.006;

/// WSOLA comparison window, seconds.
const MATCH_SECONDS: f64 = 0.005;

/// Blackman-windowed sinc, tabulated on `[0, SINC_ZEROS]`.
#[derive(Debug, Clone)]
pub(crate) struct Sinc {
    table: Vec<f32>,
}

impl Sinc {
    pub(crate) fn new() -> Self {
        let len = SINC_ZEROS * SINC_PHASES + 2;
        let table = (0..len)
            .map(|i| {
                if i == 0 {
                    return 1.0;
                }
                // Exact zeros at the integers, so integer positions read the sample itself.
                if i % SINC_PHASES == 0 {
                    return 0.0;
                }
                let u = i as f64 / SINC_PHASES as f64;
                if u >= SINC_ZEROS as f64 {
                    return 0.0;
                }
                let x = std::f64::consts::PI * u;
                let t = u / SINC_ZEROS as f64;
                let blackman =
                    0.42 + 0.5 * (std::f64::consts::PI * t).cos() + 0.08 * (2.0 * std::f64::consts::PI * t).cos();
                (x.sin() / x * blackman) as f32
            })
            .collect();
        Self { table }
    }

    /// Kernel value at `u` zero-crossing units from the centre (`u >= 0`).
    fn at(&self, u: f64) -> f32 {
        let x = u * SINC_PHASES as f64;
        let i = x as usize;
        if i + 1 >= self.table.len() {
            return 0.0;
        }
        let frac = (x - i as f64) as f32;
        self.table[i] + (self.table[i + 1] - self.table[i]) * frac
    }

    /// Input samples needed on each side of a position read with `cutoff` (0 < cutoff <= 1).
    pub(crate) fn half_width(cutoff: f64) -> usize {
        (SINC_ZEROS as f64 / cutoff).ceil() as usize + 1
    }

    /// The band-limited value of `history` at absolute position `pos`, low-passed at `cutoff`
    /// times Nyquist.
    pub(crate) fn read(&self, history: &History, pos: f64, cutoff: f64) -> f32 {
        let base = pos.floor();
        let frac = pos - base;
        let base = base as i64;
        if frac == 0.0 && cutoff >= 1.0 {
            return history.get(base);
        }
        let reach = Self::half_width(cutoff) as i64;
        let mut acc = 0.0f32;
        for k in (1 - reach)..=reach {
            let u = ((k as f64 - frac) * cutoff).abs();
            if u < SINC_ZEROS as f64 {
                acc += history.get(base + k) * self.at(u);
            }
        }
        acc * cutoff as f32
    }
}

/// The recent input, addressed by absolute sample index.
#[derive(Debug, Clone)]
pub(crate) struct History {
    buf: Vec<f32>,
    mask: usize,
    /// Absolute index of the next sample to be written.
    next: i64,
}

impl History {
    /// Keeps at least `len` samples.
    pub(crate) fn new(len: usize) -> Self {
        let size = len.next_power_of_two().max(16);
        Self { buf: vec![0.0; size], mask: size - 1, next: 0 }
    }

    pub(crate) fn push(&mut self, v: f32) {
        let i = (self.next as usize) & self.mask;
        self.buf[i] = v;
        self.next += 1;
    }

    /// Absolute index of the next sample to be written.
    pub(crate) fn next(&self) -> i64 {
        self.next
    }

    /// Sample `index`; zero before the first sample, and (callers keep reads in range) for
    /// anything older than the buffer.
    pub(crate) fn get(&self, index: i64) -> f32 {
        if index < 0 || index >= self.next || self.next - index > self.buf.len() as i64 {
            return 0.0;
        }
        self.buf[(index as usize) & self.mask]
    }
}

#[derive(Debug, Clone, Copy)]
struct Grain {
    /// Read position (absolute input index, fractional).
    pos: f64,
    /// Output samples produced so far.
    age: usize,
    /// Length in output samples.
    len: usize,
    /// Input samples read per output sample.
    ratio: f64,
}

impl Grain {
    fn weight(&self) -> f32 {
        let phase = self.age as f64 / self.len as f64;
        (0.5 - 0.5 * (2.0 * std::f64::consts::PI * phase).cos()) as f32
    }
}

/// The grain pitch shifter of one channel.
#[derive(Debug, Clone)]
pub(crate) struct PitchShifter {
    sinc: Sinc,
    history: History,
    grains: Vec<Grain>,
    /// Mean read delay, samples: the shifter's latency.
    centre: usize,
    /// WSOLA search half-width and comparison length, samples.
    tolerance: usize,
    window: usize,
    /// Longest grain, samples.
    max_grain: usize,
    /// Search stride (about one 16 kHz sample).
    stride: usize,
}

impl PitchShifter {
    /// A shifter for `rate` Hz with a mean delay of `centre` samples.
    pub(crate) fn new(rate: u32, centre: usize) -> Self {
        let rate_f = f64::from(rate);
        let tolerance = (TOLERANCE_SECONDS * rate_f).round() as usize;
        let window = (MATCH_SECONDS * rate_f).round() as usize;
        let history = History::new(4 * (centre + tolerance + window) + 64);
        Self {
            sinc: Sinc::new(),
            history,
            grains: Vec::with_capacity(3),
            centre,
            tolerance,
            window,
            max_grain: (MAX_GRAIN_SECONDS * rate_f).round() as usize,
            stride: (rate / 16_000).max(1) as usize,
        }
    }

    /// Mean delay in samples.
    pub(crate) fn latency(&self) -> usize {
        self.centre
    }

    /// Shortest read delay a grain of `ratio` may reach: the kernel's reach plus one.
    fn margin(ratio: f64) -> usize {
        Sinc::half_width((1.0 / ratio).min(1.0)) + 1
    }

    /// Grain length for `ratio`: the longest whose delay sweep `|ratio - 1| * len` plus the
    /// search tolerance fits around `centre`.
    fn grain_len(&self, ratio: f64) -> usize {
        let span = 2 * self.centre.saturating_sub(Self::margin(ratio) + self.tolerance);
        let drift = (ratio - 1.0).abs();
        let len = if drift < 1e-9 { self.max_grain as f64 } else { (span as f64 / drift).min(self.max_grain as f64) };
        (len as usize).max(8)
    }

    /// Shifts `input` by `ratio` (clamped to 1/MAX_RATIO..MAX_RATIO) into `output` (same length).
    pub(crate) fn process(&mut self, input: &[f32], output: &mut [f32], ratio: f64) {
        let ratio = ratio.clamp(1.0 / MAX_RATIO, MAX_RATIO);
        for (x, y) in input.iter().zip(output.iter_mut()) {
            self.history.push(*x);
            let now = self.history.next() - 1;
            if self.grains.last().is_none_or(|g| g.age * 2 >= g.len) {
                self.start_grain(now, ratio);
            }
            let (mut acc, mut total) = (0.0f32, 0.0f32);
            for grain in &mut self.grains {
                let w = grain.weight();
                if w > 0.0 {
                    acc += w * self.sinc.read(&self.history, grain.pos, (1.0 / grain.ratio).min(1.0));
                    total += w;
                }
                grain.pos += grain.ratio;
                grain.age += 1;
            }
            self.grains.retain(|g| g.age < g.len);
            *y = if total > 1e-3 { acc / total } else { 0.0 };
        }
    }

    fn start_grain(&mut self, now: i64, ratio: f64) {
        let len = self.grain_len(ratio);
        // The delay sweeps from centre + drift/2 down to centre - drift/2 (ratio > 1), or up.
        let start_delay = self.centre as f64 + (ratio - 1.0) * len as f64 / 2.0;
        let nominal = now as f64 - start_delay;
        let offset = match self.grains.last() {
            Some(old) if (ratio - 1.0).abs() > 1e-9 || (old.ratio - 1.0).abs() > 1e-9 => {
                self.best_offset(old.pos.floor() as i64, nominal.floor() as i64)
            }
            _ => 0,
        };
        self.grains.push(Grain { pos: nominal + offset as f64, age: 0, len, ratio });
    }

    /// WSOLA: the offset within ±tolerance whose past `window` samples best match (normalised
    /// cross-correlation) the past of the overlapped grain at `old`.
    fn best_offset(&self, old: i64, nominal: i64) -> i64 {
        let h = &self.history;
        let tol = self.tolerance as i64;
        let energy_old: f32 = (0..self.window as i64).step_by(self.stride).map(|i| h.get(old - i).powi(2)).sum();
        if energy_old < 1e-8 {
            return 0;
        }
        let score = |offset: i64, stride: usize| {
            let (mut dot, mut energy) = (0.0f32, 1e-9f32);
            for i in (0..self.window as i64).step_by(stride) {
                let v = h.get(nominal + offset - i);
                dot += h.get(old - i) * v;
                energy += v * v;
            }
            dot / energy.sqrt()
        };
        let stride = self.stride as i64;
        let mut best = (0i64, f32::MIN);
        let mut offset = -tol;
        while offset <= tol {
            let s = score(offset, self.stride);
            if s > best.1 {
                best = (offset, s);
            }
            offset += stride;
        }
        if stride > 1 {
            let coarse = best.0;
            best.1 = f32::MIN;
            for offset in (coarse - stride + 1).max(-tol)..=(coarse + stride - 1).min(tol) {
                let s = score(offset, 1);
                if s > best.1 {
                    best = (offset, s);
                }
            }
        }
        best.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f64, rate: u32, len: usize) -> Vec<f32> {
        (0..len).map(|i| (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin() as f32 * 0.5).collect()
    }

    /// Frequency by zero crossings over the second half.
    fn frequency(x: &[f32], rate: u32) -> f64 {
        let half = &x[x.len() / 2..];
        let crossings: Vec<usize> = (1..half.len()).filter(|&i| half[i - 1] < 0.0 && half[i] >= 0.0).collect();
        let (first, last) = (crossings[0], crossings[crossings.len() - 1]);
        (crossings.len() - 1) as f64 * f64::from(rate) / (last - first) as f64
    }

    #[test]
    fn ratio_one_is_a_pure_delay() {
        let x = sine(230.0, 16_000, 4000);
        let mut shifter = PitchShifter::new(16_000, 160);
        let mut y = vec![0.0; x.len()];
        shifter.process(&x, &mut y, 1.0);
        for i in 160..x.len() {
            assert!((y[i] - x[i - 160]).abs() < 1e-6, "{i}: {} vs {}", y[i], x[i - 160]);
        }
    }

    #[test]
    fn shifts_a_sine_by_the_ratio() {
        for (rate, ratio) in [(16_000, 1.5), (16_000, 0.7), (48_000, 2.0), (48_000, 0.5)] {
            let x = sine(300.0, rate, rate as usize);
            let mut shifter = PitchShifter::new(rate, rate as usize / 100);
            let mut y = vec![0.0; x.len()];
            shifter.process(&x, &mut y, ratio);
            let f = frequency(&y, rate);
            assert!((f / (300.0 * ratio) - 1.0).abs() < 0.01, "{rate} Hz x{ratio}: {f}");
        }
    }

    #[test]
    fn reads_never_reach_past_the_newest_sample() {
        for ratio in [0.25, 0.5, 0.9, 1.1, 2.0, 4.0] {
            let shifter = PitchShifter::new(16_000, 192);
            let len = shifter.grain_len(ratio) as f64;
            let lowest = shifter.centre as f64 - (ratio - 1.0).abs() * len / 2.0 - shifter.tolerance as f64;
            assert!(lowest >= PitchShifter::margin(ratio) as f64, "ratio {ratio}: lowest delay {lowest}");
        }
    }
}
