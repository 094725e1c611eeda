// SPDX-License-Identifier: MPL-2.0
//! Packed RGB images for the `reenactmatte` backgrounds: block downscale, a separable box blur
//! with running sums, and bilinear rows back at frame size in the frame's byte layout.
//! No GStreamer here.

use super::mask::{lerp, taps, Frame, PixelSums, Tap};

/// A tightly packed RGB image (3 bytes per pixel).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rgb {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
}

impl Rgb {
    /// Reads `frame` into an image `factor` times smaller on each side (rounded up), each pixel
    /// the average of a 2x2 sample grid in its block.
    pub fn downscale(frame: &Frame<'_>, factor: usize, out: &mut Self) {
        let factor = factor.max(1);
        out.width = frame.width.div_ceil(factor);
        out.height = frame.height.div_ceil(factor);
        out.data.clear();
        out.data.resize(out.width * out.height * 3, 0);
        let (half, quarter) = (factor / 2, factor / 4);
        let cols: Vec<[usize; 2]> = (0..out.width)
            .map(|u| [u * factor + quarter, u * factor + quarter + half].map(|x| x.min(frame.width - 1) * 4))
            .collect();
        for (v, line) in out.data.chunks_exact_mut(out.width * 3).enumerate() {
            let [top, bottom] = [v * factor + quarter, v * factor + quarter + half]
                .map(|y| &frame.data[y.min(frame.height - 1) * frame.stride..][..frame.width * 4]);
            for (px, &[x0, x1]) in line.chunks_exact_mut(3).zip(&cols) {
                let sums = PixelSums::grid([top, bottom], [x0, x1]);
                for (c, &o) in px.iter_mut().zip(&frame.rgb) {
                    *c = ((sums.byte(o) + 2) / 4) as u8;
                }
            }
        }
    }

    /// Box blur of `radius` pixels, horizontal then vertical, edges clamped; `passes` times
    /// (two or three passes approach a Gaussian).
    pub fn box_blur(&mut self, radius: usize, passes: usize, scratch: &mut Vec<u8>) {
        if radius == 0 || self.width == 0 || self.height == 0 {
            return;
        }
        let mut sums = Vec::new();
        for _ in 0..passes {
            scratch.clear();
            scratch.resize(self.data.len(), 0);
            blur_lines(&self.data, scratch, self.height, self.width, self.width * 3, 3, radius);
            blur_columns(scratch, &mut self.data, self.width * 3, self.height, radius, &mut sums);
        }
    }

    /// Bilinear resize to `width` x `height`, in the packed 4-byte layout whose R, G and B
    /// sit at `rgb` (the fourth byte 0).
    pub fn resized_packed(&self, width: usize, height: usize, rgb: [usize; 3]) -> Vec<u8> {
        let mut up = Upsampler::new(self, width, height);
        up.prepare(self, rgb);
        let mut data = vec![0u8; width * height * 4];
        for (y, row) in data.chunks_exact_mut(width * 4).enumerate() {
            let (top, bottom, w) = up.rows(y);
            for ((o, &a), &b) in row.iter_mut().zip(top).zip(bottom) {
                *o = lerp(a, b, w);
            }
        }
        data
    }
}

/// Blurs each line of `len` pixels of `src` into `dst` (`lines` lines `line_step` bytes apart,
/// pixels `step` bytes apart): the running sum of a window of `2 * radius + 1` pixels, the
/// line padded with copies of its end pixels so the loop needs no clamping.
fn blur_lines(src: &[u8], dst: &mut [u8], lines: usize, len: usize, line_step: usize, step: usize, radius: usize) {
    let r = radius.min(len.saturating_sub(1)).max(1);
    let norm = (1u32 << 16) / (2 * r as u32 + 1);
    let mut padded: Vec<[u32; 3]> = Vec::with_capacity(len + 2 * r + 1);
    for l in 0..lines {
        let base = l * line_step;
        let px = |i: usize| {
            let p = &src[base + i * step..][..3];
            [u32::from(p[0]), u32::from(p[1]), u32::from(p[2])]
        };
        padded.clear();
        padded.extend(std::iter::repeat_n(px(0), r));
        padded.extend((0..len).map(px));
        padded.extend(std::iter::repeat_n(px(len - 1), r + 1));
        let mut sum = padded[..2 * r + 1].iter().fold([0u32; 3], |s, p| [s[0] + p[0], s[1] + p[1], s[2] + p[2]]);
        for (i, (enter, leave)) in padded[2 * r + 1..].iter().zip(&padded[..len]).enumerate() {
            let out = &mut dst[base + i * step..][..3];
            for c in 0..3 {
                out[c] = ((sum[c] * norm + 32768) >> 16).min(255) as u8;
                sum[c] = sum[c] + enter[c] - leave[c];
            }
        }
    }
}

