// SPDX-License-Identifier: MPL-2.0
//! Where the pictures are: the square face crop LivePortrait's models are trained on (turned
//! upright by the line from the mouth to the eyes, sized from the face outline and brows,
//! moved up a little), the portrait fitted into the output frame, and the feathered square
//! through which the animated crop is pasted back. Points follow OpenCV (pixel centres at
//! integers); mesh landmarks carry their pixel centres at +0.5. No GStreamer here.

use crate::character::mesh::{FACE_OVAL, LEFT_BROW, LEFT_EYE, LIPS_OUTER, RIGHT_BROW, RIGHT_EYE};
use crate::facemeta::LANDMARK_COUNT;
use crate::faceswap::mask::Mask;
use crate::faceswap::neural::Similarity;

/// How the crop is sized and placed, as LivePortrait crops its source (2.3 times the face,
/// moved up by 0.125 of the crop) and its driving video (2.2 and 0.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct CropShape {
    /// Side of the crop over the larger side of the face box.
    pub(super) scale: f32,
    /// Shift of the centre along the face's down direction, as a share of the side.
    pub(super) down: f32,
}

/// The portrait's crop.
pub(super) const SOURCE_CROP: CropShape = CropShape { scale: 2.3, down: -0.125 };
/// The performer's crop.
pub(super) const DRIVING_CROP: CropShape = CropShape { scale: 2.2, down: -0.1 };

/// A square of a picture, turned with the face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct CropBox {
    centre: (f32, f32),
    /// Unit vector from the face's left to its right, as it appears in the picture.
    right: (f32, f32),
    /// Unit vector from the eyes to the mouth.
    down: (f32, f32),
    side: f32,
}

impl CropBox {
    /// The crop around a face's 468 landmarks; `None` when they are degenerate.
    pub(super) fn around(landmarks: &[[f32; 3]], shape: CropShape) -> Option<Self> {
        if landmarks.len() != LANDMARK_COUNT {
            return None;
        }
        let at = |i: usize| (landmarks[i][0] - 0.5, landmarks[i][1] - 0.5);
        let mean = |ids: &[usize]| {
            let (sx, sy) = ids.iter().map(|&i| at(i)).fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
            (sx / ids.len() as f32, sy / ids.len() as f32)
        };
        let (re, le, mouth) = (mean(&RIGHT_EYE), mean(&LEFT_EYE), mean(&LIPS_OUTER));
        let eyes = ((re.0 + le.0) / 2.0, (re.1 + le.1) / 2.0);
        let (dx, dy) = (mouth.0 - eyes.0, mouth.1 - eyes.1);
        let len = (dx * dx + dy * dy).sqrt();
        if !len.is_finite() || len < 1e-3 {
            return None;
        }
        let down = (dx / len, dy / len);
        let right = (down.1, -down.0);
        let along = |p: (f32, f32), axis: (f32, f32)| p.0 * axis.0 + p.1 * axis.1;
        let range = |ids: &mut dyn Iterator<Item = usize>, axis| {
            ids.map(|i| along(at(i), axis)).fold((f32::INFINITY, f32::NEG_INFINITY), |r, v| (r.0.min(v), r.1.max(v)))
        };
        let (u0, u1) = range(&mut FACE_OVAL.iter().copied(), right);
        // Top at the brows, as the 106-point layouts LivePortrait crops with end there.
        let (top, _) = range(&mut LEFT_BROW.iter().chain(&RIGHT_BROW).copied(), down);
        let (_, bottom) = range(&mut FACE_OVAL.iter().copied(), down);
        let side = (u1 - u0).max(bottom - top) * shape.scale;
        if !side.is_finite() || side < 1.0 {
            return None;
        }
        let (cu, cv) = ((u0 + u1) / 2.0, (top + bottom) / 2.0 + shape.down * side);
        let centre = (cu * right.0 + cv * down.0, cu * right.1 + cv * down.1);
        Some(Self { centre, right, down, side })
    }

