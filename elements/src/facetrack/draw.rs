// SPDX-License-Identifier: MPL-2.0
//! Debug drawing of faces on packed RGB-family frames: box outline, landmarks, keypoints.
//! No GStreamer here.

use crate::facemeta::Face;

/// A writable packed frame.
#[derive(Debug)]
pub struct Canvas<'a> {
    /// Pixel rows, `stride` bytes apart.
    pub data: &'a mut [u8],
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Bytes from one row to the next.
    pub stride: usize,
    /// Bytes per pixel.
    pub pixel_stride: usize,
    /// Byte offsets of red, green and blue inside a pixel.
    pub rgb: [usize; 3],
}

const BOX_COLOUR: [u8; 3] = [0, 255, 0];
const LANDMARK_COLOUR: [u8; 3] = [255, 255, 0];
const KEYPOINT_COLOUR: [u8; 3] = [255, 0, 0];

impl Canvas<'_> {
    fn put(&mut self, x: i64, y: i64, colour: [u8; 3]) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let i = y as usize * self.stride + x as usize * self.pixel_stride;
        for (c, &offset) in self.rgb.iter().enumerate() {
            if let Some(byte) = self.data.get_mut(i + offset) {
                *byte = colour[c];
            }
        }
    }

    fn dot(&mut self, x: f32, y: f32, radius: i64, colour: [u8; 3]) {
        if !(x.is_finite() && y.is_finite()) {
            return;
        }
        let (cx, cy) = (x.round() as i64, y.round() as i64);
        for dy in -radius..=radius {
            for dx in -radius..=radius {
                self.put(cx + dx, cy + dy, colour);
            }
        }
    }

    /// Draws every face: a 2-pixel box, one pixel per landmark, a 5x5 dot per keypoint.
    pub fn draw_faces(&mut self, faces: &[Face]) {
        for face in faces {
            let b = face.bbox;
            if !(b.x.is_finite() && b.y.is_finite() && b.w.is_finite() && b.h.is_finite()) {
                continue;
            }
            let (x0, y0) = (b.x.round() as i64, b.y.round() as i64);
            let (x1, y1) = ((b.x + b.w).round() as i64, (b.y + b.h).round() as i64);
            let limit = (self.width + self.height) as i64;
            for t in 0..2 {
                for x in x0.max(-1)..=x1.min(limit) {
                    self.put(x, y0 + t, BOX_COLOUR);
                    self.put(x, y1 - t, BOX_COLOUR);
                }
                for y in y0.max(-1)..=y1.min(limit) {
                    self.put(x0 + t, y, BOX_COLOUR);
                    self.put(x1 - t, y, BOX_COLOUR);
                }
            }
            for p in &face.landmarks {
                self.dot(p[0], p[1], 0, LANDMARK_COLOUR);
            }
            for k in &face.keypoints {
                self.dot(k.0, k.1, 2, KEYPOINT_COLOUR);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facemeta::{FaceBox, KEYPOINT_COUNT};

    #[test]
    fn draws_box_and_clips_at_edges() {
        let mut data = vec![0u8; 20 * 10 * 3];
        let mut canvas = Canvas { data: &mut data, width: 20, height: 10, stride: 60, pixel_stride: 3, rgb: [0, 1, 2] };
        let face = Face {
            track_id: 1,
            confidence: 1.0,
            bbox: FaceBox { x: 2.0, y: 2.0, w: 30.0, h: 4.0 },
            landmarks: vec![[5.0, 4.0, 0.0]],
            keypoints: [(-50.0, -50.0); KEYPOINT_COUNT],
        };
        canvas.draw_faces(&[face]);
        assert_eq!(&data[(2 * 20 + 2) * 3..(2 * 20 + 2) * 3 + 3], &BOX_COLOUR);
        assert_eq!(&data[(4 * 20 + 5) * 3..(4 * 20 + 5) * 3 + 3], &LANDMARK_COLOUR);
        assert_eq!(&data[0..3], &[0, 0, 0]);
    }
}