/// Blurs the columns of a packed image (`height` rows of `line` bytes) from `src` into `dst`:
/// the same running sum as [`blur_lines`], kept for a whole row at a time.
fn blur_columns(src: &[u8], dst: &mut [u8], line: usize, height: usize, radius: usize, sums: &mut Vec<u32>) {
    let r = radius.min(height.saturating_sub(1)).max(1);
    let norm = (1u32 << 16) / (2 * r as u32 + 1);
    let row = |y: isize| &src[y.clamp(0, height as isize - 1) as usize * line..][..line];
    sums.clear();
    sums.resize(line, 0);
    for y in -(r as isize)..=r as isize {
        for (s, &v) in sums.iter_mut().zip(row(y)) {
            *s += u32::from(v);
        }
    }
    for (y, out) in dst.chunks_exact_mut(line).take(height).enumerate() {
        for (o, &s) in out.iter_mut().zip(sums.iter()) {
            *o = ((s * norm + 32768) >> 16).min(255) as u8;
        }
        let (enter, leave) = (row(y as isize + r as isize + 1), row(y as isize - r as isize));
        for ((s, &e), &l) in sums.iter_mut().zip(enter).zip(leave) {
            *s = *s + u32::from(e) - u32::from(l);
        }
    }
}

/// Bilinear rows of an [`Rgb`] image at another size, in a packed 4-byte frame layout. Each
/// source row is stretched to the output width once, when the first output row needs it, into
/// one of two slots; each output row is then a blend of two of them ([`Self::rows`]), left to
/// the compositing. Two slots rather than the whole stretched image keep it in the cache.
#[derive(Debug, Clone)]
pub struct Upsampler {
    src: (usize, usize),
    /// Per output column: the left source pixel and the weight of the one after it.
    x0: Vec<u32>,
    xw: Vec<u16>,
    yt: Vec<Tap>,
    /// The source as packed pixels in the output layout, each row with its last pixel again so
    /// that every column blends pixel i with i + 1 (weight 0 at the edge).
    packed: Vec<u32>,
    /// Source row `i` stretched to the output width lives in slot `i % 2`.
    slots: [Vec<u8>; 2],
    held: [Option<usize>; 2],
}

impl Upsampler {
    /// Upsampler from `src`'s size to `width` x `height`.
    pub fn new(src: &Rgb, width: usize, height: usize) -> Self {
        let xt = taps(src.width, width);
        Self {
            src: (src.width, src.height),
            x0: xt.iter().map(|t| t.i0 as u32).collect(),
            xw: xt.iter().map(|t| t.w).collect(),
            yt: taps(src.height, height),
            packed: Vec::new(),
            slots: [vec![0; width * 4], vec![0; width * 4]],
            held: [None; 2],
        }
    }

    /// Whether this upsampler maps `src`'s size to `width` x `height`.
    pub fn fits(&self, src: &Rgb, width: usize, height: usize) -> bool {
        self.src == (src.width, src.height) && self.x0.len() == width && self.yt.len() == height
    }

    /// Takes `src` (of the size given to [`Self::new`]) as the image to upsample, R, G and B
    /// at byte offsets `rgb` of each output pixel.
    pub fn prepare(&mut self, src: &Rgb, rgb: [usize; 3]) {
        let shifts = rgb.map(|o| 8 * o as u32);
        self.packed.clear();
        for line in src.data.chunks_exact(src.width * 3).take(self.src.1) {
            self.packed.extend(line.chunks_exact(3).map(|p| {
                (u32::from(p[0]) << shifts[0]) | (u32::from(p[1]) << shifts[1]) | (u32::from(p[2]) << shifts[2])
            }));
            self.packed.push(self.packed[self.packed.len() - 1]);
        }
        self.held = [None; 2];
    }

    /// The two stretched source rows under output row `y` and the weight of the second in
    /// 1/256. Cheapest when called for rows in order.
    pub fn rows(&mut self, y: usize) -> (&[u8], &[u8], u16) {
        let t = self.yt[y];
        self.stretch(t.i0);
        self.stretch(t.i1);
        (&self.slots[t.i0 % 2], &self.slots[t.i1 % 2], t.w)
    }

