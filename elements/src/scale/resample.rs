// SPDX-License-Identifier: MPL-2.0
//! Separable cubic resampling of one 8-bit plane: each source row is filtered
//! horizontally once into 16-bit fixed point, kept in a small ring, and output rows blend
//! the ring's rows vertically.

/// Weights are fixed point with this many fractional bits; each output's weights sum to one.
const WEIGHT_BITS: u32 = 14;
/// Horizontally filtered samples keep 6 fractional bits: with the cubic's overshoot (at
/// most 1.25 of full scale for C up to 1) they stay inside `i16`.
const SHIFT_H: u32 = 8;
/// The vertical pass removes the weights' bits and the 6 bits the horizontal pass kept.
const SHIFT_V: u32 = 2 * WEIGHT_BITS - SHIFT_H;

pub(super) use super::ReenactScaleMethod as Method;

impl Method {
    /// C of the cubic.
    fn c(self) -> f64 {
        match self {
            Method::Bicubic => 0.6,
            Method::CatmullRom => 0.5,
        }
    }

    /// The kernel's weight at distance `x`, in source samples.
    pub(super) fn weight(self, x: f64) -> f64 {
        cubic(x, self.c())
    }
}

/// The cubic with B = 0 and the given C at distance `x`, in source samples: C = 1/2 is
/// Catmull-Rom, 0.6 swscale's default bicubic.
fn cubic(x: f64, c: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        ((2.0 - c) * x - (3.0 - c)) * x * x + 1.0
    } else if x < 2.0 {
        ((-x + 5.0) * x - 8.0) * x * c + 4.0 * c
    } else {
        0.0
    }
}

/// The filter of one axis: for output sample `i`, `taps` weights applied to the source
/// samples from `start[i]` on.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Source samples.
    src: usize,
    taps: usize,
    start: Vec<u32>,
    /// `taps` weights per output sample, in output order; each group sums to `1 << 14`.
    weights: Vec<i16>,
    /// With four taps, the source windows of each block of eight outputs (see [`Window`]).
    windows: Vec<Window>,
}

/// Eight consecutive outputs of a four-tap axis (upscaling, or equal sizes) read one
/// 16-byte window of the source: where it starts, and which byte of it each 16-bit lane
/// takes, four taps per output (`0x80` zeroes a lane's high byte).
#[derive(Debug, Clone, PartialEq)]
struct Window {
    at: usize,
    first: usize,
    picks: [u8; 64],
}

/// The windows of a four-tap axis: blocks from output 0 in steps of eight, the last one
/// ending at the last output; none when some block does not fit in 16 bytes.
fn windows(start: &[u32], src: usize) -> Vec<Window> {
    let n = start.len();
    if n < 8 || src < 16 {
        return Vec::new();
    }
    let firsts = (0..n - 7).step_by(8).chain((!n.is_multiple_of(8)).then_some(n - 8));
    let mut out = Vec::with_capacity(n / 8 + 1);
    for first in firsts {
        let at = (start[first] as usize).min(src - 16);
        let mut picks = [0x80u8; 64];
        for p in 0..8 {
            for t in 0..4 {
                let Some(rel) = (start[first + p] as usize + t).checked_sub(at).filter(|r| *r < 16) else {
                    return Vec::new();
                };
                picks[2 * (4 * p + t)] = rel as u8;
            }
        }
        out.push(Window { at, first, picks });
    }
    out
}

/// The position, in source samples, of output sample `i`'s centre: the two grids' edges
/// line up.
fn source_centre(i: usize, ratio: f64) -> f64 {
    (i as f64 + 0.5) * ratio - 0.5
}

