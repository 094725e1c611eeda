// SPDX-License-Identifier: MPL-2.0
//! Characters as the engine takes them: the stored analysis of the portrait, with the
//! profile of the voice attached to the character. The API's character file and the render
//! job's cast both come from here, so a render plays exactly what the API shows.

use gstreenact::character::Character;
use sqlx::AnyPool;

use crate::db::characters::{self, CharacterRow};
use crate::db::voices;

/// Why a stored character could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum CastingError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A stored document that no longer parses (written by another version).
    #[error("stored character {id}: {source}")]
    Document { id: String, source: serde_json::Error },
}

/// Character `id` of `owner`, with its voice; `None` when the owner has no such character.
pub async fn character(db: &AnyPool, owner: &str, id: &str) -> Result<Option<(CharacterRow, Character)>, CastingError> {
    let Some(row) = characters::get(db, owner, id).await? else { return Ok(None) };
    let Some(document) = characters::document(db, owner, id).await? else { return Ok(None) };
    let parse_error = |source| CastingError::Document { id: id.to_string(), source };
    let mut character: Character = serde_json::from_str(&document).map_err(parse_error)?;
    if let Some(voice_id) = &row.voice_id {
        if let Some(voice) = voices::get(db, owner, voice_id).await? {
            character.voice = Some(serde_json::from_str(&voice.profile).map_err(parse_error)?);
        }
    }
    Ok(Some((row, character)))
}
