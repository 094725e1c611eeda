// SPDX-License-Identifier: MPL-2.0
//! Which pixels of the character portrait are face skin, worked out once at start from its
//! landmarks and its skin colour. The warp multiplies its blend weight by this, so the
//! portrait's hair (a fringe over the forehead), background and ears are never pasted: there
//! the performer's own pixels stay. The character file holds no segmentation, and the selfie
//! matte separates a person from the background, not hair from skin, so the test is by colour:
//!
//! - outside the face outline: not skin (fades out over a few pixels);
//! - the central face (brows, eyes, nose, mouth): always kept, so the character's own dark
//!   features (brows, nostrils, lip corners) are not punched out as "not skin-coloured";
//! - everywhere else inside the outline (forehead, temples, outer cheeks, jaw): kept as far
//!   as the colour lies within a few spreads of the character's skin statistics in L*a*b*.
//!
//! The weight lives in portrait space, so it moves with the warp and is exactly as steady as
//! the landmarks. Also: whether the portrait's eyes are closed. No GStreamer here.

use crate::character::mesh::{self, FACE_OVAL, LEFT_BROW, LEFT_EYE, LIPS_OUTER, RIGHT_BROW, RIGHT_EYE};
use crate::character::ColourStats;

use super::mask::boundary_distance;
use super::triangulation::convex_hull;

/// Smallest spreads used for the colour test (L*, a*, b*): a portrait lit very evenly has a
/// tiny measured spread, and shading on its own skin must still pass.
const MIN_SPREAD: [f32; 3] = [7.0, 4.0, 4.0];

/// A colour within this many (floored) spreads of the skin mean is skin...
const SKIN_NEAR: f32 = 2.5;
/// ... and one beyond this many is not; in between the weight falls smoothly.
const SKIN_FAR: f32 = 4.0;

/// The outline and central-face ramps, as a fraction of the face width.
const EDGE_RAMP: f32 = 0.03;

/// Box-blur radius of the finished weight, as a fraction of the face width: single stray
/// pixels (a highlight, a freckle) must not become holes.
const SMOOTH_RADIUS: f32 = 0.012;

/// Eye opening (lid distance over corner distance) below which an eye counts as closed; open
/// eyes measure 0.25-0.35 on the mesh, closed ones under 0.1.
const CLOSED_EYE_RATIO: f32 = 0.12;

