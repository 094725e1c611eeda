// SPDX-License-Identifier: MPL-2.0
//! Colour transfer to the scene's lighting (Reinhard et al. 2001, in CIE L*a*b*): the
//! performer's skin is measured in each frame over the same region the character's was
//! (face outline minus eyes, brows and lips), smoothed over time, and the character's face is
//! moved per channel from its own skin mean and spread to the performer's. Also a fast
//! L*a*b* -> sRGB for the per-pixel path. No GStreamer here.

use crate::character::colour::srgb_to_lab;
use crate::character::mesh;
use crate::character::ColourStats;

use super::mask::FrameMut;

/// About this many skin samples are read per face and frame: the mean and spread of a few
/// thousand pixels are steady to a fraction of a level, at a small fixed cost whatever the
/// face size.
const SKIN_SAMPLES: f32 = 2000.0;

/// Fewest samples a measurement needs to count.
const MIN_SKIN_SAMPLES: u64 = 32;

/// A spread ratio is clamped to this range so that a measurement on a tiny or flat face cannot
/// blow the character's contrast up or flatten it.
const SPREAD_RATIO: (f32, f32) = (0.5, 2.0);

/// Lab mean and spread of the performer's skin in `frame` (face outline minus eyes, brows and
/// lips of `landmarks`, frame pixels), on a grid of about [`SKIN_SAMPLES`] points; `None` when
/// too little skin is visible.
pub(super) fn skin_stats(frame: &FrameMut<'_>, landmarks: &[[f32; 3]]) -> Option<ColourStats> {
    let mut region = mesh::SkinRegion::new(landmarks);
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in region.outline() {
        min_x = min_x.min(p.0);
        min_y = min_y.min(p.1);
        max_x = max_x.max(p.0);
        max_y = max_y.max(p.1);
    }
    let x0 = min_x.max(0.0).floor() as usize;
    let y0 = min_y.max(0.0).floor() as usize;
    let x1 = (max_x.max(0.0).ceil() as usize).min(frame.width);
    let y1 = (max_y.max(0.0).ceil() as usize).min(frame.height);
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    // The oval fills about 3/4 of its box.
    let area = ((x1 - x0) * (y1 - y0)) as f32 * 0.75;
    let step = ((area / SKIN_SAMPLES).sqrt().floor() as usize).max(1);
    let mut acc = crate::character::colour::LabAccumulator::default();
    for y in (y0..y1).step_by(step) {
        region.start_row(y as f32 + 0.5);
        for x in (x0..x1).step_by(step) {
            if region.contains(x as f32 + 0.5) {
                acc.push(srgb_to_lab(frame.get(x, y)));
            }
        }
    }
    (acc.count() >= MIN_SKIN_SAMPLES).then(|| acc.stats()).flatten()
}

/// Exponential smoothing of one face's skin measurements over time.
#[derive(Debug, Clone, Copy)]
pub(super) struct SkinFilter {
    /// The smoothed statistics.
    pub(super) stats: ColourStats,
    /// Frame count when the face was last measured.
    pub(super) last_seen: u64,
}

impl SkinFilter {
    /// A filter starting at `stats`.
    pub(super) fn new(stats: ColourStats, frame: u64) -> Self {
        Self { stats, last_seen: frame }
    }

    /// Moves toward `stats`, keeping `keep` (0..1) of the previous value.
    pub(super) fn update(&mut self, stats: ColourStats, keep: f32, frame: u64) {
        for c in 0..3 {
            self.stats.mean[c] += (1.0 - keep) * (stats.mean[c] - self.stats.mean[c]);
            self.stats.std[c] += (1.0 - keep) * (stats.std[c] - self.stats.std[c]);
        }
        self.last_seen = frame;
    }
}

/// The per-channel affine map in L*a*b*: `lab[c] * scale[c] + offset[c]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct LabTransfer {
    /// Multiplier per channel.
    pub(super) scale: [f32; 3],
    /// Added after scaling.
    pub(super) offset: [f32; 3],
}

