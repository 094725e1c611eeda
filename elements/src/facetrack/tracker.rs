// SPDX-License-Identifier: MPL-2.0
//! Multi-face tracking: detection every N frames while fewer than the maximum number of faces are
//! tracked, landmarks every frame in a region built from
//! the previous landmarks, IoU matching for stable track ids, One-Euro smoothing. The models are
//! behind [`FaceModels`] so this file stays free of GStreamer and ONNX Runtime.

use super::blazeface::Detection;
use super::image::Image;
use super::one_euro::{OneEuro, OneEuroParams};
use super::roi::{roll, BBox, Roi};
use crate::facemeta::{Face, LANDMARK_COUNT};

/// A detection overlapping a track by more than this belongs to that track.
pub const MATCH_IOU: f32 = 0.3;

/// Two tracks overlapping by more than this follow the same face; the younger one is dropped.
pub const DUPLICATE_IOU: f32 = 0.5;

/// Face-presence probability under which a track is lost (MediaPipe's 0.5).
pub const MIN_PRESENCE: f32 = 0.5;

/// What the models see and say, in frame pixels.
pub trait FaceModels {
    /// The model's error.
    type Error;
    /// Faces in `image`, best first.
    fn detect(&mut self, image: &Image<'_>) -> Result<Vec<Detection>, Self::Error>;
    /// Face presence and 468 landmarks (frame pixels; z in the same scale) inside `roi`.
    fn landmarks(&mut self, image: &Image<'_>, roi: &Roi) -> Result<(f32, Vec<[f32; 3]>), Self::Error>;
}

/// Tracker settings, copied from the element's settings for each frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerParams {
    /// Run the detector every this many frames while fewer than `max_faces` faces are tracked
    /// (and on every frame while none is).
    pub detect_interval: u32,
    /// At most this many faces are tracked.
    pub max_faces: usize,
    /// Landmark smoothing.
    pub smoothing: OneEuroParams,
}

/// One followed face.
#[derive(Debug)]
struct Track {
    /// Stable id, unique for the tracker's life.
    id: u32,
    /// Where to look for the face in the next frame.
    roi: Roi,
    /// Unsmoothed landmark box of the last frame, for matching.
    bbox: BBox,
    /// One filter per landmark coordinate.
    filters: Vec<OneEuro>,
    /// Stream time of the last update, seconds.
    last_time: Option<f64>,
}

/// The tracker state of one stream.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Faces being followed, oldest first.
    tracks: Vec<Track>,
    /// Next track id to hand out.
    next_id: u32,
    /// Frames since the detector last ran; `None` before the first frame.
    since_detect: Option<u32>,
}

/// Keypoints in BlazeFace order computed from mesh landmarks: eye (image left), eye (image
/// right), nose tip, mouth centre, ear tragion (image left), ear tragion (image right).
pub fn keypoints_from_landmarks(points: &[[f32; 3]]) -> [(f32, f32); 6] {
    let p = |i: usize| points.get(i).map_or((0.0, 0.0), |p| (p[0], p[1]));
    let mid = |a: usize, b: usize| {
        let (a, b) = (p(a), p(b));
        ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0)
    };
    [mid(33, 133), mid(263, 362), p(1), mid(13, 14), p(234), p(454)]
}

impl Tracker {
    /// Forgets every face (flush, restart); ids keep counting up.
    pub fn reset(&mut self) {
        self.tracks.clear();
        self.since_detect = None;
    }

    /// Tracks the faces of one frame at stream time `time` (seconds).
    pub fn process<M: FaceModels>(
        &mut self,
        models: &mut M,
        image: &Image<'_>,
        time: f64,
        params: &TrackerParams,
    ) -> Result<Vec<Face>, M::Error> {
        // Like MediaPipe, the detector only runs when it could add a face: every
        // `detect_interval` frames while fewer than `max_faces` are tracked, at once when none is.
        let due = self.since_detect.is_none_or(|n| n + 1 >= params.detect_interval.max(1));
        if (due && self.tracks.len() < params.max_faces) || self.tracks.is_empty() {
            self.since_detect = Some(0);
            self.add_detections(models.detect(image)?, params.max_faces);
        } else {
            self.since_detect = self.since_detect.map(|n| n + 1);
        }

        let mut faces = Vec::with_capacity(self.tracks.len());
        let mut kept = Vec::with_capacity(self.tracks.len());
        for mut track in std::mem::take(&mut self.tracks) {
            let (presence, points) = models.landmarks(image, &track.roi)?;
            if presence.is_nan() || presence < MIN_PRESENCE || points.len() != LANDMARK_COUNT {
                continue;
            }
            let (Some(roi), Some(bbox)) =
                (Roi::from_landmarks(&points), BBox::around(points.iter().map(|p| (p[0], p[1]))))
            else {
                continue;
            };
            let dt = track.last_time.map_or(0.0, |last| (time - last) as f32);
            track.last_time = Some(time);
            let smoothed: Vec<[f32; 3]> = points
                .iter()
                .zip(track.filters.chunks_exact_mut(3))
                .map(|(p, f)| {
                    [
                        f[0].filter(p[0], dt, params.smoothing),
                        f[1].filter(p[1], dt, params.smoothing),
                        f[2].filter(p[2], dt, params.smoothing),
                    ]
                })
                .collect();
            let Some(shown) = BBox::around(smoothed.iter().map(|p| (p[0], p[1]))) else { continue };
            if faces.iter().any(|f: &Face| shown.iou(&f.bbox) > DUPLICATE_IOU) {
                continue;
            }
            track.roi = roi;
            track.bbox = bbox;
            faces.push(Face {
                track_id: track.id,
                confidence: presence,
                bbox: shown,
                keypoints: keypoints_from_landmarks(&smoothed),
                landmarks: smoothed,
            });
            kept.push(track);
        }
        self.tracks = kept;
        Ok(faces)
    }

