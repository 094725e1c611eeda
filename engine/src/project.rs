// SPDX-License-Identifier: MPL-2.0
//! The project file (JSON): sources, a timeline of tracks and clips, scenes
//! that give a stretch of time to a character, and the credits.
//!
//! ```json
//! {
//!   "title": "Lincoln at Gettysburg", "author": "City Museum",
//!   "sources": [{ "id": "take1", "path": "take1.mp4" }],
//!   "tracks": [{ "clips": [{ "source": "take1", "in": 2.0, "out": 9.5, "position": 0.0 }] }],
//!   "scenes": [{ "start": 0.0, "end": 7.5, "character": "lincoln" }],
//!   "characters": { "lincoln": "lincoln.character.json" }
//! }
//! ```
//! Relative source and character paths are read from the project file's folder. Times are
//! seconds. Track 0 is the bottom layer; later tracks are drawn over it.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// A whole project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub author: String,
    pub sources: Vec<Source>,
    pub tracks: Vec<Track>,
    #[serde(default)]
    pub scenes: Vec<Scene>,
    /// Character files by the names scenes use; a name not listed here is
    /// read from `NAME.character.json` beside the project file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub characters: BTreeMap<String, PathBuf>,
}

/// A media file the timeline cuts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: String,
    pub path: PathBuf,
}

/// One layer of clips; clips on a track must not overlap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Track {
    pub clips: Vec<Clip>,
}

/// A stretch `[in, out)` of a source placed at `position` on the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clip {
    pub source: String,
    #[serde(rename = "in", default)]
    pub in_s: f64,
    /// End in the source; absent for "to the end of the source".
    #[serde(rename = "out", default)]
    pub out_s: Option<f64>,
    /// Start on the timeline; absent for "right after the previous clip".
    #[serde(default)]
    pub position: Option<f64>,
}

/// A time range of the timeline played by a character.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    pub start: f64,
    pub end: f64,
    pub character: String,
    /// A voice-over line: the character's portrait fills the picture and
    /// speaks the scene's sound (instead of the performer's face becoming
    /// the character's).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub voice_over: bool,
}

impl Project {
    /// Reads a project JSON file; relative source paths become absolute.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EngineError::Unreadable { path: path.to_path_buf(), cause: e.to_string() })?;
        let mut project = Self::parse(path, &text)?;
        let base = path.parent().unwrap_or(Path::new("."));
        for source in &mut project.sources {
            if source.path.is_relative() {
                source.path = base.join(&source.path);
            }
        }
        for file in project.characters.values_mut() {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
        Ok(project)
    }

    /// Parses and checks project JSON; `file` only names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let project: Project = serde_path_to_error::deserialize(de).map_err(|err| {
            let field = match err.path().to_string() {
                p if p == "." => "project".to_string(),
                p => p,
            };
            EngineError::invalid(file, field, err.inner().to_string())
        })?;
        project.validate(file)?;
        Ok(project)
    }

    /// A bare media file as a project of one clip.
    pub fn from_media(path: &Path) -> Self {
        let title = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Project {
            title,
            author: String::new(),
            sources: vec![Source { id: "main".into(), path: path.to_path_buf() }],
            tracks: vec![Track {
                clips: vec![Clip { source: "main".into(), in_s: 0.0, out_s: None, position: Some(0.0) }],
            }],
            scenes: Vec::new(),
            characters: BTreeMap::new(),
        }
    }

    /// Checks what can be checked without opening the media.
    fn validate(&self, file: &Path) -> Result<()> {
        let bad = |field: String, cause: String| Err(EngineError::invalid(file, field, cause));
        if self.sources.is_empty() {
            return bad("sources".into(), "a project needs at least one source".into());
        }
        let mut ids = HashSet::new();
        for (i, source) in self.sources.iter().enumerate() {
            if source.id.is_empty() {
                return bad(format!("sources[{i}].id"), "must not be empty".into());
            }
            if !ids.insert(source.id.as_str()) {
                return bad(format!("sources[{i}].id"), format!("`{}` is used twice", source.id));
            }
        }
        if self.tracks.iter().all(|t| t.clips.is_empty()) {
            return bad("tracks".into(), "the timeline has no clips".into());
        }
        // A project file's sources are not opened here, so their lengths are unknown.
        check_tracks(&self.tracks, file, &|id| ids.contains(id).then_some(None))?;
        check_scenes(&self.scenes, file)
    }

    /// The source with `id`.
    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }

    /// True when the timeline is one whole source from its start: the graph
    /// can then decode the file directly, without the editing layer.
    pub fn is_single_whole_clip(&self) -> bool {
        let clips: Vec<&Clip> = self.tracks.iter().flat_map(|t| &t.clips).collect();
        matches!(clips.as_slice(), [clip] if clip.in_s == 0.0 && clip.out_s.is_none() && clip.position.unwrap_or(0.0) == 0.0)
    }
}

