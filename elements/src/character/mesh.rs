// SPDX-License-Identifier: MPL-2.0
//! Named regions of the 468-point MediaPipe face mesh (index loops from its published
//! connection lists, in order around each contour) and the polygon tests built on them.

/// The face outline, clockwise from the top of the forehead.
pub const FACE_OVAL: [usize; 36] = [
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150,
    136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
];

/// Outer lip contour, from the image-left mouth corner (61) along the lower lip.
pub const LIPS_OUTER: [usize; 20] =
    [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185];

/// Inner lip contour (the mouth opening), from the image-left inner corner (78).
pub const LIPS_INNER: [usize; 20] =
    [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191];

/// The subject's right eye (image left).
pub const RIGHT_EYE: [usize; 16] = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246];

/// The subject's left eye (image right).
pub const LEFT_EYE: [usize; 16] = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466];

/// The subject's right eyebrow (image left), lower then upper edge.
pub const RIGHT_BROW: [usize; 10] = [46, 53, 52, 65, 55, 107, 66, 105, 63, 70];

/// The subject's left eyebrow (image right), lower then upper edge.
pub const LEFT_BROW: [usize; 10] = [276, 283, 282, 295, 285, 336, 296, 334, 293, 300];

/// Mouth corners (image left, image right).
pub const MOUTH_CORNERS: [usize; 2] = [61, 291];

/// Inner lip midpoints (upper, lower).
pub const INNER_LIP_MIDS: [usize; 2] = [13, 14];

/// The (x, y) of the landmarks `indices`.
pub fn polygon(landmarks: &[[f32; 3]], indices: &[usize]) -> Vec<(f32, f32)> {
    indices.iter().filter_map(|&i| landmarks.get(i)).map(|p| (p[0], p[1])).collect()
}

/// Even-odd point-in-polygon test.
pub fn contains(polygon: &[(f32, f32)], x: f32, y: f32) -> bool {
    let mut inside = false;
    let mut j = polygon.len().wrapping_sub(1);
    for i in 0..polygon.len() {
        let (xi, yi) = polygon[i];
        let (xj, yj) = polygon[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Distance between two landmarks in the image plane.
pub fn distance(landmarks: &[[f32; 3]], a: usize, b: usize) -> f32 {
    let (p, q) = (landmarks[a], landmarks[b]);
    (p[0] - q[0]).hypot(p[1] - q[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_contains_its_centre_only() {
        let square = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)];
        assert!(contains(&square, 5.0, 5.0));
        assert!(!contains(&square, 15.0, 5.0));
        assert!(!contains(&square, -1.0, 5.0));
    }

    #[test]
    fn regions_are_distinct_mesh_indices() {
        let mut all: Vec<usize> =
            [&FACE_OVAL[..], &LIPS_OUTER, &LIPS_INNER, &RIGHT_EYE, &LEFT_EYE, &RIGHT_BROW, &LEFT_BROW].concat();
        assert!(all.iter().all(|&i| i < crate::facemeta::LANDMARK_COUNT));
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
