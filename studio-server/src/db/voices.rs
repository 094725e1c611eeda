// SPDX-License-Identifier: MPL-2.0
//! Voices: a project's speech sample and the voice profile measured on it.

use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct VoiceRow {
    pub id: String,
    pub owner_id: String,
    pub project_id: String,
    pub name: String,
    pub sample_key: String,
    /// The character file's `voice` object as JSON.
    pub profile: String,
    pub created_at: i64,
    /// JSON list of the models the sample was analysed with (`library::ModelVersion`).
    pub models: String,
}

const COLUMNS: &str = "id, owner_id, project_id, name, sample_key, profile, created_at, models";

pub async fn insert(db: &AnyPool, v: &VoiceRow) -> sqlx::Result<()> {
    sqlx::query(&format!("INSERT INTO voices ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .bind(&v.id)
        .bind(&v.owner_id)
        .bind(&v.project_id)
        .bind(&v.name)
        .bind(&v.sample_key)
        .bind(&v.profile)
        .bind(v.created_at)
        .bind(&v.models)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn list(db: &AnyPool, owner: &str, project: &str) -> sqlx::Result<Vec<VoiceRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM voices WHERE owner_id = $1 AND project_id = $2 ORDER BY created_at, id"
    ))
    .bind(owner)
    .bind(project)
    .fetch_all(db)
    .await
}

/// The owner's voices across all their projects: their voice library.
pub async fn library(db: &AnyPool, owner: &str) -> sqlx::Result<Vec<VoiceRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM voices WHERE owner_id = $1 ORDER BY created_at, id"))
        .bind(owner)
        .fetch_all(db)
        .await
}

/// [`get`] inside the caller's transaction.
pub async fn get_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    owner: &str,
    id: &str,
) -> sqlx::Result<Option<VoiceRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM voices WHERE owner_id = $1 AND id = $2"))
        .bind(owner)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

pub async fn get(db: &AnyPool, owner: &str, id: &str) -> sqlx::Result<Option<VoiceRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM voices WHERE owner_id = $1 AND id = $2"))
        .bind(owner)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Renames a voice of `owner`; false when there is none.
pub async fn rename(db: &AnyPool, owner: &str, id: &str, name: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE voices SET name = $1 WHERE owner_id = $2 AND id = $3")
        .bind(name)
        .bind(owner)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a voice in the caller's transaction; characters that had it keep their face and
/// lose the voice.
pub async fn delete(tx: &mut sqlx::Transaction<'_, sqlx::Any>, owner: &str, id: &str) -> sqlx::Result<bool> {
    // Explicit as well as ON DELETE SET NULL, like the other deletes.
    sqlx::query("UPDATE characters SET voice_id = NULL WHERE owner_id = $1 AND voice_id = $2")
        .bind(owner)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let done = sqlx::query("DELETE FROM voices WHERE owner_id = $1 AND id = $2")
        .bind(owner)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}
