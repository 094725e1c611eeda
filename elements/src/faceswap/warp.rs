// SPDX-License-Identifier: MPL-2.0
//! The classical swap: a piecewise-affine warp of the character portrait onto the performer's
//! landmarks. The portrait's landmarks (plus a ring of points pushed out from the face outline,
//! so the warp covers the whole feathered mask) are triangulated once; each frame every
//! triangle is mapped to the performer's matching points, rasterised in integer fixed point
//! (exact shared edges: no pixel is skipped or drawn twice along a seam) inside the face mask
//! only, and each covered pixel samples the portrait, in L*a*b* prepared once, through the
//! triangle's inverse affine map. No GStreamer here.

use crate::character::colour::srgb_to_lab;
use crate::character::mesh::FACE_OVAL;
use crate::character::{ColourStats, RgbaImage};
use crate::facemeta::LANDMARK_COUNT;

use super::blend::Region;
use super::colour::{LabToRgb, LabTransfer};
use super::mask::{FrameMut, Mask};
use super::skin::portrait_skin;
use super::triangulation::{delaunay, Triangle};

/// The ring points sit this many times farther from the outline's centroid than the outline.
const RING_SCALE: f32 = 1.3;

/// Sub-pixel steps of the rasteriser's fixed-point coordinates.
const SUBPIXEL: i64 = 16;

/// The 468 landmarks followed by the ring points, in the same order for the portrait and the
/// performer so one triangle list serves both.
pub(super) fn mesh_points(landmarks: &[[f32; 3]], out: &mut Vec<(f32, f32)>) {
    out.clear();
    out.extend(landmarks.iter().map(|p| (p[0], p[1])));
    let n = FACE_OVAL.len() as f32;
    let (sx, sy) = FACE_OVAL.iter().filter_map(|&i| landmarks.get(i)).fold((0.0, 0.0), |a, p| (a.0 + p[0], a.1 + p[1]));
    let (cx, cy) = (sx / n, sy / n);
    out.extend(
        FACE_OVAL
            .iter()
            .filter_map(|&i| landmarks.get(i))
            .map(|p| (cx + (p[0] - cx) * RING_SCALE, cy + (p[1] - cy) * RING_SCALE)),
    );
}

/// The character's face, ready to be warped.
#[derive(Debug, Clone)]
pub(super) struct PortraitMesh {
    /// Picture width in pixels.
    width: usize,
    /// The last column and row: kept so that the per-pixel sample need not subtract.
    last: (usize, usize),
    /// `last` as sample coordinates: kept so that the per-pixel sample need not convert.
    limit: (f32, f32),
    /// The picture in L*a*b*, the fourth lane its skin weight (0..1, see [`super::skin`]).
    lab: Vec<[f32; 4]>,
    /// Landmarks and ring points, picture pixels.
    points: Vec<(f32, f32)>,
    /// Delaunay triangles of `points`.
    triangles: Vec<Triangle>,
}

impl PortraitMesh {
    /// Converts `image` to L*a*b*, weighs its skin against `skin` (the character's skin
    /// statistics) and triangulates `landmarks` (468, picture pixels).
    pub(super) fn new(image: &RgbaImage, landmarks: &[[f32; 3]], skin: &ColourStats) -> Result<Self, String> {
        if landmarks.len() != LANDMARK_COUNT {
            return Err(format!("the portrait has {} landmarks, expected {LANDMARK_COUNT}", landmarks.len()));
        }
        let (width, height) = (image.width as usize, image.height as usize);
        if width == 0 || height == 0 || image.data.len() < width * height * 4 {
            return Err(format!("the portrait picture is empty or shorter than {width}x{height}"));
        }
        let lab = image.data.chunks_exact(4).take(width * height).map(|p| {
            let [l, a, b] = srgb_to_lab([p[0], p[1], p[2]]);
            [l, a, b, 0.0]
        });
        let mut points = Vec::new();
        mesh_points(landmarks, &mut points);
        let triangles = delaunay(&points);
        if triangles.is_empty() {
            return Err("the portrait landmarks cannot be triangulated".into());
        }
        let mut lab: Vec<[f32; 4]> = lab.collect();
        let weight = portrait_skin(&lab, width, height, landmarks, skin);
        for (p, w) in lab.iter_mut().zip(weight) {
            p[3] = w;
        }
        let last = (width - 1, height - 1);
        Ok(Self { width, last, limit: (last.0 as f32, last.1 as f32), lab, points, triangles })
    }

