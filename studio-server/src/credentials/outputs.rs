// SPDX-License-Identifier: MPL-2.0
//! Credentials for what the engine reports it made: a render's files and thumbnails, a
//! cloned voice, a live show's recordings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use reenact_engine::live::ShowRecord;
use reenact_engine::metadata::RenderMetadata;
use reenact_engine::{RenderOutput, VoiceCloneReport};

use super::provenance::{CharacterRecord, IngredientRecord, Kind, ModelRecord, Provenance, RightsRecord};
use super::{sign_file, CredentialError, Placement, SigningIdentity};

/// Hashes of ingredient files, so a file shared by several outputs is read once.
#[derive(Debug, Default)]
pub struct IngredientCache(HashMap<(PathBuf, String, bool), IngredientRecord>);

impl IngredientCache {
    fn get(&mut self, path: &Path, role: &str, parent: bool) -> Result<IngredientRecord, CredentialError> {
        let key = (path.to_path_buf(), role.to_owned(), parent);
        if let Some(found) = self.0.get(&key) {
            return Ok(found.clone());
        }
        let record = IngredientRecord::from_file(path, role, parent).map_err(|e| CredentialError::io(path, e))?;
        self.0.insert(key, record.clone());
        Ok(record)
    }
}

/// What a rendered file states: the source clips it edited, the characters and models.
pub fn render_provenance(
    metadata: &RenderMetadata,
    catalog: Option<&reenact_models::Catalog>,
    cache: &mut IngredientCache,
) -> Result<Provenance, CredentialError> {
    let mut ingredients = Vec::new();
    for (i, source) in metadata.sources.iter().enumerate() {
        // The first source is the recording being edited; further ones are cut into it.
        ingredients.push(cache.get(source, "source clip", i == 0)?);
    }
    let mut characters: Vec<CharacterRecord> = Vec::new();
    for scene in &metadata.scenes {
        let mut algorithms = vec![scene.face.clone()];
        algorithms.extend(scene.voice.iter().chain(scene.lips.iter()).cloned());
        match characters.iter_mut().find(|c| c.name == scene.character) {
            Some(known) => {
                for a in algorithms {
                    if !known.algorithms.contains(&a) {
                        known.algorithms.push(a);
                    }
                }
            }
            None => {
                let (rights, voice_rights) = character_rights(&scene.character_file);
                characters.push(CharacterRecord { name: scene.character.clone(), algorithms, rights, voice_rights });
                if scene.character_file.is_file() {
                    ingredients.push(cache.get(
                        &scene.character_file,
                        "character (portrait and voice profile)",
                        false,
                    )?);
                }
            }
        }
    }
    Ok(Provenance {
        title: metadata.title.clone(),
        author: metadata.author.clone(),
        created_at: metadata.created_at.clone(),
        kind: Kind::Composite,
        ingredients,
        models: metadata.models.iter().map(|m| ModelRecord::from_use(m, catalog)).collect(),
        characters,
        disclosure: metadata.disclosure.clone(),
    })
}

/// The rights records of a character file, as the credential states them: the face's, and
/// the voice's own when it has one.
pub(super) fn character_rights(file: &Path) -> (Option<RightsRecord>, Option<RightsRecord>) {
    let Ok(character) = gstreenact::character::Character::load(file) else { return (None, None) };
    let voice = character.voice.and_then(|v| v.rights).map(RightsRecord::from);
    (character.rights.map(RightsRecord::from), voice)
}

/// Signs each output file and its thumbnails; returns every file signed and where its manifest went.
pub fn sign_render_outputs(
    identity: &SigningIdentity,
    outputs: &[RenderOutput],
) -> Result<Vec<(PathBuf, Placement)>, CredentialError> {
    let catalog = reenact_models::Catalog::load().ok();
    let mut cache = IngredientCache::default();
    let mut signed = Vec::new();
    for output in outputs {
        let provenance = render_provenance(&output.metadata, catalog.as_ref(), &mut cache)?;
        for file in std::iter::once(&output.file).chain(&output.thumbnails) {
            signed.push((file.clone(), sign_file(identity, &provenance, file)?));
        }
    }
    Ok(signed)
}

