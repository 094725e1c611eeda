// SPDX-License-Identifier: MPL-2.0
//! Multi-band blending (Burt & Adelson 1983) of the warped face into the frame. A plain
//! feathered alpha mixes every frequency over the same few pixels, so a difference in
//! brightness or tint between the character's face and the performer's skin shows as a band
//! along the hull edge. Here the difference between the two, D = face - frame, is split into a
//! Laplacian pyramid and each band is mixed by the mask blurred to that band's scale: fine
//! detail (pores, lid creases) keeps a crisp edge, while a shading difference fades over tens
//! of pixels. The result is frame + Σ expand(G_k(mask) · L_k(D)), collapsed from the coarsest
//! level. It is a pure function of the frame, the mask and the warped face, so it adds nothing
//! to frame-to-frame change. No GStreamer here.
//!
//! The blend never leaves the face hull, and never enters the holes cut for the performer's
//! own eyes and mouth: the collapsed correction is multiplied by a support weight that is 0
//! there (the coarse bands would otherwise spread a little outside).

use crate::character::colour::srgb_to_lab;
use crate::character::ColourStats;
use crate::frame::to_level;

use super::mask::{FrameMut, Mask};
use super::skin::skin_likeness;

/// Coarsest pyramid level is kept at least this many pixels on its short side.
const MIN_LEVEL_SIDE: usize = 8;

/// At most this many levels: the coarsest band then spans about 2^5 = 32 pixels per sample,
/// a quarter of a close-up face, wide enough to melt any shading step at the seam.
const MAX_LEVELS: usize = 6;

/// The support weight reaches 1 where the mask reaches this fraction of full weight: just
/// inside the hull and around the holes, so the wide bands are cut off without a step.
const SUPPORT_RAMP: f32 = 0.25;

/// The warped face over the mask's rectangle, before it is blended in.
#[derive(Debug, Default, Clone)]
pub(super) struct Region {
    /// Left column in the frame.
    pub(super) x0: usize,
    /// Top row in the frame.
    pub(super) y0: usize,
    /// Width in pixels.
    pub(super) width: usize,
    /// Height in pixels.
    pub(super) height: usize,
    /// Per pixel: the face's R, G, B (0..255) and its blend weight (0..1).
    pub(super) face: Vec<[f32; 4]>,
    /// Per pixel: whether the warp wrote it (each pixel is written once).
    pub(super) covered: Vec<bool>,
    /// Per pixel: how far the frame's colour there may anchor the seam correction of the
    /// gradient-domain blend (0..1): skin on both sides, inside the feathered edge band.
    pub(super) anchor: Vec<f32>,
}

impl Region {
    /// Empties the region and sizes it to `mask`'s rectangle.
    pub(super) fn reset(&mut self, mask: &Mask) {
        self.x0 = mask.x0;
        self.y0 = mask.y0;
        self.width = mask.width;
        self.height = mask.height;
        self.face.clear();
        self.face.resize(mask.width * mask.height, [0.0; 4]);
        self.covered.clear();
        self.covered.resize(mask.width * mask.height, false);
        self.anchor.clear();
        self.anchor.resize(mask.width * mask.height, 0.0);
    }
}

/// One pyramid level: `width` x `height` values of `N` lanes.
#[derive(Debug, Default, Clone)]
struct Plane<const N: usize> {
    width: usize,
    height: usize,
    data: Vec<[f32; N]>,
}

impl<const N: usize> Plane<N> {
    fn resize(&mut self, width: usize, height: usize) {
        self.width = width;
        self.height = height;
        self.data.clear();
        self.data.resize(width * height, [0.0; N]);
    }
}