    /// Number of triangles.
    pub(super) fn triangle_count(&self) -> usize {
        self.triangles.len()
    }

    /// Bilinear L*a*b* and skin-weight sample at (`x`, `y`), picture pixels (centres at
    /// +0.5), edges clamped.
    #[inline]
    fn sample(&self, x: f32, y: f32) -> [f32; 4] {
        let fx = (x - 0.5).clamp(0.0, self.limit.0);
        let fy = (y - 0.5).clamp(0.0, self.limit.1);
        // Through i32: both are clamped non-negative and inside the picture, and the 32-bit
        // conversions are one instruction each where those of usize are several.
        let (ix, iy) = (fx as i32, fy as i32);
        let (ax, ay) = (fx - ix as f32, fy - iy as f32);
        let (x0, y0) = (ix as usize, iy as usize);
        let x1 = (x0 + 1).min(self.last.0);
        // Two row slices: one index computation each instead of one per corner.
        let top = &self.lab[y0 * self.width..][..self.width];
        let bottom = &self.lab[(y0 + 1).min(self.last.1) * self.width..][..self.width];
        let mix = |a: [f32; 4], b: [f32; 4], t: f32| -> [f32; 4] { std::array::from_fn(|c| a[c] + (b[c] - a[c]) * t) };
        mix(mix(top[x0], top[x1], ax), mix(bottom[x0], bottom[x1], ax), ay)
    }

    /// Warps the portrait onto `dst` (the performer's [`mesh_points`], frame pixels) and blends
    /// it into `frame` by `mask` (times the portrait's skin weight when `skin`), with
    /// `transfer` applied to its colours. Each pixel is written once: its mask weight is
    /// cleared after use, so folded triangles (a turned head) cannot blend a pixel twice.
    /// Returns the number of pixels written.
    pub(super) fn paste(
        &self,
        frame: &mut FrameMut<'_>,
        dst: &[(f32, f32)],
        mask: &mut Mask,
        colours: (&LabTransfer, &LabToRgb),
        skin: bool,
    ) -> usize {
        let (transfer, to_rgb) = colours;
        let bounds = (mask.x0, mask.y0, mask.width, mask.height);
        let alpha = &mut mask.alpha;
        self.each_pixel(dst, bounds, |x, y, i, (u, v)| {
            let a = alpha[i];
            if a == 0 {
                return false;
            }
            alpha[i] = 0;
            let lab = self.sample(u, v);
            let a = if skin { (f32::from(a) * lab[3] + 0.5) as u8 } else { a };
            if a > 0 {
                frame.blend(x, y, to_rgb.convert(transfer.apply([lab[0], lab[1], lab[2]])), a);
            }
            true
        })
    }

    /// As [`Self::paste`], but the warped face goes into `region` (reset to `mask`'s
    /// rectangle) with its weights, for the multi-band or gradient-domain blend; `mask` is
    /// left as it is. With `hull` (the mask's weights before the eye and mouth holes were
    /// cut), the pixels of the feathered edge band where the portrait is skin are marked as
    /// seam anchors.
    pub(super) fn paste_region(
        &self,
        dst: &[(f32, f32)],
        mask: &Mask,
        hull: Option<&[u8]>,
        region: &mut Region,
        colours: (&LabTransfer, &LabToRgb),
        skin: bool,
    ) -> usize {
        let (transfer, to_rgb) = colours;
        region.reset(mask);
        let bounds = (mask.x0, mask.y0, mask.width, mask.height);
        let (face, covered, anchor) = (&mut region.face, &mut region.covered, &mut region.anchor);
        self.each_pixel(dst, bounds, |_, _, i, (u, v)| {
            let a = mask.alpha[i];
            if a == 0 || covered[i] {
                return false;
            }
            covered[i] = true;
            let lab = self.sample(u, v);
            if let Some(hull) = hull {
                if hull[i] < 255 {
                    anchor[i] = lab[3];
                }
            }
            let weight = f32::from(a) / 255.0 * if skin { lab[3] } else { 1.0 };
            let [r, g, b] = to_rgb.convert(transfer.apply([lab[0], lab[1], lab[2]]));
            face[i] = [f32::from(r), f32::from(g), f32::from(b), weight];
            true
        })
    }

