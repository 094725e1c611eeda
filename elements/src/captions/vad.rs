// SPDX-License-Identifier: MPL-2.0
//! Silero VAD v5 through the model catalog: one speech probability per 512-sample (32 ms)
//! window of 16 kHz mono audio, with the recurrent state and the 64-sample context carried from
//! window to window as the model's `SOURCE.md` describes. No GStreamer here.

use reenact_models::{Catalog, OnnxError, OnnxSession, SessionOptions, TensorInput};

/// New samples per call.
pub(crate) const WINDOW: usize = 512;

/// Samples of the previous window prepended to each call.
const CONTEXT: usize = 64;

/// Values in the `[2, 1, 128]` recurrent state.
const STATE_LEN: usize = 2 * 128;

/// A running Silero VAD.
#[derive(Debug)]
pub(crate) struct Vad {
    session: OnnxSession,
    /// Recurrent state fed back from `stateN`.
    state: Vec<f32>,
    /// Context followed by the window: the `input` tensor.
    input: Vec<f32>,
    /// `output` and `stateN` of the last call.
    outputs: [Vec<f32>; 2],
}

impl Vad {
    /// Opens catalog model `name` (checksum and signature checked by the models crate).
    pub(crate) fn open(catalog: &Catalog, name: &str) -> Result<Self, OnnxError> {
        let session =
            OnnxSession::open(catalog, name, SessionOptions { allow_gpu: false, ..SessionOptions::default() })?;
        Ok(Self {
            session,
            state: vec![0.0; STATE_LEN],
            input: vec![0.0; CONTEXT + WINDOW],
            outputs: [Vec::new(), Vec::new()],
        })
    }

    /// Manifest name and version, for logs and render metadata.
    pub(crate) fn describe(&self) -> String {
        let model = &self.session.entry().model;
        format!("{}@{}", model.name, model.version)
    }

    /// Starts a new stream: zero state and context.
    pub(crate) fn reset(&mut self) {
        self.state.fill(0.0);
        self.input.fill(0.0);
    }

    /// Speech probability of `window` (exactly [`WINDOW`] samples in -1..1).
    pub(crate) fn probability(&mut self, window: &[f32]) -> Result<f32, OnnxError> {
        if window.len() != WINDOW {
            return Err(OnnxError::Input {
                name: self.session.entry().model.name.clone(),
                message: format!("a VAD window has {WINDOW} samples, got {}", window.len()),
            });
        }
        // The context is the tail of the previous window, already at the end of `input`.
        self.input.copy_within(WINDOW.., 0);
        self.input[CONTEXT..].copy_from_slice(window);
        let sr = [16_000i64];
        let inputs = [
            TensorInput::F32 { shape: &[1, (CONTEXT + WINDOW) as i64], data: &self.input },
            TensorInput::F32 { shape: &[2, 1, 128], data: &self.state },
            TensorInput::I64 { shape: &[], data: &sr },
        ];
        self.session.run_f32(&inputs, &mut self.outputs)?;
        let [prob, state] = &self.outputs;
        if state.len() == STATE_LEN {
            self.state.copy_from_slice(state);
        }
        let p = prob.first().copied().unwrap_or(0.0);
        Ok(if p.is_finite() { p.clamp(0.0, 1.0) } else { 0.0 })
    }
}