/// Longest time a project may name, in seconds (a day): beyond it a number is a mistake or
/// an attack on the renderer's arithmetic, not a reenactment.
pub const MAX_TIME_S: f64 = 24.0 * 3600.0;

/// The timeline of a project being edited: tracks and scenes whose `source` names a clip the
/// caller knows (the server's clip ids), without files. It may be empty while it is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeline {
    #[serde(default)]
    pub tracks: Vec<Track>,
    #[serde(default)]
    pub scenes: Vec<Scene>,
}

impl Timeline {
    /// Reads and checks a timeline from JSON. `length` gives the duration in seconds of each
    /// source the timeline may use (`None` for a source it does not know); `file` only names
    /// the timeline in errors. Nothing is opened: the checks are of structure and numbers.
    pub fn from_json(file: &Path, value: serde_json::Value, length: &dyn Fn(&str) -> Option<f64>) -> Result<Self> {
        let timeline: Timeline = serde_path_to_error::deserialize(value).map_err(|err| {
            let field = match err.path().to_string() {
                p if p == "." => "timeline".to_string(),
                p => p,
            };
            EngineError::invalid(file, field, err.inner().to_string())
        })?;
        check_tracks(&timeline.tracks, file, &|id| length(id).map(Some))?;
        check_scenes(&timeline.scenes, file)?;
        Ok(timeline)
    }
}

/// Whether `t` is a time a project may name: finite, from 0 to [`MAX_TIME_S`].
fn is_time(t: f64) -> bool {
    t.is_finite() && (0.0..=MAX_TIME_S).contains(&t)
}

/// Every clip names a known source and cuts a stretch `[in, out)` of it. `source` answers
/// `None` for an unknown id, else the source's length when it is known.
fn check_tracks(tracks: &[Track], file: &Path, source: &dyn Fn(&str) -> Option<Option<f64>>) -> Result<()> {
    let bad = |field: String, cause: String| Err(EngineError::invalid(file, field, cause));
    for (t, track) in tracks.iter().enumerate() {
        for (c, clip) in track.clips.iter().enumerate() {
            let at = format!("tracks[{t}].clips[{c}]");
            let Some(length) = source(&clip.source) else {
                return bad(format!("{at}.source"), format!("no source has id `{}`", clip.source));
            };
            if !is_time(clip.in_s) {
                return bad(format!("{at}.in"), format!("{} must be a time from 0 to {MAX_TIME_S} s", clip.in_s));
            }
            if let Some(length) = length {
                if clip.in_s >= length {
                    return bad(
                        format!("{at}.in"),
                        format!("{} is not before the source's end ({length} s)", clip.in_s),
                    );
                }
            }
            if let Some(out) = clip.out_s {
                if !(is_time(out) && out > clip.in_s) {
                    return bad(format!("{at}.out"), format!("{out} must be greater than in ({})", clip.in_s));
                }
                // Durations are stored as probed; a client rounding them is not an error.
                if let Some(length) = length.filter(|length| out > length + 1e-3) {
                    return bad(format!("{at}.out"), format!("{out} is past the source's end ({length} s)"));
                }
            }
            if let Some(pos) = clip.position {
                if !is_time(pos) {
                    return bad(format!("{at}.position"), format!("{pos} must be a time from 0 to {MAX_TIME_S} s"));
                }
            }
        }
    }
    Ok(())
}