impl Axis {
    /// The filter from `src` samples to `dst`. Subsampled planes use it too, as if their
    /// samples sat in the middle of the pixels they cover: swscale and videoconvertscale do
    /// the same whatever the caps' chroma siting says, and outputs stay equal to theirs.
    pub fn new(src: usize, dst: usize, method: Method) -> Self {
        assert!(src > 0 && dst > 0, "empty axis");
        let ratio = src as f64 / dst as f64;
        // Downscaling widens the kernel so every source sample contributes.
        let stretch = ratio.max(1.0);
        let taps = ((4.0 * stretch).ceil() as usize).min(src);
        let mut start = Vec::with_capacity(dst);
        let mut weights = Vec::with_capacity(dst * taps);
        let mut window = vec![0f64; taps];
        for i in 0..dst {
            let centre = source_centre(i, ratio);
            let first = (centre - 2.0 * stretch).floor() as i64 + 1;
            let lo = first.clamp(0, (src - taps) as i64);
            window.fill(0.0);
            for k in 0..taps as i64 + 1 {
                let at = first + k;
                let w = method.weight((at as f64 - centre) / stretch);
                if w == 0.0 {
                    continue;
                }
                // Samples past an edge repeat the edge sample.
                let clamped = at.clamp(0, src as i64 - 1);
                let slot = (clamped - lo).clamp(0, taps as i64 - 1) as usize;
                window[slot] += w;
            }
            start.push(lo as u32);
            push_fixed(&window, &mut weights);
        }
        let windows = if taps == 4 { windows(&start, src) } else { Vec::new() };
        Axis { src, taps, start, weights, windows }
    }
}

/// `window` normalised and rounded to fixed point, the rounding error given to the largest
/// weight so the group sums to exactly one.
fn push_fixed(window: &[f64], out: &mut Vec<i16>) {
    let one = (1i32 << WEIGHT_BITS) as f64;
    let sum: f64 = window.iter().sum();
    let first = out.len();
    let mut total = 0i32;
    for w in window {
        let q = (w / sum * one).round() as i32;
        total += q;
        out.push(q as i16);
    }
    let group = &mut out[first..];
    let (largest, _) = group.iter().enumerate().max_by_key(|(_, w)| **w).expect("at least one tap");
    group[largest] += ((1 << WEIGHT_BITS) - total) as i16;
}

/// One plane's resampler: both axes and the ring of horizontally filtered rows.
#[derive(Debug)]
pub struct Plane {
    h: Axis,
    v: Axis,
    /// Horizontally filtered rows, `h.start.len()` samples each, one per ring slot.
    ring: Vec<Vec<i16>>,
    /// The source row each slot holds.
    held: Vec<Option<usize>>,
}

impl Plane {
    pub fn new(h: Axis, v: Axis) -> Self {
        let width = h.start.len();
        let slots = v.taps;
        Plane { ring: vec![vec![0; width]; slots], held: vec![None; slots], h, v }
    }

    pub fn width(&self) -> usize {
        self.h.start.len()
    }

    pub fn height(&self) -> usize {
        self.v.start.len()
    }

    /// Resamples the plane `src` (rows of `src_stride` bytes) into `dst`. `src` must hold
    /// the source rows and columns the axes were made for.
    pub fn run(&mut self, src: &[u8], src_stride: usize, dst: &mut [u8], dst_stride: usize) {
        self.held.fill(None);
        let (width, taps) = (self.width(), self.v.taps);
        let src_width = self.h.src;
        let mut slots = vec![0usize; taps];
        for y in 0..self.height() {
            let first = self.v.start[y] as usize;
            for (k, slot) in slots.iter_mut().enumerate() {
                let row = first + k;
                *slot = row % taps;
                if self.held[*slot] != Some(row) {
                    let line = &src[row * src_stride..][..src_width];
                    filter_row(line, &self.h, &mut self.ring[*slot]);
                    self.held[*slot] = Some(row);
                }
            }
            let rows = Rows { ring: &self.ring, slots: &slots };
            let weights = &self.v.weights[y * taps..][..taps];
            blend_rows(rows, weights, &mut dst[y * dst_stride..][..width]);
        }
    }
}

/// The rows one output row blends, in order: ring slots.
#[derive(Clone, Copy)]
struct Rows<'a> {
    ring: &'a [Vec<i16>],
    slots: &'a [usize],
}

