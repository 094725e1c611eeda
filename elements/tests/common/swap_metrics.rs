// SPDX-License-Identifier: MPL-2.0
//! Measures of a face swap's quality on RGBx frames, shared by `tests/faceswap.rs` and
//! `examples/faceswap_bench.rs`: how much the seam shows, how much the face flickers, how far
//! the swapped skin's colour lies from the performer's near the seam.

#![allow(dead_code, unreachable_pub)]

use gstreenact::character::colour::srgb_to_lab;
use gstreenact::character::mesh::{self, FACE_OVAL};

/// Convex hull of the face outline of `landmarks` (what the element's mask is built on),
/// counter-clockwise.
pub fn hull(landmarks: &[[f32; 3]]) -> Vec<(f32, f32)> {
    let mut pts = mesh::polygon(landmarks, &FACE_OVAL);
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let cross = |o: (f32, f32), a: (f32, f32), b: (f32, f32)| (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0);
    let mut out: Vec<(f32, f32)> = Vec::new();
    for pass in [pts.clone(), pts.iter().rev().copied().collect()] {
        let start = out.len();
        for p in pass {
            while out.len() >= start + 2 && cross(out[out.len() - 2], out[out.len() - 1], p) <= 0.0 {
                out.pop();
            }
            out.push(p);
        }
        out.pop();
    }
    out
}

/// Signed distance of (x, y) inside a convex counter-clockwise polygon (negative outside).
pub fn depth(hull: &[(f32, f32)], x: f32, y: f32) -> f32 {
    (0..hull.len())
        .map(|i| {
            let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            ((x - a.0) * dy - (y - a.1) * dx) / -dx.hypot(dy)
        })
        .fold(f32::INFINITY, f32::min)
}

/// Pixels of a `width` x `height` frame whose centre lies between `from` and `to` pixels
/// inside `hull` (negative: outside).
pub fn band(hull: &[(f32, f32)], from: f32, to: f32, width: usize, height: usize) -> Vec<(usize, usize)> {
    let (min_y, max_y) = hull.iter().fold((f32::MAX, f32::MIN), |m, p| (m.0.min(p.1), m.1.max(p.1)));
    let (min_x, max_x) = hull.iter().fold((f32::MAX, f32::MIN), |m, p| (m.0.min(p.0), m.1.max(p.0)));
    let margin = (-from).max(0.0) + 1.0;
    let clamp = |v: f32, n: usize| (v.max(0.0) as usize).min(n);
    let mut out = Vec::new();
    for y in clamp(min_y - margin, height)..clamp(max_y + margin + 1.0, height) {
        for x in clamp(min_x - margin, width)..clamp(max_x + margin + 1.0, width) {
            let d = depth(hull, x as f32 + 0.5, y as f32 + 0.5);
            if d >= from && d <= to {
                out.push((x, y));
            }
        }
    }
    out
}

/// Seam visibility: the mean squared gradient (central differences, per colour channel) of
/// `out - src` over `pixels`. The swap's own new edges count, the frame's edges do not.
pub fn seam_energy(out: &[u8], src: &[u8], width: usize, height: usize, pixels: &[(usize, usize)]) -> f64 {
    let diff = |x: usize, y: usize, c: usize| {
        let i = (y * width + x) * 4 + c;
        f64::from(out[i]) - f64::from(src[i])
    };
    let mut sum = 0.0;
    let mut count = 0usize;
    for &(x, y) in pixels {
        if x == 0 || y == 0 || x + 1 >= width || y + 1 >= height {
            continue;
        }
        for c in 0..3 {
            let gx = (diff(x + 1, y, c) - diff(x - 1, y, c)) / 2.0;
            let gy = (diff(x, y + 1, c) - diff(x, y - 1, c)) / 2.0;
            sum += gx * gx + gy * gy;
        }
        count += 3;
    }
    sum / count.max(1) as f64
}

/// Mean absolute difference of the colour bytes of two RGBx frames over `pixels`.
pub fn mean_abs_diff(a: &[u8], b: &[u8], width: usize, pixels: &[(usize, usize)]) -> f64 {
    let sum: u64 = pixels
        .iter()
        .map(|&(x, y)| {
            (0..3).map(|c| u64::from(a[(y * width + x) * 4 + c].abs_diff(b[(y * width + x) * 4 + c]))).sum::<u64>()
        })
        .sum();
    sum as f64 / (3 * pixels.len().max(1)) as f64
}

/// Lab mean of an RGBx frame over `pixels`.
pub fn lab_mean(data: &[u8], width: usize, pixels: &[(usize, usize)]) -> [f64; 3] {
    let mut sum = [0.0f64; 3];
    for &(x, y) in pixels {
        let i = (y * width + x) * 4;
        let lab = srgb_to_lab([data[i], data[i + 1], data[i + 2]]);
        for c in 0..3 {
            sum[c] += f64::from(lab[c]);
        }
    }
    sum.map(|s| s / pixels.len().max(1) as f64)
}

/// CIE76 ΔE between two Lab colours.
pub fn delta_e(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The seam band where the performer's skin is skin on both sides: `from..to` pixels inside
/// the hull, below the eyes (the forehead's edge is often hair).
pub fn skin_seam(landmarks: &[[f32; 3]], from: f32, to: f32, width: usize, height: usize) -> Vec<(usize, usize)> {
    let eyes = (landmarks[33][1] + landmarks[263][1]) / 2.0;
    let hull = hull(landmarks);
    band(&hull, from, to, width, height).into_iter().filter(|&(_, y)| y as f32 > eyes).collect()
}