/// Signs a cloned voice: generated speech, with the character it imitates as a component.
pub fn sign_voice_clone(
    identity: &SigningIdentity,
    report: &VoiceCloneReport,
    character_file: &Path,
    author: &str,
) -> Result<Placement, CredentialError> {
    let catalog = reenact_models::Catalog::load().ok();
    let ingredient = IngredientRecord::from_file(character_file, "character voice profile", false)
        .map_err(|e| CredentialError::io(character_file, e))?;
    let (rights, voice_rights) = character_rights(character_file);
    let provenance = Provenance {
        title: report.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        author: author.to_owned(),
        created_at: reenact_engine::metadata::now_rfc3339(),
        kind: Kind::Generated,
        ingredients: vec![ingredient],
        models: report.models.iter().map(|m| ModelRecord::from_use(m, catalog.as_ref())).collect(),
        characters: vec![CharacterRecord {
            name: report.character.clone(),
            algorithms: vec![report.algorithm.clone()],
            rights,
            voice_rights,
        }],
        disclosure: report.disclosure.clone(),
    };
    sign_file(identity, &provenance, &report.file)
}

/// What a live show's recording states: the camera composited with the characters played,
/// the models of every element that was on at some point (the characters' own voice models
/// included), and each character's rights.
pub fn live_provenance(
    show: &ShowRecord,
    title: &str,
    author: &str,
    catalog: Option<&reenact_models::Catalog>,
) -> Result<Provenance, CredentialError> {
    let mut ingredients = Vec::new();
    let mut characters = Vec::new();
    let mut used: Vec<reenact_models::ModelUse> = Vec::new();
    // `known`: the version the show recorded, for what no catalog entry names (Apertium's
    // modes).
    let mut add = |name: &str, element: &str, known: &str| {
        if !used.iter().any(|m| m.name == name) {
            let version =
                catalog.and_then(|c| c.entry(name)).map(|e| e.model.version.clone()).unwrap_or_else(|| known.into());
            used.push(reenact_models::ModelUse { name: name.into(), version, element: element.into() });
        }
    };
    for element in show.elements.on() {
        let models = reenact_engine::live::element_models(element, &show.caption_language)
            .map_err(|e| CredentialError::Config(format!("models of the live elements: {e}")))?;
        for name in models {
            add(name, &format!("{element:?}").to_lowercase(), "");
        }
    }
    for model in &show.dub_models {
        add(&model.name, "dub", &model.version);
    }
    let on = show.elements;
    let algorithms: Vec<String> = [(on.faceswap, "faceswap"), (on.voice, "voice"), (on.lipsync, "lipsync")]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| name.to_owned())
        .collect();
    for (name, file) in &show.characters {
        ingredients.push(
            IngredientRecord::from_file(file, "character (portrait and voice profile)", false)
                .map_err(|e| CredentialError::io(file, e))?,
        );
        if let Ok(character) = gstreenact::character::Character::load(file) {
            for model in character.own_models() {
                add(model, "voice", "");
            }
            if character.face == gstreenact::character::FaceMode::Animate {
                for model in catalog.map(|c| c.portrait_animation().0).unwrap_or_default() {
                    add(model, "animate", "");
                }
            }
        }
        let (rights, voice_rights) = character_rights(file);
        characters.push(CharacterRecord { name: name.clone(), algorithms: algorithms.clone(), rights, voice_rights });
    }
    Ok(Provenance {
        title: title.to_owned(),
        author: author.to_owned(),
        created_at: reenact_engine::metadata::now_rfc3339(),
        kind: Kind::Composite,
        ingredients,
        models: used.iter().map(|m| ModelRecord::from_use(m, catalog)).collect(),
        characters,
        disclosure: reenact_engine::metadata::DISCLOSURE.into(),
    })
}

/// Signs each finished recording of a live show (those that exist: a show stopped before its
/// first keyframe wrote none); returns every file signed and where its manifest went.
pub fn sign_live_recordings(
    identity: &SigningIdentity,
    show: &ShowRecord,
    author: &str,
) -> Result<Vec<(PathBuf, Placement)>, CredentialError> {
    let catalog = reenact_models::Catalog::load().ok();
    let mut signed = Vec::new();
    for file in show.recordings.iter().filter(|f| f.is_file()) {
        let title = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let provenance = live_provenance(show, &title, author, catalog.as_ref())?;
        signed.push((file.clone(), sign_file(identity, &provenance, file)?));
    }
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dub_s_translation_keeps_the_version_the_show_recorded() {
        let used = |name: &str, version: &str| reenact_models::ModelUse {
            name: name.into(),
            version: version.into(),
            element: "dub".into(),
        };
        let show = ShowRecord {
            dub_models: vec![used("apertium:eng-spa", "0.8.1-2 (Debian 12)"), used("whisper_base_q8_0", "")],
            ..ShowRecord::default()
        };
        let provenance = live_provenance(&show, "show", "museum", None).expect("provenance");
        let versions: Vec<_> = provenance.models.iter().map(|m| (m.name.as_str(), m.version.as_str())).collect();
        assert_eq!(versions, [("apertium:eng-spa", "0.8.1-2 (Debian 12)"), ("whisper_base_q8_0", "")]);
    }
}