    /// Starts a track for each detection that no track covers, best first, up to `max_faces`.
    fn add_detections(&mut self, detections: Vec<Detection>, max_faces: usize) {
        for det in detections {
            if self.tracks.len() >= max_faces {
                break;
            }
            if self.tracks.iter().any(|t| t.bbox.iou(&det.bbox) > MATCH_IOU) {
                continue;
            }
            self.next_id = self.next_id.wrapping_add(1).max(1);
            let angle = roll(det.keypoints[0], det.keypoints[1]);
            self.tracks.push(Track {
                id: self.next_id,
                roi: Roi::from_box(&det.bbox, angle),
                bbox: det.bbox,
                filters: vec![OneEuro::default(); LANDMARK_COUNT * 3],
                last_time: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A face at a fixed box, moving by `shift` px per frame; `visible` says when it is there.
    struct FakeModels {
        x: f32,
        shift: f32,
        visible: bool,
        detect_calls: usize,
    }

    impl FakeModels {
        fn face_box(&self) -> BBox {
            BBox { x: self.x, y: 100.0, w: 100.0, h: 120.0 }
        }
    }

    impl FaceModels for FakeModels {
        type Error = String;

        fn detect(&mut self, _image: &Image<'_>) -> Result<Vec<Detection>, String> {
            self.detect_calls += 1;
            let b = self.face_box();
            Ok(if self.visible {
                vec![Detection {
                    score: 0.9,
                    bbox: b,
                    keypoints: [
                        (b.x + 30.0, 150.0),
                        (b.x + 70.0, 150.0),
                        (0.0, 0.0),
                        (0.0, 0.0),
                        (0.0, 0.0),
                        (0.0, 0.0),
                    ],
                }]
            } else {
                Vec::new()
            })
        }

        fn landmarks(&mut self, _image: &Image<'_>, roi: &Roi) -> Result<(f32, Vec<[f32; 3]>), String> {
            let b = self.face_box();
            let inside = (roi.cx - b.centre().0).abs() < roi.size / 2.0;
            let mut points = vec![[b.x + 50.0, b.y + 60.0, 0.0]; LANDMARK_COUNT];
            points[0] = [b.x, b.y, 0.0];
            points[1] = [b.x + b.w, b.y + b.h, 0.0];
            points[33] = [b.x + 30.0, 150.0, 0.0];
            points[263] = [b.x + 70.0, 150.0, 0.0];
            self.x += self.shift;
            Ok((if self.visible && inside { 0.99 } else { 0.01 }, points))
        }
    }

    const PARAMS: TrackerParams =
        TrackerParams { detect_interval: 5, max_faces: 2, smoothing: OneEuroParams { min_cutoff: 1.0, beta: 0.05 } };

    fn frame() -> Vec<u8> {
        vec![0; 4 * 4 * 3]
    }

    fn image(data: &[u8]) -> Image<'_> {
        Image { data, width: 4, height: 4, stride: 12, pixel_stride: 3, rgb: [0, 1, 2] }
    }

    #[test]
    fn detects_every_n_frames_and_keeps_the_id() {
        let data = frame();
        let mut models = FakeModels { x: 200.0, shift: 2.0, visible: true, detect_calls: 0 };
        let mut tracker = Tracker::default();
        let mut ids = Vec::new();
        for i in 0..10 {
            let faces = tracker.process(&mut models, &image(&data), f64::from(i) * 0.04, &PARAMS).expect("ok");
            assert_eq!(faces.len(), 1, "frame {i}");
            ids.push(faces[0].track_id);
            assert_eq!(faces[0].landmarks.len(), LANDMARK_COUNT);
        }
        assert!(ids.iter().all(|&id| id == ids[0]), "{ids:?}");
        assert_eq!(models.detect_calls, 2, "frames 0 and 5");
    }

    #[test]
    fn no_detection_while_max_faces_are_tracked() {
        let data = frame();
        let mut models = FakeModels { x: 200.0, shift: 0.0, visible: true, detect_calls: 0 };
        let mut tracker = Tracker::default();
        let params = TrackerParams { max_faces: 1, ..PARAMS };
        for i in 0..12 {
            assert_eq!(tracker.process(&mut models, &image(&data), f64::from(i) * 0.04, &params).expect("ok").len(), 1);
        }
        assert_eq!(models.detect_calls, 1);
    }

    #[test]
    fn lost_face_is_dropped_and_a_new_one_gets_a_new_id() {
        let data = frame();
        let mut models = FakeModels { x: 200.0, shift: 0.0, visible: true, detect_calls: 0 };
        let mut tracker = Tracker::default();
        let first = tracker.process(&mut models, &image(&data), 0.0, &PARAMS).expect("ok")[0].track_id;
        models.visible = false;
        assert!(tracker.process(&mut models, &image(&data), 0.04, &PARAMS).expect("ok").is_empty());
        assert!(tracker.tracks.is_empty());
        models.visible = true;
        models.x = 600.0;
        let faces = tracker.process(&mut models, &image(&data), 0.08, &PARAMS).expect("ok");
        assert_eq!(faces.len(), 1);
        assert_ne!(faces[0].track_id, first);
    }

    #[test]
    fn keypoints_follow_the_mesh() {
        let mut points = vec![[0.0f32; 3]; LANDMARK_COUNT];
        points[33] = [10.0, 10.0, 0.0];
        points[133] = [20.0, 10.0, 0.0];
        points[1] = [30.0, 40.0, 0.0];
        let k = keypoints_from_landmarks(&points);
        assert_eq!(k[0], (15.0, 10.0));
        assert_eq!(k[2], (30.0, 40.0));
    }
}