    /// Calls `pixel(x, y, index in bounds, portrait point)` for every frame pixel the warp
    /// onto `dst` covers inside `bounds` (x0, y0, width, height, inside the frame); counts
    /// the calls that return true. The caller samples the portrait (see [`Self::sample`]) only
    /// where its mask wants the pixel: the ring triangles reach well past the mask.
    fn each_pixel(
        &self,
        dst: &[(f32, f32)],
        bounds: (usize, usize, usize, usize),
        mut pixel: impl FnMut(usize, usize, usize, (f32, f32)) -> bool,
    ) -> usize {
        if dst.len() != self.points.len() || bounds.2 == 0 || bounds.3 == 0 {
            return 0;
        }
        let mut written = 0;
        for t in &self.triangles {
            let d = t.map(|i| dst[i]);
            let s = t.map(|i| self.points[i]);
            if !d.iter().all(|p| p.0.is_finite() && p.1.is_finite() && p.0.abs() < 1e6 && p.1.abs() < 1e6) {
                continue;
            }
            written += self.raster(d, s, bounds, &mut pixel);
        }
        written
    }

    fn raster(
        &self,
        mut d: [(f32, f32); 3],
        mut s: [(f32, f32); 3],
        bounds: (usize, usize, usize, usize),
        pixel: &mut impl FnMut(usize, usize, usize, (f32, f32)) -> bool,
    ) -> usize {
        let (mx0, my0, mw, mh) = bounds;
        let fixed = |p: (f32, f32)| ((p.0 * SUBPIXEL as f32).round() as i64, (p.1 * SUBPIXEL as f32).round() as i64);
        let mut v = d.map(fixed);
        let area2 = (v[1].0 - v[0].0) * (v[2].1 - v[0].1) - (v[1].1 - v[0].1) * (v[2].0 - v[0].0);
        if area2 == 0 {
            return 0;
        }
        if area2 < 0 {
            v.swap(1, 2);
            d.swap(1, 2);
            s.swap(1, 2);
        }
        // Pixel centres (x * SUBPIXEL + SUBPIXEL / 2) inside the box, clipped to the mask.
        let half = SUBPIXEL / 2;
        let min_x = v.iter().map(|p| p.0).min().unwrap_or(0);
        let max_x = v.iter().map(|p| p.0).max().unwrap_or(0);
        let min_y = v.iter().map(|p| p.1).min().unwrap_or(0);
        let max_y = v.iter().map(|p| p.1).max().unwrap_or(0);
        let first = |min: i64| (min - half + SUBPIXEL - 1).div_euclid(SUBPIXEL);
        let last = |max: i64| (max - half).div_euclid(SUBPIXEL);
        let x_start = first(min_x).max(mx0 as i64);
        let y_start = first(min_y).max(my0 as i64);
        let x_end = last(max_x).min((mx0 + mw) as i64 - 1);
        let y_end = last(max_y).min((my0 + mh) as i64 - 1);
        if x_end < x_start || y_end < y_start {
            return 0;
        }
        // Edge functions a -> b, positive inside; a pixel exactly on an edge belongs to the one
        // triangle for which that edge is a "top-left" edge, so shared edges are drawn once.
        let edges = [(v[0], v[1]), (v[1], v[2]), (v[2], v[0])];
        let bias = edges.map(|(a, b)| {
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            i64::from(!(dy > 0 || (dy == 0 && dx < 0)))
        });
        let step_x = edges.map(|(a, b)| -(b.1 - a.1) * SUBPIXEL);

        // Inverse affine map: frame point -> portrait point, through barycentric coordinates.
        let (e1, e2) = ((d[1].0 - d[0].0, d[1].1 - d[0].1), (d[2].0 - d[0].0, d[2].1 - d[0].1));
        let (f1, f2) = ((s[1].0 - s[0].0, s[1].1 - s[0].1), (s[2].0 - s[0].0, s[2].1 - s[0].1));
        let det = f64::from(e1.0) * f64::from(e2.1) - f64::from(e1.1) * f64::from(e2.0);
        if det.abs() < 1e-9 {
            return 0;
        }
        let (bx, by) = (f64::from(e2.1) / det, -f64::from(e2.0) / det);
        let (gx, gy) = (-f64::from(e1.1) / det, f64::from(e1.0) / det);
        let du = (
            (f64::from(f1.0) * bx + f64::from(f2.0) * gx) as f32,
            (f64::from(f1.0) * by + f64::from(f2.0) * gy) as f32,
        );
        let dv = (
            (f64::from(f1.1) * bx + f64::from(f2.1) * gx) as f32,
            (f64::from(f1.1) * by + f64::from(f2.1) * gy) as f32,
        );

        let mut written = 0;
        for y in y_start..=y_end {
            let py = y * SUBPIXEL + half;
            let px = x_start * SUBPIXEL + half;
            let mut e = edges.map(|(a, b)| (b.0 - a.0) * (py - a.1) - (b.1 - a.1) * (px - a.0));
            let (cx, cy) = (x_start as f32 + 0.5 - d[0].0, y as f32 + 0.5 - d[0].1);
            let mut u = s[0].0 + du.0 * cx + du.1 * cy;
            let mut w = s[0].1 + dv.0 * cx + dv.1 * cy;
            // Inside the mask rectangle, which lies inside the frame (clipped above).
            let row_start = (y as usize - my0) * mw;
            for x in x_start..=x_end {
                if e[0] >= bias[0] && e[1] >= bias[1] && e[2] >= bias[2] {
                    let i = row_start + (x as usize - mx0);
                    written += usize::from(pixel(x as usize, y as usize, i, (u, w)));
                }
                e[0] += step_x[0];
                e[1] += step_x[1];
                e[2] += step_x[2];
                u += du.0;
                w += dv.0;
            }
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::character::colour::lab_to_srgb;

    /// Skin statistics for pictures whose skin weight the tests do not use.
    const SKIN: ColourStats = ColourStats { mean: [60.0, 15.0, 20.0], std: [8.0, 4.0, 4.0] };

    /// A synthetic face: the oval on a circle, everything else on a grid inside it.
    fn landmarks(cx: f32, cy: f32, r: f32) -> Vec<[f32; 3]> {
        let mut points = Vec::with_capacity(LANDMARK_COUNT);
        let side = 22;
        for i in 0..LANDMARK_COUNT {
            let (gx, gy) = ((i % side) as f32 / (side - 1) as f32, (i / side) as f32 / (side - 1) as f32);
            // A little jitter: a regular grid has four points on every circle, a degenerate case.
            let jitter = ((i * 7919) % 13) as f32 / 13.0 - 0.5;
            points.push([cx + (gx - 0.5 + 0.004 * jitter) * r * 1.2, cy + (gy - 0.5 - 0.003 * jitter) * r * 1.2, 0.0]);
        }
        for (k, &i) in FACE_OVAL.iter().enumerate() {
            let angle = k as f32 / FACE_OVAL.len() as f32 * std::f32::consts::TAU;
            points[i] = [cx + r * angle.cos(), cy + r * angle.sin(), 0.0];
        }
        points
    }

    /// A picture whose colour codes the position: R = x, G = y.
    fn coded(width: u32, height: u32) -> RgbaImage {
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                data.extend_from_slice(&[x as u8, y as u8, 128, 255]);
            }
        }
        RgbaImage { width, height, data }
    }

