// SPDX-License-Identifier: MPL-2.0
//! Characters: a project's portrait analysed into a character file. The file's JSON
//! (`document`, without a voice) is read only when a whole file is asked for; listings
//! use the small `analysis` summary.

use sqlx::{AnyPool, FromRow};

/// A stored character, without its (large) document.
#[derive(Debug, Clone, FromRow)]
pub struct CharacterRow {
    pub id: String,
    pub owner_id: String,
    pub project_id: String,
    pub name: String,
    pub portrait_key: String,
    /// JSON summary of the portrait analysis.
    pub analysis: String,
    /// The attached voice, if any.
    pub voice_id: Option<String>,
    pub created_at: i64,
    /// JSON list of the models the portrait was analysed with (`library::ModelVersion`).
    pub models: String,
    /// How the face plays, as the document says (`swap`, `animate`).
    pub face: String,
    /// The document's catalog voice, JSON `{name, speaker_id}`.
    pub voice_model: Option<String>,
}

const COLUMNS: &str =
    "id, owner_id, project_id, name, portrait_key, analysis, voice_id, created_at, models, face, voice_model";

/// Inserts `c` with `document`, the character file's JSON.
pub async fn insert(db: &AnyPool, c: &CharacterRow, document: &str) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO characters ({COLUMNS}, document) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&c.id)
    .bind(&c.owner_id)
    .bind(&c.project_id)
    .bind(&c.name)
    .bind(&c.portrait_key)
    .bind(&c.analysis)
    .bind(&c.voice_id)
    .bind(c.created_at)
    .bind(&c.models)
    .bind(&c.face)
    .bind(&c.voice_model)
    .bind(document)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn list(db: &AnyPool, owner: &str, project: &str) -> sqlx::Result<Vec<CharacterRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM characters WHERE owner_id = $1 AND project_id = $2 ORDER BY created_at, id"
    ))
    .bind(owner)
    .bind(project)
    .fetch_all(db)
    .await
}

/// The owner's characters across all their projects: their character library.
pub async fn library(db: &AnyPool, owner: &str) -> sqlx::Result<Vec<CharacterRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM characters WHERE owner_id = $1 ORDER BY created_at, id"))
        .bind(owner)
        .fetch_all(db)
        .await
}

/// [`get`] inside the caller's transaction.
pub async fn get_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    owner: &str,
    id: &str,
) -> sqlx::Result<Option<CharacterRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM characters WHERE owner_id = $1 AND id = $2"))
        .bind(owner)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

pub async fn get(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<Option<CharacterRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM characters WHERE owner_id = $1 AND id = $2"))
        .bind(owner)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The character file's JSON (without a voice).
pub async fn document(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT document FROM characters WHERE owner_id = $1 AND id = $2")
        .bind(owner)
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|(document,)| document))
}

/// Replaces the character's document when it is still `old` (compare and swap), with the
/// columns that mirror it; false when it changed in between or the character is gone.
pub async fn replace_document(
    db: &AnyPool,
    owner: &str,
    id: &str,
    (old, new): (&str, &str),
    (face, voice_model): (&str, Option<&str>),
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE characters SET document = $1, face = $2, voice_model = $3 \
         WHERE owner_id = $4 AND id = $5 AND document = $6",
    )
    .bind(new)
    .bind(face)
    .bind(voice_model)
    .bind(owner)
    .bind(id)
    .bind(old)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Attaches a voice to (or with `None` detaches it from) a character of `owner`.
pub async fn set_voice(db: &AnyPool, owner: &str, id: &str, voice_id: Option<&str>) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE characters SET voice_id = $1 WHERE owner_id = $2 AND id = $3")
        .bind(voice_id)
        .bind(owner)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Renames a character of `owner`; false when there is none.
pub async fn rename(db: &AnyPool, owner: &str, id: &str, name: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE characters SET name = $1 WHERE owner_id = $2 AND id = $3")
        .bind(name)
        .bind(owner)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The characters of `owner` whose attached voice is `voice`.
pub async fn with_voice(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    owner: &str,
    voice: &str,
) -> sqlx::Result<Vec<CharacterRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM characters WHERE owner_id = $1 AND voice_id = $2 ORDER BY created_at, id"
    ))
    .bind(owner)
    .bind(voice)
    .fetch_all(&mut **tx)
    .await
}

/// Deletes a character with the scenes and casts that name it, in the caller's transaction
/// (the library checks and detaches its uses in the same one).
pub async fn delete(tx: &mut sqlx::Transaction<'_, sqlx::Any>, owner: &str, id: &str) -> sqlx::Result<bool> {
    // Explicit as well as ON DELETE CASCADE, like the other deletes.
    for table in ["scenes", "project_cast"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE owner_id = $1 AND character_id = $2"))
            .bind(owner)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    let done = sqlx::query("DELETE FROM characters WHERE owner_id = $1 AND id = $2")
        .bind(owner)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The characters `owner` cast in `project` by reference (made in any of their projects).
pub async fn cast_of(db: &AnyPool, owner: &str, project: &str) -> sqlx::Result<Vec<CharacterRow>> {
    let columns = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
    sqlx::query_as(&format!(
        "SELECT {columns} FROM characters c JOIN project_cast p ON p.character_id = c.id \
         WHERE p.owner_id = $1 AND c.owner_id = $1 AND p.project_id = $2 ORDER BY p.created_at, c.id"
    ))
    .bind(owner)
    .bind(project)
    .fetch_all(db)
    .await
}

/// Casts character `id` in `project` (both checked to be `owner`'s by the caller); casting
/// one twice is no change.
pub async fn cast(db: &AnyPool, owner: &str, project: &str, id: &str, now: i64) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    let there: Option<(String,)> = sqlx::query_as(
        "SELECT character_id FROM project_cast WHERE owner_id = $1 AND project_id = $2 AND character_id = $3",
    )
    .bind(owner)
    .bind(project)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if there.is_none() {
        sqlx::query(
            "INSERT INTO project_cast (project_id, character_id, owner_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(project)
        .bind(id)
        .bind(owner)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Takes character `id` out of `project`'s cast; false when it was not in it.
pub async fn uncast(db: &AnyPool, owner: &str, project: &str, id: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM project_cast WHERE owner_id = $1 AND project_id = $2 AND character_id = $3")
        .bind(owner)
        .bind(project)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
