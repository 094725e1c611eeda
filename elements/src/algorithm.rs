// SPDX-License-Identifier: MPL-2.0
//! What an element last ran, for its `algorithm` property once it has stopped: a render reads
//! the algorithms (model names and versions, for its metadata and licences) after its graph
//! is done, when the elements no longer hold their models.

use std::sync::{Mutex, PoisonError};

/// The algorithm of the element's last run; forgotten when a property changes, since the
/// next run may differ.
#[derive(Debug, Default)]
pub(crate) struct LastRun(Mutex<Option<String>>);

impl LastRun {
    /// Remembers the run that just stopped.
    pub(crate) fn set(&self, algorithm: String) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(algorithm);
    }

    /// Forgets it: the settings changed.
    pub(crate) fn forget(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The last run's algorithm, if it still describes what the element would run.
    pub(crate) fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}
