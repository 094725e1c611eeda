// SPDX-License-Identifier: MPL-2.0
//! Packed RGB-family frames as plain slices, bilinear sampling, and the two model inputs built
//! from them: the letterboxed square for BlazeFace and the rotated face crop for the mesh.
//! No GStreamer here.

use super::roi::Roi;
use crate::frame::{bilinear, PackedLayout};

/// A read-only packed frame (RGB, BGR, RGBx, BGRx, RGBA, BGRA...).
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    /// Pixel rows, `stride` bytes apart.
    pub data: &'a [u8],
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Bytes from one row to the next.
    pub stride: usize,
    /// Bytes per pixel (3 or 4).
    pub pixel_stride: usize,
    /// Byte offsets of red, green and blue inside a pixel.
    pub rgb: [usize; 3],
}

impl Image<'_> {
    /// True when every row the dimensions promise lies inside `data`.
    pub fn is_valid(&self) -> bool {
        self.layout().fits(self.data.len(), self.width, self.height, self.stride)
    }

    fn layout(&self) -> PackedLayout {
        PackedLayout { pixel_stride: self.pixel_stride, rgb: self.rgb }
    }

    #[inline]
    fn pixel(&self, x: usize, y: usize) -> [f32; 3] {
        self.layout().rgb_at(self.data, y * self.stride + x * self.pixel_stride).map(f32::from)
    }

    /// Bilinear sample at (`x`, `y`) in pixel units (pixel centres at +0.5); black outside.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        let fx = x - 0.5;
        let fy = y - 0.5;
        if !(fx > -1.0 && fy > -1.0 && fx < self.width as f32 && fy < self.height as f32) {
            return [0.0; 3];
        }
        let x0 = fx.floor();
        let y0 = fy.floor();
        let ax = fx - x0;
        let ay = fy - y0;
        let (x0, y0) = (x0 as isize, y0 as isize);
        let get = |x: isize, y: isize| {
            if x < 0 || y < 0 || x >= self.width as isize || y >= self.height as isize {
                [0.0; 3]
            } else {
                self.pixel(x as usize, y as usize)
            }
        };
        let p00 = get(x0, y0);
        let p10 = get(x0 + 1, y0);
        let p01 = get(x0, y0 + 1);
        let p11 = get(x0 + 1, y0 + 1);
        let mut out = [0.0; 3];
        for c in 0..3 {
            out[c] = bilinear(p00[c], p10[c], p01[c], p11[c], ax, ay);
        }
        out
    }
}

/// How the square detector input maps back to the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Side of the padded square, in frame pixels.
    pub side: f32,
    /// Frame x of the square's left edge (negative: padding on the left).
    pub x0: f32,
    /// Frame y of the square's top edge.
    pub y0: f32,
}

impl Letterbox {
    /// The frame centred in a square of its longer side.
    pub fn for_frame(width: usize, height: usize) -> Self {
        let side = width.max(height) as f32;
        Self { side, x0: (width as f32 - side) / 2.0, y0: (height as f32 - side) / 2.0 }
    }

    /// Frame pixel of a normalized point of the square.
    pub fn to_frame(self, nx: f32, ny: f32) -> (f32, f32) {
        (self.x0 + nx * self.side, self.y0 + ny * self.side)
    }
}

/// Fills `out` (size x size x 3, NHWC) with the letterboxed frame scaled to `size`, values mapped
/// by `scale * v + offset` from 0..255. Each output pixel averages up to 4x4 bilinear samples so
/// a large downscale does not alias.
pub fn letterbox_input(image: &Image<'_>, size: usize, scale: f32, offset: f32, out: &mut Vec<f32>) -> Letterbox {
    let lb = Letterbox::for_frame(image.width, image.height);
    let step = lb.side / size as f32;
    let taps = (step / 2.0).ceil().clamp(1.0, 4.0) as usize;
    let norm = scale / (taps * taps) as f32;
    out.clear();
    out.reserve(size * size * 3);
    for v in 0..size {
        for u in 0..size {
            let mut acc = [0.0f32; 3];
            for ty in 0..taps {
                let y = lb.y0 + (v as f32 + (ty as f32 + 0.5) / taps as f32) * step;
                for tx in 0..taps {
                    let x = lb.x0 + (u as f32 + (tx as f32 + 0.5) / taps as f32) * step;
                    let p = image.sample(x, y);
                    acc[0] += p[0];
                    acc[1] += p[1];
                    acc[2] += p[2];
                }
            }
            out.extend(acc.iter().map(|a| a * norm + offset));
        }
    }
    lb
}