    /// Stretches source row `i` into its slot unless it is there already.
    fn stretch(&mut self, i: usize) {
        let slot = i % 2;
        if self.held[slot] == Some(i) {
            return;
        }
        let stride = self.src.0 + 1;
        stretch_line(&self.packed[i * stride..][..stride], &self.x0, &self.xw, &mut self.slots[slot]);
        self.held[slot] = Some(i);
    }
}

/// Writes `line` (packed pixels, the last one repeated) stretched by the taps `x0`/`xw` into
/// `out`, 4 bytes per pixel. Compiled for AVX2 too, used where the CPU has it.
#[allow(unsafe_code)]
fn stretch_line(line: &[u32], x0: &[u32], xw: &[u16], out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { stretch_line_avx2(line, x0, xw, out) };
    }
    stretch_pixels(line, x0, xw, out);
}

/// [`stretch_pixels`] eight pixels at a time: both neighbours gathered, then the packed
/// lerp in 16-bit lanes (byte 0 and 2 of each pixel in one pass, 1 and 3 in the other).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
fn stretch_line_avx2(line: &[u32], x0: &[u32], xw: &[u16], out: &mut [u8]) {
    use std::arch::x86_64::*;
    let n = x0.len().min(xw.len()).min(out.len() / 4);
    if line.len() < 2 {
        return stretch_pixels(line, x0, xw, out);
    }
    let last = _mm256_set1_epi32((line.len() - 2).min(i32::MAX as usize) as i32);
    let even = _mm256_set1_epi32(0x00ff_00ff);
    let (round, full) = (_mm256_set1_epi16(0x80), _mm256_set1_epi16(256));
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: `i + 8 <= n` keeps the loads of x0 and xw and the store to out inside their
        // slices; the gather indices are clamped to `line.len() - 2`, so both the pixel and
        // the one after it lie inside `line`.
        unsafe {
            let idx = _mm256_min_epi32(_mm256_loadu_si256(x0.as_ptr().add(i).cast()), last);
            let a = _mm256_i32gather_epi32::<4>(line.as_ptr().cast(), idx);
            let b = _mm256_i32gather_epi32::<4>(line.as_ptr().add(1).cast(), idx);
            let w = _mm256_cvtepu16_epi32(_mm_loadu_si128(xw.as_ptr().add(i).cast()));
            let w = _mm256_or_si256(w, _mm256_slli_epi32::<16>(w));
            let iw = _mm256_sub_epi16(full, w);
            let mix = |a: __m256i, b: __m256i| {
                let sum = _mm256_add_epi16(_mm256_mullo_epi16(a, iw), _mm256_mullo_epi16(b, w));
                _mm256_add_epi16(sum, round)
            };
            let low = mix(_mm256_and_si256(a, even), _mm256_and_si256(b, even));
            let high = mix(_mm256_srli_epi16::<8>(a), _mm256_srli_epi16::<8>(b));
            let packed = _mm256_or_si256(_mm256_srli_epi16::<8>(low), _mm256_andnot_si256(even, high));
            _mm256_storeu_si256(out.as_mut_ptr().add(i * 4).cast(), packed);
        }
        i += 8;
    }
    stretch_pixels(line, &x0[i..], &xw[i..], &mut out[i * 4..]);
}

#[inline(always)]
fn stretch_pixels(line: &[u32], x0: &[u32], xw: &[u16], out: &mut [u8]) {
    let last = line.len().saturating_sub(2);
    for ((px, &x), &w) in out.chunks_exact_mut(4).zip(x0).zip(xw) {
        // Clamped so the compiler sees both reads inside the line and drops the checks.
        let x = (x as usize).min(last);
        px.copy_from_slice(&lerp_packed(line[x], line[x + 1], w).to_le_bytes());
    }
}