impl LabTransfer {
    /// The identity map.
    pub(super) const IDENTITY: Self = Self { scale: [1.0; 3], offset: [0.0; 3] };

    /// Moves colours with skin statistics `from` toward `to`: `strength` 0 changes nothing,
    /// 1 gives the skin exactly `to`'s mean and spread (Reinhard transfer).
    pub(super) fn between(from: &ColourStats, to: &ColourStats, strength: f32) -> Self {
        let s = strength.clamp(0.0, 1.0);
        let mut out = Self::IDENTITY;
        for c in 0..3 {
            let ratio =
                if from.std[c] > 1e-3 { (to.std[c] / from.std[c]).clamp(SPREAD_RATIO.0, SPREAD_RATIO.1) } else { 1.0 };
            let scale = 1.0 + s * (ratio - 1.0);
            let target_mean = from.mean[c] + s * (to.mean[c] - from.mean[c]);
            out.scale[c] = scale;
            out.offset[c] = target_mean - from.mean[c] * scale;
        }
        out
    }

    /// Applies the map to one colour.
    #[inline]
    pub(super) fn apply(&self, lab: [f32; 3]) -> [f32; 3] {
        [
            lab[0] * self.scale[0] + self.offset[0],
            lab[1] * self.scale[1] + self.offset[1],
            lab[2] * self.scale[2] + self.offset[2],
        ]
    }
}

/// Entries of the linear -> sRGB table over 0..1, less one. The steepest part of the curve
/// (12.92 x 255 levels per unit near black) moves under 0.1 level between entries, so the
/// nearest entry is within a level of the exact value without interpolating.
const GAMMA_STEPS: usize = 16384;

/// L*a*b* (D65) to 8-bit sRGB, as [`crate::character::colour::lab_to_srgb`] but with the sRGB
/// transfer curve tabulated: the per-pixel cost of the warp.
#[derive(Debug, Clone)]
pub(super) struct LabToRgb {
    /// The 8-bit sRGB level at linear `i / GAMMA_STEPS`. A fixed length, so that the clamped
    /// index needs no bounds check per channel.
    table: Box<[u8; GAMMA_STEPS + 1]>,
}

impl Default for LabToRgb {
    fn default() -> Self {
        let mut table = Box::new([0; GAMMA_STEPS + 1]);
        for (i, entry) in table.iter_mut().enumerate() {
            let c = i as f64 / GAMMA_STEPS as f64;
            let s = if c <= 0.003_130_8 { c * 12.92 } else { 1.055 * c.powf(1.0 / 2.4) - 0.055 };
            *entry = (s * 255.0).round() as u8;
        }
        Self { table }
    }
}

impl LabToRgb {
    #[inline]
    fn encode(&self, linear: f32) -> u8 {
        // 0.5..=GAMMA_STEPS + 0.5 before the truncation, so the cheaper i32 conversion loses
        // nothing and the index stays inside the table.
        let i = (linear.clamp(0.0, 1.0) * GAMMA_STEPS as f32 + 0.5) as i32 as usize;
        self.table[i.min(GAMMA_STEPS)]
    }

