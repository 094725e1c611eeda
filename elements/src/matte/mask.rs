// SPDX-License-Identifier: MPL-2.0
//! The person mask of `reenactmatte` at model resolution: the stretched model input, temporal
//! smoothing, the edge ramp, and bilinear upsampling to frame rows in fixed point.
//! No GStreamer here.

use crate::frame::PackedLayout;

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
        PackedLayout { pixel_stride: 4, rgb: self.rgb }.fits(self.data.len(), self.width, self.height, self.stride)
    }
}

/// Fills `out` (`mh` x `mw` x 3, NHWC, RGB in 0..1) with the whole frame stretched to the model
/// size (MediaPipe does not keep the aspect ratio). Each cell averages 2x2 samples of its block.
pub fn model_input(frame: &Frame<'_>, mw: usize, mh: usize, out: &mut Vec<f32>) {
    out.clear();
    out.resize(mw * mh * 3, 0.0);
    if mw == 0 || mh == 0 {
        return;
    }
    let norm = 1.0 / (4.0 * 255.0);
    let sx = frame.width as f32 / mw as f32;
    let sy = frame.height as f32 / mh as f32;
    let coord = |cell: usize, tap: f32, scale: f32, max: usize| (((cell as f32 + tap) * scale) as usize).min(max - 1);
    let cols: Vec<[usize; 2]> =
        (0..mw).map(|u| [coord(u, 0.25, sx, frame.width) * 4, coord(u, 0.75, sx, frame.width) * 4]).collect();
    for (v, cells) in out.chunks_exact_mut(mw * 3).enumerate() {
        let [top, bottom] = [coord(v, 0.25, sy, frame.height), coord(v, 0.75, sy, frame.height)]
            .map(|y| &frame.data[y * frame.stride..][..frame.width * 4]);
        for (cell, &[x0, x1]) in cells.chunks_exact_mut(3).zip(&cols) {
            let sums = PixelSums::grid([top, bottom], [x0, x1]);
            for (c, &o) in cell.iter_mut().zip(&frame.rgb) {
                *c = sums.byte(o) as f32 * norm;
            }
        }
    }
}

/// The packed pixel at byte `at` of `row`.
#[inline(always)]
fn pixel(row: &[u8], at: usize) -> u32 {
    let mut bytes = [0u8; 4];
    bytes.copy_from_slice(&row[at..at + 4]);
    u32::from_le_bytes(bytes)
}

/// Per-byte sums of up to 256 packed pixels, kept in two words of 16-bit lanes (bytes 0 and
/// 2 in one, 1 and 3 in the other) so that four bytes add at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct PixelSums {
    even: u32,
    odd: u32,
}

impl PixelSums {
    /// The sums of `pixels`.
    #[inline(always)]
    fn of<const N: usize>(pixels: [u32; N]) -> Self {
        const EVEN: u32 = 0x00ff_00ff;
        pixels.iter().fold(Self::default(), |s, &p| Self { even: s.even + (p & EVEN), odd: s.odd + ((p >> 8) & EVEN) })
    }

    /// The sums of a 2x2 sample grid: the pixels at bytes `at` of both `rows`.
    #[inline(always)]
    pub fn grid(rows: [&[u8]; 2], at: [usize; 2]) -> Self {
        Self::of([pixel(rows[0], at[0]), pixel(rows[0], at[1]), pixel(rows[1], at[0]), pixel(rows[1], at[1])])
    }

