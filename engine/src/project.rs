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
        for (t, track) in self.tracks.iter().enumerate() {
            for (c, clip) in track.clips.iter().enumerate() {
                let at = format!("tracks[{t}].clips[{c}]");
                if !ids.contains(clip.source.as_str()) {
                    return bad(format!("{at}.source"), format!("no source has id `{}`", clip.source));
                }
                if !(clip.in_s.is_finite() && clip.in_s >= 0.0) {
                    return bad(format!("{at}.in"), format!("{} must be a time >= 0", clip.in_s));
                }
                if let Some(out) = clip.out_s {
                    if !(out.is_finite() && out > clip.in_s) {
                        return bad(format!("{at}.out"), format!("{out} must be greater than in ({})", clip.in_s));
                    }
                }
                if let Some(pos) = clip.position {
                    if !(pos.is_finite() && pos >= 0.0) {
                        return bad(format!("{at}.position"), format!("{pos} must be a time >= 0"));
                    }
                }
            }
        }
        for (i, scene) in self.scenes.iter().enumerate() {
            if !(scene.start.is_finite() && scene.start >= 0.0 && scene.end > scene.start) {
                return bad(
                    format!("scenes[{i}]"),
                    format!("start {} .. end {} is not a time range", scene.start, scene.end),
                );
            }
            if scene.character.is_empty() {
                return bad(format!("scenes[{i}].character"), "must not be empty".into());
            }
        }
        Ok(())
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
}