/// Reusable buffers of the multi-band blend.
#[derive(Debug, Default, Clone)]
pub(super) struct MultiBand {
    /// Gaussian pyramid of (D r, D g, D b, mask weight); level 0 is the region.
    gauss: Vec<Plane<4>>,
    /// The collapsing correction and the next level's D, expanded together.
    expanded: Plane<6>,
    /// The collapsing correction at the current level, packed with the next level's D.
    packed: Plane<6>,
    /// Horizontal pass scratch.
    scratch: Vec<[f32; 6]>,
    /// Horizontal pass scratch of the reduction.
    scratch4: Vec<[f32; 4]>,
    /// The membrane's estimate at the current level, and its expansion.
    membrane: (Plane<3>, Plane<3>),
    /// Horizontal pass scratch of the membrane.
    scratch3: Vec<[f32; 3]>,
}

/// Number of levels for a `width` x `height` region.
fn level_count(width: usize, height: usize) -> usize {
    let mut side = width.min(height);
    let mut levels = 1;
    while levels < MAX_LEVELS && side / 2 >= MIN_LEVEL_SIDE {
        side = side.div_ceil(2);
        levels += 1;
    }
    levels
}

#[inline]
fn mad<const N: usize>(acc: &mut [f32; N], v: &[f32; N], k: f32) {
    for c in 0..N {
        acc[c] += v[c] * k;
    }
}

/// The taps of the [1 4 6 4 1] / 16 blur.
const REDUCE_TAPS: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];

/// Blur by [1 4 6 4 1] / 16 and keep every other sample, along one line of `n` values read by
/// `get`, written by `put`: the reference for [`reduce_row`] and the tests' column pass.
#[cfg(test)]
fn reduce_line<const N: usize>(n: usize, get: impl Fn(usize) -> [f32; N], mut put: impl FnMut(usize, [f32; N])) {
    let last = n as isize - 1;
    for o in 0..n.div_ceil(2) {
        let c = 2 * o as isize;
        let mut acc = [0.0; N];
        for (t, k) in REDUCE_TAPS.iter().enumerate() {
            mad(&mut acc, &get((c + t as isize - 2).clamp(0, last) as usize), *k);
        }
        put(o, acc);
    }
}

/// [`reduce_line`] along a row into `out` (`row.len().div_ceil(2)` values), the same sums in
/// the same order: the outputs whose five taps all lie inside the row read them through a
/// window, and only the one or two at each end clamp their taps to the row.
fn reduce_row<const N: usize>(row: &[[f32; N]], out: &mut [[f32; N]]) {
    let n = row.len();
    if n == 0 {
        return;
    }
    let tap_sum = |taps: [&[f32; N]; 5]| {
        let mut acc = [0.0; N];
        for (v, k) in taps.into_iter().zip(REDUCE_TAPS) {
            mad(&mut acc, v, k);
        }
        acc
    };
    // Output o is centred on 2o: outputs 1..=inner have taps 2o - 2 ..= 2o + 2 inside.
    let inner = if n >= 5 { (n - 5) / 2 + 1 } else { 0 };
    for (o, window) in out[1..].iter_mut().zip(row.windows(5).step_by(2)) {
        *o = tap_sum([&window[0], &window[1], &window[2], &window[3], &window[4]]);
    }
    let last = n as isize - 1;
    let at = |i: isize| &row[i.clamp(0, last) as usize];
    for o in std::iter::once(0).chain(inner + 1..out.len()) {
        let c = 2 * o as isize;
        out[o] = tap_sum([at(c - 2), at(c - 1), at(c), at(c + 1), at(c + 2)]);
    }
}

/// The upsampling matching [`reduce_row`]: zeros between the samples, blurred by
/// 2 x [1 4 6 4 1] / 16, written out to `n` values.
#[inline]
fn expand_line<const N: usize>(
    src_n: usize,
    n: usize,
    get: impl Fn(usize) -> [f32; N],
    mut put: impl FnMut(usize, [f32; N]),
) {
    let last = src_n as isize - 1;
    let at = |i: isize| get(i.clamp(0, last) as usize);
    for o in 0..n {
        let i = (o / 2) as isize;
        let mut acc = [0.0; N];
        if o % 2 == 0 {
            mad(&mut acc, &at(i - 1), 1.0 / 8.0);
            mad(&mut acc, &at(i), 6.0 / 8.0);
            mad(&mut acc, &at(i + 1), 1.0 / 8.0);
        } else {
            mad(&mut acc, &at(i), 0.5);
            mad(&mut acc, &at(i + 1), 0.5);
        }
        put(o, acc);
    }
}

