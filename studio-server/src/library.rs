// SPDX-License-Identifier: MPL-2.0
//! The character and voice libraries: every character and voice of a user may be used by
//! any of their projects, whatever project it was made in. This module knows who uses an
//! entry (scene records, timeline scenes, project casts, characters' voices), deletes an
//! entry only when nothing uses it or its uses are detached in the same transaction, and
//! keeps the model versions each entry was analysed with, so that a render can tell when
//! the installed models are no longer those.

use std::collections::{BTreeMap, BTreeSet};

use reenact_models::Catalog;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AnyPool};
use utoipa::ToSchema;

use crate::db::characters::{self, CharacterRow};
use crate::db::projects::{self, ChangeError, ProjectRow};
use crate::db::voices::{self, VoiceRow};

/// One model as its installed manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModelVersion {
    pub name: String,
    pub version: String,
    pub sha256: String,
}

/// Catalog names of the models a portrait is analysed with: the face detector that
/// `gstreenact::facetrack::faces_in_picture` opens and the face mesh after it.
pub fn portrait_models() -> [&'static str; 2] {
    [gstreenact::facetrack::ReenactFaceTrackDetector::Back256.model_name(), "face_landmarks"]
}

/// The installed versions of `names`, in that order; names not installed are left out
/// (the analysis ran without them, as a voice does without the speaker model).
pub fn model_versions(catalog: &Catalog, names: &[&str]) -> Vec<ModelVersion> {
    names
        .iter()
        .filter_map(|name| catalog.entry(name))
        .map(|e| ModelVersion {
            name: e.model.name.clone(),
            version: e.model.version.clone(),
            sha256: e.model.sha256.clone(),
        })
        .collect()
}

/// The stored JSON list of an entry's models; an unreadable list reads as none.
pub fn parse_models(text: &str) -> Vec<ModelVersion> {
    serde_json::from_str(text).unwrap_or_default()
}

/// A project that uses a library entry, and how.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProjectUse {
    pub project_id: String,
    pub project_name: String,
    /// In words: `2 scenes`, `cast`, `voice of character “Lincoln”`.
    pub uses: Vec<String>,
}

/// Who uses what among one owner's projects, read once.
#[derive(Debug, Default)]
pub struct Usage {
    /// Project id -> name.
    projects: BTreeMap<String, String>,
    /// Character id -> project id -> (scenes, in the cast).
    characters: BTreeMap<String, BTreeMap<String, (usize, bool)>>,
    /// Character id -> (name, home project, voice).
    character_rows: BTreeMap<String, (String, String, Option<String>)>,
    /// Voice id -> home project.
    voice_homes: BTreeMap<String, String>,
}

impl Usage {
    /// Reads the uses among `owner`'s projects (in the caller's transaction when it is one).
    pub async fn load(conn: &mut AnyConnection, owner: &str) -> sqlx::Result<Usage> {
        let mut usage = Usage::default();
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT id, name, timeline FROM projects WHERE owner_id = $1")
                .bind(owner)
                .fetch_all(&mut *conn)
                .await?;
        for (id, name, timeline) in rows {
            for character in timeline_characters(&timeline) {
                usage.characters.entry(character).or_default().entry(id.clone()).or_default().0 += 1;
            }
            usage.projects.insert(id, name);
        }
        let scenes: Vec<(String, String)> =
            sqlx::query_as("SELECT project_id, character_id FROM scenes WHERE owner_id = $1")
                .bind(owner)
                .fetch_all(&mut *conn)
                .await?;
        for (project, character) in scenes {
            usage.characters.entry(character).or_default().entry(project).or_default().0 += 1;
        }
        let cast: Vec<(String, String)> =
            sqlx::query_as("SELECT project_id, character_id FROM project_cast WHERE owner_id = $1")
                .bind(owner)
                .fetch_all(&mut *conn)
                .await?;
        for (project, character) in cast {
            usage.characters.entry(character).or_default().entry(project).or_default().1 = true;
        }
        let characters: Vec<(String, String, String, Option<String>)> =
            sqlx::query_as("SELECT id, name, project_id, voice_id FROM characters WHERE owner_id = $1")
                .bind(owner)
                .fetch_all(&mut *conn)
                .await?;
        for (id, name, project, voice) in characters {
            usage.character_rows.insert(id, (name, project, voice));
        }
        let voices: Vec<(String, String)> = sqlx::query_as("SELECT id, project_id FROM voices WHERE owner_id = $1")
            .bind(owner)
            .fetch_all(&mut *conn)
            .await?;
        usage.voice_homes.extend(voices);
        Ok(usage)
    }

    /// Reads the uses among `owner`'s projects from the pool.
    pub async fn read(db: &AnyPool, owner: &str) -> sqlx::Result<Usage> {
        let mut conn = db.acquire().await?;
        Usage::load(&mut conn, owner).await
    }

