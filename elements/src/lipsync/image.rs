// SPDX-License-Identifier: MPL-2.0
//! Pixels: the packed 8-bit RGB-family frame the element writes, a read-only picture to sample
//! from (bilinear, in frame coordinates), and the character portrait scaled into an output
//! frame. Coordinates are continuous with pixel `(x, y)` covering `[x, x + 1) x [y, y + 1)`,
//! as the landmarks are. No GStreamer here.

use crate::character::RgbaImage;

use crate::frame::bilinear;
pub(super) use crate::frame::PackedLayout as Layout;

/// A frame being written, built inside `frame::write_packed`, which has checked that every
/// row lies inside `data`.
#[derive(Debug)]
pub(super) struct FrameMut<'a> {
    /// Rows `stride` bytes apart.
    pub(super) data: &'a mut [u8],
    /// Width in pixels.
    pub(super) width: usize,
    /// Height in pixels.
    pub(super) height: usize,
    /// Bytes from one row to the next.
    pub(super) stride: usize,
    /// Pixel layout.
    pub(super) layout: Layout,
}

impl FrameMut<'_> {
    /// R, G, B of pixel (`x`, `y`).
    #[inline(always)]
    pub(super) fn get(&self, x: usize, y: usize) -> [u8; 3] {
        self.layout.rgb_at(self.data, y * self.stride + x * self.layout.pixel_stride)
    }

    /// Sets pixel (`x`, `y`) to `colour` (0..255 per channel, rounded).
    #[inline(always)]
    pub(super) fn set(&mut self, x: usize, y: usize, colour: [f32; 3]) {
        let i = y * self.stride + x * self.layout.pixel_stride;
        for (&offset, &value) in self.layout.rgb.iter().zip(&colour) {
            // NaN becomes 0 through the cast.
            self.data[i + offset] = (value + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
}

/// Copies the rectangle `x0..x1` x `y0..y1` of `frame` into `buf` as packed RGB and returns it
/// as a picture placed at (`x0`, `y0`).
pub(super) fn copy_rect<'b>(
    frame: &FrameMut<'_>,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
    buf: &'b mut Vec<u8>,
) -> Picture<'b> {
    let (x1, y1) = (x1.min(frame.width), y1.min(frame.height));
    let (w, h) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
    buf.clear();
    buf.reserve(w * h * 3);
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            buf.extend_from_slice(&frame.get(x, y));
        }
    }
    Picture { data: buf, x0: x0 as isize, y0: y0 as isize, width: w, height: h, stride: w * 3, layout: Layout::RGB }
}

/// A read-only picture placed at (`x0`, `y0`) in frame coordinates.
#[derive(Debug, Clone, Copy)]
pub(super) struct Picture<'a> {
    /// Rows `stride` bytes apart.
    pub(super) data: &'a [u8],
    /// Frame column of the picture's first column.
    pub(super) x0: isize,
    /// Frame row of the picture's first row.
    pub(super) y0: isize,
    /// Width in pixels.
    pub(super) width: usize,
    /// Height in pixels.
    pub(super) height: usize,
    /// Bytes from one row to the next.
    pub(super) stride: usize,
    /// Pixel layout.
    pub(super) layout: Layout,
}

impl Picture<'_> {
    /// Bilinear colour at frame point (`x`, `y`) (continuous coordinates), clamped to the
    /// picture's edge pixels.
    #[inline(always)]
    pub(super) fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        if self.width == 0 || self.height == 0 {
            return [0.0; 3];
        }
        let fx = (x - 0.5 - self.x0 as f32).clamp(0.0, (self.width - 1) as f32);
        let fy = (y - 0.5 - self.y0 as f32).clamp(0.0, (self.height - 1) as f32);
        let (ix, iy) = (fx as usize, fy as usize);
        let (ax, ay) = (fx - ix as f32, fy - iy as f32);
        let ps = self.layout.pixel_stride;
        // Offsets of the right and lower neighbours (none at the last column or row).
        let dx = if ix + 1 < self.width { ps } else { 0 };
        let dy = if iy + 1 < self.height { self.stride } else { 0 };
        let i = iy * self.stride + ix * ps;
        let mut out = [0.0; 3];
        for (o, &offset) in out.iter_mut().zip(&self.layout.rgb) {
            let p = |k: usize| f32::from(self.data[i + k + offset]);
            *o = bilinear(p(0), p(dx), p(dy), p(dx + dy), ax, ay);
        }
        out
    }
}

/// The character portrait scaled to fit an output frame (aspect kept, centred, black around
/// it), in the output's layout, with its landmarks moved along.
#[derive(Debug, Clone)]
pub(super) struct ScaledPortrait {
    /// Packed rows of `width * pixel_stride` bytes.
    pub(super) data: Vec<u8>,
    /// Frame width.
    pub(super) width: usize,
    /// Frame height.
    pub(super) height: usize,
    /// Pixel layout.
    pub(super) layout: Layout,
    /// The 468 landmarks in frame pixels.
    pub(super) landmarks: Vec<[f32; 3]>,
}

