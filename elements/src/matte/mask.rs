// SPDX-License-Identifier: MPL-2.0
//! The person mask of `reenactmatte` at model resolution: the stretched model input, temporal
//! smoothing, the edge ramp, and bilinear upsampling to frame rows in fixed point.
//! No GStreamer here.

/// A read-only packed 4-byte frame (RGBx, BGRA, ARGB...).
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Pixel rows, `stride` bytes apart.
    pub data: &'a [u8],
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Bytes from one row to the next.
    pub stride: usize,
    /// Byte offsets of red, green and blue inside a pixel.
    pub rgb: [usize; 3],
}

impl Frame<'_> {
    /// True when every row the dimensions promise lies inside `data`.
    pub fn is_valid(&self) -> bool {
        self.width > 0
            && self.height > 0
            && self.rgb.iter().all(|&o| o < 4)
            && self.stride >= self.width * 4
            && self.data.len() >= (self.height - 1) * self.stride + self.width * 4
    }
}

/// Fills `out` (`mh` x `mw` x 3, NHWC, RGB in 0..1) with the whole frame stretched to the model
/// size (MediaPipe does not keep the aspect ratio). Each cell averages 2x2 samples of its block.
pub fn model_input(frame: &Frame<'_>, mw: usize, mh: usize, out: &mut Vec<f32>) {
    out.clear();
    out.reserve(mw * mh * 3);
    let norm = 1.0 / (4.0 * 255.0);
    let sx = frame.width as f32 / mw as f32;
    let sy = frame.height as f32 / mh as f32;
    let coord = |cell: usize, tap: f32, scale: f32, max: usize| (((cell as f32 + tap) * scale) as usize).min(max - 1);
    for v in 0..mh {
        let rows = [coord(v, 0.25, sy, frame.height), coord(v, 0.75, sy, frame.height)];
        for u in 0..mw {
            let cols = [coord(u, 0.25, sx, frame.width), coord(u, 0.75, sx, frame.width)];
            let mut acc = [0u32; 3];
            for &y in &rows {
                for &x in &cols {
                    let i = y * frame.stride + x * 4;
                    for (a, &o) in acc.iter_mut().zip(&frame.rgb) {
                        *a += u32::from(frame.data[i + o]);
                    }
                }
            }
            out.extend(acc.iter().map(|&a| a as f32 * norm));
        }
    }
}

/// Exponential smoothing over time: `mask = keep * mask + (1 - keep) * new`; the first mask
/// (`mask` empty or of another size) is taken as is.
pub fn smooth(mask: &mut Vec<f32>, new: &[f32], keep: f32) {
    if mask.len() != new.len() {
        mask.clear();
        mask.extend(new.iter().map(|v| v.clamp(0.0, 1.0)));
        return;
    }
    let keep = keep.clamp(0.0, 1.0);
    for (m, &n) in mask.iter_mut().zip(new) {
        *m = keep * *m + (1.0 - keep) * n.clamp(0.0, 1.0);
    }
}

/// Quantizes a 0..1 mask to bytes.
pub fn to_u8(mask: &[f32], out: &mut Vec<u8>) {
    out.clear();
    out.extend(mask.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8));
}

/// The edge ramp as a byte lookup table: probabilities below `0.5 - feather` become 0, above
/// `0.5 + feather` 255, linear in between (feather 0.5 is the identity, 0 a hard threshold).
pub fn edge_lut(feather: f32) -> [u8; 256] {
    let feather = feather.clamp(0.0, 0.5);
    let (low, high) = (0.5 - feather, 0.5 + feather);
    let mut lut = [0u8; 256];
    for (v, out) in lut.iter_mut().enumerate() {
        let a = v as f32 / 255.0;
        let t = if high - low <= f32::EPSILON {
            if a >= 0.5 {
                1.0
            } else {
                0.0
            }
        } else {
            ((a - low) / (high - low)).clamp(0.0, 1.0)
        };
        *out = (t * 255.0 + 0.5) as u8;
    }
    lut
}

/// One output coordinate of a bilinear resize: the two source indices and the weight of the
/// second, in 1/256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tap {
    /// First source index.
    pub i0: usize,
    /// Second source index (`i0 + 1`, or `i0` at the edge).
    pub i1: usize,
    /// Weight of `i1`, 0..=256.
    pub w: u32,
}

/// Bilinear taps from `src` to `dst` samples, pixel centres aligned, edges clamped.
pub fn taps(src: usize, dst: usize) -> Vec<Tap> {
    let scale = src as f32 / dst as f32;
    (0..dst)
        .map(|d| {
            let s = ((d as f32 + 0.5) * scale - 0.5).clamp(0.0, (src - 1) as f32);
            let i0 = s.floor() as usize;
            let i1 = (i0 + 1).min(src - 1);
            Tap { i0, i1, w: ((s - i0 as f32) * 256.0 + 0.5) as u32 }
        })
        .collect()
}