/// [`lerp`] on the four bytes of a packed pixel at once, two 16-bit lanes per half.
#[inline(always)]
fn lerp_packed(a: u32, b: u32, w: u16) -> u32 {
    const EVEN: u32 = 0x00ff_00ff;
    let (w, iw) = (u32::from(w), 256 - u32::from(w));
    let even = (((a & EVEN) * iw + (b & EVEN) * w + 0x0080_0080) >> 8) & EVEN;
    let odd = (((a >> 8) & EVEN) * iw + ((b >> 8) & EVEN) * w + 0x0080_0080) & !EVEN;
    even | odd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_data(width: usize, height: usize, f: impl Fn(usize, usize) -> u8) -> Vec<u8> {
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                let v = f(x, y);
                data.extend_from_slice(&[v, v / 2, 255 - v, 0]);
            }
        }
        data
    }

    #[test]
    fn downscale_averages_blocks() {
        let data = frame_data(8, 8, |x, _| if x < 4 { 0 } else { 200 });
        let frame = Frame { data: &data, width: 8, height: 8, stride: 32, rgb: [0, 1, 2] };
        let mut small = Rgb::default();
        Rgb::downscale(&frame, 4, &mut small);
        assert_eq!((small.width, small.height), (2, 2));
        assert_eq!(&small.data[0..6], &[0, 0, 255, 200, 100, 55]);
    }

    #[test]
    fn box_blur_keeps_flat_images_and_spreads_an_edge() {
        let mut flat = Rgb { width: 5, height: 4, data: vec![77; 60] };
        let mut scratch = Vec::new();
        flat.box_blur(2, 2, &mut scratch);
        assert!(flat.data.iter().all(|&v| v == 77));
        let mut edge =
            Rgb { width: 10, height: 1, data: (0..10).flat_map(|x| [if x < 5 { 0 } else { 255 }; 3]).collect() };
        edge.box_blur(2, 1, &mut scratch);
        let red: Vec<u8> = edge.data.chunks(3).map(|p| p[0]).collect();
        assert_eq!(red[0], 0);
        assert_eq!(red[9], 255);
        assert!(red[4] > 0 && red[4] < 255 && red[5] > red[4], "{red:?}");
    }

    #[test]
    fn packed_lerp_matches_the_byte_lerp() {
        let (a, b) = (0x00ff_7f10u32, 0xff00_80f0u32);
        for w in [0u16, 1, 77, 128, 255, 256] {
            let bytes: Vec<u8> = a.to_le_bytes().iter().zip(b.to_le_bytes()).map(|(&x, y)| lerp(x, y, w)).collect();
            assert_eq!(lerp_packed(a, b, w).to_le_bytes().to_vec(), bytes, "w = {w}");
        }
    }

    #[test]
    fn rows_asked_out_of_order_are_the_same() {
        let src = Rgb { width: 3, height: 4, data: (0..36).map(|v| (v * 7) as u8).collect() };
        let mut up = Upsampler::new(&src, 8, 9);
        up.prepare(&src, [0, 1, 2]);
        let in_order: Vec<_> = (0..9)
            .map(|y| {
                let (t, b, w) = up.rows(y);
                (t.to_vec(), b.to_vec(), w)
            })
            .collect();
        for y in [8, 0, 5, 5, 1, 7] {
            let (t, b, w) = up.rows(y);
            assert_eq!((t.to_vec(), b.to_vec(), w), in_order[y], "row {y}");
        }
    }

    #[test]
    fn stretch_is_the_same_on_every_build() {
        let line: Vec<u32> = (0..50u32).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
        let xt = taps(49, 301);
        let (x0, xw): (Vec<u32>, Vec<u16>) = xt.iter().map(|t| (t.i0 as u32, t.w)).unzip();
        let (mut fast, mut portable) = (vec![0u8; 301 * 4], vec![0u8; 301 * 4]);
        stretch_line(&line, &x0, &xw, &mut fast);
        stretch_pixels(&line, &x0, &xw, &mut portable);
        assert_eq!(fast, portable);
        assert_eq!(&fast[..4], &line[0].to_le_bytes());
    }

    #[test]
    fn resize_keeps_corners_and_flat_colour() {
        let src = Rgb { width: 2, height: 1, data: vec![0, 10, 20, 200, 210, 220] };
        let big = src.resized_packed(6, 3, [2, 1, 0]);
        assert_eq!(big.len(), 6 * 3 * 4);
        assert_eq!(&big[0..4], &[20, 10, 0, 0]);
        assert_eq!(&big[20..24], &[220, 210, 200, 0]);
        assert!(big[8..12] > big[4..8] && big[12..16] < big[16..20], "{big:?}");
        let flat = Rgb { width: 3, height: 3, data: vec![9; 27] }.resized_packed(7, 5, [0, 1, 2]);
        assert!(flat.chunks(4).all(|px| px == [9, 9, 9, 0]));
    }
}