fn reduce<const N: usize>(src: &Plane<N>, dst: &mut Plane<N>, scratch: &mut Vec<[f32; N]>) {
    let (w, h) = (src.width.div_ceil(2), src.height.div_ceil(2));
    scratch.clear();
    scratch.resize(w * src.height, [0.0; N]);
    for y in 0..src.height {
        let row = &src.data[y * src.width..][..src.width];
        let out = &mut scratch[y * w..][..w];
        reduce_row(row, out);
    }
    // The vertical pass row by row, with the taps of reduce_line in its order.
    dst.resize(w, h);
    if w == 0 || h == 0 {
        return;
    }
    let last = src.height - 1;
    for (o, out) in dst.data.chunks_exact_mut(w).enumerate() {
        let c = 2 * o;
        let taps = [
            (c.saturating_sub(2), 1.0 / 16.0),
            (c.saturating_sub(1), 4.0 / 16.0),
            (c.min(last), 6.0 / 16.0),
            ((c + 1).min(last), 4.0 / 16.0),
            ((c + 2).min(last), 1.0 / 16.0),
        ];
        mix_rows(scratch, w, &taps, out);
    }
}

/// Adds each tap's row of `src` (`width` values a row) times its weight into `out`, in the
/// order given: a vertical filter pass that reads whole rows instead of striding down columns.
fn mix_rows<const N: usize>(src: &[[f32; N]], width: usize, taps: &[(usize, f32)], out: &mut [[f32; N]]) {
    for &(row, k) in taps {
        for (acc, v) in out.iter_mut().zip(&src[row * width..][..width]) {
            mad(acc, v, k);
        }
    }
}

fn expand<const N: usize>(
    src: &Plane<N>,
    width: usize,
    height: usize,
    dst: &mut Plane<N>,
    scratch: &mut Vec<[f32; N]>,
) {
    scratch.clear();
    scratch.resize(width * src.height, [0.0; N]);
    for y in 0..src.height {
        let row = &src.data[y * src.width..][..src.width];
        let out = &mut scratch[y * width..][..width];
        expand_line(src.width, width, |i| row[i], |o, v| out[o] = v);
    }
    // The vertical pass row by row, with the taps of expand_line in its order.
    dst.resize(width, height);
    if width == 0 || src.height == 0 {
        return;
    }
    let last = src.height - 1;
    for (o, out) in dst.data.chunks_exact_mut(width).enumerate() {
        let i = o / 2;
        if o % 2 == 0 {
            let taps =
                [(i.saturating_sub(1).min(last), 1.0 / 8.0), (i.min(last), 6.0 / 8.0), ((i + 1).min(last), 1.0 / 8.0)];
            mix_rows(scratch, width, &taps, out);
        } else {
            mix_rows(scratch, width, &[(i.min(last), 0.5), ((i + 1).min(last), 0.5)], out);
        }
    }
}

/// The membrane is rebuilt from the data down to this pyramid level and only smoothly
/// upsampled below it: a correction varying over 2^3 = 8 pixels or more, so the character's
/// skin texture in the edge band is kept, only its shading moved.
const MEMBRANE_FINEST: usize = 3;

/// A coarse sample backed by this share of anchored pixels is taken as fully known.
const MEMBRANE_GAIN: f32 = 3.0;