    /// The map from the pixels of a `size` x `size` crop to the picture's.
    pub(super) fn to_picture(self, size: usize) -> Option<Similarity> {
        let step = self.side / size as f32;
        let half = (size as f32 - 1.0) / 2.0;
        let point = |u: f32, v: f32| {
            let (a, b) = ((u - half) * step, (v - half) * step);
            (self.centre.0 + a * self.right.0 + b * self.down.0, self.centre.1 + a * self.right.1 + b * self.down.1)
        };
        let last = size as f32 - 1.0;
        let crop = [(0.0, 0.0), (last, 0.0), (0.0, last)];
        Similarity::estimate(&crop, &crop.map(|(u, v)| point(u, v)))
    }
}

/// `first` then `then`, as one similarity.
pub(super) fn compose(first: &Similarity, then: &Similarity) -> Option<Similarity> {
    let src = [(0.0, 0.0), (100.0, 0.0), (0.0, 100.0)];
    Similarity::estimate(
        &src,
        &src.map(|(x, y)| {
            let (x, y) = first.apply(x, y);
            then.apply(x, y)
        }),
    )
}

/// The map from output frame pixels to portrait pixels when a `portrait` (width, height) is
/// fitted whole into a `frame` (width, height), centred, keeping its aspect ratio.
pub(super) fn fit(portrait: (usize, usize), frame: (usize, usize)) -> Option<Similarity> {
    let s = (frame.0 as f32 / portrait.0 as f32).min(frame.1 as f32 / portrait.1 as f32);
    let (ox, oy) = ((frame.0 as f32 - portrait.0 as f32 * s) / 2.0, (frame.1 as f32 - portrait.1 as f32 * s) / 2.0);
    // Pixel centres: frame x + 0.5 = ox + s (portrait x + 0.5).
    let to_portrait = |x: f32, y: f32| ((x + 0.5 - ox) / s - 0.5, (y + 0.5 - oy) / s - 0.5);
    let src = [(0.0, 0.0), (100.0, 0.0), (0.0, 100.0)];
    Similarity::estimate(&src, &src.map(|(x, y)| to_portrait(x, y)))
}

