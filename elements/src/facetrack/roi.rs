// SPDX-License-Identifier: MPL-2.0
//! Face regions of interest as MediaPipe builds them (face_landmarks/SOURCE.md): a square
//! 1.5x the longer side of a box, rotated so the eyes are level; and the way back from crop
//! coordinates to frame pixels. No GStreamer here.

/// A rotated square in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roi {
    /// Centre x.
    pub cx: f32,
    /// Centre y.
    pub cy: f32,
    /// Side length.
    pub size: f32,
    /// Rotation in radians: the crop's x axis points along this angle in the frame.
    pub angle: f32,
}

pub use crate::facemeta::FaceBox as BBox;

/// Side of the ROI relative to the longer side of the box it is built from.
pub const ROI_SCALE: f32 = 1.5;

/// Mesh landmarks whose line gives the head roll: outer eye corners (image left, image right).
pub const EYE_CORNERS: (usize, usize) = (33, 263);

/// Angle of the line from `a` to `b`.
pub fn roll(a: (f32, f32), b: (f32, f32)) -> f32 {
    (b.1 - a.1).atan2(b.0 - a.0)
}

impl Roi {
    /// The ROI for a box and the roll of its eye line.
    pub fn from_box(bbox: &BBox, angle: f32) -> Self {
        let (cx, cy) = bbox.centre();
        Self { cx, cy, size: ROI_SCALE * bbox.w.max(bbox.h), angle }
    }

    /// The ROI for the next frame from this frame's landmarks (frame pixels).
    pub fn from_landmarks(points: &[[f32; 3]]) -> Option<Self> {
        let bbox = BBox::around(points.iter().map(|p| (p[0], p[1])))?;
        let a = points.get(EYE_CORNERS.0)?;
        let b = points.get(EYE_CORNERS.1)?;
        Some(Self::from_box(&bbox, roll((a[0], a[1]), (b[0], b[1]))))
    }

    /// Frame pixel of a point given in crop pixels of a `crop_size` square crop of this ROI.
    pub fn to_frame(self, u: f32, v: f32, crop_size: f32) -> (f32, f32) {
        let lx = (u / crop_size - 0.5) * self.size;
        let ly = (v / crop_size - 0.5) * self.size;
        let (sin, cos) = self.angle.sin_cos();
        (self.cx + lx * cos - ly * sin, self.cy + lx * sin + ly * cos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_known_boxes() {
        let a = BBox { x: 0.0, y: 0.0, w: 10.0, h: 10.0 };
        let b = BBox { x: 5.0, y: 0.0, w: 10.0, h: 10.0 };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&BBox { x: 20.0, ..a }), 0.0);
        assert_eq!(a.iou(&a), 1.0);
    }

    #[test]
    fn roi_is_one_and_a_half_times_the_long_side() {
        let roi = Roi::from_box(&BBox { x: 100.0, y: 50.0, w: 40.0, h: 60.0 }, 0.0);
        assert_eq!(roi, Roi { cx: 120.0, cy: 80.0, size: 90.0, angle: 0.0 });
        assert_eq!(roi.to_frame(0.0, 0.0, 192.0), (75.0, 35.0));
        assert_eq!(roi.to_frame(96.0, 96.0, 192.0), (120.0, 80.0));
    }

    #[test]
    fn roll_levels_the_eyes() {
        let angle = roll((0.0, 0.0), (10.0, 10.0));
        assert!((angle - std::f32::consts::FRAC_PI_4).abs() < 1e-6);
        let roi = Roi { cx: 0.0, cy: 0.0, size: 2.0, angle };
        // The crop's right edge centre lies down-right along the eye line.
        let (x, y) = roi.to_frame(2.0, 1.0, 2.0);
        assert!((x - y).abs() < 1e-6 && x > 0.0);
    }

    #[test]
    fn roi_from_landmarks_needs_the_eye_corners() {
        let mut points = vec![[0.0f32; 3]; 468];
        points[33] = [10.0, 20.0, 0.0];
        points[263] = [30.0, 20.0, 0.0];
        points[0] = [20.0, 40.0, 0.0];
        let roi = Roi::from_landmarks(&points).expect("roi");
        assert_eq!(roi.angle, 0.0);
        assert_eq!(roi.size, 60.0);
        assert!(Roi::from_landmarks(&points[..10]).is_none());
    }
}