impl<'a> Rows<'a> {
    fn get(&self, k: usize) -> &'a [i16] {
        &self.ring[self.slots[k]]
    }

    fn len(&self) -> usize {
        self.slots.len()
    }
}

/// Horizontal pass of one row.
#[allow(unsafe_code)]
fn filter_row(line: &[u8], axis: &Axis, out: &mut [i16]) {
    #[cfg(target_arch = "x86_64")]
    if !axis.windows.is_empty() && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { filter_windows_avx2(line, axis, out) };
    }
    filter_samples(line, axis, out);
}

/// Horizontal pass, one sample at a time.
fn filter_samples(line: &[u8], axis: &Axis, out: &mut [i16]) {
    let taps = axis.taps;
    let round = 1i32 << (SHIFT_H - 1);
    for (i, o) in out.iter_mut().enumerate() {
        let src = &line[axis.start[i] as usize..][..taps];
        let w = &axis.weights[i * taps..][..taps];
        let sum: i32 = src.iter().zip(w).map(|(&p, &w)| i32::from(p) * i32::from(w)).sum();
        *o = ((sum + round) >> SHIFT_H) as i16;
    }
}

/// [`filter_samples`] for a four-tap axis, a [`Window`] (eight outputs) at a time: the
/// window's 16 bytes, in both halves of a register, are shuffled into the outputs' taps as
/// 16-bit lanes and multiplied with their weights.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn filter_windows_avx2(line: &[u8], axis: &Axis, out: &mut [i16]) {
    use std::arch::x86_64::*;
    assert!(line.len() >= axis.src && out.len() >= axis.start.len() && axis.weights.len() >= 4 * axis.start.len());
    let round = _mm256_set1_epi32(1 << (SHIFT_H - 1));
    let order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    for w in &axis.windows {
        // SAFETY: `windows` keeps `w.at + 16 <= axis.src <= line.len()` and
        // `w.first + 8 <= axis.start.len()`, which bounds the loads of 32 weights and the
        // store of 8 outputs (asserted above).
        unsafe {
            let window = _mm256_broadcastsi128_si256(_mm_loadu_si128(line.as_ptr().add(w.at).cast()));
            let lo = _mm256_shuffle_epi8(window, _mm256_loadu_si256(w.picks.as_ptr().cast()));
            let hi = _mm256_shuffle_epi8(window, _mm256_loadu_si256(w.picks.as_ptr().add(32).cast()));
            let weights = axis.weights.as_ptr().add(w.first * 4);
            let wl = _mm256_loadu_si256(weights.cast());
            let wh = _mm256_loadu_si256(weights.add(16).cast());
            // Pairs of products, then the pairs of each output summed: outputs 0 1 4 5 | 2 3 6 7.
            let sums = _mm256_hadd_epi32(_mm256_madd_epi16(lo, wl), _mm256_madd_epi16(hi, wh));
            let sums = _mm256_srai_epi32::<{ SHIFT_H as i32 }>(_mm256_add_epi32(sums, round));
            let sums = _mm256_permutevar8x32_epi32(sums, order);
            let packed = _mm256_permute4x64_epi64::<0b1000>(_mm256_packs_epi32(sums, sums));
            _mm_storeu_si128(out.as_mut_ptr().add(w.first).cast(), _mm256_castsi256_si128(packed));
        }
    }
}

/// Vertical pass: the output row is the weighted sum of `rows`, rounded and clamped.
#[allow(unsafe_code)]
fn blend_rows(rows: Rows<'_>, weights: &[i16], out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { blend_rows_avx2(rows, weights, out) };
    }
    blend_samples(rows, weights, 0, out);
}

/// Vertical pass from sample `from` on, one sample at a time.
fn blend_samples(rows: Rows<'_>, weights: &[i16], from: usize, out: &mut [u8]) {
    let round = 1i32 << (SHIFT_V - 1);
    for (x, o) in out.iter_mut().enumerate().skip(from) {
        let sum: i32 = (0..rows.len()).map(|k| i32::from(rows.get(k)[x]) * i32::from(weights[k])).sum();
        *o = ((sum + round) >> SHIFT_V).clamp(0, 255) as u8;
    }
}