    /// The projects that use character `id`: its scenes (records and timeline scenes) and
    /// casts, by project name.
    pub fn of_character(&self, id: &str) -> Vec<ProjectUse> {
        let mut found = Vec::new();
        for (project, (scenes, cast)) in self.characters.get(id).into_iter().flatten() {
            let mut uses = Vec::new();
            match scenes {
                0 => {}
                1 => uses.push("1 scene".to_string()),
                n => uses.push(format!("{n} scenes")),
            }
            if *cast {
                uses.push("cast".into());
            }
            found.push(self.project_use(project, uses));
        }
        sorted(found)
    }

    /// The projects that use voice `id`: each character with it, in the character's own
    /// project and in every project that uses the character.
    pub fn of_voice(&self, id: &str) -> Vec<ProjectUse> {
        let mut by_project: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (character, (name, home, voice)) in &self.character_rows {
            if voice.as_deref() != Some(id) {
                continue;
            }
            let what = format!("voice of character “{name}”");
            by_project.entry(home.clone()).or_default().insert(what.clone());
            for project in self.characters.get(character).into_iter().flat_map(|m| m.keys()) {
                by_project.entry(project.clone()).or_default().insert(what.clone());
            }
        }
        sorted(
            by_project
                .into_iter()
                .map(|(project, uses)| self.project_use(&project, uses.into_iter().collect()))
                .collect(),
        )
    }

    /// What keeps project `id` from being deleted: characters and voices made in it that
    /// other projects use (deleting the project would delete them under those projects).
    pub fn outside_uses_of_project(&self, id: &str) -> Vec<(String, Vec<ProjectUse>)> {
        let mut blocking = Vec::new();
        for (character, (name, home, _)) in &self.character_rows {
            if home != id {
                continue;
            }
            let elsewhere: Vec<_> = self.of_character(character).into_iter().filter(|u| u.project_id != id).collect();
            if !elsewhere.is_empty() {
                blocking.push((format!("character “{name}”"), elsewhere));
            }
        }
        for (voice, home) in &self.voice_homes {
            if home != id {
                continue;
            }
            let elsewhere: Vec<_> = self.of_voice(voice).into_iter().filter(|u| u.project_id != id).collect();
            if !elsewhere.is_empty() {
                blocking.push((format!("voice `{voice}`"), elsewhere));
            }
        }
        blocking
    }

    fn project_use(&self, project: &str, uses: Vec<String>) -> ProjectUse {
        ProjectUse {
            project_id: project.to_string(),
            project_name: self.projects.get(project).cloned().unwrap_or_default(),
            uses,
        }
    }
}

fn sorted(mut uses: Vec<ProjectUse>) -> Vec<ProjectUse> {
    uses.sort_by(|a, b| a.project_name.cmp(&b.project_name).then_with(|| a.project_id.cmp(&b.project_id)));
    uses
}

/// `projects “Apollo” (2 scenes), “Gettysburg” (cast)`: the uses in a refusal's words.
pub fn describe(uses: &[ProjectUse]) -> String {
    let each: Vec<String> = uses.iter().map(|u| format!("“{}” ({})", u.project_name, u.uses.join(", "))).collect();
    let noun = if uses.len() == 1 { "project" } else { "projects" };
    format!("{noun} {}", each.join(", "))
}

/// The character ids a stored timeline's scenes name.
pub fn timeline_characters(timeline: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(timeline).unwrap_or_default();
    value["scenes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["character"].as_str().map(str::to_owned))
        .collect()
}

/// What a delete did.
#[derive(Debug)]
pub enum Removal<T> {
    /// Gone, with every use detached; the row as it was.
    Deleted(T),
    /// Refused: these projects use it (and `?detach=true` was not asked for).
    InUse(Vec<ProjectUse>),
    NotFound,
}

/// Deletes character `id` of `owner`. While a project uses it, nothing changes and the uses
/// are returned, unless `detach`: then its scene records and casts go, and every project
/// whose timeline has scenes of it gets a new revision without them (undo brings them back
/// only while the character exists), all in the transaction that deletes it.
pub async fn delete_character(
    db: &AnyPool,
    owner: &str,
    id: &str,
    detach: bool,
) -> Result<Removal<CharacterRow>, ChangeError> {
    let mut tx = db.begin().await?;
    let Some(row) = characters::get_in(&mut tx, owner, id).await? else { return Ok(Removal::NotFound) };
    let uses = Usage::load(&mut tx, owner).await?.of_character(id);
    if !uses.is_empty() && !detach {
        return Ok(Removal::InUse(uses));
    }
    for project in &uses {
        let Some(mut project) = projects::get_in(&mut tx, owner, &project.project_id).await? else { continue };
        let mut timeline: serde_json::Value = serde_json::from_str(&project.timeline).unwrap_or_default();
        let Some(scenes) = timeline.get_mut("scenes").and_then(|s| s.as_array_mut()) else { continue };
        let before = scenes.len();
        scenes.retain(|s| s["character"].as_str() != Some(id));
        if scenes.len() == before {
            continue;
        }
        project.timeline = timeline.to_string();
        project.updated_at = crate::db::now();
        let expected = project.version;
        projects::commit_edit_in(&mut tx, &mut project, expected).await?;
    }
    if !characters::delete(&mut tx, owner, id).await? {
        return Ok(Removal::NotFound);
    }
    tx.commit().await?;
    Ok(Removal::Deleted(row))
}

/// Deletes voice `id` of `owner`. While a character has it, nothing changes and the
/// projects of those characters are returned, unless `detach`: then the characters lose the
/// voice (keeping their face) in the transaction that deletes it. No project revision is
/// written for that: a project's revisions hold its name and timeline, which name
/// characters, not voices, so there is nothing for undo to bring back.
pub async fn delete_voice(db: &AnyPool, owner: &str, id: &str, detach: bool) -> Result<Removal<VoiceRow>, ChangeError> {
    let mut tx = db.begin().await?;
    let Some(row) = voices::get_in(&mut tx, owner, id).await? else { return Ok(Removal::NotFound) };
    let usage = Usage::load(&mut tx, owner).await?;
    let uses = usage.of_voice(id);
    let voiced = characters::with_voice(&mut tx, owner, id).await?;
    if !voiced.is_empty() && !detach {
        return Ok(Removal::InUse(uses));
    }
    if !voices::delete(&mut tx, owner, id).await? {
        return Ok(Removal::NotFound);
    }
    tx.commit().await?;
    Ok(Removal::Deleted(row))
}

/// The character ids a project plays, each once: those made in it, those cast in it, and
/// those its scenes (records and timeline scenes) name, wherever they were made.
pub async fn project_cast_ids(db: &AnyPool, owner: &str, project: &ProjectRow) -> sqlx::Result<Vec<String>> {
    let mut ids: Vec<String> = characters::list(db, owner, &project.id).await?.into_iter().map(|c| c.id).collect();
    ids.extend(characters::cast_of(db, owner, &project.id).await?.into_iter().map(|c| c.id));
    ids.extend(crate::db::scenes::list(db, owner, &project.id).await?.into_iter().map(|s| s.character_id));
    ids.extend(timeline_characters(&project.timeline));
    let mut seen = BTreeSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    Ok(ids)
}

/// A voice as a render's cast record keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CastVoice {
    pub voice_id: String,
    pub name: String,
    pub models: Vec<ModelVersion>,
}

