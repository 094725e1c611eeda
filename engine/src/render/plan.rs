// SPDX-License-Identifier: MPL-2.0
//! Resolving a project against its media: every source discovered once,
//! clip times checked against real durations, the canvas chosen.

use std::path::PathBuf;

use crate::error::{EngineError, Result};
use crate::media::{self, MediaInfo};
use crate::project::Project;

/// A clip with its times settled, in seconds.
#[derive(Debug, Clone)]
pub(crate) struct PlacedClip {
    /// Track index (0 = bottom layer).
    pub track: usize,
    pub path: PathBuf,
    pub start_s: f64,
    pub in_s: f64,
    pub duration_s: f64,
}

/// Everything the graph builder needs to know about the timeline.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub sources: Vec<MediaInfo>,
    pub clips: Vec<PlacedClip>,
    pub duration_s: f64,
    /// Canvas size and rate: those of the first clip's source.
    pub width: u32,
    pub height: u32,
    pub fps: gst::Fraction,
    /// Set when the timeline is one whole file: decode it directly.
    pub direct: Option<MediaInfo>,
}

impl Plan {
    /// Discovers every source of `project` and checks the clips against it.
    /// `project_file` names the project in errors.
    pub(crate) fn resolve(project: &Project, project_file: &std::path::Path) -> Result<Self> {
        let mut sources = Vec::with_capacity(project.sources.len());
        for source in &project.sources {
            sources.push(media::probe_video(&source.path)?);
        }
        let info_of = |id: &str| {
            let idx = project.sources.iter().position(|s| s.id == id).expect("validated source id");
            &sources[idx]
        };
        let mut clips = Vec::new();
        for (t, track) in project.tracks.iter().enumerate() {
            let mut cursor = 0.0f64;
            for (c, clip) in track.clips.iter().enumerate() {
                let info = info_of(&clip.source);
                let field = |name: &str| format!("tracks[{t}].clips[{c}].{name}");
                let out = clip.out_s.unwrap_or(info.duration_s);
                let frame = 1.0 / info.video.as_ref().map(|v| v.fps()).filter(|f| *f > 0.0).unwrap_or(25.0);
                if out > info.duration_s + frame / 2.0 {
                    return Err(EngineError::invalid(
                        project_file,
                        field("out"),
                        format!("{out} is past the end of {} ({:.3} s)", info.path.display(), info.duration_s),
                    ));
                }
                if clip.in_s >= out {
                    return Err(EngineError::invalid(
                        project_file,
                        field("in"),
                        format!("{} is not before the clip's end ({out:.3} s)", clip.in_s),
                    ));
                }
                let start = clip.position.unwrap_or(cursor);
                if start + 1e-6 < cursor {
                    return Err(EngineError::invalid(
                        project_file,
                        field("position"),
                        format!("{start} overlaps the previous clip on this track, which ends at {cursor:.3}"),
                    ));
                }
                let duration = out.min(info.duration_s) - clip.in_s;
                cursor = start + duration;
                clips.push(PlacedClip {
                    track: t,
                    path: info.path.clone(),
                    start_s: start,
                    in_s: clip.in_s,
                    duration_s: duration,
                });
            }
        }
        let first = clips
            .iter()
            .min_by(|a, b| (a.track, a.start_s).partial_cmp(&(b.track, b.start_s)).expect("finite times"))
            .expect("validated: at least one clip");
        let canvas = sources.iter().find(|s| s.path == first.path).expect("clip source discovered");
        let video = canvas.video.as_ref().expect("probe_video guarantees video");
        let fps = if video.fps_num > 0 && video.fps_den > 0 {
            gst::Fraction::new(video.fps_num, video.fps_den)
        } else {
            gst::Fraction::new(25, 1)
        };
        let duration_s = clips.iter().map(|c| c.start_s + c.duration_s).fold(0.0, f64::max);
        let direct = project.is_single_whole_clip().then(|| canvas.clone());
        Ok(Plan { width: video.width, height: video.height, fps, duration_s, direct, sources, clips })
    }

    /// A thumbnail time moved inside the timeline (last frame at the latest).
    pub(crate) fn thumbnail_time(&self, t: f64) -> f64 {
        t.clamp(0.0, (self.duration_s - self.frame_s()).max(0.0))
    }

    /// Duration of one canvas frame in seconds.
    pub(crate) fn frame_s(&self) -> f64 {
        self.fps.denom() as f64 / self.fps.numer() as f64
    }
}