    fn full_mask(width: usize, height: usize) -> Mask {
        Mask { x0: 0, y0: 0, width, height, alpha: vec![255; width * height] }
    }

    #[test]
    fn identical_meshes_copy_the_portrait() {
        let picture = coded(200, 200);
        let marks = landmarks(100.0, 100.0, 60.0);
        let mesh = PortraitMesh::new(&picture, &marks, &SKIN).expect("mesh");
        assert!(mesh.triangle_count() > 900, "{}", mesh.triangle_count());
        let mut data = vec![0u8; 200 * 200 * 4];
        let mut frame =
            FrameMut { data: &mut data, width: 200, height: 200, stride: 800, pixel_stride: 4, rgb: [0, 1, 2] };
        let mut dst = Vec::new();
        mesh_points(&marks, &mut dst);
        let mut mask = full_mask(200, 200);
        let written = mesh.paste(&mut frame, &dst, &mut mask, (&LabTransfer::IDENTITY, &LabToRgb::default()), false);
        // Everything inside the ring (radius 78) is covered exactly once.
        let ring_area = std::f32::consts::PI * 78.0 * 78.0;
        assert!((written as f32) > ring_area * 0.97 && (written as f32) < ring_area * 1.01, "{written}");
        for (x, y) in [(100, 100), (60, 90), (140, 130), (100, 41)] {
            let px = frame.get(x, y);
            assert!(px[0].abs_diff(x as u8) <= 1 && px[1].abs_diff(y as u8) <= 1, "({x}, {y}): {px:?}");
        }
    }

