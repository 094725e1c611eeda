// SPDX-License-Identifier: MPL-2.0
//! The one error type of the engine. Messages name the file or field at fault
//! and the cause, so the CLI and the server can show them as they are.

use std::path::PathBuf;

/// Everything that can stop a render or a probe.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// GStreamer itself could not be initialised.
    #[error("GStreamer could not be initialised: {0}")]
    Init(String),
    /// A GStreamer element the graph needs is not installed.
    #[error("GStreamer element `{0}` is missing (plugin not installed?)")]
    MissingElement(&'static str),
    /// An input file does not exist or cannot be read.
    #[error("{}: {cause}", path.display())]
    Unreadable { path: PathBuf, cause: String },
    /// An input file exists but is not usable media.
    #[error("{}: {cause}", path.display())]
    BadMedia { path: PathBuf, cause: String },
    /// A project, preset or subtitle file has a field or line that is wrong.
    #[error("{}: {field}: {cause}", file.display())]
    Invalid { file: PathBuf, field: String, cause: String },
    /// A preset name that no preset file defines.
    #[error("unknown preset `{name}` (known: {known})")]
    UnknownPreset { name: String, known: String },
    /// A request that cannot be carried out as asked.
    #[error("{0}")]
    Request(String),
    /// The graph reported an error while running.
    #[error("pipeline failed in {element}: {message}")]
    Pipeline { element: String, message: String },
    /// The graph stopped moving.
    #[error("render stalled: no progress for {seconds} s at {position:.2} s of {duration:.2} s")]
    Stalled { seconds: u64, position: f64, duration: f64 },
    /// The render was cancelled by its caller.
    #[error("render cancelled")]
    Cancelled,
    /// Reading or writing an output failed.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A character file cannot be read or used.
    #[error(transparent)]
    Character(#[from] gstreenact::character::CharacterError),
    /// Text to speech cannot run: phonemizer or voice missing, or nothing to say.
    #[error(transparent)]
    Speech(#[from] gstreenact::tts::TtsError),
}

impl EngineError {
    /// Builds an [`EngineError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io { path: path.into(), source }
    }

    /// Builds an [`EngineError::Invalid`].
    pub fn invalid(file: impl Into<PathBuf>, field: impl Into<String>, cause: impl Into<String>) -> Self {
        EngineError::Invalid { file: file.into(), field: field.into(), cause: cause.into() }
    }
}

/// Result alias used across the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
