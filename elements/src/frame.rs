// SPDX-License-Identifier: MPL-2.0
//! What every element that reads or writes packed 8-bit RGB-family frames (RGB, BGR, RGBx,
//! BGRx, RGBA, BGRA) shares: the bounds check a mapped buffer must pass before it is indexed
//! without further checks, the writable mapping the in-place face elements draw into, and the
//! bilinear blend of four neighbours. Each element keeps its own
//! edge rule (black outside for the tracker, clamped for lip-sync), so only these live here,
//! with the table of the six formats that the face swap, the portrait animation and the
//! lip-sync negotiate (their only GStreamer type).

use gst::prelude::*;
use gst_video::prelude::*;
use gst_video::{VideoFormat, VideoFrameRef, VideoInfo};

/// The packed RGB-family formats the in-place face elements accept, with bytes per pixel and
/// the byte offsets of R, G and B.
pub const PACKED_RGB_FORMATS: [(VideoFormat, usize, [usize; 3]); 6] = [
    (VideoFormat::Rgba, 4, [0, 1, 2]),
    (VideoFormat::Bgra, 4, [2, 1, 0]),
    (VideoFormat::Rgbx, 4, [0, 1, 2]),
    (VideoFormat::Bgrx, 4, [2, 1, 0]),
    (VideoFormat::Rgb, 3, [0, 1, 2]),
    (VideoFormat::Bgr, 3, [2, 1, 0]),
];

/// Bytes per pixel and where red, green and blue sit inside a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedLayout {
    /// Bytes per pixel (3 or 4).
    pub pixel_stride: usize,
    /// Byte offsets of red, green and blue.
    pub rgb: [usize; 3],
}

impl PackedLayout {
    /// Packed RGB, three bytes a pixel.
    pub const RGB: Self = Self { pixel_stride: 3, rgb: [0, 1, 2] };

    /// True when a `width` x `height` frame with rows `stride` bytes apart lies inside `len`
    /// bytes and every channel offset lies inside a pixel.
    pub fn fits(&self, len: usize, width: usize, height: usize, stride: usize) -> bool {
        width > 0
            && height > 0
            && self.pixel_stride >= 3
            && self.rgb.iter().all(|&o| o < self.pixel_stride)
            && stride >= width * self.pixel_stride
            && len >= (height - 1) * stride + width * self.pixel_stride
    }

    /// R, G, B of the pixel starting at byte `i` of `data`.
    #[inline(always)]
    pub fn rgb_at(&self, data: &[u8], i: usize) -> [u8; 3] {
        let [r, g, b] = self.rgb;
        [data[i + r], data[i + g], data[i + b]]
    }
}

/// Maps plane 0 of `buf` for writing as `info` describes it (strides from the buffer's video
/// meta when it has one), checks that it holds the caps' pixels in `layout`, and hands the
/// bytes and the row stride to `write`. A buffer that cannot be mapped, or is smaller than its
/// caps say, posts a stream error on `element` and ends the stream with `FlowError::Error`.
pub fn write_packed<T>(
    element: &impl IsA<gst::Element>,
    buf: &mut gst::BufferRef,
    info: &VideoInfo,
    layout: PackedLayout,
    write: impl FnOnce(&mut [u8], usize) -> Result<T, gst::FlowError>,
) -> Result<T, gst::FlowError> {
    let failed = |why: String| {
        gst::element_error!(element, gst::StreamError::Failed, ["{why}"]);
        gst::FlowError::Error
    };
    let mut frame = VideoFrameRef::from_buffer_ref_writable(buf, info)
        .map_err(|_| failed(format!("cannot map the buffer as {:?}", info.format())))?;
    let stride = usize::try_from(frame.plane_stride()[0]).unwrap_or(0);
    let data = frame.plane_data_mut(0).map_err(|_| failed("cannot write the frame".into()))?;
    if !layout.fits(data.len(), info.width() as usize, info.height() as usize, stride) {
        return Err(failed("the frame is smaller than its caps say".into()));
    }
    write(data, stride)
}

/// Bilinear blend of the four neighbours `p00` (top left), `p10`, `p01`, `p11` at fractions
/// `ax` across and `ay` down.
#[inline(always)]
pub fn bilinear(p00: f32, p10: f32, p01: f32, p11: f32, ax: f32, ay: f32) -> f32 {
    let top = p00 + (p10 - p00) * ax;
    let bottom = p01 + (p11 - p01) * ax;
    top + (bottom - top) * ay
}

/// The two cell centres along one axis of `n` cells that `t` (in cells from the edge) lies
/// between, clamped to the cells, and how far along from the first: the neighbours and
/// fraction of a bilinear read ([`bilinear`]).
pub fn between(t: f32, n: usize) -> (usize, usize, f32) {
    let t = (t - 0.5).clamp(0.0, (n - 1) as f32);
    let first = t as usize;
    (first, (first + 1).min(n - 1), t - first as f32)
}

/// Smooth 0..1 ramp of `t` (clamped): zero slope at both ends, so a feathered edge or a
/// fading weight has no visible start or end.
#[inline(always)]
pub fn smoothstep(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// `v` rounded to the nearest 8-bit level, clamped to 0..=255 (NaN gives 0): what
/// `v.round().clamp(0.0, 255.0) as u8` gives (but for values within a float's rounding of a
/// half), without `round`, which the x86-64 baseline (no SSE4.1) compiles to a library call:
/// one per channel of every pixel the face swap blends was 6 % of its instructions.
#[inline(always)]
pub fn to_level(v: f32) -> u8 {
    (v.clamp(0.0, 255.0) + 0.5) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_level_rounds_like_round() {
        for i in -2000..=300_000 {
            let v = i as f32 / 1000.0;
            assert_eq!(to_level(v), v.round().clamp(0.0, 255.0) as u8, "{v}");
        }
        assert_eq!(to_level(f32::NAN), 0);
        assert_eq!(to_level(f32::INFINITY), 255);
        assert_eq!(to_level(f32::NEG_INFINITY), 0);
    }

    const BGRX: PackedLayout = PackedLayout { pixel_stride: 4, rgb: [2, 1, 0] };

    #[test]
    fn fits_checks_rows_and_offsets() {
        // 2x2 BGRx with 12-byte rows: the last row needs only 8 bytes.
        assert!(BGRX.fits(20, 2, 2, 12));
        assert!(!BGRX.fits(19, 2, 2, 12));
        assert!(!BGRX.fits(64, 2, 2, 7), "rows shorter than a line of pixels");
        assert!(!BGRX.fits(64, 0, 2, 12));
        assert!(!PackedLayout { pixel_stride: 3, rgb: [0, 1, 3] }.fits(64, 2, 2, 6));
    }

    #[test]
    fn rgb_at_follows_the_layout() {
        let data = [10, 20, 30, 0, 40, 50, 60, 0];
        assert_eq!(BGRX.rgb_at(&data, 4), [60, 50, 40]);
    }

    #[test]
    fn bilinear_hits_corners_and_averages_the_centre() {
        let (a, b, c, d) = (0.0, 100.0, 50.0, 250.0);
        assert_eq!(bilinear(a, b, c, d, 0.0, 0.0), a);
        assert_eq!(bilinear(a, b, c, d, 1.0, 0.0), b);
        assert_eq!(bilinear(a, b, c, d, 0.0, 1.0), c);
        assert_eq!(bilinear(a, b, c, d, 1.0, 1.0), d);
        assert!((bilinear(a, b, c, d, 0.5, 0.5) - 100.0).abs() < 1e-4);
    }
}