/// Fills `out` (size x size x 3, NHWC) with the rotated square `roi`, values `scale * v + offset`.
pub fn crop_input(image: &Image<'_>, roi: &Roi, size: usize, scale: f32, offset: f32, out: &mut Vec<f32>) {
    out.clear();
    out.reserve(size * size * 3);
    let (sin, cos) = roi.angle.sin_cos();
    let step = roi.size / size as f32;
    for v in 0..size {
        let ly = (v as f32 + 0.5) * step - roi.size / 2.0;
        for u in 0..size {
            let lx = (u as f32 + 0.5) * step - roi.size / 2.0;
            let x = roi.cx + lx * cos - ly * sin;
            let y = roi.cy + lx * sin + ly * cos;
            let p = image.sample(x, y);
            out.extend(p.iter().map(|c| c * scale + offset));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: usize, height: usize) -> Vec<u8> {
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                data.extend_from_slice(&[x as u8, y as u8, 200, 255]);
            }
        }
        data
    }

    #[test]
    fn bilinear_hits_pixel_centres_and_blends() {
        let data = gradient(8, 4);
        let img = Image { data: &data, width: 8, height: 4, stride: 32, pixel_stride: 4, rgb: [0, 1, 2] };
        assert!(img.is_valid());
        assert_eq!(img.sample(3.5, 2.5), [3.0, 2.0, 200.0]);
        assert_eq!(img.sample(4.0, 2.5)[0], 3.5);
        assert_eq!(img.sample(-5.0, 1.0), [0.0; 3]);
    }

    #[test]
    fn short_buffer_is_invalid() {
        let data = gradient(8, 4);
        let img = Image { data: &data[..100], width: 8, height: 4, stride: 32, pixel_stride: 4, rgb: [0, 1, 2] };
        assert!(!img.is_valid());
    }

    #[test]
    fn letterbox_pads_the_short_side() {
        let lb = Letterbox::for_frame(1280, 720);
        assert_eq!(lb, Letterbox { side: 1280.0, x0: 0.0, y0: -280.0 });
        assert_eq!(lb.to_frame(0.5, 0.5), (640.0, 360.0));
        let data = vec![255u8; 16 * 8 * 3];
        let img = Image { data: &data, width: 16, height: 8, stride: 48, pixel_stride: 3, rgb: [0, 1, 2] };
        let mut out = Vec::new();
        letterbox_input(&img, 4, 1.0 / 127.5, -1.0, &mut out);
        assert_eq!(out.len(), 48);
        assert_eq!(out[0], -1.0, "top padding row is black");
        assert!((out[4 * 3 * 2] - 1.0).abs() < 1e-5, "centre rows are white");
    }

    #[test]
    fn crop_follows_rotation() {
        let data = gradient(64, 64);
        let img = Image { data: &data, width: 64, height: 64, stride: 256, pixel_stride: 4, rgb: [0, 1, 2] };
        let roi = Roi { cx: 32.0, cy: 32.0, size: 16.0, angle: std::f32::consts::FRAC_PI_2 };
        let mut out = Vec::new();
        crop_input(&img, &roi, 16, 1.0, 0.0, &mut out);
        // Rotated a quarter turn: moving right in the crop moves down in the frame.
        let first = &out[0..3];
        let right = &out[15 * 3..15 * 3 + 3];
        assert!((right[1] - first[1] - 15.0).abs() < 1e-3, "{first:?} {right:?}");
        assert!((right[0] - first[0]).abs() < 1e-3);
    }
}
