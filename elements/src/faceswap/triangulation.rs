// SPDX-License-Identifier: MPL-2.0
//! Delaunay triangulation of the portrait landmarks (the `delaunator` crate), computed once
//! per character, and the convex hull used for the face mask. No GStreamer here.

use delaunator::Point;

/// A triangle as three indices into the point list.
pub(super) type Triangle = [usize; 3];

/// Points closer than this (in their own units) to an earlier point are left out of the
/// triangulation: the mesh has a few coincident landmarks, and a duplicate point would make a
/// zero-area triangle.
const DUPLICATE_DISTANCE: f64 = 1e-3;

/// Delaunay triangles of `points` (indices into `points`), each counter-clockwise in a y-up
/// frame (clockwise on screen), the order the warp's barycentric set-up expects.
/// Non-finite and duplicate points are skipped.
pub(super) fn delaunay(points: &[(f32, f32)]) -> Vec<Triangle> {
    let mut kept: Vec<usize> = Vec::with_capacity(points.len());
    let mut at: Vec<Point> = Vec::with_capacity(points.len());
    for (i, &(x, y)) in points.iter().enumerate() {
        let p = Point { x: f64::from(x), y: f64::from(y) };
        if !(p.x.is_finite() && p.y.is_finite()) || at.iter().any(|q| (q.x - p.x).hypot(q.y - p.y) < DUPLICATE_DISTANCE)
        {
            continue;
        }
        kept.push(i);
        at.push(p);
    }
    delaunator::triangulate(&at)
        .triangles
        .chunks_exact(3)
        .map(|t| {
            let (a, b, c) = (&at[t[0]], &at[t[1]], &at[t[2]]);
            let cross = (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
            if cross < 0.0 {
                [kept[t[0]], kept[t[2]], kept[t[1]]]
            } else {
                [kept[t[0]], kept[t[1]], kept[t[2]]]
            }
        })
        .collect()
}

/// Convex hull of `points` (Andrew's monotone chain), counter-clockwise in a y-up frame,
/// without repeated or collinear points.
pub(super) fn convex_hull(points: &[(f32, f32)]) -> Vec<(f32, f32)> {
    let mut pts: Vec<(f32, f32)> = points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: (f32, f32), a: (f32, f32), b: (f32, f32)| (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0);
    let mut hull: Vec<(f32, f32)> = Vec::with_capacity(pts.len() * 2);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &(f32, f32)>> =
            if pass == 0 { Box::new(pts.iter()) } else { Box::new(pts.iter().rev()) };
        for &p in iter {
            while hull.len() >= start + 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Circle {
        x: f64,
        y: f64,
        r2: f64,
    }

    fn circumcircle(a: (f64, f64), b: (f64, f64), c: (f64, f64)) -> Option<Circle> {
        let d = 2.0 * (a.0 * (b.1 - c.1) + b.0 * (c.1 - a.1) + c.0 * (a.1 - b.1));
        if d.abs() < 1e-12 {
            return None;
        }
        let (a2, b2, c2) = (a.0 * a.0 + a.1 * a.1, b.0 * b.0 + b.1 * b.1, c.0 * c.0 + c.1 * c.1);
        let x = (a2 * (b.1 - c.1) + b2 * (c.1 - a.1) + c2 * (a.1 - b.1)) / d;
        let y = (a2 * (c.0 - b.0) + b2 * (a.0 - c.0) + c2 * (b.0 - a.0)) / d;
        Some(Circle { x, y, r2: (a.0 - x).powi(2) + (a.1 - y).powi(2) })
    }

    /// Deterministic pseudo-random points (xorshift).
    fn scatter(count: usize, seed: u64) -> Vec<(f32, f32)> {
        let mut s = seed;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 10_000) as f32 / 10.0
        };
        (0..count).map(|_| (next(), next())).collect()
    }

    #[test]
    fn triangles_satisfy_the_empty_circle_property() {
        let points = scatter(200, 0x9e37_79b9_7f4a_7c15);
        let triangles = delaunay(&points);
        let hull = convex_hull(&points);
        // Euler: a triangulation of n points with h on the hull has 2n - 2 - h triangles.
        assert_eq!(triangles.len(), 2 * points.len() - 2 - hull.len());
        let p = |i: usize| (f64::from(points[i].0), f64::from(points[i].1));
        for t in &triangles {
            let c = circumcircle(p(t[0]), p(t[1]), p(t[2])).expect("not degenerate");
            for (i, q) in points.iter().enumerate() {
                if t.contains(&i) {
                    continue;
                }
                let d2 = (f64::from(q.0) - c.x).powi(2) + (f64::from(q.1) - c.y).powi(2);
                assert!(d2 >= c.r2 * (1.0 - 1e-9), "point {i} inside the circle of {t:?}");
            }
            let (a, b, c) = (p(t[0]), p(t[1]), p(t[2]));
            assert!((b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0) > 0.0, "orientation of {t:?}");
        }
    }

    #[test]
    fn triangle_areas_add_up_to_the_hull_area() {
        let points = scatter(120, 12345);
        let area = |a: (f32, f32), b: (f32, f32), c: (f32, f32)| {
            f64::from((b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0)) / 2.0
        };
        let total: f64 = delaunay(&points).iter().map(|t| area(points[t[0]], points[t[1]], points[t[2]])).sum();
        let hull = convex_hull(&points);
        let hull_area: f64 = (1..hull.len() - 1).map(|i| area(hull[0], hull[i], hull[i + 1])).sum();
        assert!((total - hull_area).abs() < 1e-3 * hull_area, "{total} vs {hull_area}");
    }

    #[test]
    fn duplicates_and_degenerate_input_are_handled() {
        let square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (1.0, 1.0), (f32::NAN, 0.0)];
        let triangles = delaunay(&square);
        assert_eq!(triangles.len(), 2);
        assert!(triangles.iter().flatten().all(|&i| i < 4));
        assert!(delaunay(&[(0.0, 0.0), (1.0, 1.0)]).is_empty());
        assert_eq!(convex_hull(&square).len(), 4);
    }
}
