// SPDX-License-Identifier: MPL-2.0
//! LivePortrait's implicit keypoints: what its motion model says of a face crop (head pose as
//! 66 bins of 3 degrees each for pitch, yaw and roll, translation, expression deltas, scale and
//! 21 canonical 3-D keypoints), how they become the keypoints the warping model takes, how the
//! performer's motion is moved onto the portrait's, and the stitching model's correction.
//! Conventions follow LivePortrait's own code: keypoints are row vectors multiplied on the
//! right by the transposed rotation, and the translation moves x and y only. No GStreamer here.

/// Implicit keypoints per face.
pub(super) const KEYPOINTS: usize = 21;
/// Bins of each head-pose angle.
pub(super) const POSE_BINS: usize = 66;
/// Values the stitching model takes (source and driving keypoints) and gives (expression
/// deltas and an x, y shift).
pub(super) const STITCH_IN: usize = 2 * KEYPOINTS * 3;
pub(super) const STITCH_OUT: usize = KEYPOINTS * 3 + 2;

/// 21 points in 3-D.
pub(super) type Keypoints = [[f32; 3]; KEYPOINTS];

/// A 3 x 3 matrix, row-major.
type Mat3 = [[f32; 3]; 3];

/// One face crop as the motion model describes it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Motion {
    /// Head pose in degrees.
    pub(super) pitch: f32,
    pub(super) yaw: f32,
    pub(super) roll: f32,
    /// Translation (z is not used).
    pub(super) t: [f32; 3],
    /// Expression deltas per keypoint.
    pub(super) exp: Keypoints,
    /// Scale.
    pub(super) scale: f32,
    /// Canonical keypoints.
    pub(super) kp: Keypoints,
}

/// The outputs of the motion model in its order, with the sizes each must have.
pub(super) const OUTPUTS: [(&str, usize); 7] = [
    ("pitch", POSE_BINS),
    ("yaw", POSE_BINS),
    ("roll", POSE_BINS),
    ("t", 3),
    ("exp", KEYPOINTS * 3),
    ("scale", 1),
    ("kp", KEYPOINTS * 3),
];

impl Motion {
    /// Reads the motion model's seven outputs (pitch, yaw, roll, t, exp, scale, kp).
    pub(super) fn from_outputs(outputs: &[&[f32]]) -> Result<Self, String> {
        if outputs.len() != OUTPUTS.len() {
            return Err(format!("{} outputs, expected {}", outputs.len(), OUTPUTS.len()));
        }
        for (out, (name, len)) in outputs.iter().zip(OUTPUTS) {
            if out.len() != len {
                return Err(format!("output `{name}` has {} values, expected {len}", out.len()));
            }
            if out.iter().any(|v| !v.is_finite()) {
                return Err(format!("output `{name}` is not finite"));
            }
        }
        Ok(Self {
            pitch: pose_degrees(outputs[0]),
            yaw: pose_degrees(outputs[1]),
            roll: pose_degrees(outputs[2]),
            t: [outputs[3][0], outputs[3][1], outputs[3][2]],
            exp: keypoints(outputs[4]),
            scale: outputs[5][0],
            kp: keypoints(outputs[6]),
        })
    }

    /// The head rotation, transposed (LivePortrait's `get_rotation_matrix`).
    pub(super) fn rotation(&self) -> Mat3 {
        rotation(self.pitch, self.yaw, self.roll)
    }

    /// The keypoints the warping model takes for this crop: the canonical keypoints rotated,
    /// moved by the expression, scaled and translated in x and y.
    pub(super) fn keypoints(&self) -> Keypoints {
        let r = self.rotation();
        let t = [self.t[0], self.t[1], 0.0];
        posed(&self.kp, &r, &self.exp, self.scale, t)
    }
}

/// `scale * (kp R + exp) + t` for every keypoint.
fn posed(kp: &Keypoints, r: &Mat3, exp: &Keypoints, scale: f32, t: [f32; 3]) -> Keypoints {
    std::array::from_fn(|k| {
        let p = row_times(kp[k], r);
        std::array::from_fn(|c| scale * (p[c] + exp[k][c]) + t[c])
    })
}

