// SPDX-License-Identifier: MPL-2.0
//! The MediaPipe selfie segmentation session: whole frame stretched to the model size, RGB in
//! 0..1 NHWC, one person-probability channel out (sigmoid inside the model; see the model's
//! SOURCE.md). No GStreamer here.

use reenact_models::{Catalog, OnnxError, OnnxSession, SessionOptions, TensorInput};

use super::mask::{model_input, Frame};

/// One segmentation session and its reusable buffers.
#[derive(Debug)]
pub struct Segmenter {
    session: OnnxSession,
    /// Model input width and height.
    size: (usize, usize),
    input: Vec<f32>,
    output: Vec<Vec<f32>>,
}

impl Segmenter {
    /// Opens catalog model `name` (`selfie_segmentation` or `selfie_segmentation_landscape`).
    pub fn open(catalog: &Catalog, name: &str, threads: usize) -> Result<Self, OnnxError> {
        let options = SessionOptions { intra_threads: threads, ..SessionOptions::default() };
        let session = OnnxSession::open(catalog, name, options)?;
        let dims = session
            .entry()
            .model
            .inputs
            .first()
            .and_then(|spec| spec.shape.as_ref())
            .filter(|shape| shape.len() == 4 && shape[3] == 3)
            .and_then(|shape| Some((usize::try_from(shape[2]).ok()?, usize::try_from(shape[1]).ok()?)))
            .filter(|&(w, h)| w > 0 && h > 0)
            .ok_or_else(|| OnnxError::Input {
                name: session.entry().model.name.clone(),
                message: "the manifest gives no fixed [1, H, W, 3] input".into(),
            })?;
        Ok(Self { session, size: dims, input: Vec::new(), output: vec![Vec::new()] })
    }

    /// Model input width and height: the size of the masks [`Self::run`] returns.
    pub fn size(&self) -> (usize, usize) {
        self.size
    }

    /// Person probability per model pixel (row-major, `size()`), for the whole `frame`.
    pub fn run(&mut self, frame: &Frame<'_>) -> Result<&[f32], OnnxError> {
        let (w, h) = self.size;
        model_input(frame, w, h, &mut self.input);
        let shape = [1, h as i64, w as i64, 3];
        self.session.run_f32(&[TensorInput::F32 { shape: &shape, data: &self.input }], &mut self.output)?;
        let mask = &self.output[0];
        if mask.len() != w * h {
            return Err(OnnxError::Run {
                name: self.session.entry().model.name.clone(),
                message: format!("mask has {} values, expected {}", mask.len(), w * h),
            });
        }
        Ok(mask)
    }
}
