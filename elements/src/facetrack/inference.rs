// SPDX-License-Identifier: MPL-2.0
//! The two ONNX models behind [`FaceModels`]: BlazeFace (front 128 or back 256) and the
//! 468-point face mesh, with the pre- and post-processing their SOURCE.md files document.
//! No GStreamer here.

use reenact_models::{Catalog, OnnxError, OnnxSession, SessionOptions, TensorInput};

use super::blazeface::{decode, weighted_nms, Detection, NMS_IOU};
use super::image::{crop_input, letterbox_input, Image};
use super::roi::{BBox, Roi};
use super::tracker::FaceModels;
use crate::facemeta::LANDMARK_COUNT;

/// Catalog name of the face mesh model.
pub const MESH_MODEL: &str = "face_landmarks";

/// Side of the mesh model's input crop.
const MESH_SIZE: usize = 192;

/// Both sessions and their reusable buffers.
#[derive(Debug)]
pub struct OnnxFaceModels {
    /// BlazeFace session.
    detector: OnnxSession,
    /// Its square input side (128 or 256).
    detector_size: usize,
    /// Score threshold for detections.
    min_score: f32,
    /// Face mesh session.
    mesh: OnnxSession,
    /// Input tensor, reused.
    input: Vec<f32>,
    /// Detector outputs, reused.
    detector_out: Vec<Vec<f32>>,
    /// Mesh outputs, reused.
    mesh_out: Vec<Vec<f32>>,
}

impl OnnxFaceModels {
    /// Opens detector `detector` (a catalog name) and the mesh model.
    pub fn open(catalog: &Catalog, detector: &str, min_score: f32, threads: usize) -> Result<Self, OnnxError> {
        let options = SessionOptions { intra_threads: threads, ..SessionOptions::default() };
        let detector = OnnxSession::open(catalog, detector, options)?;
        let detector_size = detector
            .entry()
            .model
            .inputs
            .first()
            .and_then(|spec| spec.shape.as_ref())
            .and_then(|shape| shape.get(1).copied())
            .and_then(|side| usize::try_from(side).ok())
            .filter(|&side| side > 0)
            .ok_or_else(|| OnnxError::Input {
                name: detector.entry().model.name.clone(),
                message: "the manifest gives no fixed square input size".into(),
            })?;
        let mesh = OnnxSession::open(catalog, MESH_MODEL, options)?;
        Ok(Self {
            detector,
            detector_size,
            min_score,
            mesh,
            input: Vec::new(),
            detector_out: vec![Vec::new(); 4],
            mesh_out: vec![Vec::new(); 2],
        })
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x.clamp(-80.0, 80.0)).exp())
}

impl FaceModels for OnnxFaceModels {
    type Error = OnnxError;

    fn detect(&mut self, image: &Image<'_>) -> Result<Vec<Detection>, OnnxError> {
        let size = self.detector_size;
        let lb = letterbox_input(image, size, 1.0 / 127.5, -1.0, &mut self.input);
        let shape = [1, size as i64, size as i64, 3];
        self.detector.run_f32(&[TensorInput::F32 { shape: &shape, data: &self.input }], &mut self.detector_out)?;
        let found = weighted_nms(decode(&self.detector_out, size as f32, self.min_score), NMS_IOU);
        Ok(found
            .into_iter()
            .map(|d| {
                let (x, y) = lb.to_frame(d.bbox.x, d.bbox.y);
                let mut keypoints = d.keypoints;
                for k in &mut keypoints {
                    *k = lb.to_frame(k.0, k.1);
                }
                Detection {
                    score: d.score,
                    bbox: BBox { x, y, w: d.bbox.w * lb.side, h: d.bbox.h * lb.side },
                    keypoints,
                }
            })
            .collect())
    }

    fn landmarks(&mut self, image: &Image<'_>, roi: &Roi) -> Result<(f32, Vec<[f32; 3]>), OnnxError> {
        crop_input(image, roi, MESH_SIZE, 1.0 / 255.0, 0.0, &mut self.input);
        let shape = [1, MESH_SIZE as i64, MESH_SIZE as i64, 3];
        self.mesh.run_f32(&[TensorInput::F32 { shape: &shape, data: &self.input }], &mut self.mesh_out)?;
        let (coords, flag) = (&self.mesh_out[0], &self.mesh_out[1]);
        if coords.len() != LANDMARK_COUNT * 3 || flag.is_empty() {
            return Ok((0.0, Vec::new()));
        }
        let crop = MESH_SIZE as f32;
        let points = coords
            .chunks_exact(3)
            .map(|p| {
                let (x, y) = roi.to_frame(p[0], p[1], crop);
                [x, y, p[2] * roi.size / crop]
            })
            .collect();
        Ok((sigmoid(flag[0]), points))
    }
}
