// SPDX-License-Identifier: MPL-2.0
//! BlazeFace output decoding (blazeface/SOURCE.md): the 896 fixed anchors, score sigmoid,
//! box and keypoint regression, and MediaPipe's weighted non-maximum suppression. Coordinates
//! are normalized to the model's square input. No GStreamer here.

use super::roi::BBox;

/// The two anchor grids: (cells per side, anchors per cell).
pub const GRIDS: [(usize, usize); 2] = [(16, 2), (8, 6)];

/// Anchors in the first grid (`16 * 16 * 2`) and the second (`8 * 8 * 6`).
pub const GRID_LEN: [usize; 2] = [512, 384];

/// Values per regressor row: box (4) + 6 keypoints (12).
pub const REGRESSOR_LEN: usize = 16;

/// Overlap above which detections are merged.
pub const NMS_IOU: f32 = 0.3;

/// A decoded face in normalized square coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Probability that this is a face.
    pub score: f32,
    /// The face box.
    pub bbox: BBox,
    /// Eye (image left), eye (image right), nose tip, mouth centre, ear, ear.
    pub keypoints: [(f32, f32); 6],
}

/// Normalized anchor centres of one grid, in output order `(row * C + col) * A + a`.
fn anchors(cells: usize, per_cell: usize) -> impl Iterator<Item = (f32, f32)> {
    (0..cells * cells * per_cell).map(move |i| {
        let cell = i / per_cell;
        (((cell % cells) as f32 + 0.5) / cells as f32, ((cell / cells) as f32 + 0.5) / cells as f32)
    })
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Candidates whose score passes `threshold`, from the grids' score logits and regressors
/// (the model's four outputs in manifest order) for an input of `size` pixels.
pub fn decode(outputs: &[Vec<f32>], size: f32, threshold: f32) -> Vec<Detection> {
    let mut found = Vec::new();
    if outputs.len() != 4 {
        return found;
    }
    for (g, &(cells, per_cell)) in GRIDS.iter().enumerate() {
        let scores = &outputs[g];
        let regs = &outputs[g + 2];
        if scores.len() != GRID_LEN[g] || regs.len() != GRID_LEN[g] * REGRESSOR_LEN {
            continue;
        }
        for (i, (ax, ay)) in anchors(cells, per_cell).enumerate() {
            let score = sigmoid(scores[i].clamp(-80.0, 80.0));
            if score.is_nan() || score <= threshold {
                continue;
            }
            let r = &regs[i * REGRESSOR_LEN..(i + 1) * REGRESSOR_LEN];
            let (cx, cy) = (ax + r[0] / size, ay + r[1] / size);
            let (w, h) = (r[2] / size, r[3] / size);
            let mut keypoints = [(0.0, 0.0); 6];
            for (k, kp) in keypoints.iter_mut().enumerate() {
                *kp = (ax + r[4 + 2 * k] / size, ay + r[5 + 2 * k] / size);
            }
            if w > 0.0 && h > 0.0 && cx.is_finite() && cy.is_finite() {
                found.push(Detection { score, bbox: BBox { x: cx - w / 2.0, y: cy - h / 2.0, w, h }, keypoints });
            }
        }
    }
    found
}

/// Weighted NMS: highest score first, each group of candidates overlapping the seed by at least
/// `iou` becomes their score-weighted mean, scored with the group's best score.
pub fn weighted_nms(mut candidates: Vec<Detection>, iou: f32) -> Vec<Detection> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while let Some(seed) = candidates.first().copied() {
        let (group, rest): (Vec<_>, Vec<_>) = candidates.into_iter().partition(|c| seed.bbox.iou(&c.bbox) >= iou);
        candidates = rest;
        let total: f32 = group.iter().map(|c| c.score).sum();
        if total <= 0.0 {
            out.push(seed);
            continue;
        }
        let mut merged = Detection { score: seed.score, bbox: BBox::default(), keypoints: [(0.0, 0.0); 6] };
        for c in &group {
            let w = c.score / total;
            merged.bbox.x += c.bbox.x * w;
            merged.bbox.y += c.bbox.y * w;
            merged.bbox.w += c.bbox.w * w;
            merged.bbox.h += c.bbox.h * w;
            for (m, k) in merged.keypoints.iter_mut().zip(&c.keypoints) {
                m.0 += k.0 * w;
                m.1 += k.1 * w;
            }
        }
        out.push(merged);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_layout_matches_the_model() {
        let a: Vec<_> = anchors(16, 2).collect();
        assert_eq!(a.len(), 512);
        assert_eq!(a[0], (0.5 / 16.0, 0.5 / 16.0));
        assert_eq!(a[1], a[0], "two anchors per cell");
        assert_eq!(a[2], (1.5 / 16.0, 0.5 / 16.0), "next column");
        assert_eq!(a[32], (0.5 / 16.0, 1.5 / 16.0), "next row");
        assert_eq!(anchors(8, 6).count(), 384);
    }

    fn outputs_with(grid: usize, index: usize, logit: f32, reg: [f32; 16]) -> Vec<Vec<f32>> {
        let mut out = vec![vec![-10.0; 512], vec![-10.0; 384], vec![0.0; 512 * 16], vec![0.0; 384 * 16]];
        out[grid][index] = logit;
        out[grid + 2][index * 16..index * 16 + 16].copy_from_slice(&reg);
        out
    }

    #[test]
    fn decodes_box_and_keypoints_relative_to_anchor() {
        let mut reg = [0.0; 16];
        reg[..4].copy_from_slice(&[8.0, -8.0, 32.0, 64.0]);
        reg[4] = 16.0;
        // Second grid, cell (row 2, col 3), anchor 1: index (2 * 8 + 3) * 6 + 1.
        let out = outputs_with(1, 115, 3.0, reg);
        let found = decode(&out, 128.0, 0.75);
        assert_eq!(found.len(), 1);
        let d = found[0];
        let (ax, ay) = (3.5 / 8.0, 2.5 / 8.0);
        assert!((d.score - sigmoid(3.0)).abs() < 1e-6);
        assert!((d.bbox.centre().0 - (ax + 8.0 / 128.0)).abs() < 1e-6);
        assert!((d.bbox.centre().1 - (ay - 8.0 / 128.0)).abs() < 1e-6);
        assert!((d.bbox.w - 0.25).abs() < 1e-6 && (d.bbox.h - 0.5).abs() < 1e-6);
        assert!((d.keypoints[0].0 - (ax + 0.125)).abs() < 1e-6 && (d.keypoints[1].0 - ax).abs() < 1e-6);
        assert!(decode(&out, 128.0, 0.99).is_empty());
        assert!(decode(&out[..3], 128.0, 0.5).is_empty(), "wrong output count is no face, not a panic");
    }

    #[test]
    fn nms_merges_overlaps_and_keeps_separate_faces() {
        let det = |x: f32, score: f32| Detection {
            score,
            bbox: BBox { x, y: 0.0, w: 0.2, h: 0.2 },
            keypoints: [(x, 0.0); 6],
        };
        let out = weighted_nms(vec![det(0.0, 0.8), det(0.02, 0.9), det(0.6, 0.85)], NMS_IOU);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        let expected_x = (0.0 * 0.8 + 0.02 * 0.9) / 1.7;
        assert!((out[0].bbox.x - expected_x).abs() < 1e-6);
        assert!((out[0].keypoints[3].0 - expected_x).abs() < 1e-6);
        assert_eq!(out[1].bbox.x, 0.6);
    }
}