    /// The sum of byte `offset` (0..4).
    #[inline(always)]
    pub fn byte(self, offset: usize) -> u32 {
        let lanes = if offset & 1 == 0 { self.even } else { self.odd };
        (lanes >> (16 * (offset >> 1))) & 0xffff
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

/// A monotonic table from mask byte to alpha, and where it is flat at its ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ramp {
    /// Alpha per mask byte.
    pub lut: [u8; 256],
    /// `lut` is `lut[0]` on `0..=flat_below` and `lut[255]` on `flat_above..=255`.
    flat_below: u8,
    flat_above: u8,
}

impl Ramp {
    /// The ramp of a monotonic (non-decreasing) table.
    pub fn new(lut: [u8; 256]) -> Self {
        let flat_below = lut.iter().take_while(|&&v| v == lut[0]).count() - 1;
        let flat_above = 256 - lut.iter().rev().take_while(|&&v| v == lut[255]).count();
        Self { lut, flat_below: flat_below as u8, flat_above: flat_above as u8 }
    }
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
    pub w: u16,
}

/// Bilinear taps from `src` to `dst` samples, pixel centres aligned, edges clamped.
pub fn taps(src: usize, dst: usize) -> Vec<Tap> {
    let scale = src as f32 / dst as f32;
    (0..dst)
        .map(|d| {
            let s = ((d as f32 + 0.5) * scale - 0.5).clamp(0.0, (src - 1) as f32);
            let i0 = s.floor() as usize;
            let i1 = (i0 + 1).min(src - 1);
            Tap { i0, i1, w: ((s - i0 as f32) * 256.0 + 0.5) as u16 }
        })
        .collect()
}

/// Pixels per stretch of a mask row that [`MaskScaler::row`] passes as is when it is all
/// person or all background.
const RAMP_CHUNK: usize = 32;

/// Upsamples a byte mask of the model size to frame rows, through the edge ramp. A stretch of
/// frame row whose mask taps all lie where the ramp is flat (well inside or outside the
/// person) is filled with one value; only the edge is interpolated, between the two mask rows
/// under the frame row, then along the blended row.
#[derive(Debug, Clone)]
pub struct MaskScaler {
    mw: usize,
    /// Per frame column: the left mask column and the weight of the one after it.
    x0: Vec<u32>,
    xw: Vec<u16>,
    yt: Vec<Tap>,
    /// Per stretch of [`RAMP_CHUNK`] frame columns: the first and last mask column it reads.
    spans: Vec<(usize, usize)>,
    /// The mask, each row with its last value again (`mw + 1` bytes a row) so that every
    /// column blends column i with i + 1; empty until the first `prepare`.
    mask: Vec<u8>,
    /// Per mask row and stretch: the lowest and highest value of the stretch's taps.
    ranges: Vec<(u8, u8)>,
    /// The two mask rows under the frame row being written, blended (`mw + 1` bytes).
    between: Vec<u8>,
}

impl MaskScaler {
    /// Scaler from a `mw` x `mh` mask to a `width` x `height` frame.
    pub fn new(mw: usize, mh: usize, width: usize, height: usize) -> Self {
        let xt = taps(mw, width);
        Self {
            mw,
            x0: xt.iter().map(|t| t.i0 as u32).collect(),
            xw: xt.iter().map(|t| t.w).collect(),
            yt: taps(mh, height),
            spans: xt.chunks(RAMP_CHUNK).map(|c| (c[0].i0, c[c.len() - 1].i1)).collect(),
            mask: Vec::new(),
            ranges: Vec::new(),
            between: Vec::new(),
        }
    }

    /// Frame size this scaler writes.
    pub fn frame_size(&self) -> (usize, usize) {
        (self.x0.len(), self.yt.len())
    }

    /// Whether a mask has been prepared since the scaler was made.
    pub fn is_prepared(&self) -> bool {
        !self.mask.is_empty()
    }

    /// Takes a new mask (`mw` x `mh` bytes).
    pub fn prepare(&mut self, mask: &[u8]) {
        self.mask.clear();
        self.ranges.clear();
        for line in mask.chunks_exact(self.mw) {
            self.mask.extend_from_slice(line);
            self.mask.push(line[line.len() - 1]);
            self.ranges.extend(self.spans.iter().map(|&(first, last)| {
                line[first..=last].iter().fold((255u8, 0u8), |(lo, hi), &v| (lo.min(v), hi.max(v)))
            }));
        }
    }