/// The mask of frame pixels that land inside a `size` crop through `to_crop`, 255 from
/// `feather` crop pixels inside its edge, falling to 0 at the edge.
pub(super) fn square_mask(to_crop: &Similarity, size: usize, feather: f32, frame: (usize, usize)) -> Mask {
    let Some(to_frame) = to_crop.inverse() else { return Mask::default() };
    let last = size as f32 - 1.0;
    let corners = [(0.0, 0.0), (last, 0.0), (0.0, last), (last, last)].map(|(u, v)| to_frame.apply(u, v));
    let (x0, x1) = corners.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |r, p| (r.0.min(p.0), r.1.max(p.0)));
    let (y0, y1) = corners.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |r, p| (r.0.min(p.1), r.1.max(p.1)));
    let clamp = |v: f32, hi: usize| (v.max(0.0) as usize).min(hi);
    let (x0, x1) = (clamp(x0.floor(), frame.0), clamp(x1.ceil() + 1.0, frame.0));
    let (y0, y1) = (clamp(y0.floor(), frame.1), clamp(y1.ceil() + 1.0, frame.1));
    let (width, height) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
    let mut alpha = vec![0u8; width * height];
    let edge = size as f32;
    for row in 0..height {
        for col in 0..width {
            let (u, v) = to_crop.apply((x0 + col) as f32, (y0 + row) as f32);
            let inside = (u + 0.5).min(v + 0.5).min(edge - 0.5 - u).min(edge - 0.5 - v);
            let a = (inside / feather.max(1e-3)).clamp(0.0, 1.0);
            alpha[row * width + col] = (a * 255.0 + 0.5) as u8;
        }
    }
    Mask { x0, y0, width, height, alpha }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A face mesh: the canonical layout scaled by `size`, turned by `angle`, placed at `at`.
    fn face(at: (f32, f32), size: f32, angle: f32) -> Vec<[f32; 3]> {
        let (s, c) = angle.sin_cos();
        let mut points = vec![[0.0f32; 3]; LANDMARK_COUNT];
        let mut place = |ids: &[usize], (x, y): (f32, f32)| {
            for &i in ids {
                let (x, y) = (x * size, y * size);
                points[i] = [at.0 + c * x - s * y + 0.5, at.1 + s * x + c * y + 0.5, 0.0];
            }
        };
        place(&RIGHT_EYE, (-0.2, -0.1));
        place(&LEFT_EYE, (0.2, -0.1));
        place(&LIPS_OUTER, (0.0, 0.25));
        place(&RIGHT_BROW, (-0.2, -0.2));
        place(&LEFT_BROW, (0.2, -0.2));
        for (k, &i) in FACE_OVAL.iter().enumerate() {
            let a = k as f32 / FACE_OVAL.len() as f32 * std::f32::consts::TAU;
            place(&[i], (0.4 * a.cos(), 0.3 + 0.2 * a.sin()));
        }
        points
    }

    #[test]
    fn the_crop_is_upright_square_and_sized_from_the_face() {
        let crop = CropBox::around(&face((200.0, 150.0), 100.0, 0.0), CropShape { scale: 2.0, down: 0.0 }).unwrap();
        // Face box: x -40..40, y -20 (brows)..50 (chin) around the placement: 80 wide.
        assert!((crop.side - 160.0).abs() < 1e-3, "{crop:?}");
        assert!((crop.centre.0 - 200.0).abs() < 1e-3 && (crop.centre.1 - 165.0).abs() < 1e-3, "{crop:?}");
        let to_picture = crop.to_picture(256).unwrap();
        let (x, y) = to_picture.apply(127.5, 127.5);
        assert!((x - 200.0).abs() < 1e-3 && (y - 165.0).abs() < 1e-3);
        let (x, _) = to_picture.apply(255.0, 127.5);
        assert!((x - (200.0 + 127.5 * 160.0 / 256.0)).abs() < 1e-2, "{x}");
    }

    #[test]
    fn a_tilted_face_gives_a_tilted_crop() {
        let angle = 0.3f32;
        let crop = CropBox::around(&face((300.0, 200.0), 120.0, angle), SOURCE_CROP).unwrap();
        let to_picture = crop.to_picture(256).unwrap();
        let (ax, ay) = to_picture.apply(0.0, 127.5);
        let (bx, by) = to_picture.apply(255.0, 127.5);
        assert!(((by - ay).atan2(bx - ax) - angle).abs() < 1e-3);
    }

    #[test]
    fn the_fitted_portrait_is_centred_with_bars() {
        let to_portrait = fit((512, 512), (1280, 720)).unwrap();
        let (x, y) = to_portrait.apply(639.5, 359.5);
        assert!((x - 255.5).abs() < 1e-3 && (y - 255.5).abs() < 1e-3, "{x} {y}");
        let (x, _) = to_portrait.apply(280.0 - 0.5, 0.0);
        assert!((x + 0.5).abs() < 1e-2, "{x}");
        let frame_to_crop =
            compose(&to_portrait, &Similarity::estimate(&[(0.0, 0.0), (1.0, 0.0)], &[(0.0, 0.0), (2.0, 0.0)]).unwrap())
                .unwrap();
        let (x, _) = frame_to_crop.apply(639.5, 359.5);
        assert!((x - 511.0).abs() < 1e-2, "{x}");
    }

    #[test]
    fn the_mask_is_full_inside_and_feathered_to_the_edge() {
        // Frame pixel = crop pixel + 10.
        let to_crop = Similarity::estimate(&[(10.0, 10.0), (20.0, 10.0)], &[(0.0, 0.0), (10.0, 0.0)]).unwrap();
        let mask = square_mask(&to_crop, 100, 10.0, (200, 200));
        assert_eq!((mask.x0, mask.y0), (10, 10));
        assert_eq!(mask.at(60, 60), 255);
        assert!(mask.at(10, 60) < 20, "{}", mask.at(10, 60));
        assert!(mask.at(15, 60) > 100 && mask.at(15, 60) < 160, "{}", mask.at(15, 60));
    }
}
