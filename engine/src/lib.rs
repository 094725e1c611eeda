// SPDX-License-Identifier: MPL-2.0
//! reenact-engine: presets and project timelines turned into GStreamer graphs,
//! and the runners that drive them.
//!
//! The engine knows media, presets and projects; it knows nothing of HTTP,
//! users or storage. Callers hand it files and directories and get files,
//! progress and errors back.

mod blocks;
pub mod dub;
pub mod error;
pub mod factories;
pub mod languages;
pub mod live;
pub mod media;
pub mod metadata;
pub mod preset;
mod priming;
pub mod project;
pub mod render;
mod show;
pub mod subtitle_mux;
pub mod subtitle_track;
pub mod subtitles;
pub mod transcribe;
pub mod translation;
pub mod voice_clone;
pub mod waveform;

pub use error::{EngineError, Result};
pub use media::{probe, MediaInfo};
pub use preset::{Preset, PresetLibrary};
pub use project::Project;
pub use render::{
    planned_models, render, thumbnail, transcribe_timeline, CancelToken, PlannedRender, PreviewRequest, PreviewRunner,
    Progress, RenderOutput, RenderReport, RenderRequest, TimelineTranscript,
};
pub use transcribe::{transcribe, TranscribeProgress, TranscribeRequest, Transcript};
pub use voice_clone::{voice_clone, VoiceCloneProgress, VoiceCloneReport, VoiceCloneRequest};
pub use waveform::{waveform, Waveform};