impl MultiBand {
    /// The gradient-domain blend: the frame's own colours along the seam (pixels with an
    /// `anchor`) are the boundary condition, and the difference frame - face there is spread
    /// smoothly over the whole face (a membrane, which is what Poisson cloning adds to the
    /// pasted face, here interpolated by pull-push over the pyramid instead of solved), then
    /// the corrected face is mixed in by the feathered weights. At the hull edge face and
    /// frame then agree in colour and only the character's texture fades in. Returns the
    /// pixels changed.
    pub(super) fn blend_membrane(
        &mut self,
        frame: &mut FrameMut<'_>,
        region: &Region,
        performer: &ColourStats,
    ) -> usize {
        let (w, h) = (region.width, region.height);
        if w == 0 || h == 0 {
            return 0;
        }
        // Down to a few pixels: the coarsest level must reach across the whole face.
        let mut levels = 1;
        while (w.min(h) >> (levels - 1)) > 4 {
            levels += 1;
        }
        self.gauss.resize_with(levels, Plane::default);
        // Level 0: anchor x (frame - face) and the anchor, premultiplied for the pull.
        let base = &mut self.gauss[0];
        base.resize(w, h);
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                if region.anchor[i] <= 0.0 || !region.covered[i] {
                    continue;
                }
                let f = region.face[i];
                let b = frame.get(region.x0 + x, region.y0 + y);
                // Only the performer's skin anchors: hair or background beside the face would
                // tint it.
                let c = region.anchor[i] * skin_likeness(srgb_to_lab(b), performer);
                if c <= 0.0 {
                    continue;
                }
                base.data[i] =
                    [c * (f32::from(b[0]) - f[0]), c * (f32::from(b[1]) - f[1]), c * (f32::from(b[2]) - f[2]), c];
            }
        }
        for k in 1..levels {
            let (done, rest) = self.gauss.split_at_mut(k);
            reduce(&done[k - 1], &mut rest[0], &mut self.scratch4);
        }
        // Push: from the coarsest level, each level's own average where it has data, the
        // coarser estimate where it has little.
        let finest = MEMBRANE_FINEST.min(levels - 1);
        let (est, up) = &mut self.membrane;
        let top = &self.gauss[levels - 1];
        // Where even the coarsest level has no anchor: the mean of all anchors.
        let total = top.data.iter().fold([0.0f32; 4], |mut acc, g| {
            mad(&mut acc, g, 1.0);
            acc
        });
        let mean =
            if total[3] > 1e-6 { [total[0] / total[3], total[1] / total[3], total[2] / total[3]] } else { [0.0; 3] };
        est.resize(top.width, top.height);
        for (e, g) in est.data.iter_mut().zip(&top.data) {
            let t = (g[3] * MEMBRANE_GAIN).min(1.0);
            let own = if g[3] > 1e-6 { [g[0] / g[3], g[1] / g[3], g[2] / g[3]] } else { mean };
            *e = [0, 1, 2].map(|c| mean[c] + t * (own[c] - mean[c]));
        }
        for k in (0..levels - 1).rev() {
            let level = &self.gauss[k];
            expand(est, level.width, level.height, up, &mut self.scratch3);
            std::mem::swap(est, up);
            if k < finest {
                continue;
            }
            for (e, g) in est.data.iter_mut().zip(&level.data) {
                if g[3] > 1e-6 {
                    let t = (g[3] * MEMBRANE_GAIN).min(1.0);
                    for c in 0..3 {
                        e[c] += t * (g[c] / g[3] - e[c]);
                    }
                }
            }
        }
        let mut changed = 0;
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let f = region.face[i];
                if !region.covered[i] || f[3] <= 0.0 {
                    continue;
                }
                let m = est.data[i];
                let colour = [to_level(f[0] + m[0]), to_level(f[1] + m[1]), to_level(f[2] + m[2])];
                let alpha = to_level(f[3] * 255.0);
                if alpha > 0 {
                    frame.blend(region.x0 + x, region.y0 + y, colour, alpha);
                    changed += 1;
                }
            }
        }
        changed
    }

    /// Blends `region` (the warped face, see [`Region`]) into `frame` through the multi-band
    /// pyramid; `mask` (the hull mask with its holes, same rectangle) bounds where anything
    /// changes. Returns the pixels changed.
    pub(super) fn blend(&mut self, frame: &mut FrameMut<'_>, mask: &Mask, region: &Region) -> usize {
        let (w, h) = (region.width, region.height);
        if w == 0 || h == 0 || mask.width != w || mask.height != h {
            return 0;
        }
        let levels = level_count(w, h);
        self.gauss.resize_with(levels, Plane::default);
        // Level 0: D where the warp wrote, with the weight; 0 elsewhere.
        let base = &mut self.gauss[0];
        base.resize(w, h);
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                if !region.covered[i] {
                    continue;
                }
                let f = region.face[i];
                let b = frame.get(region.x0 + x, region.y0 + y);
                base.data[i] = [f[0] - f32::from(b[0]), f[1] - f32::from(b[1]), f[2] - f32::from(b[2]), f[3]];
            }
        }
        for k in 1..levels {
            let (done, rest) = self.gauss.split_at_mut(k);
            reduce(&done[k - 1], &mut rest[0], &mut self.scratch4);
        }
        // Coarsest band: the blurred D under the blurred weight.
        let top = &self.gauss[levels - 1];
        self.packed.resize(top.width, top.height);
        for (p, g) in self.packed.data.iter_mut().zip(&top.data) {
            *p = [g[0] * g[3], g[1] * g[3], g[2] * g[3], 0.0, 0.0, 0.0];
        }
        for k in (0..levels - 1).rev() {
            // Pack the next level's D beside the correction so one expansion serves both.
            for (p, g) in self.packed.data.iter_mut().zip(&self.gauss[k + 1].data) {
                p[3] = g[0];
                p[4] = g[1];
                p[5] = g[2];
            }
            let level = &self.gauss[k];
            expand(&self.packed, level.width, level.height, &mut self.expanded, &mut self.scratch);
            self.packed.resize(level.width, level.height);
            for ((p, e), g) in self.packed.data.iter_mut().zip(&self.expanded.data).zip(&level.data) {
                // correction + weight x (this level's D - its expanded coarser version).
                p[0] = e[0] + g[3] * (g[0] - e[3]);
                p[1] = e[1] + g[3] * (g[1] - e[4]);
                p[2] = e[2] + g[3] * (g[2] - e[5]);
            }
        }
        let mut changed = 0;
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let alpha = mask.alpha[i];
                if alpha == 0 {
                    continue;
                }
                let support = (f32::from(alpha) / (255.0 * SUPPORT_RAMP)).min(1.0);
                let c = self.packed.data[i];
                let (fx, fy) = (region.x0 + x, region.y0 + y);
                let b = frame.get(fx, fy);
                let out = [
                    to_level(f32::from(b[0]) + support * c[0]),
                    to_level(f32::from(b[1]) + support * c[1]),
                    to_level(f32::from(b[2]) + support * c[2]),
                ];
                if out != b {
                    frame.blend(fx, fy, out, 255);
                    changed += 1;
                }
            }
        }
        changed
    }
}