/// The expected value of a pose histogram (softmax over 66 logits), in degrees: bin `i` is
/// `3 i - 97.5`.
pub(super) fn pose_degrees(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut weighted) = (0.0f64, 0.0f64);
    for (i, &l) in logits.iter().enumerate() {
        let p = f64::from(l - max).exp();
        sum += p;
        weighted += p * i as f64;
    }
    if sum <= 0.0 || !sum.is_finite() {
        return 0.0;
    }
    (weighted / sum * 3.0 - 97.5) as f32
}

fn keypoints(values: &[f32]) -> Keypoints {
    std::array::from_fn(|k| [values[3 * k], values[3 * k + 1], values[3 * k + 2]])
}

/// `(Rz Ry Rx)^T` for pitch (x), yaw (y) and roll (z) in degrees.
fn rotation(pitch: f32, yaw: f32, roll: f32) -> Mat3 {
    let (sx, cx) = pitch.to_radians().sin_cos();
    let (sy, cy) = yaw.to_radians().sin_cos();
    let (sz, cz) = roll.to_radians().sin_cos();
    let rx = [[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]];
    let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
    let rz = [[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]];
    transpose(&mul(&mul(&rz, &ry), &rx))
}

fn mul(a: &Mat3, b: &Mat3) -> Mat3 {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

fn transpose(a: &Mat3) -> Mat3 {
    std::array::from_fn(|i| std::array::from_fn(|j| a[j][i]))
}

/// Row vector `p` times `m`.
fn row_times(p: [f32; 3], m: &Mat3) -> [f32; 3] {
    std::array::from_fn(|j| (0..3).map(|k| p[k] * m[k][j]).sum())
}

/// The portrait's keypoints driven by the performer's crop `driving`.
///
/// Relative to `reference` (the performer's first crop, LivePortrait's default): the portrait
/// keeps its own pose, expression, scale and position and takes on only the performer's change
/// since the reference, so a performer who looks a little away from the camera does not turn
/// the portrait. Without a reference the performer's rotation, expression and translation
/// replace the portrait's (the scale stays the portrait's).
pub(super) fn drive(source: &Motion, driving: &Motion, reference: Option<&Motion>) -> Keypoints {
    let (r, exp, scale, t) = match reference {
        Some(d0) => {
            let r = mul(&mul(&driving.rotation(), &transpose(&d0.rotation())), &source.rotation());
            let exp =
                std::array::from_fn(|k| std::array::from_fn(|c| source.exp[k][c] + driving.exp[k][c] - d0.exp[k][c]));
            let ratio = if d0.scale.abs() > f32::EPSILON { driving.scale / d0.scale } else { 1.0 };
            let t = [source.t[0] + driving.t[0] - d0.t[0], source.t[1] + driving.t[1] - d0.t[1], 0.0];
            (r, exp, source.scale * ratio, t)
        }
        None => (driving.rotation(), driving.exp, source.scale, [driving.t[0], driving.t[1], 0.0]),
    };
    posed(&source.kp, &r, &exp, scale, t)
}

/// The stitching model's input: the source keypoints, then the driving ones, flattened.
pub(super) fn stitching_input(source: &Keypoints, driving: &Keypoints) -> [f32; STITCH_IN] {
    let mut out = [0.0; STITCH_IN];
    for (slot, v) in out.iter_mut().zip(source.iter().chain(driving).flatten()) {
        *slot = *v;
    }
    out
}

/// Applies the stitching model's output: per-keypoint expression deltas, then one x, y shift.
pub(super) fn stitch(driving: &mut Keypoints, delta: &[f32; STITCH_OUT]) {
    let shift = [delta[3 * KEYPOINTS], delta[3 * KEYPOINTS + 1]];
    for (k, p) in driving.iter_mut().enumerate() {
        for (c, v) in p.iter_mut().enumerate() {
            *v += delta[3 * k + c];
        }
        p[0] += shift[0];
        p[1] += shift[1];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peaked(bin: usize) -> Vec<f32> {
        let mut logits = vec![-30.0; POSE_BINS];
        logits[bin] = 30.0;
        logits
    }

    fn motion(pitch: f32, yaw: f32, roll: f32, t: [f32; 3], scale: f32) -> Motion {
        let kp = std::array::from_fn(|k| [k as f32 * 0.05 - 0.5, (k % 5) as f32 * 0.1 - 0.2, (k % 3) as f32 * 0.1]);
        let exp = std::array::from_fn(|k| [0.01 * k as f32, -0.005 * k as f32, 0.0]);
        Motion { pitch, yaw, roll, t, exp, scale, kp }
    }

    fn close(a: &Keypoints, b: &Keypoints) -> bool {
        a.iter().flatten().zip(b.iter().flatten()).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    #[test]
    fn pose_bins_decode_to_degrees() {
        assert!((pose_degrees(&peaked(0)) + 97.5).abs() < 1e-3);
        assert!((pose_degrees(&peaked(40)) - 22.5).abs() < 1e-3);
        let mut even = vec![0.0; POSE_BINS];
        (even[32], even[33]) = (20.0, 20.0);
        assert!(pose_degrees(&even).abs() < 1e-3, "{}", pose_degrees(&even));
    }

    #[test]
    fn rotations_are_orthonormal_and_turn_the_expected_way() {
        let r = rotation(10.0, -25.0, 40.0);
        let rrt = mul(&r, &transpose(&r));
        for (i, row) in rrt.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-5, "{rrt:?}");
            }
        }
        // Roll of 90 degrees: as a row vector times R^T, x goes to +y.
        let p = row_times([1.0, 0.0, 0.0], &rotation(0.0, 0.0, 90.0));
        assert!((p[0]).abs() < 1e-6 && (p[1] - 1.0).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn the_reference_crop_leaves_the_portrait_as_it_is() {
        let source = motion(5.0, -10.0, 3.0, [0.1, -0.05, 0.3], 1.2);
        let performer = motion(-8.0, 20.0, -4.0, [0.3, 0.2, 0.1], 0.9);
        assert!(close(&drive(&source, &performer, Some(&performer)), &source.keypoints()));
    }

    #[test]
    fn relative_motion_moves_the_portrait_by_the_performer_change() {
        let source = motion(0.0, 0.0, 0.0, [0.1, 0.0, 0.0], 1.0);
        let first = motion(0.0, 0.0, 0.0, [0.0, 0.0, 0.0], 1.0);
        let moved = Motion { t: [0.2, -0.1, 0.5], scale: 2.0, ..first.clone() };
        let driven = drive(&source, &moved, Some(&first));
        let rest = source.keypoints();
        for k in 0..KEYPOINTS {
            // Twice the scale, shifted by the performer's x, y change; z is not translated.
            let want_x = 2.0 * (source.kp[k][0] + source.exp[k][0]) + 0.1 + 0.2;
            assert!((driven[k][0] - want_x).abs() < 1e-5, "{k}: {} vs {want_x}", driven[k][0]);
            assert!((driven[k][2] - 2.0 * (rest[k][2])).abs() < 1e-5);
        }
        let turned = Motion { yaw: 30.0, ..first.clone() };
        let driven = drive(&source, &turned, Some(&first));
        let want = Motion { yaw: 30.0, ..source.clone() }.keypoints();
        assert!(close(&driven, &want));
    }

    #[test]
    fn stitching_reads_source_then_driving_and_shifts_x_and_y() {
        let source = motion(0.0, 0.0, 0.0, [0.0; 3], 1.0).keypoints();
        let mut driving = source;
        driving[0][0] = 9.0;
        let input = stitching_input(&source, &driving);
        assert_eq!(input[0], source[0][0]);
        assert_eq!(input[3 * KEYPOINTS], 9.0);
        let mut delta = [0.0; STITCH_OUT];
        delta[4] = 0.5;
        delta[3 * KEYPOINTS] = 0.25;
        delta[3 * KEYPOINTS + 1] = -0.5;
        stitch(&mut driving, &delta);
        assert!((driving[1][1] - (source[1][1] + 0.5 - 0.5)).abs() < 1e-6);
        assert!((driving[2][0] - (source[2][0] + 0.25)).abs() < 1e-6);
        assert!((driving[2][2] - source[2][2]).abs() < 1e-6);
    }

    #[test]
    fn bad_outputs_are_refused_by_name() {
        let mut outputs: Vec<Vec<f32>> = OUTPUTS.iter().map(|(_, n)| vec![0.0; *n]).collect();
        fn views(o: &[Vec<f32>]) -> Vec<&[f32]> {
            o.iter().map(Vec::as_slice).collect()
        }
        assert!(Motion::from_outputs(&views(&outputs)).is_ok());
        outputs[4].pop();
        assert!(Motion::from_outputs(&views(&outputs)).unwrap_err().contains("`exp`"));
    }
}
