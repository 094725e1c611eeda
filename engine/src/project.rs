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
//! A scene with `"dub": "es"` speaks the lines of `"subtitles": {"es": "lines.es.srt"}` that
//! fall inside it (see [`crate::dub`]).
//! Relative source, character and subtitle paths are read from the project file's folder. Times are
//! seconds. Track 0 is the bottom layer; later tracks are drawn over it.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::languages::canonical_tag;

/// The latest time a project may name, in seconds (100 hours): far past any reenactment,
/// and far inside GStreamer's clock, which a time like `1e300` overflows.
pub const MAX_TIME_S: f64 = 360_000.0;

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
    /// Subtitle files (SRT or WebVTT) by language (a BCP 47 tag): the lines that scenes
    /// dubbed into that language speak.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subtitles: BTreeMap<String, PathBuf>,
    /// The scenes' face swaps keep what the performer holds in front of their face (a cup, a
    /// glove, hair) where its colour is not their skin's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub occlusion_mask: bool,
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
    /// A dubbed scene: the lines of the project's subtitles in this language (a BCP 47 tag)
    /// that fall inside the scene are spoken in its place, in the character's voice, the lips
    /// following (see [`crate::dub`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dub: Option<String>,
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
        for file in project.characters.values_mut().chain(project.subtitles.values_mut()) {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
        Ok(project)
    }

    /// Parses and checks project JSON; `file` only names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<Self> {
        // serde also reads a struct from an array of its fields in order; a project is an object.
        if !text.trim_start().starts_with('{') {
            return Err(EngineError::invalid(
                file,
                "project",
                "expected a JSON object `{ \"sources\": .., \"tracks\": .. }`",
            ));
        }
        let de = &mut serde_json::Deserializer::from_str(text);
        let project: Project = serde_path_to_error::deserialize(de).map_err(|err| {
            // A cut inside a key leaves an unknown last segment (`?`): name what holds it.
            let path = err.path().to_string();
            let field = path.trim_end_matches('?').trim_end_matches('.');
            let field = if field.is_empty() { "project" } else { field };
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
            subtitles: BTreeMap::new(),
            occlusion_mask: false,
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
        check_scenes(&self.scenes, file)?;
        self.check_subtitles(file)
    }

    /// Every `subtitles` key is a language tag, and every dubbed scene's language has a file.
    fn check_subtitles(&self, file: &Path) -> Result<()> {
        let mut languages = HashSet::new();
        for language in self.subtitles.keys() {
            let tag = canonical_tag(language)
                .map_err(|e| EngineError::invalid(file, format!("subtitles.{language}"), e.to_string()))?;
            if !languages.insert(tag) {
                return Err(EngineError::invalid(
                    file,
                    format!("subtitles.{language}"),
                    "this language is given twice",
                ));
            }
        }
        for (i, scene) in self.scenes.iter().enumerate() {
            let Some(dub) = &scene.dub else { continue };
            let tag = canonical_tag(dub).expect("checked with the scenes");
            if !languages.contains(&tag) {
                let cause = format!("no subtitles in `{tag}` to speak: name the file of its lines under `subtitles`");
                return Err(EngineError::invalid(file, format!("scenes[{i}].dub"), cause));
            }
        }
        Ok(())
    }

    /// The subtitle file of `language` (any case of its tag).
    pub fn subtitles_in(&self, language: &str) -> Option<&PathBuf> {
        let tag = canonical_tag(language).ok()?;
        self.subtitles.iter().find(|(l, _)| canonical_tag(l).is_ok_and(|l| l == tag)).map(|(_, path)| path)
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
        if let Some(end) = timeline.end(length) {
            for (i, scene) in timeline.scenes.iter().enumerate() {
                // Times are stored as typed; a client rounding them is not an error.
                if scene.end > end + 1e-3 {
                    return Err(EngineError::invalid(
                        file,
                        format!("scenes[{i}].end"),
                        format!("{} is past the timeline's end ({end} s)", scene.end),
                    ));
                }
            }
        }
        Ok(timeline)
    }

    /// Where the last clip ends on the timeline, in seconds; `None` without clips (scenes
    /// may then be laid out before the media arrives) or when a source's length is unknown.
    pub fn end(&self, length: &dyn Fn(&str) -> Option<f64>) -> Option<f64> {
        let mut end: Option<f64> = None;
        for track in &self.tracks {
            let mut cursor = 0.0;
            for clip in &track.clips {
                let out = clip.out_s.or_else(|| length(&clip.source))?;
                let start = clip.position.unwrap_or(cursor);
                cursor = start + (out - clip.in_s);
                end = Some(end.map_or(cursor, |e: f64| e.max(cursor)));
            }
        }
        end
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
                    return bad(
                        format!("{at}.out"),
                        format!("{out} must be greater than in ({}) and at most {MAX_TIME_S} s", clip.in_s),
                    );
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
        if let Some(dub) = &scene.dub {
            canonical_tag(dub).map_err(|e| EngineError::invalid(file, format!("scenes[{i}].dub"), e.to_string()))?;
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
        assert_eq!(err, "p.json: tracks[0].clips[0].out: 2 must be greater than in (3) and at most 360000 s");
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
    fn scene_past_the_last_clip_is_refused() {
        let clips = serde_json::json!([{ "source": "a", "in": 2, "out": 6 }, { "source": "a", "position": 5 }]);
        let ok = serde_json::json!({ "tracks": [{ "clips": clips }], "scenes": [{ "start": 1, "end": 15, "character": "x" }] });
        assert_eq!(timeline(ok).unwrap().end(&|_| Some(10.0)), Some(15.0));
        let late = serde_json::json!({ "tracks": [{ "clips": clips }], "scenes": [{ "start": 1, "end": 15.5, "character": "x" }] });
        let err = timeline(late).unwrap_err().to_string();
        assert_eq!(err, "timeline: scenes[0].end: 15.5 is past the timeline's end (15 s)");
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

/// Property tests: any JSON, and valid projects with one part broken, either parse into a
/// checked project or fail naming the file and a field; valid projects round-trip.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use proptest::sample::Index;
    use serde_json::Value;

    use super::*;

    const FILE: &str = "p.json";
    const TOP_LEVEL: &[&str] =
        &["project", "title", "author", "sources", "tracks", "scenes", "characters", "subtitles"];
    /// The fields a project has, so generated objects often look like parts of one.
    const KEYS: &[&str] = &[
        "title",
        "author",
        "sources",
        "tracks",
        "scenes",
        "characters",
        "id",
        "path",
        "clips",
        "source",
        "in",
        "out",
        "position",
        "start",
        "end",
        "character",
        "voice_over",
        "dub",
        "subtitles",
    ];

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![3 => prop::sample::select(KEYS).prop_map(String::from), 1 => "[a-z_]{0,6}"]
    }

    fn number() -> impl Strategy<Value = Value> {
        prop_oneof![
            prop::sample::select(&[0.0, -0.0, -5.0, 1e300, -1e300, 1.8e10, 2.5, 1e-9][..]).prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
        ]
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            number(),
            prop_oneof![prop::sample::select(KEYS).prop_map(String::from), "\\PC{0,12}"].prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn time() -> impl Strategy<Value = f64> {
        prop_oneof![Just(0.0), 0.0..100_000.0f64]
    }

    /// A project that passes validation: unique ids, clips on known sources, ordered times.
    fn valid_project() -> impl Strategy<Value = Project> {
        let sources = prop::collection::vec(("[a-z0-9]{1,8}", "\\PC{1,24}"), 1..4).prop_map(|sources| {
            let sources: Vec<Source> = sources
                .into_iter()
                .enumerate()
                .map(|(i, (id, path))| Source { id: format!("{id}-{i}"), path: PathBuf::from(path) })
                .collect();
            sources
        });
        let clip = (any::<Index>(), time(), prop::option::of(0.001..10_000.0f64), prop::option::of(time()));
        let clips = prop::collection::vec(clip, 1..4);
        let scene = (time(), 0.001..1000.0f64, "\\PC{1,12}", any::<bool>());
        (
            "\\PC{0,20}",
            "\\PC{0,20}",
            sources,
            prop::collection::vec(clips, 1..3),
            prop::collection::vec(scene, 0..3),
            prop::collection::btree_map("\\PC{1,8}", "\\PC{1,24}", 0..2),
        )
            .prop_map(|(title, author, sources, tracks, scenes, characters)| {
                let tracks = tracks
                    .into_iter()
                    .map(|clips| Track {
                        clips: clips
                            .into_iter()
                            .map(|(source, in_s, length, position)| Clip {
                                source: source.get(&sources).id.clone(),
                                in_s,
                                out_s: length.map(|l| in_s + l),
                                position,
                            })
                            .collect(),
                    })
                    .collect();
                let scenes = scenes
                    .into_iter()
                    .map(|(start, length, character, voice_over)| Scene {
                        start,
                        end: start + length,
                        character,
                        voice_over,
                        dub: None,
                    })
                    .collect();
                let characters = characters.into_iter().map(|(k, v)| (k, PathBuf::from(v))).collect();
                Project {
                    title,
                    author,
                    sources,
                    tracks,
                    scenes,
                    characters,
                    subtitles: BTreeMap::new(),
                    occlusion_mask: false,
                }
            })
    }

    /// One change to a valid project's JSON.
    #[derive(Debug, Clone)]
    enum Mutation {
        Replace(Value),
        Remove,
        AddField(String, Value),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            3 => json().prop_map(Mutation::Replace),
            1 => Just(Mutation::Remove),
            1 => (key(), json()).prop_map(|(k, v)| Mutation::AddField(k, v)),
        ]
    }

    /// JSON pointers of every value in `value`, the root first.
    fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        match value {
            Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| pointers(v, format!("{at}/{i}"), out)),
            Value::Object(map) => map
                .iter()
                .for_each(|(k, v)| pointers(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out)),
            _ => {}
        }
    }

    fn mutate(value: &mut Value, pointer: &str, change: Mutation) {
        match change {
            Mutation::Replace(new) => *value.pointer_mut(pointer).expect("listed pointer") = new,
            Mutation::AddField(k, v) => {
                if let Some(Value::Object(map)) = value.pointer_mut(pointer) {
                    map.insert(k, v);
                }
            }
            Mutation::Remove => {
                let Some((parent, last)) = pointer.rsplit_once('/') else { return };
                let last = last.replace("~1", "/").replace("~0", "~");
                match value.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&last);
                    }
                    Some(Value::Array(items)) => {
                        items.remove(last.parse::<usize>().expect("array index"));
                    }
                    _ => {}
                }
            }
        }
    }

    /// What every parse must give: a project that holds the checked rules, or an error
    /// that names the file and a field of the project.
    fn check(text: &str) -> std::result::Result<(), TestCaseError> {
        match Project::parse(Path::new(FILE), text) {
            Ok(project) => {
                prop_assert!(!project.sources.is_empty());
                let ids: HashSet<&str> = project.sources.iter().map(|s| s.id.as_str()).collect();
                prop_assert_eq!(ids.len(), project.sources.len());
                let clips: Vec<&Clip> = project.tracks.iter().flat_map(|t| &t.clips).collect();
                prop_assert!(!clips.is_empty());
                let mut times = Vec::new();
                for clip in clips {
                    prop_assert!(ids.contains(clip.source.as_str()));
                    times.extend([Some(clip.in_s), clip.out_s, clip.position].into_iter().flatten());
                }
                for scene in &project.scenes {
                    prop_assert!(scene.end > scene.start);
                    times.extend([scene.start, scene.end]);
                }
                // Every accepted time becomes a GStreamer clock time (u64 nanoseconds, MAX = none).
                for t in times {
                    prop_assert!(t.is_finite() && t >= 0.0 && (t * 1e9).round() < u64::MAX as f64, "time {t}");
                }
            }
            Err(EngineError::Invalid { file, field, cause }) => {
                prop_assert_eq!(file, PathBuf::from(FILE));
                // The path starts at a project field, or is the unknown field itself (whose
                // name may hold `.` or `[`, as `{".x": 1}` does).
                let top = field.split(['.', '[']).next().unwrap_or_default();
                let unknown = |name: &str| cause.starts_with(&format!("unknown field `{name}`"));
                let known = TOP_LEVEL.contains(&top) || unknown(top) || unknown(&field);
                prop_assert!(known, "field `{}` ({})", field, cause);
                prop_assert!(!cause.trim().is_empty());
            }
            Err(other) => prop_assert!(false, "not an Invalid error: {other}"),
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_json_is_checked_or_refused_by_field(value in json()) {
            check(&value.to_string())?;
        }

        #[test]
        fn any_text_is_checked_or_refused_by_field(text in "\\PC{0,80}") {
            check(&text)?;
        }

        #[test]
        fn valid_projects_round_trip(project in valid_project(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&project) } else { serde_json::to_string(&project) };
            let back = Project::parse(Path::new(FILE), &text.unwrap());
            prop_assert_eq!(back.unwrap(), project);
        }

        #[test]
        fn broken_valid_projects_are_checked_or_refused_by_field(
            project in valid_project(),
            at in any::<Index>(),
            change in mutation(),
        ) {
            let mut value = serde_json::to_value(&project).unwrap();
            let mut all = Vec::new();
            pointers(&value, String::new(), &mut all);
            let pointer = at.get(&all).clone();
            mutate(&mut value, &pointer, change);
            check(&value.to_string())?;
        }

        #[test]
        fn cut_valid_projects_are_refused_by_field(project in valid_project(), at in any::<Index>()) {
            let text = serde_json::to_string(&project).unwrap();
            let cut = text.char_indices().map(|(i, _)| i).nth(at.index(text.chars().count())).unwrap_or(0);
            check(&text[..cut])?;
        }
    }
}
