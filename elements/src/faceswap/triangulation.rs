// SPDX-License-Identifier: MPL-2.0
//! Delaunay triangulation (Bowyer-Watson) of the portrait landmarks, computed once per
//! character, and the convex hull used for the face mask. No GStreamer here.

/// A triangle as three indices into the point list.
pub(super) type Triangle = [usize; 3];

/// Points closer than this (in their own units) to an earlier point are left out of the
/// triangulation: the mesh has a few coincident landmarks, and a duplicate point would make a
/// zero-area triangle.
const DUPLICATE_DISTANCE: f64 = 1e-3;

#[derive(Debug, Clone, Copy)]
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

/// Delaunay triangles of `points` (indices into `points`), each counter-clockwise in a y-up
/// frame (clockwise on screen). Non-finite and duplicate points are skipped. O(n²), fine for
/// the few hundred landmarks of a face, which are triangulated once.
pub(super) fn delaunay(points: &[(f32, f32)]) -> Vec<Triangle> {
    let n = points.len();
    let pts: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (f64::from(x), f64::from(y))).collect();
    let finite: Vec<usize> = (0..n).filter(|&i| pts[i].0.is_finite() && pts[i].1.is_finite()).collect();
    if finite.len() < 3 {
        return Vec::new();
    }
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &i in &finite {
        min_x = min_x.min(pts[i].0);
        min_y = min_y.min(pts[i].1);
        max_x = max_x.max(pts[i].0);
        max_y = max_y.max(pts[i].1);
    }
    let span = (max_x - min_x).max(max_y - min_y).max(1.0);
    let (cx, cy) = ((min_x + max_x) / 2.0, (min_y + max_y) / 2.0);
    // A super-triangle far larger than the points, so that removing it leaves their hull.
    let mut all = pts.clone();
    all.push((cx - 100.0 * span, cy - 100.0 * span));
    all.push((cx + 100.0 * span, cy - 100.0 * span));
    all.push((cx, cy + 100.0 * span));
    let super_ids = [n, n + 1, n + 2];
    let mut triangles: Vec<(Triangle, Circle)> = Vec::new();
    if let Some(circle) = circumcircle(all[n], all[n + 1], all[n + 2]) {
        triangles.push((super_ids, circle));
    }
    let mut inserted: Vec<usize> = Vec::with_capacity(finite.len());
    let mut edges: Vec<[usize; 2]> = Vec::new();
    for &i in &finite {
        let p = all[i];
        if inserted.iter().any(|&j| (all[j].0 - p.0).hypot(all[j].1 - p.1) < DUPLICATE_DISTANCE) {
            continue;
        }
        inserted.push(i);
        edges.clear();
        triangles.retain(|(t, c)| {
            let inside = (p.0 - c.x).powi(2) + (p.1 - c.y).powi(2) < c.r2;
            if inside {
                edges.extend([[t[0], t[1]], [t[1], t[2]], [t[2], t[0]]]);
            }
            !inside
        });
        // The hole's boundary: edges of exactly one removed triangle.
        for (k, e) in edges.iter().enumerate() {
            let shared = edges
                .iter()
                .enumerate()
                .any(|(m, f)| m != k && ((f[0] == e[0] && f[1] == e[1]) || (f[0] == e[1] && f[1] == e[0])));
            if shared {
                continue;
            }
            if let Some(circle) = circumcircle(all[e[0]], all[e[1]], p) {
                triangles.push(([e[0], e[1], i], circle));
            }
        }
    }
    triangles
        .into_iter()
        .filter(|(t, _)| t.iter().all(|&v| v < n))
        .map(|(t, _)| {
            let (a, b, c) = (all[t[0]], all[t[1]], all[t[2]]);
            let cross = (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0);
            if cross < 0.0 {
                [t[0], t[2], t[1]]
            } else {
                t
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
