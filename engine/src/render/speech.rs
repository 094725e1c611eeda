// SPDX-License-Identifier: MPL-2.0
//! Captions made from the speech of a whole timeline, for a render to burn in or write as
//! sidecars.
//!
//! Each source with audio is transcribed once, whatever number of clips cut it, and its
//! cues are placed on the timeline through every clip that uses it: a cue is clipped to the
//! clip's in/out range and moved by the clip's position. Cues of overlapping tracks are all
//! kept (the render mixes their audio too).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reenact_models::ModelUse;

use super::plan::{PlacedClip, Plan};
use super::CancelToken;
use crate::error::Result;
use crate::project::Project;
use crate::subtitles::Cue;
use crate::transcribe::{transcribe, TranscribeProgress, TranscribeRequest};

/// A cue shorter than this after clipping to a clip's range is left out: a word cut in half.
const MIN_CUE_S: f64 = 0.2;

/// Captions of a timeline and the models that wrote them.
#[derive(Debug, Clone, Default)]
pub struct TimelineTranscript {
    /// Cues on the timeline, in time order.
    pub cues: Vec<Cue>,
    pub models: Vec<ModelUse>,
}

/// Transcribes every source of `project` that has audio and places the cues on its
/// timeline. `language` is the spoken language (whisper code). Progress covers all sources.
pub fn transcribe_timeline(
    project: &Project,
    project_file: &Path,
    language: &str,
    cancel: &CancelToken,
    on_progress: &mut dyn FnMut(TranscribeProgress),
) -> Result<TimelineTranscript> {
    let plan = Plan::resolve(project, project_file)?;
    let audible: BTreeMap<&PathBuf, f64> = plan
        .sources
        .iter()
        .filter(|s| s.audio.is_some() && plan.clips.iter().any(|c| c.path == s.path))
        .map(|s| (&s.path, s.duration_s))
        .collect();
    let total_s: f64 = audible.values().sum();
    let mut done_s = 0.0;
    let mut result = TimelineTranscript::default();
    for (path, duration_s) in audible {
        let mut request = TranscribeRequest::new(path.clone());
        request.language = language.to_string();
        let transcript = transcribe(&request, cancel, &mut |p| {
            let position_s = done_s + p.position_s;
            on_progress(TranscribeProgress {
                fraction: position_s / total_s.max(1e-9),
                position_s,
                duration_s: total_s,
            });
        })?;
        done_s += duration_s;
        for clip in plan.clips.iter().filter(|c| &c.path == path) {
            result.cues.extend(place(&transcript.cues, clip));
        }
        for model in transcript.models {
            if !result.models.contains(&model) {
                result.models.push(model);
            }
        }
    }
    result.cues.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    Ok(result)
}

/// The cues of a source that fall inside `clip`, on the timeline.
fn place<'a>(cues: &'a [Cue], clip: &'a PlacedClip) -> impl Iterator<Item = Cue> + 'a {
    let (from, to) = (clip.in_s, clip.in_s + clip.duration_s);
    cues.iter().filter_map(move |cue| {
        let start = cue.start_s.max(from);
        let end = cue.end_s.min(to);
        (end - start >= MIN_CUE_S).then(|| Cue {
            start_s: start - from + clip.start_s,
            end_s: end - from + clip.start_s,
            text: cue.text.clone(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start_s: f64, end_s: f64, text: &str) -> Cue {
        Cue { start_s, end_s, text: text.into() }
    }

    #[test]
    fn cues_are_clipped_to_the_clip_and_moved_to_its_position() {
        let clip = PlacedClip { track: 0, path: "a.mp4".into(), start_s: 10.0, in_s: 2.0, duration_s: 3.0 };
        let cues =
            [cue(0.0, 1.0, "before"), cue(1.5, 2.5, "straddles in"), cue(3.0, 4.0, "inside"), cue(4.9, 6.0, "cut")];
        let placed: Vec<Cue> = place(&cues, &clip).collect();
        assert_eq!(placed, vec![cue(10.0, 10.5, "straddles in"), cue(11.0, 12.0, "inside")]);
    }
}
