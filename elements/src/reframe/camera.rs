// SPDX-License-Identifier: MPL-2.0
//! The virtual camera of `reenactreframe`: where the crop centre goes, given the main face.
//! A dead zone keeps small face movements from moving the target; the centre then glides to
//! the target by exponential smoothing with a bounded speed, and snaps once within half a pixel
//! so a resting camera does not creep. No GStreamer here.

/// How the camera follows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraParams {
    /// Half width of the dead zone, as a fraction of the crop size on each axis.
    pub dead_zone: f32,
    /// Most pan speed, in frame widths per second.
    pub max_speed: f32,
    /// Time constant of the glide, in seconds (0: jump, still speed bounded).
    pub smoothing: f32,
    /// Frames without a face before the camera heads back to the centre.
    pub lost_frames: u32,
}

/// Crop centre state on one stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Camera {
    /// Current crop centre; `None` before the first frame.
    pos: Option<(f32, f32)>,
    /// Where the centre is gliding to.
    target: (f32, f32),
    /// Frames since the last face.
    missing: u32,
}

/// Moves `pos` one step toward `target` on one axis.
fn glide(pos: f32, target: f32, keep: f32, max_step: f32) -> f32 {
    let delta = target - pos;
    if delta.abs() <= 0.5 {
        return target;
    }
    pos + (delta * (1.0 - keep)).clamp(-max_step, max_step)
}

/// The target on one axis: unchanged while `face` stays within `dead` of it, else moved just
/// enough to bring the face to the dead zone's edge; kept where the crop fits the frame.
fn follow(target: f32, face: f32, dead: f32, lo: f32, hi: f32) -> f32 {
    let moved = if face > target + dead {
        face - dead
    } else if face < target - dead {
        face + dead
    } else {
        target
    };
    moved.clamp(lo, hi)
}

impl Camera {
    /// Forgets the path; the next frame starts it again.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Next crop centre for a `frame`-sized picture cropped to `crop`, `dt` seconds after the
    /// previous frame, with the main face centred at `face` (frame pixels) if there is one.
    pub fn update(
        &mut self,
        face: Option<(f32, f32)>,
        frame: (f32, f32),
        crop: (f32, f32),
        dt: f32,
        params: &CameraParams,
    ) -> (f32, f32) {
        let lo = (crop.0 / 2.0, crop.1 / 2.0);
        let hi = ((frame.0 - crop.0 / 2.0).max(lo.0), (frame.1 - crop.1 / 2.0).max(lo.1));
        let centre = (frame.0 / 2.0, frame.1 / 2.0);
        match face {
            Some(face) => {
                self.missing = 0;
                let clamped = (face.0.clamp(lo.0, hi.0), face.1.clamp(lo.1, hi.1));
                if self.pos.is_none() {
                    // First frame: start on the face, no glide in from elsewhere.
                    self.pos = Some(clamped);
                    self.target = clamped;
                } else {
                    let dead = (params.dead_zone * crop.0, params.dead_zone * crop.1);
                    self.target = (
                        follow(self.target.0, face.0, dead.0, lo.0, hi.0),
                        follow(self.target.1, face.1, dead.1, lo.1, hi.1),
                    );
                }
            }
            None => {
                self.missing = self.missing.saturating_add(1);
                if self.pos.is_none() {
                    self.pos = Some(centre);
                    self.target = centre;
                } else if self.missing >= params.lost_frames {
                    self.target = centre;
                }
            }
        }
        let pos = self.pos.unwrap_or(centre);
        let dt = dt.max(0.0);
        let keep = if params.smoothing > 0.0 { (-dt / params.smoothing).exp() } else { 0.0 };
        let max_step = params.max_speed * frame.0 * dt;
        let next = (glide(pos.0, self.target.0, keep, max_step), glide(pos.1, self.target.1, keep, max_step));
        let next = (next.0.clamp(lo.0, hi.0), next.1.clamp(lo.1, hi.1));
        self.pos = Some(next);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: CameraParams = CameraParams { dead_zone: 0.1, max_speed: 0.5, smoothing: 0.3, lost_frames: 5 };
    const FRAME: (f32, f32) = (1280.0, 720.0);
    const CROP: (f32, f32) = (404.0, 720.0);
    const DT: f32 = 0.04;

    #[test]
    fn starts_on_the_face_and_ignores_moves_inside_the_dead_zone() {
        let mut cam = Camera::default();
        assert_eq!(cam.update(Some((600.0, 300.0)), FRAME, CROP, DT, &PARAMS), (600.0, 360.0));
        for dx in [-30.0, 25.0, 38.0, -12.0] {
            assert_eq!(cam.update(Some((600.0 + dx, 300.0)), FRAME, CROP, DT, &PARAMS).0, 600.0);
        }
    }

    #[test]
    fn pans_no_faster_than_the_bound_and_settles() {
        let mut cam = Camera::default();
        let mut x = cam.update(Some((300.0, 360.0)), FRAME, CROP, DT, &PARAMS).0;
        let bound = PARAMS.max_speed * FRAME.0 * DT;
        for _ in 0..200 {
            let next = cam.update(Some((1000.0, 360.0)), FRAME, CROP, DT, &PARAMS).0;
            assert!((next - x).abs() <= bound + 1e-3, "{x} -> {next}");
            x = next;
        }
        assert!((x - (1000.0 - 0.1 * 404.0)).abs() < 1e-3, "face at the dead zone's edge: {x}");
        assert_eq!(cam.update(Some((1000.0, 360.0)), FRAME, CROP, DT, &PARAMS).0, x, "at rest");
    }

    #[test]
    fn glides_back_to_the_centre_after_losing_the_face() {
        let mut cam = Camera::default();
        cam.update(Some((250.0, 360.0)), FRAME, CROP, DT, &PARAMS);
        for _ in 0..4 {
            assert_eq!(cam.update(None, FRAME, CROP, DT, &PARAMS).0, 250.0, "held for a few frames");
        }
        let first = cam.update(None, FRAME, CROP, DT, &PARAMS).0;
        assert!(first > 250.0 && first < 640.0, "gliding: {first}");
        let mut x = first;
        for _ in 0..200 {
            x = cam.update(None, FRAME, CROP, DT, &PARAMS).0;
        }
        assert_eq!(x, 640.0);
    }

    #[test]
    fn no_face_on_the_first_frame_starts_centred_and_the_crop_stays_inside() {
        let mut cam = Camera::default();
        assert_eq!(cam.update(None, FRAME, CROP, DT, &PARAMS), (640.0, 360.0));
        let mut cam = Camera::default();
        assert_eq!(cam.update(Some((5.0, 5.0)), FRAME, CROP, DT, &PARAMS), (202.0, 360.0));
    }
}
