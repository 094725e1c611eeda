// SPDX-License-Identifier: MPL-2.0
//! What a credential says about a file: how it was made (created by a model, or a recording
//! composited with model output), from which ingredients, by which models under which
//! licences, who made it and on what rights basis each face and voice was used.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;

/// Label of the studio's own assertion (models, characters and their rights, disclosure).
pub const ASSERTION_LABEL: &str = "org.reenact.provenance";

const IPTC: &str = "http://cv.iptc.org/newscodes/digitalsourcetype/";

/// How the content came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Made by a model from a prompt or script (a cloned voice): `trainedAlgorithmicMedia`.
    Generated,
    /// A recording with faces, voices or lips replaced by model output:
    /// `compositeWithTrainedAlgorithmicMedia`.
    Composite,
}

impl Kind {
    fn source_type(self) -> String {
        match self {
            Kind::Generated => format!("{IPTC}trainedAlgorithmicMedia"),
            Kind::Composite => format!("{IPTC}compositeWithTrainedAlgorithmicMedia"),
        }
    }
}

/// A file the output was made from, named by its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngredientRecord {
    /// File name only: the studio's folders are nobody else's business.
    pub title: String,
    pub sha256: String,
    /// MIME type.
    pub format: String,
    /// `source clip`, `character`, `voice sample`.
    pub role: String,
    /// The recording that was edited (`parentOf`) rather than a component.
    pub parent: bool,
}

impl IngredientRecord {
    /// Hashes `path` and names it by its file name.
    pub fn from_file(path: &Path, role: &str, parent: bool) -> std::io::Result<Self> {
        Ok(IngredientRecord {
            title: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            sha256: reenact_models::sha256_file(path)?,
            format: c2pa::format_from_path(path).unwrap_or_else(|| "application/octet-stream".into()),
            role: role.into(),
            parent,
        })
    }
}

/// A model that ran, with what its manifest says about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub name: String,
    pub version: String,
    /// The element that ran it.
    pub element: String,
    pub sha256: Option<String>,
    pub license: Option<String>,
    pub commercial_use: Option<bool>,
}

impl ModelRecord {
    /// The model `name` as the catalogue knows it (hash, licence), else only what the render said.
    pub fn from_use(used: &reenact_models::ModelUse, catalog: Option<&reenact_models::Catalog>) -> Self {
        let entry = catalog.and_then(|c| c.entry(&used.name)).map(|e| &e.model);
        ModelRecord {
            name: used.name.clone(),
            version: used.version.clone(),
            element: used.element.clone(),
            sha256: entry.map(|m| m.sha256.clone()),
            license: entry.map(|m| m.license.clone()),
            commercial_use: entry.and_then(|m| m.commercial_use),
        }
    }
}

/// The right to use a face or a voice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RightsRecord {
    /// `public-domain`, `consent`, `licensed` or `own-likeness`.
    pub basis: String,
    pub granted_by: Option<String>,
    pub granted_at: Option<String>,
    pub reference: Option<String>,
    pub restriction: Option<String>,
    pub expires_at: Option<String>,
}

impl From<gstreenact::character::Rights> for RightsRecord {
    fn from(rights: gstreenact::character::Rights) -> Self {
        RightsRecord {
            basis: rights.basis.to_string(),
            granted_by: rights.granted_by,
            granted_at: rights.granted_at,
            reference: rights.reference.or(rights.document_sha256.map(|s| format!("release document sha256:{s}"))),
            restriction: rights.non_commercial.then(|| "non-commercial".to_owned()),
            expires_at: rights.expires,
        }
    }
}

/// A character that appears, and the rights it was used under when known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CharacterRecord {
    pub name: String,
    /// The algorithms that played it (face, voice, lips).
    pub algorithms: Vec<String>,
    pub rights: Option<RightsRecord>,
    /// The voice's own rights, when the voice has a record apart from the face's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_rights: Option<RightsRecord>,
}

/// Everything one credential states.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub title: String,
    pub author: String,
    /// RFC 3339 time the content was made.
    pub created_at: String,
    pub kind: Kind,
    pub ingredients: Vec<IngredientRecord>,
    pub models: Vec<ModelRecord>,
    pub characters: Vec<CharacterRecord>,
    pub disclosure: String,
}

impl Provenance {
    pub(super) fn has_parent(&self) -> bool {
        self.ingredients.iter().any(|i| i.parent)
    }

    /// The C2PA manifest definition.
    pub(super) fn definition(&self) -> serde_json::Value {
        let software = json!({ "name": "Reenact Studio", "version": env!("CARGO_PKG_VERSION") });
        let (action, source_type) = match (self.kind, self.has_parent()) {
            // An edit of a recording: the builder adds `c2pa.opened` for the parent first.
            (Kind::Composite, true) => ("c2pa.edited", self.kind.source_type()),
            (kind, _) => ("c2pa.created", kind.source_type()),
        };
        let description = match self.kind {
            Kind::Composite => "faces, voices or lips replaced by Reenact Studio's models",
            Kind::Generated => "generated by Reenact Studio's models",
        };
        let ingredients: Vec<_> = self
            .ingredients
            .iter()
            .map(|i| {
                json!({
                    "title": i.title,
                    "format": i.format,
                    "instance_id": format!("sha256:{}", i.sha256),
                    "relationship": if i.parent { "parentOf" } else { "componentOf" },
                    "description": i.role,
                })
            })
            .collect();
        json!({
            "title": self.title,
            "claim_generator_info": [software],
            "assertions": [
                {
                    "label": "c2pa.actions",
                    "data": { "actions": [{
                        "action": action,
                        "digitalSourceType": source_type,
                        "softwareAgent": software,
                        "description": description,
                    }]},
                },
                { "label": ASSERTION_LABEL, "data": self.assertion() },
            ],
            "ingredients": ingredients,
        })
    }

    /// The studio's assertion: everything a compliance reader asks that C2PA has no field for.
    fn assertion(&self) -> serde_json::Value {
        json!({
            "author": self.author,
            "created_at": self.created_at,
            "disclosure": self.disclosure,
            "software": { "name": "Reenact Studio", "version": env!("CARGO_PKG_VERSION") },
            "models": self.models,
            "characters": self.characters,
            "ingredients": self.ingredients,
        })
    }
}