/// A character as a render's cast record keeps it: what it was analysed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CastEntry {
    pub character_id: String,
    pub name: String,
    pub models: Vec<ModelVersion>,
    pub voice: Option<CastVoice>,
}

/// The cast record of characters `ids` of `owner` (ids no longer found are left out).
pub async fn cast_record(db: &AnyPool, owner: &str, ids: &[String]) -> sqlx::Result<Vec<CastEntry>> {
    let mut record = Vec::new();
    for id in ids {
        let Some(row) = characters::get(db, owner, id).await? else { continue };
        let voice = match &row.voice_id {
            Some(voice) => voices::get(db, owner, voice).await?.map(|v| CastVoice {
                voice_id: v.id,
                name: v.name,
                models: parse_models(&v.models),
            }),
            None => None,
        };
        record.push(CastEntry { character_id: row.id, name: row.name, models: parse_models(&row.models), voice });
    }
    Ok(record)
}

/// A model an entry of a render's cast was analysed with that is no longer the one
/// installed (another version or other bytes), or no longer installed at all.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ModelChange {
    pub character_id: String,
    /// Set when the model is the character's voice's.
    pub voice_id: Option<String>,
    /// The character's or the voice's name.
    pub name: String,
    pub analysed_with: ModelVersion,
    /// `null` when the model is not installed now.
    pub installed: Option<ModelVersion>,
}

/// The models of `cast` that differ from those installed in `catalog`.
pub fn model_changes(cast: &[CastEntry], catalog: &Catalog) -> Vec<ModelChange> {
    let mut changes = Vec::new();
    for entry in cast {
        let voice = entry.voice.iter().flat_map(|v| v.models.iter().map(move |m| (Some(v), m)));
        for (voice, model) in entry.models.iter().map(|m| (None, m)).chain(voice) {
            let installed = model_versions(catalog, &[model.name.as_str()]).pop();
            if installed.as_ref() == Some(model) {
                continue;
            }
            changes.push(ModelChange {
                character_id: entry.character_id.clone(),
                voice_id: voice.map(|v| v.voice_id.clone()),
                name: voice.map_or(&entry.name, |v| &v.name).clone(),
                analysed_with: model.clone(),
                installed,
            });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_scenes_name_their_characters() {
        let timeline = r#"{"tracks": [], "scenes": [{"start": 0, "end": 1, "character": "a"}, {"start": 1, "end": 2, "character": "b"}]}"#;
        assert_eq!(timeline_characters(timeline), ["a", "b"]);
        assert!(timeline_characters("{}").is_empty());
        assert!(timeline_characters("not json").is_empty());
    }

    #[test]
    fn uses_are_told_in_words() {
        let uses = vec![
            ProjectUse { project_id: "1".into(), project_name: "Apollo".into(), uses: vec!["2 scenes".into()] },
            ProjectUse { project_id: "2".into(), project_name: "Gettysburg".into(), uses: vec!["cast".into()] },
        ];
        assert_eq!(describe(&uses), "projects “Apollo” (2 scenes), “Gettysburg” (cast)");
        assert_eq!(describe(&uses[..1]), "project “Apollo” (2 scenes)");
    }
}