/// Upsamples a byte mask of the model size to frame rows, through the edge ramp.
#[derive(Debug, Clone)]
pub struct MaskScaler {
    mw: usize,
    xt: Vec<Tap>,
    yt: Vec<Tap>,
    /// One vertically blended mask row, values x 256.
    col: Vec<u32>,
}

impl MaskScaler {
    /// Scaler from a `mw` x `mh` mask to a `width` x `height` frame.
    pub fn new(mw: usize, mh: usize, width: usize, height: usize) -> Self {
        Self { mw, xt: taps(mw, width), yt: taps(mh, height), col: vec![0; mw] }
    }

    /// Frame size this scaler writes.
    pub fn frame_size(&self) -> (usize, usize) {
        (self.xt.len(), self.yt.len())
    }

    /// Writes the alpha of frame row `y` into `out` (frame width bytes).
    pub fn row(&mut self, mask: &[u8], y: usize, lut: &[u8; 256], out: &mut [u8]) {
        let t = self.yt[y];
        let (r0, r1) = (&mask[t.i0 * self.mw..][..self.mw], &mask[t.i1 * self.mw..][..self.mw]);
        for ((c, &a), &b) in self.col.iter_mut().zip(r0).zip(r1) {
            *c = u32::from(a) * (256 - t.w) + u32::from(b) * t.w;
        }
        for (o, x) in out.iter_mut().zip(&self.xt) {
            let v = (self.col[x.i0] * (256 - x.w) + self.col[x.i1] * x.w + 32768) >> 16;
            *o = lut[v.min(255) as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_input_stretches_the_whole_frame() {
        // 8x4 frame: left half red, right half blue, RGBx.
        let mut data = Vec::new();
        for _ in 0..4 {
            for x in 0..8 {
                data.extend_from_slice(if x < 4 { &[255, 0, 0, 0] } else { &[0, 0, 255, 0] });
            }
        }
        let frame = Frame { data: &data, width: 8, height: 4, stride: 32, rgb: [0, 1, 2] };
        assert!(frame.is_valid());
        let mut out = Vec::new();
        model_input(&frame, 4, 4, &mut out);
        assert_eq!(out.len(), 48);
        assert_eq!(&out[0..3], &[1.0, 0.0, 0.0]);
        assert_eq!(&out[9..12], &[0.0, 0.0, 1.0]);
    }

    #[test]
    fn smoothing_starts_from_the_first_mask_then_blends() {
        let mut mask = Vec::new();
        smooth(&mut mask, &[1.0, 0.0], 0.5);
        assert_eq!(mask, vec![1.0, 0.0]);
        smooth(&mut mask, &[0.0, 1.0], 0.5);
        assert_eq!(mask, vec![0.5, 0.5]);
        smooth(&mut mask, &[0.0, 0.0], 0.0);
        assert_eq!(mask, vec![0.0, 0.0]);
    }

    #[test]
    fn edge_ramp_clips_and_is_monotonic() {
        let lut = edge_lut(0.2);
        assert_eq!(lut[0], 0);
        assert_eq!(lut[70], 0, "0.27 is under the ramp");
        assert_eq!(lut[200], 255, "0.78 is over it");
        assert!((120..136).contains(&lut[128]));
        assert!(lut.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(edge_lut(0.5)[77], 77, "widest ramp is the identity");
        assert_eq!((edge_lut(0.0)[127], edge_lut(0.0)[128]), (0, 255));
    }

    #[test]
    fn taps_align_centres_and_clamp() {
        let t = taps(2, 4);
        assert_eq!(t[0], Tap { i0: 0, i1: 1, w: 0 });
        assert_eq!(t[1], Tap { i0: 0, i1: 1, w: 64 });
        assert_eq!(t[3], Tap { i0: 1, i1: 1, w: 0 });
    }

    #[test]
    fn upsampled_row_is_bilinear() {
        let mask = [0u8, 255, 0, 255];
        let mut scaler = MaskScaler::new(2, 2, 8, 2);
        assert_eq!(scaler.frame_size(), (8, 2));
        let mut row = [0u8; 8];
        scaler.row(&mask, 0, &edge_lut(0.5), &mut row);
        assert_eq!(row[0], 0);
        assert_eq!(row[7], 255);
        assert!(row.windows(2).all(|w| w[0] <= w[1]), "{row:?}");
        assert!(row[3] < 128 && row[4] > 128, "{row:?}");
    }
}
