// SPDX-License-Identifier: MPL-2.0
//! The blend mask of one face: the convex hull of the face outline, feathered inwards so the
//! mask is 0 on the hull and beyond (nothing outside it is touched) and 1 from `feather` pixels
//! inside; optional holes (eyes, mouth opening) feathered outwards so the performer's own show
//! through. It is a pure function of the landmarks, so it is exactly as steady as they are.
//! Also the plain packed frame the element writes into. No GStreamer here.

use crate::character::mesh;
use crate::frame::{smoothstep, PackedLayout};

/// A packed 8-bit RGB-family frame (RGB, BGR, RGBx, BGRx, RGBA, BGRA). The elements build it
/// inside `frame::write_packed`, which has checked that every row lies inside `data`.
#[derive(Debug)]
pub(crate) struct FrameMut<'a> {
    /// Pixel rows, `stride` bytes apart.
    pub(crate) data: &'a mut [u8],
    /// Width in pixels.
    pub(crate) width: usize,
    /// Height in pixels.
    pub(crate) height: usize,
    /// Bytes from one row to the next.
    pub(crate) stride: usize,
    /// Bytes per pixel (3 or 4).
    pub(crate) pixel_stride: usize,
    /// Byte offsets of red, green and blue inside a pixel.
    pub(crate) rgb: [usize; 3],
}

impl FrameMut<'_> {
    fn layout(&self) -> PackedLayout {
        PackedLayout { pixel_stride: self.pixel_stride, rgb: self.rgb }
    }

    /// R, G, B of pixel (`x`, `y`), which must lie inside the frame. This and [`Self::blend`]
    /// run once per face pixel from the warp and the blends; at the elements' opt-level the
    /// compiler left them calls (about 60 instructions a blend), hence `always`.
    #[inline(always)]
    pub(crate) fn get(&self, x: usize, y: usize) -> [u8; 3] {
        self.layout().rgb_at(self.data, y * self.stride + x * self.pixel_stride)
    }

    /// Mixes `colour` into pixel (`x`, `y`) with weight `alpha` / 255 (255 replaces it).
    #[inline(always)]
    pub(crate) fn blend(&mut self, x: usize, y: usize, colour: [u8; 3], alpha: u8) {
        let i = y * self.stride + x * self.pixel_stride;
        let a = u32::from(alpha);
        for (&offset, &value) in self.rgb.iter().zip(&colour) {
            let o = &mut self.data[i + offset];
            *o = ((u32::from(*o) * (255 - a) + u32::from(value) * a + 127) / 255) as u8;
        }
    }
}

/// A rectangle of the frame with one mask byte per pixel (0 = keep the frame, 255 = replace).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Mask {
    /// Left column in the frame.
    pub(crate) x0: usize,
    /// Top row in the frame.
    pub(crate) y0: usize,
    /// Width in pixels.
    pub(crate) width: usize,
    /// Height in pixels.
    pub(crate) height: usize,
    /// `width * height` weights, row-major.
    pub(crate) alpha: Vec<u8>,
}

impl Mask {
    /// The weight of frame pixel (`x`, `y`); 0 outside the rectangle.
    #[cfg(test)]
    pub(crate) fn at(&self, x: usize, y: usize) -> u8 {
        if x < self.x0 || y < self.y0 || x >= self.x0 + self.width || y >= self.y0 + self.height {
            return 0;
        }
        self.alpha[(y - self.y0) * self.width + x - self.x0]
    }

    /// True when no pixel is weighted.
    pub(crate) fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }
}

/// One hull edge as an inward half-plane: distance(p) = nx * x + ny * y + c.
#[derive(Debug, Clone, Copy)]
struct HalfPlane {
    nx: f32,
    ny: f32,
    c: f32,
}