    #[test]
    fn a_shifted_and_scaled_performer_samples_the_matching_point() {
        let picture = coded(200, 200);
        let mesh = PortraitMesh::new(&picture, &landmarks(100.0, 100.0, 60.0), &SKIN).expect("mesh");
        // The performer's face is twice as large and centred at (150, 120).
        let mut dst = Vec::new();
        mesh_points(&landmarks(150.0, 120.0, 120.0), &mut dst);
        let mut data = vec![0u8; 300 * 260 * 3];
        let mut frame =
            FrameMut { data: &mut data, width: 300, height: 260, stride: 900, pixel_stride: 3, rgb: [0, 1, 2] };
        let mut mask = full_mask(300, 260);
        mesh.paste(&mut frame, &dst, &mut mask, (&LabTransfer::IDENTITY, &LabToRgb::default()), false);
        for (x, y) in [(150usize, 120usize), (100, 100), (200, 170)] {
            // Frame point p maps to portrait point 100 + (p - centre) / 2.
            let (u, v) = (100.0 + (x as f32 + 0.5 - 150.0) / 2.0, 100.0 + (y as f32 + 0.5 - 120.0) / 2.0);
            let px = frame.get(x, y);
            assert!(
                (f32::from(px[0]) - (u - 0.5)).abs() <= 1.5 && (f32::from(px[1]) - (v - 0.5)).abs() <= 1.5,
                "({x}, {y}): {px:?} vs {u}, {v}"
            );
        }
    }

    #[test]
    fn the_mask_limits_what_is_written_and_transfer_applies() {
        let picture = RgbaImage { width: 100, height: 100, data: [150u8, 120, 100, 255].repeat(100 * 100) };
        let marks = landmarks(50.0, 50.0, 40.0);
        let mesh = PortraitMesh::new(&picture, &marks, &SKIN).expect("mesh");
        let mut dst = Vec::new();
        mesh_points(&marks, &mut dst);
        let mut data = vec![7u8; 100 * 100 * 4];
        let mut frame =
            FrameMut { data: &mut data, width: 100, height: 100, stride: 400, pixel_stride: 4, rgb: [0, 1, 2] };
        let mut mask = Mask { x0: 40, y0: 40, width: 20, height: 20, alpha: vec![255; 400] };
        mask.alpha[0] = 0;
        let transfer = LabTransfer { scale: [1.0; 3], offset: [-10.0, 0.0, 0.0] };
        let written = mesh.paste(&mut frame, &dst, &mut mask, (&transfer, &LabToRgb::default()), false);
        assert_eq!(written, 399);
        assert_eq!(frame.get(40, 40), [7, 7, 7], "zero weight: untouched");
        assert_eq!(frame.get(39, 50), [7, 7, 7], "outside the mask: untouched");
        let mut lab = srgb_to_lab([150, 120, 100]);
        lab[0] -= 10.0;
        let expected = lab_to_srgb(lab);
        let got = frame.get(50, 50);
        assert!((0..3).all(|c| got[c].abs_diff(expected[c]) <= 1), "{got:?} vs {expected:?}");
        assert!(mask.alpha.iter().all(|&a| a == 0), "every weight used once");
    }
}