    /// Converts one colour, clamped to the sRGB gamut.
    #[inline]
    pub(super) fn convert(&self, lab: [f32; 3]) -> [u8; 3] {
        const D: f32 = 6.0 / 29.0;
        let f_inv = |t: f32| if t > D { t * t * t } else { 3.0 * D * D * (t - 4.0 / 29.0) };
        // Multiplications by the reciprocals: a division per channel costs several.
        let fy = (lab[0] + 16.0) * (1.0 / 116.0);
        let fx = fy + lab[1] * (1.0 / 500.0);
        let fz = fy - lab[2] * (1.0 / 200.0);
        let (x, y, z) = (0.950_47 * f_inv(fx), f_inv(fy), 1.088_83 * f_inv(fz));
        let r = 3.240_454_2 * x - 1.537_138_5 * y - 0.498_531_4 * z;
        let g = -0.969_266 * x + 1.876_010_8 * y + 0.041_556 * z;
        let b = 0.055_643_4 * x - 0.204_025_9 * y + 1.057_225_2 * z;
        [self.encode(r), self.encode(g), self.encode(b)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::character::colour::lab_to_srgb;
    use crate::character::mesh::FACE_OVAL;

    #[test]
    fn fast_conversion_matches_the_reference() {
        let fast = LabToRgb::default();
        for rgb in [[0, 0, 0], [255, 255, 255], [200, 150, 120], [12, 200, 40], [90, 30, 250], [1, 2, 3]] {
            let lab = srgb_to_lab(rgb);
            let (a, b) = (fast.convert(lab), lab_to_srgb(lab));
            for c in 0..3 {
                assert!(a[c].abs_diff(b[c]) <= 1, "{rgb:?}: {a:?} vs {b:?}");
                assert!(a[c].abs_diff(rgb[c]) <= 1, "{rgb:?}: {a:?}");
            }
        }
        assert_eq!(fast.convert([150.0, 0.0, 0.0]), [255, 255, 255], "clamped");
        // Every grey level, dark ones on the steep part of the curve included, comes back.
        for v in 0..=255u8 {
            let back = fast.convert(srgb_to_lab([v; 3]));
            assert!(back.iter().all(|c| c.abs_diff(v) <= 1), "{v}: {back:?}");
        }
    }

    #[test]
    fn full_transfer_gives_the_target_statistics() {
        let from = ColourStats { mean: [60.0, 15.0, 20.0], std: [10.0, 3.0, 4.0] };
        let to = ColourStats { mean: [40.0, 10.0, 25.0], std: [15.0, 6.0, 2.0] };
        let t = LabTransfer::between(&from, &to, 1.0);
        let moved = |v: [f32; 3]| t.apply(v);
        let mean = moved(from.mean);
        let plus = moved([from.mean[0] + from.std[0], from.mean[1] + from.std[1], from.mean[2] + from.std[2]]);
        for c in 0..3 {
            assert!((mean[c] - to.mean[c]).abs() < 1e-4, "{mean:?}");
            assert!((plus[c] - mean[c] - to.std[c]).abs() < 1e-4, "{plus:?}");
        }
        assert_eq!(LabTransfer::between(&from, &to, 0.0), LabTransfer::IDENTITY);
        let half = LabTransfer::between(&from, &to, 0.5).apply(from.mean);
        assert!((half[0] - 50.0).abs() < 1e-4, "{half:?}");
    }

    #[test]
    fn spread_ratio_is_bounded() {
        let from = ColourStats { mean: [50.0; 3], std: [1.0; 3] };
        let to = ColourStats { mean: [50.0; 3], std: [100.0; 3] };
        assert_eq!(LabTransfer::between(&from, &to, 1.0).scale, [SPREAD_RATIO.1; 3]);
    }

    #[test]
    fn skin_is_measured_inside_the_outline_only() {
        // A 200x200 frame: grey 200 inside the face outline's box, black elsewhere.
        let (w, h) = (200, 200);
        let mut data = vec![0u8; w * h * 3];
        let mut landmarks = vec![[100.0f32, 100.0, 0.0]; crate::facemeta::LANDMARK_COUNT];
        for (k, &i) in FACE_OVAL.iter().enumerate() {
            let angle = k as f32 / FACE_OVAL.len() as f32 * std::f32::consts::TAU;
            landmarks[i] = [100.0 + 50.0 * angle.cos(), 100.0 + 50.0 * angle.sin(), 0.0];
        }
        for y in 45..155 {
            for x in 45..155 {
                data[(y * w + x) * 3..][..3].fill(200);
            }
        }
        let frame = FrameMut { data: &mut data, width: w, height: h, stride: w * 3, pixel_stride: 3, rgb: [0, 1, 2] };
        let stats = skin_stats(&frame, &landmarks).expect("skin found");
        let grey = srgb_to_lab([200, 200, 200]);
        assert!((stats.mean[0] - grey[0]).abs() < 0.01 && stats.std[0] < 0.01, "{stats:?}");
    }
}
