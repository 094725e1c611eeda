// SPDX-License-Identifier: MPL-2.0
//! Where a show's picture and sound come from and where they go. Each builder
//! materialises the kinds it can play and refuses the others by name: the
//! live runner plays a live input to its preview and live destinations; the
//! offline builder (a render, a project's preview) plays a timeline to files
//! or to the preview.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{EngineError, Result};
use crate::live::{LiveOutput, LiveSource};
use crate::preset::{CaptionMode, Preset, Watermark};
use crate::render::plan::Plan as Timeline;

/// Where the show's picture and sound come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A test pattern, a camera, a file in a loop or the presenter's browser;
    /// `mic` is a camera's sound (`None` silence, `default`, or an ALSA device).
    Live { input: LiveSource, mic: Option<String> },
    /// A project's timeline, decoded once: one whole file, or clips through GES.
    Timeline(Arc<Timeline>),
}

/// How an output frames the show's picture: its preset's size, crop and
/// rate, and the captions and watermark drawn over it.
#[derive(Debug, Clone)]
pub(crate) struct Framing {
    pub(crate) preset: Preset,
    pub(crate) captions: CaptionMode,
    pub(crate) watermark: Option<Watermark>,
}

/// A finished file of a render in its preset's format.
#[derive(Debug, Clone)]
pub(crate) struct FileOutput {
    pub(crate) framing: Framing,
    /// The name every file of this output starts with (video, thumbnails, sidecars, metadata).
    pub(crate) stem: String,
    /// Where the video is written until every output of the render is done.
    pub(crate) part: PathBuf,
}

/// Where the show goes.
#[derive(Debug, Clone)]
pub(crate) enum Output {
    /// The encodes every WebRTC viewer subscribes to (H.264; VP8 while a
    /// viewer needs it; Opus) at `encoder`'s bitrates and keyframe interval.
    /// `framing` frames a project's preview; the live show's is its chain's
    /// picture at the live preset's size.
    Preview {
        encoder: Preset,
        framing: Option<Framing>,
    },
    /// A live destination on the preview's encodes.
    Live(LiveOutput),
    File(FileOutput),
}

impl fmt::Display for Source {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Live { input, mic: Some(mic) } if matches!(input, LiveSource::Camera(_)) => {
                write!(out, "{input} + mic:{mic}")
            }
            Source::Live { input, .. } => write!(out, "{input}"),
            Source::Timeline(timeline) => match &timeline.direct {
                Some(info) => write!(out, "file:{}", info.path.display()),
                None => write!(out, "timeline of {} clips", timeline.clips.len()),
            },
        }
    }
}

impl fmt::Display for Output {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Output::Preview { framing: None, .. } => write!(out, "preview"),
            Output::Preview { framing: Some(framing), .. } => write!(out, "preview of {}", framing.preset.name),
            // Redacted: a stream key never reaches a log.
            Output::Live(output) => write!(out, "{output}"),
            Output::File(file) => {
                write!(out, "{}:{}.{}", file.framing.preset.name, file.stem, file.framing.preset.container.extension())
            }
        }
    }
}

impl Source {
    /// The live input, for the live builder.
    pub(crate) fn live(&self) -> Result<(&LiveSource, Option<&str>)> {
        match self {
            Source::Live { input, mic } => Ok((input, mic.as_deref())),
            Source::Timeline(_) => Err(EngineError::Request(format!(
                "a live show plays a camera, the test pattern, a file or a browser, not the {self}: render or preview it"
            ))),
        }
    }

    /// The timeline, for the offline builder.
    pub(crate) fn timeline(&self) -> Result<&Arc<Timeline>> {
        match self {
            Source::Timeline(timeline) => Ok(timeline),
            Source::Live { .. } => Err(EngineError::Request(format!(
                "a render plays a project's timeline, not the live input `{self}`: start a live show for it"
            ))),
        }
    }
}

/// The preview's encoder settings and framing, if `outputs` has a preview.
pub(crate) fn preview(outputs: &[Output]) -> Option<(&Preset, Option<&Framing>)> {
    outputs.iter().find_map(|output| match output {
        Output::Preview { encoder, framing } => Some((encoder, framing.as_ref())),
        _ => None,
    })
}

/// The live destinations of `outputs`, for the live builder, which records
/// with `record:` and renders no preset files.
pub(crate) fn live_outputs(outputs: &[Output]) -> Result<Vec<LiveOutput>> {
    let mut live = Vec::new();
    for output in outputs {
        match output {
            Output::Preview { .. } => {}
            Output::Live(output) => live.push(output.clone()),
            Output::File(_) => {
                return Err(EngineError::Request(format!(
                    "a live show records with record:PATH.mp4; `{output}` is a render's output"
                )))
            }
        }
    }
    Ok(live)
}

/// Every framing the outputs ask of the picture (a file's, a preview's).
pub(crate) fn framings(outputs: &[Output]) -> impl Iterator<Item = &Framing> {
    outputs.iter().filter_map(|output| match output {
        Output::Preview { framing, .. } => framing.as_ref(),
        Output::File(file) => Some(&file.framing),
        Output::Live(_) => None,
    })
}