/// Fills `mask` for a `frame_w` x `frame_h` frame: 0 outside the convex polygon `hull` (as from
/// [`super::triangulation::convex_hull`]), rising smoothly to 255 at `feather` pixels inside it.
/// For a convex polygon the distance to the boundary of an inside point is the smallest of its
/// distances to the edge lines, so each row is two intervals: the band where it is computed,
/// and the inner part that is plainly 255.
pub(super) fn hull_mask(hull: &[(f32, f32)], feather: f32, frame_w: usize, frame_h: usize, mask: &mut Mask) {
    mask.width = 0;
    mask.height = 0;
    mask.alpha.clear();
    if hull.len() < 3 || frame_w == 0 || frame_h == 0 {
        return;
    }
    let mut planes = Vec::with_capacity(hull.len());
    let area2: f32 = (0..hull.len())
        .map(|i| {
            let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum();
    let sign = if area2 >= 0.0 { 1.0 } else { -1.0 };
    for i in 0..hull.len() {
        let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = dx.hypot(dy);
        if len <= f32::EPSILON {
            continue;
        }
        // Inward normal: left of the edge for a positively oriented polygon.
        let (nx, ny) = (-dy / len * sign, dx / len * sign);
        planes.push(HalfPlane { nx, ny, c: -(nx * a.0 + ny * a.1) });
    }
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in hull {
        min_x = min_x.min(p.0);
        min_y = min_y.min(p.1);
        max_x = max_x.max(p.0);
        max_y = max_y.max(p.1);
    }
    // Clamped before the casts: a wild landmark must not overflow.
    let clamp = |v: f32, size: usize| v.clamp(0.0, size as f32) as usize;
    let (x0, y0) = (clamp(min_x.floor(), frame_w), clamp(min_y.floor(), frame_h));
    let (x1, y1) = (clamp(max_x.ceil() + 1.0, frame_w), clamp(max_y.ceil() + 1.0, frame_h));
    if x1 <= x0 || y1 <= y0 {
        return;
    }
    let (w, h) = (x1 - x0, y1 - y0);
    mask.x0 = x0;
    mask.y0 = y0;
    mask.width = w;
    mask.height = h;
    mask.alpha.resize(w * h, 0);
    let feather = feather.max(0.0);
    let inv_feather = if feather > 0.0 { 1.0 / feather } else { f32::INFINITY };
    let mut near = Vec::with_capacity(planes.len());
    for row in 0..h {
        let py = (y0 + row) as f32 + 0.5;
        // Pixel centres x + 0.5 with every distance >= t lie in [lo(t), hi(t)].
        let interval = |t: f32| {
            let (mut lo, mut hi) = (f32::NEG_INFINITY, f32::INFINITY);
            for p in &planes {
                let rest = p.ny * py + p.c;
                if p.nx > 1e-6 {
                    lo = lo.max((t - rest) / p.nx);
                } else if p.nx < -1e-6 {
                    hi = hi.min((t - rest) / p.nx);
                } else if rest < t {
                    return (1.0, 0.0);
                }
            }
            (lo, hi)
        };
        let span = |(lo, hi): (f32, f32)| {
            let a = (lo - 0.5).ceil().max(x0 as f32);
            let b = (hi - 0.5).floor().min((x1 - 1) as f32);
            (a <= b).then_some((a as usize, b as usize))
        };
        let Some((a, b)) = span(interval(0.0)) else { continue };
        let inner = if feather > 0.0 { span(interval(feather)) } else { Some((a, b)) };
        let line = &mut mask.alpha[row * w..][..w];
        // The feathered band (columns of `line`): left of the inner part and right of it, or
        // the whole row.
        let (a, b) = (a - x0, b - x0);
        let bands = match inner {
            Some((ia, ib)) => {
                let (ia, ib) = (ia - x0, ib - x0);
                line[ia..=ib].fill(255);
                [a..ia, ib + 1..b + 1]
            }
            None => [a..b + 1, 0..0],
        };
        for band in bands.into_iter().filter(|band| !band.is_empty()) {
            feather_band(&mut line[band.clone()], x0 + band.start, py, &planes, (feather, inv_feather), &mut near);
        }
    }
}

/// Fills `span` (frame columns from `first_x` on, in the row at `py`) with the feathered weight.
/// A line's distance changes linearly along the row, so one at least `feather` away at both
/// ends of the span cannot be the nearest where the weight is below 255; only the others
/// (`near`, reused) are measured per pixel, which gives the same minimum.
fn feather_band(
    span: &mut [u8],
    first_x: usize,
    py: f32,
    planes: &[HalfPlane],
    (feather, inv_feather): (f32, f32),
    near: &mut Vec<HalfPlane>,
) {
    let first = first_x as f32 + 0.5;
    let last = (first_x + span.len() - 1) as f32 + 0.5;
    near.clear();
    for p in planes {
        let rest = p.ny * py + p.c;
        if (p.nx * first + rest).min(p.nx * last + rest) < feather {
            near.push(*p);
        }
    }
    for (i, out) in span.iter_mut().enumerate() {
        let px = (first_x + i) as f32 + 0.5;
        let d = near.iter().map(|p| p.nx * px + p.ny * py + p.c).fold(f32::INFINITY, f32::min);
        *out = if d >= feather {
            255
        } else if d > 0.0 {
            (smoothstep(d * inv_feather) * 255.0 + 0.5) as u8
        } else {
            0
        };
    }
}

/// Distance from (`x`, `y`) to the closed polygon's boundary.
pub(super) fn boundary_distance(polygon: &[(f32, f32)], x: f32, y: f32) -> f32 {
    (0..polygon.len())
        .map(|i| segment_distance2(polygon[i], polygon[(i + 1) % polygon.len()], x, y))
        .fold(f32::INFINITY, f32::min)
        .sqrt()
}

/// Squared distance from (`x`, `y`) to the segment from `a` to `b`.
#[inline]
pub(super) fn segment_distance2(a: (f32, f32), b: (f32, f32), x: f32, y: f32) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((x - a.0) * dx + (y - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (ex, ey) = (x - a.0 - t * dx, y - a.1 - t * dy);
    ex * ex + ey * ey
}

/// Lowers `mask` where the performer's own pixels should show: 0 inside `polygon` (any simple
/// polygon), rising back to the mask's value at `feather` pixels outside it.
pub(super) fn cut_hole(mask: &mut Mask, polygon: &[(f32, f32)], feather: f32) {
    if polygon.len() < 3 || mask.is_empty() {
        return;
    }
    let feather = feather.max(0.5);
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in polygon {
        min_x = min_x.min(p.0);
        min_y = min_y.min(p.1);
        max_x = max_x.max(p.0);
        max_y = max_y.max(p.1);
    }
    let clamp_x = |v: f32| (v.max(mask.x0 as f32) as usize).clamp(mask.x0, mask.x0 + mask.width);
    let clamp_y = |v: f32| (v.max(mask.y0 as f32) as usize).clamp(mask.y0, mask.y0 + mask.height);
    let (x0, x1) = (clamp_x((min_x - feather).floor()), clamp_x((max_x + feather).ceil() + 1.0));
    let (y0, y1) = (clamp_y((min_y - feather).floor()), clamp_y((max_y + feather).ceil() + 1.0));
    let edges: Vec<((f32, f32), (f32, f32))> =
        (0..polygon.len()).map(|i| (polygon[i], polygon[(i + 1) % polygon.len()])).collect();
    let (mut crossings, mut near) = (Vec::new(), Vec::with_capacity(edges.len()));
    for y in y0..y1 {
        let py = y as f32 + 0.5;
        mesh::crossings(polygon, py, &mut crossings);
        // An edge whose rows lie `feather` or more away from this one cannot lower a pixel
        // outside the hole, and the nearest edge of any pixel it lowers is among the others:
        // the same weights as measuring every edge, at a fraction of the cost.
        near.clear();
        near.extend(edges.iter().filter(|(a, b)| py > a.1.min(b.1) - feather && py < a.1.max(b.1) + feather));
        for x in x0..x1 {
            let i = (y - mask.y0) * mask.width + x - mask.x0;
            if mask.alpha[i] == 0 {
                continue;
            }
            let px = x as f32 + 0.5;
            let keep = if mesh::inside_row(&crossings, px) {
                0.0
            } else {
                let d2 = near.iter().map(|&(a, b)| segment_distance2(a, b, px, py)).fold(f32::INFINITY, f32::min);
                if d2 >= feather * feather {
                    continue;
                }
                smoothstep(d2.sqrt() / feather)
            };
            mask.alpha[i] = (f32::from(mask.alpha[i]) * keep + 0.5) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x0: f32, y0: f32, side: f32) -> Vec<(f32, f32)> {
        vec![(x0, y0), (x0 + side, y0), (x0 + side, y0 + side), (x0, y0 + side)]
    }

    #[test]
    fn hull_mask_is_zero_outside_and_full_inside() {
        let mut mask = Mask::default();
        hull_mask(&square(10.0, 10.0, 40.0), 8.0, 100, 80, &mut mask);
        assert_eq!((mask.x0, mask.y0), (10, 10));
        for y in 0..80 {
            for x in 0..100 {
                let a = mask.at(x, y);
                let (cx, cy) = (x as f32 + 0.5, y as f32 + 0.5);
                let inside = cx > 10.0 && cx < 50.0 && cy > 10.0 && cy < 50.0;
                if !inside {
                    assert_eq!(a, 0, "({x}, {y}) outside");
                }
                let depth = (cx - 10.0).min(50.0 - cx).min(cy - 10.0).min(50.0 - cy);
                if depth >= 8.0 {
                    assert_eq!(a, 255, "({x}, {y}) deep inside");
                }
            }
        }
        // The ramp rises monotonically from the edge.
        let ramp: Vec<u8> = (10..30).map(|x| mask.at(x, 30)).collect();
        assert!(ramp.windows(2).all(|w| w[0] <= w[1]), "{ramp:?}");
        assert!(ramp[0] < 10 && ramp[4] > 50 && ramp[4] < 200, "{ramp:?}");
    }

    #[test]
    fn the_feathered_band_is_each_pixels_distance_to_the_nearest_edge() {
        // A tilted convex 12-gon, wider than its feather in places and not in others.
        let hull: Vec<(f32, f32)> = (0..12)
            .map(|k| {
                let t = k as f32 * std::f32::consts::TAU / 12.0 + 0.3;
                (60.0 + 45.0 * t.cos(), 50.0 + 30.0 * t.sin())
            })
            .collect();
        for feather in [0.0, 3.0, 17.0, 40.0] {
            let mut mask = Mask::default();
            hull_mask(&hull, feather, 120, 100, &mut mask);
            for y in 0..100 {
                for x in 0..120 {
                    let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                    let expected = if !mesh::contains(&hull, px, py) {
                        0.0
                    } else if feather == 0.0 {
                        255.0
                    } else {
                        smoothstep(boundary_distance(&hull, px, py) / feather) * 255.0
                    };
                    let got = f32::from(mask.at(x, y));
                    assert!((got - expected).abs() <= 1.0, "feather {feather}: ({x}, {y}) {got} against {expected}");
                }
            }
        }
    }

    #[test]
    fn orientation_does_not_matter_and_the_frame_clips() {
        let mut a = Mask::default();
        let mut b = Mask::default();
        let mut sq = square(-20.0, 5.0, 60.0);
        hull_mask(&sq, 4.0, 30, 30, &mut a);
        sq.reverse();
        hull_mask(&sq, 4.0, 30, 30, &mut b);
        assert_eq!(a, b);
        assert_eq!((a.x0, a.width, a.y0, a.height), (0, 30, 5, 25));
        assert_eq!(a.at(0, 20), 255, "the frame edge is not a mask edge");
    }

    #[test]
    fn holes_are_cut_with_a_feathered_rim() {
        let mut mask = Mask::default();
        hull_mask(&square(0.0, 0.0, 100.0), 2.0, 100, 100, &mut mask);
        cut_hole(&mut mask, &square(40.0, 40.0, 20.0), 4.0);
        assert_eq!(mask.at(50, 50), 0);
        assert_eq!(mask.at(40, 45), 0);
        assert!(mask.at(61, 50) > 0 && mask.at(61, 50) < 128, "{}", mask.at(61, 50));
        assert_eq!(mask.at(66, 50), 255);
    }

    #[test]
    fn a_hole_weighs_each_pixel_by_its_distance_to_every_edge() {
        // A concave polygon (an arrowhead with a notch) over a mask with a gradient of weights,
        // against the plain measure: inside 0, outside the smoothed distance to all edges.
        let hole = [(30.0, 20.0), (70.0, 35.0), (45.0, 40.0), (72.0, 62.0), (28.0, 58.0), (38.0, 41.0)];
        for feather in [0.5, 3.0, 9.5] {
            let mut mask = Mask::default();
            hull_mask(&square(0.0, 0.0, 100.0), 30.0, 100, 100, &mut mask);
            let before = mask.clone();
            cut_hole(&mut mask, &hole, feather);
            for y in 0..100 {
                for x in 0..100 {
                    let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                    let keep = if mesh::contains(&hole, px, py) {
                        0.0
                    } else {
                        smoothstep(boundary_distance(&hole, px, py) / feather)
                    };
                    let expected = (f32::from(before.at(x, y)) * keep + 0.5) as u8;
                    assert_eq!(mask.at(x, y), expected, "feather {feather}: ({x}, {y})");
                }
            }
        }
    }

    #[test]
    fn blend_mixes_by_alpha() {
        let mut data = vec![100u8, 0, 200, 9, 100, 0, 200, 9];
        let mut frame = FrameMut { data: &mut data, width: 2, height: 1, stride: 8, pixel_stride: 4, rgb: [2, 1, 0] };
        frame.blend(0, 0, [0, 255, 100], 255);
        frame.blend(1, 0, [0, 255, 100], 0);
        assert_eq!(data, [100, 255, 0, 9, 100, 0, 200, 9]);
    }
}
