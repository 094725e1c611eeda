// SPDX-License-Identifier: MPL-2.0
//! Downscaling one 8-bit plane with `fast_image_resize`'s convolution and the same cubic as
//! the upscaler. Its horizontal pass is vectorised for any number of taps, where ours is only
//! for the four taps of an upscale: 1920x1080 to 1280x720 takes 2.5 ms instead of 4.4
//! (`bench/RESULTS.md`). Its upscaling is 4.7 times slower than ours, so upscales stay in
//! [`super::resample`].

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{Filter, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::resample::Method;

/// The cubic with B = 0 and C = 0.6 (swscale's bicubic) at distance `x`.
fn bicubic(x: f64) -> f64 {
    Method::Bicubic.weight(x)
}

/// The cubic with B = 0 and C = 0.5 (Catmull-Rom) at distance `x`.
fn catmull_rom(x: f64) -> f64 {
    Method::CatmullRom.weight(x)
}

/// The library's description of `method`'s kernel (support 2 source samples, widened by
/// the library when shrinking).
fn filter(method: Method) -> FilterType {
    let (name, func): (&'static str, fn(f64) -> f64) = match method {
        Method::Bicubic => ("bicubic", bicubic),
        Method::CatmullRom => ("catmull-rom", catmull_rom),
    };
    FilterType::Custom(Filter::new(name, func, 2.0).expect("positive support"))
}

/// One plane's downscaler, with the contiguous copies needed when a plane's rows are padded.
pub struct Shrink {
    src: (u32, u32),
    dst: (u32, u32),
    resizer: Resizer,
    options: ResizeOptions,
    src_rows: Vec<u8>,
    dst_rows: Vec<u8>,
}

impl std::fmt::Debug for Shrink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shrink").field("src", &self.src).field("dst", &self.dst).finish_non_exhaustive()
    }
}

/// `rows` rows of `width` bytes from a plane whose rows are `stride` bytes apart, or the
/// plane itself when they are not padded.
fn packed<'a>(plane: &'a [u8], width: usize, rows: usize, stride: usize, copy: &'a mut Vec<u8>) -> &'a [u8] {
    if stride == width {
        return &plane[..width * rows];
    }
    copy.clear();
    for row in plane.chunks(stride).take(rows) {
        copy.extend_from_slice(&row[..width]);
    }
    copy
}

impl Shrink {
    /// A downscaler from `src` (width, height) to `dst`.
    pub fn new(src: (usize, usize), dst: (usize, usize), method: Method) -> Self {
        let size = |(w, h): (usize, usize)| (w as u32, h as u32);
        Shrink {
            src: size(src),
            dst: size(dst),
            resizer: Resizer::new(),
            options: ResizeOptions::new().resize_alg(ResizeAlg::Convolution(filter(method))),
            src_rows: Vec::new(),
            dst_rows: Vec::new(),
        }
    }

    pub fn width(&self) -> usize {
        self.dst.0 as usize
    }

    pub fn height(&self) -> usize {
        self.dst.1 as usize
    }

    /// Resamples the plane `src` (rows of `src_stride` bytes) into `dst`, as
    /// [`super::resample::Plane::run`].
    pub fn run(&mut self, src: &[u8], src_stride: usize, dst: &mut [u8], dst_stride: usize) {
        let ((sw, sh), (dw, dh)) = (self.src, self.dst);
        let input = packed(src, sw as usize, sh as usize, src_stride, &mut self.src_rows);
        let from = ImageRef::new(sw, sh, input, PixelType::U8).expect("source rows were checked by the caller");
        let padded = dst_stride != dw as usize;
        if padded {
            self.dst_rows.resize(dw as usize * dh as usize, 0);
        }
        let out: &mut [u8] = if padded { &mut self.dst_rows } else { &mut dst[..dw as usize * dh as usize] };
        let mut to =
            Image::from_slice_u8(dw, dh, out, PixelType::U8).expect("destination rows were checked by the caller");
        self.resizer.resize(&from, &mut to, &self.options).expect("same pixel type on both sides");
        if padded {
            for (row, line) in dst.chunks_mut(dst_stride).zip(self.dst_rows.chunks(dw as usize)) {
                row[..dw as usize].copy_from_slice(line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::resample::{Axis, Plane};
    use super::*;

    /// A plane with detail at every scale: a ramp, stripes and noise.
    fn picture(w: usize, h: usize) -> Vec<u8> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let noise = (i.wrapping_mul(2_654_435_761) >> 13) % 32;
                ((x * 160 / w + if (y / 3) % 2 == 0 { 40 } else { 0 } + noise) % 256) as u8
            })
            .collect()
    }

    #[test]
    fn the_interior_matches_our_own_cubic() {
        let (src, dst) = ((192, 108), (128, 72));
        let data = picture(src.0, src.1);
        let mut ours = vec![0u8; dst.0 * dst.1];
        Plane::new(Axis::new(src.0, dst.0, Method::Bicubic), Axis::new(src.1, dst.1, Method::Bicubic))
            .run(&data, src.0, &mut ours, dst.0);
        let mut theirs = vec![0u8; dst.0 * dst.1];
        Shrink::new(src, dst, Method::Bicubic).run(&data, src.0, &mut theirs, dst.0);
        // The two differ only where the kernel reaches past the edge: ours repeats the edge
        // sample, the library leaves those taps out.
        for y in 3..dst.1 - 3 {
            for x in 3..dst.0 - 3 {
                let (a, b) = (ours[y * dst.0 + x], theirs[y * dst.0 + x]);
                assert!(a.abs_diff(b) <= 1, "({x}, {y}): ours {a}, library {b}");
            }
        }
    }

    #[test]
    fn padded_rows_give_the_same_picture() {
        let (src, dst) = ((90, 50), (36, 20));
        let data = picture(src.0, src.1);
        let mut tight = vec![0u8; dst.0 * dst.1];
        Shrink::new(src, dst, Method::CatmullRom).run(&data, src.0, &mut tight, dst.0);
        let (src_stride, dst_stride) = (96, 40);
        let mut padded_src = vec![7u8; src_stride * src.1];
        for (row, line) in padded_src.chunks_mut(src_stride).zip(data.chunks(src.0)) {
            row[..src.0].copy_from_slice(line);
        }
        let mut padded_dst = vec![0xEEu8; dst_stride * dst.1];
        Shrink::new(src, dst, Method::CatmullRom).run(&padded_src, src_stride, &mut padded_dst, dst_stride);
        for (row, line) in padded_dst.chunks(dst_stride).zip(tight.chunks(dst.0)) {
            assert_eq!(&row[..dst.0], line);
            assert!(row[dst.0..].iter().all(|&b| b == 0xEE), "padding is left alone");
        }
    }
}