/// Every scene is a time range of the timeline played by a named character.
fn check_scenes(scenes: &[Scene], file: &Path) -> Result<()> {
    for (i, scene) in scenes.iter().enumerate() {
        if !(is_time(scene.start) && is_time(scene.end) && scene.end > scene.start) {
            return Err(EngineError::invalid(
                file,
                format!("scenes[{i}]"),
                format!("start {} .. end {} is not a time range within {MAX_TIME_S} s", scene.start, scene.end),
            ));
        }
        if scene.character.is_empty() {
            return Err(EngineError::invalid(file, format!("scenes[{i}].character"), "must not be empty"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Project> {
        Project::parse(Path::new("p.json"), text)
    }

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let err = parse(r#"{"sources":[{"id":"a","path":"a.mp4"}],"tracks":[{"clips":[{"source":"a","outt":3}]}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("p.json: tracks[0].clips[0]"), "{err}");
        assert!(err.contains("unknown field `outt`"), "{err}");
    }

    #[test]
    fn out_before_in_is_rejected() {
        let err =
            parse(r#"{"sources":[{"id":"a","path":"a.mp4"}],"tracks":[{"clips":[{"source":"a","in":3,"out":2}]}]}"#)
                .unwrap_err()
                .to_string();
        assert_eq!(err, "p.json: tracks[0].clips[0].out: 2 must be greater than in (3)");
    }

    #[test]
    fn unknown_source_is_rejected() {
        let err = parse(r#"{"sources":[{"id":"a","path":"a.mp4"}],"tracks":[{"clips":[{"source":"b"}]}]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "p.json: tracks[0].clips[0].source: no source has id `b`");
    }

    #[test]
    fn bare_file_is_a_single_whole_clip() {
        let project = Project::from_media(Path::new("/m/take.mp4"));
        assert!(project.is_single_whole_clip());
        assert_eq!(project.title, "take");
    }

    fn timeline(value: serde_json::Value) -> Result<Timeline> {
        let length = |id: &str| (id == "a").then_some(10.0);
        Timeline::from_json(Path::new("timeline"), value, &length)
    }

    #[test]
    fn timeline_numbers_and_sources_are_checked_field_by_field() {
        let clip = |c: serde_json::Value| serde_json::json!({ "tracks": [{ "clips": [{ "source": "a" }, c] }] });
        let cases = [
            (clip(serde_json::json!({ "source": "a", "in": -5 })), "tracks[0].clips[1].in"),
            (clip(serde_json::json!({ "source": "b" })), "tracks[0].clips[1].source"),
            (clip(serde_json::json!({ "source": "a", "position": 1e300 })), "tracks[0].clips[1].position"),
            (clip(serde_json::json!({ "source": "a", "in": 4, "out": 4 })), "tracks[0].clips[1].out"),
            (clip(serde_json::json!({ "source": "a", "out": 12 })), "tracks[0].clips[1].out"),
            (clip(serde_json::json!({ "source": "a", "in": 10 })), "tracks[0].clips[1].in"),
            (clip(serde_json::json!({ "source": "a", "in": "NaN" })), "tracks[0].clips[1].in"),
            (
                serde_json::json!({ "tracks": [], "scenes": [{ "start": 1, "end": 1e300, "character": "x" }] }),
                "scenes[0]",
            ),
            (serde_json::json!({ "tracks": [], "extra": 1 }), "extra"),
        ];
        for (value, field) in cases {
            let err = timeline(value.clone()).unwrap_err();
            let EngineError::Invalid { field: got, .. } = &err else { panic!("{err}") };
            assert_eq!(got, field, "{value}: {err}");
        }
    }

    #[test]
    fn an_empty_or_complete_timeline_passes() {
        assert!(timeline(serde_json::json!({})).unwrap().tracks.is_empty());
        let ok = serde_json::json!({ "tracks": [{ "clips": [{ "source": "a", "in": 1, "out": 10.0005, "position": 0 }] }],
                                     "scenes": [{ "start": 0, "end": 3, "character": "x" }] });
        assert_eq!(timeline(ok).unwrap().tracks[0].clips.len(), 1);
    }
}
