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

/// Where the horizontal line at `y` crosses the closed polygon's edges, sorted by x, into
/// `out`: per row, what [`contains`] works out per point. A pixel walk over a face region
/// tests its points against these few numbers instead of every edge.
pub fn crossings(polygon: &[(f32, f32)], y: f32, out: &mut Vec<f32>) {
    out.clear();
    let mut j = polygon.len().wrapping_sub(1);
    for i in 0..polygon.len() {
        let (xi, yi) = polygon[i];
        let (xj, yj) = polygon[j];
        if (yi > y) != (yj > y) {
            let x = (xj - xi) * (y - yi) / (yj - yi) + xi;
            // `contains` never counts a crossing it cannot compare.
            if !x.is_nan() {
                out.push(x);
            }
        }
        j = i;
    }
    out.sort_unstable_by(f32::total_cmp);
}

/// Whether (`x`, the row's y) is inside the polygon whose [`crossings`] on that row are
/// `crossings`: an odd number of them lie to its right, exactly as [`contains`] decides.
pub fn inside_row(crossings: &[f32], x: f32) -> bool {
    (crossings.len() - crossings.partition_point(|&c| c <= x)) % 2 == 1
}

/// The skin of a face in a picture: inside its outline, outside its eyes, brows and lips. Its
/// colour statistics are measured over this on the portrait and on each frame alike, walked
/// row by row ([`Self::start_row`], then [`Self::contains`] along the row).
#[derive(Debug, Clone)]
pub struct SkinRegion {
    outline: Vec<(f32, f32)>,
    holes: Vec<Vec<(f32, f32)>>,
    /// The outline's crossings on the current row.
    row: Vec<f32>,
    /// Each hole's crossings on the current row.
    hole_rows: Vec<Vec<f32>>,
}

impl SkinRegion {
    /// The region of a face with these 468 `landmarks`.
    pub fn new(landmarks: &[[f32; 3]]) -> Self {
        let holes: Vec<Vec<(f32, f32)>> = [&RIGHT_EYE[..], &LEFT_EYE, &RIGHT_BROW, &LEFT_BROW, &LIPS_OUTER]
            .iter()
            .map(|ids| polygon(landmarks, ids))
            .collect();
        let hole_rows = vec![Vec::new(); holes.len()];
        Self { outline: polygon(landmarks, &FACE_OVAL), holes, row: Vec::new(), hole_rows }
    }

    /// The face outline.
    pub fn outline(&self) -> &[(f32, f32)] {
        &self.outline
    }

    /// Moves the test to the row at picture y `y`.
    pub fn start_row(&mut self, y: f32) {
        crossings(&self.outline, y, &mut self.row);
        for (hole, row) in self.holes.iter().zip(&mut self.hole_rows) {
            crossings(hole, y, row);
        }
    }

    /// Whether the point at `x` on the current row is skin.
    pub fn contains(&self, x: f32) -> bool {
        inside_row(&self.row, x) && !self.hole_rows.iter().any(|row| inside_row(row, x))
    }
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
    fn row_crossings_decide_as_the_point_test() {
        // A star with crossing edges, a concave notch and a horizontal edge, sampled on a grid
        // finer than its vertices (rows through vertices included).
        let star: Vec<(f32, f32)> = (0..10)
            .map(|k| {
                let angle = k as f32 * std::f32::consts::TAU / 10.0;
                let r = if k % 2 == 0 { 20.0 } else { 8.0 };
                (25.0 + r * angle.cos(), 25.0 + r * angle.sin())
            })
            .chain([(40.0, 45.0), (10.0, 45.0)])
            .collect();
        let mut row = Vec::new();
        let mut inside = 0;
        for yi in 0..200 {
            let y = yi as f32 * 0.25;
            crossings(&star, y, &mut row);
            assert!(row.windows(2).all(|w| w[0] <= w[1]), "{row:?}");
            for xi in 0..200 {
                let x = xi as f32 * 0.25;
                assert_eq!(inside_row(&row, x), contains(&star, x, y), "({x}, {y})");
                inside += usize::from(contains(&star, x, y));
            }
        }
        assert!(inside > 2000 && inside < 30000, "{inside}");
        crossings(&[(0.0, 0.0), (f32::NAN, 5.0), (10.0, 10.0)], 2.0, &mut row);
        assert!(row.iter().all(|x| !x.is_nan()));
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