impl ScaledPortrait {
    /// Scales `image` (with `landmarks` in its pixels) into a `width` x `height` frame.
    pub(super) fn new(image: &RgbaImage, landmarks: &[[f32; 3]], width: usize, height: usize, layout: Layout) -> Self {
        let (pw, ph) = (image.width as usize, image.height as usize);
        let ps = layout.pixel_stride;
        let mut data = vec![0u8; width * height * ps];
        if ps == 4 {
            // Opaque alpha (or a set filler byte) everywhere.
            let alpha = 6 - layout.rgb.iter().sum::<usize>();
            for px in data.chunks_exact_mut(4) {
                px[alpha] = 255;
            }
        }
        let scale = (width as f32 / pw.max(1) as f32).min(height as f32 / ph.max(1) as f32);
        let (ox, oy) = ((width as f32 - pw as f32 * scale) / 2.0, (height as f32 - ph as f32 * scale) / 2.0);
        let landmarks = landmarks.iter().map(|p| [p[0] * scale + ox, p[1] * scale + oy, p[2] * scale]).collect();
        if pw == 0 || ph == 0 || image.data.len() < pw * ph * 4 {
            return Self { data, width, height, layout, landmarks };
        }
        let source = Picture {
            data: &image.data,
            x0: 0,
            y0: 0,
            width: pw,
            height: ph,
            stride: pw * 4,
            layout: Layout { pixel_stride: 4, rgb: [0, 1, 2] },
        };
        let alpha_at = |x: f32, y: f32| {
            let (ix, iy) = ((x.max(0.0) as usize).min(pw - 1), (y.max(0.0) as usize).min(ph - 1));
            f32::from(image.data[(iy * pw + ix) * 4 + 3]) / 255.0
        };
        // Supersampling factor: enough samples per output pixel when shrinking.
        let n = (1.0 / scale).ceil().max(1.0) as usize;
        for y in 0..height {
            for x in 0..width {
                let mut sum = [0.0f32; 3];
                let mut count = 0usize;
                for sy in 0..n {
                    for sx in 0..n {
                        let fx = (x as f32 + (sx as f32 + 0.5) / n as f32 - ox) / scale;
                        let fy = (y as f32 + (sy as f32 + 0.5) / n as f32 - oy) / scale;
                        if fx < 0.0 || fy < 0.0 || fx >= pw as f32 || fy >= ph as f32 {
                            count += 1;
                            continue;
                        }
                        let a = alpha_at(fx, fy);
                        let c = source.sample(fx, fy);
                        for k in 0..3 {
                            sum[k] += c[k] * a;
                        }
                        count += 1;
                    }
                }
                let i = (y * width + x) * ps;
                for (k, &offset) in layout.rgb.iter().enumerate() {
                    data[i + offset] = (sum[k] / count.max(1) as f32 + 0.5).clamp(0.0, 255.0) as u8;
                }
            }
        }
        Self { data, width, height, layout, landmarks }
    }

    /// The portrait as a picture to sample from.
    pub(super) fn picture(&self) -> Picture<'_> {
        Picture {
            data: &self.data,
            x0: 0,
            y0: 0,
            width: self.width,
            height: self.height,
            stride: self.width * self.layout.pixel_stride,
            layout: self.layout,
        }
    }

    /// Copies the portrait into `frame` (same size and layout).
    pub(super) fn copy_into(&self, frame: &mut FrameMut<'_>) {
        let row = self.width * self.layout.pixel_stride;
        for (y, src) in self.data.chunks_exact(row).take(frame.height).enumerate() {
            let start = y * frame.stride;
            frame.data[start..start + row].copy_from_slice(src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_portrait_is_letterboxed_with_its_landmarks() {
        // 2x1 picture: red, green; scaled into 8x8 RGBA: 8x4 in the middle rows.
        let image = RgbaImage { width: 2, height: 1, data: vec![255, 0, 0, 255, 0, 255, 0, 255] };
        let layout = Layout { pixel_stride: 4, rgb: [0, 1, 2] };
        let p = ScaledPortrait::new(&image, &[[1.0, 0.5, 0.0]], 8, 8, layout);
        assert_eq!(p.landmarks, vec![[4.0, 4.0, 0.0]]);
        let px = |x: usize, y: usize| &p.data[(y * 8 + x) * 4..(y * 8 + x) * 4 + 4];
        assert_eq!(px(0, 0), &[0, 0, 0, 255], "black bar");
        assert_eq!(px(0, 3), &[255, 0, 0, 255]);
        assert_eq!(px(7, 4), &[0, 255, 0, 255]);
        let bgrx = Layout { pixel_stride: 4, rgb: [2, 1, 0] };
        let q = ScaledPortrait::new(&image, &[], 8, 8, bgrx);
        assert_eq!(&q.data[(3 * 8) * 4..(3 * 8) * 4 + 4], &[0, 0, 255, 255]);
    }

    #[test]
    fn sampling_is_exact_at_pixel_centres() {
        let data: Vec<u8> = (0..16u8).flat_map(|v| [v * 10, v, 255 - v]).collect();
        let pic = Picture { data: &data, x0: 10, y0: 20, width: 4, height: 4, stride: 12, layout: Layout::RGB };
        assert_eq!(pic.sample(12.5, 21.5), [60.0, 6.0, 249.0]);
        let mid = pic.sample(13.0, 21.5);
        assert!((mid[0] - 65.0).abs() < 1e-4, "{mid:?}");
        // Clamped outside.
        assert_eq!(pic.sample(0.0, 0.0), [0.0, 0.0, 255.0]);
    }
}