#[inline]
fn smoothstep(t: f32) -> f32 {
    let t = t.clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Signed distance to `polygon`: positive inside, negative outside.
fn signed_distance(polygon: &[(f32, f32)], x: f32, y: f32) -> f32 {
    let d = boundary_distance(polygon, x, y);
    if mesh::contains(polygon, x, y) {
        d
    } else {
        -d
    }
}

/// How skin-like a L*a*b* colour is for skin statistics `skin`: 1 near the mean, 0 far away.
pub(super) fn skin_likeness(lab: [f32; 3], skin: &ColourStats) -> f32 {
    let mut z2 = 0.0;
    for c in 0..3 {
        let d = (lab[c] - skin.mean[c]) / skin.std[c].max(MIN_SPREAD[c]);
        z2 += d * d;
    }
    1.0 - smoothstep((z2.sqrt() - SKIN_NEAR) / (SKIN_FAR - SKIN_NEAR))
}

/// Lab statistics of the portrait's cheeks: a disc on each side halfway between the eye's
/// outer corner and the mouth corner. The character file's own skin statistics cover the
/// whole face outline, so a fringe over the forehead is part of them; the cheeks are skin.
fn cheek_stats(lab: &[[f32; 4]], width: usize, height: usize, landmarks: &[[f32; 3]]) -> Option<ColourStats> {
    let eyes = mesh::distance(landmarks, 33, 263);
    let radius = (0.15 * eyes).max(2.0);
    let mut acc = crate::character::colour::LabAccumulator::default();
    for (eye, mouth) in [(33, 61), (263, 291)] {
        let (cx, cy) =
            ((landmarks[eye][0] + landmarks[mouth][0]) / 2.0, (landmarks[eye][1] + landmarks[mouth][1]) / 2.0);
        let clamp = |v: f32, n: usize| (v.max(0.0) as usize).min(n);
        for y in clamp(cy - radius, height)..clamp(cy + radius + 1.0, height) {
            for x in clamp(cx - radius, width)..clamp(cx + radius + 1.0, width) {
                if (x as f32 + 0.5 - cx).hypot(y as f32 + 0.5 - cy) <= radius {
                    let [l, a, b, _] = lab[y * width + x];
                    acc.push([l, a, b]);
                }
            }
        }
    }
    (acc.count() >= 16).then(|| acc.stats()).flatten()
}

/// The skin weight (0..1) of every pixel of a `width` x `height` portrait given in L*a*b*
/// (`lab`, row-major), its 468 `landmarks` and skin statistics (used where the cheeks
/// cannot be measured).
pub(super) fn portrait_skin(
    lab: &[[f32; 4]],
    width: usize,
    height: usize,
    landmarks: &[[f32; 3]],
    skin: &ColourStats,
) -> Vec<f32> {
    let mut weight = vec![0.0f32; width * height];
    let skin = &cheek_stats(lab, width, height, landmarks).unwrap_or(*skin);
    let oval = mesh::polygon(landmarks, &FACE_OVAL);
    let mut features = Vec::new();
    for ids in [&RIGHT_BROW[..], &LEFT_BROW, &RIGHT_EYE, &LEFT_EYE, &LIPS_OUTER] {
        features.extend(mesh::polygon(landmarks, ids));
    }
    let centre = convex_hull(&features);
    let Some(face) = crate::facemeta::FaceBox::around(oval.iter().copied()) else { return weight };
    let ramp = (EDGE_RAMP * face.w).max(1.0);
    let clamp = |v: f32, n: usize| (v.max(0.0) as usize).min(n);
    let (x0, x1) = (clamp(face.x.floor(), width), clamp((face.x + face.w).ceil() + 1.0, width));
    let (y0, y1) = (clamp(face.y.floor(), height), clamp((face.y + face.h).ceil() + 1.0, height));
    for y in y0..y1 {
        let py = y as f32 + 0.5;
        for x in x0..x1 {
            let px = x as f32 + 0.5;
            if !mesh::contains(&oval, px, py) {
                continue;
            }
            let inner = smoothstep(boundary_distance(&oval, px, py) / ramp);
            // 1 inside the central face, falling to 0 at `ramp` outside it.
            let central = smoothstep(1.0 + signed_distance(&centre, px, py) / ramp);
            let [l, a, b, _] = lab[y * width + x];
            let colour = skin_likeness([l, a, b], skin);
            weight[y * width + x] = inner * (central + (1.0 - central) * colour);
        }
    }
    let radius = (SMOOTH_RADIUS * face.w).round() as usize;
    if radius > 0 {
        box_blur(&mut weight, width, height, radius);
    }
    weight
}

/// In-place box blur (horizontal then vertical) of a `width` x `height` plane, edges clamped.
fn box_blur(plane: &mut [f32], width: usize, height: usize, radius: usize) {
    let mut line = Vec::new();
    let blur_line = |line: &mut Vec<f32>, values: &mut dyn Iterator<Item = f32>, out: &mut dyn FnMut(usize, f32)| {
        line.clear();
        line.extend(values);
        let n = line.len();
        let norm = 1.0 / (2 * radius + 1) as f32;
        let at = |i: isize| line[i.clamp(0, n as isize - 1) as usize];
        let mut sum: f32 = (-(radius as isize)..=radius as isize).map(at).sum();
        for i in 0..n {
            out(i, sum * norm);
            sum += at(i as isize + radius as isize + 1) - at(i as isize - radius as isize);
        }
    };
    for y in 0..height {
        let row: Vec<f32> = plane[y * width..][..width].to_vec();
        blur_line(&mut line, &mut row.into_iter(), &mut |i, v| plane[y * width + i] = v);
    }
    for x in 0..width {
        let column: Vec<f32> = (0..height).map(|y| plane[y * width + x]).collect();
        blur_line(&mut line, &mut column.into_iter(), &mut |i, v| plane[i * width + x] = v);
    }
}

/// True when both eyes of `landmarks` are closed (lids together), judged by each eye's lid
/// distance over its corner distance.
pub(super) fn eyes_closed(landmarks: &[[f32; 3]]) -> bool {
    // Right eye: corners 33-133, lids 159-145; left eye: corners 263-362, lids 386-374.
    let ratio = |corners: (usize, usize), lids: (usize, usize)| {
        let width = mesh::distance(landmarks, corners.0, corners.1);
        if width > 0.0 {
            mesh::distance(landmarks, lids.0, lids.1) / width
        } else {
            1.0
        }
    };
    ratio((33, 133), (159, 145)) < CLOSED_EYE_RATIO && ratio((263, 362), (386, 374)) < CLOSED_EYE_RATIO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skin_likeness_falls_off_with_distance() {
        let skin = ColourStats { mean: [65.0, 15.0, 18.0], std: [6.0, 3.0, 3.0] };
        assert_eq!(skin_likeness([65.0, 15.0, 18.0], &skin), 1.0);
        // Shading two spreads darker is still skin.
        assert_eq!(skin_likeness([51.0, 15.0, 18.0], &skin), 1.0);
        // Dark brown hair is not.
        assert_eq!(skin_likeness([28.0, 8.0, 14.0], &skin), 0.0);
        // A blue background is not.
        assert_eq!(skin_likeness([45.0, 5.0, -40.0], &skin), 0.0);
    }

    #[test]
    fn box_blur_keeps_a_flat_plane_and_spreads_a_spike() {
        let mut flat = vec![0.5f32; 30];
        box_blur(&mut flat, 6, 5, 2);
        assert!(flat.iter().all(|&v| (v - 0.5).abs() < 1e-6));
        let mut spike = vec![0.0f32; 49];
        spike[24] = 25.0;
        box_blur(&mut spike, 7, 7, 2);
        assert!((spike[24] - 1.0).abs() < 1e-5 && (spike[0]).abs() < 1e-6, "{spike:?}");
    }
}
