// SPDX-License-Identifier: MPL-2.0
//! sRGB <-> CIE L*a*b* (D65) for colour statistics and transfer: Lab separates lightness from
//! hue, so matching mean and spread per channel moves a face to a scene's lighting without
//! shifting its hue the way per-channel RGB matching does.

/// D65 reference white.
const WHITE: [f32; 3] = [0.950_47, 1.0, 1.088_83];

fn to_linear(c: f32) -> f32 {
    if c <= 0.040_45 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn from_linear(c: f32) -> f32 {
    if c <= 0.003_130_8 {
        c * 12.92
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    }
}

fn f(t: f32) -> f32 {
    const D: f32 = 6.0 / 29.0;
    if t > D * D * D {
        cube_root(t)
    } else {
        t / (3.0 * D * D) + 4.0 / 29.0
    }
}

/// The cube root of `t` > 0 to about a millionth (a ten-thousandth of a unit of L*), in a
/// fraction of the work of `f32::cbrt`: it is most of what a conversion costs after the table
/// of linear levels, and the occlusion mask converts every cell of the face each frame. A
/// first guess from the bits (the exponent divided by 3), then two Newton steps, each of
/// which about squares the relative error.
fn cube_root(t: f32) -> f32 {
    let mut y = f32::from_bits(t.to_bits() / 3 + 0x2a51_4067);
    for _ in 0..2 {
        y = (2.0 * y + t / (y * y)) * (1.0 / 3.0);
    }
    y
}

fn f_inv(t: f32) -> f32 {
    const D: f32 = 6.0 / 29.0;
    if t > D {
        t * t * t
    } else {
        3.0 * D * D * (t - 4.0 / 29.0)
    }
}

/// Linear light of each 8-bit sRGB level: the power function is most of a conversion's
/// cost, and a face is tens of thousands of pixels a frame.
static LINEAR: std::sync::LazyLock<[f32; 256]> =
    std::sync::LazyLock::new(|| std::array::from_fn(|c| to_linear(c as f32 / 255.0)));

/// 8-bit sRGB to L*a*b*.
pub fn srgb_to_lab(rgb: [u8; 3]) -> [f32; 3] {
    let linear = &*LINEAR;
    let [r, g, b] = rgb.map(|c| linear[usize::from(c)]);
    let x = 0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b;
    let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * b;
    let z = 0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * b;
    let (fx, fy, fz) = (f(x / WHITE[0]), f(y / WHITE[1]), f(z / WHITE[2]));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// L*a*b* to 8-bit sRGB, clamped to the gamut.
pub fn lab_to_srgb(lab: [f32; 3]) -> [u8; 3] {
    let fy = (lab[0] + 16.0) / 116.0;
    let fx = fy + lab[1] / 500.0;
    let fz = fy - lab[2] / 200.0;
    let (x, y, z) = (WHITE[0] * f_inv(fx), WHITE[1] * f_inv(fy), WHITE[2] * f_inv(fz));
    let r = 3.240_454_2 * x - 1.537_138_5 * y - 0.498_531_4 * z;
    let g = -0.969_266 * x + 1.876_010_8 * y + 0.041_556 * z;
    let b = 0.055_643_4 * x - 0.204_025_9 * y + 1.057_225_2 * z;
    [r, g, b].map(|c| (from_linear(c.clamp(0.0, 1.0)) * 255.0).round() as u8)
}

/// Running mean and variance of Lab samples (Welford), for [`super::ColourStats`].
#[derive(Debug, Default, Clone, Copy)]
pub struct LabAccumulator {
    count: u64,
    mean: [f64; 3],
    m2: [f64; 3],
}

impl LabAccumulator {
    /// Adds one sample.
    pub fn push(&mut self, lab: [f32; 3]) {
        self.count += 1;
        let n = self.count as f64;
        for ((v, mean), m2) in lab.iter().zip(&mut self.mean).zip(&mut self.m2) {
            let v = f64::from(*v);
            let delta = v - *mean;
            *mean += delta / n;
            *m2 += delta * (v - *mean);
        }
    }

    /// Samples pushed so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean and standard deviation; `None` before any sample.
    pub fn stats(&self) -> Option<super::ColourStats> {
        (self.count > 0).then(|| super::ColourStats {
            mean: self.mean.map(|m| m as f32),
            std: self.m2.map(|m| (m / self.count as f64).sqrt() as f32),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_within_one_level() {
        for rgb in [[0, 0, 0], [255, 255, 255], [200, 150, 120], [12, 200, 40], [90, 30, 250]] {
            let back = lab_to_srgb(srgb_to_lab(rgb));
            for c in 0..3 {
                assert!(back[c].abs_diff(rgb[c]) <= 1, "{rgb:?} -> {back:?}");
            }
        }
    }

    #[test]
    fn the_cube_root_is_within_two_millionths_where_lab_takes_it() {
        // From the threshold of `f` to past the whitest white the XYZ normalisation gives.
        let (from, to) = ((6.0f32 / 29.0).powi(3), 1.2f32);
        let mut worst = 0.0f32;
        for i in 0..=100_000 {
            let t = from + (to - from) * i as f32 / 100_000.0;
            let exact = f64::from(t).cbrt();
            worst = worst.max(((f64::from(cube_root(t)) - exact) / exact).abs() as f32);
        }
        assert!(worst < 2e-6, "worst relative error {worst}");
    }

    #[test]
    fn white_is_l100_neutral() {
        let lab = srgb_to_lab([255, 255, 255]);
        assert!((lab[0] - 100.0).abs() < 0.01 && lab[1].abs() < 0.01 && lab[2].abs() < 0.01, "{lab:?}");
    }
}