/// [`blend_samples`] sixteen samples at a time: rows are taken in pairs, interleaved, and
/// multiplied with the pair's weights in one `madd`. Samples past the rows' common length
/// (if `out` is longer) are left to the portable loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn blend_rows_avx2(rows: Rows<'_>, weights: &[i16], out: &mut [u8]) {
    use std::arch::x86_64::*;
    let taps = rows.len().min(weights.len());
    let n = (0..taps).map(|k| rows.get(k).len()).min().unwrap_or(0).min(out.len());
    let round = _mm256_set1_epi32(1 << (SHIFT_V - 1));
    if n < 16 {
        return blend_samples(rows, weights, 0, out);
    }
    let mut x = 0;
    loop {
        // The last block ends at the row's end, overlapping the one before it.
        x = x.min(n - 16);
        let (mut acc_lo, mut acc_hi) = (_mm256_setzero_si256(), _mm256_setzero_si256());
        for k in (0..taps).step_by(2) {
            // An odd last row pairs with itself at weight zero.
            let (b, wb) = if k + 1 < taps { (k + 1, weights[k + 1]) } else { (k, 0) };
            let w = _mm256_set1_epi32((i32::from(wb) << 16) | i32::from(weights[k] as u16));
            // SAFETY: `x <= n - 16` and every row has at least `n` samples.
            let (ra, rb) = unsafe {
                (
                    _mm256_loadu_si256(rows.get(k).as_ptr().add(x).cast()),
                    _mm256_loadu_si256(rows.get(b).as_ptr().add(x).cast()),
                )
            };
            acc_lo = _mm256_add_epi32(acc_lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(ra, rb), w));
            acc_hi = _mm256_add_epi32(acc_hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(ra, rb), w));
        }
        let lo = _mm256_srai_epi32::<{ SHIFT_V as i32 }>(_mm256_add_epi32(acc_lo, round));
        let hi = _mm256_srai_epi32::<{ SHIFT_V as i32 }>(_mm256_add_epi32(acc_hi, round));
        // The unpacks split each 128-bit lane; packing lo with hi puts the samples back in order.
        let words = _mm256_packs_epi32(lo, hi);
        let bytes = _mm256_permute4x64_epi64::<0b1000>(_mm256_packus_epi16(words, words));
        // SAFETY: `x <= n - 16` and `n <= out.len()`.
        unsafe { _mm_storeu_si128(out.as_mut_ptr().add(x).cast(), _mm256_castsi256_si128(bytes)) };
        if x + 16 == n {
            break;
        }
        x += 16;
    }
    blend_samples(rows, weights, n, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATMULL_ROM: Method = Method::CatmullRom;

    #[test]
    fn the_cubic_is_catmull_rom_at_one_half() {
        for x in [0.0, 0.25, 0.5, 1.0, 1.5, 1.9, 2.5] {
            let want = if x < 1.0 {
                1.5 * x * x * x - 2.5 * x * x + 1.0
            } else if x < 2.0 {
                -0.5 * x * x * x + 2.5 * x * x - 4.0 * x + 2.0
            } else {
                0.0
            };
            assert!((cubic(x, 0.5) - want).abs() < 1e-12, "{x}");
            assert!((cubic(-x, 0.6) - cubic(x, 0.6)).abs() < 1e-12, "symmetric");
        }
        // Interpolating at any sharpness: one at 0, zero at the other integers.
        for c in [0.5, 0.6, 0.75] {
            assert_eq!((cubic(0.0, c), cubic(1.0, c), cubic(2.0, c)), (1.0, 0.0, 0.0));
        }
    }

    fn plane(src: (usize, usize), dst: (usize, usize)) -> Plane {
        Plane::new(Axis::new(src.0, dst.0, CATMULL_ROM), Axis::new(src.1, dst.1, CATMULL_ROM))
    }

    fn resample(data: &[u8], src: (usize, usize), dst: (usize, usize)) -> Vec<u8> {
        let mut out = vec![0u8; dst.0 * dst.1];
        plane(src, dst).run(data, src.0, &mut out, dst.0);
        out
    }

    #[test]
    fn weights_sum_to_one_and_stay_inside_the_source() {
        for (src, dst) in [(608, 1080), (304, 540), (1920, 640), (5, 3), (3, 7)] {
            let axis = Axis::new(src, dst, CATMULL_ROM);
            for (i, group) in axis.weights.chunks(axis.taps).enumerate() {
                assert_eq!(group.iter().map(|&w| i32::from(w)).sum::<i32>(), 1 << WEIGHT_BITS);
                assert!(axis.start[i] as usize + axis.taps <= src);
            }
        }
    }

    #[test]
    fn four_tap_axes_have_windows_for_every_output() {
        for (src, dst) in [(608, 1080), (304, 540), (16, 17), (608, 608), (20, 1000), (1080, 1083)] {
            let axis = Axis::new(src, dst, CATMULL_ROM);
            assert_eq!(axis.taps, 4);
            let mut covered = vec![false; dst];
            for w in &axis.windows {
                assert!(w.at + 16 <= src);
                covered[w.first..w.first + 8].fill(true);
            }
            assert!(covered.iter().all(|c| *c), "{src} -> {dst}");
        }
        assert!(Axis::new(1920, 640, CATMULL_ROM).windows.is_empty(), "downscales have more taps");
    }

    #[test]
    fn same_size_is_a_copy() {
        let data: Vec<u8> = (0..64 * 48).map(|i| (i * 37 % 251) as u8).collect();
        assert_eq!(resample(&data, (64, 48), (64, 48)), data);
    }

    #[test]
    fn flat_planes_stay_flat() {
        for value in [0u8, 1, 128, 254, 255] {
            let data = vec![value; 40 * 30];
            let out = resample(&data, (40, 30), (71, 53));
            assert!(out.iter().all(|&p| p == value), "value {value}");
            let out = resample(&data, (40, 30), (13, 9));
            assert!(out.iter().all(|&p| p == value), "value {value}");
        }
    }

    #[test]
    fn a_ramp_upscaled_stays_a_ramp() {
        // A linear ramp is reproduced exactly by a cubic that interpolates, away from the edges.
        let (w, h) = (64, 8);
        let data: Vec<u8> = (0..w * h).map(|i| (i % w * 4) as u8).collect();
        let out = resample(&data, (w, h), (2 * w, h));
        for (x, &got) in out.iter().enumerate().take(2 * w - 8).skip(8) {
            let want = ((x as f64 + 0.5) / 2.0 - 0.5) * 4.0;
            assert!((f64::from(got) - want).abs() <= 1.0, "x {x}: {got} vs {want}");
        }
    }

    #[test]
    fn simd_and_portable_passes_agree() {
        let (w, h) = (608, 40);
        let data: Vec<u8> = (0..w * h).map(|i| ((i * 7919) % 256) as u8).collect();
        for dst_w in [1080, 1083, 608, 301] {
            let axis = Axis::new(w, dst_w, Method::Bicubic);
            let (mut simd, mut plain) = (vec![0i16; dst_w], vec![0i16; dst_w]);
            filter_row(&data[..w], &axis, &mut simd);
            filter_samples(&data[..w], &axis, &mut plain);
            assert_eq!(simd, plain, "horizontal to {dst_w}");
            let ring = vec![plain.clone(), simd];
            let rows = Rows { ring: &ring, slots: &[0, 1, 0] };
            for weights in [[-1000i16, 17000, 384], [8192, 8192, 0], [-2048, 9216, 9216]] {
                let (mut a, mut b) = (vec![0u8; dst_w], vec![0u8; dst_w]);
                blend_rows(rows, &weights, &mut a);
                blend_samples(rows, &weights, 0, &mut b);
                assert_eq!(a, b, "vertical to {dst_w} with {weights:?}");
            }
        }
    }
}