    /// Writes the alpha of frame row `y` into `out` (frame width bytes), through `ramp`.
    pub fn row(&mut self, y: usize, ramp: &Ramp, out: &mut [u8]) {
        let (t, line) = (self.yt[y], self.mw + 1);
        let chunks = self.spans.len();
        let (g0, g1) = (&self.ranges[t.i0 * chunks..][..chunks], &self.ranges[t.i1 * chunks..][..chunks]);
        let columns = self.x0.chunks(RAMP_CHUNK).zip(self.xw.chunks(RAMP_CHUNK));
        let mut blended = false;
        for ((o, (x0, xw)), (&(lo0, hi0), &(lo1, hi1))) in
            out.chunks_mut(RAMP_CHUNK).zip(columns).zip(g0.iter().zip(g1))
        {
            // Every interpolated value lies between its taps: when all taps of the stretch are
            // where the ramp is flat, so is every value, and one look-up serves them all.
            let (low, high) = (lo0.min(lo1), hi0.max(hi1));
            if high <= ramp.flat_below || low >= ramp.flat_above {
                o.fill(ramp.lut[usize::from(high)]);
                continue;
            }
            // The edge: the two mask rows blended once for the whole row (a few hundred bytes),
            // then each pixel takes two neighbours of that.
            if !blended {
                let (r0, r1) = (&self.mask[t.i0 * line..][..line], &self.mask[t.i1 * line..][..line]);
                self.between.clear();
                self.between.extend(r0.iter().zip(r1).map(|(&a, &b)| lerp(a, b, t.w)));
                blended = true;
            }
            let m = &self.between[..line];
            for ((o, &x), &w) in o.iter_mut().zip(x0).zip(xw) {
                // Clamped so the compiler sees both reads inside the row and drops the checks.
                let x = (x as usize).min(line - 2);
                *o = ramp.lut[usize::from(lerp(m[x], m[x + 1], w))];
            }
        }
    }
}

/// `a` to `b` by `w` in 1/256, rounded.
#[inline(always)]
pub fn lerp(a: u8, b: u8, w: u16) -> u8 {
    ((u16::from(a) * (256 - w) + u16::from(b) * w + 128) >> 8) as u8
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
    fn ramp_knows_where_it_is_flat() {
        let ramp = Ramp::new(edge_lut(0.2));
        assert_eq!((ramp.flat_below, ramp.flat_above), (76, 179));
        assert_eq!((ramp.lut[76], ramp.lut[77], ramp.lut[178], ramp.lut[179]), (0, 1, 254, 255));
        let identity = Ramp::new(edge_lut(0.5));
        assert_eq!((identity.flat_below, identity.flat_above), (0, 255));
    }

    #[test]
    fn flat_stretches_and_edges_scale_alike() {
        // A wide mask: the middle stretches are flat, the step between them is not.
        let (mw, width) = (40, 200);
        let mask: Vec<u8> = (0..mw * 2).map(|i| if i % mw < mw / 2 { 10 } else { 250 }).collect();
        let mut scaler = MaskScaler::new(mw, 2, width, 2);
        scaler.prepare(&mask);
        let ramp = Ramp::new(edge_lut(0.2));
        let mut row = vec![0u8; width];
        scaler.row(1, &ramp, &mut row);
        assert!(row[..90].iter().all(|&v| v == 0) && row[110..].iter().all(|&v| v == 255), "{row:?}");
        assert!(row.windows(2).all(|w| w[0] <= w[1]) && row[95..105].iter().any(|&v| v > 0 && v < 255));
    }

    #[test]
    fn every_pixel_is_the_ramp_of_the_bilinear_mask() {
        // A mask with flat areas and ragged edges, compared pixel by pixel with the plain
        // interpolation: between the two rows, then along the row.
        let (mw, mh, width, height) = (37, 9, 301, 50);
        let mask: Vec<u8> = (0..mw * mh).map(|i| ((i * 7919 % 13) as u8).saturating_mul(20)).collect();
        let mut scaler = MaskScaler::new(mw, mh, width, height);
        scaler.prepare(&mask);
        let ramp = Ramp::new(edge_lut(0.2));
        let (xt, yt) = (taps(mw, width), taps(mh, height));
        let mut row = vec![0u8; width];
        for (y, ty) in yt.iter().enumerate() {
            scaler.row(y, &ramp, &mut row);
            for (x, tx) in xt.iter().enumerate() {
                let at = |c: usize| lerp(mask[ty.i0 * mw + c], mask[ty.i1 * mw + c], ty.w);
                assert_eq!(row[x], ramp.lut[usize::from(lerp(at(tx.i0), at(tx.i1), tx.w))], "({x}, {y})");
            }
        }
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
        assert!(!scaler.is_prepared());
        scaler.prepare(&mask);
        assert!(scaler.is_prepared());
        let mut row = [0u8; 8];
        scaler.row(0, &Ramp::new(edge_lut(0.5)), &mut row);
        assert_eq!(row[0], 0);
        assert_eq!(row[7], 255);
        assert!(row.windows(2).all(|w| w[0] <= w[1]), "{row:?}");
        assert!(row[3] < 128 && row[4] > 128, "{row:?}");
    }
}
