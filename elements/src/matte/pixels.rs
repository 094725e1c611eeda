// SPDX-License-Identifier: MPL-2.0
//! Packed RGB images for the `reenactmatte` backgrounds: block downscale, a separable box blur
//! with running sums, bilinear resize, and bilinear rows back at frame size.
//! No GStreamer here.

use super::mask::{taps, Frame, Tap};

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
        out.data.reserve(out.width * out.height * 3);
        let (half, quarter) = (factor / 2, factor / 4);
        for v in 0..out.height {
            let y0 = (v * factor + quarter).min(frame.height - 1);
            let y1 = (v * factor + quarter + half).min(frame.height - 1);
            for u in 0..out.width {
                let x0 = (u * factor + quarter).min(frame.width - 1);
                let x1 = (u * factor + quarter + half).min(frame.width - 1);
                for &o in &frame.rgb {
                    let at = |x: usize, y: usize| u32::from(frame.data[y * frame.stride + x * 4 + o]);
                    out.data.push(((at(x0, y0) + at(x1, y0) + at(x0, y1) + at(x1, y1) + 2) / 4) as u8);
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
        for _ in 0..passes {
            scratch.clear();
            scratch.resize(self.data.len(), 0);
            blur_lines(&self.data, scratch, self.height, self.width, self.width * 3, 3, radius);
            blur_lines(scratch, &mut self.data, self.width, self.height, 3, self.width * 3, radius);
        }
    }

    /// Bilinear resize to `width` x `height`.
    pub fn resized(&self, width: usize, height: usize) -> Self {
        let mut up = Upsampler::new(self, width, height);
        let mut data = vec![0u8; width * height * 3];
        for (y, row) in data.chunks_exact_mut(width * 3).enumerate() {
            let row_rgb = up.row(self, y);
            row.copy_from_slice(row_rgb);
        }
        Self { width, height, data }
    }
}

/// Blurs `lines` lines of `len` pixels: pixel `i` of line `l` is at `l * line_step + i * step`.
fn blur_lines(src: &[u8], dst: &mut [u8], lines: usize, len: usize, line_step: usize, step: usize, radius: usize) {
    let r = radius.min(len.saturating_sub(1)).max(1) as isize;
    let norm = (1u32 << 16) / (2 * r as u32 + 1);
    let last = len as isize - 1;
    for l in 0..lines {
        let base = l * line_step;
        let at = |i: isize, c: usize| u32::from(src[base + i.clamp(0, last) as usize * step + c]);
        for c in 0..3 {
            let mut sum: u32 = (-r..=r).map(|i| at(i, c)).sum();
            for i in 0..len as isize {
                dst[base + i as usize * step + c] = ((sum * norm + 32768) >> 16).min(255) as u8;
                sum = sum + at(i + r + 1, c) - at(i - r, c);
            }
        }
    }
}

/// Bilinear rows of an [`Rgb`] image at another size.
#[derive(Debug, Clone)]
pub struct Upsampler {
    xt: Vec<Tap>,
    yt: Vec<Tap>,
    /// One vertically blended source row, values x 256.
    col: Vec<u32>,
    /// The last output row.
    row: Vec<u8>,
}

impl Upsampler {
    /// Upsampler from `src`'s size to `width` x `height`.
    pub fn new(src: &Rgb, width: usize, height: usize) -> Self {
        Self {
            xt: taps(src.width, width),
            yt: taps(src.height, height),
            col: vec![0; src.width * 3],
            row: vec![0; width * 3],
        }
    }

    /// Whether this upsampler maps `src`'s size to `width` x `height`.
    pub fn fits(&self, src: &Rgb, width: usize, height: usize) -> bool {
        self.col.len() == src.width * 3 && self.xt.len() == width && self.yt.len() == height
    }

    /// Blends the two source rows of output row `y`; [`Self::at`] then reads that row.
    pub fn prepare(&mut self, src: &Rgb, y: usize) {
        let t = self.yt[y];
        let line = src.width * 3;
        let (r0, r1) = (&src.data[t.i0 * line..][..line], &src.data[t.i1 * line..][..line]);
        for ((c, &a), &b) in self.col.iter_mut().zip(r0).zip(r1) {
            *c = u32::from(a) * (256 - t.w) + u32::from(b) * t.w;
        }
    }

    /// Pixel `x` of the row last given to [`Self::prepare`].
    #[inline]
    pub fn at(&self, x: usize) -> [u8; 3] {
        let t = self.xt[x];
        let (a, b) = (&self.col[t.i0 * 3..t.i0 * 3 + 3], &self.col[t.i1 * 3..t.i1 * 3 + 3]);
        let mix = |c: usize| (((a[c] * (256 - t.w) + b[c] * t.w + 32768) >> 16).min(255)) as u8;
        [mix(0), mix(1), mix(2)]
    }

    /// Output row `y` as RGB bytes.
    pub fn row(&mut self, src: &Rgb, y: usize) -> &[u8] {
        self.prepare(src, y);
        for x in 0..self.xt.len() {
            let px = self.at(x);
            self.row[x * 3..x * 3 + 3].copy_from_slice(&px);
        }
        &self.row
    }
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
    fn resize_keeps_corners_and_flat_colour() {
        let src = Rgb { width: 2, height: 1, data: vec![0, 10, 20, 200, 210, 220] };
        let big = src.resized(6, 3);
        assert_eq!((big.width, big.height, big.data.len()), (6, 3, 54));
        assert_eq!(&big.data[0..3], &[0, 10, 20]);
        assert_eq!(&big.data[15..18], &[200, 210, 220]);
        let flat = Rgb { width: 3, height: 3, data: vec![9; 27] }.resized(7, 5);
        assert!(flat.data.iter().all(|&v| v == 9));
    }
}