/// The plain feathered mix of `region` into `frame` by its weights, for comparison with the
/// multi-band blend on the same warped face. Returns the pixels changed.
#[cfg(test)]
fn feather(frame: &mut FrameMut<'_>, region: &Region) -> usize {
    let mut changed = 0;
    for y in 0..region.height {
        for x in 0..region.width {
            let i = y * region.width + x;
            if region.covered[i] {
                let f = region.face[i];
                let colour = [f[0], f[1], f[2]].map(|v| v.round().clamp(0.0, 255.0) as u8);
                frame.blend(region.x0 + x, region.y0 + y, colour, (f[3] * 255.0).round() as u8);
                changed += 1;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plane of odd size whose lanes vary independently.
    fn plane(width: usize, height: usize) -> Plane<3> {
        let data = (0..width * height).map(|i| [(i % 7) as f32, (i * i % 13) as f32 * 0.5, ((i / width) as f32).sin()]);
        Plane { width, height, data: data.collect() }
    }

    /// Column by column through the 1-D filters: what the row-wise vertical passes replace.
    fn by_columns(src: &Plane<3>, width: usize, height: usize, line: fn(&Plane<3>, usize, &mut Plane<3>)) -> Plane<3> {
        let mut out = Plane::default();
        out.resize(width, height);
        for x in 0..width {
            line(src, x, &mut out);
        }
        out
    }

    /// Also the horizontal reduce, whose inner outputs skip the edge clamp: widths where the
    /// last inner output is the last output or not, and rows too short to have one.
    #[test]
    fn the_row_wise_vertical_passes_equal_the_column_filters() {
        for (w, h) in [(1, 1), (2, 3), (4, 5), (5, 6), (6, 2), (9, 7), (10, 3), (31, 44)] {
            let src = plane(w, h);
            let mut scratch = Vec::new();
            let mut reduced = Plane::default();
            reduce(&src, &mut reduced, &mut scratch);
            let mut rows = Plane::default();
            rows.resize(w.div_ceil(2), h);
            for y in 0..h {
                let row = &src.data[y * w..][..w];
                reduce_line(w, |i| row[i], |o, v| rows.data[y * rows.width + o] = v);
            }
            let expected = by_columns(&rows, w.div_ceil(2), h.div_ceil(2), |rows, x, out| {
                reduce_line(rows.height, |i| rows.data[i * rows.width + x], |o, v| out.data[o * out.width + x] = v);
            });
            assert_eq!(reduced.data, expected.data, "reduce {w}x{h}");

            let mut expanded = Plane::default();
            expand(&src, 2 * w, 2 * h - 1, &mut expanded, &mut scratch);
            let mut rows = Plane::default();
            rows.resize(2 * w, h);
            for y in 0..h {
                let row = &src.data[y * w..][..w];
                expand_line(w, 2 * w, |i| row[i], |o, v| rows.data[y * rows.width + o] = v);
            }
            let expected = by_columns(&rows, 2 * w, 2 * h - 1, |rows, x, out| {
                let n = out.height;
                expand_line(rows.height, n, |i| rows.data[i * rows.width + x], |o, v| out.data[o * out.width + x] = v);
            });
            assert_eq!(expanded.data, expected.data, "expand {w}x{h}");
        }
    }

    /// A `size` x `size` RGB frame of one grey level, and a region over all of it holding a
    /// face of another level under a disc-shaped weight ramp (feathered over `ramp` pixels).
    fn setup(size: usize, frame_level: u8, face_level: f32, ramp: f32) -> (Vec<u8>, Mask, Region) {
        let data = vec![frame_level; size * size * 3];
        let c = size as f32 / 2.0;
        let r = size as f32 * 0.4;
        let mut mask = Mask { x0: 0, y0: 0, width: size, height: size, alpha: vec![0; size * size] };
        let mut region = Region::default();
        region.reset(&mask);
        for y in 0..size {
            for x in 0..size {
                let d = r - (x as f32 + 0.5 - c).hypot(y as f32 + 0.5 - c);
                let a = crate::frame::smoothstep(d / ramp);
                let i = y * size + x;
                mask.alpha[i] = (a * 255.0).round() as u8;
                if d > -4.0 {
                    region.covered[i] = true;
                    region.face[i] = [face_level, face_level, face_level, a];
                }
            }
        }
        (data, mask, region)
    }

    fn frame(data: &mut [u8], size: usize) -> FrameMut<'_> {
        FrameMut { data, width: size, height: size, stride: size * 3, pixel_stride: 3, rgb: [0, 1, 2] }
    }

    #[test]
    fn levels_follow_the_region_size() {
        assert_eq!(level_count(10, 10), 1);
        assert_eq!(level_count(16, 40), 2);
        assert_eq!(level_count(300, 260), MAX_LEVELS);
    }

    #[test]
    fn a_flat_face_lands_whole_inside_and_nothing_changes_outside() {
        let size = 160;
        let (mut data, mask, region) = setup(size, 100, 180.0, 8.0);
        let mut mb = MultiBand::default();
        mb.blend(&mut frame(&mut data, size), &mask, &region);
        let f = frame(&mut data, size);
        assert_eq!(f.get(80, 80), [180, 180, 180], "deep inside: the face");
        for (x, y) in [(0, 0), (5, 80), (80, 10), (159, 159)] {
            assert_eq!(f.get(x, y), [100, 100, 100], "({x}, {y}) outside the mask");
        }
    }

    /// The frame's grey as skin statistics, so its pixels anchor the seam.
    fn grey_skin(level: u8) -> ColourStats {
        ColourStats { mean: srgb_to_lab([level; 3]), std: [5.0; 3] }
    }

    /// Marks the edge band (weight below 1) of `region` as seam anchors.
    fn anchor_edge(region: &mut Region) {
        for i in 0..region.face.len() {
            if region.covered[i] && region.face[i][3] < 1.0 {
                region.anchor[i] = 1.0;
            }
        }
    }

    #[test]
    fn the_membrane_removes_the_shading_step_and_keeps_the_texture() {
        let size = 200;
        let (mut feathered, _, region) = setup(size, 100, 160.0, 6.0);
        feather(&mut frame(&mut feathered, size), &region);
        let (mut membrane, _, mut region) = setup(size, 100, 160.0, 6.0);
        // A face with texture: stripes of +-15 levels, 8 px wide.
        for y in 0..size {
            for x in 0..size {
                let v = if (x / 8) % 2 == 0 { 175.0 } else { 145.0 };
                region.face[y * size + x][..3].copy_from_slice(&[v; 3]);
            }
        }
        anchor_edge(&mut region);
        MultiBand::default().blend_membrane(&mut frame(&mut membrane, size), &region, &grey_skin(100));
        let f = frame(&mut membrane, size);
        // The face's mean is pulled to the frame's level, its stripes stay.
        let centre: Vec<u8> = (84..116).map(|x| f.get(x, 100)[0]).collect();
        let mean = centre.iter().map(|&v| f32::from(v)).sum::<f32>() / centre.len() as f32;
        let contrast = centre.iter().max().unwrap_or(&0) - centre.iter().min().unwrap_or(&0);
        assert!((mean - 100.0).abs() < 8.0, "face mean {mean} against the frame's 100: {centre:?}");
        assert!(contrast >= 26, "stripes kept: {centre:?}");
        // Across the edge (away from the stripes' own steps) no step like the feather's.
        let step = |data: &[u8]| {
            (0..24).map(|y| data[(y * size + 100) * 3].abs_diff(data[((y + 1) * size + 100) * 3])).max().unwrap_or(0)
        };
        for (x, y) in [(0, 0), (100, 5), (199, 100)] {
            assert_eq!(f.get(x, y), [100, 100, 100], "({x}, {y}) outside the mask");
        }
        let (a, b) = (step(&feathered), step(&membrane));
        assert!(b * 2 <= a, "largest vertical step at the top edge: feather {a}, membrane {b}");
    }

    #[test]
    fn without_skin_at_the_seam_the_membrane_leaves_the_face_alone() {
        let size = 120;
        let (mut data, _, mut region) = setup(size, 100, 160.0, 6.0);
        anchor_edge(&mut region);
        // The frame's grey is far from these skin statistics: nothing anchors.
        let skin = ColourStats { mean: [70.0, 20.0, 25.0], std: [5.0; 3] };
        MultiBand::default().blend_membrane(&mut frame(&mut data, size), &region, &skin);
        assert_eq!(frame(&mut data, size).get(60, 60), [160, 160, 160]);
    }

    #[test]
    fn fine_detail_of_the_face_survives() {
        // A face with a one-pixel checkerboard of +-20 levels: the finest band keeps it.
        let size = 120;
        let (mut data, mask, mut region) = setup(size, 100, 140.0, 6.0);
        for y in 0..size {
            for x in 0..size {
                let i = y * size + x;
                let v = if (x + y) % 2 == 0 { 160.0 } else { 120.0 };
                region.face[i][..3].copy_from_slice(&[v; 3]);
            }
        }
        MultiBand::default().blend(&mut frame(&mut data, size), &mask, &region);
        let f = frame(&mut data, size);
        let (a, b) = (f.get(60, 60)[0], f.get(61, 60)[0]);
        assert!(a.abs_diff(b) >= 38, "checkerboard contrast {a} vs {b}");
    }
}
